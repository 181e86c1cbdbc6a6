//! The sidecar with the real-controller simulator, through its own API and portal: the
//! settings test's certificate report (CONTRACTS §4), capabilities and `problem` in the
//! controller status (CONTRACTS §5), a revoke that waits (never dropped) while the site id is
//! unknown and goes through once it can be learnt, authorise → revoke end to end in both
//! modes (the Open API one for a device that is away), and the monitor's cheap check.

mod common;

use std::time::Duration;

use common::{config_for, eventually, fast_policy, redirect_query, TestApp};
use rental_wifi::clock::Clock;
use rental_wifi::sim::omada::{self as sim, OmadaSim, OmadaSimConfig};
use serde_json::{json, Value};

async fn app() -> (TestApp, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_full(config_for(tmp.path()), Clock::system(), fast_policy()).await;
    (app, tmp)
}

async fn put_settings(app: &TestApp, settings: Value) -> (u16, Value) {
    app.send(
        reqwest::Method::PUT,
        "/api/v1/settings/omada",
        Some(settings),
    )
    .await
}

/// A unit on site Default whose guests join SSID "Beach Guest", and a voucher for it.
async fn unit_and_voucher(app: &TestApp) -> String {
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "beach", "name": "Beach House", "ssids": ["Beach Guest"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, v) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "beach", "duration_minutes": 120}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["code"].as_str().unwrap().to_owned()
}

async fn controller_status(app: &TestApp) -> Value {
    let (s, st) = app.get("/api/v1/state").await;
    assert_eq!(s, 200);
    st["controller"].clone()
}

#[tokio::test]
async fn the_settings_test_reports_the_certificate_it_was_shown() {
    let (app, _tmp) = app().await;
    let sim = sim::start(OmadaSimConfig {
        tls: true,
        ..OmadaSimConfig::default()
    })
    .await
    .unwrap();
    let mut settings = serde_json::to_value(sim.hotspot_settings()).unwrap();
    settings["cert_sha256"] = Value::Null;
    let (s, b) = put_settings(&app, settings.clone()).await;
    assert_eq!(s, 422, "{b}");
    let e = &b["error"];
    assert_eq!(e["code"], "tls_untrusted");
    assert_eq!(e["field"], "base_url");
    let cert = &e["certificate"];
    assert_eq!(cert["subject"], "O=TP-Link, OU=TP-Link, CN=localhost");
    assert_eq!(cert["san"], json!([]));
    assert_eq!(cert["factory_default"], false);
    let sha = cert["sha256"].as_str().unwrap();
    assert_eq!(Some(sha.to_string()), sim.cert_sha256());
    assert!(
        sha.len() == 64
            && sha
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert!(
        e["message"].as_str().unwrap().contains("cert_sha256"),
        "{e}"
    );
    let (s, _) = app.get("/api/v1/settings/omada").await;
    assert_eq!(s, 404, "nothing stored");

    // Pinning = PUT again with that value; the answer shows the certificate it trusted.
    settings["cert_sha256"] = json!(sha);
    let (s, b) = put_settings(&app, settings).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["certificate"]["sha256"], sha);
    assert_eq!(b["capabilities"]["authorize_with_duration"], true);
    assert_eq!(b["capabilities"]["discovery"], true);
    assert_eq!(b["sites"][0]["name"], "Default");
    assert_eq!(
        b["portal_timeouts"][0]["portals"][0]["timeout_minutes"],
        480
    );
    assert_eq!(b["controller_version"], "5.15.24");
}

