//! `/api/v1/vouchers`: issue, list, read, change, revoke, printable cards.

use http::header;
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::error::ApiError;
use super::wire::{IssuedOut, VoucherBody, VoucherOut, VoucherPatchBody, VouchersOut};
use super::{body, created_or_ok, ok, Query, Result};
use crate::app::AppState;
use crate::serve::{full, Body};
use crate::store::rows::VoucherFilter;
use crate::usecase::passwords::Reader;
use crate::usecase::vouchers::Source;
use crate::vouchers::model::VoucherStatus;
use crate::vouchers::voucher::{NewVoucher, VoucherChanges};
use crate::vouchers::Ctx;

pub async fn issue(s: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response<Body>> {
    let b: VoucherBody = body(req).await?;
    let now = s.clock.now();
    let new = NewVoucher::parse(b.into(), &s.rentals.limits, now)?;
    // Password mode: the answer is one of the places that shows the password (audited).
    let (voucher, created, shown) = s
        .rentals
        .issue(ctx, new, Source::Api, Some(Reader::IssueAnswer))
        .await?;
    let wifi = shown.map(|sh| super::passwords::wifi_out(&sh.unit, &sh.key, &sh.password));
    created_or_ok(
        created,
        &IssuedOut {
            voucher: VoucherOut::new(&voucher, now),
            wifi,
        },
    )
}

pub async fn list(s: &AppState, req: &Request<Incoming>) -> Result<Response<Body>> {
    let q = Query::of(req)?;
    let status = match q.text("status") {
        None => None,
        Some(st) => Some(VoucherStatus::parse(&st).ok_or_else(|| {
            ApiError::validation(
                Some("status"),
                "status must be unused, active, suspended, expired or revoked",
            )
        })?),
    };
    let filter = VoucherFilter {
        unit_id: q.text("unit_id"),
        status,
        booking_ref: q.text("booking_ref"),
        limit: q.usize("limit", 100, 1000)?,
        offset: q.usize("offset", 0, usize::MAX / 2)?,
    };
    let now = s.clock.now();
    let (list, total) = s.rentals.list_vouchers(filter).await?;
    ok(&VouchersOut {
        vouchers: list.iter().map(|v| VoucherOut::new(v, now)).collect(),
        total,
    })
}

pub async fn get(s: &AppState, code: &str) -> Result<Response<Body>> {
    let v = s.rentals.get_voucher(code).await?;
    ok(&VoucherOut::new(&v, s.clock.now()))
}

pub async fn patch(
    s: &AppState,
    ctx: &Ctx,
    code: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let b: VoucherPatchBody = body(req).await?;
    if crate::vouchers::code::normalize(code).is_none() {
        return Err(ApiError::not_found("voucher"));
    }
    let now = s.clock.now();
    let changes = VoucherChanges::parse(b.into(), &s.rentals.limits)?;
    let after = s.rentals.patch_voucher(ctx, code, changes).await?;
    ok(&VoucherOut::new(&after, now))
}

pub async fn revoke(s: &AppState, ctx: &Ctx, code: &str) -> Result<Response<Body>> {
    let v = s.rentals.revoke_voucher(ctx, code).await?;
    ok(&VoucherOut::new(&v, s.clock.now()))
}

pub async fn card(s: &AppState, ctx: &Ctx, code: &str, card: &str) -> Result<Response<Body>> {
    let voucher = s.rentals.get_voucher(code).await?;
    let unit = s.rentals.get_unit(&voucher.unit_id).await?;
    let mut input = crate::card::CardInput::new(&unit, &voucher);
    // A password-mode voucher's card carries its Wi-Fi password (audited as a read).
    if let Some(sh) = s
        .rentals
        .voucher_password(ctx, &voucher.code, Reader::Card)
        .await?
    {
        input = input.with_password(sh.password, crate::vouchers::password::end(&voucher));
    }
    // Times as the guest's wall clock shows them (the password's end too): the unit's zone,
    // else the property's.
    let zone = s.zone_for(&unit);
    let input = input.with_times(|t| zone.to_local(t));
    let (ctype, bytes) = if card == "card.svg" {
        (
            "image/svg+xml; charset=utf-8",
            crate::card::svg_card(&input).into_bytes(),
        )
    } else {
        ("image/png", crate::card::png_card(&input))
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
