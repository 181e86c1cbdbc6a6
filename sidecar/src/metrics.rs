//! Prometheus counters and gauges (`GET /metrics` on the API listener).
//!
//! Plain atomics: the hot paths (portal, API) only ever do a relaxed `fetch_add`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    /// For counters whose source of truth lives elsewhere (read at scrape time).
    pub fn set_total(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A fixed-bucket latency histogram in seconds.
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
    pub fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        for (i, b) in self.bounds.iter().enumerate() {
            if secs <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    fn render(&self, name: &str, out: &mut String) {
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (i, b) in self.bounds.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

const LATENCY_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric the sidecar exports.
pub struct Metrics {
    pub api_requests: Counter,
    pub portal_requests: Counter,
    /// Redemptions by outcome label.
    pub redemptions: Mutex<Vec<(&'static str, u64)>>,
    pub controller_latency: Histogram,
    pub controller_errors: Counter,
    pub outbox_depth: Gauge,
    /// Outbox items waiting for the host to fix a configuration or permission problem.
    pub outbox_waiting: Gauge,
    /// Authorisations reconciliation found on the controller without a grant, and ended.
    pub reconcile_ended: Counter,
    pub active_grants: Gauge,
    pub plume_polls_ok: Counter,
    pub plume_polls_failed: Counter,
    pub plume_token_refreshes: Counter,
    pub rate_limit_hits: Counter,
    /// What the start-up repair did, by kind (`rolled_back`, `moved`, or a grant end reason).
    pub startup_repairs: Mutex<Vec<(&'static str, u64)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            api_requests: Counter::default(),
            portal_requests: Counter::default(),
            redemptions: Mutex::new(Vec::new()),
            controller_latency: Histogram::new(LATENCY_BOUNDS),
            controller_errors: Counter::default(),
            outbox_depth: Gauge::default(),
            outbox_waiting: Gauge::default(),
            reconcile_ended: Counter::default(),
            active_grants: Gauge::default(),
            plume_polls_ok: Counter::default(),
            plume_polls_failed: Counter::default(),
            plume_token_refreshes: Counter::default(),
            rate_limit_hits: Counter::default(),
            startup_repairs: Mutex::new(Vec::new()),
        }
    }
}

impl Metrics {
    pub fn redemption(&self, outcome: &'static str) {
        let mut r = self.redemptions.lock().unwrap_or_else(|p| p.into_inner());
        match r.iter_mut().find(|(o, _)| *o == outcome) {
            Some((_, n)) => *n += 1,
            None => r.push((outcome, 1)),
        }
    }

    /// Count `n` start-up repairs of kind `what`.
    pub fn startup_repair(&self, what: &'static str, n: u64) {
        let mut r = self
            .startup_repairs
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match r.iter_mut().find(|(w, _)| *w == what) {
            Some((_, c)) => *c += n,
            None => r.push((what, n)),
        }
    }

    pub fn redemptions_of(&self, outcome: &str) -> u64 {
        self.redemptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(o, _)| *o == outcome)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        counter(
            &mut out,
            "rental_wifi_api_requests_total",
            "API requests served",
            self.api_requests.get(),
        );
        counter(
            &mut out,
            "rental_wifi_portal_requests_total",
            "Portal requests served",
            self.portal_requests.get(),
        );
        let _ = writeln!(out, "# HELP rental_wifi_redemptions_total Portal redemptions by outcome\n# TYPE rental_wifi_redemptions_total counter");
        for (outcome, n) in self
            .redemptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "rental_wifi_redemptions_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        self.controller_latency
            .render("rental_wifi_controller_call_seconds", &mut out);
        counter(
            &mut out,
            "rental_wifi_controller_errors_total",
            "Controller calls that failed",
            self.controller_errors.get(),
        );
        gauge(
            &mut out,
            "rental_wifi_outbox_depth",
            "Controller operations waiting in the outbox",
            self.outbox_depth.get(),
        );
        gauge(
            &mut out,
            "rental_wifi_outbox_waiting",
            "Controller operations waiting for the host to fix a configuration or permission problem",
            self.outbox_waiting.get(),
        );
        counter(
            &mut out,
            "rental_wifi_reconcile_ended_total",
            "Authorisations the controller held without a grant, ended by reconciliation",
            self.reconcile_ended.get(),
        );
        gauge(
            &mut out,
            "rental_wifi_active_grants",
            "Devices currently let in",
            self.active_grants.get(),
        );
        counter(
            &mut out,
            "rental_wifi_plume_polls_ok_total",
            "Successful Plume location polls",
            self.plume_polls_ok.get(),
        );
        counter(
            &mut out,
            "rental_wifi_plume_polls_failed_total",
            "Failed Plume location polls",
            self.plume_polls_failed.get(),
        );
        counter(
            &mut out,
            "rental_wifi_plume_token_refreshes_total",
            "Plume OAuth tokens minted",
            self.plume_token_refreshes.get(),
        );
        counter(
            &mut out,
            "rental_wifi_rate_limit_hits_total",
            "Portal attempts refused by the brute-force limiter",
            self.rate_limit_hits.get(),
        );
        let _ = writeln!(out, "# HELP rental_wifi_startup_repairs_total Grants the start-up repair brought back in line, by kind (rolled_back: unfinished redemptions; moved: ends moved to their voucher's; else the end reason of grants it ended)\n# TYPE rental_wifi_startup_repairs_total counter");
        for (what, n) in self
            .startup_repairs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "rental_wifi_startup_repairs_total{{what=\"{what}\"}} {n}"
            );
        }
        out
    }
}
