//! Plume as the rest of the sidecar sees it: sealed settings, one token manager and one request
//! limiter shared by the settings API and the poller (so the API's checks and look-ups count
//! against the same WAF budget), the poller's inputs (settings + units) as watch channels, and
//! the health board it fills.
//!
//! Saving settings is verified end to end (issue 15 item 1): the shape, then a token, then an
//! authenticated call to the API base ([`crate::plume::PlumeClient::check_api`]). For units,
//! [`PlumeService::verify_location`] checks a customer/location pair, and
//! [`PlumeService::find_by_serial`] / [`PlumeService::find_by_account_id`] find them.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::plume::{
    CustomerMatch, HealthBoard, LocationSummary, NodeOwner, PlumeClient, PlumeError, PlumeSettings,
    PlumeStatus, PlumeTarget, Poller, PollerConfig, RateLimiter, TokenManager, VerifiedLocation,
};
use crate::secrets::Sealer;
use crate::store::{rows, Store, StoreError};
use crate::vouchers::model::Unit;

const SETTING: &str = "plume";

#[derive(Debug, thiserror::Error)]
pub enum PlumeServiceError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Plume(#[from] PlumeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct PlumeService {
    store: Store,
    sealer: Sealer,
    clock: Clock,
    pub tokens: TokenManager,
    pub board: HealthBoard,
    limiter: Arc<RateLimiter>,
    settings_tx: watch::Sender<Option<PlumeSettings>>,
    targets_tx: watch::Sender<Vec<PlumeTarget>>,
    metrics: Arc<Metrics>,
}

impl PlumeService {
    pub async fn load(
        store: Store,
        sealer: Sealer,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Result<PlumeService, PlumeServiceError> {
        let sealed = store.read(|c| rows::setting_get(c, SETTING)).await?;
        let settings = sealed.and_then(|blob| {
            match sealer
                .open(&blob)
                .ok()
                .and_then(|p| serde_json::from_slice::<PlumeSettings>(&p).ok())
            {
                Some(s) => Some(s),
                None => {
                    tracing::error!("stored Plume settings cannot be decrypted; set them again");
                    None
                }
            }
        });
        let http = crate::plume::http_client()?;
        let tokens = TokenManager::new(http, clock.clone());
        let defaults = PollerConfig::default();
        let limiter = Arc::new(RateLimiter::new(
            defaults.requests_per_second,
            defaults.burst,
        ));
        let (settings_tx, _) = watch::channel(settings);
        let (targets_tx, _) = watch::channel(Vec::new());
        Ok(PlumeService {
            store,
            sealer,
            clock,
            tokens,
            board: HealthBoard::new(),
            limiter,
            settings_tx,
            targets_tx,
            metrics,
        })
    }

    /// Start the poller; `on_health` is told each unit it recorded (the health view
    /// publishes the combined colour).
    pub fn spawn_poller(
        &self,
        events: EventBus,
        shutdown: CancellationToken,
        on_health: crate::plume::HealthHook,
    ) -> JoinHandle<()> {
        let cfg = PollerConfig {
            tokens: Some(self.tokens.clone()),
            limiter: Some(self.limiter.clone()),
            clock: self.clock.clone(),
            metrics: Some(self.metrics.clone()),
            on_health: Some(on_health),
            ..Default::default()
        };
        Poller::spawn_with(
            cfg,
            self.settings_tx.subscribe(),
            self.targets_tx.subscribe(),
            self.board.clone(),
            events,
            shutdown,
        )
    }

    pub fn settings(&self) -> Option<PlumeSettings> {
        self.settings_tx.borrow().clone()
    }

    /// Validate shape (no network), mint a token, then prove the API base with an
    /// authenticated call; store only when all pass. Each failure names what to change.
    pub async fn put(&self, mut settings: PlumeSettings) -> Result<(), PlumeServiceError> {
        if settings.auth_header == crate::controller::MASK {
            match self.settings() {
                Some(old) => settings.auth_header = old.auth_header,
                None => settings.auth_header.clear(),
            }
        }
        settings
            .validate()
            .map_err(|e| PlumeServiceError::Invalid {
                field: e.field,
                message: e.message,
            })?;
        self.tokens.verify(&settings).await?;
        self.client_for(settings.clone()).check_api().await?;
        let sealed = self
            .sealer
            .seal(&serde_json::to_vec(&settings).expect("settings serialize"));
        let now = self.clock.now();
        self.store
            .write(move |tx| rows::setting_put(tx, SETTING, &sealed, now))
            .await?;
        if let Some(old) = self.settings() {
            if old != settings {
                self.tokens.forget(&old);
            }
        }
        self.settings_tx.send_replace(Some(settings));
        Ok(())
    }

    pub async fn delete(&self) -> Result<bool, PlumeServiceError> {
        let existed = self
            .store
            .write(|tx| rows::setting_delete(tx, SETTING))
            .await?;
        if let Some(old) = self.settings_tx.send_replace(None) {
            self.tokens.forget(&old);
        }
        Ok(existed)
    }

    /// Units changed: poll exactly those with a Plume location.
    pub fn set_units(&self, units: &[Unit]) {
        let targets: Vec<PlumeTarget> = units
            .iter()
            .filter_map(|u| match (&u.plume_customer_id, &u.plume_location_id) {
                (Some(c), Some(l)) => Some(PlumeTarget {
                    unit_id: u.unit_id.clone(),
                    customer_id: c.clone(),
                    location_id: l.clone(),
                }),
                _ => None,
            })
            .collect();
        self.targets_tx.send_if_modified(|cur| {
            if *cur == targets {
                false
            } else {
                *cur = targets;
                true
            }
        });
    }

    fn client_for(&self, settings: PlumeSettings) -> PlumeClient {
        PlumeClient::new(settings, self.tokens.clone()).with_rate_limiter(self.limiter.clone())
    }

    /// A client for the stored settings (sharing the poller's token and request budget).
    pub fn client(&self) -> Result<PlumeClient, PlumeServiceError> {
        self.settings()
            .map(|s| self.client_for(s))
            .ok_or_else(|| PlumeError::Config("Plume is not configured".into()).into())
    }

    /// Checks a unit's Plume customer and location ids (for the unit save use case): the
    /// location's name, or an error that says which id is wrong
    /// ([`PlumeError::CustomerNotFound`], [`PlumeError::LocationNotFound`] listing the
    /// customer's locations, [`PlumeError::Forbidden`] for another partner's customer).
    pub async fn verify_location(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<VerifiedLocation, PlumeServiceError> {
        Ok(self
            .client()?
            .verify_location(customer_id.trim(), location_id.trim())
            .await?)
    }

    /// The customer and location of the pod or gateway with this serial number.
    pub async fn find_by_serial(&self, serial: &str) -> Result<NodeOwner, PlumeServiceError> {
        Ok(self.client()?.find_by_serial(serial).await?)
    }

    /// Customers with exactly this CRM account id, with their location ids.
    pub async fn find_by_account_id(
        &self,
        account_id: &str,
    ) -> Result<Vec<CustomerMatch>, PlumeServiceError> {
        Ok(self.client()?.find_by_account_id(account_id).await?)
    }

    /// A customer's locations (id and name), to pick one.
    pub async fn locations(
        &self,
        customer_id: &str,
    ) -> Result<Vec<LocationSummary>, PlumeServiceError> {
        Ok(self.client()?.locations(customer_id.trim()).await?)
    }

    /// Plume's connectivity as the poller last saw it.
    pub fn status(&self) -> PlumeStatus {
        PlumeStatus {
            configured: self.settings().is_some(),
            ..self.board.status()
        }
    }
}
