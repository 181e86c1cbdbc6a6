//! The traffic-light health of one location by Plume's own definitions (DESIGN §6, issue 15
//! item 3). Every rule that fires is a [`Finding`] with source `plume`; the worst decides.
//!
//! Green/yellow/orange/red is not a Plume concept (reference §5). What each Plume field means
//! here, and why (sources in `reference/plume-field-notes.md`):
//! - `networkStatus.status` `offline` → red (P6: the canonical "is the location online").
//! - `serviceLevel.status` `noService` → red: Plume defines it as "prevents WiFi on access
//!   points" (P3). `basicService` "removes some of the adaptive WiFi features and security
//!   features" (P3): a tier an ISP sets on purpose, shown as information, never a fault.
//! - A pod not `connected` (`disconnected`, `unavailable`, or any other word) → orange; none
//!   connected (or none at all) → red.
//! - Pod health: the `score` decides where present (O1 observed `{status:"excellent",
//!   score:5}`; ≤ 2 is poor); without a score, `poor`/`fair`/`degraded` are poor. A word outside
//!   the known ones is never taken as good: without a score it is a yellow reason naming it.
//! - Alerts colour a pod only where Plume documents what they mean: type `poorHealth` (the one
//!   value Plume's snooze endpoints document, P6) is yellow unless snoozed; every other type is
//!   shown as information.
//! - Device health (P6: "healthy, poor, or degraded"), on connected devices only: the same
//!   score and word rules, counted. Devices that left are normal in a rental and ignored.
//! - Any other word where Plume documents a fixed set (`networkStatus`, `serviceLevel`) is a
//!   yellow reason naming it.
//! - Fields that could not be read are one informational reason listing them.

use super::client::{Device, Health, Location, Node};
use crate::unit_health::{Finding, FindingCode, HealthReport, Severity, Source};

pub use crate::unit_health::HealthStatus;

/// Health words that mean "fine" (O1 `excellent`; the bot's `good`; P6 `healthy`).
const GOOD_WORDS: [&str; 3] = ["excellent", "good", "healthy"];
/// Health words that mean "degraded" (the bot's `fair`/`poor`; P6 `poor`/`degraded`).
const POOR_WORDS: [&str; 3] = ["poor", "fair", "degraded"];
/// A score at or below this is poor (scale observed up to 5 = excellent, O1).
pub const POOR_SCORE_MAX: f64 = 2.0;
/// Alert types whose meaning Plume documents (P6: node and device alert snooze endpoints,
/// "enum of values include: poorHealth").
const DOCUMENTED_ALERTS: [&str; 1] = ["poorHealth"];
/// Alert states that mean the alert was snoozed or accepted (P6 snooze `state`).
const QUIET_ALERT_STATES: [&str; 5] = [
    "snooze",
    "snoozed",
    "ignore",
    "ignored",
    "performanceAcceptable",
];

fn finding(severity: Severity, code: FindingCode, message: impl Into<String>) -> Finding {
    Finding::new(Source::Plume, severity, code, message)
}

enum Verdict {
    Fine,
    Poor(String),
    /// A word we do not know, with no score to decide.
    Unknown(String),
    /// A word we do not know, but a score decided (fine).
    UnknownWordScored(String, f64),
}

fn score_text(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

fn judge(h: &Health) -> Verdict {
    let word = h
        .status
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_string);
    let known = |w: &str, set: &[&str]| set.iter().any(|k| k.eq_ignore_ascii_case(w));
    if let Some(score) = h.score {
        if score <= POOR_SCORE_MAX {
            return Verdict::Poor(match &word {
                Some(w) => format!(
                    "health is {} (score {})",
                    w.to_ascii_lowercase(),
                    score_text(score)
                ),
                None => format!("health score is {}", score_text(score)),
            });
        }
        return match word {
            Some(w) if !known(&w, &GOOD_WORDS) && !known(&w, &POOR_WORDS) => {
                Verdict::UnknownWordScored(w, score)
            }
            _ => Verdict::Fine,
        };
    }
    match word {
        None => Verdict::Fine,
        Some(w) if known(&w, &GOOD_WORDS) => Verdict::Fine,
        Some(w) if known(&w, &POOR_WORDS) => {
            Verdict::Poor(format!("health is {}", w.to_ascii_lowercase()))
        }
        Some(w) => Verdict::Unknown(w),
    }
}

