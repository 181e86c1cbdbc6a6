//! The controller's wire protocol over the simulator's state: `/api/info`, the hotspot
//! operator API (login, `extPortal/auth`, the Hotspot Manager client list and `disconnect`)
//! and the Open API (token, sites, SSIDs, portals, operators, `hotspot/clients/{MAC}/auth|
//! unauth`, authorised-client records). Every behaviour is cited in `docs/simulators.md`.

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderMap, Method, Response, StatusCode};
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use tokio::time::Instant;

use super::state::{
    AuthApi, AuthorizedClient, Mutable, OperatorRole, Outage, RecordedRequest, SessionExpiry,
    SimOperator, MAX_RECORDED,
};
use super::{control, random_hex, OmadaSim, Shared, SiteExt};
use crate::net::Mac;
use crate::serve::{full, read_body, Body};

pub(super) fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .body(full(v.to_string()))
        .expect("valid response")
}

pub(super) fn ok(result: Value) -> Response<Body> {
    json_response(
        StatusCode::OK,
        &json!({"errorCode": 0, "msg": "Success.", "result": result}),
    )
}

pub(super) fn code(c: i64, msg: &str) -> Response<Body> {
    json_response(StatusCode::OK, &json!({"errorCode": c, "msg": msg}))
}

fn general_error() -> Response<Body> {
    code(-1, "General error.")
}

pub(super) fn invalid_params() -> Response<Body> {
    code(-1001, "Invalid request parameters.")
}

fn forbidden(m: &mut Mutable) -> Response<Body> {
    m.counters.permission_rejections += 1;
    code(-1005, "Operation forbidden.")
}

fn login_page(id: &str) -> Response<Body> {
    let html = format!("<!DOCTYPE html><html><head><title>Omada Controller</title></head><body><form action=\"/{id}/login\" method=\"post\"><input name=\"username\"><input name=\"password\" type=\"password\"></form></body></html>");
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html;charset=UTF-8")
        .body(full(html))
        .expect("valid response")
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(super) fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Every request: `/_sim/` goes to the control API; controller requests get the behaviour
/// switches (latency, injected failures, outage, connector redirect), then the routes.
pub(super) async fn handle(sh: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let (parts, body) = match read_body(req, 256 * 1024).await {
        Ok(pair) => pair,
        Err((_, _)) => {
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"errorCode": -1, "msg": "General error."}),
            )
        }
    };
    let headers = parts.headers;
    let body_json: Option<Value> = serde_json::from_slice(&body).ok();

    let resp = if path == "/_sim" || path.starts_with("/_sim/") {
        control::control(
            &OmadaSim { sh: sh.clone() },
            &method,
            &path,
            query.as_deref(),
            &body,
        )
    } else {
        let (latency, injected, redirect) = {
            let mut m = sh.lock();
            m.counters.requests += 1;
            let injected = if m.behaviour.outage == Some(Outage::Http503) {
                m.counters.outage_503 += 1;
                Some(503)
            } else if m.behaviour.fail_next > 0 {
                m.behaviour.fail_next -= 1;
                m.counters.injected_failures += 1;
                Some(m.behaviour.fail_status)
            } else {
                None
            };
            (
                m.behaviour.latency_ms,
                injected,
                m.behaviour.connector_redirect.clone(),
            )
        };
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        match (injected, redirect) {
            (Some(status), _) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                Response::builder()
                    .status(status)
                    .header(header::CONTENT_TYPE, "text/html")
                    .body(full(format!("<html><body><h1>{status}</h1></body></html>")))
                    .expect("valid response")
            }
            (None, Some(lan)) => Response::builder()
                .status(StatusCode::FOUND)
                .header(
                    header::LOCATION,
                    format!("{}{path}", lan.trim_end_matches('/')),
                )
                .body(full(""))
                .expect("valid response"),
            (None, None) => route(
                &sh,
                &method,
                &path,
                query.as_deref(),
                &headers,
                body_json.as_ref(),
            ),
        }
    };

    let rec = RecordedRequest {
        method: method.to_string(),
        path,
        query,
        csrf_token: header_str(&headers, "csrf-token"),
        cookie: header_str(&headers, "cookie"),
        authorization: header_str(&headers, "authorization"),
        content_type: header_str(&headers, "content-type"),
        body_text: if body_json.is_none() && !body.is_empty() {
            Some(String::from_utf8_lossy(&body).into_owned())
        } else {
            None
        },
        body: body_json,
        status: resp.status().as_u16(),
        at: OffsetDateTime::now_utc(),
    };
    let mut m = sh.lock();
    if m.requests.len() >= MAX_RECORDED {
        m.requests.pop_front();
    }
    m.requests.push_back(rec);
    drop(m);
    resp
}

