//! Omada controller clients (hotspot-operator API and Open API). See DESIGN §4 and
//! `reference/omada-protocol.md`.
//!
//! One type for callers, [`OmadaClient`], built from [`OmadaSettings`]. Credentials are
//! capabilities (DESIGN §10): hotspot-operator and Open API credentials may both be set; the
//! [`ResolvedMode`] only says which API lets guests in (`auto` → the hotspot API when operator
//! credentials are set). The Open API, when present, also looks up site ids, SSIDs, portal
//! timeouts and operators. Every operation runs inside the [`RetryPolicy`] deadline: network
//! errors and 5xx are retried with backoff, a lost session/token is renewed once, a
//! controller's verdict (non-zero `errorCode`) comes back as [`OmadaError::Rejected`], and a
//! problem the host must fix (a site the credentials cannot use, a site id that cannot be
//! learnt) as [`OmadaError::Misconfigured`].
//!
//! Sites: Hotspot-Manager paths and every Open API path take the 24-hex site **id**; the
//! redirect and the `extPortal/auth` body carry the site **name** (field notes §1.9). Callers
//! may give either: [`OmadaClient::resolve_site`] turns a name into an id through the Open
//! API's site list, or takes an id as given; without Open API credentials no documented call
//! lists sites to a hotspot operator (field notes §3.6), so the id must come from the host.
//!
//! Layout: `settings` (what the host configures), `tls` + `cert` (how the certificate is
//! trusted and described), `transport` (one HTTP exchange with retries + the JSON envelope),
//! `limiter` (the Open API request budget), `hotspot` and `openapi` (the two protocols),
//! `selftest` (every set-up step, one report), `types` (what the client hands back).

mod cert;
mod clients;
mod devices;
mod error;
mod hotspot;
mod limiter;
mod openapi;
pub mod ppsk;
mod selftest;
mod settings;
pub mod tls;
mod transport;
mod types;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::{json, Value};
use tokio::time::Instant;
use url::Url;

pub use cert::{CertificateInfo, FACTORY_SHA256};
pub use clients::{ConnectedClient, Kick, KickOutcome, KickReport, MacAuthError};
pub use devices::{DeviceInfo, DeviceKind, DeviceState, GatewayWan, SiteDevices, SsidAps, WanPort};
pub use error::OmadaError;
pub use hotspot::SESSION_COOKIES;
pub use ppsk::{
    CheckStatus, KeyChange, KeyName, PpskCheck, PpskError, PpskItem, PpskProfile,
    PpskProfileSummary, PpskReadiness, ProfileKey, PskEntry,
};
pub use selftest::{SelfTestReport, SiteSpec, Step, StepKind, StepStatus};
pub use settings::{
    AuthTimeUnit, Capabilities, OmadaMode, OmadaSettings, ResolvedMode, SettingsError,
};
pub use tls::TlsTrust;
pub use transport::RetryPolicy;
pub use types::{
    AccessCheck, AuthRecord, ControllerInfo, NewOperator, OperatorInfo, PortalTimeout,
    SessionCheck, SiteAccess, SiteInfo, SitePortalTimeouts, SsidInfo,
};

use crate::net::Mac;

/// What the portal knows when a guest is let in (from the controller's redirect + the grant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client_mac: Mac,
    /// `clientIp` of the redirect; sent when present (required by 6.2.10+).
    pub client_ip: Option<String>,
    /// The site as the redirect carried it (a name on 5.x; Open API mode also accepts an id).
    pub site: String,
    /// Wireless (EAP) path: `apMac` + `ssidName` + `radioId`.
    pub ap_mac: Option<Mac>,
    pub ssid_name: Option<String>,
    pub radio_id: Option<u8>,
    /// Wired (gateway) path: `gatewayMac` + `vid`. Used only when `ap_mac` is absent.
    pub gateway_mac: Option<Mac>,
    pub vid: Option<u16>,
    /// How long the grant lasts from now (hotspot `time`; Open API sends no duration).
    pub duration: Duration,
    /// Rate limits (hotspot 6.2.10+ optional fields; ignored by older controllers).
    pub down_kbps: Option<u32>,
    pub up_kbps: Option<u32>,
}

/// `GET /api/info` result.
#[derive(Clone, Debug, Default)]
struct ApiInfo {
    controller_id: String,
    version: Option<String>,
    api_version: Option<String>,
}

