//! Letting devices in and out: redemption, revocation, expiry, and the durable outbox.
//!
//! Invariants (see ARCHITECTURE.md):
//! * A guest sees "you're online" only after the controller confirmed *and* the grant row was
//!   committed as `active`. A crash in between leaves a `pending` row, which start-up turns
//!   into an unauthorise (the controller may have let the device in) and frees the slot.
//! * No database transaction is held across a controller call: redemption is reserve slot
//!   (short transaction) → controller → confirm (short transaction).
//! * A voucher never has more distinct devices than `max_devices`: the slot is taken in the
//!   same serialised write transaction that checks the count.
//! * Every unauthorise (revoke, expiry, shortening) is written to the `outbox` table in the
//!   same transaction that ends the grant, and retried until the controller confirms, across
//!   restarts and outages.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};

use crate::clock::Clock;
use crate::controller::{Controller, ControllerError};
use crate::events::{EventBus, EventKind};
use crate::metrics::Metrics;
use crate::net::Mac;
use crate::omada::{AuthorizeRequest, OmadaError, ResolvedMode};
use crate::portal::redirect::{Attachment, RedirectContext};
use crate::store::grants::{self as g, GrantFilter};
use crate::store::{from_ms, rows, to_ms, Store, StoreError};
use crate::vouchers::model::{Grant, GrantState, Unit, Voucher};
use crate::vouchers::{self, Ctx};

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

/// A successful redemption.
#[derive(Clone, Debug)]
pub struct Redeemed {
    pub grant: Grant,
    pub voucher: Voucher,
    pub unit: Unit,
}

/// An outbox operation, stored as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    /// Take the device off the network.
    Unauthorize {
        site: String,
        client_mac: String,
        grant_id: String,
        queued_at_ms: i64,
    },
    /// Send the grant's current end again (hotspot mode, after an extend/shorten).
    Reauthorize { grant_id: String },
}

/// The grant service. Cheap to clone.
#[derive(Clone)]
pub struct Grants {
    pub store: Store,
    pub clock: Clock,
    pub events: EventBus,
    pub controller: Arc<Controller>,
    pub metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    /// How long a controller call can still be under way (the client's overall deadline plus
    /// a margin): roll-back unauthorises after a crash wait this long, so an authorisation the
    /// controller was still processing when we died cannot land after them.
    in_flight_grace: Duration,
}

/// Does this redirect come from one of the unit's networks?
pub fn on_unit_network(unit: &Unit, r: &RedirectContext, att: &Attachment<'_>) -> bool {
    if let Some(site) = r.site.as_deref() {
        if !site.eq_ignore_ascii_case(&unit.omada_site) {
            return false;
        }
    }
    let restricted = !unit.ssids.is_empty() || !unit.vlans.is_empty();
    match att {
        Attachment::Ap { ap_mac, ssid, .. } => {
            if !unit.ap_macs.is_empty() && !unit.ap_macs.contains(ap_mac) {
                return false;
            }
            !restricted || ssid.is_some_and(|s| unit.ssids.iter().any(|u| u == s))
        }
        Attachment::Gateway { vid, .. } => {
            !restricted || vid.is_some_and(|v| unit.vlans.contains(&v))
        }
    }
}

