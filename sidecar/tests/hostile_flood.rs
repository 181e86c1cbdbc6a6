//! Issue 13, finding 1: a hostile guest floods the portal with stalled and slow connections.
//! The process outlives it: stalled bodies and headers are cut off in time, one address holds
//! at most its share of connections, and Home Assistant's API calls and a real guest's
//! redemption keep succeeding within their normal latency while the flood goes on.
//!
//! Addresses: the flood comes from many loopback addresses (127.0.1.x — Linux routes all of
//! 127/8 to `lo`), the guest from 127.0.0.3, Home Assistant from 127.0.0.1.
//! `RENTAL_WIFI_TEST_MODE=long` floods with more connections, from more addresses, for longer.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{config_for, redirect_query, Phone, PortalEnv};
use rental_wifi::clock::Clock;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use common::long_mode;

const TIMEOUT_SECS: u64 = 2;
/// New connections per second the whole flood opens at most.
const RECONNECTS_PER_SEC: f64 = 5_000.0;
const PORTAL_MAX: usize = 256;
const PER_ADDRESS: usize = 16;

struct Env {
    env: PortalEnv,
    _tmp: tempfile::TempDir,
    portal: SocketAddr,
    code: String,
}

impl std::ops::Deref for Env {
    type Target = PortalEnv;
    fn deref(&self) -> &PortalEnv {
        &self.env
    }
}

async fn start() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config_for(tmp.path());
    config.server.request_timeout_seconds = TIMEOUT_SECS;
    config.server.portal_max_connections = PORTAL_MAX;
    config.server.portal_max_connections_per_address = PER_ADDRESS;
    let env = PortalEnv::start_with(config, Clock::system()).await;
    let code = env
        .voucher(json!({"duration_minutes": 600, "max_devices": 0}))
        .await;
    let portal: SocketAddr = env
        .app
        .portal
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    Env {
        env,
        _tmp: tmp,
        portal,
        code,
    }
}

async fn connect_from(src: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(src, 0))?;
    s.connect(to).await
}

const STALLED_BODY: &[u8] = b"POST /portal HTTP/1.1\r\nHost: portal\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 16000\r\n\r\ncode=";
const SLOW_HEADERS: &[u8] =
    b"GET /portal?clientMac=AA-BB-CC-DD-EE-FF HTTP/1.1\r\nHost: portal\r\nX-Slow: ";

/// Closed by the server? (EOF or a reset, possibly after an answer.) Waits at most `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// A guest (from 127.0.0.3, a fresh MAC) through GET + POST /portal; the time it took.
async fn guest_redeems(env: &Env, n: u32) -> Duration {
    let phone = Phone::at(&env.app.portal, [127, 0, 0, 3]);
    let mac = format!("02-00-00-00-{:02X}-{:02X}", n >> 8, n & 0xff);
    let t = Instant::now();
    let (status, result) = phone.try_code(&mac, &env.code).await;
    assert_eq!((status, result.as_str()), (200, "success"));
    t.elapsed()
}

