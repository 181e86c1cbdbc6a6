//! The simulated controller's Open API beyond the portal: PPSK profiles and keys (issue 18),
//! the connected clients and their kicks (issues 18 and 14), devices, AP overviews and the
//! gateway's WAN status (issue 15). Each behaviour is cited in `docs/simulators.md`
//! ("PPSK, clients, devices"). Paths are under `/openapi/v1/{omadacId}/sites/{siteId}`; the
//! token and site checks happened before [`route`] is called.

use http::{Method, Response, StatusCode};
use serde_json::{json, Value};

use super::state::{Mutable, SimDeviceKind, SimPsk};
use super::wire::{code, invalid_params, json_response, ms, ok, paging, query_param};
use super::{Shared, SiteExt};
use crate::net::Mac;
use crate::serve::Body;

/// `-34044`, as a 6.3.0.45 controller answered `delete-psk` of a profile's last key [DV-P3].
const LAST_KEY: (i64, &str) = (
    -34044,
    "The PPSK Profile should have at least one PSK entry.",
);

fn unsupported() -> Response<Body> {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"errorCode": -1600, "msg": "Unsupported request path."}),
    )
}

/// The routes of this file, or `None` for the portal routes in `wire.rs`.
pub(super) fn route(
    sh: &Shared,
    m: &mut Mutable,
    method: &Method,
    site: &SiteExt,
    rest: &[&str],
    query: Option<&str>,
    body: Option<&Value>,
) -> Option<Response<Body>> {
    Some(match (method, rest) {
        (&Method::GET, ["ppsk-profiles"]) => ppsk_list(m, site, query),
        (&Method::GET, ["ppsk-profile", pid]) => ppsk_detail(m, site, pid),
        (&Method::POST, ["ppsk-profile", pid, "add-psk"]) => {
            if !m.behaviour.ppsk_per_key_api {
                return Some(unsupported());
            }
            ppsk_add(m, site, pid, body)
        }
        (&Method::POST, ["ppsk-profile", pid, "delete-psk"]) => {
            if !m.behaviour.ppsk_per_key_api {
                return Some(unsupported());
            }
            ppsk_delete(m, site, pid, body)
        }
        (&Method::GET, ["wireless-network", "wlans", wlan, "ssids", ssid_id])
            if *wlan == site.wlan_id =>
        {
            ssid_detail(m, site, ssid_id)
        }
        (&Method::GET, ["clients"]) => clients(m, site, query),
        (&Method::POST, ["clients", mac, action @ ("reconnect" | "disconnect")]) => {
            kick(m, site, mac, action)
        }
        (&Method::GET, ["devices"]) => devices(m, site, query),
        (&Method::GET, ["aps", mac]) => ap_overview(sh, m, site, mac),
        (&Method::GET, ["gateways", mac, "wan-status"]) => wan_status(m, site, mac),
        _ => return None,
    })
}

// ---- PPSK ---------------------------------------------------------------------------------

fn ppsk_list(m: &Mutable, site: &SiteExt, query: Option<&str>) -> Response<Body> {
    // `type` (0 without RADIUS, 1 with the built-in one) is a required query on older local
    // controllers [SPEC-L] and absent from the cloud spec [SPEC-C]: optional here, checked
    // when given.
    let kind = match query_param(query, "type") {
        None => None,
        Some(t) => match t.parse::<u8>() {
            Ok(k @ (0 | 1)) => Some(k),
            _ => return invalid_params(),
        },
    };
    let list: Vec<Value> = m
        .ppsk
        .iter()
        .filter(|p| p.site_id == site.id && kind.is_none_or(|k| k == p.kind))
        .map(|p| json!({"id": p.id, "profileName": p.name, "ssid": p.ssids}))
        .collect();
    // A bare array, no paging (`OperationResponseListPpskProfileBriefInfo`).
    ok(Value::Array(list))
}