fn route(
    sh: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Option<&Value>,
) -> Response<Body> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let id = sh.cfg.controller_id.as_str();
    if segs.first() == Some(&"openapi") && sh.lock().behaviour.openapi_http500 {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"errorCode": -7131, "msg": "Controller ID not exist."}),
        );
    }
    match (method, segs.as_slice()) {
        (&Method::GET, ["api", "info"]) => ok(json!({
            "controllerVer": sh.cfg.controller_ver,
            "apiVer": "3",
            "configured": true,
            "type": sh.cfg.controller_type,
            "supportApp": true,
            "omadacId": id,
        })),
        (&Method::GET, [cid, "login"]) | (&Method::GET, [cid, "hotspot", "login"])
            if *cid == id =>
        {
            login_page(id)
        }
        (&Method::POST, [cid, "api", "v2", "hotspot", "login"]) if *cid == id => {
            hotspot_login(sh, body)
        }
        (&Method::POST, [cid, "api", "v2", "hotspot", "extPortal", "auth"]) if *cid == id => {
            with_session(sh, headers, query, |m, op| {
                ext_portal_auth(sh, m, &op, body)
            })
        }
        (&Method::GET, [cid, "api", "v2", "hotspot", "sites", site, "clients"]) if *cid == id => {
            with_session(sh, headers, query, |m, op| {
                hotspot_clients(sh, m, &op, site, query)
            })
        }
        (
            &Method::POST,
            [cid, "api", "v2", "hotspot", "sites", site, "cmd", "clients", rid, "disconnect"],
        ) if *cid == id => with_session(sh, headers, query, |m, op| {
            hotspot_disconnect(sh, m, &op, site, rid)
        }),
        (&Method::POST, ["openapi", "authorize", "token"]) => openapi_token(sh, query, body),
        (&Method::GET, ["openapi", "v1", cid, "sites"]) if *cid == id => {
            with_token(sh, headers, |_| openapi_sites(sh, query))
        }
        (&Method::GET | &Method::POST, ["openapi", "v1", cid, "sites", site_id, rest @ ..])
            if *cid == id =>
        {
            with_token(sh, headers, |m| {
                let Some(site) = sh.site_by_id(site_id) else {
                    return invalid_params();
                };
                if !sh.openapi_sees(&site.id) {
                    m.counters.permission_rejections += 1;
                    return code(
                        -1505,
                        "The current user does not have permissions to access this site.",
                    );
                }
                openapi_site_route(sh, m, method, site, rest, query, body)
            })
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"errorCode": -1600, "msg": "Unsupported request path."}),
        ),
    }
}

