//! The outbox worker: sends queued controller operations, retries until the controller
//! confirms (across outages and restarts), and sleeps until the next item is due.
//!
//! Each item: read it, call the controller (no transaction open), then one write marking it
//! done (with what follows from it: the next renewal, a host test's result) or scheduling its
//! retry. A crash after the controller confirmed but before the write (fail point
//! `outbox.sent`) sends it again after the restart; every operation is safe to repeat.
//!
//! How a failure is handled ([`next_after`], issue 12b): a controller that cannot be reached
//! stalls the queue (backoff 1 s doubling to 60 s, the rest waits behind it); a device that is
//! away when its authorisation is renewed is tried again on its own; anything else — a
//! permission, a site, credentials, a certificate — is a problem the host must fix: the item
//! **waits** (never dropped), with the other items of its site, is tried again every
//! [`WAIT_RETRY`] and at once when the settings or a unit change, and the controller status
//! says what waits and why (`problem`, `controller_problem`, `rental_wifi_outbox_waiting`).
//! Only the host may discard a waiting item (`POST /api/v1/outbox/{id}/discard`, audited).
//! The one exception, kept from before: a row that cannot be read at all (not JSON, a MAC
//! that is no MAC) is finished with an error log — no retry could ever send it.
//!
//! Items of kind `wifi_key` (issue 18, [`super::wifi_keys`]) are carried out by their own
//! module and fail the same three ways ([`next_after_key`]): one waiting model for every
//! kind. What a failure holds back with it stays within its kind ([`Hold`]): a take-out never
//! waits behind a PPSK problem, nor a key's deletion behind a hotspot operator's.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;

use crate::controller::ControllerError;
use crate::events::{AuthState, HostTestReport};
use crate::failpoint;
use crate::net::Mac;
use crate::omada::{AuthorizeRequest, OmadaError, PpskError};
use crate::outbox::wifi_keys::{self, Handled};
use crate::outbox::{renew_at, OutboxOp, KIND_CONTROLLER};
use crate::store::outbox::{self, OutboxItem, OutboxRow};
use crate::store::{grants as g, host_tests, rows, StoreError};
use crate::usecase::host_test;
use crate::usecase::{Rentals, UseCase};
use crate::vouchers::model::{Actor, Grant, GrantState};
use crate::vouchers::Ctx;

/// Outbox items handled per pass.
const OUTBOX_BATCH: usize = 100;

/// How long an item that waits for the host's fix waits before it is tried again by itself
/// (a fix on the controller side changes nothing the sidecar could notice).
pub const WAIT_RETRY: Duration = Duration::from_secs(10 * 60);

/// Longest wait of an item retried on its own (a device away at its renewal).
const LATER_CAP: Duration = Duration::from_secs(5 * 60);

/// Retry delay for the n-th attempt: 1 s doubling to 60 s, with jitter.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(6);
    let ms = base.min(60) * 1000;
    let jitter = rand::random::<u64>() % (ms / 4 + 1);
    Duration::from_millis(ms - ms / 8 + jitter)
}

fn after(now: OffsetDateTime, d: Duration) -> OffsetDateTime {
    now + time::Duration::milliseconds(d.as_millis() as i64)
}

/// What a failed item does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// The controller cannot be reached: retry after a backoff; the queue waits behind it.
    Stall,
    /// This item only: try again after a backoff (a device away when it is re-authorised).
    Later,
    /// A problem the host must fix: the item and the other items of its site wait.
    Wait,
}

