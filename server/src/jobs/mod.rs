//! The job queue's workers. The queue itself (leases, retries, priorities, hand-back) is the
//! store's (`flashbulb_store::jobs`): its rows are its state.

pub mod worker;
