//! Simulated Omada controller, faithful to `reference/omada-protocol.md` (§2–§5, checklist §9).
//!
//! A real HTTP(S) server on 127.0.0.1 with the controller's external-portal surface:
//! `GET /api/info`; hotspot operator login, `extPortal/auth`, the Hotspot Manager client list
//! and `disconnect`; Open API token, sites, `hotspot/clients/{MAC}/auth|unauth`. It records
//! every request and every authorization, and its behaviour can be switched (session-expiry
//! style, time unit, latency, injected 5xx, outage, cookie name, 6.2.10 `clientIp` rule) from
//! Rust through [`OmadaSim`] or over HTTP under `/_sim/` (docs/simulators.md).
//!
//! Shape: a small front accept loop owns the public listener (it terminates TLS in TLS mode
//! and drops connections during a `drop` outage) and pipes bytes to the shared
//! [`crate::serve::serve`] loop on an internal loopback listener, where the handler lives.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{header, HeaderMap, Method, Response, StatusCode};
use hyper::body::Incoming;
use hyper::Request;
use rand::Rng;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use crate::net::Mac;
use crate::omada::{AuthTimeUnit, OmadaMode, OmadaSettings};
use crate::serve::{full, read_body, serve, Body};

/// Most requests kept in the log (oldest dropped first).
const MAX_RECORDED: usize = 10_000;

/// A site of the simulated controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimSite {
    pub name: String,
    /// 24 lowercase hex, like real site ids.
    pub id: String,
}

/// Fixed facts of one simulated controller.
#[derive(Clone, Debug)]
pub struct OmadaSimConfig {
    /// `omadacId`: 32 lowercase hex.
    pub controller_id: String,
    pub controller_ver: String,
    /// `/api/info` `type` (1 software, 10 OC200, 11 OC300 — inferred mapping).
    pub controller_type: u8,
    pub operator_name: String,
    pub operator_password: String,
    pub client_id: String,
    pub client_secret: String,
    pub sites: Vec<SimSite>,
    /// Open API access-token lifetime (`expiresIn`, 7200 s on real controllers).
    pub token_ttl: Duration,
    /// Serve HTTPS with a fresh self-signed certificate (for `localhost` and `127.0.0.1`).
    pub tls: bool,
    /// Behaviour at start and after `reset`.
    pub behaviour: Behaviour,
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill(&mut b[..]);
    hex::encode(b)
}

impl Default for OmadaSimConfig {
    fn default() -> Self {
        Self {
            controller_id: random_hex(16),
            controller_ver: "5.15.24".into(),
            controller_type: 1,
            operator_name: "operator".into(),
            operator_password: "operator-pass".into(),
            client_id: "sim-client-id".into(),
            client_secret: "sim-client-secret".into(),
            sites: vec![SimSite {
                name: "Default".into(),
                id: random_hex(12),
            }],
            token_ttl: Duration::from_secs(7200),
            tls: false,
            behaviour: Behaviour::default(),
        }
    }
}

/// How a lost/absent operator session is answered (reference §2.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionExpiry {
    /// HTTP 302 `Location: /{omadacId}/login`.
    #[default]
    Redirect,
    /// HTTP 200 with the HTML login page.
    Html,
    /// HTTP 200 `{"errorCode":-1005,"msg":"Operation forbidden."}`.
    Code,
}

/// A full outage. A bound listener cannot refuse connections, so it is emulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Accept, read the request line, close without an answer (clients see a network error).
    Drop,
    /// Answer every controller request with HTTP 503.
    Http503,
}

impl Serialize for Outage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Outage::Drop => "drop",
            Outage::Http503 => "503",
        })
    }
}

/// Switchable behaviour. `/_sim/behaviour` takes the same names (partial JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Behaviour {
    pub outage: Option<Outage>,
    /// Delay before every controller answer.
    pub latency_ms: u64,
    /// The next N controller requests fail with `fail_status`.
    pub fail_next: u32,
    pub fail_status: u16,
    pub session_expiry: SessionExpiry,
    /// Name of the session cookie set at login and required afterwards.
    pub cookie_name: String,
    /// Unit of `time` in `extPortal/auth` (a relative duration).
    pub time_unit: AuthTimeUnit,
    /// 6.2.10+: `clientIp` required (missing → -41501) and `site` optional.
    pub require_client_ip: bool,
    /// Refuse every operator session, even one fresh from login (an operator without rights
    /// on the site, or a proxy that strips cookies): the client must give up, not loop.
    pub reject_sessions: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            outage: None,
            latency_ms: 0,
            fail_next: 0,
            fail_status: 503,
            session_expiry: SessionExpiry::Redirect,
            cookie_name: "TPOMADA_SESSIONID".into(),
            time_unit: AuthTimeUnit::Ms,
            require_client_ip: false,
            reject_sessions: false,
        }
    }
}

/// A partial behaviour change, as `POST /_sim/behaviour` takes it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourPatch {
    /// `false`/`null`/`"off"`, `true`/`"drop"`, `"503"`.
    #[serde(default)]
    pub outage: Option<Value>,
    pub latency_ms: Option<u64>,
    pub fail_next: Option<u32>,
    pub fail_status: Option<u16>,
    pub session_expiry: Option<SessionExpiry>,
    /// `true`: forget every operator session and expire every Open API token now.
    pub expire_sessions: Option<bool>,
    pub cookie_name: Option<String>,
    pub time_unit: Option<AuthTimeUnit>,
    pub require_client_ip: Option<bool>,
    pub reject_sessions: Option<bool>,
}

