//! Wiring: build the services from a validated [`Config`], then serve both listeners until a
//! shutdown future resolves. Tests call [`App::build`] + [`App::run`] with listeners bound to
//! `127.0.0.1:0` (the mini-redis `run(listener, shutdown)` seam).
//!
//! The wiring is explicit (mini-redis style): [`App::build`] opens the data dir and makes
//! each service from the ones it needs; [`AppState`] is what the request handlers need and
//! nothing more; [`App::run`] recovers, starts the background tasks with the parts each one
//! needs, and serves. Nothing is global: no process-wide lock or registry exists.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};

use crate::clock::Clock;
use crate::config::Config;
use crate::controller::Controller;
use crate::events::EventBus;
use crate::health::PlumeService;
use crate::metrics::Metrics;
use crate::net::Mac;
use crate::omada::RetryPolicy;
use crate::portal::csrf::CsrfKey;
use crate::portal::identity::WhoIsAsking;
use crate::portal::limiter::{Limiter, LimiterConfig};
use crate::secrets::{self, Sealer};
use crate::store::{rows, StoreError};
use crate::usecase::Rentals;
use crate::vouchers::model::Unit;

/// The database file in the data dir.
pub const DB_FILE: &str = "rental-wifi.sqlite3";

/// What the request handlers (API and portal) share.
pub struct AppState {
    pub(crate) token: String,
    /// `server.public_portal_url`: the Captive Portal API names it when it is `https`.
    pub(crate) public_portal_url: Option<String>,
    pub(crate) instance_id: String,
    pub(crate) clock: Clock,
    /// The use cases and queries.
    pub(crate) rentals: Arc<Rentals>,
    pub(crate) controller: Arc<Controller>,
    pub(crate) plume: PlumeService,
    /// Health from the controller, read in the background.
    pub(crate) controller_watch: crate::controller_watch::ControllerWatch,
    /// Plume's and the controller's health combined: what the API shows and `health_changed`
    /// publishes.
    pub(crate) health: Arc<crate::health_view::HealthView>,
    /// Property-wide settings (the time zone).
    pub(crate) property: crate::property::Property,
    pub(crate) events: EventBus,
    pub(crate) metrics: Arc<Metrics>,
    /// Portal brute-force limiter (in memory, bounded).
    pub(crate) limiter: Limiter,
    /// Who is asking on the portal (DESIGN §10): the page-token key (new at every start; a
    /// reload after a restart is fine) and the `clientIp` mismatches seen per unit.
    pub(crate) who: WhoIsAsking,
    /// Cancelled when shutdown starts: long-lived streams (SSE) end so the drain is quick.
    pub(crate) shutdown: tokio_util::sync::CancellationToken,
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
    #[error(transparent)]
    PortalTls(#[from] crate::portal::tls::PortalTlsError),
}

/// A built sidecar, ready to [`run`](App::run).
pub struct App {
    pub(crate) state: Arc<AppState>,
    data_dir: std::path::PathBuf,
    /// The listeners' connection budgets and time limits (issue 13).
    server: crate::config::ServerConfig,
    /// The host's certificate for the portal's HTTPS listener (issue 17), when configured.
    portal_tls: Option<tokio_rustls::TlsAcceptor>,
}

/// The deliberate handle integration tests and the demo hold on a built app: a few read-only
/// facts and the test seams (wake the timers after moving the clock, forge a portal token).
#[derive(Clone)]
pub struct Handle(Arc<AppState>);

impl Handle {
    pub fn token(&self) -> &str {
        &self.0.token
    }

    pub fn instance_id(&self) -> &str {
        &self.0.instance_id
    }

    /// Wake the expiry timer and the outbox worker (tests, after moving the clock).
    pub fn wake_timers(&self) {
        self.0.rentals.wake();
    }

    /// Controller operations still waiting in the outbox.
    pub async fn outbox_pending(&self) -> u64 {
        self.0.rentals.outbox_pending().await.unwrap_or(0)
    }

    /// A portal form token for the device (`mac` at `peer`) issued at `now_unix` (tests of
    /// the CSRF checks).
    pub fn csrf_token(&self, mac: &Mac, peer: IpAddr, now_unix: i64) -> String {
        self.0.who.key().issue_for(mac, peer, now_unix)
    }

