//! The use-case layer: one operation, one transaction.
//!
//! Every operation the API, the portal and the background tasks perform is a plain function
//! over a [`Tx`] (the write transaction, the time, who asks, the limits) that changes every
//! row it must — vouchers, grants, outbox, bookings, audit — and returns what happened.
//! [`Rentals::run`] runs it as one `Store::write` (one savepoint of the writer's group
//! commit), and only after the commit publishes the events it collected and tells the
//! background timers about new due times. So a crash leaves either all of an operation or
//! none of it, and no one ever hears of a change that was rolled back (zero2prod's
//! `insert_subscriber(&mut transaction, …)` shape; the decisions inside are the pure
//! functions of `vouchers/`).
//!
//! Use cases that call the controller (redemption) are two or three such transactions with
//! the controller call between them and no transaction open across it.
//!
//! Files: [`units`], [`vouchers`](mod@vouchers), [`grants`], [`bookings`], [`redemption`],
//! [`devices`] (the host lets a device in by its MAC), [`expiry`] (the expiry timer's use
//! cases), [`recovery`] (start-up recovery and repair), [`reads`] (queries, no transaction),
//! [`passwords`] (Wi-Fi passwords of password-mode units: their keys follow their vouchers;
//! the audited reads; device-bound keys); the controller's operations (issue 12b): [`sites`]
//! (a unit's site checked at the controller before it is saved), [`outbox_ops`] (what waits
//! for the controller, shown and discarded by the host), [`reconcile`] (authorisations the
//! controller holds without a grant), [`host_test`] (the host's one-time test code).

pub mod bookings;
pub mod devices;
pub mod expiry;
pub mod grants;
pub mod guest;
pub mod host_test;
pub mod outbox_ops;
pub mod passwords;
pub mod property;
pub mod reads;
pub mod reconcile;
pub mod recovery;
pub mod redemption;
pub mod sites;
pub mod units;
pub mod vouchers;

use std::sync::Arc;

use rusqlite::Connection;
use time::OffsetDateTime;

use crate::alarm::Alarm;
use crate::clock::Clock;
use crate::config::VoucherConfig;
use crate::controller::{Controller, PortalTimeouts};
use crate::events::{Event, EventBus, GrantRef};
use crate::failpoint;
use crate::outbox::{renew_at, OutboxOp, KIND_CONTROLLER, OP_REAUTHORIZE};
use crate::secrets::Sealer;
use crate::store::{grants as g, outbox, rows, to_ms, Store, StoreError};
use crate::vouchers::model::{AccessMode, AuditAction, EndReason, Grant};
use crate::vouchers::{self as domain, Ctx};

/// Errors of the use-case layer; `api::error` maps each to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule said no (bad input: 400; not allowed now: 409).
    #[error(transparent)]
    Rule(#[from] domain::Error),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Error::Rule(domain::Error::Conflict(m)),
            other => Error::Store(other),
        }
    }
}

/// Map a store "not found" to the thing the caller looked for.
pub fn not_found(what: &'static str) -> impl Fn(StoreError) -> Error {
    move |e| match e {
        StoreError::NotFound => Error::NotFound(what),
        other => other.into(),
    }
}

/// Every use case, by name (its fail points are `<name>.before_commit` and
/// `<name>.after_commit`, see [`crate::failpoint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UseCase {
    UnitCreate,
    UnitPatch,
    UnitDelete,
    VoucherIssue,
    VoucherPatch,
    VoucherRevoke,
    GrantRevoke,
    BookingPut,
    BookingDelete,
    BookingsSync,
    VanishCancel,
    UnitRevoke,
    DeviceReserve,
    DeviceConfirm,
    DeviceRelease,
    RedeemReserve,
    RedeemConfirm,
    RedeemRelease,
    Expiry,
    Recovery,
    OutboxDone,
    OutboxRetry,
    SettingsAudit,
    Maintenance,
    /// A Wi-Fi password's key is about to go to the controller (outbox, issue 18).
    WifiKeyPlace,
    /// The controller confirmed a key added or deleted (outbox).
    WifiKeyDone,
    /// Someone reads a Wi-Fi password (audited).
    PasswordRead,
    /// The host binds a Wi-Fi password to one device by its MAC.
    DeviceKey,
    OutboxPark,
    OutboxDiscard,
    Renewal,
    Reconcile,
    HostTestCreate,
    HostTestResult,
    UnitLogo,
    GuestDisconnect,
    PropertyPut,
}

