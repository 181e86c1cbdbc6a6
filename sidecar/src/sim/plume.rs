//! Simulated Plume cloud: the partner SSO (Okta) token endpoint and the Customer and Partner
//! API reads the sidecar uses, faithful to `reference/plume-api.md` §1–4 and §8 and to
//! `reference/plume-field-notes.md` (every behaviour and its source: `docs/simulators.md`).
//!
//! One HTTP listener on 127.0.0.1 serves three things:
//! - `POST /oauth2/{authServerId}/v1/token`: client credentials (Basic header, form
//!   `grant_type=client_credentials`, `scope=partnerId:<id> role:partnerIdAdmin`), Okta errors;
//! - `/api/Customers/{c}/locations[/{l}[/nodes|/devices|/wifiNetwork[/ssid]|/serviceLevel]]`
//!   and `/api/Partners/nodes/{serial}`, `/api/Partners/customers/search/{keyword}`: Bearer
//!   check, LoopBack 3 error bodies (also for paths it has no route for, in and outside `/api`),
//!   paths matched case-insensitively, WAF emulation (403 or 429, with or without a body);
//! - `/_sim/…`: a control API for out-of-process tests (documented in `docs/simulators.md`).
//!
//! Each location plays a [`Scenario`]. The [`PlumeSim`] handle switches scenarios and
//! behaviours (token revocation, latency, rate limiting, outage, token lifetime, bare lists) and
//! reads counters and the recorded requests. Recorded requests never keep headers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::serve::{full, read_body, serve, Body};

/// What the simulated cloud is set up with.
#[derive(Clone, Debug)]
pub struct PlumeSimConfig {
    /// Okta custom authorization server id (the `{id}` in `/oauth2/{id}/v1/token`).
    pub auth_server_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// 24-hex partner id expected in the scope.
    pub partner_id: String,
    /// Token lifetime in seconds (Plume Portal: 5–1440 minutes; example 600).
    pub expires_in: u64,
    /// The PSK every simulated `wifiNetwork` returns (a secret the sidecar must never log).
    pub wifi_psk: String,
    /// WAF: at most this many API requests per `waf_window` (Plume: 2000 per 5 minutes).
    pub waf_max_requests: u32,
    pub waf_window: Duration,
}

impl Default for PlumeSimConfig {
    fn default() -> Self {
        Self {
            auth_server_id: "ausSim0rentalWifi357".into(),
            client_id: "sim-client".into(),
            client_secret: "sim-secret".into(),
            partner_id: "5f1e2d3c4b5a69788796a5b4".into(),
            expires_in: 600,
            wifi_psk: "sim-psk-Qx7v3Lm9Tz".into(),
            waf_max_requests: 2000,
            waf_window: Duration::from_secs(300),
        }
    }
}

impl PlumeSimConfig {
    /// `Basic base64(client_id:client_secret)`, as the Plume Portal shows it.
    pub fn auth_header(&self) -> String {
        let raw = format!("{}:{}", self.client_id, self.client_secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// How a simulated location looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Online, full service, 3 nodes connected and healthy, 4 of 5 devices connected.
    Fine,
    /// Pod "Bedroom" (and its one device) disconnected.
    PodDown,
    /// Pod "Pod 3" (no nickname) connected but health poor (score 1) with a `highInterference` alert.
    PoorHealth,
    /// `networkStatus.status` offline, every node and device disconnected.
    Offline,
    /// Every path of the location answers 404.
    NotFound,
    /// `serviceLevel.status` = `noService`.
    NoService,
    /// `serviceLevel.status` = `basicService`.
    BasicService,
    /// One connected device reports poor health.
    DevicesPoor,
    /// Health words Plume does not document: "Pod 3" `{"status":"marginal"}` (no score), one
    /// connected device `{"status":"so-so"}`.
    UnknownWords,
    /// "Pod 3" health `{"status":"good","score":1}`: the score says poor.
    LowScore,
    /// Alerts whose severity Plume does not document: `channelChange` on the gateway,
    /// `highInterference` on "Bedroom"; health otherwise fine.
    UndocumentedAlerts,
    /// A `poorHealth` alert (the type Plume documents) on "Bedroom", whose health is good.
    PoorHealthAlert,
    /// Oddly typed fields: `model` a number, `backhaulType` and a `nickname` objects, `alerts`
    /// an object, `connectedDeviceCount` a string, a device `health` a list, a device `name`
    /// a number, `freqBand` a list. Every pod and device is still there.
    OddFields,
    /// Every path of the location answers 403 with a LoopBack body (another partner's).
    Forbidden,
    /// The location has no Wi-Fi network yet: `…/wifiNetwork[/ssid]` answer 404.
    NoWifiNetwork,
}

/// How the WAF answers when it throttles (`waf_body`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WafBody {
    /// No body (the long-standing simulator default; Plume documents no body).
    #[default]
    Empty,
    /// An HTML page, as a load balancer's or AWS WAF's default block page.
    Html,
    /// `{"message":"Forbidden"}`: a JSON body that is not LoopBack's.
    Json,
    /// `{"error":"Forbidden"}`: a string `error`, not LoopBack's object.
    ErrorString,
}

/// Switchable behaviours; `POST /_sim/behaviour` takes any subset of these fields.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BehaviourPatch {
    /// `true` revokes every token issued so far (API answers 401 to them).
    pub revoke_tokens: Option<bool>,
    pub slow_ms: Option<u64>,
    /// Answer every API request with a bare 403, as the WAF does.
    pub rate_limited: Option<bool>,
    /// Answer every API request with 503.
    pub outage: Option<bool>,
    /// Lifetime of tokens minted from now on.
    pub expires_in: Option<u64>,
    /// Answer nodes/devices as a bare JSON list instead of `{"nodes":[...]}`.
    pub bare_list: Option<bool>,
    pub waf_max_requests: Option<u32>,
    pub waf_window_seconds: Option<u64>,
    /// Status of a throttled answer: 403 (Plume's documented WAF answer) or 429.
    pub waf_status: Option<u16>,
    /// Body of a throttled answer.
    pub waf_body: Option<WafBody>,
}

