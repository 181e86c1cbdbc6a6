//! Voucher use cases: issue, change (extend, shorten, device limit), revoke — each one
//! transaction that also moves or ends the voucher's grants and queues what the controller
//! must be told. The transaction-level functions (`issue`, `patch`, `revoke`, `follow`) are
//! shared with the booking and unit use cases, which call them inside their own transaction.

use crate::events::Event;
use crate::outbox::OutboxOp;
use crate::store::{grants as g, rows, StoreError};
use crate::usecase::{not_found, passwords, Error, Rentals, Tx, UseCase};
use crate::vouchers::code;
use crate::vouchers::follow::{follow as decide, Follow};
use crate::vouchers::model::{AuditAction, EndReason, GrantState, RevokeCause, Unit, Voucher};
use crate::vouchers::voucher::{NewVoucher, VoucherChanges};
use crate::vouchers::{Ctx, Error as Rule};

/// Where a voucher came from (the `source` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Api,
    Booking,
    Demo,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Booking => "booking",
            Source::Demo => "demo",
        }
    }
}

impl Rentals {
    /// Issue a voucher. Returns it, whether it was created (false: an idempotent replay
    /// of a live voucher with the same `booking_ref` on the unit) and, with a `reader` on
    /// a unit in password mode, its Wi-Fi password — shown to `reader` and audited in the
    /// same transaction.
    pub async fn issue(
        &self,
        ctx: &Ctx,
        new: NewVoucher,
        source: Source,
        reader: Option<passwords::Reader>,
    ) -> Result<(Voucher, bool, Option<passwords::Shown>), Error> {
        // Drawn here, on the caller's thread: the OS random number generator is a system
        // call, and the writer thread, which every write waits for, need not make it.
        let candidate = new
            .code
            .is_none()
            .then(|| code::generate(self.limits.code_length));
        self.run(UseCase::VoucherIssue, ctx, move |tx| {
            let unit = rows::unit_get(tx.db, &new.unit_id).map_err(not_found("unit"))?;
            let (v, created) = issue_on(tx, &unit, &new, source, candidate)?;
            let shown = match reader {
                Some(r) => passwords::show_in(tx, &unit, &v, r)?,
                None => None,
            };
            Ok((v, created, shown))
        })
        .await
    }

    /// Change a voucher; its live grants follow the new end in the same transaction.
    pub async fn patch_voucher(
        &self,
        ctx: &Ctx,
        code: &str,
        changes: VoucherChanges,
    ) -> Result<Voucher, Error> {
        let code = code::normalize(code).ok_or(Error::NotFound("voucher"))?;
        self.run(UseCase::VoucherPatch, ctx, move |tx| {
            patch(tx, &code, &changes)
        })
        .await
    }

    /// Revoke a voucher and take every device on it off (through the outbox). Revoking a
    /// revoked voucher changes nothing and answers it again.
    pub async fn revoke_voucher(&self, ctx: &Ctx, code: &str) -> Result<Voucher, Error> {
        let code = code::normalize(code).ok_or(Error::NotFound("voucher"))?;
        self.run(UseCase::VoucherRevoke, ctx, move |tx| {
            revoke(tx, &code, EndReason::VoucherRevoked, None)
        })
        .await
    }
}

/// Issue `new` in this transaction.
pub fn issue(tx: &mut Tx<'_>, new: &NewVoucher, source: Source) -> Result<(Voucher, bool), Error> {
    let unit = rows::unit_get(tx.db, &new.unit_id).map_err(not_found("unit"))?;
    issue_on(tx, &unit, new, source, None)
}

