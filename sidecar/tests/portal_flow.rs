//! The guest's journey over real HTTP against the simulated Omada controller: redirect →
//! login page → redemption → controller authorisation → grant; and everything that takes a
//! device off again (revoke, expiry, grant revoke), including through controller outages and
//! restarts.

mod common;

use std::collections::HashSet;

use common::{eventually, redirect_query, PortalEnv};
use rental_wifi::net::Mac;
use rental_wifi::sim::omada::Outage;
use serde_json::json;

const GUEST: &str = "52-DE-63-F1-E3-3B";

fn authorized_macs(sim: &rental_wifi::sim::omada::OmadaSim) -> HashSet<String> {
    sim.authorized().iter().map(|c| c.mac.to_string()).collect()
}

#[tokio::test]
async fn a_guest_redeems_and_is_let_in_on_the_controller() {
    let env = PortalEnv::start().await;
    let code = env
        .voucher(json!({"down_kbps": 20000, "up_kbps": 5000}))
        .await;
    let typed = format!(" {}-{} ", code[..5].to_lowercase(), &code[5..]);
    let r = env.app.redeem("52:de:63:f1:e3:3b", &typed).await;
    assert_eq!(
        (r.status, r.result.as_str()),
        (200, "success"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("http://example.com/"),
        "continue link to the original page"
    );

    // Exactly what the controller received.
    let auth = env.sim.requests_to("/extPortal/auth");
    assert_eq!(auth.len(), 1);
    let body = auth[0].body.as_ref().unwrap();
    assert_eq!(body["clientMac"], GUEST);
    assert_eq!(body["apMac"], "B0-95-75-15-93-44");
    assert_eq!(body["ssidName"], "Beach Guest");
    assert_eq!(body["site"], "Default");
    assert_eq!(body["authType"].to_string().trim_matches('"'), "4");
    let time_ms: u64 = body["time"].to_string().trim_matches('"').parse().unwrap();
    assert!(
        (119 * 60_000..=120 * 60_000).contains(&time_ms),
        "time is the remaining length in ms: {time_ms}"
    );
    assert!(auth[0].csrf_token.is_some(), "Csrf-Token header sent");
    assert!(authorized_macs(&env.sim).contains(GUEST));

    // Recorded on our side.
    let grants = env.app.active_grants().await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["client_mac"], GUEST);
    assert_eq!(grants[0]["ssid"], "Beach Guest");
    assert_eq!(grants[0]["status"], "active");
    let (_, v) = env.app.get(&format!("/api/v1/vouchers/{code}")).await;
    assert_eq!(v["status"], "active");
    assert_eq!(v["devices_used"], 1);
    assert!(v["first_used_at"].is_string());
    let (_, st) = env.app.get("/api/v1/state").await;
    assert_eq!(st["totals"]["active_grants"], 1);
    assert_eq!(st["controller"]["connected"], true);
    assert_eq!(st["controller"]["mode"], "hotspot");
    let (_, audit) = env.app.get("/api/v1/audit?limit=1").await;
    assert_eq!(audit["entries"][0]["action"], "voucher.redeem");
    assert_eq!(audit["entries"][0]["actor"], "portal");
}

#[tokio::test]
async fn a_wrong_code_and_another_units_code_read_the_same() {
    let env = PortalEnv::start().await;
    let (s, _) = env
        .app
        .post(
            "/api/v1/units",
            json!({"unit_id": "loft", "name": "Loft", "ssids": ["Loft Guest"]}),
        )
        .await;
    assert_eq!(s, 201);
    let (_, other) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "duration_minutes": 60}),
        )
        .await;
    let other_code = other["code"].as_str().unwrap();
    let wrong = env.app.redeem("02-00-00-00-00-01", "ZZZZ2345ZZ").await;
    let foreign = env.app.redeem("02-00-00-00-00-02", other_code).await;
    assert_eq!((wrong.status, foreign.status), (403, 403));
    let alert = |b: &str| {
        b.split("role=\"alert\"")
            .nth(1)
            .unwrap()
            .split("</div>")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        alert(&wrong.body),
        alert(&foreign.body),
        "no difference leaks which unit a code belongs to"
    );
    // The loft code works on the loft's network.
    let ok = env
        .app
        .redeem_with(
            &redirect_query("02-00-00-00-00-02", "Loft Guest"),
            other_code,
            &[],
            None,
        )
        .await;
    assert_eq!(ok.result, "success");
    assert_eq!(env.app.active_grants().await.len(), 1);
}

