//! Token manager and API client against the simulated Plume cloud over real HTTP.

use std::time::Duration;

use rental_wifi::clock::Clock;
use rental_wifi::plume::{
    evaluate, http_client, HealthStatus, PlumeClient, PlumeError, PlumeSettings, TokenManager,
    TokenOptions,
};
use rental_wifi::sim::plume::{self as sim, PlumeSim, PlumeSimConfig, Scenario, WafBody};
use rental_wifi::unit_health::Source;

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
                "Pod 'Pod 3' health is poor (score 1)",
                "Pod 'Pod 3' has alert highInterference (Plume does not document their severity; not counted)",
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
            HealthStatus::Red,
            vec!["Wi-Fi is switched off on the pods (service level noService)"],
            3,
            4,
        ),
        (
            Scenario::BasicService,
            HealthStatus::Green,
            vec!["Service tier is basicService (some adaptive Wi-Fi and security features are off)"],
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
        (
            Scenario::UnknownWords,
            HealthStatus::Yellow,
            vec![
                "Pod 'Pod 3' health is 'marginal', a word Plume does not document",
                "Devices report health 'so-so', which Plume does not document",
            ],
            3,
            4,
        ),
        (
            Scenario::LowScore,
            HealthStatus::Yellow,
            vec!["Pod 'Pod 3' health is good (score 1)"],
            3,
            4,
        ),
        (
            Scenario::UndocumentedAlerts,
            HealthStatus::Green,
            vec![
                "Pod 'Living room' has alert channelChange (Plume does not document their severity; not counted)",
                "Pod 'Bedroom' has alert highInterference (Plume does not document their severity; not counted)",
            ],
            3,
            4,
        ),
        (
            Scenario::PoorHealthAlert,
            HealthStatus::Yellow,
            vec!["Pod 'Bedroom' has a poorHealth alert"],
            3,
            4,
        ),
        (Scenario::NoWifiNetwork, HealthStatus::Green, vec![], 3, 4),
    ];
    for (i, (scenario, status, reasons, pods, devices)) in cases.into_iter().enumerate() {
        let l = loc_id(i as u32);
        sim.add_location(C, &l, scenario);
        let location = client.location(C, &l).await.unwrap();
        let nodes = client.nodes(C, &l).await.unwrap();
        let devs = client.devices(C, &l).await.unwrap();
        assert!(
            nodes.skipped.is_empty() && devs.skipped.is_empty(),
            "{scenario:?}"
        );
        let r = evaluate(&location, &nodes.items, &devs.items, &[]);
        assert_eq!(r.status, status, "{scenario:?}: {r:?}");
        assert_eq!(r.reasons, reasons, "{scenario:?}");
        assert_eq!(
            (r.pods_connected, r.pods_total, r.devices_connected),
            (pods, 3, devices),
            "{scenario:?}"
        );
        let online = !matches!(scenario, Scenario::Offline | Scenario::NoService);
        assert_eq!(r.online, online, "{scenario:?}");
        assert!(!r.misconfigured, "{scenario:?}");
        assert!(
            r.reason_details.iter().all(|f| f.source == Source::Plume),
            "{scenario:?}"
        );
    }
    // not_found: 404 for the location, named as such.
    sim.add_location(C, &loc_id(99), Scenario::NotFound);
    assert_eq!(
        client.location(C, &loc_id(99)).await.unwrap_err(),
        PlumeError::LocationNotFound {
            customer_id: C.into(),
            location_id: loc_id(99),
            known: vec![]
        }
    );
    sim.shutdown().await;
}

