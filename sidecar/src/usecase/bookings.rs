//! Booking use cases (DESIGN §3 "Bookings", §10): put, cancel, the whole-calendar sync, the
//! cancellation of bookings that stayed missing, and the reconcile they share with a unit
//! change — each one transaction that writes the bookings, tombstones, vouchers, the grants
//! that follow and the audit rows together.
//!
//! Calendars blank out (Rental Control clears its sensors after two empty fetches), so a
//! booking missing from Home Assistant's view is not a cancellation: during its stay access
//! runs on to its end; before its stay its voucher is suspended and the same code comes back
//! with the booking; it counts as cancelled only when still missing at the unit's limit
//! ([`Rentals::cancel_due_bookings`], run by the expiry timer). The per-booking `DELETE`
//! stays an explicit cancellation.

use serde::Serialize;

use crate::clock::rfc3339;
use crate::events::{BookingEventRef, CancelCause, Event};
use crate::store::bookings as rows_b;
use crate::store::{rows, StoreError};
use crate::usecase::vouchers::{self as uv, Source};
use crate::usecase::{not_found, Error, Rentals, Tx, UseCase};
use crate::vouchers::booking::{
    access_windows, cancel_at, plan_view, reconcile_step, BookingRef, BookingSpec, BookingStep,
    CalendarView, Refused, ViewStep, WithVoucher,
};
use crate::vouchers::model::{
    Actor, AuditAction, Booking, EndReason, Presence, RevokeCause, Unit, Voucher,
};
use crate::vouchers::voucher::{NewVoucher, VoucherChanges};
use crate::vouchers::Ctx;

/// Missing bookings cancelled per transaction; more take several.
const CANCEL_BATCH: usize = 200;

/// What a whole-calendar sync did, by booking reference.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Synced {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
    pub vanished: Vec<String>,
    pub restored: Vec<String>,
    pub refused: Vec<Refused>,
}

