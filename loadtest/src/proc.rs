//! The sidecar under test as a child process, and what `/proc` tells about it.
//!
//! The real binary is spawned with `serve --data-dir <tmp> --api-listen 127.0.0.1:0
//! --portal-listen 127.0.0.1:0`; the time from `spawn()` to the JSON `ready` log line on its
//! stdout is the start-up time. Memory is `VmRSS` from `/proc/<pid>/status`, CPU is
//! `utime + stime` from `/proc/<pid>/stat`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// `warn` for everything (request logs off); the sidecar prints its `ready` line at any level.
pub const LOG_LEVEL: &str = "warn";

/// The harness drives every guest from 127.0.0.1, where a real portal sees one address per
/// phone: the per-address connection cap, and the per-address attempt budget (which counts
/// attempts in flight), would make the `burst` scenario's 1,000 guests one flooder. Every
/// scenario but `flood` lifts both; `flood` runs the product's defaults.
pub const HARNESS_ENV: &[(&str, &str)] = &[
    (
        "RENTAL_WIFI_SERVER_PORTAL_MAX_CONNECTIONS_PER_ADDRESS",
        "1024",
    ),
    ("RENTAL_WIFI_PORTAL_MAX_FAILURES_PER_ADDRESS", "1000000"),
];

/// How many of the child's last output lines are kept for error reports.
const TAIL_LINES: usize = 40;

pub struct Sidecar {
    child: Child,
    pub pid: u32,
    pub api: SocketAddr,
    pub portal: SocketAddr,
    /// spawn() → `ready` line read.
    pub ready: Duration,
    pub token: String,
    tail: Arc<Mutex<VecDeque<String>>>,
    // Dropped (deleted) after the child is gone.
    _data_dir: tempfile::TempDir,
}

fn push_tail(tail: &Mutex<VecDeque<String>>, line: String) {
    let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
    if t.len() == TAIL_LINES {
        t.pop_front();
    }
    t.push_back(line);
}

/// `Some((api, portal))` when `line` is the JSON `ready` log line.
fn parse_ready(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    // Flattened events carry the fields at the top level; nested ones under "fields".
    let fields = if v.get("api_addr").is_some() {
        &v
    } else {
        v.get("fields")?
    };
    let message = fields
        .get("message")
        .or_else(|| v.get("message"))
        .and_then(|m| m.as_str())
        .unwrap_or("");
    if !message.contains("ready") {
        return None;
    }
    let api = fields.get("api_addr")?.as_str()?.parse().ok()?;
    let portal = fields.get("portal_addr")?.as_str()?.parse().ok()?;
    Some((api, portal))
}

