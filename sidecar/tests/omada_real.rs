//! The Omada client against the simulator's real-controller behaviour (issue 12): site ids in
//! Hotspot-Manager paths, revokes that reach a device that is away, hotspot grants that the
//! controller does not end by itself, the portal timeout bounding Open API grants, the
//! 6.2.10+ body, record lookup by MAC on a busy site, permissions per site, 5xx verdicts,
//! cloud-connector redirects, the Open API request budget, the cheap session check, set-up
//! through the Open API (sites, SSIDs, operator), the records for reconciliation, and the
//! self-test — each in the mode(s) where it applies.

use std::time::{Duration, Instant};

use rental_wifi::net::Mac;
use rental_wifi::omada::{
    AuthorizeRequest, OmadaClient, OmadaError, OmadaSettings, ResolvedMode, RetryPolicy, SiteInfo,
    SiteSpec, StepKind, StepStatus,
};
use rental_wifi::sim::omada::{
    self as sim, AuthApi, OmadaSim, OmadaSimConfig, OperatorRole, SimSite, SimSsid,
};
use serde_json::{json, Value};

fn fast() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        attempts: 3,
        deadline: Duration::from_secs(3),
        attempt_timeout: Duration::from_secs(1),
    }
}

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

fn guest(m: &str, duration: Duration) -> AuthorizeRequest {
    AuthorizeRequest {
        client_mac: mac(m),
        client_ip: Some("10.0.0.23".into()),
        site: "Default".into(),
        ap_mac: Some(mac("B0-95-75-15-93-44")),
        ssid_name: Some("Guest".into()),
        radio_id: Some(1),
        gateway_mac: None,
        vid: None,
        duration,
        down_kbps: None,
        up_kbps: None,
    }
}

/// Two sites: Default and Beach House (each with its SSID).
fn two_sites() -> OmadaSimConfig {
    let mut cfg = OmadaSimConfig::default();
    cfg.sites.push(SimSite {
        name: "Beach House".into(),
        id: "64b0c0ffee0000000000beac".into(),
    });
    cfg.ssids.push(SimSsid {
        site: "Beach House".into(),
        name: "Beach Guest".into(),
        guest_network: true,
        open: true,
    });
    cfg
}

fn client(settings: OmadaSettings) -> OmadaClient {
    OmadaClient::new(settings, fast()).unwrap()
}

// ------------------------------------------------------------------------------------------
// Item 1: site ids
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn without_the_open_api_a_site_name_is_never_put_in_a_hotspot_manager_path() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let c = client(sim.hotspot_only_settings());
    c.authorize(&guest("52-DE-63-F1-E3-3B", Duration::from_secs(600)))
        .await
        .unwrap();
    let err = c
        .unauthorize("Default", mac("52-DE-63-F1-E3-3B"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OmadaError::Misconfigured(m) if m.contains("\"Default\"") && m.contains("24-character id") && m.contains("Open API")),
        "{err:?}"
    );
    assert!(
        sim.requests_to("/clients").is_empty(),
        "no request with the name in the path"
    );
    assert_eq!(
        sim.authorized().len(),
        1,
        "still authorised: the revoke waits"
    );

    // The host gives the id (wave 2: the unit's site id): the revoke goes through.
    let site_id = sim.site_id("Default").unwrap();
    c.remember_site("Default", &site_id);
    c.unauthorize("Default", mac("52-DE-63-F1-E3-3B"))
        .await
        .unwrap();
    assert!(sim.authorized().is_empty());
    assert!(sim.requests_to("/clients")[0]
        .path
        .contains(&format!("/sites/{site_id}/clients")));

    // An id works as given, too.
    c.authorize(&guest("52-DE-63-F1-E3-3C", Duration::from_secs(600)))
        .await
        .unwrap();
    let other = client(sim.hotspot_only_settings());
    assert_eq!(
        other
            .unauthorize_at(&site_id, mac("52-DE-63-F1-E3-3C"))
            .await
            .unwrap(),
        1
    );
    assert!(sim.authorized().is_empty());
}

