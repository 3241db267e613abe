//! Counts the DynamoDB and S3 round trips a request makes, retries included, so each request's log
//! line and the benchmark can report them. A Lambda process serves one request at a time, so
//! counters of the process (`Metrics`, in `Process`) reset per request are exact.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// One process's request counters: round trips by `service.operation` (counted by its clients'
/// interceptor), a search's candidates and matches, and the capacity DynamoDB reported.
#[derive(Debug, Default)]
pub struct Metrics {
    calls: Mutex<BTreeMap<String, u64>>,
    search: Mutex<(u64, u64)>,
    consumed: Mutex<f64>,
}

tokio::task_local! {
    /// The metrics of the invocation in progress: the store reports searches and consumed capacity
    /// through `note_search` and `note_consumed` without being handed them.
    static CURRENT: Arc<Metrics>;
}

impl Metrics {
    /// The SDK interceptor counting into these metrics.
    pub fn counter(self: &Arc<Self>) -> RoundTripCounter {
        RoundTripCounter(Arc::clone(self))
    }

    /// Runs `fut` with these metrics receiving what the store reports (`note_search`,
    /// `note_consumed`).
    pub fn scope<F: Future>(self: &Arc<Self>, fut: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(Arc::clone(self), fut)
    }

    /// Round trips counted since the last call, by operation; resets the counters.
    pub fn take_round_trips(&self) -> BTreeMap<String, u64> {
        self.calls
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    /// Records a search's candidates (records whose fingerprints hold every keyword, so their
    /// bodies were read) and how many of them matched.
    pub fn note_search(&self, candidates: u64, matched: u64) {
        if let Ok(mut s) = self.search.lock() {
            s.0 += candidates;
            s.1 += matched;
        }
    }

    /// (candidates, matched) since the last call; resets the counters.
    pub fn take_search(&self) -> (u64, u64) {
        self.search
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }

    /// Records the capacity units DynamoDB reported for a call (`ReturnConsumedCapacity`).
    pub fn note_consumed(&self, units: Option<f64>) {
        if let (Some(units), Ok(mut c)) = (units, self.consumed.lock()) {
            *c += units;
        }
    }

    /// Capacity units DynamoDB reported since the last call; resets the counter.
    pub fn take_consumed(&self) -> f64 {
        self.consumed
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }
}

/// SDK interceptor that counts every transmitted request by `service.operation`.
#[derive(Debug)]
pub struct RoundTripCounter(Arc<Metrics>);

impl Intercept for RoundTripCounter {
    fn name(&self) -> &'static str {
        "RoundTripCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map(|m| format!("{}.{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".into());
        if let Ok(mut calls) = self.0.calls.lock() {
            *calls.entry(name).or_default() += 1;
        }
        Ok(())
    }
}

/// Total of a `take_round_trips` result for one service prefix, e.g. "DynamoDB".
pub fn total_for(calls: &BTreeMap<String, u64>, service: &str) -> u64 {
    calls
        .iter()
        .filter(|(k, _)| k.starts_with(service))
        .map(|(_, v)| v)
        .sum()
}

/// Records a search's candidates and matches in the metrics in scope (`Metrics::scope`), if any.
pub fn note_search(candidates: u64, matched: u64) {
    let _ = CURRENT.try_with(|m| m.note_search(candidates, matched));
}

/// Records reported capacity units in the metrics in scope (`Metrics::scope`), if any.
pub fn note_consumed(units: Option<f64>) {
    let _ = CURRENT.try_with(|m| m.note_consumed(units));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_store_reports_into_the_metrics_in_scope_only() {
        let (a, b) = (Arc::new(Metrics::default()), Arc::new(Metrics::default()));
        note_search(5, 5);
        a.scope(async {
            note_search(3, 1);
            note_consumed(Some(1.5));
            note_consumed(None);
        })
        .await;
        b.scope(async { note_search(2, 2) }).await;
        assert_eq!((a.take_search(), a.take_consumed()), ((3, 1), 1.5));
        assert_eq!((a.take_search(), a.take_consumed()), ((0, 0), 0.0), "taking resets");
        assert_eq!(b.take_search(), (2, 2));
    }
}
