//! `GET /api/v1/audit`: the audit log, newest first.

use hyper::body::Incoming;
use hyper::{Request, Response};

use super::wire::{AuditListOut, AuditOut};
use super::{ok, Query, Result};
use crate::app::AppState;
use crate::serve::Body;

pub async fn list(s: &AppState, req: &Request<Incoming>) -> Result<Response<Body>> {
    let limit = Query::of(req)?.usize("limit", 50, 1000)?;
    let entries = s.rentals.audit(limit).await?;
    ok(&AuditListOut {
        entries: entries.iter().map(AuditOut::from).collect(),
    })
}