fn openapi_site_route(
    sh: &Shared,
    m: &mut Mutable,
    method: &Method,
    site: &SiteExt,
    rest: &[&str],
    query: Option<&str>,
    body: Option<&Value>,
) -> Response<Body> {
    if method != Method::GET && m.behaviour.openapi_read_only {
        m.counters.permission_rejections += 1;
        return code(-1005, "Operation forbidden.");
    }
    if let Some(resp) = super::network::route(sh, m, method, site, rest, query, body) {
        return resp;
    }
    match (method, rest) {
        (&Method::POST, ["hotspot", "clients", mac, action @ ("auth" | "unauth")]) => {
            openapi_client(m, site, mac, action)
        }
        (&Method::GET, ["hotspot", "authed-records"]) => openapi_records(m, site, query),
        (&Method::POST, ["hotspot", "authed-records", rid, "disconnect"]) => {
            if m.disconnect(&site.id, rid) {
                code(0, "Success.")
            } else {
                invalid_params()
            }
        }
        (&Method::GET, ["hotspot", "operators"]) => openapi_operators(m, site, query),
        (&Method::POST, ["hotspot", "operators"]) => openapi_create_operator(sh, m, body),
        (&Method::GET, ["wireless-network", "wlans"]) => ok(json!([{
            "wlanId": site.wlan_id, "name": "Default", "primary": true, "site": site.id,
        }])),
        (&Method::GET, ["wireless-network", "wlans", wlan, "ssids"]) if *wlan == site.wlan_id => {
            let ppsk: Vec<String> = m
                .ppsk
                .iter()
                .filter(|p| p.site_id == site.id)
                .flat_map(|p| p.ssids.clone())
                .collect();
            let Some((page, size)) = paging(query, "page", "pageSize") else {
                return invalid_params();
            };
            let data: Vec<Value> = site
                .ssids
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .map(|s| {
                    json!({
                        "ssidId": s.id, "name": s.name, "band": 3, "guestNetEnable": s.guest_network,
                        "security": if ppsk.contains(&s.name) { 4 } else if s.open { 0 } else { 3 }, "broadcast": true, "vlanEnable": false,
                    })
                })
                .collect();
            ok(
                json!({"totalRows": site.ssids.len(), "currentPage": page, "currentSize": size, "data": data}),
            )
        }
        (&Method::GET, ["portals"]) => ok(json!([{
            "id": site.portal_id, "name": "Rental Wi-Fi", "enable": true, "authType": 4,
            "ssidList": site.ssids.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), "networkList": [],
        }])),
        (&Method::GET, ["portal", pid]) if *pid == site.portal_id => {
            let timeout = m
                .portal_timeouts
                .get(&site.id)
                .copied()
                .unwrap_or(sh.cfg.portal_timeout);
            ok(json!({
                "id": site.portal_id, "name": "Rental Wi-Fi", "enable": true, "authType": 4,
                "authTimeout": auth_timeout_vo(timeout),
                "externalPortal": {"hostType": 2, "serverUrl": "192.0.2.10:8766/portal", "serverUrlScheme": "http"},
                "landingPage": 1, "httpsRedirectEnable": false,
                "ssidList": site.ssids.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), "networkList": [],
            }))
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"errorCode": -1600, "msg": "Unsupported request path."}),
        ),
    }
}

/// `AuthTimeOpenApiVO`: a preset when the timeout is one, else custom in the largest whole
/// unit (1 min, 2 hour, 3 day).
fn auth_timeout_vo(d: Duration) -> Value {
    let min = d.as_secs() / 60;
    let preset = match min {
        30 => Some(1),
        60 => Some(2),
        120 => Some(3),
        240 => Some(4),
        480 => Some(5),
        1440 => Some(6),
        10080 => Some(7),
        _ => None,
    };
    match preset {
        Some(p) => json!({"authTimeout": p}),
        None if min.is_multiple_of(1440) => {
            json!({"authTimeout": 0, "customTimeout": min / 1440, "customTimeoutUnit": 3})
        }
        None if min.is_multiple_of(60) => {
            json!({"authTimeout": 0, "customTimeout": min / 60, "customTimeoutUnit": 2})
        }
        None => json!({"authTimeout": 0, "customTimeout": min.max(1), "customTimeoutUnit": 1}),
    }
}

pub(super) fn paging(query: Option<&str>, page: &str, size: &str) -> Option<(usize, usize)> {
    let page = query_param(query, page)
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| *v >= 1)?;
    let size = query_param(query, size)
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| (1..=1000).contains(v))?;
    Some((page, size))
}

