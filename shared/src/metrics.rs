//! Counts the DynamoDB and S3 round trips a request makes, retries included, so each request's log
//! line and the benchmark can report them. A Lambda process serves one request at a time, so
//! process-wide counters reset per request are exact.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::Mutex;

static CALLS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// SDK interceptor that counts every transmitted request by `service.operation`.
#[derive(Debug, Default)]
pub struct RoundTripCounter;

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
        if let Ok(mut calls) = CALLS.lock() {
            *calls.entry(name).or_default() += 1;
        }
        Ok(())
    }
}

/// Round trips counted since the last call, by operation; resets the counters.
pub fn take_round_trips() -> BTreeMap<String, u64> {
    CALLS.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
}

/// Total of a `take_round_trips` result for one service prefix, e.g. "DynamoDB".
pub fn total_for(calls: &BTreeMap<String, u64>, service: &str) -> u64 {
    calls
        .iter()
        .filter(|(k, _)| k.starts_with(service))
        .map(|(_, v)| v)
        .sum()
}

static SEARCH: Mutex<(u64, u64)> = Mutex::new((0, 0));

/// Records a search's candidates (records whose fingerprints hold every keyword, so their bodies
/// were read) and how many of them matched.
pub fn note_search(candidates: u64, matched: u64) {
    if let Ok(mut s) = SEARCH.lock() {
        s.0 += candidates;
        s.1 += matched;
    }
}

/// (candidates, matched) since the last call; resets the counters.
pub fn take_search() -> (u64, u64) {
    SEARCH.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
}

static CONSUMED: Mutex<f64> = Mutex::new(0.0);

/// Records the capacity units DynamoDB reported for a call (`ReturnConsumedCapacity`).
pub fn note_consumed(units: Option<f64>) {
    if let (Some(units), Ok(mut c)) = (units, CONSUMED.lock()) {
        *c += units;
    }
}

/// Capacity units DynamoDB reported since the last call; resets the counter.
pub fn take_consumed() -> f64 {
    CONSUMED.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
}
