//! Omada clients against the simulated controller over real HTTP on 127.0.0.1: the wire
//! shape of each call. (Real-controller behaviours — site ids, revokes of devices that are
//! away, portal timeouts, permissions, the self-test — are in `omada_real.rs`.)

mod common;

use std::time::{Duration, Instant};

use rental_wifi::net::Mac;
use rental_wifi::omada::{
    AuthTimeUnit, AuthorizeRequest, OmadaClient, OmadaError, OmadaMode, OmadaSettings,
    ResolvedMode, RetryPolicy,
};
use rental_wifi::sim::omada::{
    self as sim, AuthApi, OmadaSim, OmadaSimConfig, Outage, SessionExpiry,
};
use serde_json::json;

use common::client_policy as fast;

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

fn eap(duration: Duration) -> AuthorizeRequest {
    AuthorizeRequest {
        client_mac: mac("52:de:63:f1:e3:3b"),
        client_ip: Some("192.168.100.165".into()),
        site: "Default".into(),
        ap_mac: Some(mac("b0:95:75:15:93:44")),
        ssid_name: Some("Guest WiFi".into()),
        radio_id: Some(1),
        gateway_mac: None,
        vid: None,
        duration,
        down_kbps: None,
        up_kbps: None,
    }
}

fn gateway(duration: Duration) -> AuthorizeRequest {
    AuthorizeRequest {
        ap_mac: None,
        ssid_name: None,
        radio_id: None,
        gateway_mac: Some(mac("98-25-4A-00-11-22")),
        vid: Some(20),
        client_ip: None,
        ..eap(duration)
    }
}

async fn sim_default() -> OmadaSim {
    sim::start(OmadaSimConfig::default()).await.unwrap()
}

fn hotspot(sim: &OmadaSim) -> OmadaClient {
    OmadaClient::new(sim.hotspot_settings(), fast()).unwrap()
}

/// Operator credentials only: what the guest-facing calls send, without Open API lookups.
fn hotspot_only(sim: &OmadaSim) -> OmadaClient {
    OmadaClient::new(sim.hotspot_only_settings(), fast()).unwrap()
}

#[tokio::test]
async fn eap_authorize_sends_the_documented_request() {
    let sim = sim_default().await;
    let client = hotspot_only(&sim);
    assert_eq!(client.mode(), ResolvedMode::Hotspot);
    client
        .authorize(&eap(Duration::from_secs(3600)))
        .await
        .unwrap();

    let id = sim.controller_id();
    let reqs = sim.requests();
    let paths: Vec<_> = reqs
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        vec![
            "GET /api/info".to_string(),
            format!("POST /{id}/api/v2/hotspot/login"),
            format!("POST /{id}/api/v2/hotspot/extPortal/auth")
        ]
    );
    assert_eq!(
        reqs[1].body,
        Some(json!({"name": "operator", "password": sim.config().operator_password}))
    );
    let auth = &reqs[2];
    assert_eq!(
        auth.body,
        Some(json!({
            "clientMac": "52-DE-63-F1-E3-3B",
            "clientIp": "192.168.100.165",
            "apMac": "B0-95-75-15-93-44",
            "ssidName": "Guest WiFi",
            "radioId": "1",
            "site": "Default",
            "time": "3600000",
            "authType": "4",
        }))
    );
    let csrf = auth.csrf_token.as_deref().expect("Csrf-Token header");
    assert_eq!(csrf.len(), 32);
    assert!(
        auth.cookie
            .as_deref()
            .unwrap_or("")
            .starts_with("TPOMADA_SESSIONID="),
        "{:?}",
        auth.cookie
    );
    assert!(auth
        .content_type
        .as_deref()
        .unwrap_or("")
        .starts_with("application/json"));
    assert_eq!(auth.status, 200);

    let granted = sim.authorized();
    assert_eq!(granted.len(), 1);
    let g = &granted[0];
    assert_eq!(g.mac, mac("52-DE-63-F1-E3-3B"));
    assert_eq!(g.ap_mac, Some(mac("B0-95-75-15-93-44")));
    assert_eq!(g.ssid.as_deref(), Some("Guest WiFi"));
    assert_eq!(g.radio_id, Some(1));
    assert_eq!(g.site, "Default");
    assert_eq!(g.duration, Some(Duration::from_secs(3600)));
    assert_eq!(g.via, AuthApi::Hotspot);
}