    /// Run the controller monitor's check now; the error as its message.
    pub async fn check_controller(&self) -> Result<(), String> {
        self.0
            .controller
            .probe()
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Site name → id pairs for the controller client (units' stored site ids give it the
    /// same at start and after every unit change).
    pub fn remember_sites(&self, sites: &[(String, String)]) {
        self.0.controller.remember_sites(sites);
    }

    /// Reconcile with the controller now (it also runs at start-up and daily): how many
    /// authorisations without a grant were queued to end, or why it could not run.
    pub async fn reconcile_controller(&self) -> Result<usize, String> {
        self.0
            .rentals
            .reconcile_controller()
            .await
            .map(|r| r.ended)
            .map_err(|e| e.to_string())
    }

    /// Would the portal accept `token` for the device (`mac` at `peer`) at `now_unix`?
    pub fn csrf_valid(&self, token: &str, mac: &Mac, peer: IpAddr, now_unix: i64) -> bool {
        self.0
            .who
            .key()
            .verify_for(token, mac, peer, now_unix)
            .is_ok()
    }
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

        let events = EventBus::default();
        let metrics = Arc::new(Metrics::default());
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
        let rentals = Arc::new(Rentals::new(
            store.clone(),
            clock.clone(),
            config.vouchers.clone(),
            events.clone(),
            controller.clone(),
            sealer.clone(),
            policy.deadline + std::time::Duration::from_secs(2),
        ));
        let plume = PlumeService::load(store, sealer, clock.clone(), metrics.clone())
            .await
            .map_err(|e| StartError::Plume(e.to_string()))?;
        let property = crate::property::Property::load(&rentals.store).await?;
        let units = rentals.list_units().await?;
        plume.set_units(&units);
        let controller_watch = crate::controller_watch::ControllerWatch::new(
            std::time::Duration::from_secs(u64::from(config.health.controller_poll_seconds)),
        );
        controller_watch.set_units(&units);
        let health = Arc::new(crate::health_view::HealthView::new(
            plume.board.clone(),
            controller_watch.board.clone(),
            clock.clone(),
            events.clone(),
        ));
        controller.remember_sites(&crate::usecase::sites::site_ids(&units));
        controller.units_without_site_id(&crate::usecase::sites::without_site_id(&units));
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
            public_portal_url: config.server.public_portal_url.clone(),
            token,
            instance_id,
            clock,
            rentals,
            controller,
            plume,
            controller_watch,
            health,
            property,
            events,
            metrics,
            limiter,
            who: WhoIsAsking::new(CsrfKey::generate()),
            shutdown: tokio_util::sync::CancellationToken::new(),
            units: std::sync::RwLock::new(Some(Arc::new(units))),
            units_reload: tokio::sync::Mutex::new(()),
        };
        // The host's certificate is read at start: a wrong file stops the start with the key
        // to fix, not the first guest's handshake.
        let portal_tls = match (
            &config.server.portal_tls_cert,
            &config.server.portal_tls_key,
        ) {
            (Some(cert), Some(key)) => Some(crate::portal::tls::acceptor(cert, key)?),
            _ => None,
        };
        Ok(App {
            state: Arc::new(state),
            data_dir: dir,
            server: config.server,
            portal_tls,
        })
    }