/// Issue 15 item 3: one odd field never drops a pod or a device; what was left out is named.
#[tokio::test]
async fn plume_odd_fields_keep_every_pod_and_device_and_are_reported() {
    let sim = start().await;
    let l = loc_id(40);
    sim.add_location(C, &l, Scenario::OddFields);
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));
    let location = client.location(C, &l).await.unwrap();
    let nodes = client.nodes(C, &l).await.unwrap();
    let devs = client.devices(C, &l).await.unwrap();
    assert_eq!(nodes.items.len(), 3, "{nodes:?}");
    assert_eq!(devs.items.len(), 5, "{devs:?}");
    assert_eq!(
        nodes.items[0].model.as_deref(),
        Some("403"),
        "number read as text"
    );
    assert_eq!(
        nodes.items[1].display_name(),
        "Pod 2",
        "odd nickname falls back"
    );
    assert_eq!(nodes.items[2].health.as_ref().unwrap().score, Some(5.0));
    assert_eq!(devs.items[1].display_name(), "12345");
    assert_eq!(
        nodes.skipped,
        vec![
            "nodes[0].backhaulType (object)",
            "nodes[1].nickname (object)",
            "nodes[1].alerts (object)"
        ]
    );
    assert_eq!(
        devs.skipped,
        vec!["devices[0].health (list)", "devices[3].freqBand (list)"]
    );
    let skipped: Vec<String> = nodes.skipped.iter().chain(&devs.skipped).cloned().collect();
    let r = evaluate(&location, &nodes.items, &devs.items, &skipped);
    assert_eq!(r.status, HealthStatus::Green);
    assert_eq!((r.pods_connected, r.devices_connected), (3, 4));
    assert_eq!(
        r.reasons,
        vec!["Plume sent 5 fields that could not be read (nodes[0].backhaulType (object), nodes[1].nickname (object), nodes[1].alerts (object), devices[0].health (list), devices[3].freqBand (list)); the rest was used"]
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
    assert_eq!(wrapped.0.items.len(), 3);
    assert_eq!(wrapped.1.items.len(), 5);
    assert_eq!(bare.0, wrapped.0);
    assert_eq!(bare.1, wrapped.1);
    // States in the sim come as "Connected", "DISCONNECTED", "CONNECTED".
    let states: Vec<_> = bare
        .0
        .items
        .iter()
        .map(|n| n.connection_state.clone().unwrap())
        .collect();
    assert_eq!(states, vec!["Connected", "DISCONNECTED", "CONNECTED"]);
    assert_eq!(bare.0.items.iter().filter(|n| n.is_connected()).count(), 2);

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

/// Issue 15 item 5: SSIDs from `/wifiNetwork/ssid` (no key travels), devices on every SSID.
#[tokio::test]
async fn plume_ssid_never_fetches_the_key_and_devices_ask_for_all_ssids() {
    let sim = start().await;
    let l = loc_id(2);
    sim.add_location(C, &l, Scenario::Fine);
    sim.add_location(C, &loc_id(22), Scenario::NoWifiNetwork);
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));
    assert_eq!(
        client.ssid(C, &l).await.unwrap(),
        Some(PlumeSim::ssid_for(&l))
    );
    assert_eq!(
        client.ssid(C, &loc_id(22)).await.unwrap(),
        None,
        "404: none yet"
    );
    client.devices(C, &l).await.unwrap();
    let reqs = sim.requests();
    assert!(
        reqs.iter().all(|r| r.kind != "wifiNetwork"),
        "the endpoint that carries the key is never called: {reqs:?}"
    );
    assert_eq!(reqs.iter().filter(|r| r.kind == "ssid").count(), 2);
    let devices = reqs.iter().find(|r| r.kind == "devices").unwrap();
    assert_eq!(devices.query.as_deref(), Some("allSSIDs=true"));
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

/// Issue 15 item 2: a 401 for an unknown customer is that customer (the unit is
/// misconfigured), not the token, and costs at most one extra mint, ever.
#[tokio::test]
async fn plume_unknown_customer_401_is_the_customer_and_does_not_remint_in_a_loop() {
    let sim = start().await;
    sim.add_location(C, &loc_id(4), Scenario::Fine);
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));
    let stranger = "aaaaaaaaaaaaaaaaaaaaaaaa";
    for _ in 0..10 {
        let err = client.location(stranger, &loc_id(4)).await.unwrap_err();
        assert_eq!(
            err,
            PlumeError::CustomerNotFound {
                customer_id: stranger.into()
            }
        );
        assert!(err.is_misconfiguration() && !err.is_upstream_wide());
    }
    assert_eq!(
        sim.counters().token_requests,
        2,
        "the first mint and one re-mint to rule the token out: {:?}",
        sim.counters()
    );
    // The token works for the known customer, and a second stranger costs no mint at all: a
    // token that worked is not the problem.
    client.location(C, &loc_id(4)).await.unwrap();
    let other = "bbbbbbbbbbbbbbbbbbbbbbbb";
    for _ in 0..5 {
        assert!(matches!(
            client.nodes(other, &loc_id(4)).await.unwrap_err(),
            PlumeError::CustomerNotFound { .. }
        ));
    }
    assert_eq!(sim.counters().token_requests, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_bad_credentials_fail_with_the_status_and_back_off() {
    let sim = start().await;
    let tm = tokens(&Clock::system());
    let mut s = settings(&sim);
    s.auth_header = "Basic c2ltLWNsaWVudDp3cm9uZw==".into(); // sim-client:wrong
    let err = tm.token(&s).await.unwrap_err();
    let wrong_client = "OAuth token request failed: 401 (invalid_client): wrong client id or secret; check the Authorization header";
    assert_eq!(err.to_string(), wrong_client);
    assert_eq!(err.field(), Some("auth_header"));
    for _ in 0..20 {
        assert_eq!(tm.token(&s).await.unwrap_err().to_string(), wrong_client);
    }
    assert_eq!(sim.counters().token_requests, 1, "backed off, no hammering");
    // A person re-testing the settings gets a real attempt.
    assert!(tm.verify(&s).await.is_err());
    assert_eq!(sim.counters().token_requests, 2);

    // A wrong partner id reads differently from wrong credentials (Okta `invalid_scope`).
    let mut s = settings(&sim);
    s.partner_id = "000000000000000000000000".into();
    let err = tm.token(&s).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "OAuth token request failed: 400 (invalid_scope): the partner ID is not one these credentials may use; check the partner ID"
    );
    assert_eq!(err.field(), Some("partner_id"));
    // A wrong authorization server id in the SSO URL.
    let mut s = settings(&sim);
    s.sso_url = s.sso_url.replace("ausSim0rentalWifi357", "ausWrong");
    let err = tm.token(&s).await.unwrap_err();
    assert_eq!(err.field(), Some("sso_url"), "{err}");
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
    assert_eq!(loc.network_status.as_deref(), Some("offline"));
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
        "Plume rate limit reached (403/429): data is kept and polling resumes when it lifts"
    );
    sim.shutdown().await;
}

