//! `kill -9` at random moments, then a restart on the same data dir:
//!
//! * in the middle of 1,000 concurrent redemptions: every guest who saw the success page has
//!   an active grant, no voucher has more devices than its limit, the database passes
//!   `PRAGMA integrity_check`, and the outbox resumes;
//! * in the middle of bursts of hundreds of concurrent revokes, stays cut short and
//!   cancellations, round after round (2 rounds by default, 20 with `tests/run --long`):
//!   every answered request took effect, the crash invariants hold, and every request
//!   retried succeeds and ends where it wanted (`common::crash`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Sidecar;
use serde_json::{json, Value};

const GUESTS: usize = 1000;
const VOUCHERS: usize = 250;
const MAX_DEVICES: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_thousand_redemptions_loses_no_confirmed_guest() {
    rental_wifi::init_crypto();
    let sim = rental_wifi::sim::omada::start(Default::default())
        .await
        .unwrap();
    // A little controller latency keeps many redemptions in flight when the kill lands.
    sim.set_latency(Duration::from_millis(20));
    let tmp = tempfile::tempdir().unwrap();
    let mut sc = Sidecar::start(tmp.path(), common::process::CROWD_ON_LOOPBACK);
    let token = common::process::token(tmp.path());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let put = http
        .put(format!("{}/api/v1/settings/omada", sc.api))
        .bearer_auth(&token)
        .json(&sim.hotspot_settings())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let r = http
        .post(format!("{}/api/v1/units", sc.api))
        .bearer_auth(&token)
        .json(&json!({"unit_id": "u", "name": "U"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut codes = Vec::new();
    for _ in 0..VOUCHERS {
        let v: Value = http
            .post(format!("{}/api/v1/vouchers", sc.api))
            .bearer_auth(&token)
            .json(&json!({"unit_id": "u", "duration_minutes": 600, "max_devices": MAX_DEVICES, "device_policy": "refuse"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        codes.push(v["code"].as_str().unwrap().to_owned());
    }

    // 1,000 guests (4 per voucher: one more than allowed; the vouchers refuse the extra one
    // rather than replace a device, so every guest told "online" must stay so) at once.
    let successes = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..GUESTS {
        let http = http.clone();
        let portal = sc.portal.clone();
        let code = codes[i % VOUCHERS].clone();
        let successes = successes.clone();
        tasks.push(tokio::spawn(async move {
            let mac = format!(
                "02-00-00-{:02X}-{:02X}-{:02X}",
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            );
            let q = common::redirect_query(&mac, "Guest");
            let r = common::submit_form(&http, &portal, &q, &code, &[], None).await?;
            if r.succeeded() {
                successes.fetch_add(1, Ordering::SeqCst);
                Some((mac, code))
            } else {
                None
            }
        }));
    }
    // Kill once some guests are through but many are still in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while successes.load(Ordering::SeqCst) < 150 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sc.kill9();
    sim.set_latency(Duration::ZERO);
    let mut confirmed = Vec::new();
    for t in tasks {
        if let Some(pair) = t.await.unwrap() {
            confirmed.push(pair);
        }
    }
    assert!(
        confirmed.len() >= 150,
        "the kill landed mid-run ({} confirmed)",
        confirmed.len()
    );
    assert!(
        confirmed.len() < GUESTS * MAX_DEVICES / (MAX_DEVICES + 1),
        "and not after everyone was done ({})",
        confirmed.len()
    );

    // Integrity of the file as the kill left it.
    let db = tmp.path().join(rental_wifi::app::DB_FILE);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }

    // Restart on the same data dir.
    let mut sc = Sidecar::start(tmp.path(), common::process::CROWD_ON_LOOPBACK);
    let grants: Value = http
        .get(format!("{}/api/v1/grants?active=true&limit=10000", sc.api))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let active: std::collections::HashSet<(String, String)> = grants["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["client_mac"].as_str().unwrap().to_owned(),
                g["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for pair in &confirmed {
        assert!(
            active.contains(pair),
            "guest {pair:?} saw success but has no active grant"
        );
    }
    let vouchers: Value = http
        .get(format!("{}/api/v1/vouchers?limit=1000", sc.api))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for v in vouchers["vouchers"].as_array().unwrap() {
        let used = v["devices_used"].as_u64().unwrap() as usize;
        assert!(used <= MAX_DEVICES, "{} has {used} devices", v["code"]);
        let on = active
            .iter()
            .filter(|(_, c)| c == v["code"].as_str().unwrap())
            .count();
        assert!(
            on <= used,
            "{}: {on} active grants but {used} slots",
            v["code"]
        );
    }
    // The outbox resumes: rolled-back redemptions are unauthorised on the controller.
    let mut pending = u64::MAX;
    // Roll-back unauthorises wait out the controller client's deadline (10 s) first.
    for _ in 0..600 {
        let st: Value = http
            .get(format!("{}/api/v1/state", sc.api))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pending = st["controller"]["outbox_pending"].as_u64().unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pending, 0, "outbox drained after the restart");
    // Whoever the controller still lets in has an active grant (nobody in without one).
    for c in sim.authorized() {
        assert!(
            active.iter().any(|(m, _)| *m == c.mac.to_string()),
            "{} is on the controller without an active grant",
            c.mac
        );
    }
    sc.kill9();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    println!(
        "crash test: {} of {GUESTS} guests confirmed before kill -9; all present after restart",
        confirmed.len()
    );
}

/// One request of a burst, and how to tell it took effect.
#[derive(Clone, Debug)]
enum Op {
    Revoke {
        code: String,
    },
    /// The stay ended a minute ago (it ran until tomorrow).
    CutShort {
        unit: String,
        booking: String,
        code: String,
    },
    Cancel {
        unit: String,
        booking: String,
        code: String,
    },
}

impl Op {
    fn request(&self) -> (&'static str, String, Option<Value>) {
        match self {
            Op::Revoke { code } => (
                "POST",
                format!("/api/v1/vouchers/{code}/revoke"),
                Some(json!({})),
            ),
            Op::CutShort { unit, booking, .. } => (
                "PUT",
                format!("/api/v1/units/{unit}/bookings/{booking}"),
                Some(
                    json!({"start": common::crash::at(-7200), "end": common::crash::at(-60),
                            "codes": [booking]}),
                ),
            ),
            Op::Cancel { unit, booking, .. } => (
                "DELETE",
                format!("/api/v1/units/{unit}/bookings/{booking}"),
                None,
            ),
        }
    }

    fn succeeded(&self, status: u16) -> bool {
        match self {
            Op::Revoke { .. } | Op::CutShort { .. } => status == 200,
            Op::Cancel { .. } => status == 204,
        }
    }

    /// Did it take effect (as far as the database says)?
    fn done(&self, db: &rusqlite::Connection) -> bool {
        let revoked = |code: &str| -> bool {
            db.query_row(
                "SELECT revoked_at IS NOT NULL FROM vouchers WHERE code = ?1",
                [code],
                |r| r.get(0),
            )
            .unwrap()
        };
        let active = |code: &str| -> i64 {
            db.query_row(
                "SELECT COUNT(*) FROM grants WHERE code = ?1 AND state = 'active'",
                [code],
                |r| r.get(0),
            )
            .unwrap()
        };
        match self {
            Op::Revoke { code } => revoked(code) && active(code) == 0,
            Op::CutShort {
                unit,
                booking,
                code,
            } => {
                let end: i64 = db
                    .query_row(
                        "SELECT end_at FROM bookings WHERE unit_id = ?1 AND booking_ref = ?2",
                        [unit, booking],
                        |r| r.get(0),
                    )
                    .unwrap();
                end < common::crash::now_ms() && active(code) == 0
            }
            Op::Cancel {
                unit,
                booking,
                code,
            } => {
                let gone: bool = !db
                    .prepare("SELECT 1 FROM bookings WHERE unit_id = ?1 AND booking_ref = ?2")
                    .unwrap()
                    .exists([unit, booking])
                    .unwrap();
                gone && revoked(code) && active(code) == 0
            }
        }
    }
}

/// A tiny deterministic generator (the seed is printed, so a failing round can be replayed
/// with `CRASH_SEED`).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kills_during_bursts_of_revokes_cuts_and_cancellations() {
    let long = common::long_mode();
    let (rounds, revokes, cuts, cancels) = if long {
        (20, 200, 100, 100)
    } else {
        (2, 100, 50, 50)
    };
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| common::crash::now_ms() as u64);
    println!("random crash test: seed {seed}, {rounds} rounds");
    let mut rng = Rng(seed);
    let mut rig = common::crash::Rig::new().await;
    let mut n = 0usize;
    for round in 0..rounds {
        // Set-up with the process running: a unit of its own per round (a unit has the
        // bookings of one rental, not of every round), every voucher and booking with a
        // device in.
        let unit = format!("r{round}");
        rig.must(
            "POST",
            "/api/v1/units",
            Some(json!({"unit_id": unit, "name": unit, "ssids": [common::crash::SSID]})),
            &[201],
        )
        .await;
        let mut ops = Vec::new();
        for _ in 0..revokes {
            n += 1;
            let code = rig.voucher(json!({"unit_id": unit})).await;
            rig.let_in(&common::crash::mac(n), &code).await;
            ops.push(Op::Revoke { code });
        }
        for i in 0..cuts + cancels {
            n += 1;
            let booking = format!("R{round}B{i:04}");
            let b = rig
                .must(
                    "PUT",
                    &format!("/api/v1/units/{unit}/bookings/{booking}"),
                    Some(
                        json!({"start": common::crash::at(-7200), "end": common::crash::at(86_400),
                                "codes": [booking]}),
                    ),
                    &[201],
                )
                .await;
            let code = b["voucher"]["code"].as_str().unwrap().to_owned();
            rig.let_in(&common::crash::mac(n), &booking).await;
            let unit = unit.clone();
            ops.push(if i < cuts {
                Op::CutShort {
                    unit,
                    booking,
                    code,
                }
            } else {
                Op::Cancel {
                    unit,
                    booking,
                    code,
                }
            });
        }
        // Shuffle, fire all at once, kill at a random moment inside the burst: after a random
        // number of answers (none up to all but one), so kills land early, late and between.
        for i in (1..ops.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            ops.swap(i, j);
        }
        let (api, token) = (rig.proc.as_ref().unwrap().api.clone(), rig.token.clone());
        let answers = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for op in ops.clone() {
            let http = rig.http.clone();
            let (api, token) = (api.clone(), token.clone());
            let answers = answers.clone();
            tasks.push(tokio::spawn(async move {
                let (m, path, body) = op.request();
                let mut rb = http
                    .request(
                        reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
                        format!("{api}{path}"),
                    )
                    .bearer_auth(&token);
                if let Some(b) = body {
                    rb = rb.json(&b);
                }
                let status = rb.send().await.ok().map(|r| r.status().as_u16());
                if status.is_some() {
                    answers.fetch_add(1, Ordering::SeqCst);
                }
                (op, status)
            }));
        }
        let aim = rng.below(ops.len() as u64) as usize;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while answers.load(Ordering::SeqCst) < aim && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        rig.kill9();
        let mut answered = Vec::new();
        for t in tasks {
            let (op, status) = t.await.unwrap();
            if let Some(s) = status {
                assert!(op.succeeded(s), "{op:?} answered {s}");
                answered.push(op);
            }
        }
        println!(
            "round {round}: killed aiming at {aim} answers, {} of {} requests answered",
            answered.len(),
            ops.len()
        );

        // Restart on the same data dir: sound file, invariants, every answered request kept.
        rig.integrity();
        rig.start(&[]);
        rig.check(&format!("round {round} after the kill"));
        {
            let db = rig.db();
            for op in &answered {
                assert!(
                    op.done(&db),
                    "round {round}: {op:?} was answered but is not in effect"
                );
            }
        }
        // The clients retry everything: each succeeds and ends where it wanted.
        for op in &ops {
            let (m, path, body) = op.request();
            let (s, b) = rig.api(m, &path, body).await.expect("an answer");
            assert!(op.succeeded(s), "retry of {op:?}: {s} {b}");
        }
        let db = rig.db();
        for op in &ops {
            assert!(
                op.done(&db),
                "round {round}: {op:?} not in effect after its retry"
            );
        }
        rig.check(&format!("round {round} after the retries"));
        // The controller follows: every device of the round is taken off.
        rig.converge(15).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !rig.sim.authorized().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: {} devices still on",
                rig.sim.authorized().len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
