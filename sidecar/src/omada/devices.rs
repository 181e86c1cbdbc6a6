//! A site's access points and gateway as the controller sees them (issue 15 item 7), through
//! the Open API — the hotspot operator cannot read devices (research §4.3), so this is the
//! `device_health` capability:
//!
//! - `GET …/sites/{siteId}/devices?page&pageSize` (`DeviceInfo`: `mac, name, type` "ap" |
//!   "gateway" | "switch", `status` 0 Disconnected / 1 Connected / 2 Pending / 3 Heartbeat
//!   Missed / 4 Isolated, `detailStatus` 0–50; spec `DeviceAPI.GetDeviceList`, permission Site
//!   Device Manager View Only). Only adopted devices and those waiting for adoption appear.
//! - `GET …/sites/{siteId}/gateways/{gatewayMac}/wan-status` (`GatewayWanStatusEntity` per
//!   port: `mode` 0 WAN / 1 LAN, `status` link 0/1, `internetState` 0/1; `-39501` "This
//!   gateway does not exist."). A WAN port is up when its link and its internet state are 1,
//!   as Home Assistant's Omada Open API integration reads them (bullitt186/ha-omada-open-api
//!   `binary_sensor.py`, `mode == 0` ports only).
//! - The APs that serve a unit's SSIDs: the WLAN group holding each SSID
//!   (`…/wireless-network/wlans`, `…/wlans/{id}/ssids`) against each AP's `wlanGroupId`
//!   (`GET …/aps/{apMac}`, `ApOverviewInfo`).
//!
//! The verdicts (which finding, which colour) are pure functions in
//! [`crate::controller_health`].

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;

use super::error::OmadaError;
use super::openapi::{list_of, FORBIDDEN};
use super::{transport, OmadaClient, SiteInfo};
use crate::net::Mac;

/// `-39501` "This gateway does not exist." on `wan-status`.
const NO_GATEWAY: i64 = -39501;

fn ser_mac<S: Serializer>(m: &Mac, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(m)
}

/// `DeviceInfo.type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Ap,
    Gateway,
    Switch,
    Other(String),
}

/// `status` and `detailStatus` in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// `status` 1; `detailStatus` 14–17.
    Connected,
    /// Connected but busy: provisioning, configuring, upgrading, rebooting (`detailStatus`
    /// 10–13), slice configuring (50).
    Busy,
    /// `status` 0.
    Disconnected,
    /// `status` 3: the controller stopped hearing from it.
    HeartbeatMissed,
    /// `status` 4: a mesh AP that lost its uplink.
    Isolated,
    /// `status` 2 / `detailStatus` 20–27: waiting for adoption, adopting, adoption failed,
    /// managed by another controller — not (yet) part of the network.
    NotAdopted,
    /// A status word this client does not know.
    Unknown,
}

/// One device of a site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    #[serde(serialize_with = "ser_mac")]
    pub mac: Mac,
    pub name: String,
    pub kind: DeviceKind,
    pub model: Option<String>,
    pub status: Option<i64>,
    pub detail_status: Option<i64>,
    /// `lastSeen`, ms since the epoch.
    pub last_seen_ms: Option<i64>,
}

impl DeviceInfo {
    pub fn state(&self) -> DeviceState {
        match (self.status, self.detail_status) {
            (_, Some(10..=13 | 50)) => DeviceState::Busy,
            (Some(2), _) | (_, Some(20..=27)) => DeviceState::NotAdopted,
            (Some(1), _) => DeviceState::Connected,
            (Some(0), _) => DeviceState::Disconnected,
            (Some(3), _) => DeviceState::HeartbeatMissed,
            (Some(4), _) => DeviceState::Isolated,
            (None, Some(14..=17)) => DeviceState::Connected,
            (None, Some(0 | 1)) => DeviceState::Disconnected,
            (None, Some(30..=33)) => DeviceState::HeartbeatMissed,
            (None, Some(40 | 41)) => DeviceState::Isolated,
            _ => DeviceState::Unknown,
        }
    }

    /// How a reason names it: `'Living room' (B0-95-75-15-93-44)`, or the MAC alone.
    pub fn label(&self) -> String {
        if self.name.is_empty() || self.name == self.mac.to_string() {
            self.mac.to_string()
        } else {
            format!("'{}' ({})", self.name, self.mac)
        }
    }

    fn from_row(row: &Value) -> Option<DeviceInfo> {
        let text = |k: &str| {
            row.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let mac: Mac = text("mac")?.parse().ok()?;
        let kind = match text("type").map(|t| t.to_ascii_lowercase()).as_deref() {
            Some("ap") => DeviceKind::Ap,
            Some("gateway") => DeviceKind::Gateway,
            Some("switch") => DeviceKind::Switch,
            Some(other) => DeviceKind::Other(other.to_string()),
            None => DeviceKind::Other(String::new()),
        };
        Some(DeviceInfo {
            mac,
            name: text("name").unwrap_or_default(),
            kind,
            model: text("model").or_else(|| text("modelName")),
            status: row.get("status").and_then(transport::as_i64),
            detail_status: row.get("detailStatus").and_then(transport::as_i64),
            last_seen_ms: row.get("lastSeen").and_then(transport::as_i64),
        })
    }
}

/// One port of a gateway's WAN status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WanPort {
    pub port: Option<i64>,
    /// `name`, else `portDesc`, else `WAN<port>`.
    pub name: String,
    /// `mode`: 0 WAN, 1 LAN.
    pub mode: Option<i64>,
    /// `status`: the link.
    pub link_up: Option<bool>,
    /// `internetState`.
    pub internet: Option<bool>,
}

