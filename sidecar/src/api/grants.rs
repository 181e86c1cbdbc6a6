//! `/api/v1/grants`: the devices let in, and revoking one.

use hyper::body::Incoming;
use hyper::{Request, Response};

use super::wire::{GrantOut, GrantsOut};
use super::{ok, Query, Result};
use crate::app::AppState;
use crate::serve::Body;
use crate::store::grants::GrantFilter;
use crate::vouchers::Ctx;

pub async fn list(s: &AppState, req: &Request<Incoming>) -> Result<Response<Body>> {
    let q = Query::of(req)?;
    let filter = GrantFilter {
        unit_id: q.text("unit_id"),
        code: q
            .text("code")
            .and_then(|c| crate::vouchers::code::normalize(&c)),
        active: q.bool("active")?,
        limit: q.usize("limit", 500, 10_000)?,
    };
    let now = s.clock.now();
    let list = s.rentals.list_grants(filter).await?;
    ok(&GrantsOut {
        grants: list.iter().map(|g| GrantOut::new(g, now)).collect(),
    })
}

pub async fn revoke(s: &AppState, ctx: &Ctx, id: &str) -> Result<Response<Body>> {
    let grant = s.rentals.revoke_grant(ctx, id).await?;
    ok(&GrantOut::new(&grant, s.clock.now()))
}
