//! The database as the services reach it: the pool, migrations, statements and their errors
//! are `flashbulb_store`'s (re-exported here, so the services name one place); [`gate`] knows
//! whether the database answers (the web layer turns requests away while it is shut).

pub use flashbulb_store::*;

pub mod gate;
