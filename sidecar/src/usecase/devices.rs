//! The host lets a device in by its MAC (issue 14 item 4): a TV stick, a console, a smart TV
//! — devices without a browser that never get through a captive portal.
//!
//! The same shape as a redemption: reserve a slot on the voucher (one short write, the slot
//! rules of `vouchers::slots` with the host as requester: it counts against `max_devices`,
//! and the voucher's policy may make room) → the controller (no transaction open) → confirm
//! or release (one short write). The grant is marked `by_host`: no guest's device ever
//! replaces it; it ends at check-out like any grant.
//!
//! Only the Open API can let a device in without the portal, and only one the controller
//! lists as connected to one of the unit's SSIDs (research §2). Its authorisation lasts the
//! site's portal timeout whatever the mode, so it is renewed through the Open API before
//! that (the outbox's re-authorisation). What the controller cannot
//! do is [`DeviceError::Controller`] with the controller client's own words (the mode, "connect
//! the device to the guest Wi-Fi first"), mapped to HTTP once in `api::error`.

use crate::events::{Event, GrantRef};
use crate::failpoint;
use crate::net::Mac;
use crate::omada::MacAuthError;
use crate::outbox::renew_at;
use crate::store::bookings as rows_b;
use crate::store::{from_ms, grants as g, rows, to_ms, StoreError};
use crate::usecase::bookings::voucher_of;
use crate::usecase::{Rentals, Tx, UseCase};
use crate::vouchers::booking::current_voucher;
use crate::vouchers::model::{AuditAction, EndReason, Grant, GrantState, Unit, Voucher};
use crate::vouchers::slots::{self, Decision, Refusal, Requester, Slot, SlotRequest};
use crate::vouchers::{self as domain, invalid, Ctx};

/// Which voucher the device goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceTarget {
    Voucher(String),
    /// The voucher of the unit's stay in progress.
    CurrentStay(String),
}

/// A checked "let this device in".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDevice {
    pub mac: Mac,
    pub name: Option<String>,
}

impl NewDevice {
    pub fn parse(mac: &str, name: Option<&str>) -> Result<NewDevice, domain::Error> {
        let mac: Mac = mac.trim().parse().map_err(|_| {
            invalid(
                "mac",
                "mac must be a MAC address such as AA-BB-CC-DD-EE-FF (the device's Wi-Fi address for this network)",
            )
        })?;
        let name = match name.map(str::trim) {
            None | Some("") => None,
            Some(n) if n.chars().count() > 64 || n.chars().any(char::is_control) => {
                return Err(invalid("name", "name must be at most 64 characters"))
            }
            Some(n) => Some(n.to_owned()),
        };
        Ok(NewDevice { mac, name })
    }
}

