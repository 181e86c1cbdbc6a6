//! The real binary: flags, the `ready` line, JSON logs carrying the correlation id, the token
//! command, config errors naming the key, and graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rental-wifi-sidecar");

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    api: String,
}

// The child is handed to the caller, which waits for it after SIGTERM.
#[allow(clippy::zombie_processes)]
fn start(dir: &std::path::Path, extra_env: &[(&str, &str)]) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--data-dir"]).arg(dir).args([
        "--api-listen",
        "127.0.0.1:0",
        "--portal-listen",
        "127.0.0.1:0",
    ]);
    cmd.env_remove("RENTAL_WIFI_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("ready line in time");
        if line.contains("ready") {
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
            let api = v["api_addr"]
                .as_str()
                .expect("api_addr in ready line")
                .to_owned();
            assert!(v["portal_addr"]
                .as_str()
                .is_some_and(|p| p.starts_with("127.0.0.1:")));
            return Running {
                child,
                lines: rx,
                api: format!("http://{api}"),
            };
        }
    }
}

fn sigterm(child: &Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
}

#[test]
fn serve_logs_ready_json_lines_with_request_ids_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = start(dir.path(), &[]);
    let token = String::from_utf8(
        Command::new(BIN)
            .args(["token", "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let token = token.trim();
    assert!(token.len() >= 43);

    rental_wifi::init_crypto();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (rid, audit_id) = rt.block_on(async {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/api/v1/units", run.api))
            .bearer_auth(token)
            .json(&serde_json::json!({"name": "Loft"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        let a: serde_json::Value = http
            .get(format!("{}/api/v1/audit?limit=1", run.api))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            rid,
            a["entries"][0]["correlation_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    });
    assert_eq!(rid, audit_id);
    // The request's JSON log line carries the same id.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut found = false;
    while Instant::now() < deadline && !found {
        if let Ok(line) = run.lines.recv_timeout(Duration::from_millis(200)) {
            let v: serde_json::Value = serde_json::from_str(&line).expect("every log line is JSON");
            found = v["request_id"] == rid.as_str() && v["path"] == "/api/v1/units";
            assert!(!line.contains(token), "token never logged");
        }
    }
    assert!(found, "log line with request_id {rid}");

    sigterm(&run.child);
    let status = run.child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status}");

    // Same token after a restart.
    let mut again = start(dir.path(), &[]);
    let token2 = String::from_utf8(
        Command::new(BIN)
            .args(["token", "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(token2.trim(), token);
    sigterm(&again.child);
    assert!(again.child.wait().unwrap().success());
}

#[test]
fn invalid_configuration_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--data-dir"])
        .arg(dir.path())
        .env("RENTAL_WIFI_VOUCHERS_CODE_LENGTH", "30")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("vouchers.code_length"));

    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[server]\napi_listen = \"not an address\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.api_listen"));

    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&cfg)
        .args(["--api-listen", "127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a flag overrides the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn text_log_format_for_humans() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args([
            "--api-listen",
            "127.0.0.1:0",
            "--portal-listen",
            "127.0.0.1:0",
        ])
        .env("RENTAL_WIFI_LOG_FORMAT", "text")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("ready"))
        .unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&ready).is_err(),
        "text, not JSON: {ready}"
    );
    assert!(ready.contains("api_addr=127.0.0.1:"), "{ready}");
    sigterm(&child);
    assert!(child.wait().unwrap().success());
}
