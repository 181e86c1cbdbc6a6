//! Controller settings (DESIGN §7 `settings/omada`): what the host types into the config flow.
//!
//! Validation happens here, once, and names the offending field so the API can answer 400 with
//! a message the host understands. Secrets (`password`, `client_secret`) never appear in `Debug`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::tls;

/// `mode`: which controller API to use. `auto` picks the Open API when client credentials are set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OmadaMode {
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "hotspot")]
    Hotspot,
    #[serde(rename = "openapi")]
    OpenApi,
}

/// The API a client actually speaks, after `auto` was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResolvedMode {
    #[serde(rename = "hotspot")]
    Hotspot,
    #[serde(rename = "openapi")]
    OpenApi,
}

impl ResolvedMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ResolvedMode::Hotspot => "hotspot",
            ResolvedMode::OpenApi => "openapi",
        }
    }
}

/// `auth_time_unit`: the unit of `time` in `extPortal/auth`. Controller versions disagree
/// (reference §3.4); the best-supported reading is a relative duration in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthTimeUnit {
    #[default]
    #[serde(rename = "ms")]
    Ms,
    #[serde(rename = "us")]
    Us,
    #[serde(rename = "s")]
    S,
}

impl AuthTimeUnit {
    /// Encode a duration in this unit, rounding up (a guest never gets less than granted) and
    /// never below 1 (0 might mean "unlimited" or "invalid" to some controller).
    pub fn encode(&self, d: Duration) -> u64 {
        let micros = d.as_micros();
        let v = match self {
            AuthTimeUnit::Us => micros,
            AuthTimeUnit::Ms => micros.div_ceil(1_000),
            AuthTimeUnit::S => micros.div_ceil(1_000_000),
        };
        u64::try_from(v).unwrap_or(u64::MAX).max(1)
    }

    /// Interpret a value in this unit as a duration (the simulator's side of [`encode`](Self::encode)).
    pub fn decode(&self, v: u64) -> Duration {
        match self {
            AuthTimeUnit::Us => Duration::from_micros(v),
            AuthTimeUnit::Ms => Duration::from_millis(v),
            AuthTimeUnit::S => Duration::from_secs(v),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            AuthTimeUnit::Ms => "ms",
            AuthTimeUnit::Us => "us",
            AuthTimeUnit::S => "s",
        }
    }
}

/// Controller settings, field names as in DESIGN §7. Unknown fields are rejected.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OmadaSettings {
    #[serde(default)]
    pub mode: OmadaMode,
    /// `https://controller:8043` (software) or `https://oc200` (hardware); a path prefix is kept.
    pub base_url: String,
    /// The `omadacId`; discovered from `GET /api/info` when absent.
    #[serde(default)]
    pub controller_id: Option<String>,
    /// Hotspot operator name (not the controller admin account).
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Open API client credentials (controller ≥ 5.12).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default = "default_true")]
    pub verify_tls: bool,
    /// Extra trust anchor(s), PEM. Hostname verification stays on.
    #[serde(default)]
    pub ca_cert_pem: Option<String>,
    /// SHA-256 of the controller's leaf certificate (hex, colons allowed). When set, it is the
    /// only check made on the certificate (self-signed controllers reached by IP).
    #[serde(default)]
    pub cert_sha256: Option<String>,
    #[serde(default)]
    pub auth_time_unit: AuthTimeUnit,
}

fn default_true() -> bool {
    true
}

impl Default for OmadaSettings {
    fn default() -> Self {
        Self {
            mode: OmadaMode::Auto,
            base_url: String::new(),
            controller_id: None,
            username: None,
            password: None,
            client_id: None,
            client_secret: None,
            verify_tls: true,
            ca_cert_pem: None,
            cert_sha256: None,
            auth_time_unit: AuthTimeUnit::Ms,
        }
    }
}

/// A setting that does not pass validation: which field and why (no secret in the message).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        field,
        message: message.into(),
    }
}

