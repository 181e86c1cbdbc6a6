//! Which vouchers the cards show (issue 17 item 5): the one a unit's card image shows now —
//! the stay in progress, else the next to start ("the card image entity follows the current
//! booking") — and the bookings a print sheet holds. Pure choices over plain values, so
//! neither Home Assistant nor the API handler decides them.

use time::OffsetDateTime;

use crate::vouchers::booking::WithVoucher;
use crate::vouchers::model::{Voucher, VoucherStatus};

/// Among `live` (a unit's unused or active vouchers at `now`; any other is passed over, so a
/// voucher on hold because its booking is missing from the calendar is never on the card):
/// the voucher whose validity has begun — a booking's before a voucher issued by hand, then
/// the one that began last — else the one that begins first. `None` without live vouchers.
pub fn current(live: &[Voucher], now: OffsetDateTime) -> Option<&Voucher> {
    let usable = || live.iter().filter(move |v| v.is_live(now));
    let started = usable()
        .filter(|v| v.valid_from <= now)
        .max_by_key(|v| (v.booking_ref.is_some(), v.valid_from, v.created_at));
    started.or_else(|| {
        usable()
            .filter(|v| v.valid_from > now)
            .min_by_key(|v| (v.valid_from, v.created_at))
    })
}

/// The bookings whose cards a print sheet holds, by start: those whose stay overlaps
/// `[from, to)` and has not ended at `now`, with a voucher that can still be used (not
/// revoked, not expired, not suspended). A booking whose voucher the host revoked, or whose
/// booking is missing from the calendar (its voucher on hold), gets no card.
pub fn sheet(
    bookings: &[WithVoucher],
    from: OffsetDateTime,
    to: OffsetDateTime,
    now: OffsetDateTime,
) -> Vec<&WithVoucher> {
    let mut out: Vec<&WithVoucher> = bookings
        .iter()
        .filter(|(b, v)| {
            b.end > now
                && b.start < to
                && b.end > from
                && v.as_ref().is_some_and(|v| {
                    matches!(v.status(now), VoucherStatus::Unused | VoucherStatus::Active)
                })
        })
        .collect();
    out.sort_by_key(|(b, _)| (b.start, b.booking_ref.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-10 12:00 UTC);

    fn v(code: &str, from: OffsetDateTime, booking: bool) -> Voucher {
        Voucher {
            code: code.into(),
            unit_id: "u".into(),
            valid_from: from,
            valid_until: Some(from + time::Duration::days(3)),
            duration_minutes: None,
            max_devices: 4,
            devices_used: 0,
            guest_name: None,
            booking_ref: booking.then(|| format!("B-{code}")),
            down_kbps: None,
            up_kbps: None,
            note: None,
            created_at: datetime!(2026-12-01 00:00 UTC),
            first_used_at: None,
            revoked_at: None,
            suspended_at: None,
            revoke_cause: None,
            device_policy: None,
            devices_active: 0,
        }
    }

    fn booking(r: &str, start: OffsetDateTime, days: i64, voucher: Option<Voucher>) -> WithVoucher {
        (
            crate::vouchers::model::Booking {
                unit_id: "u".into(),
                booking_ref: r.into(),
                start,
                end: start + time::Duration::days(days),
                guest_name: None,
                codes: vec![],
                updated_at: start,
                voucher_code: voucher.as_ref().map(|v| v.code.clone()),
                vanished_at: None,
                cancel_at: None,
                cancelled_at: None,
            },
            voucher,
        )
    }

    #[test]
    fn the_sheet_holds_the_stays_in_range_that_can_still_be_used() {
        let d = |day: u8| {
            time::Date::from_calendar_date(2026, time::Month::December, day)
                .unwrap()
                .with_hms(15, 0, 0)
                .unwrap()
                .assume_utc()
        };
        let over = booking("OVER", d(1), 3, Some(v("A", d(1), true)));
        let now_stay = booking("NOW", d(8), 4, Some(v("B", d(8), true)));
        let soon = booking("SOON", d(14), 2, Some(v("C", d(14), true)));
        let later = booking("LATER", d(28), 2, Some(v("D", d(28), true)));
        let mut revoked_v = v("E", d(16), true);
        revoked_v.revoked_at = Some(d(2));
        let revoked = booking("REVOKED", d(16), 2, Some(revoked_v));
        let none = booking("NONE", d(18), 2, None);
        // Missing from the calendar before its stay: its voucher is on hold.
        let mut held_v = v("F", d(19), true);
        held_v.suspended_at = Some(d(9));
        let held = booking("HELD", d(19), 2, Some(held_v));
        let all = [
            later.clone(),
            soon.clone(),
            over,
            now_stay,
            revoked,
            none,
            held,
        ];
        let refs = |from, to| {
            sheet(&all, from, to, NOW)
                .iter()
                .map(|(b, _)| b.booking_ref.clone())
                .collect::<Vec<_>>()
        };
        // From now to the 20th: the stay in progress and the next one, in order.
        assert_eq!(refs(NOW, d(20)), vec!["NOW", "SOON"]);
        // A range after the stay in progress: only what starts or runs in it.
        assert_eq!(refs(d(13), d(31)), vec!["SOON", "LATER"]);
        assert!(refs(d(20), d(25)).is_empty());
    }

    #[test]
    fn the_stay_in_progress_else_the_next_one() {
        assert!(current(&[], NOW).is_none());
        let next = v("NEXT", datetime!(2026-12-12 15:00 UTC), true);
        let later = v("LATER", datetime!(2026-12-20 15:00 UTC), true);
        let now_stay = v("NOW", datetime!(2026-12-09 15:00 UTC), true);
        // Newest first, as the snapshot lists them: order does not matter.
        let all = [later.clone(), next.clone(), now_stay.clone()];
        assert_eq!(current(&all, NOW).unwrap().code, "NOW");
        let upcoming = [later.clone(), next.clone()];
        assert_eq!(current(&upcoming, NOW).unwrap().code, "NEXT");
        // A booking in progress wins over a voucher issued by hand that began later.
        let manual = v("HAND", datetime!(2026-12-10 11:00 UTC), false);
        assert_eq!(
            current(&[manual.clone(), now_stay.clone()], NOW)
                .unwrap()
                .code,
            "NOW"
        );
        assert_eq!(current(&[manual, next], NOW).unwrap().code, "HAND");
        // Starting exactly now counts as begun.
        let exact = v("EXACT", NOW, true);
        assert_eq!(current(&[later.clone(), exact], NOW).unwrap().code, "EXACT");
        // A voucher on hold (its booking missing from the calendar) is never the card's.
        let mut held = v("HELD", datetime!(2026-12-11 15:00 UTC), true);
        held.suspended_at = Some(datetime!(2026-12-09 00:00 UTC));
        assert_eq!(
            current(&[later.clone(), held.clone()], NOW).unwrap().code,
            "LATER"
        );
        held.valid_from = datetime!(2026-12-09 15:00 UTC);
        assert_eq!(current(&[later, held], NOW).unwrap().code, "LATER");
    }
}
