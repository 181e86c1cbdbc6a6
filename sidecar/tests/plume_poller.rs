//! The poller end to end against the simulated Plume cloud over real HTTP.

use std::time::{Duration, Instant};

use rental_wifi::clock::Clock;
use rental_wifi::events::{Event as Published, EventBus};
use rental_wifi::plume::{
    http_client, HealthBoard, HealthStatus, PlumeSettings, PlumeTarget, Poller, PollerConfig,
    TokenManager,
};
use rental_wifi::sim::plume::{self as sim, PlumeSim, PlumeSimConfig, Scenario};
use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

const C: &str = "642cc40d71d99d000a611549";

fn settings(sim: &PlumeSim, interval: u32) -> PlumeSettings {
    PlumeSettings {
        sso_url: sim.sso_url(),
        auth_header: sim.auth_header(),
        partner_id: sim.partner_id(),
        api_base: sim.api_base(),
        poll_interval_seconds: interval,
    }
}

fn loc_id(n: u32) -> String {
    format!("642cc40d71d99d000a61{n:04x}")
}

fn target(unit: &str, n: u32) -> PlumeTarget {
    PlumeTarget {
        unit_id: unit.into(),
        customer_id: C.into(),
        location_id: loc_id(n),
    }
}

fn fast_config() -> PollerConfig {
    PollerConfig {
        requests_per_second: 200.0,
        retry_backoff: Duration::from_millis(50),
        ..Default::default()
    }
}

struct Harness {
    board: HealthBoard,
    events: broadcast::Receiver<rental_wifi::events::Published>,
    settings_tx: watch::Sender<Option<PlumeSettings>>,
    targets_tx: watch::Sender<Vec<PlumeTarget>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn spawn(cfg: PollerConfig, settings: Option<PlumeSettings>, targets: Vec<PlumeTarget>) -> Harness {
    let board = HealthBoard::new();
    let bus = EventBus::default();
    let events = bus.subscribe();
    let (settings_tx, settings_rx) = watch::channel(settings);
    let (targets_tx, targets_rx) = watch::channel(targets);
    let stop = CancellationToken::new();
    let task = Poller::spawn_with(
        cfg,
        settings_rx,
        targets_rx,
        board.clone(),
        bus,
        stop.clone(),
    );
    Harness {
        board,
        events,
        settings_tx,
        targets_tx,
        stop,
        task,
    }
}

impl Harness {
    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("poller stops")
            .unwrap();
    }

    fn drain(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            out.push(view(e));
        }
        out
    }

    /// Receive events until one matches `want` (within `secs`); returns all received, in order.
    async fn recv_until(
        &mut self,
        what: &str,
        secs: u64,
        want: impl Fn(&Event) -> bool,
    ) -> Vec<Event> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !seen.iter().any(&want) {
            assert!(Instant::now() < deadline, "no event: {what}");
            if let Ok(Ok(e)) =
                tokio::time::timeout(Duration::from_millis(200), self.events.recv()).await
            {
                seen.push(view(e));
            }
        }
        seen
    }
}

/// The two kinds of event the poller publishes, as this test looks at them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventKind {
    HealthChanged,
    PlumeStatus,
    Other,
}

#[derive(Clone, Debug)]
struct Event {
    kind: EventKind,
    data: serde_json::Value,
}

/// A published event as plain JSON-ish data (the sidecar's events are typed).
fn view(p: rental_wifi::events::Published) -> Event {
    match &*p.event {
        Published::HealthChanged {
            unit_id,
            status,
            previous,
            reasons,
        } => Event {
            kind: EventKind::HealthChanged,
            data: serde_json::json!({"unit_id": unit_id, "status": status.as_str(),
                "previous": previous.as_str(), "reasons": reasons}),
        },
        Published::PlumeStatus {
            connected,
            last_error,
        } => Event {
            kind: EventKind::PlumeStatus,
            data: serde_json::json!({"connected": connected, "last_error": last_error}),
        },
        _ => Event {
            kind: EventKind::Other,
            data: serde_json::Value::Null,
        },
    }
}

fn health_changed(e: &Event, unit: &str, status: &str) -> bool {
    e.kind == EventKind::HealthChanged && e.data["unit_id"] == unit && e.data["status"] == status
}

async fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[tokio::test]
async fn plume_poller_reports_every_unit_and_publishes_changes() {
    let sim = sim::start(PlumeSimConfig::default()).await.unwrap();
    sim.add_location(C, &loc_id(1), Scenario::Fine);
    sim.add_location(C, &loc_id(2), Scenario::PodDown);
    sim.add_location(C, &loc_id(3), Scenario::NotFound);
    let mut h = spawn(
        fast_config(),
        Some(settings(&sim, 1)),
        vec![target("beach", 1), target("cabin", 2), target("loft", 3)],
    );
    let board = h.board.clone();
    wait_for("three reports", 10, || {
        ["beach", "cabin", "loft"]
            .iter()
            .all(|u| board.get(u, now()).status != HealthStatus::Unknown)
    })
    .await;
    let beach = board.get("beach", now());
    assert_eq!(beach.status, HealthStatus::Green);
    assert_eq!(beach.wifi_networks, vec![PlumeSim::ssid_for(&loc_id(1))]);
    assert_eq!(
        (
            beach.pods_connected,
            beach.pods_total,
            beach.devices_connected
        ),
        (3, 3, 4)
    );
    assert!(beach.updated_at.is_some() && !beach.stale);
    let cabin = board.get("cabin", now());
    assert_eq!(
        (cabin.status, cabin.reasons.clone()),
        (
            HealthStatus::Orange,
            vec!["Pod 'Bedroom' disconnected".to_string()]
        )
    );
    let loft = board.get("loft", now());
    assert_eq!(loft.status, HealthStatus::Red);
    assert_eq!(
        loft.reasons,
        vec![format!(
            "Plume customer {C} has no location {} (404): check the unit's Plume location id",
            loc_id(3)
        )]
    );
    assert!(loft.misconfigured);
    // What get_network will show: pods, devices, SSID, the gateway's speed test.
    let net = board.network("beach").expect("network details kept");
    assert_eq!(net.pods.len(), 3);
    assert_eq!(net.pods.iter().filter(|p| p.gateway).count(), 1);
    assert_eq!(net.devices.len(), 5);
    assert_eq!(net.wifi_networks, vec![PlumeSim::ssid_for(&loc_id(1))]);
    let st = net.speed_test.as_ref().expect("gateway speed test");
    assert_eq!(
        (st.download_mbps, st.upload_mbps),
        (Some(512.3), Some(41.2))
    );
    assert!(board.network("loft").is_none());
    let st = board.status();
    assert!(st.configured && st.connected && st.last_error.is_none() && st.last_poll_at.is_some());
    assert_eq!(
        board.get("nowhere", now()).reasons,
        vec!["Unit has no Plume location"]
    );

    // Scenario change → health_changed with previous.
    sim.set_scenario(C, &loc_id(1), Scenario::PoorHealth);
    wait_for("beach yellow", 10, || {
        board.get("beach", now()).status == HealthStatus::Yellow
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let events = h.drain();
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::HealthChanged)
        .map(|e| e.data.clone())
        .collect();
    assert!(
        changes.iter().any(|d| d["unit_id"] == "beach"
            && d["status"] == "green"
            && d["previous"] == "unknown"),
        "{changes:?}"
    );
    let last = changes
        .iter()
        .rev()
        .find(|d| d["unit_id"] == "beach")
        .unwrap();
    assert_eq!(last["status"], "yellow");
    assert_eq!(last["previous"], "green");
    assert_eq!(last["reasons"][0], "Pod 'Pod 3' health is poor (score 1)");
    assert_eq!(
        changes.iter().filter(|d| d["unit_id"] == "cabin").count(),
        1,
        "no event without a change"
    );
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::PlumeStatus && e.data["connected"] == true));
    // The SSID is read on a unit's first round, then only every 10th round, and only from
    // `/wifiNetwork/ssid` (never the endpoint that carries the key); devices on every SSID.
    let c = sim.counters();
    assert!(c.per_kind["location"] >= 6);
    assert!(c.per_kind["ssid"] < c.per_kind["location"] / 2, "{c:?}");
    assert!(!c.per_kind.contains_key("wifiNetwork"), "{c:?}");
    assert!(sim
        .requests()
        .iter()
        .filter(|r| r.kind == "devices")
        .all(|r| r.query.as_deref() == Some("allSSIDs=true")));
    assert_eq!(sim.counters().token_requests, 1);
    h.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_outage_goes_stale_after_three_intervals_then_recovers() {
    let sim = sim::start(PlumeSimConfig::default()).await.unwrap();
    for n in 1..=10 {
        sim.add_location(C, &loc_id(n), Scenario::Fine);
    }
    let targets: Vec<_> = (1..=10).map(|n| target(&format!("u{n}"), n)).collect();
    let mut h = spawn(fast_config(), Some(settings(&sim, 1)), targets);
    let board = h.board.clone();
    // Units turn green as they are read; Plume is reported connected at the end of the first
    // round: wait for that event itself, so no event from before the outage is left to be
    // mistaken for one after it.
    let first = h
        .recv_until("plume connected", 10, |e| {
            e.kind == EventKind::PlumeStatus && e.data["connected"] == true
        })
        .await;
    assert!(first.iter().any(|e| health_changed(e, "u1", "green")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.drain();

    sim.set_outage(true);
    let outage_started = Instant::now();
    let before = sim.counters().api_requests;
    // Not stale before 3 intervals.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        board.get("u1", now()).status,
        HealthStatus::Green,
        "still within 3 intervals"
    );
    wait_for("stale", 10, || board.get("u1", now()).stale).await;
    let stale_after = outage_started.elapsed();
    assert!(
        stale_after >= Duration::from_secs(2),
        "stale too early: {stale_after:?}"
    );
    let r = board.get("u1", now());
    assert_eq!(r.status, HealthStatus::Unknown, "stale is never green");
    assert!(
        r.reasons[0].starts_with("No data from Plume for "),
        "{:?}",
        r.reasons
    );
    assert!(
        r.reasons.iter().any(|x| x.contains("503")),
        "{:?}",
        r.reasons
    );
    wait_for("disconnected", 5, || !board.status().connected).await;
    assert!(board.status().last_error.unwrap().contains("503"));
    // The round gives up once 3 units in a row failed: the 4 units in flight finish their 3
    // attempts, at most 2 more started meanwhile get one; not 10 units × 3 attempts per round.
    let rounds = (outage_started.elapsed().as_secs_f64() / 1.0).ceil() as u64 + 1;
    let during = sim.counters().api_requests - before;
    assert!(
        during <= rounds * 14,
        "{during} requests in {rounds} rounds"
    );

    // The poller itself notices at its next round and tells Home Assistant.
    let mut seen = h
        .recv_until("health_changed for the stale unit", 5, |e| {
            health_changed(e, "u1", "unknown")
        })
        .await;
    sim.set_outage(false);
    wait_for("recovered", 10, || {
        board.get("u1", now()).status == HealthStatus::Green && board.status().connected
    })
    .await;
    assert!(!board.get("u1", now()).stale);
    tokio::time::sleep(Duration::from_millis(100)).await;
    seen.extend(h.drain());
    let events = seen;
    let u1: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::HealthChanged && e.data["unit_id"] == "u1")
        .map(|e| e.data["status"].clone())
        .collect();
    assert_eq!(u1, vec!["unknown", "green"]);
    let plume: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::PlumeStatus)
        .map(|e| e.data["connected"].clone())
        .collect();
    assert_eq!(plume.first(), Some(&serde_json::json!(false)));
    assert_eq!(plume.last(), Some(&serde_json::json!(true)));
    h.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn plume_settings_and_targets_change_without_restart() {
    let sim = sim::start(PlumeSimConfig::default()).await.unwrap();
    sim.add_location(C, &loc_id(1), Scenario::Fine);
    sim.add_location(C, &loc_id(2), Scenario::Offline);
    let h = spawn(fast_config(), None, vec![target("a", 1)]);
    let board = h.board.clone();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!board.status().configured);
    assert_eq!(
        board.get("a", now()).reasons,
        vec!["Plume is not configured"]
    );
    assert_eq!(sim.counters().api_requests, 0);

    // Bad credentials first.
    let mut bad = settings(&sim, 1);
    bad.auth_header = "Basic c2ltLWNsaWVudDp3cm9uZw==".into();
    h.settings_tx.send(Some(bad)).unwrap();
    wait_for("oauth error", 5, || {
        board
            .status()
            .last_error
            .is_some_and(|e| e.starts_with("OAuth token request failed: 401 (invalid_client)"))
    })
    .await;
    assert!(!board.status().connected);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        sim.counters().token_requests <= 2,
        "backoff: {:?}",
        sim.counters()
    );
    assert_eq!(sim.counters().api_requests, 0);

    h.settings_tx.send(Some(settings(&sim, 1))).unwrap();
    wait_for("a green", 5, || {
        board.get("a", now()).status == HealthStatus::Green
    })
    .await;
    h.targets_tx
        .send(vec![target("a", 1), target("b", 2)])
        .unwrap();
    wait_for("b red", 5, || {
        board.get("b", now()).status == HealthStatus::Red
    })
    .await;
    // Moving a unit to another location forgets the old report.
    h.targets_tx.send(vec![target("a", 2)]).unwrap();
    wait_for("a red", 5, || {
        board.get("a", now()).status == HealthStatus::Red
    })
    .await;
    assert_eq!(
        board.get("b", now()).reasons,
        vec!["Unit has no Plume location"]
    );
    h.settings_tx.send(None).unwrap();
    wait_for("unconfigured", 5, || !board.status().configured).await;
    h.stop().await;
    sim.shutdown().await;
}

