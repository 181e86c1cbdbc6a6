//! A unit's network as Plume last showed it: the data behind the seed bot's `/nodes`,
//! `/devices`, `/wifi` and `/status` commands (issue 15 item 6), kept per unit by the poller on
//! the [`super::HealthBoard`] so that `rental_wifi.get_network` can answer without asking
//! Plume again. A plain value; the wire format is `api/`'s business.
//!
//! Never in it: the Wi-Fi key (the poller reads SSIDs from `/wifiNetwork/ssid` only), IP
//! addresses. Device MACs are kept (they identify a device when it has no name); whoever shows
//! them outside the sidecar redacts them where Home Assistant diagnostics require.

use serde::Serialize;
use time::OffsetDateTime;

use super::client::{Device, Health, Location, Node, SpeedTest};

/// At most this many devices are kept per unit (connected ones first).
pub const MAX_DEVICES: usize = 100;

/// One pod or gateway.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pod {
    pub name: String,
    /// Plume's node id (= serial number).
    pub id: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    /// `connected`, `disconnected`, `unavailable` (lower case), or `unknown`.
    pub connection: String,
    pub connection_changed_at: Option<String>,
    /// `ethernet`, `wifi` (a mesh hop), `unknown`…
    pub backhaul: Option<String>,
    pub gateway: bool,
    pub health: Option<Health>,
    pub connected_devices: u32,
    /// Alert types (`poorHealth`, …).
    pub alerts: Vec<String>,
}

/// One client device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkDevice {
    pub name: String,
    pub mac: Option<String>,
    pub connection: String,
    /// `2.4G`, `5G`, `6G`; none on ethernet.
    pub band: Option<String>,
    /// `wifi` or `ethernet`.
    pub medium: Option<String>,
    pub health: Option<Health>,
}

/// Everything `get_network` shows for a unit, as of `read_at`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkDetails {
    pub location_name: Option<String>,
    pub network_status: Option<String>,
    pub service_level: Option<String>,
    pub pods: Vec<Pod>,
    pub devices: Vec<NetworkDevice>,
    /// How many devices Plume listed (the list above is capped at [`MAX_DEVICES`]).
    pub devices_total: usize,
    pub wifi_networks: Vec<String>,
    /// The gateway's last ISP speed test (the location's when no node carries one).
    pub speed_test: Option<SpeedTest>,
    /// Fields Plume sent that could not be read.
    pub skipped: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub read_at: OffsetDateTime,
}

/// Airbnb's Wi-Fi speed tiers for a listing, by download speed (Airbnb Help Center article
/// 3156 "Check the wifi speed at a listing": 1–6 Mbps basic, 7–24 steady (HD video), 25–49
/// good (4K video, video calls), 50 or more very fast; article 3003 "Test your wifi speed": a
/// listing at 50 Mbps or more is highlighted as having fast wifi). Airbnb's own test (M-Lab)
/// measures download only, as a host's phone on the guest Wi-Fi sees it; Plume's gateway speed
/// test measures the ISP link, so this is an upper bound of what Airbnb's test would show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AirbnbTier {
    /// Under 7 Mbps: e-mail and browsing.
    Basic,
    /// 7–24 Mbps: HD video.
    Steady,
    /// 25–49 Mbps: 4K video and video calls.
    Good,
    /// 50 Mbps or more: shown as "Fast wifi" on the listing.
    Fast,
}

impl AirbnbTier {
    /// The tier of a download speed in Mbit/s; `None` for no measurement (0, negative, NaN).
    pub fn of(download_mbps: f64) -> Option<AirbnbTier> {
        if download_mbps.is_nan() || download_mbps <= 0.0 {
            return None;
        }
        Some(if download_mbps >= 50.0 {
            AirbnbTier::Fast
        } else if download_mbps >= 25.0 {
            AirbnbTier::Good
        } else if download_mbps >= 7.0 {
            AirbnbTier::Steady
        } else {
            AirbnbTier::Basic
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AirbnbTier::Basic => "basic",
            AirbnbTier::Steady => "steady",
            AirbnbTier::Good => "good",
            AirbnbTier::Fast => "fast",
        }
    }
}

fn state(s: Option<&str>) -> String {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| "unknown".into())
}

