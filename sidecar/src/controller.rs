//! The one Omada controller the sidecar talks to: its stored settings (sealed at rest), the
//! live client built from them, and what the host should see about it (connected, last
//! error, the problem to fix, what the credentials make possible). Settings changes swap the
//! client atomically; in-flight calls finish on the old one.
//!
//! `connected` means "the controller answers" (CONTRACTS §5); `problem` is a sentence for the
//! host about the last failure of each kind of call (let a guest in, take one out, check,
//! the self-test), cleared when that kind of call succeeds again — so a controller that lets
//! guests in but refuses every revoke (a site it cannot use, a role that may only view) says
//! so — and about the outbox items that wait for a fix (issue 12b). Every change of the
//! problem is published as `controller_problem`.
//!
//! In Open API mode an authorisation lasts the portal's Authentication Timeout: the
//! controller keeps each site's timeout (read at settings time, after each authorisation at
//! most once a minute, and before each renewal) for the renewal schedule ([`PortalTimeouts`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::clock::Clock;
use crate::events::{Event, EventBus};
use crate::metrics::Metrics;
use crate::net::Mac;
use crate::omada::{
    AuthRecord, AuthorizeRequest, Capabilities, ControllerInfo, NewOperator, OmadaClient,
    OmadaError, OmadaMode, OmadaSettings, PpskError, ResolvedMode, RetryPolicy, SelfTestReport,
    SessionCheck, SiteAccess, SiteInfo, SitePortalTimeouts, SiteSpec, SsidInfo,
};
use crate::secrets::Sealer;
use crate::store::outbox::Summary;
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
    /// Outbox items waiting for a fix: how many, and the sentence about them.
    waiting: u64,
    outbox: Option<String>,
    /// Units whose site has no id yet, as (unit name, site name).
    missing_ids: Vec<(String, String)>,
}

/// The kinds of controller call whose failures are tracked separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Call {
    Revoke,
    Authorize,
    Check,
    /// The self-test or the settings test's site checks.
    Setup,
    /// Wi-Fi passwords of password-mode units (PPSK keys, the kicks after a deletion).
    Passwords,
}

impl Call {
    /// Its refusals are the outbox's problem: the item waits, and the outbox's summary says
    /// so for exactly as long as the item does (a take-out, a Wi-Fi key).
    fn waits_in_outbox(self) -> bool {
        matches!(self, Call::Revoke | Call::Passwords)
    }
}

/// How long an Open API authorisation is assumed to last when the portal's timeout could
/// never be read: the shortest preset the controller offers (30 minutes), so a renewal
/// comes early rather than late.
pub const FALLBACK_PORTAL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A site's timeout read this recently is not read again after an authorisation.
const TIMEOUT_FRESH: Duration = Duration::from_secs(60);

/// The portal timeouts Open API authorisations last, by site (name or id, as grants and
/// units name them; case-insensitive): what a transaction needs to schedule a renewal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PortalTimeouts {
    by_site: HashMap<String, Duration>,
}

impl PortalTimeouts {
    /// The timeout of `site`, or [`FALLBACK_PORTAL_TIMEOUT`] when it was never read.
    pub fn timeout_for(&self, site: &str) -> Duration {
        self.by_site
            .get(&site.to_ascii_lowercase())
            .copied()
            .unwrap_or(FALLBACK_PORTAL_TIMEOUT)
    }
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
    /// Open API portal timeouts by site, and when each was read.
    timeouts: Mutex<(Arc<PortalTimeouts>, HashMap<String, Instant>)>,
    /// The problem last published (`controller_problem` goes out when it changes).
    published: Mutex<Option<String>>,
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
            timeouts: Mutex::new(Default::default()),
            published: Mutex::new(None),
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

    /// The units whose site has no id yet, as (unit name, site name): without Open API
    /// credentials nothing can look it up, and the problem says so.
    pub fn units_without_site_id(&self, units: &[(String, String)]) {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .missing_ids = units.to_vec();
        self.publish_problem();
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
        *self.timeouts.lock().unwrap_or_else(|p| p.into_inner()) = Default::default();
        if let Some(info) = &info {
            self.learn_timeouts(&info.portal_timeouts);
        }
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if validate {
            // Problems were about the old settings; whatever persists comes back on its retry.
            st.problems.clear();
        } else {
            *st = Status {
                waiting: st.waiting,
                outbox: st.outbox.take(),
                missing_ids: std::mem::take(&mut st.missing_ids),
                ..Status::default()
            };
        }
        drop(st);
        self.publish_problem();
        Ok(info)
    }