/// `6.2.10.17` ≥ 6.2.10? (Doc 132060 applies from 6.2.10 on.)
pub(crate) fn version_at_least(version: &str, want: [u64; 3]) -> bool {
    let mut parts = version
        .trim()
        .trim_start_matches(['v', 'V'])
        .split(['.', '-', ' '])
        .map(|p| p.parse::<u64>().ok());
    let mut got = [0u64; 3];
    for slot in &mut got {
        match parts.next() {
            Some(Some(n)) => *slot = n,
            Some(None) => return false,
            None => break,
        }
    }
    got >= want
}

/// A 24-hex site id (as `GET /openapi/v1/{id}/sites` returns them).
pub fn is_site_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What both protocols share: HTTP client, base URL, policy, controller id.
pub(crate) struct Common {
    pub(crate) http: reqwest::Client,
    base: Url,
    pub(crate) policy: RetryPolicy,
    configured_id: Option<String>,
    discovered: tokio::sync::Mutex<Option<String>>,
    /// The last `/api/info` answer and when it was asked (for the 6.2.10+ body).
    info: std::sync::Mutex<Option<(Option<ApiInfo>, Instant)>>,
    /// The leaf certificate of the last TLS handshake.
    seen_cert: tls::SeenCert,
    /// The Open API request budget, when one applies.
    pub(crate) openapi_limit: Option<limiter::RateLimiter>,
}

impl Common {
    /// `base` + path segments (each percent-encoded as needed).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// One exchange with retries ([`transport::send`]); a certificate refused in the handshake
    /// comes back with the certificate that was shown.
    pub(crate) async fn send(
        &self,
        deadline: Instant,
        what: &str,
        limiter: Option<&limiter::RateLimiter>,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<transport::Raw, OmadaError> {
        match transport::send(&self.policy, deadline, what, limiter, build).await {
            Err(OmadaError::TlsUntrusted {
                message,
                certificate: None,
            }) => {
                let certificate = self.certificate().map(Box::new);
                let message = match &certificate {
                    Some(c) => {
                        tracing::warn!(subject = %c.subject, sha256 = %c.sha256, factory_default = c.factory_default, "the controller's certificate is not trusted");
                        format!("{message}. {}", c.advice())
                    }
                    None => message,
                };
                Err(OmadaError::TlsUntrusted {
                    message,
                    certificate,
                })
            }
            other => other,
        }
    }

    /// The certificate of the last handshake (HTTPS only).
    pub(crate) fn certificate(&self) -> Option<CertificateInfo> {
        if self.base.scheme() != "https" {
            return None;
        }
        let der = self
            .seen_cert
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        Some(CertificateInfo::from_der(der.as_ref()))
    }

    async fn api_info(&self, deadline: Instant) -> Result<ApiInfo, OmadaError> {
        let url = self.url(&["api", "info"]);
        let result = self.fetch_api_info(&url, deadline).await;
        *self.info.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((result.as_ref().ok().cloned(), Instant::now()));
        result
    }

    async fn fetch_api_info(&self, url: &Url, deadline: Instant) -> Result<ApiInfo, OmadaError> {
        let raw = self
            .send(deadline, "api/info", None, || {
                self.http
                    .get(url.clone())
                    .header("Accept", "application/json")
            })
            .await?;
        if raw.status.is_redirection() {
            // A cloud connector sending us to the controller's LAN address says so here.
            transport::classify("api/info", &self.base, &raw)?;
        }
        let v: Value = serde_json::from_slice(&raw.body).map_err(|_| {
            OmadaError::Protocol(format!(
                "api/info: HTTP {} without JSON; is this an Omada controller?",
                raw.status.as_u16()
            ))
        })?;
        if let Some(code) = v
            .get("errorCode")
            .and_then(transport::as_i64)
            .filter(|c| *c != 0)
        {
            let msg = v.get("msg").and_then(Value::as_str).unwrap_or("");
            return Err(OmadaError::Rejected {
                code,
                message: format!("api/info: {msg}"),
            });
        }
        let result = v.get("result").cloned().unwrap_or(Value::Null);
        let id = result
            .get("omadacId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let Some(id) = id else {
            return Err(OmadaError::Protocol(
                "api/info: no result.omadacId; is this an Omada controller 5.0.15 or newer (4.x is not supported)?".into(),
            ));
        };
        Ok(ApiInfo {
            controller_id: id.to_string(),
            version: result
                .get("controllerVer")
                .and_then(Value::as_str)
                .map(str::to_string),
            api_version: result.get("apiVer").and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            }),
        })
    }

    /// The controller's version as last seen, if `/api/info` answered.
    fn known_version(&self) -> Option<String> {
        self.info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|(i, _)| i.as_ref())
            .and_then(|i| i.version.clone())
    }

    /// Does this controller take the 6.2.10+ body (`originUrl`)? Asks `/api/info` once when
    /// nothing is known yet (again 5 minutes after a failed ask); unknown = the older body.
    pub(crate) async fn sends_origin_url(&self, deadline: Instant) -> bool {
        let stale = match &*self.info.lock().unwrap_or_else(|e| e.into_inner()) {
            None => true,
            Some((None, at)) => at.elapsed() > Duration::from_secs(300),
            Some((Some(_), _)) => false,
        };
        if stale {
            // At most two seconds of a guest's budget for this, whatever the controller does.
            let short = deadline.min(Instant::now() + Duration::from_secs(2));
            let _ = self.api_info(short).await;
        }
        self.known_origin_url()
    }

    fn known_origin_url(&self) -> bool {
        self.known_version()
            .is_some_and(|v| version_at_least(&v, [6, 2, 10]))
    }

    /// The configured id, or the one `/api/info` reports (asked once, then cached).
    pub(crate) async fn controller_id(&self, deadline: Instant) -> Result<String, OmadaError> {
        if let Some(id) = &self.configured_id {
            return Ok(id.clone());
        }
        let mut slot = self.discovered.lock().await;
        if let Some(id) = slot.as_ref() {
            return Ok(id.clone());
        }
        let known = self
            .info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|(i, _)| i.clone());
        let info = match known {
            Some(info) => info,
            None => self.api_info(deadline).await?,
        };
        tracing::info!(controller_id = %info.controller_id, version = info.version.as_deref().unwrap_or("?"), "discovered Omada controller id");
        *slot = Some(info.controller_id.clone());
        Ok(info.controller_id)
    }
}

