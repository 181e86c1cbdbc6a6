//! Expiry and following: what an open grant does when time passes or its voucher changes.
//!
//! Pure decisions used by three use cases: a voucher patch or booking move (its grants
//! follow the new window), the expiry timer (grants whose end came), and the start-up repair
//! (grants a crash left out of line with their voucher). Issue 12b's re-authorisation before
//! an Open API portal timeout is one more [`Follow`] outcome computed from the same inputs.

use time::OffsetDateTime;

use crate::vouchers::model::{EndReason, Voucher};

/// What an open grant does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Nothing changes.
    Keep,
    /// Its end moves to this time (the controller hears the new length where it takes one).
    Move(OffsetDateTime),
    /// It ends now, for this reason (and the device is taken off).
    End(EndReason),
}

/// An open grant ending at `grant_end`, of voucher `v`, at `now`:
/// * a revoked voucher ends it (`voucher_revoked`);
/// * a window that is over, or that now starts later, or a suspended voucher (its booking
///   went missing before the stay) ends it (`shortened`);
/// * a window that ends at another time moves it there;
/// * else it is left alone.
pub fn follow(v: &Voucher, grant_end: OffsetDateTime, now: OffsetDateTime) -> Follow {
    if v.revoked_at.is_some() {
        return Follow::End(EndReason::VoucherRevoked);
    }
    let end = v.end_if_redeemed_at(now);
    if end <= now || now < v.valid_from || v.suspended_at.is_some() {
        Follow::End(EndReason::Shortened)
    } else if end != grant_end {
        Follow::Move(end)
    } else {
        Follow::Keep
    }
}

/// Is an active grant ending at `grant_end` due for expiry at `now`?
pub fn is_due(grant_end: OffsetDateTime, now: OffsetDateTime) -> bool {
    grant_end <= now
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

    fn voucher(until: OffsetDateTime) -> Voucher {
        Voucher {
            code: "ABCD2345".into(),
            unit_id: "u".into(),
            valid_from: NOW - Duration::hours(1),
            valid_until: Some(until),
            duration_minutes: None,
            max_devices: 2,
            devices_used: 1,
            guest_name: None,
            booking_ref: None,
            down_kbps: None,
            up_kbps: None,
            note: None,
            created_at: NOW - Duration::hours(2),
            first_used_at: Some(NOW - Duration::minutes(30)),
            revoked_at: None,
            suspended_at: None,
            revoke_cause: None,
            device_policy: None,
            devices_active: 1,
        }
    }

    #[test]
    fn grants_follow_their_voucher() {
        let end = NOW + Duration::hours(3);
        let v = voucher(end);
        assert_eq!(follow(&v, end, NOW), Follow::Keep);
        assert_eq!(
            follow(&v, NOW + Duration::hours(1), NOW),
            Follow::Move(end),
            "extended"
        );
        let v = voucher(NOW + Duration::minutes(10));
        assert_eq!(
            follow(&v, end, NOW),
            Follow::Move(NOW + Duration::minutes(10)),
            "cut short, still ahead"
        );
        let v = voucher(NOW);
        assert_eq!(
            follow(&v, end, NOW),
            Follow::End(EndReason::Shortened),
            "cut short into the past"
        );
        let mut v = voucher(end);
        v.valid_from = NOW + Duration::hours(1);
        assert_eq!(
            follow(&v, end, NOW),
            Follow::End(EndReason::Shortened),
            "moved to start later"
        );
        let mut v = voucher(end);
        v.suspended_at = Some(NOW);
        assert_eq!(follow(&v, end, NOW), Follow::End(EndReason::Shortened));
        let mut v = voucher(end);
        v.revoked_at = Some(NOW - Duration::minutes(1));
        assert_eq!(follow(&v, end, NOW), Follow::End(EndReason::VoucherRevoked));
    }

    #[test]
    fn duration_vouchers_count_from_first_use() {
        let mut v = voucher(NOW + Duration::days(2));
        v.duration_minutes = Some(60);
        let end = NOW + Duration::minutes(30);
        assert_eq!(follow(&v, end, NOW), Follow::Keep);
        assert_eq!(
            follow(&v, end, end),
            Follow::End(EndReason::Shortened),
            "its hour is up"
        );
    }

    #[test]
    fn due_at_the_end_itself() {
        assert!(!is_due(NOW, NOW - Duration::milliseconds(1)));
        assert!(is_due(NOW, NOW));
    }
}
