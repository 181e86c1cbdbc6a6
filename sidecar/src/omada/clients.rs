//! The clients connected to a site's Wi-Fi (Open API): listing them per SSID, kicking them at
//! check-out (issue 18 item 6), and letting a connected device in by its MAC alone (issue 14
//! item 4).
//!
//! - **List**: `GET …/sites/{siteId}/clients?page&pageSize&filters.wireless=true&searchKey=<ssid>`
//!   (`OpenApiClientInfo`; spec `ClientAPI.GetGridActiveClients`). `searchKey` is a *fuzzy*
//!   match over name, MAC, IP, SSID, AP…, so the SSID (or MAC) is compared exactly here.
//!   A client reports its PPSK **profile** (`ppskProfileName`), never which key it used, so
//!   "the devices of this booking" cannot be picked out exactly (research §1.7).
//! - **Kick**: `POST …/clients/{mac}/reconnect` or `…/disconnect` (spec: `-41011` "This client
//!   does not exist.", `-41025`/`-41027` for wired clients). Never `block`: a block is a
//!   persistent per-MAC ban that would shut out a later guest whose phone happens to use that
//!   MAC. A kicked device whose key was deleted cannot rejoin; one whose key is still valid
//!   rejoins within seconds. Whether deleting a key alone drops its devices is **not known**
//!   (no source either way): the sidecar assumes they stay connected until kicked.
//! - **Authorise a MAC**: look the device up among the connected clients, require it on one of
//!   the unit's SSIDs, then `POST …/hotspot/clients/{MAC}/auth` (spec: `-41010` "This client
//!   does not exist."). The hotspot operator API cannot do this (it has no client lookup and
//!   only admits devices that opened the portal, research §2.1), so without Open API
//!   credentials the answer is [`MacAuthError::NeedsOpenApi`].

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::error::OmadaError;
use super::openapi::FORBIDDEN;
use super::{transport, OmadaClient, SiteInfo};
use crate::net::Mac;

/// `-41011` on reconnect/disconnect: the client is not connected (any more).
const NO_CLIENT: i64 = -41011;
/// `-41010` on `hotspot/clients/{mac}/auth`: the controller has no such client.
const AUTH_NO_CLIENT: i64 = -41010;
/// `-41025` / `-41027`: reconnect / disconnect of a wired client.
const WIRED: [i64; 2] = [-41025, -41027];

fn ser_mac<S: Serializer>(m: &Mac, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(m)
}

fn ser_opt_mac<S: Serializer>(m: &Option<Mac>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.collect_str(m),
        None => s.serialize_none(),
    }
}

/// A client the controller lists as connected (`OpenApiClientInfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectedClient {
    #[serde(serialize_with = "ser_mac")]
    pub mac: Mac,
    /// The alias, else the host name the device gave.
    pub name: Option<String>,
    pub ssid: Option<String>,
    #[serde(serialize_with = "ser_opt_mac")]
    pub ap_mac: Option<Mac>,
    pub ip: Option<String>,
    pub wireless: bool,
    /// `authStatus`: 0 connected (no portal), 1 pending (on the portal), 2 authorised, 3
    /// authentication-free.
    pub auth_status: Option<i64>,
    /// The SSID's PPSK profile name, when it is a PPSK SSID (newer controllers).
    pub ppsk_profile: Option<String>,
    pub last_seen_ms: Option<i64>,
}

impl ConnectedClient {
    fn from_row(row: &Value) -> Option<ConnectedClient> {
        let text = |k: &str| {
            row.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Some(ConnectedClient {
            mac: text("mac")?.parse().ok()?,
            name: text("name").or_else(|| text("hostName")),
            ssid: text("ssid"),
            ap_mac: text("apMac").and_then(|m| m.parse().ok()),
            ip: text("ip"),
            wireless: row.get("wireless").and_then(Value::as_bool).unwrap_or(true),
            auth_status: row.get("authStatus").and_then(transport::as_i64),
            ppsk_profile: text("ppskProfileName"),
            last_seen_ms: row.get("lastSeen").and_then(transport::as_i64),
        })
    }

    fn active(row: &Value) -> bool {
        row.get("active").and_then(Value::as_bool).unwrap_or(true)
    }
}

/// How to push a device off the Wi-Fi. Both make it associate again; neither bans it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kick {
    /// `POST …/clients/{mac}/reconnect` (the UI's "Reconnect").
    Reconnect,
    /// `POST …/clients/{mac}/disconnect`.
    Disconnect,
}

