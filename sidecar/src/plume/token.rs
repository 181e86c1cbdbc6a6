//! OAuth client-credentials tokens for the Plume API (DESIGN §6, reference §1).
//!
//! One cached token per credential set (SSO URL + Authorization header + partner id), held
//! only in memory. Refreshed when fewer than `refresh_margin` (60 s) remain. At most one
//! refresh is in flight per credential set: callers that need a token while another caller
//! is minting one wait for that result instead of asking the SSO themselves (a tokio mutex
//! around the refresh, plus a double-check of the cache once it is held). Callers that still
//! hold a valid (not yet expired) token are not made to wait at all.
//!
//! The SSO is never hammered: failures back off exponentially (the cached failure is returned
//! meanwhile), mints are at least `min_mint_interval` apart, and a 401 from the API re-mints at
//! most once per token; a token that was itself minted because of a 401 is not thrown away on
//! another 401 for `reminted_grace` (a 401 that survives a fresh token is about the customer,
//! not the token: reference §1.3 "Authorization required or customer id not found").
//!
//! A 401 is read per customer (issue 15 item 2): the manager remembers which customer ids were
//! read successfully and which were refused with a working token ("proven": it had a 2xx from
//! the API). A refused customer never causes another mint; a 401 for a customer that was read
//! before does (the token is the likelier culprit); a 401 with a proven token for a customer
//! never read is that customer. So a unit with a wrong customer id costs at most one extra mint,
//! ever, instead of one every few minutes.
//!
//! OAuth failures keep Okta's `error` code (reference §1.2), so the host is told whether the
//! partner id (`invalid_scope`) or the client credentials (`invalid_client`) are wrong.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::error::{transport_reason, OAuthReason};
use super::{PlumeError, PlumeSettings};
use crate::clock::Clock;

/// A bearer token. `Debug`/`Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// The raw token, for the `Authorization: Bearer` header only.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

/// Tuning knobs; the defaults are the contract's numbers.
#[derive(Clone, Debug)]
pub struct TokenOptions {
    /// Refresh when fewer than this remain (DESIGN §6: 60 s).
    pub refresh_margin: Duration,
    /// Never two mints for one credential set closer than this.
    pub min_mint_interval: Duration,
    /// First wait after a failed mint; doubles per consecutive failure.
    pub backoff_base: Duration,
    /// Longest wait between failed mints.
    pub backoff_max: Duration,
    /// A token minted because of a 401 is kept through further 401s for this long.
    pub reminted_grace: Duration,
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(60),
            min_mint_interval: Duration::from_secs(1),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(300),
            reminted_grace: Duration::from_secs(300),
        }
    }
}

/// Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    clock: Clock,
    opts: TokenOptions,
    slots: Mutex<HashMap<Vec<u8>, Arc<Slot>>>,
    /// Tokens minted so far (for the `plume_token_refreshes` metric).
    minted: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Slot {
    cached: Mutex<Option<Cached>>,
    /// Customer id → read successfully (`true`) or refused with a working token (`false`).
    customers: Mutex<HashMap<String, bool>>,
    /// Set by `invalidate`: the next mint happens because of a 401.
    next_is_remint: Mutex<bool>,
    refresh: tokio::sync::Mutex<Attempts>,
}

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    expires_at: OffsetDateTime,
    minted_at: OffsetDateTime,
    reminted_on_401: bool,
    /// The API answered 2xx to this token at least once.
    proven: bool,
}

/// At most this many customer ids are remembered per credential set (one per unit).
const MAX_CUSTOMERS: usize = 10_000;

#[derive(Default)]
struct Attempts {
    last_attempt: Option<OffsetDateTime>,
    failures: u32,
    next_allowed: Option<OffsetDateTime>,
    last_error: Option<PlumeError>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// Used when the SSO omits `expires_in` (the documented example TTL, conservative).
const FALLBACK_EXPIRES_IN: i64 = 600;

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    pub fn new(http: reqwest::Client, clock: Clock) -> Self {
        Self::with_options(http, clock, TokenOptions::default())
    }