#[tokio::test]
async fn a_revoke_waits_for_the_site_id_and_says_why() {
    let (app, _tmp) = app().await;
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let (s, b) = put_settings(
        &app,
        serde_json::to_value(sim.hotspot_only_settings()).unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = controller_status(&app).await;
    assert_eq!(
        c["capabilities"],
        json!({"authorize_with_duration": true, "discovery": false, "client_lookup": false, "device_health": false, "ppsk": false})
    );
    assert_eq!(c["problem"], Value::Null);
    assert_eq!(c["outbox_oldest_pending_at"], Value::Null);

    // Hotspot only: the site's id cannot be learnt. A unit without it is saved (a host whose
    // form has no id field is not locked out), and from then on the controller's problem
    // names the unit and what to do; a guest is let in (the sign-in body takes the name)…
    let unit = json!({"unit_id": "beach", "name": "Beach House", "ssids": ["Beach Guest"]});
    let (s, b) = app.post("/api/v1/units", unit).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["omada_site_id"], Value::Null);
    let c = controller_status(&app).await;
    let p = c["problem"].as_str().unwrap();
    assert!(
        p.starts_with("Unit \"Beach House\" (site \"Default\") has no site id")
            && p.contains("omada_site_id")
            && p.contains("Open API"),
        "{p}"
    );
    let (s, v) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "beach", "duration_minutes": 120}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let code = v["code"].as_str().unwrap().to_owned();
    let r = app
        .redeem_with(
            &redirect_query("52-DE-63-F1-E3-3B", "Beach Guest"),
            &code,
            &[],
            None,
        )
        .await;
    assert_eq!(r.result, "success", "{}", r.body);
    assert_eq!(sim.authorized().len(), 1);
    let (s, b) = app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    // …but the revoke waits: nothing is sent with the name in a path, and the host is told
    // which site and what to do.
    assert!(
        eventually(10, || async {
            controller_status(&app).await["outbox_waiting"] == 1
        })
        .await,
        "{}",
        controller_status(&app).await
    );
    let c = controller_status(&app).await;
    assert!(
        c["problem"].as_str().unwrap().contains("has no site id"),
        "{c}"
    );
    assert_eq!(c["connected"], true, "the controller answers");
    assert_eq!(c["outbox_pending"], 1, "not dropped: {c}");
    assert!(c["outbox_oldest_pending_at"].is_string(), "{c}");
    assert_eq!(sim.authorized().len(), 1);
    assert!(sim.requests_to("/clients").is_empty());
    let (s, b) = app.get("/api/v1/outbox").await;
    assert_eq!(s, 200);
    let item = &b["items"][0];
    assert_eq!(
        (
            item["op"].as_str(),
            item["site"].as_str(),
            item["unit_id"].as_str()
        ),
        (Some("unauthorize"), Some("Default"), Some("beach"))
    );
    let p = item["problem"].as_str().unwrap();
    assert!(
        p.starts_with("taking 52-DE-63-F1-E3-3B off site \"Default\"")
            && p.contains("24-character id"),
        "{p}"
    );
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\nrental_wifi_outbox_waiting 1\n"),
        "{metrics}"
    );

    // The host gives the id: it is verified by listing the site's clients, stored, and the
    // waiting revoke goes through at once; the problem clears.
    let site_id = sim.site_id("Default").unwrap();
    let (s, b) = app
        .patch("/api/v1/units/beach", json!({"omada_site_id": site_id}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["omada_site_id"], site_id.as_str());
    assert!(sim.requests_to("/clients")[0]
        .path
        .contains(&format!("/hotspot/sites/{site_id}/clients")));
    assert!(eventually(10, || async { sim.authorized().is_empty() }).await);
    assert!(
        eventually(10, || async {
            let c = controller_status(&app).await;
            c["problem"].is_null() && c["outbox_pending"] == 0 && c["outbox_waiting"] == 0
        })
        .await,
        "{}",
        controller_status(&app).await
    );
    assert!(sim.requests_to("/disconnect")[0]
        .path
        .contains(&format!("/hotspot/sites/{site_id}/cmd/clients/")));
}

