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

use super::errors::PortalError;
use super::form::LoginForm;
use super::i18n::{self, Lang};
use super::identity::{Asker, Refused};
use super::limiter::Attempt;
use super::page::{self, LoginExtras, LoginPage, SuccessPage};
use super::probe;
use super::redirect::{Attachment as RedirectAttachment, RedirectContext, RedirectError};
use crate::app::AppState;
use crate::serve::{full, read_body, Body};
use crate::usecase::redemption::{self, RedeemError, RedeemRequest};
use crate::vouchers::model::{Actor, SecondFactor, Unit};
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
            get_portal(&state, req.uri().query().unwrap_or(""), peer.ip(), lang).await
        }
        // Controllers configured with the bare portal host redirect to `/?clientMac=…`.
        (&Method::GET | &Method::HEAD, "/") if req.uri().query().is_some() => {
            get_portal(&state, req.uri().query().unwrap_or(""), peer.ip(), lang).await
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

/// The units whose networks a redirect names (DESIGN §3: a unit's site, SSIDs / VLANs, APs),
/// in the order of the unit list; the first names the page. Empty when the redirect cannot be
/// turned into a device, or the units cannot be read.
struct Network {
    units: Arc<Vec<Unit>>,
    device: Option<Device>,
}

impl Network {
    async fn of(state: &AppState, ctx: &RedirectContext) -> Network {
        let units = match state.units().await {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(error = %e, "portal: units cannot be read");
                Arc::new(Vec::new())
            }
        };
        Network {
            units,
            device: device_of(ctx).ok(),
        }
    }

    /// The units on this network.
    fn units(&self) -> Vec<&Unit> {
        match &self.device {
            Some(d) => self
                .units
                .iter()
                .filter(|u| on_unit_network(u, d))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The unit that names the page (its name, terms and second-factor field).
    fn unit(&self) -> Option<&Unit> {
        self.units().into_iter().next()
    }
}

fn now_unix(state: &AppState) -> i64 {
    state.clock.now().unix_timestamp()
}

/// Who is asking for a page (DESIGN §10): the address check of [`WhoIsAsking::page`]. The
/// status page and the Captive Portal API of issue 17 call this too.
///
/// [`WhoIsAsking::page`]: super::identity::WhoIsAsking::page
fn identify_page(
    state: &AppState,
    ctx: &RedirectContext,
    peer: IpAddr,
    net: &Network,
) -> Result<Asker, Refused> {
    state.who.page(
        ctx.client_mac,
        ctx.client_ip,
        peer,
        &net.units(),
        state.clock.now(),
    )
}

/// Who is asking with a form (DESIGN §10): the address check, then the page token bound to
/// (MAC, peer), [`WhoIsAsking::form`]. "Disconnect this device" (issue 17) calls this too.
///
/// [`WhoIsAsking::form`]: super::identity::WhoIsAsking::form
fn identify_form(
    state: &AppState,
    ctx: &RedirectContext,
    peer: IpAddr,
    token: &str,
    net: &Network,
) -> Result<Asker, Refused> {
    state.who.form(
        ctx.client_mac,
        ctx.client_ip,
        peer,
        token,
        &net.units(),
        state.clock.now(),
    )
}

/// What a guest is told when the portal does not take the request as the device's.
fn refusal(state: &AppState, r: Refused) -> PortalError {
    match r {
        Refused::AddressMismatch(_) => {
            state.metrics.redemption("address_mismatch");
            PortalError::AddressMismatch
        }
        Refused::Token(_) => {
            state.metrics.redemption("session_expired");
            PortalError::SessionExpired
        }
    }
}

async fn get_portal(state: &AppState, query: &str, peer: IpAddr, lang: Lang) -> Response<Body> {
    let ctx = match RedirectContext::from_query(query) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "portal: unusable redirect");
            return error_page(lang, PortalError::InvalidRequest, StatusCode::BAD_REQUEST);
        }
    };
    let net = Network::of(state, &ctx).await;
    let asker = match identify_page(state, &ctx, peer, &net) {
        Ok(a) => a,
        // Refused with a page that says what to do; logged and counted by `identity`.
        Err(_) => {
            let err = PortalError::AddressMismatch;
            return error_page(lang, err, status_of(&err));
        }
    };
    login(
        state,
        lang,
        &ctx,
        &asker,
        net.unit(),
        None,
        ("", ""),
        StatusCode::OK,
    )
}

