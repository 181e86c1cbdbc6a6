//! A unit's network health as the host sees it, from one or more **sources** (DESIGN §6):
//! Plume today, the Omada controller next. Each source turns what it read into [`Finding`]s
//! (a severity, a code, the pod or device concerned, a sentence); [`combine`] makes one
//! [`HealthReport`] of them, the colour being the worse of the sources.
//!
//! Why findings rather than strings: `reasons` stays the list of human sentences Home
//! Assistant shows (CONTRACTS §6), but automations and repair issues need to know *where* a
//! reason comes from and *what kind* it is (a pod down, a wrong customer id, an alert whose
//! severity Plume does not document). `reason_details` carries that, in the same order.
//!
//! Severity `info` is a reason that does not colour the unit: a service tier, an alert type
//! without documented severity, fields Plume sent that could not be read. A green unit may
//! therefore have reasons.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Ordered from best to worst so that `max` picks the worst; `Unknown` is handled apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Unknown,
    Green,
    Yellow,
    Orange,
    Red,
}

impl HealthStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            HealthStatus::Unknown => "unknown",
            HealthStatus::Green => "green",
            HealthStatus::Yellow => "yellow",
            HealthStatus::Orange => "orange",
            HealthStatus::Red => "red",
        }
    }
}

/// Where a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Plume,
    Controller,
}

impl Source {
    /// The prefix of a reason when more than one source reports on a unit.
    pub fn label(&self) -> &'static str {
        match self {
            Source::Plume => "Plume",
            Source::Controller => "Controller",
        }
    }
}

/// How much a finding weighs. `Info` is shown but never colours the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Yellow,
    Orange,
    Red,
    /// Nothing is known (no data yet, data too old): the source's colour is `unknown`.
    Unknown,
}

impl Severity {
    /// The colour this finding forces on its source, if any.
    fn colour(self) -> Option<HealthStatus> {
        match self {
            Severity::Info | Severity::Unknown => None,
            Severity::Yellow => Some(HealthStatus::Yellow),
            Severity::Orange => Some(HealthStatus::Orange),
            Severity::Red => Some(HealthStatus::Red),
        }
    }

    /// Sort key: worst first in `reasons`; `unknown` (stale, waiting) leads, as it says the
    /// rest is old news.
    fn rank(self) -> u8 {
        match self {
            Severity::Unknown => 5,
            Severity::Red => 4,
            Severity::Orange => 3,
            Severity::Yellow => 2,
            Severity::Info => 1,
        }
    }
}

/// What a finding is about. Serialized in `snake_case` (`pod_disconnected`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingCode {
    // The source as a whole.
    /// The source is not configured (Plume settings missing).
    NotConfigured,
    /// The unit has no location (ids) at this source.
    NoLocation,
    /// Tracked, not read yet.
    Waiting,
    /// No successful read for too long; the older findings follow.
    Stale,
    /// Why the last read failed (network, rate limit, OAuth), while older data is kept.
    ReadFailed,
    // The unit's ids at the source.
    /// Plume answered 401 for this customer with a token that works: wrong or foreign id.
    CustomerNotFound,
    /// Plume has no such location for the customer (404).
    LocationNotFound,
    /// Plume refused this location to this partner (403 with an API error body); the
    /// controller's Open API app may not read the site's devices (`-1005`/`-1505`).
    AccessRefused,
    /// The location could not be read for another reason (after retries).
    Unreadable,
    // Location.
    LocationOffline,
    NetworkStatusUnknown,
    ServiceLevelNoService,
    ServiceTier,
    ServiceLevelUnknown,
    // Pods.
    NoPods,
    NoPodConnected,
    PodDisconnected,
    PodHealthPoor,
    PodHealthUnknown,
    PodAlert,
    // Devices.
    DeviceHealthPoor,
    DeviceHealthUnknown,
    // Parsing.
    FieldsSkipped,
    // Controller (Omada): the unit's access points and the site's gateway.
    /// A MAC in the unit's `ap_macs` is not a device of the site (a typo, or an AP that was
    /// forgotten in the controller).
    ApUnknown,
    /// The AP waits for adoption, is being adopted, failed adoption or is managed by another
    /// controller.
    ApNotAdopted,
    /// The AP is disconnected from the controller, or its heartbeat is missed.
    ApDisconnected,
    /// A mesh AP that lost its uplink (`status` 4).
    ApIsolated,
    /// The AP (or gateway) is provisioning, configuring, upgrading or rebooting.
    ApBusy,
    /// The AP reports a status code the sidecar does not know (named, never taken as green).
    ApStatusUnknown,
    /// None of the unit's APs is connected.
    NoApConnected,
    /// No AP of the site carries the unit's SSIDs (and the unit names no `ap_macs`).
    NoApForSsids,
    /// The gateway is not connected to the controller: its WAN state is not known.
    GatewayDisconnected,
    /// Every WAN port's link is down.
    WanDown,
    /// A WAN link is up but no WAN port reaches the internet.
    WanNoInternet,
    /// One WAN port is down while another carries the traffic.
    WanPortDown,
    /// The site has no Omada gateway: the internet link is not watched by the controller.
    NoGateway,
    /// The gateway's WAN status could not be read.
    WanUnreadable,
}

