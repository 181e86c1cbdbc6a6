//! Health from the controller through the sidecar (issue 15 item 7): read in the background
//! within the Open API request budget, without Plume and alongside it. A host without Plume
//! sees the controller's colour instead of `unknown`; an AP offline or the WAN down colours the
//! unit with reasons that name the device and the source; with Plume too the unit is the worse
//! of the two and `health_changed` carries the combined colour; a controller without Open API
//! credentials is left out instead of making every unit `unknown`.

mod common;

use std::time::Duration;

use common::{config_for, eventually, fast_policy, TestApp};
use rental_wifi::clock::Clock;
use rental_wifi::sim::omada::{
    self as osim, OmadaSim, SimDeviceState, DEFAULT_AP, DEFAULT_GATEWAY,
};
use rental_wifi::sim::plume::{PlumeSim, Scenario};
use serde_json::{json, Value};

const CUSTOMER: &str = "642cc40d71d99d000a611549";

/// A sidecar whose controller watcher reads every second, and a simulated controller with
/// hotspot operator *and* Open API credentials (so `device_health` is on).
async fn start() -> (TestApp, OmadaSim, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config_for(tmp.path());
    cfg.health.controller_poll_seconds = 1;
    let app = TestApp::spawn_full(cfg, Clock::system(), fast_policy()).await;
    let sim = common::omada_sim().await;
    app.use_controller(&sim).await;
    (app, sim, tmp)
}

async fn health(app: &TestApp, unit: &str) -> Value {
    let (s, h) = app.get(&format!("/api/v1/units/{unit}/health")).await;
    assert_eq!(s, 200, "{h}");
    h
}

async fn wait_status(app: &TestApp, unit: &str, status: &str) -> Value {
    let ok = eventually(10, || async { health(app, unit).await["status"] == status }).await;
    let h = health(app, unit).await;
    assert!(ok, "{unit} never {status}: {h}");
    h
}

fn mac(s: &str) -> rental_wifi::net::Mac {
    s.parse().unwrap()
}

