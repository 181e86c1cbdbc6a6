//! Token manager and API client against the simulated Plume cloud over real HTTP.

use std::time::Duration;

use rental_wifi::clock::Clock;
use rental_wifi::plume::{
    evaluate, http_client, HealthStatus, PlumeClient, PlumeError, PlumeSettings, TokenManager,
    TokenOptions,
};
use rental_wifi::sim::plume::{self as sim, PlumeSim, PlumeSimConfig, Scenario};

const C: &str = "642cc40d71d99d000a611549";

fn settings(sim: &PlumeSim) -> PlumeSettings {
    PlumeSettings {
        sso_url: sim.sso_url(),
        auth_header: sim.auth_header(),
        partner_id: sim.partner_id(),
        api_base: sim.api_base(),
        poll_interval_seconds: 60,
    }
}

fn tokens(clock: &Clock) -> TokenManager {
    TokenManager::new(http_client().unwrap(), clock.clone())
}

async fn start() -> PlumeSim {
    sim::start(PlumeSimConfig::default()).await.unwrap()
}

fn loc_id(n: u32) -> String {
    format!("642cc40d71d99d000a61{n:04x}")
}

#[tokio::test]
async fn plume_every_scenario_evaluates_to_its_rule_and_reasons() {
    let sim = start().await;
    let s = settings(&sim);
    assert_eq!(s.validate(), Ok(()), "loopback http settings are valid");
    let client = PlumeClient::new(s, tokens(&Clock::system()));
    let cases: Vec<(Scenario, HealthStatus, Vec<&str>, u32, u32)> = vec![
        (Scenario::Fine, HealthStatus::Green, vec![], 3, 4),
        (
            Scenario::PodDown,
            HealthStatus::Orange,
            vec!["Pod 'Bedroom' disconnected"],
            2,
            3,
        ),
        (
            Scenario::PoorHealth,
            HealthStatus::Yellow,
            vec![
                "Pod 'Pod 3' health is poor",
                "Pod 'Pod 3' has 1 alert: highInterference",
            ],
            3,
            4,
        ),
        (
            Scenario::Offline,
            HealthStatus::Red,
            vec![
                "Location is offline",
                "No pod is connected",
                "Pod 'Living room' disconnected",
                "Pod 'Bedroom' disconnected",
                "Pod 'Pod 3' disconnected",
            ],
            0,
            0,
        ),
        (
            Scenario::NoService,
            HealthStatus::Orange,
            vec!["Service level is noService"],
            3,
            4,
        ),
        (
            Scenario::BasicService,
            HealthStatus::Yellow,
            vec!["Service level is basicService"],
            3,
            4,
        ),
        (
            Scenario::DevicesPoor,
            HealthStatus::Yellow,
            vec!["1 device reports poor health"],
            3,
            4,
        ),
    ];
    for (i, (scenario, status, reasons, pods, devices)) in cases.into_iter().enumerate() {
        let l = loc_id(i as u32);
        sim.add_location(C, &l, scenario);
        let location = client.location(C, &l).await.unwrap();
        let nodes = client.nodes(C, &l).await.unwrap();
        let devs = client.devices(C, &l).await.unwrap();
        let level = client.service_level(C, &l).await.unwrap();
        let r = evaluate(&location, &nodes, &devs, Some(&level));
        assert_eq!(r.status, status, "{scenario:?}: {r:?}");
        assert_eq!(r.reasons, reasons, "{scenario:?}");
        assert_eq!(
            (r.pods_connected, r.pods_total, r.devices_connected),
            (pods, 3, devices),
            "{scenario:?}"
        );
        assert_eq!(r.online, scenario != Scenario::Offline, "{scenario:?}");
    }
    // not_found: 404 for the location.
    sim.add_location(C, &loc_id(99), Scenario::NotFound);
    assert_eq!(
        client.location(C, &loc_id(99)).await.unwrap_err(),
        PlumeError::NotFound
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_both_envelopes_and_case_insensitive_paths() {
    let sim = start().await;
    let l = loc_id(1);
    sim.add_location(C, &l, Scenario::PodDown);
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));
    let wrapped = (
        client.nodes(C, &l).await.unwrap(),
        client.devices(C, &l).await.unwrap(),
    );
    sim.set_bare_list(true);
    let bare = (
        client.nodes(C, &l).await.unwrap(),
        client.devices(C, &l).await.unwrap(),
    );
    assert_eq!(wrapped.0.len(), 3);
    assert_eq!(wrapped.1.len(), 5);
    assert_eq!(bare.0.len(), wrapped.0.len());
    assert_eq!(bare.1.len(), wrapped.1.len());
    // States in the sim come as "Connected", "DISCONNECTED", "CONNECTED".
    let states: Vec<_> = bare
        .0
        .iter()
        .map(|n| n.connection_state.clone().unwrap())
        .collect();
    assert_eq!(states, vec!["Connected", "DISCONNECTED", "CONNECTED"]);
    assert_eq!(bare.0.iter().filter(|n| n.is_connected()).count(), 2);

    // The simulator matches paths case-insensitively, as Plume's docs and clients mix cases.
    let http = http_client().unwrap();
    let token = TokenManager::new(http_client().unwrap(), Clock::system())
        .token(&settings(&sim))
        .await
        .unwrap();
    let url = format!(
        "{}/CUSTOMERS/{}/Locations/{}/NODES",
        sim.api_base().replace("/api", "/API"),
        C.to_uppercase(),
        l
    );
    let resp = http
        .get(url)
        .bearer_auth(token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let none = http
        .get(format!(
            "{}/Customers/{C}/locations/{l}/nodes",
            sim.api_base()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AUTHORIZATION_REQUIRED");
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_wifi_network_gives_ssid_and_never_keeps_the_key() {
    let sim = start().await;
    let l = loc_id(2);
    sim.add_location(C, &l, Scenario::Fine);
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));
    let w = client.wifi_network(C, &l).await.unwrap().unwrap();
    assert_eq!(w.ssid.as_deref(), Some(PlumeSim::ssid_for(&l).as_str()));
    assert!(!format!("{w:?}").contains(&sim.config().wifi_psk));
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_token_is_cached_and_refreshed_when_under_60s_remain() {
    let sim = sim::start(PlumeSimConfig {
        expires_in: 600,
        ..Default::default()
    })
    .await
    .unwrap();
    let clock = Clock::system();
    let tm = tokens(&clock);
    let s = settings(&sim);
    let t1 = tm.token(&s).await.unwrap();
    assert_eq!(tm.token(&s).await.unwrap(), t1);
    clock.advance(Duration::from_secs(538));
    assert_eq!(tm.token(&s).await.unwrap(), t1, "62 s left: still cached");
    assert_eq!(sim.counters().token_requests, 1);
    clock.advance(Duration::from_secs(3));
    let t2 = tm.token(&s).await.unwrap();
    assert_ne!(t2, t1, "59 s left: refreshed");
    assert_eq!(sim.counters().token_requests, 2);

    // Short lifetimes from the SSO are honoured too (61 s → refresh right away after 1 s).
    sim.set_expires_in(62);
    clock.advance(Duration::from_secs(600));
    let t3 = tm.token(&s).await.unwrap();
    assert_eq!(tm.token(&s).await.unwrap(), t3);
    clock.advance(Duration::from_millis(2100));
    assert_ne!(tm.token(&s).await.unwrap(), t3);
    assert_eq!(sim.counters().token_requests, 4);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plume_1000_concurrent_callers_cause_one_oauth_call() {
    let sim = start().await;
    sim.set_slow_ms(300); // the refresh is in flight while everyone asks
    let clock = Clock::system();
    let tm = tokens(&clock);
    let s = settings(&sim);
    let run = |tm: TokenManager, s: PlumeSettings| async move {
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let (tm, s) = (tm.clone(), s.clone());
                tokio::spawn(async move { tm.token(&s).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    };
    let cold = run(tm.clone(), s.clone()).await;
    assert_eq!(sim.counters().token_requests, 1, "cold start");
    assert!(cold.iter().all(|t| *t == cold[0]));
    // Inside the refresh window: still exactly one more call.
    clock.advance(Duration::from_secs(545));
    let warm = run(tm.clone(), s.clone()).await;
    assert_eq!(sim.counters().token_requests, 2, "refresh");
    let new = tm.token(&s).await.unwrap();
    assert_ne!(new, cold[0]);
    // Callers either got the old, still valid token (no waiting) or the refreshed one.
    assert!(warm.iter().all(|t| *t == cold[0] || *t == new));
    assert!(warm.contains(&new));
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_revoked_token_is_reminted_once_then_succeeds() {
    let sim = start().await;
    let l = loc_id(3);
    sim.add_location(C, &l, Scenario::Fine);
    let tm = TokenManager::with_options(
        http_client().unwrap(),
        Clock::system(),
        TokenOptions {
            min_mint_interval: Duration::ZERO,
            ..Default::default()
        },
    );
    let client = PlumeClient::new(settings(&sim), tm);
    client.location(C, &l).await.unwrap();
    sim.revoke_all_tokens();
    client.location(C, &l).await.expect("re-minted and retried");
    let c = sim.counters();
    assert_eq!(c.token_requests, 2);
    assert_eq!(c.per_kind["location"], 3, "ok, 401, retry ok");
    assert_eq!(c.per_status[&401], 1);

    // A 401 that survives a fresh token is not answered with endless re-mints.
    sim.revoke_all_tokens();
    let err = client.location(C, &l).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Auth failed. Your token may be invalid or expired"
    );
    assert_eq!(sim.counters().token_requests, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_unknown_customer_401_does_not_hammer_the_sso() {
    let sim = start().await;
    sim.add_location(C, &loc_id(4), Scenario::Fine);
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));
    for _ in 0..10 {
        let err = client
            .location("aaaaaaaaaaaaaaaaaaaaaaaa", &loc_id(4))
            .await
            .unwrap_err();
        assert_eq!(err, PlumeError::AuthFailed);
    }
    assert!(sim.counters().token_requests <= 2, "{:?}", sim.counters());
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_bad_credentials_fail_with_the_status_and_back_off() {
    let sim = start().await;
    let tm = tokens(&Clock::system());
    let mut s = settings(&sim);
    s.auth_header = "Basic c2ltLWNsaWVudDp3cm9uZw==".into(); // sim-client:wrong
    let err = tm.token(&s).await.unwrap_err();
    assert_eq!(err.to_string(), "OAuth token request failed: 401");
    for _ in 0..20 {
        assert_eq!(
            tm.token(&s).await.unwrap_err().to_string(),
            "OAuth token request failed: 401"
        );
    }
    assert_eq!(sim.counters().token_requests, 1, "backed off, no hammering");
    // A person re-testing the settings gets a real attempt.
    assert!(tm.verify(&s).await.is_err());
    assert_eq!(sim.counters().token_requests, 2);

    let mut s = settings(&sim);
    s.partner_id = "000000000000000000000000".into();
    assert_eq!(
        tm.token(&s).await.unwrap_err().to_string(),
        "OAuth token request failed: 400"
    );
    let mut s = settings(&sim);
    s.auth_header = "".into();
    assert_eq!(
        s.validate().unwrap_err().message,
        "Authorization header cannot be empty"
    );
    // Good credentials work, bare base64 as well.
    let mut s = settings(&sim);
    s.auth_header = s.auth_header.trim_start_matches("Basic ").to_string();
    tm.verify(&s).await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_sso_rejects_missing_header_wrong_grant_and_scope() {
    let sim = start().await;
    let http = http_client().unwrap();
    let scope = format!("partnerId:{} role:partnerIdAdmin", sim.partner_id());
    let post = |auth: Option<String>, grant: &str, scope: &str| {
        let mut r = http.post(sim.sso_url()).form(&[
            ("grant_type", grant.to_string()),
            ("scope", scope.to_string()),
        ]);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let r = post(None, "client_credentials", &scope).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let r = post(Some(sim.auth_header()), "password", &scope)
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let r = post(
        Some(sim.auth_header()),
        "client_credentials",
        "partnerId:x role:partnerIdAdmin",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_scope"
    );
    let r = post(Some(sim.auth_header()), "client_credentials", &scope)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(sim.counters().token_requests, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_sim_control_api_over_http() {
    let sim = start().await;
    let http = http_client().unwrap();
    let base = sim.base_url();
    let l = loc_id(5);
    let r = http
        .post(format!("{base}/_sim/scenario"))
        .json(&serde_json::json!({"customer_id": C, "location_id": l, "scenario": "offline"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));
    let loc = client.location(C, &l).await.unwrap();
    assert_eq!(
        loc.network_status.unwrap().status.as_deref(),
        Some("offline")
    );
    let r = http
        .post(format!("{base}/_sim/behaviour"))
        .json(&serde_json::json!({"rate_limited": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["rate_limited"],
        true
    );
    assert_eq!(
        client.location(C, &l).await.unwrap_err(),
        PlumeError::RateLimited
    );
    http.post(format!("{base}/_sim/behaviour"))
        .json(&serde_json::json!({"rate_limited": false, "outage": true}))
        .send()
        .await
        .unwrap();
    assert!(client.location(C, &l).await.unwrap_err().is_transient());
    let counters: serde_json::Value = http
        .get(format!("{base}/_sim/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["api_requests"], 3);
    assert_eq!(counters["token_requests"], 1);
    let bad = http
        .post(format!("{base}/_sim/behaviour"))
        .json(&serde_json::json!({"nope": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    http.post(format!("{base}/_sim/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(sim.counters().api_requests, 0);
    // Reset also revoked tokens and cleared the outage: the client re-mints once and reads.
    client.location(C, &l).await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_waf_emulation_returns_bare_403_after_the_limit() {
    let sim = start().await;
    sim.set_waf_limit(3, Duration::from_secs(60));
    let l = loc_id(6);
    sim.add_location(C, &l, Scenario::Fine);
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));
    for _ in 0..3 {
        client.location(C, &l).await.unwrap();
    }
    assert_eq!(
        client.location(C, &l).await.unwrap_err(),
        PlumeError::RateLimited
    );
    assert_eq!(
        PlumeError::RateLimited.to_string(),
        "Plume rate limit reached (403)"
    );
    sim.shutdown().await;
}
