//! What the portal shows a unit's guests (issue 17): the unit's guest-page columns, the logos
//! (one row per distinct image, by SHA-256, dropped when no unit uses them any more) and the
//! consents grants recorded. Columns of their own migration, read by name and written by
//! their own statements, so other unit columns can be added beside them.

use rusqlite::{params, Connection, OptionalExtension, Row};
use time::OffsetDateTime;

use super::rows::UNIT_COLS;
use super::{column, from_ms, to_ms, StoreError};
use crate::net::Mac;
use crate::vouchers::model::GuestPage;

pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<GuestPage> {
    let minute: Option<i64> = r.get(const { column(UNIT_COLS, "checkout_minute") })?;
    Ok(GuestPage {
        welcome_title: r.get(const { column(UNIT_COLS, "welcome_title") })?,
        welcome_text: r.get(const { column(UNIT_COLS, "welcome_text") })?,
        checkout_time: minute.and_then(|m| {
            time::Time::from_hms(u8::try_from(m / 60).ok()?, u8::try_from(m % 60).ok()?, 0).ok()
        }),
        host_contact: r.get(const { column(UNIT_COLS, "host_contact") })?,
        accent_color: r.get(const { column(UNIT_COLS, "accent_color") })?,
        logo_sha256: r.get(const { column(UNIT_COLS, "logo_sha256") })?,
        terms_text: r.get(const { column(UNIT_COLS, "terms_text") })?,
        terms_sha256: r.get(const { column(UNIT_COLS, "terms_sha256") })?,
    })
}

pub(super) fn put(conn: &Connection, unit_id: &str, p: &GuestPage) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE units SET welcome_title = ?2, welcome_text = ?3, checkout_minute = ?4, host_contact = ?5, accent_color = ?6, logo_sha256 = ?7, terms_text = ?8, terms_sha256 = ?9 WHERE unit_id = ?1",
    )?
    .execute(params![
        unit_id,
        p.welcome_title,
        p.welcome_text,
        p.checkout_time
            .map(|t| i64::from(t.hour()) * 60 + i64::from(t.minute())),
        p.host_contact,
        p.accent_color,
        p.logo_sha256,
        p.terms_text,
        p.terms_sha256,
    ])?;
    drop_unused_logos(conn)?;
    Ok(())
}

// ---- logos ----

/// A stored logo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoRow {
    pub sha256: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// Store a logo (an identical one is kept as is).
pub fn logo_put(conn: &Connection, l: &LogoRow) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO logos (sha256, content_type, width, height, data) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(sha256) DO NOTHING",
    )?
    .execute(params![l.sha256, l.content_type, l.width, l.height, l.data])?;
    Ok(())
}

pub fn logo_get(conn: &Connection, sha256: &str) -> Result<Option<LogoRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT sha256, content_type, width, height, data FROM logos WHERE sha256 = ?1",
        )?
        .query_row([sha256], |r| {
            Ok(LogoRow {
                sha256: r.get(0)?,
                content_type: r.get(1)?,
                width: r.get(2)?,
                height: r.get(3)?,
                data: r.get(4)?,
            })
        })
        .optional()?)
}

/// Logos no unit points at any more are deleted (a replaced or removed logo, a deleted unit).
pub fn drop_unused_logos(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM logos WHERE sha256 NOT IN (SELECT logo_sha256 FROM units WHERE logo_sha256 IS NOT NULL)",
        )?
        .execute([])?)
}

// ---- consents ----

/// A guest's consent to a unit's terms, recorded with the grant it let in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub grant_id: String,
    pub unit_id: String,
    pub code: String,
    pub client_mac: Mac,
    pub at: OffsetDateTime,
    /// The SHA-256 of the terms text shown (None: the unit's terms were a link only).
    pub terms_sha256: Option<String>,
    /// The `terms_url` shown, for units that link their terms.
    pub terms_url: Option<String>,
}

/// Record a consent (one per grant; a re-authorisation of the same grant keeps the first).
pub fn consent_insert(conn: &Connection, c: &Consent) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO consents (grant_id, unit_id, code, client_mac, at, terms_sha256, terms_url) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(grant_id) DO NOTHING",
    )?
    .execute(params![
        c.grant_id,
        c.unit_id,
        c.code,
        c.client_mac.to_string(),
        to_ms(c.at),
        c.terms_sha256,
        c.terms_url
    ])?;
    Ok(())
}

/// A unit's consents, newest first, at most `limit`, optionally only those at or after `since`.
pub fn consents_for_unit(
    conn: &Connection,
    unit_id: &str,
    since: Option<OffsetDateTime>,
    limit: u32,
) -> Result<Vec<Consent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT grant_id, unit_id, code, client_mac, at, terms_sha256, terms_url FROM consents WHERE unit_id = ?1 AND at >= ?2 ORDER BY at DESC, grant_id LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![unit_id, since.map(to_ms).unwrap_or(i64::MIN), limit],
        |r| {
            Ok(Consent {
                grant_id: r.get(0)?,
                unit_id: r.get(1)?,
                code: r.get(2)?,
                client_mac: r.get::<_, String>(3)?.parse().map_err(|_| {
                    rusqlite::Error::InvalidColumnType(
                        3,
                        "client_mac".into(),
                        rusqlite::types::Type::Text,
                    )
                })?,
                at: from_ms(r.get(4)?),
                terms_sha256: r.get(5)?,
                terms_url: r.get(6)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Drop consents older than `before` (they follow the audit log's retention).
pub fn consent_prune(conn: &Connection, before: OffsetDateTime) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM consents WHERE at < ?1", [to_ms(before)])?)
}
