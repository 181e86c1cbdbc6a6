//! `GET /api/v1/events`: the event bus as Server-Sent Events, and the one place an
//! [`Event`] becomes JSON.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{header, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::Response;
use tokio::sync::broadcast::error::RecvError;

use super::wire::{
    BookingCancelledOut, BookingRestoredOut, BookingVanishedOut, ConnectivityOut,
    ControllerCheckEventOut, ControllerProblemOut, FailedStepOut, GrantEndedOut, HealthChangedOut,
    HostTestResultOut, UnitChangedOut, VoucherIssuedOut, VoucherRedeemedOut, VoucherRevokedOut,
    VoucherUpdatedOut,
};
use crate::app::AppState;
use crate::clock::rfc3339 as ts;
use crate::events::{BookingEventRef, CancelCause};
use crate::events::{Event, GrantRef, Published, UnitChange};
use crate::serve::Body;

/// How often a comment line keeps proxies and clients from timing the stream out.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn grant_ended(g: &GrantRef, at: String) -> GrantEndedOut {
    GrantEndedOut {
        unit_id: g.unit_id.clone(),
        code: g.code.clone(),
        grant_id: g.grant_id.clone(),
        client_mac: g.client_mac.to_string(),
        at,
    }
}

/// An event's name and its `data:` JSON.
pub fn encode(p: &Published) -> (&'static str, String) {
    let at = ts(p.at);
    let json = |r: serde_json::Result<String>| r.unwrap_or_else(|_| "{}".to_owned());
    match &*p.event {
        Event::VoucherIssued {
            unit_id,
            code,
            booking_ref,
            valid_until,
            expires_at,
        } => (
            "voucher_issued",
            json(serde_json::to_string(&VoucherIssuedOut {
                unit_id: unit_id.clone(),
                code: code.clone(),
                booking_ref: booking_ref.clone(),
                valid_until: valid_until.map(ts),
                expires_at: expires_at.map(ts),
                at,
            })),
        ),
        Event::VoucherRedeemed {
            grant,
            booking_ref,
            by_host,
        } => (
            "voucher_redeemed",
            json(serde_json::to_string(&VoucherRedeemedOut {
                unit_id: grant.unit_id.clone(),
                code: grant.code.clone(),
                grant_id: grant.grant_id.clone(),
                client_mac: grant.client_mac.to_string(),
                booking_ref: booking_ref.clone(),
                by_host: *by_host,
                at,
            })),
        ),
        Event::VoucherRevoked {
            unit_id,
            code,
            booking_ref,
            devices,
        } => (
            "voucher_revoked",
            json(serde_json::to_string(&VoucherRevokedOut {
                unit_id: unit_id.clone(),
                code: code.clone(),
                booking_ref: booking_ref.clone(),
                devices: *devices,
                at,
            })),
        ),
        Event::VoucherUpdated {
            unit_id,
            code,
            valid_until,
            max_devices,
        } => (
            "voucher_updated",
            json(serde_json::to_string(&VoucherUpdatedOut {
                unit_id: unit_id.clone(),
                code: code.clone(),
                valid_until: valid_until.map(ts),
                max_devices: *max_devices,
                at,
            })),
        ),
        Event::GrantExpired(g) => (
            "grant_expired",
            json(serde_json::to_string(&grant_ended(g, at))),
        ),
        Event::GrantRevoked(g) => (
            "grant_revoked",
            json(serde_json::to_string(&grant_ended(g, at))),
        ),
        Event::HealthChanged {
            unit_id,
            status,
            previous,
            reasons,
        } => (
            "health_changed",
            json(serde_json::to_string(&HealthChangedOut {
                unit_id: unit_id.clone(),
                status: Cow::Borrowed(status.as_str()),
                previous: Cow::Borrowed(previous.as_str()),
                reasons: reasons.clone(),
                at,
            })),
        ),
        Event::ControllerStatus {
            connected,
            last_error,
        } => (
            "controller_status",
            json(serde_json::to_string(&ConnectivityOut {
                connected: *connected,
                last_error: last_error.clone(),
                at,
            })),
        ),
        Event::PlumeStatus {
            connected,
            last_error,
        } => (
            "plume_status",
            json(serde_json::to_string(&ConnectivityOut {
                connected: *connected,
                last_error: last_error.clone(),
                at,
            })),
        ),
        Event::UnitChanged { unit_id, change } => (
            "unit_changed",
            json(serde_json::to_string(&UnitChangedOut {
                unit_id: unit_id.clone(),
                change: Cow::Borrowed(match change {
                    UnitChange::Created => "created",
                    UnitChange::Updated => "updated",
                    UnitChange::Deleted => "deleted",
                }),
                at,
            })),
        ),
        Event::ControllerProblem {
            problem,
            outbox_waiting,
        } => (
            "controller_problem",
            json(serde_json::to_string(&ControllerProblemOut {
                problem: problem.clone(),
                outbox_waiting: *outbox_waiting,
                at,
            })),
        ),
        Event::ControllerCheck { ok, steps, failed } => (
            "controller_check",
            json(serde_json::to_string(&ControllerCheckEventOut {
                ok: *ok,
                steps: *steps,
                failed: failed
                    .iter()
                    .map(|f| FailedStepOut {
                        step: f.step.clone(),
                        site: f.site.clone(),
                        message: f.message.clone(),
                        controller_message: f.controller_message.clone(),
                    })
                    .collect(),
                at,
            })),
        ),
        Event::HostTestResult(r) => (
            "host_test_result",
            json(serde_json::to_string(&HostTestResultOut {
                unit_id: r.unit_id.clone(),
                code: r.code.clone(),
                client_mac: r.client_mac.to_string(),
                ok: r.ok,
                let_in_at: r.let_in_at.map(ts),
                revoked_at: ts(r.revoked_at),
                disconnected: r.disconnected,
                authorization_state: Cow::Borrowed(r.authorization_state.as_str()),
                message: r.message.clone(),
                at,
            })),
        ),
        Event::BookingVanished {
            booking: b,
            during_stay,
            cancel_at,
        } => {
            let (unit_id, booking_ref, guest_name, code, start, end) = booking_fields(b);
            (
                "booking_vanished",
                json(serde_json::to_string(&BookingVanishedOut {
                    unit_id,
                    booking_ref,
                    guest_name,
                    code,
                    start,
                    end,
                    during_stay: *during_stay,
                    cancel_at: cancel_at.map(ts),
                    at,
                })),
            )
        }
        Event::BookingRestored {
            booking: b,
            was_cancelled,
        } => {
            let (unit_id, booking_ref, guest_name, code, start, end) = booking_fields(b);
            (
                "booking_restored",
                json(serde_json::to_string(&BookingRestoredOut {
                    unit_id,
                    booking_ref,
                    guest_name,
                    code,
                    start,
                    end,
                    was_cancelled: *was_cancelled,
                    at,
                })),
            )
        }
        Event::BookingCancelled { booking: b, cause } => {
            let (unit_id, booking_ref, guest_name, code, start, end) = booking_fields(b);
            (
                "booking_cancelled",
                json(serde_json::to_string(&BookingCancelledOut {
                    unit_id,
                    booking_ref,
                    guest_name,
                    code,
                    start,
                    end,
                    cause: Cow::Borrowed(match cause {
                        CancelCause::Deleted => "deleted",
                        CancelCause::Absent => "absent",
                    }),
                    at,
                })),
            )
        }
    }
}

