//! Row mapping and the queries of the foundation: meta, units, vouchers, audit, settings.
//! Every function takes a `&Connection` (or transaction) so callers compose them inside one
//! `Store::write`/`Store::read` closure.

use rusqlite::{params, Connection, OptionalExtension, Row};
use time::OffsetDateTime;

use super::{column, from_ms, to_ms, StoreError};
use crate::net::Mac;
use crate::vouchers::model::{
    Access, AccessMode, AuditEntry, DevicePolicy, GuestChecks, RevokeCause, SecondFactor,
    StayRules, Unit, Voucher, VoucherStatus,
};

// ---- meta ----

pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])?;
    Ok(())
}

// ---- units ----

/// A unit row's columns (a macro so that [`unit_get`]'s query is built with the crate).
macro_rules! unit_cols {
    () => {
        "unit_id, name, omada_site, ssids, vlans, ap_macs, plume_customer_id, plume_location_id, checkin_grace_minutes, checkout_grace_minutes, terms_url, created_at, updated_at, omada_site_id, vanish_cancel_minutes, device_policy, access_mode, ppsk_profile_id, address_translation, short_code_second_factor, welcome_title, welcome_text, checkout_minute, host_contact, accent_color, logo_sha256, terms_text, terms_sha256, time_zone"
    };
}

pub(super) const UNIT_COLS: &str = unit_cols!();

fn json_list<T: serde::de::DeserializeOwned>(s: String) -> rusqlite::Result<Vec<T>> {
    serde_json::from_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn unit_from_row(r: &Row<'_>) -> rusqlite::Result<Unit> {
    let macs: Vec<String> = json_list(r.get(5)?)?;
    Ok(Unit {
        unit_id: r.get(0)?,
        name: r.get(1)?,
        omada_site: r.get(2)?,
        ssids: json_list(r.get(3)?)?,
        vlans: json_list(r.get(4)?)?,
        ap_macs: macs.iter().filter_map(|m| m.parse::<Mac>().ok()).collect(),
        plume_customer_id: r.get(6)?,
        plume_location_id: r.get(7)?,
        checkin_grace_minutes: r.get(8)?,
        checkout_grace_minutes: r.get(9)?,
        terms_url: r.get(10)?,
        created_at: from_ms(r.get(11)?),
        updated_at: from_ms(r.get(12)?),
        guest_checks: guest_checks_from_row(r)?,
        guest_page: super::guest_page::from_row(r)?,
        omada_site_id: r.get(13)?,
        stay: stay_rules_from_row(r)?,
        access: Access {
            mode: AccessMode::parse(
                &r.get::<_, String>(const { column(UNIT_COLS, "access_mode") })?,
            )
            .unwrap_or_default(),
            ppsk_profile_id: r.get(const { column(UNIT_COLS, "ppsk_profile_id") })?,
        },
        time_zone: r.get(const { column(UNIT_COLS, "time_zone") })?,
    })
}

// A unit's portal checks (issue 13): columns of their own migration, read by name and
// written by their own statement, so other unit columns can be added beside them.
fn guest_checks_from_row(r: &Row<'_>) -> rusqlite::Result<GuestChecks> {
    Ok(GuestChecks {
        address_translation: r.get(const { column(UNIT_COLS, "address_translation") })?,
        short_code_second_factor: SecondFactor::parse(
            &r.get::<_, String>(const { column(UNIT_COLS, "short_code_second_factor") })?,
        )
        .unwrap_or_default(),
    })
}

fn guest_checks_put(conn: &Connection, unit_id: &str, c: &GuestChecks) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE units SET address_translation = ?2, short_code_second_factor = ?3 WHERE unit_id = ?1",
    )?
    .execute(params![
        unit_id,
        c.address_translation,
        c.short_code_second_factor.as_str()
    ])?;
    Ok(())
}

// A unit's stay rules (issue 14): columns of their own migration, read by name and written
// by their own statement, so other unit columns can be added beside them.
fn stay_rules_from_row(r: &Row<'_>) -> rusqlite::Result<StayRules> {
    Ok(StayRules {
        vanish_cancel_minutes: r.get(const { column(UNIT_COLS, "vanish_cancel_minutes") })?,
        device_policy: DevicePolicy::parse(
            &r.get::<_, String>(const { column(UNIT_COLS, "device_policy") })?,
        )
        .unwrap_or_default(),
    })
}

