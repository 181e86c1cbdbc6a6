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

use super::branding::{self, Accent};
use super::captive_api::{self, CaptiveStatus, DeviceState};
use super::errors::PortalError;
use super::form::LoginForm;
use super::i18n::{self, Lang};
use super::identity::{Asker, Refused};
use super::limiter::Attempt;
use super::page::{self, LoginExtras, LoginPage, StatusPage, SuccessExtras, SuccessPage, Welcome};
use super::probe;
use super::redirect::{Attachment as RedirectAttachment, RedirectContext, RedirectError};
use crate::app::AppState;
use crate::serve::{full, read_body, Body};
use crate::usecase::guest::DeviceAccess;
use crate::usecase::redemption::{self, ConsentGiven, RedeemError, RedeemRequest};
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
        (&Method::GET | &Method::HEAD, page::STATUS_PATH) => {
            get_status(&state, req.uri().query().unwrap_or(""), peer.ip(), lang).await
        }
        (&Method::POST, page::DISCONNECT_ACTION) => {
            post_disconnect(&state, req, peer.ip(), lang, request_id).await
        }
        (&Method::GET | &Method::HEAD, p) if p.starts_with(page::LOGO_PATH) => {
            get_logo(&state, &p[page::LOGO_PATH.len()..], lang).await
        }
        (&Method::GET | &Method::HEAD, CAPTIVE_API_PATH) => {
            captive_api(&state, &req, peer.ip(), lang).await
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

/// Where the Captive Portal API answers (RFC 8908; its URL goes into DHCP option 114).
pub const CAPTIVE_API_PATH: &str = "/captive-portal/api";

fn html(status: StatusCode, body: String) -> Response<Body> {
    html_csp(status, body, page::CONTENT_SECURITY_POLICY)
}

/// [`html`] under the policy `csp` (the page's own, [`page::policy_for`]).
fn html_csp(status: StatusCode, body: String, csp: &'static str) -> Response<Body> {
    let mut r = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("content-security-policy", csp)
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
    let mut hidden = ctx.to_hidden_fields();
    // The terms the page shows, so that the consent names exactly them (issue 17).
    if let Some(h) = unit.and_then(|u| u.guest_page.terms_sha256.clone()) {
        hidden.push(("terms_sha256", h));
    }
    let accent = unit.and_then(accent_of);
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
            terms_text: unit.and_then(|u| u.guest_page.terms_text.as_deref()),
            accent: accent.as_ref(),
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
    if unit.is_some_and(has_terms) && !form.accept_terms {
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
        // The use case checks the consent against the unit's terms in its transaction.
        consent: form.accept_terms.then(|| ConsentGiven {
            terms_sha256: Some(form.terms_sha256.clone()).filter(|h| !h.is_empty()),
            terms_url: None,
        }),
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
            let logo = logo_src(&done.unit);
            let welcome = welcome_of(&done.unit, logo.as_deref());
            let accent = accent_of(&done.unit);
            html_csp(
                StatusCode::OK,
                page::render_success_with(
                    &SuccessPage {
                        lang,
                        unit_name: Some(&done.unit.name),
                        continue_url: continue_url.as_deref(),
                        expires_at: Some(local_time(state, &done.unit, done.grant.expires_at)),
                    },
                    &SuccessExtras {
                        welcome: Some(&welcome),
                        status_link: true,
                        accent: accent.as_ref(),
                    },
                ),
                page::policy_for(Some(&welcome)),
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
                RedeemError::TermsNotAccepted => {
                    (PortalError::TermsNotAccepted, "terms_not_accepted")
                }
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

// --- the guest's pages after login (issue 17) ---------------------------------------------

/// The unit shows terms (text served by the portal, or the older link): the box is required.
fn has_terms(u: &Unit) -> bool {
    u.terms_url.is_some() || u.guest_page.terms_text.is_some()
}

/// The unit's accent, checked again (it was checked at save; a rule change drops it).
fn accent_of(u: &Unit) -> Option<Accent> {
    branding::check_accent(u.guest_page.accent_color.as_deref()?).ok()
}

/// Where the portal serves the unit's logo.
fn logo_src(u: &Unit) -> Option<String> {
    u.guest_page
        .logo_sha256
        .as_ref()
        .map(|h| format!("{}{h}", page::LOGO_PATH))
}

/// The unit's welcome block.
fn welcome_of<'a>(u: &'a Unit, logo: Option<&'a str>) -> Welcome<'a> {
    let p = &u.guest_page;
    Welcome {
        title: p.welcome_title.as_deref(),
        text: p.welcome_text.as_deref(),
        checkout: p.checkout_time,
        host_contact: p.host_contact.as_deref(),
        logo_src: logo,
    }
}

/// A time as the guest sees it: the wall clock of the unit's zone (its own, else the
/// property's that Home Assistant sets, DESIGN §10 "Time zone"), else UTC (labelled "UTC" on
/// the page).
fn local_time(state: &AppState, unit: &Unit, at: time::OffsetDateTime) -> time::OffsetDateTime {
    state.zone_for(unit).to_local(at)
}

/// Who is asking, for the pages after login (DESIGN §10): the device is the address it asks
/// from together with the MAC the controller reported at login — the active grant whose
/// `clientIp` is this peer, on a unit whose guest addresses reach the portal untranslated
/// (with address translation every guest shares one address, so none is shown). A redirect
/// in the query (`clientMac`, `clientIp`, …) must pass the address check and narrows to its
/// MAC. `Err` is the page to answer instead.
async fn who_is_online(
    state: &AppState,
    ctx: Option<&RedirectContext>,
    peer: IpAddr,
    lang: Lang,
) -> Result<Option<(DeviceAccess, Unit)>, Response<Body>> {
    let units = state.units().await.map_err(|e| {
        tracing::error!(error = %e, "portal: units cannot be read");
        error_page(
            lang,
            PortalError::Internal,
            StatusCode::INTERNAL_SERVER_ERROR,
        )
    })?;
    if let Some(ctx) = ctx {
        let net = Network {
            units: units.clone(),
            device: device_of(ctx).ok(),
        };
        if identify_page(state, ctx, peer, &net).is_err() {
            let err = PortalError::AddressMismatch;
            return Err(error_page(lang, err, status_of(&err)));
        }
    }
    let eligible: Vec<String> = units
        .iter()
        .filter(|u| !u.guest_checks.address_translation)
        .map(|u| u.unit_id.clone())
        .collect();
    let access = state
        .rentals
        .device_access(peer, ctx.map(|c| c.client_mac), eligible)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "portal: grants cannot be read");
            error_page(
                lang,
                PortalError::Internal,
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        })?;
    Ok(access.and_then(|a| {
        let unit = units.iter().find(|u| u.unit_id == a.grant.unit_id)?.clone();
        Some((a, unit))
    }))
}

/// `GET /portal/status`: time left, end, devices, contact, welcome and "disconnect this
/// device" for a device that is online; the login form for one that is not (when the
/// controller's redirect came with the request), else how to reach it.
async fn get_status(state: &AppState, query: &str, peer: IpAddr, lang: Lang) -> Response<Body> {
    let ctx = if query.is_empty() {
        None
    } else {
        RedirectContext::from_query(query).ok()
    };
    let found = match who_is_online(state, ctx.as_ref(), peer, lang).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let Some((access, unit)) = found else {
        return match ctx {
            Some(_) => get_portal(state, query, peer, lang).await,
            None => html(StatusCode::OK, page::render_offline(lang, None)),
        };
    };
    let mac = access.grant.client_mac;
    let csrf = state
        .who
        .key()
        .issue_for(&mac, peer.to_canonical(), now_unix(state));
    let hidden = vec![("clientMac", mac.to_string())];
    let logo = logo_src(&unit);
    let welcome = welcome_of(&unit, logo.as_deref());
    let accent = accent_of(&unit);
    let body = page::render_status(&StatusPage {
        lang,
        unit_name: Some(&unit.name),
        now: state.clock.now(),
        expires_at: local_time(state, &unit, access.grant.expires_at),
        devices_active: access.devices_active,
        max_devices: access.voucher.max_devices,
        csrf: &csrf,
        hidden: &hidden,
        welcome: Some(&welcome),
        accent: accent.as_ref(),
    });
    html_csp(StatusCode::OK, body, page::policy_for(Some(&welcome)))
}

/// `POST /portal/disconnect`: the device ends its own access (CSRF token bound to its MAC
/// and address); the grant ends through the outbox in one use-case transaction. A request
/// for a device that is not online, or with a stale token, changes nothing.
async fn post_disconnect(
    state: &AppState,
    req: Request<Incoming>,
    peer: IpAddr,
    lang: Lang,
    request_id: String,
) -> Response<Body> {
    let body = match read_body(req, MAX_FORM).await {
        Ok((_, b)) => b,
        Err((_, err)) => {
            let status = match err {
                crate::serve::BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                crate::serve::BodyError::Broken => StatusCode::BAD_REQUEST,
                crate::serve::BodyError::TimedOut => StatusCode::REQUEST_TIMEOUT,
            };
            let mut r = error_page(lang, PortalError::InvalidRequest, status);
            crate::serve::close_connection(&mut r);
            return r;
        }
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let first = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let Ok(mac) = first("clientMac").parse::<crate::net::Mac>() else {
        return error_page(lang, PortalError::InvalidRequest, StatusCode::BAD_REQUEST);
    };
    let peer = peer.to_canonical();
    if let Err(e) = state
        .who
        .key()
        .verify_for(&first("csrf"), &mac, peer, now_unix(state))
    {
        tracing::debug!(error = %e, "portal: disconnect with a stale or foreign token");
        let err = PortalError::SessionExpired;
        return error_page(lang, err, status_of(&err));
    }
    let units = match state.units().await {
        Ok(u) => u,
        Err(_) => {
            return error_page(
                lang,
                PortalError::Internal,
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    };
    let eligible: Vec<String> = units
        .iter()
        .filter(|u| !u.guest_checks.address_translation)
        .map(|u| u.unit_id.clone())
        .collect();
    let access = match state.rentals.device_access(peer, Some(mac), eligible).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "portal: grants cannot be read");
            return error_page(
                lang,
                PortalError::Internal,
                StatusCode::INTERNAL_SERVER_ERROR,
            );
        }
    };
    let Some(access) = access else {
        return html(StatusCode::OK, page::render_offline(lang, None));
    };
    let actor = Ctx {
        correlation_id: request_id,
        actor: Actor::Portal,
    };
    match state
        .rentals
        .guest_disconnect(&actor, &access.grant.grant_id, mac, peer)
        .await
    {
        Ok(grant) => {
            tracing::info!(unit_id = %grant.unit_id, "guest disconnected their device");
            let unit = units.iter().find(|u| u.unit_id == grant.unit_id);
            let accent = unit.and_then(accent_of);
            html(
                StatusCode::OK,
                page::render_disconnected(lang, unit.map(|u| u.name.as_str()), accent.as_ref()),
            )
        }
        Err(crate::usecase::Error::NotFound(_)) => {
            html(StatusCode::OK, page::render_offline(lang, None))
        }
        Err(e) => {
            tracing::error!(error = %e, "portal: disconnect failed");
            error_page(
                lang,
                PortalError::Internal,
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    }
}

/// `GET /portal/logo/<sha256>`: a unit's logo, with the type detected at upload, `nosniff`,
/// cached for good (the name is its content's hash).
async fn get_logo(state: &AppState, sha: &str, lang: Lang) -> Response<Body> {
    let valid = sha.len() == 64 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let found = if valid {
        state.rentals.logo(sha).await
    } else {
        Ok(None)
    };
    match found {
        Ok(Some(logo)) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, logo.content_type)
            .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
            .header("x-content-type-options", "nosniff")
            .header("content-security-policy", "default-src 'none'")
            .header("cross-origin-resource-policy", "same-origin")
            .body(full(logo.data))
            .expect("static response parts"),
        Ok(None) => error_page(lang, PortalError::InvalidRequest, StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::error!(error = %e, "portal: logo cannot be read");
            error_page(
                lang,
                PortalError::Internal,
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    }
}

/// The origin the Captive Portal API names: the host the phone asked over HTTPS, else the
/// configured `server.public_portal_url` when it is `https`. `None`: no HTTPS, no API
/// (RFC 8908 §4 requires it).
fn https_origin(state: &AppState, req: &Request<Incoming>) -> Option<String> {
    if req.extensions().get::<crate::serve::OverTls>().is_some() {
        let host = req.headers().get(header::HOST)?.to_str().ok()?;
        let url = url::Url::parse(&format!("https://{host}/")).ok()?;
        let host = url.host_str()?;
        return Some(match url.port() {
            Some(p) => format!("https://{host}:{p}"),
            None => format!("https://{host}"),
        });
    }
    let public = url::Url::parse(state.public_portal_url.as_deref()?).ok()?;
    (public.scheme() == "https").then(|| public.origin().ascii_serialization())
}

/// `GET /captive-portal/api` (RFC 8908): `captive`, the login and status pages, the seconds
/// left for the asking device, identified as every portal page identifies it.
async fn captive_api(
    state: &AppState,
    req: &Request<Incoming>,
    peer: IpAddr,
    lang: Lang,
) -> Response<Body> {
    let Some(origin) = https_origin(state, req) else {
        return error_page(lang, PortalError::InvalidRequest, StatusCode::NOT_FOUND);
    };
    let found = match who_is_online(state, None, peer, lang).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let device = match &found {
        Some((a, _)) => DeviceState::Online {
            expires_at: a.grant.expires_at,
        },
        None => DeviceState::Captive,
    };
    let status_url = format!("{origin}{}", page::STATUS_PATH);
    match CaptiveStatus::new(device, state.clock.now(), &status_url, Some(&status_url)) {
        Ok(doc) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, captive_api::MEDIA_TYPE)
            .header(header::CACHE_CONTROL, captive_api::CACHE_CONTROL)
            .header("x-content-type-options", "nosniff")
            .body(full(doc.to_json()))
            .expect("static response parts"),
        Err(e) => {
            tracing::warn!(error = %e, "portal: Captive Portal API cannot be answered");
            error_page(lang, PortalError::InvalidRequest, StatusCode::NOT_FOUND)
        }
    }
}