/// Why the device was not let in.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Bad input, or the voucher does not allow it now (409).
    #[error(transparent)]
    Rule(#[from] domain::Error),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the Omada controller is not configured")]
    NotConfigured,
    /// The controller cannot or would not let it in (the mode, not connected, …).
    #[error(transparent)]
    Controller(MacAuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn refusal(r: Refusal, v: &Voucher) -> DeviceError {
    let m = match r {
        Refusal::InvalidCode => "the voucher is revoked".to_owned(),
        Refusal::Suspended => {
            "the voucher is suspended: its booking is missing from the calendar".to_owned()
        }
        Refusal::Expired => "the voucher has expired".to_owned(),
        Refusal::NotYetValid => format!(
            "the voucher is valid from {} only",
            crate::clock::rfc3339(v.valid_from)
        ),
        Refusal::DeviceLimit => format!(
            "all {} devices of the voucher are in use and its device policy is refuse; raise max_devices or take a device off first",
            v.max_devices
        ),
    };
    DeviceError::Rule(domain::Error::Conflict(m))
}

/// A slot held for the device, waiting for the controller.
#[derive(Clone, Debug)]
struct Held {
    unit: Unit,
    grant: Grant,
    slot: Slot,
    moves: Option<Grant>,
    at: time::OffsetDateTime,
}

impl Rentals {
    /// Let the device in on the target voucher for that voucher's window. Returns its grant
    /// and whether it is new (false: it was in already and was let in again).
    pub async fn authorize_device(
        &self,
        ctx: &Ctx,
        target: DeviceTarget,
        device: NewDevice,
    ) -> Result<(Grant, bool), DeviceError> {
        let d = device.clone();
        let held = self
            .run(UseCase::DeviceReserve, ctx, move |tx| {
                reserve(tx, &target, &d)
            })
            .await?;
        let answer = self
            .controller
            .authorize_mac(&held.grant.site, device.mac, &held.unit.ssids)
            .await;
        match answer {
            Some(Ok(_)) => {
                failpoint::hit("device", "authorized");
                let created = held.slot != Slot::Reuse;
                // An Open API authorisation lasts the portal timeout: renewed before it.
                let timeout = self.controller.portal_timeout(&held.grant.site).await;
                let grant = self
                    .run(UseCase::DeviceConfirm, ctx, move |tx| {
                        confirm(tx, held, timeout)
                    })
                    .await??;
                Ok((grant, created))
            }
            other => {
                if held.slot != Slot::Reuse {
                    let (id, code, fresh) = (
                        held.grant.grant_id,
                        held.grant.code,
                        held.slot == Slot::Take,
                    );
                    self.run(UseCase::DeviceRelease, ctx, move |tx| {
                        release(tx, &id, &code, fresh)
                    })
                    .await?;
                }
                Err(match other {
                    Some(Err(e)) => DeviceError::Controller(e),
                    _ => DeviceError::NotConfigured,
                })
            }
        }
    }
}

fn target_voucher(tx: &Tx<'_>, target: &DeviceTarget) -> Result<Voucher, DeviceError> {
    match target {
        DeviceTarget::Voucher(code) => {
            let code = domain::code::normalize(code).ok_or(DeviceError::NotFound("voucher"))?;
            rows::voucher_get(tx.db, &code).map_err(|e| match e {
                StoreError::NotFound => DeviceError::NotFound("voucher"),
                e => e.into(),
            })
        }
        DeviceTarget::CurrentStay(unit_id) => {
            if !rows::unit_exists(tx.db, unit_id)? {
                return Err(DeviceError::NotFound("unit"));
            }
            let mut candidates = Vec::new();
            for b in rows_b::list_for_unit(tx.db, unit_id)? {
                let v = voucher_of(tx.db, &b)?;
                candidates.push((b, v));
            }
            current_voucher(candidates, tx.now).ok_or_else(|| {
                DeviceError::Rule(domain::Error::Conflict(format!(
                    "unit {unit_id} has no stay in progress; give the voucher's code instead"
                )))
            })
        }
    }
}

fn reserve(tx: &mut Tx<'_>, target: &DeviceTarget, d: &NewDevice) -> Result<Held, DeviceError> {
    let voucher = target_voucher(tx, target)?;
    let unit = rows::unit_get(tx.db, &voucher.unit_id)?;
    let site = unit.omada_site.clone();
    let previous = g::latest_for(tx.db, &voucher.code, d.mac)?;
    let held = g::active_for_mac(tx.db, d.mac, &site)?;
    let open_count = g::count_open_for_code(tx.db, &voucher.code)?;
    let open = if slots::needs_open_grants(&voucher, open_count) {
        g::open_for_code(tx.db, &voucher.code)?
    } else {
        Vec::new()
    };
    let decision = slots::reserve(SlotRequest {
        voucher: &voucher,
        policy: voucher.device_policy.unwrap_or(unit.stay.device_policy),
        previous: previous.as_ref(),
        open_count,
        open: &open,
        held_elsewhere: held.as_ref(),
        requester: Requester::Host,
        now: tx.now,
    })
    .map_err(|r| refusal(r, &voucher))?;
    let Decision::Admit {
        slot,
        replaces,
        moves,
    } = decision
    else {
        // The host is never answered from a grant: it asks the controller again.
        return Err(StoreError::Conflict("no slot decision".into()).into());
    };
    if let Some(old) = replaces.and_then(|id| open.iter().find(|g| g.grant_id == id)) {
        tx.end_grant(old, EndReason::Replaced)?;
    }
    let end = voucher.end_if_redeemed_at(tx.now);
    let grant = match (slot, previous) {
        (Slot::Reuse, Some(mut p)) => {
            p.by_host = true;
            p.name.clone_from(&d.name);
            g::set_host(tx.db, &p.grant_id, d.name.as_deref())?;
            p
        }
        (_, previous) => {
            let grant = Grant {
                grant_id: uuid::Uuid::now_v7().to_string(),
                code: voucher.code.clone(),
                unit_id: voucher.unit_id.clone(),
                client_mac: d.mac,
                client_ip: None,
                ap_mac: None,
                gateway_mac: None,
                ssid: None,
                vid: None,
                radio_id: None,
                site,
                state: GrantState::Pending,
                authorized_at: None,
                expires_at: end,
                ended_at: None,
                end_reason: None,
                by_host: true,
                name: d.name.clone(),
            };
            g::insert(tx.db, &grant, tx.now)?;
            if previous.is_none() {
                rows::voucher_take_slot(tx.db, &voucher.code)?;
            }
            grant
        }
    };
    Ok(Held {
        unit,
        grant,
        slot,
        moves: moves.and(held),
        at: tx.now,
    })
}

/// The controller let it in: the grant is active until the voucher's end (or, when the
/// voucher was revoked meanwhile, ended again).
fn confirm(
    tx: &mut Tx<'_>,
    h: Held,
    timeout: std::time::Duration,
) -> Result<Result<Grant, DeviceError>, StoreError> {
    let voucher = match rows::voucher_get(tx.db, &h.grant.code) {
        Ok(v) => Some(v),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e),
    };
    let state = match g::state_of(tx.db, &h.grant.grant_id) {
        Ok(s) => Some(s),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e),
    };
    let v = match (voucher, state) {
        (Some(v), Some(s)) if v.revoked_at.is_none() && s != GrantState::Ended => v,
        (_, state) => {
            if state.is_some_and(|s| s != GrantState::Ended) {
                tx.end_grant(&h.grant, EndReason::VoucherRevoked)?;
            } else {
                tx.queue_unauthorize(&h.grant, tx.now)?;
            }
            return Ok(Err(DeviceError::Rule(domain::Error::Conflict(
                "the voucher was revoked meanwhile".into(),
            ))));
        }
    };
    if v.first_used_at.is_none() {
        rows::voucher_set_first_used(tx.db, &v.code, h.at)?;
    }
    let mut first = v.clone();
    first.first_used_at = first.first_used_at.or(Some(h.at));
    let end = first.end_if_redeemed_at(h.at);
    g::set_active(tx.db, &h.grant.grant_id, tx.now, end)?;
    tx.grant_ends_at(end);
    if let Some(at) = renew_at(tx.now, timeout, end) {
        tx.queue_renewal(&h.grant.grant_id, at)?;
    }
    if let Some(old) = &h.moves {
        if g::state_of(tx.db, &old.grant_id)? == GrantState::Active {
            tx.end_grant(old, EndReason::Moved)?;
        }
    }
    tx.audit(
        AuditAction::DeviceAuthorize,
        Some(&v.unit_id),
        Some(&v.code),
        Some(h.grant.client_mac.to_string()),
    )?;
    let mut grant = h.grant;
    grant.state = GrantState::Active;
    grant.authorized_at = Some(from_ms(to_ms(tx.now)));
    grant.expires_at = from_ms(to_ms(end));
    tx.publish(Event::VoucherRedeemed {
        grant: GrantRef {
            unit_id: v.unit_id.clone(),
            code: v.code.clone(),
            grant_id: grant.grant_id.clone(),
            client_mac: grant.client_mac,
        },
        booking_ref: v.booking_ref.clone(),
        by_host: true,
    });
    Ok(Ok(grant))
}

