//! Redemption: letting a guest's device in. Reserve (one short transaction) → controller
//! (no transaction open) → confirm or release (one short transaction).
//!
//! Invariants (see ARCHITECTURE.md):
//! * A guest sees "you're online" only after the controller confirmed *and* the grant row
//!   was committed `active`. A crash in between leaves a `pending` row, which the start-up
//!   recovery turns into an unauthorise (the controller may have let the device in) and a
//!   freed slot.
//! * The slot check and the slot take are one write (`vouchers::slots` decides), so
//!   `max_devices` holds however many guests redeem at once.
//! * A voucher revoked while its device was at the controller is caught at confirm: the
//!   grant ends and the unauthorise is queued in the confirm transaction, after the
//!   authorisation landed.
//!
//! * No guest can change another device's access, and success is throttled
//!   (`vouchers::slots`): a redemption for a device that holds an active grant on another
//!   voucher never shortens or (without proof of holding it) moves that grant, and the same
//!   code for the same device again within a short window is answered from its grant. Both
//!   are answered in the reserve transaction, without the controller, an audit row or an
//!   event.
//! * A new device over the voucher's limit replaces the least recently authorised one in the
//!   reserve transaction (its unauthorise queued), or is refused (`device_policy`).
//! * A short code on a unit that requires a second factor lets the device in only together
//!   with the last name on its booking or voucher (`vouchers::guest_checks`); a wrong or
//!   missing name reads like a wrong code.
//!
//! [`attempt_scope`] tells the portal's limiter which budgets an attempt falls under, from the
//! same units the reserve transaction looks at.

use std::time::Duration;

use time::OffsetDateTime;

use crate::controller::ControllerError;
use crate::events::{Event, GrantRef};
use crate::failpoint;
use crate::omada::{AuthorizeRequest, OmadaError};
use crate::store::bookings as rows_b;
use crate::store::{from_ms, grants as g, guest_page, rows, to_ms, StoreError};
use crate::usecase::bookings::voucher_of;
use crate::usecase::{Rentals, Tx, UseCase};
use crate::vouchers::booking::pick_for_code;
use crate::vouchers::guest_checks::{self, AttemptScope};
use crate::vouchers::model::{
    AccessMode, AuditAction, EndReason, Grant, GrantState, Unit, Voucher,
};
use crate::vouchers::network::{on_unit_network, Attachment, Device};
use crate::vouchers::slots::{self, Decision, Refusal, Requester, Slot, SlotRequest};
use crate::vouchers::Ctx;

/// What a guest's device asks for on the portal.
#[derive(Clone, Debug)]
pub struct RedeemRequest {
    /// The typed code, normalised.
    pub code: String,
    pub device: Device,
    /// The page token and the peer address show the request comes from the device itself
    /// (DESIGN §10 "Who is asking"): it may then move the device from another voucher.
    pub holder_proven: bool,
    /// The last name typed beside the code (empty: none); needed with a short code on a unit
    /// that requires the second factor.
    pub last_name: String,
    /// The terms the guest accepted on the page (issue 17); `None`: no checkbox was ticked.
    pub consent: Option<ConsentGiven>,
}

/// The terms a guest accepted: the SHA-256 of the terms text the page showed, or the
/// `terms_url` it linked (units that link their terms).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsentGiven {
    pub terms_sha256: Option<String>,
    pub terms_url: Option<String>,
}

/// The budgets an attempt with `code` (normalised) and `last_name` from `device` falls under:
/// the units whose networks the redirect names (`units`: every unit), as the reserve
/// transaction will look them up.
pub fn attempt_scope(units: &[Unit], device: &Device, code: &str, last_name: &str) -> AttemptScope {
    let on_network: Vec<&Unit> = units
        .iter()
        .filter(|u| on_unit_network(u, device))
        .collect();
    guest_checks::attempt_scope(&on_network, code, last_name)
}

