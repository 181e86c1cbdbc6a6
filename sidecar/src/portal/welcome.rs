//! A unit's welcome and house info, checked when the host saves it: a title, a welcome text
//! (the Markdown subset of [`super::markdown`]), the check-out time and a contact line.
//! Branding (accent, logo) is checked in [`super::branding`], terms in [`super::terms`].
//! Rendering is in [`super::page`] ([`super::page::Welcome`]).

use time::Time;

use super::markdown::{self, MarkdownError, MAX_WELCOME_BYTES};

/// Longest title, in characters.
pub const MAX_TITLE: usize = 80;
/// Longest contact line, in characters.
pub const MAX_CONTACT: usize = 200;

/// Why a welcome setting is refused; each names the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WelcomeError {
    #[error("{field} is too long: {len} characters (at most {max})")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} must be one line of text without control characters")]
    NotOneLine { field: &'static str },
    #[error("check-out time \"{0}\" is not a time of day; use HH:MM, e.g. 11:00")]
    CheckoutTime(String),
    #[error("welcome text: {0}")]
    Text(#[from] MarkdownError),
}

/// A one-line field (title, contact): trimmed; `None` when empty.
pub fn check_line(
    field: &'static str,
    s: &str,
    max: usize,
) -> Result<Option<String>, WelcomeError> {
    let s = s.trim();
    if s.chars().any(char::is_control) {
        return Err(WelcomeError::NotOneLine { field });
    }
    let len = s.chars().count();
    if len > max {
        return Err(WelcomeError::TooLong { field, len, max });
    }
    Ok((!s.is_empty()).then(|| s.to_owned()))
}

/// The title shown above the welcome text.
pub fn check_title(s: &str) -> Result<Option<String>, WelcomeError> {
    check_line("the title", s, MAX_TITLE)
}

/// The host's contact line ("Anna, +49 170 1234567").
pub fn check_contact(s: &str) -> Result<Option<String>, WelcomeError> {
    check_line("the contact line", s, MAX_CONTACT)
}

/// The welcome text, checked; `None` when empty.
pub fn check_text(s: &str) -> Result<Option<String>, WelcomeError> {
    let doc = markdown::parse(s, MAX_WELCOME_BYTES)?;
    Ok((!doc.is_empty()).then(|| s.trim().to_owned()))
}

/// Check-out time of day, `HH:MM` (24 h; `H:MM` too).
pub fn parse_checkout(s: &str) -> Result<Time, WelcomeError> {
    let bad = || WelcomeError::CheckoutTime(s.chars().take(20).collect());
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let ok = |p: &str, max| {
        p.len() <= 2
            && !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u8>().is_ok_and(|v| v <= max)
    };
    if !ok(h, 23) || m.len() != 2 || !ok(m, 59) {
        return Err(bad());
    }
    Time::from_hms(
        h.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        0,
    )
    .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::time;

    #[test]
    fn fields() {
        assert_eq!(
            check_title("  Welcome to the Loft "),
            Ok(Some("Welcome to the Loft".into()))
        );
        assert_eq!(check_title("   "), Ok(None));
        assert_eq!(
            check_title(&"x".repeat(81)),
            Err(WelcomeError::TooLong {
                field: "the title",
                len: 81,
                max: 80
            })
        );
        assert_eq!(
            check_contact("Anna\nBob"),
            Err(WelcomeError::NotOneLine {
                field: "the contact line"
            })
        );
        assert_eq!(
            check_contact("Anna, +49 170 1234567"),
            Ok(Some("Anna, +49 170 1234567".into()))
        );
        assert_eq!(
            check_text("Hello **there**"),
            Ok(Some("Hello **there**".into()))
        );
        assert_eq!(check_text("\n\n"), Ok(None));
        assert_eq!(
            check_text("<b>x</b>"),
            Err(WelcomeError::Text(MarkdownError::Html { line: 1 }))
        );
        assert!(WelcomeError::Text(MarkdownError::Html { line: 1 })
            .to_string()
            .starts_with("welcome text: line 1: HTML is not allowed"));
    }

    #[test]
    fn checkout_times() {
        assert_eq!(parse_checkout("11:00"), Ok(time!(11:00)));
        assert_eq!(parse_checkout(" 9:30 "), Ok(time!(9:30)));
        assert_eq!(parse_checkout("23:59"), Ok(time!(23:59)));
        for bad in [
            "24:00", "11:60", "11", "11:0", "11:000", "ab:cd", "-1:00", "", "11:00 AM", "+1:00",
        ] {
            assert_eq!(
                parse_checkout(bad),
                Err(WelcomeError::CheckoutTime(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            WelcomeError::CheckoutTime("25:00".into()).to_string(),
            "check-out time \"25:00\" is not a time of day; use HH:MM, e.g. 11:00"
        );
    }
}
