//! The API's one error type and the one place where errors become HTTP statuses: each
//! layer's error enum (`usecase::Error`, `vouchers::Error`, `StoreError`,
//! `ControllerError`, `PlumeServiceError`, JSON body errors) is mapped here, once.

use std::borrow::Cow;

use http::StatusCode;

use super::wire::{CertificateOut, ErrorDetail, ErrorOut};
use crate::store::StoreError;
use crate::usecase;
use crate::vouchers;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// The certificate a TLS check was shown (CONTRACTS §4), in the error object.
    pub certificate: Option<Box<CertificateOut>>,
    /// The request body was not read: close the connection after answering.
    pub close: bool,
    /// A failed check's items (the PPSK set-up check of a password-mode unit).
    pub checks: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            certificate: None,
            close: false,
            checks: None,
        }
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API token",
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this path",
        )
    }
    pub fn bad_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", message)
    }
    pub fn validation(field: Option<&str>, message: impl Into<String>) -> Self {
        let e = Self::new(StatusCode::BAD_REQUEST, "validation_failed", message);
        match field {
            Some(f) => e.with_field(f),
            None => e,
        }
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the sidecar log for this request id",
        )
    }

    pub fn body(&self) -> ErrorOut {
        ErrorOut {
            error: ErrorDetail {
                code: Cow::Borrowed(self.code),
                message: self.message.clone(),
                field: self.field.clone(),
                certificate: self.certificate.as_deref().cloned(),
                checks: self.checks.clone(),
            },
        }
    }
}

impl From<vouchers::Error> for ApiError {
    fn from(e: vouchers::Error) -> Self {
        match e {
            vouchers::Error::Validation { field, message } => ApiError::validation(field, message),
            vouchers::Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
        }
    }
}

impl From<usecase::Error> for ApiError {
    fn from(e: usecase::Error) -> Self {
        match e {
            usecase::Error::Rule(r) => r.into(),
            usecase::Error::NotFound(what) => ApiError::not_found(what),
            usecase::Error::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

/// Classify a JSON body error: syntax → `invalid_json`, unknown field → `unknown_field`,
/// wrong type/value → `validation_failed` naming the field.
pub fn from_json_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.inner();
    let msg = inner.to_string();
    let field = if path == "." || path.is_empty() {
        None
    } else {
        Some(path)
    };
    match inner.classify() {
        serde_json::error::Category::Syntax
        | serde_json::error::Category::Eof
        | serde_json::error::Category::Io => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("request body is not valid JSON: {msg}"),
        ),
        serde_json::error::Category::Data if msg.starts_with("unknown field") => {
            let e = ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_field",
                strip_location(&msg),
            );
            match field {
                Some(f) => e.with_field(f),
                None => e,
            }
        }
        serde_json::error::Category::Data => {
            let e = ApiError::new(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                strip_location(&msg),
            );
            match field {
                Some(f) => e.with_field(f),
                None => e,
            }
        }
    }
}

fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

impl From<crate::controller::ControllerError> for ApiError {
    fn from(e: crate::controller::ControllerError) -> Self {
        use crate::controller::ControllerError as C;
        use crate::omada::OmadaError as O;
        match e {
            C::NotConfigured => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_configured",
                "the Omada controller is not configured",
            ),
            C::Store(s) => s.into(),
            C::Omada(o) => {
                let msg = o.to_string();
                match o {
                    O::InvalidSettings { field, message } => {
                        ApiError::validation(Some(field), message)
                    }
                    O::AuthFailed(_) => ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "controller_auth_failed",
                        msg,
                    ),
                    O::Rejected { .. } | O::Protocol(_) | O::InvalidRequest(_) => {
                        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "controller_rejected", msg)
                    }
                    O::TlsUntrusted { certificate, .. } => ApiError {
                        certificate: certificate.map(|c| Box::new(CertificateOut::from(&*c))),
                        ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "tls_untrusted", msg)
                            .with_field("base_url")
                    },
                    O::Misconfigured(_) => ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "controller_misconfigured",
                        msg,
                    ),
                    O::Unreachable(_) | O::Timeout(_) | O::Tls(_) => ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "controller_unavailable",
                        msg,
                    ),
                }
            }
        }
    }
}

