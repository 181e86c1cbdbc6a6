//! The local JSON API for Home Assistant and scripts (DESIGN §7, docs/api.md).
//!
//! A plain `match (method, path segments)` router over hyper: ~25 routes don't need a
//! framework. This module and `portal/` are the only ones that know HTTP and wire JSON.
//! Every request gets a UUIDv7 correlation id: it is returned as `X-Request-Id`, written in
//! the request's log line and in the audit row of any mutation it makes.

pub mod dto;
pub mod error;
mod snapshot;
mod sse;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::AppState;
use crate::serve::{full, read_body, Body};
use crate::store::rows::VoucherFilter;
use crate::vouchers::{self, Ctx};
use dto::*;
use error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

type Result<T> = std::result::Result<T, ApiError>;

/// Entry point for the API listener.
pub async fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
    _peer: SocketAddr,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = uuid::Uuid::now_v7().to_string();
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

fn metrics_response(state: &AppState) -> Response<Body> {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(full(state.metrics.render()))
        .expect("static response parts")
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
fn query(req: &Request<Incoming>) -> Result<Vec<(String, String)>> {
    match req.uri().query() {
        None => Ok(vec![]),
        Some(q) => serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .map_err(|_| ApiError::bad_query("malformed query string")),
    }
}

fn q_get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn q_bool(q: &[(String, String)], key: &str) -> Result<Option<bool>> {
    match q_get(q, key) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_query(format!("{key} must be true or false"))),
    }
}

fn q_usize(q: &[(String, String)], key: &str, default: usize, max: usize) -> Result<usize> {
    match q_get(q, key) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(ApiError::bad_query(format!(
                "{key} must be a whole number from 0 to {max}"
            ))),
        },
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
            Method::GET => ok(&serde_json::json!({
                "name": "rental-wifi-sidecar",
                "version": env!("CARGO_PKG_VERSION"),
                "instance_id": state.instance_id,
                "api_version": 1,
            })),
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if !authorized(state, &req) {
        return Err(ApiError::unauthorized());
    }
    let ctx = Ctx {
        correlation_id: request_id.to_owned(),
        actor: "api",
    };
    let now = state.clock.now();

    match (&method, segs.as_slice()) {
        (&Method::GET, ["metrics"]) => {
            state
                .metrics
                .plume_token_refreshes
                .set_total(state.plume.tokens.minted());
            Ok(metrics_response(state))
        }
        (_, ["api", "v1", rest @ ..]) => v1(state, req, &method, rest, &ctx, now).await,
        _ => Err(ApiError::not_found("route")),
    }
}

