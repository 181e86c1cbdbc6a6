//! `rental-wifi-load`: drives the real `rental-wifi-sidecar` binary over HTTP, against the
//! in-process Omada and Plume simulators, and prints throughput, latency, RSS and CPU.
//! See `docs/benchmarks.md` for what each scenario does and how it measures.

mod flood;
mod http;
mod load;
mod ops;
mod proc;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use report::Report;
use scenarios::{Mode, Opts, Sims};

#[derive(Parser)]
#[command(
    name = "rental-wifi-load",
    about = "Load harness for rental-wifi-sidecar: closed-loop throughput, open-loop latency, RSS, CPU",
    after_help = "Build first: cargo build --release -p rental-wifi-sidecar -p rental-wifi-load"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Measured seconds per run (after the warm-up). Default 10 (plume: 30); --quick: 2 (plume: 4).
    #[arg(long, global = true)]
    duration: Option<f64>,
    /// Seconds driven before recording starts. Default 1; --quick: 0.5.
    #[arg(long, global = true)]
    warmup: Option<f64>,
    /// Connections (closed loop: concurrent workers; open loop: most requests in flight).
    /// Default: issue 32, redeem 64, reads 32.
    #[arg(long, global = true)]
    connections: Option<usize>,
    /// Open-loop arrival rate per second. Default: issue 1000, redeem 500, reads 1000, plume 100.
    #[arg(long, global = true)]
    rate: Option<f64>,
    /// Which load model(s) to run.
    #[arg(long, global = true, value_enum, default_value = "both")]
    mode: Mode,
    /// The sidecar binary under test. Default: target/release/rental-wifi-sidecar (under
    /// $CARGO_TARGET_DIR when that is set).
    #[arg(long, global = true)]
    sidecar_bin: Option<PathBuf>,
    /// Short runs for CI smoke tests (< 60 s for `all`): fails on crashes and unexpected
    /// answers, only prints the performance targets.
    #[arg(long, global = true)]
    quick: bool,
    /// Also exit non-zero (3) when a performance target is missed.
    #[arg(long, global = true)]
    enforce_targets: bool,
    /// burst: guests redeeming at the same moment.
    #[arg(long, global = true, default_value_t = 1000)]
    guests: usize,
    /// reads, plume: units. Default 100.
    #[arg(long, global = true, default_value_t = 100)]
    units: usize,
    /// reads: vouchers in the database. Default 100000; --quick: 5000.
    #[arg(long, global = true)]
    vouchers: Option<usize>,
    /// redeem (open loop): distinct guest devices.
    #[arg(long, global = true, default_value_t = 200)]
    devices: u64,
    /// Print operations and worst latency per second of every run (where is the tail?).
    #[arg(long, global = true)]
    timeline: bool,
    /// plume: poll interval in seconds.
    #[arg(long, global = true, default_value_t = 5)]
    poll_interval: u64,
    /// plume-fleet: units. Default 300; --quick: 6.
    #[arg(long, global = true)]
    fleet_units: Option<usize>,
    /// plume-fleet: poll interval in seconds. Default 60 (the sidecar's default); --quick: 1.
    #[arg(long, global = true)]
    fleet_interval: Option<u64>,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// POST /api/v1/vouchers (closed: ≥ 5,000/s @ 32 conns; open: p99 ≤ 2 ms @ 1,000/s).
    Issue,
    /// Portal GET+POST redemptions (closed: ≥ 3,500/s @ 64 conns; open: p99 ≤ 5 ms @ 500/s, 200 devices).
    Redeem,
    /// 1,000 guests redeeming at the same moment: all must be served.
    Burst,
    /// API reads with 100 units and 100,000 vouchers (open: p99 ≤ 5 ms @ 1,000/s, RSS ≤ 40 MiB).
    Reads,
    /// 100 units polled from the Plume simulator, health reads alongside.
    Plume,
    /// 300 units at the default 60 s interval: none unknown after its first read, the WAF
    /// budget kept (≈ 10 min; --quick: 6 units at 1 s).
    PlumeFleet,
    /// A hostile guest floods the portal with stalled/slow connections while HA polls and
    /// guests redeem (HA p99 ≤ 50 ms, guests all served, RSS back after the flood).
    Flood,
    /// Baseline: GET /api/v1/info (no token, no database): HTTP stack + generator floor.
    Info,
    /// Every scenario with short defaults, one Markdown table.
    All,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: rental-wifi-load is a debug build; build it with --release so the generator is not the bottleneck"
        );
    }
    let bin = cli
        .sidecar_bin
        .clone()
        .unwrap_or_else(proc::default_sidecar_bin);
    if let Err(e) = proc::check_bin(&bin) {
        eprintln!("rental-wifi-load: {e:#}");
        return ExitCode::from(2);
    }
    let quick = cli.quick;
    let pick = |v: Option<f64>, normal: f64, q: f64| {
        Duration::from_secs_f64(v.unwrap_or(if quick { q } else { normal }))
    };
    let opts = Opts {
        bin: bin.clone(),
        duration: pick(cli.duration, 10.0, 2.0),
        warmup: pick(cli.warmup, 1.0, 0.5),
        connections: cli.connections,
        rate: cli.rate,
        mode: cli.mode,
        guests: cli.guests,
        units: cli.units.max(1),
        vouchers: cli
            .vouchers
            .unwrap_or(if quick { 5_000 } else { 100_000 })
            .max(1),
        devices: cli.devices.max(1),
        poll_interval: cli.poll_interval.max(1),
        plume_duration: pick(cli.duration, 30.0, 4.0),
        fleet_units: cli
            .fleet_units
            .unwrap_or(if quick { 6 } else { 300 })
            .max(1),
        fleet_interval: cli
            .fleet_interval
            .unwrap_or(if quick { 1 } else { 60 })
            .max(1),
    };
    println!(
        "rental-wifi-load: sidecar {} ({} CPUs){}",
        bin.display(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        if quick { ", quick" } else { "" }
    );

    // The load generator: one thread. The simulators get a thread of their own (Sims).
    scenarios::TIMELINE.store(cli.timeline, std::sync::atomic::Ordering::Relaxed);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rental-wifi-load: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rental_wifi::init_crypto();
    let report = rt.block_on(run(cli.scenario, &opts, quick));

    println!("\n{}", report.markdown());
    if !report.problems.is_empty() {
        eprintln!(
            "rental-wifi-load: {} problem(s) (crash, unexpected answers or failed set-up):",
            report.problems.len()
        );
        for p in &report.problems {
            eprintln!("  - {p}");
        }
        return ExitCode::FAILURE;
    }
    if report.missed_targets() {
        if cli.enforce_targets {
            eprintln!("rental-wifi-load: performance targets missed");
            return ExitCode::from(3);
        }
        println!("(some performance targets were missed; see the result column)");
    }
    ExitCode::SUCCESS
}