impl WanPort {
    /// A port working as WAN (`mode` 0; a row without `mode` counts as WAN).
    pub fn is_wan(&self) -> bool {
        self.mode.is_none_or(|m| m == 0)
    }

    /// Link and internet both up.
    pub fn up(&self) -> bool {
        self.link_up == Some(true) && self.internet != Some(false)
    }

    fn from_row(row: &Value) -> WanPort {
        let flag = |k: &str| row.get(k).and_then(transport::as_i64).map(|v| v == 1);
        let port = row.get("port").and_then(transport::as_i64);
        let name = ["name", "portDesc"]
            .iter()
            .filter_map(|k| row.get(*k).and_then(Value::as_str))
            .map(str::trim)
            .find(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("WAN{}", port.unwrap_or(0)));
        WanPort {
            port,
            name,
            mode: row.get("mode").and_then(transport::as_i64),
            link_up: flag("status"),
            internet: flag("internetState"),
        }
    }
}

/// A gateway's WAN ports, or why they could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GatewayWan {
    #[serde(serialize_with = "ser_mac")]
    pub gateway: Mac,
    pub ports: Vec<WanPort>,
    pub error: Option<String>,
}

/// What the controller said about one site's devices, at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SiteDevices {
    pub site: SiteInfo,
    pub devices: Vec<DeviceInfo>,
    /// One entry per gateway in `devices` that is connected.
    pub wans: Vec<GatewayWan>,
    #[serde(with = "time::serde::rfc3339")]
    pub read_at: OffsetDateTime,
}

impl SiteDevices {
    pub fn device(&self, mac: Mac) -> Option<&DeviceInfo> {
        self.devices.iter().find(|d| d.mac == mac)
    }

    pub fn gateways(&self) -> impl Iterator<Item = &DeviceInfo> {
        self.devices
            .iter()
            .filter(|d| d.kind == DeviceKind::Gateway)
    }
}

/// Which APs carry which SSID on a site (through the SSIDs' WLAN groups).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SsidAps {
    /// SSID name → the APs whose WLAN group holds it.
    pub by_ssid: BTreeMap<String, Vec<String>>,
}

impl SsidAps {
    /// The APs that serve any of `ssids`, each once.
    pub fn for_ssids(&self, ssids: &[String]) -> Vec<Mac> {
        let mut out: Vec<Mac> = Vec::new();
        for s in ssids {
            for m in self.by_ssid.get(s).into_iter().flatten() {
                if let Ok(mac) = m.parse::<Mac>() {
                    if !out.contains(&mac) {
                        out.push(mac);
                    }
                }
            }
        }
        out
    }
}

fn devices_forbidden(e: OmadaError, site: &SiteInfo) -> OmadaError {
    match e {
        OmadaError::Rejected { code, message } if code == FORBIDDEN => {
            OmadaError::Misconfigured(format!(
                "the Open API app may not read the devices of site {:?} (errorCode {code}: {message}): give it the role Administrator or Viewer (Site Device Manager View Only) under Settings › Platform Integration › Open API",
                site.name
            ))
        }
        other => other,
    }
}

impl OmadaClient {
    /// Every device of a site (name or id).
    pub async fn site_devices(&self, site: &str) -> Result<Vec<DeviceInfo>, OmadaError> {
        let o = self.open_api("reading access points and gateways")?;
        let site = self.resolve_site(site).await?;
        let rows = o
            .grid(
                &self.inner.common,
                self.deadline(),
                "openapi devices",
                &["sites", site.id.as_str(), "devices"],
                &[],
            )
            .await
            .map_err(|e| devices_forbidden(e, &site))?;
        Ok(rows.iter().filter_map(DeviceInfo::from_row).collect())
    }

    /// The WAN ports of a gateway (all of them; [`WanPort::is_wan`] tells which are WAN).
    pub async fn gateway_wan_status(
        &self,
        site: &str,
        gateway: Mac,
    ) -> Result<Vec<WanPort>, OmadaError> {
        let o = self.open_api("reading the gateway's WAN status")?;
        let site = self.resolve_site(site).await?;
        let c = &self.inner.common;
        let mac = gateway.to_string();
        let result = o
            .call(c, self.deadline(), "openapi wan-status", |id| {
                c.http.get(c.url(&[
                    "openapi",
                    "v1",
                    id,
                    "sites",
                    &site.id,
                    "gateways",
                    &mac,
                    "wan-status",
                ]))
            })
            .await
            .map_err(|e| match e {
                OmadaError::Rejected { code, message } if code == NO_GATEWAY => {
                    OmadaError::Misconfigured(format!(
                        "gateway {mac} is not on site {:?} (errorCode {code}: {message})",
                        site.name
                    ))
                }
                other => devices_forbidden(other, &site),
            })?;
        Ok(list_of(&result).iter().map(WanPort::from_row).collect())
    }