fn parse_outage(v: &Value) -> Result<Option<Outage>, String> {
    match v {
        Value::Null | Value::Bool(false) => Ok(None),
        Value::Bool(true) => Ok(Some(Outage::Drop)),
        Value::Number(n) if n.as_u64() == Some(503) => Ok(Some(Outage::Http503)),
        Value::String(s) => match s.as_str() {
            "off" | "none" | "" => Ok(None),
            "drop" => Ok(Some(Outage::Drop)),
            "503" | "http503" => Ok(Some(Outage::Http503)),
            other => Err(format!("unknown outage mode {other:?} (off, drop, 503)")),
        },
        other => Err(format!("unknown outage mode {other}")),
    }
}

/// Which API authorized a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthApi {
    Hotspot,
    OpenApi,
}

fn ser_display<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_opt_display<T: std::fmt::Display, S: Serializer>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn ser_opt_ms<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_u64(d.as_millis() as u64),
        None => s.serialize_none(),
    }
}

/// One authorization the controller granted.
#[derive(Clone, Debug, Serialize)]
pub struct AuthorizedClient {
    /// Record id (24 hex), used by the Hotspot Manager `disconnect`.
    pub id: String,
    #[serde(serialize_with = "ser_display")]
    pub mac: Mac,
    /// Site name.
    pub site: String,
    pub site_id: String,
    #[serde(serialize_with = "ser_opt_display")]
    pub ap_mac: Option<Mac>,
    #[serde(serialize_with = "ser_opt_display")]
    pub gateway_mac: Option<Mac>,
    pub ssid: Option<String>,
    pub radio_id: Option<u8>,
    pub vid: Option<u16>,
    pub client_ip: Option<String>,
    /// `time` as received (hotspot API).
    pub time_raw: Option<u64>,
    /// `time` interpreted in the configured unit; `None` for the Open API (no duration).
    #[serde(rename = "duration_ms", serialize_with = "ser_opt_ms")]
    pub duration: Option<Duration>,
    pub down_kbps: Option<u64>,
    pub up_kbps: Option<u64>,
    #[serde(with = "time::serde::rfc3339")]
    pub authorized_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub via: AuthApi,
    /// False once disconnected/unauthorized.
    pub valid: bool,
}

impl AuthorizedClient {
    fn active(&self, now: OffsetDateTime) -> bool {
        self.valid && self.expires_at.is_none_or(|e| now < e)
    }
}

/// One request as the simulator received it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// `Csrf-Token` header value.
    pub csrf_token: Option<String>,
    /// `Cookie` header value.
    pub cookie: Option<String>,
    /// `Authorization` header value.
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// Body parsed as JSON, when it was JSON.
    pub body: Option<Value>,
    /// Body as text, when it was not empty and not JSON.
    pub body_text: Option<String>,
    /// Status the simulator answered with.
    pub status: u16,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// What happened so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub requests: u64,
    pub logins: u64,
    pub login_failures: u64,
    pub auths: u64,
    pub auth_rejections: u64,
    /// Controller requests refused for a missing/expired session (any style).
    pub session_rejections: u64,
    pub disconnects: u64,
    pub unauths: u64,
    pub tokens_minted: u64,
    pub token_rejections: u64,
    pub injected_failures: u64,
    pub outage_503: u64,
    pub dropped_connections: u64,
}

struct SimTls {
    cert_pem: String,
    cert_sha256: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

struct Mutable {
    behaviour: Behaviour,
    /// cookie value → CSRF token.
    sessions: HashMap<String, String>,
    /// access token → expiry.
    tokens: HashMap<String, Instant>,
    /// Every authorization, in order (only ever appended; `reset` starts over).
    records: Vec<AuthorizedClient>,
    /// (MAC, site id) → positions in `records`, so an authorization does not scan them all.
    by_client: HashMap<(Mac, String), Vec<usize>>,
    requests: VecDeque<RecordedRequest>,
    counters: Counters,
}

impl Mutable {
    fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            sessions: HashMap::new(),
            tokens: HashMap::new(),
            records: Vec::new(),
            by_client: HashMap::new(),
            requests: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    fn push_record(&mut self, record: AuthorizedClient) {
        self.by_client
            .entry((record.mac, record.site_id.clone()))
            .or_default()
            .push(self.records.len());
        self.records.push(record);
    }

