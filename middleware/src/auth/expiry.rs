//! The timer that ends a session when its credential expires.

use std::time::{Duration, SystemTime};

use tokio::{task::AbortHandle, time::Instant};

/// The longest single sleep: tokio's timer wheel clamps deadlines past ~2 years, so a far expiry
/// is reached in steps instead of firing early.
const MAX_STEP: Duration = Duration::from_secs(86_400);

/// Runs a callback when a credential expires, unless dropped first (dropping aborts the task).
///
/// The owner keeps it for exactly the life of the socket: in the socket's disconnect callbacks,
/// which are dropped with a refused connect request and run when an admitted socket disconnects.
#[derive(Debug)]
pub(crate) struct ExpiryTimer(AbortHandle);

impl ExpiryTimer {
    /// Starts the timer: `on_expiry` runs `delay` from now (tokio's clock, fractions kept).
    pub(crate) fn start(delay: Duration, on_expiry: impl FnOnce() + Send + 'static) -> Self {
        // `None`: later than the clock can represent, so never.
        let deadline = Instant::now().checked_add(delay);
        let task = tokio::spawn(async move {
            let Some(deadline) = deadline else {
                return std::future::pending().await;
            };
            sleep_until(deadline).await;
            on_expiry();
        });
        Self(task.abort_handle())
    }
}

impl Drop for ExpiryTimer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long from `now` until `expires_at`; zero when it has passed.
pub(crate) fn delay_until(expires_at: SystemTime, now: SystemTime) -> Duration {
    expires_at.duration_since(now).unwrap_or_default()
}

/// Sleeps until `deadline`, however far, in steps tokio's timer represents exactly.
async fn sleep_until(deadline: Instant) {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let step = deadline.min(now.checked_add(MAX_STEP).unwrap_or(deadline));
        tokio::time::sleep_until(step).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;
    use tokio::sync::oneshot;

    fn timer(delay: Duration) -> (ExpiryTimer, oneshot::Receiver<Instant>) {
        let (fired, rx) = oneshot::channel();
        let timer = ExpiryTimer::start(delay, move || {
            let _ = fired.send(Instant::now());
        });
        (timer, rx)
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
    async fn dropping_the_timer_ends_its_task() {
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
