//! The traffic-light health of one location (DESIGN §6). Worst rule wins; every rule that
//! fires adds a human-readable reason, worst first.
//!
//! Green/yellow/orange/red is not a Plume concept (reference §5): it is derived here from
//! `networkStatus`, `serviceLevel`, per-node `connectionState`/`health`/`alerts` and per-device
//! `health`.

use serde::Serialize;
use time::OffsetDateTime;

use super::client::{Device, Location, Node, StatusField};

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

/// What `GET /api/v1/units/{id}/health` shows (without `unit_id`, which the caller adds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub status: HealthStatus,
    pub reasons: Vec<String>,
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
}

impl HealthReport {
    /// A report that only says why nothing better is known.
    pub fn unknown(reason: impl Into<String>) -> Self {
        Self::with_status(HealthStatus::Unknown, vec![reason.into()])
    }

    /// A red report for a location that could not be read.
    pub fn unreadable(reason: impl Into<String>) -> Self {
        Self::with_status(HealthStatus::Red, vec![reason.into()])
    }

    fn with_status(status: HealthStatus, reasons: Vec<String>) -> Self {
        Self {
            status,
            reasons,
            online: false,
            pods_connected: 0,
            pods_total: 0,
            devices_connected: 0,
            wifi_networks: Vec::new(),
            service_level: None,
            updated_at: None,
            stale: false,
        }
    }
}

const NODE_DEGRADED: [&str; 2] = ["poor", "fair"];
const DEVICE_DEGRADED: [&str; 3] = ["poor", "degraded", "fair"];

