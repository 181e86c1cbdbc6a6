//! The local JSON API for Home Assistant and scripts (DESIGN §7, docs/api.md).
//!
//! A plain `match (method, path segments)` router over hyper: ~25 routes don't need a
//! framework. The handlers live per resource beside it ([`units`], [`vouchers`](mod@vouchers),
//! [`grants`], [`bookings`], [`settings`], [`state`], [`events`], [`audit`], [`passwords`]); [`wire`] has
//! every request and response type and [`error`] the one place errors become statuses. This
//! module and `portal/` are the only ones that know HTTP and wire JSON.
//!
//! Every request gets a UUIDv7 correlation id: it is returned as `X-Request-Id`, carried by a
//! tracing span into every log line written while the request is handled, and written in the
//! audit row of any mutation it makes. Bodies are parsed into the domain's checked inputs
//! before a use case runs.

pub mod audit;
pub mod bookings;
pub mod cards;
pub mod controller;
pub mod devices;
pub mod error;
pub mod events;
#[cfg(test)]
mod fixtures;
pub mod grants;
pub mod network;
pub mod passwords;
pub mod plume;
pub mod settings;
pub mod state;
pub mod units;
pub mod vouchers;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::app::AppState;
use crate::serve::{full, read_body, Body};
use crate::vouchers::model::Actor;
use crate::vouchers::Ctx;
use error::ApiError;

/// Largest accepted JSON request body (a unit's terms text may be 64 KiB, escaped in JSON).
pub const MAX_BODY: usize = 160 * 1024;

type Result<T> = std::result::Result<T, ApiError>;

/// Entry point for the API listener.
pub async fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
    _peer: SocketAddr,
) -> Response<Body> {
    let request_id = uuid::Uuid::now_v7().to_string();
    let span = tracing::info_span!("request", request_id = %request_id);
    handle_in_span(state, req, request_id)
        .instrument(span)
        .await
}

async fn handle_in_span(
    state: Arc<AppState>,
    req: Request<Incoming>,
    request_id: String,
) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut resp = match route(&state, req, &request_id).await {
        Ok(r) => r,
        Err(e) => {
            if e.status.is_server_error() {
                tracing::error!(request_id = %request_id, code = e.code, message = %e.message, "request failed");
            }
            let mut r = json_response(e.status, &e.body());
            if e.close {
                crate::serve::close_connection(&mut r);
            }
            r
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    state.metrics.api_requests.inc();
    tracing::info!(
        request_id = %request_id,
        method = %method,
        // Voucher codes in paths are logged by reference only (issue 13).
        path = %crate::telemetry::redact_path(&path),
        status = resp.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "api request"
    );
    resp
}

pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(full(bytes))
        .expect("static response parts")
}

fn ok<T: Serialize + ?Sized>(value: &T) -> Result<Response<Body>> {
    Ok(json_response(StatusCode::OK, value))
}

/// 201 for a new resource, 200 for an idempotent replay.
fn created_or_ok<T: Serialize + ?Sized>(created: bool, value: &T) -> Result<Response<Body>> {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, value))
}

fn no_content() -> Result<Response<Body>> {
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(full(Bytes::new()))
        .expect("static response parts"))
}

fn authorized(state: &AppState, req: &Request<Incoming>) -> bool {
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(token) = value.strip_prefix("Bearer ").map(str::trim) else {
        return false;
    };
    use subtle::ConstantTimeEq;
    // Compare fixed-size digests so the comparison time does not depend on the length either.
    let a = sha2_digest(token.as_bytes());
    let b = sha2_digest(state.token.as_bytes());
    a.ct_eq(&b).into()
}

fn sha2_digest(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

/// Parse a JSON body into `T`, mapping every failure to a 4xx.
async fn body<T: DeserializeOwned>(req: Request<Incoming>) -> Result<T> {
    let (_, bytes) = read_body(req, MAX_BODY).await.map_err(|(_, err)| {
        if let crate::serve::BodyError::TooLarge { drained } = err {
            let mut e = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body exceeds {MAX_BODY} bytes"),
            );
            e.close = !drained;
            e
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "request body could not be read",
            )
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "request body is empty; JSON expected",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    let value = serde_path_to_error::deserialize(de).map_err(error::from_json_error)?;
    Ok(value)
}

/// Query string pairs (decoded).
struct Query(Vec<(String, String)>);

impl Query {
    fn of(req: &Request<Incoming>) -> Result<Query> {
        match req.uri().query() {
            None => Ok(Query(vec![])),
            Some(q) => serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .map(Query)
                .map_err(|_| ApiError::bad_query("malformed query string")),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty value.
    fn text(&self, key: &str) -> Option<String> {
        self.get(key).filter(|s| !s.is_empty()).map(str::to_owned)
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(ApiError::bad_query(format!("{key} must be true or false"))),
        }
    }

    fn usize(&self, key: &str, default: usize, max: usize) -> Result<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(ApiError::bad_query(format!(
                    "{key} must be a whole number from 0 to {max}"
                ))),
            },
        }
    }
}

