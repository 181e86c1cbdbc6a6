//! Hotspot-operator API (controller 5.0.15+ / 6.x, reference §2.4–§4.1).
//!
//! Session = cookie (`TPOMADA_SESSIONID`, older `TPEAP_SESSIONID`; the jar keeps whichever the
//! controller sets) + CSRF token from the login answer, sent as `Csrf-Token`. A lost session
//! shows as a 302 to a login page, an HTML 200, 401/403 or errorCode -1005/-44108/-44109:
//! log in again once, retry once. Any other non-zero errorCode is the controller's verdict
//! and is returned as [`OmadaError::Rejected`], not retried.

use std::sync::Arc;

use reqwest::RequestBuilder;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::error::OmadaError;
use super::transport::{self, as_i64, Answer};
use super::{AuthorizeRequest, Common};
use crate::net::Mac;

/// errorCodes that mean "your session/CSRF token is not valid" rather than a verdict.
const SESSION_CODES: [i64; 3] = [-1005, -44108, -44109];
/// Cookie names a controller uses for the operator session (reference §2.4).
pub const SESSION_COOKIES: [&str; 2] = ["TPOMADA_SESSIONID", "TPEAP_SESSIONID"];

pub(crate) struct Hotspot {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) time_unit: super::AuthTimeUnit,
    pub(crate) jar: Arc<reqwest_cookie_store::CookieStoreMutex>,
    /// Current CSRF token and its generation (bumped per login).
    session: std::sync::Mutex<(Option<String>, u64)>,
    /// One login at a time; others wait and reuse its result.
    login_lock: tokio::sync::Mutex<()>,
}

impl Hotspot {
    pub(crate) fn new(
        username: String,
        password: String,
        time_unit: super::AuthTimeUnit,
        jar: Arc<reqwest_cookie_store::CookieStoreMutex>,
    ) -> Self {
        Self {
            username,
            password,
            time_unit,
            jar,
            session: std::sync::Mutex::new((None, 0)),
            login_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Option<(String, u64)> {
        let s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        s.0.clone().map(|t| (t, s.1))
    }

    fn invalidate(&self, generation: u64) {
        let mut s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        if s.1 == generation {
            s.0 = None;
        }
    }

    async fn session(&self, c: &Common, deadline: Instant) -> Result<(String, u64), OmadaError> {
        if let Some(s) = self.current() {
            return Ok(s);
        }
        let _one = self.login_lock.lock().await;
        if let Some(s) = self.current() {
            return Ok(s);
        }
        let token = self.login(c, deadline).await?;
        let mut s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        s.1 += 1;
        s.0 = Some(token.clone());
        Ok((token, s.1))
    }

    /// `POST /{id}/api/v2/hotspot/login {name,password}` → CSRF token; the cookie lands in the jar.
    pub(crate) async fn login(&self, c: &Common, deadline: Instant) -> Result<String, OmadaError> {
        let id = c.controller_id(deadline).await?;
        let url = c.url(&[&id, "api", "v2", "hotspot", "login"]);
        let body = json!({"name": self.username, "password": self.password});
        let raw = transport::send(&c.policy, deadline, "hotspot login", || {
            c.http
                .post(url.clone())
                .header("Accept", "application/json")
                .json(&body)
        })
        .await?;
        match transport::classify("hotspot login", &raw)? {
            Answer::Json {
                code: 0, result, ..
            } => {
                let token = result
                    .get("token")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        OmadaError::Protocol("hotspot login: no result.token in the answer".into())
                    })?;
                let cookie = self.session_cookie_name(&url);
                match cookie {
                    Some(name) => tracing::debug!(cookie = name, "hotspot operator logged in"),
                    None => tracing::warn!("hotspot login succeeded but the controller set no TPOMADA_SESSIONID/TPEAP_SESSIONID cookie"),
                }
                Ok(token.to_string())
            }
            Answer::Json { code, msg, .. } => {
                tracing::warn!(code, msg = %msg, "hotspot operator login refused");
                Err(OmadaError::AuthFailed(format!(
                    "hotspot operator login refused (errorCode {code}: {msg})"
                )))
            }
            Answer::SessionLost(why) => Err(OmadaError::Protocol(format!(
                "hotspot login answered with {why}; check the controller URL and controller ID"
            ))),
        }
    }