#[tokio::test]
async fn every_redirect_spelling_is_understood_and_bad_ones_get_a_friendly_page() {
    let env = PortalEnv::start().await;
    for q in [
        "clientMac=aa:bb:cc:dd:ee:01&apMac=b0:95:75:15:93:44&ssidName=Beach%20Guest&radioId=0&site=Default&redirectUrl=http%3A%2F%2Fx.org%2F&t=1",
        "client_mac=AA-BB-CC-DD-EE-01&ap_mac=B0-95-75-15-93-44&ssid=Beach+Guest&radio_id=1&site=Default&origin_url=http%3A%2F%2Fx.org%2F",
        "cid=aabbccddee01&ap=B0-95-75-15-93-44&ssid=Beach%20Guest&rid=1&site=Default&t=1600588644",
        "clientMac=AA-BB-CC-DD-EE-01&gatewayMac=B0-95-75-15-93-45&vid=20&site=Default",
    ] {
        let r = env.app.http.get(format!("{}/portal?{q}", env.app.portal)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{q}");
        let html = r.text().await.unwrap();
        assert!(html.contains("name=\"code\""), "{q}");
        let fields: Vec<_> = common::hidden_fields(&html);
        assert!(fields.iter().any(|(k, v)| k == "clientMac" && v == "AA-BB-CC-DD-EE-01"), "{q}: {fields:?}");
    }
    for q in [
        "",
        "clientMac=nope&apMac=B0-95-75-15-93-44",
        "apMac=B0-95-75-15-93-44&ssidName=x",
        "clientMac=AA-BB-CC-DD-EE-01&radioId=9&apMac=B0-95-75-15-93-44",
    ] {
        let r = env
            .app
            .http
            .get(format!("{}/portal?{q}", env.app.portal))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
        let html = r.text().await.unwrap();
        assert_eq!(common::result_of(&html), "error");
        assert!(html.contains("role=\"alert\""));
    }
    // The bare host works too (controllers are often configured with it).
    let r = env
        .app
        .http
        .get(format!(
            "{}/?{}",
            env.app.portal,
            redirect_query(GUEST, "Beach Guest")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_same_device_again_reauthorizes_without_a_second_slot() {
    let env = PortalEnv::start().await;
    let code = env
        .voucher(json!({"max_devices": 1, "device_policy": "refuse"}))
        .await;
    assert_eq!(env.app.redeem(GUEST, &code).await.result, "success");
    assert_eq!(
        env.app.redeem(GUEST, &code).await.result,
        "success",
        "same MAC again"
    );
    let other = env.app.redeem("02-00-00-00-00-09", &code).await;
    assert_eq!((other.status, other.result.as_str()), (403, "error"));
    assert!(
        other.body.contains("Ask your host to take a device"),
        "the refusal says what the guest can do: {}",
        other.body
    );
    let (_, v) = env.app.get(&format!("/api/v1/vouchers/{code}")).await;
    assert_eq!(v["devices_used"], 1);
    assert_eq!(v["devices_active"], 1);
    assert_eq!(env.app.active_grants().await.len(), 1);
    assert_eq!(
        env.sim.requests_to("/extPortal/auth").len(),
        1,
        "the same device again within the window is answered from its grant"
    );
}

#[tokio::test]
async fn concurrent_redemptions_never_exceed_max_devices() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({"max_devices": 3})).await;
    let mut tasks = Vec::new();
    for i in 0..20u8 {
        let app_portal = env.app.portal.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mac = format!("02-00-00-00-01-{i:02X}");
            let html = http
                .get(format!(
                    "{app_portal}/portal?{}",
                    redirect_query(&mac, "Beach Guest")
                ))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let mut form = common::hidden_fields(&html);
            form.push(("code".into(), code));
            let body = http
                .post(format!("{app_portal}/portal"))
                .form(&form)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            common::result_of(&body)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == "success" {
            ok += 1;
        }
    }
    assert_eq!(ok, 3, "exactly max_devices succeed");
    let (_, v) = env.app.get(&format!("/api/v1/vouchers/{code}")).await;
    assert_eq!(v["devices_used"], 3);
    assert_eq!(env.app.active_grants().await.len(), 3);
    assert_eq!(env.sim.authorized().len(), 3);
}

#[tokio::test]
async fn controller_down_during_redemption_means_try_again_and_no_grant() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({"max_devices": 1})).await;
    env.sim.set_outage(Some(Outage::Drop));
    let r = env.app.redeem(GUEST, &code).await;
    assert_eq!(r.result, "error");
    assert!(r.status >= 500, "{}", r.status);
    assert!(r.body.contains("try again"), "{}", r.body);
    assert!(
        env.app.active_grants().await.is_empty(),
        "no grant without the controller's confirmation"
    );
    let (_, v) = env.app.get(&format!("/api/v1/vouchers/{code}")).await;
    assert_eq!(
        (v["devices_used"].as_u64(), v["status"].as_str()),
        (Some(0), Some("unused")),
        "slot given back"
    );
    let (_, st) = env.app.get("/api/v1/state").await;
    assert_eq!(st["controller"]["connected"], false);
    assert!(st["controller"]["last_error"].is_string());

    env.sim.set_outage(None);
    let r = env.app.redeem(GUEST, &code).await;
    assert_eq!(r.result, "success", "{}", r.body);
    assert_eq!(env.app.active_grants().await.len(), 1);
}