fn hotspot_login(sh: &Shared, body: Option<&Value>) -> Response<Body> {
    let mut m = sh.lock();
    let name = body.and_then(|b| b.get("name")).and_then(Value::as_str);
    let password = body.and_then(|b| b.get("password")).and_then(Value::as_str);
    let (Some(name), Some(password)) = (name, password) else {
        m.counters.login_failures += 1;
        return general_error();
    };
    if m.operator(name).is_none_or(|o| o.password != password) {
        m.counters.login_failures += 1;
        return code(-30109, "Invalid username or password.");
    }
    m.counters.logins += 1;
    let cookie = random_hex(16);
    let token = random_hex(16);
    m.sessions.insert(
        cookie.clone(),
        super::state::Session {
            csrf: token.clone(),
            operator: name.to_string(),
        },
    );
    let secure = if sh.tls.is_some() { "; Secure" } else { "" };
    let set_cookie = format!(
        "{}={cookie}; Path=/; HttpOnly{secure}",
        m.behaviour.cookie_name
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .header(header::SET_COOKIE, set_cookie)
        .body(full(json!({"errorCode": 0, "msg": "Hotspot log in successfully.", "result": {"token": token}}).to_string()))
        .expect("valid response")
}

/// Run `f` with the session's operator when the request carries a live session cookie
/// (current cookie name) and its CSRF token (`Csrf-Token` header, or 4.x-style `?token=`);
/// else answer in the expiry style.
fn with_session(
    sh: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    f: impl FnOnce(&mut Mutable, SimOperator) -> Response<Body>,
) -> Response<Body> {
    let mut m = sh.lock();
    let cookie_name = m.behaviour.cookie_name.clone();
    let cookie_value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == cookie_name)
        .map(|(_, v)| v.to_string());
    let csrf = header_str(headers, "csrf-token").or_else(|| query_param(query, "token"));
    let operator = match (&cookie_value, &csrf) {
        (Some(c), Some(t)) => m
            .sessions
            .get(c)
            .filter(|s| &s.csrf == t)
            .and_then(|s| m.operator(&s.operator))
            .cloned(),
        _ => None,
    };
    if let (Some(op), false) = (operator, m.behaviour.reject_sessions) {
        return f(&mut m, op);
    }
    m.counters.session_rejections += 1;
    let id = &sh.cfg.controller_id;
    match m.behaviour.session_expiry {
        SessionExpiry::Redirect => Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, format!("/{id}/login"))
            .body(full(""))
            .expect("valid response"),
        SessionExpiry::Html => login_page(id),
        SessionExpiry::Code => code(-1005, "Operation forbidden."),
    }
}

/// A field given as a string or a number, as text.
fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-negative integer given as a string or a number. `Err` = present but not a number.
fn uint(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>, ()> {
    match text(obj, key) {
        None => Ok(None),
        Some(s) => s.parse::<u64>().map(Some).map_err(|_| ()),
    }
}

fn ext_portal_auth(
    sh: &Shared,
    m: &mut Mutable,
    op: &SimOperator,
    body: Option<&Value>,
) -> Response<Body> {
    match check_auth_body(sh, m, op, body) {
        Ok(record) => {
            m.counters.auths += 1;
            let now = OffsetDateTime::now_utc();
            // Re-authorizing a device replaces its live record (new expiry), like a new session.
            m.invalidate_live(record.mac, &record.site_id.clone(), now);
            m.push_record(record);
            json_response(StatusCode::OK, &json!({"errorCode": 0, "msg": "Success."}))
        }
        Err((-1005, _)) => {
            m.counters.auth_rejections += 1;
            forbidden(m)
        }
        Err((c, msg)) => {
            m.counters.auth_rejections += 1;
            code(c, msg)
        }
    }
}

const GENERAL: (i64, &str) = (-1, "General error.");
const FAILED: (i64, &str) = (-41501, "Failed to authenticate.");
const FORBIDDEN: (i64, &str) = (-1005, "Operation forbidden.");

fn check_auth_body(
    sh: &Shared,
    m: &Mutable,
    op: &SimOperator,
    body: Option<&Value>,
) -> Result<AuthorizedClient, (i64, &'static str)> {
    let b = &m.behaviour;
    let obj = body.and_then(Value::as_object).ok_or(GENERAL)?;
    let auth_type = uint(obj, "authType").map_err(|_| GENERAL)?.ok_or(GENERAL)?;
    if auth_type != 4 {
        return Err(FAILED);
    }
    let mac: Mac = text(obj, "clientMac")
        .and_then(|s| s.parse().ok())
        .ok_or(GENERAL)?;
    let client_ip = text(obj, "clientIp");
    if let Some(ip) = &client_ip {
        ip.parse::<std::net::IpAddr>().map_err(|_| GENERAL)?;
    } else if b.require_client_ip {
        return Err(FAILED);
    }
    // `originUrl` may be empty (doc 132060's body shows `""`); only its presence counts.
    let origin_url = obj
        .get("originUrl")
        .map(|v| v.as_str().unwrap_or("").to_string());
    if origin_url.is_none() && b.require_origin_url {
        return Err(FAILED);
    }
    let site = match text(obj, "site") {
        Some(s) => sh.site_by_name_or_id(&s).ok_or(GENERAL)?,
        None if b.require_client_ip => op
            .site_ids
            .first()
            .and_then(|id| sh.site_by_id(id))
            .ok_or(GENERAL)?,
        None => return Err(GENERAL),
    };
    if !op.site_ids.contains(&site.id) || op.role == OperatorRole::Viewer {
        return Err(FORBIDDEN);
    }
    let time_raw = uint(obj, "time")
        .map_err(|_| GENERAL)?
        .filter(|t| *t > 0)
        .ok_or(GENERAL)?;
    let duration = b.time_unit.decode(time_raw);
    let ap = text(obj, "apMac");
    let gw = text(obj, "gatewayMac");
    let (ap_mac, ssid, radio_id, gateway_mac, vid) = match (ap, gw) {
        (Some(ap), None) => {
            let ap: Mac = ap.parse().map_err(|_| GENERAL)?;
            let ssid = text(obj, "ssidName").ok_or(GENERAL)?;
            let radio = uint(obj, "radioId")
                .map_err(|_| GENERAL)?
                .filter(|r| *r <= 3)
                .ok_or(GENERAL)?;
            (Some(ap), Some(ssid), Some(radio as u8), None, None)
        }
        (None, Some(gw)) => {
            let gw: Mac = gw.parse().map_err(|_| GENERAL)?;
            let vid = uint(obj, "vid")
                .map_err(|_| GENERAL)?
                .filter(|v| *v <= 4094)
                .ok_or(GENERAL)?;
            (None, None, None, Some(gw), Some(vid as u16))
        }
        _ => return Err(GENERAL),
    };
    let now = OffsetDateTime::now_utc();
    let expires = time::Duration::try_from(duration)
        .ok()
        .and_then(|d| now.checked_add(d))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc());
    Ok(AuthorizedClient {
        id: random_hex(12),
        mac,
        site: site.name.clone(),
        site_id: site.id.clone(),
        ap_mac,
        gateway_mac,
        ssid,
        radio_id,
        vid,
        client_ip,
        origin_url,
        time_raw: Some(time_raw),
        duration: Some(duration),
        down_kbps: uint(obj, "downloadRateLimitKbps").ok().flatten(),
        up_kbps: uint(obj, "uploadRateLimitKbps").ok().flatten(),
        auth_type: 4,
        authorized_at: now,
        expires_at: Some(expires),
        via: AuthApi::Hotspot,
        valid: true,
    })
}