impl UseCase {
    pub fn name(self) -> &'static str {
        match self {
            UseCase::UnitCreate => "unit_create",
            UseCase::UnitPatch => "unit_patch",
            UseCase::UnitDelete => "unit_delete",
            UseCase::VoucherIssue => "voucher_issue",
            UseCase::VoucherPatch => "voucher_patch",
            UseCase::VoucherRevoke => "voucher_revoke",
            UseCase::GrantRevoke => "grant_revoke",
            UseCase::BookingPut => "booking_put",
            UseCase::BookingDelete => "booking_delete",
            UseCase::BookingsSync => "bookings_sync",
            UseCase::VanishCancel => "vanish_cancel",
            UseCase::UnitRevoke => "unit_revoke",
            UseCase::DeviceReserve => "device_reserve",
            UseCase::DeviceConfirm => "device_confirm",
            UseCase::DeviceRelease => "device_release",
            UseCase::RedeemReserve => "redeem_reserve",
            UseCase::RedeemConfirm => "redeem_confirm",
            UseCase::RedeemRelease => "redeem_release",
            UseCase::Expiry => "expiry",
            UseCase::Recovery => "recovery",
            UseCase::OutboxDone => "outbox_done",
            UseCase::OutboxRetry => "outbox_retry",
            UseCase::SettingsAudit => "settings_audit",
            UseCase::Maintenance => "maintenance",
            UseCase::WifiKeyPlace => "wifi_key_place",
            UseCase::WifiKeyDone => "wifi_key_done",
            UseCase::PasswordRead => "password_read",
            UseCase::DeviceKey => "device_key",
            UseCase::OutboxPark => "outbox_park",
            UseCase::OutboxDiscard => "outbox_discard",
            UseCase::Renewal => "renewal",
            UseCase::Reconcile => "reconcile",
            UseCase::HostTestCreate => "host_test_create",
            UseCase::HostTestResult => "host_test_result",
            UseCase::UnitLogo => "unit_logo",
            UseCase::GuestDisconnect => "guest_disconnect",
            UseCase::PropertyPut => "property_put",
        }
    }
}

/// What a use case did besides its answer: events to publish and due times for the timers,
/// applied after the commit.
#[derive(Debug, Default)]
pub struct Effects {
    events: Vec<Event>,
    /// The earliest outbox item it queued.
    outbox_due: Option<OffsetDateTime>,
    /// The earliest time the expiry timer must look again (a grant's end, a missing
    /// booking's cancellation).
    expiry_due: Option<OffsetDateTime>,
    /// Why each grant it ended ended.
    ended: Vec<EndReason>,
}

/// No Open API renewal for this grant: its unit is in password mode (issue 18), or the grant
/// or its unit is gone.
pub(crate) fn renewal_unwanted(
    db: &rusqlite::Connection,
    grant_id: &str,
) -> Result<bool, StoreError> {
    let grant = match g::get(db, grant_id) {
        Ok(grant) => grant,
        Err(StoreError::NotFound) => return Ok(true),
        Err(e) => return Err(e),
    };
    match rows::unit_get(db, &grant.unit_id) {
        Ok(u) => Ok(u.access.mode == AccessMode::Password),
        Err(StoreError::NotFound) => Ok(true),
        Err(e) => Err(e),
    }
}

fn earliest(slot: &mut Option<OffsetDateTime>, at: OffsetDateTime) {
    if slot.is_none_or(|s| at < s) {
        *slot = Some(at);
    }
}

/// A use case's view of its transaction.
pub struct Tx<'a> {
    pub db: &'a Connection,
    /// The operation's one "now" (every row it writes carries it).
    pub now: OffsetDateTime,
    pub ctx: &'a Ctx,
    pub limits: &'a VoucherConfig,
    /// Is a grant whose end moves authorised again? With the hotspot API it carries the new
    /// length; with the Open API it starts a fresh portal timeout (and the next renewal).
    pub moves_need_reauthorize: bool,
    /// Open API: the portal timeouts a grant's authorisation lasts, for scheduling its
    /// renewal (`None`: the controller takes each grant's own length, nothing to renew).
    pub renewals: Option<Arc<PortalTimeouts>>,
    /// Seals Wi-Fi passwords before they are stored.
    pub sealer: &'a Sealer,
    effects: Effects,
}

