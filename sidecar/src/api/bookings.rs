//! `/api/v1/units/{unit_id}/bookings`: the booking sync (audited as actor `sync`) — the
//! whole calendar in one call, and one booking at a time.

use hyper::body::Incoming;
use hyper::{Request, Response};

use super::error::ApiError;
use super::wire::{BookingBody, BookingOut, BookingsOut, CalendarBody, CalendarOut};
use super::{body, created_or_ok, no_content, ok, Result};
use crate::app::AppState;
use crate::serve::Body;
use crate::vouchers::booking::{BookingRef, BookingSpec, CalendarView};
use crate::vouchers::model::Actor;
use crate::vouchers::Ctx;

pub async fn list(s: &AppState, unit_id: &str) -> Result<Response<Body>> {
    let list = s.rentals.list_bookings(unit_id).await?;
    let now = s.clock.now();
    ok(&BookingsOut {
        bookings: list
            .iter()
            .map(|(b, v)| BookingOut::new(b, v.as_ref(), now))
            .collect(),
    })
}

/// `PUT /api/v1/units/{unit_id}/bookings`: the unit's whole calendar view.
pub async fn put_all(
    s: &AppState,
    ctx: &Ctx,
    unit_id: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let b: CalendarBody = body(req).await?;
    let view = CalendarView::parse(b.into(), &s.rentals.limits, s.clock.now())?;
    let synced = s
        .rentals
        .sync_calendar(&ctx.as_actor(Actor::Sync), unit_id, view)
        .await?;
    ok(&CalendarOut::from(synced))
}

pub async fn get(s: &AppState, unit_id: &str, booking_ref: &str) -> Result<Response<Body>> {
    let (b, v) = s.rentals.get_booking(unit_id, booking_ref).await?;
    ok(&BookingOut::new(&b, v.as_ref(), s.clock.now()))
}

pub async fn put(
    s: &AppState,
    ctx: &Ctx,
    unit_id: &str,
    booking_ref: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let b: BookingBody = body(req).await?;
    let r = BookingRef::parse(booking_ref)?;
    let spec = BookingSpec::parse(b.into(), &s.rentals.limits, s.clock.now())?;
    let ((b, v), created) = s
        .rentals
        .put_booking(&ctx.as_actor(Actor::Sync), unit_id, r, spec)
        .await?;
    created_or_ok(created, &BookingOut::new(&b, v.as_ref(), s.clock.now()))
}

pub async fn delete(
    s: &AppState,
    ctx: &Ctx,
    unit_id: &str,
    booking_ref: &str,
) -> Result<Response<Body>> {
    // A reference that cannot exist names no booking.
    let r = BookingRef::parse(booking_ref).map_err(|_| ApiError::not_found("booking"))?;
    s.rentals
        .delete_booking(&ctx.as_actor(Actor::Sync), unit_id, r)
        .await?;
    no_content()
}