type BookingFields = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

/// unit_id, booking_ref, guest_name, code, start, end.
fn booking_fields(b: &BookingEventRef) -> BookingFields {
    (
        b.unit_id.clone(),
        b.booking_ref.clone(),
        b.guest_name.clone(),
        b.code.clone(),
        ts(b.start),
        ts(b.end),
    )
}

pub fn stream(state: &AppState) -> Response<Body> {
    let rx = state.events.subscribe();
    let shutdown = state.shutdown.clone();
    let first = Bytes::from_static(b": connected\n\n");
    let s = futures_util::stream::unfold(
        (rx, Some(first), shutdown),
        |(mut rx, first, shutdown)| async move {
            if let Some(f) = first {
                return Some((Ok::<_, Infallible>(Frame::data(f)), (rx, None, shutdown)));
            }
            // The stream ends when the sidecar shuts down, so the drain does not wait for it.
            let next = tokio::select! {
                _ = shutdown.cancelled() => return None,
                r = tokio::time::timeout(KEEPALIVE, rx.recv()) => r,
            };
            let text = match next {
                Err(_) => ": keepalive\n\n".to_owned(),
                Ok(Ok(ev)) => {
                    let (name, data) = encode(&ev);
                    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                    format!("event: {name}\nid: {id}\ndata: {data}\n\n")
                }
                Ok(Err(RecvError::Lagged(n))) => format!(": lagged {n} events\n\n"),
                Ok(Err(RecvError::Closed)) => return None,
            };
            Some((Ok(Frame::data(Bytes::from(text))), (rx, None, shutdown)))
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .body(StreamBody::new(s).boxed())
        .expect("static response parts")
}
