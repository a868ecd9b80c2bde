//! The tasks the server runs beside its requests (the hub's flusher, the Redis link's
//! connection and subscription, the cache's and the hub's followers of other instances, the
//! live counters' refresher, the console's sampler). No constructor starts one: each is
//! started by a `start` that returns its handle, collected here, so whoever starts the server
//! holds every task it runs.

use tokio::task::JoinHandle;

use crate::{cache::Cache, live::LiveEvents, redis_link::RedisLink};

/// Started tasks, by name.
#[derive(Debug, Default)]
pub struct Background {
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl Background {
    /// Adds a started task.
    pub fn push(&mut self, name: &'static str, task: JoinHandle<()>) {
        self.tasks.push((name, task));
    }

    /// Adds a task that was started only if there was one to start (a follower of Redis
    /// without Redis has nothing to follow).
    pub fn push_some(&mut self, name: &'static str, task: Option<JoinHandle<()>>) {
        if let Some(task) = task {
            self.push(name, task);
        }
    }

    /// Stops every task that is still running.
    pub fn abort(&self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
    }
}

/// Starts what the cache and live updates run beside requests, on the current Tokio runtime:
/// the Redis link's connection and subscription, the hub's flusher and bridge, the cache's
/// follower of other instances' invalidations, and the live counters' refresher.
pub fn start(redis: Option<&RedisLink>, cache: &Cache, events: &LiveEvents) -> Background {
    let mut background = Background::default();
    if let Some(redis) = redis {
        let [connection, subscription] = redis.start();
        background.push("redis connection", connection);
        background.push("redis subscription", subscription);
    }
    background.push("hub flusher", events.hub().start());
    background.push_some("hub bridge", events.relay().start());
    background.push_some("cache invalidations", cache.start());
    background.push("live counters", events.start());
    background
}

impl Drop for Background {
    /// Tasks stop with whoever started them: a test's server leaves nothing running behind it.
    fn drop(&mut self) {
        self.abort();
    }
}
