//! Start-up recovery and repair: one transaction, before the listeners serve.
//!
//! With one transaction per use case a crash can no longer leave an operation half done,
//! except across a controller call (a redemption reserved but never confirmed). A database
//! written by an earlier version may still hold the half-done states its several commits
//! allowed. The repair brings both back in line, in this order:
//!
//! 1. an unfinished redemption (`pending` grant) is rolled back: its slot freed, its
//!    unauthorise queued after the controller client's deadline (the authorisation may still
//!    land), the guest was never told "online";
//! 2. a booking that was cancelled (tombstone or audit row) with a voucher that was never
//!    revoked: the voucher is revoked, its devices taken off (`booking_cancelled`);
//! 3. booking vouchers are brought in line with their bookings' access windows (a booking cut
//!    short or moved whose voucher never followed);
//! 4. every active grant follows its voucher: a grant whose end passed while the process was
//!    down expires; a revoked or expired voucher, or a window cut into the past, ends it
//!    (unauthorise queued); a window that moved moves it;
//! 5. every Wi-Fi password key (password mode) has the outbox items it needs: one now when
//!    it is not where it should be, one at each of its window's times still ahead.
//!
//! A booking that merely vanished from the calendar is not cancelled (DESIGN §10): only an
//! explicit cancellation is acted on here (one that stayed missing past its unit's limit is
//! cancelled by the expiry timer, which runs right after). What was repaired is counted in one log line and
//! the `rental_wifi_startup_repairs_total` metric.

use std::collections::BTreeMap;

use crate::outbox::OutboxOp;
use crate::store::bookings as rows_b;
use crate::store::{grants as g, rows, StoreError};
use crate::usecase::vouchers as uv;
use crate::usecase::{bookings, passwords, Error, Rentals, Tx, UseCase};
use crate::vouchers::follow::{follow, is_due, Follow};
use crate::vouchers::model::{Actor, EndReason};
use crate::vouchers::Ctx;

/// What the start-up repair did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Unfinished redemptions rolled back.
    pub rolled_back: usize,
    /// Grants ended, by end reason.
    pub ended: BTreeMap<&'static str, usize>,
    /// Grants whose end moved to their voucher's.
    pub moved: usize,
}

impl Repaired {
    pub fn total(&self) -> usize {
        self.rolled_back + self.moved + self.ended.values().sum::<usize>()
    }
}

impl Rentals {
    /// Recover and repair (see the module docs), in one transaction.
    pub async fn recover(&self) -> Result<Repaired, Error> {
        let grace = time::Duration::milliseconds(self.in_flight_grace.as_millis() as i64);
        let ctx = Ctx::new(Actor::Scheduler);
        self.run(UseCase::Recovery, &ctx, move |tx| repair(tx, grace))
            .await
    }
}

fn repair(tx: &mut Tx<'_>, in_flight_grace: time::Duration) -> Result<Repaired, Error> {
    let mut out = Repaired {
        rolled_back: roll_back_pending(tx, in_flight_grace)?,
        ..Repaired::default()
    };
    for code in rows_b::cancelled_voucher_codes(tx.db)? {
        let Ok(v) = rows::voucher_get(tx.db, &code) else {
            continue;
        };
        if v.revoked_at.is_none() && !linked_to_a_booking(tx, &v.unit_id, &code)? {
            uv::revoke(tx, &code, EndReason::BookingCancelled, None)?;
        }
    }
    for unit in rows::unit_list(tx.db)? {
        bookings::reconcile(tx, &unit)?;
    }
    passwords::repair(tx)?;
    for grant in g::all_active(tx.db)? {
        let v = match rows::voucher_get(tx.db, &grant.code) {
            Ok(v) => v,
            Err(StoreError::NotFound) => continue, // cascaded away with its voucher
            Err(e) => return Err(e.into()),
        };
        let decision = if is_due(grant.expires_at, tx.now) {
            // Its own end came while the process was down: the expiry it missed.
            Follow::End(EndReason::Expired)
        } else {
            follow(&v, grant.expires_at, tx.now)
        };
        match decision {
            Follow::Keep => {}
            Follow::End(reason) => tx.end_grant(&grant, reason)?,
            Follow::Move(end) => {
                g::set_expires(tx.db, &grant.grant_id, end)?;
                tx.grant_ends_at(end);
                if tx.moves_need_reauthorize {
                    let op = OutboxOp::Reauthorize {
                        grant_id: grant.grant_id.clone(),
                    };
                    tx.queue(&op, tx.now)?;
                }
                out.moved += 1;
            }
        }
    }
    for reason in tx.ended() {
        *out.ended.entry(reason.as_str()).or_default() += 1;
    }
    Ok(out)
}

/// Does a booking of `unit_id` still point at voucher `code`? (A booking that came back
/// after a cancellation gets a voucher of its own; this one is then an orphan.)
fn linked_to_a_booking(tx: &Tx<'_>, unit_id: &str, code: &str) -> Result<bool, StoreError> {
    Ok(rows_b::list_for_unit(tx.db, unit_id)?
        .iter()
        .any(|b| b.voucher_code.as_deref() == Some(code)))
}

/// A `pending` grant is a redemption a crash interrupted between "slot reserved" and
/// "confirmed". The guest was not told "online"; free the slot, and make sure the controller
/// agrees once any authorisation still in flight has landed.
fn roll_back_pending(
    tx: &mut Tx<'_>,
    in_flight_grace: time::Duration,
) -> Result<usize, StoreError> {
    let not_before = tx.now + in_flight_grace;
    let pending = g::stale_pending(tx.db, tx.now)?;
    for grant in &pending {
        g::delete(tx.db, &grant.grant_id)?;
        let fresh_slot = g::latest_for(tx.db, &grant.code, grant.client_mac)?.is_none();
        if fresh_slot {
            if let Ok(mut v) = rows::voucher_get(tx.db, &grant.code) {
                v.devices_used = v.devices_used.saturating_sub(1);
                rows::voucher_update(tx.db, &v)?;
            }
        }
        tx.queue_unauthorize(grant, not_before)?;
    }
    Ok(pending.len())
}
