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