/// Request timestamps at the simulator: never more than the limit in any 1 s window, beyond a
/// burst of one.
#[tokio::test]
async fn plume_rate_limit_holds_with_100_units() {
    let sim = sim::start(PlumeSimConfig::default()).await.unwrap();
    let targets: Vec<_> = (0..100)
        .map(|n| {
            sim.add_location(C, &loc_id(n), Scenario::Fine);
            target(&format!("unit-{n}"), n)
        })
        .collect();
    let h = spawn(PollerConfig::default(), Some(settings(&sim, 60)), targets);
    tokio::time::sleep(Duration::from_secs(6)).await;
    h.stop().await;
    let times: Vec<Duration> = sim
        .requests()
        .into_iter()
        .filter(|r| r.kind != "token")
        .map(|r| r.at)
        .collect();
    assert!(times.len() >= 25, "polling made progress: {}", times.len());
    let mut worst = 0;
    for (i, t) in times.iter().enumerate() {
        let n = times[i..]
            .iter()
            .take_while(|u| **u < *t + Duration::from_secs(1))
            .count();
        worst = worst.max(n);
    }
    println!(
        "100 units, default limit 5 req/s: {} API requests in 6 s, worst 1 s window {worst}",
        times.len()
    );
    assert!(worst <= 6, "worst 1 s window had {worst} requests");
    assert!(times.len() <= 32, "{} requests in 6 s", times.len());
    sim.shutdown().await;
}