    pub fn handle(&self) -> Handle {
        Handle(self.state.clone())
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Serve the API and the portal until `shutdown` resolves; then drain and return.
    pub async fn run(
        self,
        api: TcpListener,
        portal: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        self.run_with_https(api, portal, None, shutdown).await
    }

    /// [`App::run`], and the portal over HTTPS on `https` too when the configuration names a
    /// certificate (`server.portal_tls_cert`/`portal_tls_key`; ignored without one).
    pub async fn run_with_https(
        self,
        api: TcpListener,
        portal: TcpListener,
        https: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        let https = match (https, self.portal_tls.clone()) {
            (Some(l), Some(acceptor)) => Some((l, acceptor)),
            _ => None,
        };
        let state = self.state;
        let (api_limits, portal_limits) = crate::serve::listener_limits(&self.server);
        // Recover and repair before anyone can ask: once `ready` is out, the API already
        // shows rolled-back slots freed and every unauthorise that a crash left owed queued.
        match state.rentals.recover().await {
            Ok(done) => {
                for (what, n) in done.ended.iter() {
                    state.metrics.startup_repair(what, *n as u64);
                }
                state
                    .metrics
                    .startup_repair("rolled_back", done.rolled_back as u64);
                state.metrics.startup_repair("moved", done.moved as u64);
                if done.total() > 0 {
                    tracing::warn!(
                        rolled_back = done.rolled_back,
                        ended = ?done.ended,
                        moved = done.moved,
                        "start-up repair: {} grants brought back in line",
                        done.total()
                    );
                } else {
                    tracing::info!("start-up repair: nothing to repair");
                }
            }
            Err(e) => tracing::error!(error = %e, "start-up recovery failed"),
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let api_addr = api.local_addr().ok();
        let portal_addr = portal.local_addr().ok();

        let s1 = state.clone();
        let api_handler = Arc::new(move |req, peer| crate::api::handle(s1.clone(), req, peer));
        let s2 = state.clone();
        let portal_handler =
            Arc::new(move |req, peer| crate::portal::handle(s2.clone(), req, peer));

        let https_limits = portal_limits.clone();
        let mut rx1 = stop_rx.clone();
        let mut rx2 = stop_rx.clone();
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
        let https_addr = https.as_ref().and_then(|(l, _)| l.local_addr().ok());
        let https_task = https.map(|(listener, acceptor)| {
            let s3 = state.clone();
            let handler = Arc::new(move |req, peer| crate::portal::handle(s3.clone(), req, peer));
            let mut rx3 = stop_rx.clone();
            tokio::spawn(crate::serve::serve_tls(
                listener,
                acceptor,
                handler,
                https_limits,
                async move {
                    let _ = rx3.wait_for(|v| *v).await;
                },
            ))
        });
        let background = crate::tasks::spawn_all(&state, stop_rx.clone());

        tracing::info!(
            target: crate::telemetry::LIFECYCLE,
            api_addr = %api_addr.map(|a| a.to_string()).unwrap_or_default(),
            portal_addr = %portal_addr.map(|a| a.to_string()).unwrap_or_default(),
            portal_https_addr = %https_addr.map(|a| a.to_string()).unwrap_or_default(),
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
        if let Some(t) = https_task {
            let _ = t.await;
        }
        for t in background {
            let _ = t.await;
        }
        tracing::info!(target: crate::telemetry::LIFECYCLE, "stopped");
    }
}

/// Bind the portal's HTTPS listener when the configuration names a certificate.
pub async fn bind_https(config: &Config) -> Result<Option<TcpListener>, StartError> {
    if config.server.portal_tls_cert.is_none() {
        return Ok(None);
    }
    let addr = config.server.portal_https_listen;
    listen(addr)
        .map(Some)
        .map_err(|source| StartError::Bind { addr, source })
}

/// The accept queue each listener asks the kernel for. Under a flood of new connections the
/// kernel's queue fills before the sidecar's own connection caps can act, and a real guest's
/// SYN dropped there waits out a 1 s retransmit; tokio's default is 1,024. Linux caps it at
/// `net.core.somaxconn` (4,096 by default since 5.4).
const LISTEN_BACKLOG: u32 = 4096;

/// Listen on `addr` (with `SO_REUSEADDR`, as `TcpListener::bind` does) with a deep accept
/// queue ([`LISTEN_BACKLOG`]). Every listener of the sidecar is made here, the tests' too.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Bind both listeners from the configuration.
pub async fn bind(config: &Config) -> Result<(TcpListener, TcpListener), StartError> {
    let api = listen(config.server.api_listen).map_err(|source| StartError::Bind {
        addr: config.server.api_listen,
        source,
    })?;
    let portal = listen(config.server.portal_listen).map_err(|source| StartError::Bind {
        addr: config.server.portal_listen,
        source,
    })?;
    Ok((api, portal))
}

impl AppState {
    /// Called after any unit change (create, update, delete — the API and the demo do):
    /// the in-memory unit list, the Plume targets and the controller's site ids follow, and
    /// controller operations that wait for a fix are tried again (a site id may be it).
    pub(crate) async fn units_changed(&self) {
        let _one_at_a_time = self.units_reload.lock().await;
        match self.rentals.list_units().await {
            Ok(units) => {
                self.plume.set_units(&units);
                self.controller_watch.set_units(&units);
                let ids: Vec<String> = units.iter().map(|u| u.unit_id.clone()).collect();
                self.health.retain(&ids);
                self.controller
                    .remember_sites(&crate::usecase::sites::site_ids(&units));
                self.controller
                    .units_without_site_id(&crate::usecase::sites::without_site_id(&units));
                self.rentals.retry_waiting().await;
                *self.units.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(units));
            }
            Err(e) => {
                *self.units.write().unwrap_or_else(|p| p.into_inner()) = None;
                tracing::error!(error = %e, "could not reload units");
            }
        }
    }

    /// **The zone a unit's times are shown in**: its own `time_zone`, else the property's
    /// (`/api/v1/settings/property`, set by Home Assistant), else UTC. The one helper the
    /// guest pages and the cards call.
    pub(crate) fn zone_for(&self, unit: &Unit) -> crate::tz::Zone {
        self.property.zone_for(unit)
    }

    /// Every unit (sorted by name, then id), from memory; from the database when the last
    /// reload failed.
    pub(crate) async fn units(&self) -> Result<Arc<Vec<Unit>>, StoreError> {
        if let Some(units) = self.units.read().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(units);
        }
        Ok(Arc::new(self.rentals.list_units().await?))
    }
}
