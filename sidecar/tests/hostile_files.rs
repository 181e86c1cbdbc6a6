//! Issue 13, finding 8, on the real binary: private files, refused symlinks, a database that
//! fails its checks stops the start, and no cookie or voucher code in the logs at any level.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::process::Sidecar;
use serde_json::{json, Value};

fn start(dir: &Path, env: &[(&str, &str)]) -> Sidecar {
    Sidecar::start(dir, env)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Run `serve` expecting it to fail before `ready`: its stderr.
fn start_fails(dir: &Path) -> String {
    match Sidecar::try_start(dir, &[]) {
        Ok(_) => panic!("the sidecar started on a bad data dir"),
        Err(e) => {
            assert!(!e.status.success());
            e.stderr
        }
    }
}

#[test]
fn a_loose_data_dir_and_database_are_tightened_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    // First start makes everything; then loosen it all, as an old version or a restore would.
    assert!(start(&dir, &[]).stop().success());
    let db = dir.join("rental-wifi.sqlite3");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let run = start(&dir, &[]);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&db), 0o600);
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    assert!(run.stop().success());
}

#[test]
fn a_fresh_database_is_never_readable_by_others() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fresh");
    let run = start(&dir, &[]);
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    assert!(run.stop().success());
}

#[test]
fn a_symlinked_api_token_stops_the_start_and_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let target = tmp.path().join("not-yours");
    std::fs::write(&target, "z".repeat(43)).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("api_token")).unwrap();
    let stderr = start_fails(&dir);
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(mode(&target), 0o644, "the link's target was chmodded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_database_stops_the_start_with_a_clear_message() {
    rental_wifi::init_crypto();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let run = start(&dir, &[]);
    assert!(run.stop().success());
    // Everything into the database file, then scribble over all but its first page (the
    // header and the schema stay readable, every table's pages do not).
    let db = dir.join("rental-wifi.sqlite3");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192, "{} bytes", bytes.len());
    for b in &mut bytes[4096..] {
        *b = 0x5A;
    }
    std::fs::write(&db, &bytes).unwrap();
    let stderr = start_fails(&dir);
    assert!(stderr.contains("rental-wifi.sqlite3"), "{stderr}");
    assert!(
        stderr.contains("integrity") || stderr.contains("malformed"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cookie_or_voucher_code_in_the_logs_even_at_trace() {
    rental_wifi::init_crypto();
    let sim = rental_wifi::sim::omada::start(Default::default())
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let run = start(
        &dir,
        &[(
            "RENTAL_WIFI_LOG_LEVEL",
            "trace,cookie_store=trace,reqwest=trace,hyper=trace,hyper_util=trace,rustls=trace",
        )],
    );
    let token = std::fs::read_to_string(dir.join("api_token"))
        .unwrap()
        .trim()
        .to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let api = |m: reqwest::Method, path: &str, body: Option<Value>| {
        let mut rb = http
            .request(m, format!("{}{path}", run.api))
            .bearer_auth(&token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        async move {
            let r = rb.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, b) = api(
        reqwest::Method::PUT,
        "/api/v1/settings/omada",
        Some(serde_json::to_value(sim.hotspot_settings()).unwrap()),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = api(
        reqwest::Method::POST,
        "/api/v1/units",
        Some(json!({"unit_id": "beach", "name": "Beach", "ssids": ["Beach Guest"]})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, v) = api(
        reqwest::Method::POST,
        "/api/v1/vouchers",
        Some(json!({"unit_id": "beach", "duration_minutes": 60, "code": "SEAVIEW2026"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let code = v["code"].as_str().unwrap().to_owned();
    // Read it back by code (the code is in the path), and redeem it on the portal.
    let (s, _) = api(
        reqwest::Method::GET,
        &format!("/api/v1/vouchers/{code}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let q = common::redirect_query("52-DE-63-F1-E3-3B", "Beach Guest");
    let page = common::submit_form(&http, &run.portal, &q, &code.to_lowercase(), &[], None)
        .await
        .expect("the portal answers");
    assert_eq!(page.status, 200);
    assert!(page.succeeded(), "{}", page.body);
    assert!(
        sim.counters().logins >= 1,
        "the controller session was used"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = run.stop_with_lines();
    let text = lines.join("\n");
    assert!(
        text.contains("\"level\":\"DEBUG\""),
        "debug logging is on:\n{text}"
    );
    for needle in ["TPOMADA_SESSIONID=", "TPEAP_SESSIONID=", "SEAVIEW2026"] {
        let hits: Vec<&String> = lines.iter().filter(|l| l.contains(needle)).collect();
        assert!(hits.is_empty(), "{needle} in the logs: {hits:#?}");
    }
    assert!(
        text.contains("/api/v1/vouchers/code#"),
        "the request line names the code by reference"
    );
}
