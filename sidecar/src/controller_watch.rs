//! Health from the controller, in the background (issue 15 item 7, DESIGN §6): each round reads
//! every site that has a watched unit once — its devices and the WAN ports of its connected
//! gateways (`OmadaClient::site_health`) — and turns that read into each unit's report with
//! the pure rules of [`crate::controller_health`]. The reports wait on a [`ControllerBoard`]
//! beside Plume's; [`crate::health_view`] makes the unit's colour the worse of the two.
//!
//! Which units are watched: those that name access points (`ap_macs`) or SSIDs — a unit
//! naming neither gives the controller nothing to judge its Wi-Fi by, and is left to Plume.
//! Which APs serve a unit's SSIDs (`OmadaClient::ssid_aps`, one request per AP) is kept per
//! site for [`SSID_APS_TTL`]: it changes only when the host re-plans the Wi-Fi.
//!
//! **Cost.** The Open API is the only way to read devices, and it has a request budget
//! (`openapi_requests_per_second`; TP-Link's cloud allows 10/s). Guest logins in Open API mode
//! share it, so the watcher keeps to half of it — after each site it sleeps for the requests it
//! just made at that pace — and to [`DEFAULT_PACE`] on a controller without a budget of its own.
//! A round that needs longer than the interval simply makes the interval longer (staleness is
//! judged against the measured round, as for Plume). Between rounds it sleeps until the next
//! one is due, woken early only by a unit or controller settings change (DESIGN §10 "Idle
//! cost"): one site costs about 2 requests a round (devices, one WAN status per gateway).
//!
//! **Failures.** An unreachable controller keeps the last reports, which go stale (`unknown`
//! after 3 rounds), never red; a site the Open API app may not read, or that does not exist,
//! says so at once (`access_refused`, a repair for the host).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::controller::Controller;
use crate::controller_health::{self, UnitAps};
use crate::net::Mac;
use crate::omada::{OmadaClient, OmadaError, SiteDevices, SsidAps};
use crate::unit_health::{FindingCode, HealthReport, Source};
use crate::vouchers::model::Unit;

/// Missed rounds after which a report is stale.
pub(crate) const STALE_AFTER_ROUNDS: u32 = 3;
/// How long the APs of each SSID are kept before they are read again.
pub(crate) const SSID_APS_TTL: Duration = Duration::from_secs(30 * 60);
/// Requests per second the watcher keeps to when the controller has no budget of its own.
pub(crate) const DEFAULT_PACE: f64 = 5.0;

/// A unit the controller reports on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WatchTarget {
    pub unit_id: String,
    pub site: String,
    pub ap_macs: Vec<Mac>,
    pub ssids: Vec<String>,
}

impl WatchTarget {
    /// `None` for a unit that names neither APs nor SSIDs.
    pub(crate) fn of(u: &Unit) -> Option<WatchTarget> {
        (!u.ap_macs.is_empty() || !u.ssids.is_empty()).then(|| WatchTarget {
            unit_id: u.unit_id.clone(),
            site: u.omada_site.clone(),
            ap_macs: u.ap_macs.clone(),
            ssids: u.ssids.clone(),
        })
    }

    fn needs_ssid_aps(&self) -> bool {
        self.ap_macs.is_empty() && !self.ssids.is_empty()
    }
}

/// The site read a unit's report came from, and the unit's APs in it (for `get_network`).
#[derive(Clone, Debug)]
pub(crate) struct UnitDevices {
    pub site: Arc<SiteDevices>,
    /// The unit's access points: its `ap_macs`, or those serving its SSIDs.
    pub aps: Vec<Mac>,
}

struct Entry {
    report: Option<HealthReport>,
    devices: Option<UnitDevices>,
    since: OffsetDateTime,
    last_error: Option<String>,
}

impl Entry {
    fn new(since: OffsetDateTime) -> Entry {
        Entry {
            report: None,
            devices: None,
            since,
            last_error: None,
        }
    }
}