#[tokio::test]
async fn gateway_authorize_sends_the_documented_request() {
    let sim = sim_default().await;
    let client = hotspot(&sim);
    let mut req = gateway(Duration::from_secs(600));
    req.down_kbps = Some(20_000);
    req.up_kbps = Some(5_000);
    client.authorize(&req).await.unwrap();
    let auth = sim.requests_to("/extPortal/auth");
    assert_eq!(auth.len(), 1);
    assert_eq!(
        auth[0].body,
        Some(json!({
            "clientMac": "52-DE-63-F1-E3-3B",
            "gatewayMac": "98-25-4A-00-11-22",
            "vid": "20",
            "site": "Default",
            "time": "600000",
            "authType": "4",
            "downloadRateLimitKbps": 20000,
            "uploadRateLimitKbps": 5000,
        }))
    );
    let g = &sim.authorized()[0];
    assert_eq!(
        (g.gateway_mac, g.vid, g.ap_mac),
        (Some(mac("98-25-4A-00-11-22")), Some(20), None)
    );
    assert_eq!((g.down_kbps, g.up_kbps), (Some(20_000), Some(5_000)));
}

#[tokio::test]
async fn incomplete_requests_are_refused_before_sending() {
    let sim = sim_default().await;
    let client = hotspot(&sim);
    let no_ssid = AuthorizeRequest {
        ssid_name: None,
        ..eap(Duration::from_secs(60))
    };
    assert!(matches!(
        client.authorize(&no_ssid).await,
        Err(OmadaError::InvalidRequest(_))
    ));
    let neither = AuthorizeRequest {
        ap_mac: None,
        ..gateway(Duration::from_secs(60))
    };
    let neither = AuthorizeRequest {
        gateway_mac: None,
        ..neither
    };
    assert!(matches!(
        client.authorize(&neither).await,
        Err(OmadaError::InvalidRequest(_))
    ));
    assert!(sim.requests_to("/extPortal/auth").is_empty());
}

#[tokio::test]
async fn both_cookie_names_work() {
    for name in ["TPOMADA_SESSIONID", "TPEAP_SESSIONID"] {
        let sim = sim_default().await;
        sim.set_cookie_name(name);
        let client = hotspot(&sim);
        client
            .authorize(&eap(Duration::from_secs(60)))
            .await
            .unwrap();
        let auth = sim.requests_to("/extPortal/auth");
        assert_eq!(auth.len(), 1, "{name}");
        assert!(
            auth[0]
                .cookie
                .as_deref()
                .unwrap_or("")
                .contains(&format!("{name}=")),
            "{name}: {:?}",
            auth[0].cookie
        );
        assert_eq!(sim.authorized().len(), 1, "{name}");
        assert_eq!(sim.counters().session_rejections, 0, "{name}");
    }
}