/// How a failure of `op` is handled (see the module docs).
pub(crate) fn next_after(op: &OutboxOp, e: &ControllerError) -> Next {
    match e {
        ControllerError::NotConfigured | ControllerError::Store(_) => Next::Stall,
        ControllerError::Omada(o) => match o {
            OmadaError::Unreachable(_) | OmadaError::Timeout(_) | OmadaError::Tls(_) => Next::Stall,
            // `auth` of a device that is not connected right now (Open API, the same answer
            // `unauth` gives, field notes §1.9): it is let in again when it returns.
            OmadaError::Rejected { message, .. }
                if matches!(op, OutboxOp::Reauthorize { .. })
                    && message.to_ascii_lowercase().contains("not exist") =>
            {
                Next::Later
            }
            // Misconfigured, AuthFailed, TlsUntrusted, Rejected, Protocol, InvalidSettings,
            // InvalidRequest: none is a reason to give up a take-out (12b: the site-not-found
            // case used to be an `InvalidRequest` that dropped it). They wait for the host.
            _ => Next::Wait,
        },
    }
}

/// How a failed Wi-Fi key item goes on (see the module docs): an unreachable controller
/// stalls the queue like any item's; a change the controller answered but did not keep is
/// tried again on its own; everything else — no Open API credentials, a controller without
/// the per-key calls, a profile that is gone, a right that is missing, a password another key
/// uses — waits for the host.
pub(crate) fn next_after_key(e: &PpskError) -> Next {
    match e {
        PpskError::Omada(o) => match o {
            OmadaError::Unreachable(_) | OmadaError::Timeout(_) | OmadaError::Tls(_) => Next::Stall,
            _ => Next::Wait,
        },
        PpskError::NotApplied { .. } => Next::Later,
        PpskError::NeedsOpenApi
        | PpskError::Unsupported { .. }
        | PpskError::ProfileNotFound { .. }
        | PpskError::InvalidKey(_)
        | PpskError::PasswordInUse { .. } => Next::Wait,
    }
}

/// The other pending items a waiting item holds back (tried with it, not each on its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Hold {
    /// None: the problem is this item's own (a profile, a password).
    Alone,
    /// The controller operations on this site (take-outs, renewals).
    Site(String),
    /// The Wi-Fi key items on this site: credentials, a right or the site itself.
    KeySite(String),
}

/// What a Wi-Fi key failure holds back: the site's other keys when the cause is not the
/// key's own.
pub(crate) fn hold_for_key(e: &PpskError, site: Option<&str>) -> Hold {
    let site_wide = matches!(
        e,
        PpskError::NeedsOpenApi
            | PpskError::Unsupported { .. }
            | PpskError::Omada(
                OmadaError::AuthFailed(_)
                    | OmadaError::TlsUntrusted { .. }
                    | OmadaError::Misconfigured(_)
            )
    );
    match site {
        Some(site) if site_wide => Hold::KeySite(site.to_owned()),
        _ => Hold::Alone,
    }
}

/// A failed item of any kind, classified.
struct Failure {
    next: Next,
    error: String,
    /// For the host: "taking 02-… off site "Beach"".
    what: String,
    hold: Hold,
}

/// How a pass over the due items ended.
#[derive(Debug, PartialEq, Eq)]
enum Pass {
    /// Every due item was handled; this many.
    Done(usize),
    /// The controller failed; the rest waits for it (until this item's retry).
    Stalled(OffsetDateTime),
}

/// What an item is about, read before it is sent.
struct Target {
    op: OutboxOp,
    /// The site as units and grants name it.
    site: String,
    /// The grant it concerns, when it still exists.
    grant: Option<Grant>,
    /// For the host: "taking 02-… off site "Beach"".
    what: String,
}

/// What sending an item came to.
enum Sent {
    /// Confirmed (or nothing left to do).
    Done,
    /// Re-authorised in Open API mode: the next renewal is due then (None: not needed).
    Renewed(Option<OffsetDateTime>),
    /// A host test's phone was taken off: its result.
    HostTest(Box<HostTestReport>),
    Failed(ControllerError),
}