    /// One read of a site for the health rules: its devices, and the WAN ports of each
    /// connected gateway (a failed WAN read is kept in [`GatewayWan::error`], the devices
    /// still count).
    pub async fn site_health(&self, site: &str) -> Result<SiteDevices, OmadaError> {
        let site_info = self.resolve_site(site).await?;
        let devices = self.site_devices(&site_info.id).await?;
        let mut wans = Vec::new();
        for gw in devices
            .iter()
            .filter(|d| d.kind == DeviceKind::Gateway && d.state() == DeviceState::Connected)
        {
            match self.gateway_wan_status(&site_info.id, gw.mac).await {
                Ok(ports) => wans.push(GatewayWan {
                    gateway: gw.mac,
                    ports,
                    error: None,
                }),
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => wans.push(GatewayWan {
                    gateway: gw.mac,
                    ports: Vec::new(),
                    error: Some(e.to_string()),
                }),
            }
        }
        Ok(SiteDevices {
            site: site_info,
            devices,
            wans,
            read_at: OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        })
    }

    /// Which APs carry which SSID on a site: each AP's WLAN group (`GET …/aps/{mac}`) against
    /// the WLAN groups holding each SSID. One request per AP: call it when the unit names no
    /// `ap_macs`, and keep the answer for a while (it changes when the host re-plans the Wi-Fi).
    pub async fn ssid_aps(&self, site: &str) -> Result<SsidAps, OmadaError> {
        let o = self.open_api("finding the access points of an SSID")?;
        let site_info = self.resolve_site(site).await?;
        let c = &self.inner.common;
        let ssids = o.ssids_by_wlan(c, &site_info.id, self.deadline()).await?;
        let devices = self.site_devices(&site_info.id).await?;
        let mut out = SsidAps::default();
        for ap in devices.iter().filter(|d| d.kind == DeviceKind::Ap) {
            let mac = ap.mac.to_string();
            let overview = o
                .call(c, self.deadline(), "openapi ap", |id| {
                    c.http
                        .get(c.url(&["openapi", "v1", id, "sites", &site_info.id, "aps", &mac]))
                })
                .await
                .map_err(|e| devices_forbidden(e, &site_info))?;
            let Some(group) = overview.get("wlanGroupId").and_then(Value::as_str) else {
                continue;
            };
            for (wlan, names) in &ssids {
                if wlan == group {
                    for n in names {
                        let e = out.by_ssid.entry(n.clone()).or_default();
                        if !e.contains(&mac) {
                            e.push(mac.clone());
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dev(status: Option<i64>, detail: Option<i64>) -> DeviceInfo {
        DeviceInfo {
            mac: "B0-95-75-15-93-44".parse().unwrap(),
            name: "Loft".into(),
            kind: DeviceKind::Ap,
            model: None,
            status,
            detail_status: detail,
            last_seen_ms: None,
        }
    }

    #[test]
    fn device_states_follow_the_spec_codes() {
        assert_eq!(dev(Some(1), Some(14)).state(), DeviceState::Connected);
        assert_eq!(dev(Some(1), Some(12)).state(), DeviceState::Busy);
        assert_eq!(dev(Some(0), Some(0)).state(), DeviceState::Disconnected);
        assert_eq!(dev(Some(2), Some(24)).state(), DeviceState::NotAdopted);
        assert_eq!(dev(Some(3), Some(30)).state(), DeviceState::HeartbeatMissed);
        assert_eq!(dev(Some(4), Some(40)).state(), DeviceState::Isolated);
        assert_eq!(dev(None, Some(15)).state(), DeviceState::Connected);
        assert_eq!(dev(Some(9), None).state(), DeviceState::Unknown);
        assert_eq!(dev(Some(1), None).label(), "'Loft' (B0-95-75-15-93-44)");
    }

    #[test]
    fn rows_are_read_leniently() {
        let d = DeviceInfo::from_row(
            &json!({"mac": "ac-84-c6-00-00-01", "type": "GATEWAY", "status": "1", "name": ""}),
        )
        .unwrap();
        assert_eq!(d.kind, DeviceKind::Gateway);
        assert_eq!(d.state(), DeviceState::Connected);
        assert_eq!(d.label(), "AC-84-C6-00-00-01");
        let p = WanPort::from_row(&json!({"port": 2, "mode": 0, "status": 1, "internetState": 0}));
        assert_eq!((p.name.as_str(), p.is_wan(), p.up()), ("WAN2", true, false));
        let lan = WanPort::from_row(&json!({"name": "LAN1", "mode": 1, "status": 1}));
        assert!(!lan.is_wan());
    }
}
