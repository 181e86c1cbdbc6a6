//! The background loop: every poll interval, for every unit with a Plume location, read the
//! location, its nodes and its devices (and the Wi-Fi network every `wifi_every`-th round),
//! evaluate the health, store it on the [`HealthBoard`] and publish `health_changed` /
//! `plume_status` events on change.
//!
//! Load on Plume is bounded twice: at most `max_concurrency` units in flight, and a global
//! GCRA rate limit (default 5 requests/s, burst 1) that every API request, retries included,
//! waits on (Plume recommends ≤ 6 req/s; its WAF blocks above 2000 per 5 minutes).
//!
//! Failure policy: a failure of Plume as a whole (unreachable, 5xx everywhere, OAuth failing,
//! WAF throttling) keeps the last reports, which go stale after 3 intervals; a location that
//! fails while Plume answers for others (404, 403, or still failing after retries) turns red
//! with the reason. A round stops early once Plume is clearly down (3 units failed without any
//! success, or one WAF 403), so an outage costs a handful of requests, not hundreds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{
    evaluate, HealthBoard, HealthReport, HealthStatus, PlumeClient, PlumeError, PlumeSettings,
    TokenManager,
};
use crate::clock::Clock;
use crate::events::{Event, EventBus};

/// A unit to watch: which Plume location is its network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlumeTarget {
    pub unit_id: String,
    pub customer_id: String,
    pub location_id: String,
}

/// A GCRA ("leaky bucket as a meter") limiter: `per_second` sustained, `burst` back to back.
/// Callers queue: each `acquire` reserves the next free slot, then sleeps until it.
pub struct RateLimiter {
    period: Duration,
    tolerance: Duration,
    tat: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn new(per_second: f64, burst: u32) -> Self {
        let period = Duration::from_secs_f64(1.0 / per_second.clamp(0.001, 1_000_000.0));
        Self {
            period,
            tolerance: period * burst.max(1).saturating_sub(1),
            tat: Mutex::new(None),
        }
    }

    pub async fn acquire(&self) {
        let at = {
            let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let t = tat.map_or(now, |t| t.max(now));
            let at = t.checked_sub(self.tolerance).map_or(now, |a| a.max(now));
            *tat = Some(t + self.period);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Tuning; the defaults are the contract's numbers.
#[derive(Clone)]
pub struct PollerConfig {
    /// Shared with the settings API (`verify`). `None` → a private one.
    pub tokens: Option<TokenManager>,
    pub clock: Clock,
    pub max_concurrency: usize,
    pub requests_per_second: f64,
    pub burst: u32,
    /// Read `wifiNetwork` every n-th round (and on a unit's first round).
    pub wifi_every: u64,
    /// Extra attempts for a request that failed transiently (network, 5xx).
    pub retries: u32,
    /// First wait before a retry; doubles.
    pub retry_backoff: Duration,
    /// Where poll outcomes are counted (`/metrics`).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            tokens: None,
            clock: Clock::system(),
            max_concurrency: 4,
            requests_per_second: 5.0,
            burst: 1,
            wifi_every: 10,
            retries: 2,
            retry_backoff: Duration::from_millis(500),
            metrics: None,
        }
    }
}

/// The Plume poller. See the module docs.
pub struct Poller;

impl Poller {
    /// Start with default tuning and a private token manager.
    pub fn spawn(
        settings_rx: watch::Receiver<Option<PlumeSettings>>,
        targets_rx: watch::Receiver<Vec<PlumeTarget>>,
        board: HealthBoard,
        events: EventBus,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        Self::spawn_with(
            PollerConfig::default(),
            settings_rx,
            targets_rx,
            board,
            events,
            shutdown,
        )
    }