#[derive(Default)]
struct State {
    /// Why the controller cannot report at all (not configured, no Open API credentials);
    /// `None` when it can.
    unavailable: Option<HealthReport>,
    interval: Option<Duration>,
    round: Option<Duration>,
    units: HashMap<String, Entry>,
}

impl State {
    fn stale_after(&self) -> Duration {
        let interval = self.interval.unwrap_or(Duration::from_secs(60));
        interval.max(self.round.unwrap_or_default()) * STALE_AFTER_ROUNDS
    }
}

/// The latest controller report per unit. Cheap to clone; clones share the data.
#[derive(Clone, Default)]
pub(crate) struct ControllerBoard {
    inner: Arc<RwLock<State>>,
}

impl ControllerBoard {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Does the controller report on this unit (it can read devices, and the unit names APs
    /// or SSIDs)?
    pub(crate) fn applies(&self, unit_id: &str) -> bool {
        let s = self.read();
        s.unavailable.is_none() && s.units.contains_key(unit_id)
    }

    /// The controller's health of `unit_id` as of `now`: stale after 3 rounds without a read,
    /// never green on old data; or why the controller says nothing about it.
    pub(crate) fn get(&self, unit_id: &str, now: OffsetDateTime) -> HealthReport {
        let s = self.read();
        if let Some(r) = &s.unavailable {
            return r.clone();
        }
        let Some(entry) = s.units.get(unit_id) else {
            return HealthReport::unknown(
                Source::Controller,
                FindingCode::NoLocation,
                "The unit names no access point (ap_macs) and no SSID, so the controller cannot tell how its Wi-Fi is",
            );
        };
        let stale_after = s.stale_after();
        let Some(report) = &entry.report else {
            return HealthReport::not_yet(
                Source::Controller,
                "the controller",
                "the first read of the controller",
                entry.last_error.as_deref(),
                (now - entry.since).unsigned_abs(),
                stale_after,
                false,
            );
        };
        report.aged(
            Source::Controller,
            "the controller",
            entry.last_error.as_deref(),
            now,
            stale_after,
        )
    }

    /// The site read behind the unit's last report (`None` before the first, or when the
    /// controller does not report on it).
    pub(crate) fn devices(&self, unit_id: &str) -> Option<UnitDevices> {
        let s = self.read();
        if s.unavailable.is_some() {
            return None;
        }
        s.units.get(unit_id)?.devices.clone()
    }

    /// Has the controller been read for this unit since it was last reset?
    pub(crate) fn has_read(&self, unit_id: &str) -> bool {
        let s = self.read();
        s.unavailable.is_none()
            && s.units
                .get(unit_id)
                .is_some_and(|e| e.report.is_some() && e.devices.is_some())
    }

    // ---- the watcher's side ----

    fn set_unavailable(&self, why: Option<HealthReport>, interval: Duration) {
        let mut s = self.write();
        if why.is_some() {
            // Nothing read under other settings may come back when they return.
            for e in s.units.values_mut() {
                e.report = None;
                e.devices = None;
                e.last_error = None;
            }
        }
        s.unavailable = why;
        s.interval = Some(interval);
    }

    fn retain(&self, targets: &[WatchTarget], now: OffsetDateTime) {
        let mut s = self.write();
        s.units
            .retain(|id, _| targets.iter().any(|t| &t.unit_id == id));
        for t in targets {
            s.units
                .entry(t.unit_id.clone())
                .or_insert_with(|| Entry::new(now));
        }
    }

    fn reset(&self, unit_id: &str, now: OffsetDateTime) {
        self.write()
            .units
            .insert(unit_id.to_owned(), Entry::new(now));
    }

    fn record(
        &self,
        unit_id: &str,
        mut report: HealthReport,
        devices: Option<UnitDevices>,
        now: OffsetDateTime,
    ) {
        report.updated_at = Some(now);
        report.stale = false;
        report.refresh();
        if let Some(e) = self.write().units.get_mut(unit_id) {
            e.report = Some(report);
            if devices.is_some() {
                e.devices = devices;
            }
            e.last_error = None;
        }
    }

    fn record_error(&self, unit_id: &str, error: String) {
        if let Some(e) = self.write().units.get_mut(unit_id) {
            e.last_error = Some(error);
        }
    }

    fn round_finished(&self, took: Duration) {
        self.write().round = Some(took);
    }
}

/// Called after a unit's controller report changed (the health view publishes
/// `health_changed` when the unit's combined colour did).
pub(crate) type OnHealth = crate::plume::HealthHook;

/// The watcher's handle: its board, the units to watch, and a way to wake it.
pub(crate) struct ControllerWatch {
    pub(crate) board: ControllerBoard,
    targets_tx: watch::Sender<Vec<WatchTarget>>,
    wake: Arc<Notify>,
    interval: Duration,
}

impl ControllerWatch {
    pub(crate) fn new(interval: Duration) -> ControllerWatch {
        let (targets_tx, _) = watch::channel(Vec::new());
        ControllerWatch {
            board: ControllerBoard::default(),
            targets_tx,
            wake: Arc::new(Notify::new()),
            interval,
        }
    }

