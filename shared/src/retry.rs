//! Capped exponential backoff with full jitter, for retries the SDK does not do itself.

use rand::Rng;
use std::time::Duration;

pub const MAX_ATTEMPTS: u32 = 8;
const BASE_MS: u64 = 20;
const CAP_MS: u64 = 2_000;

/// Delay before retry number `attempt` (0-based): uniform in [0, min(cap, base * 2^attempt)].
pub fn delay(attempt: u32) -> Duration {
    let ceiling = CAP_MS.min(BASE_MS.saturating_mul(1u64 << attempt.min(16)));
    Duration::from_millis(rand::rng().random_range(0..=ceiling))
}

pub async fn sleep(attempt: u32) {
    tokio::time::sleep(delay(attempt)).await;
}

/// Runs `op` until it succeeds, fails with an error `retryable` refuses, or `MAX_ATTEMPTS` are
/// spent, backing off between attempts.
pub async fn retrying<T, E, Fut>(retryable: impl Fn(&E) -> bool, mut op: impl FnMut() -> Fut) -> Result<T, E>
where
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(e) if retryable(&e) && attempt + 1 < MAX_ATTEMPTS => {
                sleep(attempt).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_capped() {
        for attempt in 0..30 {
            let ceiling = CAP_MS.min(BASE_MS << attempt.min(16));
            for _ in 0..20 {
                assert!(delay(attempt) <= Duration::from_millis(ceiling));
            }
        }
    }
}
