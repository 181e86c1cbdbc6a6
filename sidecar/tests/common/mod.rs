//! Test support, written once for every integration test:
//!
//! * [`app`]: a real sidecar in this process on `127.0.0.1:0` with a fresh data dir
//!   ([`TestApp`]), optionally wired to a fresh Omada simulator ([`PortalEnv`]);
//! * [`process`]: the real binary as a child process ([`Sidecar`]): start until `ready`,
//!   read its log lines, SIGTERM, SIGKILL;
//! * [`portal`]: driving the guest portal like a phone (redirect query, hidden form fields,
//!   the result marker of a page);
//! * [`logs`]: capturing `tracing` output in memory;
//! * [`pdf`]: the text of each page of a card sheet (PDF);
//! * [`crash`]: the crash rig (the binary on a data dir kept across kills, the simulator,
//!   the invariants a crash must never break);
//! * here: the fast controller retry policy, simulator settings, polling helpers.
//!
//! Each test crate uses a part of it, hence `allow(dead_code)`.
#![allow(dead_code, unused_imports)]

pub mod app;
pub mod crash;
pub mod logs;
pub mod pdf;
pub mod portal;
pub mod process;

pub use app::{config_for, PortalEnv, TestApp};
pub use logs::Capture;
pub use portal::{
    hidden_fields, redirect_query, redirect_query_from, result_of, submit_form, Phone,
    PortalResult, LOOPBACK,
};
pub use process::Sidecar;

use serde_json::Value;

pub fn err_code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// A short controller retry policy so outage tests take milliseconds, not 10 s.
pub fn fast_policy() -> rental_wifi::omada::RetryPolicy {
    rental_wifi::omada::RetryPolicy {
        base: std::time::Duration::from_millis(5),
        cap: std::time::Duration::from_millis(20),
        attempts: 2,
        deadline: std::time::Duration::from_millis(800),
        attempt_timeout: std::time::Duration::from_millis(400),
    }
}

/// A fast policy for the controller clients' own tests: as [`fast_policy`] but with the
/// five attempts and the seconds of deadline that retry and session tests need.
pub fn client_policy() -> rental_wifi::omada::RetryPolicy {
    rental_wifi::omada::RetryPolicy {
        attempts: 5,
        deadline: std::time::Duration::from_secs(3),
        attempt_timeout: std::time::Duration::from_secs(1),
        ..fast_policy()
    }
}

/// A fresh Omada simulator (default sites, hotspot operator and Open API app).
pub async fn omada_sim() -> rental_wifi::sim::omada::OmadaSim {
    rental_wifi::init_crypto();
    rental_wifi::sim::omada::start(Default::default())
        .await
        .expect("Omada simulator starts")
}

/// Poll `f` until it is true or `secs` pass.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// `RENTAL_WIFI_TEST_MODE=long` (`tests/run --long`): run the long versions.
pub fn long_mode() -> bool {
    std::env::var("RENTAL_WIFI_TEST_MODE").is_ok_and(|m| m.trim().eq_ignore_ascii_case("long"))
}