/// Work through due items. Stops early when the controller cannot be reached.
async fn drain(r: &Rentals) -> Result<Pass, StoreError> {
    let now = r.clock.now();
    let items = r
        .store
        .read(move |c| outbox::due(c, now, OUTBOX_BATCH))
        .await?;
    let mut handled = 0;
    let mut held: HashSet<i64> = HashSet::new();
    for item in items {
        if held.contains(&item.id) {
            continue;
        }
        handled += 1;
        if item.kind == wifi_keys::KIND {
            if let Handled::Failed(f) = wifi_keys::handle(r, &item).await? {
                let failure = Failure {
                    next: next_after_key(&f.error),
                    hold: hold_for_key(&f.error, f.site.as_deref()),
                    error: f.error.to_string(),
                    what: f.what,
                };
                if let Some(stalled) = failed(r, &item, failure, &mut held).await? {
                    return Ok(stalled);
                }
            }
            continue;
        }
        let Some(target) = target(r, &item).await? else {
            mark_done(r, item.id).await?;
            continue;
        };
        match send(r, &target).await? {
            Sent::Done => {
                failpoint::hit("outbox", "sent");
                mark_done(r, item.id).await?;
            }
            Sent::Renewed(next) => {
                failpoint::hit("outbox", "sent");
                renewed(r, &item, &target, next).await?;
            }
            Sent::HostTest(report) => {
                failpoint::hit("outbox", "sent");
                host_test::record_result(r, item.id, *report).await?;
            }
            Sent::Failed(e) => {
                let failure = Failure {
                    next: next_after(&target.op, &e),
                    error: e.to_string(),
                    what: target.what,
                    hold: Hold::Site(target.site),
                };
                if let Some(stalled) = failed(r, &item, failure, &mut held).await? {
                    return Ok(stalled);
                }
            }
        }
    }
    Ok(Pass::Done(handled))
}

/// A failed item, whatever its kind: stall the pass, retry it alone later, or let it (and
/// what it holds back) wait for the host. `Some`: the pass stops here.
async fn failed(
    r: &Rentals,
    item: &OutboxItem,
    f: Failure,
    held: &mut HashSet<i64>,
) -> Result<Option<Pass>, StoreError> {
    let e = &f.error;
    match f.next {
        Next::Stall => {
            let next = after(r.clock.now(), backoff(item.attempts + 1));
            retry(r, item, next, e).await?;
            tracing::warn!(id = item.id, kind = %item.kind, attempts = item.attempts + 1, error = %e, "controller operation will be retried");
            return Ok(Some(Pass::Stalled(next)));
        }
        Next::Later => {
            let wait = backoff(item.attempts + 1).min(LATER_CAP);
            let next = after(r.clock.now(), wait);
            retry(r, item, next, e).await?;
            tracing::info!(id = item.id, error = %e, "{}: tried again later", f.what);
        }
        Next::Wait => {
            let problem = format!("{}: {e}", f.what);
            tracing::warn!(id = item.id, problem = %problem, "controller operation waits for a fix");
            held.extend(park(r, item, f.hold, e, problem).await?);
        }
    }
    Ok(None)
}

async fn mark_done(r: &Rentals, id: i64) -> Result<(), StoreError> {
    let ctx = Ctx::new(Actor::Scheduler);
    r.run(UseCase::OutboxDone, &ctx, move |tx| {
        outbox::done(tx.db, id, tx.now)
    })
    .await
}

async fn retry(
    r: &Rentals,
    item: &OutboxItem,
    next: OffsetDateTime,
    error: &str,
) -> Result<(), StoreError> {
    let (id, msg) = (item.id, error.to_owned());
    let ctx = Ctx::new(Actor::Scheduler);
    r.run(UseCase::OutboxRetry, &ctx, move |tx| {
        outbox::retry(tx.db, id, next, &msg)
    })
    .await
}

