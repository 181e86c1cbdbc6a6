//! Vouchers: the checked input of an issue or a change (DESIGN §3, docs/api.md "Voucher").
//!
//! [`NewVoucher::parse`] and [`VoucherChanges::parse`] check everything that does not depend
//! on stored rows before a use case runs; [`VoucherChanges::apply`] checks the rest (the new
//! end against the stored start) inside the transaction.

use time::{Duration, OffsetDateTime};

use crate::config::VoucherConfig;
use crate::vouchers::model::{DevicePolicy, Voucher};
use crate::vouchers::unit::valid_unit_id;
use crate::vouchers::{code, invalid, Error};

/// A voucher request as given (DESIGN §7 `POST /api/v1/vouchers`).
#[derive(Clone, Debug, Default)]
pub struct VoucherRequest {
    pub unit_id: String,
    pub code: Option<String>,
    pub valid_from: Option<OffsetDateTime>,
    pub valid_until: Option<OffsetDateTime>,
    pub duration_minutes: Option<i64>,
    pub max_devices: Option<i64>,
    pub guest_name: Option<String>,
    pub booking_ref: Option<String>,
    pub down_kbps: Option<i64>,
    pub up_kbps: Option<i64>,
    pub note: Option<String>,
    pub device_policy: Option<String>,
}

/// A checked voucher to issue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewVoucher {
    pub unit_id: String,
    /// The host's own code (normalised), or `None` for a generated one.
    pub code: Option<String>,
    pub valid_from: OffsetDateTime,
    pub valid_until: Option<OffsetDateTime>,
    pub duration_minutes: Option<u32>,
    pub max_devices: u32,
    pub guest_name: Option<String>,
    pub booking_ref: Option<String>,
    pub down_kbps: Option<u32>,
    pub up_kbps: Option<u32>,
    pub note: Option<String>,
    /// `None`: the unit's policy.
    pub device_policy: Option<DevicePolicy>,
}

/// A voucher change as given (`PATCH /api/v1/vouchers/{code}`).
#[derive(Clone, Debug, Default)]
pub struct VoucherPatch {
    pub valid_until: Option<OffsetDateTime>,
    pub duration_minutes: Option<i64>,
    pub max_devices: Option<i64>,
    pub guest_name: Option<String>,
    pub note: Option<String>,
    /// `Some(None)`: back to the unit's policy.
    pub device_policy: Option<Option<String>>,
}

/// A checked voucher change. `None` = unchanged; `Some(None)` clears a text field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VoucherChanges {
    /// Not on the public PATCH route: a booking move changes the start too.
    valid_from: Option<OffsetDateTime>,
    valid_until: Option<OffsetDateTime>,
    duration_minutes: Option<u32>,
    max_devices: Option<u32>,
    guest_name: Option<Option<String>>,
    note: Option<Option<String>>,
    device_policy: Option<Option<DevicePolicy>>,
}

/// `replace_oldest` or `refuse` (DESIGN §10 "Devices").
pub fn check_policy(field: &'static str, v: &str) -> Result<DevicePolicy, Error> {
    DevicePolicy::parse(v.trim())
        .ok_or_else(|| invalid(field, format!("{field} must be replace_oldest or refuse")))
}

fn check_len(field: &'static str, v: Option<&str>, max: usize) -> Result<Option<String>, Error> {
    match v {
        None => Ok(None),
        Some(s) => {
            let t = s.trim();
            if t.chars().count() > max {
                return Err(invalid(
                    field,
                    format!("{field} must be at most {max} characters"),
                ));
            }
            if t.chars().any(|c| c.is_control()) {
                return Err(invalid(
                    field,
                    format!("{field} must not contain control characters"),
                ));
            }
            Ok((!t.is_empty()).then(|| t.to_owned()))
        }
    }
}

fn check_range(
    field: &'static str,
    v: Option<i64>,
    lo: i64,
    hi: i64,
) -> Result<Option<u32>, Error> {
    match v {
        None => Ok(None),
        Some(n) if (lo..=hi).contains(&n) => Ok(Some(n as u32)),
        Some(_) => Err(invalid(
            field,
            format!("{field} must be between {lo} and {hi}"),
        )),
    }
}

fn check_span(from: OffsetDateTime, until: OffsetDateTime, max_minutes: i64) -> Result<(), Error> {
    if until <= from {
        return Err(invalid(
            "valid_until",
            "valid_until must be after valid_from",
        ));
    }
    if until - from > Duration::minutes(max_minutes) {
        return Err(invalid(
            "valid_until",
            format!("validity may be at most {max_minutes} minutes"),
        ));
    }
    Ok(())
}

