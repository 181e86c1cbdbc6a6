//! Bookings: the stays Home Assistant mirrors from Rental Control (DESIGN §3 "Bookings",
//! docs/api.md "Bookings").
//!
//! The sidecar owns the rules: each booking gets one voucher (`source` `booking`) whose
//! validity is the booking's **access window** — the stay widened by the unit's check-in /
//! check-out grace, with the grace clamped so that back-to-back stays never overlap (see
//! [`access_windows`]). Moving a booking moves its voucher through
//! [`AppState::update_voucher`] (live grants follow), cancelling it revokes the voucher
//! (devices unauthorised through the outbox), and a booking that ends simply lets its voucher
//! expire. The guest may also type one of the booking's codes at the portal
//! ([`pick_for_code`], used by [`crate::grants::Grants::redeem`]).

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

use crate::app::AppState;
use crate::grants::RedeemError;
use crate::store::bookings as rows_b;
use crate::store::{rows, StoreError};
use crate::vouchers::model::{Booking, Unit, Voucher};
use crate::vouchers::{self, code, invalid, Ctx, Error, NewVoucher, VoucherPatch};

/// Most guest codes a booking may carry.
pub const MAX_CODES: usize = 4;

/// Bookings starting further ahead than this are refused (a voucher's `valid_from` limit).
pub const MAX_AHEAD_DAYS: i64 = 366;

/// Serialises booking syncs: each reconciles its unit's vouchers as a whole, and two at once
/// could both issue a voucher for the same new booking. Syncs are rare; one lock is plenty.
static SYNC: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A `PUT` body, already parsed. `PUT` replaces: absent `guest_name`/`codes` mean none.
#[derive(Clone, Debug)]
pub struct BookingInput {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub guest_name: Option<String>,
    pub codes: Vec<String>,
}

/// When a booking's voucher is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: OffsetDateTime,
    pub until: OffsetDateTime,
}

/// Access windows of one unit's bookings, in the order given.
///
/// For booking B with check-in grace `ig` and check-out grace `og`:
/// * `from(B)  = max(B.start − ig, latest end of another booking that ends ≤ B.start)`
/// * `until(B) = min(B.end + og, earliest from(N) of another booking N that starts ≥ B.end)`
///
/// So grace never reaches into a neighbouring stay, and when both graces want the same gap
/// the arriving guest's check-in grace wins over the leaving guest's check-out grace. Only
/// grace is ever cut: the stay itself (start..end) is always inside the window. Bookings that
/// overlap each other (a double booking) are not neighbours: their windows are left to
/// overlap, as the host's calendar says. Finally a window longer than `max` (the voucher
/// limit) loses check-out grace first, then check-in grace; the stay itself is at most `max`
/// long (checked on `PUT`).
pub fn access_windows(
    bookings: &[Booking],
    checkin_grace: Duration,
    checkout_grace: Duration,
    max: Duration,
) -> Vec<Window> {
    let from_of = |i: usize| {
        let b = &bookings[i];
        let prev_end = bookings
            .iter()
            .enumerate()
            .filter(|(j, o)| *j != i && o.end <= b.start)
            .map(|(_, o)| o.end)
            .max();
        let from = b.start - checkin_grace;
        prev_end.map_or(from, |p| from.max(p))
    };
    let froms: Vec<OffsetDateTime> = (0..bookings.len()).map(from_of).collect();
    bookings
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let next_from = bookings
                .iter()
                .enumerate()
                .filter(|(j, o)| *j != i && o.start >= b.end)
                .map(|(j, _)| froms[j])
                .min();
            let until = b.end + checkout_grace;
            let mut w = Window {
                from: froms[i],
                until: next_from.map_or(until, |n| until.min(n)),
            };
            if w.until - w.from > max {
                w.until = w.until.min(b.end.max(w.from + max));
                if w.until - w.from > max {
                    w.from = w.until - max;
                }
            }
            w
        })
        .collect()
}

fn minutes(m: u32) -> Duration {
    Duration::minutes(m as i64)
}

fn windows_for(state: &AppState, unit: &Unit, bookings: &[Booking]) -> Vec<Window> {
    access_windows(
        bookings,
        minutes(unit.checkin_grace_minutes),
        minutes(unit.checkout_grace_minutes),
        Duration::minutes(state.config.vouchers.max_duration_minutes),
    )
}

