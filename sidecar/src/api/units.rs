//! `/api/v1/units`, `/api/v1/units/{unit_id}/health` and `/api/v1/units/{unit_id}/revoke`.

use hyper::body::Incoming;
use hyper::{Request, Response};

use super::wire::{HealthOut, UnitBody, UnitOut, UnitRevokedOut, UnitsOut};
use super::{body, created_or_ok, no_content, ok, Query, Result};
use crate::app::AppState;
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
    let (unit, created) = s.rentals.create_unit(ctx, new).await?;
    if created {
        s.units_changed().await;
    }
    created_or_ok(created, &UnitOut::from(&unit))
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
    // Password mode: the controller must be able to take its keys (issue 18 item 4).
    let mut wanted = before.clone();
    changes.apply(&mut wanted)?;
    super::passwords::check_before_save(s, Some(&before), &wanted, validate).await?;
    let unit = s.rentals.patch_unit(ctx, id, changes).await?;
    s.units_changed().await;
    ok(&UnitOut::from(&unit))
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
    let now = s.clock.now();
    ok(&HealthOut::new(
        &unit.unit_id,
        s.plume.board.get(&unit.unit_id, now),
    ))
}

/// `POST /api/v1/units/{unit_id}/revoke`: every voucher of the unit that is not over, and
/// every device, in one transaction.
pub async fn revoke(s: &AppState, ctx: &Ctx, id: &str) -> Result<Response<Body>> {
    let r = s.rentals.revoke_unit(ctx, id).await?;
    ok(&UnitRevokedOut::new(id, r))
}