    /// Mark this device's live records on this site invalid; true when there was one.
    fn invalidate_live(&mut self, mac: Mac, site_id: &str, now: OffsetDateTime) -> bool {
        let mut found = false;
        if let Some(positions) = self.by_client.get(&(mac, site_id.to_owned())) {
            for &i in positions {
                let r = &mut self.records[i];
                if r.active(now) {
                    r.valid = false;
                    found = true;
                }
            }
        }
        found
    }
}

struct Shared {
    cfg: OmadaSimConfig,
    base_url: String,
    m: Mutex<Mutable>,
    outage_tx: watch::Sender<Option<Outage>>,
    shutdown_tx: watch::Sender<bool>,
    tls: Option<SimTls>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Mutable> {
        self.m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn site(&self, name_or_id: &str) -> Option<&SimSite> {
        self.cfg
            .sites
            .iter()
            .find(|s| s.name == name_or_id || s.id == name_or_id)
    }
}

/// Handle to a running simulator. Cheap to clone.
#[derive(Clone)]
pub struct OmadaSim {
    sh: Arc<Shared>,
}

/// Start a simulator on 127.0.0.1 with an OS-chosen port.
pub async fn start(cfg: OmadaSimConfig) -> std::io::Result<OmadaSim> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    start_on(listener, cfg).await
}

/// Start a simulator on a listener the caller bound.
pub async fn start_on(listener: TcpListener, cfg: OmadaSimConfig) -> std::io::Result<OmadaSim> {
    let public = listener.local_addr()?;
    let host = if public.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        public.ip().to_string()
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let tls = if cfg.tls { Some(make_tls()?) } else { None };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let backend = TcpListener::bind(("127.0.0.1", 0)).await?;
    let backend_addr = backend.local_addr()?;
    let (outage_tx, _) = watch::channel(cfg.behaviour.outage);
    let (shutdown_tx, _) = watch::channel(false);
    let sh = Arc::new(Shared {
        base_url: format!("{scheme}://{host}:{}", public.port()),
        m: Mutex::new(Mutable::new(cfg.behaviour.clone())),
        cfg,
        outage_tx,
        shutdown_tx,
        tls,
        tasks: Mutex::new(Vec::new()),
    });
    let handler_state = sh.clone();
    let handler = Arc::new(move |req: Request<Incoming>, _peer: SocketAddr| {
        let sh = handler_state.clone();
        async move { handle(sh, req).await }
    });
    let mut stop = sh.shutdown_tx.subscribe();
    let server = tokio::spawn(async move {
        serve(backend, handler, async move {
            let _ = stop.wait_for(|v| *v).await;
        })
        .await
    });
    let front_task = tokio::spawn(front(listener, backend_addr, sh.clone()));
    sh.tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend([server, front_task]);
    tracing::debug!(base_url = %sh.base_url, controller_id = %sh.cfg.controller_id, "omada simulator listening");
    Ok(OmadaSim { sh })
}

fn make_tls() -> std::io::Result<SimTls> {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let other = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(|e| other(&e))?;
    let der = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(crate::omada::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| other(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .map_err(|e| other(&e))?;
    Ok(SimTls {
        cert_pem: ck.cert.pem(),
        cert_sha256: crate::omada::tls::sha256_hex(der.as_ref()),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    })
}

impl OmadaSim {
    /// `http://127.0.0.1:PORT` (or `https://…` in TLS mode).
    pub fn base_url(&self) -> String {
        self.sh.base_url.clone()
    }

    pub fn controller_id(&self) -> String {
        self.sh.cfg.controller_id.clone()
    }

    pub fn config(&self) -> &OmadaSimConfig {
        &self.sh.cfg
    }

    /// Site id for a site name.
    pub fn site_id(&self, name: &str) -> Option<String> {
        self.sh
            .cfg
            .sites
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.id.clone())
    }

    /// PEM of the self-signed certificate (TLS mode).
    pub fn cert_pem(&self) -> Option<String> {
        self.sh.tls.as_ref().map(|t| t.cert_pem.clone())
    }

    /// Lower-case hex SHA-256 of the certificate's DER (TLS mode), what `cert_sha256` pins.
    pub fn cert_sha256(&self) -> Option<String> {
        self.sh.tls.as_ref().map(|t| t.cert_sha256.clone())
    }

    /// Settings for a hotspot-operator client of this simulator (TLS: pinned to its cert).
    pub fn hotspot_settings(&self) -> OmadaSettings {
        OmadaSettings {
            mode: OmadaMode::Hotspot,
            base_url: self.base_url(),
            username: Some(self.sh.cfg.operator_name.clone()),
            password: Some(self.sh.cfg.operator_password.clone()),
            cert_sha256: self.cert_sha256(),
            ..OmadaSettings::default()
        }
    }

    /// Settings for an Open API client of this simulator (TLS: pinned to its cert).
    pub fn openapi_settings(&self) -> OmadaSettings {
        OmadaSettings {
            mode: OmadaMode::OpenApi,
            base_url: self.base_url(),
            client_id: Some(self.sh.cfg.client_id.clone()),
            client_secret: Some(self.sh.cfg.client_secret.clone()),
            cert_sha256: self.cert_sha256(),
            ..OmadaSettings::default()
        }
    }

    pub fn behaviour(&self) -> Behaviour {
        self.sh.lock().behaviour.clone()
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        let outage = b.outage;
        self.sh.lock().behaviour = b;
        self.sh.outage_tx.send_replace(outage);
    }

    /// Apply a partial change (what `POST /_sim/behaviour` does).
    pub fn apply(&self, patch: BehaviourPatch) -> Result<Behaviour, String> {
        let outage = patch.outage.as_ref().map(parse_outage).transpose()?;
        if let Some(name) = &patch.cookie_name {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err("cookie_name must be a token like TPOMADA_SESSIONID".into());
            }
        }
        let mut m = self.sh.lock();
        let b = &mut m.behaviour;
        if let Some(o) = outage {
            b.outage = o;
        }
        if let Some(v) = patch.latency_ms {
            b.latency_ms = v;
        }
        if let Some(v) = patch.fail_next {
            b.fail_next = v;
        }
        if let Some(v) = patch.fail_status {
            b.fail_status = v;
        }
        if let Some(v) = patch.session_expiry {
            b.session_expiry = v;
        }
        if let Some(v) = patch.cookie_name {
            b.cookie_name = v;
        }
        if let Some(v) = patch.time_unit {
            b.time_unit = v;
        }
        if let Some(v) = patch.require_client_ip {
            b.require_client_ip = v;
        }
        if let Some(v) = patch.reject_sessions {
            b.reject_sessions = v;
        }
        let out = b.clone();
        if patch.expire_sessions == Some(true) {
            expire_all(&mut m);
        }
        drop(m);
        self.sh.outage_tx.send_replace(out.outage);
        Ok(out)
    }

    pub fn set_outage(&self, outage: Option<Outage>) {
        self.sh.lock().behaviour.outage = outage;
        self.sh.outage_tx.send_replace(outage);
    }

    pub fn set_latency(&self, latency: Duration) {
        self.sh.lock().behaviour.latency_ms = latency.as_millis() as u64;
    }

    /// The next `n` controller requests answer `status` (e.g. 500, 503).
    pub fn fail_next(&self, n: u32, status: u16) {
        let mut m = self.sh.lock();
        m.behaviour.fail_next = n;
        m.behaviour.fail_status = status;
    }

    pub fn set_session_expiry(&self, style: SessionExpiry) {
        self.sh.lock().behaviour.session_expiry = style;
    }

    /// Forget every operator session and expire every Open API token.
    pub fn expire_sessions(&self) {
        expire_all(&mut self.sh.lock());
    }

    pub fn set_cookie_name(&self, name: &str) {
        self.sh.lock().behaviour.cookie_name = name.to_string();
    }

    pub fn set_time_unit(&self, unit: AuthTimeUnit) {
        self.sh.lock().behaviour.time_unit = unit;
    }

    pub fn set_require_client_ip(&self, on: bool) {
        self.sh.lock().behaviour.require_client_ip = on;
    }

    pub fn set_reject_sessions(&self, on: bool) {
        self.sh.lock().behaviour.reject_sessions = on;
    }

    /// Every request received (controller and `/_sim/` control requests alike).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.sh.lock().requests.iter().cloned().collect()
    }