/// The item waits for the host, and so do the other pending items it holds back ([`Hold`]:
/// one attempt per site and [`WAIT_RETRY`], not one per item: a wrong password must not cost
/// a login per queued take-out). Returns the ids held back.
async fn park(
    r: &Rentals,
    item: &OutboxItem,
    hold: Hold,
    error: &str,
    problem: String,
) -> Result<Vec<i64>, StoreError> {
    let (id, error) = (item.id, error.to_owned());
    let ctx = Ctx::new(Actor::Scheduler);
    r.run(UseCase::OutboxPark, &ctx, move |tx| {
        let next = after(tx.now, WAIT_RETRY);
        outbox::park(tx.db, id, next, &error, &problem)?;
        let mut held = vec![id];
        if hold == Hold::Alone {
            return Ok(held);
        }
        for other in outbox::list_pending(tx.db, 10_000)? {
            if other.id != id && held_by(tx.db, &hold, &other)? {
                outbox::hold(tx.db, other.id, next, &problem)?;
                held.push(other.id);
            }
        }
        Ok(held)
    })
    .await
}

/// Does a failure with this [`Hold`] hold `other` back?
fn held_by(
    conn: &rusqlite::Connection,
    hold: &Hold,
    other: &OutboxRow,
) -> Result<bool, StoreError> {
    match hold {
        Hold::Alone => Ok(false),
        Hold::Site(site) if other.kind == KIND_CONTROLLER => {
            Ok(match OutboxOp::from_payload(&other.payload) {
                Ok(OutboxOp::Unauthorize { site: s, .. }) => s.eq_ignore_ascii_case(site),
                Ok(OutboxOp::Reauthorize { grant_id }) => match g::get(conn, &grant_id) {
                    Ok(grant) => grant.site.eq_ignore_ascii_case(site),
                    Err(StoreError::NotFound) => false,
                    Err(e) => return Err(e),
                },
                Err(_) => false,
            })
        }
        Hold::KeySite(site) if other.kind == wifi_keys::KIND => {
            Ok(wifi_keys::site_of(conn, &other.payload)?
                .is_some_and(|s| s.eq_ignore_ascii_case(site)))
        }
        Hold::Site(_) | Hold::KeySite(_) => Ok(false),
    }
}

/// The renewal's transaction: the item is done, and the next renewal is queued when the
/// authorisation runs out before the grant ends (only while the grant is still active).
async fn renewed(
    r: &Rentals,
    item: &OutboxItem,
    t: &Target,
    next: Option<OffsetDateTime>,
) -> Result<(), StoreError> {
    let id = item.id;
    let grant_id = t.grant.as_ref().map(|g| g.grant_id.clone());
    let ctx = Ctx::new(Actor::Scheduler);
    r.run(UseCase::Renewal, &ctx, move |tx| {
        outbox::done(tx.db, id, tx.now)?;
        if let (Some(at), Some(grant_id)) = (next, grant_id) {
            if g::state_of(tx.db, &grant_id).ok() == Some(GrantState::Active) {
                tx.queue_renewal(&grant_id, at)?;
            }
        }
        Ok(())
    })
    .await
}

