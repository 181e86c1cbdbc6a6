//! Booking rows (mirrored from Rental Control), their guest codes, and the tombstones that
//! remember removed bookings (so a repeated `DELETE` is answered 204, DESIGN §10).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{from_ms, to_ms, StoreError};
use crate::vouchers::model::Booking;

const BOOKING_COLS: &str =
    "unit_id, booking_ref, start_at, end_at, guest_name, codes, updated_at, voucher_code, vanished_at, cancel_at, cancelled_at";

fn booking_from_row(r: &Row<'_>) -> rusqlite::Result<Booking> {
    let codes: String = r.get(5)?;
    Ok(Booking {
        unit_id: r.get(0)?,
        booking_ref: r.get(1)?,
        start: from_ms(r.get(2)?),
        end: from_ms(r.get(3)?),
        guest_name: r.get(4)?,
        codes: serde_json::from_str(&codes).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e))
        })?,
        updated_at: from_ms(r.get(6)?),
        voucher_code: r.get(7)?,
        vanished_at: r.get::<_, Option<i64>>(8)?.map(from_ms),
        cancel_at: r.get::<_, Option<i64>>(9)?.map(from_ms),
        cancelled_at: r.get::<_, Option<i64>>(10)?.map(from_ms),
    })
}

pub fn get(conn: &Connection, unit_id: &str, booking_ref: &str) -> Result<Booking, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {BOOKING_COLS} FROM bookings WHERE unit_id = ?1 AND booking_ref = ?2"
    ))?
    .query_row([unit_id, booking_ref], booking_from_row)
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// A unit's bookings, by start.
pub fn list_for_unit(conn: &Connection, unit_id: &str) -> Result<Vec<Booking>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BOOKING_COLS} FROM bookings WHERE unit_id = ?1 ORDER BY start_at, booking_ref"
    ))?;
    let rows = stmt.query_map([unit_id], booking_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Insert or replace a booking and its codes (the voucher link and where it stands with the
/// calendar are kept on replace: [`set_presence`] changes those).
pub fn put(conn: &Connection, b: &Booking) -> Result<(), StoreError> {
    let codes = serde_json::to_string(&b.codes).expect("strings serialize");
    conn.prepare_cached(
        "INSERT INTO bookings (unit_id, booking_ref, start_at, end_at, guest_name, codes, updated_at, voucher_code) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)
         ON CONFLICT(unit_id, booking_ref) DO UPDATE SET start_at = excluded.start_at, end_at = excluded.end_at, guest_name = excluded.guest_name, codes = excluded.codes, updated_at = excluded.updated_at",
    )?
    .execute(params![b.unit_id, b.booking_ref, to_ms(b.start), to_ms(b.end), b.guest_name, codes, to_ms(b.updated_at), b.voucher_code])?;
    conn.prepare_cached("DELETE FROM booking_codes WHERE unit_id = ?1 AND booking_ref = ?2")?
        .execute([&b.unit_id, &b.booking_ref])?;
    let mut ins = conn.prepare_cached(
        "INSERT OR IGNORE INTO booking_codes (unit_id, booking_ref, code) VALUES (?1, ?2, ?3)",
    )?;
    for c in &b.codes {
        ins.execute([&b.unit_id, &b.booking_ref, c])?;
    }
    Ok(())
}

pub fn set_voucher(
    conn: &Connection,
    unit_id: &str,
    booking_ref: &str,
    code: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE bookings SET voucher_code = ?3 WHERE unit_id = ?1 AND booking_ref = ?2",
    )?
    .execute([unit_id, booking_ref, code])?;
    Ok(())
}

pub fn delete(conn: &Connection, unit_id: &str, booking_ref: &str) -> Result<(), StoreError> {
    match conn.execute(
        "DELETE FROM bookings WHERE unit_id = ?1 AND booking_ref = ?2",
        [unit_id, booking_ref],
    )? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Bookings (on any unit) that list `code` among their guest codes.
pub fn with_code(conn: &Connection, code: &str) -> Result<Vec<Booking>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.unit_id, b.booking_ref, b.start_at, b.end_at, b.guest_name, b.codes, b.updated_at, b.voucher_code, b.vanished_at, b.cancel_at, b.cancelled_at
         FROM booking_codes c JOIN bookings b ON b.unit_id = c.unit_id AND b.booking_ref = c.booking_ref
         WHERE c.code = ?1",
    )?;
    let rows = stmt.query_map([code], booking_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Where a booking stands with the calendar: `b.vanished_at`, `b.cancel_at`,
/// `b.cancelled_at` as given.
pub fn set_presence(conn: &Connection, b: &Booking) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE bookings SET vanished_at = ?3, cancel_at = ?4, cancelled_at = ?5 WHERE unit_id = ?1 AND booking_ref = ?2",
    )?
    .execute(params![
        b.unit_id,
        b.booking_ref,
        b.vanished_at.map(to_ms),
        b.cancel_at.map(to_ms),
        b.cancelled_at.map(to_ms)
    ])?;
    Ok(())
}

