//! The real binary: flags, the `ready` line, JSON logs carrying the correlation id, the token
//! command, config errors naming the key, and graceful shutdown on SIGTERM.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{token as token_of, BIN};
use common::Sidecar;

#[test]
fn serve_logs_ready_json_lines_with_request_ids_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let run = Sidecar::start(dir.path(), &[]);
    assert!(run.portal.starts_with("http://127.0.0.1:"), "{}", run.ready);
    let v: serde_json::Value = serde_json::from_str(&run.ready).expect("JSON ready line");
    assert!(v["api_addr"].is_string() && v["portal_addr"].is_string());
    let token = token_of(dir.path());
    assert!(token.len() >= 43);

    rental_wifi::init_crypto();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (rid, audit_id, settings_rid) = rt.block_on(async {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/api/v1/units", run.api))
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": "Loft"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        let a: serde_json::Value = http
            .get(format!("{}/api/v1/audit?limit=1", run.api))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // A request whose handling logs deep inside the controller service.
        let r = http
            .put(format!("{}/api/v1/settings/omada?validate=false", run.api))
            .bearer_auth(&token)
            .json(
                &serde_json::json!({"base_url": "https://127.0.0.1:9", "username": "op",
                "password": "pw", "verify_tls": false}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let settings_rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        (
            rid,
            a["entries"][0]["correlation_id"]
                .as_str()
                .unwrap()
                .to_owned(),
            settings_rid,
        )
    });
    assert_eq!(rid, audit_id);
    // The request's JSON log line carries the same id, and so does every line written
    // beneath the request (its span), such as the controller service's TLS warning.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut found, mut beneath) = (false, false);
    while Instant::now() < deadline && !(found && beneath) {
        if let Ok(line) = run.lines.recv_timeout(Duration::from_millis(200)) {
            let v: serde_json::Value = serde_json::from_str(&line).expect("every log line is JSON");
            found |= v["request_id"] == rid.as_str() && v["path"] == "/api/v1/units";
            if line.contains("verification is disabled") {
                assert_eq!(v["span"]["request_id"], settings_rid.as_str(), "{line}");
                beneath = true;
            }
            assert!(!line.contains(&token), "token never logged");
        }
    }
    assert!(found, "log line with request_id {rid}");
    assert!(beneath, "a line from beneath the request carries its id");

    let status = run.stop();
    assert!(status.success(), "clean exit on SIGTERM: {status}");

    // Same token after a restart.
    let again = Sidecar::start(dir.path(), &[]);
    assert_eq!(token_of(dir.path()), token);
    assert!(again.stop().success());
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
    let run = Sidecar::start(dir.path(), &[("RENTAL_WIFI_LOG_FORMAT", "text")]);
    assert!(
        serde_json::from_str::<serde_json::Value>(&run.ready).is_err(),
        "text, not JSON: {}",
        run.ready
    );
    assert!(run.ready.contains("api_addr=127.0.0.1:"), "{}", run.ready);
    assert!(run.stop().success());
}
