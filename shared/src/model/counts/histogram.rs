//! Duration histograms with log-scaled buckets: any percentile read from one is within
//! `RELATIVE_ERROR` of the exact value at the same rank, however many durations it holds, and two
//! histograms merge by adding their buckets (what hourly and daily counters rely on).
//!
//! Bucket 0 holds 0 ms; bucket `i >= 1` holds durations in `(GAMMA^(i-2), GAMMA^(i-1)]` ms and reads
//! back as the point whose distance to both ends is the same relative error.

use std::collections::BTreeMap;

/// The stated bound on a percentile's relative error.
pub const RELATIVE_ERROR: f64 = 0.02;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
}

/// The bucket of a duration in milliseconds.
pub fn bucket_of(millis: u64) -> u32 {
    if millis == 0 {
        return 0;
    }
    let i = ((millis as f64).ln() / gamma().ln()).ceil();
    // ln/ceil can land one bucket low on an exact power; the check keeps the upper bound inclusive.
    let mut i = i.max(0.0) as u32;
    if gamma().powi(i as i32) < millis as f64 {
        i += 1;
    }
    i + 1
}

/// The value a bucket reads back as.
pub fn estimate(bucket: u32) -> f64 {
    if bucket == 0 {
        return 0.0;
    }
    let g = gamma();
    2.0 * g.powi(bucket as i32 - 1) / (g + 1.0)
}

/// Counts by bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram(pub BTreeMap<u32, u64>);

impl Histogram {
    pub fn record(&mut self, millis: u64) {
        *self.0.entry(bucket_of(millis)).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (b, n) in &other.0 {
            *self.0.entry(*b).or_default() += n;
        }
    }

    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// The value at rank `floor(q * (n - 1))` of the sorted durations, within `RELATIVE_ERROR`;
    /// `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (n - 1) as f64).floor() as u64;
        let mut seen = 0;
        for (b, c) in &self.0 {
            seen += c;
            if seen > rank {
                return Some(estimate(*b));
            }
        }
        self.0.keys().last().map(|b| estimate(*b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_duration_reads_back_within_the_error() {
        for millis in (0..20_000u64).chain([86_400_000, 604_800_000, u32::MAX as u64]) {
            let e = estimate(bucket_of(millis));
            let err = (e - millis as f64).abs();
            assert!(
                err <= RELATIVE_ERROR * millis as f64 + 1e-9,
                "{millis} read back as {e}"
            );
        }
    }

    #[test]
    fn a_day_of_durations_needs_a_few_hundred_buckets() {
        assert!(bucket_of(86_400_000) < 500);
        assert!(bucket_of(1) == 1 && bucket_of(2) > bucket_of(1));
    }

    proptest! {
        #[test]
        fn percentiles_are_within_the_error_of_the_exact_ones(
            mut values in proptest::collection::vec(0u64..10_000_000, 1..400),
            q in 0.0f64..=1.0,
        ) {
            let mut h = Histogram::default();
            for v in &values {
                h.record(*v);
            }
            values.sort_unstable();
            let exact = values[(q * (values.len() - 1) as f64).floor() as usize] as f64;
            let got = h.quantile(q).unwrap();
            prop_assert!((got - exact).abs() <= RELATIVE_ERROR * exact + 1e-9, "{got} vs {exact}");
        }

        #[test]
        fn merged_histograms_equal_one_over_all_values(
            a in proptest::collection::vec(0u64..1_000_000, 0..100),
            b in proptest::collection::vec(0u64..1_000_000, 0..100),
        ) {
            let (mut ha, mut hb, mut all) = (Histogram::default(), Histogram::default(), Histogram::default());
            a.iter().for_each(|v| { ha.record(*v); all.record(*v) });
            b.iter().for_each(|v| { hb.record(*v); all.record(*v) });
            ha.merge(&hb);
            prop_assert_eq!(ha, all);
        }
    }
}
