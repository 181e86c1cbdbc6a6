//! The scenarios: each spawns a fresh sidecar on a fresh data dir, sets it up through its
//! API, drives it, and adds rows to the report.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use http::Method;
use serde_json::json;

use crate::http::{Api, Conn};
use crate::load::{self, Stats};
use crate::ops::{Devices, Health, Info, Issue, IssueCollect, Reads, Redeem};
use crate::proc::{CpuSample, RssSampler, Sidecar};
use crate::report::{Report, Row};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Closed,
    Open,
    Both,
}

impl Mode {
    fn closed(self) -> bool {
        matches!(self, Mode::Closed | Mode::Both)
    }
    fn open(self) -> bool {
        matches!(self, Mode::Open | Mode::Both)
    }
}

/// Everything the scenarios are told (flags, with `--quick` already applied).
#[derive(Clone, Debug)]
pub struct Opts {
    pub bin: PathBuf,
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: Option<usize>,
    pub rate: Option<f64>,
    pub mode: Mode,
    pub guests: usize,
    pub units: usize,
    pub vouchers: usize,
    pub devices: u64,
    pub poll_interval: u64,
    pub plume_duration: Duration,
    /// plume-fleet: units and poll interval (seconds).
    pub fleet_units: usize,
    pub fleet_interval: u64,
}

/// The simulators run on a runtime (one worker thread) of their own, so their work neither
/// delays the load generator's loop nor hides in it. Their CPU is in the generator's CPU%.
pub struct Sims {
    rt: Option<tokio::runtime::Runtime>,
}

impl Sims {
    pub fn new() -> Result<Sims> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sim")
            .enable_all()
            .build()?;
        Ok(Sims { rt: Some(rt) })
    }

    fn spawn<F, T>(&self, fut: F) -> impl Future<Output = Result<T>>
    where
        F: Future<Output = std::io::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let h = self.rt.as_ref().expect("runtime").spawn(fut);
        async move { Ok(h.await??) }
    }

    pub async fn omada(&self) -> Result<rental_wifi::sim::omada::OmadaSim> {
        self.spawn(rental_wifi::sim::omada::start(Default::default()))
            .await
            .context("start the Omada simulator")
    }

    pub async fn plume(&self) -> Result<rental_wifi::sim::plume::PlumeSim> {
        self.spawn(rental_wifi::sim::plume::start(Default::default()))
            .await
            .context("start the Plume simulator")
    }
}