impl Kick {
    fn path(self) -> &'static str {
        match self {
            Kick::Reconnect => "reconnect",
            Kick::Disconnect => "disconnect",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KickOutcome {
    Kicked,
    /// `-41011`: not connected (any more): nothing to do.
    NotConnected,
    /// A wired client: it cannot be kicked from the Wi-Fi.
    Wired,
}

/// What kicking an SSID's clients did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KickReport {
    /// Kicked.
    pub kicked: Vec<String>,
    /// Gone by the time of the kick.
    pub not_connected: Vec<String>,
    /// Refused, with the controller's words (e.g. `-1005`: the app lacks Site Clients
    /// Manager Modify).
    pub failed: Vec<(String, String)>,
}

/// Why a device could not be let in by its MAC. Each variant is a different answer for the
/// host (CONTRACTS: clear errors, nothing changed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MacAuthError {
    /// Hotspot-operator mode only: the controller admits a device only through the portal.
    #[error("Authorising a device by its MAC needs the controller's Open API credentials (Settings › Omada: client ID and secret). In {mode} mode with operator credentials only, the controller admits only devices that open the portal")]
    NeedsOpenApi { mode: &'static str },
    /// The controller does not list the device as connected: it must join the Wi-Fi first.
    #[error("device {mac} is not connected to the guest Wi-Fi: connect it to the guest Wi-Fi first, then try again")]
    NotConnected { mac: String },
    /// Connected, but to another network than the unit's.
    #[error("device {mac} is connected to {ssid:?}, not to this unit's Wi-Fi ({expected}): connect it to the unit's Wi-Fi first, then try again")]
    OtherNetwork {
        mac: String,
        ssid: String,
        expected: String,
    },
    #[error(transparent)]
    Omada(#[from] OmadaError),
}

impl MacAuthError {
    /// A stable snake_case name for API error codes.
    pub fn kind(&self) -> &'static str {
        match self {
            MacAuthError::NeedsOpenApi { .. } => "mac_auth_needs_open_api",
            MacAuthError::NotConnected { .. } => "device_not_connected",
            MacAuthError::OtherNetwork { .. } => "device_on_other_network",
            MacAuthError::Omada(e) => e.kind(),
        }
    }
}

/// `-1005` on client calls: the app's role lacks Site Clients Manager.
fn clients_forbidden(e: OmadaError, site: &SiteInfo, right: &str) -> OmadaError {
    match e {
        OmadaError::Rejected { code, message } if code == FORBIDDEN => {
            OmadaError::Misconfigured(format!(
                "the Open API app may not {right} on site {:?} (errorCode {code}: {message}): give it the role Administrator (Site Clients Manager) under Settings › Platform Integration › Open API",
                site.name
            ))
        }
        other => other,
    }
}

/// Map the `auth` call's answer: `-41010` means the controller has no such client.
pub(super) fn auth_error(e: OmadaError, mac: Mac) -> MacAuthError {
    match e {
        OmadaError::Rejected { code, .. } if code == AUTH_NO_CLIENT => MacAuthError::NotConnected {
            mac: mac.to_string(),
        },
        other => MacAuthError::Omada(other),
    }
}

impl OmadaClient {
    /// The active clients of a site matching `search` (fuzzy, exact matching is the caller's).
    async fn active_clients(
        &self,
        site: &SiteInfo,
        search: &str,
        wireless_only: bool,
    ) -> Result<Vec<ConnectedClient>, OmadaError> {
        let o = self.open_api("listing connected clients")?;
        let mut extra = vec![("searchKey", search)];
        if wireless_only {
            extra.push(("filters.wireless", "true"));
        }
        let rows = o
            .grid(
                &self.inner.common,
                self.deadline(),
                "openapi clients",
                &["sites", &site.id, "clients"],
                &extra,
            )
            .await
            .map_err(|e| clients_forbidden(e, site, "list clients"))?;
        Ok(rows
            .iter()
            .filter(|r| ConnectedClient::active(r))
            .filter_map(ConnectedClient::from_row)
            .collect())
    }