    /// Requests whose path ends with `suffix` (e.g. `"/extPortal/auth"`).
    pub fn requests_to(&self, suffix: &str) -> Vec<RecordedRequest> {
        self.sh
            .lock()
            .requests
            .iter()
            .filter(|r| r.path.ends_with(suffix))
            .cloned()
            .collect()
    }

    /// Authorizations currently in force (not disconnected, not expired).
    pub fn authorized(&self) -> Vec<AuthorizedClient> {
        let now = OffsetDateTime::now_utc();
        self.sh
            .lock()
            .records
            .iter()
            .filter(|r| r.active(now))
            .cloned()
            .collect()
    }

    /// Every authorization record, including disconnected and expired ones.
    pub fn auth_records(&self) -> Vec<AuthorizedClient> {
        self.sh.lock().records.clone()
    }

    pub fn counters(&self) -> Counters {
        self.sh.lock().counters.clone()
    }

    /// Back to the starting state: no sessions, tokens, records, requests; default behaviour.
    pub fn reset(&self) {
        let b = self.sh.cfg.behaviour.clone();
        let outage = b.outage;
        *self.sh.lock() = Mutable::new(b);
        self.sh.outage_tx.send_replace(outage);
    }

    /// Stop accepting, drain, and wait (bounded) for the server tasks.
    pub async fn shutdown(&self) {
        self.sh.shutdown_tx.send_replace(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.sh.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(3), t).await;
        }
    }
}

fn expire_all(m: &mut Mutable) {
    m.sessions.clear();
    let now = Instant::now();
    for exp in m.tokens.values_mut() {
        *exp = now;
    }
}

// ---------------------------------------------------------------------------------------------
// Front: TLS termination, outage drops, byte pipe to the hyper server.

async fn front(listener: TcpListener, backend: SocketAddr, sh: Arc<Shared>) {
    let tracker = TaskTracker::new();
    let mut stop = sh.shutdown_tx.subscribe();
    loop {
        let (tcp, _) = tokio::select! {
            _ = async { let _ = stop.wait_for(|v| *v).await; } => break,
            r = listener.accept() => match r {
                Ok(pair) => pair,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let sh = sh.clone();
        tracker.spawn(async move {
            let tls = sh.tls.as_ref().map(|t| t.acceptor.clone());
            match tls {
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    {
                        let _ = pipe(stream, backend, &sh).await;
                    }
                }
                None => {
                    let _ = pipe(tcp, backend, &sh).await;
                }
            }
        });
    }
    drop(listener);
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
}

fn request_path(head: &[u8]) -> Option<&str> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.split(' ').nth(1)
}

async fn pipe<S: AsyncRead + AsyncWrite + Unpin>(
    mut client: S,
    backend: SocketAddr,
    sh: &Shared,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !head.contains(&b'\n') && head.len() < 8192 {
        let n = tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf))
            .await
            .map_err(std::io::Error::other)??;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    // `/_sim/` control connections are never dropped, so an outage can be switched off.
    let control = request_path(&head).is_some_and(|p| p.starts_with("/_sim"));
    let mut outage = sh.outage_tx.subscribe();
    let mut stop = sh.shutdown_tx.subscribe();
    if !control && *outage.borrow() == Some(Outage::Drop) {
        sh.lock().counters.dropped_connections += 1;
        return Ok(());
    }
    let mut server = TcpStream::connect(backend).await?;
    let _ = server.set_nodelay(true);
    server.write_all(&head).await?;
    tokio::select! {
        r = tokio::io::copy_bidirectional(&mut client, &mut server) => { r?; }
        _ = async { let _ = outage.wait_for(|o| *o == Some(Outage::Drop)).await; }, if !control => {
            sh.lock().counters.dropped_connections += 1;
        }
        _ = async { let _ = stop.wait_for(|v| *v).await; } => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Handler.

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .body(full(v.to_string()))
        .expect("valid response")
}

fn ok(result: Value) -> Response<Body> {
    json_response(
        StatusCode::OK,
        &json!({"errorCode": 0, "msg": "Success.", "result": result}),
    )
}

fn code(c: i64, msg: &str) -> Response<Body> {
    json_response(StatusCode::OK, &json!({"errorCode": c, "msg": msg}))
}

fn general_error() -> Response<Body> {
    code(-1, "General error.")
}

