//! A request budget for the Open API: TP-Link's Open API Access Guide limits cloud-based
//! controllers to 10 requests per second per controller/organisation and answers HTTP 429
//! beyond it (field notes §1.8, §1.11). Requests wait for their turn instead of being refused
//! by the cloud — but never past the operation's deadline, so a guest still gets an answer
//! within the usual ~10 s (a request that would have to wait longer fails as a timeout).
//!
//! Generic cell rate algorithm: one request per `1/rate` on average, bursts of up to `rate`
//! requests (one second's worth) when the budget was idle.

use std::time::Duration;

use tokio::time::Instant;

use super::error::OmadaError;

pub(crate) struct RateLimiter {
    /// Time per request at the steady rate.
    interval: Duration,
    /// How far ahead of the steady schedule a burst may run.
    tolerance: Duration,
    /// Theoretical arrival time of the next request.
    tat: std::sync::Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `None` for 0 (no limit).
    pub(crate) fn per_second(rate: u32) -> Option<RateLimiter> {
        if rate == 0 {
            return None;
        }
        let interval = Duration::from_secs(1) / rate;
        Some(RateLimiter {
            interval,
            tolerance: interval * (rate - 1),
            tat: std::sync::Mutex::new(None),
        })
    }

    /// Wait for this request's turn; `Timeout` (without waiting) when the turn comes after
    /// `deadline`.
    pub(crate) async fn acquire(&self, deadline: Instant, what: &str) -> Result<(), OmadaError> {
        let wait = {
            let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let t = tat.map_or(now, |t| t.max(now));
            let allowed_at = t.checked_sub(self.tolerance).unwrap_or(now).max(now);
            if allowed_at > deadline {
                return Err(OmadaError::Timeout(format!(
                    "{what}: the Open API request budget is used up until after the deadline"
                )));
            }
            *tat = Some(t + self.interval);
            allowed_at - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bursts_one_second_then_keeps_the_rate() {
        let l = RateLimiter::per_second(10).unwrap();
        let start = Instant::now();
        let far = start + Duration::from_secs(60);
        for _ in 0..10 {
            l.acquire(far, "t").await.unwrap();
        }
        assert_eq!(
            Instant::now() - start,
            Duration::ZERO,
            "a burst of 10 is free"
        );
        for _ in 0..20 {
            l.acquire(far, "t").await.unwrap();
        }
        // 20 more at 10/s: two more seconds.
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn never_waits_past_the_deadline() {
        let l = RateLimiter::per_second(2).unwrap();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(600);
        l.acquire(deadline, "t").await.unwrap();
        l.acquire(deadline, "t").await.unwrap();
        l.acquire(deadline, "t").await.unwrap(); // at +500 ms
        let err = l.acquire(deadline, "t").await.unwrap_err(); // would be +1000 ms
        assert!(matches!(err, OmadaError::Timeout(_)), "{err:?}");
        assert_eq!(Instant::now() - start, Duration::from_millis(500));
        assert!(RateLimiter::per_second(0).is_none());
    }
}