/// Current behaviours, as `POST /_sim/behaviour` answers them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Behaviours {
    pub slow_ms: u64,
    pub rate_limited: bool,
    pub outage: bool,
    pub expires_in: u64,
    pub bare_list: bool,
    pub waf_max_requests: u32,
    pub waf_window_seconds: u64,
    pub waf_status: u16,
    pub waf_body: WafBody,
}

/// What the simulator counted since start or the last reset.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SimCounters {
    /// Requests to the token endpoint (successful or not).
    pub token_requests: u64,
    pub tokens_issued: u64,
    /// Requests under `/api` (any outcome).
    pub api_requests: u64,
    /// By lower-cased path without query.
    pub per_path: BTreeMap<String, u64>,
    /// By kind: `token`, `location`, `locations`, `nodes`, `devices`, `wifiNetwork`, `ssid`,
    /// `serviceLevel`, `partner`, `other`.
    pub per_kind: BTreeMap<String, u64>,
    /// API answers by status code.
    pub per_status: BTreeMap<u16, u64>,
}

/// One request the simulator received (no headers, no bodies).
#[derive(Clone, Debug, Serialize)]
pub struct SimRequest {
    /// Since the simulator started.
    pub at: Duration,
    pub method: String,
    pub path: String,
    /// The query string, if any (e.g. `allSSIDs=true`).
    pub query: Option<String>,
    pub kind: String,
    pub status: u16,
}

struct Loc {
    customer_id: String,
    location_id: String,
    scenario: Scenario,
}

struct State {
    cfg: PlumeSimConfig,
    started: Instant,
    base: String,
    locations: HashMap<(String, String), Loc>,
    tokens: HashMap<String, Instant>,
    issued: Vec<String>,
    beh: Behaviours,
    counters: SimCounters,
    requests: Vec<SimRequest>,
    waf: VecDeque<Instant>,
    /// Serial numbers in the partner's inventory that no customer claimed.
    unclaimed: Vec<String>,
}

/// Handle to a running simulated Plume cloud. Cheap to clone.
#[derive(Clone)]
pub struct PlumeSim {
    state: Arc<Mutex<State>>,
    addr: SocketAddr,
    stop: CancellationToken,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// Start on 127.0.0.1 with an OS-chosen port.
pub async fn start(cfg: PlumeSimConfig) -> std::io::Result<PlumeSim> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let beh = Behaviours {
        expires_in: cfg.expires_in,
        waf_max_requests: cfg.waf_max_requests,
        waf_window_seconds: cfg.waf_window.as_secs(),
        waf_status: 403,
        ..Behaviours::default()
    };
    let state = Arc::new(Mutex::new(State {
        cfg,
        started: Instant::now(),
        base: format!("http://{addr}"),
        locations: HashMap::new(),
        tokens: HashMap::new(),
        issued: Vec::new(),
        beh,
        counters: SimCounters::default(),
        requests: Vec::new(),
        waf: VecDeque::new(),
        unclaimed: Vec::new(),
    }));
    let stop = CancellationToken::new();
    let handler_state = state.clone();
    let handler = move |req: Request<Incoming>, _peer: SocketAddr| {
        let st = handler_state.clone();
        async move { handle(st, req).await }
    };
    let task = tokio::spawn(serve(
        listener,
        Arc::new(handler),
        stop.clone().cancelled_owned(),
    ));
    Ok(PlumeSim {
        state,
        addr,
        stop,
        task: Arc::new(Mutex::new(Some(task))),
    })
}

impl PlumeSim {
    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:P`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:P/oauth2/<id>/v1/token`
    pub fn sso_url(&self) -> String {
        format!(
            "http://{}/oauth2/{}/v1/token",
            self.addr,
            self.st().cfg.auth_server_id
        )
    }

