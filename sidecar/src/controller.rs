//! The one Omada controller the sidecar talks to: its stored settings (sealed at rest), the
//! live client built from them, and what the host should see about it (connected, last
//! error, the problem to fix, what the credentials make possible). Settings changes swap the
//! client atomically; in-flight calls finish on the old one.
//!
//! `connected` means "the controller answers" (CONTRACTS §5); `problem` is a sentence for the
//! host about the last failure of each kind of call (let a guest in, take one out, check),
//! cleared when that kind of call succeeds again — so a controller that lets guests in but
//! refuses every revoke (a site it cannot use, a role that may only view) says so.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use time::OffsetDateTime;

use crate::clock::Clock;
use crate::events::{Event, EventBus};
use crate::metrics::Metrics;
use crate::net::Mac;
use crate::omada::{
    AuthorizeRequest, Capabilities, ControllerInfo, OmadaClient, OmadaError, OmadaSettings,
    PpskError, ResolvedMode, RetryPolicy, SelfTestReport, SessionCheck, SiteSpec,
};
use crate::secrets::Sealer;
use crate::store::{rows, Store, StoreError};

/// Name of the settings row.
const SETTING: &str = "omada";
/// What a secret reads as in the API, and what a PUT may send to keep the stored one.
pub const MASK: &str = "***";

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("the Omada controller is not configured")]
    NotConfigured,
    #[error(transparent)]
    Omada(#[from] OmadaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the host should see about the controller (`api/` turns it into the wire type).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControllerStatus {
    /// `None` when not configured, else the resolved client mode.
    pub mode: Option<ResolvedMode>,
    pub connected: bool,
    pub last_error: Option<String>,
    pub last_ok_at: Option<OffsetDateTime>,
    /// A sentence for the host about what to fix, or `None`.
    pub problem: Option<String>,
    /// What the configured credentials make possible.
    pub capabilities: Capabilities,
}

#[derive(Clone, Debug, Default)]
struct Status {
    connected: bool,
    last_error: Option<String>,
    last_ok_at: Option<OffsetDateTime>,
    /// Per kind of call, the sentence of its last failure the host must act on.
    problems: BTreeMap<Call, String>,
}

/// The kinds of controller call whose failures are tracked separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Call {
    Revoke,
    Authorize,
    Check,
    /// Wi-Fi passwords of password-mode units (PPSK keys, the kicks after a deletion).
    Passwords,
}

/// The sentence a host should read for this failure, if it is one they can act on.
fn problem_of(e: &OmadaError) -> Option<String> {
    match e {
        OmadaError::Misconfigured(m) | OmadaError::AuthFailed(m) => Some(m.clone()),
        OmadaError::TlsUntrusted { message, .. } => Some(message.clone()),
        OmadaError::Tls(_) | OmadaError::Unreachable(_) | OmadaError::Timeout(_) => {
            Some(format!("The controller does not answer: {e}"))
        }
        OmadaError::Rejected { .. }
        | OmadaError::Protocol(_)
        | OmadaError::InvalidSettings { .. }
        | OmadaError::InvalidRequest(_) => None,
    }
}

pub struct Controller {
    store: Store,
    sealer: Sealer,
    clock: Clock,
    events: EventBus,
    metrics: Arc<Metrics>,
    policy: RetryPolicy,
    current: RwLock<Option<(OmadaSettings, OmadaClient)>>,
    status: Mutex<Status>,
    /// Site name → id pairs the host gave (units' site ids), told to every client built.
    site_ids: Mutex<Vec<(String, String)>>,
}

