//! The outbox worker: sends queued controller operations, retries with backoff until the
//! controller confirms (across outages and restarts), and sleeps until the next item is due.
//!
//! Each item: read it, call the controller (no transaction open), then one write marking it
//! done or scheduling its retry. A crash after the controller confirmed but before the write
//! (fail point `outbox.sent`) sends it again after the restart; both operations are safe to
//! repeat.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::controller::ControllerError;
use crate::failpoint;
use crate::omada::{AuthorizeRequest, OmadaError};
use crate::outbox::OutboxOp;
use crate::store::outbox::{self, OutboxItem};
use crate::store::{grants as g, rows, StoreError};
use crate::usecase::{Rentals, UseCase};
use crate::vouchers::model::{Actor, GrantState};
use crate::vouchers::Ctx;

/// Outbox items handled per pass.
const OUTBOX_BATCH: usize = 100;

/// Retry delay for the n-th attempt: 1 s doubling to 60 s, with jitter.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(6);
    let ms = base.min(60) * 1000;
    let jitter = rand::random::<u64>() % (ms / 4 + 1);
    Duration::from_millis(ms - ms / 8 + jitter)
}

/// How a pass over the due items ended.
#[derive(Debug, PartialEq, Eq)]
enum Pass {
    /// Every due item was handled; this many.
    Done(usize),
    /// The controller failed; the rest waits for it (until this item's retry).
    Stalled(time::OffsetDateTime),
}

/// Work through due items. Stops early when the controller fails.
async fn drain(r: &Rentals) -> Result<Pass, StoreError> {
    let now = r.clock.now();
    let items = r
        .store
        .read(move |c| outbox::due(c, now, OUTBOX_BATCH))
        .await?;
    let mut done = 0;
    for item in items {
        if item.kind == super::wifi_keys::KIND {
            match super::wifi_keys::handle(r, &item).await? {
                super::wifi_keys::Handled::Done => done += 1,
                super::wifi_keys::Handled::Waiting => {}
                super::wifi_keys::Handled::Stalled(next) => return Ok(Pass::Stalled(next)),
            }
            continue;
        }
        let result = send(r, &item).await?;
        match result {
            Ok(()) => {
                failpoint::hit("outbox", "sent");
                mark_done(r, item.id).await?;
                done += 1;
            }
            Err(ControllerError::Omada(OmadaError::InvalidRequest(m))) => {
                tracing::error!(id = item.id, error = %m, "outbox item can never succeed; dropped");
                mark_done(r, item.id).await?;
            }
            Err(e) => {
                let wait = backoff(item.attempts + 1);
                let next = r.clock.now() + time::Duration::milliseconds(wait.as_millis() as i64);
                let msg = e.to_string();
                let ctx = Ctx::new(Actor::Scheduler);
                r.run(UseCase::OutboxRetry, &ctx, move |tx| {
                    outbox::retry(tx.db, item.id, next, &msg)
                })
                .await?;
                tracing::warn!(id = item.id, attempts = item.attempts + 1, error = %e, "controller operation will be retried");
                return Ok(Pass::Stalled(next));
            }
        }
    }
    Ok(Pass::Done(done))
}

async fn mark_done(r: &Rentals, id: i64) -> Result<(), StoreError> {
    let ctx = Ctx::new(Actor::Scheduler);
    r.run(UseCase::OutboxDone, &ctx, move |tx| {
        outbox::done(tx.db, id, tx.now)
    })
    .await
}

