//! What can go wrong for a guest, as the guest is told it.
//!
//! The kinds are deliberately coarse: a wrong code and a code of another unit or network are
//! both [`PortalError::InvalidCode`] (DESIGN §5: specific, but giving nothing away).

use std::time::Duration;

use super::csrf::CsrfError;
use super::i18n::Lang;
use super::limiter::{Lockout, Scope};
use super::redirect::RedirectError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalError {
    /// Unknown code, or a code for another unit / network.
    InvalidCode,
    CodeExpired,
    CodeNotYetValid,
    DeviceLimitReached,
    TermsNotAccepted,
    /// The brute-force limiter said no; the time is shown rounded up to whole minutes.
    TooManyAttempts {
        retry_after: Duration,
    },
    /// Short codes are not evaluated on this network for now (the unit's short-code budget,
    /// or the global ceiling, is spent); long codes still are (issue 13).
    ShortCodesPaused {
        retry_after: Duration,
    },
    /// A short code on a unit that requires the last name on the booking, without one.
    LastNameNeeded,
    /// The redirect's `clientIp` is not the address the portal sees (DESIGN §10).
    AddressMismatch,
    ControllerUnreachable,
    /// CSRF token missing, expired or not for this device.
    SessionExpired,
    /// The redirect information is missing or unusable.
    InvalidRequest,
    /// The redirect is fine, but no unit is set up for this site / SSID / VLAN.
    UnknownNetwork,
    /// Anything else on our side (database, bug).
    Internal,
}

impl PortalError {
    /// The message for the guest, placeholders filled (not HTML-escaped: the page does that).
    pub fn message(&self, lang: Lang) -> String {
        let t = lang.texts();
        match self {
            PortalError::InvalidCode => t.err_code_invalid.into(),
            PortalError::CodeExpired => t.err_code_expired.into(),
            PortalError::CodeNotYetValid => t.err_code_not_yet_valid.into(),
            PortalError::DeviceLimitReached => t.err_device_limit.into(),
            PortalError::TermsNotAccepted => t.err_terms_required.into(),
            PortalError::TooManyAttempts { retry_after } => t
                .err_too_many_attempts
                .replace("{minutes}", &retry_minutes(*retry_after).to_string()),
            PortalError::ShortCodesPaused { .. } => lang.guard().err_short_codes_paused.into(),
            PortalError::LastNameNeeded => lang.guard().err_last_name_needed.into(),
            PortalError::AddressMismatch => lang.guard().err_address_mismatch.into(),
            PortalError::ControllerUnreachable => t.err_controller_unreachable.into(),
            PortalError::SessionExpired => t.err_session_expired.into(),
            PortalError::InvalidRequest => t.err_invalid_request.into(),
            PortalError::UnknownNetwork => t.err_unknown_network.into(),
            PortalError::Internal => t.err_internal.into(),
        }
    }

    /// Whether the error is about what was typed into the code field (the page marks the
    /// input `aria-invalid` and links the message to it).
    pub fn concerns_code(&self) -> bool {
        matches!(
            self,
            PortalError::InvalidCode
                | PortalError::CodeExpired
                | PortalError::CodeNotYetValid
                | PortalError::DeviceLimitReached
        )
    }

    /// A suggested HTTP status for the page that shows this error. Captive-portal browsers
    /// render the body whatever the status; the status is for logs and tests.
    pub fn http_status(&self) -> u16 {
        match self {
            PortalError::InvalidCode
            | PortalError::CodeExpired
            | PortalError::CodeNotYetValid
            | PortalError::DeviceLimitReached
            | PortalError::UnknownNetwork => 403,
            PortalError::TermsNotAccepted
            | PortalError::InvalidRequest
            | PortalError::LastNameNeeded => 400,
            PortalError::SessionExpired | PortalError::AddressMismatch => 403,
            PortalError::TooManyAttempts { .. } | PortalError::ShortCodesPaused { .. } => 429,
            PortalError::ControllerUnreachable => 502,
            PortalError::Internal => 500,
        }
    }

