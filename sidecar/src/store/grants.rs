//! Grant rows (devices let in). Every end goes through `usecase::Tx::end_grant`, which
//! queues the unauthorise in the same transaction; nothing here ends a grant on its own.

use rusqlite::{params, Connection, OptionalExtension, Row};
use time::OffsetDateTime;

use super::{from_ms, to_ms, StoreError};
use crate::net::Mac;
use crate::vouchers::model::{EndReason, Grant, GrantState};

/// A grant row's columns (a macro so that the hot queries are built with the crate, not
/// `format!`ed per call).
macro_rules! grant_cols {
    () => {
        "grant_id, code, unit_id, client_mac, client_ip, ap_mac, gateway_mac, ssid, vid, radio_id, site, state, authorized_at, expires_at, ended_at, end_reason, by_host, name"
    };
}

const GRANT_COLS: &str = grant_cols!();

fn mac(s: Option<String>) -> Option<Mac> {
    s.and_then(|m| m.parse().ok())
}

fn grant_from_row(r: &Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant {
        grant_id: r.get(0)?,
        code: r.get(1)?,
        unit_id: r.get(2)?,
        client_mac: r.get::<_, String>(3)?.parse().map_err(|_| {
            rusqlite::Error::InvalidColumnType(3, "client_mac".into(), rusqlite::types::Type::Text)
        })?,
        client_ip: r.get(4)?,
        ap_mac: mac(r.get(5)?),
        gateway_mac: mac(r.get(6)?),
        ssid: r.get(7)?,
        vid: r.get(8)?,
        radio_id: r.get(9)?,
        site: r.get(10)?,
        state: GrantState::parse(&r.get::<_, String>(11)?),
        authorized_at: r.get::<_, Option<i64>>(12)?.map(from_ms),
        expires_at: from_ms(r.get(13)?),
        ended_at: r.get::<_, Option<i64>>(14)?.map(from_ms),
        end_reason: match r.get::<_, Option<String>>(15)? {
            None => None,
            Some(s) => Some(EndReason::parse(&s).ok_or_else(|| {
                rusqlite::Error::InvalidColumnType(
                    15,
                    "end_reason".into(),
                    rusqlite::types::Type::Text,
                )
            })?),
        },
        by_host: r.get(16)?,
        name: r.get(17)?,
    })
}

pub fn insert(conn: &Connection, g: &Grant, now: OffsetDateTime) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO grants (grant_id, code, unit_id, client_mac, client_ip, ap_mac, gateway_mac, ssid, vid, radio_id, site, state, created_at, authorized_at, expires_at, ended_at, end_reason, by_host, name) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
    )?
    .execute(params![
        g.grant_id, g.code, g.unit_id, g.client_mac.to_string(), g.client_ip, g.ap_mac.map(|m| m.to_string()), g.gateway_mac.map(|m| m.to_string()),
        g.ssid, g.vid, g.radio_id, g.site, g.state.as_str(), to_ms(now), g.authorized_at.map(to_ms), to_ms(g.expires_at), g.ended_at.map(to_ms), g.end_reason.map(EndReason::as_str),
        g.by_host, g.name
    ])?;
    Ok(())
}

pub fn get(conn: &Connection, grant_id: &str) -> Result<Grant, StoreError> {
    conn.prepare_cached(concat!(
        "SELECT ",
        grant_cols!(),
        " FROM grants WHERE grant_id = ?1"
    ))?
    .query_row([grant_id], grant_from_row)
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// Just the state of a grant.
pub fn state_of(conn: &Connection, grant_id: &str) -> Result<GrantState, StoreError> {
    conn.prepare_cached("SELECT state FROM grants WHERE grant_id = ?1")?
        .query_row([grant_id], |r| {
            Ok(GrantState::parse(&r.get::<_, String>(0)?))
        })
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// The most recent grant of this device on this voucher, if any.
pub fn latest_for(
    conn: &Connection,
    code: &str,
    client_mac: Mac,
) -> Result<Option<Grant>, StoreError> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            grant_cols!(),
            " FROM grants WHERE code = ?1 AND client_mac = ?2 ORDER BY created_at DESC LIMIT 1"
        ))?
        .query_row(params![code, client_mac.to_string()], grant_from_row)
        .optional()?)
}