/// The controller did not let it in: the pending grant goes, its slot is free again.
fn release(tx: &mut Tx<'_>, grant_id: &str, code: &str, fresh: bool) -> Result<(), StoreError> {
    match g::state_of(tx.db, grant_id) {
        Ok(GrantState::Pending) => {
            g::delete(tx.db, grant_id)?;
            if fresh {
                let mut v = rows::voucher_get(tx.db, code)?;
                v.devices_used = v.devices_used.saturating_sub(1);
                rows::voucher_update(tx.db, &v)?;
            }
            Ok(())
        }
        Ok(_) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_a_mac_and_maybe_a_name() {
        let d = NewDevice::parse(" aa:bb:cc:00:11:22 ", Some("  Living room TV ")).unwrap();
        assert_eq!(d.mac.to_string(), "AA-BB-CC-00-11-22");
        assert_eq!(d.name.as_deref(), Some("Living room TV"));
        assert_eq!(
            NewDevice::parse("AA-BB-CC-00-11-22", Some(" "))
                .unwrap()
                .name,
            None
        );
        let field = |r: Result<NewDevice, domain::Error>| match r {
            Err(domain::Error::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(NewDevice::parse("tv", None)), Some("mac"));
        assert_eq!(
            field(NewDevice::parse("AA-BB-CC-00-11-22", Some(&"x".repeat(65)))),
            Some("name")
        );
    }
}