    /// `http://127.0.0.1:P/api`
    pub fn api_base(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    pub fn auth_header(&self) -> String {
        self.st().cfg.auth_header()
    }

    pub fn partner_id(&self) -> String {
        self.st().cfg.partner_id.clone()
    }

    pub fn config(&self) -> PlumeSimConfig {
        self.st().cfg.clone()
    }

    /// The SSID the simulated `wifiNetwork` of a location carries.
    pub fn ssid_for(location_id: &str) -> String {
        format!("Guest {}", short(location_id))
    }

    /// Add (or replace) a location of a customer.
    pub fn add_location(&self, customer_id: &str, location_id: &str, scenario: Scenario) {
        self.st().locations.insert(
            key(customer_id, location_id),
            Loc {
                customer_id: customer_id.to_string(),
                location_id: location_id.to_string(),
                scenario,
            },
        );
    }

    /// Switch a location's scenario (adds it when unknown).
    pub fn set_scenario(&self, customer_id: &str, location_id: &str, scenario: Scenario) {
        self.add_location(customer_id, location_id, scenario);
    }

    /// Every token issued so far is answered with 401 from now on.
    pub fn revoke_all_tokens(&self) {
        self.st().tokens.clear();
    }

    pub fn set_slow_ms(&self, ms: u64) {
        self.st().beh.slow_ms = ms;
    }

    pub fn set_rate_limited(&self, on: bool) {
        self.st().beh.rate_limited = on;
    }

    pub fn set_outage(&self, on: bool) {
        self.st().beh.outage = on;
    }

    pub fn set_expires_in(&self, seconds: u64) {
        self.st().beh.expires_in = seconds;
    }

    pub fn set_bare_list(&self, on: bool) {
        self.st().beh.bare_list = on;
    }

    /// How the WAF answers when it throttles: status 403 or 429, and the body.
    pub fn set_waf_answer(&self, status: u16, body: WafBody) {
        let mut st = self.st();
        st.beh.waf_status = if status == 429 { 429 } else { 403 };
        st.beh.waf_body = body;
    }

    /// A pod serial in the partner's inventory that no customer claimed.
    pub fn add_unclaimed_node(&self, serial: &str) {
        self.st().unclaimed.push(serial.to_string());
    }

    /// The serial numbers of a location's three nodes (gateway first).
    pub fn node_serials(location_id: &str) -> [String; 3] {
        let s = short(location_id);
        [1, 2, 3].map(|i| format!("SIM{s}000{i}"))
    }

    /// The CRM account id the simulated customer carries.
    pub fn account_id_for(customer_id: &str) -> String {
        format!("acct-{}", short(customer_id))
    }

    pub fn set_waf_limit(&self, max_requests: u32, window: Duration) {
        let mut st = self.st();
        st.beh.waf_max_requests = max_requests;
        st.beh.waf_window_seconds = window.as_secs().max(1);
    }

    /// Apply a behaviour patch (what `POST /_sim/behaviour` does).
    pub fn apply(&self, patch: BehaviourPatch) -> Behaviours {
        apply_patch(&mut self.st(), patch)
    }

    pub fn counters(&self) -> SimCounters {
        self.st().counters.clone()
    }

    pub fn requests(&self) -> Vec<SimRequest> {
        self.st().requests.clone()
    }

    /// Every access token handed out (for tests that check no token is logged).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.st().issued.clone()
    }

    /// Clear counters, recorded requests, tokens and behaviours; keep locations.
    pub fn reset(&self) {
        reset(&mut self.st());
    }

    /// Stop accepting, finish in-flight requests.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

fn key(c: &str, l: &str) -> (String, String) {
    (c.to_ascii_lowercase(), l.to_ascii_lowercase())
}

fn short(id: &str) -> String {
    let s: Vec<char> = id.chars().collect();
    s[s.len().saturating_sub(4)..]
        .iter()
        .collect::<String>()
        .to_ascii_uppercase()
}

fn reset(st: &mut State) {
    st.counters = SimCounters::default();
    st.requests.clear();
    st.tokens.clear();
    st.issued.clear();
    st.waf.clear();
    st.beh = Behaviours {
        expires_in: st.cfg.expires_in,
        waf_max_requests: st.cfg.waf_max_requests,
        waf_window_seconds: st.cfg.waf_window.as_secs(),
        waf_status: 403,
        ..Behaviours::default()
    };
}

fn apply_patch(st: &mut State, p: BehaviourPatch) -> Behaviours {
    if p.revoke_tokens == Some(true) {
        st.tokens.clear();
    }
    if let Some(v) = p.slow_ms {
        st.beh.slow_ms = v;
    }
    if let Some(v) = p.rate_limited {
        st.beh.rate_limited = v;
    }
    if let Some(v) = p.outage {
        st.beh.outage = v;
    }
    if let Some(v) = p.expires_in {
        st.beh.expires_in = v;
    }
    if let Some(v) = p.bare_list {
        st.beh.bare_list = v;
    }
    if let Some(v) = p.waf_max_requests {
        st.beh.waf_max_requests = v;
    }
    if let Some(v) = p.waf_window_seconds {
        st.beh.waf_window_seconds = v.max(1);
    }
    if let Some(v) = p.waf_status {
        st.beh.waf_status = if v == 429 { 429 } else { 403 };
    }
    if let Some(v) = p.waf_body {
        st.beh.waf_body = v;
    }
    st.beh.clone()
}

// ---------------------------------------------------------------------------------------------
// HTTP

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(full(v.to_string()))
        .expect("static response parts")
}