impl Tx<'_> {
    /// Publish `event` once the transaction committed.
    pub fn publish(&mut self, event: Event) {
        self.effects.events.push(event);
    }

    /// Write the audit row of this change.
    pub fn audit(
        &self,
        action: AuditAction,
        unit_id: Option<&str>,
        code: Option<&str>,
        detail: Option<String>,
    ) -> Result<(), StoreError> {
        rows::audit_insert(
            self.db,
            &rows::NewAudit {
                at: self.now,
                correlation_id: &self.ctx.correlation_id,
                actor: self.ctx.actor.as_str(),
                action: action.as_str(),
                unit_id,
                code,
                detail,
            },
        )
    }

    /// Queue a controller operation, not to run before `not_before`.
    pub fn queue(&mut self, op: &OutboxOp, not_before: OffsetDateTime) -> Result<(), StoreError> {
        self.queue_kind(KIND_CONTROLLER, &op.to_payload(), not_before)
    }

    /// Queue an outbox item of any kind (each kind's module knows its payload).
    pub fn queue_kind(
        &mut self,
        kind: &str,
        payload: &str,
        not_before: OffsetDateTime,
    ) -> Result<(), StoreError> {
        outbox::push(self.db, kind, payload, self.now, not_before)?;
        earliest(&mut self.effects.outbox_due, not_before);
        Ok(())
    }

    /// Queue the device's unauthorise (not before `not_before`), with the site's id when its
    /// unit knows it (the take-out then works after the unit is gone).
    pub fn queue_unauthorize(
        &mut self,
        grant: &Grant,
        not_before: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let site_id = match rows::unit_get(self.db, &grant.unit_id) {
            Ok(u) if u.omada_site.eq_ignore_ascii_case(&grant.site) => u.omada_site_id,
            Ok(_) | Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let op = OutboxOp::Unauthorize {
            site: grant.site.clone(),
            client_mac: grant.client_mac.to_string(),
            grant_id: grant.grant_id.clone(),
            queued_at_ms: to_ms(self.now),
            site_id,
        };
        self.queue(&op, not_before)
    }

    /// Queue the grant's re-authorisation for `at`, or bring an already queued one forward:
    /// at most one waits per grant. Never for a grant of a password-mode unit (issue 18: its
    /// guests join with a Wi-Fi password; a portal grant left from before the switch runs out
    /// and is not renewed).
    pub fn queue_renewal(&mut self, grant_id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        if renewal_unwanted(self.db, grant_id)? {
            return Ok(());
        }
        match outbox::pending_for_grant(self.db, OP_REAUTHORIZE, grant_id)? {
            Some((id, due)) => {
                if at < due {
                    outbox::bring_forward(self.db, id, at)?;
                    earliest(&mut self.effects.outbox_due, at);
                }
                Ok(())
            }
            None => self.queue(
                &OutboxOp::Reauthorize {
                    grant_id: grant_id.to_owned(),
                },
                at,
            ),
        }
    }

    /// The controller (re-)authorised a grant's device at `from`; the grant ends at `end`. In
    /// Open API mode the authorisation lasts the site's portal timeout: when that comes before
    /// `end`, the renewal is queued in this transaction (durable across restarts).
    pub fn grant_authorized(
        &mut self,
        grant_id: &str,
        site: &str,
        from: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Some(timeouts) = self.renewals.clone() else {
            return Ok(());
        };
        match renew_at(from, timeouts.timeout_for(site), end) {
            Some(at) => self.queue_renewal(grant_id, at),
            None => Ok(()),
        }
    }

    /// End an open grant: the row, its unauthorise, its event. The one way a grant ends, so
    /// every ended grant has its unauthorise queued in the same transaction.
    pub fn end_grant(&mut self, grant: &Grant, reason: EndReason) -> Result<(), StoreError> {
        g::end(self.db, &grant.grant_id, self.now, reason)?;
        self.queue_unauthorize(grant, self.now)?;
        self.effects.ended.push(reason);
        let r = GrantRef {
            unit_id: grant.unit_id.clone(),
            code: grant.code.clone(),
            grant_id: grant.grant_id.clone(),
            client_mac: grant.client_mac,
        };
        self.publish(if reason == EndReason::Expired {
            Event::GrantExpired(r)
        } else {
            Event::GrantRevoked(r)
        });
        Ok(())
    }

    /// The reasons of the grants this transaction ended so far.
    pub fn ended(&self) -> &[EndReason] {
        &self.effects.ended
    }

    /// A grant now ends at `at` (the expiry timer hears of it after the commit).
    pub fn grant_ends_at(&mut self, at: OffsetDateTime) {
        earliest(&mut self.effects.expiry_due, at);
    }

    /// A missing booking counts as cancelled at `at` (the same timer looks then).
    pub fn cancel_due_at(&mut self, at: OffsetDateTime) {
        earliest(&mut self.effects.expiry_due, at);
    }
}