/// Home Assistant's poll: `GET /api/v1/state`; the time it took.
async fn ha_polls(env: &Env) -> Duration {
    let t = Instant::now();
    let (s, b) = env.app.get("/api/v1/state").await;
    assert_eq!(s, 200, "{b}");
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_and_headers_are_cut_off_and_capped_per_address() {
    let env = start().await;
    let attacker = IpAddr::from([127, 0, 1, 1]);
    // 100 connections that send headers announcing 16,000 bytes of body and then nothing,
    // then 20 that never finish their headers.
    let mut stalled = Vec::new();
    for _ in 0..100 {
        let mut s = connect_from(attacker, env.portal).await.unwrap();
        s.write_all(STALLED_BODY).await.unwrap();
        stalled.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // One address holds at most its share: the older ones were closed to make room.
    let mut open = 0;
    for s in &mut stalled {
        if !closed_within(s, Duration::from_millis(20)).await {
            open += 1;
        }
    }
    assert_eq!(open, PER_ADDRESS, "connections left open from one address");
    // ... and those are cut off once the body time limit passes (today: open for minutes).
    let t = Instant::now();
    for s in &mut stalled {
        assert!(
            closed_within(s, Duration::from_secs(TIMEOUT_SECS + 3)).await,
            "a stalled body was still open after {:?}",
            t.elapsed()
        );
    }
    let mut slow = Vec::new();
    for _ in 0..PER_ADDRESS {
        let mut s = connect_from(attacker, env.portal).await.unwrap();
        s.write_all(SLOW_HEADERS).await.unwrap();
        slow.push(s);
    }
    let t = Instant::now();
    for s in &mut slow {
        // Dripping one byte now and then does not extend the header time limit.
        let _ = s.write_all(b"x").await;
        assert!(
            closed_within(s, Duration::from_secs(TIMEOUT_SECS + 3)).await,
            "slow headers were still open after {:?}",
            t.elapsed()
        );
    }
    // The API answered all along.
    ha_polls(&env).await;
    env.env.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answers_is_cut_off() {
    let env = start().await;
    let mut s = connect_from(IpAddr::from([127, 0, 1, 2]), env.portal)
        .await
        .unwrap();
    // 3,000 pipelined page requests (~30 MB of answers), and no reading: the server's writes
    // stall once the socket buffers are full.
    let one = format!(
        "GET /portal?{} HTTP/1.1\r\nHost: portal\r\n\r\n",
        redirect_query("AA-BB-CC-DD-EE-01", "Beach Guest")
    );
    let (mut rd, mut wr) = s.split();
    let writer = async {
        for _ in 0..3000 {
            if wr.write_all(one.as_bytes()).await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(TIMEOUT_SECS + 3), writer).await;
    tokio::time::sleep(Duration::from_secs(TIMEOUT_SECS + 2)).await;
    // Now read what was sent: the server gave up part way (today it waits forever).
    let mut answers = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut tail = Vec::new();
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), rd.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => {
                tail.extend_from_slice(&buf[..n]);
                answers += tail.windows(12).filter(|w| w == b"HTTP/1.1 200").count();
                let keep = tail.len().saturating_sub(11);
                tail.drain(..keep);
            }
        }
    };
    assert!(closed, "the connection was still open");
    assert!(answers < 3000, "all {answers} answers were written");
    // Meanwhile the portal served others.
    guest_redeems(&env, 77).await;
    env.env.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_api_body_is_cut_off_too() {
    let env = start().await;
    let api: SocketAddr = env.app.api.trim_start_matches("http://").parse().unwrap();
    let mut s = TcpStream::connect(api).await.unwrap();
    let req = format!(
        "POST /api/v1/vouchers HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{",
        env.app.token
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let t = Instant::now();
    assert!(closed_within(&mut s, Duration::from_secs(TIMEOUT_SECS + 3)).await);
    assert!(t.elapsed() >= Duration::from_millis(TIMEOUT_SECS * 1000 - 200));
    env.env.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_flood_leaves_home_assistant_and_a_real_guest_unharmed() {
    let env = Arc::new(start().await);
    let (addresses, per_address, secs) = if long_mode() {
        (100u8, 64usize, 30u64)
    } else {
        (40u8, 32usize, 6u64)
    };
    // Baseline: the same calls with no flood.
    let mut base_ha = Duration::ZERO;
    for _ in 0..5 {
        base_ha = base_ha.max(ha_polls(&env).await);
    }
    let base_guest = guest_redeems(&env, 0).await;

    // The flood: from each address, `per_address` connections at a time, each stalling its
    // body or its headers; when the server closes one, the attacker opens another.
    let stop = Instant::now() + Duration::from_secs(secs);
    let opened = Arc::new(AtomicUsize::new(0));
    let pace =
        Duration::from_secs_f64(f64::from(addresses) * per_address as f64 / RECONNECTS_PER_SEC);
    // The attacker runs on threads of its own (as a laptop would), not on the sidecar's.
    let portal = env.portal;
    let counter = opened.clone();
    let flood = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut flooders = Vec::new();
            for a in 0..addresses {
                for c in 0..per_address {
                    let opened = counter.clone();
                    flooders.push(tokio::spawn(async move {
                        let src = IpAddr::from([127, 0, 1, a.wrapping_add(10)]);
                        while Instant::now() < stop {
                            let Ok(mut s) = connect_from(src, portal).await else {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            };
                            opened.fetch_add(1, Ordering::Relaxed);
                            let payload = if c % 2 == 0 {
                                STALLED_BODY
                            } else {
                                SLOW_HEADERS
                            };
                            if s.write_all(payload).await.is_err() {
                                continue;
                            }
                            let held = Instant::now();
                            let left = stop.saturating_duration_since(held);
                            closed_within(&mut s, left).await;
                            // Reopen at most every `pace`: the whole flood opens up to
                            // RECONNECTS_PER_SEC connections a second (a laptop's worth). A
                            // tight loop would be a SYN flood, which the kernel's accept queue
                            // meets before the sidecar does (a guest's SYN dropped there waits
                            // out a 1 s retransmit); the load harness's `flood` reconnects
                            // without pause and reports what that costs.
                            tokio::time::sleep(pace.saturating_sub(held.elapsed())).await;
                        }
                    }));
                }
            }
            for f in flooders {
                f.await.unwrap();
            }
        })
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Home Assistant polls every 200 ms, a guest redeems every second, until the flood ends.
    let mut ha = Vec::new();
    let mut guests = Vec::new();
    let mut n = 1;
    while Instant::now() + Duration::from_millis(700) < stop {
        for _ in 0..4 {
            ha.push(ha_polls(&env).await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        guests.push(guest_redeems(&env, n).await);
        n += 1;
    }
    tokio::task::spawn_blocking(move || flood.join().unwrap())
        .await
        .unwrap();
    let worst = |v: &[Duration]| v.iter().max().copied().unwrap_or_default();
    let (ha_max, guest_max) = (worst(&ha), worst(&guests));
    println!(
        "flood: {} connections opened from {addresses} addresses over {secs} s; HA GET /state: \
         {} calls, baseline max {:?}, during max {:?}; guest GET+POST: {} redemptions, \
         baseline {:?}, during max {:?}",
        opened.load(Ordering::Relaxed),
        ha.len(),
        base_ha,
        ha_max,
        guests.len(),
        base_guest,
        guest_max
    );
    assert!(
        opened.load(Ordering::Relaxed) > PORTAL_MAX * 2,
        "the flood must exceed the portal's cap"
    );
    assert!(guests.len() >= 2, "{guests:?}");
    // "Normal latency" on a shared 2-core test machine: well under a second, whatever the
    // flood. The long flood (thousands of new connections a second for 30 s, debug build) now
    // and then fills the kernel's accept queue (backlog 1,024) so that a guest's SYN waits out
    // one 1 s retransmit before the sidecar ever sees it: allowed there, and only there.
    let bound = Duration::from_millis(if long_mode() { 1500 } else { 1000 });
    assert!(ha_max < bound.max(base_ha * 10), "HA call took {ha_max:?}");
    assert!(
        guest_max < bound.max(base_guest * 10),
        "guest redemption took {guest_max:?}"
    );
    // After the flood the portal serves as before.
    guest_redeems(&env, 60_000).await;
}