async fn redeem_and_revoke(app: &TestApp, sim: &OmadaSim, away: bool) {
    let code = unit_and_voucher(app).await;
    let r = app
        .redeem_with(
            &redirect_query("52-DE-63-F1-E3-3B", "Beach Guest"),
            &code,
            &[],
            None,
        )
        .await;
    assert_eq!(r.result, "success", "{}", r.body);
    assert_eq!(sim.authorized().len(), 1);
    if away {
        sim.set_client_online("52-DE-63-F1-E3-3B".parse().unwrap(), false);
    }
    let (s, b) = app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        eventually(10, || async { sim.authorized().is_empty() }).await,
        "{:?}",
        sim.authorized()
    );
    assert!(
        eventually(10, || async {
            controller_status(app).await["outbox_pending"] == 0
        })
        .await
    );
}

#[tokio::test]
async fn authorise_and_revoke_end_to_end_in_hotspot_mode() {
    let (app, _tmp) = app().await;
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let (s, b) = put_settings(&app, serde_json::to_value(sim.hotspot_settings()).unwrap()).await;
    assert_eq!(s, 200, "{b}");
    redeem_and_revoke(&app, &sim, false).await;
    let g = &sim.auth_records()[0];
    assert_eq!(g.via, sim::AuthApi::Hotspot);
    // The grant's own duration (120 min), not the portal's timeout.
    assert!(g.duration.unwrap() > Duration::from_secs(110 * 60));
    assert_eq!(sim.counters().disconnects, 1);
}

#[tokio::test]
async fn authorise_and_revoke_end_to_end_in_open_api_mode_for_a_device_that_is_away() {
    let (app, _tmp) = app().await;
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let (s, b) = put_settings(&app, serde_json::to_value(sim.openapi_settings()).unwrap()).await;
    assert_eq!(s, 200, "{b}");
    let c = controller_status(&app).await;
    assert_eq!(c["mode"], "openapi");
    assert_eq!(c["capabilities"]["authorize_with_duration"], false);
    redeem_and_revoke(&app, &sim, true).await;
    let counters = sim.counters();
    assert_eq!(counters.disconnects, 1, "ended through the record");
    assert_eq!(counters.unauth_not_exist, 0, "never trusted `unauth`");
}

#[tokio::test]
async fn the_monitor_checks_the_session_without_logging_in_again() {
    let (app, _tmp) = app().await;
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let (s, b) = put_settings(&app, serde_json::to_value(sim.hotspot_settings()).unwrap()).await;
    assert_eq!(s, 200, "{b}");
    let logins = sim.counters().logins;
    assert_eq!(logins, 1, "the settings test logged in once");
    for _ in 0..5 {
        app.handle.check_controller().await.unwrap();
    }
    assert_eq!(sim.counters().logins, logins, "no login per check");
    // Outage: the check says so; back: connected again, the problem gone.
    sim.set_outage(Some(sim::Outage::Http503));
    assert!(app.handle.check_controller().await.is_err());
    let c = controller_status(&app).await;
    assert_eq!(c["connected"], false);
    assert!(
        c["problem"].as_str().unwrap().contains("does not answer"),
        "{c}"
    );
    sim.set_outage(None);
    app.handle.check_controller().await.unwrap();
    let c = controller_status(&app).await;
    assert_eq!(
        (c["connected"].clone(), c["problem"].clone()),
        (json!(true), Value::Null)
    );
}

#[tokio::test]
async fn site_ids_the_host_gives_let_a_hotspot_only_set_up_revoke() {
    let (app, _tmp) = app().await;
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let site_id = sim.site_id("Default").unwrap();
    // Given before the settings (as a unit's stored site id would be): kept for every client.
    app.handle
        .remember_sites(&[("Default".to_string(), site_id.clone())]);
    let (s, b) = put_settings(
        &app,
        serde_json::to_value(sim.hotspot_only_settings()).unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    redeem_and_revoke(&app, &sim, false).await;
    assert!(sim.requests_to("/disconnect")[0]
        .path
        .contains(&format!("/hotspot/sites/{site_id}/")));
    assert!(
        sim.requests()
            .iter()
            .all(|r| !r.path.starts_with("/openapi")),
        "no Open API needed"
    );
}