pub(super) fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A Hotspot-Manager site path: the site **id** only (a name is not a site id here), and a
/// site in the operator's Site Privileges.
fn hotspot_site<'a>(
    sh: &'a Shared,
    m: &mut Mutable,
    op: &SimOperator,
    site: &str,
) -> Result<&'a SiteExt, Box<Response<Body>>> {
    let Some(site) = sh.site_by_id(site) else {
        return Err(Box::new(invalid_params()));
    };
    if !op.site_ids.contains(&site.id) {
        return Err(Box::new(forbidden(m)));
    }
    Ok(site)
}

fn hotspot_clients(
    sh: &Shared,
    m: &mut Mutable,
    op: &SimOperator,
    site: &str,
    query: Option<&str>,
) -> Response<Body> {
    let site = match hotspot_site(sh, m, op, site) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let page = query_param(query, "currentPage")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let size = query_param(query, "currentPageSize")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 1000);
    let now = OffsetDateTime::now_utc();
    let search = query_param(query, "searchKey");
    let order = query_param(query, "sorts.end");
    let rows = m.site_records(&site.id, search.as_deref(), order.as_deref());
    let data: Vec<Value> = rows
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|r| {
            json!({
                "id": r.id,
                "mac": r.mac.to_string(),
                "ip": r.client_ip,
                "ssid": r.ssid,
                "apMac": r.ap_mac.map(|m| m.to_string()),
                "gatewayMac": r.gateway_mac.map(|m| m.to_string()),
                "vid": r.vid,
                "authType": r.auth_type,
                "valid": r.shown_valid(now),
                "start": ms(r.authorized_at),
                "end": r.expires_at.map(ms),
                "duration": r.duration.map(|d| d.as_millis() as u64),
            })
        })
        .collect();
    ok(json!({"totalRows": rows.len(), "currentPage": page, "currentSize": size, "data": data}))
}

