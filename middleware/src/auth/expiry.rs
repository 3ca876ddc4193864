//! The timers that end sessions when their credentials expire: one task serves every socket of an
//! auth layer, so a socket waiting for its expiry costs an entry in a map, not a task.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime},
};

use tokio::{sync::Notify, time::Instant};

/// The longest single sleep: tokio's timer wheel clamps deadlines past ~2 years, so a far expiry
/// is reached in steps instead of firing early.
const MAX_STEP: Duration = Duration::from_secs(86_400);

type OnExpiry = Box<dyn FnOnce() + Send>;

/// The pending expiries of one auth layer, fired in deadline order by one task.
///
/// The task runs only while some expiry is pending: it is spawned by the first one and ends when
/// none is left (or with its runtime).
#[derive(Debug, Clone, Default)]
pub(crate) struct ExpiryTimers(Arc<Shared>);

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the task when an earlier deadline arrives or the last one leaves.
    changed: Notify,
}

#[derive(Default)]
struct State {
    due: BTreeMap<(Instant, u64), OnExpiry>,
    next_key: u64,
    task_running: bool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpiryTimers")
            .field("pending", &self.lock().due.len())
            .finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Callbacks run outside the lock, so no panic can leave the map half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One socket's pending expiry: `on_expiry` runs at its deadline unless this is dropped first.
///
/// The owner keeps it for exactly the life of the socket: in the socket's disconnect callbacks,
/// which are dropped with a refused connect request and run when an admitted socket disconnects.
#[derive(Debug)]
pub(crate) struct ExpiryTimer {
    timers: ExpiryTimers,
    /// `None`: later than the clock can represent, so never scheduled.
    key: Option<(Instant, u64)>,
}

impl ExpiryTimers {
    /// Schedules `on_expiry` `delay` from now (tokio's clock, fractions kept).
    pub(crate) fn start(
        &self,
        delay: Duration,
        on_expiry: impl FnOnce() + Send + 'static,
    ) -> ExpiryTimer {
        let Some(deadline) = Instant::now().checked_add(delay) else {
            return ExpiryTimer {
                timers: self.clone(),
                key: None,
            };
        };
        let mut state = self.0.lock();
        let key = (deadline, state.next_key);
        state.next_key += 1;
        let earliest = state.due.keys().next().is_none_or(|first| key < *first);
        state.due.insert(key, Box::new(on_expiry));
        if !state.task_running {
            state.task_running = true;
            let task = TimerTask {
                timers: self.clone(),
                ended: false,
            };
            tokio::spawn(task.run());
        } else if earliest {
            self.0.changed.notify_one();
        }
        ExpiryTimer {
            timers: self.clone(),
            key: Some(key),
        }
    }
}

/// The timer task: fires what is due, sleeps until the next deadline, and ends when nothing is
/// pending.
///
/// Created with the task, so a task its runtime drops, even before its first poll, still clears
/// `task_running` and the next `start` spawns another.
struct TimerTask {
    timers: ExpiryTimers,
    ended: bool,
}

impl TimerTask {
    async fn run(mut self) {
        loop {
            let (fired, next) = {
                let mut state = self.timers.0.lock();
                let later = state.due.split_off(&(Instant::now(), u64::MAX));
                let fired = std::mem::replace(&mut state.due, later);
                let next = state.due.keys().next().map(|(at, _)| *at);
                if fired.is_empty() && next.is_none() {
                    // Under the lock: the next `start` sees the task gone and spawns another.
                    state.task_running = false;
                    self.ended = true;
                    return;
                }
                (fired, next)
            };
            fired.into_values().for_each(|on_expiry| on_expiry());
            let Some(next) = next else { continue };
            let step = next.min(Instant::now().checked_add(MAX_STEP).unwrap_or(next));
            tokio::select! {
                () = tokio::time::sleep_until(step) => {}
                () = self.timers.0.changed.notified() => {}
            }
        }
    }
}

impl Drop for TimerTask {
    fn drop(&mut self) {
        if !self.ended {
            self.timers.0.lock().task_running = false;
        }
    }
}

impl Drop for ExpiryTimer {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut state = self.timers.0.lock();
        // Dropped outside the lock: the callback may own anything.
        let removed = state.due.remove(&key);
        let now_empty = state.due.is_empty();
        drop(state);
        drop(removed);
        if now_empty {
            self.timers.0.changed.notify_one();
        }
    }
}

