//! What the simulated controller holds and how it changes: behaviour switches, operator
//! sessions and Open API tokens, hotspot operators and their site privileges, the
//! authorised-client records, which devices are online, the portals' authentication
//! timeouts, and the request log. Pure state transitions — no HTTP here (`wire.rs` speaks the
//! controller's protocol over them, `control.rs` the `/_sim/` API).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::net::Mac;
use crate::omada::AuthTimeUnit;

/// Most requests kept in the log (oldest dropped first).
pub(super) const MAX_RECORDED: usize = 10_000;

/// How a lost/absent operator session is answered (reference §2.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionExpiry {
    /// HTTP 302 `Location: /{omadacId}/login`.
    #[default]
    Redirect,
    /// HTTP 200 with the HTML login page.
    Html,
    /// HTTP 200 `{"errorCode":-1005,"msg":"Operation forbidden."}`.
    Code,
}

/// A full outage. A bound listener cannot refuse connections, so it is emulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Accept, read the request line, close without an answer (clients see a network error).
    Drop,
    /// Answer every controller request with HTTP 503.
    Http503,
}

impl Serialize for Outage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Outage::Drop => "drop",
            Outage::Http503 => "503",
        })
    }
}

/// Switchable behaviour. `/_sim/behaviour` takes the same names (partial JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Behaviour {
    pub outage: Option<Outage>,
    /// Delay before every controller answer.
    pub latency_ms: u64,
    /// The next N controller requests fail with `fail_status`.
    pub fail_next: u32,
    pub fail_status: u16,
    pub session_expiry: SessionExpiry,
    /// Name of the session cookie set at login and required afterwards.
    pub cookie_name: String,
    /// Unit of `time` in `extPortal/auth` (a relative duration).
    pub time_unit: AuthTimeUnit,
    /// 6.2.10+: `clientIp` required (missing → -41501) and `site` optional.
    pub require_client_ip: bool,
    /// 6.2.10+ as doc 132060's body reads: `originUrl` required (missing → -41501).
    pub require_origin_url: bool,
    /// Refuse every operator session, even one fresh from login (a proxy that strips
    /// cookies): the client must give up, not loop.
    pub reject_sessions: bool,
    /// Every Open API request answers HTTP 500 `-7131 "Controller ID not exist."`, as an OC300
    /// on 6.1.0.19 did (field notes §1.8, [O3]).
    pub openapi_http500: bool,
    /// Every controller request answers HTTP 302 to this base + the path: a cloud connector
    /// pointing at the controller's LAN address (field notes §1.12, TIPAC's rewrite [I4]).
    pub connector_redirect: Option<String>,
    /// The per-key PPSK calls exist (`add-psk`/`delete-psk`: present on 6.3.0.45 [DV-P3],
    /// absent from a local spec served before 6.2 [SPEC-L]). Off: they answer HTTP 404
    /// `-1600`, as an older controller would.
    pub ppsk_per_key_api: bool,
    /// Deleting a PPSK key also drops the devices that joined with it. Whether real
    /// controllers do is unverified (research §1.7); off by default: they stay connected
    /// until kicked, the conservative assumption.
    pub ppsk_delete_kicks: bool,
    /// The Open API app has a read-only role (Viewer): every Open API write on a site
    /// answers `-1005 "Operation forbidden."` [D5].
    pub openapi_read_only: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            outage: None,
            latency_ms: 0,
            fail_next: 0,
            fail_status: 503,
            session_expiry: SessionExpiry::Redirect,
            cookie_name: "TPOMADA_SESSIONID".into(),
            time_unit: AuthTimeUnit::Ms,
            require_client_ip: false,
            require_origin_url: false,
            reject_sessions: false,
            openapi_http500: false,
            connector_redirect: None,
            ppsk_per_key_api: true,
            ppsk_delete_kicks: false,
            openapi_read_only: false,
        }
    }
}

/// Which API authorized a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthApi {
    Hotspot,
    OpenApi,
}

/// A hotspot operator's role (`operatorRoleType` 0 / 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperatorRole {
    /// Read and write (may let guests in and out).
    #[default]
    Administrator,
    /// Read only.
    Viewer,
}

/// A hotspot operator of the simulated controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimOperator {
    pub name: String,
    #[serde(skip)]
    pub password: String,
    pub role: OperatorRole,
    /// Site ids in its Site Privileges (`selectedSites`).
    pub site_ids: Vec<String>,
}

fn ser_display<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_opt_display<T: std::fmt::Display, S: Serializer>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn ser_opt_ms<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_u64(d.as_millis() as u64),
        None => s.serialize_none(),
    }
}