    pub async fn delete(&self) -> Result<bool, ControllerError> {
        let existed = self
            .store
            .write(|tx| rows::setting_delete(tx, SETTING))
            .await?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = None;
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        *st = Status {
            waiting: st.waiting,
            outbox: st.outbox.take(),
            missing_ids: std::mem::take(&mut st.missing_ids),
            ..Status::default()
        };
        drop(st);
        self.publish_problem();
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
            // A controller that answered (even "no", even "not these credentials") is reachable
            // (CONTRACTS §5); one whose TLS handshake failed did not answer.
            Err(e)
                if !e.is_transient()
                    && !matches!(e, OmadaError::Tls(_) | OmadaError::TlsUntrusted { .. }) =>
            {
                st.connected = true;
                st.last_ok_at = Some(self.clock.now());
                // A refused take-out or Wi-Fi key waits in the outbox, which says so (and
                // forgets it when the item is done or discarded).
                if let (Some(p), false) = (problem_of(e), call.waits_in_outbox()) {
                    st.problems.insert(call, p);
                }
            }
            Err(e) => {
                st.connected = false;
                st.last_error = Some(e.to_string());
                if let Some(p) = problem_of(e) {
                    if !call.waits_in_outbox()
                        || e.is_transient()
                        || matches!(e, OmadaError::Tls(_))
                    {
                        st.problems.insert(call, p);
                    }
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
        } else {
            drop(st);
        }
        self.publish_problem();
    }

    /// Publish `controller_problem` when the problem sentence (or the number of waiting
    /// outbox items) changed since the last one published.
    fn publish_problem(&self) {
        let (problem, waiting) = {
            let st = self.status.lock().unwrap_or_else(|p| p.into_inner());
            (problem_in(&st, self.capabilities().discovery), st.waiting)
        };
        let mut last = self.published.lock().unwrap_or_else(|p| p.into_inner());
        if *last != problem {
            last.clone_from(&problem);
            drop(last);
            match &problem {
                Some(p) => tracing::warn!(problem = %p, "controller problem"),
                None => tracing::info!("controller problem resolved"),
            }
            self.events.publish(Event::ControllerProblem {
                problem,
                outbox_waiting: waiting,
            });
        }
    }

    /// What the outbox holds (after each pass of its worker, and after a discard): waiting
    /// items make the controller's problem say so, with the oldest one's reason.
    pub fn set_outbox(&self, s: &Summary) {
        let sentence = s.oldest_problem.as_ref().map(|(problem, since)| {
            let what = if s.waiting == 1 {
                "1 controller operation waits".to_string()
            } else {
                format!("{} controller operations wait", s.waiting)
            };
            format!(
                "{what} for a fix (the oldest since {}): {problem}",
                crate::clock::rfc3339(*since)
            )
        });
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        st.waiting = s.waiting;
        st.outbox = sentence;
        drop(st);
        self.publish_problem();
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

    /// Let a guest's device in. In Open API mode the site's portal timeout (how long this
    /// authorisation lasts) is read again afterwards when the last reading is older than a
    /// minute, within two seconds of the guest's wait.
    pub async fn authorize(&self, req: &AuthorizeRequest) -> Result<(), ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        self.call(Call::Authorize, client.authorize(req)).await?;
        if client.mode() == ResolvedMode::OpenApi && !self.timeout_is_fresh(&req.site) {
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                self.read_portal_timeout(&client, &req.site),
            )
            .await;
        }
        Ok(())
    }

    /// Let a device in by its MAC alone on `site`, connected to one of `ssids` (issue 14 item
    /// 4; only the Open API can). `None` when no controller is configured.
    pub async fn authorize_mac(
        &self,
        site: &str,
        mac: Mac,
        ssids: &[String],
    ) -> Option<Result<crate::omada::ConnectedClient, crate::omada::MacAuthError>> {
        let client = self.client()?;
        let started = Instant::now();
        let res = client.authorize_connected_mac(site, mac, ssids).await;
        self.metrics.controller_latency.observe(started.elapsed());
        match &res {
            Ok(_) => self.record(Call::Authorize, Ok(())),
            Err(crate::omada::MacAuthError::Omada(e)) => {
                self.metrics.controller_errors.inc();
                self.record(Call::Authorize, Err(e));
            }
            Err(_) => {}
        }
        Some(res)
    }