fn empty(status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(full(""))
        .expect("static response parts")
}

/// LoopBack 3 error body (reference §2.4, §4.11).
fn loopback(status: StatusCode, message: &str, code: &str) -> Response<Body> {
    let s = status.as_u16();
    json_response(
        status,
        &json!({"error": {"statusCode": s, "name": "Error", "message": message, "code": code, "status": s}}),
    )
}

/// Okta error body (reference §1.2).
fn okta(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let lower = path.to_ascii_lowercase();
    if lower.starts_with("/_sim/") {
        return control(state, req, &lower).await;
    }
    let slow = state.lock().unwrap_or_else(|e| e.into_inner()).beh.slow_ms;
    if slow > 0 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    let method = req.method().clone();
    let query = req.uri().query().map(str::to_string);
    let (kind, resp) = if lower.starts_with("/oauth2/") {
        ("token", token_endpoint(&state, req, &path).await)
    } else if lower == "/api" || lower.starts_with("/api/") {
        api(&state, &req, &lower)
    } else {
        // A LoopBack 3 app answers paths outside its REST root with its `urlNotFound`
        // middleware: 404 "Cannot GET /x" in a LoopBack error body (loopback
        // `server/middleware/url-not-found.js`). What a base URL without `/api` meets.
        (
            "other",
            loopback(
                StatusCode::NOT_FOUND,
                &format!("Cannot {} {}", method, req.uri()),
                "NOT_FOUND",
            ),
        )
    };
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let at = st.started.elapsed();
    let status = resp.status().as_u16();
    if lower == "/api" || lower.starts_with("/api/") {
        st.counters.api_requests += 1;
        *st.counters.per_status.entry(status).or_default() += 1;
    }
    *st.counters.per_path.entry(lower.clone()).or_default() += 1;
    *st.counters.per_kind.entry(kind.to_string()).or_default() += 1;
    st.requests.push(SimRequest {
        at,
        method: method.to_string(),
        path,
        query,
        kind: kind.to_string(),
        status,
    });
    resp
}

async fn token_endpoint(
    state: &Arc<Mutex<State>>,
    req: Request<Incoming>,
    path: &str,
) -> Response<Body> {
    state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .counters
        .token_requests += 1;
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let server_ok = {
        let st = state.lock().unwrap_or_else(|e| e.into_inner());
        segs.len() == 4 && segs[1] == st.cfg.auth_server_id && segs[2] == "v1" && segs[3] == "token"
    };
    if !server_ok {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"errorCode": "E0000007", "errorSummary": "Not found: Resource not found", "errorLink": "E0000007", "errorCauses": []}),
        );
    }
    if req.method() != Method::POST {
        return okta(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "The token endpoint only accepts POST.",
        );
    }
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (_, body) = match read_body(req, 16 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return okta(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request body is too large or broken.",
            )
        }
    };
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let expected = st.cfg.auth_header();
    let Some(auth) = auth else {
        return okta(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "No client credentials found.",
        );
    };
    let given = auth.trim();
    let ok = given.len() > 6
        && given[..6].eq_ignore_ascii_case("basic ")
        && given[6..].trim() == &expected[6..];
    if !ok {
        return okta(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client secret supplied for a confidential client is invalid.",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return okta(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].",
        );
    }
    let scope = format!("partnerId:{} role:partnerIdAdmin", st.cfg.partner_id);
    if form
        .get("scope")
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        != Some(scope.clone())
    {
        return okta(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "One or more scopes are not configured for the authorization server resource.",
        );
    }
    let expires_in = st.beh.expires_in;
    let token = jwt_like(&st, expires_in);
    st.tokens.insert(
        token.clone(),
        Instant::now() + Duration::from_secs(expires_in),
    );
    st.issued.push(token.clone());
    st.counters.tokens_issued += 1;
    json_response(
        StatusCode::OK,
        &json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": token, "scope": scope}),
    )
}

fn jwt_like(st: &State, expires_in: u64) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut rng = rand::rng();
    let jti: [u8; 12] = rng.random();
    let sig: [u8; 32] = rng.random();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header = json!({"kid": "sim-key", "alg": "RS256"});
    let claims = json!({
        "ver": 1, "jti": format!("AT.{}", b64.encode(jti)),
        "iss": format!("{}/oauth2/{}", st.base, st.cfg.auth_server_id), "aud": "api://plume-sim",
        "iat": now, "exp": now + expires_in as i64, "cid": st.cfg.client_id,
        "scp": [format!("partnerId:{}", st.cfg.partner_id), "role:partnerIdAdmin"], "sub": st.cfg.client_id,
    });
    format!(
        "{}.{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string()),
        b64.encode(sig)
    )
}