/// Measures what the sidecar costs Plume (the README's budget table). Requests per round are
/// measured with 1 s rounds and no rate limit; at the default budget (5 requests/s) a round
/// takes `requests per round / 5` seconds, each unit is refreshed every `max(60 s, round)`, and
/// the rate is `requests per round / refresh`. OAuth requests/hour measured on an hour of 60 s
/// polls with the token clock advanced (a 600 s token, the documented example TTL).
#[tokio::test]
async fn plume_measure_request_rates() {
    let sim = sim::start(PlumeSimConfig::default()).await.unwrap();
    for n in 0..100 {
        sim.add_location(C, &loc_id(n), Scenario::Fine);
    }
    let mut lines = vec![
        "units | requests/round | round at 5 req/s | refreshed every | requests/min | per 5 min (WAF 2,000)".to_string(),
    ];
    // 300 units: `plume_fleet.rs` and `rental-wifi-load plume-fleet` (a round there is minutes).
    for units in [1u32, 10, 100] {
        sim.reset();
        let targets: Vec<_> = (0..units).map(|n| target(&format!("u{n}"), n)).collect();
        // Rounds as fast as possible (no rate limit) → per-round average incl. the SSID read.
        let cfg = PollerConfig {
            requests_per_second: 100_000.0,
            max_concurrency: 4,
            ..Default::default()
        };
        let h = spawn(cfg, Some(settings(&sim, 1)), targets);
        let board = h.board.clone();
        let t0 = Instant::now();
        wait_for("first round", 30, || board.status().last_poll_at.is_some()).await;
        tokio::time::sleep(Duration::from_millis(10_500).saturating_sub(t0.elapsed())).await;
        h.stop().await;
        let c = sim.counters();
        let rounds = c.per_kind["location"] as f64 / units as f64;
        let per_round = c.api_requests as f64 / rounds;
        let round_s = per_round / 5.0;
        let refresh_s = round_s.max(60.0);
        let per_min = per_round * 60.0 / refresh_s;
        lines.push(format!(
            "{units:>5} | {per_round:>14.1} | {round_s:>14.0} s | {refresh_s:>13.0} s | {per_min:>12.0} | {:>5.0} ({:.0} %)   [{rounds:.0} rounds measured]",
            per_min * 5.0,
            per_min * 5.0 / 2000.0 * 100.0
        ));
        // At most location, nodes, devices and the SSID per unit and round (the SSID on a
        // unit's first round, then every 10th).
        assert!(per_round <= 4.0 * units as f64 + 0.5, "{per_round}");
        if rounds >= 10.0 {
            assert!(per_round <= 3.3 * units as f64 + 0.5, "{per_round}");
        }
        assert!(per_min * 5.0 <= 1500.5, "never above the 1,500 budget");
    }
    // OAuth: one hour of 60 s polls with the token manager's clock moved forward.
    sim.reset();
    sim.add_location(C, &loc_id(0), Scenario::Fine);
    let clock = Clock::system();
    let tm = TokenManager::new(http_client().unwrap(), clock.clone());
    let s = settings(&sim, 60);
    let client = rental_wifi::plume::PlumeClient::new(s.clone(), tm);
    for _minute in 0..60 {
        client.location(C, &loc_id(0)).await.unwrap();
        clock.advance(Duration::from_secs(60));
    }
    let oauth = sim.counters().token_requests;
    lines.push(format!("OAuth: {oauth} token requests/hour with expires_in=600 (any number of units: one token is shared)"));
    assert!((6..=8).contains(&oauth), "{oauth}");
    println!("{}", lines.join("\n"));
    sim.shutdown().await;
}

