//! Simulated Omada controller that behaves like a real one, as public sources describe it
//! (`reference/omada-field-notes.md`, `reference/omada-protocol.md`; every behaviour is cited
//! in `docs/simulators.md`).
//!
//! A real HTTP(S) server on 127.0.0.1 with the controller's external-portal surface:
//! `GET /api/info`; hotspot operator login, `extPortal/auth`, the Hotspot Manager client list
//! and `disconnect` (site **ids** only, within the operator's Site Privileges); the Open API
//! token, sites, SSIDs, portals (Authentication Timeout), hotspot operators, `hotspot/clients/
//! {MAC}/auth|unauth` and the authorised-client records. By default it is as strict as a real
//! controller: a hotspot grant is not ended at its end (only a disconnect ends it), `unauth`
//! of a device that is away answers "client does not exist" and leaves it authorised, an Open
//! API grant lasts the portal's timeout, TLS mode shows a certificate shaped like TP-Link's
//! factory one (no subjectAltName). It records every request and authorization, and its
//! behaviour can be switched from Rust through [`OmadaSim`] or over HTTP under `/_sim/`.
//!
//! Layout: this file holds the configuration, the handle and the listener (a small front
//! accept loop owns the public listener — it terminates TLS in TLS mode and drops connections
//! during a `drop` outage — and pipes bytes to the shared [`crate::serve::serve`] loop on an
//! internal loopback listener); `state` is what the controller holds, `wire` the controller's
//! protocol, `control` the `/_sim/` API.

mod control;
mod network;
mod state;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::Request;
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use crate::net::Mac;
use crate::omada::{AuthTimeUnit, OmadaMode, OmadaSettings};
use crate::serve::serve;

pub use control::BehaviourPatch;
pub use state::{
    AuthApi, AuthorizedClient, Behaviour, Counters, OperatorRole, Outage, RecordedRequest,
    SessionExpiry, SimDevice, SimDeviceKind, SimDeviceState, SimOperator, SimPpskProfile, SimPsk,
    SimWanPort, SimWifiClient,
};

/// A site of the simulated controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimSite {
    pub name: String,
    /// 24 lowercase hex, like real site ids.
    pub id: String,
}

/// An SSID of a site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimSsid {
    /// Site name.
    pub site: String,
    pub name: String,
    /// *Guest Network* on (the usual choice for rentals).
    pub guest_network: bool,
    /// No Wi-Fi password.
    pub open: bool,
}

/// A PPSK profile at start: on a site (name), bound to SSIDs of that site (their Security
/// becomes "PPSK without RADIUS"), with these keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimPpskConfig {
    pub site: String,
    pub name: String,
    pub ssids: Vec<String>,
    pub keys: Vec<SimPsk>,
}

/// A device at start (connected; an AP serves its site's SSIDs; a gateway has one WAN port
/// `WAN1`, link and internet up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimDeviceSpec {
    pub site: String,
    pub mac: Mac,
    pub name: String,
    pub kind: SimDeviceKind,
    pub model: String,
}

/// The default site's AP (the `apMac` of the captured redirects [S10]) and gateway.
pub const DEFAULT_AP: &str = "B0-95-75-15-93-44";
pub const DEFAULT_GATEWAY: &str = "AC-84-C6-00-00-01";

/// The certificate TLS mode serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SimCert {
    /// Shaped like TP-Link's factory certificate: `O=TP-Link, OU=TP-Link, CN=localhost`, no
    /// subjectAltName, valid 2020-09-11 → 2050-09-11. Its key is the simulator's own (the
    /// factory key is not public), so its SHA-256 differs from [`crate::omada::FACTORY_SHA256`].
    #[default]
    FactoryLike,
    /// A certificate of the host's own with `localhost` and `127.0.0.1` as subjectAltNames
    /// (what a CA file can verify).
    Named,
}

