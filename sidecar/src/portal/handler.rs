//! Portal request handling: the HTTP side of the guest's journey.
//!
//! `GET /portal` (or `/` — controllers are often configured with the bare host) takes the
//! controller's redirect, shows the login page with a CSRF token bound to the device; `POST
//! /portal` checks the token, the brute-force limiter and the terms, then hands the code to
//! the redemption use case ([`crate::usecase::Rentals::redeem`]). Everything a guest can see
//! is a friendly page; nothing here answers JSON. Each request runs in a tracing span carrying
//! its request id (also the audit row's correlation id of a redemption).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use http::{header, HeaderValue, Method, StatusCode};
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::csrf::CsrfError;
use super::errors::PortalError;
use super::form::LoginForm;
use super::i18n::{self, Lang};
use super::page::{self, LoginPage, SuccessPage};
use super::probe;
use super::redirect::{Attachment as RedirectAttachment, RedirectContext, RedirectError};
use crate::app::AppState;
use crate::serve::{full, read_body, Body};
use crate::usecase::redemption::{RedeemError, RedeemRequest};
use crate::vouchers::model::{Actor, Unit};
use crate::vouchers::network::{on_unit_network, Attachment, Device};
use crate::vouchers::{code, Ctx};
use tracing::Instrument;

/// Largest form body accepted.
pub const MAX_FORM: usize = 16 * 1024;

pub async fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let request_id = uuid::Uuid::now_v7().to_string();
    let span = tracing::info_span!("request", request_id = %request_id);
    handle_in_span(state, req, peer, request_id)
        .instrument(span)
        .await
}

/// The device the redirect describes: the domain's half of the redirect context.
fn device_of(ctx: &RedirectContext) -> Result<Device, RedirectError> {
    let attachment = match ctx.attachment()? {
        RedirectAttachment::Ap {
            ap_mac,
            ssid,
            radio_id,
        } => Attachment::Ap {
            ap_mac,
            ssid: ssid.map(str::to_owned),
            radio_id,
        },
        RedirectAttachment::Gateway { gateway_mac, vid } => {
            Attachment::Gateway { gateway_mac, vid }
        }
    };
    Ok(Device {
        client_mac: ctx.client_mac,
        client_ip: ctx.client_ip,
        site: ctx.site.clone(),
        attachment,
    })
}

async fn handle_in_span(
    state: Arc<AppState>,
    req: Request<Incoming>,
    peer: SocketAddr,
    request_id: String,
) -> Response<Body> {
    state.metrics.portal_requests.inc();
    let lang = i18n::negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    match (&method, path.as_str()) {
        (&Method::GET | &Method::HEAD, "/portal") => {
            get_portal(&state, req.uri().query().unwrap_or(""), lang).await
        }
        // Controllers configured with the bare portal host redirect to `/?clientMac=…`.
        (&Method::GET | &Method::HEAD, "/") if req.uri().query().is_some() => {
            get_portal(&state, req.uri().query().unwrap_or(""), lang).await
        }
        (&Method::POST, "/portal" | "/") => {
            post_portal(&state, req, peer.ip(), lang, request_id).await
        }
        (&Method::GET | &Method::HEAD, "/healthz") => html(StatusCode::OK, "ok".into()),
        (&Method::GET | &Method::HEAD, _) => {
            let pq = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok());
            match probe::probe_answer(pq, host) {
                Some(answer) => {
                    let mut r = html(
                        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::FOUND),
                        answer.body(),
                    );
                    if let Ok(v) = HeaderValue::from_str(&answer.location) {
                        r.headers_mut().insert(header::LOCATION, v);
                    }
                    r
                }
                None => error_page(lang, PortalError::InvalidRequest, StatusCode::NOT_FOUND),
            }
        }
        _ => error_page(
            lang,
            PortalError::InvalidRequest,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    }
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("content-security-policy", page::CONTENT_SECURITY_POLICY)
        .header("x-frame-options", "DENY")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .body(full(body))
        .expect("static response parts");
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-language"));
    r
}

fn error_page(lang: Lang, err: PortalError, status: StatusCode) -> Response<Body> {
    html(status, page::render_error(lang, err))
}

fn status_of(err: &PortalError) -> StatusCode {
    StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// The unit whose networks this redirect comes from (for its name and terms).
async fn unit_for(state: &AppState, ctx: &RedirectContext) -> Option<Unit> {
    let device = device_of(ctx).ok()?;
    let units = state.units().await.ok()?;
    units.iter().find(|u| on_unit_network(u, &device)).cloned()
}

fn now_unix(state: &AppState) -> i64 {
    state.clock.now().unix_timestamp()
}

async fn get_portal(state: &AppState, query: &str, lang: Lang) -> Response<Body> {
    let ctx = match RedirectContext::from_query(query) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "portal: unusable redirect");
            return error_page(lang, PortalError::InvalidRequest, StatusCode::BAD_REQUEST);
        }
    };
    let unit = unit_for(state, &ctx).await;
    login(state, lang, &ctx, unit.as_ref(), None, "", StatusCode::OK)
}