fn stay_rules_put(conn: &Connection, unit_id: &str, s: &StayRules) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE units SET vanish_cancel_minutes = ?2, device_policy = ?3 WHERE unit_id = ?1",
    )?
    .execute(params![
        unit_id,
        s.vanish_cancel_minutes,
        s.device_policy.as_str()
    ])?;
    Ok(())
}

pub fn unit_get(conn: &Connection, unit_id: &str) -> Result<Unit, StoreError> {
    conn.prepare_cached(concat!(
        "SELECT ",
        unit_cols!(),
        " FROM units WHERE unit_id = ?1"
    ))?
    .query_row([unit_id], unit_from_row)
    .optional()?
    .ok_or(StoreError::NotFound)
}

pub fn unit_exists(conn: &Connection, unit_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM units WHERE unit_id = ?1")?
        .exists([unit_id])?)
}

pub fn unit_list(conn: &Connection) -> Result<Vec<Unit>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {UNIT_COLS} FROM units ORDER BY name, unit_id"
    ))?;
    let rows = stmt.query_map([], unit_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Insert or replace a unit (the caller decided which).
pub fn unit_put(conn: &Connection, u: &Unit, insert: bool) -> Result<(), StoreError> {
    let ssids = serde_json::to_string(&u.ssids).expect("strings serialize");
    let vlans = serde_json::to_string(&u.vlans).expect("ints serialize");
    let macs = serde_json::to_string(&u.ap_macs.iter().map(|m| m.to_string()).collect::<Vec<_>>())
        .expect("strings serialize");
    let sql = if insert {
        "INSERT INTO units (unit_id, name, omada_site, ssids, vlans, ap_macs, plume_customer_id, plume_location_id, checkin_grace_minutes, checkout_grace_minutes, terms_url, created_at, updated_at, omada_site_id, access_mode, ppsk_profile_id, time_zone) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)"
    } else {
        "UPDATE units SET name=?2, omada_site=?3, ssids=?4, vlans=?5, ap_macs=?6, plume_customer_id=?7, plume_location_id=?8, checkin_grace_minutes=?9, checkout_grace_minutes=?10, terms_url=?11, created_at=?12, updated_at=?13, omada_site_id=?14, access_mode=?15, ppsk_profile_id=?16, time_zone=?17 WHERE unit_id=?1"
    };
    let res = conn.execute(
        sql,
        params![
            u.unit_id,
            u.name,
            u.omada_site,
            ssids,
            vlans,
            macs,
            u.plume_customer_id,
            u.plume_location_id,
            u.checkin_grace_minutes,
            u.checkout_grace_minutes,
            u.terms_url,
            to_ms(u.created_at),
            to_ms(u.updated_at),
            u.omada_site_id,
            u.access.mode.as_str(),
            u.access.ppsk_profile_id,
            u.time_zone
        ],
    );
    match res {
        Ok(0) => Err(StoreError::NotFound),
        Ok(_) => {
            stay_rules_put(conn, &u.unit_id, &u.stay)?;
            guest_checks_put(conn, &u.unit_id, &u.guest_checks)?;
            super::guest_page::put(conn, &u.unit_id, &u.guest_page)
        }
        Err(e) if StoreError::is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "unit_id '{}' is taken",
            u.unit_id
        ))),
        Err(e) => Err(e.into()),
    }
}

pub fn unit_delete(conn: &Connection, unit_id: &str) -> Result<(), StoreError> {
    match conn.execute("DELETE FROM units WHERE unit_id = ?1", [unit_id])? {
        0 => Err(StoreError::NotFound),
        _ => super::guest_page::drop_unused_logos(conn).map(|_| ()),
    }
}

// ---- vouchers ----

