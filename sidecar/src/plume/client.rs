//! The Customer API reads the health model needs (reference §3–4), Bearer-authenticated.
//!
//! Tolerant by design: nodes and devices come as `{"nodes":[...]}` (what live clients see),
//! a bare list, or the swagger's doubly nested `{"nodes":{"nodes":[...]}}`; states are compared
//! case-insensitively; `health` may be an object `{status, score}` or a bare string; unknown
//! fields are ignored. The Wi-Fi key is never deserialized.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::error::transport_reason;
use super::poller::RateLimiter;
use super::{PlumeError, PlumeSettings, TokenManager};

/// `networkStatus` / `serviceLevel` style objects: we only need `status`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StatusField {
    pub status: Option<String>,
}

/// `GET /Customers/{c}/locations/{l}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Location {
    pub id: Option<String>,
    pub name: Option<String>,
    pub network_status: Option<StatusField>,
    pub service_level: Option<StatusField>,
}

/// `health` of a node or device: `{"status":"poor","score":1}` or just `"poor"`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    pub status: Option<String>,
    pub score: Option<f64>,
}

impl<'de> Deserialize<'de> for Health {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Health {
                status: Some(s),
                score: None,
            },
            Value::Object(o) => Health {
                status: o.get("status").and_then(Value::as_str).map(str::to_string),
                score: o.get("score").and_then(Value::as_f64),
            },
            _ => Health::default(),
        })
    }
}

/// One pod or gateway (`NodeResponse`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Node {
    pub id: Option<String>,
    pub nickname: Option<String>,
    pub default_name: Option<String>,
    pub model: Option<String>,
    pub connection_state: Option<String>,
    pub backhaul_type: Option<String>,
    pub network_mode: Option<String>,
    pub health: Option<Health>,
    pub alerts: Option<Vec<Value>>,
    pub connected_device_count: Option<Value>,
}

impl Node {
    /// nickname, else defaultName, else id (serial).
    pub fn display_name(&self) -> &str {
        [&self.nickname, &self.default_name, &self.id]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .unwrap_or("unknown")
    }

    pub fn is_connected(&self) -> bool {
        is_connected(self.connection_state.as_deref())
    }

    pub fn connected_device_count(&self) -> u32 {
        match &self.connected_device_count {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0).min(u64::from(u32::MAX)) as u32,
            Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
            _ => 0,
        }
    }

    /// Alert types (`alerts[].type`), or "alert" for untyped ones.
    pub fn alert_types(&self) -> Vec<String> {
        self.alerts
            .iter()
            .flatten()
            .map(|a| match a {
                Value::String(s) => s.clone(),
                Value::Object(o) => o
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("alert")
                    .to_string(),
                _ => "alert".to_string(),
            })
            .collect()
    }
}

/// One client device (`DeviceResponse`). There is no boolean `connected` (reference §4.4).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Device {
    pub mac: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub connection_state: Option<String>,
    pub health: Option<Health>,
}

impl Device {
    pub fn is_connected(&self) -> bool {
        is_connected(self.connection_state.as_deref())
    }
}

/// `GET .../wifiNetwork`: only what is safe to keep. `encryptionKey` is deliberately absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WifiNetwork {
    pub ssid: Option<String>,
    pub enabled: Option<bool>,
}

pub(crate) fn is_connected(state: Option<&str>) -> bool {
    state
        .map(|s| s.trim().eq_ignore_ascii_case("connected"))
        .unwrap_or(false)
}

/// A Plume API client for one set of settings. Cheap to clone.
#[derive(Clone)]
pub struct PlumeClient {
    settings: Arc<PlumeSettings>,
    tokens: TokenManager,
    limiter: Option<Arc<RateLimiter>>,
}

impl PlumeClient {
    pub fn new(settings: PlumeSettings, tokens: TokenManager) -> Self {
        Self {
            settings: Arc::new(settings),
            tokens,
            limiter: None,
        }
    }

    /// Every HTTP request to the API (retries included) first takes a slot from `limiter`.
    pub fn with_rate_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    pub fn settings(&self) -> &PlumeSettings {
        &self.settings
    }