    /// Seconds for a `Retry-After` header, for [`PortalError::TooManyAttempts`].
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            PortalError::TooManyAttempts { retry_after }
            | PortalError::ShortCodesPaused { retry_after } => Some(
                retry_after
                    .as_secs()
                    .saturating_add(u64::from(retry_after.subsec_nanos() > 0)),
            ),
            _ => None,
        }
    }
}

/// Whole minutes, rounded up, at least 1: "try again in 0 min" would be a lie.
pub fn retry_minutes(d: Duration) -> u64 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    secs.div_ceil(60).max(1)
}

impl From<RedirectError> for PortalError {
    fn from(_: RedirectError) -> Self {
        PortalError::InvalidRequest
    }
}

impl From<CsrfError> for PortalError {
    fn from(_: CsrfError) -> Self {
        PortalError::SessionExpired
    }
}

impl From<Lockout> for PortalError {
    fn from(l: Lockout) -> Self {
        match l.scope {
            // Only short codes are stopped: the guest can do something about it now.
            Scope::UnitShortCodes | Scope::UnitShortCodesNamed | Scope::Global => {
                PortalError::ShortCodesPaused {
                    retry_after: l.retry_after,
                }
            }
            Scope::Device | Scope::Address | Scope::Network => PortalError::TooManyAttempts {
                retry_after: l.retry_after,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_round_up() {
        assert_eq!(retry_minutes(Duration::ZERO), 1);
        assert_eq!(retry_minutes(Duration::from_millis(1)), 1);
        assert_eq!(retry_minutes(Duration::from_secs(60)), 1);
        assert_eq!(retry_minutes(Duration::from_millis(60_001)), 2);
        assert_eq!(retry_minutes(Duration::from_secs(599)), 10);
    }

    #[test]
    fn messages_are_filled() {
        let e = PortalError::TooManyAttempts {
            retry_after: Duration::from_secs(125),
        };
        assert_eq!(
            e.message(Lang::En),
            "Too many attempts. Please try again in 3 min."
        );
        assert_eq!(
            e.message(Lang::De),
            "Zu viele Versuche. Bitte versuchen Sie es in 3 Min. erneut."
        );
        assert_eq!(e.retry_after_secs(), Some(125));
        assert_eq!(e.http_status(), 429);
        assert_eq!(
            PortalError::InvalidCode.message(Lang::Fr),
            super::super::i18n::FR.err_code_invalid
        );
    }

    #[test]
    fn conversions() {
        assert_eq!(
            PortalError::from(RedirectError::NoAttachment),
            PortalError::InvalidRequest
        );
        assert_eq!(
            PortalError::from(CsrfError::Expired),
            PortalError::SessionExpired
        );
        let l = Lockout {
            retry_after: Duration::from_secs(30),
            scope: crate::portal::limiter::Scope::Device,
        };
        assert_eq!(
            PortalError::from(l),
            PortalError::TooManyAttempts {
                retry_after: Duration::from_secs(30)
            }
        );
        // A spent short-code budget says so, and what still works.
        let l = Lockout {
            retry_after: Duration::from_secs(3_600),
            scope: crate::portal::limiter::Scope::UnitShortCodes,
        };
        let e = PortalError::from(l);
        assert_eq!(
            e,
            PortalError::ShortCodesPaused {
                retry_after: Duration::from_secs(3_600)
            }
        );
        assert_eq!(e.http_status(), 429);
        assert_eq!(e.retry_after_secs(), Some(3_600));
        assert!(
            e.message(Lang::En).contains("longer"),
            "{}",
            e.message(Lang::En)
        );
        assert_eq!(PortalError::AddressMismatch.http_status(), 403);
        assert_eq!(PortalError::LastNameNeeded.http_status(), 400);
    }
}
