//! `rental-wifi-sidecar check-controller`: the self-test from the command line, against the
//! controller settings a sidecar stored in its data dir (the real binary, the simulator as
//! the controller).

mod common;

use std::process::Command;

use common::TestApp;
use rental_wifi::clock::Clock;
use rental_wifi::sim::omada::{self as sim, OmadaSimConfig, SimSite};
use serde_json::Value;

const BEACH_ID: &str = "64b0c0ffee0000000000beac";

/// A data dir whose sidecar stored settings for `sim` (then stopped).
async fn configured_dir(sim: &sim::OmadaSim) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_in(tmp.path(), Clock::system()).await;
    let (s, b) = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/omada",
            Some(serde_json::to_value(sim.hotspot_only_settings()).unwrap()),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    app.stop().await;
    tmp
}

fn check(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rental-wifi-sidecar"))
        .arg("check-controller")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn check_controller_reports_each_step_and_fails_on_a_missing_privilege() {
    let mut cfg = OmadaSimConfig {
        operator_sites: Some(vec!["Default".into()]),
        ..OmadaSimConfig::default()
    };
    cfg.sites.push(SimSite {
        name: "Beach House".into(),
        id: BEACH_ID.into(),
    });
    let sim = sim::start(cfg).await.unwrap();
    let dir = configured_dir(&sim).await;
    let default_id = sim.site_id("Default").unwrap();

    let path = dir.path().to_owned();
    let site = format!("Default={default_id}");
    let (code, out, err) = tokio::task::spawn_blocking(move || check(&path, &["--site", &site]))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "PASS  discovery",
        "PASS  login [hotspot]",
        "PASS  site (site \"Default\")",
        "PASS  permissions (site \"Default\")",
        "controller check passed",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }

    let path = dir.path().to_owned();
    let site = format!("Beach House={BEACH_ID}");
    let (code, out, err) =
        tokio::task::spawn_blocking(move || check(&path, &["--site", &site, "--json"]))
            .await
            .unwrap();
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("controller check failed"), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], false);
    let failed: Vec<&Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert_eq!(failed[0]["step"], "permissions");
    assert_eq!(failed[0]["site"], "Beach House");
    assert!(failed[0]["message"]
        .as_str()
        .unwrap()
        .contains("Site Privileges"));

    // An empty data dir: a clear error, nothing created.
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_owned();
    let (code, _, err) = tokio::task::spawn_blocking(move || check(&path, &[]))
        .await
        .unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("no sidecar data"), "{err}");
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

/// Without `--site`, every unit's site is checked, with the id the unit keeps.
#[tokio::test(flavor = "multi_thread")]
async fn check_controller_checks_every_units_site_by_default() {
    let mut cfg = OmadaSimConfig {
        operator_sites: Some(vec!["Default".into()]),
        ..OmadaSimConfig::default()
    };
    cfg.sites.push(SimSite {
        name: "Beach House".into(),
        id: BEACH_ID.into(),
    });
    let sim = sim::start(cfg).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_in(tmp.path(), Clock::system()).await;
    let (s, b) = app
        .put(
            "/api/v1/settings/omada",
            serde_json::to_value(sim.hotspot_only_settings()).unwrap(),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let default_id = sim.site_id("Default").unwrap();
    let (s, b) = app
        .post(
            "/api/v1/units",
            serde_json::json!({"unit_id": "a", "name": "A", "omada_site_id": default_id}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // The operator may not use this one: saved unchecked.
    let (s, b) = app
        .post(
            "/api/v1/units?validate=false",
            serde_json::json!({"unit_id": "b", "name": "B", "omada_site": "Beach House", "omada_site_id": BEACH_ID}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    app.stop().await;
    let path = tmp.path().to_owned();
    let (code, out, err) = tokio::task::spawn_blocking(move || check(&path, &[]))
        .await
        .unwrap();
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        "PASS  permissions (site \"Default\")",
        "FAIL  permissions (site \"Beach House\")",
        "controller check FAILED",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
}
