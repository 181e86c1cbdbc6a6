//! Plume settings as the host enters them (Home Assistant config flow → `PUT
//! /api/v1/settings/plume`), validated with the messages users of the original bot know.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The only public Plume API root known (US "gamma" cloud); used when `api_base` is omitted.
pub const DEFAULT_API_BASE: &str = "https://piranha-gamma.prod.us-west-2.aws.plumenet.io/api";
pub const DEFAULT_POLL_INTERVAL_SECONDS: u32 = 60;
pub const MIN_POLL_INTERVAL_SECONDS: u32 = 1;
pub const MAX_POLL_INTERVAL_SECONDS: u32 = 3600;

/// Runtime Plume settings (stored by the sidecar, secrets encrypted at rest by the store).
///
/// `Debug` never prints `auth_header`; [`PlumeSettings::redacted`] gives the API's read view.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlumeSettings {
    /// Token URL of the partner's Okta authorization server,
    /// `https://external.sso.plume.com/oauth2/<id>/v1/token`.
    pub sso_url: String,
    /// `Basic base64(clientId:clientSecret)` as the Plume Portal shows it. A bare base64 value
    /// is accepted too ("Basic " is added when sent).
    pub auth_header: String,
    /// Partner id as Plume issues it (24-hex in production, a name such as `mocha-partner` on
    /// Plume's development cloud); goes into the scope `partnerId:<id> role:partnerIdAdmin`.
    pub partner_id: String,
    /// API root including its path prefix, e.g. `https://<host>/api`.
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Seconds between polls, 1–3600 (default 60).
    #[serde(default = "default_poll_interval")]
    pub poll_interval_seconds: u32,
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.to_string()
}

fn default_poll_interval() -> u32 {
    DEFAULT_POLL_INTERVAL_SECONDS
}

/// A validation failure: which field, and the user-facing message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
}

impl SettingsError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl PlumeSettings {
    /// Checks the shape (no network). The first problem found, in field order.
    pub fn validate(&self) -> Result<(), SettingsError> {
        check_url(&self.sso_url).map_err(|()| SettingsError::new("sso_url", "Invalid URL"))?;
        let auth = self.auth_header.trim();
        if auth.is_empty() {
            return Err(SettingsError::new(
                "auth_header",
                "Authorization header cannot be empty",
            ));
        }
        if auth.chars().any(|c| c.is_control()) {
            return Err(SettingsError::new(
                "auth_header",
                "Authorization header contains invalid characters",
            ));
        }
        check_partner_id(self.partner_id.trim()).map_err(|why| {
            SettingsError::new("partner_id", format!("Partner ID looks invalid: {why}"))
        })?;
        check_url(&self.api_base).map_err(|()| SettingsError::new("api_base", "Invalid URL"))?;
        check_api_host(&self.api_base).map_err(|m| SettingsError::new("api_base", m))?;
        if !(MIN_POLL_INTERVAL_SECONDS..=MAX_POLL_INTERVAL_SECONDS)
            .contains(&self.poll_interval_seconds)
        {
            return Err(SettingsError::new(
                "poll_interval_seconds",
                format!("poll_interval_seconds must be between {MIN_POLL_INTERVAL_SECONDS} and {MAX_POLL_INTERVAL_SECONDS}"),
            ));
        }
        Ok(())
    }

    /// The `Authorization` value sent to the SSO: the header as entered, with `Basic ` added
    /// when the host pasted only the base64 part.
    pub(crate) fn authorization_value(&self) -> String {
        let auth = self.auth_header.trim();
        if auth.contains(' ') {
            auth.to_string()
        } else {
            format!("Basic {auth}")
        }
    }

    /// The OAuth scope for this partner.
    pub(crate) fn scope(&self) -> String {
        format!("partnerId:{} role:partnerIdAdmin", self.partner_id.trim())
    }

    pub fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(
            self.poll_interval_seconds
                .clamp(MIN_POLL_INTERVAL_SECONDS, MAX_POLL_INTERVAL_SECONDS),
        ))
    }

    /// JSON for API reads: `auth_header` shown as `"***"`.
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::json!({
            "sso_url": self.sso_url,
            "auth_header": "***",
            "partner_id": self.partner_id,
            "api_base": self.api_base,
            "poll_interval_seconds": self.poll_interval_seconds,
        })
    }
}

