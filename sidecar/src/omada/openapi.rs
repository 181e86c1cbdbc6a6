//! Open API (controller ≥ 5.12/5.13, reference §4.2; spec as generated SDK docs in
//! Tohaker/omada-go-sdk): client-credentials token, sites, SSIDs, portals and their
//! authentication timeout, hotspot operators, `hotspot/clients/{MAC}/auth|unauth` and the
//! authorised-client records. The token is cached until shortly before `expiresIn` and minted
//! again on expiry, HTTP 401 or errorCode -44112/-44113 (once per call). Every request waits
//! for the request budget when one is set ([`super::limiter`]).
//!
//! Un-authorising goes through the records: `unauth` answers "client does not exist" for a
//! device that is merely offline and leaves it authorised (field notes §1.9, dllfpp's
//! `src/omada.js`), so the valid records of the MAC are looked up and disconnected
//! (`authed-records/{id}/disconnect`); `unauth` is only the fallback when no record shows.

use std::time::Duration;

use reqwest::RequestBuilder;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::error::OmadaError;
use super::transport::{self, Answer};
use super::{AuthRecord, Common, OperatorInfo, PortalTimeout, SiteInfo, SsidInfo};
use crate::net::Mac;

/// Access token expired / invalid (Open API Access Guide §1.2).
const TOKEN_CODES: [i64; 2] = [-44112, -44113];
/// Refresh the token this long before the controller says it expires.
const EARLY: Duration = Duration::from_secs(60);

struct Token {
    value: String,
    expires: Instant,
    generation: u64,
}

pub(crate) struct OpenApi {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    token: std::sync::Mutex<Option<Token>>,
    generation: std::sync::atomic::AtomicU64,
    mint_lock: tokio::sync::Mutex<()>,
}

impl OpenApi {
    pub(crate) fn new(client_id: String, client_secret: String) -> Self {
        Self {
            client_id,
            client_secret,
            token: std::sync::Mutex::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            mint_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// An access token is held (it may still be refused).
    pub(crate) fn has_token(&self) -> bool {
        self.current().is_some()
    }

    fn current(&self) -> Option<(String, u64)> {
        let t = self.token.lock().unwrap_or_else(|e| e.into_inner());
        t.as_ref()
            .filter(|t| Instant::now() < t.expires)
            .map(|t| (t.value.clone(), t.generation))
    }

    fn invalidate(&self, generation: u64) {
        let mut t = self.token.lock().unwrap_or_else(|e| e.into_inner());
        if t.as_ref().is_some_and(|t| t.generation == generation) {
            *t = None;
        }
    }

    async fn token(&self, c: &Common, deadline: Instant) -> Result<(String, u64), OmadaError> {
        if let Some(t) = self.current() {
            return Ok(t);
        }
        let _one = self.mint_lock.lock().await;
        if let Some(t) = self.current() {
            return Ok(t);
        }
        self.mint(c, deadline).await
    }

    /// `POST /openapi/authorize/token?grant_type=client_credentials`.
    pub(crate) async fn mint(
        &self,
        c: &Common,
        deadline: Instant,
    ) -> Result<(String, u64), OmadaError> {
        let id = c.controller_id(deadline).await?;
        let url = c.url(&["openapi", "authorize", "token"]);
        let body = json!({"omadacId": id, "client_id": self.client_id, "client_secret": self.client_secret});
        let raw = c
            .send(deadline, "openapi token", c.openapi_limit.as_ref(), || {
                c.http
                    .post(url.clone())
                    .query(&[("grant_type", "client_credentials")])
                    .json(&body)
            })
            .await?;
        match transport::classify("openapi token", &c.base, &raw)? {
            Answer::Json {
                code: 0, result, ..
            } => {
                let value = result
                    .get("accessToken")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        OmadaError::Protocol("openapi token: no result.accessToken".into())
                    })?;
                let secs = result
                    .get("expiresIn")
                    .and_then(transport::as_i64)
                    .unwrap_or(7200)
                    .max(1) as u64;
                let life = Duration::from_secs(secs);
                let life = if life > EARLY * 2 {
                    life - EARLY
                } else {
                    life / 2
                };
                let generation = self
                    .generation
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    + 1;
                *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(Token {
                    value: value.to_string(),
                    expires: Instant::now() + life,
                    generation,
                });
                tracing::debug!(expires_in = secs, "open api access token minted");
                Ok((value.to_string(), generation))
            }
            Answer::Json { code, msg, .. } => {
                tracing::warn!(code, msg = %msg, "open api token refused");
                Err(OmadaError::AuthFailed(format!(
                    "Open API token refused (errorCode {code}: {msg}); check the app's client ID and secret under Settings › Platform Integration › Open API (the app must be in Client mode)"
                )))
            }
            Answer::SessionLost(why) => Err(OmadaError::AuthFailed(format!(
                "Open API token refused ({why})"
            ))),
        }
    }

