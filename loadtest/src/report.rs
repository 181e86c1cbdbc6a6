//! Rows, the start-up summary, and the Markdown table.

use std::fmt::Write as _;
use std::time::Duration;

use crate::scenarios::mib;

pub struct Row {
    pub scenario: String,
    pub mode: String,
    pub load: String,
    pub throughput: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub rss_idle_kib: u64,
    pub rss_peak_kib: u64,
    pub cpu_pct: f64,
    pub gen_cpu_pct: f64,
    pub other_cpu_pct: f64,
    pub ops: u64,
    pub failures: u64,
    pub target: String,
    /// `None`: no target, informational.
    pub pass: Option<bool>,
    pub note: String,
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// (spawn → ready, idle RSS KiB) of every sidecar started.
    pub spawns: Vec<(Duration, u64)>,
    /// Crashes, unexpected answers, set-up failures: any of these fails the run.
    pub problems: Vec<String>,
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "pass",
        Some(false) => "**FAIL**",
        None => "—",
    }
}

impl Report {
    pub fn push(&mut self, row: Row) {
        println!(
            "  {} {} ({}): {:.0} ok/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} ops, {} failed; sidecar RSS idle {:.1} MiB, peak {:.1} MiB, CPU {:.0}%; generator+sims CPU {:.0}%; rest of machine {:.0}%  [{}: {}]{}",
            row.scenario,
            row.mode,
            row.load,
            row.throughput,
            row.p50,
            row.p99,
            row.max,
            row.ops,
            row.failures,
            mib(row.rss_idle_kib),
            mib(row.rss_peak_kib),
            row.cpu_pct,
            row.gen_cpu_pct,
            row.other_cpu_pct,
            row.target,
            verdict(row.pass),
            if row.note.is_empty() {
                String::new()
            } else {
                format!("\n    {}", row.note)
            }
        );
        self.rows.push(row);
    }

    pub fn spawn(&mut self, ready: Duration, idle_kib: u64) {
        println!(
            "  sidecar ready {:.1} ms after spawn, idle RSS {:.1} MiB",
            ready.as_secs_f64() * 1000.0,
            mib(idle_kib)
        );
        self.spawns.push((ready, idle_kib));
    }

    pub fn problem(&mut self, p: String) {
        eprintln!("PROBLEM: {p}");
        self.problems.push(p);
    }

    /// True when a row with a target missed it.
    pub fn missed_targets(&self) -> bool {
        self.rows.iter().any(|r| r.pass == Some(false)) || self.startup_pass() == Some(false)
    }

    fn startup_pass(&self) -> Option<bool> {
        if self.spawns.is_empty() {
            return None;
        }
        let ready_ok = self
            .spawns
            .iter()
            .all(|(r, _)| *r <= Duration::from_millis(150));
        let rss_ok = self.spawns.iter().all(|(_, k)| *k <= 12 * 1024);
        Some(ready_ok && rss_ok)
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s.push_str("| scenario | mode | connections / rate | throughput (ok/s) | p50 ms | p99 ms | max ms | RSS idle / peak MiB | CPU % sidecar / generator / other | target | result |\n");
        s.push_str("|---|---|---|--:|--:|--:|--:|--:|--:|---|---|\n");
        if !self.spawns.is_empty() {
            let mut ready: Vec<f64> = self
                .spawns
                .iter()
                .map(|(r, _)| r.as_secs_f64() * 1000.0)
                .collect();
            ready.sort_by(f64::total_cmp);
            let median = ready[ready.len() / 2];
            let max = ready[ready.len() - 1];
            let idle = self.spawns.iter().map(|(_, k)| *k).max().unwrap_or(0);
            let _ = writeln!(
                s,
                "| startup | spawn → ready | {} spawns | — | {median:.1} | — | {max:.1} | {:.1} / — | — | ready ≤ 150 ms, idle RSS ≤ 12 MiB | {} |",
                ready.len(),
                mib(idle),
                verdict(self.startup_pass())
            );
        }
        for r in &self.rows {
            let failed = if r.failures > 0 {
                format!(" ({} failed)", r.failures)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0}{failed} | {:.2} | {:.2} | {:.2} | {:.1} / {:.1} | {:.0} / {:.0} / {:.0} | {} | {} |",
                r.scenario,
                r.mode,
                r.load,
                r.throughput,
                r.p50,
                r.p99,
                r.max,
                mib(r.rss_idle_kib),
                mib(r.rss_peak_kib),
                r.cpu_pct,
                r.gen_cpu_pct,
                r.other_cpu_pct,
                r.target,
                verdict(r.pass)
            );
        }
        let notes: Vec<_> = self.rows.iter().filter(|r| !r.note.is_empty()).collect();
        if !notes.is_empty() {
            s.push('\n');
            for r in notes {
                let _ = writeln!(s, "- {} {}: {}", r.scenario, r.mode, r.note);
            }
        }
        s
    }
}