/// Fixed facts of one simulated controller.
#[derive(Clone, Debug)]
pub struct OmadaSimConfig {
    /// `omadacId`: 32 lowercase hex.
    pub controller_id: String,
    pub controller_ver: String,
    /// `/api/info` `type` (1 software, 10 OC200, 11 OC300 — inferred mapping).
    pub controller_type: u8,
    /// The hotspot operator every `*_settings()` uses.
    pub operator_name: String,
    pub operator_password: String,
    pub operator_role: OperatorRole,
    /// Site names in that operator's Site Privileges; `None` = every site.
    pub operator_sites: Option<Vec<String>>,
    pub client_id: String,
    pub client_secret: String,
    /// Site names in the Open API app's Site Privileges; `None` = every site.
    pub openapi_sites: Option<Vec<String>>,
    pub sites: Vec<SimSite>,
    /// SSIDs per site (by site name).
    pub ssids: Vec<SimSsid>,
    /// Authentication Timeout of each site's External Portal Server portal at start.
    pub portal_timeout: Duration,
    /// Open API access-token lifetime (`expiresIn`, 7200 s on real controllers).
    pub token_ttl: Duration,
    /// Serve HTTPS (for `localhost` and `127.0.0.1`) with `tls_cert`.
    pub tls: bool,
    pub tls_cert: SimCert,
    /// Behaviour at start and after `reset`.
    pub behaviour: Behaviour,
    /// PPSK profiles at start (none by default).
    pub ppsk_profiles: Vec<SimPpskConfig>,
    /// Devices at start: by default an AP and a gateway on the first site.
    pub devices: Vec<SimDeviceSpec>,
}

pub(crate) fn random_hex(bytes: usize) -> String {
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
            operator_password: "operator-pass!".into(),
            operator_role: OperatorRole::Administrator,
            operator_sites: None,
            client_id: "sim-client-id".into(),
            client_secret: "sim-client-secret".into(),
            openapi_sites: None,
            sites: vec![SimSite {
                name: "Default".into(),
                id: random_hex(12),
            }],
            ssids: vec![SimSsid {
                site: "Default".into(),
                name: "Guest".into(),
                guest_network: true,
                open: true,
            }],
            portal_timeout: Duration::from_secs(8 * 3600),
            token_ttl: Duration::from_secs(7200),
            tls: false,
            tls_cert: SimCert::FactoryLike,
            behaviour: Behaviour::default(),
            ppsk_profiles: Vec::new(),
            devices: vec![
                SimDeviceSpec {
                    site: "Default".into(),
                    mac: DEFAULT_AP.parse().expect("a MAC"),
                    name: "Living room".into(),
                    kind: SimDeviceKind::Ap,
                    model: "EAP650(EU) v1.0".into(),
                },
                SimDeviceSpec {
                    site: "Default".into(),
                    mac: DEFAULT_GATEWAY.parse().expect("a MAC"),
                    name: "Gateway".into(),
                    kind: SimDeviceKind::Gateway,
                    model: "ER605 v2.0".into(),
                },
            ],
        }
    }
}

/// An SSID as served (with its id).
#[derive(Clone, Debug)]
struct SsidExt {
    pub id: String,
    pub name: String,
    pub guest_network: bool,
    pub open: bool,
}

/// A site with the ids the Open API shows for its WLAN group and portal.
#[derive(Clone, Debug)]
struct SiteExt {
    pub name: String,
    pub id: String,
    pub wlan_id: String,
    pub portal_id: String,
    pub ssids: Vec<SsidExt>,
}

