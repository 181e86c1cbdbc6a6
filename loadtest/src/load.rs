//! The two load models and what they record.
//!
//! * **Closed loop** (max throughput): N workers, each with its own keep-alive connection,
//!   each sending the next operation as soon as the previous one answered. Throughput is what
//!   the server sustains at concurrency N; latency is service time at that concurrency.
//! * **Open loop** (latency at a fixed rate): operation `i` is *scheduled* at `t0 + i/R`,
//!   whatever happened before. A pacing thread (std sleep, ~50 µs precision; tokio's timer
//!   has 1 ms granularity, too coarse for a 2 ms target) releases each ticket at its time; a
//!   dispatcher hands it to an idle connection, and latency is measured from the **scheduled**
//!   time, so time spent waiting for a free connection or behind a slow response counts
//!   (no coordinated omission, as in wrk2).
//!
//! Latencies go into an HDR histogram in microseconds (1 µs … 60 s, 3 significant digits).
//! The first `warmup` of every run is driven but not recorded.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;

use crate::http::Conn;

/// What one operation came to.
pub enum Outcome {
    Ok,
    /// Answered, but not as expected (status, body marker). The text says what.
    Unexpected(String),
    /// Connection-level failure; the connection is replaced.
    Transport(String),
}

/// One operation of a scenario (one request, or a GET+POST redemption).
pub trait Op: Send + Sync + 'static {
    fn run(&self, conn: &mut Conn, seq: u64) -> impl Future<Output = Outcome> + Send;
}

/// Results of one run.
pub struct Stats {
    pub hist: Histogram<u64>,
    pub ok: u64,
    pub unexpected: u64,
    pub transport: u64,
    /// The first few error texts, for the report.
    pub errors: Vec<String>,
    /// Length of the recorded window.
    pub window: Duration,
    /// Per second of the recorded window (by scheduled/start time): (operations, max µs).
    pub per_sec: Vec<(u64, u64)>,
}

const MAX_ERRORS_KEPT: usize = 5;

impl Stats {
    pub fn new() -> Stats {
        Stats {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            ok: 0,
            unexpected: 0,
            transport: 0,
            errors: Vec::new(),
            window: Duration::ZERO,
            per_sec: Vec::new(),
        }
    }

    pub fn record(&mut self, outcome: Outcome, latency: Duration) {
        self.record_at(outcome, latency, None);
    }

    /// Record, and account the operation to second `sec` of the window (for `--timeline`).
    pub fn record_at(&mut self, outcome: Outcome, latency: Duration, sec: Option<usize>) {
        let us = (latency.as_micros() as u64).clamp(1, 60_000_000);
        let _ = self.hist.record(us);
        if let Some(sec) = sec.filter(|s| *s < 3600) {
            if self.per_sec.len() <= sec {
                self.per_sec.resize(sec + 1, (0, 0));
            }
            let slot = &mut self.per_sec[sec];
            slot.0 += 1;
            slot.1 = slot.1.max(us);
        }
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Unexpected(e) => {
                self.unexpected += 1;
                self.keep_error(e);
            }
            Outcome::Transport(e) => {
                self.transport += 1;
                self.keep_error(format!("transport: {e}"));
            }
        }
    }

    fn keep_error(&mut self, e: String) {
        if self.errors.len() < MAX_ERRORS_KEPT {
            self.errors.push(e);
        }
    }

    pub fn merge(&mut self, other: Stats) {
        let _ = self.hist.add(&other.hist);
        self.ok += other.ok;
        self.unexpected += other.unexpected;
        self.transport += other.transport;
        if self.per_sec.len() < other.per_sec.len() {
            self.per_sec.resize(other.per_sec.len(), (0, 0));
        }
        for (mine, theirs) in self.per_sec.iter_mut().zip(&other.per_sec) {
            mine.0 += theirs.0;
            mine.1 = mine.1.max(theirs.1);
        }
        for e in other.errors {
            self.keep_error(e);
        }
    }

    pub fn failures(&self) -> u64 {
        self.unexpected + self.transport
    }

    /// Successful operations per second over the recorded window.
    pub fn throughput(&self) -> f64 {
        let s = self.window.as_secs_f64();
        if s > 0.0 {
            self.ok as f64 / s
        } else {
            0.0
        }
    }

    /// Percentile in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        if self.hist.is_empty() {
            return 0.0;
        }
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        if self.hist.is_empty() {
            return 0.0;
        }
        self.hist.max() as f64 / 1000.0
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// One line per second: operations and the worst latency.
    pub fn timeline(&self) -> String {
        self.per_sec
            .iter()
            .enumerate()
            .map(|(i, (n, max))| {
                format!(
                    "    s{i:>3}: {n:>6} ops, max {:>8.2} ms",
                    *max as f64 / 1000.0
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

async fn open_conns(addr: SocketAddr, n: usize) -> Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(Conn::connect(addr).await?);
    }
    Ok(conns)
}

async fn run_one<O: Op>(op: &O, conn: &mut Conn, seq: u64) -> Outcome {
    let outcome = op.run(conn, seq).await;
    if let Outcome::Transport(_) = outcome {
        // Replace the connection; if even that fails, the next op reports it again.
        let _ = conn.reconnect().await;
    }
    outcome
}

/// Closed loop: `conns` workers, each request → response → next, for `warmup + duration`.
pub async fn closed_loop<O: Op>(
    addr: SocketAddr,
    conns: usize,
    warmup: Duration,
    duration: Duration,
    op: Arc<O>,
) -> Result<Stats> {
    let pool = open_conns(addr, conns).await?;
    let seq = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let record_from = start + warmup;
    let end = record_from + duration;
    let mut handles = Vec::with_capacity(conns);
    for mut conn in pool {
        let (op, seq) = (op.clone(), seq.clone());
        handles.push(tokio::spawn(async move {
            let mut stats = Stats::new();
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let outcome = run_one(&*op, &mut conn, n).await;
                if t >= record_from {
                    let sec = (t - record_from).as_secs() as usize;
                    stats.record_at(outcome, t.elapsed(), Some(sec));
                }
            }
            stats
        }));
    }
    let mut total = Stats::new();
    for h in handles {
        total.merge(h.await?);
    }
    total.window = duration;
    Ok(total)
}

/// Closed loop over a fixed number of operations (seeding): as fast as `conns` connections go.
pub async fn closed_count<O: Op>(
    addr: SocketAddr,
    conns: usize,
    count: u64,
    op: Arc<O>,
) -> Result<Stats> {
    let pool = open_conns(addr, conns).await?;
    let seq = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(conns);
    for mut conn in pool {
        let (op, seq) = (op.clone(), seq.clone());
        handles.push(tokio::spawn(async move {
            let mut stats = Stats::new();
            loop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    break;
                }
                let t = Instant::now();
                let outcome = run_one(&*op, &mut conn, n).await;
                stats.record(outcome, t.elapsed());
            }
            stats
        }));
    }
    let mut total = Stats::new();
    for h in handles {
        total.merge(h.await?);
    }
    total.window = start.elapsed();
    Ok(total)
}

