//! Plume through the sidecar's API: settings validation (before any network call), OAuth
//! failures, health per unit in every colour, live unit changes, events, staleness.

mod common;

use common::{err_code, eventually, TestApp};
use rental_wifi::sim::plume::{PlumeSim, Scenario};
use serde_json::{json, Value};

const CUSTOMER: &str = "642cc40d71d99d000a611549";

async fn plume_sim() -> PlumeSim {
    rental_wifi::init_crypto();
    let sim = rental_wifi::sim::plume::start(Default::default())
        .await
        .unwrap();
    for (loc, sc) in [
        ("loc-green", Scenario::Fine),
        ("loc-yellow", Scenario::PoorHealth),
        ("loc-orange", Scenario::PodDown),
        ("loc-red", Scenario::Offline),
    ] {
        sim.add_location(CUSTOMER, loc, sc);
    }
    sim
}

fn settings(sim: &PlumeSim, interval: u32) -> Value {
    json!({"sso_url": sim.sso_url(), "auth_header": sim.auth_header(), "partner_id": sim.partner_id(), "api_base": sim.api_base(), "poll_interval_seconds": interval})
}

async fn health(app: &TestApp, unit: &str) -> Value {
    let (s, h) = app.get(&format!("/api/v1/units/{unit}/health")).await;
    assert_eq!(s, 200, "{h}");
    h
}

#[tokio::test]
async fn settings_are_validated_before_any_network_call() {
    let app = TestApp::spawn().await;
    let sim = plume_sim().await;
    let good = settings(&sim, 60);
    let cases = [
        (
            "sso_url",
            json!("ftp://sso.example.com/token"),
            "Invalid URL",
        ),
        (
            "sso_url",
            json!("http://sso.example.com/token"),
            "Invalid URL",
        ),
        ("api_base", json!("not a url"), "Invalid URL"),
        (
            "auth_header",
            json!("   "),
            "Authorization header cannot be empty",
        ),
        ("partner_id", json!("short"), "Partner ID looks invalid"),
        ("poll_interval_seconds", json!(0), ""),
        ("poll_interval_seconds", json!(3601), ""),
    ];
    for (field, value, message) in cases {
        let mut body = good.clone();
        body[field] = value.clone();
        let (s, b) = app
            .send(reqwest::Method::PUT, "/api/v1/settings/plume", Some(body))
            .await;
        assert_eq!(s, 400, "{field}={value}: {b}");
        assert_eq!(b["error"]["field"], field, "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains(message),
            "{b}"
        );
    }
    assert_eq!(
        sim.counters().token_requests,
        0,
        "refused before any network call"
    );
    let (s, _) = app.get("/api/v1/settings/plume").await;
    assert_eq!(s, 404, "nothing stored");

    let mut bad = good.clone();
    bad["auth_header"] = json!("Basic d3Jvbmc6d3Jvbmc=");
    let (s, b) = app
        .send(reqwest::Method::PUT, "/api/v1/settings/plume", Some(bad))
        .await;
    assert_eq!((s, err_code(&b)), (422, "plume_auth_failed"));
    assert_eq!(b["error"]["message"], "OAuth token request failed: 401");

    let (s, b) = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/plume",
            Some(good.clone()),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["auth_header"], "***");
    let (_, b) = app.get("/api/v1/settings/plume").await;
    assert_eq!(b["auth_header"], "***");
    assert!(!b.to_string().contains(&sim.auth_header()));
    let db = std::fs::read(app.data_dir.join(rental_wifi::app::DB_FILE)).unwrap();
    let secret = sim.auth_header();
    assert!(
        !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "sealed at rest"
    );
    // "***" keeps the stored header.
    let mut masked = good.clone();
    masked["auth_header"] = json!("***");
    let (s, _) = app
        .send(reqwest::Method::PUT, "/api/v1/settings/plume", Some(masked))
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.delete("/api/v1/settings/plume").await, 204);
    let (_, st) = app.get("/api/v1/state").await;
    assert_eq!(st["plume"]["configured"], false);
    app.stop().await;
}

