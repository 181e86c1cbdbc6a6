//! Which voucher a unit's card shows now (issue 17 item 5: "the card image entity follows the
//! current booking"): the one in progress, else the next to start. A pure choice over the
//! unit's live vouchers, so Home Assistant never has to decide it.

use time::OffsetDateTime;

use crate::vouchers::model::Voucher;

/// Among `live` (a unit's unused or active vouchers at `now`): the voucher whose validity has
/// begun — a booking's before a voucher issued by hand, then the one that began last — else
/// the one that begins first. `None` without live vouchers.
pub fn current(live: &[Voucher], now: OffsetDateTime) -> Option<&Voucher> {
    let started = live
        .iter()
        .filter(|v| v.valid_from <= now)
        .max_by_key(|v| (v.booking_ref.is_some(), v.valid_from, v.created_at));
    started.or_else(|| {
        live.iter()
            .filter(|v| v.valid_from > now)
            .min_by_key(|v| (v.valid_from, v.created_at))
    })
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
        }
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
        assert_eq!(current(&[later, exact], NOW).unwrap().code, "EXACT");
    }
}
