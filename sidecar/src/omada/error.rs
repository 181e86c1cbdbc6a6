//! What can go wrong talking to the controller, in the terms the callers act on.

use super::cert::CertificateInfo;
use super::settings::SettingsError;

/// Errors of the Omada clients. Messages never carry a password, secret, token or cookie.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OmadaError {
    /// Connection refused/reset/closed, DNS, or 5xx/429 after every retry.
    #[error("controller unreachable: {0}")]
    Unreachable(String),
    /// No answer within the per-attempt timeout or the overall deadline.
    #[error("controller did not answer in time: {0}")]
    Timeout(String),
    /// Wrong hotspot operator name/password or Open API client credentials, or a session the
    /// controller keeps refusing right after a fresh login.
    #[error("controller refused the credentials: {0}")]
    AuthFailed(String),
    /// The controller answered with a non-zero `errorCode` for the operation itself.
    #[error("controller rejected the request (errorCode {code}): {message}")]
    Rejected { code: i64, message: String },
    /// The TLS handshake failed for another reason than the certificate (protocol version,
    /// no shared cipher, a closed connection mid-handshake…).
    #[error("TLS: {0}")]
    Tls(String),
    /// The controller's certificate is not trusted (unknown issuer, no matching name, pin
    /// mismatch); `certificate` is what it showed, for the host to pin (CONTRACTS §4).
    #[error("TLS: {message}")]
    TlsUntrusted {
        message: String,
        certificate: Option<Box<CertificateInfo>>,
    },
    /// Something the host must change on the controller or in the settings before this can
    /// work: a site the credentials cannot see, a missing role or site privilege, a site id
    /// the sidecar cannot learn. Never a reason to drop queued work: it waits for the fix.
    #[error("{0}")]
    Misconfigured(String),
    /// An answer that does not fit the protocol (not JSON, missing fields, wrong path…).
    #[error("unexpected answer from the controller: {0}")]
    Protocol(String),
    /// The settings do not validate; `field` is the DESIGN §7 field name.
    #[error("invalid setting {field}: {message}")]
    InvalidSettings {
        field: &'static str,
        message: String,
    },
    /// The caller's request cannot be sent as it is (e.g. an EAP redirect without `ssidName`,
    /// an unknown site in Open API mode).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl OmadaError {
    /// Worth retrying later (outbox, next poll): the controller may come back.
    pub fn is_transient(&self) -> bool {
        matches!(self, OmadaError::Unreachable(_) | OmadaError::Timeout(_))
    }

    /// A stable snake_case name, for API error codes, metrics and audit entries.
    pub fn kind(&self) -> &'static str {
        match self {
            OmadaError::Unreachable(_) => "controller_unreachable",
            OmadaError::Timeout(_) => "controller_timeout",
            OmadaError::AuthFailed(_) => "controller_auth_failed",
            OmadaError::Rejected { .. } => "controller_rejected",
            OmadaError::Tls(_) => "controller_tls",
            OmadaError::TlsUntrusted { .. } => "tls_untrusted",
            OmadaError::Misconfigured(_) => "controller_misconfigured",
            OmadaError::Protocol(_) => "controller_protocol",
            OmadaError::InvalidSettings { .. } => "invalid_settings",
            OmadaError::InvalidRequest(_) => "invalid_request",
        }
    }
}

impl OmadaError {
    /// The certificate the controller showed, when this is a trust failure.
    pub fn certificate(&self) -> Option<&CertificateInfo> {
        match self {
            OmadaError::TlsUntrusted { certificate, .. } => certificate.as_deref(),
            _ => None,
        }
    }

    /// The controller's own words (`errorCode` and `msg`), when it gave any.
    pub fn controller_message(&self) -> Option<String> {
        match self {
            OmadaError::Rejected { code, message } => Some(format!("errorCode {code}: {message}")),
            OmadaError::AuthFailed(m) | OmadaError::Unreachable(m) if m.contains("errorCode") => {
                Some(m.clone())
            }
            _ => None,
        }
    }
}

impl From<SettingsError> for OmadaError {
    fn from(e: SettingsError) -> Self {
        OmadaError::InvalidSettings {
            field: e.field,
            message: e.message,
        }
    }
}
