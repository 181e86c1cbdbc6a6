//! The one Omada controller the sidecar talks to: its stored settings (sealed at rest), the
//! live client built from them, and what the host should see about it (connected, last
//! error). Settings changes swap the client atomically; in-flight calls finish on the old one.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use time::OffsetDateTime;

use crate::clock::Clock;
use crate::events::{Event, EventBus};
use crate::metrics::Metrics;
use crate::net::Mac;
use crate::omada::{
    AuthorizeRequest, ControllerInfo, OmadaClient, OmadaError, OmadaSettings, ResolvedMode,
    RetryPolicy,
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
}

#[derive(Clone, Debug, Default)]
struct Status {
    connected: bool,
    last_error: Option<String>,
    last_ok_at: Option<OffsetDateTime>,
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
        let info = if validate {
            let started = Instant::now();
            let res = client.test().await;
            self.metrics.controller_latency.observe(started.elapsed());
            match res {
                Ok(info) => {
                    self.record(Ok(()));
                    Some(info)
                }
                Err(e) => {
                    self.metrics.controller_errors.inc();
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
        if !validate {
            *self.status.lock().unwrap_or_else(|p| p.into_inner()) = Status::default();
        }
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

    fn record(&self, result: Result<(), &OmadaError>) {
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        let was = st.connected;
        match result {
            Ok(()) => {
                st.connected = true;
                st.last_error = None;
                st.last_ok_at = Some(self.clock.now());
            }
            // A controller that answered (even "no") is reachable.
            Err(e)
                if !e.is_transient()
                    && !matches!(e, OmadaError::Tls(_) | OmadaError::AuthFailed(_)) =>
            {
                st.connected = true;
                st.last_ok_at = Some(self.clock.now());
            }
            Err(e) => {
                st.connected = false;
                st.last_error = Some(e.to_string());
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
        f: impl std::future::Future<Output = Result<T, OmadaError>>,
    ) -> Result<T, ControllerError> {
        let started = Instant::now();
        let res = f.await;
        self.metrics.controller_latency.observe(started.elapsed());
        match &res {
            Ok(_) => self.record(Ok(())),
            Err(e) => {
                self.metrics.controller_errors.inc();
                self.record(Err(e));
            }
        }
        Ok(res?)
    }

    pub async fn authorize(&self, req: &AuthorizeRequest) -> Result<(), ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        self.call(client.authorize(req)).await
    }

    pub async fn unauthorize(&self, site: &str, mac: Mac) -> Result<(), ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        self.call(client.unauthorize(site, mac)).await
    }

    /// Try a login to refresh the status (used by the background monitor).
    pub async fn probe(&self) -> Result<(), ControllerError> {
        let client = self.client().ok_or(ControllerError::NotConfigured)?;
        self.call(client.test()).await.map(|_| ())
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
