//! Logging set-up: JSON lines by default, `text` for humans. Logs go to stdout.

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Target of the app's lifecycle lines (`ready`, `shutting down`, `stopped`, in `app.rs`).
/// They show at any configured level (supervisors and the load harness wait for `ready`);
/// a target of their own keeps `debug` for `rental_wifi::app` working as configured.
pub const LIFECYCLE: &str = "rental_wifi::lifecycle";

pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_new(&log.level)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(
            format!("{LIFECYCLE}=info")
                .parse()
                .expect("static directive"),
        );
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_target(false)
        .with_ansi(ansi);
    let _ = match log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            // The request span's `request_id` on every line written while handling it.
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
}