/// One authorization the controller granted (an authorised-client record).
#[derive(Clone, Debug, Serialize)]
pub struct AuthorizedClient {
    /// Record id (24 hex), used by the Hotspot Manager and Open API `disconnect`.
    pub id: String,
    #[serde(serialize_with = "ser_display")]
    pub mac: Mac,
    /// Site name.
    pub site: String,
    pub site_id: String,
    #[serde(serialize_with = "ser_opt_display")]
    pub ap_mac: Option<Mac>,
    #[serde(serialize_with = "ser_opt_display")]
    pub gateway_mac: Option<Mac>,
    pub ssid: Option<String>,
    pub radio_id: Option<u8>,
    pub vid: Option<u16>,
    pub client_ip: Option<String>,
    /// `originUrl` of the `extPortal/auth` body, when it carried one.
    pub origin_url: Option<String>,
    /// `time` as received (hotspot API).
    pub time_raw: Option<u64>,
    /// `time` interpreted in the configured unit (hotspot), or the portal's Authentication
    /// Timeout (Open API: `auth` carries no duration).
    #[serde(rename = "duration_ms", serialize_with = "ser_opt_ms")]
    pub duration: Option<Duration>,
    pub down_kbps: Option<u64>,
    pub up_kbps: Option<u64>,
    /// 4 = External Portal Server (`AuthClientOpenApiVO.authType`).
    pub auth_type: u8,
    #[serde(with = "time::serde::rfc3339")]
    pub authorized_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub via: AuthApi,
    /// False once disconnected/unauthorized.
    pub valid: bool,
}

impl AuthorizedClient {
    /// Does this record still let the device in? A hotspot (`extPortal/auth`) grant is not
    /// ended by the controller at its end: access continues until it is disconnected
    /// (EllaFi firmware "Omada does not auto-kick on expiry" [I2]; Essential bug report, the
    /// client "may retain internet access until explicitly disconnected" [O6]). An Open API
    /// grant lasts the portal's Authentication Timeout.
    pub fn in_force(&self, now: OffsetDateTime) -> bool {
        self.valid
            && match self.via {
                AuthApi::Hotspot => true,
                AuthApi::OpenApi => self.expires_at.is_none_or(|e| now < e),
            }
    }

    /// The `valid` flag the controller shows: it stays true after `end` on hotspot grants
    /// ([O6]).
    pub(super) fn shown_valid(&self, now: OffsetDateTime) -> bool {
        self.in_force(now)
    }
}

/// What a device joined with: the PPSK profile's name, the key's name and its VLAN (all
/// `None` on an SSID without PPSK).
pub(super) type Joined = (Option<String>, Option<String>, Option<u16>);

/// One key of a PPSK profile (`PSKVO`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimPsk {
    pub name: String,
    pub psk: String,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub vlan: Option<u16>,
}

/// A PPSK profile of a site (`PPSKProfileVO`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimPpskProfile {
    pub id: String,
    pub site_id: String,
    pub name: String,
    /// 0 PPSK without RADIUS, 1 with the built-in RADIUS server.
    pub kind: u8,
    /// SSID names bound to it (their Security is PPSK).
    pub ssids: Vec<String>,
    pub keys: Vec<SimPsk>,
    /// `expiration.type` (0 never).
    pub expiration_type: u8,
}

/// A wireless client connected to a site.
#[derive(Clone, Debug, Serialize)]
pub struct SimWifiClient {
    #[serde(serialize_with = "ser_display")]
    pub mac: Mac,
    pub site_id: String,
    pub ssid: String,
    #[serde(serialize_with = "ser_opt_display")]
    pub ap_mac: Option<Mac>,
    pub name: Option<String>,
    pub ip: String,
    /// The PPSK profile and key it joined with (PPSK SSIDs).
    pub ppsk_profile: Option<String>,
    pub key_name: Option<String>,
    /// The key's VLAN, if it had one.
    pub vlan: Option<u16>,
    /// The password the device keeps, to rejoin after a kick (never shown on the wire).
    #[serde(skip)]
    pub psk: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub connected_at: OffsetDateTime,
}

/// What kind of device (`DeviceInfo.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimDeviceKind {
    Ap,
    Gateway,
    Switch,
}

/// A device state as the spec's `status` / `detailStatus` pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimDeviceState {
    Connected,
    Disconnected,
    HeartbeatMissed,
    Isolated,
    Pending,
    Adopting,
    AdoptFailed,
    ManagedByOthers,
    Provisioning,
    Upgrading,
    Rebooting,
}