/// The WAF's answer when it throttles (reference §1.4: 403; AWS WAF lets the owner pick the
/// status and body of a block, "Custom responses for Block actions").
fn waf_answer(beh: &Behaviours) -> Response<Body> {
    let status = if beh.waf_status == 429 {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::FORBIDDEN
    };
    let (ctype, body) = match beh.waf_body {
        WafBody::Empty => return empty(status),
        WafBody::Html => (
            "text/html",
            format!(
                "<html><head><title>{0} {1}</title></head><body><center><h1>{0} {1}</h1></center></body></html>",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
        ),
        WafBody::Json => ("application/json", json!({"message": "Forbidden"}).to_string()),
        WafBody::ErrorString => ("application/json", json!({"error": "Forbidden"}).to_string()),
    };
    Response::builder()
        .status(status)
        .header("content-type", ctype)
        .body(full(body))
        .expect("static response parts")
}

fn api(
    state: &Arc<Mutex<State>>,
    req: &Request<Incoming>,
    lower: &str,
) -> (&'static str, Response<Body>) {
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let segs: Vec<&str> = lower
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let kind = match (segs.get(1).copied(), segs.len(), segs.get(5).copied()) {
        (Some("partners"), _, _) => "partner",
        (Some("customers"), 4, _) => "locations",
        (Some("customers"), 5, None) => "location",
        (Some("customers"), _, Some("nodes")) => "nodes",
        (Some("customers"), _, Some("devices")) => "devices",
        (Some("customers"), 7, Some("wifinetwork")) if segs[6] == "ssid" => "ssid",
        (Some("customers"), _, Some("wifinetwork")) => "wifiNetwork",
        (Some("customers"), _, Some("servicelevel")) => "serviceLevel",
        _ => "other",
    };
    if st.beh.outage {
        return (
            kind,
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"message": "Service Unavailable"}),
            ),
        );
    }
    // WAF: sliding window per source (one source here).
    let now = Instant::now();
    let window = Duration::from_secs(st.beh.waf_window_seconds.max(1));
    while st
        .waf
        .front()
        .is_some_and(|t| now.duration_since(*t) > window)
    {
        st.waf.pop_front();
    }
    if st.beh.rate_limited || st.waf.len() >= st.beh.waf_max_requests as usize {
        return (kind, waf_answer(&st.beh));
    }
    st.waf.push_back(now);
    // Bearer check.
    let bearer = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let valid = bearer
        .and_then(|t| st.tokens.get(t))
        .is_some_and(|exp| *exp > now);
    if !valid {
        return (
            kind,
            loopback(
                StatusCode::UNAUTHORIZED,
                "Authorization Required",
                "AUTHORIZATION_REQUIRED",
            ),
        );
    }
    // strong-remoting's answer for a path with no remote method.
    let no_method = || {
        loopback(
            StatusCode::NOT_FOUND,
            &format!(
                "There is no method to handle {} {}",
                req.method(),
                req.uri().path()
            ),
            "NOT_FOUND",
        )
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (kind, no_method());
    }
    if kind == "partner" {
        return (
            kind,
            partner(&st, &segs, req.uri().query()).unwrap_or_else(no_method),
        );
    }
    if segs.len() < 3 || segs[1] != "customers" {
        return (kind, no_method());
    }
    let customer = segs[2];
    if !st.locations.keys().any(|(c, _)| c == customer) {
        return (
            kind,
            loopback(
                StatusCode::UNAUTHORIZED,
                "Authorization required or customer id not found",
                "AUTHORIZATION_REQUIRED",
            ),
        );
    }
    if segs.len() == 4 && segs[3] == "locations" {
        let list: Vec<Value> = st
            .locations
            .values()
            .filter(|l| l.customer_id.eq_ignore_ascii_case(customer))
            .map(|l| json!({"id": l.location_id, "name": location_name(&l.location_id), "customerId": l.customer_id}))
            .collect();
        return (kind, json_response(StatusCode::OK, &Value::Array(list)));
    }
    if segs.len() < 5 || segs[3] != "locations" {
        return (kind, no_method());
    }
    let Some(loc) = st.locations.get(&key(customer, segs[4])) else {
        return (
            kind,
            loopback(
                StatusCode::NOT_FOUND,
                "Location not found",
                "LOCATION_NOT_FOUND",
            ),
        );
    };
    match loc.scenario {
        Scenario::NotFound => {
            return (
                kind,
                loopback(
                    StatusCode::NOT_FOUND,
                    "Location not found",
                    "LOCATION_NOT_FOUND",
                ),
            )
        }
        Scenario::Forbidden => {
            return (
                kind,
                loopback(
                    StatusCode::FORBIDDEN,
                    "Access to this customer is not allowed for this partnerId",
                    "FORBIDDEN",
                ),
            )
        }
        _ => {}
    }
    let (c, l, sc) = (
        loc.customer_id.clone(),
        loc.location_id.clone(),
        loc.scenario,
    );
    let include_summary = req.uri().query().is_some_and(|q| q.contains("summary"));
    let bare = st.beh.bare_list;
    let no_wifi = || {
        loopback(
            StatusCode::NOT_FOUND,
            "WifiNetwork does not exist",
            "WIFI_NETWORK_NOT_FOUND",
        )
    };
    let body = match kind {
        "location" => location_json(&c, &l, sc, &st.cfg.partner_id, include_summary),
        "nodes" if bare => Value::Array(nodes_json(&l, sc)),
        "nodes" => json!({"nodes": nodes_json(&l, sc)}),
        "devices" if bare => Value::Array(devices_json(&l, sc)),
        "devices" => json!({"devices": devices_json(&l, sc)}),
        "wifiNetwork" | "ssid" if sc == Scenario::NoWifiNetwork => return (kind, no_wifi()),
        "wifiNetwork" if segs.len() == 6 => wifi_json(&l, &st.cfg.wifi_psk),
        "ssid" => json!({"ssid": PlumeSim::ssid_for(&l)}),
        "serviceLevel" => service_level_json(sc),
        _ => return (kind, no_method()),
    };
    (kind, json_response(StatusCode::OK, &body))
}

