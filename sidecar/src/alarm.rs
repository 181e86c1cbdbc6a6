//! Sleeping until the next due item: the timers of the expiry and the outbox worker.
//!
//! DESIGN §10 "Idle cost": with nothing due the sidecar should not wake up. A background
//! loop reads from the database when its next item is due, then sleeps until exactly then;
//! whoever commits an earlier item [`Alarm::propose`]s its time, which wakes the loop only
//! when it is earlier than what the loop is waiting for (a redemption whose grant ends after
//! the next expiry costs an atomic compare, not a wake-up).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{watch, Notify};

use crate::clock::Clock;

/// "Nothing scheduled".
const NEVER: i64 = i64::MAX;

/// One background loop's alarm clock. Shared (`Arc`) between the loop and the proposers.
#[derive(Debug)]
pub struct Alarm {
    /// When the loop is set to wake, in milliseconds since the epoch ([`NEVER`] while it is
    /// between reading the next time and going to sleep, so every proposal wakes it then).
    next_ms: AtomicI64,
    notify: Notify,
}

impl Default for Alarm {
    fn default() -> Self {
        Alarm {
            next_ms: AtomicI64::new(NEVER),
            notify: Notify::new(),
        }
    }
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

impl Alarm {
    /// Something becomes due at `at`: wake the loop if that is before its alarm.
    pub fn propose(&self, at: OffsetDateTime) {
        let at = ms(at);
        if self.next_ms.fetch_min(at, Ordering::AcqRel) > at {
            self.notify.notify_one();
        }
    }

    /// Wake the loop now (settings changed; tests after moving the clock).
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Called by the loop before it reads its next due time: proposals from now on wake it.
    pub fn arm(&self) {
        self.next_ms.store(NEVER, Ordering::Release);
    }

    /// Sleep until `next` (by `clock`), an earlier proposal, a wake-up, or `stop`. Returns
    /// false when `stop` fired.
    pub async fn sleep_until(
        &self,
        next: Option<OffsetDateTime>,
        clock: &Clock,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let wait = match next {
            Some(at) => {
                // A proposal since `arm` may already be earlier; keep the earlier one.
                self.next_ms.fetch_min(ms(at), Ordering::AcqRel);
                let left = at - clock.now();
                Some(Duration::from_millis(
                    left.whole_milliseconds().clamp(0, u64::MAX as i128) as u64,
                ))
            }
            None => None,
        };
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.wait_for(|v| *v) => false,
            _ = self.notify.notified() => true,
            _ = sleep => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sleeps_until_due_and_wakes_only_for_earlier_items() {
        let alarm = std::sync::Arc::new(Alarm::default());
        let clock = Clock::system();
        let (_stop_tx, mut stop) = watch::channel(false);
        let now = clock.now();
        alarm.arm();
        let a = alarm.clone();
        let c = clock.clone();
        let waiter = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            a.sleep_until(Some(now + time::Duration::hours(1)), &c, &mut stop)
                .await;
            started.elapsed()
        });
        tokio::task::yield_now().await;
        // Later than what the loop waits for: no wake-up.
        alarm.propose(now + time::Duration::hours(2));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!waiter.is_finished());
        // Earlier: the loop wakes at once to read the new item.
        alarm.propose(now + time::Duration::minutes(5));
        let slept = waiter.await.unwrap();
        assert!(slept < Duration::from_secs(120), "{slept:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_proposal_between_reading_and_sleeping_is_not_lost() {
        let alarm = Alarm::default();
        let clock = Clock::system();
        let (_stop_tx, mut stop) = watch::channel(false);
        alarm.arm();
        // The loop read "nothing due" but has not slept yet when an item is committed.
        alarm.propose(clock.now() + time::Duration::minutes(1));
        let started = tokio::time::Instant::now();
        assert!(alarm.sleep_until(None, &clock, &mut stop).await);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn stop_ends_the_sleep() {
        let alarm = Alarm::default();
        let (stop_tx, mut stop) = watch::channel(false);
        stop_tx.send(true).unwrap();
        assert!(!alarm.sleep_until(None, &Clock::system(), &mut stop).await);
    }
}
