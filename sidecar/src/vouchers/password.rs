//! Wi-Fi passwords per booking (issue 18): the rules of password-mode units, as plain
//! functions over plain values.
//!
//! A unit in password mode gives every voucher (a booking's or the host's) its own WPA2
//! password: a key of the PPSK profile of the unit's SSID, on the controller only while the
//! voucher's window is open. Controllers keep no per-key expiry and no per-key device limit
//! (research §1.2–1.3), so:
//!
//! * **the window** is the voucher's `valid_from` to its end; a `duration_minutes` counts from
//!   `valid_from` (there is no first redemption to count from), so it is folded into
//!   `valid_until` ([`fold_duration`]);
//! * **`max_devices` does not apply**: a password-mode voucher shows `0` (no limit) and a
//!   given value is ignored ([`adapt`]);
//! * **whether a key should be on the controller now** is [`wanted`]: the sidecar adds it at
//!   the window's start and deletes it at its end, revoke or cancellation, through the outbox;
//! * **the current password** of a unit is the booking in progress, else the next booking,
//!   else a voucher in progress, else the next one ([`current`]);
//! * **whom to push off** after a key was deleted ([`to_kick`]): only devices that can be
//!   told apart from other units' guests.

use time::{Duration, OffsetDateTime};

use crate::net::Mac;
use crate::vouchers::model::{Unit, Voucher};
use crate::vouchers::{invalid, Error};

/// Where a key is, or may be, on the controller: what deleting it there needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The unit's `omada_site` when it was placed.
    pub site: String,
    pub profile_id: String,
    /// The SSIDs it works on (for the kicks after its deletion).
    pub ssids: Vec<String>,
    pub vlan: Option<u16>,
    pub mac: Option<Mac>,
}

impl Placement {
    /// Where the key of a password-mode `unit` goes (the unit's one VLAN, if any; bound to
    /// `mac` for a device key). `None` when the unit is not in password mode.
    pub fn for_unit(unit: &Unit, mac: Option<Mac>) -> Option<Placement> {
        Some(Placement {
            site: unit.omada_site.clone(),
            profile_id: unit.access.profile()?.to_owned(),
            ssids: unit.ssids.clone(),
            vlan: unit.vlans.first().copied(),
            mac,
        })
    }

    /// The same key on the same profile (SSIDs may differ: they only steer the kicks).
    pub fn same_spot(&self, other: &Placement) -> bool {
        self.site == other.site && self.profile_id == other.profile_id
    }
}

/// A voucher's Wi-Fi password (or a device-bound one), as stored: the password sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct WifiKey {
    /// The key's name on the controller (`rentalwifi-…`).
    pub key_name: String,
    pub code: String,
    pub unit_id: String,
    /// Bound to this device (a device the host authorised by MAC), else `None`.
    pub device_mac: Option<Mac>,
    pub device_name: Option<String>,
    /// Sealed (`secrets::Sealer`); opened only to send or show it.
    pub sealed: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Where it is or may be on the controller; `None` when it surely is not.
    pub placement: Option<Placement>,
    /// Since when the controller has confirmed it (cleared when it is deleted).
    pub live_since: Option<OffsetDateTime>,
    /// When the controller confirmed it deleted.
    pub removed_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for WifiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WifiKey")
            .field("key_name", &self.key_name)
            .field("code", &self.code)
            .field("device_mac", &self.device_mac)
            .field("placement", &self.placement)
            .field("live_since", &self.live_since)
            .finish_non_exhaustive()
    }
}

/// When a password's window ends: the voucher's end, or for a voucher that counts its
/// duration from a first use it never had, `valid_from` + duration (a portal unit switched to
/// password mode). `None` only for a voucher with neither end (creation refuses those).
pub fn end(v: &Voucher) -> Option<OffsetDateTime> {
    v.expires_at().or_else(|| {
        v.duration_minutes
            .map(|d| v.valid_from + Duration::minutes(d as i64))
    })
}

/// Is the password of `v` to be on the controller at `now`? Only on a unit in password mode
/// (with a profile), for a voucher not revoked and not suspended (its booking missing from the
/// calendar before the stay, issue 14), inside its window.
pub fn wanted(unit: Option<&Unit>, v: Option<&Voucher>, now: OffsetDateTime) -> bool {
    let (Some(unit), Some(v)) = (unit, v) else {
        return false;
    };
    unit.access.profile().is_some()
        && v.unit_id == unit.unit_id
        && v.revoked_at.is_none()
        && v.suspended_at.is_none()
        && v.valid_from <= now
        && end(v).is_some_and(|e| now < e)
}

