//! Controller settings (DESIGN §7 `settings/omada`): what the host types into the config flow.
//!
//! Validation happens here, once, and names the offending field so the API can answer 400 with
//! a message the host understands. Secrets (`password`, `client_secret`) never appear in `Debug`.
//!
//! Credentials are capabilities, not one mode (DESIGN §10): hotspot-operator and Open API
//! credentials may both be set. `mode` only decides which API lets guests in; `auto` is the
//! hotspot API when operator credentials exist (it takes a per-grant duration), else the Open
//! API. The other set, when present, is used for what only it can do (the Open API lists
//! sites, SSIDs and portal timeouts and creates operators).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::tls;

/// `mode`: which controller API authorises guests. `auto` picks the hotspot API when operator
/// credentials are set, else the Open API.
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
    /// Open API requests per second (0 = no limit). Unset: 10 on TP-Link's cloud hosts (the
    /// Open API Access Guide's budget), no limit on a controller of your own.
    #[serde(default)]
    pub openapi_requests_per_second: Option<u32>,
}

/// What the configured credentials make possible (DESIGN §10; CONTRACTS §5 `capabilities`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Authorise with a per-grant duration: the hotspot operator API.
    pub authorize_with_duration: bool,
    /// List sites, SSIDs and portal settings: the Open API.
    pub discovery: bool,
    /// Look up a client and its authorisation: the Open API.
    pub client_lookup: bool,
    /// Read access points and gateways: the Open API.
    pub device_health: bool,
    /// Per-guest Wi-Fi passwords: the Open API.
    pub ppsk: bool,
}

