//! The real binary as a child process: started on `127.0.0.1:0` until its `ready` line,
//! its stdout log lines readable, its stderr kept, stopped by SIGTERM or SIGKILL.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rental-wifi-sidecar");

/// Settings for tests that send a whole house of guests from 127.0.0.1, where a real portal
/// sees one address per phone: the per-address limits of issue 13 (connections on the portal,
/// wrong attempts and attempts in flight per address) and the API's connection budget lifted.
pub const CROWD_ON_LOOPBACK: &[(&str, &str)] = &[
    (
        "RENTAL_WIFI_SERVER_PORTAL_MAX_CONNECTIONS_PER_ADDRESS",
        "1024",
    ),
    ("RENTAL_WIFI_SERVER_API_MAX_CONNECTIONS", "1024"),
    ("RENTAL_WIFI_PORTAL_MAX_FAILURES_PER_ADDRESS", "100000"),
];

/// A running sidecar process.
pub struct Sidecar {
    pub child: Child,
    /// `http://127.0.0.1:<port>` of each listener.
    pub api: String,
    pub portal: String,
    /// The `ready` line (JSON unless the text format was asked for).
    pub ready: String,
    /// stdout lines before `ready`.
    pub before_ready: Vec<String>,
    /// stdout lines after `ready`.
    pub lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

/// The process ended before it was ready.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stderr: String,
}

fn command(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--data-dir"]).arg(dir).args([
        "--api-listen",
        "127.0.0.1:0",
        "--portal-listen",
        "127.0.0.1:0",
    ]);
    cmd.env_remove("RENTAL_WIFI_LOG_FORMAT")
        .env_remove("RENTAL_WIFI_LOG_LEVEL")
        .env_remove("RENTAL_WIFI_FAILPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn addr(ready: &str, key: &str) -> String {
    // JSON: "api_addr":"127.0.0.1:1234"; text: api_addr=127.0.0.1:1234
    let after = ready
        .split(&format!("\"{key}\":\""))
        .nth(1)
        .or_else(|| ready.split(&format!("{key}=")).nth(1))
        .unwrap_or_else(|| panic!("no {key} in the ready line: {ready}"));
    let a: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
        .collect();
    format!("http://{a}")
}

impl Sidecar {
    /// Start on `dir` with `env` added; panics when it does not get ready in 20 s.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Sidecar {
        match Self::try_start(dir, env) {
            Ok(s) => s,
            Err(e) => panic!("sidecar exited before ready ({}): {}", e.status, e.stderr),
        }
    }

    /// Start on `dir`; `Err` when the process exits before its `ready` line.
    // The child is handed to the caller, which kills or waits for it.
    #[allow(clippy::zombie_processes)]
    pub fn try_start(dir: &Path, env: &[(&str, &str)]) -> Result<Sidecar, Exited> {
        let mut child = command(dir, env).spawn().expect("binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let mut err = child.stderr.take().unwrap();
            let sink = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut before_ready = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if line.contains("ready") && line.contains("api_addr") => {
                    return Ok(Sidecar {
                        api: addr(&line, "api_addr"),
                        portal: addr(&line, "portal_addr"),
                        ready: line,
                        before_ready,
                        child,
                        lines: rx,
                        stderr,
                    });
                }
                Ok(line) => before_ready.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Ok(Some(status)) = child.try_wait() {
                        std::thread::sleep(Duration::from_millis(50));
                        let stderr = stderr.lock().unwrap().clone();
                        return Err(Exited { status, stderr });
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("sidecar not ready in 20 s: {}", stderr.lock().unwrap());
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().unwrap();
                    std::thread::sleep(Duration::from_millis(50));
                    let stderr = stderr.lock().unwrap().clone();
                    return Err(Exited { status, stderr });
                }
            }
        }
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -TERM`: a graceful stop.
    pub fn sigterm(&self) {
        signal(self.pid(), "-TERM");
    }

    /// `kill -9` and reap.
    pub fn kill9(&mut self) {
        signal(self.pid(), "-9");
        let _ = self.child.wait();
    }

    /// Wait up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) -> ExitStatus {
        self.sigterm();
        self.wait_exit(Duration::from_secs(20))
            .expect("the sidecar stops within 20 s of SIGTERM")
    }

    /// SIGTERM, wait for a clean exit, and every stdout line the process printed (before
    /// `ready`, `ready`, and the lines not read yet).
    pub fn stop_with_lines(mut self) -> Vec<String> {
        let mut seen = std::mem::take(&mut self.before_ready);
        seen.push(self.ready.clone());
        self.sigterm();
        let status = self
            .wait_exit(Duration::from_secs(20))
            .expect("the sidecar stops within 20 s of SIGTERM");
        assert!(status.success(), "clean stop: {status}");
        // The reader thread ends at EOF, which closes the channel.
        seen.extend(self.lines.iter());
        seen
    }
}

impl Drop for Sidecar {
    // A failed assertion must not leave the sidecar running (and holding the test's pipes).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn signal(pid: u32, sig: &str) {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
}

/// The API token of a data dir (`rental-wifi-sidecar token`).
pub fn token(dir: &Path) -> String {
    String::from_utf8(
        Command::new(BIN)
            .args(["token", "--data-dir"])
            .arg(dir)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned()
}
