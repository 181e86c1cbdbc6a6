//! Wiring: build the shared state from a validated [`Config`], then serve both listeners
//! until a shutdown future resolves. Tests call [`App::build`] + [`App::run`] with listeners
//! bound to `127.0.0.1:0` (the mini-redis `run(listener, shutdown)` seam).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Config;
use crate::controller::Controller;
use crate::events::{EventBus, EventKind};
use crate::grants::Grants;
use crate::health::PlumeService;
use crate::metrics::Metrics;
use crate::omada::RetryPolicy;
use crate::portal::csrf::CsrfKey;
use crate::portal::limiter::{Limiter, LimiterConfig};
use crate::secrets::{self, Sealer};
use crate::store::{rows, Store, StoreError};
use crate::vouchers::model::{Unit, Voucher};
use crate::vouchers::{self, Ctx, Vouchers};

pub const DB_FILE: &str = "rental-wifi.sqlite3";

/// Everything request handlers and background tasks share.
pub struct AppState {
    pub config: Config,
    pub token: String,
    pub instance_id: String,
    pub store: Store,
    pub sealer: Sealer,
    pub clock: Clock,
    pub events: EventBus,
    pub vouchers: Vouchers,
    pub grants: Grants,
    pub controller: Arc<Controller>,
    pub plume: PlumeService,
    pub metrics: Arc<Metrics>,
    /// Portal brute-force limiter (in memory, bounded).
    pub limiter: Limiter,
    /// Signs the portal's CSRF tokens; new at every start (a reload after a restart is fine).
    pub csrf: CsrfKey,
    /// Cancelled when shutdown starts: long-lived streams (SSE) end so the drain is quick.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Every unit, in memory for the portal (which needs them on every GET and POST).
    /// Loaded at start and after every unit change ([`AppState::units_changed`]); `None` when
    /// the last reload failed, so readers fall back to the database.
    units: std::sync::RwLock<Option<Arc<Vec<Unit>>>>,
    /// Serialises reloads, so the last one to finish read after every change before it.
    units_reload: tokio::sync::Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data dir {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Files(#[from] crate::datadir::DataDirError),
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Plume client: {0}")]
    Plume(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub struct App {
    pub state: Arc<AppState>,
}

impl App {
    /// Open the data dir (creating it 0700), the database, the token and the key.
    pub async fn build(config: Config, clock: Clock) -> Result<App, StartError> {
        Self::build_with(config, clock, RetryPolicy::default()).await
    }

    /// As [`App::build`], with the controller retry policy given (tests use short ones).
    pub async fn build_with(
        config: Config,
        clock: Clock,
        policy: RetryPolicy,
    ) -> Result<App, StartError> {
        crate::init_crypto();
        let dir = config.server.data_dir.clone();
        let dir2 = dir.clone();
        let (store, token, sealer) =
            tokio::task::spawn_blocking(move || -> Result<_, StartError> {
                // Private dir and database files, no symlinks (issue 13).
                let db = crate::datadir::prepare(&dir2, DB_FILE)?;
                let store = crate::datadir::open(&db)?;
                let token = secrets::load_or_create_token(&dir2)?;
                let sealer = Sealer::load_or_create(&dir2)?;
                Ok((store, token, sealer))
            })
            .await
            .map_err(|e| StartError::Store(StoreError::Task(e.to_string())))??;
        // Writable and intact, or no `ready` (issue 13).
        crate::datadir::verify(&store, &dir.join(DB_FILE)).await?;
        let instance_id = store
            .write(|tx| {
                if let Some(id) = rows::meta_get(tx, "instance_id")? {
                    return Ok::<_, StoreError>(id);
                }
                let id = uuid::Uuid::now_v7().to_string();
                rows::meta_set(tx, "instance_id", &id)?;
                Ok(id)
            })
            .await?;
        tracing::debug!(data_dir = %dir.display(), "state opened");
        Self::assemble(config, clock, store, token, sealer, instance_id, policy).await
    }

    async fn assemble(
        config: Config,
        clock: Clock,
        store: Store,
        token: String,
        sealer: Sealer,
        instance_id: String,
        policy: RetryPolicy,
    ) -> Result<App, StartError> {
        let events = EventBus::default();
        let metrics = Arc::new(Metrics::default());
        let vouchers = Vouchers {
            store: store.clone(),
            clock: clock.clone(),
            events: events.clone(),
            config: config.vouchers.clone(),
        };
        let controller = Arc::new(
            Controller::load(
                store.clone(),
                sealer.clone(),
                clock.clone(),
                events.clone(),
                metrics.clone(),
                policy.clone(),
            )
            .await?,
        );
        let in_flight_grace = policy.deadline + std::time::Duration::from_secs(2);
        let grants = Grants::new(
            store.clone(),
            clock.clone(),
            events.clone(),
            controller.clone(),
            metrics.clone(),
            in_flight_grace,
        );
        let plume = PlumeService::load(
            store.clone(),
            sealer.clone(),
            clock.clone(),
            metrics.clone(),
        )
        .await
        .map_err(|e| StartError::Plume(e.to_string()))?;
        let units = vouchers
            .list_units()
            .await
            .map_err(|e| StartError::Plume(e.to_string()))?;
        plume.set_units(&units);
        let limiter = Limiter::new(LimiterConfig {
            max_failures: config.portal.max_failures,
            window: std::time::Duration::from_secs(
                config.portal.failure_window_minutes as u64 * 60,
            ),
            max_failures_per_address: config.portal.max_failures_per_address,
            global_max_per_minute: config.portal.global_failures_per_minute,
            short_code_failures_per_day: config.portal.short_code_failures_per_day,
            ..LimiterConfig::default()
        });
        let state = AppState {
            config,
            token,
            instance_id,
            store,
            sealer,
            clock,
            events,
            vouchers,
            grants,
            controller,
            plume,
            metrics,
            limiter,
            csrf: CsrfKey::generate(),
            shutdown: tokio_util::sync::CancellationToken::new(),
            units: std::sync::RwLock::new(Some(Arc::new(units))),
            units_reload: tokio::sync::Mutex::new(()),
        };
        Ok(App {
            state: Arc::new(state),
        })
    }

    /// Serve the API and the portal until `shutdown` resolves; then drain and return.
    pub async fn run(
        self,
        api: TcpListener,
        portal: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        let state = self.state;
        // Roll back redemptions a crash left unfinished before anyone can ask: once `ready`
        // is out, the API already shows their slots freed and their unauthorises queued.
        if let Err(e) = state.grants.recover().await {
            tracing::error!(error = %e, "start-up grant recovery failed");
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let api_addr = api.local_addr().ok();
        let portal_addr = portal.local_addr().ok();

        let s1 = state.clone();
        let api_handler = Arc::new(move |req, peer| crate::api::handle(s1.clone(), req, peer));
        let s2 = state.clone();
        let portal_handler =
            Arc::new(move |req, peer| crate::portal::handle(s2.clone(), req, peer));

        let mut rx1 = stop_rx.clone();
        let mut rx2 = stop_rx.clone();
        let (api_limits, portal_limits) = crate::serve::listener_limits(&state.config.server);
        let api_task = tokio::spawn(crate::serve::serve_with(
            api,
            api_handler,
            api_limits,
            async move {
                let _ = rx1.wait_for(|v| *v).await;
            },
        ));
        let portal_task = tokio::spawn(crate::serve::serve_with(
            portal,
            portal_handler,
            portal_limits,
            async move {
                let _ = rx2.wait_for(|v| *v).await;
            },
        ));
        let background = crate::tasks::spawn_all(state.clone(), stop_rx.clone());

        tracing::info!(
            target: crate::telemetry::LIFECYCLE,
            api_addr = %api_addr.map(|a| a.to_string()).unwrap_or_default(),
            portal_addr = %portal_addr.map(|a| a.to_string()).unwrap_or_default(),
            instance_id = %state.instance_id,
            "ready"
        );
        shutdown.await;
        tracing::info!(
            target: crate::telemetry::LIFECYCLE,
            "shutting down: finishing in-flight requests"
        );
        let _ = stop_tx.send(true);
        state.shutdown.cancel();
        let _ = api_task.await;
        let _ = portal_task.await;
        for t in background {
            let _ = t.await;
        }
        tracing::info!(target: crate::telemetry::LIFECYCLE, "stopped");
    }
}

/// Bind both listeners from the configuration.
pub async fn bind(config: &Config) -> Result<(TcpListener, TcpListener), StartError> {
    let api = TcpListener::bind(config.server.api_listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.server.api_listen,
            source,
        })?;
    let portal = TcpListener::bind(config.server.portal_listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.server.portal_listen,
            source,
        })?;
    Ok((api, portal))
}

impl AppState {
    /// Called after any unit change (create, update, delete — the API and the demo do):
    /// the in-memory unit list and the Plume targets follow.
    pub async fn units_changed(&self) {
        let _one_at_a_time = self.units_reload.lock().await;
        match self.vouchers.list_units().await {
            Ok(units) => {
                self.plume.set_units(&units);
                *self.units.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(units));
            }
            Err(e) => {
                *self.units.write().unwrap_or_else(|p| p.into_inner()) = None;
                tracing::error!(error = %e, "could not reload units");
            }
        }
    }

    /// Every unit (sorted by name, then id), from memory; from the database when the last
    /// reload failed.
    pub async fn units(&self) -> Result<Arc<Vec<Unit>>, vouchers::Error> {
        if let Some(units) = self.units.read().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(units);
        }
        Ok(Arc::new(self.vouchers.list_units().await?))
    }

    /// Delete a unit; with `force`, revoke its live vouchers (and their devices) first.
    pub async fn delete_unit(
        &self,
        ctx: &Ctx,
        unit_id: &str,
        force: bool,
    ) -> Result<(), vouchers::Error> {
        if force {
            let (list, _) = self
                .vouchers
                .list(rows::VoucherFilter {
                    unit_id: Some(unit_id.to_owned()),
                    limit: 100_000,
                    ..Default::default()
                })
                .await?;
            let now = self.clock.now();
            for v in list.iter().filter(|v| v.is_live(now)) {
                self.revoke_voucher(ctx, &v.code).await?;
            }
        }
        self.vouchers.delete_unit(ctx, unit_id, force).await?;
        self.units_changed().await;
        Ok(())
    }

    /// Change a voucher; live grants follow its new end.
    pub async fn update_voucher(
        &self,
        ctx: &Ctx,
        code: &str,
        patch: vouchers::VoucherPatch,
    ) -> Result<Voucher, vouchers::Error> {
        let (_before, after) = self.vouchers.update(ctx, code, patch).await?;
        self.grants.follow_voucher(&after).await?;
        Ok(after)
    }

    /// Revoke a voucher and unauthorise every device on it (through the outbox).
    pub async fn revoke_voucher(&self, ctx: &Ctx, code: &str) -> Result<Voucher, vouchers::Error> {
        self.revoke_voucher_because(ctx, code, "voucher_revoked")
            .await
    }

    /// [`AppState::revoke_voucher`] with the grants' `end_reason` given (`booking_cancelled`).
    pub async fn revoke_voucher_because(
        &self,
        ctx: &Ctx,
        code: &str,
        reason: &'static str,
    ) -> Result<Voucher, vouchers::Error> {
        let before = self.vouchers.get(code).await?;
        let v = self.vouchers.revoke(ctx, code).await?;
        let devices = self.grants.end_for_voucher(&v.code, reason).await?;
        if before.revoked_at.is_none() {
            self.events.publish(
                EventKind::VoucherRevoked,
                json!({"unit_id": v.unit_id, "code": v.code, "booking_ref": v.booking_ref, "devices": devices}),
            );
        }
        Ok(v)
    }

    /// Active grants per unit.
    pub async fn active_grant_counts(&self) -> Result<HashMap<String, u64>, StoreError> {
        self.store
            .read(|c| {
                let mut stmt = c.prepare_cached(
                    "SELECT unit_id, COUNT(*) FROM grants WHERE state = 'active' GROUP BY unit_id",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                })?;
                Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
            })
            .await
    }

    pub fn health_json(&self, unit: &Unit, now: OffsetDateTime) -> Value {
        self.plume.health_json(&unit.unit_id, now)
    }

    pub async fn controller_status_json(&self) -> Value {
        let pending = self.grants.outbox_pending().await;
        self.controller.status_json(pending)
    }

    pub fn plume_status_json(&self) -> Value {
        self.plume.status_json()
    }
}
