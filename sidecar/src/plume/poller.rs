//! The background loop: every poll interval, for every unit with a Plume location, read the
//! location, its nodes and its devices (on every SSID), and its SSID every `wifi_every`-th
//! round; evaluate the health, store it and the network details on the [`HealthBoard`] and
//! publish `health_changed` (as soon as a unit is read) / `plume_status` events on change.
//!
//! Load on Plume is bounded twice: at most `max_concurrency` units in flight, and one GCRA
//! rate limit (default 5 requests/s, burst 1) that every API request waits on — the poller's,
//! its retries, and the settings checks and look-ups of the API (they share the limiter).
//! Plume's WAF allows 2,000 requests per 5 minutes per source address and recommends ≤ 6/s
//! (reference §1.4); 5/s is at most 1,500 per 5 minutes, which leaves a quarter of the budget
//! to anything else behind the property's address. The limit is never raised to keep up:
//! with many units a round simply takes longer than the interval (the interval adapts to the
//! budget), and staleness is judged against the measured round (see [`super::board`]).
//!
//! Failure policy: a failure of Plume as a whole (unreachable, 5xx everywhere, OAuth failing,
//! WAF throttling — a 403 without an API body, or a 429 — or a wrong API base) keeps the last
//! reports, which go stale, never red; a location that fails while Plume answers (customer id
//! unknown: 401 with a working token; location unknown: 404; another partner's: 403 with an
//! API body) turns red with a reason that says which id to fix (`misconfigured`). A round
//! stops early once Plume is clearly down (3 units in a row failed as a whole, or one WAF
//! answer, OAuth failure or wrong API base), so an outage costs a handful of requests, and the
//! next round resumes with the units the stopped one did not reach.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::network::{self, NetworkDetails};
use super::{
    evaluate, HealthBoard, HealthReport, HealthStatus, PlumeClient, PlumeError, PlumeSettings,
    TokenManager,
};
use crate::clock::Clock;
use crate::events::{Event, EventBus};
use crate::unit_health::{Finding, FindingCode, Severity, Source};

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
    /// Shared with the settings API's checks and look-ups. `None` → a private one built from
    /// `requests_per_second` and `burst`.
    pub limiter: Option<Arc<RateLimiter>>,
    pub clock: Clock,
    pub max_concurrency: usize,
    pub requests_per_second: f64,
    pub burst: u32,
    /// Read the SSID every n-th round (and on a unit's first round).
    pub wifi_every: u64,
    /// Extra attempts for a request that failed transiently (network, 5xx).
    pub retries: u32,
    /// First wait before a retry; doubles.
    pub retry_backoff: Duration,
    /// Where poll outcomes are counted (`/metrics`).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Told the unit id after each unit is recorded, instead of the poller publishing
    /// `health_changed` itself: the sidecar publishes the colour combined with the
    /// controller's (`health_view`). `None`: the poller publishes Plume's colour.
    pub on_health: Option<HealthHook>,
}

/// Told a unit id after a health source recorded that unit.
pub type HealthHook = Arc<dyn Fn(&str) + Send + Sync>;

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            tokens: None,
            limiter: None,
            clock: Clock::system(),
            max_concurrency: 4,
            requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
            burst: 1,
            wifi_every: 10,
            retries: 2,
            retry_backoff: Duration::from_millis(500),
            metrics: None,
            on_health: None,
        }
    }
}

/// The default request budget: 5/s = 1,500 per 5 minutes, three quarters of the WAF's 2,000.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 5.0;

impl PollerConfig {
    /// Requests one unit costs per round on average: location, nodes, devices, and the SSID
    /// every `wifi_every`-th round.
    pub fn requests_per_unit(&self) -> f64 {
        3.0 + 1.0 / self.wifi_every.max(1) as f64
    }

