//! The durable controller outbox: operations the controller must eventually confirm
//! (unauthorise a device, send a grant's authorisation again, bring a Wi-Fi key in line).
//! Rows are queued by use cases in the same transaction as the change that needs them, and
//! worked through by `outbox::worker`.
//!
//! A row is pending while `done_at` is NULL. A pending row with a `problem` waits for the host
//! (a configuration or permission failure, issue 12b): it is retried on a long period, at once
//! when the settings or a unit change, and never dropped — only the host may discard it
//! (`discarded_at`, which also sets `done_at`).

use rusqlite::{params, Connection, OptionalExtension, Row};
use time::OffsetDateTime;

use super::{from_ms, to_ms, StoreError};

#[derive(Clone, Debug)]
pub struct OutboxItem {
    pub id: i64,
    /// Which worker module reads `payload` (`controller`, `wifi_key`).
    pub kind: String,
    pub payload: String,
    pub attempts: u32,
}

/// A row as the host sees it (`GET /api/v1/outbox`).
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    /// Which worker module reads `payload` (`controller`, `wifi_key`).
    pub kind: String,
    pub payload: String,
    pub attempts: u32,
    pub created_at: OffsetDateTime,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub problem: Option<String>,
    pub done_at: Option<OffsetDateTime>,
    pub discarded_at: Option<OffsetDateTime>,
}

/// What the controller status says about the outbox (CONTRACTS §5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub pending: u64,
    /// Pending items that wait on a problem.
    pub waiting: u64,
    pub oldest_pending_at: Option<OffsetDateTime>,
    /// The oldest waiting item's problem and since when it waits.
    pub oldest_problem: Option<(String, OffsetDateTime)>,
}

/// Queue an operation that must not run before `not_before`.
pub fn push(
    conn: &Connection,
    kind: &str,
    payload: &str,
    now: OffsetDateTime,
    not_before: OffsetDateTime,
) -> Result<i64, StoreError> {
    conn.prepare_cached("INSERT INTO outbox (kind, payload, attempts, next_attempt_at, created_at) VALUES (?1, ?2, 0, ?3, ?4)")?
        .execute(params![kind, payload, to_ms(not_before), to_ms(now)])?;
    Ok(conn.last_insert_rowid())
}

pub fn due(
    conn: &Connection,
    now: OffsetDateTime,
    limit: usize,
) -> Result<Vec<OutboxItem>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, payload, attempts, kind FROM outbox WHERE done_at IS NULL AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2")?;
    let rows = stmt.query_map(params![to_ms(now), limit as i64], |r| {
        Ok(OutboxItem {
            id: r.get(0)?,
            kind: r.get(3)?,
            payload: r.get(1)?,
            attempts: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn done(conn: &Connection, id: i64, now: OffsetDateTime) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE outbox SET done_at = ?2, attempts = attempts + 1 WHERE id = ?1")?
        .execute(params![id, to_ms(now)])?;
    Ok(())
}

pub fn retry(
    conn: &Connection,
    id: i64,
    next: OffsetDateTime,
    error: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1")?
        .execute(params![id, to_ms(next), error])?;
    Ok(())
}

/// Mark the pending items of `kind` whose payload field `field` is `value` done (a newer item
/// replaces them); how many.
pub fn supersede(
    conn: &Connection,
    kind: &str,
    field: &str,
    value: &str,
    now: OffsetDateTime,
) -> Result<usize, StoreError> {
    let path = format!("$.{field}");
    Ok(conn
        .prepare_cached("UPDATE outbox SET done_at = ?4, last_error = 'superseded' WHERE done_at IS NULL AND kind = ?1 AND json_extract(payload, ?2) = ?3")?
        .execute(params![kind, path, value, to_ms(now)])?)
}

/// Item `id` failed on a problem the host must fix: it waits until `next` (or until the
/// settings change), with the sentence that says why.
pub fn park(
    conn: &Connection,
    id: i64,
    next: OffsetDateTime,
    error: &str,
    problem: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3, problem = ?4 WHERE id = ?1 AND done_at IS NULL")?
        .execute(params![id, to_ms(next), error, problem])?;
    Ok(())
}

/// Another pending item held back by the same problem (not tried itself).
pub fn hold(
    conn: &Connection,
    id: i64,
    next: OffsetDateTime,
    problem: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE outbox SET next_attempt_at = MAX(next_attempt_at, ?2), problem = ?3 WHERE id = ?1 AND done_at IS NULL")?
        .execute(params![id, to_ms(next), problem])?;
    Ok(())
}

/// Every waiting item is due now (the settings or a unit changed: the cause may be fixed).
/// Returns how many.
pub fn unpark_all(conn: &Connection, now: OffsetDateTime) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("UPDATE outbox SET next_attempt_at = MIN(next_attempt_at, ?1) WHERE done_at IS NULL AND problem IS NOT NULL")?
        .execute([to_ms(now)])?)
}

pub fn pending(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

/// Pending items that wait on a problem (the `rental_wifi_outbox_waiting` gauge).
pub fn waiting(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL AND problem IS NOT NULL",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

/// Counts and the oldest items, for the controller status.
pub fn summary(conn: &Connection) -> Result<Summary, StoreError> {
    let (pending, waiting, oldest): (i64, i64, Option<i64>) = conn
        .prepare_cached(
            "SELECT COUNT(*), COUNT(problem), MIN(created_at) FROM outbox WHERE done_at IS NULL",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let oldest_problem = conn
        .prepare_cached("SELECT problem, created_at FROM outbox WHERE done_at IS NULL AND problem IS NOT NULL ORDER BY id LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, String>(0)?, from_ms(r.get(1)?))))
        .optional()?;
    Ok(Summary {
        pending: pending as u64,
        waiting: waiting as u64,
        oldest_pending_at: oldest.map(from_ms),
        oldest_problem,
    })
}

const ROW_COLS: &str =
    "id, payload, attempts, created_at, next_attempt_at, last_error, problem, done_at, discarded_at, kind";

fn row(r: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        payload: r.get(1)?,
        attempts: r.get(2)?,
        created_at: from_ms(r.get(3)?),
        next_attempt_at: from_ms(r.get(4)?),
        last_error: r.get(5)?,
        problem: r.get(6)?,
        done_at: r.get::<_, Option<i64>>(7)?.map(from_ms),
        discarded_at: r.get::<_, Option<i64>>(8)?.map(from_ms),
        kind: r.get(9)?,
    })
}

pub fn get(conn: &Connection, id: i64) -> Result<OutboxRow, StoreError> {
    conn.prepare_cached(&format!("SELECT {ROW_COLS} FROM outbox WHERE id = ?1"))?
        .query_row([id], row)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Pending items, oldest first (at most `limit`).
pub fn list_pending(conn: &Connection, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLS} FROM outbox WHERE done_at IS NULL ORDER BY id LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit as i64], row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The host gave up on item `id`: it is finished without the controller's confirmation.
pub fn discard(conn: &Connection, id: i64, now: OffsetDateTime) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE outbox SET done_at = ?2, discarded_at = ?2 WHERE id = ?1 AND done_at IS NULL",
    )?
    .execute(params![id, to_ms(now)])?;
    Ok(())
}

/// A pending operation `op` about grant `grant_id`, if one is queued (its id and due time).
pub fn pending_for_grant(
    conn: &Connection,
    op: &str,
    grant_id: &str,
) -> Result<Option<(i64, OffsetDateTime)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id, next_attempt_at FROM outbox WHERE done_at IS NULL AND json_extract(payload, '$.op') = ?1 AND json_extract(payload, '$.grant_id') = ?2 ORDER BY next_attempt_at LIMIT 1")?
        .query_row(params![op, grant_id], |r| Ok((r.get(0)?, from_ms(r.get(1)?))))
        .optional()?)
}