/// Grants of a voucher that are not ended (pending or active).
pub fn open_for_code(conn: &Connection, code: &str) -> Result<Vec<Grant>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GRANT_COLS} FROM grants WHERE code = ?1 AND ended_at IS NULL"
    ))?;
    let rows = stmt.query_map([code], grant_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// How many grants of a voucher are open (pending or active).
pub fn count_open_for_code(conn: &Connection, code: &str) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM grants WHERE code = ?1 AND ended_at IS NULL")?
        .query_row([code], |r| r.get::<_, i64>(0))? as usize)
}

/// [`set_active`]'s common case: the end did not move.
pub(crate) const ACTIVATE_SAME_END: &str = "UPDATE grants SET state = 'active', authorized_at = ?2 WHERE grant_id = ?1 AND ended_at IS NULL AND expires_at = ?3";

/// Make an open grant (`pending`, or `active` let in again) active from `authorized_at` until
/// `expires_at`; false when it is ended or gone (nothing changed). Only columns that no index
/// names are written unless the end moved, so the common pending → active step of a
/// redemption rewrites no index entry (migration 14): `state` is in none, `ended_at` is
/// already NULL and stays so, and `expires_at` (the `grants_open` key) is written only when
/// it differs.
pub fn set_active(
    conn: &Connection,
    grant_id: &str,
    authorized_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let args = params![grant_id, to_ms(authorized_at), to_ms(expires_at)];
    let same_end = conn.prepare_cached(ACTIVATE_SAME_END)?.execute(args)?;
    if same_end > 0 {
        return Ok(true);
    }
    let moved = conn
        .prepare_cached("UPDATE grants SET state = 'active', authorized_at = ?2, expires_at = ?3 WHERE grant_id = ?1 AND ended_at IS NULL")?
        .execute(args)?;
    Ok(moved > 0)
}

/// The host vouches for this device now: never replaced by a guest's, named as given.
pub fn set_host(conn: &Connection, grant_id: &str, name: Option<&str>) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE grants SET by_host = 1, name = ?2 WHERE grant_id = ?1")?
        .execute(params![grant_id, name])?;
    Ok(())
}

pub fn set_expires(
    conn: &Connection,
    grant_id: &str,
    expires_at: OffsetDateTime,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE grants SET expires_at = ?2 WHERE grant_id = ?1")?
        .execute(params![grant_id, to_ms(expires_at)])?;
    Ok(())
}

/// [`end`]'s statement: `ended_at` is set when, and only when, a grant ends.
pub(crate) const END: &str =
    "UPDATE grants SET state = 'ended', ended_at = ?2, end_reason = ?3 WHERE grant_id = ?1";

pub fn end(
    conn: &Connection,
    grant_id: &str,
    at: OffsetDateTime,
    reason: EndReason,
) -> Result<(), StoreError> {
    conn.prepare_cached(END)?
        .execute(params![grant_id, to_ms(at), reason.as_str()])?;
    Ok(())
}

/// Grants of a unit that are not ended (pending or active).
pub fn open_for_unit(conn: &Connection, unit_id: &str) -> Result<Vec<Grant>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GRANT_COLS} FROM grants WHERE unit_id = ?1 AND ended_at IS NULL"
    ))?;
    let rows = stmt.query_map([unit_id], grant_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Every active grant (for the start-up repair).
pub fn all_active(conn: &Connection) -> Result<Vec<Grant>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GRANT_COLS} FROM grants WHERE ended_at IS NULL AND state = 'active'"
    ))?;
    let rows = stmt.query_map([], grant_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Active grants let in at `client_ip` (the redirect's `clientIp` at login), newest first:
/// the portal's status page and Captive Portal API find a device by the address it asks
/// from (DESIGN §10). The `grants_open` index narrows to open grants (`ended_at IS NULL`).
pub fn active_at_address(
    conn: &Connection,
    client_ip: &str,
    now: OffsetDateTime,
) -> Result<Vec<Grant>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GRANT_COLS} FROM grants WHERE ended_at IS NULL AND state = 'active' AND expires_at > ?2 AND client_ip = ?1 ORDER BY authorized_at DESC LIMIT 16"
    ))?;
    let rows = stmt.query_map(params![client_ip, to_ms(now)], grant_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// When the next active grant ends (the expiry timer sleeps until then).
pub fn next_expiry(conn: &Connection) -> Result<Option<OffsetDateTime>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT MIN(expires_at) FROM grants WHERE ended_at IS NULL AND state = 'active'",
        )?
        .query_row([], |r| r.get::<_, Option<i64>>(0))?
        .map(from_ms))
}

