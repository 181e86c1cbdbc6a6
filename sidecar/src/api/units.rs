//! `/api/v1/units`, `/api/v1/units/{unit_id}/health` (Plume and the controller combined) and
//! `/api/v1/units/{unit_id}/revoke`.

use hyper::body::Incoming;
use hyper::{Request, Response};

use std::borrow::Cow;

use http::StatusCode;

use super::error::ApiError;
use super::wire::{
    ConsentOut, ConsentsOut, HealthOut, PlumeCheckOut, UnitBody, UnitOut, UnitRevokedOut,
    UnitSavedOut, UnitsOut,
};
use super::{body, created_or_ok, no_content, ok, Query, Result};
use crate::app::AppState;
use crate::health::PlumeServiceError;
use crate::serve::Body;
use crate::vouchers::unit::{NewUnit, UnitChanges};
use crate::vouchers::Ctx;

pub async fn list(s: &AppState) -> Result<Response<Body>> {
    let units = s.rentals.list_units().await?;
    ok(&UnitsOut {
        units: units.iter().map(UnitOut::from).collect(),
    })
}

pub async fn create(s: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response<Body>> {
    let validate = Query::of(&req)?.bool("validate")?.unwrap_or(true);
    let b: UnitBody = body(req).await?;
    let mut new = NewUnit::parse(b.into())?;
    // Before the write, outside any transaction: controller and Plume calls may take seconds.
    if validate {
        // The site is checked at the controller (its id looked up or verified) before the
        // unit is stored (issue 12b).
        let (site, id) = new.site();
        let id = s.rentals.verify_site(site, id).await?;
        new.set_site_id(id);
    }
    // Password mode: the controller must be able to take its keys (issue 18 item 4).
    let wanted = new.build(new.unit_id.clone().unwrap_or_default(), s.clock.now())?;
    super::passwords::check_before_save(s, None, &wanted, validate).await?;
    let plume_check = match new.plume_ids() {
        Some((c, l)) => Some(verify_plume(s, c, l, validate).await?),
        None => None,
    };
    let (unit, created) = s.rentals.create_unit(ctx, new).await?;
    if created {
        s.units_changed().await;
    }
    created_or_ok(
        created,
        &UnitSavedOut {
            unit: UnitOut::from(&unit),
            plume_check,
        },
    )
}

pub async fn get(s: &AppState, id: &str) -> Result<Response<Body>> {
    ok(&UnitOut::from(&s.rentals.get_unit(id).await?))
}

pub async fn patch(
    s: &AppState,
    ctx: &Ctx,
    id: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let validate = Query::of(&req)?.bool("validate")?.unwrap_or(true);
    let b: UnitBody = body(req).await?;
    let mut changes = UnitChanges::parse(b.into())?;
    let before = s.rentals.get_unit(id).await?;
    if validate && changes.touches_site() {
        // Check the site the unit would have, when it is another one than it has.
        let mut would = before.clone();
        changes.apply(&mut would)?;
        let moved = !would.omada_site.eq_ignore_ascii_case(&before.omada_site)
            || would.omada_site_id != before.omada_site_id
            || would.omada_site_id.is_none();
        if moved {
            let site_id = s
                .rentals
                .verify_site(&would.omada_site, would.omada_site_id.as_deref())
                .await?;
            changes.set_site_id(site_id);
        }
    }
    // The unit as it would be: password mode must fit the controller (issue 18 item 4), and
    // Plume ids the change sets are verified (issue 15 item 1; a change may name only one).
    let mut wanted = before.clone();
    changes.apply(&mut wanted)?;
    super::passwords::check_before_save(s, Some(&before), &wanted, validate).await?;
    let plume_check = match (
        changes.touches_plume(),
        &wanted.plume_customer_id,
        &wanted.plume_location_id,
    ) {
        (true, Some(c), Some(l)) => Some(verify_plume(s, c, l, validate).await?),
        _ => None,
    };
    let unit = s.rentals.patch_unit(ctx, id, changes).await?;
    s.units_changed().await;
    ok(&UnitSavedOut {
        unit: UnitOut::from(&unit),
        plume_check,
    })
}

/// Check a unit's Plume ids before they are saved (issue 15 item 1). A wrong id refuses the
/// save: 422 naming the field. Without Plume settings the check is skipped, and when Plume
/// cannot be asked (unreachable, rate limit, its own settings failing) the ids are saved
/// unverified; both say so in `plume_check`, and the poller reports on the ids later.
/// `?validate=false` skips the check like the controller's.
async fn verify_plume(
    s: &AppState,
    customer_id: &str,
    location_id: &str,
    validate: bool,
) -> Result<PlumeCheckOut> {
    if !validate {
        return Ok(PlumeCheckOut {
            status: Cow::Borrowed("skipped"),
            location_name: None,
            message: Some(
                "Saved with ?validate=false: the ids were not checked; the health poller reports on them".into(),
            ),
        });
    }
    if s.plume.settings().is_none() {
        return Ok(PlumeCheckOut {
            status: Cow::Borrowed("skipped"),
            location_name: None,
            message: Some(
                "Plume is not configured: the ids were saved without a check; they are checked once Plume is set up".into(),
            ),
        });
    }
    match s.plume.verify_location(customer_id, location_id).await {
        Ok(v) => Ok(PlumeCheckOut {
            status: Cow::Borrowed("verified"),
            location_name: v.name,
            message: None,
        }),
        Err(PlumeServiceError::Plume(e)) if e.is_misconfiguration() => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "plume_rejected",
            e.to_string(),
        )
        .with_field(e.field().unwrap_or("plume_customer_id"))),
        Err(PlumeServiceError::Plume(e)) => {
            tracing::warn!(error = %e, "the unit's Plume ids could not be checked; saved unverified");
            Ok(PlumeCheckOut {
                status: Cow::Borrowed("unverified"),
                location_name: None,
                message: Some(format!(
                    "Plume could not check the ids ({e}); they were saved, and the health poller reports on them"
                )),
            })
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn delete(
    s: &AppState,
    ctx: &Ctx,
    id: &str,
    req: &Request<Incoming>,
) -> Result<Response<Body>> {
    let force = Query::of(req)?.bool("force")?.unwrap_or(false);
    s.rentals.delete_unit(ctx, id, force).await?;
    s.units_changed().await;
    no_content()
}

pub async fn health(s: &AppState, id: &str) -> Result<Response<Body>> {
    let unit = s.rentals.get_unit(id).await?;
    ok(&HealthOut::new(&unit.unit_id, s.health.unit(&unit.unit_id)))
}

/// `POST /api/v1/units/{unit_id}/revoke`: every voucher of the unit that is not over, and
/// every device, in one transaction.
pub async fn revoke(s: &AppState, ctx: &Ctx, id: &str) -> Result<Response<Body>> {
    let r = s.rentals.revoke_unit(ctx, id).await?;
    ok(&UnitRevokedOut::new(id, r))
}

/// `PUT /api/v1/units/{unit_id}/logo`: the image file itself as the body (PNG, JPEG or WebP,
/// at most 256 KiB and 2048 px a side; the type is detected from the bytes, whatever the
/// request's `Content-Type` says). A refused image changes nothing.
pub async fn put_logo(
    s: &AppState,
    ctx: &Ctx,
    id: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    use crate::portal::branding::{self, MAX_LOGO_BYTES};
    let (_, bytes) = crate::serve::read_body(req, MAX_LOGO_BYTES)
        .await
        .map_err(|(_, err)| match err {
            crate::serve::BodyError::TooLarge { drained } => {
                let mut e = ApiError::new(
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("logo: the file is larger than {MAX_LOGO_BYTES} bytes"),
                )
                .with_field("logo");
                e.close = !drained;
                e
            }
            _ => ApiError::validation(Some("logo"), "logo: the request body could not be read"),
        })?;
    let logo = branding::check_logo(&bytes)
        .map_err(|e| ApiError::validation(Some("logo"), format!("logo: {e}")))?;
    let row = crate::store::guest_page::LogoRow {
        sha256: logo.sha256,
        content_type: logo.kind.mime().to_owned(),
        width: logo.width,
        height: logo.height,
        data: bytes.to_vec(),
    };
    let unit = s.rentals.set_unit_logo(ctx, id, row).await?;
    s.units_changed().await;
    ok(&UnitOut::from(&unit))
}

/// `DELETE /api/v1/units/{unit_id}/logo`.
pub async fn delete_logo(s: &AppState, ctx: &Ctx, id: &str) -> Result<Response<Body>> {
    let unit = s.rentals.delete_unit_logo(ctx, id).await?;
    s.units_changed().await;
    ok(&UnitOut::from(&unit))
}

/// `GET /api/v1/units/{unit_id}/consents[?since=RFC3339&limit=N]`: the terms consents the
/// unit's grants recorded, newest first.
pub async fn consents(s: &AppState, id: &str, req: &Request<Incoming>) -> Result<Response<Body>> {
    let q = Query::of(req)?;
    let since = match q.text("since") {
        None => None,
        Some(v) => Some(
            time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                .map_err(|_| ApiError::bad_query("since must be an RFC 3339 timestamp"))?,
        ),
    };
    let max = crate::usecase::guest::MAX_CONSENTS as usize;
    let limit = q.usize("limit", 1000, max)? as u32;
    let list = s.rentals.consents(id, since, limit).await?;
    ok(&ConsentsOut {
        consents: list.iter().map(ConsentOut::from).collect(),
    })
}