impl SimDeviceState {
    /// (`status`, `detailStatus`) per `DeviceInfo` [SPEC-C].
    pub fn codes(self) -> (u8, u8) {
        match self {
            SimDeviceState::Connected => (1, 14),
            SimDeviceState::Disconnected => (0, 0),
            SimDeviceState::HeartbeatMissed => (3, 30),
            SimDeviceState::Isolated => (4, 40),
            SimDeviceState::Pending => (2, 20),
            SimDeviceState::Adopting => (2, 22),
            SimDeviceState::AdoptFailed => (2, 24),
            SimDeviceState::ManagedByOthers => (2, 26),
            SimDeviceState::Provisioning => (1, 10),
            SimDeviceState::Upgrading => (1, 12),
            SimDeviceState::Rebooting => (1, 13),
        }
    }
}

/// A device of a site (AP, gateway, switch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimDevice {
    /// Site name.
    pub site: String,
    #[serde(serialize_with = "ser_display")]
    pub mac: Mac,
    pub name: String,
    pub kind: SimDeviceKind,
    pub model: String,
    pub state: SimDeviceState,
    /// An AP in the site's WLAN group (it broadcasts the site's SSIDs); false: another group.
    pub serves_ssids: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
}

/// One port of a gateway's WAN status (`GatewayWanStatusEntity`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimWanPort {
    pub port: u8,
    pub name: String,
    /// 0 WAN, 1 LAN.
    pub mode: u8,
    pub link: bool,
    pub internet: bool,
}

/// One request as the simulator received it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// `Csrf-Token` header value.
    pub csrf_token: Option<String>,
    /// `Cookie` header value.
    pub cookie: Option<String>,
    /// `Authorization` header value.
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// Body parsed as JSON, when it was JSON.
    pub body: Option<Value>,
    /// Body as text, when it was not empty and not JSON.
    pub body_text: Option<String>,
    /// Status the simulator answered with.
    pub status: u16,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// What happened so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub requests: u64,
    pub logins: u64,
    pub login_failures: u64,
    pub auths: u64,
    pub auth_rejections: u64,
    /// Controller requests refused for a missing/expired session (any style).
    pub session_rejections: u64,
    /// Requests refused because the operator or app may not do that on that site.
    pub permission_rejections: u64,
    pub disconnects: u64,
    pub unauths: u64,
    /// Open API `unauth` answered "client does not exist" (offline device or no record).
    pub unauth_not_exist: u64,
    pub tokens_minted: u64,
    pub token_rejections: u64,
    pub operators_created: u64,
    pub psks_added: u64,
    pub psks_deleted: u64,
    /// `delete-psk` refused with `-34044` (the profile's last key).
    pub last_key_refusals: u64,
    pub kicks: u64,
    pub injected_failures: u64,
    pub outage_503: u64,
    pub dropped_connections: u64,
}

/// An operator session.
#[derive(Clone, Debug)]
pub(super) struct Session {
    pub csrf: String,
    pub operator: String,
}

pub(super) struct Mutable {
    pub behaviour: Behaviour,
    /// cookie value → session.
    pub sessions: HashMap<String, Session>,
    /// access token → expiry.
    pub tokens: HashMap<String, Instant>,
    /// Every authorization, in order (only ever appended; `reset` starts over).
    pub records: Vec<AuthorizedClient>,
    /// (MAC, site id) → positions in `records`, so an authorization does not scan them all.
    pub by_client: HashMap<(Mac, String), Vec<usize>>,
    pub operators: Vec<SimOperator>,
    /// Devices not connected right now (Open API `unauth` cannot reach them).
    pub offline: HashSet<Mac>,
    /// Site id → the Authentication Timeout of its External Portal Server portal.
    pub portal_timeouts: HashMap<String, Duration>,
    pub requests: VecDeque<RecordedRequest>,
    pub counters: Counters,
    pub ppsk: Vec<SimPpskProfile>,
    pub wifi: Vec<SimWifiClient>,
    pub devices: Vec<SimDevice>,
    /// Gateway MAC → its WAN status ports.
    pub wans: HashMap<Mac, Vec<SimWanPort>>,
}

impl Mutable {
    pub(super) fn new(
        behaviour: Behaviour,
        operators: Vec<SimOperator>,
        portal_timeouts: HashMap<String, Duration>,
    ) -> Self {
        Self {
            behaviour,
            sessions: HashMap::new(),
            tokens: HashMap::new(),
            records: Vec::new(),
            by_client: HashMap::new(),
            operators,
            offline: HashSet::new(),
            portal_timeouts,
            requests: VecDeque::new(),
            counters: Counters::default(),
            ppsk: Vec::new(),
            wifi: Vec::new(),
            devices: Vec::new(),
            wans: HashMap::new(),
        }
    }

    /// The profile a site's SSID is bound to, if its Security is PPSK.
    pub(super) fn profile_of_ssid(&self, site_id: &str, ssid: &str) -> Option<&SimPpskProfile> {
        self.ppsk
            .iter()
            .find(|p| p.site_id == site_id && p.ssids.iter().any(|s| s == ssid))
    }

