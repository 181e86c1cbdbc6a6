//! One error type for everything Plume. `Clone` because the token manager hands the same
//! failure to every caller that waited on one refresh. Messages never carry secrets; they do
//! name what the host typed wrong (a URL, an id), because that is what they must change.
//!
//! How each error is read (issue 15 item 2, `reference/plume-field-notes.md` §3.12):
//! - a 401 that survives a working token on a customer's path is that customer, not the token
//!   ([`PlumeError::CustomerNotFound`]: the unit is misconfigured);
//! - a 403 with a LoopBack error body comes from the API itself (this partner may not read this
//!   resource: [`PlumeError::Forbidden`]); a 403 without one comes from the WAF in front of it,
//!   as does a 429 ([`PlumeError::RateLimited`]: data goes stale, never red);
//! - a 404 that is a *route* not found ("Cannot GET …", "There is no method to handle …", or
//!   no LoopBack body at all) means the API base is wrong ([`PlumeError::ApiBase`]), not the
//!   location;
//! - an OAuth failure keeps Okta's `error` code, so a wrong partner id (`invalid_scope`) and
//!   wrong credentials (`invalid_client`) read differently ([`OAuthReason`]).

/// Why the SSO refused a token (Okta's `error`, reference §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthReason {
    /// `invalid_client`: the client id/secret in the Authorization header.
    WrongCredentials,
    /// `invalid_scope`: the partner id is not one these credentials may use.
    WrongPartnerId,
    /// `unsupported_grant_type` / `invalid_grant`.
    GrantRefused,
    /// `invalid_request`: the SSO could not read the request (header pasted with a prefix…).
    BadRequest,
    /// 404 from the SSO: no authorization server at that URL.
    WrongSsoUrl,
}

impl OAuthReason {
    /// The settings field the host should look at.
    pub fn field(&self) -> &'static str {
        match self {
            OAuthReason::WrongCredentials | OAuthReason::BadRequest => "auth_header",
            OAuthReason::WrongPartnerId => "partner_id",
            OAuthReason::GrantRefused | OAuthReason::WrongSsoUrl => "sso_url",
        }
    }
}

/// Why a Plume call failed. The `Display` strings are user-facing (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlumeError {
    /// The SSO refused or could not be reached. `detail` starts with the HTTP status (e.g.
    /// `401`) or a short transport reason, followed by Okta's reason when it gave one.
    #[error("OAuth token request failed: {detail}")]
    OAuth {
        status: Option<u16>,
        detail: String,
        reason: Option<OAuthReason>,
    },
    /// The API answered 401 to a freshly minted token on a call that names no customer.
    #[error("Auth failed. Your token may be invalid or expired")]
    AuthFailed,
    /// 401 for this customer although the token works: Plume documents 401 for
    /// "Authorization required or customer id not found".
    #[error("Plume does not know customer id {customer_id} for this partner (401): check the unit's Plume customer id")]
    CustomerNotFound { customer_id: String },
    /// 404 for this customer's location.
    #[error("{}", location_not_found(customer_id, location_id, known))]
    LocationNotFound {
        customer_id: String,
        location_id: String,
        /// The customer's locations (`id (name)`), when they could be listed.
        known: Vec<String>,
    },
    /// Unknown resource (404) on a call where no better reading exists.
    #[error("Plume location not found (404)")]
    NotFound,
    /// 403 with an API error body: allowed in general, not for this resource.
    #[error("Plume refused access to this location (403): {0}")]
    Forbidden(String),
    /// 403 without an API error body, or 429: the WAF throttles this source address (2000
    /// requests per 5 minutes, shared with everything else behind the same address).
    #[error("Plume rate limit reached (403/429): data is kept and polling resumes when it lifts")]
    RateLimited,
    /// The API base does not lead to the Plume API; the message names the URL and the fix.
    #[error("{0}")]
    ApiBase(String),
    /// No pod or gateway with this serial number is known to Plume for this partner.
    #[error("Plume knows no pod or gateway with serial number {serial} (404)")]
    UnknownSerial { serial: String },
    /// The pod is in the partner's inventory but claimed by no customer yet.
    #[error("The pod {serial} is not claimed by any Plume customer yet")]
    Unclaimed { serial: String },
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

fn location_not_found(customer: &str, location: &str, known: &[String]) -> String {
    let mut s = format!(
        "Plume customer {customer} has no location {location} (404): check the unit's Plume location id"
    );
    if !known.is_empty() {
        s.push_str("; this customer's locations: ");
        s.push_str(&known.join(", "));
    }
    s
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
                    | PlumeError::ApiBase(_)
                    | PlumeError::Config(_)
            )
    }

    /// The unit's Plume ids are wrong (the host must change the unit), as opposed to Plume or
    /// the network having a problem.
    pub fn is_misconfiguration(&self) -> bool {
        matches!(
            self,
            PlumeError::CustomerNotFound { .. }
                | PlumeError::LocationNotFound { .. }
                | PlumeError::Forbidden(_)
        )
    }

    /// The setting or unit field the message is about, when one is (for a form to point at).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            PlumeError::OAuth {
                reason: Some(r), ..
            } => Some(r.field()),
            PlumeError::ApiBase(_) | PlumeError::AuthFailed => Some("api_base"),
            PlumeError::CustomerNotFound { .. } => Some("plume_customer_id"),
            PlumeError::LocationNotFound { .. } => Some("plume_location_id"),
            _ => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plume_error_messages_name_what_to_change() {
        let e = PlumeError::CustomerNotFound {
            customer_id: "c1".into(),
        };
        assert_eq!(
            e.to_string(),
            "Plume does not know customer id c1 for this partner (401): check the unit's Plume customer id"
        );
        assert!(e.is_misconfiguration() && !e.is_upstream_wide());
        assert_eq!(e.field(), Some("plume_customer_id"));
        let e = PlumeError::LocationNotFound {
            customer_id: "c1".into(),
            location_id: "l9".into(),
            known: vec!["l1 (Beach)".into()],
        };
        assert_eq!(
            e.to_string(),
            "Plume customer c1 has no location l9 (404): check the unit's Plume location id; this customer's locations: l1 (Beach)"
        );
        assert!(PlumeError::RateLimited.is_upstream_wide());
        assert!(!PlumeError::RateLimited.is_misconfiguration());
        assert!(PlumeError::ApiBase("x".into()).is_upstream_wide());
        let e = PlumeError::OAuth {
            status: Some(400),
            detail: "400".into(),
            reason: Some(OAuthReason::WrongPartnerId),
        };
        assert_eq!(e.field(), Some("partner_id"));
    }
}
