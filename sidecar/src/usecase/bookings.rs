//! Booking use cases (DESIGN §3 "Bookings", §10): put, cancel, and the reconcile they share
//! with a unit change — each one transaction that writes the booking, its tombstone, its
//! voucher, the grants that follow and the audit rows together.
//!
//! Before, these were several commits held together by a process-global lock; a crash
//! between "booking deleted" and "voucher revoked" lost the cancellation for good. Now the
//! writer's one-transaction-per-use-case is the only serialisation there is.

use serde::Serialize;

use crate::clock::rfc3339;
use crate::store::bookings as rows_b;
use crate::store::{rows, StoreError};
use crate::usecase::vouchers::{self as uv, Source};
use crate::usecase::{not_found, Error, Rentals, Tx, UseCase};
use crate::vouchers::booking::{
    access_windows, reconcile_step, BookingRef, BookingSpec, BookingStep, WithVoucher,
};
use crate::vouchers::model::{AuditAction, Booking, EndReason, Unit, Voucher};
use crate::vouchers::voucher::{NewVoucher, VoucherChanges};
use crate::vouchers::Ctx;

impl Rentals {
    /// Create or replace a booking and bring the unit's booking vouchers in line. Returns the
    /// booking with its voucher, and whether the booking was created.
    pub async fn put_booking(
        &self,
        ctx: &Ctx,
        unit_id: &str,
        booking_ref: BookingRef,
        spec: BookingSpec,
    ) -> Result<(WithVoucher, bool), Error> {
        let unit_id = unit_id.to_owned();
        self.run(UseCase::BookingPut, ctx, move |tx| {
            put(tx, &unit_id, &booking_ref, spec)
        })
        .await
    }

    /// Remove a booking. Before its end it was cancelled: its voucher is revoked and its
    /// devices taken off (grant `end_reason` `booking_cancelled`). At or after its end the
    /// stay is over: the booking is forgotten and its voucher left to expire. A tombstone
    /// remembers either, so the same `DELETE` again succeeds (and still never leaves a live
    /// voucher behind); only a booking never seen is "not found".
    pub async fn delete_booking(
        &self,
        ctx: &Ctx,
        unit_id: &str,
        booking_ref: BookingRef,
    ) -> Result<(), Error> {
        let unit_id = unit_id.to_owned();
        self.run(UseCase::BookingDelete, ctx, move |tx| {
            delete(tx, &unit_id, &booking_ref)
        })
        .await
    }
}

/// The audit detail of a booking change (no guest codes: only how many).
#[derive(Serialize)]
struct Described<'a> {
    booking_ref: &'a str,
    start: String,
    end: String,
    codes: usize,
}

fn describe(b: &Booking) -> String {
    serde_json::to_string(&Described {
        booking_ref: &b.booking_ref,
        start: rfc3339(b.start),
        end: rfc3339(b.end),
        codes: b.codes.len(),
    })
    .expect("a booking description serializes")
}