/// A voucher row's columns; the last one counts its active grants. Macros so that the
/// hot queries below are `concat!`ed when the crate is built instead of `format!`ed on every
/// call (issue 11).
macro_rules! voucher_cols {
    (counted) => {
        concat!(
            voucher_cols!(row),
            ", (SELECT COUNT(*) FROM grants WHERE grants.code = vouchers.code AND grants.ended_at IS NULL AND grants.state = 'active') AS devices_active"
        )
    };
    (uncounted) => {
        concat!(voucher_cols!(row), ", 0 AS devices_active")
    };
    (row) => {
        "code, unit_id, valid_from, valid_until, duration_minutes, max_devices, devices_used, guest_name, booking_ref, down_kbps, up_kbps, note, created_at, first_used_at, revoked_at, suspended_at, revoke_cause, device_policy"
    };
}

pub(super) const VOUCHER_COLS: &str = voucher_cols!(counted);

fn voucher_from_row(r: &Row<'_>) -> rusqlite::Result<Voucher> {
    Ok(Voucher {
        code: r.get(0)?,
        unit_id: r.get(1)?,
        valid_from: from_ms(r.get(2)?),
        valid_until: r.get::<_, Option<i64>>(3)?.map(from_ms),
        duration_minutes: r.get(4)?,
        max_devices: r.get(5)?,
        devices_used: r.get(6)?,
        guest_name: r.get(7)?,
        booking_ref: r.get(8)?,
        down_kbps: r.get(9)?,
        up_kbps: r.get(10)?,
        note: r.get(11)?,
        created_at: from_ms(r.get(12)?),
        first_used_at: r.get::<_, Option<i64>>(13)?.map(from_ms),
        revoked_at: r.get::<_, Option<i64>>(14)?.map(from_ms),
        suspended_at: r
            .get::<_, Option<i64>>(const { column(VOUCHER_COLS, "suspended_at") })?
            .map(from_ms),
        revoke_cause: r
            .get::<_, Option<String>>(const { column(VOUCHER_COLS, "revoke_cause") })?
            .as_deref()
            .and_then(RevokeCause::parse),
        device_policy: r
            .get::<_, Option<String>>(const { column(VOUCHER_COLS, "device_policy") })?
            .as_deref()
            .and_then(DevicePolicy::parse),
        devices_active: r.get(const { column(VOUCHER_COLS, "devices_active") })?,
    })
}

pub fn voucher_get(conn: &Connection, code: &str) -> Result<Voucher, StoreError> {
    voucher_by_code(
        conn,
        concat!(
            "SELECT ",
            voucher_cols!(counted),
            " FROM vouchers WHERE code = ?1"
        ),
        code,
    )
}

/// The voucher as a redemption decides with it: `devices_active` is left at 0. Counting the
/// active grants reads one index entry per device, twice per redemption (reserve and
/// confirm), ~14 % of the store writer's time in the `redeem` benchmark (issue 11), and the
/// redemption counts what it needs itself (`grants::count_open_for_code`). Only for
/// decisions inside a write: what is shown (API, events) reads [`voucher_get`].
pub fn voucher_uncounted(conn: &Connection, code: &str) -> Result<Voucher, StoreError> {
    voucher_by_code(
        conn,
        concat!(
            "SELECT ",
            voucher_cols!(uncounted),
            " FROM vouchers WHERE code = ?1"
        ),
        code,
    )
}

/// The voucher `sql` (one of the two selects above) finds for `code`.
fn voucher_by_code(conn: &Connection, sql: &str, code: &str) -> Result<Voucher, StoreError> {
    conn.prepare_cached(sql)?
        .query_row([code], voucher_from_row)
        .optional()?
        .ok_or(StoreError::NotFound)
}

pub fn voucher_exists(conn: &Connection, code: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM vouchers WHERE code = ?1")?
        .exists([code])?)
}