/// When the key of `v` must be looked at again after `now`: its window's start and end, those
/// still ahead.
pub fn due_times(v: &Voucher, now: OffsetDateTime) -> Vec<OffsetDateTime> {
    [Some(v.valid_from), end(v)]
        .into_iter()
        .flatten()
        .filter(|t| *t > now)
        .collect()
}

/// Password-mode rules for a voucher being issued: the duration counts from `valid_from`
/// (folded into `valid_until`), `max_devices` is 0 (the controller has no per-key limit; a
/// given value is ignored). A voucher whose folded end is already past is refused.
pub fn adapt(v: &mut Voucher, now: OffsetDateTime) -> Result<(), Error> {
    if let Some(d) = v.duration_minutes.take() {
        let by_duration = v.valid_from + Duration::minutes(d as i64);
        v.valid_until = Some(v.valid_until.map_or(by_duration, |u| u.min(by_duration)));
    }
    v.max_devices = 0;
    if v.valid_until.is_some_and(|u| u <= now) {
        return Err(invalid(
            "duration_minutes",
            "in password mode a duration counts from valid_from: this voucher would already be over",
        ));
    }
    Ok(())
}

/// Password-mode rules for a change (`before` → `after`): a new duration counts from
/// `valid_from` and becomes the end (the earlier of it and a `valid_until` given with it);
/// `max_devices` stays 0.
pub fn fold_duration(before: &Voucher, after: &mut Voucher) {
    if let Some(d) = after.duration_minutes.take() {
        if before.duration_minutes != Some(d) || before.valid_until.is_none() {
            let by_duration = after.valid_from + Duration::minutes(d as i64);
            after.valid_until = Some(if after.valid_until != before.valid_until {
                after
                    .valid_until
                    .map_or(by_duration, |u| u.min(by_duration))
            } else {
                by_duration
            });
        }
    }
    after.max_devices = 0;
}

/// A unit's current password among its vouchers (those with a password): the booking in
/// progress (latest start), else the next booking (earliest start), else a voucher in
/// progress, else the next voucher. Over and revoked vouchers are never current.
pub fn current(vouchers: &[Voucher], now: OffsetDateTime) -> Option<&Voucher> {
    let live = |v: &&Voucher| {
        v.revoked_at.is_none() && v.suspended_at.is_none() && end(v).is_some_and(|e| now < e)
    };
    let pick = |booking: bool| {
        let mine = || {
            vouchers
                .iter()
                .filter(live)
                .filter(move |v| v.booking_ref.is_some() == booking)
        };
        mine()
            .filter(|v| v.valid_from <= now)
            .max_by_key(|v| (v.valid_from, v.created_at))
            .or_else(|| {
                mine()
                    .filter(|v| v.valid_from > now)
                    .min_by_key(|v| (v.valid_from, v.created_at))
            })
    };
    pick(true).or_else(|| pick(false))
}

/// A device on the Wi-Fi, as the controller lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connected {
    pub mac: Mac,
    pub ssid: Option<String>,
    pub ap_mac: Option<Mac>,
}

/// What is known about a deleted key's reach.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KickScope {
    /// The SSIDs the key worked on.
    pub ssids: Vec<String>,
    /// The device the key was bound to, if it was.
    pub bound_mac: Option<Mac>,
    /// Some other unit names one of these SSIDs on the same site: its guests are there too.
    pub shared: bool,
    /// The unit's own access points (empty: not named).
    pub ap_macs: Vec<Mac>,
    /// Devices that must stay on: another key bound to them, or a portal grant.
    pub spare: Vec<Mac>,
}