/// Issue 15 item 2/4: a WAF answer stops the round at once (units stale, never red), and the
/// next round resumes with the units the stopped one did not reach, so a budget that allows
/// only part of the fleet per window still reaches every unit.
#[tokio::test]
async fn plume_waf_stops_the_round_and_the_next_resumes_where_it_stopped() {
    let sim = sim::start(PlumeSimConfig::default()).await.unwrap();
    let targets: Vec<_> = (1..=8)
        .map(|n| {
            sim.add_location(C, &loc_id(n), Scenario::Fine);
            target(&format!("u{n}"), n)
        })
        .collect();
    // About four units' worth of requests per 1 s window, for 8 units.
    sim.set_waf_limit(16, Duration::from_secs(1));
    sim.set_waf_answer(429, sim::WafBody::Json);
    let h = spawn(fast_config(), Some(settings(&sim, 1)), targets);
    let board = h.board.clone();
    wait_for("every unit read once", 20, || {
        (1..=8).all(|n| board.get(&format!("u{n}"), now()).updated_at.is_some())
    })
    .await;
    let c = sim.counters();
    assert!(c.per_status.get(&429).copied().unwrap_or(0) > 0, "{c:?}");
    for n in 1..=8 {
        let r = board.get(&format!("u{n}"), now());
        assert_ne!(
            r.status,
            HealthStatus::Red,
            "u{n}: a rate limit is never red: {r:?}"
        );
    }
    assert!(board
        .status()
        .last_error
        .is_some_and(|e| e.starts_with("Plume rate limit reached")));
    h.stop().await;
    sim.shutdown().await;
}

/// When Plume refuses every unit's customer id, the Plume status says that either the ids or
/// the API base (another Plume cloud) are wrong.
#[tokio::test]
async fn plume_every_customer_refused_names_both_causes() {
    let sim = sim::start(PlumeSimConfig::default()).await.unwrap();
    let targets = vec![
        PlumeTarget {
            unit_id: "a".into(),
            customer_id: "aaaaaaaaaaaaaaaaaaaaaaaa".into(),
            location_id: loc_id(1),
        },
        PlumeTarget {
            unit_id: "b".into(),
            customer_id: "bbbbbbbbbbbbbbbbbbbbbbbb".into(),
            location_id: loc_id(2),
        },
    ];
    let h = spawn(fast_config(), Some(settings(&sim, 1)), targets);
    let board = h.board.clone();
    wait_for("both red", 10, || {
        ["a", "b"]
            .iter()
            .all(|u| board.get(u, now()).status == HealthStatus::Red)
    })
    .await;
    wait_for("status error", 10, || board.status().last_error.is_some()).await;
    let st = board.status();
    assert!(!st.connected);
    let e = st.last_error.unwrap();
    assert!(
        e.contains("customer ids") && e.contains("same Plume cloud"),
        "{e}"
    );
    assert!(board.get("a", now()).misconfigured);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(sim.counters().token_requests <= 2, "{:?}", sim.counters());
    h.stop().await;
    sim.shutdown().await;
}