    pub fn with_options(http: reqwest::Client, clock: Clock, opts: TokenOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                clock,
                opts,
                slots: Mutex::new(HashMap::new()),
                minted: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// How many tokens were minted since start.
    pub fn minted(&self) -> u64 {
        self.inner.minted.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// A valid token for these credentials, minting one when needed.
    pub async fn token(&self, settings: &PlumeSettings) -> Result<AccessToken, PlumeError> {
        self.get(settings, false).await
    }

    /// For `PUT /api/v1/settings/plume`: proves the credentials work. Uses a cached token when
    /// one is valid, otherwise mints now, ignoring the failure backoff (a person is asking).
    pub async fn verify(&self, settings: &PlumeSettings) -> Result<(), PlumeError> {
        self.get(settings, true).await.map(|_| ())
    }

    /// The API answered 401 to `used`. Returns true when the caller should retry once with a
    /// fresh [`TokenManager::token`]: the token was dropped, or someone already replaced it.
    pub fn invalidate(&self, settings: &PlumeSettings, used: &AccessToken) -> bool {
        let slot = self.slot(settings);
        let now = self.inner.clock.now();
        let mut cached = slot.cached.lock().unwrap_or_else(|e| e.into_inner());
        match cached.as_ref() {
            Some(c) if &c.token == used => {
                if c.reminted_on_401 && now - c.minted_at < self.inner.opts.reminted_grace {
                    return false;
                }
                *cached = None;
                *slot
                    .next_is_remint
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = true;
                tracing::info!("plume: API rejected the access token, minting a new one");
                true
            }
            _ => true,
        }
    }

    /// The API answered 2xx to `token` (for `customer`, when the call named one).
    pub(crate) fn note_success(
        &self,
        settings: &PlumeSettings,
        token: &AccessToken,
        customer: Option<&str>,
    ) {
        let slot = self.slot(settings);
        if let Some(c) = slot
            .cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .filter(|c| &c.token == token)
        {
            c.proven = true;
        }
        if let Some(id) = customer {
            remember(&slot, id, true);
        }
    }

    /// The API refused `customer` with a token that works: remember, so that this customer
    /// never causes another mint.
    pub(crate) fn note_customer_refused(&self, settings: &PlumeSettings, customer: &str) {
        remember(&self.slot(settings), customer, false);
    }

    /// `Some(true)`: read before; `Some(false)`: refused before; `None`: never seen.
    pub(crate) fn customer_seen(&self, settings: &PlumeSettings, customer: &str) -> Option<bool> {
        self.slot(settings)
            .customers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&customer.to_ascii_lowercase())
            .copied()
    }

    /// The API answered 2xx to this token before.
    pub(crate) fn is_proven(&self, settings: &PlumeSettings, token: &AccessToken) -> bool {
        self.slot(settings)
            .cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|c| &c.token == token && c.proven)
    }

    /// Drop everything cached for these credentials (settings deleted or replaced).
    pub fn forget(&self, settings: &PlumeSettings) {
        let key = key_of(settings);
        self.inner
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }

    fn slot(&self, settings: &PlumeSettings) -> Arc<Slot> {
        let key = key_of(settings);
        self.inner
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone()
    }

