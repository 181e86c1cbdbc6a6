//! What the Omada client hands back: sites, SSIDs, operators, portal timeouts, authorised-
//! client records, permission checks, session checks and the settings test's findings. Plain
//! data with the wire shapes the API and the self-test show.

use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use super::{transport, Capabilities, CertificateInfo, ResolvedMode};
use crate::net::Mac;

/// A site: its 24-hex id and its name. When only the id is known (given by the host, no Open
/// API to ask), `name` repeats the id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SiteInfo {
    pub id: String,
    pub name: String,
}

/// An SSID of a site, as the Open API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SsidInfo {
    pub id: String,
    pub name: String,
    /// *Guest Network* is on (clients isolated from private addresses: the portal host needs
    /// an ACL / pre-authentication entry, docs/omada-setup.md).
    pub guest_network: bool,
    /// No Wi-Fi password (`security` 0).
    pub open: bool,
}

/// A hotspot operator, as the Open API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OperatorInfo {
    pub name: String,
    /// Role Administrator (`operatorRoleType` 0); false = Viewer (read only).
    pub administrator: bool,
    /// `selectedSites`: the site ids it may use.
    pub site_ids: Vec<String>,
}

/// A hotspot operator just created for the sidecar. The password is shown once, here.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct NewOperator {
    pub name: String,
    pub password: String,
    pub site_ids: Vec<String>,
}

impl std::fmt::Debug for NewOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewOperator")
            .field("name", &self.name)
            .field("password", &"***")
            .field("site_ids", &self.site_ids)
            .finish()
    }
}

fn ser_opt_minutes<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_u64(d.as_secs() / 60),
        None => s.serialize_none(),
    }
}

/// The Authentication Timeout of one External Portal Server portal: how long an Open API
/// authorisation lasts (the Open API `auth` call carries no duration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortalTimeout {
    pub portal_id: String,
    pub portal_name: String,
    /// `None` when the controller's answer could not be read.
    #[serde(rename = "timeout_minutes", serialize_with = "ser_opt_minutes")]
    pub timeout: Option<Duration>,
}

/// The portal timeouts of one site (settings test), or why they could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SitePortalTimeouts {
    pub site: SiteInfo,
    pub portals: Vec<PortalTimeout>,
    pub error: Option<String>,
}

fn ser_opt_mac<S: Serializer>(v: &Option<Mac>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(m) => s.collect_str(m),
        None => s.serialize_none(),
    }
}

/// One authorised-client record of a site (Hotspot Manager `…/clients` or Open API
/// `…/authed-records`; `AuthClientOpenApiVO`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthRecord {
    pub id: String,
    #[serde(serialize_with = "ser_opt_mac")]
    pub mac: Option<Mac>,
    /// 4 = External Portal Server; 3 voucher, 5 local user, 10 admin… (`AuthClientOpenApiVO`).
    pub auth_type: Option<i64>,
    /// The controller's `valid` flag. It stays true after `end` on real controllers (field
    /// notes §1.9): a valid record still lets the device in until it is disconnected.
    pub valid: bool,
    /// `start` / `end` in ms since the epoch, as the controller reports them.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub ssid: Option<String>,
}

impl AuthRecord {
    /// Made by an external portal server (like this sidecar), not another method.
    pub fn is_external_portal(&self) -> bool {
        self.auth_type == Some(4)
    }

    pub(crate) fn from_row(row: &Value) -> Option<AuthRecord> {
        let id = row.get("id").and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| transport::as_i64(v).map(|n| n.to_string()))
        })?;
        Some(AuthRecord {
            id,
            mac: row
                .get("mac")
                .and_then(Value::as_str)
                .and_then(|m| m.parse().ok()),
            auth_type: row.get("authType").and_then(transport::as_i64),
            valid: row.get("valid").and_then(Value::as_bool).unwrap_or(true),
            start_ms: row.get("start").and_then(transport::as_i64),
            end_ms: row.get("end").and_then(transport::as_i64),
            ssid: row.get("ssid").and_then(Value::as_str).map(str::to_string),
        })
    }
}

/// One permission check on one site, with the controller's own words when it refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessCheck {
    /// `hotspot` or `openapi`.
    pub api: &'static str,
    pub ok: bool,
    pub message: String,
    pub controller_message: Option<String>,
}

/// May the configured credentials use this site? (CONTRACTS: settings test and self-test.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SiteAccess {
    pub site: SiteInfo,
    pub checks: Vec<AccessCheck>,
}

impl SiteAccess {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The failed checks' messages, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.message.clone())
            .collect()
    }
}

/// What a session check found (the monitor's cheap call instead of a fresh login).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionCheck {
    /// `controllerVer` from `/api/info` (None when it did not answer with one).
    pub controller_version: Option<String>,
    /// The operator session answered an authenticated call (false: no session open yet, or
    /// no site known to ask about; nothing was logged in for the check).
    pub hotspot_checked: bool,
    /// The Open API token answered an authenticated call (false: no token held yet).
    pub openapi_checked: bool,
}

/// What `test()` learnt about the controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ControllerInfo {
    pub controller_id: String,
    /// `controllerVer` from `/api/info`, when that answered.
    pub controller_version: Option<String>,
    pub api_version: Option<String>,
    pub mode: ResolvedMode,
    /// Sites visible to the credentials (Open API only; the hotspot API cannot list them).
    pub sites: Vec<SiteInfo>,
    /// The certificate the controller showed (HTTPS only), CONTRACTS §4.
    pub certificate: Option<CertificateInfo>,
    pub capabilities: Capabilities,
    /// Authentication Timeout of each visible site's External Portal Server portals (Open API;
    /// at most the first 20 sites).
    pub portal_timeouts: Vec<SitePortalTimeouts>,
}

impl ControllerInfo {
    /// The fields a settings `PUT` adds to its answer.
    pub fn wire_fields(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("controller_version".into(), json!(self.controller_version));
        m.insert("certificate".into(), json!(self.certificate));
        m.insert("capabilities".into(), json!(self.capabilities));
        m.insert("sites".into(), json!(self.sites));
        m.insert("portal_timeouts".into(), json!(self.portal_timeouts));
        m
    }
}