/// Missing bookings whose cancellation is due at `now` (at most `limit`).
pub fn cancel_due(
    conn: &Connection,
    now: time::OffsetDateTime,
    limit: usize,
) -> Result<Vec<Booking>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BOOKING_COLS} FROM bookings WHERE cancel_at IS NOT NULL AND cancelled_at IS NULL AND cancel_at <= ?1 ORDER BY cancel_at LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![to_ms(now), limit as i64], booking_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// When the next missing booking's cancellation is due.
pub fn next_cancel(conn: &Connection) -> Result<Option<time::OffsetDateTime>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT MIN(cancel_at) FROM bookings WHERE cancel_at IS NOT NULL AND cancelled_at IS NULL",
        )?
        .query_row([], |r| r.get::<_, Option<i64>>(0))?
        .map(from_ms))
}

/// Every booking missing from its calendar (not cancelled), by unit and start.
pub fn vanished(conn: &Connection) -> Result<Vec<Booking>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BOOKING_COLS} FROM bookings WHERE vanished_at IS NOT NULL AND cancelled_at IS NULL ORDER BY unit_id, start_at, booking_ref"
    ))?;
    let rows = stmt.query_map([], booking_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Every guest code of at most `max_len` characters of a booking that has a voucher:
/// (unit id, code, the booking's voucher code). Bookings are few; the caller keeps those whose
/// voucher is live.
pub fn short_codes(
    conn: &Connection,
    max_len: usize,
) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.unit_id, c.code, b.voucher_code
         FROM booking_codes c JOIN bookings b ON b.unit_id = c.unit_id AND b.booking_ref = c.booking_ref
         WHERE b.voucher_code IS NOT NULL AND length(c.code) <= ?1",
    )?;
    let rows = stmt.query_map([max_len as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A removed booking, remembered.
#[derive(Clone, Debug, PartialEq)]
pub struct Tombstone {
    pub removed_at: time::OffsetDateTime,
    /// Removed before its end (a cancellation) rather than after (a stay that ended).
    pub cancelled: bool,
    pub voucher_code: Option<String>,
}

pub fn tombstone_put(
    conn: &Connection,
    b: &Booking,
    at: time::OffsetDateTime,
    cancelled: bool,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO booking_tombstones (unit_id, booking_ref, removed_at, cancelled, voucher_code) VALUES (?1,?2,?3,?4,?5)
         ON CONFLICT(unit_id, booking_ref) DO UPDATE SET removed_at = excluded.removed_at, cancelled = excluded.cancelled, voucher_code = excluded.voucher_code",
    )?
    .execute(params![b.unit_id, b.booking_ref, to_ms(at), cancelled, b.voucher_code])?;
    Ok(())
}

pub fn tombstone_get(
    conn: &Connection,
    unit_id: &str,
    booking_ref: &str,
) -> Result<Option<Tombstone>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT removed_at, cancelled, voucher_code FROM booking_tombstones WHERE unit_id = ?1 AND booking_ref = ?2")?
        .query_row([unit_id, booking_ref], |r| {
            Ok(Tombstone {
                removed_at: from_ms(r.get(0)?),
                cancelled: r.get(1)?,
                voucher_code: r.get(2)?,
            })
        })
        .optional()?)
}

/// Forget a tombstone (the booking is back).
pub fn tombstone_delete(
    conn: &Connection,
    unit_id: &str,
    booking_ref: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM booking_tombstones WHERE unit_id = ?1 AND booking_ref = ?2")?
        .execute([unit_id, booking_ref])?;
    Ok(())
}

/// Forget tombstones older than `before` (retention).
pub fn tombstone_prune(
    conn: &Connection,
    before: time::OffsetDateTime,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM booking_tombstones WHERE removed_at < ?1",
        [to_ms(before)],
    )?)
}

/// Codes of vouchers whose booking was cancelled, as the tombstones and the audit log
/// remember it (the audit covers cancellations made before tombstones existed).
pub fn cancelled_voucher_codes(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT voucher_code FROM booking_tombstones WHERE cancelled = 1 AND voucher_code IS NOT NULL
         UNION
         SELECT code FROM audit WHERE action = 'booking.delete' AND detail = 'cancelled' AND code IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