    fn fresh(&self, slot: &Slot, now: OffsetDateTime) -> Option<Cached> {
        let margin = self.inner.opts.refresh_margin;
        let cached = slot.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|c| c.expires_at - now > margin)
            .cloned()
    }

    fn unexpired(&self, slot: &Slot, now: OffsetDateTime) -> Option<AccessToken> {
        let cached = slot.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|c| c.expires_at > now)
            .map(|c| c.token.clone())
    }

    async fn get(&self, settings: &PlumeSettings, force: bool) -> Result<AccessToken, PlumeError> {
        let slot = self.slot(settings);
        if let Some(c) = self.fresh(&slot, self.inner.clock.now()) {
            return Ok(c.token);
        }
        // Someone is refreshing: a still-valid token is good enough, no need to wait.
        let mut attempts = match slot.refresh.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                if let Some(t) = self.unexpired(&slot, self.inner.clock.now()) {
                    return Ok(t);
                }
                slot.refresh.lock().await
            }
        };
        // Double-check: the refresh we waited for may have produced a token.
        let now = self.inner.clock.now();
        if let Some(c) = self.fresh(&slot, now) {
            return Ok(c.token);
        }
        if !force {
            if let (Some(next), Some(err)) = (attempts.next_allowed, attempts.last_error.as_ref()) {
                if now < next {
                    return match self.unexpired(&slot, now) {
                        Some(t) => Ok(t),
                        None => Err(err.clone()),
                    };
                }
            }
        }
        if let Some(last) = attempts.last_attempt {
            let since = now - last;
            let min = self.inner.opts.min_mint_interval;
            if since < min {
                if let Some(t) = self.unexpired(&slot, now) {
                    return Ok(t);
                }
                let wait = (min - since).unsigned_abs().min(min);
                tokio::time::sleep(wait).await;
            }
        }
        let reminted = std::mem::take(
            &mut *slot
                .next_is_remint
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        attempts.last_attempt = Some(self.inner.clock.now());
        match self.mint(settings).await {
            Ok((token, expires_in)) => {
                let now = self.inner.clock.now();
                let cached = Cached {
                    token: token.clone(),
                    expires_at: now + time::Duration::seconds(expires_in),
                    minted_at: now,
                    reminted_on_401: reminted,
                    proven: false,
                };
                *slot.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(cached);
                attempts.failures = 0;
                attempts.next_allowed = None;
                attempts.last_error = None;
                tracing::debug!(expires_in, "plume: access token minted");
                Ok(token)
            }
            Err(err) => {
                attempts.failures = attempts.failures.saturating_add(1);
                let exp = attempts.failures.saturating_sub(1).min(16);
                let backoff = self
                    .inner
                    .opts
                    .backoff_base
                    .saturating_mul(1u32 << exp)
                    .min(self.inner.opts.backoff_max);
                attempts.next_allowed = Some(self.inner.clock.now() + backoff);
                attempts.last_error = Some(err.clone());
                tracing::warn!(error = %err, failures = attempts.failures, retry_in_s = backoff.as_secs(), "plume: token request failed");
                if reminted {
                    *slot
                        .next_is_remint
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = true;
                }
                match self.unexpired(&slot, self.inner.clock.now()) {
                    Some(t) => Ok(t),
                    None => Err(err),
                }
            }
        }
    }

    async fn mint(&self, settings: &PlumeSettings) -> Result<(AccessToken, i64), PlumeError> {
        let scope = settings.scope();
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", scope.as_str()),
        ];
        let resp = self
            .inner
            .http
            .post(settings.sso_url.trim())
            .header(
                reqwest::header::AUTHORIZATION,
                settings.authorization_value(),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CACHE_CONTROL, "no-cache")
            .form(&form)
            .send()
            .await
            .map_err(|e| PlumeError::OAuth {
                status: None,
                detail: transport_reason(&e),
                reason: None,
            })?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.unwrap_or_default();
            return Err(oauth_failure(status.as_u16(), &body));
        }
        let body: TokenResponse = resp.json().await.map_err(|_| PlumeError::OAuth {
            status: Some(status.as_u16()),
            detail: "invalid token response".into(),
            reason: None,
        })?;
        if body.access_token.is_empty() {
            return Err(PlumeError::OAuth {
                status: Some(status.as_u16()),
                detail: "invalid token response".into(),
                reason: None,
            });
        }
        let expires_in = body
            .expires_in
            .filter(|s| *s > 0)
            .unwrap_or(FALLBACK_EXPIRES_IN);
        self.inner
            .minted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok((AccessToken(body.access_token.into()), expires_in))
    }
}