#[tokio::test]
async fn session_loss_logs_in_again_once_for_every_expiry_style() {
    for style in [
        SessionExpiry::Redirect,
        SessionExpiry::Html,
        SessionExpiry::Code,
    ] {
        let sim = sim_default().await;
        sim.set_session_expiry(style);
        let client = hotspot(&sim);
        client
            .authorize(&eap(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(sim.counters().logins, 1, "{style:?}");

        sim.expire_sessions();
        let mut second = eap(Duration::from_secs(60));
        second.client_mac = mac("00-11-22-33-44-55");
        client.authorize(&second).await.unwrap();

        let c = sim.counters();
        assert_eq!(c.logins, 2, "{style:?}");
        assert_eq!(c.session_rejections, 1, "{style:?}");
        let auth = sim.requests_to("/extPortal/auth");
        let expected_status = if style == SessionExpiry::Redirect {
            302
        } else {
            200
        };
        assert_eq!(
            auth.iter().map(|r| r.status).collect::<Vec<_>>(),
            vec![200, expected_status, 200],
            "{style:?}"
        );
        assert_eq!(sim.authorized().len(), 2, "{style:?}");
    }
}

#[tokio::test]
async fn a_session_refused_after_a_fresh_login_is_an_error_not_a_loop() {
    let sim = sim_default().await;
    sim.set_reject_sessions(true);
    let client = hotspot(&sim);
    let err = client
        .authorize(&eap(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(err, OmadaError::AuthFailed(_)), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(sim.counters().logins, 2);
    assert_eq!(sim.requests_to("/extPortal/auth").len(), 2);
    assert!(sim.authorized().is_empty());
}

#[tokio::test]
async fn controller_rejection_is_returned_not_retried() {
    let sim = sim_default().await;
    let client = hotspot(&sim);
    let req = AuthorizeRequest {
        site: "Elsewhere".into(),
        ..eap(Duration::from_secs(60))
    };
    let err = client.authorize(&req).await.unwrap_err();
    assert_eq!(
        err,
        OmadaError::Rejected {
            code: -1,
            message: "General error.".into()
        }
    );
    assert_eq!(sim.requests_to("/extPortal/auth").len(), 1);
    assert_eq!(sim.counters().logins, 1);
}

#[tokio::test]
async fn clientip_rule_of_6_2_10() {
    let sim = sim_default().await;
    sim.set_require_client_ip(true);
    let client = hotspot(&sim);
    let without = AuthorizeRequest {
        client_ip: None,
        ..eap(Duration::from_secs(60))
    };
    let err = client.authorize(&without).await.unwrap_err();
    assert!(
        matches!(err, OmadaError::Rejected { code: -41501, .. }),
        "{err:?}"
    );
    client
        .authorize(&eap(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(
        sim.authorized()[0].client_ip.as_deref(),
        Some("192.168.100.165")
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    for status in [500u16, 503] {
        let sim = sim_default().await;
        let client = hotspot(&sim);
        client.test().await.unwrap();
        sim.fail_next(2, status);
        client
            .authorize(&eap(Duration::from_secs(60)))
            .await
            .unwrap();
        let auth = sim.requests_to("/extPortal/auth");
        assert_eq!(
            auth.iter().map(|r| r.status).collect::<Vec<_>>(),
            vec![status, status, 200]
        );
        assert_eq!(sim.counters().injected_failures, 2);
        assert_eq!(sim.authorized().len(), 1);
    }
}

#[tokio::test]
async fn persistent_server_errors_end_as_unreachable_after_the_attempts() {
    let sim = sim_default().await;
    let client = hotspot(&sim);
    client.test().await.unwrap();
    sim.fail_next(100, 502);
    let err = client
        .authorize(&eap(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(err, OmadaError::Unreachable(_)), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(sim.requests_to("/extPortal/auth").len(), 5);
}

#[tokio::test]
async fn outage_ends_as_unreachable_within_the_deadline() {
    for outage in [Outage::Drop, Outage::Http503] {
        let sim = sim_default().await;
        let client = hotspot(&sim);
        client.test().await.unwrap();
        sim.set_outage(Some(outage));
        let t0 = Instant::now();
        let err = client
            .authorize(&eap(Duration::from_secs(60)))
            .await
            .unwrap_err();
        assert!(
            t0.elapsed() < fast().deadline + Duration::from_millis(500),
            "{outage:?} took {:?}",
            t0.elapsed()
        );
        assert!(
            matches!(err, OmadaError::Unreachable(_)),
            "{outage:?}: {err:?}"
        );
        assert!(err.is_transient());
        assert!(sim.authorized().is_empty());
        if outage == Outage::Drop {
            assert!(sim.counters().dropped_connections >= 1);
        } else {
            assert_eq!(sim.counters().outage_503, 5);
        }
        // And it recovers when the controller is back.
        sim.set_outage(None);
        client
            .authorize(&eap(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(sim.authorized().len(), 1, "{outage:?}");
    }
}

#[tokio::test]
async fn a_slow_controller_ends_as_timeout_within_the_deadline() {
    let sim = sim_default().await;
    let policy = RetryPolicy {
        attempt_timeout: Duration::from_millis(150),
        deadline: Duration::from_millis(800),
        ..fast()
    };
    let client = OmadaClient::new(sim.hotspot_settings(), policy).unwrap();
    sim.set_latency(Duration::from_secs(2));
    let t0 = Instant::now();
    let err = client
        .authorize(&eap(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(err, OmadaError::Timeout(_)), "{err:?}");
    assert!(
        t0.elapsed() < Duration::from_millis(1300),
        "took {:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn wrong_operator_password_is_auth_failed() {
    let sim = sim_default().await;
    let settings = OmadaSettings {
        password: Some("wrong".into()),
        ..sim.hotspot_settings()
    };
    let client = OmadaClient::new(settings, fast()).unwrap();
    let err = client.test().await.unwrap_err();
    assert!(
        matches!(&err, OmadaError::AuthFailed(m) if m.contains("-30109")),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains("wrong"),
        "no secret in messages: {err}"
    );
    assert_eq!(sim.counters().login_failures, 1);
    let err = client
        .authorize(&eap(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(err, OmadaError::AuthFailed(_)));
    assert!(sim.requests_to("/extPortal/auth").is_empty());
}

#[tokio::test]
async fn test_discovers_and_checks_the_controller_id() {
    let sim = sim_default().await;
    let info = hotspot(&sim).test().await.unwrap();
    assert_eq!(info.controller_id, sim.controller_id());
    assert_eq!(info.controller_version.as_deref(), Some("5.15.24"));
    assert_eq!(info.mode, ResolvedMode::Hotspot);

    let configured = OmadaSettings {
        controller_id: Some(sim.controller_id()),
        ..sim.hotspot_settings()
    };
    let client = OmadaClient::new(configured, fast()).unwrap();
    for _ in 0..3 {
        client
            .authorize(&eap(Duration::from_secs(60)))
            .await
            .unwrap();
    }
    // A configured id is not discovered again; /api/info is asked once, for the version
    // (the 6.2.10+ body), not per authorization.
    assert_eq!(sim.requests_to("/api/info").len(), 2);

    let wrong = OmadaSettings {
        controller_id: Some("0123456789abcdef0123456789abcdef".into()),
        ..sim.hotspot_settings()
    };
    let err = OmadaClient::new(wrong, fast())
        .unwrap()
        .test()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OmadaError::InvalidSettings {
                field: "controller_id",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_settings_are_refused_at_construction() {
    let err = OmadaClient::new(
        OmadaSettings {
            base_url: "http://192.0.2.1:8088".into(),
            username: Some("a".into()),
            password: Some("b".into()),
            ..Default::default()
        },
        fast(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            OmadaError::InvalidSettings {
                field: "base_url",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn time_unit_conversions_reach_the_controller() {
    let d = Duration::from_secs(90 * 60);
    for (unit, raw) in [
        (AuthTimeUnit::Ms, "5400000"),
        (AuthTimeUnit::Us, "5400000000"),
        (AuthTimeUnit::S, "5400"),
    ] {
        let sim = sim_default().await;
        sim.set_time_unit(unit);
        let client = OmadaClient::new(
            OmadaSettings {
                auth_time_unit: unit,
                ..sim.hotspot_settings()
            },
            fast(),
        )
        .unwrap();
        client.authorize(&eap(d)).await.unwrap();
        let body = sim.requests_to("/extPortal/auth")[0].body.clone().unwrap();
        assert_eq!(body["time"], json!(raw), "{unit:?}");
        assert_eq!(sim.authorized()[0].duration, Some(d), "{unit:?}");
    }
    // A unit mismatch is visible: seconds read as milliseconds give a 1000× shorter grant.
    let sim = sim_default().await;
    let client = OmadaClient::new(
        OmadaSettings {
            auth_time_unit: AuthTimeUnit::S,
            ..sim.hotspot_settings()
        },
        fast(),
    )
    .unwrap();
    client.authorize(&eap(d)).await.unwrap();
    assert_eq!(
        sim.auth_records()[0].duration,
        Some(Duration::from_millis(5400))
    );
}

#[tokio::test]
async fn hotspot_unauthorize_disconnects_the_matching_record_by_site_id() {
    let sim = sim_default().await;
    let client = hotspot(&sim);
    client
        .authorize(&eap(Duration::from_secs(600)))
        .await
        .unwrap();
    let other = AuthorizeRequest {
        client_mac: mac("00-11-22-33-44-55"),
        ..eap(Duration::from_secs(600))
    };
    client.authorize(&other).await.unwrap();
    let record_id = sim
        .authorized()
        .iter()
        .find(|r| r.mac == mac("52-DE-63-F1-E3-3B"))
        .unwrap()
        .id
        .clone();

    client
        .unauthorize("Default", mac("52:de:63:f1:e3:3b"))
        .await
        .unwrap();
    let left: Vec<_> = sim.authorized().iter().map(|r| r.mac).collect();
    assert_eq!(left, vec![mac("00-11-22-33-44-55")]);
    let id = sim.controller_id();
    let site_id = sim.site_id("Default").unwrap();
    // The name was resolved to the id through the Open API's site list.
    assert_eq!(sim.requests_to(&format!("/openapi/v1/{id}/sites")).len(), 1);
    let list = sim.requests_to("/clients");
    assert_eq!(list[0].method, "GET");
    assert_eq!(
        list[0].path,
        format!("/{id}/api/v2/hotspot/sites/{site_id}/clients")
    );
    let q = list[0].query.as_deref().unwrap_or("");
    for part in [
        "currentPage=1",
        "searchKey=52-DE-63-F1-E3-3B",
        "sorts.end=desc",
    ] {
        assert!(q.contains(part), "{q}");
    }
    let disc = sim.requests_to("/disconnect");
    assert_eq!(disc.len(), 1);
    assert_eq!(
        disc[0].path,
        format!("/{id}/api/v2/hotspot/sites/{site_id}/cmd/clients/{record_id}/disconnect")
    );
    assert!(disc[0].csrf_token.is_some());
    assert_eq!(disc[0].body, None, "no body, like the Unauthorize button");
    assert_eq!(disc[0].body_text, None);

    // Already gone = success, no second disconnect.
    client
        .unauthorize("Default", mac("52:de:63:f1:e3:3b"))
        .await
        .unwrap();
    assert_eq!(sim.counters().disconnects, 1);
    // The site may also be given by id.
    client
        .unauthorize(&site_id, mac("00-11-22-33-44-55"))
        .await
        .unwrap();
    assert!(sim.authorized().is_empty());
}

fn openapi(sim: &OmadaSim) -> OmadaClient {
    OmadaClient::new(sim.openapi_settings(), fast()).unwrap()
}

#[tokio::test]
async fn openapi_token_site_lookup_auth_and_unauth() {
    let sim = sim_default().await;
    let client = openapi(&sim);
    assert_eq!(client.mode(), ResolvedMode::OpenApi);
    client
        .authorize(&eap(Duration::from_secs(3600)))
        .await
        .unwrap();

    let id = sim.controller_id();
    let site_id = sim.site_id("Default").unwrap();
    let reqs = sim.requests();
    let token = &reqs[1];
    assert_eq!(
        (
            token.method.as_str(),
            token.path.as_str(),
            token.query.as_deref()
        ),
        (
            "POST",
            "/openapi/authorize/token",
            Some("grant_type=client_credentials")
        )
    );
    assert_eq!(
        token.body,
        Some(
            json!({"omadacId": id, "client_id": "sim-client-id", "client_secret": "sim-client-secret"})
        )
    );
    let sites = &reqs[2];
    assert_eq!(sites.path, format!("/openapi/v1/{id}/sites"));
    assert!(
        sites
            .authorization
            .as_deref()
            .unwrap_or("")
            .starts_with("AccessToken=AT-"),
        "{:?}",
        sites.authorization
    );
    let auth = &reqs[3];
    assert_eq!(
        (auth.method.as_str(), auth.path.clone()),
        (
            "POST",
            format!("/openapi/v1/{id}/sites/{site_id}/hotspot/clients/52-DE-63-F1-E3-3B/auth")
        )
    );
    assert_eq!(auth.authorization, sites.authorization);
    let g = &sim.authorized()[0];
    // No duration is sent: the grant lasts the portal's Authentication Timeout.
    assert_eq!(
        (g.via, g.duration),
        (AuthApi::OpenApi, Some(sim.config().portal_timeout))
    );
    assert_eq!(auth.body, None);

    client
        .unauthorize("Default", mac("52:de:63:f1:e3:3b"))
        .await
        .unwrap();
    // Through the records: searched by MAC, then the record disconnected.
    let records = sim.requests_to("/authed-records");
    assert_eq!(
        records[0].path,
        format!("/openapi/v1/{id}/sites/{site_id}/hotspot/authed-records")
    );
    let q = records[0].query.as_deref().unwrap_or("");
    assert!(
        q.contains("searchKey=52-DE-63-F1-E3-3B") && q.contains("sorts.end=desc"),
        "{q}"
    );
    let disc = sim.requests_to("/disconnect");
    assert_eq!(
        disc[0].path,
        format!(
            "/openapi/v1/{id}/sites/{site_id}/hotspot/authed-records/{}/disconnect",
            g.id
        )
    );
    assert!(sim.authorized().is_empty());
    // Nothing valid left: `unauth` is asked and its "does not exist" is now the truth.
    client
        .unauthorize("Default", mac("52:de:63:f1:e3:3b"))
        .await
        .unwrap();
    let c = sim.counters();
    assert_eq!(
        (c.tokens_minted, c.disconnects, c.unauth_not_exist),
        (1, 1, 1),
        "token cached"
    );
    assert_eq!(sim.requests_to("/sites").len(), 1, "site id cached");
}

#[tokio::test]
async fn openapi_expired_token_is_minted_again_once() {
    let sim = sim_default().await;
    let client = openapi(&sim);
    client
        .authorize(&eap(Duration::from_secs(60)))
        .await
        .unwrap();
    sim.expire_sessions();
    client
        .authorize(&gateway(Duration::from_secs(60)))
        .await
        .unwrap();
    let c = sim.counters();
    assert_eq!((c.tokens_minted, c.token_rejections, c.auths), (2, 1, 2));
}

#[tokio::test]
async fn openapi_wrong_secret_and_unknown_site() {
    let sim = sim_default().await;
    let bad = OmadaSettings {
        client_secret: Some("nope-secret".into()),
        ..sim.openapi_settings()
    };
    let err = OmadaClient::new(bad, fast())
        .unwrap()
        .test()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OmadaError::AuthFailed(m) if m.contains("-44106")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("nope-secret"));

    let client = openapi(&sim);
    let info = client.test().await.unwrap();
    assert_eq!(info.sites.len(), 1);
    assert_eq!(info.sites[0].name, "Default");
    let err = client
        .authorize(&AuthorizeRequest {
            site: "Nowhere".into(),
            ..eap(Duration::from_secs(60))
        })
        .await
        .unwrap_err();
    // A configuration problem (waits for the fix), naming the site and the sites it sees.
    assert!(
        matches!(&err, OmadaError::Misconfigured(m) if m.contains("\"Nowhere\"") && m.contains("Default") && m.contains("Site Privileges")),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn auto_mode_lets_guests_in_through_the_hotspot_api_when_an_operator_is_set() {
    let sim = sim_default().await;
    let both = OmadaSettings {
        mode: OmadaMode::Auto,
        ..sim.hotspot_settings()
    };
    let client = OmadaClient::new(both.clone(), fast()).unwrap();
    assert_eq!(client.mode(), ResolvedMode::Hotspot);
    let caps = client.capabilities();
    assert!(caps.authorize_with_duration && caps.discovery && caps.client_lookup);
    client
        .authorize(&eap(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(sim.counters().logins, 1);
    assert_eq!(sim.authorized()[0].via, AuthApi::Hotspot);
    let open_only = OmadaSettings {
        username: None,
        password: None,
        ..both
    };
    let client = OmadaClient::new(open_only, fast()).unwrap();
    assert_eq!(client.mode(), ResolvedMode::OpenApi);
    assert!(!client.capabilities().authorize_with_duration);
    client
        .authorize(&eap(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(
        sim.counters().logins,
        1,
        "no operator login in Open API mode"
    );
    assert_eq!(sim.authorized()[0].via, AuthApi::OpenApi);
}

#[tokio::test]
async fn concurrent_authorizations_share_one_login() {
    let sim = sim_default().await;
    let client = hotspot(&sim);
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let req = AuthorizeRequest {
                client_mac: format!("02-00-00-00-00-{i:02X}").parse().unwrap(),
                ..eap(Duration::from_secs(60))
            };
            client.authorize(&req).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(sim.counters().logins, 1);
    assert_eq!(sim.authorized().len(), 8);
}