/// Derive the health of one location from what the poller read. `skipped` lists the fields
/// that could not be read (from the location, nodes and devices reads).
pub fn evaluate(
    location: &Location,
    nodes: &[Node],
    devices: &[Device],
    skipped: &[String],
) -> HealthReport {
    let mut found: Vec<Finding> = Vec::new();
    let network = location
        .network_status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let level = location
        .service_level
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let no_service = level
        .as_deref()
        .is_some_and(|l| l.eq_ignore_ascii_case("noService"));
    let pods_total = nodes.len() as u32;
    let pods_connected = nodes.iter().filter(|n| n.is_connected()).count() as u32;

    match network {
        Some(s) if s.eq_ignore_ascii_case("offline") => found.push(finding(
            Severity::Red,
            FindingCode::LocationOffline,
            "Location is offline",
        )),
        Some(s) if s.eq_ignore_ascii_case("online") => {}
        Some(other) => found.push(finding(
            Severity::Yellow,
            FindingCode::NetworkStatusUnknown,
            format!("Plume reports network status '{other}', which its API does not document"),
        )),
        None => {}
    }
    match level.as_deref() {
        Some(_) if no_service => found.push(finding(
            Severity::Red,
            FindingCode::ServiceLevelNoService,
            "Wi-Fi is switched off on the pods (service level noService)",
        )),
        Some(l) if l.eq_ignore_ascii_case("basicService") => found.push(finding(
            Severity::Info,
            FindingCode::ServiceTier,
            "Service tier is basicService (some adaptive Wi-Fi and security features are off)",
        )),
        Some(l) if l.eq_ignore_ascii_case("fullService") => {}
        Some(other) => found.push(finding(
            Severity::Yellow,
            FindingCode::ServiceLevelUnknown,
            format!("Plume reports service level '{other}', which its API does not document"),
        )),
        None => {}
    }
    if nodes.is_empty() {
        found.push(finding(Severity::Red, FindingCode::NoPods, "No pods found"));
    } else if pods_connected == 0 {
        found.push(finding(
            Severity::Red,
            FindingCode::NoPodConnected,
            "No pod is connected",
        ));
    }

    for node in nodes.iter().filter(|n| !n.is_connected()) {
        let state = node
            .connection_state
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_ascii_lowercase();
        let name = node.display_name();
        let message = if state == "disconnected" {
            format!("Pod '{name}' disconnected")
        } else {
            format!("Pod '{name}' is {state}")
        };
        found.push(finding(Severity::Orange, FindingCode::PodDisconnected, message).about(name));
    }

    for node in nodes.iter().filter(|n| n.is_connected()) {
        let name = node.display_name();
        match node.health.as_ref().map(judge) {
            Some(Verdict::Poor(what)) => found.push(
                finding(
                    Severity::Yellow,
                    FindingCode::PodHealthPoor,
                    format!("Pod '{name}' {what}"),
                )
                .about(name),
            ),
            Some(Verdict::Unknown(w)) => found.push(
                finding(
                    Severity::Yellow,
                    FindingCode::PodHealthUnknown,
                    format!("Pod '{name}' health is '{w}', a word Plume does not document"),
                )
                .about(name),
            ),
            Some(Verdict::UnknownWordScored(w, s)) => found.push(
                finding(
                    Severity::Info,
                    FindingCode::PodHealthUnknown,
                    format!(
                        "Pod '{name}' health is '{w}', a word Plume does not document; its score {} was used",
                        score_text(s)
                    ),
                )
                .about(name),
            ),
            Some(Verdict::Fine) | None => {}
        }
        let (mut coloured, mut quiet, mut other) = (false, Vec::new(), Vec::new());
        for a in &node.alerts {
            let documented = DOCUMENTED_ALERTS
                .iter()
                .any(|d| d.eq_ignore_ascii_case(a.kind.trim()));
            let silenced = a.state.as_deref().is_some_and(|s| {
                QUIET_ALERT_STATES
                    .iter()
                    .any(|q| q.eq_ignore_ascii_case(s.trim()))
            });
            match (documented, silenced) {
                (true, false) => coloured = true,
                (true, true) => quiet.push(a.kind.clone()),
                (false, _) => other.push(a.kind.clone()),
            }
        }
        if coloured {
            found.push(
                finding(
                    Severity::Yellow,
                    FindingCode::PodAlert,
                    format!("Pod '{name}' has a poorHealth alert"),
                )
                .about(name),
            );
        }
        if !quiet.is_empty() {
            found.push(
                finding(
                    Severity::Info,
                    FindingCode::PodAlert,
                    format!("Pod '{name}' has a snoozed {} alert", quiet.join(", ")),
                )
                .about(name),
            );
        }
        if !other.is_empty() {
            let what = if other.len() == 1 { "alert" } else { "alerts" };
            found.push(
                finding(
                    Severity::Info,
                    FindingCode::PodAlert,
                    format!(
                        "Pod '{name}' has {what} {} (Plume does not document their severity; not counted)",
                        other.join(", ")
                    ),
                )
                .about(name),
            );
        }
    }

    let (mut poor, mut unknown_words) = (0usize, Vec::<String>::new());
    for d in devices.iter().filter(|d| d.is_connected()) {
        match d.health.as_ref().map(judge) {
            Some(Verdict::Poor(_)) => poor += 1,
            Some(Verdict::Unknown(w))
                if !unknown_words.iter().any(|x| x.eq_ignore_ascii_case(&w)) =>
            {
                unknown_words.push(w)
            }
            _ => {}
        }
    }
    if poor > 0 {
        let what = if poor == 1 {
            "device reports"
        } else {
            "devices report"
        };
        found.push(finding(
            Severity::Yellow,
            FindingCode::DeviceHealthPoor,
            format!("{poor} {what} poor health"),
        ));
    }
    if !unknown_words.is_empty() {
        let quoted: Vec<String> = unknown_words.iter().map(|w| format!("'{w}'")).collect();
        found.push(finding(
            Severity::Yellow,
            FindingCode::DeviceHealthUnknown,
            format!(
                "Devices report health {}, which Plume does not document",
                quoted.join(", ")
            ),
        ));
    }
    if !skipped.is_empty() {
        let shown: Vec<&str> = skipped.iter().take(5).map(String::as_str).collect();
        let more = if skipped.len() > 5 {
            format!(" and {} more", skipped.len() - 5)
        } else {
            String::new()
        };
        let what = if skipped.len() == 1 {
            "field"
        } else {
            "fields"
        };
        found.push(finding(
            Severity::Info,
            FindingCode::FieldsSkipped,
            format!(
                "Plume sent {} {what} that could not be read ({}{more}); the rest was used",
                skipped.len(),
                shown.join(", ")
            ),
        ));
    }

    let devices_connected = if devices.is_empty() {
        nodes
            .iter()
            .filter(|n| n.is_connected())
            .map(Node::connected_device_count)
            .sum()
    } else {
        devices.iter().filter(|d| d.is_connected()).count() as u32
    };
    let online = !no_service
        && pods_connected > 0
        && network.is_none_or(|s| s.eq_ignore_ascii_case("online"));
    let mut r = HealthReport::from_findings(Source::Plume, found);
    r.online = online;
    r.pods_connected = pods_connected;
    r.pods_total = pods_total;
    r.devices_connected = devices_connected;
    r.service_level = level;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn loc(status: &str, level: &str) -> Location {
        serde_json::from_value(json!({"name": "x", "networkStatus": {"status": status}, "serviceLevel": {"status": level}})).unwrap()
    }

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    fn ok_nodes() -> Vec<Node> {
        vec![
            node(
                json!({"id": "S1", "nickname": "Living room", "connectionState": "Connected", "health": {"status": "excellent", "score": 5}, "connectedDeviceCount": 2}),
            ),
            node(
                json!({"id": "S2", "defaultName": "Pod 2", "connectionState": "CONNECTED", "health": {"status": "good", "score": 4}, "connectedDeviceCount": 1}),
            ),
        ]
    }

    fn codes(r: &HealthReport) -> Vec<(Severity, FindingCode)> {
        r.reason_details
            .iter()
            .map(|f| (f.severity, f.code))
            .collect()
    }

    #[test]
    fn plume_health_green_when_everything_is_fine() {
        let r = evaluate(&loc("online", "fullService"), &ok_nodes(), &[], &[]);
        assert_eq!(r.status, HealthStatus::Green);
        assert!(r.reasons.is_empty());
        assert!(r.online && !r.misconfigured);
        assert_eq!(
            (r.pods_connected, r.pods_total, r.devices_connected),
            (2, 2, 3)
        );
        assert_eq!(r.service_level.as_deref(), Some("fullService"));
        assert_eq!(r.sources[&Source::Plume].status, HealthStatus::Green);
    }

    #[test]
    fn plume_health_names_pods_nickname_default_name_then_id() {
        let nodes = vec![
            node(
                json!({"id": "S1", "nickname": "Living room", "defaultName": "Pod 1", "connectionState": "disconnected"}),
            ),
            node(
                json!({"id": "S2", "nickname": "", "defaultName": "Pod 2", "connectionState": "Disconnected"}),
            ),
            node(json!({"id": "S3", "connectionState": "unavailable"})),
            node(json!({"id": "S5", "connectionState": "rebooting"})),
            node(json!({"id": "S4", "connectionState": "connected"})),
        ];
        let r = evaluate(&loc("online", "fullService"), &nodes, &[], &[]);
        assert_eq!(r.status, HealthStatus::Orange);
        assert_eq!(
            r.reasons,
            vec![
                "Pod 'Living room' disconnected",
                "Pod 'Pod 2' disconnected",
                "Pod 'S3' is unavailable",
                "Pod 'S5' is rebooting"
            ]
        );
        assert_eq!(r.reason_details[0].subject.as_deref(), Some("Living room"));
    }

    #[test]
    fn plume_health_red_rules() {
        let r = evaluate(&loc("OFFLINE", "fullService"), &ok_nodes(), &[], &[]);
        assert_eq!(r.status, HealthStatus::Red);
        assert_eq!(r.reasons, vec!["Location is offline"]);
        assert!(!r.online);
        let down = vec![node(
            json!({"id": "S1", "nickname": "Living room", "connectionState": "disconnected"}),
        )];
        let r = evaluate(&loc("online", "fullService"), &down, &[], &[]);
        assert_eq!(r.status, HealthStatus::Red);
        assert_eq!(
            r.reasons,
            vec!["No pod is connected", "Pod 'Living room' disconnected"]
        );
        let r = evaluate(&loc("online", "fullService"), &[], &[], &[]);
        assert_eq!(
            (r.status, r.reasons.clone()),
            (HealthStatus::Red, vec!["No pods found".to_string()])
        );
    }

    #[test]
    fn plume_health_service_levels_by_plumes_definitions() {
        let r = evaluate(&loc("online", "noService"), &ok_nodes(), &[], &[]);
        assert_eq!(r.status, HealthStatus::Red, "no Wi-Fi on the pods");
        assert_eq!(
            r.reasons,
            vec!["Wi-Fi is switched off on the pods (service level noService)"]
        );
        assert!(!r.online);
        let r = evaluate(&loc("online", "basicService"), &ok_nodes(), &[], &[]);
        assert_eq!(r.status, HealthStatus::Green, "a tier, not a fault");
        assert_eq!(codes(&r), vec![(Severity::Info, FindingCode::ServiceTier)]);
        assert!(r.online);
        let r = evaluate(&loc("online", "premiumService"), &ok_nodes(), &[], &[]);
        assert_eq!(r.status, HealthStatus::Yellow, "never silently green");
        assert_eq!(
            r.reasons,
            vec!["Plume reports service level 'premiumService', which its API does not document"]
        );
        let r = evaluate(&loc("sleeping", "fullService"), &ok_nodes(), &[], &[]);
        assert_eq!(
            codes(&r),
            vec![(Severity::Yellow, FindingCode::NetworkStatusUnknown)]
        );
        // An empty serviceLevel (P5's example `serviceLevel: {}`) fires nothing.
        let empty: Location = serde_json::from_value(
            json!({"networkStatus": {"status": "online"}, "serviceLevel": {}}),
        )
        .unwrap();
        assert_eq!(
            evaluate(&empty, &ok_nodes(), &[], &[]).status,
            HealthStatus::Green
        );
    }

    #[test]
    fn plume_health_score_decides_and_unknown_words_are_named() {
        let with = |h: serde_json::Value| {
            let mut nodes = ok_nodes();
            nodes[1] = node(
                json!({"id": "S2", "defaultName": "Pod 2", "connectionState": "connected", "health": h}),
            );
            evaluate(&loc("online", "fullService"), &nodes, &[], &[])
        };
        // Score decides: a good word with a poor score is poor, a poor word with a good score
        // is fine.
        let r = with(json!({"status": "good", "score": 1.5}));
        assert_eq!(r.reasons, vec!["Pod 'Pod 2' health is good (score 1.5)"]);
        assert_eq!(r.status, HealthStatus::Yellow);
        assert_eq!(
            with(json!({"status": "poor", "score": 4})).status,
            HealthStatus::Green
        );
        assert_eq!(
            with(json!({"score": 2})).reasons,
            vec!["Pod 'Pod 2' health score is 2"]
        );
        // Without a score, the words.
        assert_eq!(
            with(json!({"status": "Poor"})).reasons,
            vec!["Pod 'Pod 2' health is poor"]
        );
        assert_eq!(
            with(json!("fair")).reasons,
            vec!["Pod 'Pod 2' health is fair"]
        );
        let r = with(json!({"status": "marginal"}));
        assert_eq!(r.status, HealthStatus::Yellow);
        assert_eq!(
            r.reasons,
            vec!["Pod 'Pod 2' health is 'marginal', a word Plume does not document"]
        );
        let r = with(json!({"status": "marginal", "score": 4}));
        assert_eq!(r.status, HealthStatus::Green);
        assert_eq!(
            codes(&r),
            vec![(Severity::Info, FindingCode::PodHealthUnknown)]
        );
        // A disconnected pod's health does not count (it is orange already).
        let nodes = vec![
            node(json!({"id": "S1", "connectionState": "connected", "health": {"status": "fair"}})),
            node(
                json!({"id": "S2", "connectionState": "disconnected", "health": {"status": "poor"}}),
            ),
        ];
        let r = evaluate(&loc("online", "fullService"), &nodes, &[], &[]);
        assert_eq!(
            r.reasons,
            vec!["Pod 'S2' disconnected", "Pod 'S1' health is fair"]
        );
    }

    #[test]
    fn plume_health_only_documented_alerts_colour() {
        let mut nodes = ok_nodes();
        nodes[1] = node(
            json!({"id": "S2", "defaultName": "Pod 2", "connectionState": "connected", "health": {"status": "good", "score": 4},
                   "alerts": [{"type": "highInterference"}, {"type": "channelChange"}]}),
        );
        let r = evaluate(&loc("online", "fullService"), &nodes, &[], &[]);
        assert_eq!(r.status, HealthStatus::Green);
        assert_eq!(
            r.reasons,
            vec!["Pod 'Pod 2' has alerts highInterference, channelChange (Plume does not document their severity; not counted)"]
        );
        nodes[0] = node(
            json!({"id": "S1", "nickname": "Living room", "connectionState": "connected", "alerts": [{"type": "poorHealth"}]}),
        );
        let r = evaluate(&loc("online", "fullService"), &nodes, &[], &[]);
        assert_eq!(r.status, HealthStatus::Yellow);
        assert_eq!(r.reasons[0], "Pod 'Living room' has a poorHealth alert");
        nodes[0] = node(
            json!({"id": "S1", "nickname": "Living room", "connectionState": "connected", "alerts": [{"type": "poorHealth", "state": "snooze"}]}),
        );
        let r = evaluate(&loc("online", "fullService"), &nodes, &[], &[]);
        assert_eq!(r.status, HealthStatus::Green);
        assert_eq!(
            r.reasons[0],
            "Pod 'Living room' has a snoozed poorHealth alert"
        );
    }

    #[test]
    fn plume_health_devices_and_worst_wins() {
        let mut nodes = ok_nodes();
        nodes[1] = node(
            json!({"id": "S2", "defaultName": "Pod 2", "connectionState": "connected", "health": {"status": "Poor", "score": 1}}),
        );
        let devices: Vec<Device> = serde_json::from_value(json!([
            {"mac": "a", "connectionState": "connected", "health": {"status": "poor"}},
            {"mac": "b", "connectionState": "connected", "health": "healthy"},
            {"mac": "c", "connectionState": "disconnected", "health": "poor"},
            {"mac": "d", "connectionState": "connected", "health": {"score": 1}},
            {"mac": "e", "connectionState": "connected", "health": "so-so"}
        ]))
        .unwrap();
        let r = evaluate(&loc("online", "fullService"), &nodes, &devices, &[]);
        assert_eq!(r.status, HealthStatus::Yellow);
        assert_eq!(
            r.reasons,
            vec![
                "Pod 'Pod 2' health is poor (score 1)",
                "2 devices report poor health",
                "Devices report health 'so-so', which Plume does not document"
            ]
        );
        assert_eq!(r.devices_connected, 4);
        // Add an orange cause: it comes first and wins.
        nodes.push(node(
            json!({"id": "S9", "nickname": "Garden", "connectionState": "disconnected"}),
        ));
        let r = evaluate(&loc("online", "fullService"), &nodes, &devices, &[]);
        assert_eq!(r.status, HealthStatus::Orange);
        assert_eq!(r.reasons[0], "Pod 'Garden' disconnected");
        assert_eq!(r.reasons.len(), 4);
    }

    #[test]
    fn plume_health_skipped_fields_are_one_informational_reason() {
        let skipped: Vec<String> = (0..7)
            .map(|i| format!("nodes[{i}].model (object)"))
            .collect();
        let r = evaluate(&loc("online", "fullService"), &ok_nodes(), &[], &skipped);
        assert_eq!(r.status, HealthStatus::Green);
        assert_eq!(r.reasons.len(), 1);
        assert!(
            r.reasons[0].starts_with(
                "Plume sent 7 fields that could not be read (nodes[0].model (object), "
            ),
            "{}",
            r.reasons[0]
        );
        assert!(
            r.reasons[0].ends_with("and 2 more); the rest was used"),
            "{}",
            r.reasons[0]
        );
    }
}