fn reasons(h: &Value) -> Vec<String> {
    h["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

async fn plume(app: &TestApp) -> PlumeSim {
    let sim = rental_wifi::sim::plume::start(Default::default())
        .await
        .unwrap();
    sim.add_location(CUSTOMER, "loc-fine", Scenario::Fine);
    sim.add_location(CUSTOMER, "loc-poor", Scenario::PoorHealth);
    let (s, b) = app
        .put(
            "/api/v1/settings/plume",
            json!({"sso_url": sim.sso_url(), "auth_header": sim.auth_header(), "partner_id": sim.partner_id(), "api_base": sim.api_base(), "poll_interval_seconds": 1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    sim
}

#[tokio::test]
async fn without_plume_the_controller_reports_ap_offline_and_wan_down() {
    let (app, sim, _tmp) = start().await;
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "loft", "name": "Loft", "ap_macs": [DEFAULT_AP]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // No Plume at all: the controller knows, so the unit is not `unknown`.
    let h = wait_status(&app, "loft", "green").await;
    assert_eq!(h["online"], true);
    assert_eq!(h["sources"]["controller"]["status"], "green");
    assert!(h["sources"].get("plume").is_none(), "{h}");
    assert_eq!(
        (h["pods_connected"].as_u64(), h["pods_total"].as_u64()),
        (Some(1), Some(1))
    );
    let (_, n) = app.get("/api/v1/units/loft/network").await;
    assert_eq!(n["pods"].as_array().unwrap().len(), 1, "{n}");
    assert_eq!(n["pods"][0]["source"], "controller");
    assert_eq!(n["service_level"], Value::Null);
    assert_eq!(n["speed_test"], Value::Null);
    let (_, st) = app.get("/api/v1/state").await;
    assert_eq!(
        st["units"][0]["network"]["read"],
        json!({"plume": false, "controller": true})
    );

    // The AP goes offline: red (it is the unit's only AP), the AP named.
    sim.set_device_state(mac(DEFAULT_AP), SimDeviceState::Disconnected)
        .unwrap();
    let h = wait_status(&app, "loft", "red").await;
    let r = reasons(&h);
    assert!(
        r.iter()
            .any(|x| x.contains("'Living room' (B0-95-75-15-93-44)") && x.contains("disconnected")),
        "{r:?}"
    );
    assert!(h["reason_details"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["source"] == "controller"));
    assert_eq!(h["online"], false);
    sim.set_device_state(mac(DEFAULT_AP), SimDeviceState::Connected)
        .unwrap();
    wait_status(&app, "loft", "green").await;

    // The WAN goes down: red, the gateway and its port named.
    sim.set_wan(mac(DEFAULT_GATEWAY), "WAN1", false, false)
        .unwrap();
    let h = wait_status(&app, "loft", "red").await;
    assert_eq!(h["reason_details"][0]["code"], "wan_down", "{h}");
    assert!(
        reasons(&h)[0].contains("'Gateway' (AC-84-C6-00-00-01)") && reasons(&h)[0].contains("WAN1")
    );
    // The snapshot shows the same.
    let (_, st) = app.get("/api/v1/state").await;
    assert_eq!(st["units"][0]["health"]["status"], "red");
    sim.set_wan(mac(DEFAULT_GATEWAY), "WAN1", true, true)
        .unwrap();
    wait_status(&app, "loft", "green").await;

    // The controller goes away: the last report goes stale (unknown), never red or green.
    sim.set_outage(Some(osim::Outage::Http503));
    let ok = eventually(15, || async { health(&app, "loft").await["stale"] == true }).await;
    let h = health(&app, "loft").await;
    assert!(ok, "{h}");
    assert_eq!(h["status"], "unknown");
    assert!(
        reasons(&h)[0].starts_with("No data from the controller for"),
        "{h}"
    );
    sim.set_outage(None);
    wait_status(&app, "loft", "green").await;
    app.stop().await;
}

#[tokio::test]
async fn with_plume_too_the_worse_source_wins_and_each_reason_names_it() {
    let (app, sim, _tmp) = start().await;
    let _plume = plume(&app).await;
    let mut events = app
        .http
        .get(app.url("/api/v1/events"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "beach", "name": "Beach", "ap_macs": [DEFAULT_AP], "plume_customer_id": CUSTOMER, "plume_location_id": "loc-poor"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // Plume yellow (a pod's health is poor), the controller green: yellow.
    let h = wait_status(&app, "beach", "yellow").await;
    assert_eq!(h["sources"]["plume"]["status"], "yellow");
    assert_eq!(h["sources"]["controller"]["status"], "green");
    assert!(reasons(&h).iter().all(|r| r.starts_with("Plume: ")), "{h}");

    // The seed's /nodes, /devices, /wifi and /status in one answer, from both sources.
    let ok = eventually(10, || async {
        app.get("/api/v1/units/beach/network").await.1["controller_read_at"].is_string()
    })
    .await;
    let (s, n) = app.get("/api/v1/units/beach/network").await;
    assert!(ok && s == 200, "{n}");
    assert_eq!(n["status"], "yellow");
    assert_eq!(n["reasons"], h["reasons"]);
    assert_eq!(n["service_level"], "fullService");
    let pods = n["pods"].as_array().unwrap();
    let plume_pods: Vec<&Value> = pods.iter().filter(|p| p["source"] == "plume").collect();
    assert!(plume_pods.len() >= 2, "{n}");
    assert!(plume_pods
        .iter()
        .any(|p| p["kind"] == "gateway" && p["backhaul"] == "ethernet"));
    assert!(plume_pods
        .iter()
        .all(|p| p["model"].is_string() && p["connection"].is_string()));
    assert!(
        plume_pods.iter().any(|p| p["health"]["status"].is_string()),
        "{n}"
    );
    let ap = pods.iter().find(|p| p["source"] == "controller").unwrap();
    assert_eq!(
        (
            ap["id"].as_str(),
            ap["name"].as_str(),
            ap["kind"].as_str(),
            ap["connected"].as_bool()
        ),
        (
            Some(DEFAULT_AP),
            Some("Living room"),
            Some("access_point"),
            Some(true)
        )
    );
    assert_eq!(n["gateways"][0]["mac"], DEFAULT_GATEWAY);
    assert_eq!(n["gateways"][0]["wan_ports"][0]["up"], true);
    let devices = n["devices"].as_array().unwrap();
    assert!(!devices.is_empty() && devices.iter().all(|d| d["connection"].is_string()));
    assert!(devices.iter().any(|d| d["band"].is_string()), "{n}");
    assert!(!n["wifi_networks"].as_array().unwrap().is_empty());
    assert!(!n.to_string().contains("encryptionKey"));
    let st = &n["speed_test"];
    assert_eq!(
        (st["download_mbps"].as_f64(), st["upload_mbps"].as_f64()),
        (Some(512.3), Some(41.2))
    );
    assert_eq!(st["airbnb_tier"], "fast");
    // The snapshot's short form: pods with connectivity, which sources were read, speed test.
    let (_, state) = app.get("/api/v1/state").await;
    let net = &state["units"][0]["network"];
    assert_eq!(net["read"], json!({"plume": true, "controller": true}));
    assert_eq!(net["pods"].as_array().unwrap().len(), pods.len());
    assert_eq!(net["speed_test"]["airbnb_tier"], "fast");
    let (s, _) = app.get("/api/v1/units/nowhere/network").await;
    assert_eq!(s, 404);
    // The AP goes down: the controller's red wins, both sources' reasons are there, each named.
    sim.set_device_state(mac(DEFAULT_AP), SimDeviceState::HeartbeatMissed)
        .unwrap();
    let h = wait_status(&app, "beach", "red").await;
    let r = reasons(&h);
    assert!(r[0].starts_with("Controller: "), "{r:?}");
    assert!(r.iter().any(|x| x.starts_with("Plume: ")), "{r:?}");
    assert_eq!(h["sources"]["plume"]["status"], "yellow");
    assert_eq!(h["sources"]["controller"]["status"], "red");
    let (_, state) = app.get("/api/v1/state").await;
    let ap = state["units"][0]["network"]["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["source"] == "controller")
        .unwrap()
        .clone();
    assert_eq!(ap["connected"], false, "{ap}");
    let (_, n) = app.get("/api/v1/units/beach/network").await;
    assert_eq!(n["status"], "red");
    assert!(n["pods"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["source"] == "controller" && p["connection"] == "heartbeat_missed"));
    // health_changed carries the combined colour (never Plume's alone).
    let mut text = String::new();
    while !text.contains("\"status\":\"red\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let changes: Vec<Value> = text
        .split("\n\n")
        .filter(|e| e.contains("event: health_changed"))
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let colours: Vec<&str> = changes
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(colours, vec!["yellow", "red"], "{text}");
    assert_eq!(changes[1]["previous"], "yellow");
    assert!(changes[1]["reasons"][0]
        .as_str()
        .unwrap()
        .starts_with("Controller: "));
    app.stop().await;
}

#[tokio::test]
async fn a_controller_without_the_open_api_leaves_plume_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config_for(tmp.path());
    cfg.health.controller_poll_seconds = 1;
    let app = TestApp::spawn_full(cfg, Clock::system(), fast_policy()).await;
    let sim = common::omada_sim().await;
    let (s, b) = app
        .put(
            "/api/v1/settings/omada",
            serde_json::to_value(sim.hotspot_only_settings()).unwrap(),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "loft", "name": "Loft", "ap_macs": [DEFAULT_AP]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // Neither source can report: unknown, and each says what to set up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let h = health(&app, "loft").await;
    assert_eq!(h["status"], "unknown");
    let r = reasons(&h);
    assert!(
        r.iter()
            .any(|x| x.starts_with("Plume: Plume is not configured")),
        "{r:?}"
    );
    assert!(
        r.iter()
            .any(|x| x.starts_with("Controller: ") && x.contains("Open API")),
        "{r:?}"
    );
    // Plume alone reports: its green is the unit's (the controller is not a blocking unknown).
    let _plume = plume(&app).await;
    let (s, b) = app
        .patch(
            "/api/v1/units/loft",
            json!({"plume_customer_id": CUSTOMER, "plume_location_id": "loc-fine"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let h = wait_status(&app, "loft", "green").await;
    assert!(h["sources"].get("controller").is_none(), "{h}");
    assert!(
        sim.requests().iter().all(|r| !r.path.contains("/openapi/")),
        "no Open API request without Open API credentials"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_aps_of_a_units_ssids_are_read_once_and_the_watcher_keeps_to_half_the_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config_for(tmp.path());
    cfg.health.controller_poll_seconds = 1;
    // The real deadline (~10 s): at 2 requests/s the SSID → AP read takes a few seconds.
    let app = TestApp::spawn_with(cfg, Clock::system()).await;
    let sim = common::omada_sim().await;
    // A budget of 2 requests/s: the watcher keeps to 1, so a round of 2 requests (devices,
    // WAN) takes 2 s although the interval is 1 s.
    let mut settings = serde_json::to_value(sim.hotspot_settings()).unwrap();
    settings["openapi_requests_per_second"] = json!(2);
    let (s, b) = app.put("/api/v1/settings/omada", settings).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "guest", "name": "Guest", "ssids": ["Guest"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let h = wait_status(&app, "guest", "green").await;
    assert_eq!(h["pods_total"], 1, "the AP that carries 'Guest': {h}");
    let devices = || {
        sim.requests()
            .iter()
            .filter(|r| r.path.contains("/openapi/v1/") && r.path.ends_with("/devices"))
            .count()
    };
    let before = devices();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let rounds = devices() - before;
    // At the interval alone it would be 8 rounds; at half the budget about 4.
    assert!((2..=5).contains(&rounds), "{rounds} rounds in 8 s");
    // The SSID → AP map (one request per AP) is read once, not every round.
    let ap_reads = sim
        .requests()
        .iter()
        .filter(|r| r.path.contains("/openapi/v1/") && r.path.contains("/aps/"))
        .count();
    assert_eq!(ap_reads, 1);
    // The AP leaves the SSID's WLAN group; a change of the unit's SSIDs reads the map again.
    sim.set_ap_serves_ssids(mac(DEFAULT_AP), false).unwrap();
    let (s, _) = app
        .patch("/api/v1/units/guest", json!({"ssids": ["Guest", "Lobby"]}))
        .await;
    assert_eq!(s, 200);
    let h = wait_status(&app, "guest", "red").await;
    assert_eq!(h["reason_details"][0]["code"], "no_ap_for_ssids", "{h}");
    app.stop().await;
}

/// Idle cost (DESIGN §10): between rounds the watcher sleeps; at the default interval it asks
/// the controller once in a few seconds, not continuously.
#[tokio::test]
async fn between_rounds_the_watcher_sleeps() {
    let tmp = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_full(config_for(tmp.path()), Clock::system(), fast_policy()).await;
    let sim = common::omada_sim().await;
    app.use_controller(&sim).await;
    let (s, _) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "loft", "name": "Loft", "ap_macs": [DEFAULT_AP]}),
        )
        .await;
    assert_eq!(s, 201);
    wait_status(&app, "loft", "green").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reads = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/devices"))
        .count();
    assert_eq!(reads, 1, "one round at start, the next after 60 s");
    app.stop().await;
}