fn login_page(id: &str) -> Response<Body> {
    let html = format!("<!DOCTYPE html><html><head><title>Omada Controller</title></head><body><form action=\"/{id}/login\" method=\"post\"><input name=\"username\"><input name=\"password\" type=\"password\"></form></body></html>");
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html;charset=UTF-8")
        .body(full(html))
        .expect("valid response")
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn handle(sh: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let (parts, body) = match read_body(req, 256 * 1024).await {
        Ok(pair) => pair,
        Err((_, _)) => {
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"errorCode": -1, "msg": "General error."}),
            )
        }
    };
    let headers = parts.headers;
    let body_json: Option<Value> = serde_json::from_slice(&body).ok();

    let resp = if path == "/_sim" || path.starts_with("/_sim/") {
        control(&sh, &method, &path, query.as_deref(), &body)
    } else {
        let (latency, injected) = {
            let mut m = sh.lock();
            m.counters.requests += 1;
            let injected = if m.behaviour.outage == Some(Outage::Http503) {
                m.counters.outage_503 += 1;
                Some(503)
            } else if m.behaviour.fail_next > 0 {
                m.behaviour.fail_next -= 1;
                m.counters.injected_failures += 1;
                Some(m.behaviour.fail_status)
            } else {
                None
            };
            (m.behaviour.latency_ms, injected)
        };
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        match injected {
            Some(status) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                Response::builder()
                    .status(status)
                    .header(header::CONTENT_TYPE, "text/html")
                    .body(full(format!("<html><body><h1>{status}</h1></body></html>")))
                    .expect("valid response")
            }
            None => route(
                &sh,
                &method,
                &path,
                query.as_deref(),
                &headers,
                body_json.as_ref(),
            ),
        }
    };

    let rec = RecordedRequest {
        method: method.to_string(),
        path,
        query,
        csrf_token: header_str(&headers, "csrf-token"),
        cookie: header_str(&headers, "cookie"),
        authorization: header_str(&headers, "authorization"),
        content_type: header_str(&headers, "content-type"),
        body_text: if body_json.is_none() && !body.is_empty() {
            Some(String::from_utf8_lossy(&body).into_owned())
        } else {
            None
        },
        body: body_json,
        status: resp.status().as_u16(),
        at: OffsetDateTime::now_utc(),
    };
    let mut m = sh.lock();
    if m.requests.len() >= MAX_RECORDED {
        m.requests.pop_front();
    }
    m.requests.push_back(rec);
    drop(m);
    resp
}

fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn route(
    sh: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Option<&Value>,
) -> Response<Body> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let id = sh.cfg.controller_id.as_str();
    match (method, segs.as_slice()) {
        (&Method::GET, ["api", "info"]) => ok(json!({
            "controllerVer": sh.cfg.controller_ver,
            "apiVer": "3",
            "configured": true,
            "type": sh.cfg.controller_type,
            "supportApp": true,
            "omadacId": id,
        })),
        (&Method::GET, [cid, "login"]) | (&Method::GET, [cid, "hotspot", "login"])
            if *cid == id =>
        {
            login_page(id)
        }
        (&Method::POST, [cid, "api", "v2", "hotspot", "login"]) if *cid == id => {
            hotspot_login(sh, body)
        }
        (&Method::POST, [cid, "api", "v2", "hotspot", "extPortal", "auth"]) if *cid == id => {
            with_session(sh, headers, query, |m| ext_portal_auth(sh, m, body))
        }
        (&Method::GET, [cid, "api", "v2", "hotspot", "sites", site, "clients"]) if *cid == id => {
            let site = percent_decode(site);
            with_session(sh, headers, query, |m| hotspot_clients(sh, m, &site, query))
        }
        (
            &Method::POST,
            [cid, "api", "v2", "hotspot", "sites", site, "cmd", "clients", rid, "disconnect"],
        ) if *cid == id => {
            let site = percent_decode(site);
            with_session(sh, headers, query, |m| {
                hotspot_disconnect(sh, m, &site, rid)
            })
        }
        (&Method::POST, ["openapi", "authorize", "token"]) => openapi_token(sh, query, body),
        (&Method::GET, ["openapi", "v1", cid, "sites"]) if *cid == id => {
            with_token(sh, headers, |_| openapi_sites(sh, query))
        }
        (
            &Method::POST,
            ["openapi", "v1", cid, "sites", site_id, "hotspot", "clients", mac, action @ ("auth" | "unauth")],
        ) if *cid == id => with_token(sh, headers, |m| openapi_client(sh, m, site_id, mac, action)),
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"errorCode": -1600, "msg": "Unsupported request path."}),
        ),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn hotspot_login(sh: &Shared, body: Option<&Value>) -> Response<Body> {
    let mut m = sh.lock();
    let name = body.and_then(|b| b.get("name")).and_then(Value::as_str);
    let password = body.and_then(|b| b.get("password")).and_then(Value::as_str);
    let (Some(name), Some(password)) = (name, password) else {
        m.counters.login_failures += 1;
        return general_error();
    };
    if name != sh.cfg.operator_name || password != sh.cfg.operator_password {
        m.counters.login_failures += 1;
        return code(-30109, "Invalid username or password.");
    }
    m.counters.logins += 1;
    let cookie = random_hex(16);
    let token = random_hex(16);
    m.sessions.insert(cookie.clone(), token.clone());
    let secure = if sh.tls.is_some() { "; Secure" } else { "" };
    let set_cookie = format!(
        "{}={cookie}; Path=/; HttpOnly{secure}",
        m.behaviour.cookie_name
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .header(header::SET_COOKIE, set_cookie)
        .body(full(json!({"errorCode": 0, "msg": "Hotspot log in successfully.", "result": {"token": token}}).to_string()))
        .expect("valid response")
}

/// Run `f` when the request carries a live session cookie (current cookie name) and its CSRF
/// token (`Csrf-Token` header, or 4.x-style `?token=`); else answer in the expiry style.
fn with_session(
    sh: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    f: impl FnOnce(&mut Mutable) -> Response<Body>,
) -> Response<Body> {
    let mut m = sh.lock();
    let cookie_name = m.behaviour.cookie_name.clone();
    let cookie_value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == cookie_name)
        .map(|(_, v)| v.to_string());
    let csrf = header_str(headers, "csrf-token").or_else(|| query_param(query, "token"));
    let valid = match (&cookie_value, &csrf) {
        (Some(c), Some(t)) => m.sessions.get(c) == Some(t),
        _ => false,
    };
    if valid && !m.behaviour.reject_sessions {
        return f(&mut m);
    }
    m.counters.session_rejections += 1;
    let id = &sh.cfg.controller_id;
    match m.behaviour.session_expiry {
        SessionExpiry::Redirect => Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, format!("/{id}/login"))
            .body(full(""))
            .expect("valid response"),
        SessionExpiry::Html => login_page(id),
        SessionExpiry::Code => code(-1005, "Operation forbidden."),
    }
}