impl FindingCode {
    /// Codes that mean "the host typed a wrong id" (a repair, not an outage).
    pub fn is_misconfiguration(&self) -> bool {
        matches!(
            self,
            FindingCode::CustomerNotFound
                | FindingCode::LocationNotFound
                | FindingCode::AccessRefused
                | FindingCode::ApUnknown
        )
    }
}

/// One reason, structured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub source: Source,
    pub severity: Severity,
    pub code: FindingCode,
    /// The pod, device or id concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The sentence shown in `reasons`.
    pub message: String,
}

impl Finding {
    pub fn new(
        source: Source,
        severity: Severity,
        code: FindingCode,
        message: impl Into<String>,
    ) -> Self {
        Self {
            source,
            severity,
            code,
            subject: None,
            message: message.into(),
        }
    }

    pub fn about(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
}

/// One source's state for a unit, in `sources` of the health JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceState {
    pub status: HealthStatus,
    pub stale: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

/// What `GET /api/v1/units/{id}/health` shows (without `unit_id`, which the caller adds).
/// Grows, never breaks (CONTRACTS §6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub status: HealthStatus,
    /// Human sentences, worst first (the `message` of each finding).
    pub reasons: Vec<String>,
    /// The same reasons, structured: `source`, `severity`, `code`, `subject`, `message`.
    pub reason_details: Vec<Finding>,
    /// A source says the unit's ids are wrong (the host must fix the unit's settings).
    pub misconfigured: bool,
    pub online: bool,
    pub pods_connected: u32,
    pub pods_total: u32,
    pub devices_connected: u32,
    /// SSIDs only, never a key.
    pub wifi_networks: Vec<String>,
    pub service_level: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
    pub stale: bool,
    /// Per source (`plume`, later `controller`): its own colour, staleness and age.
    pub sources: BTreeMap<Source, SourceState>,
}

impl HealthReport {
    /// A report of one source from its findings: colour = worst finding, `green` when none
    /// colours it, `unknown` when one says nothing is known.
    pub fn from_findings(source: Source, mut findings: Vec<Finding>) -> Self {
        sort_findings(&mut findings);
        let status = status_of(&findings);
        let mut r = HealthReport {
            status,
            reasons: Vec::new(),
            misconfigured: findings.iter().any(|f| f.code.is_misconfiguration()),
            reason_details: findings,
            online: false,
            pods_connected: 0,
            pods_total: 0,
            devices_connected: 0,
            wifi_networks: Vec::new(),
            service_level: None,
            updated_at: None,
            stale: false,
            sources: BTreeMap::new(),
        };
        r.sources.insert(
            source,
            SourceState {
                status,
                stale: false,
                updated_at: None,
            },
        );
        r.reasons = r.reason_details.iter().map(|f| f.message.clone()).collect();
        r
    }

    /// A report that only says why nothing better is known.
    pub fn unknown(source: Source, code: FindingCode, reason: impl Into<String>) -> Self {
        Self::from_findings(
            source,
            vec![Finding::new(source, Severity::Unknown, code, reason)],
        )
    }

    /// No report yet from a source that has tracked the unit for `waited`: "Waiting for
    /// {waiting}" until `stale_after`, then stale — with a `Stale` finding ("No data from
    /// {from} for N minutes") unless `stale_needs_error` and the source has not failed — and
    /// the source's last read error when there is one. What the Plume board and the
    /// controller board both answer before their first read of a unit.
    #[allow(clippy::too_many_arguments)]
    pub fn not_yet(
        source: Source,
        from: &str,
        waiting: &str,
        last_error: Option<&str>,
        waited: std::time::Duration,
        stale_after: std::time::Duration,
        stale_needs_error: bool,
    ) -> HealthReport {
        let late = waited > stale_after;
        let stale = late && (!stale_needs_error || last_error.is_some());
        let mut r = if stale {
            HealthReport::unknown(
                source,
                FindingCode::Stale,
                format!("No data from {from} for {}", minutes(waited)),
            )
        } else {
            HealthReport::unknown(
                source,
                FindingCode::Waiting,
                format!("Waiting for {waiting}"),
            )
        };
        r.stale = late;
        match last_error {
            Some(e) => r.push_findings([Finding::new(
                source,
                Severity::Unknown,
                FindingCode::ReadFailed,
                e.to_owned(),
            )]),
            None => r.refresh(),
        }
        r
    }