impl NewVoucher {
    pub fn parse(
        req: VoucherRequest,
        limits: &VoucherConfig,
        now: OffsetDateTime,
    ) -> Result<NewVoucher, Error> {
        if !valid_unit_id(&req.unit_id) {
            return Err(invalid(
                "unit_id",
                "unit_id is required and must match [a-z0-9_-]{1,64}",
            ));
        }
        let code = match &req.code {
            Some(c) => Some(code::validate_custom(c).map_err(|m| invalid("code", m))?),
            None => None,
        };
        let max_minutes = limits.max_duration_minutes;
        let duration = check_range("duration_minutes", req.duration_minutes, 1, max_minutes)?;
        let max_devices = check_range("max_devices", req.max_devices, 0, 100)?
            .unwrap_or(limits.default_max_devices);
        let down = check_range("down_kbps", req.down_kbps, 1, 10_000_000)?;
        let up = check_range("up_kbps", req.up_kbps, 1, 10_000_000)?;
        let guest_name = check_len("guest_name", req.guest_name.as_deref(), 100)?;
        let booking_ref = check_len("booking_ref", req.booking_ref.as_deref(), 100)?;
        let note = check_len("note", req.note.as_deref(), 500)?;
        let device_policy = req
            .device_policy
            .as_deref()
            .map(|p| check_policy("device_policy", p))
            .transpose()?;
        let valid_from = req.valid_from.unwrap_or(now);
        if req.valid_until.is_none() && duration.is_none() {
            return Err(invalid(
                "valid_until",
                "give valid_until, duration_minutes, or both",
            ));
        }
        if let Some(until) = req.valid_until {
            if until <= valid_from {
                return Err(invalid(
                    "valid_until",
                    "valid_until must be after valid_from",
                ));
            }
            if until <= now {
                return Err(invalid("valid_until", "valid_until must be in the future"));
            }
            check_span(valid_from, until, max_minutes)?;
        }
        if valid_from < now - Duration::days(366) {
            return Err(invalid("valid_from", "valid_from is too far in the past"));
        }
        if valid_from > now + Duration::days(366) {
            return Err(invalid("valid_from", "valid_from is too far in the future"));
        }
        Ok(NewVoucher {
            unit_id: req.unit_id,
            code,
            valid_from,
            valid_until: req.valid_until,
            duration_minutes: duration,
            max_devices,
            guest_name,
            booking_ref,
            down_kbps: down,
            up_kbps: up,
            note,
            device_policy,
        })
    }

    /// The voucher a booking gets for its access window (values the booking rules produced).
    pub fn for_booking(
        unit_id: &str,
        booking_ref: &str,
        from: OffsetDateTime,
        until: OffsetDateTime,
        guest_name: Option<String>,
        limits: &VoucherConfig,
    ) -> NewVoucher {
        NewVoucher {
            unit_id: unit_id.to_owned(),
            code: None,
            valid_from: from,
            valid_until: Some(until),
            duration_minutes: None,
            max_devices: limits.default_max_devices,
            guest_name,
            booking_ref: Some(booking_ref.to_owned()),
            down_kbps: None,
            up_kbps: None,
            note: None,
            device_policy: None,
        }
    }

    /// The voucher row this creates.
    pub fn build(&self, code: String, now: OffsetDateTime) -> Voucher {
        Voucher {
            code,
            unit_id: self.unit_id.clone(),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            duration_minutes: self.duration_minutes,
            max_devices: self.max_devices,
            devices_used: 0,
            guest_name: self.guest_name.clone(),
            booking_ref: self.booking_ref.clone(),
            down_kbps: self.down_kbps,
            up_kbps: self.up_kbps,
            note: self.note.clone(),
            created_at: now,
            first_used_at: None,
            revoked_at: None,
            suspended_at: None,
            revoke_cause: None,
            device_policy: self.device_policy,
            devices_active: 0,
        }
    }
}

impl VoucherChanges {
    pub fn parse(p: VoucherPatch, limits: &VoucherConfig) -> Result<VoucherChanges, Error> {
        let max_minutes = limits.max_duration_minutes;
        let duration_minutes = check_range("duration_minutes", p.duration_minutes, 1, max_minutes)?;
        let max_devices = check_range("max_devices", p.max_devices, 0, 100)?;
        let guest_name = match &p.guest_name {
            None => None,
            Some(g) => Some(check_len("guest_name", Some(g), 100)?),
        };
        let note = match &p.note {
            None => None,
            Some(n) => Some(check_len("note", Some(n), 500)?),
        };
        let device_policy = match &p.device_policy {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => Some(Some(check_policy("device_policy", v)?)),
        };
        let c = VoucherChanges {
            valid_from: None,
            valid_until: p.valid_until,
            duration_minutes,
            max_devices,
            guest_name,
            note,
            device_policy,
        };
        if c == VoucherChanges::default() {
            return Err(Error::Validation {
                field: None,
                message: "nothing to change".into(),
            });
        }
        Ok(c)
    }