/// A set, non-blank string.
pub(crate) fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl OmadaSettings {
    /// Which API these settings select. `auto` → Open API when both client credentials are set.
    pub fn resolved_mode(&self) -> ResolvedMode {
        match self.mode {
            OmadaMode::Hotspot => ResolvedMode::Hotspot,
            OmadaMode::OpenApi => ResolvedMode::OpenApi,
            OmadaMode::Auto => {
                if present(&self.client_id).is_some() && present(&self.client_secret).is_some() {
                    ResolvedMode::OpenApi
                } else {
                    ResolvedMode::Hotspot
                }
            }
        }
    }

    /// Check every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.parsed_base_url()?;
        if let Some(id) = present(&self.controller_id) {
            if id.len() < 8 || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad("controller_id", "Controller ID looks invalid (expected the 32-character omadacId, or leave it empty to discover it)"));
            }
        }
        match self.resolved_mode() {
            ResolvedMode::Hotspot => {
                if present(&self.username).is_none() {
                    return Err(bad("username", "Hotspot operator name is required"));
                }
                if self.password.as_deref().unwrap_or("").is_empty() {
                    return Err(bad("password", "Hotspot operator password is required"));
                }
            }
            ResolvedMode::OpenApi => {
                if present(&self.client_id).is_none() {
                    return Err(bad("client_id", "Open API client ID is required"));
                }
                if present(&self.client_secret).is_none() {
                    return Err(bad("client_secret", "Open API client secret is required"));
                }
            }
        }
        if self.mode == OmadaMode::Auto
            && present(&self.client_id).is_some() != present(&self.client_secret).is_some()
        {
            let field = if present(&self.client_id).is_some() {
                "client_secret"
            } else {
                "client_id"
            };
            return Err(bad(
                field,
                "Set both Open API client ID and client secret, or neither",
            ));
        }
        if let Some(pem) = present(&self.ca_cert_pem) {
            tls::parse_pem_certs(pem).map_err(|m| bad("ca_cert_pem", m))?;
        }
        if let Some(fp) = present(&self.cert_sha256) {
            tls::parse_fingerprint(fp).map_err(|m| bad("cert_sha256", m))?;
        }
        Ok(())
    }

    /// `base_url` parsed: http(s), a host, no query or fragment, trailing slash removed.
    /// Plain http is accepted only for loopback hosts (simulators, tests).
    pub fn parsed_base_url(&self) -> Result<Url, SettingsError> {
        let raw = self.base_url.trim();
        if raw.is_empty() {
            return Err(bad("base_url", "Controller URL is required"));
        }
        let mut url = Url::parse(raw).map_err(|_| bad("base_url", "Invalid URL"))?;
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(bad("base_url", "Invalid URL: no host")),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(bad("base_url", "Invalid URL: the controller API needs https:// (port 8043 on a software controller, 443 on an OC200/OC300)")),
            _ => return Err(bad("base_url", "Invalid URL: use https://")),
        }
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(bad(
                "base_url",
                "Invalid URL: no query, fragment or credentials allowed",
            ));
        }
        let trimmed = url.path().trim_end_matches('/').to_string();
        url.set_path(&trimmed);
        Ok(url)
    }

    /// A copy safe to show: secrets replaced by `"***"` when set (DESIGN §2).
    pub fn redacted(&self) -> OmadaSettings {
        let mask = |v: &Option<String>| v.as_ref().map(|_| "***".to_string());
        OmadaSettings {
            password: mask(&self.password),
            client_secret: mask(&self.client_secret),
            ..self.clone()
        }
    }
}

