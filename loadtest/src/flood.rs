//! `flood`: a hostile guest holds thousands of stalled and slow connections to the portal
//! (issue 13, finding 1) while Home Assistant polls the API and real guests redeem. Prints the
//! connections the flood opened and held, the latency of the HA calls and the redemptions
//! during the flood, and the sidecar's RSS before, at the peak and after the flood.
//!
//! The sidecar runs with the product's default limits (not the harness's lifted per-address
//! cap). The flood comes from many loopback addresses (127.0.10.x…: Linux routes all of
//! 127/8 to `lo`) on a thread of its own, as from a laptop; a guest phone connects from
//! 127.0.0.3 with a fresh connection per redemption, Home Assistant from 127.0.0.1.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use http::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::Conn;
use crate::load::{Op, Outcome, Stats};
use crate::ops::{Devices, Redeem};
use crate::report::{Report, Row};
use crate::scenarios::{
    check, create_units, finish, measured, mib, row, seed, start_with, Opts, Sims,
};

const STALLED_BODY: &[u8] = b"POST /portal HTTP/1.1\r\nHost: portal\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 16000\r\n\r\ncode=";
const SLOW_HEADERS: &[u8] =
    b"GET /portal?clientMac=AA-BB-CC-DD-EE-FF HTTP/1.1\r\nHost: portal\r\nX-Slow: ";

/// What the flood did.
#[derive(Default)]
struct FloodCount {
    opened: AtomicUsize,
    open_now: AtomicUsize,
    held_peak: AtomicUsize,
}

/// Open file descriptors of a process (sockets included).
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn source(a: usize) -> IpAddr {
    IpAddr::from([127, 0, 10 + (a / 250) as u8, 1 + (a % 250) as u8])
}

async fn hold_one(src: IpAddr, portal: SocketAddr, stalled_body: bool, until: Instant) -> bool {
    let Ok(socket) = tokio::net::TcpSocket::new_v4() else {
        return false;
    };
    if socket.bind(SocketAddr::new(src, 0)).is_err() {
        return false;
    }
    let Ok(mut s) = socket.connect(portal).await else {
        return false;
    };
    let payload = if stalled_body {
        STALLED_BODY
    } else {
        SLOW_HEADERS
    };
    if s.write_all(payload).await.is_err() {
        return true;
    }
    let mut buf = [0u8; 2048];
    // Hold until the server closes it (or the flood ends).
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// The attacker: `conns` connections at a time from `addrs` addresses until `until`; each
/// one closed by the server is reopened at once.
fn spawn_flood(
    portal: SocketAddr,
    conns: usize,
    addrs: usize,
    until: Instant,
    count: Arc<FloodCount>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let mut tasks = Vec::with_capacity(conns);
            for i in 0..conns {
                let count = count.clone();
                let src = source(i % addrs.max(1));
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < until {
                        let n = count.open_now.fetch_add(1, Ordering::Relaxed) + 1;
                        count.held_peak.fetch_max(n, Ordering::Relaxed);
                        let connected = hold_one(src, portal, i % 2 == 0, until).await;
                        count.open_now.fetch_sub(1, Ordering::Relaxed);
                        if connected {
                            count.opened.fetch_add(1, Ordering::Relaxed);
                        } else {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        });
    })
}

