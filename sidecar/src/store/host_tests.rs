//! Host test codes (issue 12 item 11): a one-time voucher code the host types on their own
//! phone, and the result of taking that phone off again. The voucher, its grant and the
//! unauthorise are ordinary rows; this table marks the code as a test and keeps the result.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension, Row};
use time::OffsetDateTime;

use super::{from_ms, to_ms, StoreError};

#[derive(Clone, Debug, PartialEq)]
pub struct HostTest {
    pub code: String,
    pub unit_id: String,
    pub created_at: OffsetDateTime,
    /// When the result was written (the phone was taken off and the controller asked).
    pub finished_at: Option<OffsetDateTime>,
    /// The result as JSON (`usecase::host_test::StoredResult`).
    pub result: Option<String>,
}

const COLS: &str = "h.code, h.unit_id, h.created_at, h.finished_at, h.result";

fn row(r: &Row<'_>) -> rusqlite::Result<HostTest> {
    Ok(HostTest {
        code: r.get(0)?,
        unit_id: r.get(1)?,
        created_at: from_ms(r.get(2)?),
        finished_at: r.get::<_, Option<i64>>(3)?.map(from_ms),
        result: r.get(4)?,
    })
}

pub fn insert(
    conn: &Connection,
    code: &str,
    unit_id: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO host_tests (code, unit_id, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![code, unit_id, to_ms(now)])?;
    Ok(())
}

pub fn get(conn: &Connection, code: &str) -> Result<HostTest, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {COLS} FROM host_tests h WHERE h.code = ?1"
    ))?
    .query_row([code], row)
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// The unfinished host test whose code let grant `grant_id` in, if any.
pub fn open_for_grant(conn: &Connection, grant_id: &str) -> Result<Option<HostTest>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLS} FROM host_tests h JOIN grants g ON g.code = h.code WHERE g.grant_id = ?1 AND h.finished_at IS NULL"
        ))?
        .query_row([grant_id], row)
        .optional()?)
}

/// Write the result (once: a second result of the same test changes nothing).
pub fn finish(
    conn: &Connection,
    code: &str,
    now: OffsetDateTime,
    result: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE host_tests SET finished_at = ?2, result = ?3 WHERE code = ?1 AND finished_at IS NULL",
        )?
        .execute(params![code, to_ms(now), result])?
        > 0)
}

/// Codes of host tests without a result (kept out of the units' voucher lists).
pub fn unfinished_codes(conn: &Connection) -> Result<HashSet<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT code FROM host_tests WHERE finished_at IS NULL")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<HashSet<_>>>()?)
}