impl fmt::Debug for OmadaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "Some(***)" } else { "None" };
        f.debug_struct("OmadaSettings")
            .field("mode", &self.mode)
            .field("base_url", &self.base_url)
            .field("controller_id", &self.controller_id)
            .field("username", &self.username)
            .field("password", &format_args!("{}", set(&self.password)))
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &format_args!("{}", set(&self.client_secret)),
            )
            .field("verify_tls", &self.verify_tls)
            .field(
                "ca_cert_pem",
                &self
                    .ca_cert_pem
                    .as_ref()
                    .map(|p| format!("<{} bytes>", p.len())),
            )
            .field("cert_sha256", &self.cert_sha256)
            .field("auth_time_unit", &self.auth_time_unit)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hotspot() -> OmadaSettings {
        OmadaSettings {
            base_url: "https://10.0.0.2:8043/".into(),
            username: Some("op".into()),
            password: Some("pw-secret".into()),
            ..Default::default()
        }
    }

    #[test]
    fn deserializes_the_contract_fields_with_defaults() {
        let s: OmadaSettings =
            serde_json::from_str(r#"{"base_url":"https://c:8043","username":"op","password":"x"}"#)
                .unwrap();
        assert_eq!(s.mode, OmadaMode::Auto);
        assert!(s.verify_tls);
        assert_eq!(s.auth_time_unit, AuthTimeUnit::Ms);
        let s: OmadaSettings =
            serde_json::from_str(r#"{"mode":"openapi","base_url":"https://c","client_id":"a","client_secret":"b","auth_time_unit":"us","verify_tls":false}"#).unwrap();
        assert_eq!(s.mode, OmadaMode::OpenApi);
        assert_eq!(s.auth_time_unit, AuthTimeUnit::Us);
        assert!(!s.verify_tls);
        assert!(
            serde_json::from_str::<OmadaSettings>(r#"{"base_url":"https://c","bogus":1}"#).is_err()
        );
        assert!(serde_json::from_str::<OmadaSettings>(
            r#"{"base_url":"https://c","mode":"cloud"}"#
        )
        .is_err());
    }

    #[test]
    fn auto_resolves_by_credentials() {
        let mut s = hotspot();
        assert_eq!(s.resolved_mode(), ResolvedMode::Hotspot);
        s.client_id = Some("id".into());
        s.client_secret = Some("sec".into());
        assert_eq!(s.resolved_mode(), ResolvedMode::OpenApi);
        s.client_secret = Some("  ".into());
        assert_eq!(s.resolved_mode(), ResolvedMode::Hotspot);
        assert_eq!(s.validate().unwrap_err().field, "client_secret");
    }

    #[test]
    fn validate_names_the_field() {
        assert!(hotspot().validate().is_ok());
        let cases: Vec<(OmadaSettings, &str)> = vec![
            (
                OmadaSettings {
                    base_url: "".into(),
                    ..hotspot()
                },
                "base_url",
            ),
            (
                OmadaSettings {
                    base_url: "http://10.0.0.2:8088".into(),
                    ..hotspot()
                },
                "base_url",
            ),
            (
                OmadaSettings {
                    base_url: "ftp://c".into(),
                    ..hotspot()
                },
                "base_url",
            ),
            (
                OmadaSettings {
                    base_url: "https://c/?x=1".into(),
                    ..hotspot()
                },
                "base_url",
            ),
            (
                OmadaSettings {
                    username: None,
                    ..hotspot()
                },
                "username",
            ),
            (
                OmadaSettings {
                    password: Some(String::new()),
                    ..hotspot()
                },
                "password",
            ),
            (
                OmadaSettings {
                    controller_id: Some("../x".into()),
                    ..hotspot()
                },
                "controller_id",
            ),
            (
                OmadaSettings {
                    cert_sha256: Some("abcd".into()),
                    ..hotspot()
                },
                "cert_sha256",
            ),
            (
                OmadaSettings {
                    ca_cert_pem: Some("not a pem".into()),
                    ..hotspot()
                },
                "ca_cert_pem",
            ),
            (
                OmadaSettings {
                    mode: OmadaMode::OpenApi,
                    ..hotspot()
                },
                "client_id",
            ),
        ];
        for (s, field) in cases {
            assert_eq!(s.validate().unwrap_err().field, field, "{s:?}");
        }
        let loopback = OmadaSettings {
            base_url: "http://127.0.0.1:9".into(),
            ..hotspot()
        };
        assert!(loopback.validate().is_ok());
        assert_eq!(
            loopback.parsed_base_url().unwrap().as_str(),
            "http://127.0.0.1:9/"
        );
        let prefixed = OmadaSettings {
            base_url: "https://c/omada/".into(),
            ..hotspot()
        };
        assert_eq!(prefixed.parsed_base_url().unwrap().path(), "/omada");
    }

    #[test]
    fn debug_and_redacted_never_show_secrets() {
        let s = OmadaSettings {
            client_id: Some("cid".into()),
            client_secret: Some("topsecret-value".into()),
            ..hotspot()
        };
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("pw-secret") && !dbg.contains("topsecret-value"),
            "{dbg}"
        );
        assert!(dbg.contains("cid"));
        let r = serde_json::to_string(&s.redacted()).unwrap();
        assert!(
            !r.contains("pw-secret") && !r.contains("topsecret-value") && r.contains("***"),
            "{r}"
        );
    }

    #[test]
    fn time_units_round_up() {
        let d = Duration::from_millis(1500);
        assert_eq!(AuthTimeUnit::Ms.encode(d), 1500);
        assert_eq!(AuthTimeUnit::Us.encode(d), 1_500_000);
        assert_eq!(AuthTimeUnit::S.encode(d), 2);
        assert_eq!(AuthTimeUnit::S.encode(Duration::ZERO), 1);
        assert_eq!(
            AuthTimeUnit::Ms.encode(Duration::from_secs(3600)),
            3_600_000
        );
        assert_eq!(AuthTimeUnit::S.decode(7), Duration::from_secs(7));
    }
}