/// Why a redemption did not let the device in. The portal turns these into guest messages.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// Unknown code, another unit's code, a revoked code: all read the same to a guest.
    #[error("code not valid here")]
    InvalidCode,
    #[error("code expired")]
    Expired,
    #[error("code not yet valid")]
    NotYetValid,
    #[error("device limit reached")]
    DeviceLimit,
    /// The unit has terms and the guest did not accept them, or accepted other terms than
    /// the unit has now (the host changed them while the page was open).
    #[error("terms not accepted")]
    TermsNotAccepted,
    /// The redirect cannot be turned into a controller request.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Controller down, not configured, or refusing: the guest should try again.
    #[error("controller: {0}")]
    Controller(ControllerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RedeemError {
    /// Counts toward the brute-force limit (a guess that could be probing codes).
    pub fn is_guess(&self) -> bool {
        matches!(
            self,
            RedeemError::InvalidCode | RedeemError::Expired | RedeemError::NotYetValid
        )
    }
}

impl From<Refusal> for RedeemError {
    fn from(r: Refusal) -> Self {
        match r {
            // A suspended code (its booking is missing from the calendar) reads like a wrong
            // one: nothing about the booking is given away.
            Refusal::InvalidCode | Refusal::Suspended => RedeemError::InvalidCode,
            Refusal::Expired => RedeemError::Expired,
            Refusal::NotYetValid => RedeemError::NotYetValid,
            Refusal::DeviceLimit => RedeemError::DeviceLimit,
        }
    }
}

/// A successful redemption.
#[derive(Clone, Debug)]
pub struct Redeemed {
    pub grant: Grant,
    pub unit: Unit,
}

/// A slot taken, waiting for the controller.
#[derive(Clone, Debug)]
pub struct Reservation {
    /// As the reserve decided with it (`devices_active` not counted: `rows::voucher_uncounted`).
    pub voucher: Voucher,
    pub unit: Unit,
    pub grant: Grant,
    pub slot: Slot,
    /// The device's grant on another voucher that ends once this one is confirmed.
    pub moves: Option<Grant>,
    /// When the reservation was made (a first use counts from here).
    pub at: OffsetDateTime,
    /// The consent to record with the grant (the unit has terms).
    pub consent: Option<ConsentGiven>,
}

/// What the reserve transaction decided.
#[derive(Clone, Debug)]
pub enum Reserved {
    /// Answered from an existing grant: nothing to tell the controller.
    Answered(Box<Redeemed>),
    /// A slot is held: ask the controller, then confirm or release.
    Held(Box<Reservation>),
}

impl Rentals {
    /// Redeem a code for a device: reserve, ask the controller, confirm or release.
    pub async fn redeem(&self, ctx: &Ctx, req: &RedeemRequest) -> Result<Redeemed, RedeemError> {
        let r = match self.reserve(ctx, req).await? {
            Reserved::Answered(done) => return Ok(*done),
            Reserved::Held(r) => *r,
        };
        let device = &req.device;
        let end = r.voucher.end_if_redeemed_at(r.at);
        let remaining = (end - r.at).max(time::Duration::seconds(60));
        let req = AuthorizeRequest {
            client_mac: device.client_mac,
            client_ip: device.client_ip.map(|ip| ip.to_string()),
            site: r.grant.site.clone(),
            ap_mac: r.grant.ap_mac,
            ssid_name: r.grant.ssid.clone(),
            radio_id: r.grant.radio_id,
            gateway_mac: r.grant.gateway_mac,
            vid: r.grant.vid,
            duration: Duration::from_millis(remaining.whole_milliseconds().max(0) as u64),
            down_kbps: r.voucher.down_kbps,
            up_kbps: r.voucher.up_kbps,
        };
        match self.controller.authorize(&req).await {
            Ok(()) => {
                failpoint::hit("redeem", "authorized");
                self.confirm(ctx, r).await
            }
            Err(err) => {
                if let Err(e) = self.release(ctx, &r).await {
                    tracing::error!(error = %e, "could not release a reserved slot");
                }
                match err {
                    ControllerError::Omada(OmadaError::InvalidRequest(m)) => {
                        Err(RedeemError::InvalidRequest(m))
                    }
                    other => Err(RedeemError::Controller(other)),
                }
            }
        }
    }

    /// Check everything and take a slot (or answer from a grant), in one short write
    /// transaction.
    pub async fn reserve(&self, ctx: &Ctx, req: &RedeemRequest) -> Result<Reserved, RedeemError> {
        let req = req.clone();
        self.run(UseCase::RedeemReserve, ctx, move |tx| reserve(tx, &req))
            .await
    }

    /// The controller let the device in: make the grant active (or, when the voucher was
    /// revoked meanwhile, end it and queue the unauthorise), in one short write transaction.
    pub async fn confirm(&self, ctx: &Ctx, r: Reservation) -> Result<Redeemed, RedeemError> {
        let outcome = self
            .run(UseCase::RedeemConfirm, ctx, move |tx| confirm(tx, r))
            .await?;
        outcome
    }

    /// The controller did not let the device in: give the slot back (a re-authorisation keeps
    /// its grant as it was).
    pub async fn release(&self, ctx: &Ctx, r: &Reservation) -> Result<(), StoreError> {
        if r.slot == Slot::Reuse {
            return Ok(());
        }
        let (grant_id, code, new_slot) = (
            r.grant.grant_id.clone(),
            r.grant.code.clone(),
            r.slot == Slot::Take,
        );
        self.run(UseCase::RedeemRelease, ctx, move |tx| {
            let state = match g::state_of(tx.db, &grant_id) {
                Ok(s) => s,
                Err(StoreError::NotFound) => return Ok(()),
                Err(e) => return Err(e),
            };
            if state == GrantState::Pending {
                g::delete(tx.db, &grant_id)?;
                if new_slot {
                    let mut v = rows::voucher_get(tx.db, &code)?;
                    v.devices_used = v.devices_used.saturating_sub(1);
                    rows::voucher_update(tx.db, &v)?;
                }
            }
            Ok(())
        })
        .await
    }
}

/// The voucher a typed code stands for on this network: the voucher with that code when it
/// belongs to a unit of this network, else the voucher of a booking on such a unit that has
/// the code among its guest codes (DESIGN §3 "Bookings"). A voucher of another unit is
/// returned as is when no booking matches, so the checks that follow answer it exactly as
/// before ("invalid code").
///
/// Also returns the voucher's unit when it was read on the way (the common case: a voucher
/// code typed on its own unit's network), so the caller does not read it again.
fn resolve_code(
    tx: &Tx<'_>,
    code: &str,
    device: &Device,
) -> Result<(Voucher, Option<Unit>), RedeemError> {
    let voucher = match rows::voucher_uncounted(tx.db, code) {
        Ok(v) => Some(v),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(v) = voucher {
        let unit = rows::unit_get(tx.db, &v.unit_id)?;
        if on_unit_network(&unit, device) {
            return Ok((v, Some(unit)));
        }
        return other_voucher(tx, code, device, Some(v));
    }
    other_voucher(tx, code, device, None)
}

/// [`resolve_code`] when `code` is not a voucher of this network's units (`voucher`: the
/// voucher of another unit with that code, if any).
fn other_voucher(
    tx: &Tx<'_>,
    code: &str,
    device: &Device,
    voucher: Option<Voucher>,
) -> Result<(Voucher, Option<Unit>), RedeemError> {
    let mut on_network: std::collections::HashMap<String, bool> = Default::default();
    let mut candidates = Vec::new();
    for b in rows_b::with_code(tx.db, code)? {
        let ok = match on_network.get(&b.unit_id) {
            Some(ok) => *ok,
            None => {
                let ok = on_unit_network(&rows::unit_get(tx.db, &b.unit_id)?, device);
                on_network.insert(b.unit_id.clone(), ok);
                ok
            }
        };
        if ok {
            let v = voucher_of(tx.db, &b)?;
            candidates.push((b, v));
        }
    }
    match pick_for_code(candidates, tx.now) {
        Ok(Some(v)) => Ok((v, None)),
        Ok(None) => voucher.map(|v| (v, None)).ok_or(RedeemError::InvalidCode),
        Err(()) => Err(RedeemError::Expired),
    }
}

fn reserve(tx: &mut Tx<'_>, req: &RedeemRequest) -> Result<Reserved, RedeemError> {
    let now = tx.now;
    let (code, device) = (req.code.as_str(), &req.device);
    let (voucher, unit) = resolve_code(tx, code, device)?;
    let unit = match unit {
        Some(u) => u,
        None => rows::unit_get(tx.db, &voucher.unit_id)?,
    };
    // A password-mode unit's guests join with their Wi-Fi password, never on the portal.
    if !on_unit_network(&unit, device) || unit.access.mode == AccessMode::Password {
        return Err(RedeemError::InvalidCode);
    }
    guest_checks::check_second_factor(
        &unit.guest_checks,
        code,
        voucher.guest_name.as_deref(),
        &req.last_name,
    )
    .map_err(|_| RedeemError::InvalidCode)?;
    let consent = consent_for(&unit, req.consent.as_ref())?;
    // The unit's own spelling: the redirect's site matched it case-insensitively.
    let site = unit.omada_site.clone();
    let previous = g::latest_for(tx.db, &voucher.code, device.client_mac)?;
    let held = g::active_for_mac(tx.db, device.client_mac, &site)?;
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
        requester: Requester::Guest {
            holder_proven: req.holder_proven,
        },
        now,
    })?;
    let (slot, replaces, moves) = match decision {
        Decision::Answer(id) => {
            let grant = [previous.as_ref(), held.as_ref()]
                .into_iter()
                .flatten()
                .find(|g| g.grant_id == id)
                .cloned()
                .expect("the decision answers from a grant it was given");
            return Ok(Reserved::Answered(Box::new(Redeemed { grant, unit })));
        }
        Decision::Admit {
            slot,
            replaces,
            moves,
        } => (slot, replaces, moves),
    };
    if let Some(old) = replaces.and_then(|id| open.iter().find(|g| g.grant_id == id)) {
        tx.end_grant(old, EndReason::Replaced)?;
    }
    let moves = moves.and(held);
    let grant = take_slot(tx, &voucher, device, site, slot, previous)?;
    let mut voucher = voucher;
    if slot == Slot::Take {
        voucher.devices_used += 1;
    }
    Ok(Reserved::Held(Box::new(Reservation {
        voucher,
        unit,
        grant,
        slot,
        moves,
        at: now,
        consent,
    })))
}

