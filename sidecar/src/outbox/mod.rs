//! The durable controller outbox: what the controller must still be told.
//!
//! A use case that takes a device off (revoke, expiry, shortening, cancellation, a rolled-back
//! redemption) or moves a grant's end queues an [`OutboxOp`] in the same transaction as the
//! change itself (`usecase::Tx::queue`), so a crash can lose neither. The [`worker`] sends
//! them, retries with backoff until the controller confirms, and sleeps until the next item
//! is due. Issue 12b adds operations (re-authorisation before an Open API portal timeout)
//! and a `problem` state for items that fail on permissions: a new variant here, a new arm
//! in the worker. Other kinds keep their payloads in their own module: [`wifi_keys`] (the
//! Wi-Fi passwords of password-mode units, issue 18).

pub mod wifi_keys;
pub mod worker;

use serde::{Deserialize, Serialize};

/// The `kind` column of every controller operation.
pub const KIND_CONTROLLER: &str = "controller";

/// One operation for the controller, stored as JSON in the `payload` column (the format rows
/// already in the field have: `{"op": "unauthorize", …}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OutboxOp {
    /// Take the device off the network.
    Unauthorize {
        site: String,
        client_mac: String,
        grant_id: String,
        /// When it was queued: a device let in again after this is not thrown off.
        queued_at_ms: i64,
    },
    /// Send the grant's current end again (after an extend or shorten; only controllers
    /// that take a duration need it, the worker decides).
    Reauthorize { grant_id: String },
}

impl OutboxOp {
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("an outbox op serializes")
    }

    pub fn from_payload(payload: &str) -> Result<OutboxOp, serde_json::Error> {
        serde_json::from_str(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows written by earlier versions still read: the payload format is the contract.
    #[test]
    fn payloads_keep_their_format() {
        let op = OutboxOp::Unauthorize {
            site: "Default".into(),
            client_mac: "02-00-00-00-00-01".into(),
            grant_id: "g1".into(),
            queued_at_ms: 1_700_000_000_000,
        };
        let json = op.to_payload();
        assert_eq!(
            json,
            r#"{"op":"unauthorize","site":"Default","client_mac":"02-00-00-00-00-01","grant_id":"g1","queued_at_ms":1700000000000}"#
        );
        assert_eq!(OutboxOp::from_payload(&json).unwrap(), op);
        assert_eq!(
            OutboxOp::from_payload(r#"{"op":"reauthorize","grant_id":"g2"}"#).unwrap(),
            OutboxOp::Reauthorize {
                grant_id: "g2".into()
            }
        );
        assert!(OutboxOp::from_payload(r#"{"op":"launch"}"#).is_err());
    }
}
