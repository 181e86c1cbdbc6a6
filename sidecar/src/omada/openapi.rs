//! Open API (controller ≥ 5.12/5.13, reference §4.2): client-credentials token, site id by
//! name, `hotspot/clients/{MAC}/auth` and `/unauth`. The token is cached until shortly before
//! `expiresIn` and minted again on expiry, HTTP 401 or errorCode -44112/-44113 (once per call).

use std::collections::HashMap;
use std::time::Duration;

use reqwest::RequestBuilder;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::error::OmadaError;
use super::transport::{self, Answer};
use super::{Common, SiteInfo};
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
    /// site name (and id) → site id.
    sites: std::sync::Mutex<HashMap<String, String>>,
}

impl OpenApi {
    pub(crate) fn new(client_id: String, client_secret: String) -> Self {
        Self {
            client_id,
            client_secret,
            token: std::sync::Mutex::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            mint_lock: tokio::sync::Mutex::new(()),
            sites: std::sync::Mutex::new(HashMap::new()),
        }
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
        let raw = transport::send(&c.policy, deadline, "openapi token", || {
            c.http
                .post(url.clone())
                .query(&[("grant_type", "client_credentials")])
                .json(&body)
        })
        .await?;
        match transport::classify("openapi token", &raw)? {
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
                    "Open API token refused (errorCode {code}: {msg})"
                )))
            }
            Answer::SessionLost(why) => Err(OmadaError::AuthFailed(format!(
                "Open API token refused ({why})"
            ))),
        }
    }

    /// One call with `Authorization: AccessToken=…`; a lost token is minted again once.
    async fn call(
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
            let raw = transport::send(&c.policy, deadline, what, || {
                build(&id).header("Authorization", auth.as_str())
            })
            .await?;
            let why = match transport::classify(what, &raw)? {
                Answer::Json {
                    code: 0, result, ..
                } => return Ok(result),
                Answer::Json { code, msg, .. } if TOKEN_CODES.contains(&code) => {
                    format!("errorCode {code} ({msg})")
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

    /// Every site of the controller (`GET /openapi/v1/{id}/sites`, paged).
    pub(crate) async fn sites(
        &self,
        c: &Common,
        deadline: Instant,
    ) -> Result<Vec<SiteInfo>, OmadaError> {
        let mut out = Vec::new();
        let page_size = 100i64;
        for page in 1..=50i64 {
            let result = self
                .call(c, deadline, "openapi sites", |id| {
                    c.http
                        .get(c.url(&["openapi", "v1", id, "sites"]))
                        .query(&[("page", page), ("pageSize", page_size)])
                })
                .await?;
            let rows = result
                .get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for row in &rows {
                if let (Some(id), Some(name)) = (
                    row.get("siteId").and_then(Value::as_str),
                    row.get("name").and_then(Value::as_str),
                ) {
                    out.push(SiteInfo {
                        id: id.to_string(),
                        name: name.to_string(),
                    });
                }
            }
            let total = result
                .get("totalRows")
                .and_then(transport::as_i64)
                .unwrap_or(0);
            if rows.len() < page_size as usize || page * page_size >= total {
                break;
            }
        }
        let mut cache = self.sites.lock().unwrap_or_else(|e| e.into_inner());
        cache.clear();
        for s in &out {
            cache.insert(s.name.clone(), s.id.clone());
            cache.insert(s.id.clone(), s.id.clone());
        }
        Ok(out)
    }

    /// Site id for a site name (exact, then case-insensitive) or id; looked up once, cached.
    async fn site_id(
        &self,
        c: &Common,
        site: &str,
        deadline: Instant,
    ) -> Result<String, OmadaError> {
        if let Some(id) = self
            .sites
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(site)
        {
            return Ok(id.clone());
        }
        let all = self.sites(c, deadline).await?;
        all.iter()
            .find(|s| s.name == site || s.id == site)
            .or_else(|| all.iter().find(|s| s.name.eq_ignore_ascii_case(site)))
            .map(|s| s.id.clone())
            .ok_or_else(|| {
                OmadaError::InvalidRequest(format!(
                    "site {site:?} does not exist on the controller"
                ))
            })
    }

    pub(crate) async fn authorize(
        &self,
        c: &Common,
        site: &str,
        mac: Mac,
        deadline: Instant,
    ) -> Result<(), OmadaError> {
        let site_id = self.site_id(c, site, deadline).await?;
        let mac = mac.to_string();
        self.call(c, deadline, "openapi auth", |id| {
            c.http.post(c.url(&[
                "openapi", "v1", id, "sites", &site_id, "hotspot", "clients", &mac, "auth",
            ]))
        })
        .await?;
        Ok(())
    }

    /// `unauth`; "client does not exist" (already gone) counts as success.
    pub(crate) async fn unauthorize(
        &self,
        c: &Common,
        site: &str,
        mac: Mac,
        deadline: Instant,
    ) -> Result<(), OmadaError> {
        let site_id = self.site_id(c, site, deadline).await?;
        let mac = mac.to_string();
        match self
            .call(c, deadline, "openapi unauth", |id| {
                c.http.post(c.url(&[
                    "openapi", "v1", id, "sites", &site_id, "hotspot", "clients", &mac, "unauth",
                ]))
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(OmadaError::Rejected { code, message })
                if message.to_ascii_lowercase().contains("not exist") =>
            {
                tracing::debug!(code, "open api unauth: client already gone");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