    /// Authorise a device the host let in by its MAC again (its Open API authorisation lasts
    /// the portal timeout): as [`authorize_mac`](Self::authorize_mac), its answers in the
    /// outbox's terms — a device away reads as the controller's "does not exist" (retried on
    /// its own), missing Open API credentials as a problem for the host.
    pub async fn reauthorize_mac(&self, site: &str, mac: Mac) -> Result<(), ControllerError> {
        use crate::omada::MacAuthError as M;
        match self.authorize_mac(site, mac, &[]).await {
            None => Err(ControllerError::NotConfigured),
            Some(Ok(_)) => Ok(()),
            Some(Err(M::Omada(e))) => Err(e.into()),
            Some(Err(e @ (M::NotConnected { .. } | M::OtherNetwork { .. }))) => {
                Err(OmadaError::Rejected {
                    code: -41010,
                    message: format!("This client does not exist. ({e})"),
                }
                .into())
            }
            Some(Err(e @ M::NeedsOpenApi { .. })) => {
                Err(OmadaError::Misconfigured(e.to_string()).into())
            }
        }
    }

    /// End a device's authorisation on `site` (its id when known): every valid record of the
    /// MAC is disconnected. Returns how many were (0: none was valid any more).
    pub async fn unauthorize_device(
        &self,
        site: &str,
        site_id: Option<&str>,
        mac: Mac,
    ) -> Result<usize, ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        let work = async {
            let id = match site_id {
                Some(id) => id.to_string(),
                None => client.resolve_site(site).await?.id,
            };
            client.unauthorize_at(&id, mac).await
        };
        self.call(Call::Revoke, work).await
    }

    /// The authorisation records of one device on a site (searched by MAC, newest first).
    pub async fn device_records(
        &self,
        site: &str,
        site_id: Option<&str>,
        mac: Mac,
    ) -> Result<Vec<AuthRecord>, ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        let work = async {
            let id = match site_id {
                Some(id) => id.to_string(),
                None => client.resolve_site(site).await?.id,
            };
            client.device_records(&id, mac).await
        };
        Ok(work.await?)
    }

    /// Every authorisation record the controller keeps for a site (reconciliation).
    pub async fn authorizations(&self, site_id: &str) -> Result<Vec<AuthRecord>, ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        self.call(Call::Check, client.authorizations(site_id)).await
    }

    /// The site a unit names: its id as given (remembered), or looked up by name through the
    /// Open API. Without Open API credentials a name alone is a [`OmadaError::Misconfigured`]
    /// that says where the id comes from.
    pub async fn resolve_site(
        &self,
        name: &str,
        id: Option<&str>,
    ) -> Result<SiteInfo, ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        if let Some(id) = id {
            client.remember_site(name, id);
            return Ok(SiteInfo {
                id: id.to_string(),
                name: name.to_string(),
            });
        }
        Ok(client.resolve_site(name).await?)
    }

    /// May the credentials use this site? (Hotspot operator: list its clients; Open API app:
    /// see it.)
    pub async fn check_site(&self, site: &SiteInfo) -> Result<SiteAccess, ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        Ok(client.check_site_access(site).await)
    }

    /// Every site the Open API app sees (ids and names).
    pub async fn list_sites(&self) -> Result<Vec<SiteInfo>, ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        self.call(Call::Check, client.list_sites()).await
    }

    /// Every site the Open API app sees, each with its SSIDs (or why they could not be read).
    #[allow(clippy::type_complexity)]
    pub async fn sites_with_ssids(
        &self,
    ) -> Result<Vec<(SiteInfo, Result<Vec<SsidInfo>, OmadaError>)>, ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        let sites = self.call(Call::Check, client.list_sites()).await?;
        let mut out = Vec::with_capacity(sites.len());
        for site in sites {
            let ssids = client.list_ssids(&site.id).await;
            out.push((site, ssids));
        }
        Ok(out)
    }

    /// Create the sidecar's own hotspot operator (role Administrator) for these sites through
    /// the Open API, then store its name and password in the settings (tested with a login).
    /// The password never leaves the sidecar.
    pub async fn create_operator(
        &self,
        base_name: &str,
        site_ids: &[String],
    ) -> Result<(NewOperator, Option<ControllerInfo>), ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        let mut settings = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(s, _)| s.clone())
            .ok_or(ControllerError::NotConfigured)?;
        let op = client.create_hotspot_operator(base_name, site_ids).await?;
        settings.username = Some(op.name.clone());
        settings.password = Some(op.password.clone());
        // The operator is made so that the hotspot API lets guests in with each grant's own
        // duration: `auto` picks it (DESIGN §10).
        settings.mode = OmadaMode::Auto;
        match self.put(settings, true).await {
            Ok(info) => Ok((op, info)),
            Err(ControllerError::Omada(e)) => Err(ControllerError::Omada(OmadaError::Misconfigured(format!(
                "hotspot operator {:?} was created on the controller, but it could not log in, so the settings were left as they were ({e}); delete it under Hotspot › Operators and try again",
                op.name
            )))),
            Err(e) => Err(e),
        }
    }

    /// A PPSK call (issue 18) on the configured client; its failure is noted like any other
    /// call's (`connected`; `problem` while the controller does not answer). A refusal (a
    /// profile the host deleted, a role that may not write) is not kept here: the key's outbox
    /// item waits on it, and the outbox's summary names it for exactly as long.
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
    /// A failed step becomes the controller's problem until a check passes.
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
        self.learn_timeouts_from_report(&client, sites).await;
        self.set_setup_problem(report.first_failure().map(step_problem));
        Ok(report)
    }

    /// The settings test's site checks (every unit's site): a failure becomes the problem.
    pub async fn check_sites(&self, sites: &[SiteSpec]) -> Vec<Result<SiteAccess, String>> {
        let mut out = Vec::with_capacity(sites.len());
        for spec in sites {
            let r = match self.resolve_site(&spec.name, spec.id.as_deref()).await {
                Ok(site) => self.check_site(&site).await.map_err(|e| e.to_string()),
                Err(ControllerError::Omada(OmadaError::Misconfigured(m))) => Err(m),
                Err(e) => Err(format!("site {:?}: {e}", spec.name)),
            };
            out.push(r);
        }
        let first = out.iter().find_map(|r| match r {
            Ok(a) if !a.ok() => Some(a.problems().join("; ")),
            Ok(_) => None,
            Err(m) => Some(m.clone()),
        });
        self.set_setup_problem(first);
        out
    }

    /// The host's check (or the settings test) also ran the PPSK check of each password-mode
    /// unit (issue 18 item 4): its first failure is the check's problem unless a set-up step
    /// before it failed already (which it may follow from).
    pub fn note_password_check(&self, failure: Option<String>) {
        let Some(p) = failure else { return };
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        st.problems.entry(Call::Setup).or_insert(p);
        drop(st);
        self.publish_problem();
    }

    fn set_setup_problem(&self, problem: Option<String>) {
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match problem {
            Some(p) => st.problems.insert(Call::Setup, p),
            None => st.problems.remove(&Call::Setup),
        };
        drop(st);
        self.publish_problem();
    }

    /// Open API: how long an authorisation on `site` lasts — read again when the last
    /// reading is older than a minute; the last known value (or the fallback) when the
    /// controller cannot say.
    pub async fn portal_timeout(&self, site: &str) -> Duration {
        if !self.timeout_is_fresh(site) {
            if let Some(client) = self.client() {
                self.read_portal_timeout(&client, site).await;
            }
        }
        self.timeouts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .timeout_for(site)
    }

    fn timeout_is_fresh(&self, site: &str) -> bool {
        self.timeouts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .get(&site.to_ascii_lowercase())
            .is_some_and(|at| at.elapsed() < TIMEOUT_FRESH)
    }

    async fn read_portal_timeout(&self, client: &OmadaClient, site: &str) {
        let site_info = match client.resolve_site(site).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(site, error = %e, "portal timeout unknown: the site's id could not be looked up");
                return;
            }
        };
        match client.shortest_portal_timeout(&site_info.id).await {
            Ok(Some(t)) => self.learn_timeout(&[site, &site_info.id, &site_info.name], t),
            Ok(None) => tracing::warn!(site, "the site has no External Portal Server portal with a readable Authentication Timeout; renewals assume 30 minutes"),
            Err(e) => tracing::warn!(site, error = %e, "the portal's Authentication Timeout could not be read"),
        }
    }

    fn learn_timeout(&self, keys: &[&str], t: Duration) {
        let mut g = self.timeouts.lock().unwrap_or_else(|p| p.into_inner());
        let mut map = (*g.0).clone();
        let now = Instant::now();
        for k in keys {
            let k = k.to_ascii_lowercase();
            map.by_site.insert(k.clone(), t);
            g.1.insert(k, now);
        }
        g.0 = Arc::new(map);
    }

    fn learn_timeouts(&self, sites: &[SitePortalTimeouts]) {
        for s in sites {
            if let Some(t) = s.portals.iter().filter_map(|p| p.timeout).min() {
                self.learn_timeout(&[&s.site.id, &s.site.name], t);
            }
        }
    }

    async fn learn_timeouts_from_report(&self, client: &OmadaClient, sites: &[SiteSpec]) {
        if client.mode() != ResolvedMode::OpenApi {
            return;
        }
        for spec in sites {
            if !self.timeout_is_fresh(&spec.name) {
                self.read_portal_timeout(client, &spec.name).await;
            }
        }
    }

    /// Open API lets guests in: their authorisations last the portal timeout and are renewed.
    pub fn renews(&self) -> bool {
        self.client()
            .is_some_and(|c| c.mode() == ResolvedMode::OpenApi)
    }

    /// The portal timeouts for a transaction's renewal schedule (Open API mode only).
    pub fn renewals(&self) -> Option<Arc<PortalTimeouts>> {
        self.renews().then(|| {
            self.timeouts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .0
                .clone()
        })
    }

    /// What the configured credentials make possible (all false when not configured).
    pub fn capabilities(&self) -> Capabilities {
        self.client().map(|c| c.capabilities()).unwrap_or_default()
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
            last_error: st.last_error.clone(),
            last_ok_at: st.last_ok_at,
            problem: problem_in(&st, self.capabilities().discovery),
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

    /// Is a grant whose end moves authorised again? Always, with a controller: the hotspot
    /// API hears the new length, the Open API starts a fresh portal timeout.
    pub fn reauthorizes_moves(&self) -> bool {
        self.is_configured()
    }

    pub fn connected(&self) -> bool {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .connected
    }
}