/// `booking_ref` as it appears in the path: 1–100 characters, no control characters, no
/// surrounding white space.
pub fn check_ref(booking_ref: &str) -> Result<(), Error> {
    let n = booking_ref.chars().count();
    if n == 0
        || n > 100
        || booking_ref.chars().any(char::is_control)
        || booking_ref.trim() != booking_ref
    {
        return Err(invalid(
            "booking_ref",
            "booking_ref must be 1 to 100 characters without surrounding spaces",
        ));
    }
    Ok(())
}

/// Normalise and check the guest codes like custom voucher codes; duplicates collapse.
pub fn check_codes(codes: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for c in codes {
        let c = code::validate_custom(c).map_err(|m| invalid("codes", m))?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    if out.len() > MAX_CODES {
        return Err(invalid(
            "codes",
            format!("a booking may have at most {MAX_CODES} codes"),
        ));
    }
    Ok(out)
}

fn check_guest_name(name: Option<String>) -> Result<Option<String>, Error> {
    let Some(n) = name else { return Ok(None) };
    let n = n.trim();
    if n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(invalid(
            "guest_name",
            "guest_name must be at most 100 characters",
        ));
    }
    Ok((!n.is_empty()).then(|| n.to_owned()))
}

fn audit(
    tx: &rusqlite::Connection,
    ctx: &Ctx,
    now: OffsetDateTime,
    action: &str,
    b: &Booking,
    detail: String,
) -> Result<(), StoreError> {
    rows::audit_insert(
        tx,
        &rows::NewAudit {
            at: now,
            correlation_id: &ctx.correlation_id,
            actor: ctx.actor,
            action,
            unit_id: Some(&b.unit_id),
            code: b.voucher_code.as_deref(),
            detail: Some(detail),
        },
    )
}

fn describe(b: &Booking) -> String {
    serde_json::json!({
        "booking_ref": b.booking_ref,
        "start": vouchers::rfc3339(b.start),
        "end": vouchers::rfc3339(b.end),
        "codes": b.codes.len(),
    })
    .to_string()
}

/// A booking with its voucher, as the API shows it.
pub type WithVoucher = (Booking, Option<Voucher>);

/// Create or replace a booking, then bring the unit's booking vouchers in line.
/// Returns the booking, its voucher and whether the booking was created.
pub async fn put(
    state: &AppState,
    ctx: &Ctx,
    unit_id: &str,
    booking_ref: &str,
    input: BookingInput,
) -> Result<(WithVoucher, bool), Error> {
    check_ref(booking_ref)?;
    if input.end <= input.start {
        return Err(invalid("end", "end must be after start"));
    }
    let max = state.config.vouchers.max_duration_minutes;
    if input.end - input.start > Duration::minutes(max) {
        return Err(invalid(
            "end",
            format!("a booking may be at most {max} minutes long (vouchers.max_duration_minutes)"),
        ));
    }
    let now = state.clock.now();
    if input.start > now + Duration::days(MAX_AHEAD_DAYS) {
        return Err(invalid(
            "start",
            format!("start may be at most {MAX_AHEAD_DAYS} days ahead"),
        ));
    }
    let codes = check_codes(&input.codes)?;
    let guest_name = check_guest_name(input.guest_name)?;
    // Stored to the millisecond, like every timestamp; compare in that precision.
    let ms = |t: OffsetDateTime| crate::store::from_ms(crate::store::to_ms(t));
    let (start, end) = (ms(input.start), ms(input.end));

    let _sync = SYNC.lock().await;
    let unit = state.vouchers.get_unit(unit_id).await?;
    let ctx2 = ctx.clone();
    let (uid, bref) = (unit_id.to_owned(), booking_ref.to_owned());
    let created = state
        .store
        .write(move |tx| {
            let existing = match rows_b::get(tx, &uid, &bref) {
                Ok(b) => Some(b),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e),
            };
            let b = Booking {
                unit_id: uid.clone(),
                booking_ref: bref.clone(),
                start,
                end,
                guest_name,
                codes,
                updated_at: now,
                voucher_code: existing.as_ref().and_then(|e| e.voucher_code.clone()),
            };
            let unchanged = existing.as_ref().is_some_and(|e| {
                (e.start, e.end, &e.guest_name, &e.codes)
                    == (b.start, b.end, &b.guest_name, &b.codes)
            });
            if !unchanged {
                rows_b::put(tx, &b)?;
                let action = if existing.is_some() {
                    "booking.update"
                } else {
                    "booking.create"
                };
                audit(tx, &ctx2, now, action, &b, describe(&b))?;
            }
            Ok::<_, StoreError>(existing.is_none())
        })
        .await?;
    reconcile(state, ctx, &unit, Some(booking_ref)).await?;
    let got = get(state, unit_id, booking_ref).await?;
    Ok((got, created))
}