/// Is an unauthorise of this device on this site still pending?
pub fn unauthorize_pending(
    conn: &Connection,
    client_mac: &str,
    site: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM outbox WHERE done_at IS NULL AND json_extract(payload, '$.op') = 'unauthorize' AND json_extract(payload, '$.client_mac') = ?1 AND json_extract(payload, '$.site') = ?2 COLLATE NOCASE")?
        .exists(params![client_mac, site])?)
}

/// Move a pending item's due time earlier (never later).
pub fn bring_forward(conn: &Connection, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE outbox SET next_attempt_at = MIN(next_attempt_at, ?2) WHERE id = ?1",
    )?
    .execute(params![id, to_ms(at)])?;
    Ok(())
}

/// Forget finished outbox rows older than `before`.
pub fn prune(conn: &Connection, before: OffsetDateTime) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM outbox WHERE done_at IS NOT NULL AND done_at < ?1",
        [to_ms(before)],
    )?)
}

/// When the next pending item is due (the worker sleeps until then).
pub fn next_due(conn: &Connection) -> Result<Option<OffsetDateTime>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT MIN(next_attempt_at) FROM outbox WHERE done_at IS NULL")?
        .query_row([], |r| r.get::<_, Option<i64>>(0))?
        .map(from_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use time::macros::datetime;

    const T: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

    #[tokio::test]
    async fn waiting_items_are_counted_held_unparked_and_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store
            .write(|c| {
                let a = push(c, "controller", r#"{"op":"unauthorize","site":"Beach","client_mac":"02-00-00-00-00-01","grant_id":"g1","queued_at_ms":1}"#, T, T)?;
                let b = push(c, "controller", r#"{"op":"reauthorize","grant_id":"g2"}"#, T, T)?;
                let s = summary(c)?;
                assert_eq!((s.pending, s.waiting, s.oldest_pending_at), (2, 0, Some(T)));
                let later = T + time::Duration::minutes(10);
                park(c, a, later, "controller refused", "site Beach: no permission")?;
                hold(c, b, later, "site Beach: no permission")?;
                let s = summary(c)?;
                assert_eq!(s.waiting, 2);
                assert_eq!(
                    s.oldest_problem,
                    Some(("site Beach: no permission".to_string(), T))
                );
                assert!(due(c, T + time::Duration::minutes(1), 10)?.is_empty());
                assert_eq!(next_due(c)?, Some(later));
                assert!(unauthorize_pending(c, "02-00-00-00-00-01", "beach")?);
                assert_eq!(
                    pending_for_grant(c, "reauthorize", "g2")?.map(|p| p.0),
                    Some(b)
                );
                assert_eq!(unpark_all(c, T + time::Duration::minutes(1))?, 2);
                assert_eq!(due(c, T + time::Duration::minutes(1), 10)?.len(), 2);
                discard(c, a, T)?;
                let row = get(c, a)?;
                assert_eq!((row.done_at, row.discarded_at), (Some(T), Some(T)));
                assert_eq!(list_pending(c, 10)?.len(), 1);
                assert_eq!(waiting(c)?, 1);
                done(c, b, T)?;
                assert_eq!(summary(c)?, Summary::default());
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
    }
}
