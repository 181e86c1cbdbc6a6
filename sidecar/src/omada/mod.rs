//! Omada controller clients (hotspot-operator API and Open API). See DESIGN §4 and
//! `reference/omada-protocol.md`.
//!
//! One type for callers, [`OmadaClient`], built from [`OmadaSettings`]; it speaks one of the two
//! APIs ([`ResolvedMode`]), chosen once at construction (`auto` → Open API when client
//! credentials are set). Every operation runs inside the [`RetryPolicy`] deadline: network
//! errors and 5xx are retried with backoff, a lost session/token is renewed once, a
//! controller's verdict (non-zero `errorCode`) comes back as [`OmadaError::Rejected`].
//!
//! Layout: `settings` (what the host configures), `tls` (how the certificate is trusted),
//! `transport` (one HTTP exchange with retries + the JSON envelope), `hotspot` and `openapi`
//! (the two protocols).

mod error;
mod hotspot;
mod openapi;
mod settings;
pub mod tls;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

pub use error::OmadaError;
pub use hotspot::SESSION_COOKIES;
pub use settings::{AuthTimeUnit, OmadaMode, OmadaSettings, ResolvedMode, SettingsError};
pub use tls::TlsTrust;
pub use transport::RetryPolicy;

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

/// A site as the Open API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SiteInfo {
    pub id: String,
    pub name: String,
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
}

/// `GET /api/info` result.
#[derive(Clone, Debug, Default)]
struct ApiInfo {
    controller_id: String,
    version: Option<String>,
    api_version: Option<String>,
}

/// What both protocols share: HTTP client, base URL, policy, controller id.
pub(crate) struct Common {
    pub(crate) http: reqwest::Client,
    base: Url,
    pub(crate) policy: RetryPolicy,
    configured_id: Option<String>,
    discovered: tokio::sync::Mutex<Option<String>>,
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

