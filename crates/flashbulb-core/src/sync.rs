//! Locks that outlive a panic: the hub, the cache, the Redis link and the console all take
//! plain mutexes on the way of every request.

use std::sync::{Mutex, MutexGuard};

/// A poisoned lock only means another thread panicked mid-update of plain data; the data is
/// still usable, and the server must keep serving.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