    /// One call with `Authorization: AccessToken=…`; a lost token is minted again once. A
    /// path this controller does not know — HTTP 404 without Omada's envelope, or `-1600
    /// "Unsupported request path."` — comes back as `Rejected { code: -1600 }` either way
    /// ([`UNSUPPORTED_PATH`]), so callers can tell "this version lacks the call" apart.
    pub(super) async fn call(
        &self,
        c: &Common,
        deadline: Instant,
        what: &str,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<Value, OmadaError> {
        let id = c.controller_id(deadline).await?;
        let mut reminted = false;
        loop {
            let (token, generation) = self.token(c, deadline).await?;
            let auth = format!("AccessToken={token}");
            let raw = c
                .send(deadline, what, c.openapi_limit.as_ref(), || {
                    build(&id).header("Authorization", auth.as_str())
                })
                .await?;
            let answer = match transport::classify(what, &c.base, &raw) {
                Err(OmadaError::Protocol(_)) if raw.status == http::StatusCode::NOT_FOUND => {
                    return Err(OmadaError::Rejected {
                        code: UNSUPPORTED_PATH,
                        message: "Unsupported request path (HTTP 404).".into(),
                    })
                }
                other => other?,
            };
            let why = match answer {
                Answer::Json {
                    code: 0, result, ..
                } => return Ok(result),
                Answer::Json { code, msg, .. } if TOKEN_CODES.contains(&code) => {
                    format!("errorCode {code} ({msg})")
                }
                Answer::Json { code, msg, .. } if code == NO_SITE_PERMISSION => {
                    return Err(OmadaError::Misconfigured(format!(
                        "{what}: the Open API app may not use this site (errorCode {code}: {msg}); add the site to the app's Site Privileges under Settings › Platform Integration › Open API"
                    )))
                }
                Answer::Json { code, msg, .. } => {
                    return Err(OmadaError::Rejected { code, message: msg })
                }
                Answer::SessionLost(why) => why,
            };
            self.invalidate(generation);
            if reminted {
                return Err(OmadaError::AuthFailed(format!(
                    "{what}: the controller still refused a fresh access token ({why})"
                )));
            }
            tracing::info!(what, reason = %why, "open api token not accepted, minting a new one");
            reminted = true;
        }
    }

    /// Every page of a grid answer (`result.{totalRows,data[]}`), bounded to 50 pages.
    pub(super) async fn grid(
        &self,
        c: &Common,
        deadline: Instant,
        what: &str,
        path: &[&str],
        extra: &[(&str, &str)],
    ) -> Result<Vec<Value>, OmadaError> {
        let page_size = 100i64;
        let mut out = Vec::new();
        for page in 1..=50i64 {
            let result = self
                .call(c, deadline, what, |id| {
                    let mut segs = vec!["openapi", "v1", id];
                    segs.extend_from_slice(path);
                    let mut q: Vec<(&str, String)> = vec![
                        ("page", page.to_string()),
                        ("pageSize", page_size.to_string()),
                    ];
                    q.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
                    c.http.get(c.url(&segs)).query(&q)
                })
                .await?;
            let rows = list_of(&result);
            let n = rows.len();
            out.extend(rows);
            let total = result
                .get("totalRows")
                .and_then(transport::as_i64)
                .unwrap_or(0);
            if n < page_size as usize || page * page_size >= total {
                break;
            }
        }
        Ok(out)
    }

    /// Every site the app may see (`GET /openapi/v1/{id}/sites`, paged).
    pub(crate) async fn sites(
        &self,
        c: &Common,
        deadline: Instant,
    ) -> Result<Vec<SiteInfo>, OmadaError> {
        let rows = self
            .grid(c, deadline, "openapi sites", &["sites"], &[])
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some(SiteInfo {
                    id: row.get("siteId").and_then(Value::as_str)?.to_string(),
                    name: row.get("name").and_then(Value::as_str)?.to_string(),
                })
            })
            .collect())
    }

    /// A cheap authenticated call: the first site.
    pub(crate) async fn probe(&self, c: &Common, deadline: Instant) -> Result<(), OmadaError> {
        self.call(c, deadline, "openapi sites", |id| {
            c.http
                .get(c.url(&["openapi", "v1", id, "sites"]))
                .query(&[("page", 1), ("pageSize", 1)])
        })
        .await
        .map(|_| ())
    }

    /// The SSIDs of a site, through its WLAN groups (as dllfpp's wizard does, tested on 6.2).
    pub(crate) async fn ssids(
        &self,
        c: &Common,
        site_id: &str,
        deadline: Instant,
    ) -> Result<Vec<SsidInfo>, OmadaError> {
        let mut out = Vec::new();
        for (_, rows) in self.wlan_ssid_rows(c, site_id, deadline).await? {
            for row in rows {
                let Some(name) = row.get("name").and_then(Value::as_str) else {
                    continue;
                };
                out.push(SsidInfo {
                    id: row
                        .get("ssidId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    name: name.to_string(),
                    guest_network: row
                        .get("guestNetEnable")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    open: row.get("security").and_then(transport::as_i64) == Some(0),
                });
            }
        }
        Ok(out)
    }

    /// The SSID names of each WLAN group of a site: `(wlanId, [ssid name])`.
    pub(super) async fn ssids_by_wlan(
        &self,
        c: &Common,
        site_id: &str,
        deadline: Instant,
    ) -> Result<Vec<(String, Vec<String>)>, OmadaError> {
        Ok(self
            .wlan_ssid_rows(c, site_id, deadline)
            .await?
            .into_iter()
            .map(|(wlan_id, rows)| {
                let names = rows
                    .iter()
                    .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect();
                (wlan_id, names)
            })
            .collect())
    }

    /// Every WLAN group of a site with its SSID rows as the controller lists them (one call
    /// for the groups, one paged grid per group): what `ssids` and `ssids_by_wlan` read.
    async fn wlan_ssid_rows(
        &self,
        c: &Common,
        site_id: &str,
        deadline: Instant,
    ) -> Result<Vec<(String, Vec<Value>)>, OmadaError> {
        let wlans = self
            .call(c, deadline, "openapi wlans", |id| {
                c.http.get(c.url(&[
                    "openapi",
                    "v1",
                    id,
                    "sites",
                    site_id,
                    "wireless-network",
                    "wlans",
                ]))
            })
            .await?;
        let mut out = Vec::new();
        for wlan in list_of(&wlans) {
            let Some(wlan_id) = wlan.get("wlanId").and_then(Value::as_str) else {
                continue;
            };
            let rows = self
                .grid(
                    c,
                    deadline,
                    "openapi ssids",
                    &[
                        "sites",
                        site_id,
                        "wireless-network",
                        "wlans",
                        wlan_id,
                        "ssids",
                    ],
                    &[],
                )
                .await?;
            out.push((wlan_id.to_string(), rows));
        }
        Ok(out)
    }

    /// The hotspot operators the site lists (`GET …/sites/{siteId}/hotspot/operators`).
    pub(crate) async fn operators(
        &self,
        c: &Common,
        site_id: &str,
        deadline: Instant,
    ) -> Result<Vec<OperatorInfo>, OmadaError> {
        let rows = self
            .grid(
                c,
                deadline,
                "openapi hotspot operators",
                &["sites", site_id, "hotspot", "operators"],
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some(OperatorInfo {
                    name: row.get("name").and_then(Value::as_str)?.to_string(),
                    administrator: row
                        .get("operatorRoleType")
                        .and_then(transport::as_i64)
                        .is_none_or(|r| r == 0),
                    site_ids: row
                        .get("selectedSites")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect())
    }

    /// `POST …/sites/{siteId}/hotspot/operators` (HotspotOperator: `name`, `password`,
    /// `operatorRoleType` 0 = Administrator, `selectedSites`, `note`).
    pub(crate) async fn create_operator(
        &self,
        c: &Common,
        site_id: &str,
        body: &Value,
        deadline: Instant,
    ) -> Result<(), OmadaError> {
        self.call(c, deadline, "openapi create hotspot operator", |id| {
            c.http
                .post(c.url(&[
                    "openapi",
                    "v1",
                    id,
                    "sites",
                    site_id,
                    "hotspot",
                    "operators",
                ]))
                .json(body)
        })
        .await
        .map(|_| ())
    }

    /// The enabled External Portal Server portals of a site (`authType` 4) with their
    /// Authentication Timeout (`GET …/portals`, then `GET …/portal/{id}` for each).
    pub(crate) async fn portal_timeouts(
        &self,
        c: &Common,
        site_id: &str,
        deadline: Instant,
    ) -> Result<Vec<PortalTimeout>, OmadaError> {
        let list = self
            .call(c, deadline, "openapi portals", |id| {
                c.http
                    .get(c.url(&["openapi", "v1", id, "sites", site_id, "portals"]))
            })
            .await?;
        let mut out = Vec::new();
        for p in list_of(&list) {
            let enabled = p.get("enable").and_then(Value::as_bool).unwrap_or(true);
            let external = p.get("authType").and_then(transport::as_i64) == Some(4);
            let Some(portal_id) = p.get("id").and_then(Value::as_str) else {
                continue;
            };
            if !enabled || !external {
                continue;
            }
            let detail = self
                .call(c, deadline, "openapi portal", |id| {
                    c.http
                        .get(c.url(&["openapi", "v1", id, "sites", site_id, "portal", portal_id]))
                })
                .await?;
            let name = detail
                .get("name")
                .or_else(|| p.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let timeout = detail.get("authTimeout").and_then(auth_timeout);
            out.push(PortalTimeout {
                portal_id: portal_id.to_string(),
                portal_name: name,
                timeout,
            });
        }
        Ok(out)
    }

    pub(crate) async fn authorize(
        &self,
        c: &Common,
        site_id: &str,
        mac: Mac,
        deadline: Instant,
    ) -> Result<(), OmadaError> {
        let mac = mac.to_string();
        self.call(c, deadline, "openapi auth", |id| {
            c.http.post(c.url(&[
                "openapi", "v1", id, "sites", site_id, "hotspot", "clients", &mac, "auth",
            ]))
        })
        .await?;
        Ok(())
    }

    /// The site's authorised-client records, searched by `search` (`searchKey`: client MAC,
    /// name, … per the spec), newest end first.
    pub(crate) async fn records(
        &self,
        c: &Common,
        site_id: &str,
        search: Option<&str>,
        deadline: Instant,
    ) -> Result<Vec<AuthRecord>, OmadaError> {
        let mut extra = vec![("sorts.end", "desc")];
        if let Some(key) = search {
            extra.push(("searchKey", key));
        }
        let rows = self
            .grid(
                c,
                deadline,
                "openapi authed-records",
                &["sites", site_id, "hotspot", "authed-records"],
                &extra,
            )
            .await?;
        Ok(rows.iter().filter_map(AuthRecord::from_row).collect())
    }

    /// End the device's authorisation: disconnect each valid record of the MAC; only when no
    /// record shows, `unauth` (whose "client does not exist" then means what it says).
    /// Returns how many records were disconnected.
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
        for rid in &ids {
            self.call(c, deadline, "openapi authed-record disconnect", |id| {
                c.http.post(c.url(&[
                    "openapi",
                    "v1",
                    id,
                    "sites",
                    site_id,
                    "hotspot",
                    "authed-records",
                    rid,
                    "disconnect",
                ]))
            })
            .await?;
        }
        if !ids.is_empty() {
            return Ok(ids.len());
        }
        match self
            .call(c, deadline, "openapi unauth", |id| {
                c.http.post(c.url(&[
                    "openapi", "v1", id, "sites", site_id, "hotspot", "clients", &key, "unauth",
                ]))
            })
            .await
        {
            Ok(_) => Ok(0),
            // No valid record was found first, so "does not exist" is true here.
            Err(OmadaError::Rejected { code, message })
                if message.to_ascii_lowercase().contains("not exist") =>
            {
                tracing::debug!(code, "open api: no valid record and no live client");
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }
}

/// `errorCode` -1505: "The current user does not have permissions to access this site"
/// (Open API Access Guide §1.2).
const NO_SITE_PERMISSION: i64 = -1505;

/// `errorCode` -1005: "Operation forbidden." (Open API Access Guide §1.2): the app's role lacks
/// the right the call needs.
pub(super) const FORBIDDEN: i64 = -1005;

/// `errorCode` -1600 "Unsupported request path." (field notes §1.3), also what [`OpenApi::call`]
/// makes of a bare HTTP 404: this controller version does not have the call.
pub(super) const UNSUPPORTED_PATH: i64 = -1600;

/// A result that is a list, or a grid with `data`.
pub(super) fn list_of(result: &Value) -> Vec<Value> {
    match result {
        Value::Array(a) => a.clone(),
        other => other
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}

/// `AuthTimeOpenApiVO`: `authTimeout` 0 custom (`customTimeout` in `customTimeoutUnit` 1 min,
/// 2 hour, 3 day), 1 30 min, 2 1 h, 3 2 h, 4 4 h, 5 8 h, 6 1 day, 7 7 days.
pub(crate) fn auth_timeout(v: &Value) -> Option<Duration> {
    const MIN: u64 = 60;
    let preset = v.get("authTimeout").and_then(transport::as_i64);
    let secs = match preset {
        Some(1) => 30 * MIN,
        Some(2) => 60 * MIN,
        Some(3) => 120 * MIN,
        Some(4) => 240 * MIN,
        Some(5) => 480 * MIN,
        Some(6) => 1440 * MIN,
        Some(7) => 7 * 1440 * MIN,
        Some(0) | None => {
            let n = u64::try_from(v.get("customTimeout").and_then(transport::as_i64)?).ok()?;
            let unit = match v.get("customTimeoutUnit").and_then(transport::as_i64) {
                Some(2) => 60 * MIN,
                Some(3) => 1440 * MIN,
                _ => MIN,
            };
            n.checked_mul(unit)?
        }
        Some(_) => return None,
    };
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auth_timeouts_decode_presets_and_custom_values() {
        let h = |n: u64| Some(Duration::from_secs(n * 3600));
        assert_eq!(
            auth_timeout(&json!({"authTimeout": 1})),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(auth_timeout(&json!({"authTimeout": 5})), h(8));
        assert_eq!(auth_timeout(&json!({"authTimeout": 7})), h(7 * 24));
        assert_eq!(
            auth_timeout(&json!({"authTimeout": 0, "customTimeout": 90, "customTimeoutUnit": 1})),
            Some(Duration::from_secs(90 * 60))
        );
        assert_eq!(
            auth_timeout(&json!({"authTimeout": 0, "customTimeout": 3, "customTimeoutUnit": 3})),
            h(72)
        );
        assert_eq!(
            auth_timeout(
                &json!({"authTimeout": "0", "customTimeout": "12", "customTimeoutUnit": "2"})
            ),
            h(12)
        );
        assert_eq!(auth_timeout(&json!({"authTimeout": 0})), None);
        assert_eq!(auth_timeout(&json!({"authTimeout": 42})), None);
    }
}
