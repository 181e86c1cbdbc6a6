//! Append-only schema migrations. Never edit a shipped entry; add a new one.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: foundation
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    CREATE TABLE units (
        unit_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        omada_site TEXT NOT NULL,
        ssids TEXT NOT NULL,
        vlans TEXT NOT NULL,
        ap_macs TEXT NOT NULL,
        plume_customer_id TEXT,
        plume_location_id TEXT,
        checkin_grace_minutes INTEGER NOT NULL DEFAULT 0,
        checkout_grace_minutes INTEGER NOT NULL DEFAULT 0,
        terms_url TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE vouchers (
        code TEXT PRIMARY KEY,
        unit_id TEXT NOT NULL REFERENCES units(unit_id) ON DELETE CASCADE,
        valid_from INTEGER NOT NULL,
        valid_until INTEGER,
        duration_minutes INTEGER,
        max_devices INTEGER NOT NULL,
        devices_used INTEGER NOT NULL DEFAULT 0,
        guest_name TEXT,
        booking_ref TEXT,
        down_kbps INTEGER,
        up_kbps INTEGER,
        note TEXT,
        created_at INTEGER NOT NULL,
        first_used_at INTEGER,
        revoked_at INTEGER,
        source TEXT NOT NULL DEFAULT 'api'
    ) STRICT;
    CREATE INDEX vouchers_unit ON vouchers(unit_id, created_at);
    CREATE INDEX vouchers_booking ON vouchers(unit_id, booking_ref) WHERE booking_ref IS NOT NULL;
    CREATE TABLE grants (
        grant_id TEXT PRIMARY KEY,
        code TEXT NOT NULL REFERENCES vouchers(code) ON DELETE CASCADE,
        unit_id TEXT NOT NULL,
        client_mac TEXT NOT NULL,
        client_ip TEXT,
        ap_mac TEXT,
        gateway_mac TEXT,
        ssid TEXT,
        vid INTEGER,
        radio_id INTEGER,
        site TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        authorized_at INTEGER,
        expires_at INTEGER NOT NULL,
        ended_at INTEGER,
        end_reason TEXT
    ) STRICT;
    CREATE INDEX grants_code ON grants(code, client_mac);
    CREATE INDEX grants_unit ON grants(unit_id, state);
    CREATE INDEX grants_open ON grants(expires_at) WHERE state != 'ended';
    CREATE TABLE bookings (
        unit_id TEXT NOT NULL REFERENCES units(unit_id) ON DELETE CASCADE,
        booking_ref TEXT NOT NULL,
        start_at INTEGER NOT NULL,
        end_at INTEGER NOT NULL,
        guest_name TEXT,
        codes TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (unit_id, booking_ref)
    ) STRICT;
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        correlation_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        unit_id TEXT,
        code TEXT,
        detail TEXT
    ) STRICT;
    CREATE INDEX audit_at ON audit(at);
    CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        done_at INTEGER
    ) STRICT;
    CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE done_at IS NULL;
    "#,
    // 2: bookings — the voucher a booking was given, and its guest codes. Booking codes are
    // unique per booking only: door codes repeat across units, and a returning guest's
    // `last_four` repeats across bookings of one unit; the portal resolves them by network
    // and window (see `bookings::pick_for_code`).
    r#"
    ALTER TABLE bookings ADD COLUMN voucher_code TEXT;
    CREATE INDEX bookings_start ON bookings(unit_id, start_at);
    CREATE TABLE booking_codes (
        unit_id TEXT NOT NULL,
        booking_ref TEXT NOT NULL,
        code TEXT NOT NULL,
        PRIMARY KEY (unit_id, booking_ref, code),
        FOREIGN KEY (unit_id, booking_ref) REFERENCES bookings(unit_id, booking_ref) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX booking_codes_code ON booking_codes(code);
    "#,
    // 3: an index in the exact order of the voucher list (`WHERE unit_id = ? ORDER BY
    // created_at DESC, code`), so LIMIT/OFFSET and COUNT(*) need no sort and no table rows;
    // it covers everything the old `vouchers_unit (unit_id, created_at)` served.
    r#"
    CREATE INDEX vouchers_unit_created ON vouchers(unit_id, created_at DESC, code);
    DROP INDEX vouchers_unit;
    "#,
    // 4: booking tombstones — a removed booking is remembered, so that a repeated DELETE (a
    // client retrying after a crash or a lost answer) is answered 204 and a retried
    // cancellation can never leave a live voucher behind (DESIGN §10).
    r#"
    CREATE TABLE booking_tombstones (
        unit_id TEXT NOT NULL REFERENCES units(unit_id) ON DELETE CASCADE,
        booking_ref TEXT NOT NULL,
        removed_at INTEGER NOT NULL,
        cancelled INTEGER NOT NULL,
        voucher_code TEXT,
        PRIMARY KEY (unit_id, booking_ref)
    ) STRICT;
    "#,
    // 5: a unit's Omada site id (issue 12b): the 24-hex id the Hotspot-Manager and Open API
    // paths take, looked up through the Open API or given by the host; NULL until known.
    r#"
    ALTER TABLE units ADD COLUMN omada_site_id TEXT;
    "#,
    // 6: controller operations that wait for the host (issue 12b): `problem` is the sentence
    // of a configuration or permission failure the item waits on (NULL: none), `discarded_at`
    // when the host discarded an item that can never succeed (it is then also `done_at`).
    // Host test codes: a one-time code, the grant it let in, and the result of its revoke.
    r#"
    ALTER TABLE outbox ADD COLUMN problem TEXT;
    ALTER TABLE outbox ADD COLUMN discarded_at INTEGER;
    CREATE TABLE host_tests (
        code TEXT PRIMARY KEY REFERENCES vouchers(code) ON DELETE CASCADE,
        unit_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        finished_at INTEGER,
        result TEXT
    ) STRICT;
    "#,
    // 7: a unit's portal checks (issue 13, DESIGN §10 "Who is asking"): whether the guest
    // network translates addresses on the way to the portal (then the redirect's `clientIp`
    // is not compared with the address the portal sees), and the second factor short codes
    // need on the unit (`none` or `last_name`).
    r#"
    ALTER TABLE units ADD COLUMN address_translation INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE units ADD COLUMN short_code_second_factor TEXT NOT NULL DEFAULT 'none';
    "#,
    // 8: stays and devices (issues 14 and 13). A unit's rules: when a booking that vanished
    // from the calendar before its stay counts as cancelled, and what a new device over a
    // voucher's limit does (a voucher may override it). Suspended vouchers (booking missing
    // before the stay) and why a voucher was revoked (a booking cancelled for staying missing
    // comes back with the same code). Grants the host made by MAC, and their names. Bookings
    // missing from the calendar: since when, and when that counts as a cancellation. An
    // index to find a device's open grant on any voucher, and one for the next cancellation.
    r#"
    ALTER TABLE units ADD COLUMN vanish_cancel_minutes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE units ADD COLUMN device_policy TEXT NOT NULL DEFAULT 'replace_oldest';
    ALTER TABLE vouchers ADD COLUMN suspended_at INTEGER;
    ALTER TABLE vouchers ADD COLUMN revoke_cause TEXT;
    ALTER TABLE vouchers ADD COLUMN device_policy TEXT;
    ALTER TABLE grants ADD COLUMN by_host INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE grants ADD COLUMN name TEXT;
    ALTER TABLE bookings ADD COLUMN vanished_at INTEGER;
    ALTER TABLE bookings ADD COLUMN cancel_at INTEGER;
    ALTER TABLE bookings ADD COLUMN cancelled_at INTEGER;
    CREATE INDEX grants_mac_active ON grants(client_mac, site) WHERE state = 'active';
    CREATE INDEX bookings_cancel_due ON bookings(cancel_at)
        WHERE cancel_at IS NOT NULL AND cancelled_at IS NULL;
    "#,
    // 9: a unit's access mode and PPSK profile (issue 18); one Wi-Fi password per voucher
    // (and per device-bound key) of a password-mode unit. Keys outlive their vouchers and
    // units (no foreign keys): a key that may still be on the controller must be deleted
    // there even after its voucher or unit is gone. `password` is sealed like the settings'
    // secrets; `placement` is where the key is or may be on the controller (JSON: site,
    // profile, SSIDs, VLAN, bound MAC), NULL when it surely is not.
    r#"
    ALTER TABLE units ADD COLUMN access_mode TEXT NOT NULL DEFAULT 'portal';
    ALTER TABLE units ADD COLUMN ppsk_profile_id TEXT;
    CREATE TABLE wifi_keys (
        key_name TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        unit_id TEXT NOT NULL,
        device_mac TEXT,
        device_name TEXT,
        password BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        placement TEXT,
        live_since INTEGER,
        removed_at INTEGER
    ) STRICT;
    CREATE INDEX wifi_keys_code ON wifi_keys(code);
    CREATE INDEX wifi_keys_unit ON wifi_keys(unit_id);
    "#,
    // 10: what the portal shows a unit's guests (issue 17): welcome title and text, check-out
    // time (minutes after midnight), host contact, accent colour, the logo (by SHA-256 into
    // `logos`, one row per distinct image), the terms text with its SHA-256; and the consent
    // each grant recorded (time, terms hash or URL, device MAC), kept after the grant ends.
    r#"
    ALTER TABLE units ADD COLUMN welcome_title TEXT;
    ALTER TABLE units ADD COLUMN welcome_text TEXT;
    ALTER TABLE units ADD COLUMN checkout_minute INTEGER;
    ALTER TABLE units ADD COLUMN host_contact TEXT;
    ALTER TABLE units ADD COLUMN accent_color TEXT;
    ALTER TABLE units ADD COLUMN logo_sha256 TEXT;
    ALTER TABLE units ADD COLUMN terms_text TEXT;
    ALTER TABLE units ADD COLUMN terms_sha256 TEXT;
    CREATE TABLE logos (
        sha256 TEXT PRIMARY KEY,
        content_type TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        data BLOB NOT NULL
    ) STRICT;
    CREATE TABLE consents (
        grant_id TEXT PRIMARY KEY,
        unit_id TEXT NOT NULL,
        code TEXT NOT NULL,
        client_mac TEXT NOT NULL,
        at INTEGER NOT NULL,
        terms_sha256 TEXT,
        terms_url TEXT
    ) STRICT;
    CREATE INDEX consents_unit ON consents(unit_id, at);
    "#,
    // 11: a unit's own IANA time zone, when it differs from the property's (DESIGN
    // §10 "Time zone"); NULL = the property's. The property's zone is a row of `settings`.
    r#"
    ALTER TABLE units ADD COLUMN time_zone TEXT;
    "#,
    // 12: a voucher's grants by state. The device rules count a voucher's open and active
    // grants on every redemption (`grants::count_open_for_code`, the `devices_active`
    // column of a voucher read); with `grants_code` alone each count read every grant row
    // of the code. This answers them from the index.
    r#"
    CREATE INDEX grants_code_state ON grants(code, state);
    "#,
    // 13: one index of a voucher's grants instead of two. `grants_code` (code, client_mac)
    // and `grants_code_state` (code, state) each put a new grant's entry on a page of its
    // own (codes are random), so every redemption wrote one page more to the WAL than it
    // needed: the commit's WAL writes were ~25 % of the store writer's time in the `redeem`
    // benchmark (issue 11). (code, client_mac, state) serves both: a device's grants on a
    // voucher by prefix, and the counts by state from the index alone (one code's entries
    // sit together, a few per device). A state change stays on its page.
    r#"
    DROP INDEX grants_code_state;
    DROP INDEX grants_code;
    CREATE INDEX grants_code_mac_state ON grants(code, client_mac, state);
    "#,
    // 14: no index of a grant names its state; the open ones are those with no `ended_at`.
    // A redemption makes its `pending` grant `active` once the controller let the device in
    // (`grants::set_active`); with `state` in four indexes (two as a key, two as a partial
    // index's condition) that one-column change rewrote an entry in each: ~12 % of the store
    // writer's time in the `redeem` benchmark (issue 11). A grant's `ended_at` is set when,
    // and only when, it ends (`grants::end`), so "open" is `ended_at IS NULL` and the
    // pending → active step changes no index at all. The UPDATE first makes that true of
    // any row written before it (an ended grant always had its `ended_at`; cheap insurance).
    r#"
    UPDATE grants SET ended_at = COALESCE(authorized_at, created_at)
        WHERE state = 'ended' AND ended_at IS NULL;
    UPDATE grants SET ended_at = NULL WHERE state != 'ended' AND ended_at IS NOT NULL;
    DROP INDEX grants_code_mac_state;
    DROP INDEX grants_unit;
    DROP INDEX grants_open;
    DROP INDEX grants_mac_active;
    CREATE INDEX grants_code_mac_end ON grants(code, client_mac, ended_at);
    CREATE INDEX grants_unit_end ON grants(unit_id, ended_at);
    CREATE INDEX grants_open ON grants(expires_at) WHERE ended_at IS NULL;
    CREATE INDEX grants_mac_open ON grants(client_mac, site) WHERE ended_at IS NULL;
    "#,
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "database migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written before migration 14 — an ended grant somehow without its
    /// `ended_at`, an open one with a stray one — comes out with `ended_at` set exactly on
    /// the ended grants, so the open-grant indexes find what `state` says is open.
    #[test]
    fn migration_14_makes_ended_at_mark_exactly_the_ended_grants() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        let tx = conn.transaction().unwrap();
        for sql in &MIGRATIONS[..13] {
            tx.execute_batch(sql).unwrap();
        }
        tx.pragma_update(None, "user_version", 13).unwrap();
        tx.commit().unwrap();
        for (id, state, ended_at) in [
            ("g-ended", "ended", None),
            ("g-ended-ok", "ended", Some(7_i64)),
            ("g-active", "active", Some(9)),
            ("g-pending", "pending", None),
        ] {
            conn.execute(
                "INSERT INTO grants (grant_id, code, unit_id, client_mac, site, state, created_at, authorized_at, expires_at, ended_at)
                 VALUES (?1, 'C', 'u', '02-00-00-00-00-01', 'Default', ?2, 5, 6, 100, ?3)",
                rusqlite::params![id, state, ended_at],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let ended: Vec<(String, Option<i64>)> = conn
            .prepare("SELECT grant_id, ended_at FROM grants ORDER BY grant_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            ended,
            vec![
                ("g-active".to_owned(), None),
                ("g-ended".to_owned(), Some(6)),
                ("g-ended-ok".to_owned(), Some(7)),
                ("g-pending".to_owned(), None),
            ]
        );
        let open: Vec<String> = conn
            .prepare("SELECT grant_id FROM grants WHERE client_mac = '02-00-00-00-00-01' AND site = 'Default' AND ended_at IS NULL ORDER BY grant_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(open, vec!["g-active".to_owned(), "g-pending".to_owned()]);
    }
}
