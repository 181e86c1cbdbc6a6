//! A full scenario with real secrets (operator password, Open API client secret, Plume auth
//! header, Plume access tokens, the API token), then a scan of every log line, API response and
//! SSE event for each secret value: zero hits allowed.

mod common;

use common::{eventually, Capture, PortalEnv};
use serde_json::json;

#[tokio::test]
async fn no_secret_reaches_logs_api_responses_or_events() {
    let logs = Capture::default();
    logs.install_json();

    let env = PortalEnv::start().await;
    let plume = rental_wifi::sim::plume::start(Default::default())
        .await
        .unwrap();
    plume.add_location(
        "642cc40d71d99d000a611549",
        "loc1",
        rental_wifi::sim::plume::Scenario::Fine,
    );
    let mut events = env
        .app
        .http
        .get(env.app.url("/api/v1/events"))
        .bearer_auth(&env.app.token)
        .send()
        .await
        .unwrap();

    let mut seen = String::new();
    let mut record = |s: &str| seen.push_str(s);

    // Controller in both modes (password, then client secret), Plume, a unit, redemptions.
    let (s, b) = env
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/omada",
            Some(serde_json::to_value(env.sim.openapi_settings()).unwrap()),
        )
        .await;
    assert_eq!(s, 200);
    record(&b.to_string());
    let (s, b) = env
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/omada",
            Some(serde_json::to_value(env.sim.hotspot_settings()).unwrap()),
        )
        .await;
    assert_eq!(s, 200);
    record(&b.to_string());
    let plume_settings = json!({"sso_url": plume.sso_url(), "auth_header": plume.auth_header(), "partner_id": plume.partner_id(), "api_base": plume.api_base(), "poll_interval_seconds": 1});
    let (s, b) = env
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/plume",
            Some(plume_settings),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    record(&b.to_string());
    let (s, _) = env
        .app
        .patch(
            "/api/v1/units/beach",
            json!({"plume_customer_id": "642cc40d71d99d000a611549", "plume_location_id": "loc1"}),
        )
        .await;
    assert_eq!(s, 200);
    let code = env.voucher(json!({})).await;
    let r = env.app.redeem("52-DE-63-F1-E3-3B", &code).await;
    assert_eq!(r.result, "success");
    record(&r.body);
    let r = env.app.redeem("52-DE-63-F1-E3-3C", "WRONGCODE1").await;
    record(&r.body);
    // A wrong password attempt (its value is a secret too).
    let mut bad = serde_json::to_value(env.sim.hotspot_settings()).unwrap();
    bad["password"] = json!("Sup3rSecretWrongPass");
    let (_, b) = env
        .app
        .send(reqwest::Method::PUT, "/api/v1/settings/omada", Some(bad))
        .await;
    record(&b.to_string());
    assert!(
        eventually(10, || async {
            // Plume's part: the unit's SSID is on no AP of the simulated controller, whose
            // health source (Open API credentials) is red about that.
            env.app.get("/api/v1/units/beach/health").await.1["sources"]["plume"]["status"]
                == "green"
        })
        .await
    );
    env.app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert!(eventually(5, || async { env.sim.authorized().is_empty() }).await);

    for path in [
        "/api/v1/state",
        "/api/v1/settings/omada",
        "/api/v1/settings/plume",
        "/api/v1/grants",
        "/api/v1/audit?limit=1000",
        "/api/v1/vouchers",
        "/api/v1/units",
        "/api/v1/units/beach/health",
        "/metrics",
        "/api/v1/info",
    ] {
        let r = env
            .app
            .http
            .get(env.app.url(path))
            .bearer_auth(&env.app.token)
            .send()
            .await
            .unwrap();
        record(&r.text().await.unwrap());
    }
    // Drain what the SSE stream carried.
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(std::time::Duration::from_millis(300), events.chunk()).await
    {
        record(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        seen.contains("voucher_redeemed"),
        "the scan saw the event stream"
    );

    let log_text = logs.text();
    assert!(log_text.contains("api request"), "the scan saw the logs");
    let mut secrets: Vec<String> = vec![
        "operator-pass".into(),
        "sim-client-secret".into(),
        "Sup3rSecretWrongPass".into(),
        plume.auth_header(),
        plume.auth_header().trim_start_matches("Basic ").to_owned(),
        plume.config().client_secret.clone(),
        plume.config().wifi_psk.clone(),
    ];
    secrets.extend(plume.issued_tokens());
    assert!(
        secrets.len() > 7,
        "Plume tokens were minted and are part of the scan"
    );
    for secret in &secrets {
        assert!(
            !seen.contains(secret.as_str()),
            "secret {secret:.6}… found in API responses/events"
        );
        assert!(
            !log_text.contains(secret.as_str()),
            "secret {secret:.6}… found in logs"
        );
    }
    assert!(
        !log_text.contains(&env.app.token),
        "the API token is never logged"
    );
}