async fn v1(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    method: &Method,
    segs: &[&str],
    ctx: &Ctx,
    now: time::OffsetDateTime,
) -> Result<Response<Body>> {
    let v = &state.vouchers;
    match (method, segs) {
        (&Method::GET, ["state"]) => ok(&snapshot::build(state).await?),
        (&Method::GET, ["events"]) => Ok(sse::stream(state)),

        // ---- units ----
        (&Method::GET, ["units"]) => {
            let units = v.list_units().await?;
            ok(&serde_json::json!({"units": units.iter().map(UnitOut::from).collect::<Vec<_>>()}))
        }
        (&Method::POST, ["units"]) => {
            let b: UnitBody = body(req).await?;
            let unit = v.create_unit(ctx, b.into()).await?;
            state.units_changed().await;
            Ok(json_response(StatusCode::CREATED, &UnitOut::from(&unit)))
        }
        (&Method::GET, ["units", id]) => ok(&UnitOut::from(&v.get_unit(id).await?)),
        (&Method::PATCH, ["units", id]) => {
            let b: UnitBody = body(req).await?;
            let unit = v.update_unit(ctx, id, b.into()).await?;
            state.units_changed().await;
            // Grace minutes may have changed: booking vouchers follow.
            crate::bookings::unit_changed(state, ctx, &unit).await?;
            ok(&UnitOut::from(&unit))
        }
        (&Method::DELETE, ["units", id]) => {
            let q = query(&req)?;
            let force = q_bool(&q, "force")?.unwrap_or(false);
            state.delete_unit(ctx, id, force).await?;
            no_content()
        }
        (_, ["units"]) | (_, ["units", _]) => Err(ApiError::method_not_allowed()),

        // ---- vouchers ----
        (&Method::POST, ["vouchers"]) => {
            let b: VoucherBody = body(req).await?;
            let (voucher, created) = v.issue(ctx, b.into(), "api").await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_response(status, &VoucherOut::new(&voucher, now)))
        }
        (&Method::GET, ["vouchers"]) => {
            let q = query(&req)?;
            let status = q_get(&q, "status")
                .filter(|s| !s.is_empty())
                .map(vouchers::parse_status)
                .transpose()?;
            let filter = VoucherFilter {
                unit_id: q_get(&q, "unit_id")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                status,
                booking_ref: q_get(&q, "booking_ref")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                limit: q_usize(&q, "limit", 100, 1000)?,
                offset: q_usize(&q, "offset", 0, usize::MAX / 2)?,
            };
            let (list, total) = v.list(filter).await?;
            ok(&serde_json::json!({
                "vouchers": list.iter().map(|x| VoucherOut::new(x, now)).collect::<Vec<_>>(),
                "total": total,
            }))
        }
        (&Method::GET, ["vouchers", code]) => ok(&VoucherOut::new(&v.get(code).await?, now)),
        (&Method::PATCH, ["vouchers", code]) => {
            let b: VoucherPatchBody = body(req).await?;
            let after = state.update_voucher(ctx, code, b.into()).await?;
            ok(&VoucherOut::new(&after, now))
        }
        (&Method::POST, ["vouchers", code, "revoke"]) => {
            let voucher = state.revoke_voucher(ctx, code).await?;
            ok(&VoucherOut::new(&voucher, state.clock.now()))
        }
        (&Method::GET, ["vouchers", code, card @ ("card.svg" | "card.png")]) => {
            let voucher = v.get(code).await?;
            let unit = v.get_unit(&voucher.unit_id).await?;
            let (ctype, bytes) = if *card == "card.svg" {
                (
                    "image/svg+xml; charset=utf-8",
                    crate::card::svg(&unit, &voucher).into_bytes(),
                )
            } else {
                ("image/png", crate::card::png(&unit, &voucher))
            };
            Ok(Response::builder()
                .header(header::CONTENT_TYPE, ctype)
                .header(header::CACHE_CONTROL, "no-store")
                .header(
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"wifi-{}.{}\"", voucher.code, &card[5..]),
                )
                .body(full(bytes))
                .expect("static response parts"))
        }
        (_, ["vouchers"])
        | (_, ["vouchers", _])
        | (_, ["vouchers", _, "revoke" | "card.svg" | "card.png"]) => {
            Err(ApiError::method_not_allowed())
        }

        // ---- grants ----
        (&Method::GET, ["grants"]) => {
            let q = query(&req)?;
            let filter = crate::store::grants::GrantFilter {
                unit_id: q_get(&q, "unit_id")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                code: q_get(&q, "code")
                    .filter(|s| !s.is_empty())
                    .and_then(crate::vouchers::code::normalize),
                active: q_bool(&q, "active")?,
                limit: q_usize(&q, "limit", 500, 10_000)?,
            };
            let list = state.grants.list(filter).await?;
            ok(
                &serde_json::json!({"grants": list.iter().map(|g| GrantOut::new(g, now)).collect::<Vec<_>>()}),
            )
        }
        (&Method::POST, ["grants", id, "revoke"]) => {
            let grant = state.grants.revoke_grant(ctx, id).await?;
            ok(&GrantOut::new(&grant, state.clock.now()))
        }

        // ---- bookings (Rental Control sync; audited as actor "sync") ----
        (&Method::GET, ["units", id, "bookings"]) => {
            let list = crate::bookings::list(state, id).await?;
            let now = state.clock.now();
            ok(&serde_json::json!({
                "bookings": list.iter().map(|(b, v)| BookingOut::new(b, v.as_ref(), now)).collect::<Vec<_>>(),
            }))
        }
        (&Method::GET, ["units", id, "bookings", booking_ref]) => {
            let (b, v) = crate::bookings::get(state, id, booking_ref).await?;
            ok(&BookingOut::new(&b, v.as_ref(), state.clock.now()))
        }
        (&Method::PUT, ["units", id, "bookings", booking_ref]) => {
            let b: BookingBody = body(req).await?;
            let sync = Ctx {
                correlation_id: ctx.correlation_id.clone(),
                actor: "sync",
            };
            let ((b, v), created) =
                crate::bookings::put(state, &sync, id, booking_ref, b.into()).await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_response(
                status,
                &BookingOut::new(&b, v.as_ref(), state.clock.now()),
            ))
        }
        (&Method::DELETE, ["units", id, "bookings", booking_ref]) => {
            let sync = Ctx {
                correlation_id: ctx.correlation_id.clone(),
                actor: "sync",
            };
            crate::bookings::delete(state, &sync, id, booking_ref).await?;
            no_content()
        }
        (_, ["units", _, "bookings"]) | (_, ["units", _, "bookings", _]) => {
            Err(ApiError::method_not_allowed())
        }

        // ---- health ----
        (&Method::GET, ["units", id, "health"]) => {
            let unit = v.get_unit(id).await?;
            ok(&state.health_json(&unit, now))
        }

        // ---- settings ----
        (&Method::GET, ["settings", "omada"]) => match state.controller.settings_redacted() {
            Some(s) => {
                let mut v = serde_json::to_value(&s).unwrap_or_default();
                v["configured"] = serde_json::Value::Bool(true);
                ok(&v)
            }
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_configured",
                "the Omada controller is not configured",
            )),
        },
        (&Method::PUT, ["settings", "omada"]) => {
            let q = query(&req)?;
            let validate = q_bool(&q, "validate")?.unwrap_or(true);
            let settings: crate::omada::OmadaSettings = body(req).await?;
            let info = state.controller.put(settings, validate).await?;
            audit_settings(state, ctx, "settings.omada.put").await?;
            state.grants.wake();
            let mut v =
                serde_json::to_value(state.controller.settings_redacted()).unwrap_or_default();
            v["configured"] = serde_json::Value::Bool(true);
            if let Some(info) = info {
                v["controller_version"] = serde_json::json!(info.controller_version);
            }
            ok(&v)
        }
        (&Method::DELETE, ["settings", "omada"]) => {
            state.controller.delete().await?;
            audit_settings(state, ctx, "settings.omada.delete").await?;
            no_content()
        }
        (&Method::GET, ["settings", "plume"]) => match state.plume.settings_redacted() {
            Some(mut v) => {
                v["configured"] = serde_json::Value::Bool(true);
                ok(&v)
            }
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_configured",
                "Plume is not configured",
            )),
        },
        (&Method::PUT, ["settings", "plume"]) => {
            let settings: crate::plume::PlumeSettings = body(req).await?;
            state.plume.put(settings).await?;
            audit_settings(state, ctx, "settings.plume.put").await?;
            let mut v = state.plume.settings_redacted().unwrap_or_default();
            v["configured"] = serde_json::Value::Bool(true);
            ok(&v)
        }
        (&Method::DELETE, ["settings", "plume"]) => {
            state.plume.delete().await?;
            audit_settings(state, ctx, "settings.plume.delete").await?;
            no_content()
        }
        (_, ["settings", "omada" | "plume"]) | (_, ["grants"]) | (_, ["grants", _, "revoke"]) => {
            Err(ApiError::method_not_allowed())
        }

        // ---- audit ----
        (&Method::GET, ["audit"]) => {
            let q = query(&req)?;
            let limit = q_usize(&q, "limit", 50, 1000)?;
            let entries = v.audit(limit).await?;
            ok(
                &serde_json::json!({"entries": entries.iter().map(AuditOut::from).collect::<Vec<_>>()}),
            )
        }

        _ => Err(ApiError::not_found("route")),
    }
}

pub use sse::KEEPALIVE;

/// Settings changes are audited without their content (it holds secrets).
async fn audit_settings(state: &AppState, ctx: &Ctx, action: &'static str) -> Result<()> {
    let ctx = ctx.clone();
    let now = state.clock.now();
    state
        .store
        .write(move |tx| {
            crate::store::rows::audit_insert(
                tx,
                &crate::store::rows::NewAudit {
                    at: now,
                    correlation_id: &ctx.correlation_id,
                    actor: ctx.actor,
                    action,
                    unit_id: None,
                    code: None,
                    detail: None,
                },
            )
        })
        .await?;
    Ok(())
}