impl fmt::Debug for PlumeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlumeSettings")
            .field("sso_url", &self.sso_url)
            .field("auth_header", &"***")
            .field("partner_id", &self.partner_id)
            .field("api_base", &self.api_base)
            .field("poll_interval_seconds", &self.poll_interval_seconds)
            .finish()
    }
}

/// Partner ids as Plume issues them (field notes finding 11): 24-hex Mongo ids in production
/// (`65f06dae3fca80000ad38331`), names such as `mocha-partner` on Plume's development cloud
/// (P2's decoded token). Not a length rule: the original bot's "at least 20 characters"
/// rejects Plume's own example. What is refused: what cannot be an id in the scope
/// `partnerId:<id>` (spaces, `:`, other punctuation), a pasted `partnerId:` prefix, and a
/// hexadecimal id of the wrong length (a Plume id cut short or pasted twice).
fn check_partner_id(p: &str) -> Result<(), String> {
    const HINT: &str = "use the partner ID from the Plume Portal, e.g. 5f1e2d3c4b5a69788796a5b4";
    if p.is_empty() {
        return Err(HINT.into());
    }
    if p.to_ascii_lowercase().starts_with("partnerid:") {
        return Err("enter only the ID, without 'partnerId:'".into());
    }
    if p.chars().count() > 64
        || !p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!("only letters, digits, '-' and '_'; {HINT}"));
    }
    let hex = p.chars().all(|c| c.is_ascii_hexdigit());
    if hex && p.len() >= 16 && p.len() != 24 {
        return Err(format!(
            "{} hexadecimal characters, but Plume's hexadecimal IDs have 24; check it was copied whole",
            p.len()
        ));
    }
    Ok(())
}

/// `api.plume.com` appears only in the Plume bot's examples (field notes §3.5: 10 of 10
/// public mentions); it is not a Plume cloud. Refused with the known host as the example.
fn check_api_host(raw: &str) -> Result<(), String> {
    let host = url::Url::parse(raw.trim())
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    match host.as_deref() {
        Some("api.plume.com") => Err(format!(
            "api.plume.com is not a Plume API host (it comes from the Plume bot's examples): use the API URL Plume gave you, e.g. {DEFAULT_API_BASE}"
        )),
        _ => Ok(()),
    }
}

