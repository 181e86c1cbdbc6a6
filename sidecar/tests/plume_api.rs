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
        (
            "partner_id",
            json!("eb0af9d0a7ab946dcb3"),
            "Partner ID looks invalid",
        ),
        (
            "partner_id",
            json!("partnerId:eb0af9d0a7ab946dcb3b8ef5"),
            "Partner ID looks invalid",
        ),
        (
            "api_base",
            json!("https://api.plume.com"),
            "api.plume.com is not a Plume API host",
        ),
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
    assert_eq!(
        b["error"]["message"],
        "OAuth token request failed: 401 (invalid_client): wrong client id or secret; check the Authorization header"
    );
    let mut bad = good.clone();
    bad["partner_id"] = json!("mocha-partner");
    let (s, b) = app
        .send(reqwest::Method::PUT, "/api/v1/settings/plume", Some(bad))
        .await;
    assert_eq!((s, err_code(&b)), (422, "plume_auth_failed"), "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(invalid_scope): the partner ID is not one these credentials may use"),
        "{b}"
    );

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
        "reason_details",
        "misconfigured",
        "sources",
        "service_level",
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
    assert_eq!(g["misconfigured"], false);
    assert_eq!(g["sources"]["plume"]["status"], "green");
    assert_eq!(g["sources"]["plume"]["stale"], false);
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
    let detail = &o["reason_details"][0];
    assert_eq!(detail["source"], "plume");
    assert_eq!(detail["severity"], "orange");
    assert_eq!(detail["code"], "pod_disconnected");
    assert_eq!(detail["subject"], "Bedroom");
    assert_eq!(detail["message"], o["reasons"][0]);
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
    // Four units at 5 requests/s take longer than the 1 s interval: the round sets the pace.
    assert!(
        eventually(10, || async {
            app.get("/api/v1/state").await.1["plume"]["round_seconds"].is_number()
        })
        .await
    );
    let (_, st) = app.get("/api/v1/state").await;
    let effective = st["plume"]["effective_interval_seconds"].as_f64().unwrap();
    let round = st["plume"]["round_seconds"].as_f64().unwrap();
    assert!(round >= 2.0 && effective >= round, "{}", st["plume"]);

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

/// Issue 15 item 1: saving makes a real authenticated API call, so a wrong API base fails at
/// save with a message naming it, and nothing is stored.
#[tokio::test]
async fn saving_settings_proves_the_api_base() {
    let app = TestApp::spawn().await;
    let sim = plume_sim().await;
    let other_cloud = rental_wifi::sim::plume::start(rental_wifi::sim::plume::PlumeSimConfig {
        auth_server_id: "ausOtherCloud".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    for (base, says) in [
        (sim.base_url(), "did you mean"),
        (other_cloud.api_base(), "same Plume cloud"),
    ] {
        let mut body = settings(&sim, 60);
        body["api_base"] = json!(base);
        let (s, b) = app
            .send(reqwest::Method::PUT, "/api/v1/settings/plume", Some(body))
            .await;
        assert_eq!((s, err_code(&b)), (422, "plume_rejected"), "{base}: {b}");
        let m = b["error"]["message"].as_str().unwrap();
        assert!(m.contains(&base) && m.contains(says), "{m}");
        let (s, _) = app.get("/api/v1/settings/plume").await;
        assert_eq!(s, 404, "nothing stored for {base}");
    }
    assert!(
        sim.counters().per_kind.get("other").copied().unwrap_or(0) >= 1,
        "the check reached the host: {:?}",
        sim.counters()
    );
    let before = sim.counters().per_kind.get("partner").copied().unwrap_or(0);
    let (s, b) = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/plume",
            Some(settings(&sim, 60)),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        sim.counters().per_kind["partner"],
        before + 1,
        "one authenticated API call at save"
    );
    other_cloud.shutdown().await;
    app.stop().await;
}

/// Issue 15 item 2: a unit whose customer id Plume does not know is misconfigured (red, with
/// the id named), Plume stays connected, and the token is not re-minted round after round.
#[tokio::test]
async fn a_wrong_customer_id_is_that_unit_misconfigured_not_an_invalid_token() {
    let app = TestApp::spawn().await;
    let sim = plume_sim().await;
    let (s, _) = app.post("/api/v1/units", json!({"unit_id": "good", "name": "good", "plume_customer_id": CUSTOMER, "plume_location_id": "loc-green"})).await;
    assert_eq!(s, 201);
    let (s, _) = app.post("/api/v1/units", json!({"unit_id": "typo", "name": "typo", "plume_customer_id": "642cc40d71d99d000a611548", "plume_location_id": "loc-green"})).await;
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
            health(&app, "typo").await["status"] == "red"
        })
        .await
    );
    let h = health(&app, "typo").await;
    assert_eq!(h["misconfigured"], true, "{h}");
    assert_eq!(h["reason_details"][0]["code"], "customer_not_found");
    assert!(
        h["reasons"][0]
            .as_str()
            .unwrap()
            .contains("642cc40d71d99d000a611548"),
        "{h}"
    );
    assert!(
        eventually(10, || async {
            health(&app, "good").await["status"] == "green"
        })
        .await
    );
    // Several more rounds: still one token and at most one re-mint in all.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(sim.counters().token_requests <= 2, "{:?}", sim.counters());
    let (_, st) = app.get("/api/v1/state").await;
    assert_eq!(st["plume"]["connected"], true, "{}", st["plume"]);
    assert_eq!(st["plume"]["last_error"], serde_json::Value::Null);
    app.stop().await;
}

/// Issue 15 item 2: a rate-limit answer (a 403 with an HTML body here, then a 429) makes units
/// stale, never red.
#[tokio::test]
async fn a_rate_limit_makes_units_stale_never_red() {
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
    for (status, body) in [
        (403, rental_wifi::sim::plume::WafBody::Html),
        (429, rental_wifi::sim::plume::WafBody::Empty),
    ] {
        sim.set_waf_answer(status, body);
        sim.set_rate_limited(true);
        assert!(
            eventually(15, || async { health(&app, "g").await["stale"] == true }).await,
            "{status}: stale after 3 missed rounds"
        );
        let h = health(&app, "g").await;
        assert_eq!(h["status"], "unknown", "{h}");
        assert!(
            h["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("Plume rate limit reached")),
            "{h}"
        );
        let (_, st) = app.get("/api/v1/state").await;
        assert!(
            st["plume"]["last_error"]
                .as_str()
                .unwrap_or("")
                .starts_with("Plume rate limit reached"),
            "{}",
            st["plume"]
        );
        sim.set_rate_limited(false);
        assert!(
            eventually(15, || async {
                health(&app, "g").await["status"] == "green"
            })
            .await
        );
    }
    app.stop().await;
}