/// `/api/Partners/…` (reference §3; Plume articles "Obtain CustomerID and LocationID from Serial
/// Number" and "Obtain CustomerID from AccountID"). `None` for a route it does not serve.
fn partner(st: &State, segs: &[&str], query: Option<&str>) -> Option<Response<Body>> {
    let q: HashMap<String, String> = query
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    match segs.get(2..) {
        Some(["nodes", serial]) => {
            for loc in st.locations.values() {
                let serials = PlumeSim::node_serials(&loc.location_id);
                if serials.iter().any(|s| s.eq_ignore_ascii_case(serial)) {
                    return Some(json_response(
                        StatusCode::OK,
                        &json!({"customerId": loc.customer_id, "locationId": loc.location_id,
                                "serialNumber": serial.to_ascii_uppercase(), "packId": null,
                                "partnerId": st.cfg.partner_id}),
                    ));
                }
            }
            if st.unclaimed.iter().any(|s| s.eq_ignore_ascii_case(serial)) {
                return Some(json_response(
                    StatusCode::OK,
                    &json!({"serialNumber": serial.to_ascii_uppercase(), "packId": null, "partnerId": st.cfg.partner_id}),
                ));
            }
            Some(loopback(
                StatusCode::NOT_FOUND,
                "Node not found",
                "NODE_NOT_FOUND",
            ))
        }
        Some(["customers", "search", keyword]) => {
            let field = q.get("field").map(String::as_str).unwrap_or("");
            if !["accountId", "locationId", "name", "email"].contains(&field) || *keyword == "null"
            {
                return Some(loopback(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Illegal field or illegal search keyword",
                    "VALIDATION_ERROR",
                ));
            }
            let exact = q.get("exactMatch").is_none_or(|v| v != "false");
            let limit: usize = q
                .get("limit")
                .and_then(|v| v.parse::<f64>().ok())
                .map(|v| v.max(0.0) as usize)
                .unwrap_or(10);
            let mut customers: Vec<&str> = st
                .locations
                .values()
                .map(|l| l.customer_id.as_str())
                .collect();
            customers.sort_unstable();
            customers.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
            let matches = |value: &str| {
                let (v, k) = (value.to_ascii_lowercase(), keyword.to_ascii_lowercase());
                if exact {
                    v == k
                } else {
                    v.starts_with(&k)
                }
            };
            let list: Vec<Value> = customers
                .into_iter()
                .filter(|c| match field {
                    "accountId" => matches(&PlumeSim::account_id_for(c)),
                    "name" => matches(&customer_name(c)),
                    "locationId" => st.locations.values().any(|l| {
                        l.customer_id.eq_ignore_ascii_case(c) && matches(&l.location_id)
                    }),
                    _ => false,
                })
                .take(limit)
                .map(|c| {
                    let locations: Vec<Value> = st
                        .locations
                        .values()
                        .filter(|l| l.customer_id.eq_ignore_ascii_case(c))
                        .map(|l| json!({"id": l.location_id}))
                        .collect();
                    json!({"id": c, "accountId": PlumeSim::account_id_for(c), "name": customer_name(c),
                           "email": format!("host-{}@example.com", short(c).to_ascii_lowercase()), "locations": locations})
                })
                .collect();
            Some(json_response(StatusCode::OK, &Value::Array(list)))
        }
        _ => None,
    }
}

async fn control(state: Arc<Mutex<State>>, req: Request<Incoming>, lower: &str) -> Response<Body> {
    let method = req.method().clone();
    let route = lower.trim_end_matches('/').to_string();
    let body = match read_body(req, 64 * 1024).await {
        Ok((_, b)) => b,
        Err(_) => {
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"error": "body too large"}),
            )
        }
    };
    let bad = |msg: String| json_response(StatusCode::BAD_REQUEST, &json!({"error": msg}));
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    match (method, route.as_str()) {
        (Method::POST, "/_sim/scenario") => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Req {
                customer_id: String,
                location_id: String,
                scenario: Scenario,
            }
            match serde_json::from_slice::<Req>(&body) {
                Ok(r) => {
                    st.locations.insert(
                        key(&r.customer_id, &r.location_id),
                        Loc {
                            customer_id: r.customer_id,
                            location_id: r.location_id,
                            scenario: r.scenario,
                        },
                    );
                    json_response(StatusCode::OK, &json!({"ok": true}))
                }
                Err(e) => bad(e.to_string()),
            }
        }
        (Method::POST, "/_sim/behaviour") => {
            match serde_json::from_slice::<BehaviourPatch>(&body) {
                Ok(p) => {
                    let b = apply_patch(&mut st, p);
                    json_response(
                        StatusCode::OK,
                        &serde_json::to_value(b).unwrap_or(Value::Null),
                    )
                }
                Err(e) => bad(e.to_string()),
            }
        }
        (Method::GET, "/_sim/counters") => json_response(
            StatusCode::OK,
            &serde_json::to_value(&st.counters).unwrap_or(Value::Null),
        ),
        (Method::GET, "/_sim/requests") => json_response(
            StatusCode::OK,
            &serde_json::to_value(&st.requests).unwrap_or(Value::Null),
        ),
        (Method::POST, "/_sim/reset") => {
            reset(&mut st);
            json_response(StatusCode::OK, &json!({"ok": true}))
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "unknown control route"}),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario data (fields per reference §4; values illustrative)

