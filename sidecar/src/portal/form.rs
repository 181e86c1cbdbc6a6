//! The login form as posted (`application/x-www-form-urlencoded`): the guest's fields plus
//! the redirect context that travelled in hidden inputs (DESIGN §5).
//!
//! Field names are the contract: `code`, `accept_terms` (checkbox, value `1`), `csrf`,
//! `last_name` (the second factor a unit may require with short codes), and the canonical
//! redirect names of [`RedirectContext::to_hidden_fields`].
//!
//! `code` and `csrf` take the first occurrence (a browser sends each once; a crafted body
//! with two gains nothing, since the CSRF token and the limiter still apply). The code is
//! returned as typed, cut to [`MAX_CODE_INPUT`] characters: normalising it is the vouchers
//! module's job. The body size limit is the HTTP layer's job.

use super::redirect::{RedirectContext, RedirectError};

/// Longest code input kept (characters); the input's `maxlength` is 64 too.
pub const MAX_CODE_INPUT: usize = 64;
/// Longest last name kept (characters); the input's `maxlength` is 100 too.
pub const MAX_NAME_INPUT: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    /// As typed (trimmed, at most [`MAX_CODE_INPUT`] characters); empty when missing.
    pub code: String,
    /// Empty when missing.
    pub csrf: String,
    /// The terms checkbox was ticked (`1`, `on` or `true`).
    pub accept_terms: bool,
    /// As typed (trimmed, at most [`MAX_NAME_INPUT`] characters); empty when missing.
    pub last_name: String,
    /// The SHA-256 of the terms text the page showed (hidden field); empty when missing.
    pub terms_sha256: String,
    /// The redirect context from the hidden fields; an error shows the "invalid request" page.
    pub context: Result<RedirectContext, RedirectError>,
}

impl LoginForm {
    /// Decode a form body. Never fails: missing pieces are empty / `false` / `Err`.
    pub fn parse(body: &[u8]) -> LoginForm {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
        let first = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let code: String = first("code")
            .unwrap_or("")
            .trim()
            .chars()
            .take(MAX_CODE_INPUT)
            .collect();
        let csrf = first("csrf")
            .unwrap_or("")
            .trim()
            .chars()
            .take(256)
            .collect();
        let last_name = first("last_name")
            .unwrap_or("")
            .trim()
            .chars()
            .take(MAX_NAME_INPUT)
            .collect();
        let terms_sha256 = first("terms_sha256")
            .unwrap_or("")
            .trim()
            .chars()
            .take(64)
            .collect();
        let accept_terms = pairs
            .iter()
            .any(|(k, v)| k == "accept_terms" && matches!(v.trim(), "1" | "on" | "true"));
        let context =
            RedirectContext::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        LoginForm {
            code,
            csrf,
            accept_terms,
            last_name,
            terms_sha256,
            context,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_the_page_fields() {
        let ctx = RedirectContext::from_query(
            "clientMac=52-DE-63-F1-E3-3B&clientIp=192.168.100.165&t=1677047514&site=Default&redirectUrl=http%3A%2F%2Fexample.com%2F&apMac=B0-95-75-15-93-44&ssidName=eap%20225&radioId=0",
        )
        .unwrap();
        let mut fields: Vec<(&str, String)> = vec![
            ("csrf", "1700000000.tag".into()),
            ("code", " k7m2-p9qx 4t ".into()),
            ("accept_terms", "1".into()),
            ("last_name", " García López ".into()),
        ];
        fields.extend(ctx.to_hidden_fields());
        let body = serde_urlencoded::to_string(&fields).unwrap();
        let form = LoginForm::parse(body.as_bytes());
        assert_eq!(form.code, "k7m2-p9qx 4t");
        assert_eq!(form.csrf, "1700000000.tag");
        assert!(form.accept_terms);
        assert_eq!(form.last_name, "García López");
        assert_eq!(form.context, Ok(ctx));
    }

    #[test]
    fn missing_and_hostile_pieces() {
        let form = LoginForm::parse(b"");
        assert_eq!(form.code, "");
        assert_eq!(form.csrf, "");
        assert_eq!(form.last_name, "");
        assert!(!form.accept_terms);
        assert_eq!(form.context, Err(RedirectError::MissingClientMac));

        let long = "A".repeat(10_000);
        let body = format!("code={long}&code=SECOND&accept_terms=0&clientMac=zz");
        let form = LoginForm::parse(body.as_bytes());
        assert_eq!(form.code.len(), MAX_CODE_INPUT);
        assert!(!form.accept_terms, "only 1/on/true tick the box");
        assert_eq!(form.context, Err(RedirectError::BadMac("clientMac")));

        let form = LoginForm::parse(b"accept_terms=on&code=%E2%9C%93%00x");
        assert!(form.accept_terms);
        assert_eq!(
            form.code, "\u{2713}\u{0}x",
            "kept as typed; the vouchers module rejects it"
        );
        // Invalid UTF-8 does not panic.
        let form = LoginForm::parse(b"code=%FF%FE");
        assert_eq!(form.code, "\u{FFFD}\u{FFFD}");
    }
}
