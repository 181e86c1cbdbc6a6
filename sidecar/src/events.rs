//! In-process event bus: the source of the SSE stream (`GET /api/v1/events`).
//!
//! Producers (voucher service, grant scheduler, Plume poller, controller monitor) publish
//! without knowing who listens; a slow SSE client lags and loses old events rather than
//! slowing the producers down (tokio broadcast semantics).

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::broadcast;

/// Event names of the contract (DESIGN §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    VoucherIssued,
    VoucherRedeemed,
    VoucherRevoked,
    VoucherUpdated,
    GrantExpired,
    GrantRevoked,
    HealthChanged,
    ControllerStatus,
    PlumeStatus,
    UnitChanged,
}

impl EventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::VoucherIssued => "voucher_issued",
            EventKind::VoucherRedeemed => "voucher_redeemed",
            EventKind::VoucherRevoked => "voucher_revoked",
            EventKind::VoucherUpdated => "voucher_updated",
            EventKind::GrantExpired => "grant_expired",
            EventKind::GrantRevoked => "grant_revoked",
            EventKind::HealthChanged => "health_changed",
            EventKind::ControllerStatus => "controller_status",
            EventKind::PlumeStatus => "plume_status",
            EventKind::UnitChanged => "unit_changed",
        }
    }
}

/// One event: its kind, a JSON payload (no secrets, ever) and when it happened.
#[derive(Clone, Debug)]
pub struct Event {
    pub kind: EventKind,
    pub data: serde_json::Value,
    pub at: OffsetDateTime,
}

/// Cheap to clone; every clone publishes to the same subscribers.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
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

    pub fn publish(&self, kind: EventKind, data: serde_json::Value) {
        let _ = self.tx.send(Event {
            kind,
            data,
            at: OffsetDateTime::now_utc(),
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
