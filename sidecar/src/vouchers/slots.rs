//! Slot reservation: may this device be let in on this voucher now, and on which slot?
//!
//! A pure decision over plain values, made inside the redemption's reserve transaction
//! (`usecase::redemption`) with the rows it just read. Today a voucher's slots are the
//! distinct devices that ever used it (`devices_used` ≤ `max_devices`); issue 14 turns this
//! into devices at the same time with a `device_policy`, which adds inputs to [`SlotRequest`]
//! (the voucher's open grants, the policy) and a "replace that grant" outcome to [`Slot`]
//! without changing the callers' shape.

use time::OffsetDateTime;

use crate::vouchers::model::{EndReason, Grant, GrantState, Voucher};

/// Why a device is not let in. Every variant is something a guest may be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Revoked voucher, another unit's code, a device the host took off: all read the same.
    InvalidCode,
    Expired,
    NotYetValid,
    DeviceLimit,
}

/// What the decision looks at.
#[derive(Clone, Copy, Debug)]
pub struct SlotRequest<'a> {
    pub voucher: &'a Voucher,
    /// This device's most recent grant on this voucher, if any.
    pub previous: Option<&'a Grant>,
    pub now: OffsetDateTime,
}

/// Which slot the device gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Its grant is still open: authorise it again on the controller, nothing new is taken.
    Reuse,
    /// Its grant ended: a new grant on the slot it already had.
    Reopen,
    /// A device new to this voucher: a new grant on a new slot.
    Take,
}

/// The decision. The voucher's network binding is checked before (`network::on_unit_network`).
pub fn reserve(r: SlotRequest<'_>) -> Result<Slot, Refusal> {
    let v = r.voucher;
    if v.revoked_at.is_some() {
        return Err(Refusal::InvalidCode);
    }
    if r.now < v.valid_from {
        return Err(Refusal::NotYetValid);
    }
    if v.expires_at().is_some_and(|end| r.now >= end) {
        return Err(Refusal::Expired);
    }
    match r.previous {
        // The host took this device off; the same code does not bring it back.
        Some(p) if p.end_reason == Some(EndReason::GrantRevoked) => Err(Refusal::InvalidCode),
        Some(p) if p.state != GrantState::Ended => Ok(Slot::Reuse),
        Some(_) => Ok(Slot::Reopen),
        None if v.max_devices > 0 && v.devices_used >= v.max_devices => Err(Refusal::DeviceLimit),
        None => Ok(Slot::Take),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

    fn voucher() -> Voucher {
        Voucher {
            code: "ABCD2345".into(),
            unit_id: "u".into(),
            valid_from: NOW - Duration::hours(1),
            valid_until: Some(NOW + Duration::hours(1)),
            duration_minutes: None,
            max_devices: 2,
            devices_used: 0,
            guest_name: None,
            booking_ref: None,
            down_kbps: None,
            up_kbps: None,
            note: None,
            created_at: NOW - Duration::hours(2),
            first_used_at: None,
            revoked_at: None,
        }
    }

    fn grant(state: GrantState, reason: Option<EndReason>) -> Grant {
        Grant {
            grant_id: "g".into(),
            code: "ABCD2345".into(),
            unit_id: "u".into(),
            client_mac: "02-00-00-00-00-01".parse().unwrap(),
            client_ip: None,
            ap_mac: None,
            gateway_mac: None,
            ssid: None,
            vid: None,
            radio_id: None,
            site: "Default".into(),
            state,
            authorized_at: None,
            expires_at: NOW,
            ended_at: None,
            end_reason: reason,
        }
    }

    fn decide(v: &Voucher, previous: Option<&Grant>, now: OffsetDateTime) -> Result<Slot, Refusal> {
        reserve(SlotRequest {
            voucher: v,
            previous,
            now,
        })
    }

    #[test]
    fn window_and_revocation_come_first() {
        let mut v = voucher();
        assert_eq!(decide(&v, None, NOW), Ok(Slot::Take));
        assert_eq!(
            decide(&v, None, NOW - Duration::hours(2)),
            Err(Refusal::NotYetValid)
        );
        assert_eq!(
            decide(&v, None, NOW + Duration::hours(1)),
            Err(Refusal::Expired),
            "the end itself is already over"
        );
        v.revoked_at = Some(NOW);
        assert_eq!(decide(&v, None, NOW), Err(Refusal::InvalidCode));
    }

    #[test]
    fn the_same_device_keeps_its_slot_and_new_ones_count() {
        let mut v = voucher();
        let open = grant(GrantState::Active, None);
        let ended = grant(GrantState::Ended, Some(EndReason::Expired));
        let pending = grant(GrantState::Pending, None);
        v.devices_used = 2;
        assert_eq!(decide(&v, Some(&open), NOW), Ok(Slot::Reuse));
        assert_eq!(decide(&v, Some(&pending), NOW), Ok(Slot::Reuse));
        assert_eq!(decide(&v, Some(&ended), NOW), Ok(Slot::Reopen));
        assert_eq!(decide(&v, None, NOW), Err(Refusal::DeviceLimit));
        v.max_devices = 0;
        assert_eq!(decide(&v, None, NOW), Ok(Slot::Take), "0 = unlimited");
    }

    #[test]
    fn a_device_the_host_revoked_stays_off() {
        let v = voucher();
        let revoked = grant(GrantState::Ended, Some(EndReason::GrantRevoked));
        assert_eq!(decide(&v, Some(&revoked), NOW), Err(Refusal::InvalidCode));
    }
}