fn get_opt(tx: &Tx<'_>, unit_id: &str, booking_ref: &str) -> Result<Option<Booking>, StoreError> {
    match rows_b::get(tx.db, unit_id, booking_ref) {
        Ok(b) => Ok(Some(b)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A booking's voucher, if it has one that still exists.
pub fn voucher_of(c: &rusqlite::Connection, b: &Booking) -> Result<Option<Voucher>, StoreError> {
    match &b.voucher_code {
        None => Ok(None),
        Some(code) => match rows::voucher_get(c, code) {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        },
    }
}

fn put(
    tx: &mut Tx<'_>,
    unit_id: &str,
    booking_ref: &BookingRef,
    spec: BookingSpec,
) -> Result<(WithVoucher, bool), Error> {
    let unit = rows::unit_get(tx.db, unit_id).map_err(not_found("unit"))?;
    let existing = get_opt(tx, unit_id, booking_ref.as_str())?;
    if existing.as_ref().is_none_or(|e| !spec.same_as(e)) {
        let b = Booking {
            unit_id: unit_id.to_owned(),
            booking_ref: booking_ref.as_str().to_owned(),
            start: spec.start,
            end: spec.end,
            guest_name: spec.guest_name,
            codes: spec.codes,
            updated_at: tx.now,
            voucher_code: existing.as_ref().and_then(|e| e.voucher_code.clone()),
        };
        rows_b::put(tx.db, &b)?;
        let action = if existing.is_some() {
            AuditAction::BookingUpdate
        } else {
            rows_b::tombstone_delete(tx.db, unit_id, booking_ref.as_str())?;
            AuditAction::BookingCreate
        };
        tx.audit(
            action,
            Some(unit_id),
            b.voucher_code.as_deref(),
            Some(describe(&b)),
        )?;
    }
    reconcile(tx, &unit)?;
    let b = rows_b::get(tx.db, unit_id, booking_ref.as_str())?;
    let v = voucher_of(tx.db, &b)?;
    Ok(((b, v), existing.is_none()))
}

fn delete(tx: &mut Tx<'_>, unit_id: &str, booking_ref: &BookingRef) -> Result<(), Error> {
    let unit = rows::unit_get(tx.db, unit_id).map_err(not_found("unit"))?;
    let Some(b) = get_opt(tx, unit_id, booking_ref.as_str())? else {
        // Removed before: answer as then. A cancellation's voucher is revoked in the same
        // transaction as its tombstone; revoking again is a no-op kept as a safeguard.
        return match rows_b::tombstone_get(tx.db, unit_id, booking_ref.as_str())? {
            Some(t) => {
                if let (true, Some(code)) = (t.cancelled, &t.voucher_code) {
                    revoke_if_exists(tx, code)?;
                }
                Ok(())
            }
            None => Err(Error::NotFound("booking")),
        };
    };
    rows_b::delete(tx.db, unit_id, booking_ref.as_str())?;
    let cancelled = tx.now < b.end;
    rows_b::tombstone_put(tx.db, &b, tx.now, cancelled)?;
    let how = if cancelled { "cancelled" } else { "ended" };
    tx.audit(
        AuditAction::BookingDelete,
        Some(unit_id),
        b.voucher_code.as_deref(),
        Some(how.to_owned()),
    )?;
    if cancelled {
        if let Some(code) = &b.voucher_code {
            revoke_if_exists(tx, code)?;
        }
    }
    // A cancelled neighbour gives the other stays their full grace back.
    reconcile(tx, &unit)
}

fn revoke_if_exists(tx: &mut Tx<'_>, code: &str) -> Result<(), Error> {
    match uv::revoke(tx, code, EndReason::BookingCancelled) {
        Ok(_) | Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Bring every booking voucher of `unit` in line with the access windows, in this
/// transaction: issue missing ones (while the window is not over), move the ones whose
/// window changed (their grants follow). A voucher the host revoked stays revoked.
pub fn reconcile(tx: &mut Tx<'_>, unit: &Unit) -> Result<(), Error> {
    let bookings = rows_b::list_for_unit(tx.db, &unit.unit_id)?;
    let windows = access_windows(
        &bookings,
        time::Duration::minutes(unit.checkin_grace_minutes as i64),
        time::Duration::minutes(unit.checkout_grace_minutes as i64),
        time::Duration::minutes(tx.limits.max_duration_minutes),
    );
    for (b, w) in bookings.iter().zip(windows) {
        let voucher = voucher_of(tx.db, b)?;
        let voucher = match reconcile_step(b, voucher.as_ref(), w, tx.now) {
            BookingStep::Nothing => continue,
            BookingStep::Move { .. } => voucher,
            BookingStep::Issue(w) => {
                let new = NewVoucher::for_booking(
                    &b.unit_id,
                    &b.booking_ref,
                    w.from,
                    w.until,
                    b.guest_name.clone(),
                    tx.limits,
                );
                // A replay may hand back a voucher issued earlier for this booking_ref.
                let (v, _) = uv::issue(tx, &new, Source::Booking)?;
                rows_b::set_voucher(tx.db, &b.unit_id, &b.booking_ref, &v.code)?;
                Some(v)
            }
        };
        if let BookingStep::Move { window, guest_name } =
            reconcile_step(b, voucher.as_ref(), w, tx.now)
        {
            let code = voucher.map(|v| v.code).unwrap_or_default();
            uv::patch(
                tx,
                &code,
                &VoucherChanges::window(window.from, window.until, guest_name),
            )?;
        }
    }
    Ok(())
}