/// Derive the health of one location. `service_level` is the `/serviceLevel` answer when it
/// was read; otherwise the location's embedded `serviceLevel` is used.
pub fn evaluate(
    location: &Location,
    nodes: &[Node],
    devices: &[Device],
    service_level: Option<&StatusField>,
) -> HealthReport {
    let mut found: Vec<(HealthStatus, String)> = Vec::new();
    let network = location
        .network_status
        .as_ref()
        .and_then(|s| s.status.as_deref())
        .map(str::trim);
    let pods_total = nodes.len() as u32;
    let pods_connected = nodes.iter().filter(|n| n.is_connected()).count() as u32;

    // Red.
    if network.is_some_and(|s| s.eq_ignore_ascii_case("offline")) {
        found.push((HealthStatus::Red, "Location is offline".into()));
    }
    if nodes.is_empty() {
        found.push((HealthStatus::Red, "No pods found".into()));
    } else if pods_connected == 0 {
        found.push((HealthStatus::Red, "No pod is connected".into()));
    }

    // Orange.
    for node in nodes.iter().filter(|n| !n.is_connected()) {
        let state = node
            .connection_state
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_ascii_lowercase();
        let reason = if state == "disconnected" {
            format!("Pod '{}' disconnected", node.display_name())
        } else {
            format!("Pod '{}' is {state}", node.display_name())
        };
        found.push((HealthStatus::Orange, reason));
    }
    let level = service_level
        .or(location.service_level.as_ref())
        .and_then(|s| s.status.clone())
        .map(|s| s.trim().to_string());
    match level.as_deref() {
        Some(l) if l.eq_ignore_ascii_case("noService") => {
            found.push((HealthStatus::Orange, "Service level is noService".into()))
        }
        Some(l) if l.eq_ignore_ascii_case("basicService") => {
            found.push((HealthStatus::Yellow, "Service level is basicService".into()))
        }
        _ => {}
    }

    // Yellow.
    for node in nodes.iter().filter(|n| n.is_connected()) {
        if let Some(status) = node.health.as_ref().and_then(|h| h.status.as_deref()) {
            let status = status.trim().to_ascii_lowercase();
            if NODE_DEGRADED.contains(&status.as_str()) {
                found.push((
                    HealthStatus::Yellow,
                    format!("Pod '{}' health is {status}", node.display_name()),
                ));
            }
        }
        let alerts = node.alert_types();
        if !alerts.is_empty() {
            let what = if alerts.len() == 1 { "alert" } else { "alerts" };
            found.push((
                HealthStatus::Yellow,
                format!(
                    "Pod '{}' has {} {what}: {}",
                    node.display_name(),
                    alerts.len(),
                    alerts.join(", ")
                ),
            ));
        }
    }
    let poor_devices = devices
        .iter()
        .filter(|d| d.is_connected())
        .filter(|d| {
            d.health
                .as_ref()
                .and_then(|h| h.status.as_deref())
                .is_some_and(|s| DEVICE_DEGRADED.contains(&s.trim().to_ascii_lowercase().as_str()))
        })
        .count();
    if poor_devices > 0 {
        let what = if poor_devices == 1 {
            "device reports"
        } else {
            "devices report"
        };
        found.push((
            HealthStatus::Yellow,
            format!("{poor_devices} {what} poor health"),
        ));
    }

    // Worst first; stable, so reasons of equal weight keep their discovery order.
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    let status = found.first().map(|f| f.0).unwrap_or(HealthStatus::Green);
    let devices_connected = if devices.is_empty() {
        nodes
            .iter()
            .filter(|n| n.is_connected())
            .map(Node::connected_device_count)
            .sum()
    } else {
        devices.iter().filter(|d| d.is_connected()).count() as u32
    };
    let online = match network {
        Some(s) => s.eq_ignore_ascii_case("online") && pods_connected > 0,
        None => pods_connected > 0,
    };
    HealthReport {
        status,
        reasons: found.into_iter().map(|f| f.1).collect(),
        online,
        pods_connected,
        pods_total,
        devices_connected,
        wifi_networks: Vec::new(),
        service_level: level,
        updated_at: None,
        stale: false,
    }
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

    #[test]
    fn plume_health_green_when_everything_is_fine() {
        let r = evaluate(&loc("online", "fullService"), &ok_nodes(), &[], None);
        assert_eq!(r.status, HealthStatus::Green);
        assert!(r.reasons.is_empty());
        assert!(r.online);
        assert_eq!(
            (r.pods_connected, r.pods_total, r.devices_connected),
            (2, 2, 3)
        );
        assert_eq!(r.service_level.as_deref(), Some("fullService"));
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
            node(json!({"id": "S4", "connectionState": "connected"})),
        ];
        let r = evaluate(&loc("online", "fullService"), &nodes, &[], None);
        assert_eq!(r.status, HealthStatus::Orange);
        assert_eq!(
            r.reasons,
            vec![
                "Pod 'Living room' disconnected",
                "Pod 'Pod 2' disconnected",
                "Pod 'S3' is unavailable"
            ]
        );
    }

    #[test]
    fn plume_health_red_rules() {
        let r = evaluate(&loc("OFFLINE", "fullService"), &ok_nodes(), &[], None);
        assert_eq!(r.status, HealthStatus::Red);
        assert_eq!(r.reasons, vec!["Location is offline"]);
        assert!(!r.online);
        let down = vec![node(
            json!({"id": "S1", "nickname": "Living room", "connectionState": "disconnected"}),
        )];
        let r = evaluate(&loc("online", "fullService"), &down, &[], None);
        assert_eq!(r.status, HealthStatus::Red);
        assert_eq!(
            r.reasons,
            vec!["No pod is connected", "Pod 'Living room' disconnected"]
        );
        let r = evaluate(&loc("online", "fullService"), &[], &[], None);
        assert_eq!(
            (r.status, r.reasons.clone()),
            (HealthStatus::Red, vec!["No pods found".to_string()])
        );
    }

    #[test]
    fn plume_health_service_levels() {
        let r = evaluate(
            &loc("online", "fullService"),
            &ok_nodes(),
            &[],
            Some(&StatusField {
                status: Some("noService".into()),
            }),
        );
        assert_eq!(
            (r.status, r.reasons.clone()),
            (
                HealthStatus::Orange,
                vec!["Service level is noService".to_string()]
            )
        );
        let r = evaluate(&loc("online", "basicService"), &ok_nodes(), &[], None);
        assert_eq!(
            (r.status, r.reasons.clone()),
            (
                HealthStatus::Yellow,
                vec!["Service level is basicService".to_string()]
            )
        );
    }

    #[test]
    fn plume_health_yellow_rules_and_worst_wins() {
        let mut nodes = ok_nodes();
        nodes[1] = node(
            json!({"id": "S2", "defaultName": "Pod 2", "connectionState": "connected", "health": {"status": "Poor", "score": 1}, "alerts": [{"type": "highInterference"}]}),
        );
        let devices: Vec<Device> = serde_json::from_value(json!([
            {"mac": "a", "connectionState": "connected", "health": {"status": "poor"}},
            {"mac": "b", "connectionState": "connected", "health": "healthy"},
            {"mac": "c", "connectionState": "disconnected", "health": "poor"}
        ]))
        .unwrap();
        let r = evaluate(&loc("online", "fullService"), &nodes, &devices, None);
        assert_eq!(r.status, HealthStatus::Yellow);
        assert_eq!(
            r.reasons,
            vec![
                "Pod 'Pod 2' health is poor",
                "Pod 'Pod 2' has 1 alert: highInterference",
                "1 device reports poor health"
            ]
        );
        assert_eq!(r.devices_connected, 2);
        // Add an orange cause: it comes first and wins.
        nodes.push(node(
            json!({"id": "S9", "nickname": "Garden", "connectionState": "disconnected"}),
        ));
        let r = evaluate(&loc("online", "fullService"), &nodes, &devices, None);
        assert_eq!(r.status, HealthStatus::Orange);
        assert_eq!(r.reasons[0], "Pod 'Garden' disconnected");
        assert_eq!(r.reasons.len(), 4);
    }

    #[test]
    fn plume_health_fair_counts_and_disconnected_health_does_not() {
        let nodes = vec![
            node(json!({"id": "S1", "connectionState": "connected", "health": {"status": "fair"}})),
            node(
                json!({"id": "S2", "connectionState": "disconnected", "health": {"status": "poor"}}),
            ),
        ];
        let r = evaluate(&loc("online", "fullService"), &nodes, &[], None);
        assert_eq!(
            r.reasons,
            vec!["Pod 'S2' disconnected", "Pod 'S1' health is fair"]
        );
    }
}