/// Hosts of TP-Link's cloud (cloud-based controllers, Essentials, the cloud connector).
pub(crate) fn is_cloud_host(url: &Url) -> bool {
    url.host_str().is_some_and(|h| {
        let h = h.to_ascii_lowercase();
        h == "tplinkcloud.com" || h.ends_with(".tplinkcloud.com")
    })
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
            openapi_requests_per_second: None,
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
    /// Hotspot operator name and password are both set.
    pub fn has_operator(&self) -> bool {
        present(&self.username).is_some() && !self.password.as_deref().unwrap_or("").is_empty()
    }

    /// Open API client ID and secret are both set.
    pub fn has_openapi(&self) -> bool {
        present(&self.client_id).is_some() && present(&self.client_secret).is_some()
    }

    /// Which API lets guests in. `auto` → the hotspot API when operator credentials are set
    /// (per-grant duration), else the Open API when client credentials are set.
    pub fn resolved_mode(&self) -> ResolvedMode {
        match self.mode {
            OmadaMode::Hotspot => ResolvedMode::Hotspot,
            OmadaMode::OpenApi => ResolvedMode::OpenApi,
            OmadaMode::Auto => {
                if !self.has_operator() && self.has_openapi() {
                    ResolvedMode::OpenApi
                } else {
                    ResolvedMode::Hotspot
                }
            }
        }
    }

    /// What the configured credentials make possible.
    pub fn capabilities(&self) -> Capabilities {
        let open = self.has_openapi();
        Capabilities {
            authorize_with_duration: self.has_operator(),
            discovery: open,
            client_lookup: open,
            device_health: open,
            ppsk: open,
        }
    }

    /// The Open API request budget in force (see the field's doc).
    pub fn openapi_rate(&self) -> u32 {
        match self.openapi_requests_per_second {
            Some(r) => r,
            None if self.parsed_base_url().is_ok_and(|u| is_cloud_host(&u)) => 10,
            None => 0,
        }
    }

    /// Check every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let url = self.parsed_base_url()?;
        if let Some(id) = present(&self.controller_id) {
            if id.len() < 8 || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad("controller_id", "Controller ID looks invalid (expected the 32-character omadacId, or leave it empty to discover it)"));
            }
        } else if is_cloud_host(&url) {
            return Err(bad("controller_id", "A cloud-based controller needs its Controller ID (the 32-character omadacId that appears in the controller's web address once you open it): the cloud hosts cannot be asked for it"));
        }
        // A half-given set is a typo, whichever mode.
        let has_password = !self.password.as_deref().unwrap_or("").is_empty();
        if present(&self.username).is_some() != has_password {
            let field = if present(&self.username).is_some() {
                "password"
            } else {
                "username"
            };
            return Err(bad(
                field,
                "Set both hotspot operator name and password, or neither",
            ));
        }
        if present(&self.client_id).is_some() != present(&self.client_secret).is_some() {
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
        match self.resolved_mode() {
            ResolvedMode::Hotspot if !self.has_operator() => {
                return Err(bad(
                    "username",
                    "Hotspot operator name is required (or give Open API client credentials and choose the Open API)",
                ));
            }
            ResolvedMode::OpenApi if !self.has_openapi() => {
                return Err(bad("client_id", "Open API client ID is required"));
            }
            _ => {}
        }
        if let Some(pem) = present(&self.ca_cert_pem) {
            let certs = tls::parse_pem_certs(pem).map_err(|m| bad("ca_cert_pem", m))?;
            for cert in &certs {
                super::cert::usable_as_trust_anchor(cert.as_ref())
                    .map_err(|m| bad("ca_cert_pem", m))?;
            }
        }
        if let Some(fp) = present(&self.cert_sha256) {
            tls::parse_fingerprint(fp).map_err(|m| bad("cert_sha256", m))?;
        }
        if self.openapi_requests_per_second.is_some_and(|r| r > 1000) {
            return Err(bad(
                "openapi_requests_per_second",
                "Open API requests per second must be 0 (no limit) to 1000",
            ));
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
            .field(
                "openapi_requests_per_second",
                &self.openapi_requests_per_second,
            )
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
    fn auto_prefers_the_hotspot_api_and_both_sets_may_be_given() {
        let mut s = hotspot();
        assert_eq!(s.resolved_mode(), ResolvedMode::Hotspot);
        assert_eq!(
            s.capabilities(),
            Capabilities {
                authorize_with_duration: true,
                ..Capabilities::default()
            }
        );
        // Both sets: still the hotspot API for guests (per-grant duration), and the Open API
        // capabilities on top (DESIGN §10).
        s.client_id = Some("id".into());
        s.client_secret = Some("sec".into());
        assert_eq!(s.resolved_mode(), ResolvedMode::Hotspot);
        assert!(s.validate().is_ok());
        let caps = s.capabilities();
        assert!(caps.authorize_with_duration && caps.discovery && caps.client_lookup && caps.ppsk);
        // Open API only: the Open API lets guests in.
        let open = OmadaSettings {
            username: None,
            password: None,
            ..s.clone()
        };
        assert_eq!(open.resolved_mode(), ResolvedMode::OpenApi);
        assert!(open.validate().is_ok());
        assert!(!open.capabilities().authorize_with_duration);
        // An explicit mode wins over what is present.
        let forced = OmadaSettings {
            mode: OmadaMode::OpenApi,
            ..s.clone()
        };
        assert_eq!(forced.resolved_mode(), ResolvedMode::OpenApi);
        // Half a set is refused by name.
        s.client_secret = Some("  ".into());
        assert_eq!(s.validate().unwrap_err().field, "client_secret");
        let half_operator = OmadaSettings {
            password: None,
            ..hotspot()
        };
        assert_eq!(half_operator.validate().unwrap_err().field, "password");
    }

    #[test]
    fn cloud_hosts_need_the_controller_id_and_get_the_request_budget() {
        let cloud = OmadaSettings {
            base_url: "https://euw1-api-omada-controller-connector.tplinkcloud.com".into(),
            ..hotspot()
        };
        let err = cloud.validate().unwrap_err();
        assert_eq!(err.field, "controller_id");
        assert!(err.message.contains("cloud-based"), "{}", err.message);
        let with_id = OmadaSettings {
            controller_id: Some("0123456789abcdef0123456789abcdef".into()),
            ..cloud
        };
        assert!(with_id.validate().is_ok());
        assert_eq!(with_id.openapi_rate(), 10);
        assert_eq!(
            hotspot().openapi_rate(),
            0,
            "no budget on a controller of your own"
        );
        let tuned = OmadaSettings {
            openapi_requests_per_second: Some(4),
            ..with_id
        };
        assert_eq!(tuned.openapi_rate(), 4);
        let silly = OmadaSettings {
            openapi_requests_per_second: Some(5000),
            ..hotspot()
        };
        assert_eq!(
            silly.validate().unwrap_err().field,
            "openapi_requests_per_second"
        );
    }

    #[test]
    fn a_ca_file_without_names_is_refused_with_the_pin_to_use() {
        let pem = super::super::cert::tests::FACTORY_PEM;
        let s = OmadaSettings {
            ca_cert_pem: Some(pem.into()),
            ..hotspot()
        };
        let err = s.validate().unwrap_err();
        assert_eq!(err.field, "ca_cert_pem");
        assert!(
            err.message.contains("cert_sha256 = 29dae0f7") && err.message.contains("factory"),
            "{}",
            err.message
        );
        let named = rcgen::generate_simple_self_signed(vec!["omada.example".to_string()]).unwrap();
        let ok = OmadaSettings {
            ca_cert_pem: Some(named.cert.pem()),
            ..hotspot()
        };
        assert!(ok.validate().is_ok());
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