#[tokio::test]
async fn revokes_during_an_outage_are_applied_after_recovery_even_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let env = PortalEnv::start_at(&dir, Default::default()).await;
    let code = env.voucher(json!({})).await;
    let macs = ["02-00-00-00-02-01", "02-00-00-00-02-02"];
    for m in macs {
        assert_eq!(env.app.redeem(m, &code).await.result, "success");
    }
    env.sim.set_outage(Some(Outage::Http503));
    let (s, v) = env
        .app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (200, Some("revoked")),
        "revoke is accepted while the controller is down"
    );
    assert!(env.app.active_grants().await.is_empty());
    assert!(
        eventually(5, || async { env.app.handle.outbox_pending().await == 2 }).await,
        "both unauthorisations queued"
    );
    assert_eq!(
        authorized_macs(&env.sim).len(),
        2,
        "still on the controller during the outage"
    );

    // Restart the sidecar while the controller is still down: the outbox is durable.
    let PortalEnv { app, sim } = env;
    app.stop().await;
    let app = common::TestApp::spawn_full(
        common::config_for(&dir),
        Default::default(),
        common::fast_policy(),
    )
    .await;
    assert_eq!(app.handle.outbox_pending().await, 2);
    sim.set_outage(None);
    app.handle.wake_timers();
    assert!(
        eventually(10, || async { sim.authorized().is_empty() }).await,
        "revokes applied after recovery"
    );
    assert!(eventually(5, || async { app.handle.outbox_pending().await == 0 }).await);
    let (_, st) = app.get("/api/v1/state").await;
    assert_eq!(st["controller"]["outbox_pending"], 0);
}

#[tokio::test]
async fn expiry_takes_devices_off() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({"duration_minutes": 30})).await;
    assert_eq!(env.app.redeem(GUEST, &code).await.result, "success");
    let mut events = env
        .app
        .http
        .get(env.app.url("/api/v1/events"))
        .bearer_auth(&env.app.token)
        .send()
        .await
        .unwrap();
    env.app
        .clock
        .advance(std::time::Duration::from_secs(31 * 60));
    env.app.handle.wake_timers();
    assert!(eventually(5, || async { env.app.active_grants().await.is_empty() }).await);
    assert!(
        eventually(5, || async { env.sim.authorized().is_empty() }).await,
        "unauthorised at the end"
    );
    let (_, g) = env.app.get("/api/v1/grants?active=false").await;
    assert_eq!(g["grants"][0]["status"], "expired");
    assert_eq!(g["grants"][0]["end_reason"], "expired");
    let (_, v) = env.app.get(&format!("/api/v1/vouchers/{code}")).await;
    assert_eq!(v["status"], "expired");
    let mut text = String::new();
    while !text.contains("grant_expired") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), events.chunk())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    // An expired code reads as expired to the guest.
    let r = env.app.redeem("02-00-00-00-03-01", &code).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("expired"), "{}", r.body);
}

