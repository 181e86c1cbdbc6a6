//! The simulator's own control API under `/_sim/` (no auth, same listener): read what it
//! received and holds, switch behaviours, mark devices online/offline, set a portal's
//! authentication timeout, add operators. Used by out-of-process tests (Python) and scripts;
//! Rust tests call the same operations on [`OmadaSim`].

use std::time::Duration;

use http::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::state::{Behaviour, OperatorRole, Outage, SessionExpiry, SimDeviceState, SimPsk};
use super::wire::{json_response, query_param};
use super::OmadaSim;
use crate::net::Mac;
use crate::omada::AuthTimeUnit;
use crate::serve::Body;

/// A partial behaviour change, as `POST /_sim/behaviour` takes it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourPatch {
    /// `false`/`null`/`"off"`, `true`/`"drop"`, `"503"`.
    #[serde(default)]
    pub outage: Option<Value>,
    pub latency_ms: Option<u64>,
    pub fail_next: Option<u32>,
    pub fail_status: Option<u16>,
    pub session_expiry: Option<SessionExpiry>,
    /// `true`: forget every operator session and expire every Open API token now.
    pub expire_sessions: Option<bool>,
    pub cookie_name: Option<String>,
    pub time_unit: Option<AuthTimeUnit>,
    pub require_client_ip: Option<bool>,
    pub require_origin_url: Option<bool>,
    pub reject_sessions: Option<bool>,
    pub openapi_http500: Option<bool>,
    /// A LAN base URL (`https://192.168.0.2:443`), or `""`/`null` for off.
    #[serde(default)]
    pub connector_redirect: Option<Value>,
    pub ppsk_per_key_api: Option<bool>,
    pub ppsk_delete_kicks: Option<bool>,
    pub openapi_read_only: Option<bool>,
}

pub(super) fn parse_outage(v: &Value) -> Result<Option<Outage>, String> {
    match v {
        Value::Null | Value::Bool(false) => Ok(None),
        Value::Bool(true) => Ok(Some(Outage::Drop)),
        Value::Number(n) if n.as_u64() == Some(503) => Ok(Some(Outage::Http503)),
        Value::String(s) => match s.as_str() {
            "off" | "none" | "" => Ok(None),
            "drop" => Ok(Some(Outage::Drop)),
            "503" | "http503" => Ok(Some(Outage::Http503)),
            other => Err(format!("unknown outage mode {other:?} (off, drop, 503)")),
        },
        other => Err(format!("unknown outage mode {other}")),
    }
}