#[tokio::test]
async fn every_colour_with_reasons_and_live_unit_changes() {
    let app = TestApp::spawn().await;
    let sim = plume_sim().await;
    for colour in ["green", "yellow", "orange", "red"] {
        let (s, b) = app
            .post("/api/v1/units", json!({"unit_id": colour, "name": colour, "plume_customer_id": CUSTOMER, "plume_location_id": format!("loc-{colour}")}))
            .await;
        assert_eq!(s, 201, "{b}");
    }
    app.unit("no-plume").await;
    let h = health(&app, "green").await;
    assert_eq!(h["status"], "unknown", "nothing polled yet: {h}");
    let (s, _) = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/plume",
            Some(settings(&sim, 1)),
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        eventually(10, || async {
            health(&app, "red").await["status"] == "red"
        })
        .await
    );
    assert!(
        eventually(10, || async {
            health(&app, "green").await["status"] == "green"
        })
        .await
    );
    let g = health(&app, "green").await;
    for f in [
        "status",
        "reasons",
        "online",
        "pods_connected",
        "pods_total",
        "devices_connected",
        "wifi_networks",
        "updated_at",
        "stale",
    ] {
        assert!(g.get(f).is_some(), "health has {f}: {g}");
    }
    assert_eq!(g["online"], true);
    assert_eq!(g["stale"], false);
    assert_eq!(g["pods_connected"], g["pods_total"]);
    assert!(
        !g.to_string().contains("encryptionKey") && !g.to_string().contains(&sim.config().wifi_psk),
        "never the Wi-Fi key"
    );
    assert!(
        eventually(10, || async {
            health(&app, "yellow").await["status"] == "yellow"
        })
        .await
    );
    assert!(
        eventually(10, || async {
            health(&app, "orange").await["status"] == "orange"
        })
        .await
    );
    let o = health(&app, "orange").await;
    assert_eq!(o["status"], "orange");
    assert!(
        o["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("disconnected")),
        "{o}"
    );
    assert_eq!(health(&app, "no-plume").await["status"], "unknown");
    let (_, st) = app.get("/api/v1/state").await;
    let red = st["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"]["unit_id"] == "red")
        .unwrap();
    assert_eq!(red["health"]["status"], "red");
    assert_eq!(st["plume"]["connected"], true);

    // A unit moved to another location is polled there without a restart, and the change is an event.
    let mut events = app
        .http
        .get(app.url("/api/v1/events"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let (s, _) = app
        .patch(
            "/api/v1/units/no-plume",
            json!({"plume_customer_id": CUSTOMER, "plume_location_id": "loc-orange"}),
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        eventually(10, || async {
            health(&app, "no-plume").await["status"] == "orange"
        })
        .await
    );
    sim.set_scenario(CUSTOMER, "loc-green", Scenario::PodDown);
    assert!(
        eventually(10, || async {
            health(&app, "green").await["status"] == "orange"
        })
        .await
    );
    let mut text = String::new();
    while !(text.contains("event: health_changed") && text.contains("\"unit_id\":\"green\"")) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), events.chunk())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("\"previous\":\"green\""), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn an_outage_goes_stale_never_green_then_recovers() {
    let app = TestApp::spawn().await;
    let sim = plume_sim().await;
    let (s, _) = app.post("/api/v1/units", json!({"unit_id": "g", "name": "g", "plume_customer_id": CUSTOMER, "plume_location_id": "loc-green"})).await;
    assert_eq!(s, 201);
    let (s, _) = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/plume",
            Some(settings(&sim, 1)),
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        eventually(10, || async {
            health(&app, "g").await["status"] == "green"
        })
        .await
    );
    sim.set_outage(true);
    assert!(
        eventually(15, || async { health(&app, "g").await["stale"] == true }).await,
        "stale after 3 missed intervals"
    );
    let h = health(&app, "g").await;
    assert_ne!(h["status"], "green", "a stale report is never green: {h}");
    sim.set_outage(false);
    assert!(
        eventually(15, || async {
            let h = health(&app, "g").await;
            h["status"] == "green" && h["stale"] == false
        })
        .await
    );
    app.stop().await;
}

#[tokio::test]
async fn poll_results_and_token_refreshes_are_metrics() {
    let app = TestApp::spawn().await;
    let sim = plume_sim().await;
    for colour in ["green", "red"] {
        let (s, _) = app
            .post("/api/v1/units", json!({"unit_id": colour, "name": colour, "plume_customer_id": CUSTOMER, "plume_location_id": format!("loc-{colour}")}))
            .await;
        assert_eq!(s, 201);
    }
    let (s, _) = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/plume",
            Some(settings(&sim, 1)),
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        eventually(10, || async {
            health(&app, "red").await["status"] == "red"
        })
        .await
    );
    let text = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert!(value("rental_wifi_plume_polls_ok_total") >= 2, "{text}");
    assert!(
        value("rental_wifi_plume_token_refreshes_total") >= 1,
        "{text}"
    );
    assert_eq!(
        value("rental_wifi_plume_token_refreshes_total"),
        sim.counters().tokens_issued,
        "one count per token the SSO issued"
    );
    app.stop().await;
}