impl Sidecar {
    /// Spawn the sidecar on a fresh data dir with `env` added to its environment (scenarios
    /// pass [`HARNESS_ENV`] or the product's defaults) and wait (≤ 15 s) for its `ready` line.
    pub fn spawn_with(bin: &Path, env: &[(&str, &str)]) -> Result<Sidecar> {
        let data_dir = tempfile::Builder::new()
            .prefix("rental-wifi-load-")
            .tempdir()
            .context("temp data dir")?;
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--api-listen", "127.0.0.1:0"])
            .args(["--portal-listen", "127.0.0.1:0"])
            .env("RENTAL_WIFI_LOG_LEVEL", LOG_LEVEL)
            .env("RENTAL_WIFI_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id();
        let tail = Arc::new(Mutex::new(VecDeque::new()));

        // stdout: find the ready line, then keep draining (a full pipe would block the child).
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let t1 = tail.clone();
        thread::Builder::new()
            .name("sidecar-stdout".into())
            .spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.is_some() {
                        if let Some(addrs) = parse_ready(&line) {
                            let _ = tx.take().expect("checked").send((Instant::now(), addrs));
                        }
                    }
                    push_tail(&t1, line);
                }
            })?;
        let stderr = child.stderr.take().expect("piped stderr");
        let t2 = tail.clone();
        thread::Builder::new()
            .name("sidecar-stderr".into())
            .spawn(move || {
                let mut r = BufReader::new(stderr);
                let mut buf = String::new();
                loop {
                    buf.clear();
                    match r.read_line(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => push_tail(&t2, format!("stderr: {}", buf.trim_end())),
                    }
                }
            })?;

        let deadline = Instant::now() + Duration::from_secs(15);
        let (at, (api, portal)) = loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(v) => break v,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = child.try_wait()? {
                        thread::sleep(Duration::from_millis(50));
                        bail!(
                            "sidecar exited before it was ready ({status}); last output:\n{}",
                            tail_text(&tail)
                        );
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        bail!(
                            "no `ready` line within 15 s; last output:\n{}",
                            tail_text(&tail)
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = child.kill();
                    let status = child.wait()?;
                    bail!(
                        "sidecar closed stdout before it was ready ({status}); last output:\n{}",
                        tail_text(&tail)
                    );
                }
            }
        };
        let ready = at - started;

        let out = Command::new(bin)
            .arg("token")
            .arg("--data-dir")
            .arg(data_dir.path())
            .env("RENTAL_WIFI_LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .output()
            .context("rental-wifi-sidecar token")?;
        if !out.status.success() {
            bail!(
                "`token` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let token = String::from_utf8(out.stdout)?.trim().to_owned();
        if token.is_empty() {
            bail!("`token` printed nothing");
        }
        Ok(Sidecar {
            child,
            pid,
            api,
            portal,
            ready,
            token,
            tail,
            _data_dir: data_dir,
        })
    }

    /// `None` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn rss_kib(&self) -> Option<u64> {
        status_kib(self.pid, "VmRSS:")
    }

    pub fn cpu(&self) -> Option<CpuSample> {
        CpuSample::of_pid(self.pid)
    }

    pub fn output_tail(&self) -> String {
        tail_text(&self.tail)
    }

    /// SIGTERM, wait up to 15 s (the sidecar drains for at most 10 s), SIGKILL after that.
    /// `Ok(status)` when it exited by itself after SIGTERM.
    pub fn stop(mut self) -> Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "sidecar had already exited ({status}); last output:\n{}",
                self.output_tail()
            );
        }
        // SAFETY: plain kill(2) on our own child's pid, which has not been reaped yet.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("sidecar did not stop within 15 s of SIGTERM");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    let t = tail.lock().unwrap_or_else(|e| e.into_inner());
    t.iter().cloned().collect::<Vec<_>>().join("\n")
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`).
pub fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Cumulative CPU time of a process at one instant.
#[derive(Clone, Copy, Debug)]
pub struct CpuSample {
    at: Instant,
    ticks: u64,
}

impl CpuSample {
    fn of_path(path: &str) -> Option<CpuSample> {
        let s = std::fs::read_to_string(path).ok()?;
        // The command name (field 2) may contain spaces; fields after the last ')' are fixed.
        let rest = &s[s.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // rest starts at field 3 (state); utime = field 14, stime = field 15.
        let utime: u64 = f.get(11)?.parse().ok()?;
        let stime: u64 = f.get(12)?.parse().ok()?;
        Some(CpuSample {
            at: Instant::now(),
            ticks: utime + stime,
        })
    }

    pub fn of_pid(pid: u32) -> Option<CpuSample> {
        Self::of_path(&format!("/proc/{pid}/stat"))
    }

    /// This (load generator) process, simulators included.
    pub fn of_self() -> Option<CpuSample> {
        Self::of_path("/proc/self/stat")
    }

    /// The whole machine (all CPUs: busy = user+nice+system+irq+softirq+steal, from /proc/stat).
    pub fn of_system() -> Option<CpuSample> {
        let s = std::fs::read_to_string("/proc/stat").ok()?;
        let line = s.lines().next()?.strip_prefix("cpu ")?;
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let busy = f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7)?;
        Some(CpuSample {
            at: Instant::now(),
            ticks: busy,
        })
    }

    /// CPU used between `self` and `later` as % of one core.
    pub fn percent_until(&self, later: &CpuSample) -> f64 {
        let wall = later.at.duration_since(self.at).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        let cpu = later.ticks.saturating_sub(self.ticks) as f64 / clock_ticks_per_sec();
        100.0 * cpu / wall
    }
}

/// Samples a process's RSS every 100 ms on a thread of its own until stopped.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(status_kib(pid, "VmRSS:").unwrap_or(0)));
        let (s, p) = (stop.clone(), peak.clone());
        let handle = thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    if let Some(kib) = status_kib(pid, "VmRSS:") {
                        p.fetch_max(kib, Ordering::Relaxed);
                    }
                    thread::sleep(Duration::from_millis(100));
                }
            })
            .ok();
        RssSampler { stop, peak, handle }
    }

    /// Stop sampling; the highest RSS seen (KiB).
    pub fn finish(mut self, pid: u32) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        if let Some(kib) = status_kib(pid, "VmRSS:") {
            self.peak.fetch_max(kib, Ordering::Relaxed);
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// Default sidecar binary: `$CARGO_TARGET_DIR/release/…` when that is set, else
/// `<repo>/target/release/rental-wifi-sidecar`.
pub fn default_sidecar_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("release/rental-wifi-sidecar");
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    repo.join("target/release/rental-wifi-sidecar")
}

/// Refuse a missing binary with the command that builds it.
pub fn check_bin(bin: &Path) -> Result<()> {
    if !bin.is_file() {
        return Err(anyhow!(
            "sidecar binary {} not found; build it with `cargo build --release -p rental-wifi-sidecar` or pass --sidecar-bin",
            bin.display()
        ));
    }
    let mut f = std::fs::File::open(bin)?;
    let mut magic = [0u8; 4];
    f.read_exact(&mut magic)?;
    if &magic != b"\x7fELF" {
        bail!("{} is not an executable", bin.display());
    }
    if bin.components().any(|c| c.as_os_str() == "debug") {
        eprintln!(
            "warning: {} looks like a debug build; numbers will not mean much",
            bin.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_flattened_and_nested() {
        let flat = r#"{"timestamp":"x","level":"INFO","message":"ready","api_addr":"127.0.0.1:4000","portal_addr":"127.0.0.1:4001","instance_id":"i"}"#;
        let (a, p) = parse_ready(flat).unwrap();
        assert_eq!(a.port(), 4000);
        assert_eq!(p.port(), 4001);
        let nested = r#"{"level":"INFO","fields":{"message":"ready","api_addr":"127.0.0.1:1","portal_addr":"127.0.0.1:2"}}"#;
        assert!(parse_ready(nested).is_some());
        assert!(parse_ready(r#"{"message":"state opened"}"#).is_none());
        assert!(parse_ready("not json ready").is_none());
    }

    #[test]
    fn self_cpu_and_rss_readable() {
        assert!(CpuSample::of_self().is_some());
        assert!(status_kib(std::process::id(), "VmRSS:").unwrap() > 0);
    }
}
