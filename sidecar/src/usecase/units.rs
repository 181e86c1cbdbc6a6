//! Unit use cases: create, change, delete, revoke every guest's access — each one
//! transaction.

use crate::events::{Event, UnitChange};
use crate::store::{grants as g, rows};
use crate::usecase::{bookings, not_found, passwords, vouchers, Error, Rentals, Tx, UseCase};
use crate::vouchers::model::{AuditAction, EndReason, Unit};
use crate::vouchers::unit::{same_settings, slugify, NewUnit, UnitChanges};
use crate::vouchers::{invalid, Ctx};

/// The outcome of a create: the unit, and whether it is new (false: an identical replay).
pub type Created = (Unit, bool);

/// What revoking a unit's access did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitRevoked {
    /// The vouchers revoked (live or suspended ones; oldest first).
    pub revoked: Vec<String>,
    /// Devices taken off.
    pub devices: usize,
}

impl Rentals {
    /// Create a unit. An identical create of a unit that exists (a client retrying) answers
    /// that unit; a different one with a taken `unit_id` is a conflict.
    pub async fn create_unit(&self, ctx: &Ctx, new: NewUnit) -> Result<Created, Error> {
        self.run(UseCase::UnitCreate, ctx, move |tx| create(tx, &new))
            .await
    }

    /// Change a unit; its booking vouchers follow new grace minutes in the same transaction.
    pub async fn patch_unit(
        &self,
        ctx: &Ctx,
        unit_id: &str,
        changes: UnitChanges,
    ) -> Result<Unit, Error> {
        if changes.unit_id().is_some_and(|id| id != unit_id) {
            return Err(invalid("unit_id", "unit_id cannot be changed").into());
        }
        let unit_id = unit_id.to_owned();
        self.run(UseCase::UnitPatch, ctx, move |tx| {
            patch(tx, &unit_id, &changes)
        })
        .await
    }

    /// Revoke every voucher of the unit that is not over (unused, active or suspended) and
    /// take every device off, in one transaction (Home Assistant's "revoke unit access").
    /// Vouchers revoked because their booking went missing become final too: the booking
    /// coming back does not bring them back. Revoking again revokes nothing more.
    pub async fn revoke_unit(&self, ctx: &Ctx, unit_id: &str) -> Result<UnitRevoked, Error> {
        let unit_id = unit_id.to_owned();
        self.run(UseCase::UnitRevoke, ctx, move |tx| revoke_all(tx, &unit_id))
            .await
    }

    /// Delete a unit. With live vouchers it is refused unless `force`, which revokes them
    /// (and takes their devices off) in the same transaction.
    pub async fn delete_unit(&self, ctx: &Ctx, unit_id: &str, force: bool) -> Result<(), Error> {
        let unit_id = unit_id.to_owned();
        self.run(UseCase::UnitDelete, ctx, move |tx| {
            delete(tx, &unit_id, force)
        })
        .await
    }
}