/// Write the slot's grant row (`pending` for a new or reopened slot).
pub(crate) fn take_slot(
    tx: &mut Tx<'_>,
    voucher: &Voucher,
    device: &Device,
    site: String,
    slot: Slot,
    previous: Option<Grant>,
) -> Result<Grant, StoreError> {
    let now = tx.now;
    let end = voucher.end_if_redeemed_at(now);
    let (ap_mac, gateway_mac, ssid, vid, radio_id) = match &device.attachment {
        Attachment::Ap {
            ap_mac,
            ssid,
            radio_id,
        } => (Some(*ap_mac), None, ssid.clone(), None, *radio_id),
        Attachment::Gateway { gateway_mac, vid } => (None, Some(*gateway_mac), None, *vid, None),
    };
    Ok(match (slot, previous) {
        (Slot::Reuse, Some(p)) => p,
        (Slot::Reopen, Some(mut p)) => {
            p.grant_id = uuid::Uuid::now_v7().to_string();
            p.state = GrantState::Pending;
            p.ended_at = None;
            p.end_reason = None;
            p.authorized_at = None;
            p.expires_at = end;
            p.site = site;
            p.client_ip = device.client_ip.map(|ip| ip.to_string());
            p.by_host = false;
            g::insert(tx.db, &p, now)?;
            p
        }
        _ => {
            let grant = Grant {
                grant_id: uuid::Uuid::now_v7().to_string(),
                code: voucher.code.clone(),
                unit_id: voucher.unit_id.clone(),
                client_mac: device.client_mac,
                client_ip: device.client_ip.map(|ip| ip.to_string()),
                ap_mac,
                gateway_mac,
                ssid,
                vid,
                radio_id,
                site,
                state: GrantState::Pending,
                authorized_at: None,
                expires_at: end,
                ended_at: None,
                end_reason: None,
                by_host: false,
                name: None,
            };
            g::insert(tx.db, &grant, now)?;
            rows::voucher_take_slot(tx.db, &voucher.code)?;
            grant
        }
    })
}