    pub async fn location(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<Location, PlumeError> {
        let v = self.get_json(customer_id, location_id, &[]).await?;
        serde_json::from_value(v).map_err(|e| PlumeError::Decode(format!("location: {e}")))
    }

    pub async fn nodes(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<Vec<Node>, PlumeError> {
        let v = self.get_json(customer_id, location_id, &["nodes"]).await?;
        unwrap_list(v, "nodes")
    }

    pub async fn devices(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<Vec<Device>, PlumeError> {
        let v = self
            .get_json(customer_id, location_id, &["devices"])
            .await?;
        unwrap_list(v, "devices")
    }

    /// The primary Wi-Fi network; `None` when none was created yet (404).
    pub async fn wifi_network(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<Option<WifiNetwork>, PlumeError> {
        let v = match self
            .get_json(customer_id, location_id, &["wifiNetwork"])
            .await
        {
            Ok(v) => v,
            Err(PlumeError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let inner = match v {
            Value::Object(mut o) if o.contains_key("wifiNetwork") => {
                o.remove("wifiNetwork").unwrap_or(Value::Null)
            }
            other => other,
        };
        if inner.is_null() {
            return Ok(None);
        }
        serde_json::from_value(inner)
            .map(Some)
            .map_err(|e| PlumeError::Decode(format!("wifiNetwork: {e}")))
    }

    pub async fn service_level(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<StatusField, PlumeError> {
        let v = self
            .get_json(customer_id, location_id, &["serviceLevel"])
            .await?;
        serde_json::from_value(v).map_err(|e| PlumeError::Decode(format!("serviceLevel: {e}")))
    }

    fn url(
        &self,
        customer_id: &str,
        location_id: &str,
        tail: &[&str],
    ) -> Result<url::Url, PlumeError> {
        let mut url = url::Url::parse(self.settings.api_base.trim())
            .map_err(|_| PlumeError::Config("Invalid URL".into()))?;
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|_| PlumeError::Config("Invalid URL".into()))?;
            segs.pop_if_empty();
            segs.extend(["Customers", customer_id, "locations", location_id]);
            segs.extend(tail);
        }
        Ok(url)
    }

    /// GET with Bearer; on 401 re-mint once and retry; a second 401 is [`PlumeError::AuthFailed`].
    async fn get_json(
        &self,
        customer_id: &str,
        location_id: &str,
        tail: &[&str],
    ) -> Result<Value, PlumeError> {
        let url = self.url(customer_id, location_id, tail)?;
        let mut token = self.tokens.token(&self.settings).await?;
        let mut reminted = false;
        loop {
            if let Some(l) = &self.limiter {
                l.acquire().await;
            }
            let resp = self
                .tokens
                .http()
                .get(url.clone())
                .bearer_auth(token.secret())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| PlumeError::Transport(transport_reason(&e)))?;
            let status = resp.status().as_u16();
            if status == 401 {
                if !reminted && self.tokens.invalidate(&self.settings, &token) {
                    reminted = true;
                    token = self.tokens.token(&self.settings).await?;
                    continue;
                }
                tracing::warn!(
                    path = url.path(),
                    "plume: API answered 401 with a fresh token"
                );
                return Err(PlumeError::AuthFailed);
            }
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| PlumeError::Transport(transport_reason(&e)))?;
            tracing::debug!(path = url.path(), status, "plume: API response");
            if (200..300).contains(&status) {
                return serde_json::from_slice(&bytes)
                    .map_err(|e| PlumeError::Decode(e.to_string()));
            }
            return Err(status_error(status, &bytes));
        }
    }
}

/// Map a non-2xx answer. A 403 without a LoopBack error body is the WAF throttling us.
fn status_error(status: u16, body: &[u8]) -> PlumeError {
    let message = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        let e = v.get("error")?;
        e.get("message")
            .or_else(|| v.get("error_description"))
            .and_then(Value::as_str)
            .or_else(|| e.as_str())
            .map(|s| s.chars().take(200).collect::<String>())
    });
    match (status, message) {
        (404, _) => PlumeError::NotFound,
        (403, None) => PlumeError::RateLimited,
        (403, Some(m)) => PlumeError::Forbidden(m),
        (s, m) => PlumeError::Status {
            status: s,
            message: m.unwrap_or_else(|| http_reason(s)),
        },
    }
}

fn http_reason(status: u16) -> String {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error")
        .to_string()
}

fn unwrap_list<T: serde::de::DeserializeOwned>(v: Value, key: &str) -> Result<Vec<T>, PlumeError> {
    let list = match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove(key) {
            Some(Value::Array(a)) => a,
            Some(Value::Object(mut inner)) => match inner.remove(key) {
                Some(Value::Array(a)) => a,
                _ => return Err(PlumeError::Decode(format!("no {key} list"))),
            },
            Some(Value::Null) => Vec::new(),
            _ => return Err(PlumeError::Decode(format!("no {key} list"))),
        },
        _ => return Err(PlumeError::Decode(format!("no {key} list"))),
    };
    // One odd item must not hide the others.
    Ok(list
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plume_envelopes_all_unwrap() {
        let one = json!({"id": "A", "connectionState": "Connected"});
        for v in [
            json!({"nodes": [one]}),
            json!([one]),
            json!({"nodes": {"nodes": [one]}}),
        ] {
            let nodes: Vec<Node> = unwrap_list(v, "nodes").unwrap();
            assert_eq!(nodes.len(), 1);
            assert!(nodes[0].is_connected());
        }
        assert!(unwrap_list::<Node>(json!({"other": []}), "nodes").is_err());
    }

    #[test]
    fn plume_node_fields_are_lenient() {
        let n: Node = serde_json::from_value(json!({
            "id": "SER1", "nickname": null, "defaultName": "", "connectionState": "DISCONNECTED",
            "health": "poor", "alerts": null, "connectedDeviceCount": "3"
        }))
        .unwrap();
        assert_eq!(n.display_name(), "SER1");
        assert!(!n.is_connected());
        assert_eq!(n.health.as_ref().unwrap().status.as_deref(), Some("poor"));
        assert_eq!(n.connected_device_count(), 3);
        assert!(n.alert_types().is_empty());
    }

    #[test]
    fn plume_error_bodies_map() {
        assert_eq!(status_error(403, b""), PlumeError::RateLimited);
        assert_eq!(status_error(404, b"{}"), PlumeError::NotFound);
        let lb = br#"{"error":{"statusCode":403,"name":"Error","message":"Not allowed","code":"X","status":403}}"#;
        assert_eq!(
            status_error(403, lb),
            PlumeError::Forbidden("Not allowed".into())
        );
        assert_eq!(
            status_error(503, b"oops"),
            PlumeError::Status {
                status: 503,
                message: "Service Unavailable".into()
            }
        );
    }
}
