//! One error type for everything Plume. `Clone` because the token manager hands the same
//! failure to every caller that waited on one refresh. Messages never carry secrets.

/// Why a Plume call failed. The `Display` strings are user-facing (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlumeError {
    /// The SSO refused or could not be reached. `detail` is the HTTP status (e.g. `401`) or a
    /// short transport reason.
    #[error("OAuth token request failed: {detail}")]
    OAuth { status: Option<u16>, detail: String },
    /// The API answered 401 even with a freshly minted token.
    #[error("Auth failed. Your token may be invalid or expired")]
    AuthFailed,
    /// Unknown customer/location (404).
    #[error("Plume location not found (404)")]
    NotFound,
    /// 403 with an API error body: allowed in general, not for this resource.
    #[error("Plume refused access to this location (403): {0}")]
    Forbidden(String),
    /// Bare 403: Plume's WAF throttles this source (2000 requests per 5 minutes).
    #[error("Plume rate limit reached (403)")]
    RateLimited,
    /// Any other non-success status, with the API's own message when it sent one.
    #[error("Plume API error {status}: {message}")]
    Status { status: u16, message: String },
    /// Network error or timeout talking to the API.
    #[error("Plume unreachable: {0}")]
    Transport(String),
    /// 2xx but not the JSON we expected.
    #[error("Unexpected response from Plume: {0}")]
    Decode(String),
    /// Local setup problem (settings, TLS).
    #[error("{0}")]
    Config(String),
}

impl PlumeError {
    /// Worth retrying the same request soon: network errors and 5xx.
    pub fn is_transient(&self) -> bool {
        matches!(self, PlumeError::Transport(_))
            || matches!(self, PlumeError::Status { status, .. } if *status >= 500)
    }

    /// A failure of Plume (or our access to it) as a whole rather than of one location: the
    /// poller keeps the last reports (they go stale) instead of turning units red.
    pub fn is_upstream_wide(&self) -> bool {
        self.is_transient()
            || matches!(
                self,
                PlumeError::OAuth { .. }
                    | PlumeError::AuthFailed
                    | PlumeError::RateLimited
                    | PlumeError::Config(_)
            )
    }
}

/// A short reason for a reqwest failure, without the URL or any header.
pub(crate) fn transport_reason(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "connection failed".into()
    } else if err.is_body() || err.is_decode() {
        "broken response body".into()
    } else {
        "request failed".into()
    }
}