/// Open loop: `rate` operations per second for `warmup + duration`, over at most `conns`
/// connections; latency from each operation's scheduled time.
pub async fn open_loop<O: Op>(
    addr: SocketAddr,
    conns: usize,
    rate: f64,
    warmup: Duration,
    duration: Duration,
    op: Arc<O>,
) -> Result<Stats> {
    let pool = open_conns(addr, conns).await?;
    let (idle_tx, mut idle_rx) = tokio::sync::mpsc::unbounded_channel::<Conn>();
    for c in pool {
        let _ = idle_tx.send(c);
    }
    let total = ((warmup + duration).as_secs_f64() * rate).round() as u64;
    let t0 = Instant::now() + Duration::from_millis(20);
    let record_from = t0 + warmup;

    // Pacing thread: releases ticket i at t0 + i/rate.
    let (tick_tx, mut tick_rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let pacer = std::thread::Builder::new()
        .name("pacer".into())
        .spawn(move || {
            for i in 0..total {
                let at = t0 + Duration::from_secs_f64(i as f64 / rate);
                let now = Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                if tick_tx.send((i, at)).is_err() {
                    break;
                }
            }
        })?;

    let stats = Arc::new(Mutex::new(Stats::new()));
    while let Some((seq, scheduled)) = tick_rx.recv().await {
        let Some(mut conn) = idle_rx.recv().await else {
            break;
        };
        let (op, stats, idle_tx) = (op.clone(), stats.clone(), idle_tx.clone());
        tokio::spawn(async move {
            let outcome = run_one(&*op, &mut conn, seq).await;
            let latency = scheduled.elapsed();
            if scheduled >= record_from {
                let sec = (scheduled - record_from).as_secs() as usize;
                stats.lock().unwrap_or_else(|e| e.into_inner()).record_at(
                    outcome,
                    latency,
                    Some(sec),
                );
            }
            let _ = idle_tx.send(conn);
        });
    }
    let _ = pacer.join();
    // Every connection back in the pool = every operation finished.
    for _ in 0..conns {
        if idle_rx.recv().await.is_none() {
            break;
        }
    }
    let mut s = std::mem::take(&mut *stats.lock().unwrap_or_else(|e| e.into_inner()));
    s.window = duration;
    Ok(s)
}

/// `n` clients, each on its own fresh connection, all released at the same instant; each
/// runs one operation. Latency from the release instant.
pub async fn burst<O: Op>(addr: SocketAddr, n: usize, op: Arc<O>) -> Result<Stats> {
    let mut pool = Vec::with_capacity(n);
    for _ in 0..n {
        pool.push(Conn::connect(addr).await?);
    }
    let (go_tx, go_rx) = tokio::sync::watch::channel::<Option<Instant>>(None);
    let mut handles = Vec::with_capacity(n);
    for (i, mut conn) in pool.into_iter().enumerate() {
        let (op, mut go) = (op.clone(), go_rx.clone());
        handles.push(tokio::spawn(async move {
            let start = match go.wait_for(|v| v.is_some()).await {
                Ok(v) => v.expect("checked"),
                Err(_) => return (Outcome::Transport("never started".into()), Duration::ZERO),
            };
            let outcome = op.run(&mut conn, i as u64).await;
            (outcome, start.elapsed())
        }));
    }
    // Let every task reach its wait point, then release them together.
    tokio::task::yield_now().await;
    let start = Instant::now();
    let _ = go_tx.send(Some(start));
    let mut stats = Stats::new();
    for h in handles {
        let (outcome, latency) = h.await?;
        stats.record(outcome, latency);
    }
    stats.window = start.elapsed();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_percentiles_and_merge() {
        let mut a = Stats::new();
        for i in 1..=100u64 {
            a.record(Outcome::Ok, Duration::from_micros(i * 10));
        }
        let mut b = Stats::new();
        b.record(
            Outcome::Unexpected("HTTP 500".into()),
            Duration::from_millis(5),
        );
        a.merge(b);
        assert_eq!(a.count(), 101);
        assert_eq!(a.ok, 100);
        assert_eq!(a.failures(), 1);
        assert!((a.ms(0.5) - 0.51).abs() < 0.005);
        assert!((a.max_ms() - 5.0).abs() < 0.01);
        a.window = Duration::from_secs(2);
        assert!((a.throughput() - 50.0).abs() < 1e-9);
    }
}
