//! Plume as the rest of the sidecar sees it: sealed settings, one token manager shared by the
//! settings API and the poller, the poller's inputs (settings + units) as watch channels,
//! and the health board it fills.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::plume::{
    HealthBoard, PlumeError, PlumeSettings, PlumeStatus, PlumeTarget, Poller, PollerConfig,
    TokenManager,
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
        let (settings_tx, _) = watch::channel(settings);
        let (targets_tx, _) = watch::channel(Vec::new());
        Ok(PlumeService {
            store,
            sealer,
            clock,
            tokens,
            board: HealthBoard::new(),
            settings_tx,
            targets_tx,
            metrics,
        })
    }

    pub fn spawn_poller(&self, events: EventBus, shutdown: CancellationToken) -> JoinHandle<()> {
        let cfg = PollerConfig {
            tokens: Some(self.tokens.clone()),
            clock: self.clock.clone(),
            metrics: Some(self.metrics.clone()),
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

    /// Validate shape (no network), then mint a token; store only when both pass.
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

    /// Plume's connectivity as the poller last saw it.
    pub fn status(&self) -> PlumeStatus {
        PlumeStatus {
            configured: self.settings().is_some(),
            ..self.board.status()
        }
    }
}
