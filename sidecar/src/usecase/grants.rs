//! Grant use cases: the host takes one device off.

use crate::store::grants as g;
use crate::usecase::{not_found, Error, Rentals, UseCase};
use crate::vouchers::model::{AuditAction, EndReason, Grant, GrantState};
use crate::vouchers::Ctx;

impl Rentals {
    /// Revoke one grant (its device goes off through the outbox; the same code does not bring
    /// it back). Revoking an ended grant changes nothing and answers it again.
    pub async fn revoke_grant(&self, ctx: &Ctx, grant_id: &str) -> Result<Grant, Error> {
        let id = grant_id.to_owned();
        self.run(UseCase::GrantRevoke, ctx, move |tx| {
            let grant = g::get(tx.db, &id).map_err(not_found("grant"))?;
            if grant.state == GrantState::Ended {
                return Ok(grant);
            }
            tx.end_grant(&grant, EndReason::GrantRevoked)?;
            tx.audit(
                AuditAction::GrantRevoke,
                Some(&grant.unit_id),
                Some(&grant.code),
                Some(grant.client_mac.to_string()),
            )?;
            Ok::<_, Error>(g::get(tx.db, &id)?)
        })
        .await
    }
}
