//! Logging set-up: JSON lines by default, `text` for humans. Logs go to stdout.
//!
//! No secret reaches a log line at any level (issue 13):
//! * The HTTP client's libraries log what they see on the wire at `debug`/`trace` — the
//!   cookie store prints every `Set-Cookie` it stores, the Omada session cookie included.
//!   Their targets ([`QUIET_TARGETS`]) are capped at `info` by a filter that no configured
//!   level or directive can lift.
//! * Voucher and booking codes are logged by [`code_ref`], a short keyed hash, never as
//!   typed; [`redact_path`] does the same for API paths that carry a code
//!   (`/api/v1/vouchers/{code}`).

use std::sync::OnceLock;

use tracing::Metadata;
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// Target of the app's lifecycle lines (`ready`, `shutting down`, `stopped`, in `app.rs`).
/// They show at any configured level (supervisors and the load harness wait for `ready`);
/// a target of their own keeps `debug` for `rental_wifi::app` working as configured.
pub const LIFECYCLE: &str = "rental_wifi::lifecycle";

/// Library targets that log request and response details (headers, cookies, bytes) below
/// `info`: only their `info` and above is ever written.
pub const QUIET_TARGETS: &[&str] = &[
    "cookie_store",
    "reqwest",
    "reqwest_cookie_store",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tokio_rustls",
    "tower",
];

/// False for a debug/trace event of a [`QUIET_TARGETS`] library.
pub fn allowed(meta: &Metadata<'_>) -> bool {
    if *meta.level() <= tracing::Level::INFO {
        return true;
    }
    let target = meta.target();
    !QUIET_TARGETS.iter().any(|q| {
        target == *q
            || target
                .strip_prefix(q)
                .is_some_and(|rest| rest.starts_with("::"))
    })
}

pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_new(&log.level)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(
            format!("{LIFECYCLE}=info")
                .parse()
                .expect("static directive"),
        );
    let filter = filter.and(filter_fn(allowed));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .with_target(false)
        .with_ansi(ansi);
    let _ = match log.format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(
                layer
                    .json()
                    .flatten_event(true)
                    // The request span's `request_id` on every line written while handling it.
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Text => tracing_subscriber::registry()
            .with(layer.compact().with_filter(filter))
            .try_init(),
    };
}

fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).expect("OS random number generator unavailable");
        k
    })
}

/// How a code appears in logs: `code#` and 8 hex digits of HMAC-SHA256 under a key that lives
/// only in this process. Equal codes give equal references within a run (log lines can be
/// correlated); nobody can go back from the reference to the code, not even for a 4-digit
/// door code, whose 10,000 candidates an unkeyed hash would give away at once.
pub fn code_ref(code: &str) -> String {
    use hmac::{KeyInit, Mac as _};
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(process_key())
        .expect("HMAC takes any key length");
    m.update(b"rental-wifi/log-code-ref|");
    m.update(code.as_bytes());
    let tag = m.finalize().into_bytes();
    format!("code#{}", hex::encode(&tag[..4]))
}

/// A request path for the log: a voucher code in it becomes its [`code_ref`].
pub fn redact_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut after_vouchers = false;
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if after_vouchers && !seg.is_empty() {
            let decoded = percent_encoding::percent_decode_str(seg).decode_utf8_lossy();
            out.push_str(&code_ref(&decoded));
        } else {
            out.push_str(seg);
        }
        after_vouchers = seg == "vouchers" && i == 3 && path.starts_with("/api/v1/");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_codes_are_redacted() {
        let r = redact_path("/api/v1/vouchers/K7M2P9QX4T");
        assert!(r.starts_with("/api/v1/vouchers/code#"), "{r}");
        assert!(!r.contains("K7M2P9QX4T"));
        let r = redact_path("/api/v1/vouchers/4711/revoke");
        assert!(
            r.starts_with("/api/v1/vouchers/code#") && r.ends_with("/revoke"),
            "{r}"
        );
        assert!(!r.contains("4711"));
        // Percent-encoded: the same reference as the plain code.
        assert_eq!(
            redact_path("/api/v1/vouchers/SEA%2DVIEW"),
            redact_path("/api/v1/vouchers/SEA-VIEW")
        );
        for p in [
            "/api/v1/vouchers",
            "/api/v1/vouchers/",
            "/api/v1/state",
            "/api/v1/units/beach/bookings/HM123",
            "/metrics",
        ] {
            assert_eq!(redact_path(p), p);
        }
    }

    #[test]
    fn code_refs_are_stable_short_and_distinct() {
        let a = code_ref("4711");
        assert_eq!(a, code_ref("4711"));
        assert_ne!(a, code_ref("4712"));
        assert_eq!(a.len(), "code#".len() + 8);
        assert!(!a.contains("4711"));
    }

    #[test]
    fn wire_level_library_logs_are_capped_at_info() {
        use tracing::Level;
        let meta = |target: &'static str, level: Level| {
            // A callsite per case: the metadata is all `allowed` looks at.
            struct Cs;
            impl tracing::callsite::Callsite for Cs {
                fn set_interest(&self, _: tracing::subscriber::Interest) {}
                fn metadata(&self) -> &Metadata<'_> {
                    unreachable!()
                }
            }
            static CS: Cs = Cs;
            Metadata::new(
                "event",
                target,
                level,
                None,
                None,
                None,
                tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&CS)),
                tracing::metadata::Kind::EVENT,
            )
        };
        assert!(!allowed(&meta("cookie_store::cookie_store", Level::DEBUG)));
        assert!(!allowed(&meta("reqwest::connect", Level::TRACE)));
        assert!(!allowed(&meta("hyper_util::client", Level::DEBUG)));
        assert!(allowed(&meta("reqwest::connect", Level::INFO)));
        assert!(allowed(&meta("cookie_store", Level::WARN)));
        assert!(allowed(&meta("rental_wifi::grants", Level::TRACE)));
        // A prefix that is not a module boundary is not caught.
        assert!(allowed(&meta("hyperion", Level::DEBUG)));
    }
}