/// Carry out one item. The outer `Result` is the database's, the inner the controller's.
async fn send(r: &Rentals, item: &OutboxItem) -> Result<Result<(), ControllerError>, StoreError> {
    let op = match OutboxOp::from_payload(&item.payload) {
        Ok(op) => op,
        Err(e) => {
            tracing::error!(id = item.id, error = %e, "unreadable outbox item dropped");
            return Ok(Ok(()));
        }
    };
    match op {
        OutboxOp::Unauthorize {
            site,
            client_mac,
            queued_at_ms,
            ..
        } => {
            let Ok(mac) = client_mac.parse() else {
                tracing::error!(id = item.id, "outbox item with a bad MAC dropped");
                return Ok(Ok(()));
            };
            // The same device may have been let in again since (another voucher): then this
            // old unauthorise must not throw it off.
            let (s2, m2) = (site.clone(), client_mac.clone());
            let superseded = r
                .store
                .read(move |c| g::authorized_since(c, &m2, &s2, queued_at_ms))
                .await?;
            if superseded {
                return Ok(Ok(()));
            }
            Ok(r.controller.unauthorize(&site, mac).await)
        }
        OutboxOp::Reauthorize { grant_id } => {
            // Only a controller that takes a grant's length needs to hear the new one.
            if !r.controller.takes_duration() {
                return Ok(Ok(()));
            }
            let found = r
                .store
                .read(move |c| {
                    let grant = match g::get(c, &grant_id) {
                        Ok(grant) => grant,
                        Err(StoreError::NotFound) => return Ok(None),
                        Err(e) => return Err(e),
                    };
                    let voucher = rows::voucher_get(c, &grant.code).ok();
                    Ok(Some((grant, voucher)))
                })
                .await?;
            let now = r.clock.now();
            let Some((grant, voucher)) = found else {
                return Ok(Ok(()));
            };
            if grant.state != GrantState::Active || grant.expires_at <= now {
                return Ok(Ok(()));
            }
            let remaining = grant.expires_at - now;
            let req = AuthorizeRequest {
                client_mac: grant.client_mac,
                client_ip: grant.client_ip.clone(),
                site: grant.site.clone(),
                ap_mac: grant.ap_mac,
                ssid_name: grant.ssid.clone(),
                radio_id: grant.radio_id,
                gateway_mac: grant.gateway_mac,
                vid: grant.vid,
                duration: Duration::from_millis(remaining.whole_milliseconds().max(0) as u64),
                down_kbps: voucher.as_ref().and_then(|v| v.down_kbps),
                up_kbps: voucher.as_ref().and_then(|v| v.up_kbps),
            };
            Ok(r.controller.authorize(&req).await)
        }
    }
}

/// The worker: while the controller is configured, send what is due (full batches again at
/// once: a backlog after an outage), then sleep until the next item is due, a use case
/// queues an earlier one, or the settings change. Returns at `stop`.
pub async fn run(r: Arc<Rentals>, mut stop: watch::Receiver<bool>) {
    loop {
        r.outbox_alarm.arm();
        let mut next = None;
        if r.controller.is_configured() {
            next = loop {
                match drain(&r).await {
                    Ok(Pass::Done(n)) if n >= OUTBOX_BATCH => continue,
                    Ok(Pass::Done(_)) => match r.store.read(outbox::next_due).await {
                        Ok(next) => break next,
                        Err(e) => {
                            tracing::error!(error = %e, "next outbox item unknown");
                            break Some(r.clock.now() + time::Duration::seconds(5));
                        }
                    },
                    Ok(Pass::Stalled(retry_at)) => break Some(retry_at),
                    Err(e) => {
                        tracing::error!(error = %e, "outbox processing failed");
                        break Some(r.clock.now() + time::Duration::seconds(5));
                    }
                }
            };
        }
        if !r.outbox_alarm.sleep_until(next, &r.clock, &mut stop).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute_with_jitter() {
        for (attempt, base) in [
            (1u32, 2_000u64),
            (2, 4_000),
            (5, 32_000),
            (6, 60_000),
            (30, 60_000),
        ] {
            for _ in 0..50 {
                let d = backoff(attempt).as_millis() as u64;
                assert!(
                    d >= base - base / 8 && d <= base + base / 8,
                    "{attempt}: {d}"
                );
            }
        }
    }
}