fn ppsk_detail(m: &Mutable, site: &SiteExt, pid: &str) -> Response<Body> {
    let Some(p) = m.ppsk.iter().find(|p| p.id == pid && p.site_id == site.id) else {
        return invalid_params();
    };
    let keys: Vec<Value> = p
        .keys
        .iter()
        .map(|k| {
            let mut v = json!({"name": k.name, "psk": k.psk});
            if let Some(mac) = &k.mac {
                v["mac"] = json!(mac);
            }
            if let Some(vlan) = k.vlan {
                v["vlan"] = json!(vlan);
            }
            v
        })
        .collect();
    ok(json!({
        "id": p.id, "profileName": p.name, "type": p.kind, "ssid": p.ssids, "ppsk": keys,
        "expiration": {"type": p.expiration_type},
    }))
}

/// `PpskSetting.name`: 1–64 characters, the first not a space or `+ - @ =` (the pattern's
/// CSV-injection guard), the rest visible ASCII [SPEC-L].
fn name_ok(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && !matches!(b[0], b'+' | b'-' | b'@' | b'=' | b' ')
        && b.iter().all(|c| (0x21..=0x7e).contains(c))
}

/// `PpskSetting.psk`: `^([A-Za-z0-9\p{Punct} ]{8,63}|[0-9a-fA-F]{8,63})$` [SPEC-L] — 8–63
/// printable ASCII characters, the space included.
fn psk_ok(p: &str) -> bool {
    (8..=63).contains(&p.len()) && p.bytes().all(|c| (0x20..=0x7e).contains(&c))
}

/// `PpskSetting.mac`: "numbers and uppercase letters and connectors, such as
/// AA-BB-CC-00-11-22" [SPEC-C].
fn mac_ok(m: &str) -> bool {
    m.parse::<Mac>().is_ok_and(|x| x.to_string() == m)
}

fn ppsk_add(m: &mut Mutable, site: &SiteExt, pid: &str, body: Option<&Value>) -> Response<Body> {
    let Some(list) = body
        .and_then(|b| b.get("ppskList"))
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        return invalid_params();
    };
    let mut new: Vec<SimPsk> = Vec::new();
    for row in list {
        let name = row.get("name").and_then(Value::as_str).unwrap_or("");
        let psk = row.get("psk").and_then(Value::as_str).unwrap_or("");
        let mac = match row.get("mac") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if mac_ok(s) => Some(s.clone()),
            Some(_) => return invalid_params(),
        };
        let vlan = match row.get("vlan") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64().filter(|v| (1..=4094).contains(v)) {
                Some(v) => Some(v as u16),
                None => return invalid_params(),
            },
        };
        if !name_ok(name) || !psk_ok(psk) {
            return invalid_params();
        }
        new.push(SimPsk {
            name: name.to_string(),
            psk: psk.to_string(),
            mac,
            vlan,
        });
    }
    let Some(p) = m
        .ppsk
        .iter_mut()
        .find(|p| p.id == pid && p.site_id == site.id)
    else {
        return invalid_params();
    };
    // A name or a password twice in one profile: refused (the controller's answer is not
    // recorded, research §5.4 — the code is the sim's choice).
    for (i, k) in new.iter().enumerate() {
        let dup_in_body = new[..i].iter().any(|x| x.name == k.name || x.psk == k.psk);
        let dup_in_profile = p.keys.iter().any(|x| x.name == k.name || x.psk == k.psk);
        if dup_in_body || dup_in_profile {
            return invalid_params();
        }
    }
    let n = new.len() as u64;
    p.keys.extend(new);
    m.counters.psks_added += n;
    code(0, "Success.")
}

