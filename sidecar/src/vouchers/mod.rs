//! The domain: the product's rules as plain types and pure functions (DESIGN §3).
//!
//! Nothing here touches SQLite, HTTP or the controller, so every rule is unit tested on plain
//! values. `api/` and `portal/` parse what callers send into the checked inputs defined here
//! (parse, don't validate); the use cases in `usecase/` read rows, ask these functions what
//! to do, and write the answer in one transaction.
//!
//! * [`model`]: units, vouchers, grants, bookings, audit rows, and the domain's words
//!   (grant end reasons, actors, audit actions) as enums.
//! * [`code`]: voucher codes (generation, normalisation).
//! * [`unit`], [`voucher`], [`booking`]: checked inputs and the rules of each noun (access
//!   windows and booking codes live with bookings).
//! * [`network`]: where a guest's device is, and whether that is one of a unit's networks.
//! * [`guest_checks`]: a unit's portal checks — the `clientIp` address check, the budgets a
//!   code attempt falls under, the short-code second factor.
//! * [`slots`]: may this device take a slot on this voucher now.
//! * [`follow`]: expiry, and what an open grant does when its voucher changes.
//! * [`password`]: password-mode units (issue 18): a key's window, the current password,
//!   whom to push off when a key goes.

pub mod booking;
pub mod cards;
pub mod code;
pub mod follow;
pub mod guest_checks;
pub mod model;
pub mod network;
pub mod password;
pub mod slots;
pub mod unit;
pub mod voucher;

use model::Actor;

/// A rule said no. The domain layer's one error; the use-case layer wraps it
/// (`usecase::Error`) and `api::error` maps it to 400 or 409.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bad input, naming the field at fault when one is.
    #[error("{message}")]
    Validation {
        field: Option<&'static str>,
        message: String,
    },
    /// Good input that the current state does not allow.
    #[error("{0}")]
    Conflict(String),
}

/// A validation error naming the field at fault.
pub fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Validation {
        field: Some(field),
        message: message.into(),
    }
}

/// Who asks, for the audit log: the actor and the request's correlation id.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub correlation_id: String,
    pub actor: Actor,
}

impl Ctx {
    /// A context with a fresh correlation id (UUIDv7).
    pub fn new(actor: Actor) -> Self {
        Ctx {
            correlation_id: uuid::Uuid::now_v7().to_string(),
            actor,
        }
    }

    /// The same request as another actor (the booking routes audit as `sync`).
    pub fn as_actor(&self, actor: Actor) -> Self {
        Ctx {
            correlation_id: self.correlation_id.clone(),
            actor,
        }
    }
}