/// A field given as a string or a number, as text.
fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-negative integer given as a string or a number. `Err` = present but not a number.
fn uint(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>, ()> {
    match text(obj, key) {
        None => Ok(None),
        Some(s) => s.parse::<u64>().map(Some).map_err(|_| ()),
    }
}

fn ext_portal_auth(sh: &Shared, m: &mut Mutable, body: Option<&Value>) -> Response<Body> {
    match check_auth_body(sh, m, body) {
        Ok(record) => {
            m.counters.auths += 1;
            let now = OffsetDateTime::now_utc();
            // Re-authorizing a device replaces its live record (new expiry), like a new session.
            m.invalidate_live(record.mac, &record.site_id.clone(), now);
            m.push_record(record);
            json_response(StatusCode::OK, &json!({"errorCode": 0, "msg": "Success."}))
        }
        Err((c, msg)) => {
            m.counters.auth_rejections += 1;
            code(c, msg)
        }
    }
}

const GENERAL: (i64, &str) = (-1, "General error.");
const FAILED: (i64, &str) = (-41501, "Failed to authenticate.");

fn check_auth_body(
    sh: &Shared,
    m: &Mutable,
    body: Option<&Value>,
) -> Result<AuthorizedClient, (i64, &'static str)> {
    let b = &m.behaviour;
    let obj = body.and_then(Value::as_object).ok_or(GENERAL)?;
    let auth_type = uint(obj, "authType").map_err(|_| GENERAL)?.ok_or(GENERAL)?;
    if auth_type != 4 {
        return Err(FAILED);
    }
    let mac: Mac = text(obj, "clientMac")
        .and_then(|s| s.parse().ok())
        .ok_or(GENERAL)?;
    let client_ip = text(obj, "clientIp");
    if let Some(ip) = &client_ip {
        ip.parse::<std::net::IpAddr>().map_err(|_| GENERAL)?;
    } else if b.require_client_ip {
        return Err(FAILED);
    }
    let site = match text(obj, "site") {
        Some(s) => sh.site(&s).ok_or(GENERAL)?,
        None if b.require_client_ip => sh.cfg.sites.first().ok_or(GENERAL)?,
        None => return Err(GENERAL),
    };
    let time_raw = uint(obj, "time")
        .map_err(|_| GENERAL)?
        .filter(|t| *t > 0)
        .ok_or(GENERAL)?;
    let duration = b.time_unit.decode(time_raw);
    let ap = text(obj, "apMac");
    let gw = text(obj, "gatewayMac");
    let (ap_mac, ssid, radio_id, gateway_mac, vid) = match (ap, gw) {
        (Some(ap), None) => {
            let ap: Mac = ap.parse().map_err(|_| GENERAL)?;
            let ssid = text(obj, "ssidName").ok_or(GENERAL)?;
            let radio = uint(obj, "radioId")
                .map_err(|_| GENERAL)?
                .filter(|r| *r <= 3)
                .ok_or(GENERAL)?;
            (Some(ap), Some(ssid), Some(radio as u8), None, None)
        }
        (None, Some(gw)) => {
            let gw: Mac = gw.parse().map_err(|_| GENERAL)?;
            let vid = uint(obj, "vid")
                .map_err(|_| GENERAL)?
                .filter(|v| *v <= 4094)
                .ok_or(GENERAL)?;
            (None, None, None, Some(gw), Some(vid as u16))
        }
        _ => return Err(GENERAL),
    };
    let now = OffsetDateTime::now_utc();
    let expires = time::Duration::try_from(duration)
        .ok()
        .and_then(|d| now.checked_add(d))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc());
    Ok(AuthorizedClient {
        id: random_hex(12),
        mac,
        site: site.name.clone(),
        site_id: site.id.clone(),
        ap_mac,
        gateway_mac,
        ssid,
        radio_id,
        vid,
        client_ip,
        time_raw: Some(time_raw),
        duration: Some(duration),
        down_kbps: uint(obj, "downloadRateLimitKbps").ok().flatten(),
        up_kbps: uint(obj, "uploadRateLimitKbps").ok().flatten(),
        authorized_at: now,
        expires_at: Some(expires),
        via: AuthApi::Hotspot,
        valid: true,
    })
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn hotspot_clients(
    sh: &Shared,
    m: &mut Mutable,
    site: &str,
    query: Option<&str>,
) -> Response<Body> {
    let Some(site) = sh.site(site) else {
        return general_error();
    };
    let page = query_param(query, "currentPage")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let size = query_param(query, "currentPageSize")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 1000);
    let now = OffsetDateTime::now_utc();
    let rows: Vec<&AuthorizedClient> = m
        .records
        .iter()
        .rev()
        .filter(|r| r.site_id == site.id)
        .collect();
    let data: Vec<Value> = rows
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|r| {
            json!({
                "id": r.id,
                "mac": r.mac.to_string(),
                "ip": r.client_ip,
                "ssid": r.ssid,
                "apMac": r.ap_mac.map(|m| m.to_string()),
                "gatewayMac": r.gateway_mac.map(|m| m.to_string()),
                "vid": r.vid,
                "authType": 4,
                "valid": r.active(now),
                "start": ms(r.authorized_at),
                "end": r.expires_at.map(ms),
                "duration": r.duration.map(|d| d.as_millis() as u64),
            })
        })
        .collect();
    ok(json!({"totalRows": rows.len(), "currentPage": page, "currentSize": size, "data": data}))
}