    /// A booking's voucher moved to a new window (and guest name).
    pub fn window(from: OffsetDateTime, until: OffsetDateTime, guest_name: Option<String>) -> Self {
        VoucherChanges {
            valid_from: Some(from),
            valid_until: Some(until),
            guest_name: Some(guest_name),
            ..VoucherChanges::default()
        }
    }

    /// Lay the change onto `v`. Refused for a revoked voucher and for a window the limits do
    /// not allow.
    pub fn apply(&self, v: &mut Voucher, limits: &VoucherConfig) -> Result<(), Error> {
        if v.revoked_at.is_some() {
            return Err(Error::Conflict("voucher is revoked".into()));
        }
        let mut n = v.clone();
        if let Some(from) = self.valid_from {
            n.valid_from = from;
            if self.valid_until.is_none() && n.valid_until.is_some_and(|u| u <= from) {
                return Err(invalid(
                    "valid_until",
                    "valid_until must be after valid_from",
                ));
            }
        }
        if let Some(until) = self.valid_until {
            check_span(n.valid_from, until, limits.max_duration_minutes)?;
            n.valid_until = Some(until);
        }
        if let Some(d) = self.duration_minutes {
            n.duration_minutes = Some(d);
        }
        if let Some(m) = self.max_devices {
            n.max_devices = m;
        }
        if let Some(g) = &self.guest_name {
            n.guest_name.clone_from(g);
        }
        if let Some(note) = &self.note {
            n.note.clone_from(note);
        }
        if let Some(p) = self.device_policy {
            n.device_policy = p;
        }
        *v = n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

    fn field<T: std::fmt::Debug>(r: Result<T, Error>) -> Option<&'static str> {
        match r {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn req() -> VoucherRequest {
        VoucherRequest {
            unit_id: "u".into(),
            duration_minutes: Some(60),
            ..Default::default()
        }
    }

    #[test]
    fn issue_input_is_checked_against_the_limits() {
        let limits = VoucherConfig::default();
        let v = NewVoucher::parse(req(), &limits, NOW).unwrap();
        assert_eq!((v.valid_from, v.max_devices), (NOW, 4));
        let parse = |r: VoucherRequest| NewVoucher::parse(r, &limits, NOW);
        assert_eq!(
            field(parse(VoucherRequest {
                duration_minutes: None,
                ..req()
            })),
            Some("valid_until")
        );
        assert_eq!(
            field(parse(VoucherRequest {
                valid_until: Some(NOW - Duration::minutes(1)),
                valid_from: Some(NOW - Duration::hours(1)),
                ..req()
            })),
            Some("valid_until"),
            "in the past"
        );
        assert_eq!(
            field(parse(VoucherRequest {
                valid_until: Some(NOW + Duration::days(31)),
                ..req()
            })),
            Some("valid_until"),
            "longer than the limit"
        );
        assert_eq!(
            field(parse(VoucherRequest {
                max_devices: Some(101),
                ..req()
            })),
            Some("max_devices")
        );
        assert_eq!(
            field(parse(VoucherRequest {
                code: Some("ab".into()),
                ..req()
            })),
            Some("code")
        );
        assert_eq!(
            field(parse(VoucherRequest {
                unit_id: "".into(),
                ..req()
            })),
            Some("unit_id")
        );
        let v = parse(VoucherRequest {
            code: Some("sea-view 1".into()),
            guest_name: Some("   ".into()),
            ..req()
        })
        .unwrap();
        assert_eq!(v.code.as_deref(), Some("SEAVIEW1"));
        assert_eq!(v.guest_name, None, "blank means none");
    }

    #[test]
    fn changes_are_checked_then_applied() {
        let limits = VoucherConfig::default();
        assert!(matches!(
            VoucherChanges::parse(VoucherPatch::default(), &limits),
            Err(Error::Validation { field: None, .. })
        ));
        let mut v = NewVoucher::parse(req(), &limits, NOW)
            .unwrap()
            .build("ABCD2345".into(), NOW);
        let c = VoucherChanges::parse(
            VoucherPatch {
                valid_until: Some(NOW - Duration::hours(1)),
                ..Default::default()
            },
            &limits,
        )
        .unwrap();
        assert_eq!(field(c.apply(&mut v.clone(), &limits)), Some("valid_until"));
        let c = VoucherChanges::parse(
            VoucherPatch {
                valid_until: Some(NOW + Duration::hours(3)),
                guest_name: Some("".into()),
                max_devices: Some(1),
                ..Default::default()
            },
            &limits,
        )
        .unwrap();
        c.apply(&mut v, &limits).unwrap();
        assert_eq!(v.valid_until, Some(NOW + Duration::hours(3)));
        assert_eq!(v.max_devices, 1);
        v.revoked_at = Some(NOW);
        assert!(matches!(c.apply(&mut v, &limits), Err(Error::Conflict(_))));
    }
}
