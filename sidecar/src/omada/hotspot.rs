//! Hotspot-operator API (controller 5.0.15+ / 6.x, reference §2.4–§4.1).
//!
//! Session = cookie (`TPOMADA_SESSIONID`, older `TPEAP_SESSIONID`; the jar keeps whichever the
//! controller sets) + CSRF token from the login answer, sent as `Csrf-Token`. A lost session
//! shows as a 302 to a login page, an HTML 200, 401/403 or errorCode -1005/-44108/-44109:
//! log in again once, retry once. Any other non-zero errorCode is the controller's verdict
//! and is returned as [`OmadaError::Rejected`], not retried.
//!
//! Hotspot-Manager paths (`…/hotspot/sites/{siteId}/…`) take the 24-hex site **id**; the
//! `extPortal/auth` body carries the site **name** (field notes §1.9, §1.5). Functions here
//! take whichever the wire wants; [`super::OmadaClient`] resolves one from the other.

use std::sync::Arc;

use reqwest::RequestBuilder;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::error::OmadaError;
use super::transport::{self, as_i64, Answer};
use super::{AuthRecord, AuthorizeRequest, Common};
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

    /// An operator session is open (it may still have expired on the controller's side).
    pub(crate) fn has_session(&self) -> bool {
        self.current().is_some()
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
        let raw = c
            .send(deadline, "hotspot login", None, || {
                c.http
                    .post(url.clone())
                    .header("Accept", "application/json")
                    .json(&body)
            })
            .await?;
        match transport::classify("hotspot login", &c.base, &raw)? {
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
                    "hotspot operator {:?} could not log in (errorCode {code}: {msg}); check the operator's name and password under Hotspot › Operators",
                    self.username
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
            let raw = c
                .send(deadline, what, None, || {
                    build(&id, &token)
                        .header("Csrf-Token", token.as_str())
                        .header("Accept", "application/json")
                })
                .await?;
            let why = match transport::classify(what, &c.base, &raw)? {
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
                return Err(OmadaError::AuthFailed(format!("{what}: the controller still refused the session after logging in again ({why}); check the operator's role (Administrator) and its Site Privileges")));
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
        let origin_url = c.sends_origin_url(deadline).await;
        let body = self.auth_body(req, origin_url)?;
        self.call(c, deadline, "extPortal/auth", |id, _| {
            c.http
                .post(c.url(&[id, "api", "v2", "hotspot", "extPortal", "auth"]))
                .json(&body)
        })
        .await?;
        Ok(())
    }

    /// The documented body (reference §3.1), values as strings like the doc's JSON; with
    /// `origin_url` (controller 6.2.10+, doc 132060's body) also `"originUrl": ""`.
    pub(crate) fn auth_body(
        &self,
        req: &AuthorizeRequest,
        origin_url: bool,
    ) -> Result<Value, OmadaError> {
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
            // An untagged LAN portal may send no VLAN (or vid=0): give back what came, 0.
            m.insert("gatewayMac".into(), gw.to_string().into());
            m.insert("vid".into(), req.vid.unwrap_or(0).to_string().into());
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
        if origin_url {
            m.insert("originUrl".into(), "".into());
        }
        if let Some(k) = req.down_kbps {
            m.insert("downloadRateLimitKbps".into(), k.into());
        }
        if let Some(k) = req.up_kbps {
            m.insert("uploadRateLimitKbps".into(), k.into());
        }
        Ok(Value::Object(m))
    }

    /// One page of the site's authorized-client records, optionally searched (`searchKey`),
    /// newest end first (`sorts.end=desc`, as EllaFi's firmware asks).
    async fn clients_page(
        &self,
        c: &Common,
        site_id: &str,
        search: Option<&str>,
        page: u64,
        page_size: u64,
        deadline: Instant,
    ) -> Result<(Vec<AuthRecord>, i64), OmadaError> {
        let result = self
            .call(c, deadline, "hotspot clients", |id, _| {
                let mut q: Vec<(&str, String)> = vec![
                    ("currentPage", page.to_string()),
                    ("currentPageSize", page_size.to_string()),
                    ("sorts.end", "desc".into()),
                ];
                if let Some(key) = search {
                    q.push(("searchKey", key.to_string()));
                }
                c.http
                    .get(c.url(&[id, "api", "v2", "hotspot", "sites", site_id, "clients"]))
                    .query(&q)
            })
            .await?;
        let rows = result
            .get("data")
            .and_then(Value::as_array)
            .map(|rows| rows.iter().filter_map(AuthRecord::from_row).collect())
            .unwrap_or_default();
        let total = result.get("totalRows").and_then(as_i64).unwrap_or(0);
        Ok((rows, total))
    }

    /// Every record (bounded: 50 pages of 100), searched by `search` when given.
    pub(crate) async fn records(
        &self,
        c: &Common,
        site_id: &str,
        search: Option<&str>,
        deadline: Instant,
    ) -> Result<Vec<AuthRecord>, OmadaError> {
        let page_size = 100u64;
        let mut out = Vec::new();
        for page in 1..=50u64 {
            let (rows, total) = self
                .clients_page(c, site_id, search, page, page_size, deadline)
                .await?;
            let n = rows.len();
            out.extend(rows);
            if n < page_size as usize || (page * page_size) as i64 >= total {
                break;
            }
        }
        Ok(out)
    }

    /// A cheap authenticated call: the first record of a site (also the permission check:
    /// the operator may list that site's clients).
    pub(crate) async fn probe_site(
        &self,
        c: &Common,
        site_id: &str,
        deadline: Instant,
    ) -> Result<(), OmadaError> {
        self.clients_page(c, site_id, None, 1, 1, deadline)
            .await
            .map(|_| ())
    }

    /// Disconnect every valid record of this MAC on the site, found by searching for the MAC
    /// (newest first; the number of records on the site does not matter). A record's `valid`
    /// flag stays true after its end on real controllers (field notes §1.9), so every valid
    /// one is disconnected. Returns how many were; 0 = nothing left to end.
    pub(crate) async fn unauthorize(
        &self,
        c: &Common,
        site_id: &str,
        mac: Mac,
        deadline: Instant,
    ) -> Result<usize, OmadaError> {
        let key = mac.to_string();
        let ids: Vec<String> = self
            .records(c, site_id, Some(&key), deadline)
            .await?
            .into_iter()
            .filter(|r| r.mac == Some(mac) && r.valid)
            .map(|r| r.id)
            .collect();
        if ids.is_empty() {
            tracing::debug!(
                site_id,
                "no valid record for this client; nothing to disconnect"
            );
            return Ok(0);
        }
        for rid in &ids {
            // No body, like the Hotspot Manager's own Unauthorize button (field notes §1.9).
            self.call(c, deadline, "hotspot disconnect", |id, _| {
                c.http.post(c.url(&[
                    id,
                    "api",
                    "v2",
                    "hotspot",
                    "sites",
                    site_id,
                    "cmd",
                    "clients",
                    rid,
                    "disconnect",
                ]))
            })
            .await?;
        }
        Ok(ids.len())
    }

    /// Log in now (used by the settings test and the self-test), replacing any session.
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