    pub fn spawn_with(
        cfg: PollerConfig,
        settings_rx: watch::Receiver<Option<PlumeSettings>>,
        targets_rx: watch::Receiver<Vec<PlumeTarget>>,
        board: HealthBoard,
        events: EventBus,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let tokens = match cfg.tokens.clone() {
                Some(t) => t,
                None => match super::http_client() {
                    Ok(http) => TokenManager::new(http, cfg.clock.clone()),
                    Err(e) => {
                        tracing::error!(error = %e, "plume poller cannot start");
                        return;
                    }
                },
            };
            let limiter = Arc::new(RateLimiter::new(cfg.requests_per_second, cfg.burst));
            let mut run = Run {
                cfg,
                tokens,
                limiter,
                board,
                events,
                settings: None,
                client: None,
                targets: Vec::new(),
                round: 0,
                wifi: HashMap::new(),
                published: HashMap::new(),
            };
            run.main(settings_rx, targets_rx, shutdown).await;
        })
    }
}

struct Run {
    cfg: PollerConfig,
    tokens: TokenManager,
    limiter: Arc<RateLimiter>,
    board: HealthBoard,
    events: EventBus,
    settings: Option<PlumeSettings>,
    client: Option<PlumeClient>,
    targets: Vec<PlumeTarget>,
    round: u64,
    /// unit → SSIDs last read.
    wifi: HashMap<String, Vec<String>>,
    /// unit → last status published in `health_changed`.
    published: HashMap<String, HealthStatus>,
}

enum Outcome {
    Read(HealthReport, Option<Vec<String>>),
    Failed(PlumeError),
    Skipped(PlumeError),
}

