//! The expiry timer's use cases — grants whose end came are ended and their devices queued
//! for unauthorisation; bookings missing from the calendar past their unit's limit are
//! cancelled (`usecase::bookings`) — each in one transaction, their schedule, and the
//! hourly maintenance.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::watch;

use crate::store::bookings as rows_b;
use crate::store::{grants as g, outbox, rows, wifi_keys, StoreError};
use crate::usecase::{Rentals, UseCase};
use crate::vouchers::follow::is_due;
use crate::vouchers::model::{Actor, EndReason};
use crate::vouchers::Ctx;

/// Grants ended per transaction; a larger backlog takes several (the timer loops at once).
const EXPIRY_BATCH: usize = 500;

/// How long audit rows and booking tombstones are kept.
pub const AUDIT_RETENTION_DAYS: i64 = 180;

/// How long a Wi-Fi password is kept after its voucher is over and its key is off the
/// controller (then nobody needs it any more).
pub const WIFI_KEY_RETENTION_DAYS: i64 = 1;

/// How long finished outbox rows are kept.
pub const OUTBOX_RETENTION_DAYS: i64 = 7;

impl Rentals {
    /// End the grants whose time is up. Returns how many.
    pub async fn expire_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        // Woken early (a proposal, a wake-up) with nothing due: ask a reader, not the writer.
        if !self.store.read(move |c| g::any_due_expiry(c, now)).await? {
            return Ok(0);
        }
        let ctx = Ctx::new(Actor::Scheduler);
        self.run(UseCase::Expiry, &ctx, |tx| {
            let now = tx.now;
            let due = g::due_expiry(tx.db, now, EXPIRY_BATCH)?;
            for grant in due.iter().filter(|g| is_due(g.expires_at, now)) {
                tx.end_grant(grant, EndReason::Expired)?;
            }
            Ok::<_, StoreError>(due.len())
        })
        .await
    }

    /// When the next active grant ends.
    pub async fn next_expiry(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        self.store.read(g::next_expiry).await
    }

    /// The expiry timer: end what is due, then sleep until the next grant's end or missing
    /// booking's cancellation (or until a use case sets an earlier one). Returns at `stop`.
    pub async fn run_expiry(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            self.expiry_alarm.arm();
            let cancel = match self.cancel_due_bookings().await {
                Ok(n) if n > 0 => Some(self.clock.now()),
                Ok(_) => self.next_booking_cancel().await.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "next booking cancellation unknown");
                    Some(self.clock.now() + time::Duration::seconds(5))
                }),
                Err(e) => {
                    tracing::error!(error = %e, "cancelling missing bookings failed");
                    Some(self.clock.now() + time::Duration::seconds(5))
                }
            };
            let next = match self.expire_due().await {
                Ok(n) if n >= EXPIRY_BATCH => Some(self.clock.now()),
                Ok(_) => self.next_expiry().await.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "next grant end unknown");
                    Some(self.clock.now() + time::Duration::seconds(5))
                }),
                Err(e) => {
                    tracing::error!(error = %e, "grant expiry failed");
                    Some(self.clock.now() + time::Duration::seconds(5))
                }
            };
            let next = match (next, cancel) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if !self
                .expiry_alarm
                .sleep_until(next, &self.clock, &mut stop)
                .await
            {
                return;
            }
        }
    }

    /// Hourly: forget audit rows, terms consents and booking tombstones past retention,
    /// finished outbox rows past theirs, and the Wi-Fi passwords of vouchers over for a day.
    /// Returns the rows removed.
    pub async fn maintenance(&self) -> Result<usize, StoreError> {
        let ctx = Ctx::new(Actor::Scheduler);
        self.run(UseCase::Maintenance, &ctx, |tx| {
            let audit_before = tx.now - time::Duration::days(AUDIT_RETENTION_DAYS);
            let outbox_before = tx.now - time::Duration::days(OUTBOX_RETENTION_DAYS);
            Ok::<_, StoreError>(
                rows::audit_prune(tx.db, audit_before)?
                    + rows_b::tombstone_prune(tx.db, audit_before)?
                    + crate::store::guest_page::consent_prune(tx.db, audit_before)?
                    + outbox::prune(tx.db, outbox_before)?
                    + wifi_keys::prune(
                        tx.db,
                        tx.now - time::Duration::days(WIFI_KEY_RETENTION_DAYS),
                    )?,
            )
        })
        .await
    }
}