/// [`issue`] on `unit` (`new.unit_id`'s row, already read in this transaction: the password
/// rules and the key bookkeeping need it too). `candidate`: a code drawn before the
/// transaction, taken when no voucher has it (else, or without one, codes are drawn here).
fn issue_on(
    tx: &mut Tx<'_>,
    unit: &Unit,
    new: &NewVoucher,
    source: Source,
    candidate: Option<String>,
) -> Result<(Voucher, bool), Error> {
    if let Some(b) = &new.booking_ref {
        if let Some(existing) = rows::voucher_live_by_booking(tx.db, &new.unit_id, b, tx.now)? {
            return Ok((existing, false));
        }
    }
    let code = match &new.code {
        Some(c) => {
            if rows::voucher_exists(tx.db, c)? {
                return Err(Rule::Conflict("code is already in use".into()).into());
            }
            c.clone()
        }
        None => {
            let mut candidate = candidate;
            loop {
                let c = candidate
                    .take()
                    .unwrap_or_else(|| code::generate(tx.limits.code_length));
                if !rows::voucher_exists(tx.db, &c)? {
                    break c;
                }
            }
        }
    };
    let mut v = new.build(code, tx.now);
    passwords::prepare(tx, unit, &mut v)?;
    rows::voucher_insert(tx.db, &v, source.as_str())?;
    tx.audit(
        AuditAction::VoucherIssue,
        Some(&v.unit_id),
        Some(&v.code),
        v.booking_ref.clone(),
    )?;
    tx.publish(Event::VoucherIssued {
        unit_id: v.unit_id.clone(),
        code: v.code.clone(),
        booking_ref: v.booking_ref.clone(),
        valid_until: v.valid_until,
        expires_at: v.expires_at(),
    });
    passwords::follow_on(tx, &v, Some(unit))?;
    Ok((v, true))
}

/// Change voucher `code` in this transaction; its grants follow.
pub fn patch(tx: &mut Tx<'_>, code: &str, changes: &VoucherChanges) -> Result<Voucher, Error> {
    let mut v = rows::voucher_get(tx.db, code).map_err(not_found("voucher"))?;
    let before = v.clone();
    changes.apply(&mut v, tx.limits)?;
    passwords::after_change(tx, &before, &mut v)?;
    rows::voucher_update(tx.db, &v)?;
    tx.audit(
        AuditAction::VoucherUpdate,
        Some(&v.unit_id),
        Some(&v.code),
        None,
    )?;
    tx.publish(Event::VoucherUpdated {
        unit_id: v.unit_id.clone(),
        code: v.code.clone(),
        valid_until: v.valid_until,
        max_devices: v.max_devices,
    });
    let ended = follow(tx, &v)?;
    v.devices_active = v.devices_active.saturating_sub(ended as u32);
    passwords::follow(tx, &v)?;
    Ok(v)
}

/// Revoke voucher `code` in this transaction, ending its open grants with `reason`. `cause`
/// says when the revoke is not final (a booking cancelled for staying missing comes back with
/// its code); a revoke without one makes an earlier such revoke final.
pub fn revoke(
    tx: &mut Tx<'_>,
    code: &str,
    reason: EndReason,
    cause: Option<RevokeCause>,
) -> Result<Voucher, Error> {
    let mut v = rows::voucher_get(tx.db, code).map_err(not_found("voucher"))?;
    let newly = v.revoked_at.is_none();
    if !newly && cause.is_none() && v.revoke_cause.is_some() {
        v.revoke_cause = None;
        rows::voucher_update(tx.db, &v)?;
    }
    if newly {
        v.revoked_at = Some(tx.now);
        v.revoke_cause = cause;
        rows::voucher_update(tx.db, &v)?;
        tx.audit(
            AuditAction::VoucherRevoke,
            Some(&v.unit_id),
            Some(&v.code),
            None,
        )?;
    }
    let open = g::open_for_code(tx.db, &v.code)?;
    for grant in &open {
        tx.end_grant(grant, reason)?;
    }
    v.devices_active = 0;
    if newly {
        passwords::follow(tx, &v)?;
        tx.publish(Event::VoucherRevoked {
            unit_id: v.unit_id.clone(),
            code: v.code.clone(),
            booking_ref: v.booking_ref.clone(),
            devices: open.len(),
        });
    }
    Ok(v)
}

/// The active grants of `v` follow it (`vouchers::follow`): end, move (and tell the
/// controller the new length), or stay. Returns how many ended.
pub fn follow(tx: &mut Tx<'_>, v: &Voucher) -> Result<usize, StoreError> {
    let mut ended = 0;
    for grant in g::open_for_code(tx.db, &v.code)?
        .into_iter()
        .filter(|g| g.state == GrantState::Active)
    {
        match decide(v, grant.expires_at, tx.now) {
            Follow::Keep => {}
            Follow::End(reason) => {
                tx.end_grant(&grant, reason)?;
                ended += 1;
            }
            Follow::Move(end) => {
                g::set_expires(tx.db, &grant.grant_id, end)?;
                tx.grant_ends_at(end);
                if tx.moves_need_reauthorize {
                    let op = OutboxOp::Reauthorize {
                        grant_id: grant.grant_id.clone(),
                    };
                    tx.queue(&op, tx.now)?;
                }
            }
        }
    }
    Ok(ended)
}