fn login(
    state: &AppState,
    lang: Lang,
    ctx: &RedirectContext,
    unit: Option<&Unit>,
    error: Option<PortalError>,
    typed: &str,
    status: StatusCode,
) -> Response<Body> {
    let csrf = state.csrf.issue(&ctx.client_mac, now_unix(state));
    let hidden = ctx.to_hidden_fields();
    let body = page::render_login(&LoginPage {
        lang,
        unit_name: unit.map(|u| u.name.as_str()),
        terms_url: unit.and_then(|u| u.terms_url.as_deref()),
        error,
        csrf: &csrf,
        hidden: &hidden,
        code_value: typed,
    });
    let mut r = html(status, body);
    if let Some(secs) = error.and_then(|e| e.retry_after_secs()) {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

async fn post_portal(
    state: &AppState,
    req: Request<Incoming>,
    peer_ip: IpAddr,
    lang: Lang,
    request_id: String,
) -> Response<Body> {
    let body = match read_body(req, MAX_FORM).await {
        Ok((_, b)) => b,
        Err((_, err)) => {
            let (status, close) = match err {
                crate::serve::BodyError::TooLarge { drained } => {
                    (StatusCode::PAYLOAD_TOO_LARGE, !drained)
                }
                crate::serve::BodyError::Broken => (StatusCode::BAD_REQUEST, true),
            };
            let mut r = error_page(lang, PortalError::InvalidRequest, status);
            if close {
                crate::serve::close_connection(&mut r);
            }
            return r;
        }
    };
    let form = LoginForm::parse(&body);
    let ctx = match form.context {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "portal: unusable form context");
            state.metrics.redemption("invalid_request");
            return error_page(lang, PortalError::InvalidRequest, StatusCode::BAD_REQUEST);
        }
    };
    let typed: String = form.code.chars().take(64).collect();
    let unit = unit_for(state, &ctx).await;
    let fail = |err: PortalError| {
        login(
            state,
            lang,
            &ctx,
            unit.as_ref(),
            Some(err),
            &typed,
            status_of(&err),
        )
    };

    if let Err(e) = state
        .csrf
        .verify(&form.csrf, &ctx.client_mac, now_unix(state))
    {
        let _: CsrfError = e;
        state.metrics.redemption("session_expired");
        return fail(PortalError::SessionExpired);
    }
    let now = Instant::now();
    if let Err(lockout) = state.limiter.check(&ctx.client_mac, Some(peer_ip), now) {
        state.metrics.rate_limit_hits.inc();
        state.metrics.redemption("locked_out");
        return fail(PortalError::from(lockout));
    }
    if unit.as_ref().is_some_and(|u| u.terms_url.is_some()) && !form.accept_terms {
        state.metrics.redemption("terms_not_accepted");
        return fail(PortalError::TermsNotAccepted);
    }
    let Some(code) = code::normalize(&form.code) else {
        state
            .limiter
            .record_failure(&ctx.client_mac, Some(peer_ip), now);
        state.metrics.redemption("invalid_code");
        return fail(PortalError::InvalidCode);
    };
    let actor = Ctx {
        correlation_id: request_id,
        actor: Actor::Portal,
    };
    let redeemed = match device_of(&ctx) {
        Ok(device) => {
            // Holding the device is not proven yet (the page token and peer address will).
            let req = RedeemRequest {
                code,
                device,
                holder_proven: false,
            };
            state.rentals.redeem(&actor, &req).await
        }
        Err(e) => Err(RedeemError::InvalidRequest(e.to_string())),
    };
    match redeemed {
        Ok(done) => {
            state.limiter.record_success(&ctx.client_mac);
            state.metrics.redemption("success");
            tracing::info!(request_id = %actor.correlation_id, unit_id = %done.unit.unit_id, "guest device let in");
            let continue_url = ctx.safe_continue_url();
            html(
                StatusCode::OK,
                page::render_success(&SuccessPage {
                    lang,
                    unit_name: Some(&done.unit.name),
                    continue_url: continue_url.as_deref(),
                    expires_at: Some(done.grant.expires_at),
                }),
            )
        }
        Err(e) => {
            if e.is_guess() {
                state
                    .limiter
                    .record_failure(&ctx.client_mac, Some(peer_ip), now);
            }
            let (err, outcome) = match &e {
                RedeemError::InvalidCode => (PortalError::InvalidCode, "invalid_code"),
                RedeemError::Expired => (PortalError::CodeExpired, "expired"),
                RedeemError::NotYetValid => (PortalError::CodeNotYetValid, "not_yet_valid"),
                RedeemError::DeviceLimit => (PortalError::DeviceLimitReached, "device_limit"),
                RedeemError::InvalidRequest(_) => (PortalError::InvalidRequest, "invalid_request"),
                RedeemError::Controller(c) => {
                    tracing::warn!(error = %c, "portal: controller did not let the guest in");
                    (PortalError::ControllerUnreachable, "controller_error")
                }
                RedeemError::Store(s) => {
                    tracing::error!(error = %s, "portal: store error");
                    (PortalError::Internal, "internal")
                }
            };
            state.metrics.redemption(outcome);
            fail(err)
        }
    }
}