#[tokio::test]
async fn with_the_open_api_names_resolve_to_ids_once() {
    let sim = sim::start(two_sites()).await.unwrap();
    let c = client(sim.hotspot_settings());
    let beach = c.resolve_site("beach house").await.unwrap();
    assert_eq!(
        beach,
        SiteInfo {
            id: "64b0c0ffee0000000000beac".into(),
            name: "Beach House".into()
        },
        "matched ignoring case"
    );
    assert_eq!(c.resolve_site("Beach House").await.unwrap(), beach);
    assert_eq!(
        c.resolve_site("64b0c0ffee0000000000beac").await.unwrap(),
        beach
    );
    assert_eq!(
        sim.requests_to("/sites").len(),
        1,
        "the site list is asked once"
    );
    let err = c.resolve_site("Lake Cabin").await.unwrap_err();
    assert!(
        matches!(&err, OmadaError::Misconfigured(m) if m.contains("Lake Cabin") && m.contains("Default, Beach House")),
        "{err:?}"
    );
}

// ------------------------------------------------------------------------------------------
// Items 2, 8, 12: revokes as real controllers need them
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn open_api_revoke_reaches_a_device_that_is_away() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let c = client(sim.openapi_settings());
    let phone = mac("52-DE-63-F1-E3-3B");
    c.authorize(&guest("52-DE-63-F1-E3-3B", Duration::from_secs(3600)))
        .await
        .unwrap();
    sim.set_client_online(phone, false);

    // What the old client did: `unauth` answers "does not exist" and the device stays in.
    let site_id = sim.site_id("Default").unwrap();
    let raw = raw_openapi_unauth(&sim, &site_id, "52-DE-63-F1-E3-3B").await;
    assert!(raw["msg"].as_str().unwrap().contains("not exist"), "{raw}");
    assert_eq!(sim.authorized().len(), 1, "still authorised after unauth");

    // The client ends it through the authorised-client record.
    c.unauthorize("Default", phone).await.unwrap();
    assert!(sim.authorized().is_empty());
    let counters = sim.counters();
    assert_eq!(counters.disconnects, 1);
    assert_eq!(
        counters.unauth_not_exist, 1,
        "only the raw call above; the client never trusted it"
    );
}