fn ppsk_delete(m: &mut Mutable, site: &SiteExt, pid: &str, body: Option<&Value>) -> Response<Body> {
    let Some(names) = body
        .and_then(|b| b.get("ppskNameList"))
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        return invalid_params();
    };
    let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
    let Some(p) = m
        .ppsk
        .iter_mut()
        .find(|p| p.id == pid && p.site_id == site.id)
    else {
        return invalid_params();
    };
    // A name that is not there: refused (unrecorded on real controllers — sim's choice).
    if names.is_empty() || names.iter().any(|n| !p.keys.iter().any(|k| k.name == *n)) {
        return invalid_params();
    }
    let remaining = p
        .keys
        .iter()
        .filter(|k| !names.contains(&k.name.as_str()))
        .count();
    if remaining == 0 {
        m.counters.last_key_refusals += 1;
        return code(LAST_KEY.0, LAST_KEY.1);
    }
    p.keys.retain(|k| !names.contains(&k.name.as_str()));
    let profile = p.name.clone();
    m.counters.psks_deleted += names.len() as u64;
    if m.behaviour.ppsk_delete_kicks {
        m.wifi.retain(|c| {
            !(c.site_id == site.id
                && c.ppsk_profile.as_deref() == Some(profile.as_str())
                && c.key_name.as_deref().is_some_and(|k| names.contains(&k)))
        });
    }
    code(0, "Success.")
}

fn ssid_detail(m: &Mutable, site: &SiteExt, ssid_id: &str) -> Response<Body> {
    let Some(s) = site.ssids.iter().find(|s| s.id == ssid_id) else {
        return invalid_params();
    };
    let profile = m
        .ppsk
        .iter()
        .find(|p| p.site_id == site.id && p.ssids.contains(&s.name));
    let security = match profile {
        Some(_) => 4,
        None if s.open => 0,
        None => 3,
    };
    let mut v = json!({
        "ssidId": s.id, "name": s.name, "band": 3, "guestNetEnable": s.guest_network,
        "security": security, "broadcast": true, "vlanEnable": false,
    });
    if let Some(p) = profile {
        v["ppskSetting"] = json!({"ppskProfileId": p.id});
    }
    ok(v)
}

// ---- Clients ------------------------------------------------------------------------------

fn clients(m: &Mutable, site: &SiteExt, query: Option<&str>) -> Response<Body> {
    let Some((page, size)) = paging(query, "page", "pageSize") else {
        return invalid_params();
    };
    let key = query_param(query, "searchKey").map(|k| k.trim().to_ascii_lowercase());
    let wireless = query_param(query, "filters.wireless");
    if wireless.as_deref() == Some("false") {
        return ok(json!({"totalRows": 0, "currentPage": page, "currentSize": size, "data": []}));
    }
    let rows: Vec<Value> = m
        .wifi
        .iter()
        .rev()
        .filter(|c| c.site_id == site.id && !m.offline.contains(&c.mac))
        .filter(|c| match &key {
            None => true,
            Some(k) if k.is_empty() => true,
            // Fuzzy over the fields the spec names (client name, MAC, IP, SSID, AP MAC).
            Some(k) => {
                c.mac.to_string().to_ascii_lowercase().contains(k)
                    || c.mac.colon_lower().contains(k)
                    || c.ssid.to_ascii_lowercase().contains(k)
                    || c.ip.contains(k)
                    || c.name
                        .as_deref()
                        .is_some_and(|n| n.to_ascii_lowercase().contains(k))
                    || c.ap_mac
                        .is_some_and(|a| a.to_string().to_ascii_lowercase().contains(k))
            }
        })
        .map(|c| {
            json!({
                "mac": c.mac.to_string(), "name": c.name, "hostName": c.name, "ip": c.ip,
                "ssid": c.ssid, "apMac": c.ap_mac.map(|a| a.to_string()), "radioId": 1,
                "wireless": true, "active": true, "guest": false,
                "authStatus": 0, "connectType": 1,
                "ppskProfileName": c.ppsk_profile,
                "lastSeen": ms(time::OffsetDateTime::now_utc()),
                "uptime": (time::OffsetDateTime::now_utc() - c.connected_at).whole_seconds(),
            })
        })
        .collect();
    let total = rows.len();
    let data: Vec<Value> = rows
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    ok(json!({"totalRows": total, "currentPage": page, "currentSize": size, "data": data}))
}

fn kick(m: &mut Mutable, site: &SiteExt, raw_mac: &str, _action: &str) -> Response<Body> {
    let Some(mac) = raw_mac
        .parse::<Mac>()
        .ok()
        .filter(|x| x.to_string() == raw_mac)
    else {
        return invalid_params();
    };
    if m.offline.contains(&mac) {
        return code(-41011, "This client does not exist.");
    }
    match m.kick(&site.id, mac) {
        Some(_) => code(0, "Success."),
        None => code(-41011, "This client does not exist."),
    }
}