pub async fn flood(opts: &Opts, report: &mut Report, sims: &Sims, quick: bool) -> Result<()> {
    let conns = opts.connections.unwrap_or(if quick { 1000 } else { 3000 });
    let addrs = if quick { 20 } else { 100 };
    let secs = opts.duration.max(Duration::from_secs(3));
    println!(
        "== flood: {conns} stalled/slow portal connections from {addrs} addresses for {}s; HA polls, guests redeem",
        secs.as_secs_f64()
    );
    let sim = sims.omada().await?;
    let mut run = start_with(opts, report, &[]).await?;
    let settings = serde_json::to_value(sim.hotspot_settings())?;
    run.api
        .call(
            &mut run.setup,
            Method::PUT,
            "/api/v1/settings/omada?validate=false",
            Some(settings),
            &[200, 204],
        )
        .await?;
    let units = create_units(
        &mut run,
        &[json!({"unit_id": "load-flood", "name": "Load flood", "omada_site": "Default"})],
    )
    .await?;
    let codes = Arc::new(seed(&run, &units, 1, 0).await?);
    let guest = Redeem::new(run.sc.portal, codes, Devices::Distinct { prefix: 0x0E });
    let until = Instant::now() + secs + Duration::from_millis(500);
    // Let the set-up settle, then call it "before".
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_kib = run.sc.rss_kib().unwrap_or(0);
    let before_fds = open_fds(run.sc.pid);
    let pid = run.sc.pid;
    let fd_peak = Arc::new(AtomicUsize::new(before_fds));
    let fd_sampler = {
        let fd_peak = fd_peak.clone();
        std::thread::spawn(move || {
            while Instant::now() < until {
                fd_peak.fetch_max(open_fds(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };

    let count = Arc::new(FloodCount::default());
    let attacker = spawn_flood(run.sc.portal, conns, addrs, until, count.clone());
    let api_addr = run.sc.api;
    let portal = run.sc.portal;
    let api = run.api.clone();
    let ((ha, guests), usage) = measured(&run.sc, async {
        let mut ha = Stats::new();
        let mut guests = Stats::new();
        let mut ha_conn = Conn::connect(api_addr).await?;
        let started = Instant::now();
        let mut seq = 0u64;
        // HA polls every 100 ms; a guest redeems every 500 ms on a fresh connection.
        while Instant::now() < until {
            for _ in 0..5 {
                if ha_conn.is_closed() {
                    ha_conn.reconnect().await?;
                }
                let t = Instant::now();
                let outcome = match ha_conn.send(api.get("/api/v1/state")).await {
                    Ok(r) if r.status == 200 => Outcome::Ok,
                    Ok(r) => Outcome::Unexpected(format!("GET /api/v1/state: {}", r.status)),
                    Err(e) => Outcome::Transport(e.to_string()),
                };
                ha.record(outcome, t.elapsed());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let t = Instant::now();
            let outcome = match Conn::connect_from(IpAddr::from([127, 0, 0, 3]), portal).await {
                Ok(mut c) => guest.run(&mut c, seq).await,
                Err(e) => Outcome::Transport(format!("{e:#}")),
            };
            guests.record(outcome, t.elapsed());
            seq += 1;
        }
        ha.window = started.elapsed();
        guests.window = started.elapsed();
        Ok((ha, guests))
    })
    .await?;
    let _ = tokio::task::spawn_blocking(move || attacker.join()).await;
    let _ = tokio::task::spawn_blocking(move || fd_sampler.join()).await;
    // After: the flood is gone; give the sidecar a moment to close its side, then look.
    // The allocator gives freed pages back after its decay time (jemalloc: 10 s).
    let marks: &[u64] = if quick { &[1, 12] } else { &[1, 5, 15, 30] };
    let mut after = Vec::new();
    let mut waited = 0;
    for &mark in marks {
        tokio::time::sleep(Duration::from_secs(mark - waited)).await;
        waited = mark;
        after.push((mark, run.sc.rss_kib().unwrap_or(0)));
    }
    let after_kib = after.last().map_or(0, |a| a.1);
    let after_fds = open_fds(run.sc.pid);
    check(report, "flood", "HA calls", &ha);
    check(report, "flood", "guest redemptions", &guests);
    let opened = count.opened.load(Ordering::Relaxed);
    let held = count.held_peak.load(Ordering::Relaxed);
    let after_text = after
        .iter()
        .map(|(s, kib)| format!("{s} s after {:.1} MiB", mib(*kib)))
        .collect::<Vec<_>>()
        .join(", ");
    let memory = format!(
        "sidecar fds before {before_fds}, peak {}, after {after_fds}; RSS before {:.1} MiB, peak {:.1} MiB, {after_text}",
        fd_peak.load(Ordering::Relaxed),
        mib(before_kib),
        mib(usage.peak_kib),
    );
    println!(
        "  flood: {opened} connections opened, up to {held} held open by the attacker at once; {memory}"
    );
    let returned = after_kib <= before_kib + 4 * 1024;
    if !returned {
        println!("  flood: memory did not return to within 4 MiB of its level before the flood");
    }
    let load = format!(
        "{conns} conns / {addrs} addrs, {}",
        crate::scenarios::secs(secs)
    );
    let ha_row: Row = row(
        "flood",
        "HA GET /state",
        load.clone(),
        &ha,
        &run,
        &usage,
        "p99 ≤ 50 ms during the flood",
        Some(ha.ms(0.99) <= 50.0),
        format!("{opened} flood connections opened, ≤ {held} held; {memory}"),
    );
    report.push(ha_row);
    report.push(row(
        "flood",
        "guest redeem",
        load,
        &guests,
        &run,
        &usage,
        "all served, p99 ≤ 100 ms; RSS back ≤ +4 MiB",
        Some(guests.ms(0.99) <= 100.0 && returned),
        "GET + POST /portal on a fresh connection from another address".into(),
    ));
    finish("flood", run, report);
    sim.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_distinct_loopback_addresses() {
        let all: std::collections::HashSet<IpAddr> = (0..1000).map(source).collect();
        assert_eq!(all.len(), 1000);
        assert!(all.iter().all(|a| a.is_loopback()));
    }
}