/// The consent a redemption on `unit` records, checked against the unit's terms as they are
/// in this transaction: terms text → the hash the page showed must be the current one; a
/// `terms_url` only → the box was ticked; no terms → nothing to record.
fn consent_for(
    unit: &Unit,
    given: Option<&ConsentGiven>,
) -> Result<Option<ConsentGiven>, RedeemError> {
    match (&unit.guest_page.terms_sha256, &unit.terms_url, given) {
        (None, None, _) => Ok(None),
        (Some(current), _, Some(g)) if g.terms_sha256.as_ref() == Some(current) => {
            Ok(Some(ConsentGiven {
                terms_sha256: Some(current.clone()),
                terms_url: None,
            }))
        }
        (None, Some(url), Some(_)) => Ok(Some(ConsentGiven {
            terms_sha256: None,
            terms_url: Some(url.clone()),
        })),
        _ => Err(RedeemError::TermsNotAccepted),
    }
}

/// The audit row's detail of a consent: the MAC and what was accepted.
fn consent_detail(mac: crate::net::Mac, c: &ConsentGiven) -> String {
    match (&c.terms_sha256, &c.terms_url) {
        (Some(h), _) => format!("{mac} terms_sha256={h}"),
        (None, Some(u)) => format!("{mac} terms_url={u}"),
        (None, None) => mac.to_string(),
    }
}