/// Read what the item is about. `None`: unreadable, or nothing to do any more.
async fn target(r: &Rentals, item: &OutboxItem) -> Result<Option<Target>, StoreError> {
    let op = match OutboxOp::from_payload(&item.payload) {
        Ok(op) => op,
        Err(e) => {
            tracing::error!(id = item.id, error = %e, "unreadable outbox item dropped");
            return Ok(None);
        }
    };
    match &op {
        OutboxOp::Unauthorize {
            site,
            client_mac,
            grant_id,
            ..
        } => {
            if client_mac.parse::<Mac>().is_err() {
                tracing::error!(id = item.id, "outbox item with a bad MAC dropped");
                return Ok(None);
            }
            // The same device may have been let in again since, or moved to another voucher:
            // while it holds an active grant, this old unauthorise must not throw it off.
            let (s2, m2, g2) = (site.clone(), client_mac.clone(), grant_id.clone());
            let (superseded, grant) = r
                .store
                .read(move |c| {
                    let superseded = g::holds_active_grant(c, &m2, &s2)?;
                    let grant = match g::get(c, &g2) {
                        Ok(grant) => Some(grant),
                        Err(StoreError::NotFound) => None,
                        Err(e) => return Err(e),
                    };
                    Ok((superseded, grant))
                })
                .await?;
            if superseded {
                return Ok(None);
            }
            Ok(Some(Target {
                what: format!("taking {client_mac} off site {site:?}"),
                site: site.clone(),
                grant,
                op,
            }))
        }
        OutboxOp::Reauthorize { grant_id } => {
            let id = grant_id.clone();
            let (grant, unwanted) = r
                .store
                .read(move |c| {
                    let grant = match g::get(c, &id) {
                        Ok(grant) => Some(grant),
                        Err(StoreError::NotFound) => None,
                        Err(e) => return Err(e),
                    };
                    Ok((grant, crate::usecase::renewal_unwanted(c, &id)?))
                })
                .await?;
            // Open API: a renewal of a portal grant whose unit went over to password mode
            // (queued before the switch) is not sent; the grant runs out (issue 18).
            if unwanted && r.controller.renews() {
                return Ok(None);
            }
            let now = r.clock.now();
            match grant {
                Some(grant) if grant.state == GrantState::Active && grant.expires_at > now => {
                    Ok(Some(Target {
                        what: format!(
                            "authorising {} again on site {:?}",
                            grant.client_mac, grant.site
                        ),
                        site: grant.site.clone(),
                        grant: Some(grant),
                        op,
                    }))
                }
                _ => Ok(None),
            }
        }
    }
}

/// Carry out one item. The outer `Result` is the database's.
async fn send(r: &Rentals, t: &Target) -> Result<Sent, StoreError> {
    match &t.op {
        OutboxOp::Unauthorize {
            site,
            client_mac,
            site_id,
            grant_id,
            ..
        } => {
            let Ok(mac) = client_mac.parse::<Mac>() else {
                return Ok(Sent::Done);
            };
            let ended = match r
                .controller
                .unauthorize_device(site, site_id.as_deref(), mac)
                .await
            {
                Ok(n) => n,
                Err(e) => return Ok(Sent::Failed(e)),
            };
            // A host test's phone: what the controller says now is the test's result.
            let gid = grant_id.clone();
            let test = r
                .store
                .read(move |c| host_tests::open_for_grant(c, &gid))
                .await?;
            match (test, &t.grant) {
                (Some(test), Some(grant)) => {
                    let report =
                        host_test::confirm(r, &test, grant, site_id.as_deref(), ended).await;
                    Ok(Sent::HostTest(Box::new(report)))
                }
                _ => Ok(Sent::Done),
            }
        }
        OutboxOp::Reauthorize { .. } => {
            let Some(grant) = &t.grant else {
                return Ok(Sent::Done);
            };
            // A device the host let in by its MAC has an Open API authorisation whatever the
            // mode: renewed through the Open API before the portal timeout.
            let renews = r.controller.renews() || grant.by_host;
            if !renews && !r.controller.takes_duration() {
                return Ok(Sent::Done);
            }
            let code = grant.code.clone();
            let voucher = r
                .store
                .read(move |c| Ok(rows::voucher_get(c, &code).ok()))
                .await?;
            let now = r.clock.now();
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
            let authorized = if grant.by_host {
                r.controller
                    .reauthorize_mac(&grant.site, grant.client_mac)
                    .await
            } else {
                r.controller.authorize(&req).await
            };
            if let Err(e) = authorized {
                return Ok(Sent::Failed(e));
            }
            if !renews {
                return Ok(Sent::Done);
            }
            // Open API: this authorisation lasts the portal timeout from now.
            let timeout = r.controller.portal_timeout(&grant.site).await;
            let next = renew_at(r.clock.now(), timeout, grant.expires_at);
            tracing::info!(
                grant_id = %grant.grant_id,
                timeout_minutes = timeout.as_secs() / 60,
                next = %next.map(crate::clock::rfc3339).unwrap_or_else(|| "none".into()),
                "authorisation renewed before the portal timeout"
            );
            Ok(Sent::Renewed(next))
        }
    }
}

