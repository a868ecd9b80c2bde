//! The live runtime: the threads the hub's flusher and every socket run on, apart from the
//! threads that answer requests and by default at a lower CPU priority, so fan-out takes at
//! most its own threads' share of the CPU and never starves the HTTP path. Short of CPU,
//! the sockets write later, each sending what queued meanwhile as one message, and far behind
//! the flusher gathers longer: live updates degrade by coalescing more, requests keep their
//! latency.

use std::future::Future;

use tokio::runtime::{Builder, Handle, Runtime};

pub struct LiveRuntime {
    /// `None` when the threads could not be started (tasks then run on the caller's
    /// runtime), and while being dropped.
    runtime: Option<Runtime>,
}

impl LiveRuntime {
    /// Starts `threads` threads (at least one) named `live`, each `niceness` below the
    /// caller's priority (a Linux nice value: +5 weighs about a third of +0 in the
    /// scheduler).
    pub fn new(threads: usize, niceness: i32) -> Self {
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("live")
            .enable_all()
            .on_thread_start(move || lower_priority(niceness))
            .build()
            .inspect_err(|error| {
                tracing::warn!(%error, "no live threads: sockets share the request threads");
            })
            .ok();
        Self { runtime }
    }

    fn handle(&self) -> Option<&Handle> {
        self.runtime.as_ref().map(Runtime::handle)
    }

    /// Runs `task` on the live threads (on the caller's runtime if they are gone).
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.handle() {
            Some(handle) => handle.spawn(task),
            None => tokio::spawn(task),
        }
    }
}

impl Drop for LiveRuntime {
    fn drop(&mut self) {
        // The last hub may go from within an async context (or a live thread itself), where
        // waiting for the threads is not allowed: they finish on their own.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Lowers the calling thread's priority (on Linux a thread id names one thread). Not allowed
/// or not supported: the thread runs at the process's priority, which only costs fairness.
fn lower_priority(niceness: i32) {
    if niceness == 0 {
        return;
    }
    let thread = rustix::thread::gettid();
    // Relative to what the thread inherited: a server started with `nice` stays below it.
    let inherited = rustix::process::getpriority_process(Some(thread)).unwrap_or(0);
    let lowered = (inherited + niceness).min(19);
    if let Err(error) = rustix::process::setpriority_process(Some(thread), lowered) {
        tracing::debug!(%error, "live thread keeps the process's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_threads_run_tasks_at_a_lower_priority() {
        let live = LiveRuntime::new(1, 5);
        let (sender, receiver) = std::sync::mpsc::channel();
        live.spawn(async move {
            let name = std::thread::current().name().map(str::to_string);
            let priority = rustix::process::getpriority_process(None);
            let _ = sender.send((name, priority));
        });
        let (name, priority) = receiver
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the task ran");
        assert_eq!(name.as_deref(), Some("live"));
        let own = rustix::process::getpriority_process(None).expect("own priority");
        // On Linux getpriority of the process names the calling thread.
        assert_eq!(priority.expect("live priority"), (own + 5).min(19));
    }
}