    /// The report as it reads at `now`: older than `stale_after` it is marked stale, with a
    /// `Stale` finding ("No data from {from} for N minutes") and the source's last read error
    /// when there is one. What the Plume board and the controller board both answer.
    pub fn aged(
        &self,
        source: Source,
        from: &str,
        last_error: Option<&str>,
        now: OffsetDateTime,
        stale_after: std::time::Duration,
    ) -> HealthReport {
        let mut r = self.clone();
        let age = self
            .updated_at
            .map(|t| (now - t).unsigned_abs())
            .unwrap_or(std::time::Duration::MAX);
        if age > stale_after {
            r.stale = true;
            let unknown =
                |code, message: String| Finding::new(source, Severity::Unknown, code, message);
            let mut extra = vec![unknown(
                FindingCode::Stale,
                format!("No data from {from} for {}", minutes(age)),
            )];
            if let Some(e) = last_error {
                extra.push(unknown(FindingCode::ReadFailed, e.to_owned()));
            }
            r.push_findings(extra);
        }
        r
    }

    /// Add findings and recompute the colour, the reasons and `misconfigured`.
    pub fn push_findings(&mut self, extra: impl IntoIterator<Item = Finding>) {
        self.reason_details.extend(extra);
        self.refresh();
    }

    /// Recompute `status`, `reasons`, `misconfigured` and the sources' colours from
    /// `reason_details` (single-source reports).
    pub fn refresh(&mut self) {
        sort_findings(&mut self.reason_details);
        self.status = status_of(&self.reason_details);
        self.reasons = self
            .reason_details
            .iter()
            .map(|f| f.message.clone())
            .collect();
        self.misconfigured = self
            .reason_details
            .iter()
            .any(|f| f.code.is_misconfiguration());
        let (status, stale, updated_at) = (self.status, self.stale, self.updated_at);
        for s in self.sources.values_mut() {
            *s = SourceState {
                status,
                stale,
                updated_at,
            };
        }
    }
}

fn sort_findings(f: &mut [Finding]) {
    // Stable: equal weights keep their discovery order.
    f.sort_by_key(|f| std::cmp::Reverse(f.severity.rank()));
}

fn status_of(findings: &[Finding]) -> HealthStatus {
    if findings.iter().any(|f| f.severity == Severity::Unknown) {
        return HealthStatus::Unknown;
    }
    findings
        .iter()
        .filter_map(|f| f.severity.colour())
        .max()
        .unwrap_or(HealthStatus::Green)
}

/// One report from the reports of several sources (each built by its own source). Rules:
/// - the colour is the worst colour a source *knows*;
/// - a source that knows nothing (`unknown`: stale, waiting) keeps the unit from being green —
///   "never green on old data" — but cannot hide a known problem of another source;
/// - no source at all is `unknown`;
/// - with more than one source, each reason starts with its source ("Plume: …").
///
/// Counts, SSIDs and the service level come from Plume when it reports, else from the first
/// source. `online` holds when every source that knows says so; `stale` when every source is.
pub fn combine(parts: &[HealthReport]) -> HealthReport {
    let Some(first) = parts.first() else {
        return HealthReport::from_findings(Source::Plume, Vec::new()).into_unknown_empty();
    };
    if parts.len() == 1 {
        return first.clone();
    }
    let known: Vec<HealthStatus> = parts
        .iter()
        .map(|p| p.status)
        .filter(|s| *s != HealthStatus::Unknown)
        .collect();
    let worst_known = known.iter().copied().max();
    let any_unknown = parts.iter().any(|p| p.status == HealthStatus::Unknown);
    let status = match worst_known {
        Some(w) if w != HealthStatus::Green => w,
        Some(_) if any_unknown => HealthStatus::Unknown,
        Some(w) => w,
        None => HealthStatus::Unknown,
    };
    let primary = parts
        .iter()
        .find(|p| p.sources.contains_key(&Source::Plume))
        .unwrap_or(first);
    let mut details: Vec<Finding> = parts
        .iter()
        .flat_map(|p| p.reason_details.iter().cloned())
        .collect();
    sort_findings(&mut details);
    let reasons = details
        .iter()
        .map(|f| format!("{}: {}", f.source.label(), f.message))
        .collect();
    let knowing: Vec<&HealthReport> = parts
        .iter()
        .filter(|p| p.status != HealthStatus::Unknown)
        .collect();
    HealthReport {
        status,
        reasons,
        misconfigured: details.iter().any(|f| f.code.is_misconfiguration()),
        reason_details: details,
        online: !knowing.is_empty() && knowing.iter().all(|p| p.online),
        pods_connected: primary.pods_connected,
        pods_total: primary.pods_total,
        devices_connected: primary.devices_connected,
        wifi_networks: primary.wifi_networks.clone(),
        service_level: primary.service_level.clone(),
        updated_at: parts.iter().filter_map(|p| p.updated_at).max(),
        stale: parts.iter().all(|p| p.stale),
        sources: parts
            .iter()
            .flat_map(|p| p.sources.iter().map(|(k, v)| (*k, v.clone())))
            .collect(),
    }
}

