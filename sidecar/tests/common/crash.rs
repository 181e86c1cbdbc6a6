//! The crash rig: the real binary on a data dir kept across kills, the Omada simulator in
//! this process, the client side (API and guests), and the invariants a crash must never
//! break (issue 11 item 3), checked on the SQLite file itself.

use std::path::Path;
use std::time::{Duration, Instant};

use rental_wifi::sim::omada::OmadaSim;
use serde_json::{json, Value};

use super::portal::{redirect_query, submit_form, PortalResult};
use super::process::{token, Exited, Sidecar};

/// The guests' SSID on unit `u`.
pub const SSID: &str = "Guest";

/// A data dir, a simulator, and the sidecar process currently running on them (if any).
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub sim: OmadaSim,
    pub token: String,
    pub http: reqwest::Client,
    pub proc: Option<Sidecar>,
}

/// Milliseconds since the epoch, as the database stores time.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// RFC 3339 of now + `secs` (may be negative), whole seconds.
pub fn at(secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    rental_wifi::clock::rfc3339(t)
}

/// A guest's MAC from a number.
pub fn mac(n: usize) -> String {
    format!(
        "02-00-00-{:02X}-{:02X}-{:02X}",
        (n >> 16) & 0xff,
        (n >> 8) & 0xff,
        n & 0xff
    )
}

/// The rig's bursts come from 127.0.0.1: [`super::process::CROWD_ON_LOOPBACK`], then `env`.
fn crowd<'a>(env: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = super::process::CROWD_ON_LOOPBACK.to_vec();
    all.extend_from_slice(env);
    all
}

