//! The durable controller outbox: operations the controller must eventually confirm
//! (unauthorise a device, send a grant's new end). Rows are queued by use cases in the same
//! transaction as the change that needs them, and worked through by `outbox::worker`.

use rusqlite::{params, Connection};
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

pub fn pending(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64)
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