/// Site names and ids learnt so far (both directions).
#[derive(Default)]
struct SiteBook {
    by_name: HashMap<String, String>,
    by_id: HashMap<String, String>,
    /// The first id a caller told (a unit's site): the one the session check reads, so it
    /// never asks about a site the credentials need not use.
    told: Option<String>,
}

impl SiteBook {
    fn learn(&mut self, site: &SiteInfo) {
        if site.name != site.id {
            self.by_name.insert(site.name.clone(), site.id.clone());
        }
        self.by_id.insert(site.id.clone(), site.name.clone());
    }

    fn find(&self, site: &str) -> Option<SiteInfo> {
        if let Some(id) = self.by_name.get(site) {
            return Some(SiteInfo {
                id: id.clone(),
                name: site.to_string(),
            });
        }
        self.by_id.get(site).map(|name| SiteInfo {
            id: site.to_string(),
            name: name.clone(),
        })
    }
}

/// A client for one controller. Cheap to clone (shared session/token state).
#[derive(Clone)]
pub struct OmadaClient {
    inner: Arc<Inner>,
}

struct Inner {
    common: Common,
    hotspot: Option<hotspot::Hotspot>,
    openapi: Option<openapi::OpenApi>,
    mode: ResolvedMode,
    trust: TlsTrust,
    capabilities: Capabilities,
    sites: std::sync::Mutex<SiteBook>,
    /// One PPSK write sequence at a time per profile.
    ppsk_locks: ppsk::ProfileLocks,
}

impl std::fmt::Debug for OmadaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OmadaClient")
            .field("base_url", &self.inner.common.base.as_str())
            .field("mode", &self.inner.mode)
            .field("tls", &self.inner.trust)
            .field("capabilities", &self.inner.capabilities)
            .finish()
    }
}

/// What a missing Open API means for an operation that needs it.
fn needs_openapi(what: &str) -> OmadaError {
    OmadaError::Misconfigured(format!(
        "{what} needs Open API client credentials (an app in Client mode under Settings › Platform Integration › Open API, role Administrator, with the units' sites)"
    ))
}