impl Rig {
    /// A fresh data dir with the sidecar running, wired to a fresh simulator, with unit `u`
    /// (SSID [`SSID`]).
    pub async fn new() -> Rig {
        let sim = super::omada_sim().await;
        let dir = tempfile::tempdir().unwrap();
        let mut rig = Rig {
            dir,
            sim,
            token: String::new(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            proc: None,
        };
        rig.start(&[]);
        rig.token = token(rig.dir.path());
        let settings = serde_json::to_value(rig.sim.hotspot_settings()).unwrap();
        rig.must("PUT", "/api/v1/settings/omada", Some(settings), &[200])
            .await;
        rig.must(
            "POST",
            "/api/v1/units",
            Some(json!({"unit_id": "u", "name": "U", "ssids": [SSID]})),
            &[201],
        )
        .await;
        rig
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Let guests in through the Open API (the unit's site id was looked up at its creation).
    pub async fn use_openapi(&self) {
        let settings = serde_json::to_value(self.sim.openapi_settings()).unwrap();
        self.must("PUT", "/api/v1/settings/omada", Some(settings), &[200])
            .await;
    }

    /// A copy of the database as it is now (the sidecar must be stopped): a backup.
    pub fn backup(&self) -> tempfile::TempDir {
        assert!(self.proc.is_none(), "back up a stopped sidecar");
        let copy = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if name.starts_with(rental_wifi::app::DB_FILE) {
                std::fs::copy(entry.path(), copy.path().join(&name)).unwrap();
            }
        }
        copy
    }

    /// Put a backup back in place of the database (the sidecar must be stopped).
    pub fn restore(&self, backup: &tempfile::TempDir) {
        assert!(self.proc.is_none(), "restore into a stopped sidecar");
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if name.starts_with(rental_wifi::app::DB_FILE) {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
        for entry in std::fs::read_dir(backup.path()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), self.dir.path().join(entry.file_name())).unwrap();
        }
    }

    /// Start the sidecar (no other may be running); panics if it dies before `ready`.
    pub fn start(&mut self, env: &[(&str, &str)]) {
        assert!(self.proc.is_none(), "one sidecar at a time");
        let dir = self.dir.path().to_owned();
        let env = crowd(env);
        let p = tokio::task::block_in_place(|| Sidecar::start(&dir, &env));
        self.proc = Some(p);
    }

    /// Start the sidecar; `Err` when it dies before `ready`.
    pub fn try_start(&mut self, env: &[(&str, &str)]) -> Result<(), Exited> {
        assert!(self.proc.is_none(), "one sidecar at a time");
        let dir = self.dir.path().to_owned();
        let env = crowd(env);
        let p = tokio::task::block_in_place(|| Sidecar::try_start(&dir, &env))?;
        self.proc = Some(p);
        Ok(())
    }

    /// Stop the running sidecar gracefully.
    pub fn stop(&mut self) {
        if let Some(p) = self.proc.take() {
            let status = tokio::task::block_in_place(|| p.stop());
            assert!(status.success(), "clean stop: {status}");
        }
    }

    /// SIGKILL the running sidecar (a power cut, as far as the process is concerned).
    pub fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            tokio::task::block_in_place(|| p.kill9());
        }
    }

    fn base(&self) -> (String, String) {
        let p = self.proc.as_ref().expect("a running sidecar");
        (p.api.clone(), p.portal.clone())
    }

    /// One API call; `None` when the connection failed (the process died).
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Option<(u16, Value)> {
        let (api, _) = self.base();
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self
            .http
            .request(m, format!("{api}{path}"))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.ok()?;
        let status = r.status().as_u16();
        let text = r.text().await.ok()?;
        Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// One API call with a raw body (an image upload); `None` when the process died.
    pub async fn api_raw(&self, method: &str, path: &str, body: Vec<u8>) -> Option<(u16, Value)> {
        let (api, _) = self.base();
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = self
            .http
            .request(m, format!("{api}{path}"))
            .bearer_auth(&self.token)
            .body(body)
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        let text = r.text().await.ok()?;
        Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A portal page (`GET path`) as the tests' guests see it; `None` when the process died.
    pub async fn portal_get(&self, path: &str) -> Option<(u16, String)> {
        let (_, portal) = self.base();
        let r = self.http.get(format!("{portal}{path}")).send().await.ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }

    /// A form posted to the portal; `None` when the process died.
    pub async fn portal_post(
        &self,
        path: &str,
        form: &[(String, String)],
    ) -> Option<(u16, String)> {
        let (_, portal) = self.base();
        let r = self
            .http
            .post(format!("{portal}{path}"))
            .form(form)
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }

    /// An API call that must answer one of `ok`.
    pub async fn must(&self, method: &str, path: &str, body: Option<Value>, ok: &[u16]) -> Value {
        let (s, b) = self
            .api(method, path, body)
            .await
            .unwrap_or_else(|| panic!("{method} {path}: no answer"));
        assert!(ok.contains(&s), "{method} {path}: {s} {b}");
        b
    }

    /// A guest with `mac` types `code` on unit `u`'s SSID; `None` when the process died.
    pub async fn guest(&self, mac: &str, code: &str) -> Option<PortalResult> {
        let (_, portal) = self.base();
        submit_form(
            &self.http,
            &portal,
            &redirect_query(mac, SSID),
            code,
            &[],
            None,
        )
        .await
    }

    /// A voucher on unit `u` (fields of `body` added), its code.
    pub async fn voucher(&self, body: Value) -> String {
        let mut b = json!({"unit_id": "u", "duration_minutes": 600});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        let v = self
            .must("POST", "/api/v1/vouchers", Some(b), &[200, 201])
            .await;
        v["code"].as_str().unwrap().to_owned()
    }

    /// `mac` redeems `code` and is let in.
    pub async fn let_in(&self, mac: &str, code: &str) {
        let r = self.guest(mac, code).await.expect("the portal answers");
        assert!(r.succeeded(), "{mac} with {code}: {}", r.body);
    }

    /// Wait for the running process to exit (it was armed to kill itself).
    pub fn wait_death(&mut self, secs: u64) -> Exited {
        let mut p = self.proc.take().expect("a running sidecar");
        let status = tokio::task::block_in_place(|| p.wait_exit(Duration::from_secs(secs)));
        let Some(status) = status else {
            let stderr = p.stderr();
            p.kill9();
            panic!("the sidecar did not die within {secs} s: {stderr}");
        };
        std::thread::sleep(Duration::from_millis(50));
        Exited {
            status,
            stderr: p.stderr(),
        }
    }

    /// A read-only connection to the database file.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.dir.path().join(rental_wifi::app::DB_FILE),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// `PRAGMA integrity_check` of the file as it is (a killed process's leftovers included).
    pub fn integrity(&self) {
        let conn =
            rusqlite::Connection::open(self.dir.path().join(rental_wifi::app::DB_FILE)).unwrap();
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok", "integrity_check");
    }

    /// Every invariant of the data at rest (see [`check_invariants`]).
    pub fn check(&self, when: &str) {
        check_invariants(&self.db(), when);
    }

    /// Wait until the outbox has sent everything that is due (giving up when it made no
    /// progress for `secs`), then check the controller against the database: every device it
    /// lets in has an active grant, or an unauthorise still waiting (a rolled-back redemption
    /// waits out the client's deadline).
    pub async fn converge(&self, secs: u64) {
        let mut deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = i64::MAX;
        loop {
            let due: i64 = self
                .db()
                .query_row(
                    "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL AND next_attempt_at <= ?1",
                    [now_ms()],
                    |r| r.get(0),
                )
                .unwrap();
            if due == 0 {
                break;
            }
            if due < last {
                last = due;
                deadline = Instant::now() + Duration::from_secs(secs);
            }
            assert!(
                Instant::now() < deadline,
                "{due} outbox items still due, no progress in {secs} s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let db = self.db();
        for c in self.sim.authorized() {
            let mac = c.mac.to_string();
            let active: bool = db
                .prepare("SELECT 1 FROM grants WHERE client_mac = ?1 AND state = 'active'")
                .unwrap()
                .exists([&mac])
                .unwrap();
            let waiting: bool = db
                .prepare(
                    "SELECT 1 FROM outbox WHERE done_at IS NULL
                     AND json_extract(payload, '$.op') = 'unauthorize'
                     AND json_extract(payload, '$.client_mac') = ?1",
                )
                .unwrap()
                .exists([&mac])
                .unwrap();
            assert!(
                active || waiting,
                "{mac} is let in by the controller without an active grant or a queued unauthorise"
            );
        }
    }

    /// Active grants of a voucher.
    pub fn active_grants(&self, code: &str) -> Vec<(String, String)> {
        let db = self.db();
        let mut st = db
            .prepare("SELECT grant_id, client_mac FROM grants WHERE code = ?1 AND state = 'active'")
            .unwrap();
        let rows = st
            .query_map([code], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }
}

/// The invariants of issue 11 item 3, on the database as it is:
/// * no active grant on a revoked or suspended voucher, or on one whose end is (well) past,
///   and every cancelled booking's voucher is revoked (deleted, or missing past its limit);
/// * every ended grant has its unauthorise queued or confirmed in the outbox;
/// * no voucher has more active grants than its `max_devices` allows;
/// * slots add up: `devices_used` is the number of distinct devices with a grant on it;
/// * no redemption is left half done (`pending`) once the sidecar is up;
/// * a grant has an `ended_at` exactly when it is ended (the open-grant indexes rely on it).
pub fn check_invariants(db: &rusqlite::Connection, when: &str) {
    let past = now_ms() - 2_000;
    let list = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Vec<String> {
        let mut st = db.prepare(sql).unwrap();
        let v: Vec<String> = st
            .query_map(args, |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        v
    };
    let bad = list(
        "SELECT g.grant_id || ' on ' || g.code FROM grants g JOIN vouchers v ON v.code = g.code
         WHERE g.state = 'active' AND (v.revoked_at IS NOT NULL
           OR MIN(COALESCE(v.valid_until, 9223372036854775807),
                  COALESCE(v.first_used_at + v.duration_minutes * 60000, 9223372036854775807)) <= ?1)",
        &[&past],
    );
    assert!(
        bad.is_empty(),
        "{when}: active grants on revoked or expired vouchers: {bad:?}"
    );
    let bad = list(
        "SELECT t.booking_ref FROM booking_tombstones t JOIN vouchers v ON v.code = t.voucher_code
         WHERE t.cancelled = 1 AND v.revoked_at IS NULL",
        &[],
    );
    assert!(
        bad.is_empty(),
        "{when}: cancelled bookings with live vouchers: {bad:?}"
    );
    let bad = list(
        "SELECT grant_id FROM grants WHERE state = 'ended' AND grant_id NOT IN
           (SELECT json_extract(payload, '$.grant_id') FROM outbox
            WHERE json_extract(payload, '$.op') = 'unauthorize')",
        &[],
    );
    assert!(
        bad.is_empty(),
        "{when}: ended grants without an unauthorise: {bad:?}"
    );
    let bad = list(
        "SELECT v.code FROM vouchers v WHERE v.max_devices > 0 AND v.max_devices <
           (SELECT COUNT(*) FROM grants g WHERE g.code = v.code AND g.state = 'active')",
        &[],
    );
    assert!(
        bad.is_empty(),
        "{when}: vouchers over their device limit: {bad:?}"
    );
    let bad = list(
        "SELECT v.code || ': ' || v.devices_used FROM vouchers v WHERE v.devices_used !=
           (SELECT COUNT(DISTINCT g.client_mac) FROM grants g WHERE g.code = v.code)",
        &[],
    );
    assert!(
        bad.is_empty(),
        "{when}: slot counts that do not add up: {bad:?}"
    );
    let bad = list(
        "SELECT g.grant_id FROM grants g JOIN vouchers v ON v.code = g.code
         WHERE g.state = 'active' AND v.suspended_at IS NOT NULL",
        &[],
    );
    assert!(
        bad.is_empty(),
        "{when}: active grants on suspended vouchers: {bad:?}"
    );
    let bad = list(
        "SELECT b.booking_ref FROM bookings b JOIN vouchers v ON v.code = b.voucher_code
         WHERE b.cancelled_at IS NOT NULL AND v.revoked_at IS NULL",
        &[],
    );
    assert!(
        bad.is_empty(),
        "{when}: bookings cancelled for staying missing with live vouchers: {bad:?}"
    );
    let bad = list("SELECT grant_id FROM grants WHERE state = 'pending'", &[]);
    assert!(bad.is_empty(), "{when}: unfinished redemptions: {bad:?}");
    // The open-grant indexes key on `ended_at` (migration 14): it is set exactly on ended
    // grants.
    let bad = list(
        "SELECT grant_id || ' ' || state FROM grants
         WHERE (state = 'ended') != (ended_at IS NOT NULL)",
        &[],
    );
    assert!(
        bad.is_empty(),
        "{when}: grants whose end time and state disagree: {bad:?}"
    );
}

/// The process died at fail point `point`: killed by SIGKILL (or aborted), having said so.
pub fn assert_killed_at(e: &Exited, point: &str) {
    use std::os::unix::process::ExitStatusExt;
    assert!(
        matches!(e.status.signal(), Some(9) | Some(6)),
        "killed, not exited: {} ({})",
        e.status,
        e.stderr
    );
    assert!(
        e.stderr.contains(&format!("failpoint {point} reached")),
        "died at {point}: {}",
        e.stderr
    );
}