/// Does this device hold an active grant on this site? Then an unauthorise queued for one of
/// its ended grants must not throw it off: it was let in again afterwards, or it moved to
/// another voucher (the controller authorises a device, not a grant).
pub fn holds_active_grant(
    conn: &Connection,
    client_mac: &str,
    site: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM grants WHERE client_mac = ?1 AND site = ?2 AND ended_at IS NULL AND state = 'active'",
        )?
        .exists(params![client_mac, site])?)
}

/// This device's active grant on this site (on any voucher), the latest if several.
pub fn active_for_mac(
    conn: &Connection,
    client_mac: Mac,
    site: &str,
) -> Result<Option<Grant>, StoreError> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            grant_cols!(),
            " FROM grants WHERE client_mac = ?1 AND site = ?2 AND ended_at IS NULL AND state = 'active' ORDER BY expires_at DESC LIMIT 1"
        ))?
        .query_row(params![client_mac.to_string(), site], grant_from_row)
        .optional()?)
}

pub fn delete(conn: &Connection, grant_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM grants WHERE grant_id = ?1")?
        .execute([grant_id])?;
    Ok(())
}

/// Is any active grant's end past?
pub fn any_due_expiry(conn: &Connection, now: OffsetDateTime) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM grants WHERE ended_at IS NULL AND state = 'active' AND expires_at <= ?1 LIMIT 1")?
        .exists([to_ms(now)])?)
}

/// Active grants whose end has passed.
pub fn due_expiry(
    conn: &Connection,
    now: OffsetDateTime,
    limit: usize,
) -> Result<Vec<Grant>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {GRANT_COLS} FROM grants WHERE ended_at IS NULL AND state = 'active' AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2"))?;
    let rows = stmt.query_map(params![to_ms(now), limit as i64], grant_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Pending grants (slot reserved, controller not confirmed) older than `before`.
pub fn stale_pending(conn: &Connection, before: OffsetDateTime) -> Result<Vec<Grant>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GRANT_COLS} FROM grants WHERE ended_at IS NULL AND state = 'pending' AND created_at <= ?1"
    ))?;
    let rows = stmt.query_map([to_ms(before)], grant_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

#[derive(Clone, Debug, Default)]
pub struct GrantFilter {
    pub unit_id: Option<String>,
    pub code: Option<String>,
    pub active: Option<bool>,
    pub limit: usize,
}

pub fn list(conn: &Connection, f: &GrantFilter) -> Result<Vec<Grant>, StoreError> {
    let mut sql = format!("SELECT {GRANT_COLS} FROM grants WHERE state != 'pending'");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(u) = &f.unit_id {
        args.push(u.clone().into());
        sql.push_str(&format!(" AND unit_id = ?{}", args.len()));
    }
    if let Some(c) = &f.code {
        args.push(c.clone().into());
        sql.push_str(&format!(" AND code = ?{}", args.len()));
    }
    match f.active {
        Some(true) => sql.push_str(" AND ended_at IS NULL AND state = 'active'"),
        Some(false) => sql.push_str(" AND ended_at IS NOT NULL"),
        None => {}
    }
    args.push((f.limit as i64).into());
    sql.push_str(&format!(" ORDER BY created_at DESC LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), grant_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn count_active(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM grants WHERE ended_at IS NULL AND state = 'active'",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64)
}