const TS: &str = "2026-01-10T09:00:00.000Z";

fn location_name(l: &str) -> String {
    format!("Rental {}", short(l))
}

fn customer_name(c: &str) -> String {
    format!("Host {}", short(c))
}

fn service_level_status(sc: Scenario) -> &'static str {
    match sc {
        Scenario::NoService => "noService",
        Scenario::BasicService => "basicService",
        _ => "fullService",
    }
}

fn service_level_json(sc: Scenario) -> Value {
    json!({"status": service_level_status(sc), "created": TS, "updatedAt": TS})
}

fn location_json(c: &str, l: &str, sc: Scenario, partner: &str, include_summary: bool) -> Value {
    let online = sc != Scenario::Offline;
    let mut v = json!({
        "id": l, "name": location_name(l), "customerId": c, "partnerId": partner, "accountId": PlumeSim::account_id_for(c),
        "profile": "auto", "networkMode": "auto", "createdAt": TS, "updatedAt": TS, "_version": "1.0.0",
        "networkStatus": {"status": if online { "online" } else { "offline" }, "statusChangedAt": TS, "durationOfPreviousStatus": 120, "_version": "1.0.0", "updatedAt": TS},
        "serviceLevel": service_level_json(sc),
        "geoIp": {"country": "PT", "city": "Lisbon", "timezone": "Europe/Lisbon"},
        "controlMode": {"mode": "full"},
        "monitorMode": {"enable": false},
    });
    if include_summary {
        let nodes = nodes_json(l, sc);
        let connected = nodes
            .iter()
            .filter(|n| {
                n["connectionState"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("connected"))
            })
            .count();
        v["summary"] = json!({
            "_version": "1.0.0", "wifiNetworkProvisioned": true, "onboardingStatus": "OnboardingComplete",
            "networkModeProvisioned": "router", "networkModeRealized": "router", "monitorMode": false, "timestamp": TS,
            "gatewayConnectionState": if online { "connected" } else { "disconnected" },
            "nodeConnectedCount": connected, "nodeClaimedCount": nodes.len(),
            "connectedDeviceCount": devices_json(l, sc).iter().filter(|d| d["connectionState"] == "connected").count(),
        });
    }
    v
}