impl Drop for Sims {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A started sidecar with a set-up connection to its API.
pub(crate) struct Run {
    pub(crate) sc: Sidecar,
    pub(crate) api: Api,
    pub(crate) setup: Conn,
    pub(crate) idle_kib: u64,
}

/// What the sidecar (and the generator) used while a load ran.
pub(crate) struct Usage {
    pub(crate) peak_kib: u64,
    cpu_pct: f64,
    gen_cpu_pct: f64,
    /// Everything else on the machine (other processes, the kernel): a noisy neighbour shows here.
    other_cpu_pct: f64,
}

async fn start(opts: &Opts, report: &mut Report) -> Result<Run> {
    start_with(opts, report, crate::proc::HARNESS_ENV).await
}

/// [`start`] with the sidecar's environment given (the flood runs the product's defaults).
pub(crate) async fn start_with(
    opts: &Opts,
    report: &mut Report,
    env: &[(&str, &str)],
) -> Result<Run> {
    let sc = Sidecar::spawn_with(&opts.bin, env)?;
    // Let start-up work (migrations, first allocations) settle before calling it idle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_kib = sc.rss_kib().unwrap_or(0);
    report.spawn(sc.ready, idle_kib);
    let api = Api::new(sc.api, &sc.token)?;
    let setup = Conn::connect(sc.api).await?;
    Ok(Run {
        sc,
        api,
        setup,
        idle_kib,
    })
}

pub(crate) async fn measured<T>(
    sc: &Sidecar,
    fut: impl Future<Output = Result<T>>,
) -> Result<(T, Usage)> {
    let sampler = RssSampler::start(sc.pid);
    let (c0, g0, s0) = (sc.cpu(), CpuSample::of_self(), CpuSample::of_system());
    let out = fut.await?;
    let (c1, g1, s1) = (sc.cpu(), CpuSample::of_self(), CpuSample::of_system());
    let peak_kib = sampler.finish(sc.pid);
    let pct = |a: Option<CpuSample>, b: Option<CpuSample>| match (a, b) {
        (Some(a), Some(b)) => a.percent_until(&b),
        _ => 0.0,
    };
    let (cpu_pct, gen_cpu_pct) = (pct(c0, c1), pct(g0, g1));
    Ok((
        out,
        Usage {
            peak_kib,
            cpu_pct,
            gen_cpu_pct,
            other_cpu_pct: (pct(s0, s1) - cpu_pct - gen_cpu_pct).max(0.0),
        },
    ))
}

/// Stop the sidecar; a crash or an unclean exit is a problem for the report.
pub(crate) fn finish(name: &str, mut run: Run, report: &mut Report) {
    if let Some(status) = run.sc.exited() {
        report.problem(format!(
            "{name}: the sidecar exited during the run ({status}); last output:\n{}",
            run.sc.output_tail()
        ));
        return;
    }
    let tail = run.sc.output_tail();
    match run.sc.stop() {
        Ok(status) if status.success() => {}
        Ok(status) => report.problem(format!(
            "{name}: the sidecar exited with {status} after SIGTERM; last output:\n{tail}"
        )),
        Err(e) => report.problem(format!("{name}: {e:#}")),
    }
}

/// `--timeline`: print operations and worst latency per second of every run.
pub static TIMELINE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn check(report: &mut Report, name: &str, what: &str, stats: &Stats) {
    if TIMELINE.load(std::sync::atomic::Ordering::Relaxed) {
        println!("  {name} {what}, per second:\n{}", stats.timeline());
    }
    if stats.failures() > 0 {
        report.problem(format!(
            "{name} {what}: {} of {} operations failed ({} unexpected answers, {} transport errors); first: {}",
            stats.failures(),
            stats.count(),
            stats.unexpected,
            stats.transport,
            stats.errors.join(" | ")
        ));
    }
    if stats.ok == 0 {
        report.problem(format!("{name} {what}: no operation succeeded"));
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn row(
    scenario: &str,
    mode: &str,
    load: String,
    stats: &Stats,
    run: &Run,
    usage: &Usage,
    target: &str,
    pass: Option<bool>,
    note: String,
) -> Row {
    Row {
        scenario: scenario.into(),
        mode: mode.into(),
        load,
        throughput: stats.throughput(),
        p50: stats.ms(0.50),
        p99: stats.ms(0.99),
        max: stats.max_ms(),
        rss_idle_kib: run.idle_kib,
        rss_peak_kib: usage.peak_kib,
        cpu_pct: usage.cpu_pct,
        gen_cpu_pct: usage.gen_cpu_pct,
        other_cpu_pct: usage.other_cpu_pct,
        ops: stats.count(),
        failures: stats.failures(),
        target: target.into(),
        pass: if stats.failures() > 0 {
            Some(false)
        } else {
            pass
        },
        note,
    }
}

pub(crate) async fn create_units(
    run: &mut Run,
    units: &[serde_json::Value],
) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(units.len());
    for u in units {
        let v = run
            .api
            .call(
                &mut run.setup,
                Method::POST,
                "/api/v1/units",
                Some(u.clone()),
                &[201],
            )
            .await?;
        ids.push(
            v.get("unit_id")
                .and_then(|x| x.as_str())
                .context("unit without unit_id")?
                .to_owned(),
        );
    }
    Ok(ids)
}

/// Issue `count` vouchers round-robin over `units` with 16 connections; their codes in order.
pub(crate) async fn seed(
    run: &Run,
    units: &[String],
    count: usize,
    max_devices: u32,
) -> Result<Vec<String>> {
    let op = Arc::new(IssueCollect {
        issue: Issue::new(run.api.clone(), units, max_devices),
        codes: Default::default(),
    });
    let t = Instant::now();
    let stats = load::closed_count(run.sc.api, 16, count as u64, op.clone()).await?;
    if stats.failures() > 0 {
        bail!(
            "seeding vouchers: {} failures; first: {}",
            stats.failures(),
            stats.errors.join(" | ")
        );
    }
    let secs = t.elapsed().as_secs_f64();
    if count >= 1000 {
        println!(
            "  seeded {count} vouchers in {secs:.1} s ({:.0}/s, 16 connections)",
            count as f64 / secs
        );
    }
    let op = Arc::into_inner(op).context("seeding op still shared")?;
    Ok(op.into_codes())
}

pub(crate) fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------------------

pub async fn issue(opts: &Opts, report: &mut Report) -> Result<()> {
    println!("== issue: POST /api/v1/vouchers");
    let mut run = start(opts, report).await?;
    let units = create_units(
        &mut run,
        &[json!({"unit_id": "load-issue", "name": "Load issue"})],
    )
    .await?;
    let op = Arc::new(Issue::new(run.api.clone(), &units, 4));
    if opts.mode.closed() {
        let conns = opts.connections.unwrap_or(32);
        let (stats, usage) = measured(
            &run.sc,
            load::closed_loop(run.sc.api, conns, opts.warmup, opts.duration, op.clone()),
        )
        .await?;
        check(report, "issue", "closed loop", &stats);
        let pass = stats.throughput() >= 5000.0;
        report.push(row(
            "issue",
            "closed",
            format!("{conns} conns, {}", secs(opts.duration)),
            &stats,
            &run,
            &usage,
            "≥ 5,000/s @ 32 conns",
            Some(pass),
            String::new(),
        ));
    }
    if opts.mode.open() {
        let rate = opts.rate.unwrap_or(1000.0);
        let conns = opts.connections.unwrap_or(32);
        let (stats, usage) = measured(
            &run.sc,
            load::open_loop(run.sc.api, conns, rate, opts.warmup, opts.duration, op),
        )
        .await?;
        check(report, "issue", "open loop", &stats);
        report.push(row(
            "issue",
            "open",
            format!("{rate:.0}/s, {}", secs(opts.duration)),
            &stats,
            &run,
            &usage,
            "p99 ≤ 2 ms @ 1,000/s",
            Some(stats.ms(0.99) <= 2.0),
            String::new(),
        ));
    }
    finish("issue", run, report);
    Ok(())
}

/// Baseline: `GET /api/v1/info` (no token, no database): the HTTP stack plus this generator.
pub async fn info(opts: &Opts, report: &mut Report) -> Result<()> {
    println!("== info: GET /api/v1/info (baseline: HTTP + generator, no database)");
    let run = start(opts, report).await?;
    let op = Arc::new(Info::new(run.sc.api));
    if opts.mode.closed() {
        let conns = opts.connections.unwrap_or(32);
        let (stats, usage) = measured(
            &run.sc,
            load::closed_loop(run.sc.api, conns, opts.warmup, opts.duration, op.clone()),
        )
        .await?;
        check(report, "info", "closed loop", &stats);
        report.push(row(
            "info",
            "closed",
            format!("{conns} conns, {}", secs(opts.duration)),
            &stats,
            &run,
            &usage,
            "— (baseline)",
            None,
            String::new(),
        ));
    }
    if opts.mode.open() {
        let rate = opts.rate.unwrap_or(1000.0);
        let conns = opts.connections.unwrap_or(32);
        let (stats, usage) = measured(
            &run.sc,
            load::open_loop(run.sc.api, conns, rate, opts.warmup, opts.duration, op),
        )
        .await?;
        check(report, "info", "open loop", &stats);
        report.push(row(
            "info",
            "open",
            format!("{rate:.0}/s, {}", secs(opts.duration)),
            &stats,
            &run,
            &usage,
            "— (baseline)",
            None,
            String::new(),
        ));
    }
    finish("info", run, report);
    Ok(())
}

/// Controller configured against the simulator, one unit, no network binding.
async fn redeem_setup(
    opts: &Opts,
    report: &mut Report,
    sims: &Sims,
    unit_id: &str,
) -> Result<(Run, rental_wifi::sim::omada::OmadaSim, Vec<String>)> {
    let sim = sims.omada().await?;
    let mut run = start(opts, report).await?;
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
        &[json!({"unit_id": unit_id, "name": "Load portal", "omada_site": "Default"})],
    )
    .await?;
    Ok((run, sim, units))
}

pub async fn redeem(opts: &Opts, report: &mut Report, sims: &Sims) -> Result<()> {
    println!("== redeem: GET + POST /portal against the Omada simulator (zero latency)");
    let (run, sim, units) = redeem_setup(opts, report, sims, "load-portal").await?;
    if opts.mode.closed() {
        let conns = opts.connections.unwrap_or(64);
        // Enough device slots for 20,000 redemptions/s: 100 devices per voucher (a release
        // build on the 2-core VM reaches ~10,000/s; at the old margin of exactly that, runs
        // ran out of slots and counted "device limit" answers as failures).
        let capacity = 20_000.0 * (opts.warmup + opts.duration).as_secs_f64();
        let n = ((capacity / 100.0).ceil() as usize).max(10);
        let codes = Arc::new(seed(&run, &units, n, 100).await?);
        let op = Arc::new(Redeem::new(
            run.sc.portal,
            codes,
            Devices::Distinct { prefix: 0x02 },
        ));
        sim.reset();
        let (stats, usage) = measured(
            &run.sc,
            load::closed_loop(run.sc.portal, conns, opts.warmup, opts.duration, op),
        )
        .await?;
        check(report, "redeem", "closed loop", &stats);
        let c = sim.counters();
        report.push(row(
            "redeem",
            "closed",
            format!("{conns} conns, {}", secs(opts.duration)),
            &stats,
            &run,
            &usage,
            "≥ 3,500/s @ 64 conns",
            Some(stats.throughput() >= 3500.0),
            format!(
                "distinct MAC per redemption; controller: {} auths, {} logins",
                c.auths, c.logins
            ),
        ));
    }
    if opts.mode.open() {
        let rate = opts.rate.unwrap_or(500.0);
        let conns = opts.connections.unwrap_or(64);
        let devices = opts.devices;
        let codes = Arc::new(seed(&run, &units, devices as usize, 1).await?);
        let op = Arc::new(Redeem::new(
            run.sc.portal,
            codes,
            Devices::Pool {
                prefix: 0x06,
                n: devices,
            },
        ));
        sim.reset();
        let (stats, usage) = measured(
            &run.sc,
            load::open_loop(run.sc.portal, conns, rate, opts.warmup, opts.duration, op),
        )
        .await?;
        check(report, "redeem", "open loop", &stats);
        let c = sim.counters();
        report.push(row(
            "redeem",
            "open",
            format!("{rate:.0}/s, {devices} devices, {}", secs(opts.duration)),
            &stats,
            &run,
            &usage,
            "p99 ≤ 5 ms @ 500/s",
            Some(stats.ms(0.99) <= 5.0),
            format!("controller: {} auths, {} logins", c.auths, c.logins),
        ));
    }
    finish("redeem", run, report);
    sim.shutdown().await;
    Ok(())
}

pub async fn burst(opts: &Opts, report: &mut Report, sims: &Sims) -> Result<()> {
    let guests = opts.guests;
    println!("== burst: {guests} guests redeeming at the same moment");
    let (run, sim, units) = redeem_setup(opts, report, sims, "load-burst").await?;
    // Families of four: one voucher per four devices.
    let codes = Arc::new(seed(&run, &units, guests.div_ceil(4), 4).await?);
    let op = Arc::new(Redeem::new(
        run.sc.portal,
        codes,
        Devices::Distinct { prefix: 0x0A },
    ));
    sim.reset();
    let (stats, usage) = measured(&run.sc, load::burst(run.sc.portal, guests, op)).await?;
    check(report, "burst", "", &stats);
    let c = sim.counters();
    report.push(row(
        "burst",
        "burst",
        format!("{guests} guests at once"),
        &stats,
        &run,
        &usage,
        "all 1,000 served",
        Some(stats.ok as usize == guests && guests >= 1000),
        format!(
            "{} of {guests} served in {:.0} ms; controller: {} auths",
            stats.ok,
            stats.window.as_secs_f64() * 1000.0,
            c.auths
        ),
    ));
    finish("burst", run, report);
    sim.shutdown().await;
    Ok(())
}

pub async fn reads(opts: &Opts, report: &mut Report) -> Result<()> {
    let (n_units, n_vouchers) = (opts.units, opts.vouchers);
    println!("== reads: {n_units} units, {n_vouchers} vouchers");
    let mut run = start(opts, report).await?;
    let specs: Vec<_> = (0..n_units)
        .map(|i| json!({"unit_id": format!("unit-{i:03}"), "name": format!("Unit {i}")}))
        .collect();
    let units = create_units(&mut run, &specs).await?;
    let codes = Arc::new(seed(&run, &units, n_vouchers, 4).await?);
    let seeded_kib = run.sc.rss_kib().unwrap_or(0);
    let op = Arc::new(Reads {
        api: run.api.clone(),
        codes,
        units,
    });
    let data = format!("{n_units} units, {n_vouchers} vouchers");
    if opts.mode.closed() {
        let conns = opts.connections.unwrap_or(32);
        let (stats, usage) = measured(
            &run.sc,
            load::closed_loop(run.sc.api, conns, opts.warmup, opts.duration, op.clone()),
        )
        .await?;
        check(report, "reads", "closed loop", &stats);
        report.push(row(
            "reads",
            "closed",
            format!("{conns} conns, {}", secs(opts.duration)),
            &stats,
            &run,
            &usage,
            "— (max throughput, info)",
            None,
            format!("{data}; RSS after seeding {:.1} MiB", mib(seeded_kib)),
        ));
    }
    if opts.mode.open() {
        let rate = opts.rate.unwrap_or(1000.0);
        let conns = opts.connections.unwrap_or(32);
        let (stats, usage) = measured(
            &run.sc,
            load::open_loop(run.sc.api, conns, rate, opts.warmup, opts.duration, op),
        )
        .await?;
        check(report, "reads", "open loop", &stats);
        let pass = stats.ms(0.99) <= 5.0 && usage.peak_kib <= 40 * 1024;
        report.push(row(
            "reads",
            "open",
            format!("{rate:.0}/s, {}", secs(opts.duration)),
            &stats,
            &run,
            &usage,
            "p99 ≤ 5 ms, RSS ≤ 40 MiB",
            Some(pass),
            format!("{data}; RSS after seeding {:.1} MiB", mib(seeded_kib)),
        ));
    }
    finish("reads", run, report);
    Ok(())
}

fn hex24(tag: u8, i: usize) -> String {
    format!("64{tag:02x}{i:020x}")
}

pub async fn plume(opts: &Opts, report: &mut Report, sims: &Sims) -> Result<()> {
    let n = opts.units;
    println!(
        "== plume: {n} units polled every {} s from the Plume simulator",
        opts.poll_interval
    );
    let sim = sims.plume().await?;
    let mut specs = Vec::with_capacity(n);
    for i in 0..n {
        let (c, l) = (hex24(0xc0, i), hex24(0x10, i));
        sim.add_location(&c, &l, rental_wifi::sim::plume::Scenario::Fine);
        specs.push(json!({
            "unit_id": format!("unit-{i:03}"), "name": format!("Unit {i}"),
            "plume_customer_id": c, "plume_location_id": l,
        }));
    }
    let mut run = start(opts, report).await?;
    let units = create_units(&mut run, &specs).await?;
    let settings = json!({
        "sso_url": sim.sso_url(),
        "auth_header": sim.auth_header(),
        "partner_id": sim.partner_id(),
        "api_base": sim.api_base(),
        "poll_interval_seconds": opts.poll_interval,
    });
    run.api
        .call(
            &mut run.setup,
            Method::PUT,
            "/api/v1/settings/plume",
            Some(settings),
            &[200, 204],
        )
        .await?;
    let configured = Instant::now();
    let rate = opts.rate.unwrap_or(100.0);
    let op = Arc::new(Health {
        api: run.api.clone(),
        units,
    });
    let (stats, usage) = measured(
        &run.sc,
        load::open_loop(run.sc.api, 8, rate, Duration::ZERO, opts.plume_duration, op),
    )
    .await?;
    let elapsed = configured.elapsed().as_secs_f64();
    check(report, "plume", "health reads", &stats);
    let c = sim.counters();
    // The set-up connection sat idle through the run; the sidecar may have closed it.
    run.setup.reconnect().await?;
    let state = run
        .api
        .call(&mut run.setup, Method::GET, "/api/v1/state", None, &[200])
        .await?;
    let mut by_status = std::collections::BTreeMap::<String, usize>::new();
    for u in state
        .get("units")
        .and_then(|u| u.as_array())
        .into_iter()
        .flatten()
    {
        let s = u
            .pointer("/health/status")
            .and_then(|s| s.as_str())
            .unwrap_or("?")
            .to_owned();
        *by_status.entry(s).or_default() += 1;
    }
    let health: Vec<String> = by_status.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let kinds: Vec<String> = c
        .per_kind
        .iter()
        .filter(|(k, _)| k.as_str() != "token")
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    report.push(row(
        "plume",
        "open",
        format!(
            "{n} units, poll {}s, {rate:.0} health reads/s, {}",
            opts.poll_interval,
            secs(opts.plume_duration)
        ),
        &stats,
        &run,
        &usage,
        "— (info)",
        None,
        format!(
            "Plume API {} req ({:.1}/s: {}), OAuth {} req; health: {}",
            c.api_requests,
            c.api_requests as f64 / elapsed,
            kinds.join(", "),
            c.token_requests,
            health.join(", ")
        ),
    ));
    finish("plume", run, report);
    sim.shutdown().await;
    Ok(())
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Issue 15 item 4: a fleet at the default interval. Every unit must keep a colour once it has
/// one: at the default request budget (5 requests/s, 1,500 per 5 minutes, three quarters of
/// Plume's WAF limit) a round over 300 units takes ≈ 3 minutes, longer than the 60 s
/// interval, and the sidecar must judge staleness against that round, not the interval.
/// Watches `GET /api/v1/state` until three rounds completed (the first and two more); reports the
/// round time, the request rate, the busiest 5-minute window at the simulator, and every
/// `unknown` seen after a unit's first read (a problem: it fails the run).
pub async fn plume_fleet(opts: &Opts, report: &mut Report, sims: &Sims) -> Result<()> {
    let n = opts.fleet_units;
    let interval = opts.fleet_interval;
    // The sidecar's default budget; the expected round is what the poller itself estimates.
    let expected_round = n as f64 * 3.1 / 5.0;
    let deadline_s = 4.0 * expected_round.max(interval as f64) + 30.0;
    println!(
        "== plume-fleet: {n} units polled every {interval} s (a round ≈ {expected_round:.0} s at 5 requests/s); watching up to {deadline_s:.0} s"
    );
    let sim = sims.plume().await?;
    let mut specs = Vec::with_capacity(n);
    for i in 0..n {
        let (c, l) = (hex24(0xc1, i), hex24(0x11, i));
        sim.add_location(&c, &l, rental_wifi::sim::plume::Scenario::Fine);
        specs.push(json!({
            "unit_id": format!("fleet-{i:03}"), "name": format!("Fleet {i}"),
            "plume_customer_id": c, "plume_location_id": l,
        }));
    }
    let mut run = start(opts, report).await?;
    create_units(&mut run, &specs).await?;
    let settings = json!({
        "sso_url": sim.sso_url(),
        "auth_header": sim.auth_header(),
        "partner_id": sim.partner_id(),
        "api_base": sim.api_base(),
        "poll_interval_seconds": interval,
    });
    run.api
        .call(
            &mut run.setup,
            Method::PUT,
            "/api/v1/settings/plume",
            Some(settings),
            &[200],
        )
        .await?;
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(deadline_s);
    let sample_every = Duration::from_millis(if n <= 20 { 250 } else { 1000 });
    let mut stats = Stats::new();
    let mut read_once = std::collections::HashSet::<String>::new();
    let mut unknown_after_read: Vec<String> = Vec::new();
    let (mut rounds, mut last_round) = (0u32, None::<String>);
    let (mut first_round_at, mut round_s, mut effective_s) = (None, None, None);
    let sampler = crate::proc::RssSampler::start(run.sc.pid);
    let (c0, g0) = (run.sc.cpu(), CpuSample::of_self());
    while Instant::now() < deadline && rounds < 3 {
        let t = Instant::now();
        let state = run
            .api
            .call(&mut run.setup, Method::GET, "/api/v1/state", None, &[200])
            .await;
        let state = match state {
            Ok(s) => {
                stats.record(load::Outcome::Ok, t.elapsed());
                s
            }
            Err(e) => {
                stats.record(load::Outcome::Unexpected(format!("{e:#}")), t.elapsed());
                tokio::time::sleep(sample_every).await;
                continue;
            }
        };
        for u in state["units"].as_array().into_iter().flatten() {
            let id = u["unit"]["unit_id"].as_str().unwrap_or("?").to_owned();
            if u["health"]["status"] == "unknown" {
                if read_once.contains(&id) && unknown_after_read.len() < 20 {
                    unknown_after_read.push(format!("{id}: {}", u["health"]["reasons"]));
                }
            } else {
                read_once.insert(id);
            }
        }
        // A round ends with a new `last_poll_at`.
        let plume = &state["plume"];
        if let Some(at) = plume["last_poll_at"]
            .as_str()
            .filter(|a| Some(*a) != last_round.as_deref())
        {
            rounds += 1;
            last_round = Some(at.to_owned());
            first_round_at.get_or_insert(t0.elapsed());
            round_s = plume["round_seconds"].as_f64();
            effective_s = plume["effective_interval_seconds"].as_u64();
        }
        tokio::time::sleep(sample_every.saturating_sub(t.elapsed())).await;
    }
    stats.window = t0.elapsed();
    let usage = Usage {
        peak_kib: sampler.finish(run.sc.pid),
        cpu_pct: match (c0, run.sc.cpu()) {
            (Some(a), Some(b)) => a.percent_until(&b),
            _ => 0.0,
        },
        gen_cpu_pct: match (g0, CpuSample::of_self()) {
            (Some(a), Some(b)) => a.percent_until(&b),
            _ => 0.0,
        },
        other_cpu_pct: 0.0,
    };
    let elapsed = t0.elapsed().as_secs_f64();
    let c = sim.counters();
    let times: Vec<Duration> = sim
        .requests()
        .into_iter()
        .filter(|r| r.kind != "token")
        .map(|r| r.at)
        .collect();
    let mut worst_window = 0usize;
    let mut j = 0usize;
    for i in 0..times.len() {
        while times[i] - times[j] >= Duration::from_secs(300) {
            j += 1;
        }
        worst_window = worst_window.max(i - j + 1);
    }
    let throttled =
        c.per_status.get(&403).copied().unwrap_or(0) + c.per_status.get(&429).copied().unwrap_or(0);
    if rounds < 3 {
        report.problem(format!(
            "plume-fleet: only {rounds} complete rounds in {elapsed:.0} s"
        ));
    }
    if !unknown_after_read.is_empty() {
        report.problem(format!(
            "plume-fleet: units went unknown after their first read: {}",
            unknown_after_read.join("; ")
        ));
    }
    if read_once.len() < n {
        report.problem(format!(
            "plume-fleet: only {} of {n} units were ever read",
            read_once.len()
        ));
    }
    if throttled > 0 {
        report.problem(format!(
            "plume-fleet: the simulated WAF throttled {throttled} requests"
        ));
    }
    let pass = rounds >= 3 && unknown_after_read.is_empty() && throttled == 0;
    report.push(row(
        "plume-fleet",
        "watch",
        format!("{n} units, poll {interval}s, {elapsed:.0}s"),
        &stats,
        &run,
        &usage,
        "no unit unknown after its first read",
        Some(pass),
        format!(
            "first round done at {:.0} s; round {} s (expected {expected_round:.0} s), effective interval {} s; Plume API {} req ({:.0}/min: {}), busiest 5-minute window {worst_window} (budget 1,500, WAF 2,000), throttled {throttled}, OAuth {}; units read {}/{n}, unknown after first read {}",
            first_round_at.unwrap_or_default().as_secs_f64(),
            round_s.map_or("?".into(), |r| format!("{r:.0}")),
            effective_s.map_or("?".into(), |e| e.to_string()),
            c.api_requests,
            c.api_requests as f64 / elapsed * 60.0,
            c.per_kind
                .iter()
                .filter(|(k, _)| k.as_str() != "token")
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            c.token_requests,
            read_once.len(),
            unknown_after_read.len(),
        ),
    ));
    finish("plume-fleet", run, report);
    sim.shutdown().await;
    Ok(())
}