/// Inside the confirm transaction. The outer `Result` is the transaction's (an `Err` rolls
/// it back); the inner one the guest's answer — a revoke caught here is committed (the
/// grant ended, its unauthorise queued) and still answered "invalid code".
#[allow(clippy::type_complexity)]
fn confirm(tx: &mut Tx<'_>, r: Reservation) -> Result<Result<Redeemed, RedeemError>, StoreError> {
    let confirmed_at = tx.now;
    // Re-read what may have changed while we were at the controller (a revoke, a new end,
    // the unit deleted); the grant's identity (id, site, MAC) cannot.
    let voucher = match rows::voucher_uncounted(tx.db, &r.voucher.code) {
        Ok(v) => Some(v),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e),
    };
    let Some(mut v) = voucher.filter(|v| v.revoked_at.is_none()) else {
        // Revoked (or deleted) while we were at the controller: take the device off again,
        // now that its authorisation has landed.
        let state = match g::state_of(tx.db, &r.grant.grant_id) {
            Ok(s) => Some(s),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        if state.is_some_and(|s| s != GrantState::Ended) {
            tx.end_grant(&r.grant, EndReason::VoucherRevoked)?;
        } else {
            tx.queue_unauthorize(&r.grant, confirmed_at)?;
        }
        return Ok(Err(RedeemError::InvalidCode));
    };
    let first_use = v.first_used_at.is_none();
    if first_use {
        v.first_used_at = Some(r.at);
    }
    let end = v.end_if_redeemed_at(r.at);
    // The grant itself ended meanwhile (replaced, revoked on its own, its unit's stay cut) or
    // is gone: its unauthorise was queued with its end, but the authorisation may have landed
    // after that — queue it again.
    if !g::set_active(tx.db, &r.grant.grant_id, confirmed_at, end)? {
        tx.queue_unauthorize(&r.grant, confirmed_at)?;
        return Ok(Err(RedeemError::InvalidCode));
    }
    if first_use {
        rows::voucher_set_first_used(tx.db, &v.code, r.at)?;
    }
    tx.grant_ends_at(end);
    // Open API: renewed before the portal timeout when the stay outlasts it (issue 12b).
    tx.grant_authorized(&r.grant.grant_id, &r.grant.site, confirmed_at, end)?;
    // The device leaves the voucher it was on (its unauthorise is skipped: it holds this
    // grant now).
    if let Some(old) = &r.moves {
        if g::state_of(tx.db, &old.grant_id)? == GrantState::Active {
            tx.end_grant(old, EndReason::Moved)?;
        }
    }
    tx.audit(
        AuditAction::VoucherRedeem,
        Some(&v.unit_id),
        Some(&v.code),
        Some(r.grant.client_mac.to_string()),
    )?;
    if let Some(c) = &r.consent {
        // The guest's consent, with the grant it let in (issue 17).
        guest_page::consent_insert(
            tx.db,
            &guest_page::Consent {
                grant_id: r.grant.grant_id.clone(),
                unit_id: v.unit_id.clone(),
                code: v.code.clone(),
                client_mac: r.grant.client_mac,
                at: confirmed_at,
                terms_sha256: c.terms_sha256.clone(),
                terms_url: c.terms_url.clone(),
            },
        )?;
        tx.audit(
            AuditAction::TermsConsent,
            Some(&v.unit_id),
            Some(&v.code),
            Some(consent_detail(r.grant.client_mac, c)),
        )?;
    }
    // What `set_active` stored (timestamps at millisecond precision).
    let mut grant = r.grant;
    grant.state = GrantState::Active;
    grant.authorized_at = Some(from_ms(to_ms(confirmed_at)));
    grant.expires_at = from_ms(to_ms(end));
    grant.ended_at = None;
    grant.end_reason = None;
    tx.publish(Event::VoucherRedeemed {
        grant: GrantRef {
            unit_id: v.unit_id.clone(),
            code: v.code.clone(),
            grant_id: grant.grant_id.clone(),
            client_mac: grant.client_mac,
        },
        booking_ref: v.booking_ref.clone(),
        by_host: false,
    });
    Ok(Ok(Redeemed {
        grant,
        unit: r.unit,
    }))
}