    /// A device joins an SSID: on a PPSK SSID its password must be one of the profile's
    /// keys (and the key's MAC, when bound, its own) — otherwise the 4-way handshake fails.
    /// Returns the key's name (PPSK) and VLAN.
    pub(super) fn try_join(
        &self,
        site_id: &str,
        ssid: &str,
        mac: Mac,
        psk: Option<&str>,
    ) -> Result<Joined, String> {
        let Some(profile) = self.profile_of_ssid(site_id, ssid) else {
            return Ok((None, None, None));
        };
        let psk = psk.ok_or("a PPSK SSID needs a password")?;
        let key = profile
            .keys
            .iter()
            .find(|k| {
                k.psk == psk
                    && k.mac
                        .as_deref()
                        .is_none_or(|m| m.parse::<Mac>().ok() == Some(mac))
            })
            .ok_or("4-way handshake failed: no key of the profile has this password")?;
        Ok((Some(profile.name.clone()), Some(key.name.clone()), key.vlan))
    }

    /// A kicked device leaves and tries to join again with the password it has: back in
    /// when a key still takes it, gone otherwise. True when it is back.
    pub(super) fn kick(&mut self, site_id: &str, mac: Mac) -> Option<bool> {
        let i = self
            .wifi
            .iter()
            .position(|c| c.mac == mac && c.site_id == site_id)?;
        let mut c = self.wifi.remove(i);
        self.counters.kicks += 1;
        match self.try_join(site_id, &c.ssid, mac, c.psk.as_deref()) {
            Ok((profile, key, vlan)) => {
                c.ppsk_profile = profile;
                c.key_name = key;
                c.vlan = vlan;
                c.connected_at = OffsetDateTime::now_utc();
                self.wifi.push(c);
                Some(true)
            }
            Err(_) => Some(false),
        }
    }

    pub(super) fn push_record(&mut self, record: AuthorizedClient) {
        self.by_client
            .entry((record.mac, record.site_id.clone()))
            .or_default()
            .push(self.records.len());
        self.records.push(record);
    }

    /// End this device's records on this site that still let it in; true when there was one.
    pub(super) fn invalidate_live(&mut self, mac: Mac, site_id: &str, now: OffsetDateTime) -> bool {
        let mut found = false;
        if let Some(positions) = self.by_client.get(&(mac, site_id.to_owned())) {
            for &i in positions {
                let r = &mut self.records[i];
                if r.in_force(now) {
                    r.valid = false;
                    found = true;
                }
            }
        }
        found
    }

    /// Disconnect one record by id on a site (works on an expired-but-valid one, [I2]).
    pub(super) fn disconnect(&mut self, site_id: &str, record_id: &str) -> bool {
        match self
            .records
            .iter_mut()
            .find(|r| r.id == record_id && r.site_id == site_id && r.valid)
        {
            Some(r) => {
                r.valid = false;
                self.counters.disconnects += 1;
                true
            }
            None => false,
        }
    }

    pub(super) fn operator(&self, name: &str) -> Option<&SimOperator> {
        self.operators.iter().find(|o| o.name == name)
    }

    /// The records of a site for a list answer: searched (`searchKey`, fuzzy over the MAC in
    /// hyphen and colon spelling, the SSID and the client IP, case-insensitive) and sorted
    /// (`sorts.end` `asc`/`desc`; otherwise newest first).
    pub(super) fn site_records(
        &self,
        site_id: &str,
        search: Option<&str>,
        end_order: Option<&str>,
    ) -> Vec<&AuthorizedClient> {
        let key = search.map(|s| s.trim().to_ascii_lowercase());
        let mut rows: Vec<&AuthorizedClient> = self
            .records
            .iter()
            .rev()
            .filter(|r| r.site_id == site_id)
            .filter(|r| match &key {
                None => true,
                Some(k) if k.is_empty() => true,
                Some(k) => {
                    r.mac.to_string().to_ascii_lowercase().contains(k)
                        || r.mac.colon_lower().contains(k)
                        || r.ssid
                            .as_deref()
                            .is_some_and(|s| s.to_ascii_lowercase().contains(k))
                        || r.client_ip.as_deref().is_some_and(|s| s.contains(k))
                }
            })
            .collect();
        let end = |r: &AuthorizedClient| r.expires_at.unwrap_or(r.authorized_at);
        match end_order {
            Some("desc") => rows.sort_by_key(|r| std::cmp::Reverse(end(r))),
            Some("asc") => rows.sort_by_key(|r| end(r)),
            _ => {}
        }
        rows
    }
}