/// Build the details from one poll's reads.
pub fn details(
    location: &Location,
    nodes: &[Node],
    devices: &[Device],
    wifi_networks: Vec<String>,
    skipped: Vec<String>,
    read_at: OffsetDateTime,
) -> NetworkDetails {
    let pods = nodes
        .iter()
        .map(|n| Pod {
            name: n.display_name().to_string(),
            id: n.id.clone(),
            model: n.model.clone(),
            firmware: n.firmware_version.clone(),
            connection: state(n.connection_state.as_deref()),
            connection_changed_at: n.connection_state_change_at.clone(),
            backhaul: n
                .backhaul_type
                .as_ref()
                .map(|b| b.trim().to_ascii_lowercase()),
            gateway: n.is_gateway(),
            health: n.health.clone(),
            connected_devices: n.connected_device_count(),
            alerts: n.alerts.iter().map(|a| a.kind.clone()).collect(),
        })
        .collect();
    let mut sorted: Vec<&Device> = devices.iter().collect();
    sorted.sort_by_key(|d| !d.is_connected());
    let list = sorted
        .into_iter()
        .take(MAX_DEVICES)
        .map(|d| NetworkDevice {
            name: d.display_name().to_string(),
            mac: d.mac.clone(),
            connection: state(d.connection_state.as_deref()),
            band: d.freq_band.clone(),
            medium: d.medium.clone(),
            health: d.health.clone(),
        })
        .collect();
    let speed_test = nodes
        .iter()
        .filter(|n| n.is_gateway())
        .find_map(|n| n.speed_test.clone())
        .or_else(|| nodes.iter().find_map(|n| n.speed_test.clone()))
        .or_else(|| location.speed_test.clone());
    NetworkDetails {
        location_name: location.name.clone(),
        network_status: location.network_status.clone(),
        service_level: location.service_level.clone(),
        pods,
        devices: list,
        devices_total: devices.len(),
        wifi_networks,
        speed_test,
        skipped,
        read_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn airbnb_tiers_follow_airbnbs_table_at_its_edges() {
        assert_eq!(AirbnbTier::of(0.0), None);
        assert_eq!(AirbnbTier::of(f64::NAN), None);
        assert_eq!(AirbnbTier::of(0.4), Some(AirbnbTier::Basic));
        assert_eq!(AirbnbTier::of(6.99), Some(AirbnbTier::Basic));
        assert_eq!(AirbnbTier::of(7.0), Some(AirbnbTier::Steady));
        assert_eq!(AirbnbTier::of(24.9), Some(AirbnbTier::Steady));
        assert_eq!(AirbnbTier::of(25.0), Some(AirbnbTier::Good));
        assert_eq!(AirbnbTier::of(49.99), Some(AirbnbTier::Good));
        assert_eq!(AirbnbTier::of(50.0), Some(AirbnbTier::Fast));
        assert_eq!(AirbnbTier::of(940.0).map(AirbnbTier::as_str), Some("fast"));
    }

    #[test]
    fn plume_network_details_keep_what_get_network_shows() {
        let location: Location = serde_json::from_value(json!({
            "name": "Beach", "networkStatus": {"status": "online"}, "serviceLevel": {"status": "fullService"}
        }))
        .unwrap();
        let nodes: Vec<Node> = serde_json::from_value(json!([
            {"id": "P2", "nickname": "Bedroom", "model": "PP203X", "connectionState": "Disconnected", "backhaulType": "Wifi"},
            {"id": "GW", "defaultName": "Pod 1", "model": "PP403Z", "connectionState": "connected", "backhaulType": "ethernet",
             "residentialGateway": true, "health": {"status": "excellent", "score": 5}, "connectedDeviceCount": 3,
             "speedTest": {"download": 512.3, "upload": 41.2, "rtt": 9.1, "status": "succeeded", "startedAt": "2026-01-10T09:00:00.000Z"}}
        ]))
        .unwrap();
        let devices: Vec<Device> = serde_json::from_value(json!([
            {"mac": "aa:00:00:00:00:09", "connectionState": "disconnected"},
            {"mac": "aa:00:00:00:00:01", "name": "Guest phone", "connectionState": "connected", "freqBand": "5G", "medium": "wifi", "health": "healthy"}
        ]))
        .unwrap();
        let now = OffsetDateTime::now_utc();
        let d = details(
            &location,
            &nodes,
            &devices,
            vec!["Guest".into()],
            vec![],
            now,
        );
        assert_eq!(d.location_name.as_deref(), Some("Beach"));
        assert_eq!(d.pods.len(), 2);
        assert_eq!(d.pods[0].connection, "disconnected");
        assert_eq!(d.pods[0].backhaul.as_deref(), Some("wifi"));
        assert!(!d.pods[0].gateway && d.pods[1].gateway);
        assert_eq!(d.pods[1].name, "Pod 1");
        let st = d.speed_test.as_ref().unwrap();
        assert_eq!(
            (st.download_mbps, st.upload_mbps),
            (Some(512.3), Some(41.2))
        );
        assert_eq!(d.devices[0].name, "Guest phone", "connected devices first");
        assert_eq!(d.devices[0].band.as_deref(), Some("5G"));
        assert_eq!(d.devices[1].name, "aa:00:00:00:00:09", "MAC when nameless");
        assert_eq!(d.devices_total, 2);
        assert_eq!(d.wifi_networks, vec!["Guest"]);
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["pods"][1]["health"]["score"], 5.0);
        assert_eq!(v["speed_test"]["download_mbps"], 512.3);
    }
}