impl Controller {
    /// Load stored settings (no network traffic).
    pub async fn load(
        store: Store,
        sealer: Sealer,
        clock: Clock,
        events: EventBus,
        metrics: Arc<Metrics>,
        policy: RetryPolicy,
    ) -> Result<Controller, StoreError> {
        let sealed = store.read(|c| rows::setting_get(c, SETTING)).await?;
        let c = Controller {
            store,
            sealer,
            clock,
            events,
            metrics,
            policy,
            current: RwLock::new(None),
            status: Mutex::new(Status::default()),
            site_ids: Mutex::new(Vec::new()),
        };
        if let Some(blob) = sealed {
            match c
                .sealer
                .open(&blob)
                .ok()
                .and_then(|plain| serde_json::from_slice::<OmadaSettings>(&plain).ok())
            {
                Some(settings) => match OmadaClient::new(settings.clone(), c.policy.clone()) {
                    Ok(client) => {
                        if !settings.verify_tls && settings.cert_sha256.is_none() {
                            tracing::warn!("controller TLS certificate verification is disabled (verify_tls = false)");
                        }
                        *c.current.write().unwrap_or_else(|p| p.into_inner()) =
                            Some((settings, client));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "stored controller settings are unusable")
                    }
                },
                None => tracing::error!(
                    "stored controller settings cannot be decrypted; set them again"
                ),
            }
        }
        Ok(c)
    }

    /// The site ids the host knows (e.g. the units' `omada_site_id`), as (name, id) pairs:
    /// names resolve to them without asking the controller — the only way in hotspot-only
    /// set-ups, where no documented call lists sites (field notes §3.6). Replaces the list.
    pub fn remember_sites(&self, sites: &[(String, String)]) {
        *self.site_ids.lock().unwrap_or_else(|p| p.into_inner()) = sites.to_vec();
        if let Some(client) = self.client() {
            for (name, id) in sites {
                client.remember_site(name, id);
            }
        }
    }

    pub fn client(&self) -> Option<OmadaClient> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(_, c)| c.clone())
    }

    pub fn is_configured(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// The stored settings with secrets masked.
    pub fn settings_redacted(&self) -> Option<OmadaSettings> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(s, _)| s.redacted())
    }

    /// Replace the settings. `"***"` secrets keep the stored values. With `validate`, log in
    /// first and store nothing when that fails.
    pub async fn put(
        &self,
        mut settings: OmadaSettings,
        validate: bool,
    ) -> Result<Option<ControllerInfo>, ControllerError> {
        if let Some((old, _)) = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            keep_masked(&mut settings.password, &old.password);
            keep_masked(&mut settings.client_secret, &old.client_secret);
        }
        for secret in [&mut settings.password, &mut settings.client_secret] {
            if secret.as_deref() == Some(MASK) {
                *secret = None;
            }
        }
        settings.validate().map_err(OmadaError::from)?;
        let client = OmadaClient::new(settings.clone(), self.policy.clone())?;
        for (name, id) in self
            .site_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            client.remember_site(name, id);
        }
        let info = if validate {
            let started = Instant::now();
            let res = client.test().await;
            self.metrics.controller_latency.observe(started.elapsed());
            match res {
                Ok(info) => {
                    self.record(Call::Check, Ok(()));
                    Some(info)
                }
                Err(e) => {
                    self.metrics.controller_errors.inc();
                    if let Some(c) = e.certificate() {
                        tracing::warn!(subject = %c.subject, sha256 = %c.sha256, factory_default = c.factory_default, "settings test: the controller's certificate is not trusted");
                    }
                    return Err(e.into());
                }
            }
        } else {
            None
        };
        if let Some(info) = &info {
            if settings.controller_id.is_none() {
                settings.controller_id = Some(info.controller_id.clone());
            }
        }
        if !settings.verify_tls && settings.cert_sha256.is_none() {
            tracing::warn!(
                "controller TLS certificate verification is disabled (verify_tls = false)"
            );
        }
        let sealed = self
            .sealer
            .seal(&serde_json::to_vec(&settings).expect("settings serialize"));
        let now = self.clock.now();
        self.store
            .write(move |tx| rows::setting_put(tx, SETTING, &sealed, now))
            .await?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some((settings, client));
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if validate {
            // Problems were about the old settings; whatever persists comes back on its retry.
            st.problems.clear();
        } else {
            *st = Status::default();
        }
        drop(st);
        Ok(info)
    }

    pub async fn delete(&self) -> Result<bool, ControllerError> {
        let existed = self
            .store
            .write(|tx| rows::setting_delete(tx, SETTING))
            .await?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = None;
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = Status::default();
        Ok(existed)
    }

    fn record(&self, call: Call, result: Result<(), &OmadaError>) {
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        let was = st.connected;
        match result {
            Ok(()) => {
                st.connected = true;
                st.last_error = None;
                st.last_ok_at = Some(self.clock.now());
                st.problems.remove(&call);
                if call == Call::Check {
                    // The controller answers again: outages noted by other calls are over.
                    st.problems
                        .retain(|_, p| !p.starts_with("The controller does not answer"));
                }
            }
            // A controller that answered (even "no") is reachable.
            Err(e)
                if !e.is_transient()
                    && !matches!(
                        e,
                        OmadaError::Tls(_)
                            | OmadaError::TlsUntrusted { .. }
                            | OmadaError::AuthFailed(_)
                    ) =>
            {
                st.connected = true;
                st.last_ok_at = Some(self.clock.now());
                if let Some(p) = problem_of(e) {
                    st.problems.insert(call, p);
                }
            }
            Err(e) => {
                st.connected = false;
                st.last_error = Some(e.to_string());
                if let Some(p) = problem_of(e) {
                    st.problems.insert(call, p);
                }
            }
        }
        if st.connected != was {
            let event = Event::ControllerStatus {
                connected: st.connected,
                last_error: st.last_error.clone(),
            };
            drop(st);
            self.events.publish(event);
        }
    }

    async fn call<T>(
        &self,
        kind: Call,
        f: impl std::future::Future<Output = Result<T, OmadaError>>,
    ) -> Result<T, ControllerError> {
        let started = Instant::now();
        let res = f.await;
        self.metrics.controller_latency.observe(started.elapsed());
        match &res {
            Ok(_) => self.record(kind, Ok(())),
            Err(e) => {
                self.metrics.controller_errors.inc();
                self.record(kind, Err(e));
            }
        }
        Ok(res?)
    }

    pub async fn authorize(&self, req: &AuthorizeRequest) -> Result<(), ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        self.call(Call::Authorize, client.authorize(req)).await
    }

    /// End a device's authorisation on `site` (name or 24-hex id; a name is resolved to the
    /// id the Hotspot-Manager and Open API paths need).
    pub async fn unauthorize(&self, site: &str, mac: Mac) -> Result<(), ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        self.call(Call::Revoke, client.unauthorize(site, mac)).await
    }

    /// A PPSK call (issue 18) on the configured client; its failure is noted like any other
    /// call's (`connected`, `problem`), so a profile the host deleted or a role that may not
    /// write says so in the controller status while the key's outbox item waits.
    pub async fn ppsk<T, F, Fut>(&self, f: F) -> Result<T, PpskError>
    where
        F: FnOnce(OmadaClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, PpskError>>,
    {
        let Some(client) = self.client() else {
            return Err(PpskError::Omada(OmadaError::Misconfigured(
                "the Omada controller is not configured: Wi-Fi passwords wait until it is (Settings › Omada)".into(),
            )));
        };
        let started = Instant::now();
        let res = f(client).await;
        self.metrics.controller_latency.observe(started.elapsed());
        match &res {
            Ok(_) => self.record(Call::Passwords, Ok(())),
            Err(e) => {
                self.metrics.controller_errors.inc();
                match e {
                    PpskError::Omada(o) => self.record(Call::Passwords, Err(o)),
                    other if other.is_misconfiguration() => self.record(
                        Call::Passwords,
                        Err(&OmadaError::Misconfigured(format!(
                            "Wi-Fi passwords: {other}"
                        ))),
                    ),
                    _ => {}
                }
            }
        }
        res
    }

    /// Refresh the status with a cheap check of the current session (used by the background
    /// monitor): `/api/info` plus one authenticated read on an open session — no fresh login,
    /// which controllers log every time (field notes §1.13).
    pub async fn probe(&self) -> Result<SessionCheck, ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        self.call(Call::Check, client.check_session()).await
    }

    /// Run every set-up step against the controller for these sites ([`SelfTestReport`]).
    pub async fn self_test(&self, sites: &[SiteSpec]) -> Result<SelfTestReport, ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        let report = client.self_test(sites).await;
        tracing::info!(
            ok = report.ok,
            failed_step = report
                .first_failure()
                .map(|s| s.message.as_str())
                .unwrap_or(""),
            "controller self-test finished"
        );
        Ok(report)
    }

    /// What the configured credentials make possible (all false when not configured).
    pub fn capabilities(&self) -> Capabilities {
        self.client().map(|c| c.capabilities()).unwrap_or_default()
    }

    /// The sentence the host should read about the controller, or `None`.
    pub fn problem(&self) -> Option<String> {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .problems
            .values()
            .next()
            .cloned()
    }

    pub fn status(&self) -> ControllerStatus {
        let st = self
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        ControllerStatus {
            mode: self.client().map(|c| c.mode()),
            connected: st.connected,
            last_error: st.last_error,
            last_ok_at: st.last_ok_at,
            problem: self.problem(),
            capabilities: self.capabilities(),
        }
    }

    /// Does the configured client authorise with a per-grant length (hotspot API)? Then a
    /// grant whose end moves must be authorised again with the new length.
    pub fn takes_duration(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|(_, c)| c.mode() == ResolvedMode::Hotspot)
    }

    pub fn connected(&self) -> bool {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .connected
    }
}

fn keep_masked(new: &mut Option<String>, old: &Option<String>) {
    if new.as_deref() == Some(MASK) {
        new.clone_from(old);
    }
}