fn nodes_json(l: &str, sc: Scenario) -> Vec<Value> {
    let s = short(l);
    let offline = sc == Scenario::Offline;
    let gw_id = format!("SIM{s}0001");
    let health =
        |status: &str, score: u8| json!({"status": status, "score": score, "details": null});
    let mut gw = json!({
        "id": gw_id, "serialNumber": gw_id, "nickname": "Living room", "defaultName": "Pod 1", "model": "PP403Z",
        "firmwareVersion": "6.2.1-39", "ip": "192.168.1.1", "mac": "aa:bb:cc:00:00:01",
        "connectionState": if offline { "disconnected" } else { "Connected" }, "connectionStateChangeAt": TS,
        "backhaulType": "ethernet", "networkMode": "router", "residentialGateway": true,
        "2gChannel": "6", "5gChannel": "44", "6gChannel": "37", "connectedDeviceCount": if offline { 0 } else { 3 },
        "leafToRoot": [], "health": health("excellent", 5), "alerts": [],
        "vendor": {"name": "Plume", "partNumber": "PP403Z"},
        "speedTest": {"status": "succeeded", "gateway": true, "trigger": "scheduled", "download": 512.3, "upload": 41.2, "rtt": 9.1, "startedAt": TS},
    });
    let pod2_down = offline || sc == Scenario::PodDown;
    let mut bedroom = json!({
        "id": format!("SIM{s}0002"), "nickname": "Bedroom", "defaultName": "Pod 2", "model": "PP203X",
        "firmwareVersion": "6.2.1-39", "ip": "192.168.1.2", "mac": "aa:bb:cc:00:00:02",
        "connectionState": if pod2_down { "DISCONNECTED" } else { "connected" }, "connectionStateChangeAt": TS,
        "backhaulType": "wifi", "networkMode": "bridge", "2gChannel": "6", "5gChannel": "44",
        "connectedDeviceCount": if pod2_down { 0 } else { 1 },
        "leafToRoot": [{"id": gw_id, "freqBand": "5G"}], "health": health("good", 4), "alerts": [],
    });
    let poor = sc == Scenario::PoorHealth;
    let mut pod3 = json!({
        "id": format!("SIM{s}0003"), "nickname": null, "defaultName": "Pod 3", "model": "PP203X",
        "firmwareVersion": "6.2.1-39", "ip": "192.168.1.3", "mac": "aa:bb:cc:00:00:03",
        "connectionState": if offline { "Disconnected" } else { "CONNECTED" }, "connectionStateChangeAt": TS,
        "backhaulType": "wifi", "networkMode": "bridge", "2gChannel": "1", "5gChannel": "149",
        "connectedDeviceCount": 0,
        "leafToRoot": [{"id": gw_id, "freqBand": "5G"}],
        "health": if poor { health("poor", 1) } else { health("excellent", 5) },
        "alerts": if poor { json!([{"type": "highInterference", "createdAt": TS}]) } else { json!([]) },
    });
    if offline {
        for n in [&mut gw, &mut bedroom, &mut pod3] {
            n["health"] = Value::Null;
        }
    }
    if pod2_down {
        bedroom["health"] = Value::Null;
    }
    match sc {
        Scenario::UnknownWords => pod3["health"] = json!({"status": "marginal", "details": null}),
        Scenario::LowScore => {
            pod3["health"] = json!({"status": "good", "score": 1, "details": null})
        }
        Scenario::UndocumentedAlerts => {
            gw["alerts"] = json!([{"type": "channelChange", "createdAt": TS}]);
            bedroom["alerts"] = json!([{"type": "highInterference", "createdAt": TS}]);
        }
        Scenario::PoorHealthAlert => {
            bedroom["alerts"] = json!([{"type": "poorHealth", "createdAt": TS}]);
        }
        Scenario::OddFields => {
            gw["model"] = json!(403);
            gw["backhaulType"] = json!({"type": "ethernet"});
            bedroom["nickname"] = json!({"text": "Bedroom"});
            bedroom["alerts"] = json!({"count": 0});
            pod3["connectedDeviceCount"] = json!("0");
            pod3["health"] = json!({"status": "excellent", "score": "5"});
        }
        _ => {}
    }
    vec![gw, bedroom, pod3]
}

fn devices_json(l: &str, sc: Scenario) -> Vec<Value> {
    let s = short(l);
    let gw = format!("SIM{s}0001");
    let bedroom = format!("SIM{s}0002");
    let offline = sc == Scenario::Offline;
    let state = |up: bool| {
        if up && !offline {
            "connected"
        } else {
            "disconnected"
        }
    };
    let dev = |mac: &str, name: &str, icon: &str, up: bool, parent: &str, health: Value| {
        json!({
            "id": mac, "mac": mac, "name": name, "nickname": null, "hostName": name, "icon": icon, "ip": "192.168.1.50",
            "medium": "wifi", "freqBand": "5G", "channel": 44, "connectionState": state(up), "connectionStateChangeAt": TS,
            "health": health, "leafToRoot": [{"id": parent, "freqBand": "5G"}], "accessZone": "home",
        })
    };
    let mut list = vec![
        dev(
            "aa:00:00:00:00:01",
            "Guest phone",
            "smartPhone",
            true,
            &gw,
            json!({"status": "healthy"}),
        ),
        dev(
            "aa:00:00:00:00:02",
            "Guest laptop",
            "laptop",
            true,
            &gw,
            if sc == Scenario::DevicesPoor {
                json!({"status": "poor", "score": 1})
            } else {
                json!({"status": "healthy"})
            },
        ),
        dev(
            "aa:00:00:00:00:03",
            "Living room TV",
            "tv",
            true,
            &gw,
            json!("healthy"),
        ),
        dev(
            "aa:00:00:00:00:04",
            "Bedroom speaker",
            "speaker",
            sc != Scenario::PodDown,
            &bedroom,
            json!("healthy"),
        ),
        dev(
            "aa:00:00:00:00:05",
            "Printer",
            "printer",
            false,
            &gw,
            json!("poor"),
        ),
    ];
    match sc {
        Scenario::UnknownWords => list[2]["health"] = json!({"status": "so-so"}),
        Scenario::OddFields => {
            list[0]["health"] = json!([1, 2]);
            list[1]["name"] = json!(12345);
            list[1]["hostName"] = Value::Null;
            list[3]["freqBand"] = json!(["5G"]);
        }
        _ => {}
    }
    list
}

fn wifi_json(l: &str, psk: &str) -> Value {
    json!({"wifiNetwork": {
        "id": format!("wifi-{}", short(l)), "locationId": l, "ssid": PlumeSim::ssid_for(l), "encryptionKey": psk,
        "encryption": "WPA2", "wpaMode": "psk2", "masterKeyIndex": 1, "enabled": true, "ssidBroadcast": true,
        "keys": [{"id": 1, "encryptionKey": psk, "accessZone": "home", "accessZoneId": 1, "format": "encryptionKey", "enable": true}],
        "accessZones": [{"id": 1, "type": "home", "description": "Home", "accessibleDevices": []}],
        "createdAt": TS, "updatedAt": TS, "_version": "1.0.0",
    }})
}