/// Apply a patch to a behaviour (validation first; nothing changes on error).
pub(super) fn apply_patch(b: &mut Behaviour, patch: &BehaviourPatch) -> Result<(), String> {
    let outage = patch.outage.as_ref().map(parse_outage).transpose()?;
    if let Some(name) = &patch.cookie_name {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err("cookie_name must be a token like TPOMADA_SESSIONID".into());
        }
    }
    let redirect = match &patch.connector_redirect {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.is_empty() => Some(None),
        Some(Value::String(s)) => match url::Url::parse(s) {
            Ok(u) if u.has_host() => Some(Some(s.clone())),
            _ => {
                return Err("connector_redirect must be a URL like https://192.168.0.2:443".into())
            }
        },
        Some(other) => return Err(format!("connector_redirect must be a URL, not {other}")),
    };
    if let Some(o) = outage {
        b.outage = o;
    }
    if let Some(v) = patch.latency_ms {
        b.latency_ms = v;
    }
    if let Some(v) = patch.fail_next {
        b.fail_next = v;
    }
    if let Some(v) = patch.fail_status {
        b.fail_status = v;
    }
    if let Some(v) = patch.session_expiry {
        b.session_expiry = v;
    }
    if let Some(v) = &patch.cookie_name {
        b.cookie_name = v.clone();
    }
    if let Some(v) = patch.time_unit {
        b.time_unit = v;
    }
    if let Some(v) = patch.require_client_ip {
        b.require_client_ip = v;
    }
    if let Some(v) = patch.require_origin_url {
        b.require_origin_url = v;
    }
    if let Some(v) = patch.reject_sessions {
        b.reject_sessions = v;
    }
    if let Some(v) = patch.openapi_http500 {
        b.openapi_http500 = v;
    }
    if let Some(v) = redirect {
        b.connector_redirect = v;
    }
    if let Some(v) = patch.ppsk_per_key_api {
        b.ppsk_per_key_api = v;
    }
    if let Some(v) = patch.ppsk_delete_kicks {
        b.ppsk_delete_kicks = v;
    }
    if let Some(v) = patch.openapi_read_only {
        b.openapi_read_only = v;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PpskProfilePatch {
    /// Site name or id.
    site: String,
    name: String,
    #[serde(default)]
    ssids: Vec<String>,
    #[serde(default)]
    keys: Vec<SimPsk>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinPatch {
    site: String,
    ssid: String,
    mac: String,
    #[serde(default)]
    psk: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevicePatch {
    mac: String,
    #[serde(default)]
    state: Option<SimDeviceState>,
    #[serde(default)]
    serves_ssids: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WanPatch {
    gateway: String,
    #[serde(default = "wan1")]
    port: String,
    link: bool,
    #[serde(default)]
    internet: Option<bool>,
}

fn wan1() -> String {
    "WAN1".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientPatch {
    mac: String,
    online: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortalPatch {
    /// Site name or id.
    site: String,
    timeout_minutes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorPatch {
    name: String,
    password: String,
    #[serde(default)]
    role: OperatorRole,
    /// Site names or ids.
    sites: Vec<String>,
}

fn bad(e: impl std::fmt::Display) -> Response<Body> {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()}))
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Box<Response<Body>>> {
    serde_json::from_slice(if body.is_empty() { b"{}" } else { body }).map_err(|e| Box::new(bad(e)))
}

pub(super) fn control(
    sim: &OmadaSim,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Response<Body> {
    let to_json = |v: serde_json::Result<Value>| v.unwrap_or(Value::Null);
    let okj = |v: Value| json_response(StatusCode::OK, &v);
    match (method, path.trim_end_matches('/')) {
        (&Method::GET, "/_sim/requests") => okj(to_json(serde_json::to_value(sim.requests()))),
        (&Method::GET, "/_sim/clients") => {
            let all = query_param(query, "all").is_some_and(|v| v == "1" || v == "true");
            let list = if all {
                sim.auth_records()
            } else {
                sim.authorized()
            };
            okj(to_json(serde_json::to_value(list)))
        }
        (&Method::POST, "/_sim/client") => {
            let p: ClientPatch = match parse(body) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            match p.mac.parse::<Mac>() {
                Ok(mac) => {
                    sim.set_client_online(mac, p.online);
                    okj(json!({"mac": mac.to_string(), "online": p.online}))
                }
                Err(_) => bad("mac is not a MAC address"),
            }
        }
        (&Method::POST, "/_sim/portal_timeout") => {
            let p: PortalPatch = match parse(body) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            match sim.set_portal_timeout(&p.site, Duration::from_secs(p.timeout_minutes * 60)) {
                Ok(()) => okj(json!({"site": p.site, "timeout_minutes": p.timeout_minutes})),
                Err(e) => bad(e),
            }
        }
        (&Method::GET, "/_sim/operators") => okj(to_json(serde_json::to_value(sim.operators()))),
        (&Method::POST, "/_sim/operators") => {
            let p: OperatorPatch = match parse(body) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            let sites: Vec<&str> = p.sites.iter().map(String::as_str).collect();
            match sim.add_operator(&p.name, &p.password, p.role, &sites) {
                Ok(()) => okj(json!({"name": p.name})),
                Err(e) => bad(e),
            }
        }
        (&Method::GET, "/_sim/ppsk_profiles") => {
            okj(to_json(serde_json::to_value(sim.ppsk_profiles())))
        }
        (&Method::POST, "/_sim/ppsk_profiles") => {
            let p: PpskProfilePatch = match parse(body) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            let ssids: Vec<&str> = p.ssids.iter().map(String::as_str).collect();
            match sim.add_ppsk_profile(&p.site, &p.name, &ssids, p.keys) {
                Ok(id) => okj(json!({"id": id})),
                Err(e) => bad(e),
            }
        }
        (&Method::GET, "/_sim/wifi") => okj(to_json(serde_json::to_value(sim.wifi_clients()))),
        (&Method::POST, "/_sim/wifi") => {
            let p: JoinPatch = match parse(body) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            let Ok(mac) = p.mac.parse::<Mac>() else {
                return bad("mac is not a MAC address");
            };
            match sim.join_wifi(&p.site, &p.ssid, mac, p.psk.as_deref()) {
                Ok(key) => okj(json!({"mac": mac.to_string(), "key": key})),
                Err(e) => json_response(StatusCode::CONFLICT, &json!({"error": e})),
            }
        }
        (&Method::GET, "/_sim/devices") => okj(to_json(serde_json::to_value(sim.devices()))),
        (&Method::POST, "/_sim/device") => {
            let p: DevicePatch = match parse(body) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            let Ok(mac) = p.mac.parse::<Mac>() else {
                return bad("mac is not a MAC address");
            };
            let mut result = Ok(());
            if let Some(state) = p.state {
                result = sim.set_device_state(mac, state);
            }
            if let (Ok(()), Some(serves)) = (&result, p.serves_ssids) {
                result = sim.set_ap_serves_ssids(mac, serves);
            }
            match result {
                Ok(()) => okj(json!({"mac": mac.to_string()})),
                Err(e) => bad(e),
            }
        }
        (&Method::POST, "/_sim/wan") => {
            let p: WanPatch = match parse(body) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            let Ok(mac) = p.gateway.parse::<Mac>() else {
                return bad("gateway is not a MAC address");
            };
            let internet = p.internet.unwrap_or(p.link);
            match sim.set_wan(mac, &p.port, p.link, internet) {
                Ok(()) => okj(
                    json!({"gateway": mac.to_string(), "port": p.port, "link": p.link, "internet": internet && p.link}),
                ),
                Err(e) => bad(e),
            }
        }
        (&Method::GET, "/_sim/counters") => okj(to_json(serde_json::to_value(sim.counters()))),
        (&Method::GET, "/_sim/behaviour") => okj(to_json(serde_json::to_value(sim.behaviour()))),
        (&Method::POST, "/_sim/behaviour") => {
            let patch: BehaviourPatch = match parse(body) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            match sim.apply(patch) {
                Ok(b) => okj(to_json(serde_json::to_value(b))),
                Err(e) => bad(e),
            }
        }
        (&Method::POST, "/_sim/reset") => {
            sim.reset();
            okj(json!({"reset": true}))
        }
        (&Method::GET, "/_sim/info") => okj(sim.info_json()),
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "unknown simulator control path"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_values_parse() {
        assert_eq!(parse_outage(&json!(false)), Ok(None));
        assert_eq!(parse_outage(&json!(true)), Ok(Some(Outage::Drop)));
        assert_eq!(parse_outage(&json!("503")), Ok(Some(Outage::Http503)));
        assert_eq!(parse_outage(&json!(503)), Ok(Some(Outage::Http503)));
        assert_eq!(parse_outage(&json!("off")), Ok(None));
        assert!(parse_outage(&json!("sometimes")).is_err());
    }

    #[test]
    fn a_bad_patch_changes_nothing() {
        let mut b = Behaviour::default();
        let patch = BehaviourPatch {
            latency_ms: Some(5),
            connector_redirect: Some(json!("not a url")),
            ..BehaviourPatch::default()
        };
        assert!(apply_patch(&mut b, &patch).is_err());
        assert_eq!(b, Behaviour::default());
        let patch = BehaviourPatch {
            connector_redirect: Some(json!("https://192.168.0.2:443")),
            ..BehaviourPatch::default()
        };
        apply_patch(&mut b, &patch).unwrap();
        assert_eq!(
            b.connector_redirect.as_deref(),
            Some("https://192.168.0.2:443")
        );
        apply_patch(
            &mut b,
            &BehaviourPatch {
                connector_redirect: Some(Value::Null),
                ..BehaviourPatch::default()
            },
        )
        .unwrap();
        assert_eq!(b.connector_redirect, None);
    }
}
