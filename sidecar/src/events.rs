//! Events: what happened, as data, and the in-process bus behind `GET /api/v1/events`
//! (DESIGN §7).
//!
//! Use cases return their events from the transaction and the use-case runner
//! (`usecase::Rentals`) publishes them after the commit, so no one hears of a change that was
//! rolled back. The background parts (controller monitor, Plume poller) publish theirs
//! directly. `api/events.rs` is the only place an event becomes JSON. A slow SSE client lags
//! and loses old events rather than slowing the producers down (tokio broadcast semantics).
//!
//! Issue 14 added `booking_vanished`, `booking_restored`, `booking_cancelled`; issue 12b
//! `controller_problem`, `controller_check`, `host_test_result`: each is one more variant
//! here and one more arm in `api/events.rs`.

use time::OffsetDateTime;
use tokio::sync::broadcast;

use crate::net::Mac;
use crate::plume::HealthStatus;

/// What happened to a unit (`unit_changed`'s `change`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitChange {
    Created,
    Updated,
    Deleted,
}

/// A device's grant, as events name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRef {
    pub unit_id: String,
    pub code: String,
    pub grant_id: String,
    pub client_mac: Mac,
}

/// A booking, as booking events name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingEventRef {
    pub unit_id: String,
    pub booking_ref: String,
    pub guest_name: Option<String>,
    /// Its voucher's code, when it has one.
    pub code: Option<String>,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

/// Why a booking was cancelled (`booking_cancelled`'s `cause`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelCause {
    /// `DELETE /api/v1/units/{unit_id}/bookings/{booking_ref}`: a script or the host.
    Deleted,
    /// Missing from the calendar past the unit's limit (it may still come back).
    Absent,
}

/// One event of the contract.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    VoucherIssued {
        unit_id: String,
        code: String,
        booking_ref: Option<String>,
        valid_until: Option<OffsetDateTime>,
        expires_at: Option<OffsetDateTime>,
    },
    VoucherRedeemed {
        grant: GrantRef,
        booking_ref: Option<String>,
        /// The host let the device in by its MAC (not a guest on the portal).
        by_host: bool,
    },
    VoucherRevoked {
        unit_id: String,
        code: String,
        booking_ref: Option<String>,
        /// Devices whose grants this revoke ended.
        devices: usize,
    },
    VoucherUpdated {
        unit_id: String,
        code: String,
        valid_until: Option<OffsetDateTime>,
        max_devices: u32,
    },
    /// A grant's end came.
    GrantExpired(GrantRef),
    /// A grant was ended before its end (revoke, cancellation, shortening).
    GrantRevoked(GrantRef),
    HealthChanged {
        unit_id: String,
        status: HealthStatus,
        previous: HealthStatus,
        reasons: Vec<String>,
    },
    ControllerStatus {
        connected: bool,
        last_error: Option<String>,
    },
    PlumeStatus {
        connected: bool,
        last_error: Option<String>,
    },
    UnitChanged {
        unit_id: String,
        change: UnitChange,
    },
    /// A booking went missing from the calendar view: during its stay access runs on to its
    /// end (`during_stay`); before it the voucher is suspended and the booking counts as
    /// cancelled at `cancel_at` if still missing.
    BookingVanished {
        booking: BookingEventRef,
        during_stay: bool,
        cancel_at: Option<OffsetDateTime>,
    },
    /// A missing (or for that cancelled) booking is in the calendar again, with its code.
    BookingRestored {
        booking: BookingEventRef,
        was_cancelled: bool,
    },
    BookingCancelled {
        booking: BookingEventRef,
        cause: CancelCause,
    },
    /// The controller's `problem` changed (null: resolved).
    ControllerProblem {
        problem: Option<String>,
        /// Outbox items waiting for a fix.
        outbox_waiting: u64,
    },
    /// A controller check (self-test) finished.
    ControllerCheck {
        ok: bool,
        steps: usize,
        /// The failed steps: (step, site, message).
        failed: Vec<CheckFailure>,
    },
    /// A host test code's device was taken off again, and what the controller says.
    HostTestResult(Box<HostTestReport>),
}

/// A failed step of a controller check, as events name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    pub step: String,
    pub site: Option<String>,
    pub message: String,
    pub controller_message: Option<String>,
}

/// What the controller says about the host test phone's authorisation after the revoke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthState {
    /// Open API: no valid authorisation record left for the phone.
    Ended,
    /// Open API: a record still reads valid.
    StillValid,
    /// Hotspot API: records keep `valid` after their end, so they prove nothing.
    NotReadable,
}

impl AuthState {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthState::Ended => "ended",
            AuthState::StillValid => "still_valid",
            AuthState::NotReadable => "not_readable",
        }
    }
}

/// The result of a host test code (issue 12 item 11).
#[derive(Clone, Debug, PartialEq)]
pub struct HostTestReport {
    pub unit_id: String,
    pub code: String,
    pub client_mac: Mac,
    pub ok: bool,
    pub let_in_at: Option<OffsetDateTime>,
    pub revoked_at: OffsetDateTime,
    /// Authorisation records the disconnect ended (the controller's answer).
    pub disconnected: usize,
    pub authorization_state: AuthState,
    /// A sentence for the host: what happened and what it proves.
    pub message: String,
}

/// One published event and when it was published. The event is shared: every subscriber
/// gets the same one, and each of the bus's 1,024 slots holds a pointer rather than the
/// largest event (an idle sidecar's slots cost 24 KiB instead of 170 KiB).
#[derive(Clone, Debug)]
pub struct Published {
    pub event: std::sync::Arc<Event>,
    pub at: OffsetDateTime,
}

/// Cheap to clone; every clone publishes to the same subscribers.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Published>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        Self { tx }
    }

    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(Published {
            event: std::sync::Arc::new(event),
            at: OffsetDateTime::now_utc(),
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.tx.subscribe()
    }
}
