//! Unit and property tests of [`EventStats`](super::EventStats).

use std::time::Duration;

use super::*;
use proptest::prelude::*;

#[test]
fn snapshot_is_sorted_by_count_then_name() {
    let stats = EventStats::new();
    for event in ["b", "a", "chat", "chat", "chat", "a"] {
        stats.record(event);
    }
    let names: Vec<_> = stats
        .snapshot()
        .into_iter()
        .map(|e| (e.event, e.count))
        .collect();
    assert_eq!(
        names,
        [("chat".into(), 3), ("a".into(), 2), ("b".into(), 1)]
    );
    assert_eq!(stats.total(), 6);
    stats.reset();
    assert!(stats.snapshot().is_empty());
    assert_eq!(stats.rate(Duration::from_secs(10)), 0.0);
}

#[test]
fn rate_counts_recent_events_only() {
    // The rate reads the real clock: an attempt that a stalled machine stretched past its first
    // second proves nothing, so it is tried again (bounded).
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let stats = EventStats::new();
        for _ in 0..30 {
            stats.record("x");
        }
        let (last_second, last_minute) = (
            stats.rate(Duration::from_secs(1)),
            stats.rate(Duration::from_secs(60)),
        );
        if started.elapsed() < Duration::from_millis(900) {
            // All 30 happened within the current second.
            assert_eq!(last_second, 30.0);
            assert!(last_minute <= 30.0);
            return;
        }
    }
    panic!("no attempt completed within its first second");
}

#[test]
fn take_returns_sorted_counts_and_starts_a_new_period() {
    let stats = EventStats::new();
    for event in ["b", "a", "chat", "chat", "a", "chat"] {
        stats.record(event);
    }
    let taken: Vec<_> = stats
        .take()
        .into_iter()
        .map(|e| (e.event, e.count))
        .collect();
    assert_eq!(
        taken,
        [("chat".into(), 3), ("a".into(), 2), ("b".into(), 1)]
    );
    assert!(stats.take().is_empty());
    assert_eq!(stats.total(), 0);
    stats.record("a");
    assert_eq!(
        stats.take(),
        [EventCount {
            event: "a".into(),
            count: 1
        }]
    );
}

#[test]
fn random_names_never_exceed_the_cap_plus_the_overflow_key() {
    let stats = EventStats::new();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..100_000 {
        // xorshift: 100k names, practically all distinct.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        stats.record(&format!("{seed:x}"));
    }
    let snapshot = stats.snapshot();
    assert_eq!(snapshot.len(), DEFAULT_MAX_EVENTS + 1);
    assert_eq!(stats.total(), 100_000);
    assert_eq!(snapshot[0].event, OVERFLOW_EVENT);
    assert_eq!(snapshot[0].count, 100_000 - DEFAULT_MAX_EVENTS as u64);
    // Taking frees the slots: the next period counts new names again.
    stats.take();
    stats.record("fresh");
    assert_eq!(stats.snapshot()[0].event, "fresh");
}

#[test]
fn known_names_keep_counting_past_the_cap() {
    let stats = EventStats::with_max_events(2);
    for event in ["a", "b", "c", "a", "d", "b"] {
        stats.record(event);
    }
    let all: Vec<_> = stats
        .snapshot()
        .into_iter()
        .map(|e| (e.event, e.count))
        .collect();
    assert_eq!(
        all,
        [("(other)".into(), 2), ("a".into(), 2), ("b".into(), 2)]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn distinct_names_stay_within_the_cap_under_concurrency(
        max in 1usize..50,
        per_thread in prop::collection::vec(0usize..500, 1..5),
    ) {
        let stats = EventStats::with_max_events(max);
        std::thread::scope(|scope| {
            for (i, n) in per_thread.iter().enumerate() {
                let stats = stats.clone();
                scope.spawn(move || {
                    for k in 0..*n {
                        stats.record(&format!("{i}-{k}"));
                        if k % 97 == 0 {
                            stats.take();
                        }
                    }
                });
            }
        });
        prop_assert!(stats.snapshot().len() <= max + 1);
    }

    #[test]
    fn taken_reports_add_up_to_every_event(per_thread in prop::collection::vec(0usize..2000, 1..5)) {
        let stats = EventStats::with_max_events(4);
        let taken: u64 = std::thread::scope(|scope| {
            for (i, n) in per_thread.iter().enumerate() {
                let stats = stats.clone();
                scope.spawn(move || {
                    for k in 0..*n {
                        stats.record(["a", "b", "c", "d", "e", "f"][(i + k) % 6]);
                    }
                });
            }
            let mut taken = 0;
            for _ in 0..20 {
                taken += stats.take().iter().map(|e| e.count).sum::<u64>();
            }
            taken
        });
        let rest: u64 = stats.take().iter().map(|e| e.count).sum();
        prop_assert_eq!(taken + rest, per_thread.iter().sum::<usize>() as u64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn totals_equal_events_sent_by_concurrent_senders(per_thread in prop::collection::vec(0usize..2000, 1..6)) {
        let stats = EventStats::new();
        std::thread::scope(|scope| {
            for (i, n) in per_thread.iter().enumerate() {
                let stats = stats.clone();
                scope.spawn(move || {
                    for k in 0..*n {
                        stats.record(if k % 2 == 0 { "even" } else { ["a", "b", "c"][i % 3] });
                    }
                });
            }
        });
        prop_assert_eq!(stats.total(), per_thread.iter().sum::<usize>() as u64);
    }
}
