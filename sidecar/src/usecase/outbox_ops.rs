//! What waits for the controller, as the host sees and handles it (issue 12b): the pending
//! outbox items with their problem (every kind: take-outs, renewals, Wi-Fi keys), the host's discard of an item that can never succeed
//! (its unit or its controller is gone; audited, one transaction), and the retry of every
//! waiting item when the settings or a unit change.

use crate::outbox::{wifi_keys, OutboxOp};
use crate::store::outbox::{self, OutboxRow};
use crate::store::{grants as g, StoreError};
use crate::usecase::{not_found, passwords, Error, Rentals, UseCase};
use crate::vouchers::model::{Actor, AuditAction};
use crate::vouchers::{Ctx, Error as Rule};

/// A pending item, with what it is about.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingItem {
    pub row: OutboxRow,
    /// `unauthorize` / `reauthorize` / `wifi_key` (None: unreadable).
    pub op: Option<&'static str>,
    /// A `wifi_key` item's key (`rentalwifi-<unit>-<code>`; never its password).
    pub key: Option<String>,
    pub site: Option<String>,
    pub client_mac: Option<String>,
    pub grant_id: Option<String>,
    /// The grant's unit, while the grant exists.
    pub unit_id: Option<String>,
}

/// Most items listed.
pub const LIST_LIMIT: usize = 500;

fn describe(conn: &rusqlite::Connection, row: OutboxRow) -> Result<PendingItem, StoreError> {
    if row.kind == wifi_keys::KIND {
        let about = wifi_keys::describe(conn, &row.payload)?;
        let (key, unit_id, site) = match about {
            Some((key, unit, site)) => (Some(key), unit, site),
            None => (None, None, None),
        };
        return Ok(PendingItem {
            op: key.is_some().then_some(wifi_keys::KIND),
            key,
            site,
            client_mac: None,
            grant_id: None,
            unit_id,
            row,
        });
    }
    let op = OutboxOp::from_payload(&row.payload).ok();
    let (kind, site, mac, grant_id) = match &op {
        Some(OutboxOp::Unauthorize {
            site,
            client_mac,
            grant_id,
            ..
        }) => (
            Some("unauthorize"),
            Some(site.clone()),
            Some(client_mac.clone()),
            Some(grant_id.clone()),
        ),
        Some(OutboxOp::Reauthorize { grant_id }) => {
            (Some("reauthorize"), None, None, Some(grant_id.clone()))
        }
        None => (None, None, None, None),
    };
    let grant = match grant_id.as_deref() {
        Some(id) => match g::get(conn, id) {
            Ok(grant) => Some(grant),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    Ok(PendingItem {
        op: kind,
        key: None,
        site: site.or_else(|| grant.as_ref().map(|g| g.site.clone())),
        client_mac: mac.or_else(|| grant.as_ref().map(|g| g.client_mac.to_string())),
        unit_id: grant.as_ref().map(|g| g.unit_id.clone()),
        grant_id,
        row,
    })
}

impl Rentals {
    /// The pending controller operations, oldest first.
    pub async fn pending_outbox(&self) -> Result<Vec<PendingItem>, StoreError> {
        self.store
            .read(|c| {
                outbox::list_pending(c, LIST_LIMIT)?
                    .into_iter()
                    .map(|row| describe(c, row))
                    .collect()
            })
            .await
    }

    /// The host gives up on item `id` (its unit or controller is gone): finished without the
    /// controller's confirmation, audited with what it was. A finished item is a conflict.
    pub async fn discard_outbox(&self, ctx: &Ctx, id: i64) -> Result<PendingItem, Error> {
        let item = self
            .run(UseCase::OutboxDiscard, ctx, move |tx| {
                let row = outbox::get(tx.db, id).map_err(not_found("outbox item"))?;
                if row.done_at.is_some() {
                    return Err(Rule::Conflict(format!(
                        "outbox item {id} is finished already; nothing to discard"
                    ))
                    .into());
                }
                outbox::discard(tx.db, id, tx.now)?;
                let item = describe(tx.db, outbox::get(tx.db, id)?)?;
                // A Wi-Fi key's deletion given up: the key may stay on the controller.
                let left = match (&item.key, item.row.kind == wifi_keys::KIND) {
                    (Some(key), true) => passwords::discarded(tx, key)?,
                    _ => None,
                };
                tx.audit(
                    AuditAction::OutboxDiscard,
                    item.unit_id.as_deref(),
                    None,
                    Some(format!(
                        "{} {} on site {} (queued {}, {} attempts{})",
                        item.op.unwrap_or("unreadable item"),
                        item.client_mac
                            .as_deref()
                            .or(item.key.as_deref())
                            .unwrap_or("?"),
                        item.site.as_deref().unwrap_or("?"),
                        crate::clock::rfc3339(item.row.created_at),
                        item.row.attempts,
                        item.row
                            .problem
                            .as_deref()
                            .map(|p| format!("; waited on: {p}"))
                            .unwrap_or_default()
                    ) + &left
                        .map(|p| format!(
                            "; the key may still be in PPSK profile {} on site {:?}: delete it there by hand",
                            p.profile_id, p.site
                        ))
                        .unwrap_or_default()),
                )?;
                Ok::<_, Error>(item)
            })
            .await?;
        tracing::warn!(
            id,
            op = item.op.unwrap_or("?"),
            "outbox item discarded by the host"
        );
        self.refresh_outbox_problem().await;
        Ok(item)
    }

    /// The settings or a unit changed: every item that waits on a problem is due now.
    pub async fn retry_waiting(&self) {
        let now = self.clock.now();
        // Nothing waits (the usual case): no write.
        if self.store.read(outbox::waiting).await.unwrap_or(1) == 0 {
            self.outbox_alarm.wake();
            return;
        }
        let ctx = Ctx::new(Actor::Scheduler);
        match self
            .run(UseCase::OutboxRetry, &ctx, move |tx| {
                outbox::unpark_all(tx.db, now)
            })
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(items = n, "waiting controller operations are tried again"),
            Err(e) => tracing::error!(error = %e, "waiting controller operations not rescheduled"),
        }
        self.outbox_alarm.wake();
    }

    /// Tell the controller status what the outbox holds.
    pub async fn refresh_outbox_problem(&self) {
        match self.store.read(outbox::summary).await {
            Ok(s) => self.controller.set_outbox(&s),
            Err(e) => tracing::error!(error = %e, "outbox summary unavailable"),
        }
    }
}