/// The worker: while the controller is configured, send what is due (full batches again at
/// once: a backlog after an outage), tell the controller what waits, then sleep until the
/// next item is due, a use case queues an earlier one, or the settings change. Returns at
/// `stop`.
pub async fn run(r: Arc<Rentals>, mut stop: watch::Receiver<bool>) {
    // A restart is a chance the cause was fixed meanwhile: what waits is tried once now.
    r.retry_waiting().await;
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
        r.refresh_outbox_problem().await;
        if !r.outbox_alarm.sleep_until(next, &r.clock, &mut stop).await {
            return;
        }
    }
}

/// The state a host test's phone is in after the revoke, as the controller tells it: in
/// Open API mode the records of the MAC (none valid = ended); in hotspot mode nothing can be
/// read back (records keep `valid` after their end, field notes §1.9).
pub(crate) fn auth_state(open_api: bool, still_valid: Option<usize>) -> AuthState {
    match (open_api, still_valid) {
        (true, Some(0)) => AuthState::Ended,
        (true, Some(_)) => AuthState::StillValid,
        _ => AuthState::NotReadable,
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

    /// 12b: nothing the controller says drops a take-out; only an unreachable controller
    /// stalls the queue, and only a device away at its renewal is retried on its own.
    #[test]
    fn failures_wait_stall_or_come_later_never_drop() {
        let unauth = OutboxOp::Unauthorize {
            site: "Beach".into(),
            client_mac: "02-00-00-00-00-01".into(),
            grant_id: "g".into(),
            queued_at_ms: 0,
            site_id: None,
        };
        let reauth = OutboxOp::Reauthorize {
            grant_id: "g".into(),
        };
        let o = |e: OmadaError| ControllerError::Omada(e);
        let not_exist = || OmadaError::Rejected {
            code: -41504,
            message: "The client does not exist.".into(),
        };
        for (op, e, want) in [
            (&unauth, o(OmadaError::Unreachable("x".into())), Next::Stall),
            (&unauth, o(OmadaError::Timeout("x".into())), Next::Stall),
            (&unauth, o(OmadaError::Tls("handshake".into())), Next::Stall),
            (&unauth, ControllerError::NotConfigured, Next::Stall),
            (
                &unauth,
                o(OmadaError::Misconfigured("site".into())),
                Next::Wait,
            ),
            (
                &unauth,
                o(OmadaError::AuthFailed("role".into())),
                Next::Wait,
            ),
            (
                &unauth,
                o(OmadaError::TlsUntrusted {
                    message: "pin".into(),
                    certificate: None,
                }),
                Next::Wait,
            ),
            (
                &unauth,
                o(OmadaError::InvalidRequest("x".into())),
                Next::Wait,
            ),
            (&unauth, o(OmadaError::Protocol("x".into())), Next::Wait),
            (&unauth, o(not_exist()), Next::Wait),
            (&reauth, o(not_exist()), Next::Later),
            (
                &reauth,
                o(OmadaError::Misconfigured("site".into())),
                Next::Wait,
            ),
            (&reauth, o(OmadaError::Unreachable("x".into())), Next::Stall),
        ] {
            assert_eq!(next_after(op, &e), want, "{op:?} {e:?}");
        }
    }

    #[test]
    fn only_the_open_api_can_tell_that_an_authorisation_ended() {
        assert_eq!(auth_state(true, Some(0)), AuthState::Ended);
        assert_eq!(auth_state(true, Some(1)), AuthState::StillValid);
        assert_eq!(auth_state(true, None), AuthState::NotReadable);
        assert_eq!(auth_state(false, Some(0)), AuthState::NotReadable);
    }
}