fn remember(slot: &Slot, customer: &str, ok: bool) {
    let mut map = slot.customers.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_CUSTOMERS && !map.contains_key(&customer.to_ascii_lowercase()) {
        map.clear();
    }
    map.insert(customer.to_ascii_lowercase(), ok);
}

/// A refused token request, with Okta's reason (reference §1.2: `{"error","error_description"}`;
/// an unknown authorization server answers 404 with Okta's `errorCode`/`errorSummary`).
pub(crate) fn oauth_failure(status: u16, body: &[u8]) -> PlumeError {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let text = |k: &str| {
        v.as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(|s| s.chars().take(200).collect::<String>())
    };
    let code = text("error");
    let reason = match code.as_deref() {
        Some("invalid_client") => Some(OAuthReason::WrongCredentials),
        Some("invalid_scope") => Some(OAuthReason::WrongPartnerId),
        Some("unsupported_grant_type" | "invalid_grant") => Some(OAuthReason::GrantRefused),
        Some("invalid_request") => Some(OAuthReason::BadRequest),
        _ if status == 404 => Some(OAuthReason::WrongSsoUrl),
        _ => None,
    };
    let explain = reason.map(|r| match r {
        OAuthReason::WrongCredentials => {
            "wrong client id or secret; check the Authorization header"
        }
        OAuthReason::WrongPartnerId => {
            "the partner ID is not one these credentials may use; check the partner ID"
        }
        OAuthReason::GrantRefused => {
            "the SSO refused the client-credentials grant; check the SSO URL"
        }
        OAuthReason::BadRequest => {
            "the SSO could not read the request; paste the Authorization header exactly as the Plume Portal shows it (Basic …)"
        }
        OAuthReason::WrongSsoUrl => {
            "no authorization server at this SSO URL; check the id between /oauth2/ and /v1/token"
        }
    });
    let detail = match (code, explain) {
        (Some(c), Some(x)) => format!("{status} ({c}): {x}"),
        (None, Some(x)) => format!("{status}: {x}"),
        (Some(c), None) => match text("error_description") {
            Some(d) => format!("{status} ({c}): {d}"),
            None => format!("{status} ({c})"),
        },
        (None, None) => status.to_string(),
    };
    PlumeError::OAuth {
        status: Some(status),
        detail,
        reason,
    }
}

fn key_of(settings: &PlumeSettings) -> Vec<u8> {
    let mut h = Sha256::new();
    for part in [
        settings.sso_url.trim(),
        &settings.authorization_value(),
        settings.partner_id.trim(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plume_oauth_failures_keep_oktas_reason() {
        let e = oauth_failure(
            401,
            br#"{"error":"invalid_client","error_description":"The client secret supplied for a confidential client is invalid."}"#,
        );
        assert_eq!(
            e.to_string(),
            "OAuth token request failed: 401 (invalid_client): wrong client id or secret; check the Authorization header"
        );
        assert_eq!(e.field(), Some("auth_header"));
        let e = oauth_failure(400, br#"{"error":"invalid_scope","error_description":"x"}"#);
        assert!(e.to_string().starts_with(
            "OAuth token request failed: 400 (invalid_scope): the partner ID is not one"
        ));
        assert_eq!(e.field(), Some("partner_id"));
        let e = oauth_failure(
            404,
            br#"{"errorCode":"E0000007","errorSummary":"Not found"}"#,
        );
        assert_eq!(e.field(), Some("sso_url"));
        assert!(
            e.to_string().contains("404: no authorization server"),
            "{e}"
        );
        let e = oauth_failure(
            400,
            br#"{"error":"weird","error_description":"Something odd"}"#,
        );
        assert_eq!(
            e.to_string(),
            "OAuth token request failed: 400 (weird): Something odd"
        );
        assert_eq!(e.field(), None);
        assert_eq!(
            oauth_failure(502, b"<html>").to_string(),
            "OAuth token request failed: 502"
        );
    }
}