async fn changed<T>(rx: &mut watch::Receiver<T>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl Run {
    async fn main(
        &mut self,
        mut settings_rx: watch::Receiver<Option<PlumeSettings>>,
        mut targets_rx: watch::Receiver<Vec<PlumeTarget>>,
        shutdown: CancellationToken,
    ) {
        let mut next_round = Instant::now();
        loop {
            let settings = settings_rx.borrow_and_update().clone();
            if settings != self.settings {
                self.apply_settings(settings);
                next_round = Instant::now();
            }
            let targets = targets_rx.borrow_and_update().clone();
            if targets != self.targets {
                self.apply_targets(targets);
                next_round = Instant::now();
            }
            let configured = self.client.is_some();
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = changed(&mut settings_rx) => continue,
                _ = changed(&mut targets_rx) => continue,
                _ = tokio::time::sleep_until(next_round), if configured => {}
            }
            let Some(client) = self.client.clone() else {
                continue;
            };
            let started = Instant::now();
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.round(&client) => {}
            }
            next_round = started + client.settings().poll_interval();
        }
        tracing::debug!("plume poller stopped");
    }

    fn apply_settings(&mut self, settings: Option<PlumeSettings>) {
        if let Some(old) = &self.settings {
            let same_credentials = settings.as_ref().is_some_and(|s| {
                s.sso_url == old.sso_url
                    && s.auth_header == old.auth_header
                    && s.partner_id == old.partner_id
            });
            if !same_credentials {
                self.tokens.forget(old);
            }
        }
        match &settings {
            Some(s) => {
                self.client = Some(
                    PlumeClient::new(s.clone(), self.tokens.clone())
                        .with_rate_limiter(self.limiter.clone()),
                );
                self.board.set_configured(true, Some(s.poll_interval()));
                let ids: Vec<String> = self.targets.iter().map(|t| t.unit_id.clone()).collect();
                self.board.retain_units(&ids, self.cfg.clock.now());
            }
            None => {
                self.client = None;
                let was_connected = self.board.status().connected;
                self.board.set_configured(false, None);
                if was_connected {
                    self.events.publish(Event::PlumeStatus {
                        connected: false,
                        last_error: None,
                    });
                }
                self.wifi.clear();
                self.published.clear();
            }
        }
        tracing::info!(configured = settings.is_some(), "plume settings applied");
        self.settings = settings;
    }

    fn apply_targets(&mut self, mut targets: Vec<PlumeTarget>) {
        targets.dedup_by(|a, b| a.unit_id == b.unit_id);
        let now = self.cfg.clock.now();
        for t in &targets {
            let moved = self
                .targets
                .iter()
                .find(|o| o.unit_id == t.unit_id)
                .is_some_and(|o| o.customer_id != t.customer_id || o.location_id != t.location_id);
            if moved {
                self.board.reset_unit(&t.unit_id, now);
                self.wifi.remove(&t.unit_id);
            }
        }
        let ids: Vec<String> = targets.iter().map(|t| t.unit_id.clone()).collect();
        self.board.retain_units(&ids, now);
        self.wifi.retain(|k, _| ids.contains(k));
        self.published.retain(|k, _| ids.contains(k));
        self.targets = targets;
    }

    async fn round(&mut self, client: &PlumeClient) {
        let round = self.round;
        self.round += 1;
        let abort = AtomicBool::new(false);
        let any_ok = AtomicBool::new(false);
        let failed_units = AtomicU32::new(0);
        let last_upstream: Mutex<Option<PlumeError>> = Mutex::new(None);
        let targets = self.targets.clone();
        let wifi_due: Vec<bool> = targets
            .iter()
            .map(|t| {
                round.is_multiple_of(self.cfg.wifi_every.max(1))
                    || !self.wifi.contains_key(&t.unit_id)
            })
            .collect();

        let this: &Run = self;
        let results: Vec<(PlumeTarget, Outcome)> = stream::iter(targets.into_iter().zip(wifi_due))
            .map(|(t, fetch_wifi)| {
                let (abort, any_ok, failed_units, last_upstream) =
                    (&abort, &any_ok, &failed_units, &last_upstream);
                async move {
                    if abort.load(Ordering::Relaxed) {
                        let e = last_upstream
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .clone()
                            .unwrap_or(PlumeError::RateLimited);
                        return (t, Outcome::Skipped(e));
                    }
                    let out = this.poll_unit(client, &t, fetch_wifi, abort).await;
                    // Publish a unit as soon as it is read, not at the end of the round: with
                    // many units and the rate limit, a round can take longer than an interval.
                    if let Outcome::Read(report, ssids) = &out {
                        let mut early = report.clone();
                        early.wifi_networks = ssids
                            .clone()
                            .or_else(|| this.wifi.get(&t.unit_id).cloned())
                            .unwrap_or_default();
                        this.board
                            .record_report(&t.unit_id, early, this.cfg.clock.now());
                    }
                    if let Some(m) = &this.cfg.metrics {
                        match &out {
                            Outcome::Read(..) => m.plume_polls_ok.inc(),
                            _ => m.plume_polls_failed.inc(),
                        }
                    }
                    match &out {
                        Outcome::Read(..) => any_ok.store(true, Ordering::Relaxed),
                        Outcome::Failed(e) if !e.is_upstream_wide() => {
                            any_ok.store(true, Ordering::Relaxed)
                        }
                        Outcome::Failed(e) | Outcome::Skipped(e) => {
                            *last_upstream.lock().unwrap_or_else(|e| e.into_inner()) =
                                Some(e.clone());
                            let n = failed_units.fetch_add(1, Ordering::Relaxed) + 1;
                            let down =
                                matches!(e, PlumeError::RateLimited | PlumeError::OAuth { .. })
                                    || (n >= 3 && !any_ok.load(Ordering::Relaxed));
                            if down {
                                abort.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                    (t, out)
                }
            })
            .buffer_unordered(this.cfg.max_concurrency.max(1))
            .collect()
            .await;

        let now = self.cfg.clock.now();
        let answered = any_ok.load(Ordering::Relaxed);
        let mut first_error: Option<PlumeError> = None;
        for (t, out) in results {
            match out {
                Outcome::Read(mut report, ssids) => {
                    if let Some(s) = ssids {
                        self.wifi.insert(t.unit_id.clone(), s);
                    }
                    report.wifi_networks = self.wifi.get(&t.unit_id).cloned().unwrap_or_default();
                    self.board.record_report(&t.unit_id, report, now);
                }
                Outcome::Failed(e) => {
                    let location_specific = !e.is_upstream_wide()
                        || (answered && (e.is_transient() || matches!(e, PlumeError::AuthFailed)));
                    if location_specific {
                        tracing::info!(unit_id = %t.unit_id, error = %e, "plume: location could not be read");
                        self.board.record_report(
                            &t.unit_id,
                            HealthReport::unreadable(format!("Location could not be read: {e}")),
                            now,
                        );
                    } else {
                        self.board.record_error(&t.unit_id, e.to_string());
                        first_error.get_or_insert(e);
                    }
                }
                Outcome::Skipped(e) => {
                    self.board.record_error(&t.unit_id, e.to_string());
                    first_error.get_or_insert(e);
                }
            }
        }

        let connected = if self.targets.is_empty() {
            match self.tokens.token(client.settings()).await {
                Ok(_) => true,
                Err(e) => {
                    first_error = Some(e);
                    false
                }
            }
        } else {
            answered
        };
        let last_error = first_error.map(|e| e.to_string());
        if !connected {
            tracing::warn!(
                error = last_error.as_deref().unwrap_or(""),
                "plume: poll round failed"
            );
        }
        let prev = self
            .board
            .set_connectivity(connected, last_error.clone(), now);
        if prev != (connected, last_error.clone()) && (prev.0 != connected || !connected) {
            self.events.publish(Event::PlumeStatus {
                connected,
                last_error: last_error.clone(),
            });
        }
        self.publish_changes(now);
    }

    fn publish_changes(&mut self, now: time::OffsetDateTime) {
        for t in &self.targets {
            let report = self.board.get(&t.unit_id, now);
            let previous = self
                .published
                .get(&t.unit_id)
                .copied()
                .unwrap_or(HealthStatus::Unknown);
            if report.status != previous {
                self.events.publish(Event::HealthChanged {
                    unit_id: t.unit_id.clone(),
                    status: report.status,
                    previous,
                    reasons: report.reasons.clone(),
                });
                self.published.insert(t.unit_id.clone(), report.status);
            }
        }
    }

    async fn poll_unit(
        &self,
        client: &PlumeClient,
        t: &PlumeTarget,
        fetch_wifi: bool,
        abort: &AtomicBool,
    ) -> Outcome {
        let (c, l) = (t.customer_id.as_str(), t.location_id.as_str());
        let location = match self.retrying(abort, || client.location(c, l)).await {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(e),
        };
        let nodes = match self.retrying(abort, || client.nodes(c, l)).await {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(e),
        };
        let devices = match self.retrying(abort, || client.devices(c, l)).await {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(e),
        };
        let ssids = if fetch_wifi {
            match self.retrying(abort, || client.wifi_network(c, l)).await {
                Ok(w) => Some(
                    w.into_iter()
                        .filter(|w| w.enabled != Some(false))
                        .filter_map(|w| w.ssid)
                        .collect(),
                ),
                Err(e) => {
                    tracing::debug!(unit_id = %t.unit_id, error = %e, "plume: wifiNetwork not read");
                    None
                }
            }
        } else {
            None
        };
        Outcome::Read(evaluate(&location, &nodes, &devices, None), ssids)
    }

    async fn retrying<T, F, Fut>(&self, abort: &AtomicBool, mut f: F) -> Result<T, PlumeError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, PlumeError>>,
    {
        let mut attempt = 0u32;
        loop {
            match f().await {
                Err(e)
                    if e.is_transient()
                        && attempt < self.cfg.retries
                        && !abort.load(Ordering::Relaxed) =>
                {
                    tokio::time::sleep(self.cfg.retry_backoff * 2u32.pow(attempt.min(10))).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn offsets(l: &RateLimiter, n: usize) -> Vec<u128> {
        let t0 = Instant::now();
        let mut at = Vec::new();
        for _ in 0..n {
            l.acquire().await;
            at.push((Instant::now() - t0).as_millis());
        }
        at
    }

    // Paused clock: the limiter sleeps on tokio's clock, so the spacing is exact and the test
    // does not depend on how busy the machine is.
    #[tokio::test(start_paused = true)]
    async fn plume_rate_limiter_spaces_requests() {
        // 20/s → one slot every 50 ms.
        let at = offsets(&RateLimiter::new(20.0, 1), 6).await;
        assert!(at[0] < 20, "{at:?}");
        for w in at.windows(2) {
            assert!(w[1] - w[0] >= 45, "{at:?}");
        }
        assert!(at[5] < 400, "{at:?}");
        // Burst 3: three at once, then spaced.
        let at = offsets(&RateLimiter::new(20.0, 3), 5).await;
        assert!(at[2] < 20, "{at:?}");
        assert!(at[3] >= 45 && at[4] - at[3] >= 45, "{at:?}");
    }
}