    async fn api_info(&self, deadline: Instant) -> Result<ApiInfo, OmadaError> {
        let url = self.url(&["api", "info"]);
        let raw = transport::send(&self.policy, deadline, "api/info", || {
            self.http
                .get(url.clone())
                .header("Accept", "application/json")
        })
        .await?;
        let v: Value = serde_json::from_slice(&raw.body).map_err(|_| {
            OmadaError::Protocol(format!(
                "api/info: HTTP {} without JSON; is this an Omada controller?",
                raw.status.as_u16()
            ))
        })?;
        let result = v.get("result").cloned().unwrap_or(Value::Null);
        let id = result
            .get("omadacId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let Some(id) = id else {
            return Err(OmadaError::Protocol(
                "api/info: no result.omadacId; is this an Omada controller?".into(),
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

    /// The configured id, or the one `/api/info` reports (asked once, then cached).
    pub(crate) async fn controller_id(&self, deadline: Instant) -> Result<String, OmadaError> {
        if let Some(id) = &self.configured_id {
            return Ok(id.clone());
        }
        let mut slot = self.discovered.lock().await;
        if let Some(id) = slot.as_ref() {
            return Ok(id.clone());
        }
        let info = self.api_info(deadline).await?;
        tracing::info!(controller_id = %info.controller_id, version = info.version.as_deref().unwrap_or("?"), "discovered Omada controller id");
        *slot = Some(info.controller_id.clone());
        Ok(info.controller_id)
    }
}

enum Backend {
    Hotspot(hotspot::Hotspot),
    OpenApi(openapi::OpenApi),
}

/// A client for one controller. Cheap to clone (shared session/token state).
#[derive(Clone)]
pub struct OmadaClient {
    inner: Arc<Inner>,
}

struct Inner {
    common: Common,
    backend: Backend,
    mode: ResolvedMode,
    trust: TlsTrust,
}

impl std::fmt::Debug for OmadaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OmadaClient")
            .field("base_url", &self.inner.common.base.as_str())
            .field("mode", &self.inner.mode)
            .field("tls", &self.inner.trust)
            .finish()
    }
}

impl OmadaClient {
    /// Validate the settings and build the client. No network traffic happens here.
    pub fn new(settings: OmadaSettings, policy: RetryPolicy) -> Result<OmadaClient, OmadaError> {
        settings.validate()?;
        let base = settings.parsed_base_url()?;
        let mode = settings.resolved_mode();
        let (tls_config, trust) = tls::client_config(&settings)?;
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
        let backend = match mode {
            ResolvedMode::Hotspot => Backend::Hotspot(hotspot::Hotspot::new(
                settings::present(&settings.username)
                    .unwrap_or_default()
                    .to_string(),
                settings.password.clone().unwrap_or_default(),
                settings.auth_time_unit,
                jar,
            )),
            ResolvedMode::OpenApi => Backend::OpenApi(openapi::OpenApi::new(
                settings::present(&settings.client_id)
                    .unwrap_or_default()
                    .to_string(),
                settings::present(&settings.client_secret)
                    .unwrap_or_default()
                    .to_string(),
            )),
        };
        let common = Common {
            http,
            base,
            policy,
            configured_id: settings::present(&settings.controller_id).map(str::to_string),
            discovered: tokio::sync::Mutex::new(None),
        };
        Ok(OmadaClient {
            inner: Arc::new(Inner {
                common,
                backend,
                mode,
                trust,
            }),
        })
    }

    pub fn mode(&self) -> ResolvedMode {
        self.inner.mode
    }

    /// How the controller's certificate is trusted.
    pub fn tls_trust(&self) -> TlsTrust {
        self.inner.trust
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.inner.common.policy.deadline
    }

    /// Check the settings against the controller: `/api/info` (discovers the id when not set,
    /// and checks it when set), then a fresh login (hotspot) or token + site list (Open API).
    pub async fn test(&self) -> Result<ControllerInfo, OmadaError> {
        let c = &self.inner.common;
        let deadline = self.deadline();
        let info = match c.api_info(deadline).await {
            Ok(info) => Some(info),
            // A configured id lets us go on without /api/info (proxies, cloud connectors)…
            Err(e @ (OmadaError::Protocol(_) | OmadaError::Rejected { .. }))
                if c.configured_id.is_some() =>
            {
                tracing::info!(error = %e, "api/info unavailable; using the configured controller id");
                None
            }
            // …but not past a transport failure: the login would fail the same way.
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
        let controller_id = c.controller_id(deadline).await?;
        let sites = match &self.inner.backend {
            Backend::Hotspot(h) => {
                h.fresh_login(c, deadline).await?;
                Vec::new()
            }
            Backend::OpenApi(o) => {
                o.mint(c, deadline).await?;
                o.sites(c, deadline).await?
            }
        };
        let (controller_version, api_version) =
            info.map(|i| (i.version, i.api_version)).unwrap_or_default();
        Ok(ControllerInfo {
            controller_id,
            controller_version,
            api_version,
            mode: self.inner.mode,
            sites,
        })
    }

    /// Let a guest device in for `req.duration`.
    pub async fn authorize(&self, req: &AuthorizeRequest) -> Result<(), OmadaError> {
        let c = &self.inner.common;
        let deadline = self.deadline();
        let result = match &self.inner.backend {
            Backend::Hotspot(h) => h.authorize(c, req, deadline).await,
            Backend::OpenApi(o) => o.authorize(c, &req.site, req.client_mac, deadline).await,
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

    /// Take a device's authorization away. A device the controller no longer knows is a success.
    pub async fn unauthorize(&self, site: &str, client_mac: Mac) -> Result<(), OmadaError> {
        let c = &self.inner.common;
        let deadline = self.deadline();
        let result = match &self.inner.backend {
            Backend::Hotspot(h) => h.unauthorize(c, site, client_mac, deadline).await,
            Backend::OpenApi(o) => o.unauthorize(c, site, client_mac, deadline).await,
        };
        if let Err(e) = &result {
            tracing::warn!(site, mode = self.inner.mode.as_str(), error = %e, "client unauthorization failed");
        }
        result
    }

    /// The exact hotspot `extPortal/auth` body this client would send (diagnostics, tests).
    pub fn hotspot_auth_body(&self, req: &AuthorizeRequest) -> Option<Result<Value, OmadaError>> {
        match &self.inner.backend {
            Backend::Hotspot(h) => Some(h.auth_body(req)),
            Backend::OpenApi(_) => None,
        }
    }
}
