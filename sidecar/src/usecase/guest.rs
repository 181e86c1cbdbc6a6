//! The use cases around the guest's pages (issue 17): a unit's logo set or removed (its own
//! route, one transaction each), a guest ending their own device's access from the status
//! page (grant ended and its unauthorise queued in one transaction, audited), and the reads
//! the status page, the Captive Portal API and the consent export need.
//!
//! A device is found by the address it asks from together with the MAC the controller
//! reported at login (DESIGN §10 "Who is asking"): the active grant whose `client_ip` is the
//! peer address, on a unit whose guest addresses reach the portal untranslated. The
//! disconnect checks all of it again inside its transaction.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::events::{Event, UnitChange};
use crate::net::Mac;
use crate::store::guest_page::{self as gp, Consent, LogoRow};
use crate::store::{grants as g, rows, StoreError};
use crate::usecase::{not_found, Error, Rentals, UseCase};
use crate::vouchers::model::{AuditAction, EndReason, Grant, GrantState, Unit, Voucher};
use crate::vouchers::Ctx;

/// A device's access as the status page shows it.
#[derive(Clone, Debug)]
pub struct DeviceAccess {
    pub grant: Grant,
    pub voucher: Voucher,
    /// Devices on this voucher now.
    pub devices_active: u32,
}

/// Most consents one export answers.
pub const MAX_CONSENTS: u32 = 10_000;

/// The address as grants store it (the redirect's `clientIp`, IPv4-mapped IPv6 as IPv4).
fn address(peer: IpAddr) -> String {
    peer.to_canonical().to_string()
}

impl Rentals {
    /// Set a unit's logo (checked by the caller: `portal::branding::check_logo`). The image
    /// is stored once by its SHA-256; the one it replaces goes when no unit uses it.
    pub async fn set_unit_logo(
        &self,
        ctx: &Ctx,
        unit_id: &str,
        logo: LogoRow,
    ) -> Result<Unit, Error> {
        let unit_id = unit_id.to_owned();
        self.run(UseCase::UnitLogo, ctx, move |tx| {
            let mut unit = rows::unit_get(tx.db, &unit_id).map_err(not_found("unit"))?;
            gp::logo_put(tx.db, &logo)?;
            unit.guest_page.logo_sha256 = Some(logo.sha256.clone());
            unit.updated_at = tx.now;
            rows::unit_put(tx.db, &unit, false)?;
            tx.audit(
                AuditAction::UnitLogoPut,
                Some(&unit.unit_id),
                None,
                Some(format!(
                    "sha256={} {} {}x{}",
                    logo.sha256, logo.content_type, logo.width, logo.height
                )),
            )?;
            tx.publish(Event::UnitChanged {
                unit_id: unit.unit_id.clone(),
                change: UnitChange::Updated,
            });
            Ok::<_, Error>(unit)
        })
        .await
    }

    /// Remove a unit's logo (none: nothing changes, the unit is answered).
    pub async fn delete_unit_logo(&self, ctx: &Ctx, unit_id: &str) -> Result<Unit, Error> {
        let unit_id = unit_id.to_owned();
        self.run(UseCase::UnitLogo, ctx, move |tx| {
            let mut unit = rows::unit_get(tx.db, &unit_id).map_err(not_found("unit"))?;
            if unit.guest_page.logo_sha256.is_none() {
                return Ok(unit);
            }
            unit.guest_page.logo_sha256 = None;
            unit.updated_at = tx.now;
            rows::unit_put(tx.db, &unit, false)?;
            tx.audit(AuditAction::UnitLogoDelete, Some(&unit.unit_id), None, None)?;
            tx.publish(Event::UnitChanged {
                unit_id: unit.unit_id.clone(),
                change: UnitChange::Updated,
            });
            Ok::<_, Error>(unit)
        })
        .await
    }

    /// A stored logo by its SHA-256.
    pub async fn logo(&self, sha256: &str) -> Result<Option<LogoRow>, StoreError> {
        let sha = sha256.to_owned();
        self.store.read(move |c| gp::logo_get(c, &sha)).await
    }

    /// A unit's consents, newest first.
    pub async fn consents(
        &self,
        unit_id: &str,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<Consent>, Error> {
        let id = unit_id.to_owned();
        self.store
            .read(move |c| {
                rows::unit_get(c, &id)?;
                gp::consents_for_unit(c, &id, since, limit.min(MAX_CONSENTS))
            })
            .await
            .map_err(not_found("unit"))
    }

    /// The access of the device asking from `peer` (with the MAC the redirect names, when
    /// the request carries one), on one of `units` (those whose guest addresses reach the
    /// portal untranslated); `None` when it has none.
    pub async fn device_access(
        &self,
        peer: IpAddr,
        mac: Option<Mac>,
        units: Vec<String>,
    ) -> Result<Option<DeviceAccess>, StoreError> {
        let now = self.clock.now();
        self.store
            .read(move |c| {
                let grant = g::active_at_address(c, &address(peer), now)?
                    .into_iter()
                    .find(|gr| {
                        units.contains(&gr.unit_id) && mac.is_none_or(|m| m == gr.client_mac)
                    });
                let Some(grant) = grant else {
                    return Ok(None);
                };
                let voucher = rows::voucher_get(c, &grant.code)?;
                let devices_active = g::open_for_code(c, &grant.code)?
                    .iter()
                    .filter(|o| o.state == GrantState::Active && o.expires_at > now)
                    .count() as u32;
                Ok(Some(DeviceAccess {
                    grant,
                    voucher,
                    devices_active,
                }))
            })
            .await
    }

    /// The guest ends their own device's access: the grant `grant_id`, if it is still active
    /// and still the device's (`mac` at `peer`), ends and its unauthorise is queued, in one
    /// transaction. `NotFound` when it is not (ended meanwhile, another device).
    pub async fn guest_disconnect(
        &self,
        ctx: &Ctx,
        grant_id: &str,
        mac: Mac,
        peer: IpAddr,
    ) -> Result<Grant, Error> {
        let id = grant_id.to_owned();
        self.run(UseCase::GuestDisconnect, ctx, move |tx| {
            let grant = g::get(tx.db, &id).map_err(not_found("grant"))?;
            let ours = grant.state == GrantState::Active
                && grant.client_mac == mac
                && grant.client_ip.as_deref() == Some(address(peer).as_str());
            if !ours {
                return Err(Error::NotFound("grant"));
            }
            tx.end_grant(&grant, EndReason::GuestDisconnected)?;
            tx.audit(
                AuditAction::GrantDisconnect,
                Some(&grant.unit_id),
                Some(&grant.code),
                Some(grant.client_mac.to_string()),
            )?;
            Ok::<_, Error>(g::get(tx.db, &id)?)
        })
        .await
    }
}