    /// The wireless clients connected to any of `ssids` on `site` (name or id), SSIDs
    /// compared exactly. Each MAC once.
    pub async fn connected_clients(
        &self,
        site: &str,
        ssids: &[String],
    ) -> Result<Vec<ConnectedClient>, OmadaError> {
        let site = self.resolve_site(site).await?;
        let mut out: Vec<ConnectedClient> = Vec::new();
        for ssid in ssids {
            for c in self.active_clients(&site, ssid, true).await? {
                if c.ssid.as_deref() == Some(ssid.as_str()) && !out.iter().any(|x| x.mac == c.mac) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// The device with this MAC, when the controller lists it as connected.
    pub async fn find_client(
        &self,
        site: &str,
        mac: Mac,
    ) -> Result<Option<ConnectedClient>, OmadaError> {
        let site = self.resolve_site(site).await?;
        Ok(self
            .active_clients(&site, &mac.to_string(), false)
            .await?
            .into_iter()
            .find(|c| c.mac == mac))
    }

    /// Push one device off the Wi-Fi (never `block`). A device that is not connected is
    /// [`KickOutcome::NotConnected`], not an error.
    pub async fn kick_client(
        &self,
        site: &str,
        mac: Mac,
        how: Kick,
    ) -> Result<KickOutcome, OmadaError> {
        let o = self.open_api("disconnecting a device")?;
        let site = self.resolve_site(site).await?;
        let c = &self.inner.common;
        let key = mac.to_string();
        let result = o
            .call(c, self.deadline(), "openapi client kick", |id| {
                c.http.post(c.url(&[
                    "openapi",
                    "v1",
                    id,
                    "sites",
                    &site.id,
                    "clients",
                    &key,
                    how.path(),
                ]))
            })
            .await;
        match result {
            Ok(_) => {
                tracing::info!(site = %site.name, client = %key, how = how.path(), "client pushed off the Wi-Fi");
                Ok(KickOutcome::Kicked)
            }
            Err(OmadaError::Rejected { code, .. }) if code == NO_CLIENT => {
                Ok(KickOutcome::NotConnected)
            }
            Err(OmadaError::Rejected { code, .. }) if WIRED.contains(&code) => {
                Ok(KickOutcome::Wired)
            }
            Err(e) => Err(clients_forbidden(e, &site, "disconnect clients")),
        }
    }

    /// Kick every wireless client on the unit's SSIDs (check-out of a password-mode unit,
    /// after its key was deleted): devices whose key is still valid rejoin, the departed
    /// guest's cannot. The caller decides whom to spare (e.g. by `ppsk_profile`) by calling
    /// [`connected_clients`](Self::connected_clients) and
    /// [`kick_client`](Self::kick_client) itself; this kicks them all. Listing failures are
    /// errors; per-device refusals are reported in [`KickReport::failed`].
    pub async fn kick_ssid_clients(
        &self,
        site: &str,
        ssids: &[String],
        how: Kick,
    ) -> Result<KickReport, OmadaError> {
        let clients = self.connected_clients(site, ssids).await?;
        let mut report = KickReport::default();
        for c in clients {
            let mac = c.mac.to_string();
            match self.kick_client(site, c.mac, how).await {
                Ok(KickOutcome::Kicked) => report.kicked.push(mac),
                Ok(_) => report.not_connected.push(mac),
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => report.failed.push((mac, e.to_string())),
            }
        }
        Ok(report)
    }

    /// Let a device in by its MAC alone (issue 14 item 4): it must be connected to one of the
    /// unit's `ssids` (any SSID when empty). Needs the Open API; the grant is an Open API
    /// grant (it lasts the portal's Authentication Timeout, and the controller records it as
    /// an admin authorisation, probably `authType` 10 — unverified).
    pub async fn authorize_connected_mac(
        &self,
        site: &str,
        mac: Mac,
        ssids: &[String],
    ) -> Result<ConnectedClient, MacAuthError> {
        let Some(o) = self.inner.openapi.as_ref() else {
            return Err(MacAuthError::NeedsOpenApi {
                mode: "hotspot-operator",
            });
        };
        let site_info = self.resolve_site(site).await?;
        let Some(client) = self.find_client(&site_info.id, mac).await? else {
            return Err(MacAuthError::NotConnected {
                mac: mac.to_string(),
            });
        };
        match client.ssid.as_deref() {
            Some(s) if !ssids.is_empty() && !ssids.iter().any(|x| x == s) => {
                return Err(MacAuthError::OtherNetwork {
                    mac: mac.to_string(),
                    ssid: s.to_string(),
                    expected: ssids.join(", "),
                });
            }
            None if !client.wireless && !ssids.is_empty() => {
                return Err(MacAuthError::OtherNetwork {
                    mac: mac.to_string(),
                    ssid: "a wired port".to_string(),
                    expected: ssids.join(", "),
                });
            }
            _ => {}
        }
        o.authorize(&self.inner.common, &site_info.id, mac, self.deadline())
            .await
            .map_err(|e| auth_error(clients_forbidden(e, &site_info, "authorise clients"), mac))?;
        tracing::info!(site = %site_info.name, client = %mac, "device authorised by its MAC");
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_rows_are_read_leniently() {
        let c = ConnectedClient::from_row(&json!({
            "mac": "aa:bb:cc:00:11:22", "hostName": "tv", "ssid": "Guest", "apMac": "B0-95-75-15-93-44",
            "authStatus": "0", "wireless": true, "ppskProfileName": "Rental", "lastSeen": 1772337826726i64
        }))
        .unwrap();
        assert_eq!(c.mac.to_string(), "AA-BB-CC-00-11-22");
        assert_eq!(c.name.as_deref(), Some("tv"));
        assert_eq!(c.auth_status, Some(0));
        assert_eq!(c.ppsk_profile.as_deref(), Some("Rental"));
        assert!(ConnectedClient::from_row(&json!({"mac": "nope"})).is_none());
        assert!(!ConnectedClient::active(&json!({"active": false})));
    }

    #[test]
    fn auth_says_connect_first_for_an_unknown_client() {
        let mac: Mac = "AA-BB-CC-00-11-22".parse().unwrap();
        let e = auth_error(
            OmadaError::Rejected {
                code: -41010,
                message: "This client does not exist.".into(),
            },
            mac,
        );
        assert_eq!(e.kind(), "device_not_connected");
        assert!(e
            .to_string()
            .contains("connect it to the guest Wi-Fi first"));
        let other = auth_error(
            OmadaError::Rejected {
                code: -41009,
                message: "Failed to authorize this client.".into(),
            },
            mac,
        );
        assert!(matches!(other, MacAuthError::Omada(_)));
    }
}