/// The use cases, with what they need to run: the store, the clock, the limits, the event
/// bus, and the alarms of the two background timers. Cheap to clone.
#[derive(Clone)]
pub struct Rentals {
    pub store: Store,
    pub clock: Clock,
    pub limits: Arc<VoucherConfig>,
    events: EventBus,
    pub controller: Arc<Controller>,
    /// Seals and opens the Wi-Fi passwords of password-mode units.
    pub sealer: Sealer,
    /// The outbox worker's alarm (new items due).
    pub outbox_alarm: Arc<Alarm>,
    /// The expiry timer's alarm (new grant ends).
    pub expiry_alarm: Arc<Alarm>,
    /// How long a controller call can still be under way after a crash (the client's overall
    /// deadline plus a margin): roll-back unauthorises wait this long, so an authorisation
    /// the controller was still processing when we died cannot land after them.
    pub in_flight_grace: std::time::Duration,
}

impl Rentals {
    pub fn new(
        store: Store,
        clock: Clock,
        limits: VoucherConfig,
        events: EventBus,
        controller: Arc<Controller>,
        sealer: Sealer,
        in_flight_grace: std::time::Duration,
    ) -> Rentals {
        Rentals {
            store,
            clock,
            limits: Arc::new(limits),
            events,
            controller,
            sealer,
            outbox_alarm: Arc::new(Alarm::default()),
            expiry_alarm: Arc::new(Alarm::default()),
            in_flight_grace,
        }
    }

    /// Run use case `uc` as one write transaction, then publish what it did.
    pub async fn run<T, E, F>(&self, uc: UseCase, ctx: &Ctx, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        let now = self.clock.now();
        let limits = self.limits.clone();
        let ctx = ctx.clone();
        let name = uc.name();
        let moves_need_reauthorize = self.controller.reauthorizes_moves();
        let renewals = self.controller.renewals();
        let sealer = self.sealer.clone();
        let (value, effects) = self
            .store
            .write(move |db| -> Result<_, E> {
                let mut tx = Tx {
                    db,
                    now,
                    ctx: &ctx,
                    limits: &limits,
                    moves_need_reauthorize,
                    renewals,
                    sealer: &sealer,
                    effects: Effects::default(),
                };
                let value = f(&mut tx)?;
                failpoint::hit(name, "before_commit");
                Ok((value, tx.effects))
            })
            .await?;
        failpoint::hit(name, "after_commit");
        self.after_commit(effects);
        Ok(value)
    }

    fn after_commit(&self, effects: Effects) {
        for e in effects.events {
            self.events.publish(e);
        }
        if let Some(at) = effects.outbox_due {
            self.outbox_alarm.propose(at);
        }
        if let Some(at) = effects.expiry_due {
            self.expiry_alarm.propose(at);
        }
    }

    /// Wake both timers (settings changed; tests after moving the clock).
    pub fn wake(&self) {
        self.outbox_alarm.wake();
        self.expiry_alarm.wake();
    }

    /// Audit a settings change (the settings themselves are stored by their service; the
    /// row says who and when, never what: the content holds secrets).
    pub async fn audit_settings(&self, ctx: &Ctx, action: AuditAction) -> Result<(), Error> {
        self.run(UseCase::SettingsAudit, ctx, move |tx| {
            tx.audit(action, None, None, None)?;
            Ok::<_, Error>(())
        })
        .await
    }
}
