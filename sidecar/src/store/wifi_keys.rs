//! Wi-Fi password rows of password-mode units (issue 18): one per voucher, one per
//! device-bound key. The password column is sealed (`secrets::Sealer`) before it gets here;
//! `placement` is JSON. No foreign keys: a key that may still be on the controller outlives
//! its voucher and unit until the controller confirms it gone.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{from_ms, to_ms, StoreError};
use crate::net::Mac;
use crate::vouchers::password::{Placement, WifiKey};

/// A key row's columns (a macro so that [`for_code`], read on every issue, is built with the
/// crate rather than `format!`ed per call).
macro_rules! cols {
    () => {
        "key_name, code, unit_id, device_mac, device_name, password, created_at, placement, live_since, removed_at"
    };
}

const COLS: &str = cols!();

/// `placement` as stored.
#[derive(Serialize, Deserialize)]
struct PlacementRow {
    site: String,
    profile_id: String,
    #[serde(default)]
    ssids: Vec<String>,
    #[serde(default)]
    vlan: Option<u16>,
    #[serde(default)]
    mac: Option<String>,
}

fn placement_json(p: &Placement) -> String {
    serde_json::to_string(&PlacementRow {
        site: p.site.clone(),
        profile_id: p.profile_id.clone(),
        ssids: p.ssids.clone(),
        vlan: p.vlan,
        mac: p.mac.map(|m| m.to_string()),
    })
    .expect("a placement serializes")
}

fn placement_of(s: Option<String>) -> rusqlite::Result<Option<Placement>> {
    let Some(s) = s else { return Ok(None) };
    let r: PlacementRow = serde_json::from_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Some(Placement {
        site: r.site,
        profile_id: r.profile_id,
        ssids: r.ssids,
        vlan: r.vlan,
        mac: r.mac.and_then(|m| m.parse::<Mac>().ok()),
    }))
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<WifiKey> {
    Ok(WifiKey {
        key_name: r.get(0)?,
        code: r.get(1)?,
        unit_id: r.get(2)?,
        device_mac: r
            .get::<_, Option<String>>(3)?
            .and_then(|m| m.parse::<Mac>().ok()),
        device_name: r.get(4)?,
        sealed: r.get(5)?,
        created_at: from_ms(r.get(6)?),
        placement: placement_of(r.get(7)?)?,
        live_since: r.get::<_, Option<i64>>(8)?.map(from_ms),
        removed_at: r.get::<_, Option<i64>>(9)?.map(from_ms),
    })
}

pub fn insert(conn: &Connection, k: &WifiKey) -> Result<(), StoreError> {
    let res = conn
        .prepare_cached(&format!(
            "INSERT INTO wifi_keys ({COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
        ))?
        .execute(params![
            k.key_name,
            k.code,
            k.unit_id,
            k.device_mac.map(|m| m.to_string()),
            k.device_name,
            k.sealed,
            to_ms(k.created_at),
            k.placement.as_ref().map(placement_json),
            k.live_since.map(to_ms),
            k.removed_at.map(to_ms),
        ]);
    match res {
        Ok(_) => Ok(()),
        Err(e) if StoreError::is_unique_violation(&e) => {
            Err(StoreError::Conflict("this Wi-Fi password exists".into()))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn get(conn: &Connection, key_name: &str) -> Result<Option<WifiKey>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLS} FROM wifi_keys WHERE key_name = ?1"))?
        .query_row([key_name], from_row)
        .optional()?)
}

/// Every key of a voucher: its own first, then device keys by creation.
pub fn for_code(conn: &Connection, code: &str) -> Result<Vec<WifiKey>, StoreError> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        cols!(),
        " FROM wifi_keys WHERE code = ?1 ORDER BY device_mac IS NOT NULL, created_at, key_name"
    ))?;
    let rows = stmt.query_map([code], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Every key of a unit (any voucher, any state).
pub fn for_unit(conn: &Connection, unit_id: &str) -> Result<Vec<WifiKey>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM wifi_keys WHERE unit_id = ?1 ORDER BY created_at, key_name"
    ))?;
    let rows = stmt.query_map([unit_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Keys that are or may be on the controller (any unit).
pub fn placed(conn: &Connection) -> Result<Vec<WifiKey>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM wifi_keys WHERE placement IS NOT NULL ORDER BY created_at, key_name"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The key is (about to be) at `placement` on the controller; not confirmed yet.
pub fn set_placement(
    conn: &Connection,
    key_name: &str,
    placement: &Placement,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE wifi_keys SET placement = ?2, live_since = NULL WHERE key_name = ?1",
    )?
    .execute(params![key_name, placement_json(placement)])?;
    Ok(())
}

/// The controller confirmed the key at its placement.
pub fn set_live(conn: &Connection, key_name: &str, at: OffsetDateTime) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE wifi_keys SET live_since = COALESCE(live_since, ?2), removed_at = NULL WHERE key_name = ?1",
    )?
    .execute(params![key_name, to_ms(at)])?;
    Ok(())
}

/// The controller confirmed the key gone.
pub fn set_removed(
    conn: &Connection,
    key_name: &str,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE wifi_keys SET placement = NULL, live_since = NULL, removed_at = ?2 WHERE key_name = ?1",
    )?
    .execute(params![key_name, to_ms(at)])?;
    Ok(())
}

/// The host discarded the key's waiting deletion: the sidecar no longer knows where it is
/// (nor tries to delete it); not a confirmation that it is gone (`removed_at` unchanged).
pub fn forget_placement(conn: &Connection, key_name: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE wifi_keys SET placement = NULL, live_since = NULL WHERE key_name = ?1",
    )?
    .execute([key_name])?;
    Ok(())
}

/// Forget keys that are surely off the controller and whose vouchers are over (or gone)
/// since before `before`: their passwords are of no use to anyone any more.
pub fn prune(conn: &Connection, before: OffsetDateTime) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM wifi_keys WHERE placement IS NULL AND created_at < ?1 AND NOT EXISTS
           (SELECT 1 FROM vouchers v WHERE v.code = wifi_keys.code AND v.revoked_at IS NULL
            AND COALESCE(v.valid_until, v.valid_from + COALESCE(v.duration_minutes, 0) * 60000) >= ?1)
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.done_at IS NULL AND o.kind = 'wifi_key'
            AND json_extract(o.payload, '$.key') = wifi_keys.key_name)",
        [to_ms(before)],
    )?)
}