async fn run(scenario: Scenario, opts: &Opts, quick: bool) -> Report {
    let mut report = Report::default();
    let sims = match Sims::new() {
        Ok(s) => s,
        Err(e) => {
            report.problem(format!("simulator runtime: {e:#}"));
            return report;
        }
    };
    let list: &[Scenario] = match scenario {
        Scenario::All => &[
            Scenario::Info,
            Scenario::Issue,
            Scenario::Redeem,
            Scenario::Burst,
            Scenario::Reads,
            Scenario::Plume,
            Scenario::PlumeFleet,
            Scenario::Flood,
        ],
        _ => std::slice::from_ref(&scenario),
    };
    for s in list {
        let r = match s {
            Scenario::Info => scenarios::info(opts, &mut report).await,
            Scenario::Issue => scenarios::issue(opts, &mut report).await,
            Scenario::Redeem => scenarios::redeem(opts, &mut report, &sims).await,
            Scenario::Burst => scenarios::burst(opts, &mut report, &sims).await,
            Scenario::Reads => scenarios::reads(opts, &mut report).await,
            Scenario::Plume => scenarios::plume(opts, &mut report, &sims).await,
            Scenario::PlumeFleet => scenarios::plume_fleet(opts, &mut report, &sims).await,
            Scenario::Flood => flood::flood(opts, &mut report, &sims, quick).await,
            Scenario::All => Ok(()),
        };
        if let Err(e) = r {
            report.problem(format!("{e:#}"));
        }
    }
    report
}
