//! Plume OAuth token manager, API client, poller and health model. See DESIGN §6.
//!
//! Reading order: [`settings`] (what the host types in, validated with the messages users of
//! the original bot know), [`token`] (one cached OAuth token per credential set, one refresh in
//! flight), [`client`] (the few Customer API reads we need, tolerant of both envelopes),
//! [`health`] (the traffic-light rules), [`board`] (latest report per unit, staleness computed
//! at read time) and [`poller`] (the background loop that ties them together).
//!
//! Invariants: the Basic header, access tokens and the Wi-Fi key (`encryptionKey`) never reach a
//! log line, an event, an error message or a `Debug` output. The Wi-Fi key is not even
//! deserialized: [`client::WifiNetwork`] has no field for it.

pub mod board;
pub mod client;
mod error;
pub mod health;
pub mod poller;
pub mod settings;
pub mod token;

pub use board::{HealthBoard, PlumeStatus};
pub use client::PlumeClient;
pub use error::PlumeError;
pub use health::{evaluate, HealthReport, HealthStatus};
pub use poller::{PlumeTarget, Poller, PollerConfig};
pub use settings::{PlumeSettings, SettingsError};
pub use token::{AccessToken, TokenManager, TokenOptions};

use std::sync::Arc;
use std::time::Duration;

/// Timeout for one HTTP request to the SSO or the API.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client used for the SSO and the API: rustls with the `ring` provider and the
/// webpki roots (reqwest is built without a default TLS provider), HTTP/1.1, no redirects
/// (a redirect would carry credentials somewhere we did not choose), no cookies.
pub fn http_client() -> Result<reqwest::Client, PlumeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PlumeError::Config(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("rental-wifi-sidecar/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PlumeError::Config(format!("HTTP client setup failed: {e}")))
}