/// Issue 15 item 2: whatever the WAF answers (403 bare, HTML, JSON that is not LoopBack's, or
/// 429) is a rate limit; only a LoopBack 403 is a refusal of this location.
#[tokio::test]
async fn plume_rate_limit_403_with_or_without_a_body_and_429_are_rate_limits() {
    let sim = start().await;
    let l = loc_id(7);
    sim.add_location(C, &l, Scenario::Fine);
    sim.add_location(C, &loc_id(8), Scenario::Forbidden);
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));
    client.location(C, &l).await.unwrap();
    assert!(matches!(
        client.location(C, &loc_id(8)).await.unwrap_err(),
        PlumeError::Forbidden(m) if m.contains("not allowed for this partnerId")
    ));
    sim.set_rate_limited(true);
    for (status, body) in [
        (403, WafBody::Empty),
        (403, WafBody::Html),
        (403, WafBody::Json),
        (403, WafBody::ErrorString),
        (429, WafBody::Empty),
        (429, WafBody::Json),
    ] {
        sim.set_waf_answer(status, body);
        let err = client.location(C, &l).await.unwrap_err();
        assert_eq!(err, PlumeError::RateLimited, "{status} {body:?}");
        assert!(err.is_upstream_wide() && !err.is_misconfiguration());
    }
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        &statuses[statuses.len() - 6..],
        &[403, 403, 403, 403, 429, 429]
    );
    sim.shutdown().await;
}

/// Issue 15 item 1: the settings check is an authenticated API call that fails, naming the
/// URL, for a base without `/api`, another Plume cloud's API, something that is not the Plume
/// API, and a host that does not answer.
#[tokio::test]
async fn plume_check_api_names_a_wrong_base() {
    let sim = start().await;
    let other_region = sim::start(PlumeSimConfig {
        auth_server_id: "ausOtherCloud".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let tm = tokens(&Clock::system());
    let with_base = |base: String| {
        let mut s = settings(&sim);
        s.api_base = base;
        PlumeClient::new(s, tm.clone())
    };
    with_base(sim.api_base()).check_api().await.unwrap();
    with_base(format!("{}/", sim.api_base()))
        .check_api()
        .await
        .unwrap();
    assert_eq!(sim.counters().per_kind["partner"], 2, "one call each");

    let err = with_base(sim.base_url()).check_api().await.unwrap_err();
    let m = err.to_string();
    assert!(matches!(err, PlumeError::ApiBase(_)), "{err:?}");
    assert!(
        m.contains(&sim.base_url()) && m.contains("Cannot GET"),
        "{m}"
    );
    assert!(
        m.contains(&format!("did you mean {}/api ?", sim.base_url())),
        "{m}"
    );
    assert_eq!(err.field(), Some("api_base"));

    // Another Plume cloud does not know this SSO's tokens.
    let err = with_base(other_region.api_base())
        .check_api()
        .await
        .unwrap_err();
    let m = err.to_string();
    assert!(m.contains(&other_region.api_base()), "{m}");
    assert!(m.contains("refused a freshly minted token (401)"), "{m}");
    assert!(m.contains("same Plume cloud"), "{m}");

    // Something that is not the Plume API (the simulator's own control path).
    let err = with_base(format!("{}/_sim", sim.base_url()))
        .check_api()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("No Plume API route at {}/_sim", sim.base_url())),
        "{err}"
    );

    // Nothing listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = with_base(format!("http://{closed}/api"))
        .check_api()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Plume unreachable: cannot reach the Plume API at http://{closed}/api (connection failed)"
        )
    );
    other_region.shutdown().await;
    sim.shutdown().await;
}