impl Rentals {
    /// Create or replace a booking and bring the unit's booking vouchers in line. Returns the
    /// booking with its voucher, and whether the booking was created. A booking that was
    /// missing from the calendar is back.
    pub async fn put_booking(
        &self,
        ctx: &Ctx,
        unit_id: &str,
        booking_ref: BookingRef,
        spec: BookingSpec,
    ) -> Result<(WithVoucher, bool), Error> {
        let unit_id = unit_id.to_owned();
        self.run(UseCase::BookingPut, ctx, move |tx| {
            let unit = rows::unit_get(tx.db, &unit_id).map_err(not_found("unit"))?;
            let created = put(tx, &unit, &booking_ref, spec)?;
            reconcile(tx, &unit)?;
            let b = rows_b::get(tx.db, &unit_id, booking_ref.as_str())?;
            let v = voucher_of(tx.db, &b)?;
            Ok(((b, v), created))
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

    /// A unit's whole calendar view, in one transaction: new bookings are stored, changed
    /// ones replaced, missing ones that the view covers have vanished (not cancelled), and
    /// ones that were missing are back (DESIGN §10).
    pub async fn sync_calendar(
        &self,
        ctx: &Ctx,
        unit_id: &str,
        view: CalendarView,
    ) -> Result<Synced, Error> {
        let unit_id = unit_id.to_owned();
        self.run(UseCase::BookingsSync, ctx, move |tx| {
            sync(tx, &unit_id, view)
        })
        .await
    }

    /// Cancel the missing bookings whose limit has come (expiry timer). Returns how many.
    pub async fn cancel_due_bookings(&self) -> Result<usize, Error> {
        let now = self.clock.now();
        let due = self
            .store
            .read(move |c| Ok(rows_b::next_cancel(c)?.is_some_and(|at| at <= now)))
            .await?;
        if !due {
            return Ok(0);
        }
        let ctx = Ctx::new(Actor::Scheduler);
        self.run(UseCase::VanishCancel, &ctx, cancel_due).await
    }

    /// When the next missing booking counts as cancelled.
    pub async fn next_booking_cancel(&self) -> Result<Option<time::OffsetDateTime>, StoreError> {
        self.store.read(rows_b::next_cancel).await
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

/// How booking events name `b`.
fn event_ref(b: &Booking) -> BookingEventRef {
    BookingEventRef {
        unit_id: b.unit_id.clone(),
        booking_ref: b.booking_ref.clone(),
        guest_name: b.guest_name.clone(),
        code: b.voucher_code.clone(),
        start: b.start,
        end: b.end,
    }
}

/// Store `spec` as booking `booking_ref` of `unit` (no reconcile). A booking that was missing
/// is back. Returns whether it was created.
fn put(
    tx: &mut Tx<'_>,
    unit: &Unit,
    booking_ref: &BookingRef,
    spec: BookingSpec,
) -> Result<bool, Error> {
    let unit_id = unit.unit_id.as_str();
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
            vanished_at: None,
            cancel_at: None,
            cancelled_at: None,
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
    match existing {
        None => Ok(true),
        Some(e) => {
            if e.presence() != Presence::Present {
                let now = rows_b::get(tx.db, unit_id, booking_ref.as_str())?;
                restore(tx, &now, e.presence())?;
            }
            Ok(false)
        }
    }
}

/// A missing (or for that cancelled) booking is in the calendar again: it is present, its
/// voucher no longer suspended, and a voucher revoked for the absence comes back with the
/// same code (one the host revoked stays revoked).
fn restore(tx: &mut Tx<'_>, b: &Booking, was: Presence) -> Result<(), Error> {
    let mut back = b.clone();
    back.vanished_at = None;
    back.cancel_at = None;
    back.cancelled_at = None;
    rows_b::set_presence(tx.db, &back)?;
    if let Some(mut v) = voucher_of(tx.db, b)? {
        let restorable = v.revoke_cause == Some(RevokeCause::BookingAbsent);
        if v.suspended_at.is_some() || restorable {
            v.suspended_at = None;
            if restorable {
                v.revoked_at = None;
                v.revoke_cause = None;
            }
            rows::voucher_update(tx.db, &v)?;
            // A password-mode unit's key follows: back on schedule for the window.
            crate::usecase::passwords::follow(tx, &v)?;
        }
    }
    tx.audit(
        AuditAction::BookingRestore,
        Some(&b.unit_id),
        b.voucher_code.as_deref(),
        Some(b.booking_ref.clone()),
    )?;
    tx.publish(Event::BookingRestored {
        booking: event_ref(b),
        was_cancelled: was == Presence::Cancelled,
    });
    Ok(())
}

/// Booking `b` is missing from a view that covers it. During its stay (its voucher's window
/// has begun) nothing changes for the guest; before it the voucher is suspended and the
/// booking counts as cancelled at the unit's limit if still missing.
fn vanish(tx: &mut Tx<'_>, unit: &Unit, b: &Booking) -> Result<(), Error> {
    let voucher = voucher_of(tx.db, b)?;
    let window = voucher.as_ref().map(|v| crate::vouchers::booking::Window {
        from: v.valid_from,
        until: v.valid_until.unwrap_or(b.end),
    });
    let due = window.and_then(|w| cancel_at(w, &unit.stay, tx.now));
    let mut gone = b.clone();
    gone.vanished_at = Some(tx.now);
    gone.cancel_at = due;
    rows_b::set_presence(tx.db, &gone)?;
    if let (Some(mut v), Some(at)) = (voucher, due) {
        if v.revoked_at.is_none() && v.suspended_at.is_none() {
            v.suspended_at = Some(tx.now);
            rows::voucher_update(tx.db, &v)?;
            uv::follow(tx, &v)?;
            // A suspended voucher's Wi-Fi password stays off the controller (password mode).
            crate::usecase::passwords::follow(tx, &v)?;
        }
        tx.cancel_due_at(at);
    }
    tx.audit(
        AuditAction::BookingVanish,
        Some(&b.unit_id),
        b.voucher_code.as_deref(),
        Some(
            if due.is_some() {
                "before_stay"
            } else {
                "during_stay"
            }
            .to_owned(),
        ),
    )?;
    tx.publish(Event::BookingVanished {
        booking: event_ref(b),
        during_stay: due.is_none(),
        cancel_at: due,
    });
    Ok(())
}

fn sync(tx: &mut Tx<'_>, unit_id: &str, view: CalendarView) -> Result<Synced, Error> {
    let unit = rows::unit_get(tx.db, unit_id).map_err(not_found("unit"))?;
    let stored = rows_b::list_for_unit(tx.db, unit_id)?;
    let mut out = Synced {
        refused: view.refused.clone(),
        ..Synced::default()
    };
    let mut missing = Vec::new();
    for step in plan_view(&stored, &view) {
        match step {
            ViewStep::Unchanged => out.unchanged += 1,
            ViewStep::Create(r, spec) => {
                put(tx, &unit, &r, spec)?;
                out.created.push(r.as_str().to_owned());
            }
            ViewStep::Update(r, spec) => {
                put(tx, &unit, &r, spec)?;
                out.updated.push(r.as_str().to_owned());
            }
            ViewStep::Restore(r, spec) => {
                put(tx, &unit, &r, spec)?;
                out.restored.push(r.as_str().to_owned());
            }
            ViewStep::Vanish(r) => missing.push(r),
        }
    }
    for r in missing {
        if let Some(b) = stored.iter().find(|b| b.booking_ref == r) {
            vanish(tx, &unit, b)?;
            out.vanished.push(r);
        }
    }
    if out.created.len() + out.updated.len() + out.restored.len() + out.vanished.len() > 0 {
        reconcile(tx, &unit)?;
    }
    Ok(out)
}

/// The missing bookings whose limit has come are cancelled: the voucher revoked (for the
/// absence: it comes back if the booking does) and its devices taken off, the neighbours'
/// windows recomputed.
fn cancel_due(tx: &mut Tx<'_>) -> Result<usize, Error> {
    let due = rows_b::cancel_due(tx.db, tx.now, CANCEL_BATCH)?;
    let mut units: Vec<String> = Vec::new();
    for b in &due {
        let mut gone = b.clone();
        gone.cancelled_at = Some(tx.now);
        rows_b::set_presence(tx.db, &gone)?;
        if let Some(code) = &b.voucher_code {
            match uv::revoke(
                tx,
                code,
                EndReason::BookingCancelled,
                Some(RevokeCause::BookingAbsent),
            ) {
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        tx.audit(
            AuditAction::BookingCancel,
            Some(&b.unit_id),
            b.voucher_code.as_deref(),
            Some("absent".to_owned()),
        )?;
        tx.publish(Event::BookingCancelled {
            booking: event_ref(b),
            cause: CancelCause::Absent,
        });
        if !units.contains(&b.unit_id) {
            units.push(b.unit_id.clone());
        }
    }
    for unit_id in units {
        if let Ok(unit) = rows::unit_get(tx.db, &unit_id) {
            reconcile(tx, &unit)?;
        }
    }
    Ok(due.len())
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
        tx.publish(Event::BookingCancelled {
            booking: event_ref(&b),
            cause: CancelCause::Deleted,
        });
    }
    // A cancelled neighbour gives the other stays their full grace back.
    reconcile(tx, &unit)
}

fn revoke_if_exists(tx: &mut Tx<'_>, code: &str) -> Result<(), Error> {
    match uv::revoke(tx, code, EndReason::BookingCancelled, None) {
        Ok(_) | Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Bring every booking voucher of `unit` in line with the access windows, in this
/// transaction: issue missing ones (while the window is not over), move the ones whose
/// window changed (their grants follow). A voucher the host revoked stays revoked. A booking
/// cancelled for staying missing holds no window; one that is missing keeps its window (it
/// may come back) but gets no new voucher, and its cancellation follows its window's start.
pub fn reconcile(tx: &mut Tx<'_>, unit: &Unit) -> Result<(), Error> {
    let bookings: Vec<Booking> = rows_b::list_for_unit(tx.db, &unit.unit_id)?
        .into_iter()
        .filter(|b| b.presence() != Presence::Cancelled)
        .collect();
    let windows = access_windows(
        &bookings,
        time::Duration::minutes(unit.checkin_grace_minutes as i64),
        time::Duration::minutes(unit.checkout_grace_minutes as i64),
        time::Duration::minutes(tx.limits.max_duration_minutes),
    );
    for (b, w) in bookings.iter().zip(windows) {
        let missing = b.presence() == Presence::Vanished;
        if let Some(at) = b.cancel_at {
            // Missing before its stay: cancelled at its window's start plus the limit.
            let due = w.from + time::Duration::minutes(unit.stay.vanish_cancel_minutes as i64);
            let due = crate::clock::to_millis(due);
            if due != at {
                let mut moved = b.clone();
                moved.cancel_at = Some(due);
                rows_b::set_presence(tx.db, &moved)?;
            }
            tx.cancel_due_at(due);
        }
        let voucher = voucher_of(tx.db, b)?;
        let voucher = match reconcile_step(b, voucher.as_ref(), w, tx.now) {
            BookingStep::Nothing => continue,
            BookingStep::Issue(_) if missing => continue,
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