impl From<crate::omada::PpskError> for ApiError {
    fn from(e: crate::omada::PpskError) -> Self {
        use crate::omada::PpskError as P;
        let msg = e.to_string();
        match e {
            P::Omada(o) => crate::controller::ControllerError::Omada(o).into(),
            P::NeedsOpenApi | P::Unsupported { .. } | P::ProfileNotFound { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.kind(), msg)
            }
            P::InvalidKey(_) => ApiError::new(StatusCode::BAD_REQUEST, e.kind(), msg),
            P::PasswordInUse { .. } => ApiError::new(StatusCode::CONFLICT, e.kind(), msg),
            P::NotApplied { .. } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.kind(), msg),
        }
    }
}

impl From<usecase::devices::DeviceError> for ApiError {
    fn from(e: usecase::devices::DeviceError) -> Self {
        use crate::omada::MacAuthError as M;
        use usecase::devices::DeviceError as D;
        match e {
            D::Rule(r) => r.into(),
            D::NotFound(what) => ApiError::not_found(what),
            D::Store(s) => s.into(),
            D::NotConfigured => crate::controller::ControllerError::NotConfigured.into(),
            // What the controller cannot do, in its client's words (the mode; "connect the
            // device to the guest Wi-Fi first"): the host can act on it, nothing changed.
            D::Controller(m @ M::NeedsOpenApi { .. }) => {
                ApiError::new(StatusCode::CONFLICT, m.kind(), m.to_string())
            }
            D::Controller(m @ (M::NotConnected { .. } | M::OtherNetwork { .. })) => {
                ApiError::new(StatusCode::CONFLICT, m.kind(), m.to_string()).with_field("mac")
            }
            D::Controller(M::Omada(o)) => crate::controller::ControllerError::Omada(o).into(),
        }
    }
}

impl From<crate::usecase::sites::SiteError> for ApiError {
    fn from(e: crate::usecase::sites::SiteError) -> Self {
        use crate::usecase::sites::SiteError as S;
        match e {
            S::Refused { field, message } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "site_check_failed",
                message,
            )
            .with_field(field),
            S::Controller(c) => {
                let mut e = ApiError::from(c);
                if e.status == StatusCode::SERVICE_UNAVAILABLE {
                    e.message = format!(
                        "the unit's site cannot be checked now: {}; try again, or save with ?validate=false to skip the check",
                        e.message
                    );
                }
                e
            }
        }
    }
}

impl From<crate::health::PlumeServiceError> for ApiError {
    fn from(e: crate::health::PlumeServiceError) -> Self {
        use crate::health::PlumeServiceError as P;
        use crate::plume::PlumeError as E;
        match e {
            P::Invalid { field, message } => ApiError::validation(Some(field), message),
            P::Store(s) => s.into(),
            P::Plume(p) => {
                let msg = p.to_string();
                // The setting or unit field to look at, when Plume's answer names one.
                let field = p.field();
                let e = match p {
                    E::OAuth {
                        status: Some(s), ..
                    } if (400..500).contains(&s) => {
                        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "plume_auth_failed", msg)
                    }
                    E::AuthFailed => {
                        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "plume_auth_failed", msg)
                    }
                    E::OAuth { .. } | E::Transport(_) | E::RateLimited => {
                        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "plume_unavailable", msg)
                    }
                    E::Status { status, .. } if status >= 500 => {
                        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "plume_unavailable", msg)
                    }
                    _ => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "plume_rejected", msg),
                };
                match field {
                    Some(f) if e.status == StatusCode::UNPROCESSABLE_ENTITY => e.with_field(f),
                    _ => e,
                }
            }
        }
    }
}