/// The voucher a typed code stands for on this network: the voucher with that code when it
/// belongs to a unit of this network, else the voucher of a booking on such a unit that has
/// the code among its guest codes (DESIGN §3 "Bookings"; [`crate::bookings::pick_for_code`]).
/// A voucher of another unit is returned as is when no booking matches, so the checks that
/// follow answer it exactly as before ("invalid code").
fn resolve_code(
    tx: &rusqlite::Connection,
    code: &str,
    r: &RedirectContext,
    att: &Attachment<'_>,
    now: OffsetDateTime,
) -> Result<Voucher, RedeemError> {
    let voucher = match rows::voucher_get(tx, code) {
        Ok(v) => Some(v),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(v) = &voucher {
        if on_unit_network(&rows::unit_get(tx, &v.unit_id)?, r, att) {
            return Ok(v.clone());
        }
    }
    let candidates =
        crate::bookings::candidates_for_code(tx, code, |u| on_unit_network(u, r, att))?;
    match crate::bookings::pick_for_code(candidates, now)? {
        Some(v) => Ok(v),
        None => voucher.ok_or(RedeemError::InvalidCode),
    }
}

fn outbox_unauth(
    tx: &rusqlite::Connection,
    grant: &Grant,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    outbox_unauth_at(tx, grant, now, now)
}

fn outbox_unauth_at(
    tx: &rusqlite::Connection,
    grant: &Grant,
    now: OffsetDateTime,
    not_before: OffsetDateTime,
) -> Result<(), StoreError> {
    let op = Op::Unauthorize {
        site: grant.site.clone(),
        client_mac: grant.client_mac.to_string(),
        grant_id: grant.grant_id.clone(),
        queued_at_ms: to_ms(now),
    };
    let payload = serde_json::to_string(&op).expect("op serializes");
    g::outbox_push_at(tx, "controller", &payload, now, not_before)?;
    Ok(())
}

impl Grants {
    pub fn new(
        store: Store,
        clock: Clock,
        events: EventBus,
        controller: Arc<Controller>,
        metrics: Arc<Metrics>,
        in_flight_grace: Duration,
    ) -> Self {
        Grants {
            store,
            clock,
            events,
            controller,
            metrics,
            wake: Arc::new(Notify::new()),
            in_flight_grace,
        }
    }

    /// Redeem `code` (already normalised) for the device described by `r`.
    pub async fn redeem(
        &self,
        ctx: &Ctx,
        code: &str,
        r: &RedirectContext,
    ) -> Result<Redeemed, RedeemError> {
        r.attachment()
            .map_err(|e| RedeemError::InvalidRequest(e.to_string()))?;
        let now = self.clock.now();
        let code_owned = code.to_owned();
        let r2 = r.clone();
        // 1. Reserve: check everything and take a slot, in one short write transaction.
        let (voucher, unit, grant, new_slot, reused) = self
            .store
            .write(move |tx| {
                let att = r2
                    .attachment()
                    .map_err(|e| RedeemError::InvalidRequest(e.to_string()))?;
                let voucher = resolve_code(tx, &code_owned, &r2, &att, now)?;
                let unit = rows::unit_get(tx, &voucher.unit_id)?;
                if !on_unit_network(&unit, &r2, &att) || voucher.revoked_at.is_some() {
                    return Err(RedeemError::InvalidCode);
                }
                if now < voucher.valid_from {
                    return Err(RedeemError::NotYetValid);
                }
                if voucher.expires_at().is_some_and(|end| now >= end) {
                    return Err(RedeemError::Expired);
                }
                let end = voucher.end_if_redeemed_at(now);
                let previous = g::latest_for(tx, &voucher.code, r2.client_mac)?;
                if previous
                    .as_ref()
                    .is_some_and(|p| p.end_reason.as_deref() == Some("grant_revoked"))
                {
                    // The host took this device off; the same code does not bring it back.
                    return Err(RedeemError::InvalidCode);
                }
                let (ap_mac, gateway_mac, ssid, vid, radio_id) = match att {
                    Attachment::Ap {
                        ap_mac,
                        ssid,
                        radio_id,
                    } => (Some(ap_mac), None, ssid.map(str::to_owned), None, radio_id),
                    Attachment::Gateway { gateway_mac, vid } => {
                        (None, Some(gateway_mac), None, vid, None)
                    }
                };
                // The unit's own spelling: the redirect's site matched it case-insensitively.
                let site = unit.omada_site.clone();
                let mut v = voucher.clone();
                let (grant, new_slot, reused) = match previous {
                    // Same device again while its grant is open: re-authorise it.
                    Some(p) if p.state != GrantState::Ended => (p, false, true),
                    // Same device after its grant ended: a new grant on the same slot.
                    Some(mut p) => {
                        p.grant_id = uuid::Uuid::now_v7().to_string();
                        p.state = GrantState::Pending;
                        p.ended_at = None;
                        p.end_reason = None;
                        p.authorized_at = None;
                        p.expires_at = end;
                        p.site = site.clone();
                        p.client_ip = r2.client_ip.map(|ip| ip.to_string());
                        g::insert(tx, &p, now)?;
                        (p, false, false)
                    }
                    None => {
                        if v.max_devices > 0 && v.devices_used >= v.max_devices {
                            return Err(RedeemError::DeviceLimit);
                        }
                        let grant = Grant {
                            grant_id: uuid::Uuid::now_v7().to_string(),
                            code: v.code.clone(),
                            unit_id: v.unit_id.clone(),
                            client_mac: r2.client_mac,
                            client_ip: r2.client_ip.map(|ip| ip.to_string()),
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
                        };
                        g::insert(tx, &grant, now)?;
                        v.devices_used += 1;
                        rows::voucher_take_slot(tx, &v.code)?;
                        (grant, true, false)
                    }
                };
                Ok((v, unit, grant, new_slot, reused))
            })
            .await?;

        // 2. The controller, with no transaction open.
        let end = voucher.end_if_redeemed_at(now);
        let remaining = (end - now).max(time::Duration::seconds(60));
        let req = AuthorizeRequest {
            client_mac: r.client_mac,
            client_ip: r.client_ip.map(|ip| ip.to_string()),
            site: grant.site.clone(),
            ap_mac: grant.ap_mac,
            ssid_name: grant.ssid.clone(),
            radio_id: grant.radio_id,
            gateway_mac: grant.gateway_mac,
            vid: grant.vid,
            duration: Duration::from_millis(remaining.whole_milliseconds().max(0) as u64),
            down_kbps: voucher.down_kbps,
            up_kbps: voucher.up_kbps,
        };
        let result = self.controller.authorize(&req).await;

        // 3. Confirm or release.
        let grant_id = grant.grant_id.clone();
        let ctx = ctx.clone();
        match result {
            Ok(()) => {
                let confirmed_at = self.clock.now();
                let was_active = grant.state == GrantState::Active;
                let res = self
                    .store
                    .write(move |tx| {
                        // Re-read what may have changed while we were at the controller (a
                        // revoke, a new end); the grant's identity (id, site, MAC) cannot.
                        let mut v = rows::voucher_get(tx, &voucher.code)?;
                        let state = g::state_of(tx, &grant_id)?;
                        if v.revoked_at.is_some() || state == GrantState::Ended {
                            // Revoked while we were at the controller: take the device off again.
                            if state != GrantState::Ended {
                                g::end(tx, &grant_id, confirmed_at, "voucher_revoked")?;
                            }
                            outbox_unauth(tx, &grant, confirmed_at)?;
                            return Err(RedeemError::InvalidCode);
                        }
                        if v.first_used_at.is_none() {
                            v.first_used_at = Some(now);
                            rows::voucher_set_first_used(tx, &v.code, now)?;
                        }
                        let end = v.end_if_redeemed_at(now);
                        g::set_active(tx, &grant_id, confirmed_at, end)?;
                        rows::audit_insert(
                            tx,
                            &rows::NewAudit {
                                at: confirmed_at,
                                correlation_id: &ctx.correlation_id,
                                actor: ctx.actor,
                                action: "voucher.redeem",
                                unit_id: Some(&v.unit_id),
                                code: Some(&v.code),
                                detail: Some(grant.client_mac.to_string()),
                            },
                        )?;
                        // What `set_active` stored (timestamps at millisecond precision).
                        let mut grant = grant;
                        grant.state = GrantState::Active;
                        grant.authorized_at = Some(from_ms(to_ms(confirmed_at)));
                        grant.expires_at = from_ms(to_ms(end));
                        grant.ended_at = None;
                        grant.end_reason = None;
                        Ok((v, grant))
                    })
                    .await;
                match res {
                    Ok((voucher, grant)) => {
                        // Nothing for the background loop to do (no unauthorise queued; expiry
                        // runs on its own tick): keep the gauge current without waking it.
                        if !was_active {
                            self.metrics.active_grants.inc();
                        }
                        self.events.publish(
                            EventKind::VoucherRedeemed,
                            json!({"unit_id": voucher.unit_id, "code": voucher.code, "grant_id": grant.grant_id,
                                   "client_mac": grant.client_mac.to_string(), "booking_ref": voucher.booking_ref}),
                        );
                        Ok(Redeemed {
                            grant,
                            voucher,
                            unit,
                        })
                    }
                    Err(e) => {
                        self.wake.notify_one();
                        Err(e)
                    }
                }
            }
            Err(err) => {
                // Release the slot (a re-authorisation keeps its existing grant as it was).
                let res = self
                    .store
                    .write(move |tx| {
                        if reused {
                            return Ok::<_, StoreError>(());
                        }
                        let current = g::get(tx, &grant_id)?;
                        if current.state == GrantState::Pending {
                            g::delete(tx, &grant_id)?;
                            if new_slot {
                                let mut v = rows::voucher_get(tx, &grant.code)?;
                                v.devices_used = v.devices_used.saturating_sub(1);
                                rows::voucher_update(tx, &v)?;
                            }
                        }
                        Ok(())
                    })
                    .await;
                if let Err(e) = res {
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

    /// End every open grant of a voucher (revoke), queueing the unauthorises. Returns how many.
    pub async fn end_for_voucher(
        &self,
        code: &str,
        reason: &'static str,
    ) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let code = code.to_owned();
        let ended = self
            .store
            .write(move |tx| {
                let open = g::open_for_code(tx, &code)?;
                for grant in &open {
                    g::end(tx, &grant.grant_id, now, reason)?;
                    outbox_unauth(tx, grant, now)?;
                }
                Ok::<_, StoreError>(open)
            })
            .await?;
        self.after_ending(&ended, reason);
        Ok(ended.len())
    }

    /// Revoke one grant.
    pub async fn revoke_grant(&self, ctx: &Ctx, grant_id: &str) -> Result<Grant, vouchers::Error> {
        let now = self.clock.now();
        let id = grant_id.to_owned();
        let ctx = ctx.clone();
        let (grant, changed) = self
            .store
            .write(move |tx| {
                let grant = g::get(tx, &id).map_err(|e| match e {
                    StoreError::NotFound => vouchers::Error::NotFound("grant"),
                    other => other.into(),
                })?;
                if grant.state == GrantState::Ended {
                    return Ok::<_, vouchers::Error>((grant, false));
                }
                g::end(tx, &id, now, "grant_revoked")?;
                outbox_unauth(tx, &grant, now)?;
                rows::audit_insert(
                    tx,
                    &rows::NewAudit {
                        at: now,
                        correlation_id: &ctx.correlation_id,
                        actor: ctx.actor,
                        action: "grant.revoke",
                        unit_id: Some(&grant.unit_id),
                        code: Some(&grant.code),
                        detail: Some(grant.client_mac.to_string()),
                    },
                )?;
                Ok((g::get(tx, &id)?, true))
            })
            .await?;
        if changed {
            self.after_ending(std::slice::from_ref(&grant), "grant_revoked");
        }
        Ok(grant)
    }

    /// A voucher's end changed: move its open grants along.
    pub async fn follow_voucher(&self, voucher: &Voucher) -> Result<(), StoreError> {
        let now = self.clock.now();
        let v = voucher.clone();
        let hotspot = self
            .controller
            .client()
            .is_some_and(|c| c.mode() == ResolvedMode::Hotspot);
        let ended = self
            .store
            .write(move |tx| {
                let open = g::open_for_code(tx, &v.code)?;
                let end = v.end_if_redeemed_at(now);
                let mut ended = Vec::new();
                for grant in open.into_iter().filter(|g| g.state == GrantState::Active) {
                    // Over, or moved to start later (a booking moved): the device goes off.
                    if end <= now || now < v.valid_from {
                        g::end(tx, &grant.grant_id, now, "shortened")?;
                        outbox_unauth(tx, &grant, now)?;
                        ended.push(grant);
                    } else if end != grant.expires_at {
                        g::set_expires(tx, &grant.grant_id, end)?;
                        if hotspot {
                            let op = Op::Reauthorize {
                                grant_id: grant.grant_id.clone(),
                            };
                            g::outbox_push(
                                tx,
                                "controller",
                                &serde_json::to_string(&op).expect("op serializes"),
                                now,
                            )?;
                        }
                    }
                }
                Ok::<_, StoreError>(ended)
            })
            .await?;
        self.after_ending(&ended, "shortened");
        self.wake.notify_one();
        Ok(())
    }

    fn after_ending(&self, ended: &[Grant], reason: &str) {
        if ended.is_empty() {
            return;
        }
        self.wake.notify_one();
        let kind = if reason == "expired" {
            EventKind::GrantExpired
        } else {
            EventKind::GrantRevoked
        };
        for grant in ended {
            self.events.publish(kind, json!({"unit_id": grant.unit_id, "code": grant.code, "grant_id": grant.grant_id, "client_mac": grant.client_mac.to_string()}));
        }
    }

    pub async fn list(&self, filter: GrantFilter) -> Result<Vec<Grant>, StoreError> {
        self.store.read(move |c| g::list(c, &filter)).await
    }

    pub async fn outbox_pending(&self) -> u64 {
        self.store.read(g::outbox_pending).await.unwrap_or(0)
    }

    /// At start-up: a `pending` grant is a redemption that never finished (crash). The guest
    /// was not told "online"; free the slot and make sure the controller agrees.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let not_before =
            now + time::Duration::milliseconds(self.in_flight_grace.as_millis() as i64);
        let n = self
            .store
            .write(move |tx| {
                let pending = g::stale_pending(tx, now)?;
                for grant in &pending {
                    g::delete(tx, &grant.grant_id)?;
                    let fresh_slot = g::latest_for(tx, &grant.code, grant.client_mac)?.is_none();
                    if fresh_slot {
                        if let Ok(mut v) = rows::voucher_get(tx, &grant.code) {
                            v.devices_used = v.devices_used.saturating_sub(1);
                            rows::voucher_update(tx, &v)?;
                        }
                    }
                    outbox_unauth_at(tx, grant, now, not_before)?;
                }
                Ok::<_, StoreError>(pending.len())
            })
            .await?;
        if n > 0 {
            tracing::warn!(
                grants = n,
                "unfinished redemptions from before the restart were rolled back"
            );
        }
        Ok(n)
    }

    /// End grants whose time is up. Returns how many.
    pub async fn expire_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        // Most ticks have nothing due: ask a reader, and only then take the writer.
        if !self.store.read(move |c| g::any_due_expiry(c, now)).await? {
            return Ok(0);
        }
        let ended = self
            .store
            .write(move |tx| {
                let due = g::due_expiry(tx, now, 500)?;
                for grant in &due {
                    g::end(tx, &grant.grant_id, now, "expired")?;
                    outbox_unauth(tx, grant, now)?;
                }
                Ok::<_, StoreError>(due)
            })
            .await?;
        let n = ended.len();
        self.after_ending(&ended, "expired");
        Ok(n)
    }

    /// Work through due outbox items. Stops early when the controller is unreachable.
    pub async fn drain_outbox(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let items = self
            .store
            .read(move |c| g::outbox_due(c, now, OUTBOX_BATCH))
            .await?;
        let mut done = 0;
        for item in items {
            let op: Result<Op, _> = serde_json::from_str(&item.payload);
            let result = match op {
                Err(e) => {
                    tracing::error!(id = item.id, error = %e, "unreadable outbox item dropped");
                    Ok(())
                }
                Ok(Op::Unauthorize {
                    site,
                    client_mac,
                    queued_at_ms,
                    ..
                }) => {
                    let mac: Mac = match client_mac.parse() {
                        Ok(m) => m,
                        Err(_) => continue,
                    };
                    // The same device may have been let in again since (another voucher):
                    // then this old unauthorise must not throw it off.
                    let (s2, m2) = (site.clone(), client_mac.clone());
                    let superseded = self
                        .store
                        .read(move |c| {
                            Ok(c.prepare_cached("SELECT 1 FROM grants WHERE client_mac = ?1 AND site = ?2 AND state = 'active' AND authorized_at > ?3")?
                                .exists(rusqlite::params![m2, s2, queued_at_ms])?)
                        })
                        .await?;
                    if superseded {
                        Ok(())
                    } else {
                        self.controller.unauthorize(&site, mac).await
                    }
                }
                Ok(Op::Reauthorize { grant_id }) => {
                    let id = grant_id.clone();
                    let grant = self.store.read(move |c| g::get(c, &id)).await;
                    match grant {
                        Ok(grant)
                            if grant.state == GrantState::Active
                                && grant.expires_at > self.clock.now() =>
                        {
                            let remaining = grant.expires_at - self.clock.now();
                            let voucher = self.store.read({
                                let code = grant.code.clone();
                                move |c| rows::voucher_get(c, &code)
                            });
                            let voucher = voucher.await.ok();
                            let req = AuthorizeRequest {
                                client_mac: grant.client_mac,
                                client_ip: grant.client_ip.clone(),
                                site: grant.site.clone(),
                                ap_mac: grant.ap_mac,
                                ssid_name: grant.ssid.clone(),
                                radio_id: grant.radio_id,
                                gateway_mac: grant.gateway_mac,
                                vid: grant.vid,
                                duration: Duration::from_millis(
                                    remaining.whole_milliseconds().max(0) as u64,
                                ),
                                down_kbps: voucher.as_ref().and_then(|v| v.down_kbps),
                                up_kbps: voucher.as_ref().and_then(|v| v.up_kbps),
                            };
                            self.controller.authorize(&req).await
                        }
                        _ => Ok(()),
                    }
                }
            };
            match result {
                Ok(()) => {
                    let at = self.clock.now();
                    self.store
                        .write(move |tx| g::outbox_done(tx, item.id, at))
                        .await?;
                    done += 1;
                }
                Err(ControllerError::Omada(OmadaError::InvalidRequest(m))) => {
                    tracing::error!(id = item.id, error = %m, "outbox item can never succeed; dropped");
                    let at = self.clock.now();
                    self.store
                        .write(move |tx| g::outbox_done(tx, item.id, at))
                        .await?;
                }
                Err(e) => {
                    let wait = backoff(item.attempts + 1);
                    let next =
                        self.clock.now() + time::Duration::milliseconds(wait.as_millis() as i64);
                    let msg = e.to_string();
                    self.store
                        .write(move |tx| g::outbox_retry(tx, item.id, next, &msg))
                        .await?;
                    tracing::warn!(id = item.id, attempts = item.attempts + 1, error = %e, "controller operation will be retried");
                    break;
                }
            }
        }
        Ok(done)
    }

    /// Background loop: expiry and outbox, woken by changes or every second.
    /// (Start-up recovery, [`Grants::recover`], runs in `App::run` before the listeners.)
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut last_prune = std::time::Instant::now();
        loop {
            if let Err(e) = self.expire_due().await {
                tracing::error!(error = %e, "grant expiry failed");
            }
            if self.controller.is_configured() {
                // Keep going while full batches come back (a backlog after an outage).
                loop {
                    match self.drain_outbox().await {
                        Ok(n) if n >= OUTBOX_BATCH => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::error!(error = %e, "outbox processing failed");
                            break;
                        }
                    }
                }
            }
            let (pending, active) = self
                .store
                .read(|c| Ok((g::outbox_pending(c)?, g::count_active(c)?)))
                .await
                .unwrap_or((0, 0));
            self.metrics.outbox_depth.set(pending);
            self.metrics.active_grants.set(active);
            if last_prune.elapsed() > Duration::from_secs(3600) {
                let before = self.clock.now() - time::Duration::days(7);
                let _ = self
                    .store
                    .write(move |tx| g::outbox_prune(tx, before))
                    .await;
                last_prune = std::time::Instant::now();
            }
            tokio::select! {
                _ = stop.wait_for(|v| *v) => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Wake the background loop (tests, after settings change).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Outbox items handled per pass.
const OUTBOX_BATCH: usize = 100;

/// Retry delay for the n-th attempt: 1 s doubling to 60 s, with jitter.
fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(6);
    let ms = base.min(60) * 1000;
    let jitter = rand::random::<u64>() % (ms / 4 + 1);
    Duration::from_millis(ms - ms / 8 + jitter)
}