#[tokio::test]
async fn extending_or_shortening_a_voucher_moves_its_devices() {
    let env = PortalEnv::start().await;
    let until = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let code = env
        .voucher(json!({"valid_until": fmt(until), "duration_minutes": null}))
        .await;
    assert_eq!(env.app.redeem(GUEST, &code).await.result, "success");
    let before = env.app.active_grants().await[0]["expires_at"].clone();
    let later = until + time::Duration::hours(24);
    let (s, _) = env
        .app
        .patch(
            &format!("/api/v1/vouchers/{code}"),
            json!({"valid_until": fmt(later)}),
        )
        .await;
    assert_eq!(s, 200);
    let after = env.app.active_grants().await[0]["expires_at"].clone();
    assert_ne!(before, after);
    assert_eq!(after.as_str().unwrap(), rental_wifi::clock::rfc3339(later));
    // Hotspot mode carries a duration: the controller gets the new length.
    assert!(
        eventually(5, || async {
            env.sim.requests_to("/extPortal/auth").len() == 2
        })
        .await,
        "re-authorised with the new end"
    );
    let last = env.sim.requests_to("/extPortal/auth").pop().unwrap();
    let time_ms: u64 = last.body.unwrap()["time"]
        .to_string()
        .trim_matches('"')
        .parse()
        .unwrap();
    assert!(time_ms > 25 * 3600 * 1000, "{time_ms}");

    // Shortening into the past ends the grant and unauthorises.
    let past = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let (s, b) = env
        .app
        .patch(
            &format!("/api/v1/vouchers/{code}"),
            json!({"valid_until": fmt(past)}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    env.app.handle.wake_timers();
    assert!(eventually(5, || async { env.sim.authorized().is_empty() }).await);
}

#[tokio::test]
async fn revoking_one_device_keeps_it_off() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({})).await;
    assert_eq!(env.app.redeem(GUEST, &code).await.result, "success");
    assert_eq!(
        env.app.redeem("02-00-00-00-04-01", &code).await.result,
        "success"
    );
    let grants = env.app.active_grants().await;
    let g = grants.iter().find(|g| g["client_mac"] == GUEST).unwrap();
    let (s, r) = env
        .app
        .post(
            &format!("/api/v1/grants/{}/revoke", g["grant_id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("revoked")));
    assert!(eventually(5, || async { !authorized_macs(&env.sim).contains(GUEST) }).await);
    assert!(
        authorized_macs(&env.sim).contains("02-00-00-00-04-01"),
        "the other device stays"
    );
    let again = env.app.redeem(GUEST, &code).await;
    assert_eq!(
        again.result, "error",
        "the host's revoke is not undone by typing the code again"
    );
    let (s, _) = env.app.post("/api/v1/grants/nope/revoke", json!({})).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn brute_force_is_locked_out_with_the_time_shown() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({})).await;
    for i in 0..5 {
        let r = env.app.redeem(GUEST, &format!("WRONG{i}2345")).await;
        assert_eq!(r.status, 403, "attempt {i}");
    }
    let locked = env.app.redeem(GUEST, &code).await;
    assert_eq!(
        locked.status, 429,
        "even the right code waits out the lockout"
    );
    assert!(
        locked.body.contains("10 min") || locked.body.contains("min"),
        "{}",
        locked.body
    );
    assert!(env.app.active_grants().await.is_empty());
    let metrics = env
        .app
        .http
        .get(env.app.url("/metrics"))
        .bearer_auth(&env.app.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("rental_wifi_rate_limit_hits_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rental_wifi_redemptions_total{outcome=\"invalid_code\"} 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn forms_need_a_csrf_token_for_this_device() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({})).await;
    let q = redirect_query(GUEST, "Beach Guest");
    let html = env
        .app
        .http
        .get(format!("{}/portal?{q}", env.app.portal))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = common::hidden_fields(&html);
    // Same token, another device.
    for (k, v) in form.iter_mut() {
        if k == "clientMac" {
            *v = "02-00-00-00-05-01".into();
        }
    }
    form.push(("code".into(), code.clone()));
    let r = env
        .app
        .http
        .post(format!("{}/portal", env.app.portal))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let no_csrf: Vec<(String, String)> = form.into_iter().filter(|(k, _)| k != "csrf").collect();
    let r = env
        .app
        .http
        .post(format!("{}/portal", env.app.portal))
        .form(&no_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(env.app.active_grants().await.is_empty());
    assert!(
        env.sim.requests_to("/extPortal/auth").is_empty(),
        "nothing reached the controller"
    );
}

#[tokio::test]
async fn terms_must_be_accepted_when_the_unit_has_them() {
    let env = PortalEnv::start().await;
    let (s, _) = env
        .app
        .patch(
            "/api/v1/units/beach",
            json!({"terms_url": "https://example.com/terms"}),
        )
        .await;
    assert_eq!(s, 200);
    let code = env.voucher(json!({})).await;
    let html = env
        .app
        .http
        .get(format!(
            "{}/portal?{}",
            env.app.portal,
            redirect_query(GUEST, "Beach Guest")
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"accept_terms\""));
    assert!(html.contains("Beach House"), "the unit's name is shown");
    let r = env.app.redeem(GUEST, &code).await;
    assert_eq!((r.status, r.result.as_str()), (400, "error"));
    let r = env
        .app
        .redeem_with(
            &redirect_query(GUEST, "Beach Guest"),
            &code,
            &[("accept_terms", "1")],
            None,
        )
        .await;
    assert_eq!(r.result, "success");
}

#[tokio::test]
async fn probes_languages_and_safe_continue_links() {
    let env = PortalEnv::start().await;
    for p in [
        "/generate_204",
        "/hotspot-detect.html",
        "/connecttest.txt",
        "/ncsi.txt",
    ] {
        let r = env
            .app
            .http
            .get(format!("{}{p}", env.app.portal))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "{p}");
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .contains("/portal"),
            "{p}"
        );
    }
    let r = env
        .app
        .http
        .get(format!(
            "{}/portal?{}",
            env.app.portal,
            redirect_query(GUEST, "Beach Guest")
        ))
        .header("accept-language", "de-CH,de;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("lang=\"de\""));
    let code = env.voucher(json!({})).await;
    let q = redirect_query(GUEST, "Beach Guest")
        .replace("http%3A%2F%2Fexample.com%2F", "javascript%3Aalert(1)");
    let r = env.app.redeem_with(&q, &code, &[], Some("fr")).await;
    assert_eq!(r.result, "success");
    assert!(
        !r.body.contains("javascript:"),
        "never a link to a non-http(s) URL"
    );
    assert!(r.body.contains("lang=\"fr\""));
}

#[tokio::test]
async fn open_api_mode_authorizes_and_unauthorizes_at_the_end() {
    let env = PortalEnv::start().await;
    let settings = serde_json::to_value(env.sim.openapi_settings()).unwrap();
    let (s, b) = env
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/omada",
            Some(settings),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, st) = env.app.get("/api/v1/state").await;
    assert_eq!(st["controller"]["mode"], "openapi");
    let code = env.voucher(json!({"duration_minutes": 10})).await;
    assert_eq!(env.app.redeem(GUEST, &code).await.result, "success");
    let auth = env.sim.requests_to("/auth");
    assert!(
        auth.iter()
            .any(|r| r.path.contains(&format!("/hotspot/clients/{GUEST}/auth"))),
        "{auth:?}"
    );
    env.app
        .clock
        .advance(std::time::Duration::from_secs(11 * 60));
    env.app.handle.wake_timers();
    // Through the authorised-client record (an `unauth` misses a device that is away).
    assert!(
        eventually(5, || async {
            env.sim.requests_to("/disconnect").len() == 1
        })
        .await,
        "the sidecar ends Open API grants itself"
    );
    assert!(env.sim.authorized().is_empty());
}

#[tokio::test]
async fn settings_never_return_secrets_and_bad_credentials_are_refused() {
    let env = PortalEnv::start().await;
    let (s, b) = env.app.get("/api/v1/settings/omada").await;
    assert_eq!(s, 200);
    assert_eq!(b["password"], "***");
    assert!(!b.to_string().contains("operator-pass"));
    let mut bad = serde_json::to_value(env.sim.hotspot_settings()).unwrap();
    bad["password"] = json!("wrong");
    let (s, b) = env
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/omada",
            Some(bad.clone()),
        )
        .await;
    assert_eq!(
        (s, common::err_code(&b)),
        (422, "controller_auth_failed"),
        "{b}"
    );
    // Nothing stored: the good settings still work.
    let code = env.voucher(json!({})).await;
    assert_eq!(env.app.redeem(GUEST, &code).await.result, "success");
    // "***" keeps the stored password.
    let mut masked = serde_json::to_value(env.sim.hotspot_settings()).unwrap();
    masked["password"] = json!("***");
    let (s, b) = env
        .app
        .send(reqwest::Method::PUT, "/api/v1/settings/omada", Some(masked))
        .await;
    assert_eq!(s, 200, "{b}");
    // Unreachable controller.
    let mut gone = serde_json::to_value(env.sim.hotspot_settings()).unwrap();
    gone["base_url"] = json!("http://127.0.0.1:9");
    let (s, b) = env
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/omada",
            Some(gone.clone()),
        )
        .await;
    assert_eq!(
        (s, common::err_code(&b)),
        (503, "controller_unavailable"),
        "{b}"
    );
    let (s, _) = env
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/omada?validate=false",
            Some(gone),
        )
        .await;
    assert_eq!(s, 200, "validate=false skips the login");
    let mut unknown = serde_json::to_value(env.sim.hotspot_settings()).unwrap();
    unknown["colour"] = json!("blue");
    let (s, b) = env
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/omada",
            Some(unknown),
        )
        .await;
    assert_eq!((s, common::err_code(&b)), (400, "unknown_field"));
    assert_eq!(env.app.delete("/api/v1/settings/omada").await, 204);
    let (s, _) = env.app.get("/api/v1/settings/omada").await;
    assert_eq!(s, 404);
    // At rest the password is sealed.
    let db = std::fs::read(env.app.data_dir.join(rental_wifi::app::DB_FILE)).unwrap();
    assert!(!db.windows(13).any(|w| w == b"operator-pass"));
}