impl OmadaClient {
    /// Validate the settings and build the client. No network traffic happens here.
    pub fn new(settings: OmadaSettings, policy: RetryPolicy) -> Result<OmadaClient, OmadaError> {
        settings.validate()?;
        let base = settings.parsed_base_url()?;
        let mode = settings.resolved_mode();
        let (tls_config, trust, seen_cert) = tls::client_config(&settings)?;
        if trust == TlsTrust::Disabled && base.scheme() == "https" {
            tracing::warn!(base_url = %base, "TLS certificate verification of the Omada controller is DISABLED (verify_tls = false)");
        }
        let jar = Arc::new(reqwest_cookie_store::CookieStoreMutex::default());
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config)
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.attempt_timeout.min(Duration::from_secs(3)))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("rental-wifi-sidecar/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OmadaError::Tls(format!("HTTP client setup: {e}")))?;
        let hotspot = settings.has_operator().then(|| {
            hotspot::Hotspot::new(
                settings::present(&settings.username)
                    .unwrap_or_default()
                    .to_string(),
                settings.password.clone().unwrap_or_default(),
                settings.auth_time_unit,
                jar,
            )
        });
        let openapi = settings.has_openapi().then(|| {
            openapi::OpenApi::new(
                settings::present(&settings.client_id)
                    .unwrap_or_default()
                    .to_string(),
                settings::present(&settings.client_secret)
                    .unwrap_or_default()
                    .to_string(),
            )
        });
        let common = Common {
            http,
            base,
            policy,
            configured_id: settings::present(&settings.controller_id).map(str::to_string),
            discovered: tokio::sync::Mutex::new(None),
            info: std::sync::Mutex::new(None),
            seen_cert,
            openapi_limit: limiter::RateLimiter::per_second(settings.openapi_rate()),
        };
        Ok(OmadaClient {
            inner: Arc::new(Inner {
                common,
                hotspot,
                openapi,
                mode,
                trust,
                capabilities: settings.capabilities(),
                sites: std::sync::Mutex::new(SiteBook::default()),
                ppsk_locks: ppsk::ProfileLocks::default(),
            }),
        })
    }

    pub fn mode(&self) -> ResolvedMode {
        self.inner.mode
    }

    /// What the configured credentials make possible (CONTRACTS §5).
    pub fn capabilities(&self) -> Capabilities {
        self.inner.capabilities
    }

    /// How the controller's certificate is trusted.
    pub fn tls_trust(&self) -> TlsTrust {
        self.inner.trust
    }

    /// The certificate the controller showed in the last handshake (HTTPS only).
    pub fn certificate(&self) -> Option<CertificateInfo> {
        self.inner.common.certificate()
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.inner.common.policy.deadline
    }

    fn hotspot_api(&self) -> Option<&hotspot::Hotspot> {
        self.inner.hotspot.as_ref()
    }

    fn open_api(&self, what: &str) -> Result<&openapi::OpenApi, OmadaError> {
        self.inner
            .openapi
            .as_ref()
            .ok_or_else(|| needs_openapi(what))
    }

    /// The operator name (for messages), when operator credentials are set.
    fn operator_name(&self) -> Option<&str> {
        self.inner.hotspot.as_ref().map(|h| h.username.as_str())
    }

    /// Check the settings against the controller: `/api/info` (discovers the id when not set,
    /// and checks it when set), then a fresh operator login and/or an Open API token, the
    /// site list and each site's portal timeout (Open API).
    pub async fn test(&self) -> Result<ControllerInfo, OmadaError> {
        let c = &self.inner.common;
        let deadline = self.deadline();
        let info = self.checked_api_info(deadline).await?;
        let controller_id = c.controller_id(deadline).await?;
        if let Some(h) = self.hotspot_api() {
            h.fresh_login(c, deadline).await?;
        }
        let mut sites = Vec::new();
        let mut portal_timeouts = Vec::new();
        if let Some(o) = &self.inner.openapi {
            o.mint(c, deadline).await?;
            sites = self.list_sites().await?;
            for site in sites.iter().take(20) {
                let (portals, error) = match self.portal_auth_timeout(&site.id).await {
                    Ok(p) => (p, None),
                    Err(e) => (Vec::new(), Some(e.to_string())),
                };
                portal_timeouts.push(SitePortalTimeouts {
                    site: site.clone(),
                    portals,
                    error,
                });
            }
        }
        let (controller_version, api_version) =
            info.map(|i| (i.version, i.api_version)).unwrap_or_default();
        Ok(ControllerInfo {
            controller_id,
            controller_version,
            api_version,
            mode: self.inner.mode,
            sites,
            certificate: c.certificate(),
            capabilities: self.inner.capabilities,
            portal_timeouts,
        })
    }

    /// `/api/info`, tolerated to fail only when the id is configured (proxies, cloud hosts),
    /// and then compared with the configured id.
    async fn checked_api_info(&self, deadline: Instant) -> Result<Option<ApiInfo>, OmadaError> {
        let c = &self.inner.common;
        let info = match c.api_info(deadline).await {
            Ok(info) => Some(info),
            Err(e @ (OmadaError::Protocol(_) | OmadaError::Rejected { .. }))
                if c.configured_id.is_some() =>
            {
                tracing::info!(error = %e, "api/info unavailable; using the configured controller id");
                None
            }
            Err(e) => return Err(e),
        };
        if let (Some(info), Some(configured)) = (&info, &c.configured_id) {
            if !info.controller_id.eq_ignore_ascii_case(configured) {
                return Err(OmadaError::InvalidSettings {
                    field: "controller_id",
                    message: format!(
                        "The controller reports ID {}; leave the field empty to use it",
                        info.controller_id
                    ),
                });
            }
        }
        if let (Some(info), None) = (&info, &c.configured_id) {
            *c.discovered.lock().await = Some(info.controller_id.clone());
        }
        Ok(info)
    }

    /// The cheap check the controller monitor runs instead of logging in: `/api/info` (does
    /// the controller answer?), then one authenticated read on each session already open — a
    /// site's first client record (operator) or the first site (Open API). Nothing is logged
    /// in for the check itself; a session the controller dropped is renewed once, as on any
    /// call.
    pub async fn check_session(&self) -> Result<SessionCheck, OmadaError> {
        let c = &self.inner.common;
        let deadline = self.deadline();
        let version = match c.api_info(deadline).await {
            Ok(info) => info.version,
            Err(OmadaError::Protocol(_) | OmadaError::Rejected { .. })
                if c.configured_id.is_some() =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        let mut check = SessionCheck {
            controller_version: version,
            hotspot_checked: false,
            openapi_checked: false,
        };
        if let Some(h) = self.hotspot_api() {
            let site = {
                let book = self.inner.sites.lock().unwrap_or_else(|e| e.into_inner());
                book.told
                    .clone()
                    .or_else(|| book.by_id.keys().next().cloned())
            };
            if let (true, Some(site_id)) = (h.has_session(), site) {
                h.probe_site(c, &site_id, deadline).await?;
                check.hotspot_checked = true;
            }
        }
        if let Some(o) = &self.inner.openapi {
            if o.has_token() {
                o.probe(c, deadline).await?;
                check.openapi_checked = true;
            }
        }
        Ok(check)
    }

    /// Let a guest device in for `req.duration` (hotspot) or the portal's Authentication
    /// Timeout (Open API). `req.site` is the site name (the `extPortal/auth` body's); the
    /// Open API path needs the id, resolved with [`resolve_site`](Self::resolve_site).
    pub async fn authorize(&self, req: &AuthorizeRequest) -> Result<(), OmadaError> {
        let c = &self.inner.common;
        let deadline = self.deadline();
        let result = match (self.inner.mode, &self.inner.hotspot, &self.inner.openapi) {
            (ResolvedMode::Hotspot, Some(h), _) => h.authorize(c, req, deadline).await,
            (ResolvedMode::OpenApi, _, Some(o)) => match self.resolve_site(&req.site).await {
                Ok(site) => o.authorize(c, &site.id, req.client_mac, deadline).await,
                Err(e) => Err(e),
            },
            _ => Err(OmadaError::Misconfigured(
                "no credentials for the API chosen to let guests in".into(),
            )),
        };
        match &result {
            Ok(()) => {
                tracing::info!(site = %req.site, mode = self.inner.mode.as_str(), "client authorized on the controller")
            }
            Err(e) => {
                tracing::warn!(site = %req.site, mode = self.inner.mode.as_str(), error = %e, "client authorization failed")
            }
        }
        result
    }

    /// Take a device's authorisation away on `site` (a name, resolved to its id, or an id).
    /// A device with no valid record left is a success.
    pub async fn unauthorize(&self, site: &str, client_mac: Mac) -> Result<(), OmadaError> {
        let result = match self.resolve_site(site).await {
            Ok(s) => self.unauthorize_at(&s.id, client_mac).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            tracing::warn!(site, mode = self.inner.mode.as_str(), error = %e, "client unauthorization failed");
        }
        result
    }

    /// Take a device's authorisation away on the site with this id: the valid records of the
    /// MAC (searched by MAC, newest first) are disconnected — through the Hotspot Manager in
    /// hotspot mode, through `authed-records/{id}/disconnect` in Open API mode (never counting
    /// `unauth`'s "client does not exist" as done before the records were checked). Returns
    /// how many records were ended (0: none was valid).
    pub async fn unauthorize_at(
        &self,
        site_id: &str,
        client_mac: Mac,
    ) -> Result<usize, OmadaError> {
        let c = &self.inner.common;
        let deadline = self.deadline();
        match (self.inner.mode, &self.inner.hotspot, &self.inner.openapi) {
            (ResolvedMode::Hotspot, Some(h), _) => {
                h.unauthorize(c, site_id, client_mac, deadline).await
            }
            (ResolvedMode::OpenApi, _, Some(o)) => {
                o.unauthorize(c, site_id, client_mac, deadline).await
            }
            _ => Err(OmadaError::Misconfigured(
                "no credentials for the API chosen to let guests in".into(),
            )),
        }
    }

    /// Tell the client a site's id (e.g. the one the host stored with a unit), so names can be
    /// resolved without asking the controller.
    pub fn remember_site(&self, name: &str, id: &str) {
        let mut book = self.inner.sites.lock().unwrap_or_else(|e| e.into_inner());
        book.told.get_or_insert_with(|| id.to_string());
        book.learn(&SiteInfo {
            id: id.to_string(),
            name: name.to_string(),
        });
    }

    /// The site for a name or a 24-hex id. A name is looked up in the sites the Open API app
    /// sees (exact, then ignoring case) and remembered; an id is taken as given. Without Open
    /// API credentials a name the client was not told about is a [`OmadaError::Misconfigured`]
    /// that says where the id comes from.
    pub async fn resolve_site(&self, site: &str) -> Result<SiteInfo, OmadaError> {
        let site = site.trim();
        if let Some(found) = self
            .inner
            .sites
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .find(site)
        {
            return Ok(found);
        }
        if self.inner.openapi.is_none() {
            if is_site_id(site) {
                return Ok(SiteInfo {
                    id: site.to_string(),
                    name: site.to_string(),
                });
            }
            return Err(OmadaError::Misconfigured(format!(
                "site {site:?}: the Hotspot Manager API addresses sites by their 24-character id, and a hotspot operator cannot look it up; add Open API client credentials (the sidecar then looks it up) or give the site's id"
            )));
        }
        let all = self.list_sites().await?;
        let found = all
            .iter()
            .find(|s| s.name == site || s.id == site)
            .or_else(|| all.iter().find(|s| s.name.eq_ignore_ascii_case(site)))
            .cloned();
        match found {
            Some(s) => Ok(s),
            None if is_site_id(site) => Err(OmadaError::Misconfigured(format!(
                "site id {site} is not among the sites the Open API app sees; add the site to the app's Site Privileges under Settings › Platform Integration › Open API"
            ))),
            None => {
                let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
                Err(OmadaError::Misconfigured(format!(
                    "site {site:?} is not among the sites the Open API app sees ({}); check the unit's site name, or add the site to the app's Site Privileges under Settings › Platform Integration › Open API",
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                )))
            }
        }
    }

    /// Every site the Open API app sees (ids and names), remembered for name lookups.
    pub async fn list_sites(&self) -> Result<Vec<SiteInfo>, OmadaError> {
        let o = self.open_api("listing the controller's sites")?;
        let sites = o.sites(&self.inner.common, self.deadline()).await?;
        let mut book = self.inner.sites.lock().unwrap_or_else(|e| e.into_inner());
        for s in &sites {
            book.learn(s);
        }
        Ok(sites)
    }

    /// The SSIDs of a site (Open API), for the unit form to offer instead of free text.
    pub async fn list_ssids(&self, site_id: &str) -> Result<Vec<SsidInfo>, OmadaError> {
        let o = self.open_api("listing a site's SSIDs")?;
        o.ssids(&self.inner.common, site_id, self.deadline()).await
    }

    /// The hotspot operators a site lists (Open API).
    pub async fn list_hotspot_operators(
        &self,
        site_id: &str,
    ) -> Result<Vec<OperatorInfo>, OmadaError> {
        let o = self.open_api("listing hotspot operators")?;
        o.operators(&self.inner.common, site_id, self.deadline())
            .await
    }

    /// Create the sidecar's own hotspot operator (role Administrator) for these sites, as
    /// dllfpp/omada-guest-portal's set-up wizard does (tested on 6.2): the name is `base_name`,
    /// or `base_name-2`, `-3`… when taken; the password is random (32 characters with a
    /// special character, which 6.2 requires). Give the result to the settings as `username`
    /// and `password`; the hotspot API then authorises with a per-grant duration.
    pub async fn create_hotspot_operator(
        &self,
        base_name: &str,
        site_ids: &[String],
    ) -> Result<NewOperator, OmadaError> {
        let o = self.open_api("creating a hotspot operator")?;
        let base_name = base_name.trim();
        if base_name.is_empty() || base_name.len() > 100 || !base_name.is_ascii() {
            return Err(OmadaError::InvalidRequest(
                "the operator name must be 1 to 100 ASCII characters".into(),
            ));
        }
        let Some(first) = site_ids.first() else {
            return Err(OmadaError::InvalidRequest(
                "an operator needs at least one site".into(),
            ));
        };
        let c = &self.inner.common;
        let taken: std::collections::HashSet<String> = o
            .operators(c, first, self.deadline())
            .await?
            .into_iter()
            .map(|op| op.name)
            .collect();
        let mut name = base_name.to_string();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base_name}-{n}");
            n += 1;
        }
        let password = operator_password();
        let body = json!({
            "name": name,
            "password": password,
            "note": "Rental Wi-Fi sidecar",
            "operatorRoleType": 0,
            "selectedSites": site_ids,
        });
        o.create_operator(c, first, &body, self.deadline()).await?;
        tracing::info!(operator = %name, sites = site_ids.len(), "hotspot operator created");
        Ok(NewOperator {
            name,
            password,
            site_ids: site_ids.to_vec(),
        })
    }

    /// The Authentication Timeout of the site's enabled External Portal Server portals
    /// (Open API): how long an Open API authorisation lasts.
    pub async fn portal_auth_timeout(
        &self,
        site_id: &str,
    ) -> Result<Vec<PortalTimeout>, OmadaError> {
        let o = self.open_api("reading the portal's authentication timeout")?;
        o.portal_timeouts(&self.inner.common, site_id, self.deadline())
            .await
    }

    /// The shortest Authentication Timeout of the site's External Portal Server portals;
    /// `None` when the site has none (or none could be read).
    pub async fn shortest_portal_timeout(
        &self,
        site_id: &str,
    ) -> Result<Option<Duration>, OmadaError> {
        Ok(self
            .portal_auth_timeout(site_id)
            .await?
            .iter()
            .filter_map(|p| p.timeout)
            .min())
    }

    /// Every authorised-client record the controller keeps for a site (bounded: 5 000), with
    /// its auth type, through the hotspot API when operator credentials are set, else the
    /// Open API. Reconciliation ends the valid external-portal ones (`auth_type` 4) that have
    /// no active grant, and leaves every other kind alone.
    pub async fn authorizations(&self, site_id: &str) -> Result<Vec<AuthRecord>, OmadaError> {
        let c = &self.inner.common;
        let deadline = self.deadline();
        match (&self.inner.hotspot, &self.inner.openapi) {
            (Some(h), _) => h.records(c, site_id, None, deadline).await,
            (None, Some(o)) => o.records(c, site_id, None, deadline).await,
            (None, None) => Err(OmadaError::Misconfigured(
                "no controller credentials".into(),
            )),
        }
    }

    /// The records of one device on a site (searched by MAC), newest first: what the
    /// controller says about that device's authorisation.
    pub async fn device_records(
        &self,
        site_id: &str,
        client_mac: Mac,
    ) -> Result<Vec<AuthRecord>, OmadaError> {
        let c = &self.inner.common;
        let deadline = self.deadline();
        let key = client_mac.to_string();
        let rows = match (&self.inner.openapi, &self.inner.hotspot) {
            (Some(o), _) => o.records(c, site_id, Some(&key), deadline).await?,
            (None, Some(h)) => h.records(c, site_id, Some(&key), deadline).await?,
            (None, None) => {
                return Err(OmadaError::Misconfigured(
                    "no controller credentials".into(),
                ))
            }
        };
        Ok(rows
            .into_iter()
            .filter(|r| r.mac == Some(client_mac))
            .collect())
    }

    /// May the configured credentials use this site? Hotspot operator: it may list the
    /// site's clients (and, when the Open API can tell, has the Administrator role); Open API
    /// app: it sees the site. Every failed check names the site, the credential and what to
    /// change on the controller.
    pub async fn check_site_access(&self, site: &SiteInfo) -> SiteAccess {
        let c = &self.inner.common;
        let mut checks = Vec::new();
        let label = if site.name == site.id {
            format!("site {}", site.id)
        } else {
            format!("site {:?} ({})", site.name, site.id)
        };
        if let (Some(h), Some(op)) = (self.hotspot_api(), self.operator_name()) {
            match h.probe_site(c, &site.id, self.deadline()).await {
                Ok(()) => checks.push(AccessCheck {
                    api: "hotspot",
                    ok: true,
                    message: format!("hotspot operator {op:?} may list the clients of {label}"),
                    controller_message: None,
                }),
                Err(e) => checks.push(AccessCheck {
                    api: "hotspot",
                    ok: false,
                    message: format!(
                        "hotspot operator {op:?} may not list the clients of {label}: in the controller, Hotspot › Operators › {op}, give it the role Administrator and add {:?} to its Site Privileges",
                        site.name
                    ),
                    controller_message: Some(e.controller_message().unwrap_or_else(|| e.to_string())),
                }),
            }
        }
        if let Some(o) = &self.inner.openapi {
            match self.list_sites().await {
                Ok(sites) if sites.iter().any(|s| s.id == site.id) => {
                    checks.push(AccessCheck {
                        api: "openapi",
                        ok: true,
                        message: format!("the Open API app sees {label}"),
                        controller_message: None,
                    });
                    if let Some(op) = self.operator_name() {
                        // The role is only visible to the Open API; a Viewer can list but not
                        // let guests in or out.
                        if let Ok(ops) = o.operators(c, &site.id, self.deadline()).await {
                            if let Some(found) = ops.iter().find(|x| x.name == op) {
                                if !found.administrator {
                                    checks.push(AccessCheck {
                                        api: "hotspot",
                                        ok: false,
                                        message: format!(
                                            "hotspot operator {op:?} has the Viewer role, which may not let guests in or out: set its role to Administrator under Hotspot › Operators"
                                        ),
                                        controller_message: None,
                                    });
                                }
                            }
                        }
                    }
                }
                Ok(_) => checks.push(AccessCheck {
                    api: "openapi",
                    ok: false,
                    message: format!(
                        "the Open API app does not see {label}: add {:?} to the app's Site Privileges under Settings › Platform Integration › Open API",
                        site.name
                    ),
                    controller_message: None,
                }),
                Err(e) => checks.push(AccessCheck {
                    api: "openapi",
                    ok: false,
                    message: format!("the Open API app could not list the sites to check {label}"),
                    controller_message: Some(e.controller_message().unwrap_or_else(|| e.to_string())),
                }),
            }
        }
        SiteAccess {
            site: site.clone(),
            checks,
        }
    }

    /// Run every set-up step on the host's controller and report each with pass/fail and
    /// the controller's own message (see [`selftest`]).
    pub async fn self_test(&self, sites: &[SiteSpec]) -> SelfTestReport {
        selftest::run(self, sites).await
    }

    /// The exact hotspot `extPortal/auth` body this client would send now (diagnostics,
    /// tests): with `originUrl` once `/api/info` reported 6.2.10 or newer.
    pub fn hotspot_auth_body(&self, req: &AuthorizeRequest) -> Option<Result<Value, OmadaError>> {
        let origin = self.inner.common.known_origin_url();
        self.inner
            .hotspot
            .as_ref()
            .map(|h| h.auth_body(req, origin))
    }
}