#[allow(clippy::too_many_arguments)]
fn login(
    state: &AppState,
    lang: Lang,
    ctx: &RedirectContext,
    asker: &Asker,
    unit: Option<&Unit>,
    error: Option<PortalError>,
    (typed, last_name): (&str, &str),
    status: StatusCode,
) -> Response<Body> {
    let csrf = state.who.token_for(asker, now_unix(state));
    let hidden = ctx.to_hidden_fields();
    let body = page::render_login_with(
        &LoginPage {
            lang,
            unit_name: unit.map(|u| u.name.as_str()),
            terms_url: unit.and_then(|u| u.terms_url.as_deref()),
            error,
            csrf: &csrf,
            hidden: &hidden,
            code_value: typed,
        },
        &LoginExtras {
            last_name: unit
                .is_some_and(|u| u.guest_checks.short_code_second_factor != SecondFactor::None)
                .then_some(last_name),
            ..LoginExtras::default()
        },
    );
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
                crate::serve::BodyError::TimedOut => (StatusCode::REQUEST_TIMEOUT, true),
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
    let net = Network::of(state, &ctx).await;
    let unit = net.unit();

    // Who is asking, before anything else: a mismatch costs no attempt (DESIGN §10).
    let asker = match identify_form(state, &ctx, peer_ip, &form.csrf, &net) {
        Ok(a) => a,
        Err(r @ Refused::AddressMismatch(_)) => {
            let err = refusal(state, r);
            return error_page(lang, err, status_of(&err));
        }
        Err(r) => {
            // A stale token: show the page again with a fresh one for this device.
            let err = refusal(state, r);
            let page_asker = match identify_page(state, &ctx, peer_ip, &net) {
                Ok(a) => a,
                Err(_) => return error_page(lang, err, status_of(&err)),
            };
            let typed = (typed.as_str(), form.last_name.as_str());
            return login(
                state,
                lang,
                &ctx,
                &page_asker,
                unit,
                Some(err),
                typed,
                status_of(&err),
            );
        }
    };
    let fail = |err: PortalError| {
        login(
            state,
            lang,
            &ctx,
            &asker,
            unit,
            Some(err),
            (&typed, &form.last_name),
            status_of(&err),
        )
    };
    if unit.is_some_and(|u| u.terms_url.is_some()) && !form.accept_terms {
        state.metrics.redemption("terms_not_accepted");
        return fail(PortalError::TermsNotAccepted);
    }
    let normalised = code::normalize(&form.code);
    let device = match &net.device {
        Some(d) => d.clone(),
        None => {
            state.metrics.redemption("invalid_request");
            return fail(PortalError::InvalidRequest);
        }
    };
    // Which budgets the attempt falls under, from the redemption use case's units.
    let scope = redemption::attempt_scope(
        &net.units,
        &device,
        normalised.as_deref().unwrap_or(""),
        &form.last_name,
    );
    if normalised.is_some() && scope.second_factor_missing {
        // Decided by the code's length and the units' settings alone: nothing is looked up,
        // nothing is counted.
        state.metrics.redemption("second_factor_missing");
        return fail(PortalError::LastNameNeeded);
    }
    // Pay for the attempt before the code is looked at (issue 13, finding 2).
    let units: Vec<&str> = scope.units.iter().map(String::as_str).collect();
    let attempt = Attempt {
        mac: &asker.mac,
        peer: asker.peer,
        units: &units,
        short: normalised.is_some() && scope.short,
        second_factor: scope.second_factor.as_deref(),
    };
    let reservation = match state.limiter.reserve(&attempt, Instant::now()) {
        Ok(r) => r,
        Err(lockout) => {
            state.metrics.rate_limit_hits.inc();
            state.metrics.redemption("locked_out");
            return fail(PortalError::from(lockout));
        }
    };
    let Some(code) = normalised else {
        reservation.failed();
        state.metrics.redemption("invalid_code");
        return fail(PortalError::InvalidCode);
    };
    let actor = Ctx {
        correlation_id: request_id,
        actor: Actor::Portal,
    };
    let req = RedeemRequest {
        code,
        device,
        last_name: form.last_name.clone(),
        // The page token and the peer address prove the request comes from the device
        // itself (DESIGN §10): only then may it move the device from another voucher.
        holder_proven: asker.holder_proven(),
    };
    match state.rentals.redeem(&actor, &req).await {
        Ok(done) => {
            reservation.succeeded();
            state.metrics.redemption("success");
            tracing::info!(
                request_id = %actor.correlation_id,
                unit_id = %done.unit.unit_id,
                holder_proven = asker.holder_proven(),
                "guest device let in"
            );
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
                reservation.failed();
            } else {
                // Not a verdict on the code (controller down, device limit, store error):
                // it costs nothing.
                reservation.succeeded();
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
