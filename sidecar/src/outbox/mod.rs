//! The durable controller outbox: what the controller must still be told.
//!
//! A use case that takes a device off (revoke, expiry, shortening, cancellation, a rolled-back
//! redemption) or moves a grant's end queues an [`OutboxOp`] in the same transaction as the
//! change itself (`usecase::Tx::queue`), so a crash can lose neither. The [`worker`] sends
//! them, retries with backoff until the controller confirms, and sleeps until the next item
//! is due.
//!
//! Issue 12b: an item that fails on a configuration or permission problem is never dropped —
//! it waits (`problem`), Home Assistant is told, and it is retried when the settings change;
//! only the host may discard it. In Open API mode an authorisation lasts the portal's
//! Authentication Timeout, so a grant that outlives it is authorised again before it runs out
//! ([`renew_at`]): a `reauthorize` item queued in the transaction that lets the device in or
//! moves its end, and again by each renewal for the next.
//!
//! Other kinds keep their payloads in their own module and share the worker's waiting model:
//! [`wifi_keys`] (the Wi-Fi passwords of password-mode units, issue 18).

pub mod wifi_keys;
pub mod worker;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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
        /// The site's 24-hex id when the unit knew it (12b; older rows have none and resolve
        /// the name), so a take-out still works after its unit is gone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        site_id: Option<String>,
    },
    /// Authorise the grant's device again: with its current remaining length (hotspot API,
    /// after an extend or shorten), or for another portal timeout (Open API, before the last
    /// authorisation runs out).
    Reauthorize { grant_id: String },
}

/// The op kind of a re-authorisation (`payload.op`).
pub const OP_REAUTHORIZE: &str = "reauthorize";

/// How long before an Open API authorisation runs out it is renewed: a tenth of the portal
/// timeout, at least 30 s and at most 15 min (never more than half of it).
pub fn renewal_margin(timeout: Duration) -> Duration {
    (timeout / 10)
        .clamp(Duration::from_secs(30), Duration::from_secs(15 * 60))
        .min(timeout / 2)
}

/// A device authorised at `from` for the portal timeout `timeout`, whose grant ends at
/// `end`: when to authorise it again, or `None` when the authorisation outlasts the grant.
pub fn renew_at(
    from: OffsetDateTime,
    timeout: Duration,
    end: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let lapses = from.checked_add(time::Duration::try_from(timeout).ok()?)?;
    if lapses >= end {
        return None;
    }
    Some(lapses - time::Duration::try_from(renewal_margin(timeout)).ok()?)
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
            site_id: None,
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
        // 12b rows carry the site id; without it they read as before.
        let with_id = OutboxOp::Unauthorize {
            site: "Default".into(),
            client_mac: "02-00-00-00-00-01".into(),
            grant_id: "g1".into(),
            queued_at_ms: 1,
            site_id: Some("640effd1b3f2ae5b912275ec".into()),
        };
        assert!(with_id
            .to_payload()
            .ends_with(r#","site_id":"640effd1b3f2ae5b912275ec"}"#));
        assert_eq!(
            OutboxOp::from_payload(&with_id.to_payload()).unwrap(),
            with_id
        );
    }

    #[test]
    fn renewals_come_before_the_portal_timeout_and_only_when_the_grant_outlasts_it() {
        use time::macros::datetime;
        let t = datetime!(2026-12-01 10:00 UTC);
        let h = |n: i64| time::Duration::hours(n);
        let eight = Duration::from_secs(8 * 3600);
        // An 8-hour timeout, a 3-day stay: renewed 15 minutes before the 8 hours are up.
        assert_eq!(
            renew_at(t, eight, t + h(72)),
            Some(t + h(8) - time::Duration::minutes(15))
        );
        // A stay that ends before the authorisation does needs none.
        assert_eq!(renew_at(t, eight, t + h(8)), None);
        assert_eq!(renew_at(t, eight, t + h(2)), None);
        // Short timeouts: a tenth, but at least 30 s and never more than half.
        assert_eq!(
            renewal_margin(Duration::from_secs(30 * 60)),
            Duration::from_secs(180)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(60)),
            Duration::from_secs(30)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(40)),
            Duration::from_secs(20)
        );
        assert_eq!(
            renew_at(t, Duration::from_secs(60), t + h(1)),
            Some(t + time::Duration::seconds(30))
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(30 * 86400)),
            Duration::from_secs(900)
        );
    }
}
