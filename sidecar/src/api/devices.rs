//! `/api/v1/vouchers/{code}/devices` and `/api/v1/units/{unit_id}/devices`: the host lets a
//! device without a browser in by its MAC (issue 14 item 4), and lists a voucher's devices.
//! On a unit in password mode the same routes give the device a Wi-Fi password bound to its
//! MAC instead (issue 18, `passwords::device`): one route for "let this TV in" whatever the
//! unit's access mode.

use hyper::body::Incoming;
use hyper::{Request, Response};

use super::wire::{DeviceBody, DevicesOut, GrantOut};
use super::{body, created_or_ok, ok, ApiError, Result};
use crate::app::AppState;
use crate::serve::Body;
use crate::usecase::devices::{DeviceTarget, NewDevice};
use crate::vouchers::model::AccessMode;
use crate::vouchers::Ctx;

/// `POST /api/v1/vouchers/{code}/devices`.
pub async fn authorize(
    s: &AppState,
    ctx: &Ctx,
    code: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let voucher = s.rentals.get_voucher(code).await?;
    if s.rentals.get_unit(&voucher.unit_id).await?.access.mode == AccessMode::Password {
        return super::passwords::device(s, ctx, code, req).await;
    }
    let b: DeviceBody = body(req).await?;
    let device = NewDevice::parse(&b.mac, b.name.as_deref())?;
    let target = DeviceTarget::Voucher(code.to_owned());
    let (grant, created) = s.rentals.authorize_device(ctx, target, device).await?;
    created_or_ok(created, &GrantOut::new(&grant, s.clock.now()))
}

/// `POST /api/v1/units/{unit_id}/devices`: on the voucher of the unit's stay in progress (in
/// password mode: of the unit's current password — the stay in progress, else the next one).
pub async fn authorize_for_unit(
    s: &AppState,
    ctx: &Ctx,
    unit_id: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    if s.rentals.get_unit(unit_id).await?.access.mode == AccessMode::Password {
        let current = s.rentals.current_passwords().await?.remove(unit_id);
        let Some(current) = current else {
            return Err(ApiError::new(
                http::StatusCode::CONFLICT,
                "conflict",
                format!("unit {unit_id} has no stay in progress or coming; give the voucher's code instead"),
            ));
        };
        return super::passwords::device(s, ctx, &current.voucher.code, req).await;
    }
    let b: DeviceBody = body(req).await?;
    let device = NewDevice::parse(&b.mac, b.name.as_deref())?;
    let target = DeviceTarget::CurrentStay(unit_id.to_owned());
    let (grant, created) = s.rentals.authorize_device(ctx, target, device).await?;
    created_or_ok(created, &GrantOut::new(&grant, s.clock.now()))
}

/// `GET /api/v1/vouchers/{code}/devices`: every device let in on it, newest first.
pub async fn list(s: &AppState, code: &str) -> Result<Response<Body>> {
    let list = s.rentals.voucher_devices(code).await?;
    let now = s.clock.now();
    ok(&DevicesOut {
        devices: list.iter().map(|g| GrantOut::new(g, now)).collect(),
    })
}