/// One booking with its voucher.
pub async fn get(state: &AppState, unit_id: &str, booking_ref: &str) -> Result<WithVoucher, Error> {
    let (uid, bref) = (unit_id.to_owned(), booking_ref.to_owned());
    state
        .store
        .read(move |c| {
            let b = rows_b::get(c, &uid, &bref)?;
            let v = voucher_of(c, &b)?;
            Ok((b, v))
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::NotFound("booking"),
            other => other.into(),
        })
}

fn voucher_of(c: &rusqlite::Connection, b: &Booking) -> Result<Option<Voucher>, StoreError> {
    match &b.voucher_code {
        None => Ok(None),
        Some(code) => match rows::voucher_get(c, code) {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        },
    }
}

/// A unit's bookings with their vouchers, by start.
pub async fn list(state: &AppState, unit_id: &str) -> Result<Vec<WithVoucher>, Error> {
    state.vouchers.get_unit(unit_id).await?;
    let uid = unit_id.to_owned();
    Ok(state
        .store
        .read(move |c| {
            rows_b::list_for_unit(c, &uid)?
                .into_iter()
                .map(|b| {
                    let v = voucher_of(c, &b)?;
                    Ok((b, v))
                })
                .collect()
        })
        .await?)
}

/// Remove a booking. Before its end it was cancelled: its voucher is revoked and its devices
/// unauthorised (grant `end_reason` `booking_cancelled`). At or after its end the stay is
/// over: the booking is forgotten and its voucher left to expire (check-out grace included).
pub async fn delete(
    state: &AppState,
    ctx: &Ctx,
    unit_id: &str,
    booking_ref: &str,
) -> Result<(), Error> {
    let _sync = SYNC.lock().await;
    let unit = state.vouchers.get_unit(unit_id).await?;
    let now = state.clock.now();
    let ctx2 = ctx.clone();
    let (uid, bref) = (unit_id.to_owned(), booking_ref.to_owned());
    let booking = state
        .store
        .write(move |tx| {
            let b = rows_b::get(tx, &uid, &bref).map_err(|e| match e {
                StoreError::NotFound => Error::NotFound("booking"),
                other => other.into(),
            })?;
            rows_b::delete(tx, &uid, &bref)?;
            let how = if now < b.end { "cancelled" } else { "ended" };
            audit(tx, &ctx2, now, "booking.delete", &b, how.to_owned())?;
            Ok::<_, Error>(b)
        })
        .await?;
    if now < booking.end {
        if let Some(code) = &booking.voucher_code {
            match state
                .revoke_voucher_because(ctx, code, "booking_cancelled")
                .await
            {
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    reconcile(state, ctx, &unit, None).await
}

/// A unit changed (its grace minutes, say): bring its booking vouchers in line.
pub async fn unit_changed(state: &AppState, ctx: &Ctx, unit: &Unit) -> Result<(), Error> {
    let _sync = SYNC.lock().await;
    reconcile(state, ctx, unit, None).await
}

/// Bring every booking voucher of `unit` in line with the access windows: issue missing
/// ones (when the window is not over yet), move the ones whose window changed. A voucher the
/// host revoked stays revoked. Errors for `focus` are returned; others are logged, so one
/// odd neighbour cannot block a sync.
async fn reconcile(
    state: &AppState,
    ctx: &Ctx,
    unit: &Unit,
    focus: Option<&str>,
) -> Result<(), Error> {
    let uid = unit.unit_id.clone();
    let bookings = state
        .store
        .read(move |c| rows_b::list_for_unit(c, &uid))
        .await?;
    let windows = windows_for(state, unit, &bookings);
    let now = state.clock.now();
    for (b, w) in bookings.iter().zip(windows) {
        let res = reconcile_one(state, ctx, b, w, now).await;
        if let Err(e) = res {
            if focus == Some(b.booking_ref.as_str()) {
                return Err(e);
            }
            tracing::warn!(unit_id = %b.unit_id, booking_ref = %b.booking_ref, error = %e, "booking voucher not brought in line");
        }
    }
    Ok(())
}

async fn reconcile_one(
    state: &AppState,
    ctx: &Ctx,
    b: &Booking,
    w: Window,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let voucher = match &b.voucher_code {
        Some(code) => match state.vouchers.get(code).await {
            Ok(v) => Some(v),
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let voucher = match voucher {
        Some(v) => v,
        None if w.until > now => {
            let (v, _) = state
                .vouchers
                .issue(
                    ctx,
                    NewVoucher {
                        unit_id: b.unit_id.clone(),
                        valid_from: Some(w.from),
                        valid_until: Some(w.until),
                        guest_name: b.guest_name.clone(),
                        booking_ref: Some(b.booking_ref.clone()),
                        ..NewVoucher::default()
                    },
                    "booking",
                )
                .await?;
            let (uid, bref, code) = (b.unit_id.clone(), b.booking_ref.clone(), v.code.clone());
            state
                .store
                .write(move |tx| rows_b::set_voucher(tx, &uid, &bref, &code))
                .await?;
            // A replay may have handed back a voucher issued earlier for this booking_ref.
            v
        }
        None => return Ok(()),
    };
    if voucher.revoked_at.is_some() {
        return Ok(());
    }
    let mut patch = VoucherPatch::default();
    let mut changed = false;
    if voucher.valid_from != w.from {
        patch.valid_from = Some(w.from);
        changed = true;
    }
    if voucher.valid_until != Some(w.until) {
        patch.valid_until = Some(w.until);
        changed = true;
    }
    if voucher.guest_name != b.guest_name {
        patch.guest_name = Some(b.guest_name.clone().unwrap_or_default());
        changed = true;
    }
    if changed {
        state.update_voucher(ctx, &voucher.code, patch).await?;
    }
    Ok(())
}

/// For the portal: which voucher a typed booking code stands for. `candidates` are the
/// bookings with that code on units whose networks the guest is on, each with its voucher.
/// Preference: a voucher valid now; else the next one to become valid; else the latest that
/// ended; a revoked one last (it then reads "invalid code"). A booking whose window was over
/// before it ever got a voucher reads "expired".
pub fn pick_for_code(
    candidates: Vec<WithVoucher>,
    now: OffsetDateTime,
) -> Result<Option<Voucher>, RedeemError> {
    let rank = |(b, v): &WithVoucher| -> (u8, i128) {
        match v {
            Some(v) if v.revoked_at.is_some() => (3, 0),
            Some(v) if now < v.valid_from => (1, v.valid_from.unix_timestamp_nanos()),
            Some(v) if v.expires_at().is_none_or(|e| now < e) => (0, 0),
            Some(v) => (2, -v.expires_at().unwrap_or(b.end).unix_timestamp_nanos()),
            None => (2, -b.end.unix_timestamp_nanos()),
        }
    };
    match candidates.into_iter().min_by_key(rank) {
        None => Ok(None),
        Some((_, Some(v))) => Ok(Some(v)),
        Some((_, None)) => Err(RedeemError::Expired),
    }
}

/// The candidates of [`pick_for_code`] for `code`, on units `on_network` accepts.
pub fn candidates_for_code(
    c: &rusqlite::Connection,
    code: &str,
    on_network: impl Fn(&Unit) -> bool,
) -> Result<Vec<WithVoucher>, StoreError> {
    let mut units: HashMap<String, bool> = HashMap::new();
    let mut out = Vec::new();
    for b in rows_b::with_code(c, code)? {
        let ok = match units.get(&b.unit_id) {
            Some(ok) => *ok,
            None => {
                let ok = on_network(&rows::unit_get(c, &b.unit_id)?);
                units.insert(b.unit_id.clone(), ok);
                ok
            }
        };
        if ok {
            let v = voucher_of(c, &b)?;
            out.push((b, v));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn b(r: &str, start: OffsetDateTime, end: OffsetDateTime) -> Booking {
        Booking {
            unit_id: "u".into(),
            booking_ref: r.into(),
            start,
            end,
            guest_name: None,
            codes: vec![],
            updated_at: start,
            voucher_code: None,
        }
    }

    const MAX: Duration = Duration::days(30);

    #[test]
    fn lone_booking_gets_both_graces() {
        let w = access_windows(
            &[b(
                "a",
                datetime!(2026-11-20 16:00 UTC),
                datetime!(2026-11-23 11:00 UTC),
            )],
            Duration::hours(2),
            Duration::hours(1),
            MAX,
        );
        assert_eq!(w[0].from, datetime!(2026-11-20 14:00 UTC));
        assert_eq!(w[0].until, datetime!(2026-11-23 12:00 UTC));
    }

    #[test]
    fn back_to_back_grace_is_clamped_and_arrival_wins() {
        let list = [
            b(
                "next",
                datetime!(2026-11-23 16:00 UTC),
                datetime!(2026-11-25 11:00 UTC),
            ),
            b(
                "prev",
                datetime!(2026-11-20 16:00 UTC),
                datetime!(2026-11-23 11:00 UTC),
            ),
        ];
        // Small graces fit the 5-hour gap: nothing is cut.
        let w = access_windows(&list, Duration::hours(2), Duration::hours(2), MAX);
        assert_eq!(w[1].until, datetime!(2026-11-23 13:00 UTC));
        assert_eq!(w[0].from, datetime!(2026-11-23 14:00 UTC));
        // Large graces collide: check-in grace keeps the gap, check-out grace yields.
        let w = access_windows(&list, Duration::hours(8), Duration::hours(8), MAX);
        assert_eq!(
            w[0].from,
            datetime!(2026-11-23 11:00 UTC),
            "not before prev end"
        );
        assert_eq!(w[1].until, datetime!(2026-11-23 11:00 UTC), "no overlap");
        // Same-day turnover: end == start.
        let list = [
            b(
                "prev",
                datetime!(2026-11-20 16:00 UTC),
                datetime!(2026-11-23 11:00 UTC),
            ),
            b(
                "next",
                datetime!(2026-11-23 11:00 UTC),
                datetime!(2026-11-25 11:00 UTC),
            ),
        ];
        let w = access_windows(&list, Duration::hours(3), Duration::hours(3), MAX);
        assert_eq!(w[0].until, datetime!(2026-11-23 11:00 UTC));
        assert_eq!(w[1].from, datetime!(2026-11-23 11:00 UTC));
        assert_eq!(w[0].from, datetime!(2026-11-20 13:00 UTC));
        assert_eq!(w[1].until, datetime!(2026-11-25 14:00 UTC));
        for (i, x) in w.iter().enumerate() {
            for y in &w[i + 1..] {
                assert!(x.until <= y.from || y.until <= x.from);
            }
        }
    }

    #[test]
    fn overlapping_bookings_are_not_neighbours() {
        let list = [
            b(
                "a",
                datetime!(2026-11-20 16:00 UTC),
                datetime!(2026-11-23 11:00 UTC),
            ),
            b(
                "b",
                datetime!(2026-11-22 16:00 UTC),
                datetime!(2026-11-24 11:00 UTC),
            ),
        ];
        let w = access_windows(&list, Duration::hours(1), Duration::hours(1), MAX);
        assert_eq!(w[0].until, datetime!(2026-11-23 12:00 UTC));
        assert_eq!(w[1].from, datetime!(2026-11-22 15:00 UTC));
    }

    #[test]
    fn window_is_cut_to_the_voucher_limit_grace_first() {
        let list = [b(
            "a",
            datetime!(2026-11-01 16:00 UTC),
            datetime!(2026-11-03 16:00 UTC),
        )];
        let w = access_windows(
            &list,
            Duration::hours(2),
            Duration::hours(2),
            Duration::hours(51),
        );
        assert_eq!(w[0].from, datetime!(2026-11-01 14:00 UTC));
        assert_eq!(w[0].until, datetime!(2026-11-03 17:00 UTC));
        let w = access_windows(
            &list,
            Duration::hours(2),
            Duration::hours(2),
            Duration::hours(49),
        );
        assert_eq!(w[0].from, datetime!(2026-11-01 15:00 UTC));
        assert_eq!(w[0].until, datetime!(2026-11-03 16:00 UTC));
        let w = access_windows(
            &list,
            Duration::hours(2),
            Duration::hours(2),
            Duration::hours(48),
        );
        assert_eq!(w[0].from, datetime!(2026-11-01 16:00 UTC));
        assert_eq!(w[0].until, datetime!(2026-11-03 16:00 UTC));
    }

    #[test]
    fn codes_are_normalised_and_limited() {
        assert_eq!(
            check_codes(&["ab-12 34".into(), "AB1234".into(), "4711".into()]).unwrap(),
            vec!["AB1234".to_owned(), "4711".to_owned()]
        );
        assert!(check_codes(&["12".into()]).is_err());
        assert!(check_codes(&["12!4".into()]).is_err());
        let five: Vec<String> = (1000..1005).map(|n| n.to_string()).collect();
        assert!(check_codes(&five).is_err());
        assert!(check_ref("").is_err());
        assert!(check_ref(" x").is_err());
        assert!(check_ref(&"x".repeat(101)).is_err());
        assert!(check_ref("HMABCDEF12").is_ok());
    }
}