/// https with a host; plain http only for loopback hosts (simulators, tests).
fn check_url(raw: &str) -> Result<(), ()> {
    let url = url::Url::parse(raw.trim()).map_err(|_| ())?;
    let host = url.host_str().ok_or(())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        _ => Err(()),
    }
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> PlumeSettings {
        PlumeSettings {
            sso_url: "https://external.sso.plume.com/oauth2/ausc034rgdEZKz75I357/v1/token".into(),
            auth_header: "Basic dXNlcm5hbWU6cGFzc3dvcmQ=".into(),
            partner_id: "eb0af9d0a7ab946dcb3b8ef5".into(),
            api_base: DEFAULT_API_BASE.into(),
            poll_interval_seconds: 60,
        }
    }

    fn err(s: &PlumeSettings) -> (&'static str, String) {
        let e = s.validate().unwrap_err();
        (e.field, e.message)
    }

    #[test]
    fn plume_settings_accepts_the_reference_example() {
        assert_eq!(good().validate(), Ok(()));
    }

    #[test]
    fn plume_settings_messages_match_the_bot() {
        let mut s = good();
        s.sso_url = "http://external.sso.plume.com/oauth2/x/v1/token".into();
        assert_eq!(err(&s), ("sso_url", "Invalid URL".into()));
        s.sso_url = "not a url".into();
        assert_eq!(err(&s), ("sso_url", "Invalid URL".into()));
        let mut s = good();
        s.auth_header = "   ".into();
        assert_eq!(
            err(&s),
            ("auth_header", "Authorization header cannot be empty".into())
        );
        let mut s = good();
        for bad in [
            "",
            "eb0af9d0a7ab946dcb3",          // 19 hex: cut short
            "eb0af9d0a7ab946dcb3b8ef5eb0a", // 28 hex
            "eb0af9d0a7ab946dcb3b8ef5 role:x",
            "partnerId:eb0af9d0a7ab946dcb3b8ef5",
            "mocha partner",
            "x".repeat(65).as_str(),
        ] {
            s.partner_id = bad.into();
            let (field, message) = err(&s);
            assert_eq!(field, "partner_id", "{bad}");
            assert!(
                message.starts_with("Partner ID looks invalid: "),
                "{bad}: {message}"
            );
        }
        s.partner_id = "eb0af9d0a7ab946dcb3".into();
        assert!(err(&s).1.contains("19 hexadecimal characters"));
        let mut s = good();
        s.api_base = "ftp://example.com/api".into();
        assert_eq!(err(&s), ("api_base", "Invalid URL".into()));
        let mut s = good();
        s.poll_interval_seconds = 0;
        assert_eq!(err(&s).0, "poll_interval_seconds");
        s.poll_interval_seconds = 3601;
        assert_eq!(err(&s).0, "poll_interval_seconds");
        s.poll_interval_seconds = 3600;
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn plume_settings_partner_ids_as_plume_issues_them() {
        let mut s = good();
        // Production ids (24-hex), Plume's own M2M example (`mocha-partner`, P2), short names.
        for ok in [
            "65f06dae3fca80000ad38331",
            "mocha-partner",
            "partner",
            "ACME_isp-01",
            " 5f1e2d3c4b5a69788796a5b4 ",
        ] {
            s.partner_id = ok.into();
            assert_eq!(s.validate(), Ok(()), "{ok}");
        }
    }

    #[test]
    fn plume_settings_refuse_the_bots_placeholder_api_host() {
        let mut s = good();
        s.api_base = "https://api.plume.com".into();
        let (field, message) = err(&s);
        assert_eq!(field, "api_base");
        assert!(
            message.starts_with("api.plume.com is not a Plume API host"),
            "{message}"
        );
        assert!(message.contains(DEFAULT_API_BASE));
        s.api_base = "https://API.Plume.com/cloud/v1".into();
        assert_eq!(err(&s).0, "api_base");
    }

    #[test]
    fn plume_settings_http_only_for_loopback() {
        let mut s = good();
        for ok in [
            "http://127.0.0.1:8080/oauth2/x/v1/token",
            "http://localhost/x",
            "http://[::1]:9/x",
            "http://127.8.9.1/x",
        ] {
            s.sso_url = ok.into();
            assert_eq!(s.validate(), Ok(()), "{ok}");
        }
        for bad in [
            "http://10.0.0.1/x",
            "http://example.com/x",
            "http://127.0.0.1.example.com/x",
            "https://user:pw@example.com/x",
        ] {
            s.sso_url = bad.into();
            assert_eq!(err(&s), ("sso_url", "Invalid URL".into()), "{bad}");
        }
    }

    #[test]
    fn plume_settings_debug_and_redacted_hide_the_auth_header() {
        let s = good();
        let dbg = format!("{s:?} {:#?}", s);
        assert!(!dbg.contains("dXNlcm5hbWU6cGFzc3dvcmQ"), "{dbg}");
        assert!(!s.redacted().to_string().contains("dXNlcm5hbWU6cGFzc3dvcmQ"));
        assert_eq!(s.redacted()["auth_header"], "***");
    }

    #[test]
    fn plume_settings_defaults_and_unknown_fields() {
        let s: PlumeSettings = serde_json::from_value(serde_json::json!({
            "sso_url": "https://a/x", "auth_header": "Basic x", "partner_id": "eb0af9d0a7ab946dcb3b8ef5"
        }))
        .unwrap();
        assert_eq!(s.api_base, DEFAULT_API_BASE);
        assert_eq!(s.poll_interval_seconds, 60);
        let bad = serde_json::from_value::<PlumeSettings>(serde_json::json!({
            "sso_url": "https://a/x", "auth_header": "Basic x", "partner_id": "eb0af9d0a7ab946dcb3b8ef5", "plume_api_base": "x"
        }));
        assert!(bad.is_err());
    }

    #[test]
    fn plume_settings_bare_base64_gets_basic_prefix() {
        let mut s = good();
        s.auth_header = "dXNlcm5hbWU6cGFzc3dvcmQ=".into();
        assert_eq!(s.authorization_value(), "Basic dXNlcm5hbWU6cGFzc3dvcmQ=");
        s.auth_header = " Basic abc ".into();
        assert_eq!(s.authorization_value(), "Basic abc");
        assert_eq!(
            s.scope(),
            "partnerId:eb0af9d0a7ab946dcb3b8ef5 role:partnerIdAdmin"
        );
    }
}
