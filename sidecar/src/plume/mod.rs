//! Plume OAuth token manager, API client, poller and health model. See DESIGN §6.
//!
//! Reading order: [`settings`] (what the host types in, validated with the messages users of
//! the original bot know), [`token`] (one cached OAuth token per credential set, one refresh in
//! flight, OAuth failures with Okta's reason), [`client`] (the Customer and Partner API reads
//! we need, each error read as Plume means it; the settings check, location verification and
//! id discovery), [`parse`] (lenient field reading: one odd field never drops a pod),
//! [`health`] (the traffic-light rules by Plume's own definitions), [`network`] (pods, devices,
//! SSIDs and speed test per unit), [`board`] (latest report per unit, staleness judged against
//! the real round time) and [`poller`] (the background loop that ties them together).
//!
//! Invariants: the Basic header, access tokens and the Wi-Fi key (`encryptionKey`) never reach a
//! log line, an event, an error message or a `Debug` output. The Wi-Fi key is not even
//! fetched: SSIDs come from `/wifiNetwork/ssid`, which carries no key.

pub mod board;
pub mod client;
mod error;
pub mod health;
pub mod network;
pub mod parse;
pub mod poller;
pub mod settings;
pub mod token;

pub use crate::unit_health::HealthReport;
pub use board::{HealthBoard, PlumeStatus};
pub use client::{CustomerMatch, LocationSummary, NodeOwner, PlumeClient, VerifiedLocation};
pub use error::{OAuthReason, PlumeError};
pub use health::{evaluate, HealthStatus};
pub use network::{AirbnbTier, NetworkDetails};
pub use poller::{HealthHook, PlumeTarget, Poller, PollerConfig, RateLimiter};
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