/// Which devices to push off the Wi-Fi after a key was deleted (a kick makes a device join
/// again: one whose key still works is back in seconds, the departed guest's is not). The
/// controller does not say which key a device joined with (research §1.7), so:
/// * a key bound to one device: that device;
/// * else, on an SSID only this unit uses: every device on it (the unit's other guests
///   rejoin at once);
/// * else (an SSID shared with other units): only devices on the unit's own access points;
///   with none named, nobody — other units' guests are never pushed off.
pub fn to_kick(scope: &KickScope, clients: &[Connected]) -> Vec<Mac> {
    let on_ssid = |c: &&Connected| {
        c.ssid
            .as_ref()
            .is_some_and(|s| scope.ssids.iter().any(|x| x == s))
    };
    let mut out: Vec<Mac> = clients
        .iter()
        .filter(on_ssid)
        .filter(|c| match scope.bound_mac {
            Some(m) => c.mac == m,
            None if !scope.shared => true,
            None => c.ap_mac.is_some_and(|a| scope.ap_macs.contains(&a)),
        })
        .filter(|c| scope.bound_mac == Some(c.mac) || !scope.spare.contains(&c.mac))
        .map(|c| c.mac)
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vouchers::model::{Access, AccessMode};
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-01 15:00 UTC);

    fn unit(mode: AccessMode) -> Unit {
        Unit {
            unit_id: "loft".into(),
            name: "Loft".into(),
            omada_site: "Default".into(),
            ssids: vec!["Rental".into()],
            vlans: vec![],
            ap_macs: vec![],
            plume_customer_id: None,
            plume_location_id: None,
            checkin_grace_minutes: 0,
            checkout_grace_minutes: 0,
            terms_url: None,
            time_zone: None,
            access: Access {
                mode,
                ppsk_profile_id: Some("p1".into()),
            },
            created_at: T0,
            updated_at: T0,
            omada_site_id: None,
            stay: Default::default(),
            guest_checks: Default::default(),
            guest_page: Default::default(),
        }
    }

    fn voucher(code: &str, from: i64, until: Option<i64>, booking: bool) -> Voucher {
        Voucher {
            code: code.into(),
            unit_id: "loft".into(),
            valid_from: T0 + Duration::hours(from),
            valid_until: until.map(|u| T0 + Duration::hours(u)),
            duration_minutes: None,
            max_devices: 0,
            devices_used: 0,
            guest_name: None,
            booking_ref: booking.then(|| format!("B-{code}")),
            down_kbps: None,
            up_kbps: None,
            note: None,
            created_at: T0 - Duration::days(1),
            first_used_at: None,
            revoked_at: None,
            suspended_at: None,
            revoke_cause: None,
            device_policy: None,
            devices_active: 0,
        }
    }

    #[test]
    fn a_key_is_wanted_inside_its_window_on_a_password_unit_only() {
        let u = unit(AccessMode::Password);
        let v = voucher("A", 2, Some(26), true);
        let at = |h: i64| T0 + Duration::hours(h);
        assert!(!wanted(Some(&u), Some(&v), at(1)), "before check-in");
        assert!(wanted(Some(&u), Some(&v), at(2)), "at check-in");
        assert!(wanted(Some(&u), Some(&v), at(25)));
        assert!(!wanted(Some(&u), Some(&v), at(26)), "at check-out");
        assert!(!wanted(Some(&unit(AccessMode::Portal)), Some(&v), at(5)));
        assert!(!wanted(None, Some(&v), at(5)), "unit deleted");
        assert!(!wanted(Some(&u), None, at(5)), "voucher deleted");
        let mut revoked = v.clone();
        revoked.revoked_at = Some(at(3));
        assert!(!wanted(Some(&u), Some(&revoked), at(5)));
        let mut suspended = v.clone();
        suspended.suspended_at = Some(at(1));
        assert!(
            !wanted(Some(&u), Some(&suspended), at(5)),
            "its booking is missing from the calendar"
        );
        let mut no_profile = u.clone();
        no_profile.access.ppsk_profile_id = None;
        assert!(!wanted(Some(&no_profile), Some(&v), at(5)));
        assert_eq!(due_times(&v, at(0)), vec![at(2), at(26)]);
        assert_eq!(due_times(&v, at(2)), vec![at(26)]);
        assert!(due_times(&v, at(30)).is_empty());
    }

    #[test]
    fn durations_count_from_valid_from_and_device_limits_do_not_apply() {
        let mut v = voucher("A", 0, None, false);
        v.duration_minutes = Some(90);
        v.max_devices = 4;
        adapt(&mut v, T0).unwrap();
        assert_eq!(v.valid_until, Some(T0 + Duration::minutes(90)));
        assert_eq!((v.duration_minutes, v.max_devices), (None, 0));
        // Both given: the earlier end.
        let mut v = voucher("B", 0, Some(1), false);
        v.duration_minutes = Some(600);
        adapt(&mut v, T0).unwrap();
        assert_eq!(v.valid_until, Some(T0 + Duration::hours(1)));
        // Counted from a start in the past, already over.
        let mut v = voucher("C", -5, None, false);
        v.duration_minutes = Some(60);
        assert!(adapt(&mut v, T0).is_err());
        // A change: a new duration sets the end from valid_from; max_devices stays 0.
        let before = voucher("D", 0, Some(2), false);
        let mut after = before.clone();
        after.duration_minutes = Some(300);
        after.max_devices = 6;
        fold_duration(&before, &mut after);
        assert_eq!(after.valid_until, Some(T0 + Duration::hours(5)));
        assert_eq!((after.duration_minutes, after.max_devices), (None, 0));
        // …unless a valid_until came with it: the earlier.
        let mut after = before.clone();
        after.duration_minutes = Some(300);
        after.valid_until = Some(T0 + Duration::hours(3));
        fold_duration(&before, &mut after);
        assert_eq!(after.valid_until, Some(T0 + Duration::hours(3)));
        // A portal voucher counting from its first use, on a unit switched to password mode.
        let mut d = voucher("E", 0, None, false);
        d.duration_minutes = Some(120);
        assert_eq!(end(&d), Some(T0 + Duration::hours(2)));
    }

    #[test]
    fn the_current_password_is_the_booking_in_progress_else_the_next() {
        let now = T0 + Duration::hours(10);
        let past = voucher("PAST", -30, Some(-2), true);
        let stay = voucher("STAY", 0, Some(20), true);
        let next = voucher("NEXT", 22, Some(50), true);
        let later = voucher("LATER", 60, Some(80), true);
        let cleaner = voucher("CLEAN", 9, Some(11), false);
        let all = [
            past.clone(),
            later.clone(),
            cleaner.clone(),
            next.clone(),
            stay.clone(),
        ];
        assert_eq!(current(&all, now).unwrap().code, "STAY");
        let mut revoked = stay.clone();
        revoked.revoked_at = Some(now);
        let all = [past.clone(), later.clone(), next.clone(), revoked.clone()];
        assert_eq!(current(&all, now).unwrap().code, "NEXT");
        let all = [past.clone(), cleaner.clone()];
        assert_eq!(current(&all, now).unwrap().code, "CLEAN");
        assert!(current(&[past], now).is_none());
        assert!(current(&[], now).is_none());
    }

    fn mac(n: u8) -> Mac {
        format!("02-00-00-00-00-{n:02X}").parse().unwrap()
    }

    fn on(n: u8, ssid: &str, ap: Option<u8>) -> Connected {
        Connected {
            mac: mac(n),
            ssid: Some(ssid.into()),
            ap_mac: ap.map(|a| mac(100 + a)),
        }
    }

    #[test]
    fn kicks_never_reach_other_units_guests() {
        let clients = [
            on(1, "Rental", Some(1)),
            on(2, "Rental", Some(2)),
            on(3, "Other", Some(1)),
            on(4, "Rental", None),
        ];
        let scope = KickScope {
            ssids: vec!["Rental".into()],
            ..Default::default()
        };
        assert_eq!(to_kick(&scope, &clients), vec![mac(1), mac(2), mac(4)]);
        let spare = KickScope {
            spare: vec![mac(2)],
            ..scope.clone()
        };
        assert_eq!(to_kick(&spare, &clients), vec![mac(1), mac(4)]);
        // Shared SSID: only the unit's own access points; none named: nobody.
        let shared = KickScope {
            shared: true,
            ..scope.clone()
        };
        assert!(to_kick(&shared, &clients).is_empty());
        let own_ap = KickScope {
            ap_macs: vec![mac(101)],
            ..shared.clone()
        };
        assert_eq!(to_kick(&own_ap, &clients), vec![mac(1)]);
        // A device-bound key: that device, shared or not, spared or not.
        let bound = KickScope {
            bound_mac: Some(mac(2)),
            spare: vec![mac(2)],
            ..shared
        };
        assert_eq!(to_kick(&bound, &clients), vec![mac(2)]);
    }
}
