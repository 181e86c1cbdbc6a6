//! Issue 13, finding 8, on the real binary: private files, refused symlinks, a database that
//! fails its checks stops the start, and no cookie or voucher code in the logs at any level.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_rental-wifi-sidecar");

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    api: String,
    portal: String,
}

fn command(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--data-dir"]).arg(dir).args([
        "--api-listen",
        "127.0.0.1:0",
        "--portal-listen",
        "127.0.0.1:0",
    ]);
    cmd.env_remove("RENTAL_WIFI_LOG_FORMAT")
        .env_remove("RENTAL_WIFI_LOG_LEVEL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[allow(clippy::zombie_processes)] // stop() waits for it
fn start(dir: &Path, env: &[(&str, &str)]) -> Running {
    let mut child = command(dir, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("ready line in time; got:\n{}", seen.join("\n")));
        seen.push(line.clone());
        if line.contains("\"ready\"") {
            let v: Value = serde_json::from_str(&line).unwrap();
            return Running {
                child,
                lines: rx,
                seen,
                api: format!("http://{}", v["api_addr"].as_str().unwrap()),
                portal: format!("http://{}", v["portal_addr"].as_str().unwrap()),
            };
        }
    }
}

impl Running {
    /// SIGTERM, wait, and every line it printed.
    fn stop(mut self) -> Vec<String> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        // The reader thread ends at EOF, which closes the channel.
        let mut seen = std::mem::take(&mut self.seen);
        seen.extend(self.lines.iter());
        seen
    }
}

impl Drop for Running {
    // A failed assertion must not leave the sidecar running (and holding the test's pipes).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Run `serve` expecting it to fail before `ready`: (stdout, stderr).
fn start_fails(dir: &Path) -> (String, String) {
    let mut child = command(dir, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the sidecar started on a bad data dir");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!stdout.contains("\"ready\""), "{stdout}");
    (stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_loose_data_dir_and_database_are_tightened_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    // First start makes everything; then loosen it all, as an old version or a restore would.
    start(&dir, &[]).stop();
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
    run.stop();
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
    run.stop();
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
    let (_, stderr) = start_fails(&dir);
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(mode(&target), 0o644, "the link's target was chmodded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_database_stops_the_start_with_a_clear_message() {
    rental_wifi::init_crypto();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let run = start(&dir, &[]);
    run.stop();
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
    let (_, stderr) = start_fails(&dir);
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
    let q = "clientMac=52-DE-63-F1-E3-3B&clientIp=127.0.0.1&t=1&site=Default&redirectUrl=http%3A%2F%2Fexample.com%2F&apMac=B0-95-75-15-93-44&ssidName=Beach%20Guest&radioId=1";
    let html = http
        .get(format!("{}/portal?{q}", run.portal))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form: Vec<(String, String)> = Vec::new();
    for part in html.split("<input type=\"hidden\" name=\"").skip(1) {
        let name = part.split('"').next().unwrap().to_owned();
        let value = part
            .split("value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        form.push((name, value.replace("&amp;", "&")));
    }
    form.push(("code".into(), code.to_lowercase()));
    let page = http
        .post(format!("{}/portal", run.portal))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("data-result=\"success\""));
    assert!(
        sim.counters().logins >= 1,
        "the controller session was used"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = run.stop();
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