/// The problem sentence of a failed set-up step.
pub fn step_problem(s: &crate::omada::Step) -> String {
    let site = s
        .site
        .as_ref()
        .map(|site| format!(" (site {site:?})"))
        .unwrap_or_default();
    format!(
        "The controller check failed at step {}{site}: {}",
        serde_json::to_value(s.step)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        s.message
    )
}

/// The sentence the host should read about the controller, or `None`: a failed check or
/// self-test first, then units whose site id cannot be learnt (`discovery`: the Open API
/// would look it up), then the outbox items that wait (take-outs, renewals and Wi-Fi keys
/// alike), then failed take-outs, authorisations and Wi-Fi password calls (issue 18: only
/// while the controller does not answer them; a refused key waits in the outbox). A failed
/// PPSK check of a password-mode unit in the host's check is a `Setup` problem.
fn problem_in(st: &Status, discovery: bool) -> Option<String> {
    let missing = (!discovery && !st.missing_ids.is_empty()).then(|| {
        let names: Vec<String> = st
            .missing_ids
            .iter()
            .map(|(unit, site)| format!("{unit:?} (site {site:?})"))
            .collect();
        format!(
            "{} {} no site id: guests are let in, but taking them off again waits until the sidecar knows the site's 24-character id, which a hotspot operator cannot look up. Give each unit its omada_site_id (docs/omada-setup.md, \"Site ids\"), or add Open API client credentials",
            if names.len() == 1 { "Unit" } else { "Units" },
            names.join(", ") + if names.len() == 1 { " has" } else { " have" }
        )
    });
    // The host's own check (or the settings test) names the step and site that failed: it
    // outranks what the background session check last saw, which may be the same fault
    // seen from one site only.
    st.problems
        .get(&Call::Setup)
        .or(st.problems.get(&Call::Check))
        .cloned()
        .or(missing)
        .or_else(|| {
            st.outbox
                .as_ref()
                .or(st.problems.get(&Call::Revoke))
                .or(st.problems.get(&Call::Authorize))
                .or(st.problems.get(&Call::Passwords))
                .cloned()
        })
}

fn keep_masked(new: &mut Option<String>, old: &Option<String>) {
    if new.as_deref() == Some(MASK) {
        new.clone_from(old);
    }
}