fn hotspot_disconnect(sh: &Shared, m: &mut Mutable, site: &str, rid: &str) -> Response<Body> {
    let Some(site) = sh.site(site) else {
        return general_error();
    };
    let now = OffsetDateTime::now_utc();
    match m
        .records
        .iter_mut()
        .find(|r| r.id == rid && r.site_id == site.id && r.active(now))
    {
        Some(r) => {
            r.valid = false;
            m.counters.disconnects += 1;
            code(0, "Success.")
        }
        None => general_error(),
    }
}

fn openapi_token(sh: &Shared, query: Option<&str>, body: Option<&Value>) -> Response<Body> {
    let mut m = sh.lock();
    if query_param(query, "grant_type").as_deref() != Some("client_credentials") {
        return code(-44111, "The grant type is invalid");
    }
    let field = |k: &str| {
        body.and_then(|b| b.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    if field("omadacId") != sh.cfg.controller_id {
        return code(-7131, "Controller ID not exist.");
    }
    if field("client_id") != sh.cfg.client_id || field("client_secret") != sh.cfg.client_secret {
        m.counters.login_failures += 1;
        return code(-44106, "The client id or client secret is invalid");
    }
    let token = format!("AT-{}", random_hex(16));
    m.tokens
        .insert(token.clone(), Instant::now() + sh.cfg.token_ttl);
    m.counters.tokens_minted += 1;
    json_response(
        StatusCode::OK,
        &json!({"errorCode": 0, "msg": "Open API Get Access Token successfully.", "result": {
            "accessToken": token, "tokenType": "bearer", "expiresIn": sh.cfg.token_ttl.as_secs(), "refreshToken": format!("RT-{}", random_hex(16)),
        }}),
    )
}

fn with_token(
    sh: &Shared,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Mutable) -> Response<Body>,
) -> Response<Body> {
    let mut m = sh.lock();
    let token = header_str(headers, "authorization")
        .and_then(|v| v.strip_prefix("AccessToken=").map(str::to_string));
    let Some(token) = token else {
        m.counters.token_rejections += 1;
        return json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"errorCode": -44113, "msg": "The access token is Invalid"}),
        );
    };
    match m.tokens.get(&token) {
        None => {
            m.counters.token_rejections += 1;
            code(-44113, "The access token is Invalid")
        }
        Some(exp) if Instant::now() >= *exp => {
            m.counters.token_rejections += 1;
            code(-44112, "The access token has expired. Please re-initiate the refreshToken process to obtain the access token.")
        }
        Some(_) => f(&mut m),
    }
}

fn openapi_sites(sh: &Shared, query: Option<&str>) -> Response<Body> {
    let page = query_param(query, "page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| *v >= 1);
    let size = query_param(query, "pageSize")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| (1..=1000).contains(v));
    let (Some(page), Some(size)) = (page, size) else {
        return code(-1001, "Invalid request parameters.");
    };
    let data: Vec<Value> = sh
        .cfg
        .sites
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|s| json!({"siteId": s.id, "name": s.name, "region": "United States", "timeZone": "UTC", "scenario": "Hotel", "type": 0}))
        .collect();
    ok(
        json!({"totalRows": sh.cfg.sites.len(), "currentPage": page, "currentSize": size, "data": data}),
    )
}

fn openapi_client(
    sh: &Shared,
    m: &mut Mutable,
    site_id: &str,
    raw_mac: &str,
    action: &str,
) -> Response<Body> {
    // Open API paths take the site id (not the name) and the MAC as AA-BB-CC-DD-EE-FF exactly.
    let Some(site) = sh.cfg.sites.iter().find(|s| s.id == site_id) else {
        return code(-1001, "Invalid request parameters.");
    };
    let Some(mac) = raw_mac
        .parse::<Mac>()
        .ok()
        .filter(|m| m.to_string() == raw_mac)
    else {
        return code(-1001, "Invalid request parameters.");
    };
    let now = OffsetDateTime::now_utc();
    if action == "auth" {
        m.invalidate_live(mac, &site.id, now);
        m.push_record(AuthorizedClient {
            id: random_hex(12),
            mac,
            site: site.name.clone(),
            site_id: site.id.clone(),
            ap_mac: None,
            gateway_mac: None,
            ssid: None,
            radio_id: None,
            vid: None,
            client_ip: None,
            time_raw: None,
            duration: None,
            down_kbps: None,
            up_kbps: None,
            authorized_at: now,
            expires_at: None,
            via: AuthApi::OpenApi,
            valid: true,
        });
        m.counters.auths += 1;
        return code(0, "Success.");
    }
    if m.invalidate_live(mac, &site.id, now) {
        m.counters.unauths += 1;
        code(0, "Success.")
    } else {
        // Message as reported by community code; the numeric code is the simulator's own.
        code(-41504, "The client does not exist.")
    }
}

// ---------------------------------------------------------------------------------------------
// Control API.