    /// Units changed: watch exactly those that name APs or SSIDs.
    pub(crate) fn set_units(&self, units: &[Unit]) {
        let targets: Vec<WatchTarget> = units.iter().filter_map(WatchTarget::of).collect();
        self.targets_tx.send_if_modified(|cur| {
            if *cur == targets {
                false
            } else {
                *cur = targets;
                true
            }
        });
    }

    /// The controller settings changed: read again now (cached SSID → AP maps are dropped).
    pub(crate) fn settings_changed(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn spawn(
        &self,
        controller: Arc<Controller>,
        clock: Clock,
        on_health: OnHealth,
        mut stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let mut run = Run {
            board: self.board.clone(),
            controller,
            clock,
            on_health,
            interval: self.interval,
            targets: Vec::new(),
            ssid_aps: HashMap::new(),
        };
        let mut targets_rx = self.targets_tx.subscribe();
        let wake = self.wake.clone();
        tokio::spawn(async move {
            let mut next_round = Instant::now();
            loop {
                let targets = targets_rx.borrow_and_update().clone();
                if targets != run.targets {
                    run.apply_targets(targets);
                    next_round = Instant::now();
                }
                tokio::select! {
                    _ = stop.wait_for(|v| *v) => break,
                    _ = changed(&mut targets_rx) => continue,
                    _ = wake.notified() => {
                        run.ssid_aps.clear();
                        next_round = Instant::now();
                        continue;
                    }
                    _ = tokio::time::sleep_until(next_round) => {}
                }
                let started = Instant::now();
                tokio::select! {
                    _ = stop.wait_for(|v| *v) => break,
                    _ = run.round() => {}
                }
                next_round = started + run.interval.max(started.elapsed());
            }
            tracing::debug!("controller health watcher stopped");
        })
    }
}

/// The next change; never, once the sender is gone (no busy loop on a closed channel).
async fn changed<T>(rx: &mut watch::Receiver<T>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

struct Run {
    board: ControllerBoard,
    controller: Arc<Controller>,
    clock: Clock,
    on_health: OnHealth,
    interval: Duration,
    targets: Vec<WatchTarget>,
    /// Site → (when read, which APs carry which SSID).
    ssid_aps: HashMap<String, (Instant, SsidAps)>,
}

impl Run {
    fn apply_targets(&mut self, targets: Vec<WatchTarget>) {
        let now = self.clock.now();
        for t in &targets {
            if self
                .targets
                .iter()
                .any(|o| o.unit_id == t.unit_id && o != t)
            {
                // Another site or other APs: what was read before is about something else.
                self.board.reset(&t.unit_id, now);
            }
        }
        self.board.retain(&targets, now);
        // A unit's SSIDs may have changed: read which APs carry them again.
        self.ssid_aps.clear();
        self.targets = targets;
    }

    fn notify(&self, units: &[&WatchTarget]) {
        for u in units {
            (self.on_health)(&u.unit_id);
        }
    }

    /// Requests per second the watcher may use.
    fn pace(&self) -> f64 {
        match self
            .controller
            .settings_redacted()
            .map(|s| s.openapi_rate())
        {
            Some(rate) if rate > 0 => f64::from(rate) / 2.0,
            _ => DEFAULT_PACE,
        }
    }

    async fn round(&mut self) {
        let Some(client) = self.controller.client() else {
            self.unavailable(Some(HealthReport::unknown(
                Source::Controller,
                FindingCode::NotConfigured,
                "The Omada controller is not configured",
            )));
            return;
        };
        if let Some(why) = controller_health::not_available(&client.capabilities()) {
            self.unavailable(Some(why));
            return;
        }
        self.unavailable(None);
        let pace = self.pace();
        let targets = self.targets.clone();
        let mut by_site: BTreeMap<&str, Vec<&WatchTarget>> = BTreeMap::new();
        for t in &targets {
            by_site.entry(t.site.as_str()).or_default().push(t);
        }
        let started = Instant::now();
        for (site, units) in by_site {
            let requests = self.read_site(&client, site, &units).await;
            self.notify(&units);
            // Keep to the pace: the requests just made, spread at `pace` per second.
            tokio::time::sleep(Duration::from_secs_f64(requests / pace)).await;
        }
        self.board.round_finished(started.elapsed());
    }

    fn unavailable(&self, why: Option<HealthReport>) {
        let was = self.board.read().unavailable.is_some();
        let now = why.is_some();
        self.board.set_unavailable(why, self.interval);
        if was != now {
            self.notify(&self.targets.iter().collect::<Vec<_>>());
        }
    }

    /// One site: read it, record each unit's report. Returns the requests it cost (about).
    async fn read_site(&mut self, client: &OmadaClient, site: &str, units: &[&WatchTarget]) -> f64 {
        let now = self.clock.now();
        let read = match client.site_health(site).await {
            Ok(read) => Arc::new(read),
            Err(e) if e.is_transient() => {
                let msg = format!("The controller could not be read: {e}");
                for u in units {
                    self.board.record_error(&u.unit_id, msg.clone());
                }
                return 1.0;
            }
            Err(e) => {
                for u in units {
                    self.board.record(
                        &u.unit_id,
                        controller_health::read_failed(site, &e),
                        None,
                        now,
                    );
                }
                return 1.0;
            }
        };
        let mut requests = 1.0 + (read.devices.len() / 100) as f64 + read.wans.len() as f64;
        let mut ssid_aps: Option<Result<SsidAps, OmadaError>> = None;
        if units.iter().any(|u| u.needs_ssid_aps()) {
            let cached = self
                .ssid_aps
                .get(site)
                .filter(|(at, _)| at.elapsed() < SSID_APS_TTL)
                .map(|(_, m)| m.clone());
            ssid_aps = Some(match cached {
                Some(m) => Ok(m),
                None => {
                    let aps = read
                        .devices
                        .iter()
                        .filter(|d| d.kind == crate::omada::DeviceKind::Ap)
                        .count();
                    requests += 3.0 + aps as f64;
                    let r = client.ssid_aps(site).await;
                    if let Ok(m) = &r {
                        self.ssid_aps
                            .insert(site.to_owned(), (Instant::now(), m.clone()));
                    }
                    r
                }
            });
        }
        for u in units {
            let (report, aps) = match (&ssid_aps, u.needs_ssid_aps()) {
                (Some(Err(e)), true) => (
                    HealthReport::unknown(
                        Source::Controller,
                        FindingCode::ReadFailed,
                        format!(
                            "Which access points broadcast {} could not be read: {e}",
                            quoted(&u.ssids)
                        ),
                    ),
                    Vec::new(),
                ),
                (m, _) => {
                    let map = m.as_ref().and_then(|r| r.as_ref().ok());
                    let aps = UnitAps::for_unit(&u.ap_macs, &u.ssids, map);
                    let list = match &aps {
                        UnitAps::Configured(l) => l.clone(),
                        UnitAps::ServingSsids { aps, .. } => aps.clone(),
                        UnitAps::Unspecified => Vec::new(),
                    };
                    (controller_health::report(&read, &aps, &u.ssids), list)
                }
            };
            self.board.record(
                &u.unit_id,
                report,
                Some(UnitDevices {
                    site: read.clone(),
                    aps,
                }),
                now,
            );
        }
        requests
    }
}

fn quoted(ssids: &[String]) -> String {
    ssids
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_health::HealthStatus;

    fn at(t0: OffsetDateTime, s: i64) -> OffsetDateTime {
        t0 + time::Duration::seconds(s)
    }

    fn target(id: &str) -> WatchTarget {
        WatchTarget {
            unit_id: id.into(),
            site: "Default".into(),
            ap_macs: vec!["B0-95-75-15-93-44".parse().unwrap()],
            ssids: vec![],
        }
    }

    #[test]
    fn controller_board_goes_stale_after_three_rounds_and_never_stays_green() {
        let board = ControllerBoard::default();
        let t0 = OffsetDateTime::now_utc();
        board.set_unavailable(None, Duration::from_secs(60));
        assert!(!board.applies("u"));
        assert_eq!(board.get("u", t0).status, HealthStatus::Unknown);
        board.retain(&[target("u")], t0);
        assert!(board.applies("u"));
        let r = board.get("u", t0);
        assert_eq!(
            (r.status, r.reason_details[0].code),
            (HealthStatus::Unknown, FindingCode::Waiting)
        );
        board.record(
            "u",
            HealthReport::from_findings(Source::Controller, vec![]),
            None,
            t0,
        );
        assert_eq!(board.get("u", at(t0, 180)).status, HealthStatus::Green);
        board.record_error("u", "The controller could not be read: timed out".into());
        let r = board.get("u", at(t0, 181));
        assert!(r.stale);
        assert_eq!(r.status, HealthStatus::Unknown);
        assert_eq!(
            r.reasons,
            vec![
                "No data from the controller for 4 minutes",
                "The controller could not be read: timed out"
            ]
        );
        // A long round stretches the threshold.
        board.round_finished(Duration::from_secs(100));
        assert_eq!(board.get("u", at(t0, 299)).status, HealthStatus::Green);
    }

    #[test]
    fn unavailable_says_why_and_forgets_old_reads() {
        let board = ControllerBoard::default();
        let t0 = OffsetDateTime::now_utc();
        board.retain(&[target("u")], t0);
        board.record(
            "u",
            HealthReport::from_findings(Source::Controller, vec![]),
            None,
            t0,
        );
        let why = HealthReport::unknown(Source::Controller, FindingCode::NotConfigured, "no");
        board.set_unavailable(Some(why), Duration::from_secs(60));
        assert!(!board.applies("u"));
        assert_eq!(board.get("u", t0).reasons, vec!["no"]);
        board.set_unavailable(None, Duration::from_secs(60));
        assert_eq!(
            board.get("u", t0).reason_details[0].code,
            FindingCode::Waiting,
            "nothing from before comes back"
        );
    }

    #[test]
    fn units_without_aps_or_ssids_are_not_watched() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let mut u = Unit {
            unit_id: "u".into(),
            name: "U".into(),
            omada_site: "Beach".into(),
            ssids: vec![],
            vlans: vec![20],
            ap_macs: vec![],
            plume_customer_id: None,
            plume_location_id: None,
            checkin_grace_minutes: 0,
            checkout_grace_minutes: 0,
            terms_url: None,
            time_zone: None,
            created_at: t,
            updated_at: t,
            omada_site_id: None,
            guest_checks: Default::default(),
            stay: Default::default(),
            access: Default::default(),
            guest_page: Default::default(),
        };
        assert!(WatchTarget::of(&u).is_none());
        u.ssids = vec!["Guest".into()];
        let w = WatchTarget::of(&u).unwrap();
        assert!(w.needs_ssid_aps());
        assert_eq!(w.site, "Beach");
        u.ap_macs = vec!["B0-95-75-15-93-44".parse().unwrap()];
        assert!(!WatchTarget::of(&u).unwrap().needs_ssid_aps());
    }
}
