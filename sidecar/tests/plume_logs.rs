//! Secrets never reach the logs: run the token manager, client and poller through success,
//! revocation, bad credentials and an outage with TRACE logging captured, then look for the
//! Basic header, its base64 credentials, the client secret, every access token the simulator
//! issued and the Wi-Fi key.

mod common;

use std::time::Duration;

use common::Capture;

use rental_wifi::events::EventBus;
use rental_wifi::plume::{
    HealthBoard, HealthStatus, PlumeSettings, PlumeTarget, Poller, PollerConfig,
};
use rental_wifi::sim::plume::{self as sim, PlumeSimConfig, Scenario};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn plume_logs_never_contain_credentials_tokens_or_wifi_key() {
    let buf = Capture::default();
    buf.install_json();

    let cfg = PlumeSimConfig {
        wifi_psk: "psk-VerySecret-8812".into(),
        ..Default::default()
    };
    let sim = sim::start(cfg.clone()).await.unwrap();
    let c = "642cc40d71d99d000a611549";
    let l = "642cc40d71d99d000a61154a";
    sim.add_location(c, l, Scenario::PoorHealth);
    let good = PlumeSettings {
        sso_url: sim.sso_url(),
        auth_header: sim.auth_header(),
        partner_id: sim.partner_id(),
        api_base: sim.api_base(),
        poll_interval_seconds: 1,
    };
    tracing::info!(settings = ?good, "settings under test");
    let board = HealthBoard::new();
    let (settings_tx, settings_rx) = watch::channel(Some(good.clone()));
    let (_targets_tx, targets_rx) = watch::channel(vec![PlumeTarget {
        unit_id: "u".into(),
        customer_id: c.into(),
        location_id: l.into(),
    }]);
    let stop = CancellationToken::new();
    let cfgp = PollerConfig {
        requests_per_second: 100.0,
        retry_backoff: Duration::from_millis(20),
        wifi_every: 1,
        ..Default::default()
    };
    let task = Poller::spawn_with(
        cfgp,
        settings_rx,
        targets_rx,
        board.clone(),
        EventBus::default(),
        stop.clone(),
    );

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        board.get("u", time::OffsetDateTime::now_utc()).status,
        HealthStatus::Yellow
    );
    sim.revoke_all_tokens();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    sim.set_outage(true);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    sim.set_outage(false);
    let mut bad = good.clone();
    bad.auth_header = "Basic c2ltLWNsaWVudDpzdXBlci1zZWNyZXQtdHlwbw==".into(); // sim-client:super-secret-typo
    settings_tx.send(Some(bad)).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    stop.cancel();
    task.await.unwrap();
    let tokens = sim.issued_tokens();
    sim.shutdown().await;

    let logs = buf.text();
    assert!(
        logs.contains("plume"),
        "the capture works: {} bytes",
        logs.len()
    );
    assert!(
        logs.contains("minting a new one"),
        "the revocation path ran"
    );
    assert!(
        logs.contains("OAuth token request failed: 401"),
        "the bad-credentials path ran"
    );
    assert!(tokens.len() >= 2, "{}", tokens.len());
    let basic = sim_basic(&cfg);
    let mut secrets = vec![
        basic.clone(),
        basic.trim_start_matches("Basic ").to_string(),
        "c2ltLWNsaWVudDpzdXBlci1zZWNyZXQtdHlwbw".to_string(),
        "super-secret-typo".to_string(),
        cfg.client_secret.clone(),
        cfg.wifi_psk.clone(),
    ];
    secrets.extend(tokens.iter().cloned());
    // A token prefix is enough to leak it: check the signature part alone too.
    secrets.extend(
        tokens
            .iter()
            .filter_map(|t| t.rsplit('.').next().map(str::to_string)),
    );
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "secret leaked into logs: {}…",
            &s[..6.min(s.len())]
        );
    }
}

fn sim_basic(cfg: &PlumeSimConfig) -> String {
    cfg.auth_header()
}