fn control(
    sh: &Arc<Shared>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Response<Body> {
    let sim = OmadaSim { sh: sh.clone() };
    let to_json = |v: serde_json::Result<Value>| v.unwrap_or(Value::Null);
    match (method, path.trim_end_matches('/')) {
        (&Method::GET, "/_sim/requests") => json_response(
            StatusCode::OK,
            &to_json(serde_json::to_value(sim.requests())),
        ),
        (&Method::GET, "/_sim/clients") => {
            let all = query_param(query, "all").is_some_and(|v| v == "1" || v == "true");
            let list = if all {
                sim.auth_records()
            } else {
                sim.authorized()
            };
            json_response(StatusCode::OK, &to_json(serde_json::to_value(list)))
        }
        (&Method::GET, "/_sim/counters") => json_response(
            StatusCode::OK,
            &to_json(serde_json::to_value(sim.counters())),
        ),
        (&Method::GET, "/_sim/behaviour") => json_response(
            StatusCode::OK,
            &to_json(serde_json::to_value(sim.behaviour())),
        ),
        (&Method::POST, "/_sim/behaviour") => {
            let patch: BehaviourPatch = match serde_json::from_slice(if body.is_empty() {
                b"{}"
            } else {
                body
            }) {
                Ok(p) => p,
                Err(e) => {
                    return json_response(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()}))
                }
            };
            match sim.apply(patch) {
                Ok(b) => json_response(StatusCode::OK, &to_json(serde_json::to_value(b))),
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e})),
            }
        }
        (&Method::POST, "/_sim/reset") => {
            sim.reset();
            json_response(StatusCode::OK, &json!({"reset": true}))
        }
        (&Method::GET, "/_sim/info") => json_response(
            StatusCode::OK,
            &json!({
                "base_url": sim.base_url(),
                "controller_id": sim.controller_id(),
                "controller_ver": sh.cfg.controller_ver,
                "sites": sh.cfg.sites,
                "operator_name": sh.cfg.operator_name,
                "operator_password": sh.cfg.operator_password,
                "client_id": sh.cfg.client_id,
                "client_secret": sh.cfg.client_secret,
                "cert_pem": sim.cert_pem(),
                "cert_sha256": sim.cert_sha256(),
            }),
        ),
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "unknown simulator control path"}),
        ),
    }
}

/// A controller redirect query (reference §1.3/§9): parameter order as captured on 5.9.9,
/// MACs upper-case hyphenated, `t` in Unix seconds, `redirectUrl` percent-encoded.
#[derive(Clone, Debug)]
pub struct RedirectParams {
    pub client_mac: Mac,
    pub client_ip: Option<String>,
    pub site: String,
    pub redirect_url: String,
    /// EAP path.
    pub ap_mac: Option<Mac>,
    pub ssid_name: Option<String>,
    pub radio_id: Option<u8>,
    /// Gateway path.
    pub gateway_mac: Option<Mac>,
    pub vid: Option<u16>,
}

impl RedirectParams {
    pub fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("clientMac", &self.client_mac.to_string());
        if let Some(ip) = &self.client_ip {
            q.append_pair("clientIp", ip);
        }
        q.append_pair("t", &OffsetDateTime::now_utc().unix_timestamp().to_string());
        q.append_pair("site", &self.site);
        q.append_pair("redirectUrl", &self.redirect_url);
        if let Some(ap) = self.ap_mac {
            q.append_pair("apMac", &ap.to_string());
            q.append_pair("ssidName", self.ssid_name.as_deref().unwrap_or(""));
            q.append_pair("radioId", &self.radio_id.unwrap_or(0).to_string());
        } else if let Some(gw) = self.gateway_mac {
            q.append_pair("gatewayMac", &gw.to_string());
            q.append_pair("vid", &self.vid.unwrap_or(0).to_string());
        }
        q.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_values_parse() {
        assert_eq!(parse_outage(&json!(false)), Ok(None));
        assert_eq!(parse_outage(&json!(true)), Ok(Some(Outage::Drop)));
        assert_eq!(parse_outage(&json!("503")), Ok(Some(Outage::Http503)));
        assert_eq!(parse_outage(&json!(503)), Ok(Some(Outage::Http503)));
        assert_eq!(parse_outage(&json!("off")), Ok(None));
        assert!(parse_outage(&json!("sometimes")).is_err());
    }

    #[test]
    fn default_config_has_realistic_ids() {
        let c = OmadaSimConfig::default();
        assert_eq!(c.controller_id.len(), 32);
        assert!(c
            .controller_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(c.sites[0].id.len(), 24);
        assert_eq!(c.behaviour.cookie_name, "TPOMADA_SESSIONID");
    }

    #[test]
    fn redirect_query_matches_the_capture_shape() {
        let p = RedirectParams {
            client_mac: "52:de:63:f1:e3:3b".parse().unwrap(),
            client_ip: Some("192.168.100.165".into()),
            site: "Default".into(),
            redirect_url: "http://connectivitycheck.gstatic.com/generate_204".into(),
            ap_mac: Some("B0-95-75-15-93-44".parse().unwrap()),
            ssid_name: Some("eap225".into()),
            radio_id: Some(0),
            gateway_mac: None,
            vid: None,
        };
        let q = p.query();
        assert!(
            q.starts_with("clientMac=52-DE-63-F1-E3-3B&clientIp=192.168.100.165&t="),
            "{q}"
        );
        assert!(q.ends_with("&site=Default&redirectUrl=http%3A%2F%2Fconnectivitycheck.gstatic.com%2Fgenerate_204&apMac=B0-95-75-15-93-44&ssidName=eap225&radioId=0"), "{q}");
    }
}