/// How long from `now` until `expires_at`; zero when it has passed.
pub(crate) fn delay_until(expires_at: SystemTime, now: SystemTime) -> Duration {
    expires_at.duration_since(now).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;
    use tokio::sync::oneshot;

    fn timer(delay: Duration) -> (ExpiryTimer, oneshot::Receiver<Instant>) {
        timer_in(&ExpiryTimers::default(), delay)
    }

    fn timer_in(
        timers: &ExpiryTimers,
        delay: Duration,
    ) -> (ExpiryTimer, oneshot::Receiver<Instant>) {
        let (fired, rx) = oneshot::channel();
        let timer = timers.start(delay, move || {
            let _ = fired.send(Instant::now());
        });
        (timer, rx)
    }

    fn alive_tasks() -> usize {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    }

    /// Yields until the runtime has `n` live tasks; bounded so a task that never ends fails.
    async fn settle_to(n: usize) {
        for _ in 0..100 {
            if alive_tasks() == n {
                return;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(alive_tasks(), n, "live tasks");
    }

    #[tokio::test(start_paused = true)]
    async fn one_task_fires_many_timers_in_deadline_order() {
        let timers = ExpiryTimers::default();
        let start = Instant::now();
        let (_late, late) = timer_in(&timers, Duration::from_secs(30));
        // The task is asleep until the later deadline when the earlier one arrives.
        tokio::task::yield_now().await;
        let (_early, early) = timer_in(&timers, Duration::from_secs(10));
        let (dropped, never) = timer_in(&timers, Duration::from_secs(20));
        assert_eq!(alive_tasks(), 1);
        drop(dropped);
        assert_eq!(early.await.unwrap() - start, Duration::from_secs(10));
        assert_eq!(late.await.unwrap() - start, Duration::from_secs(30));
        assert!(never.await.is_err(), "a dropped timer never fires");
        settle_to(0).await;
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_ends_when_the_last_timer_is_dropped_and_comes_back() {
        let timers = ExpiryTimers::default();
        let (first, _) = timer_in(&timers, Duration::from_secs(3600));
        assert_eq!(alive_tasks(), 1);
        drop(first);
        settle_to(0).await;
        let start = Instant::now();
        let (_second, fired) = timer_in(&timers, Duration::from_secs(5));
        assert_eq!(fired.await.unwrap() - start, Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn fires_at_the_fractional_deadline() {
        let start = Instant::now();
        let (_timer, fired) = timer(Duration::from_millis(1500));
        let elapsed = fired.await.unwrap() - start;
        // tokio's timers have millisecond ticks.
        assert!(
            (Duration::from_millis(1500)..Duration::from_millis(1502)).contains(&elapsed),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn far_deadlines_do_not_fire_early() {
        let start = Instant::now();
        let (_timer, mut fired) = timer(Duration::from_secs(3 * 365 * 86_400));
        tokio::time::advance(Duration::from_secs(3 * 365 * 86_400 - 1)).await;
        assert!(fired.try_recv().is_err());
        let elapsed = fired.await.unwrap() - start;
        let deadline = Duration::from_secs(3 * 365 * 86_400);
        assert!(
            (deadline..deadline + Duration::from_millis(2)).contains(&elapsed),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unrepresentable_deadlines_never_fire_nor_panic() {
        let (_timer, mut fired) = timer(Duration::MAX);
        tokio::time::advance(Duration::from_secs(10 * 365 * 86_400)).await;
        assert!(fired.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_timer_drops_its_callback() {
        let (timer, fired) = timer(Duration::from_secs(1));
        drop(timer);
        // The callback (and the sender it owns) is dropped with the aborted task.
        assert!(fired.await.is_err());
    }

    #[test]
    fn delay_keeps_fractions_and_saturates_in_the_past() {
        let now = UNIX_EPOCH + Duration::from_secs(100);
        let later = UNIX_EPOCH + Duration::from_secs_f64(101.25);
        assert_eq!(delay_until(later, now), Duration::from_millis(1250));
        assert_eq!(delay_until(now, later), Duration::ZERO);
    }
}