impl HealthReport {
    fn into_unknown_empty(mut self) -> Self {
        self.status = HealthStatus::Unknown;
        self.sources.clear();
        self
    }
}

/// "1 minute", "N minutes" (rounded up, at least one): how long a source has been silent.
pub(crate) fn minutes(d: std::time::Duration) -> String {
    let n = d.as_secs().div_ceil(60).max(1);
    if n == 1 {
        "1 minute".into()
    } else {
        format!("{n} minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(source: Source, findings: Vec<(Severity, FindingCode, &str)>) -> HealthReport {
        let mut r = HealthReport::from_findings(
            source,
            findings
                .into_iter()
                .map(|(s, c, m)| Finding::new(source, s, c, m))
                .collect(),
        );
        r.online = r.status == HealthStatus::Green;
        r
    }

    #[test]
    fn health_single_source_colour_is_its_worst_finding_info_does_not_colour() {
        let r = report(
            Source::Plume,
            vec![
                (Severity::Info, FindingCode::ServiceTier, "tier"),
                (Severity::Yellow, FindingCode::PodHealthPoor, "poor"),
                (Severity::Orange, FindingCode::PodDisconnected, "down"),
            ],
        );
        assert_eq!(r.status, HealthStatus::Orange);
        assert_eq!(r.reasons, vec!["down", "poor", "tier"]);
        assert_eq!(r.sources[&Source::Plume].status, HealthStatus::Orange);
        let r = report(
            Source::Plume,
            vec![(Severity::Info, FindingCode::ServiceTier, "tier")],
        );
        assert_eq!(r.status, HealthStatus::Green);
        assert_eq!(r.reasons, vec!["tier"]);
        assert!(!r.misconfigured);
        let r = report(
            Source::Plume,
            vec![(Severity::Red, FindingCode::CustomerNotFound, "who?")],
        );
        assert!(r.misconfigured);
        let r = report(
            Source::Plume,
            vec![
                (Severity::Red, FindingCode::LocationOffline, "offline"),
                (Severity::Unknown, FindingCode::Stale, "old"),
            ],
        );
        assert_eq!(r.status, HealthStatus::Unknown);
        assert_eq!(r.reasons, vec!["old", "offline"]);
    }

    #[test]
    fn health_combine_takes_the_worse_source_and_names_it() {
        let plume = report(
            Source::Plume,
            vec![(
                Severity::Yellow,
                FindingCode::PodHealthPoor,
                "Pod 'A' health is poor",
            )],
        );
        let ctrl = report(
            Source::Controller,
            vec![(
                Severity::Orange,
                FindingCode::PodDisconnected,
                "AP 'Loft' is offline",
            )],
        );
        let r = combine(&[plume.clone(), ctrl.clone()]);
        assert_eq!(r.status, HealthStatus::Orange);
        assert_eq!(
            r.reasons,
            vec![
                "Controller: AP 'Loft' is offline",
                "Plume: Pod 'A' health is poor"
            ]
        );
        assert_eq!(r.reason_details[0].source, Source::Controller);
        assert_eq!(r.sources.len(), 2);
        assert_eq!(r.sources[&Source::Plume].status, HealthStatus::Yellow);
        // The order of the parts does not matter.
        assert_eq!(combine(&[ctrl, plume.clone()]).status, HealthStatus::Orange);
        // One source: unchanged, no prefix.
        assert_eq!(combine(std::slice::from_ref(&plume)), plume);
    }

    #[test]
    fn health_combine_unknown_blocks_green_but_not_a_known_problem() {
        let green = report(Source::Controller, vec![]);
        let stale = report(
            Source::Plume,
            vec![(Severity::Unknown, FindingCode::Stale, "No data from Plume")],
        );
        let r = combine(&[stale.clone(), green.clone()]);
        assert_eq!(r.status, HealthStatus::Unknown, "never green on old data");
        assert!(r.online, "the source that knows says online");
        let red = report(
            Source::Controller,
            vec![(Severity::Red, FindingCode::LocationOffline, "WAN down")],
        );
        let r = combine(&[stale.clone(), red]);
        assert_eq!(r.status, HealthStatus::Red);
        assert!(!r.online);
        assert_eq!(combine(&[green.clone(), green]).status, HealthStatus::Green);
        assert_eq!(combine(&[]).status, HealthStatus::Unknown);
        let both_stale = combine(&[stale.clone(), stale]);
        assert_eq!(both_stale.status, HealthStatus::Unknown);
        assert!(!both_stale.online);
    }
}