/// Live (not revoked, not expired at `now`) voucher of a unit with this booking reference.
pub fn voucher_live_by_booking(
    conn: &Connection,
    unit_id: &str,
    booking_ref: &str,
    now: OffsetDateTime,
) -> Result<Option<Voucher>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {VOUCHER_COLS} FROM vouchers WHERE unit_id = ?1 AND booking_ref = ?2 AND revoked_at IS NULL ORDER BY created_at DESC"
    ))?;
    let rows = stmt.query_map([unit_id, booking_ref], voucher_from_row)?;
    for v in rows {
        let v = v?;
        // A suspended one is the booking's too: it comes back with the same code.
        if v.is_live(now) || v.status(now) == VoucherStatus::Suspended {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

pub fn voucher_insert(conn: &Connection, v: &Voucher, source: &str) -> Result<(), StoreError> {
    let res = conn.prepare_cached(
        "INSERT INTO vouchers (code, unit_id, valid_from, valid_until, duration_minutes, max_devices, devices_used, guest_name, booking_ref, down_kbps, up_kbps, note, created_at, first_used_at, revoked_at, source, suspended_at, revoke_cause, device_policy) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
    )?
    .execute(params![
        v.code, v.unit_id, to_ms(v.valid_from), v.valid_until.map(to_ms), v.duration_minutes, v.max_devices, v.devices_used,
        v.guest_name, v.booking_ref, v.down_kbps, v.up_kbps, v.note, to_ms(v.created_at), v.first_used_at.map(to_ms), v.revoked_at.map(to_ms), source,
        v.suspended_at.map(to_ms), v.revoke_cause.map(RevokeCause::as_str), v.device_policy.map(DevicePolicy::as_str)
    ]);
    match res {
        Ok(_) => Ok(()),
        Err(e) if StoreError::is_unique_violation(&e) => {
            Err(StoreError::Conflict("code is taken".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Update the mutable fields of a voucher.
pub fn voucher_update(conn: &Connection, v: &Voucher) -> Result<(), StoreError> {
    let n = conn.prepare_cached(
        "UPDATE vouchers SET valid_until=?2, duration_minutes=?3, max_devices=?4, devices_used=?5, guest_name=?6, note=?7, first_used_at=?8, revoked_at=?9, valid_from=?10, suspended_at=?11, revoke_cause=?12, device_policy=?13 WHERE code=?1",
    )?
    .execute(params![v.code, v.valid_until.map(to_ms), v.duration_minutes, v.max_devices, v.devices_used, v.guest_name, v.note, v.first_used_at.map(to_ms), v.revoked_at.map(to_ms), to_ms(v.valid_from),
        v.suspended_at.map(to_ms), v.revoke_cause.map(RevokeCause::as_str), v.device_policy.map(DevicePolicy::as_str)])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Take one device slot (the caller checked `max_devices` in the same transaction).
pub fn voucher_take_slot(conn: &Connection, code: &str) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached("UPDATE vouchers SET devices_used = devices_used + 1 WHERE code = ?1")?
        .execute([code])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Record the first use (only if there was none).
pub fn voucher_set_first_used(
    conn: &Connection,
    code: &str,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE vouchers SET first_used_at = ?2 WHERE code = ?1 AND first_used_at IS NULL",
    )?
    .execute(params![code, to_ms(at)])?;
    Ok(())
}

/// Filters for listing vouchers.
#[derive(Clone, Debug, Default)]
pub struct VoucherFilter {
    pub unit_id: Option<String>,
    pub status: Option<VoucherStatus>,
    pub booking_ref: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// A voucher's effective end in SQL (milliseconds), exactly as [`Voucher::expires_at`]: the
/// earlier of `valid_until` and first use + duration; "never" (`i64::MAX`) when neither is set.
const SQL_END: &str = "MIN(COALESCE(valid_until, 9223372036854775807), COALESCE(first_used_at + duration_minutes * 60000, 9223372036854775807))";

/// The SQL condition for a status at `?{now}` (the same rules as [`Voucher::status`]:
/// revoked, else expired once `now >= end`, else suspended, else active once first used,
/// else unused).
fn status_sql(status: VoucherStatus, now: usize) -> String {
    match status {
        VoucherStatus::Revoked => "revoked_at IS NOT NULL".to_owned(),
        VoucherStatus::Expired => format!("revoked_at IS NULL AND {SQL_END} <= ?{now}"),
        VoucherStatus::Suspended => {
            format!("revoked_at IS NULL AND suspended_at IS NOT NULL AND {SQL_END} > ?{now}")
        }
        VoucherStatus::Active => {
            format!("revoked_at IS NULL AND suspended_at IS NULL AND first_used_at IS NOT NULL AND {SQL_END} > ?{now}")
        }
        VoucherStatus::Unused => {
            format!("revoked_at IS NULL AND suspended_at IS NULL AND first_used_at IS NULL AND {SQL_END} > ?{now}")
        }
    }
}

/// Newest first (`created_at DESC, code`). Filtering, `limit`/`offset` and the `total` count
/// all happen in SQL; the `vouchers_unit_created` index serves `unit_id = ? ORDER BY …`.
pub fn voucher_list(
    conn: &Connection,
    f: &VoucherFilter,
    now: OffsetDateTime,
) -> Result<(Vec<Voucher>, usize), StoreError> {
    let mut wheres: Vec<String> = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(u) = &f.unit_id {
        args.push(u.clone().into());
        wheres.push(format!("unit_id = ?{}", args.len()));
    }
    if let Some(b) = &f.booking_ref {
        args.push(b.clone().into());
        wheres.push(format!("booking_ref = ?{}", args.len()));
    }
    if let Some(s) = f.status {
        if s != VoucherStatus::Revoked {
            args.push(to_ms(now).into());
        }
        wheres.push(status_sql(s, args.len()));
    }
    let where_sql = if wheres.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", wheres.join(" AND "))
    };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM vouchers{where_sql}"))?
        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
    let total = total.max(0) as usize;
    if f.limit == 0 || f.offset >= total {
        return Ok((Vec::new(), total));
    }
    let n = args.len();
    let sql = format!(
        "SELECT {VOUCHER_COLS} FROM vouchers{where_sql} ORDER BY created_at DESC, code LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    );
    args.push(i64::try_from(f.limit).unwrap_or(i64::MAX).into());
    args.push(i64::try_from(f.offset).unwrap_or(i64::MAX).into());
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), voucher_from_row)?;
    Ok((rows.collect::<rusqlite::Result<Vec<_>>>()?, total))
}

/// Live (unused or active at `now`) vouchers of every unit (for the state snapshot), newest
/// first. The liveness test is done in SQL.
pub fn vouchers_live(conn: &Connection, now: OffsetDateTime) -> Result<Vec<Voucher>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {VOUCHER_COLS} FROM vouchers WHERE revoked_at IS NULL AND suspended_at IS NULL AND {SQL_END} > ?1 ORDER BY created_at DESC, code"
    ))?;
    let rows = stmt.query_map([to_ms(now)], voucher_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Vouchers of one unit that are not over: live (unused or active at `now`) or suspended
/// (they come back with their booking) — what revoking a unit's access must reach.
pub fn vouchers_live_for_unit(
    conn: &Connection,
    unit_id: &str,
    now: OffsetDateTime,
) -> Result<Vec<Voucher>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {VOUCHER_COLS} FROM vouchers WHERE unit_id = ?1 AND revoked_at IS NULL AND {SQL_END} > ?2 ORDER BY created_at, code"
    ))?;
    let rows = stmt.query_map(params![unit_id, to_ms(now)], voucher_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Codes of a unit's vouchers revoked for a reason that is not final (a booking that
/// stayed missing: they come back with it).
pub fn vouchers_restorable_for_unit(
    conn: &Connection,
    unit_id: &str,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT code FROM vouchers WHERE unit_id = ?1 AND revoked_at IS NOT NULL AND revoke_cause IS NOT NULL",
    )?;
    let rows = stmt.query_map([unit_id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

// ---- audit ----

pub struct NewAudit<'a> {
    pub at: OffsetDateTime,
    pub correlation_id: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub unit_id: Option<&'a str>,
    pub code: Option<&'a str>,
    pub detail: Option<String>,
}

pub fn audit_insert(conn: &Connection, a: &NewAudit<'_>) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO audit (at, correlation_id, actor, action, unit_id, code, detail) VALUES (?1,?2,?3,?4,?5,?6,?7)")?
        .execute(params![to_ms(a.at), a.correlation_id, a.actor, a.action, a.unit_id, a.code, a.detail])?;
    Ok(())
}

pub fn audit_list(conn: &Connection, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, at, correlation_id, actor, action, unit_id, code, detail FROM audit ORDER BY id DESC LIMIT ?1")?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(AuditEntry {
            id: r.get(0)?,
            at: from_ms(r.get(1)?),
            correlation_id: r.get(2)?,
            actor: r.get(3)?,
            action: r.get(4)?,
            unit_id: r.get(5)?,
            code: r.get(6)?,
            detail: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Drop audit rows older than `before` (retention).
pub fn audit_prune(conn: &Connection, before: OffsetDateTime) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM audit WHERE at < ?1", [to_ms(before)])?)
}

// ---- settings (values are already encrypted blobs) ----

pub fn setting_get(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn setting_put(
    conn: &Connection,
    name: &str,
    value: &[u8],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO settings (name, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![name, value, to_ms(now)],
    )?;
    Ok(())
}

pub fn setting_delete(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM settings WHERE name = ?1", [name])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn unit(id: &str, at: OffsetDateTime) -> Unit {
        Unit {
            unit_id: id.into(),
            name: id.into(),
            omada_site: "Default".into(),
            ssids: vec![],
            vlans: vec![],
            ap_macs: vec![],
            plume_customer_id: None,
            plume_location_id: None,
            checkin_grace_minutes: 0,
            checkout_grace_minutes: 0,
            terms_url: None,
            time_zone: None,
            access: Default::default(),
            created_at: at,
            updated_at: at,
            guest_checks: Default::default(),
            guest_page: Default::default(),
            omada_site_id: None,
            stay: Default::default(),
        }
    }

    /// The SQL status filter, paging and count agree with `Voucher::status` on every edge:
    /// ends exactly at `now`, one millisecond either side, neither end set, revoked and used.
    #[tokio::test]
    async fn sql_status_filter_matches_voucher_status() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let t0 = from_ms(1_800_000_000_000);
        let ms = time::Duration::milliseconds;
        let mut all = Vec::new();
        let mut n = 0;
        for valid_until in [None, Some(t0 - ms(1)), Some(t0), Some(t0 + ms(1))] {
            for duration in [None, Some(1u32), Some(60)] {
                for first in [None, Some(t0 - ms(60_000)), Some(t0 - ms(59_999)), Some(t0)] {
                    for revoked in [None, Some(t0 - ms(5))] {
                        n += 1;
                        all.push(Voucher {
                            code: format!("C{n:04}"),
                            unit_id: if n % 2 == 0 { "a" } else { "b" }.into(),
                            valid_from: t0 - ms(3_600_000),
                            valid_until,
                            duration_minutes: duration,
                            max_devices: 1,
                            devices_used: 0,
                            guest_name: None,
                            booking_ref: None,
                            down_kbps: None,
                            up_kbps: None,
                            note: None,
                            // Some ties on created_at, so the `code` tie-break matters.
                            created_at: t0 - ms(1_000 + (n % 7) as i64),
                            first_used_at: first,
                            revoked_at: revoked,
                            suspended_at: (n % 5 == 0).then_some(t0 - ms(10)),
                            revoke_cause: None,
                            device_policy: None,
                            devices_active: 0,
                        });
                    }
                }
            }
        }
        let rows = all.clone();
        store
            .write(move |tx| {
                unit_put(tx, &unit("a", t0), true)?;
                unit_put(tx, &unit("b", t0), true)?;
                for v in &rows {
                    voucher_insert(tx, v, "api")?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let mut sorted = all.clone();
        sorted.sort_by(|x, y| y.created_at.cmp(&x.created_at).then(x.code.cmp(&y.code)));
        let statuses = [
            None,
            Some(VoucherStatus::Unused),
            Some(VoucherStatus::Active),
            Some(VoucherStatus::Suspended),
            Some(VoucherStatus::Expired),
            Some(VoucherStatus::Revoked),
        ];
        for now in [
            t0 - ms(1),
            t0,
            t0 + ms(1) - time::Duration::microseconds(1),
            t0 + ms(1),
        ] {
            for unit_id in [None, Some("a")] {
                for status in statuses {
                    for (limit, offset) in [(1000, 0), (3, 2), (5, 1000)] {
                        let expect: Vec<&Voucher> = sorted
                            .iter()
                            .filter(|v| unit_id.is_none_or(|u| v.unit_id == u))
                            .filter(|v| status.is_none_or(|s| v.status(now) == s))
                            .collect();
                        let f = VoucherFilter {
                            unit_id: unit_id.map(str::to_owned),
                            status,
                            booking_ref: None,
                            limit,
                            offset,
                        };
                        let (got, total) =
                            store.read(move |c| voucher_list(c, &f, now)).await.unwrap();
                        assert_eq!(total, expect.len(), "{status:?} {unit_id:?} {now}");
                        let page: Vec<&str> = expect
                            .iter()
                            .skip(offset)
                            .take(limit)
                            .map(|v| v.code.as_str())
                            .collect();
                        let got: Vec<&str> = got.iter().map(|v| v.code.as_str()).collect();
                        assert_eq!(got, page, "{status:?} {unit_id:?} {now}");
                    }
                }
            }
            let live = store.read(move |c| vouchers_live(c, now)).await.unwrap();
            let expect: Vec<&str> = sorted
                .iter()
                .filter(|v| v.is_live(now))
                .map(|v| v.code.as_str())
                .collect();
            let got: Vec<&str> = live.iter().map(|v| v.code.as_str()).collect();
            assert_eq!(got, expect, "live at {now}");
            for u in ["a", "b"] {
                let live = store
                    .read(move |c| vouchers_live_for_unit(c, u, now))
                    .await
                    .unwrap();
                assert_eq!(
                    live.len(),
                    sorted
                        .iter()
                        .filter(|v| v.unit_id == u
                            && (v.is_live(now) || v.status(now) == VoucherStatus::Suspended))
                        .count()
                );
            }
        }
    }

    /// `voucher_uncounted` reads the same voucher as `voucher_get` (every column in its
    /// place, the two read by position included), only without counting the active grants.
    #[tokio::test]
    async fn an_uncounted_voucher_is_the_counted_one_without_its_count() {
        use crate::vouchers::model::{Grant, GrantState};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let t0 = from_ms(1_800_000_000_000);
        let v = Voucher {
            code: "UNCOUNTED".into(),
            unit_id: "a".into(),
            valid_from: t0,
            valid_until: Some(t0 + time::Duration::days(2)),
            duration_minutes: Some(90),
            max_devices: 5,
            devices_used: 3,
            guest_name: Some("Ada".into()),
            booking_ref: Some("B-1".into()),
            down_kbps: Some(2000),
            up_kbps: Some(500),
            note: Some("n".into()),
            created_at: t0,
            first_used_at: Some(t0),
            revoked_at: None,
            suspended_at: Some(t0),
            revoke_cause: Some(RevokeCause::BookingAbsent),
            device_policy: Some(DevicePolicy::Refuse),
            devices_active: 0,
        };
        let written = v.clone();
        store
            .write(move |tx| {
                unit_put(tx, &unit("a", t0), true)?;
                voucher_insert(tx, &written, "api")?;
                for (i, state) in [GrantState::Active, GrantState::Active, GrantState::Ended]
                    .into_iter()
                    .enumerate()
                {
                    let g = Grant {
                        grant_id: format!("g{i}"),
                        code: written.code.clone(),
                        unit_id: "a".into(),
                        client_mac: format!("02-00-00-00-00-0{i}").parse().unwrap(),
                        client_ip: None,
                        ap_mac: None,
                        gateway_mac: None,
                        ssid: None,
                        vid: None,
                        radio_id: None,
                        site: "Default".into(),
                        state,
                        authorized_at: Some(t0),
                        expires_at: t0 + time::Duration::days(1),
                        ended_at: None,
                        end_reason: None,
                        by_host: false,
                        name: None,
                    };
                    crate::store::grants::insert(tx, &g, t0)?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let (counted, uncounted) = store
            .read(|c| {
                Ok::<_, StoreError>((
                    voucher_get(c, "UNCOUNTED")?,
                    voucher_uncounted(c, "UNCOUNTED")?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(counted.devices_active, 2);
        assert_eq!(uncounted.devices_active, 0);
        assert_eq!(
            Voucher {
                devices_active: 0,
                ..counted
            },
            v
        );
        assert_eq!(uncounted, v);
    }
}