    fn session_cookie_name(&self, url: &url::Url) -> Option<&'static str> {
        let jar = self.jar.lock().ok()?;
        SESSION_COOKIES
            .into_iter()
            .find(|name| jar.get_request_values(url).any(|(n, _)| n == *name))
    }

    /// One authenticated call with the lost-session rule: re-login once, retry once.
    async fn call(
        &self,
        c: &Common,
        deadline: Instant,
        what: &str,
        build: impl Fn(&str, &str) -> RequestBuilder,
    ) -> Result<Value, OmadaError> {
        let id = c.controller_id(deadline).await?;
        let mut relogged = false;
        loop {
            let (token, generation) = self.session(c, deadline).await?;
            let raw = transport::send(&c.policy, deadline, what, || {
                build(&id, &token)
                    .header("Csrf-Token", token.as_str())
                    .header("Accept", "application/json")
            })
            .await?;
            let why = match transport::classify(what, &raw)? {
                Answer::Json {
                    code: 0, result, ..
                } => return Ok(result),
                Answer::Json { code, msg, .. } if SESSION_CODES.contains(&code) => {
                    format!("errorCode {code} ({msg})")
                }
                Answer::Json { code, msg, .. } => {
                    return Err(OmadaError::Rejected { code, message: msg })
                }
                Answer::SessionLost(why) => why,
            };
            self.invalidate(generation);
            if relogged {
                tracing::warn!(what, reason = %why, "controller refused the operator session right after a fresh login");
                return Err(OmadaError::AuthFailed(format!("{what}: the controller still refused the session after logging in again ({why}); check the operator's permissions on this site")));
            }
            tracing::info!(what, reason = %why, "operator session lost, logging in again");
            relogged = true;
        }
    }

    pub(crate) async fn authorize(
        &self,
        c: &Common,
        req: &AuthorizeRequest,
        deadline: Instant,
    ) -> Result<(), OmadaError> {
        let body = self.auth_body(req)?;
        self.call(c, deadline, "extPortal/auth", |id, _| {
            c.http
                .post(c.url(&[id, "api", "v2", "hotspot", "extPortal", "auth"]))
                .json(&body)
        })
        .await?;
        Ok(())
    }

    /// The documented body (reference §3.1), values as strings like the doc's JSON.
    pub(crate) fn auth_body(&self, req: &AuthorizeRequest) -> Result<Value, OmadaError> {
        let mut m = Map::new();
        m.insert("clientMac".into(), req.client_mac.to_string().into());
        if let Some(ip) = req
            .client_ip
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            m.insert("clientIp".into(), ip.into());
        }
        if let Some(ap) = req.ap_mac {
            let ssid = req
                .ssid_name
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    OmadaError::InvalidRequest("an EAP (apMac) authorization needs ssidName".into())
                })?;
            let radio = req.radio_id.ok_or_else(|| {
                OmadaError::InvalidRequest("an EAP (apMac) authorization needs radioId".into())
            })?;
            m.insert("apMac".into(), ap.to_string().into());
            m.insert("ssidName".into(), ssid.into());
            m.insert("radioId".into(), radio.to_string().into());
        } else if let Some(gw) = req.gateway_mac {
            let vid = req.vid.ok_or_else(|| {
                OmadaError::InvalidRequest("a gateway authorization needs vid".into())
            })?;
            m.insert("gatewayMac".into(), gw.to_string().into());
            m.insert("vid".into(), vid.to_string().into());
        } else {
            return Err(OmadaError::InvalidRequest(
                "an authorization needs apMac (wireless) or gatewayMac (wired)".into(),
            ));
        }
        m.insert("site".into(), req.site.clone().into());
        m.insert(
            "time".into(),
            self.time_unit.encode(req.duration).to_string().into(),
        );
        m.insert("authType".into(), "4".into());
        if let Some(k) = req.down_kbps {
            m.insert("downloadRateLimitKbps".into(), k.into());
        }
        if let Some(k) = req.up_kbps {
            m.insert("uploadRateLimitKbps".into(), k.into());
        }
        Ok(Value::Object(m))
    }

    /// List the site's authorized-client records, disconnect every valid one with this MAC.
    /// None found = already gone = success.
    pub(crate) async fn unauthorize(
        &self,
        c: &Common,
        site: &str,
        mac: Mac,
        deadline: Instant,
    ) -> Result<(), OmadaError> {
        let mut ids = Vec::new();
        let page_size = 100u64;
        for page in 1..=50u64 {
            let result = self
                .call(c, deadline, "hotspot clients", |id, _| {
                    c.http
                        .get(c.url(&[id, "api", "v2", "hotspot", "sites", site, "clients"]))
                        .query(&[("currentPage", page), ("currentPageSize", page_size)])
                })
                .await?;
            let rows = result
                .get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for row in &rows {
                let same = row
                    .get("mac")
                    .and_then(Value::as_str)
                    .and_then(|m| m.parse::<Mac>().ok())
                    == Some(mac);
                let valid = row.get("valid").and_then(Value::as_bool).unwrap_or(true);
                let rid = row.get("id").and_then(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .or_else(|| as_i64(v).map(|n| n.to_string()))
                });
                if let (true, true, Some(rid)) = (same, valid, rid) {
                    ids.push(rid);
                }
            }
            let total = result.get("totalRows").and_then(as_i64).unwrap_or(0);
            if rows.len() < page_size as usize || (page * page_size) as i64 >= total {
                break;
            }
        }
        if ids.is_empty() {
            tracing::debug!(
                site,
                "no authorized record for this client; nothing to disconnect"
            );
            return Ok(());
        }
        for rid in ids {
            self.call(c, deadline, "hotspot disconnect", |id, _| {
                c.http
                    .post(c.url(&[
                        id,
                        "api",
                        "v2",
                        "hotspot",
                        "sites",
                        site,
                        "cmd",
                        "clients",
                        &rid,
                        "disconnect",
                    ]))
                    .json(&json!({}))
            })
            .await?;
        }
        Ok(())
    }

    /// Log in now (used by `test()`), replacing any current session.
    pub(crate) async fn fresh_login(
        &self,
        c: &Common,
        deadline: Instant,
    ) -> Result<(), OmadaError> {
        let _one = self.login_lock.lock().await;
        let token = self.login(c, deadline).await?;
        let mut s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        s.1 += 1;
        s.0 = Some(token);
        Ok(())
    }
}