struct SimTls {
    cert_pem: String,
    cert_sha256: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

struct Shared {
    cfg: OmadaSimConfig,
    sites: Vec<SiteExt>,
    /// Site ids the Open API app may use.
    openapi_site_ids: Vec<String>,
    base_url: String,
    /// PPSK profiles at start and after `reset` (ids fixed at start).
    initial_ppsk: Vec<SimPpskProfile>,
    m: Mutex<state::Mutable>,
    outage_tx: watch::Sender<Option<Outage>>,
    shutdown_tx: watch::Sender<bool>,
    tls: Option<SimTls>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, state::Mutable> {
        self.m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn site_by_id(&self, id: &str) -> Option<&SiteExt> {
        self.sites.iter().find(|s| s.id == id)
    }

    fn site_by_name_or_id(&self, name_or_id: &str) -> Option<&SiteExt> {
        self.sites
            .iter()
            .find(|s| s.name == name_or_id || s.id == name_or_id)
    }

    fn openapi_sees(&self, site_id: &str) -> bool {
        self.openapi_site_ids.iter().any(|s| s == site_id)
    }

    /// The configured operator and the starting portal timeouts (start and `reset`).
    fn initial_state(&self) -> state::Mutable {
        let ids = |names: &Option<Vec<String>>| -> Vec<String> {
            self.sites
                .iter()
                .filter(|s| names.as_ref().is_none_or(|n| n.contains(&s.name)))
                .map(|s| s.id.clone())
                .collect()
        };
        let operator = SimOperator {
            name: self.cfg.operator_name.clone(),
            password: self.cfg.operator_password.clone(),
            role: self.cfg.operator_role,
            site_ids: ids(&self.cfg.operator_sites),
        };
        let timeouts = self
            .sites
            .iter()
            .map(|s| (s.id.clone(), self.cfg.portal_timeout))
            .collect();
        let mut m = state::Mutable::new(self.cfg.behaviour.clone(), vec![operator], timeouts);
        m.ppsk = self.initial_ppsk.clone();
        let now = OffsetDateTime::now_utc();
        for d in &self.cfg.devices {
            if d.kind == SimDeviceKind::Gateway {
                m.wans.insert(d.mac, vec![default_wan_port()]);
            }
            m.devices.push(SimDevice {
                site: d.site.clone(),
                mac: d.mac,
                name: d.name.clone(),
                kind: d.kind,
                model: d.model.clone(),
                state: SimDeviceState::Connected,
                serves_ssids: true,
                last_seen: now,
            });
        }
        m
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
    let tls = if cfg.tls {
        Some(make_tls(cfg.tls_cert)?)
    } else {
        None
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let backend = TcpListener::bind(("127.0.0.1", 0)).await?;
    let backend_addr = backend.local_addr()?;
    let (outage_tx, _) = watch::channel(cfg.behaviour.outage);
    let (shutdown_tx, _) = watch::channel(false);
    let sites: Vec<SiteExt> = cfg
        .sites
        .iter()
        .map(|s| SiteExt {
            name: s.name.clone(),
            id: s.id.clone(),
            wlan_id: random_hex(12),
            portal_id: random_hex(12),
            ssids: cfg
                .ssids
                .iter()
                .filter(|x| x.site == s.name)
                .map(|x| SsidExt {
                    id: random_hex(12),
                    name: x.name.clone(),
                    guest_network: x.guest_network,
                    open: x.open,
                })
                .collect(),
        })
        .collect();
    let openapi_site_ids = sites
        .iter()
        .filter(|s| {
            cfg.openapi_sites
                .as_ref()
                .is_none_or(|n| n.contains(&s.name))
        })
        .map(|s| s.id.clone())
        .collect();
    let initial_ppsk = cfg
        .ppsk_profiles
        .iter()
        .filter_map(|p| {
            let site = sites.iter().find(|s| s.name == p.site)?;
            Some(SimPpskProfile {
                id: random_hex(12),
                site_id: site.id.clone(),
                name: p.name.clone(),
                kind: 0,
                ssids: p.ssids.clone(),
                keys: p.keys.clone(),
                expiration_type: 0,
            })
        })
        .collect();
    let placeholder = state::Mutable::new(cfg.behaviour.clone(), Vec::new(), HashMap::new());
    let sh = Arc::new(Shared {
        base_url: format!("{scheme}://{host}:{}", public.port()),
        m: Mutex::new(placeholder),
        initial_ppsk,
        sites,
        openapi_site_ids,
        cfg,
        outage_tx,
        shutdown_tx,
        tls,
        tasks: Mutex::new(Vec::new()),
    });
    *sh.lock() = sh.initial_state();
    let handler_state = sh.clone();
    let handler = Arc::new(move |req: Request<Incoming>, _peer: SocketAddr| {
        let sh = handler_state.clone();
        async move { wire::handle(sh, req).await }
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

fn make_tls(kind: SimCert) -> std::io::Result<SimTls> {
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let other = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let key = KeyPair::generate().map_err(|e| other(&e))?;
    let params = match kind {
        SimCert::Named => {
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(|e| other(&e))?
        }
        SimCert::FactoryLike => {
            let mut p = CertificateParams::default();
            let mut dn = DistinguishedName::new();
            dn.push(DnType::OrganizationName, "TP-Link");
            dn.push(DnType::OrganizationalUnitName, "TP-Link");
            dn.push(DnType::CommonName, "localhost");
            p.distinguished_name = dn;
            p.not_before = time::macros::datetime!(2020-09-11 08:15:21 UTC);
            p.not_after = time::macros::datetime!(2050-09-11 08:15:21 UTC);
            p
        }
    };
    let cert = params.self_signed(&key).map_err(|e| other(&e))?;
    let der = cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(crate::omada::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| other(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .map_err(|e| other(&e))?;
    Ok(SimTls {
        cert_pem: cert.pem(),
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
            .sites
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.id.clone())
    }

    /// PEM of the TLS certificate (TLS mode).
    pub fn cert_pem(&self) -> Option<String> {
        self.sh.tls.as_ref().map(|t| t.cert_pem.clone())
    }

    /// Lower-case hex SHA-256 of the certificate's DER (TLS mode), what `cert_sha256` pins.
    pub fn cert_sha256(&self) -> Option<String> {
        self.sh.tls.as_ref().map(|t| t.cert_sha256.clone())
    }

    /// The set-up DESIGN §10 recommends: the hotspot operator lets guests in (per-grant
    /// duration), the Open API app looks up site ids, SSIDs and portal timeouts. TLS mode:
    /// pinned to the certificate.
    pub fn hotspot_settings(&self) -> OmadaSettings {
        OmadaSettings {
            mode: OmadaMode::Hotspot,
            client_id: Some(self.sh.cfg.client_id.clone()),
            client_secret: Some(self.sh.cfg.client_secret.clone()),
            ..self.hotspot_only_settings()
        }
    }

    /// Hotspot operator credentials only (no Open API: site ids must come from the host).
    pub fn hotspot_only_settings(&self) -> OmadaSettings {
        OmadaSettings {
            mode: OmadaMode::Hotspot,
            base_url: self.base_url(),
            username: Some(self.sh.cfg.operator_name.clone()),
            password: Some(self.sh.cfg.operator_password.clone()),
            cert_sha256: self.cert_sha256(),
            ..OmadaSettings::default()
        }
    }

    /// Open API client credentials only (guests let in through the Open API).
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
        let mut m = self.sh.lock();
        let mut b = m.behaviour.clone();
        control::apply_patch(&mut b, &patch)?;
        m.behaviour = b.clone();
        if patch.expire_sessions == Some(true) {
            expire_all(&mut m);
        }
        drop(m);
        self.sh.outage_tx.send_replace(b.outage);
        Ok(b)
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

    pub fn set_require_origin_url(&self, on: bool) {
        self.sh.lock().behaviour.require_origin_url = on;
    }

    pub fn set_reject_sessions(&self, on: bool) {
        self.sh.lock().behaviour.reject_sessions = on;
    }

    /// Answer every Open API request with HTTP 500 `-7131 "Controller ID not exist."`.
    pub fn set_openapi_http500(&self, on: bool) {
        self.sh.lock().behaviour.openapi_http500 = on;
    }

    /// Answer every controller request with a 302 to `lan_base` + the path (a cloud
    /// connector pointing at the controller's LAN address); `None` = off.
    pub fn set_connector_redirect(&self, lan_base: Option<&str>) {
        self.sh.lock().behaviour.connector_redirect = lan_base.map(str::to_string);
    }

    /// Mark a device connected or away: an away device's `unauth` answers "client does not
    /// exist" and leaves its authorisation in force.
    pub fn set_client_online(&self, mac: Mac, online: bool) {
        let mut m = self.sh.lock();
        if online {
            m.offline.remove(&mac);
        } else {
            m.offline.insert(mac);
        }
    }

    /// Set the Authentication Timeout of a site's portal (site name or id).
    pub fn set_portal_timeout(&self, site: &str, timeout: Duration) -> Result<(), String> {
        let id = self
            .sh
            .site_by_name_or_id(site)
            .map(|s| s.id.clone())
            .ok_or_else(|| format!("no site {site:?}"))?;
        if timeout < Duration::from_secs(60) {
            return Err("the timeout is at least one minute".into());
        }
        self.sh.lock().portal_timeouts.insert(id, timeout);
        Ok(())
    }

    /// Add a hotspot operator with this role and these sites (names or ids).
    pub fn add_operator(
        &self,
        name: &str,
        password: &str,
        role: OperatorRole,
        sites: &[&str],
    ) -> Result<(), String> {
        let mut site_ids = Vec::new();
        for s in sites {
            let site = self
                .sh
                .site_by_name_or_id(s)
                .ok_or_else(|| format!("no site {s:?}"))?;
            site_ids.push(site.id.clone());
        }
        let mut m = self.sh.lock();
        if m.operator(name).is_some() || name.is_empty() || password.is_empty() {
            return Err(format!("operator {name:?} exists or is incomplete"));
        }
        m.operators.push(SimOperator {
            name: name.to_string(),
            password: password.to_string(),
            role,
            site_ids,
        });
        Ok(())
    }

    /// Add `n` past authorisations of other devices on a site (already disconnected), the
    /// history a busy site accumulates: records are kept after they end ([O6]).
    pub fn add_history(&self, site: &str, n: usize) -> Result<(), String> {
        let site = self
            .sh
            .site_by_name_or_id(site)
            .ok_or_else(|| format!("no site {site:?}"))?;
        let mut m = self.sh.lock();
        let long_ago = OffsetDateTime::now_utc() - time::Duration::days(30);
        for i in 0..n {
            let o = (i as u32).to_be_bytes();
            let mac: Mac = format!("02-00-{:02X}-{:02X}-{:02X}-{:02X}", o[0], o[1], o[2], o[3])
                .parse()
                .map_err(|_| "mac".to_string())?;
            m.push_record(AuthorizedClient {
                id: random_hex(12),
                mac,
                site: site.name.clone(),
                site_id: site.id.clone(),
                ap_mac: None,
                gateway_mac: None,
                ssid: site.ssids.first().map(|s| s.name.clone()),
                radio_id: None,
                vid: None,
                client_ip: None,
                origin_url: None,
                time_raw: None,
                duration: Some(Duration::from_secs(3600)),
                down_kbps: None,
                up_kbps: None,
                auth_type: 4,
                authorized_at: long_ago,
                expires_at: Some(long_ago + time::Duration::hours(1)),
                via: AuthApi::Hotspot,
                valid: false,
            });
        }
        Ok(())
    }

    /// A device authorised on a site by some method (`auth_type`: 3 voucher, 4 external
    /// portal, 5 local user… as `AuthClientOpenApiVO` numbers them) outside this sidecar — a
    /// guest of the controller's own portal, or of a database that was lost.
    pub fn add_authorization(&self, site: &str, mac: Mac, auth_type: u8) -> Result<(), String> {
        let site = self
            .sh
            .site_by_name_or_id(site)
            .ok_or_else(|| format!("no site {site:?}"))?;
        let now = OffsetDateTime::now_utc();
        self.sh.lock().push_record(AuthorizedClient {
            id: random_hex(12),
            mac,
            site: site.name.clone(),
            site_id: site.id.clone(),
            ap_mac: None,
            gateway_mac: None,
            ssid: site.ssids.first().map(|s| s.name.clone()),
            radio_id: None,
            vid: None,
            client_ip: None,
            origin_url: None,
            time_raw: None,
            duration: Some(Duration::from_secs(8 * 3600)),
            down_kbps: None,
            up_kbps: None,
            auth_type,
            authorized_at: now,
            expires_at: Some(now + time::Duration::hours(8)),
            via: AuthApi::Hotspot,
            valid: true,
        });
        Ok(())
    }

    /// Every hotspot operator (passwords not included).
    pub fn operators(&self) -> Vec<SimOperator> {
        self.sh.lock().operators.clone()
    }

    /// The password of an operator (e.g. one created through the Open API).
    pub fn operator_password(&self, name: &str) -> Option<String> {
        self.sh.lock().operator(name).map(|o| o.password.clone())
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

    /// Authorizations that still let their device in (not disconnected; an Open API grant
    /// also not past the portal timeout — a hotspot grant is not ended by its end).
    pub fn authorized(&self) -> Vec<AuthorizedClient> {
        let now = OffsetDateTime::now_utc();
        self.sh
            .lock()
            .records
            .iter()
            .filter(|r| r.in_force(now))
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

    /// What `GET /_sim/info` answers.
    pub fn info_json(&self) -> Value {
        let cfg = &self.sh.cfg;
        let sites: Vec<Value> = self
            .sh
            .sites
            .iter()
            .map(|s| {
                json!({"name": s.name, "id": s.id, "ssids": s.ssids.iter().map(|x| x.name.clone()).collect::<Vec<_>>()})
            })
            .collect();
        json!({
            "base_url": self.base_url(),
            "controller_id": self.controller_id(),
            "controller_ver": cfg.controller_ver,
            "sites": sites,
            "operator_name": cfg.operator_name,
            "operator_password": cfg.operator_password,
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
            "cert_pem": self.cert_pem(),
            "cert_sha256": self.cert_sha256(),
        })
    }

    /// Back to the starting state: no sessions, tokens, records, requests; default behaviour,
    /// operators and portal timeouts.
    pub fn reset(&self) {
        let fresh = self.sh.initial_state();
        let outage = fresh.behaviour.outage;
        *self.sh.lock() = fresh;
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

fn default_wan_port() -> SimWanPort {
    SimWanPort {
        port: 1,
        name: "WAN1".into(),
        mode: 0,
        link: true,
        internet: true,
    }
}

impl OmadaSim {
    // ---- PPSK, Wi-Fi clients, devices (issues 18, 14, 15) -----------------------------------

    fn site_ext(&self, site: &str) -> Result<&SiteExt, String> {
        self.sh
            .site_by_name_or_id(site)
            .ok_or_else(|| format!("no site {site:?}"))
    }

    /// Add a PPSK profile (without RADIUS) on a site, bound to these SSIDs of it; its id.
    pub fn add_ppsk_profile(
        &self,
        site: &str,
        name: &str,
        ssids: &[&str],
        keys: Vec<SimPsk>,
    ) -> Result<String, String> {
        let site = self.site_ext(site)?;
        for s in ssids {
            if !site.ssids.iter().any(|x| x.name == *s) {
                return Err(format!("no SSID {s:?} on site {:?}", site.name));
            }
        }
        let id = random_hex(12);
        self.sh.lock().ppsk.push(SimPpskProfile {
            id: id.clone(),
            site_id: site.id.clone(),
            name: name.to_string(),
            kind: 0,
            ssids: ssids.iter().map(|s| s.to_string()).collect(),
            keys,
            expiration_type: 0,
        });
        Ok(id)
    }

    /// Change a profile in place (type, expiry, keys, SSIDs), as the host would in the UI.
    pub fn edit_ppsk_profile(
        &self,
        id: &str,
        f: impl FnOnce(&mut SimPpskProfile),
    ) -> Result<(), String> {
        let mut m = self.sh.lock();
        let p = m
            .ppsk
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| format!("no PPSK profile {id}"))?;
        f(p);
        Ok(())
    }

    /// Every PPSK profile with its keys.
    pub fn ppsk_profiles(&self) -> Vec<SimPpskProfile> {
        self.sh.lock().ppsk.clone()
    }

    /// A device joins a site's SSID (with a password on a PPSK SSID): the name of the key it
    /// joined with, or why the handshake failed.
    pub fn join_wifi(
        &self,
        site: &str,
        ssid: &str,
        mac: Mac,
        psk: Option<&str>,
    ) -> Result<Option<String>, String> {
        let site = self.site_ext(site)?;
        if !site.ssids.iter().any(|s| s.name == ssid) {
            return Err(format!("no SSID {ssid:?} on site {:?}", site.name));
        }
        let mut m = self.sh.lock();
        let (profile, key, vlan) = m.try_join(&site.id, ssid, mac, psk)?;
        let ap_mac = m
            .devices
            .iter()
            .find(|d| d.site == site.name && d.kind == SimDeviceKind::Ap)
            .map(|d| d.mac);
        m.wifi.retain(|c| c.mac != mac);
        m.offline.remove(&mac);
        let n = m.wifi.len();
        m.wifi.push(SimWifiClient {
            mac,
            site_id: site.id.clone(),
            ssid: ssid.to_string(),
            ap_mac,
            name: Some(format!("device-{}", &mac.to_string()[12..])),
            ip: format!("192.168.0.{}", 100 + (n % 150)),
            ppsk_profile: profile,
            key_name: key.clone(),
            vlan,
            psk: psk.map(str::to_string),
            connected_at: OffsetDateTime::now_utc(),
        });
        Ok(key)
    }

    /// The wireless clients connected now.
    pub fn wifi_clients(&self) -> Vec<SimWifiClient> {
        let m = self.sh.lock();
        m.wifi
            .iter()
            .filter(|c| !m.offline.contains(&c.mac))
            .cloned()
            .collect()
    }

    /// Every device of every site.
    pub fn devices(&self) -> Vec<SimDevice> {
        self.sh.lock().devices.clone()
    }

    /// Add a device (connected) to a site.
    pub fn add_device(&self, spec: SimDeviceSpec) -> Result<(), String> {
        let site = self.site_ext(&spec.site)?.name.clone();
        let mut m = self.sh.lock();
        if m.devices.iter().any(|d| d.mac == spec.mac) {
            return Err(format!("device {} exists", spec.mac));
        }
        if spec.kind == SimDeviceKind::Gateway {
            m.wans.insert(spec.mac, vec![default_wan_port()]);
        }
        m.devices.push(SimDevice {
            site,
            mac: spec.mac,
            name: spec.name,
            kind: spec.kind,
            model: spec.model,
            state: SimDeviceState::Connected,
            serves_ssids: true,
            last_seen: OffsetDateTime::now_utc(),
        });
        Ok(())
    }

    /// Take a device offline, bring it back, or put it in any other state of the spec.
    pub fn set_device_state(&self, mac: Mac, state: SimDeviceState) -> Result<(), String> {
        let mut m = self.sh.lock();
        let d = m
            .devices
            .iter_mut()
            .find(|d| d.mac == mac)
            .ok_or_else(|| format!("no device {mac}"))?;
        if d.state == SimDeviceState::Connected {
            d.last_seen = OffsetDateTime::now_utc();
        }
        d.state = state;
        Ok(())
    }

    /// Put an AP in the site's WLAN group (true) or in another one (false: it broadcasts
    /// none of the site's SSIDs).
    pub fn set_ap_serves_ssids(&self, mac: Mac, serves: bool) -> Result<(), String> {
        let mut m = self.sh.lock();
        let d = m
            .devices
            .iter_mut()
            .find(|d| d.mac == mac && d.kind == SimDeviceKind::Ap)
            .ok_or_else(|| format!("no AP {mac}"))?;
        d.serves_ssids = serves;
        Ok(())
    }

    /// Set a gateway's WAN port (by name, e.g. `WAN1`; a new name adds a WAN port): link and
    /// internet state.
    pub fn set_wan(
        &self,
        gateway: Mac,
        port: &str,
        link: bool,
        internet: bool,
    ) -> Result<(), String> {
        let mut m = self.sh.lock();
        let ports = m
            .wans
            .get_mut(&gateway)
            .ok_or_else(|| format!("no gateway {gateway}"))?;
        match ports.iter_mut().find(|p| p.name == port) {
            Some(p) => {
                p.link = link;
                p.internet = internet && link;
            }
            None => {
                let n = ports.len() as u8 + 1;
                ports.push(SimWanPort {
                    port: n,
                    name: port.to_string(),
                    mode: 0,
                    link,
                    internet: internet && link,
                });
            }
        }
        Ok(())
    }
}

fn expire_all(m: &mut state::Mutable) {
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
    fn default_config_has_realistic_ids() {
        let c = OmadaSimConfig::default();
        assert_eq!(c.controller_id.len(), 32);
        assert!(c
            .controller_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(c.sites[0].id.len(), 24);
        assert_eq!(c.behaviour.cookie_name, "TPOMADA_SESSIONID");
        // 6.2's operator password policy wants a special character (dllfpp's wizard).
        assert!(c
            .operator_password
            .chars()
            .any(|ch| !ch.is_ascii_alphanumeric()));
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

    #[test]
    fn the_factory_like_certificate_has_the_factory_shape() {
        crate::init_crypto();
        let tls = make_tls(SimCert::FactoryLike).unwrap();
        let der = rustls::pki_types::CertificateDer::from(
            rustls::pki_types::pem::PemObject::from_pem_slice(tls.cert_pem.as_bytes())
                .map(|c: rustls::pki_types::CertificateDer<'static>| c.as_ref().to_vec())
                .unwrap(),
        );
        let info = crate::omada::CertificateInfo::from_der(der.as_ref());
        assert_eq!(info.subject, "O=TP-Link, OU=TP-Link, CN=localhost");
        assert!(info.san.is_empty());
        assert!(!info.factory_default, "the simulator's key is its own");
        let named = make_tls(SimCert::Named).unwrap();
        let der: rustls::pki_types::CertificateDer<'static> =
            rustls::pki_types::pem::PemObject::from_pem_slice(named.cert_pem.as_bytes()).unwrap();
        let info = crate::omada::CertificateInfo::from_der(der.as_ref());
        assert_eq!(info.san, vec!["localhost", "127.0.0.1"]);
    }
}
