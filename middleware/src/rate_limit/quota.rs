//! How quotas are built and checked, independent of sockets (so the clock can be injected in tests).

use std::{
    hash::Hash, num::NonZeroU32, sync::atomic::AtomicU64, sync::atomic::Ordering, time::Duration,
};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::{InMemoryState, NotKeyed, keyed::DefaultKeyedStateStore},
};

/// A limiter for one key (one socket).
pub(crate) type DirectLimiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// `count` events per `per`, refilled evenly, with up to `burst` at once.
pub(crate) fn quota(count: u32, per: Duration, burst: u32) -> Quota {
    let count = NonZeroU32::new(count.max(1)).expect("at least one");
    let burst = NonZeroU32::new(burst.max(1)).expect("at least one");
    let period = (per / count.get()).max(Duration::from_nanos(1));
    Quota::with_period(period)
        .expect("non-zero period")
        .allow_burst(burst)
}

/// A limiter per key (identity, IP) whose idle keys are dropped regularly, so memory stays bounded
/// by the keys active within one refill period.
pub(crate) struct SharedLimiter<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    limiter: RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<C::Instant>>,
    calls: AtomicU64,
}

impl<K: Hash + Eq + Clone, C: Clock> std::fmt::Debug for SharedLimiter<K, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimiter")
            .field("keys", &self.limiter.len())
            .finish()
    }
}

impl<K: Hash + Eq + Clone> SharedLimiter<K> {
    pub(crate) fn new(quota: Quota) -> Self {
        Self::with_clock(quota, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock> SharedLimiter<K, C> {
    pub(crate) fn with_clock(quota: Quota, clock: C) -> Self {
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock),
            calls: AtomicU64::new(0),
        }
    }

    /// Whether one more event of `key` is allowed now.
    pub(crate) fn allow(&self, key: &K) -> bool {
        if self.calls.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(key).is_ok()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.limiter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use proptest::prelude::*;

    proptest! {
        /// In any window of one interval, no more than quota + burst events pass.
        #[test]
        fn never_admits_more_than_quota_plus_burst_per_interval(
            count in 1u32..20,
            burst in 1u32..20,
            gaps in prop::collection::vec(0u64..200, 1..300),
        ) {
            let per = Duration::from_millis(1000);
            let clock = FakeRelativeClock::default();
            let limiter = RateLimiter::direct_with_clock(quota(count, per, burst), clock.clone());
            let mut now = Duration::ZERO;
            let mut admitted = Vec::new();
            for gap in gaps {
                clock.advance(Duration::from_millis(gap));
                now += Duration::from_millis(gap);
                if limiter.check().is_ok() {
                    admitted.push(now);
                }
            }
            for (i, start) in admitted.iter().enumerate() {
                let in_window = admitted[i..].iter().take_while(|t| **t < *start + per).count();
                prop_assert!(in_window as u32 <= count + burst, "{} admitted within {per:?}", in_window);
            }
        }
    }

    #[test]
    fn refills_after_the_period() {
        let clock = FakeRelativeClock::default();
        let limiter =
            RateLimiter::direct_with_clock(quota(2, Duration::from_secs(1), 2), clock.clone());
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_millis(500));
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
    }

    #[test]
    fn idle_keys_are_dropped() {
        let clock = FakeRelativeClock::default();
        let shared =
            SharedLimiter::with_clock(quota(1000, Duration::from_millis(1), 1), clock.clone());
        for key in 0..5000u32 {
            shared.allow(&key);
        }
        clock.advance(Duration::from_millis(5));
        for _ in 0..1024 {
            shared.allow(&u32::MAX);
        }
        assert!(shared.len() < 100, "{} keys kept", shared.len());
    }
}