fn hotspot_disconnect(
    sh: &Shared,
    m: &mut Mutable,
    op: &SimOperator,
    site: &str,
    rid: &str,
) -> Response<Body> {
    let site = match hotspot_site(sh, m, op, site) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if op.role == OperatorRole::Viewer {
        return forbidden(m);
    }
    if m.disconnect(&site.id, rid) {
        code(0, "Success.")
    } else {
        general_error()
    }
}

fn openapi_token(sh: &Shared, query: Option<&str>, body: Option<&Value>) -> Response<Body> {
    let mut m = sh.lock();
    if query_param(query, "grant_type").as_deref() != Some("client_credentials") {
        return code(-44111, "The grant type is invalid");
    }
    let field = |k: &str| {
        body.and_then(|b| b.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    if field("omadacId") != sh.cfg.controller_id {
        return code(-7131, "Controller ID not exist.");
    }
    if field("client_id") != sh.cfg.client_id || field("client_secret") != sh.cfg.client_secret {
        m.counters.login_failures += 1;
        return code(-44106, "The client id or client secret is invalid");
    }
    let token = format!("AT-{}", random_hex(16));
    m.tokens
        .insert(token.clone(), Instant::now() + sh.cfg.token_ttl);
    m.counters.tokens_minted += 1;
    json_response(
        StatusCode::OK,
        &json!({"errorCode": 0, "msg": "Open API Get Access Token successfully.", "result": {
            "accessToken": token, "tokenType": "bearer", "expiresIn": sh.cfg.token_ttl.as_secs(), "refreshToken": format!("RT-{}", random_hex(16)),
        }}),
    )
}

fn with_token(
    sh: &Shared,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Mutable) -> Response<Body>,
) -> Response<Body> {
    let mut m = sh.lock();
    let token = header_str(headers, "authorization")
        .and_then(|v| v.strip_prefix("AccessToken=").map(str::to_string));
    let Some(token) = token else {
        m.counters.token_rejections += 1;
        return json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"errorCode": -44113, "msg": "The access token is Invalid"}),
        );
    };
    match m.tokens.get(&token) {
        None => {
            m.counters.token_rejections += 1;
            code(-44113, "The access token is Invalid")
        }
        Some(exp) if Instant::now() >= *exp => {
            m.counters.token_rejections += 1;
            code(-44112, "The access token has expired. Please re-initiate the refreshToken process to obtain the access token.")
        }
        Some(_) => f(&mut m),
    }
}

fn openapi_sites(sh: &Shared, query: Option<&str>) -> Response<Body> {
    let Some((page, size)) = paging(query, "page", "pageSize") else {
        return invalid_params();
    };
    let visible: Vec<&SiteExt> = sh.sites.iter().filter(|s| sh.openapi_sees(&s.id)).collect();
    let data: Vec<Value> = visible
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|s| json!({"siteId": s.id, "name": s.name, "region": "United States", "timeZone": "UTC", "scenario": "Hotel", "type": 0}))
        .collect();
    ok(json!({"totalRows": visible.len(), "currentPage": page, "currentSize": size, "data": data}))
}

fn openapi_client(m: &mut Mutable, site: &SiteExt, raw_mac: &str, action: &str) -> Response<Body> {
    // Open API paths take the MAC as AA-BB-CC-DD-EE-FF exactly.
    let Some(mac) = raw_mac
        .parse::<Mac>()
        .ok()
        .filter(|m| m.to_string() == raw_mac)
    else {
        return invalid_params();
    };
    let now = OffsetDateTime::now_utc();
    if action == "auth" && m.offline.contains(&mac) {
        // The controller looks the MAC up among its clients (spec: -41010 "This client does
        // not exist."): a device that is away is not one.
        m.counters.auth_rejections += 1;
        return code(-41010, "This client does not exist.");
    }
    if action == "auth" {
        // No body, no duration: access lasts the portal's Authentication Timeout.
        let timeout = m
            .portal_timeouts
            .get(&site.id)
            .copied()
            .unwrap_or(Duration::from_secs(8 * 3600));
        m.invalidate_live(mac, &site.id, now);
        m.push_record(AuthorizedClient {
            id: random_hex(12),
            mac,
            site: site.name.clone(),
            site_id: site.id.clone(),
            ap_mac: None,
            gateway_mac: None,
            ssid: None,
            radio_id: None,
            vid: None,
            client_ip: None,
            origin_url: None,
            time_raw: None,
            duration: Some(timeout),
            down_kbps: None,
            up_kbps: None,
            auth_type: 4,
            authorized_at: now,
            expires_at: time::Duration::try_from(timeout)
                .ok()
                .and_then(|d| now.checked_add(d)),
            via: AuthApi::OpenApi,
            valid: true,
        });
        m.counters.auths += 1;
        return code(0, "Success.");
    }
    // `unauth` reaches only a device that is connected right now; for one that is away it
    // answers "does not exist" and the authorisation stays valid (dllfpp, tested on 6.2).
    if !m.offline.contains(&mac) && m.invalidate_live(mac, &site.id, now) {
        m.counters.unauths += 1;
        code(0, "Success.")
    } else {
        m.counters.unauth_not_exist += 1;
        // Message as reported by community code; the numeric code is the simulator's own.
        code(-41504, "The client does not exist.")
    }
}