async fn raw_openapi_unauth(sim: &OmadaSim, site_id: &str, m: &str) -> Value {
    rental_wifi::init_crypto();
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let id = sim.controller_id();
    let tok: Value = http
        .post(format!(
            "{base}/openapi/authorize/token?grant_type=client_credentials"
        ))
        .json(&json!({"omadacId": id, "client_id": sim.config().client_id, "client_secret": sim.config().client_secret}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    http.post(format!(
        "{base}/openapi/v1/{id}/sites/{site_id}/hotspot/clients/{m}/unauth"
    ))
    .header(
        "Authorization",
        format!(
            "AccessToken={}",
            tok["result"]["accessToken"].as_str().unwrap()
        ),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_hotspot_grant_outlives_its_end_until_it_is_disconnected() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let c = client(sim.hotspot_settings());
    c.authorize(&guest("52-DE-63-F1-E3-3B", Duration::from_millis(300)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Past its end the record stays valid and the device stays in (field notes §1.9).
    assert_eq!(sim.authorized().len(), 1);
    let site_id = sim.site_id("Default").unwrap();
    let records = c
        .device_records(&site_id, mac("52-DE-63-F1-E3-3B"))
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert!(records[0].valid && records[0].is_external_portal());
    // An explicit revoke ends it.
    assert_eq!(
        c.unauthorize_at(&site_id, mac("52-DE-63-F1-E3-3B"))
            .await
            .unwrap(),
        1
    );
    assert!(sim.authorized().is_empty());
}

#[tokio::test]
async fn the_revoke_lookup_finds_the_device_on_a_busy_site_in_both_modes() {
    for open in [false, true] {
        let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
        let c = client(if open {
            sim.openapi_settings()
        } else {
            sim.hotspot_settings()
        });
        c.authorize(&guest("52-DE-63-F1-E3-3B", Duration::from_secs(3600)))
            .await
            .unwrap();
        // 6 000 newer records of other devices: more than 50 unfiltered pages of 100.
        sim.add_history("Default", 6000).unwrap();
        c.unauthorize("Default", mac("52-DE-63-F1-E3-3B"))
            .await
            .unwrap();
        assert!(sim.authorized().is_empty(), "open api: {open}");
        let lists: Vec<_> = sim
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/clients") || r.path.ends_with("/authed-records"))
            .collect();
        assert_eq!(lists.len(), 1, "one searched page, open api: {open}");
        assert!(lists[0]
            .query
            .as_deref()
            .unwrap()
            .contains("searchKey=52-DE-63-F1-E3-3B"));
    }
}

// ------------------------------------------------------------------------------------------
// Item 3: the portal timeout bounds Open API grants
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_portal_timeout_is_read_and_bounds_open_api_grants() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let c = client(sim.openapi_settings());
    let site_id = sim.site_id("Default").unwrap();
    let portals = c.portal_auth_timeout(&site_id).await.unwrap();
    assert_eq!(portals.len(), 1);
    assert_eq!(portals[0].timeout, Some(Duration::from_secs(8 * 3600)));
    for (minutes, label) in [
        (30, "preset"),
        (90, "custom minutes"),
        (3 * 1440, "custom days"),
    ] {
        sim.set_portal_timeout("Default", Duration::from_secs(minutes * 60))
            .unwrap();
        assert_eq!(
            c.shortest_portal_timeout(&site_id).await.unwrap(),
            Some(Duration::from_secs(minutes * 60)),
            "{label}"
        );
    }
    // A grant asks for 30 days but lasts the portal's 3 days.
    c.authorize(&guest("52-DE-63-F1-E3-3B", Duration::from_secs(30 * 86400)))
        .await
        .unwrap();
    let g = &sim.authorized()[0];
    assert_eq!(g.via, AuthApi::OpenApi);
    let lasts = g.expires_at.unwrap() - g.authorized_at;
    assert_eq!(lasts, time::Duration::days(3));
    // Read through the settings test too.
    let info = c.test().await.unwrap();
    assert_eq!(info.portal_timeouts.len(), 1);
    assert_eq!(
        info.portal_timeouts[0].portals[0].timeout,
        Some(Duration::from_secs(3 * 86400))
    );
    let wire = serde_json::to_value(&info.portal_timeouts).unwrap();
    assert_eq!(wire[0]["portals"][0]["timeout_minutes"], 3 * 1440);
    // Without the Open API there is nothing to ask.
    let err = client(sim.hotspot_only_settings())
        .portal_auth_timeout(&site_id)
        .await
        .unwrap_err();
    assert!(matches!(err, OmadaError::Misconfigured(_)));
}

// ------------------------------------------------------------------------------------------
// Item 7: 6.2.10+ bodies
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn origin_url_is_sent_from_6_2_10_on_and_only_then() {
    for (version, expected) in [
        ("6.2.10.17", true),
        ("6.2.14.11", true),
        ("6.2.0.12", false),
        ("5.15.24", false),
    ] {
        let sim = sim::start(OmadaSimConfig {
            controller_ver: version.into(),
            ..OmadaSimConfig::default()
        })
        .await
        .unwrap();
        if expected {
            sim.set_require_origin_url(true);
            sim.set_require_client_ip(true);
        }
        let c = client(sim.hotspot_only_settings());
        c.authorize(&guest("52-DE-63-F1-E3-3B", Duration::from_secs(60)))
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        let body = sim.requests_to("/extPortal/auth")[0].body.clone().unwrap();
        assert_eq!(
            body.get("originUrl").cloned(),
            expected.then(|| json!("")),
            "{version}: {body}"
        );
        assert_eq!(body["clientIp"], "10.0.0.23");
        // The body the client shows for diagnostics agrees.
        let shown = c
            .hotspot_auth_body(&guest("52-DE-63-F1-E3-3B", Duration::from_secs(60)))
            .unwrap()
            .unwrap();
        assert_eq!(shown.get("originUrl").is_some(), expected, "{version}");
    }
}

#[tokio::test]
async fn an_untagged_gateway_portal_gets_vid_0_back() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let c = client(sim.hotspot_only_settings());
    let req = AuthorizeRequest {
        ap_mac: None,
        ssid_name: None,
        radio_id: None,
        gateway_mac: Some(mac("98-25-4A-00-11-22")),
        vid: None,
        ..guest("52-DE-63-F1-E3-3B", Duration::from_secs(60))
    };
    c.authorize(&req).await.unwrap();
    let body = sim.requests_to("/extPortal/auth")[0].body.clone().unwrap();
    assert_eq!(body["vid"], "0");
    assert_eq!(sim.authorized()[0].vid, Some(0));
}

// ------------------------------------------------------------------------------------------
// Item 5: permissions per site
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn permission_checks_name_the_site_the_credential_and_the_fix() {
    let sim = sim::start(OmadaSimConfig {
        operator_sites: Some(vec!["Default".into()]),
        openapi_sites: Some(vec!["Default".into()]),
        ..two_sites()
    })
    .await
    .unwrap();
    let c = client(sim.hotspot_settings());
    let default = c.resolve_site("Default").await.unwrap();
    let access = c.check_site_access(&default).await;
    assert!(access.ok(), "{access:?}");
    assert_eq!(access.checks.len(), 2, "hotspot and Open API");

    // The Open API app cannot see Beach House: the id comes from the host.
    let beach = SiteInfo {
        id: "64b0c0ffee0000000000beac".into(),
        name: "Beach House".into(),
    };
    let access = c.check_site_access(&beach).await;
    assert!(!access.ok());
    let problems = access.problems().join(" | ");
    assert!(
        problems.contains(
            "hotspot operator \"operator\" may not list the clients of site \"Beach House\""
        ) && problems.contains("Site Privileges"),
        "{problems}"
    );
    assert!(
        problems.contains("the Open API app does not see site \"Beach House\""),
        "{problems}"
    );
    let hotspot = access.checks.iter().find(|c| c.api == "hotspot").unwrap();
    assert!(
        hotspot
            .controller_message
            .as_deref()
            .unwrap_or("")
            .contains("-1005"),
        "{hotspot:?}"
    );
    // Using that site in Open API mode is a configuration problem (-1505), never dropped.
    let open = client(sim.openapi_settings());
    let err = open
        .unauthorize_at(&beach.id, mac("52-DE-63-F1-E3-3B"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OmadaError::Misconfigured(m) if m.contains("-1505") && m.contains("Site Privileges")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_viewer_operator_is_named_as_such() {
    let sim = sim::start(OmadaSimConfig {
        operator_role: OperatorRole::Viewer,
        ..OmadaSimConfig::default()
    })
    .await
    .unwrap();
    let c = client(sim.hotspot_settings());
    let site = c.resolve_site("Default").await.unwrap();
    let access = c.check_site_access(&site).await;
    assert!(!access.ok());
    assert!(
        access.problems().join(" ").contains("Viewer role"),
        "{access:?}"
    );
    // And a Viewer cannot let a guest in: the client says which permission to check.
    let err = c
        .authorize(&guest("52-DE-63-F1-E3-3B", Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OmadaError::AuthFailed(m) if m.contains("Administrator")),
        "{err:?}"
    );
}

// ------------------------------------------------------------------------------------------
// Items 9, 10: 5xx bodies, connector redirects, the Open API budget, the session check
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_5xx_with_the_controllers_verdict_is_shown_not_retried() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    sim.set_openapi_http500(true);
    let err = client(sim.openapi_settings()).test().await.unwrap_err();
    // The controller's own words reach the host (before: "controller unreachable").
    let text = err.to_string();
    assert!(
        text.contains("-7131")
            && text.contains("Controller ID not exist.")
            && text.contains("HTTP 500"),
        "{err:?}"
    );
    assert!(!matches!(err, OmadaError::Unreachable(_)));
    assert!(!err.is_transient());
    assert_eq!(
        sim.requests_to("/openapi/authorize/token").len(),
        1,
        "a verdict is not retried"
    );
    // A 5xx without one is retried, then kept in the message.
    sim.set_openapi_http500(false);
    sim.fail_next(10, 502);
    let err = client(sim.hotspot_only_settings())
        .test()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OmadaError::Unreachable(m) if m.contains("502")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_cloud_connector_redirect_to_a_lan_address_is_named() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    sim.set_connector_redirect(Some("https://192.168.0.2:443"));
    for settings in [
        OmadaSettings {
            controller_id: Some(sim.controller_id()),
            ..sim.hotspot_only_settings()
        },
        sim.hotspot_only_settings(),
    ] {
        let err = client(settings).test().await.unwrap_err();
        assert!(
            matches!(&err, OmadaError::Misconfigured(m) if m.contains("https://192.168.0.2:443/") && m.contains("LAN address") && m.contains("192.168.0.2")),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn the_open_api_request_budget_is_kept_within_the_deadline() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let c = client(OmadaSettings {
        openapi_requests_per_second: Some(5),
        ..sim.openapi_settings()
    });
    c.list_sites().await.unwrap(); // token + 1 (burst of 5 available)
    let started = Instant::now();
    for _ in 0..12 {
        c.list_sites().await.unwrap();
    }
    // 14 requests at 5/s with a burst of 5: at least (14 - 5) / 5 s.
    assert!(
        started.elapsed() >= Duration::from_millis(1700),
        "{:?}",
        started.elapsed()
    );
    let times: Vec<_> = sim.requests_to("/sites").iter().map(|r| r.at).collect();
    let last_second = times
        .iter()
        .filter(|t| **t > *times.last().unwrap() - time::Duration::seconds(1))
        .count();
    assert!(last_second <= 5 + 1, "{last_second} requests in one second");

    // A guest never waits past the deadline for the budget: a call whose turn would come
    // after its deadline fails at once, without waiting.
    let tight = OmadaClient::new(
        OmadaSettings {
            openapi_requests_per_second: Some(1),
            ..sim.openapi_settings()
        },
        RetryPolicy {
            deadline: Duration::from_millis(500),
            ..fast()
        },
    )
    .unwrap();
    let started = Instant::now();
    // Token now, the site list's turn one second later: past the 500 ms deadline.
    let err = tight.list_sites().await.unwrap_err();
    assert!(matches!(err, OmadaError::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(900));
}

#[tokio::test]
async fn the_session_check_logs_in_only_when_the_session_was_lost() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let c = client(sim.hotspot_settings());
    // Nothing open yet: the controller answers, nobody logs in for the check.
    let check = c.check_session().await.unwrap();
    assert_eq!(check.controller_version.as_deref(), Some("5.15.24"));
    assert!(!check.hotspot_checked && !check.openapi_checked);
    assert_eq!(
        (sim.counters().logins, sim.counters().tokens_minted),
        (0, 0)
    );
    // After real work (a login, a token, a site id), the check reads on those sessions.
    c.authorize(&guest("52-DE-63-F1-E3-3B", Duration::from_secs(600)))
        .await
        .unwrap();
    c.resolve_site("Default").await.unwrap();
    for _ in 0..5 {
        let check = c.check_session().await.unwrap();
        assert!(check.hotspot_checked && check.openapi_checked);
    }
    assert_eq!(
        (sim.counters().logins, sim.counters().tokens_minted),
        (1, 1),
        "five checks, no new login"
    );
    // The controller dropped the session: the check renews it once.
    sim.expire_sessions();
    c.check_session().await.unwrap();
    assert_eq!(sim.counters().logins, 2);
    // A client with a wrong password and no session: the check does not try to log in (a
    // failed login every 30 s would fill the controller's log, or lock the account).
    let wrong = client(OmadaSettings {
        password: Some("not-the-password!".into()),
        ..sim.hotspot_only_settings()
    });
    assert!(!wrong.check_session().await.unwrap().hotspot_checked);
    assert_eq!(sim.counters().login_failures, 0);
}

// ------------------------------------------------------------------------------------------
// Items 1, 10b: set-up through the Open API, records for reconciliation
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn sites_ssids_and_a_dedicated_operator_like_the_wizard() {
    let sim = sim::start(two_sites()).await.unwrap();
    let c = client(sim.openapi_settings());
    let sites = c.list_sites().await.unwrap();
    let names: Vec<&str> = sites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Default", "Beach House"]);
    let beach = &sites[1];
    let ssids = c.list_ssids(&beach.id).await.unwrap();
    assert_eq!(ssids.len(), 1);
    assert_eq!(ssids[0].name, "Beach Guest");
    assert!(ssids[0].guest_network && ssids[0].open);

    let ids: Vec<String> = sites.iter().map(|s| s.id.clone()).collect();
    let op = c
        .create_hotspot_operator("rental-wifi", &ids)
        .await
        .unwrap();
    assert_eq!(op.name, "rental-wifi");
    assert!(!format!("{op:?}").contains(&op.password), "Debug hides it");
    let again = c
        .create_hotspot_operator("rental-wifi", &ids)
        .await
        .unwrap();
    assert_eq!(again.name, "rental-wifi-2", "a free name is picked");
    let created = sim
        .operators()
        .into_iter()
        .find(|o| o.name == "rental-wifi")
        .unwrap();
    assert_eq!(created.role, OperatorRole::Administrator);
    assert_eq!(created.site_ids, ids);
    let listed = c.list_hotspot_operators(&beach.id).await.unwrap();
    assert!(listed
        .iter()
        .any(|o| o.name == "rental-wifi" && o.administrator));
    let post = &sim
        .requests_to("/hotspot/operators")
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.body.as_ref().unwrap()["operatorRoleType"], 0);
    assert_eq!(post.body.as_ref().unwrap()["selectedSites"], json!(ids));

    // With the new operator, the hotspot API lets guests in for each grant's own duration.
    let both = client(OmadaSettings {
        username: Some(op.name.clone()),
        password: Some(op.password.clone()),
        mode: rental_wifi::omada::OmadaMode::Auto,
        ..sim.openapi_settings()
    });
    assert_eq!(both.mode(), ResolvedMode::Hotspot);
    both.test().await.unwrap();
    both.authorize(&AuthorizeRequest {
        site: "Beach House".into(),
        ..guest("52-DE-63-F1-E3-3B", Duration::from_secs(5400))
    })
    .await
    .unwrap();
    assert_eq!(
        sim.authorized()[0].duration,
        Some(Duration::from_secs(5400))
    );
    assert_eq!(sim.authorized()[0].site_id, beach.id);
}

#[tokio::test]
async fn authorizations_come_with_their_auth_type_for_reconciliation() {
    for open in [false, true] {
        let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
        let c = client(if open {
            sim.openapi_settings()
        } else {
            sim.hotspot_settings()
        });
        for m in ["02-00-00-00-00-01", "02-00-00-00-00-02"] {
            c.authorize(&guest(m, Duration::from_secs(600)))
                .await
                .unwrap();
        }
        let site_id = sim.site_id("Default").unwrap();
        c.unauthorize_at(&site_id, mac("02-00-00-00-00-01"))
            .await
            .unwrap();
        let records = c.authorizations(&site_id).await.unwrap();
        assert_eq!(records.len(), 2, "open api: {open}");
        let valid: Vec<String> = records
            .iter()
            .filter(|r| r.valid && r.is_external_portal())
            .map(|r| r.mac.unwrap().to_string())
            .collect();
        assert_eq!(valid, ["02-00-00-00-00-02"], "open api: {open}");
        assert!(records.iter().all(|r| r.end_ms.is_some()));
    }
}

// ------------------------------------------------------------------------------------------
// Item 11: the self-test
// ------------------------------------------------------------------------------------------

fn kinds(report: &rental_wifi::omada::SelfTestReport) -> Vec<(StepKind, StepStatus)> {
    report.steps.iter().map(|s| (s.step, s.status)).collect()
}

#[tokio::test]
async fn the_self_test_passes_every_step_on_a_good_set_up_in_both_modes() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let sites = [SiteSpec {
        name: "Default".into(),
        id: None,
    }];
    let report = client(sim.hotspot_settings()).self_test(&sites).await;
    assert!(report.ok, "{}", report.to_text());
    use StepKind::*;
    use StepStatus::*;
    assert_eq!(
        kinds(&report),
        [
            (Discovery, Pass),
            (Login, Pass),
            (Login, Pass),
            (Site, Pass),
            (Permissions, Pass),
            (PortalTimeout, Skip),
        ]
    );
    assert_eq!(
        report.controller_id.as_deref(),
        Some(sim.controller_id().as_str())
    );

    let report = client(sim.openapi_settings()).self_test(&sites).await;
    assert!(report.ok, "{}", report.to_text());
    assert_eq!(
        kinds(&report),
        [
            (Discovery, Pass),
            (Login, Pass),
            (Site, Pass),
            (Permissions, Pass),
            (PortalTimeout, Pass),
        ]
    );
    let timeout = report.steps.last().unwrap();
    assert!(timeout.message.contains("8 hours"), "{}", timeout.message);
    let text = report.to_text();
    assert!(
        text.contains("PASS  portal_timeout [openapi] (site \"Default\")"),
        "{text}"
    );
}

#[tokio::test]
async fn the_self_test_names_each_failing_step_with_the_controllers_words() {
    let sim = sim::start(OmadaSimConfig {
        operator_sites: Some(vec!["Default".into()]),
        ..two_sites()
    })
    .await
    .unwrap();
    // Wrong password: login fails with -30109, the sites are skipped.
    let report = client(OmadaSettings {
        password: Some("not-the-password!".into()),
        ..sim.hotspot_only_settings()
    })
    .self_test(&[SiteSpec {
        name: "Default".into(),
        id: None,
    }])
    .await;
    assert!(!report.ok);
    let login = report.first_failure().unwrap();
    assert_eq!(login.step, StepKind::Login);
    assert!(login.message.contains("Hotspot › Operators"));
    assert!(login
        .controller_message
        .as_deref()
        .unwrap()
        .contains("-30109"));
    assert_eq!(report.steps.last().unwrap().status, StepStatus::Skip);

    // Hotspot only: a site name alone cannot be resolved; with its id it can, and the
    // operator's missing site privilege is named.
    let beach_id = "64b0c0ffee0000000000beac".to_string();
    let report = client(sim.hotspot_only_settings())
        .self_test(&[
            SiteSpec {
                name: "Default".into(),
                id: None,
            },
            SiteSpec {
                name: "Beach House".into(),
                id: Some(beach_id.clone()),
            },
        ])
        .await;
    assert!(!report.ok);
    let failures: Vec<_> = report
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Fail)
        .collect();
    assert_eq!(failures.len(), 2, "{}", report.to_text());
    assert_eq!(
        (failures[0].step, failures[0].site.as_deref()),
        (StepKind::Site, Some("Default"))
    );
    assert!(failures[0].message.contains("24-character id"));
    assert_eq!(
        (failures[1].step, failures[1].site.as_deref()),
        (StepKind::Permissions, Some("Beach House"))
    );
    assert!(failures[1].message.contains("Site Privileges"));
    assert!(failures[1]
        .controller_message
        .as_deref()
        .unwrap()
        .contains("-1005"));

    // Not a controller at all.
    let nothing = client(OmadaSettings {
        base_url: "http://127.0.0.1:9".into(),
        ..sim.hotspot_only_settings()
    })
    .self_test(&[])
    .await;
    assert_eq!(
        kinds(&nothing),
        [
            (StepKind::Discovery, StepStatus::Fail),
            (StepKind::Login, StepStatus::Skip)
        ]
    );
    assert!(nothing.steps[0].controller_message.is_some());
}
