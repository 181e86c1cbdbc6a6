//! Bootstrap configuration: where to listen, where the data lives, how to log, and the few
//! limits a host may want to tune.
//!
//! Layering (later wins): built-in defaults < TOML file (`--config`) < environment variables
//! `RENTAL_WIFI_<SECTION>_<KEY>` < command-line flags. The result is validated once at start
//! and then passed explicitly to whoever needs it; nothing reads the environment later.
//! Controller, Plume and units are *runtime* settings stored in SQLite, not here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub api_listen: SocketAddr,
    pub portal_listen: SocketAddr,
    /// The URL guests reach the portal at (what the Omada controller is configured with).
    pub public_portal_url: Option<String>,
    /// Connections open at once on the portal listener (its own budget: a flooded portal
    /// never takes the API's). Lowered at start when the open-file limit is too low.
    pub portal_max_connections: usize,
    /// Connections open at once on the portal from one IPv4 address or IPv6 /64.
    pub portal_max_connections_per_address: usize,
    /// Connections open at once on the API listener.
    pub api_max_connections: usize,
    /// Seconds a client gets to send a request's headers, and again its body.
    pub request_timeout_seconds: u64,
    /// The portal over HTTPS (RFC 8908: the Captive Portal API and the portal URL it names
    /// must be `https`): a PEM certificate chain and its PEM private key, for a host name the
    /// guests resolve (docs/captive-portal-api.md). Both or neither; with both, the portal is
    /// also served on `portal_https_listen`.
    pub portal_tls_cert: Option<PathBuf>,
    pub portal_tls_key: Option<PathBuf>,
    pub portal_https_listen: SocketAddr,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            api_listen: "127.0.0.1:8765".parse().expect("static addr"),
            portal_listen: "0.0.0.0:8766".parse().expect("static addr"),
            public_portal_url: None,
            portal_max_connections: 1024,
            portal_max_connections_per_address: 64,
            api_max_connections: 256,
            request_timeout_seconds: 10,
            portal_tls_cert: None,
            portal_tls_key: None,
            portal_https_listen: "0.0.0.0:8443".parse().expect("static addr"),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info` or `rental_wifi=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Json,
            level: "info".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoucherConfig {
    /// Length of generated codes, 8–12.
    pub code_length: usize,
    /// Longest validity a voucher may have, in minutes (default 30 days).
    pub max_duration_minutes: i64,
    /// `max_devices` when a request does not say.
    pub default_max_devices: u32,
}

impl Default for VoucherConfig {
    fn default() -> Self {
        Self {
            code_length: 10,
            max_duration_minutes: 43_200,
            default_max_devices: 4,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalConfig {
    /// Failed attempts allowed per device (client MAC + address) within `failure_window_minutes`.
    pub max_failures: u32,
    pub failure_window_minutes: u32,
    /// Failed attempts allowed per address (IPv4 address, IPv6 address; an IPv6 /64 gets 4×)
    /// within `failure_window_minutes`: several devices' worth, for guests behind one NAT.
    pub max_failures_per_address: u32,
    /// Failed attempts per minute across all guests past which short codes are not evaluated
    /// (long voucher codes still are: not a house-wide lockout).
    pub global_failures_per_minute: u32,
    /// Wrong attempts with a short code (≤ 7 characters) per unit per 24 h (docs/security.md).
    pub short_code_failures_per_day: u32,
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            max_failures: 5,
            failure_window_minutes: 10,
            max_failures_per_address: 30,
            global_failures_per_minute: 600,
            short_code_failures_per_day: 10,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// How often the controller is asked for each unit's access points and the gateway's WAN
    /// (seconds; a round that takes longer, within the Open API request budget, sets the pace).
    pub controller_poll_seconds: u32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            controller_poll_seconds: 60,
        }
    }
}

/// The whole validated configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub log: LogConfig,
    pub vouchers: VoucherConfig,
    pub portal: PortalConfig,
    pub health: HealthConfig,
}