fn openapi_records(m: &mut Mutable, site: &SiteExt, query: Option<&str>) -> Response<Body> {
    let Some((page, size)) = paging(query, "page", "pageSize") else {
        return invalid_params();
    };
    let now = OffsetDateTime::now_utc();
    let search = query_param(query, "searchKey");
    let order = query_param(query, "sorts.end");
    let rows = m.site_records(&site.id, search.as_deref(), order.as_deref());
    let data: Vec<Value> = rows
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|r| {
            json!({
                "id": r.id,
                "mac": r.mac.to_string(),
                "name": "",
                "ip": r.client_ip,
                "ssid": r.ssid,
                "authType": r.auth_type,
                "valid": r.shown_valid(now),
                "wireless": r.gateway_mac.is_none(),
                "start": ms(r.authorized_at),
                "end": r.expires_at.map(ms),
                "duration": r.duration.map(|d| d.as_secs()),
                "download": 0,
                "upload": 0,
            })
        })
        .collect();
    ok(json!({"totalRows": rows.len(), "currentPage": page, "currentSize": size, "data": data}))
}

fn openapi_operators(m: &mut Mutable, site: &SiteExt, query: Option<&str>) -> Response<Body> {
    let Some((page, size)) = paging(query, "page", "pageSize") else {
        return invalid_params();
    };
    let ops: Vec<&SimOperator> = m
        .operators
        .iter()
        .filter(|o| o.site_ids.contains(&site.id))
        .collect();
    let data: Vec<Value> = ops
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|o| {
            json!({
                "name": o.name,
                "operatorRoleType": if o.role == OperatorRole::Administrator { 0 } else { 1 },
                "selectedSites": o.site_ids,
                "note": "",
            })
        })
        .collect();
    ok(json!({"totalRows": ops.len(), "currentPage": page, "currentSize": size, "data": data}))
}

/// `HotspotOperator`: `name` 1–128 ASCII, `password` 1–128 ASCII (6.2 wants a special
/// character, dllfpp's wizard), `operatorRoleType` 0/1, `selectedSites` at least one site id.
fn openapi_create_operator(sh: &Shared, m: &mut Mutable, body: Option<&Value>) -> Response<Body> {
    let Some(obj) = body.and_then(Value::as_object) else {
        return invalid_params();
    };
    let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
    let password = obj.get("password").and_then(Value::as_str).unwrap_or("");
    let ascii = |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.is_ascii();
    if !ascii(name, 128)
        || !ascii(password, 128)
        || !password.chars().any(|c| !c.is_ascii_alphanumeric())
    {
        return invalid_params();
    }
    let role = match obj.get("operatorRoleType").and_then(Value::as_i64) {
        None | Some(0) => OperatorRole::Administrator,
        Some(1) => OperatorRole::Viewer,
        Some(_) => return invalid_params(),
    };
    let sites: Vec<String> = obj
        .get("selectedSites")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if sites.is_empty() || sites.iter().any(|s| sh.site_by_id(s).is_none()) {
        return invalid_params();
    }
    if m.operator(name).is_some() {
        return code(-1001, "Invalid request parameters.");
    }
    m.operators.push(SimOperator {
        name: name.to_string(),
        password: password.to_string(),
        role,
        site_ids: sites,
    });
    m.counters.operators_created += 1;
    code(0, "Success.")
}
