//! What one function instance keeps between its invocations: built once at setup (`entry`) and
//! handed to the service and the handlers, so tests build one each instead of sharing statics.

use crate::api::auth::KeyCache;
use crate::ingest::NotedDays;
use crate::metrics::Metrics;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Process {
    /// The request counters; the instance's SDK clients count their round trips into them.
    pub metrics: Arc<Metrics>,
    /// The API keys this instance has looked up.
    pub keys: KeyCache,
    /// The leases of project days this instance's ingest noted in the register.
    pub noted_days: NotedDays,
}

impl Process {
    /// An instance's state counting into `metrics` (its clients' counters), with no key cached.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Process {
            metrics,
            keys: KeyCache::default(),
            noted_days: NotedDays::default(),
        }
    }
}