    /// How long a round over `units` units takes at the rate limit (at least one interval).
    pub fn expected_round(&self, units: usize) -> Duration {
        Duration::from_secs_f64(
            units as f64 * self.requests_per_unit() / self.requests_per_second.max(0.001),
        )
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
            let limiter = cfg
                .limiter
                .clone()
                .unwrap_or_else(|| Arc::new(RateLimiter::new(cfg.requests_per_second, cfg.burst)));
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
                cursor: 0,
                wifi: HashMap::new(),
                published: Mutex::new(HashMap::new()),
                slow_noted: None,
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
    /// Where the next round starts (after a round cut short, the first unit it did not reach).
    cursor: usize,
    /// unit → SSIDs last read.
    wifi: HashMap<String, Vec<String>>,
    /// unit → last status published in `health_changed`.
    published: Mutex<HashMap<String, HealthStatus>>,
    /// The (units, interval) for which "rounds take longer than the interval" was logged.
    slow_noted: Option<(usize, Duration)>,
}

enum Outcome {
    Read(Box<Read>),
    Failed(PlumeError),
    Skipped(PlumeError),
}

struct Read {
    report: HealthReport,
    network: NetworkDetails,
    /// `Some` when the SSID was read this round.
    ssids: Option<Vec<String>>,
}

async fn changed<T>(rx: &mut watch::Receiver<T>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The red report of a location Plume answered about but could not show.
fn unreadable(e: &PlumeError) -> HealthReport {
    let (code, message) = match e {
        PlumeError::CustomerNotFound { .. } => (FindingCode::CustomerNotFound, e.to_string()),
        PlumeError::LocationNotFound { .. } => (FindingCode::LocationNotFound, e.to_string()),
        PlumeError::Forbidden(_) => (FindingCode::AccessRefused, e.to_string()),
        _ => (
            FindingCode::Unreadable,
            format!("Location could not be read: {e}"),
        ),
    };
    HealthReport::from_findings(
        Source::Plume,
        vec![Finding::new(Source::Plume, Severity::Red, code, message)],
    )
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
            // A round longer than the interval is followed at once by the next: the effective
            // interval is the round's length, never a faster request rate.
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
                self.published_mut().clear();
            }
        }
        self.slow_noted = None;
        tracing::info!(configured = settings.is_some(), "plume settings applied");
        self.settings = settings;
    }

    fn published_mut(&self) -> std::sync::MutexGuard<'_, HashMap<String, HealthStatus>> {
        self.published.lock().unwrap_or_else(|e| e.into_inner())
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
        self.published_mut().retain(|k, _| ids.contains(k));
        self.targets = targets;
        self.cursor = 0;
    }

    /// Publish `health_changed` for one unit when its colour differs from the last published.
    fn publish_unit(&self, unit_id: &str, now: time::OffsetDateTime) {
        if let Some(hook) = &self.cfg.on_health {
            hook(unit_id);
            return;
        }
        let report = self.board.get(unit_id, now);
        let mut published = self.published_mut();
        let previous = published
            .get(unit_id)
            .copied()
            .unwrap_or(HealthStatus::Unknown);
        if report.status != previous {
            self.events.publish(Event::HealthChanged {
                unit_id: unit_id.to_string(),
                status: report.status,
                previous,
                reasons: report.reasons.clone(),
            });
            published.insert(unit_id.to_string(), report.status);
        }
    }

    /// Record one unit's outcome on the board (as soon as it is known).
    fn record(&self, t: &PlumeTarget, out: &Outcome, answered: bool) -> Option<PlumeError> {
        let now = self.cfg.clock.now();
        match out {
            Outcome::Read(read) => {
                let mut report = read.report.clone();
                report.wifi_networks = read
                    .ssids
                    .clone()
                    .or_else(|| self.wifi.get(&t.unit_id).cloned())
                    .unwrap_or_default();
                let mut net = read.network.clone();
                net.wifi_networks = report.wifi_networks.clone();
                self.board
                    .record_report(&t.unit_id, report, Some(Arc::new(net)), now);
                None
            }
            Outcome::Failed(e) => {
                let location_specific = !e.is_upstream_wide()
                    || (answered && (e.is_transient() || matches!(e, PlumeError::AuthFailed)));
                if location_specific {
                    tracing::info!(unit_id = %t.unit_id, error = %e, "plume: location could not be read");
                    self.board
                        .record_report(&t.unit_id, unreadable(e), None, now);
                    None
                } else {
                    self.board.record_error(&t.unit_id, e.to_string());
                    Some(e.clone())
                }
            }
            Outcome::Skipped(e) => {
                self.board.record_error(&t.unit_id, e.to_string());
                Some(e.clone())
            }
        }
    }

    async fn round(&mut self, client: &PlumeClient) {
        let round = self.round;
        self.round += 1;
        let started = Instant::now();
        let abort = AtomicBool::new(false);
        let any_ok = AtomicBool::new(false);
        let failed_units = AtomicU32::new(0);
        let last_upstream: Mutex<Option<PlumeError>> = Mutex::new(None);
        let n = self.targets.len();
        let expected = self.cfg.expected_round(n);
        self.board.round_started(expected);
        let interval = client.settings().poll_interval();
        if expected > interval && self.slow_noted != Some((n, interval)) {
            tracing::info!(
                units = n,
                interval_s = interval.as_secs(),
                round_s = expected.as_secs(),
                requests_per_second = self.cfg.requests_per_second,
                "plume: a round takes longer than the poll interval at the request budget; each unit is refreshed once per round"
            );
            self.slow_noted = Some((n, interval));
        }
        let start = if n == 0 { 0 } else { self.cursor % n };
        let mut targets = self.targets.clone();
        targets.rotate_left(start);
        let order: Vec<String> = targets.iter().map(|t| t.unit_id.clone()).collect();
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
                    let out = this
                        .poll_unit(client, &t, fetch_wifi, abort, last_upstream)
                        .await;
                    if let Some(m) = &this.cfg.metrics {
                        match &out {
                            Outcome::Read(..) => m.plume_polls_ok.inc(),
                            _ => m.plume_polls_failed.inc(),
                        }
                    }
                    match &out {
                        Outcome::Read(..) => {
                            any_ok.store(true, Ordering::Relaxed);
                            failed_units.store(0, Ordering::Relaxed);
                        }
                        Outcome::Failed(e) if !e.is_upstream_wide() => {
                            any_ok.store(true, Ordering::Relaxed);
                            failed_units.store(0, Ordering::Relaxed);
                        }
                        Outcome::Failed(e) | Outcome::Skipped(e) => {
                            *last_upstream.lock().unwrap_or_else(|e| e.into_inner()) =
                                Some(e.clone());
                            // Three units in a row failed as a whole: Plume is down (also when
                            // it went down in the middle of a round).
                            let n = failed_units.fetch_add(1, Ordering::Relaxed) + 1;
                            let down = matches!(
                                e,
                                PlumeError::RateLimited
                                    | PlumeError::OAuth { .. }
                                    | PlumeError::ApiBase(_)
                            ) || n >= 3;
                            if down {
                                abort.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                    // Record and publish a unit as soon as it is read, not at the end of the
                    // round: with many units a round takes minutes.
                    let answered = any_ok.load(Ordering::Relaxed);
                    if matches!(out, Outcome::Read(..))
                        || matches!(&out, Outcome::Failed(e) if !e.is_upstream_wide())
                    {
                        this.record(&t, &out, answered);
                        this.publish_unit(&t.unit_id, this.cfg.clock.now());
                    }
                    (t, out)
                }
            })
            .buffer_unordered(this.cfg.max_concurrency.max(1))
            .collect()
            .await;

        let answered = any_ok.load(Ordering::Relaxed);
        let aborted = abort.load(Ordering::Relaxed);
        let mut first_error: Option<PlumeError> = None;
        // Units this round settled (read, or answered about): a stopped round's successor
        // starts with the first unit, in this round's order, that it did not settle.
        let settled: std::collections::HashSet<&str> = results
            .iter()
            .filter(|(_, o)| match o {
                Outcome::Read(..) => true,
                Outcome::Failed(e) => !e.is_upstream_wide(),
                Outcome::Skipped(_) => false,
            })
            .map(|(t, _)| t.unit_id.as_str())
            .collect();
        let first_unsettled = order
            .iter()
            .position(|u| !settled.contains(u.as_str()))
            .unwrap_or(0);
        let refused_customers = results
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed(PlumeError::CustomerNotFound { .. })))
            .count();
        for (t, out) in &results {
            match out {
                Outcome::Read(read) => {
                    if let Some(s) = &read.ssids {
                        self.wifi.insert(t.unit_id.clone(), s.clone());
                    }
                }
                Outcome::Failed(e) if !e.is_upstream_wide() => {}
                _ => {
                    if let Some(e) = self.record(t, out, answered) {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        if aborted {
            self.cursor = (start + first_unsettled) % n.max(1);
        } else {
            self.cursor = 0;
            self.board.round_finished(started.elapsed());
        }

        let now = self.cfg.clock.now();
        let mut connected = if self.targets.is_empty() {
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
        // Every unit refused with 401: either every customer id is wrong, or the API does not
        // accept this SSO's tokens at all (another Plume cloud): say both.
        if refused_customers >= 2 && refused_customers == results.len() {
            connected = false;
            first_error.get_or_insert(PlumeError::ApiBase(
                "Plume refused every unit's customer id (401): check the units' Plume customer ids, or that the API base belongs to the same Plume cloud as the SSO URL".into(),
            ));
        }
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
        for t in &self.targets {
            self.publish_unit(&t.unit_id, now);
        }
    }

    async fn poll_unit(
        &self,
        client: &PlumeClient,
        t: &PlumeTarget,
        fetch_wifi: bool,
        abort: &AtomicBool,
        last_upstream: &Mutex<Option<PlumeError>>,
    ) -> Outcome {
        // The round was stopped while this unit was under way: no further request for it.
        let stopped = || {
            abort.load(Ordering::Relaxed).then(|| {
                Outcome::Skipped(
                    last_upstream
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone()
                        .unwrap_or(PlumeError::RateLimited),
                )
            })
        };
        let (c, l) = (t.customer_id.as_str(), t.location_id.as_str());
        let location = match self.retrying(abort, || client.location(c, l)).await {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(e),
        };
        if let Some(o) = stopped() {
            return o;
        }
        let nodes = match self.retrying(abort, || client.nodes(c, l)).await {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(e),
        };
        if let Some(o) = stopped() {
            return o;
        }
        let devices = match self.retrying(abort, || client.devices(c, l)).await {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(e),
        };
        let ssids = if fetch_wifi {
            match self.retrying(abort, || client.ssid(c, l)).await {
                Ok(s) => Some(s.into_iter().collect()),
                Err(e) => {
                    tracing::debug!(unit_id = %t.unit_id, error = %e, "plume: SSID not read");
                    None
                }
            }
        } else {
            None
        };
        let skipped: Vec<String> = location
            .skipped
            .iter()
            .chain(&nodes.skipped)
            .chain(&devices.skipped)
            .cloned()
            .collect();
        if !skipped.is_empty() {
            tracing::info!(unit_id = %t.unit_id, skipped = ?skipped, "plume: fields that could not be read were left out");
        }
        let report = evaluate(&location, &nodes.items, &devices.items, &skipped);
        let network = network::details(
            &location,
            &nodes.items,
            &devices.items,
            Vec::new(),
            skipped,
            self.cfg.clock.now(),
        );
        Outcome::Read(Box::new(Read {
            report,
            network,
            ssids,
        }))
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