// ---- Devices ------------------------------------------------------------------------------

fn kind_word(k: SimDeviceKind) -> &'static str {
    match k {
        SimDeviceKind::Ap => "ap",
        SimDeviceKind::Gateway => "gateway",
        SimDeviceKind::Switch => "switch",
    }
}

fn devices(m: &Mutable, site: &SiteExt, query: Option<&str>) -> Response<Body> {
    let Some((page, size)) = paging(query, "page", "pageSize") else {
        return invalid_params();
    };
    let all: Vec<Value> = m
        .devices
        .iter()
        .filter(|d| d.site == site.name)
        .map(|d| {
            let (status, detail) = d.state.codes();
            let seen = if status == 1 {
                time::OffsetDateTime::now_utc()
            } else {
                d.last_seen
            };
            json!({
                "mac": d.mac.to_string(), "name": d.name, "type": kind_word(d.kind),
                "model": d.model, "status": status, "detailStatus": detail,
                "lastSeen": ms(seen), "ip": "192.168.0.2", "firmwareVersion": "1.0.0",
            })
        })
        .collect();
    let total = all.len();
    let data: Vec<Value> = all.into_iter().skip((page - 1) * size).take(size).collect();
    ok(json!({"totalRows": total, "currentPage": page, "currentSize": size, "data": data}))
}

fn ap_overview(sh: &Shared, m: &Mutable, site: &SiteExt, raw_mac: &str) -> Response<Body> {
    let Some(d) = raw_mac.parse::<Mac>().ok().and_then(|mac| {
        m.devices
            .iter()
            .find(|d| d.mac == mac && d.site == site.name && d.kind == SimDeviceKind::Ap)
    }) else {
        return invalid_params();
    };
    let (status, _) = d.state.codes();
    // An AP outside the site's WLAN group shows another group id (the sim's own).
    let group = if d.serves_ssids {
        site.wlan_id.clone()
    } else {
        format!("{}0000", &sh.cfg.controller_id[..20])
    };
    ok(json!({"mac": d.mac.to_string(), "name": d.name, "status": status, "wlanGroupId": group}))
}

fn wan_status(m: &Mutable, site: &SiteExt, raw_mac: &str) -> Response<Body> {
    let gateway = raw_mac.parse::<Mac>().ok().filter(|mac| {
        m.devices
            .iter()
            .any(|d| d.mac == *mac && d.site == site.name && d.kind == SimDeviceKind::Gateway)
    });
    let Some(ports) = gateway.and_then(|g| m.wans.get(&g)) else {
        return code(-39501, "This gateway does not exist.");
    };
    let rows: Vec<Value> = ports
        .iter()
        .map(|p| {
            json!({
                "port": p.port, "name": p.name, "portDesc": p.name, "mode": p.mode,
                "type": if p.mode == 0 { 0 } else { 2 },
                "status": u8::from(p.link), "internetState": u8::from(p.link && p.internet),
                "ip": if p.link { "203.0.113.7" } else { "" }, "proto": "dhcp",
                "latency": if p.internet { 12 } else { 0 }, "loss": 0,
            })
        })
        .collect();
    ok(Value::Array(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_rules_follow_the_spec_patterns() {
        assert!(name_ok("rentalwifi-loft-1"));
        assert!(!name_ok("-lead"));
        assert!(!name_ok("=cmd"));
        assert!(!name_ok("has space"));
        assert!(!name_ok(&"x".repeat(65)));
        assert!(psk_ok("eight ch"));
        assert!(!psk_ok("seven c"));
        assert!(!psk_ok(&"x".repeat(64)));
        assert!(!psk_ok("café-crème"));
        assert!(mac_ok("AA-BB-CC-00-11-22"));
        assert!(!mac_ok("aa:bb:cc:00:11:22"));
    }
}