/// `len` random letters and digits (OS-seeded CSPRNG): probe names, throwaway passwords.
pub(crate) fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A random operator password: 32 characters, letters and digits plus one special character
/// (6.2's operator password policy wants one — dllfpp's wizard notes it).
fn operator_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let mut s: String = (0..30)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    s.push('!');
    s.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_numbers() {
        for (v, want) in [
            ("6.2.10.17", true),
            ("6.2.14.11", true),
            ("6.3.0", true),
            ("7.0", true),
            ("6.2.10", true),
            ("6.2.9.30", false),
            ("6.2", false),
            ("5.15.24", false),
            ("v6.2.10", true),
            ("garbage", false),
            ("", false),
        ] {
            assert_eq!(version_at_least(v, [6, 2, 10]), want, "{v}");
        }
    }

    #[test]
    fn site_ids_are_24_hex() {
        assert!(is_site_id("640effd1b3f2ae5b912275ec"));
        assert!(!is_site_id("Default"));
        assert!(!is_site_id("640effd1b3f2ae5b912275e"));
        assert!(!is_site_id("640effd1b3f2ae5b912275eg"));
    }

    #[test]
    fn operator_passwords_are_long_random_and_have_a_special_character() {
        let a = operator_password();
        let b = operator_password();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().any(|c| !c.is_ascii_alphanumeric()));
        assert!(a.is_ascii());
    }

    #[test]
    fn records_read_both_id_shapes_and_default_to_valid() {
        let r = AuthRecord::from_row(&json!({"id": "69a34b85162e843881806923", "mac": "36-18-EA-86-B6-43", "end": 1772337826726i64, "valid": true, "authType": 4})).unwrap();
        assert!(r.valid && r.is_external_portal());
        assert_eq!(r.mac.unwrap().to_string(), "36-18-EA-86-B6-43");
        let n = AuthRecord::from_row(&json!({"id": 7, "mac": "x"})).unwrap();
        assert_eq!(
            (n.id.as_str(), n.mac, n.valid, n.auth_type),
            ("7", None, true, None)
        );
        assert!(AuthRecord::from_row(&json!({"mac": "36-18-EA-86-B6-43"})).is_none());
    }
}