/// Values given on the command line; `None` means "not given".
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub api_listen: Option<String>,
    pub portal_listen: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid configuration `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// Every key the file and the environment may set, as (section, key).
const KEYS: &[(&str, &str)] = &[
    ("server", "data_dir"),
    ("server", "api_listen"),
    ("server", "portal_listen"),
    ("server", "public_portal_url"),
    ("server", "portal_max_connections"),
    ("server", "portal_max_connections_per_address"),
    ("server", "api_max_connections"),
    ("server", "request_timeout_seconds"),
    ("server", "portal_tls_cert"),
    ("server", "portal_tls_key"),
    ("server", "portal_https_listen"),
    ("log", "format"),
    ("log", "level"),
    ("vouchers", "code_length"),
    ("vouchers", "max_duration_minutes"),
    ("vouchers", "default_max_devices"),
    ("portal", "max_failures"),
    ("portal", "failure_window_minutes"),
    ("portal", "max_failures_per_address"),
    ("portal", "global_failures_per_minute"),
    ("portal", "short_code_failures_per_day"),
    ("health", "controller_poll_seconds"),
];

impl Config {
    /// Load from an optional file, the given environment and the flags, then validate.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Syntax {
                        path: path.to_owned(),
                        message: e.message().to_owned(),
                    })?
            }
            None => toml::Table::new(),
        };
        for (section, key) in KEYS {
            let var = format!(
                "RENTAL_WIFI_{}_{}",
                section.to_uppercase(),
                key.to_uppercase()
            );
            if let Some(raw) = env.get(&var) {
                set(&mut table, section, key, env_value(raw));
            }
        }
        if let Some(dir) = &flags.data_dir {
            set(
                &mut table,
                "server",
                "data_dir",
                toml::Value::String(dir.display().to_string()),
            );
        }
        if let Some(addr) = &flags.api_listen {
            set(
                &mut table,
                "server",
                "api_listen",
                toml::Value::String(addr.clone()),
            );
        }
        if let Some(addr) = &flags.portal_listen {
            set(
                &mut table,
                "server",
                "portal_listen",
                toml::Value::String(addr.clone()),
            );
        }
        let config = Config::from_table(table)?;
        config.validate()?;
        Ok(config)
    }

    fn from_table(table: toml::Table) -> Result<Config, ConfigError> {
        // Check sections and keys ourselves so the error names the full key.
        for (section, value) in &table {
            let Some(inner) = value.as_table() else {
                return Err(ConfigError::Invalid {
                    key: section.clone(),
                    message: "expected a [section]".into(),
                });
            };
            for key in inner.keys() {
                if !KEYS.iter().any(|(s, k)| s == section && k == key) {
                    return Err(ConfigError::Invalid {
                        key: format!("{section}.{key}"),
                        message: "unknown setting".into(),
                    });
                }
            }
        }
        // Deserialize section by section so a type error names its key.
        let mut config = Config::default();
        for (section, key) in KEYS {
            let Some(value) = table.get(*section).and_then(|s| s.get(*key)) else {
                continue;
            };
            let full = format!("{section}.{key}");
            let bad = |e: toml::de::Error| ConfigError::Invalid {
                key: full.clone(),
                message: e.message().to_owned(),
            };
            let mut one = toml::Table::new();
            one.insert((*key).to_owned(), value.clone());
            match *section {
                "server" => merge(&mut config.server, one).map_err(bad)?,
                "log" => merge(&mut config.log, one).map_err(bad)?,
                "vouchers" => merge(&mut config.vouchers, one).map_err(bad)?,
                "portal" => merge(&mut config.portal, one).map_err(bad)?,
                "health" => merge(&mut config.health, one).map_err(bad)?,
                _ => unreachable!("KEYS lists only known sections"),
            }
        }
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                message: message.into(),
            })
        };
        if !(8..=12).contains(&self.vouchers.code_length) {
            return invalid("vouchers.code_length", "must be between 8 and 12");
        }
        if !(1..=525_600).contains(&self.vouchers.max_duration_minutes) {
            return invalid(
                "vouchers.max_duration_minutes",
                "must be between 1 and 525600",
            );
        }
        if self.vouchers.default_max_devices > 100 {
            return invalid("vouchers.default_max_devices", "must be at most 100");
        }
        if self.portal.max_failures == 0 || self.portal.failure_window_minutes == 0 {
            return invalid("portal.max_failures", "limits must be positive");
        }
        if self.portal.max_failures_per_address < self.portal.max_failures {
            return invalid(
                "portal.max_failures_per_address",
                "must be at least portal.max_failures",
            );
        }
        if self.portal.global_failures_per_minute == 0 {
            return invalid("portal.global_failures_per_minute", "must be positive");
        }
        if self.portal.short_code_failures_per_day == 0 {
            return invalid(
                "portal.short_code_failures_per_day",
                "must be positive (short codes would never work)",
            );
        }
        if !(16..=1_000_000).contains(&self.server.portal_max_connections) {
            return invalid(
                "server.portal_max_connections",
                "must be between 16 and 1000000",
            );
        }
        if !(1..=self.server.portal_max_connections)
            .contains(&self.server.portal_max_connections_per_address)
        {
            return invalid(
                "server.portal_max_connections_per_address",
                "must be between 1 and server.portal_max_connections",
            );
        }
        if !(16..=1_000_000).contains(&self.server.api_max_connections) {
            return invalid(
                "server.api_max_connections",
                "must be between 16 and 1000000",
            );
        }
        if !(1..=300).contains(&self.server.request_timeout_seconds) {
            return invalid(
                "server.request_timeout_seconds",
                "must be between 1 and 300",
            );
        }
        if !(1..=3600).contains(&self.health.controller_poll_seconds) {
            return invalid(
                "health.controller_poll_seconds",
                "must be between 1 and 3600",
            );
        }
        if self.server.data_dir.as_os_str().is_empty() {
            return invalid("server.data_dir", "must not be empty");
        }
        if let Some(url) = &self.server.public_portal_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return invalid(
                        "server.public_portal_url",
                        "must be an absolute http(s) URL",
                    )
                }
            }
        }
        match (&self.server.portal_tls_cert, &self.server.portal_tls_key) {
            (Some(_), None) => {
                return invalid(
                    "server.portal_tls_key",
                    "is needed with server.portal_tls_cert (the certificate's private key, PEM)",
                )
            }
            (None, Some(_)) => {
                return invalid(
                    "server.portal_tls_cert",
                    "is needed with server.portal_tls_key (the certificate chain, PEM)",
                )
            }
            _ => {}
        }
        if self.server.portal_tls_cert.is_some()
            && self.server.portal_https_listen.port() != 0
            && (self.server.portal_https_listen == self.server.portal_listen
                || self.server.portal_https_listen == self.server.api_listen)
        {
            return invalid(
                "server.portal_https_listen",
                "must differ from server.portal_listen and server.api_listen",
            );
        }
        if self.server.api_listen == self.server.portal_listen && self.server.api_listen.port() != 0
        {
            return invalid("server.portal_listen", "must differ from server.api_listen");
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            ConfigError::Invalid {
                key: "log.level".into(),
                message: e.to_string(),
            }
        })?;
        Ok(())
    }
}

fn set(table: &mut toml::Table, section: &str, key: &str, value: toml::Value) {
    let entry = table
        .entry(section.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let Some(t) = entry.as_table_mut() {
        t.insert(key.to_owned(), value);
    }
}

/// Environment values are strings; numbers and booleans are read as such.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

/// Overlay one key onto an existing section struct.
fn merge<T: serde::de::DeserializeOwned + serde::Serialize>(
    target: &mut T,
    one: toml::Table,
) -> Result<(), toml::de::Error> {
    let mut base = toml::Table::try_from(&*target).expect("config sections serialize");
    for (k, v) in one {
        base.insert(k, v);
    }
    *target = base.try_into()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layering_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[server]\napi_listen = \"127.0.0.1:1000\"\nportal_listen = \"127.0.0.1:2000\"\n[vouchers]\ncode_length = 9\n").unwrap();
        let e = env(&[
            ("RENTAL_WIFI_SERVER_API_LISTEN", "127.0.0.1:1001"),
            ("RENTAL_WIFI_VOUCHERS_CODE_LENGTH", "11"),
            ("RENTAL_WIFI_LOG_FORMAT", "text"),
        ]);
        let flags = Overrides {
            api_listen: Some("127.0.0.1:1002".into()),
            ..Default::default()
        };
        let c = Config::load(Some(&file), &e, &flags).unwrap();
        assert_eq!(c.server.api_listen.to_string(), "127.0.0.1:1002");
        assert_eq!(c.server.portal_listen.to_string(), "127.0.0.1:2000");
        assert_eq!(c.vouchers.code_length, 11);
        assert_eq!(c.log.format, LogFormat::Text);
        assert_eq!(c.health.controller_poll_seconds, 60, "the default");
        let c = Config::load(
            None,
            &env(&[("RENTAL_WIFI_HEALTH_CONTROLLER_POLL_SECONDS", "5")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.health.controller_poll_seconds, 5);
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("RENTAL_WIFI_VOUCHERS_CODE_LENGTH", "20")],
                "vouchers.code_length",
            ),
            (
                &[("RENTAL_WIFI_SERVER_API_LISTEN", "nope")],
                "server.api_listen",
            ),
            (&[("RENTAL_WIFI_LOG_FORMAT", "xml")], "log.format"),
            (
                &[("RENTAL_WIFI_SERVER_PUBLIC_PORTAL_URL", "ftp://x")],
                "server.public_portal_url",
            ),
            (
                &[("RENTAL_WIFI_HEALTH_CONTROLLER_POLL_SECONDS", "0")],
                "health.controller_poll_seconds",
            ),
        ];
        for (vars, key) in cases {
            let err = Config::load(None, &env(vars), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err} should name {key}");
        }
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[server]\napi_lisen = \"127.0.0.1:1000\"\n").unwrap();
        let err = Config::load(Some(&file), &BTreeMap::new(), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.api_lisen"), "{err}");
    }
}