#[tokio::test]
async fn an_unfinished_redemption_from_before_a_crash_is_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let env = PortalEnv::start_at(&dir, Default::default()).await;
    let code = env.voucher(json!({"max_devices": 1})).await;
    let PortalEnv { app, sim } = env;
    app.stop().await;
    // What a kill -9 between "slot reserved" and "controller confirmed" leaves behind.
    let conn = rusqlite::Connection::open(dir.join(rental_wifi::app::DB_FILE)).unwrap();
    conn.execute(
        "INSERT INTO grants (grant_id, code, unit_id, client_mac, site, state, created_at, expires_at) VALUES ('g1', ?1, 'beach', ?2, 'Default', 'pending', 0, 9999999999999)",
        rusqlite::params![code, GUEST],
    )
    .unwrap();
    conn.execute(
        "UPDATE vouchers SET devices_used = 1 WHERE code = ?1",
        [&code],
    )
    .unwrap();
    drop(conn);
    let app = common::TestApp::spawn_full(
        common::config_for(&dir),
        Default::default(),
        common::fast_policy(),
    )
    .await;
    let (_, v) = {
        let mut last = (0, serde_json::Value::Null);
        for _ in 0..50 {
            last = app.get(&format!("/api/v1/vouchers/{code}")).await;
            if last.1["devices_used"] == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        last
    };
    assert_eq!(v["devices_used"], 0, "slot freed");
    assert!(
        eventually(5, || async {
            sim.requests_to("/disconnect").len() + sim.requests_to("/clients").len() > 0
        })
        .await,
        "the controller was asked to forget the device"
    );
    let mac: Mac = GUEST.parse().unwrap();
    let r = app.redeem(&mac.to_string(), &code).await;
    assert_eq!(r.result, "success");
}