async fn route(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    request_id: &str,
) -> Result<Response<Body>> {
    let path = req.uri().path().to_owned();
    let decoded: Vec<String> = path
        .trim_end_matches('/')
        .split('/')
        .skip(1)
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let method = req.method().clone();

    // The only route without a token.
    if segs == ["api", "v1", "info"] {
        return match method {
            Method::GET => state::info(state),
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if !authorized(state, &req) {
        return Err(ApiError::unauthorized());
    }
    let ctx = Ctx {
        correlation_id: request_id.to_owned(),
        actor: Actor::Api,
    };
    let s = state.as_ref();
    let v1 = match segs.as_slice() {
        ["metrics"] if method == Method::GET => return state::metrics(s).await,
        ["api", "v1", rest @ ..] => rest,
        _ => return Err(ApiError::not_found("route")),
    };
    match (&method, v1) {
        (&Method::GET, ["state"]) => state::snapshot(s).await,
        (&Method::GET, ["events"]) => Ok(events::stream(s)),

        (&Method::GET, ["units"]) => units::list(s).await,
        (&Method::POST, ["units"]) => units::create(s, &ctx, req).await,
        (&Method::GET, ["units", id]) => units::get(s, id).await,
        (&Method::PATCH, ["units", id]) => units::patch(s, &ctx, id, req).await,
        (&Method::DELETE, ["units", id]) => units::delete(s, &ctx, id, &req).await,
        (&Method::GET, ["units", id, "health"]) => units::health(s, id).await,
        (&Method::PUT, ["units", id, "logo"]) => units::put_logo(s, &ctx, id, req).await,
        (&Method::DELETE, ["units", id, "logo"]) => units::delete_logo(s, &ctx, id).await,
        (&Method::GET, ["units", id, "consents"]) => units::consents(s, id, &req).await,
        (_, ["units", _, "logo" | "consents"]) => Err(ApiError::method_not_allowed()),
        (&Method::POST, ["units", id, "host-test"]) => {
            controller::create_host_test(s, &ctx, id).await
        }
        (&Method::GET, ["units", id, "network"]) => network::get(s, id).await,
        (&Method::GET, ["units", id, "cards.pdf"]) => cards::sheet(s, &ctx, id, &req).await,
        (_, ["units", _, "cards.pdf"]) => Err(ApiError::method_not_allowed()),
        (_, ["units", _, "health" | "network"]) => Err(ApiError::method_not_allowed()),
        (_, ["units"] | ["units", _]) => Err(ApiError::method_not_allowed()),
        // Stays and devices (issue 14).
        (&Method::POST, ["units", id, "revoke"]) => units::revoke(s, &ctx, id).await,
        (&Method::PUT, ["units", id, "bookings"]) => bookings::put_all(s, &ctx, id, req).await,
        (&Method::POST, ["units", id, "devices"]) => {
            devices::authorize_for_unit(s, &ctx, id, req).await
        }
        (&Method::POST, ["vouchers", code, "devices"]) => {
            devices::authorize(s, &ctx, code, req).await
        }
        (&Method::GET, ["vouchers", code, "devices"]) => devices::list(s, code).await,
        (_, ["units", _, "revoke" | "devices"] | ["vouchers", _, "devices"]) => {
            Err(ApiError::method_not_allowed())
        }

        (&Method::GET, ["units", id, "bookings"]) => bookings::list(s, id).await,
        (&Method::GET, ["units", id, "bookings", r]) => bookings::get(s, id, r).await,
        (&Method::PUT, ["units", id, "bookings", r]) => bookings::put(s, &ctx, id, r, req).await,
        (&Method::DELETE, ["units", id, "bookings", r]) => bookings::delete(s, &ctx, id, r).await,
        (_, ["units", _, "bookings"] | ["units", _, "bookings", _]) => {
            Err(ApiError::method_not_allowed())
        }

        (&Method::POST, ["vouchers"]) => vouchers::issue(s, &ctx, req).await,
        (&Method::GET, ["vouchers"]) => vouchers::list(s, &req).await,
        (&Method::GET, ["vouchers", code]) => vouchers::get(s, code).await,
        (&Method::PATCH, ["vouchers", code]) => vouchers::patch(s, &ctx, code, req).await,
        (&Method::POST, ["vouchers", code, "revoke"]) => vouchers::revoke(s, &ctx, code).await,
        (&Method::GET, ["vouchers", code, card @ ("card.svg" | "card.png")]) => {
            vouchers::card(s, &ctx, code, card).await
        }
        (
            _,
            ["vouchers"] | ["vouchers", _] | ["vouchers", _, "revoke" | "card.svg" | "card.png"],
        ) => Err(ApiError::method_not_allowed()),

        (&Method::GET, ["grants"]) => grants::list(s, &req).await,
        (&Method::POST, ["grants", id, "revoke"]) => grants::revoke(s, &ctx, id).await,
        (_, ["grants"] | ["grants", _, "revoke"]) => Err(ApiError::method_not_allowed()),

        // Wi-Fi passwords of password-mode units (issue 18).
        (&Method::GET, ["units", id, "password"]) => passwords::unit(s, &ctx, id).await,
        (&Method::POST, ["units", id, "password", "check"]) => passwords::check(s, id, &req).await,
        (&Method::GET, ["vouchers", code, "password"]) => passwords::voucher(s, &ctx, code).await,
        (&Method::GET, ["controller", "sites", site, "ppsk-profiles"]) => {
            passwords::profiles(s, site).await
        }
        (
            _,
            ["units", _, "password"]
            | ["units", _, "password", "check"]
            | ["vouchers", _, "password"]
            | ["controller", "sites", _, "ppsk-profiles"],
        ) => Err(ApiError::method_not_allowed()),

        (&Method::GET, ["settings", "omada"]) => settings::get_omada(s),
        (&Method::PUT, ["settings", "omada"]) => settings::put_omada(s, &ctx, req).await,
        (&Method::DELETE, ["settings", "omada"]) => settings::delete_omada(s, &ctx).await,
        (&Method::GET, ["settings", "plume"]) => settings::get_plume(s),
        (&Method::PUT, ["settings", "plume"]) => settings::put_plume(s, &ctx, req).await,
        (&Method::DELETE, ["settings", "plume"]) => settings::delete_plume(s, &ctx).await,
        (&Method::GET, ["settings", "property"]) => settings::get_property(s),
        (&Method::PUT, ["settings", "property"]) => settings::put_property(s, &ctx, req).await,
        (_, ["settings", "omada" | "plume" | "property"]) => Err(ApiError::method_not_allowed()),
        (&Method::POST, ["settings", "omada", "check"]) => controller::check(s).await,

        (&Method::GET, ["controller", "sites"]) => controller::sites(s).await,
        (&Method::POST, ["controller", "hotspot-operator"]) => {
            controller::create_operator(s, &ctx, req).await
        }
        (&Method::POST, ["controller", "reconcile"]) => controller::reconcile(s).await,
        (&Method::GET, ["outbox"]) => controller::outbox(s).await,
        (&Method::POST, ["outbox", id, "discard"]) => controller::discard(s, &ctx, id).await,
        (&Method::GET, ["host-tests", code]) => controller::host_test(s, code).await,
        (
            _,
            ["settings", "omada", "check"]
            | ["controller", "sites" | "hotspot-operator" | "reconcile"]
            | ["outbox"]
            | ["outbox", _, "discard"]
            | ["host-tests", _]
            | ["units", _, "host-test"],
        ) => Err(ApiError::method_not_allowed()),

        (&Method::GET, ["plume", "nodes", serial]) => plume::node(s, serial).await,
        (&Method::GET, ["plume", "customers"]) => plume::customers(s, &req).await,
        (&Method::GET, ["plume", "customers", c, "locations"]) => plume::locations(s, c).await,
        (
            _,
            ["plume", "nodes", _] | ["plume", "customers"] | ["plume", "customers", _, "locations"],
        ) => Err(ApiError::method_not_allowed()),

        (&Method::GET, ["audit"]) => audit::list(s, &req).await,

        _ => Err(ApiError::not_found("route")),
    }
}