fn create(tx: &mut Tx<'_>, new: &NewUnit) -> Result<Created, Error> {
    let unit_id = match &new.unit_id {
        Some(id) => {
            if let Some(existing) = match rows::unit_get(tx.db, id) {
                Ok(u) => Some(u),
                Err(crate::store::StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            } {
                let wanted = new.build(id.clone(), tx.now)?;
                if same_settings(&existing, &wanted) {
                    return Ok((existing, false));
                }
            }
            id.clone()
        }
        None => {
            let base = slugify(new.name());
            let mut candidate = base.clone();
            let mut n = 2;
            while rows::unit_exists(tx.db, &candidate)? {
                candidate = format!("{base}-{n}");
                n += 1;
            }
            candidate
        }
    };
    let unit = new.build(unit_id, tx.now)?;
    rows::unit_put(tx.db, &unit, true)?;
    tx.audit(
        AuditAction::UnitCreate,
        Some(&unit.unit_id),
        None,
        Some(unit.name.clone()),
    )?;
    tx.publish(Event::UnitChanged {
        unit_id: unit.unit_id.clone(),
        change: UnitChange::Created,
    });
    Ok((unit, true))
}

fn patch(tx: &mut Tx<'_>, unit_id: &str, changes: &UnitChanges) -> Result<Unit, Error> {
    let mut unit = rows::unit_get(tx.db, unit_id).map_err(not_found("unit"))?;
    let before = unit.clone();
    changes.apply(&mut unit)?;
    unit.updated_at = tx.now;
    rows::unit_put(tx.db, &unit, false)?;
    // Mode, profile, site, SSIDs or VLAN may have changed: the Wi-Fi passwords follow.
    passwords::unit_changed(tx, &before, &unit)?;
    tx.audit(AuditAction::UnitUpdate, Some(&unit.unit_id), None, None)?;
    tx.publish(Event::UnitChanged {
        unit_id: unit.unit_id.clone(),
        change: UnitChange::Updated,
    });
    // Grace minutes may have changed: booking vouchers follow.
    bookings::reconcile(tx, &unit)?;
    Ok(unit)
}

fn delete(tx: &mut Tx<'_>, unit_id: &str, force: bool) -> Result<(), Error> {
    rows::unit_get(tx.db, unit_id).map_err(not_found("unit"))?;
    let live = rows::vouchers_live_for_unit(tx.db, unit_id, tx.now)?;
    if !live.is_empty() && !force {
        return Err(domain_conflict(
            "unit has live vouchers; revoke them first or delete with ?force=true",
        ));
    }
    for v in &live {
        vouchers::revoke(tx, &v.code, EndReason::VoucherRevoked, None)?;
    }
    // Devices still in on vouchers that are no longer live (their end came, the expiry timer
    // has not run yet) go off too: the delete removes their rows, never their unauthorise.
    for grant in g::open_for_unit(tx.db, unit_id)? {
        let reason = if crate::vouchers::follow::is_due(grant.expires_at, tx.now) {
            EndReason::Expired
        } else {
            EndReason::VoucherRevoked
        };
        tx.end_grant(&grant, reason)?;
    }
    passwords::unit_deleted(tx, unit_id)?;
    rows::unit_delete(tx.db, unit_id)?;
    tx.audit(AuditAction::UnitDelete, Some(unit_id), None, None)?;
    tx.publish(Event::UnitChanged {
        unit_id: unit_id.to_owned(),
        change: UnitChange::Deleted,
    });
    Ok(())
}

fn revoke_all(tx: &mut Tx<'_>, unit_id: &str) -> Result<UnitRevoked, Error> {
    rows::unit_get(tx.db, unit_id).map_err(not_found("unit"))?;
    let before = tx.ended().len();
    let mut out = UnitRevoked::default();
    for v in rows::vouchers_live_for_unit(tx.db, unit_id, tx.now)? {
        vouchers::revoke(tx, &v.code, EndReason::VoucherRevoked, None)?;
        out.revoked.push(v.code);
    }
    for code in rows::vouchers_restorable_for_unit(tx.db, unit_id)? {
        vouchers::revoke(tx, &code, EndReason::VoucherRevoked, None)?;
    }
    // Devices still in on vouchers whose end came a moment ago (the expiry timer has not run).
    for grant in g::open_for_unit(tx.db, unit_id)? {
        let reason = if crate::vouchers::follow::is_due(grant.expires_at, tx.now) {
            EndReason::Expired
        } else {
            EndReason::VoucherRevoked
        };
        tx.end_grant(&grant, reason)?;
    }
    out.devices = tx.ended().len() - before;
    tx.audit(
        AuditAction::UnitRevoke,
        Some(unit_id),
        None,
        Some(format!(
            "{} vouchers, {} devices",
            out.revoked.len(),
            out.devices
        )),
    )?;
    Ok(out)
}

fn domain_conflict(m: &str) -> Error {
    Error::Rule(crate::vouchers::Error::Conflict(m.to_owned()))
}