/// Issue 15 item 1 (unit side): a unit's ids are verified with a message naming the wrong one.
#[tokio::test]
async fn plume_verify_location_names_the_wrong_id() {
    let sim = start().await;
    sim.add_location(C, &loc_id(10), Scenario::Fine);
    sim.add_location(C, &loc_id(11), Scenario::PodDown);
    sim.add_location("642cc40d71d99d000a6115ff", &loc_id(12), Scenario::Forbidden);
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));
    let ok = client.verify_location(C, &loc_id(10)).await.unwrap();
    assert_eq!(
        ok.name,
        Some(format!("Rental {}", loc_id(10)[20..].to_uppercase()))
    );
    assert_eq!(
        (ok.customer_id.as_str(), ok.location_id.as_str()),
        (C, loc_id(10).as_str())
    );

    let err = client
        .verify_location(C, "642cc40d71d99d000a61ffff")
        .await
        .unwrap_err();
    let m = err.to_string();
    assert!(matches!(err, PlumeError::LocationNotFound { .. }));
    assert!(
        m.contains("has no location 642cc40d71d99d000a61ffff (404)"),
        "{m}"
    );
    assert!(m.contains(&format!("{} (Rental", loc_id(10))), "{m}");
    assert!(m.contains(&format!("{} (Rental", loc_id(11))), "{m}");
    assert_eq!(err.field(), Some("plume_location_id"));

    let err = client
        .verify_location("ffffffffffffffffffffffff", &loc_id(10))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PlumeError::CustomerNotFound {
            customer_id: "ffffffffffffffffffffffff".into()
        }
    );
    assert_eq!(err.field(), Some("plume_customer_id"));

    let err = client
        .verify_location("642cc40d71d99d000a6115ff", &loc_id(12))
        .await
        .unwrap_err();
    assert!(matches!(err, PlumeError::Forbidden(_)) && err.is_misconfiguration());
    sim.shutdown().await;
}

/// Issue 15 item 5: a unit's ids from the serial printed on a pod, or from the CRM account id,
/// as Plume documents.
#[tokio::test]
async fn plume_ids_from_a_pod_serial_or_an_account_id() {
    let sim = start().await;
    let other = "642cc40d71d99d000a6115aa";
    sim.add_location(C, &loc_id(20), Scenario::Fine);
    sim.add_location(C, &loc_id(21), Scenario::Fine);
    sim.add_location(other, &loc_id(30), Scenario::Fine);
    sim.add_unclaimed_node("SIMNEW0001");
    let client = PlumeClient::new(settings(&sim), tokens(&Clock::system()));

    let serial = PlumeSim::node_serials(&loc_id(21))[1].clone();
    let owner = client.find_by_serial(&serial.to_lowercase()).await.unwrap();
    assert_eq!(
        (owner.customer_id.as_str(), owner.location_id.as_str()),
        (C, loc_id(21).as_str())
    );
    assert_eq!(owner.serial_number, serial);
    assert_eq!(
        client
            .find_by_serial("NOSUCHPOD")
            .await
            .unwrap_err()
            .to_string(),
        "Plume knows no pod or gateway with serial number NOSUCHPOD (404)"
    );
    assert_eq!(
        client.find_by_serial("SIMNEW0001").await.unwrap_err(),
        PlumeError::Unclaimed {
            serial: "SIMNEW0001".into()
        }
    );

    let found = client
        .find_by_account_id(&PlumeSim::account_id_for(C))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].customer_id, C);
    let mut ids = found[0].location_ids.clone();
    ids.sort();
    assert_eq!(ids, vec![loc_id(20), loc_id(21)]);
    assert!(found[0].name.is_some());
    assert!(client
        .find_by_account_id("acct-NONE")
        .await
        .unwrap()
        .is_empty());

    let locs = client.locations(other).await.unwrap();
    assert_eq!(locs.len(), 1);
    assert_eq!(locs[0].id, loc_id(30));
    let search = sim
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/search/"))
        .unwrap();
    assert_eq!(
        search.query.as_deref(),
        Some("field=accountId&exactMatch=true")
    );
    sim.shutdown().await;
}
