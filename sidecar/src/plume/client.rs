//! The Customer and Partner API reads the sidecar needs (reference §3–4), Bearer-authenticated.
//!
//! Tolerant by design: nodes and devices come as `{"nodes":[...]}` (what live clients see),
//! a bare list, or the swagger's doubly nested `{"nodes":{"nodes":[...]}}`; states are compared
//! case-insensitively; every field is read on its own ([`super::parse`]), so one odd field
//! never drops a pod or a device — it is named in `skipped` instead.
//!
//! What is never fetched: the Wi-Fi password. SSIDs come from `GET …/wifiNetwork/ssid`, which
//! answers `{ssid}` only (swagger `Customer.prototype.getSsid`), never `…/wifiNetwork`, which
//! carries `encryptionKey`.
//!
//! Errors are read as Plume means them (see [`PlumeError`]): the scope of a call (partner,
//! customer, location) decides what a 401 or a 404 says.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::transport_reason;
use super::parse::{status_of, Fields, Skipped};
use super::poller::RateLimiter;
use super::{PlumeError, PlumeSettings, TokenManager};

/// `GET /Customers/{c}/locations/{l}`: what the health model needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    pub id: Option<String>,
    pub name: Option<String>,
    /// `networkStatus.status` (`online`/`offline`).
    pub network_status: Option<String>,
    /// `serviceLevel.status` (`noService`/`basicService`/`fullService`).
    pub service_level: Option<String>,
    /// `speedTest` on the location (read by the Plume bot only; the gateway node's is preferred).
    pub speed_test: Option<SpeedTest>,
    /// Fields that could not be read (`location.serviceLevel (list)`).
    pub skipped: Vec<String>,
}

impl Location {
    pub fn from_json(v: &Value) -> Result<Self, PlumeError> {
        let obj = v
            .as_object()
            .ok_or_else(|| PlumeError::Decode("location is not an object".into()))?;
        let mut skipped = Skipped::default();
        let mut f = Fields::new(obj, "location", &mut skipped);
        let mut loc = Location {
            id: f.string("id"),
            name: f.string("name"),
            network_status: status_of(&mut f, "networkStatus"),
            service_level: status_of(&mut f, "serviceLevel"),
            speed_test: None,
            skipped: Vec::new(),
        };
        loc.speed_test = SpeedTest::read(&mut f, "speedTest");
        loc.skipped = skipped.0;
        Ok(loc)
    }
}

/// `health` of a node or device: `{"status":"poor","score":1}` or just `"poor"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Health {
    pub status: Option<String>,
    pub score: Option<f64>,
}

impl Health {
    fn read(f: &mut Fields<'_>, key: &str) -> Option<Health> {
        match f.raw(key)? {
            Value::String(s) => Some(Health {
                status: Some(s.clone()),
                score: None,
            }),
            Value::Number(n) => Some(Health {
                status: None,
                score: n.as_f64(),
            }),
            Value::Object(o) => {
                let path = format!("{}.{key}", f.path());
                let mut inner = Fields::new(o, &path, f.skipped());
                Some(Health {
                    status: inner.string("status"),
                    score: inner.number("score"),
                })
            }
            other => {
                f.skip(key, other);
                None
            }
        }
    }
}

/// An ISP speed test (`speedTest` on the gateway node: O1 `frontline-print-speedtest.py`).
/// Mbit/s and milliseconds as Plume reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SpeedTest {
    pub download_mbps: Option<f64>,
    pub upload_mbps: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub status: Option<String>,
    pub started_at: Option<String>,
    #[serde(skip)]
    pub gateway: Option<bool>,
}

impl SpeedTest {
    fn read(f: &mut Fields<'_>, key: &str) -> Option<SpeedTest> {
        match f.raw(key)? {
            Value::Object(o) => {
                let path = format!("{}.{key}", f.path());
                let mut inner = Fields::new(o, &path, f.skipped());
                let t = SpeedTest {
                    download_mbps: inner.number("download"),
                    upload_mbps: inner.number("upload"),
                    rtt_ms: inner.number("rtt"),
                    status: inner.string("status"),
                    started_at: inner
                        .string("startedAt")
                        .or_else(|| inner.string("endedAt")),
                    gateway: inner.boolean("gateway"),
                };
                (t.download_mbps.is_some() || t.upload_mbps.is_some()).then_some(t)
            }
            other => {
                f.skip(key, other);
                None
            }
        }
    }
}

/// One alert on a node (`alerts[].type`, observed by O1 and the Plume bot).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// `type`, or `alert` for an alert without one.
    pub kind: String,
    /// `state` when present (Plume's snooze states: snooze, ignore, performanceAcceptable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

fn read_alerts(f: &mut Fields<'_>, key: &str) -> Vec<Alert> {
    let one = |v: &Value| -> Option<Alert> {
        match v {
            Value::String(s) => Some(Alert {
                kind: s.clone(),
                state: None,
            }),
            Value::Object(o) => Some(Alert {
                kind: o
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("alert")
                    .to_string(),
                state: o.get("state").and_then(Value::as_str).map(str::to_string),
            }),
            _ => None,
        }
    };
    match f.raw(key) {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match one(item) {
                    Some(a) => out.push(a),
                    None => {
                        let path = format!("{}.{key}[{i}]", f.path());
                        f.skipped().push_item(&path, item);
                    }
                }
            }
            out
        }
        // The AppFacade response types `alerts` as an object: one alert when it has a type.
        Some(v @ Value::Object(o)) if o.contains_key("type") => one(v).into_iter().collect(),
        Some(other) => {
            f.skip(key, other);
            Vec::new()
        }
    }
}

/// One pod or gateway (`NodeResponse`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    pub id: Option<String>,
    pub nickname: Option<String>,
    pub default_name: Option<String>,
    pub model: Option<String>,
    pub firmware_version: Option<String>,
    pub connection_state: Option<String>,
    pub connection_state_change_at: Option<String>,
    pub backhaul_type: Option<String>,
    pub network_mode: Option<String>,
    pub residential_gateway: Option<bool>,
    pub health: Option<Health>,
    pub alerts: Vec<Alert>,
    pub connected_device_count: Option<u32>,
    pub speed_test: Option<SpeedTest>,
}

impl Node {
    /// Read leniently; `None` only when the item is not an object at all.
    pub fn from_json(v: &Value, path: &str, skipped: &mut Skipped) -> Option<Self> {
        let obj = v.as_object()?;
        let mut f = Fields::new(obj, path, skipped);
        let count = f.number("connectedDeviceCount");
        let mut n = Node {
            id: f.string("id").or_else(|| f.string("serialNumber")),
            nickname: f.string("nickname"),
            default_name: f.string("defaultName"),
            model: f.string("model"),
            firmware_version: f.string("firmwareVersion"),
            connection_state: f.string("connectionState"),
            connection_state_change_at: f.string("connectionStateChangeAt"),
            backhaul_type: f.string("backhaulType"),
            network_mode: f.string("networkMode"),
            residential_gateway: f.boolean("residentialGateway"),
            health: None,
            alerts: Vec::new(),
            connected_device_count: count.map(|c| c.max(0.0).min(f64::from(u32::MAX)) as u32),
            speed_test: None,
        };
        n.health = Health::read(&mut f, "health");
        n.alerts = read_alerts(&mut f, "alerts");
        n.speed_test = SpeedTest::read(&mut f, "speedTest");
        Some(n)
    }

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
        self.connected_device_count.unwrap_or(0)
    }

    /// The residential gateway: `residentialGateway`, a gateway speed test, or router mode
    /// (how O1 and O3 pick it).
    pub fn is_gateway(&self) -> bool {
        self.residential_gateway == Some(true)
            || self.speed_test.as_ref().and_then(|t| t.gateway) == Some(true)
            || self
                .network_mode
                .as_deref()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("router"))
    }
}

/// One client device (`DeviceResponse`). There is no boolean `connected` (reference §4.4).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Device {
    pub mac: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub host_name: Option<String>,
    pub connection_state: Option<String>,
    pub medium: Option<String>,
    pub freq_band: Option<String>,
    pub health: Option<Health>,
}

impl Device {
    /// Read leniently; `None` only when the item is not an object at all.
    pub fn from_json(v: &Value, path: &str, skipped: &mut Skipped) -> Option<Self> {
        let obj = v.as_object()?;
        let mut f = Fields::new(obj, path, skipped);
        let mut d = Device {
            mac: f.string("mac"),
            name: f.string("name"),
            nickname: f.string("nickname"),
            host_name: f.string("hostName"),
            connection_state: f.string("connectionState"),
            medium: f.string("medium"),
            freq_band: f.string("freqBand"),
            health: None,
        };
        d.health = Health::read(&mut f, "health");
        Some(d)
    }

    pub fn is_connected(&self) -> bool {
        is_connected(self.connection_state.as_deref())
    }

    /// nickname, else name ("host name else mac"), else hostName, else MAC.
    pub fn display_name(&self) -> &str {
        [&self.nickname, &self.name, &self.host_name, &self.mac]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .unwrap_or("unknown")
    }
}

macro_rules! lenient_deserialize {
    ($t:ty, $path:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = Value::deserialize(d)?;
                <$t>::from_json(&v, $path, &mut Skipped::default())
                    .ok_or_else(|| serde::de::Error::custom(concat!($path, " is not an object")))
            }
        }
    };
}
lenient_deserialize!(Node, "node");
lenient_deserialize!(Device, "device");

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Location::from_json(&v).map_err(serde::de::Error::custom)
    }
}

/// A list read from Plume, with what could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// `nodes[1].model (object)`, `devices[4] (string)`, …
    pub skipped: Vec<String>,
}

pub(crate) fn is_connected(state: Option<&str>) -> bool {
    state
        .map(|s| s.trim().eq_ignore_ascii_case("connected"))
        .unwrap_or(false)
}

/// A location of a customer (`GET /Customers/{c}/locations`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationSummary {
    pub id: String,
    pub name: Option<String>,
}

/// What `GET /Partners/nodes/{serial}` says about a pod (Plume "Obtain CustomerID and
/// LocationID from Serial Number").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeOwner {
    pub serial_number: String,
    pub customer_id: String,
    pub location_id: String,
}

/// A customer found by CRM account id (`GET /Partners/customers/search/{id}?field=accountId`).
/// The e-mail address Plume also returns is not kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerMatch {
    pub customer_id: String,
    pub account_id: Option<String>,
    pub name: Option<String>,
    pub location_ids: Vec<String>,
}

/// A unit's Plume ids, checked (see [`PlumeClient::verify_location`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifiedLocation {
    pub customer_id: String,
    pub location_id: String,
    pub name: Option<String>,
}

/// Which part of the API a call addresses: decides what a 401 and a 404 mean.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Partner,
    Customer(&'a str),
    Location(&'a str, &'a str),
}

impl Scope<'_> {
    fn customer(&self) -> Option<&str> {
        match self {
            Scope::Partner => None,
            Scope::Customer(c) | Scope::Location(c, _) => Some(c),
        }
    }
}

/// The keyword of the settings check (an account id nobody has).
const CHECK_KEYWORD: &str = "rental-wifi-settings-check";

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
        let v = self
            .get(
                &location_path(customer_id, location_id, &[]),
                &[],
                Scope::Location(customer_id, location_id),
            )
            .await?;
        Location::from_json(&v)
    }

    pub async fn nodes(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<Listing<Node>, PlumeError> {
        let v = self
            .get(
                &location_path(customer_id, location_id, &["nodes"]),
                &[],
                Scope::Location(customer_id, location_id),
            )
            .await?;
        Ok(read_items(
            unwrap_list(v, "nodes")?,
            "nodes",
            Node::from_json,
        ))
    }

    /// Every device of the location, on every SSID (`allSSIDs=true`: its default is not
    /// documented, and a production client passes it — reference §3, O3).
    pub async fn devices(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<Listing<Device>, PlumeError> {
        let v = self
            .get(
                &location_path(customer_id, location_id, &["devices"]),
                &[("allSSIDs", "true")],
                Scope::Location(customer_id, location_id),
            )
            .await?;
        Ok(read_items(
            unwrap_list(v, "devices")?,
            "devices",
            Device::from_json,
        ))
    }

    /// The primary Wi-Fi network's SSID (`GET …/wifiNetwork/ssid` → `{ssid}`), never the key.
    /// `None` when no Wi-Fi network was created yet (404).
    pub async fn ssid(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<Option<String>, PlumeError> {
        let v = match self
            .get(
                &location_path(customer_id, location_id, &["wifiNetwork", "ssid"]),
                &[],
                Scope::Location(customer_id, location_id),
            )
            .await
        {
            Ok(v) => v,
            Err(PlumeError::LocationNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let ssid = match &v {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("ssid").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        Ok(ssid.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
    }

    /// `GET …/serviceLevel` → its `status`.
    pub async fn service_level(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<Option<String>, PlumeError> {
        let v = self
            .get(
                &location_path(customer_id, location_id, &["serviceLevel"]),
                &[],
                Scope::Location(customer_id, location_id),
            )
            .await?;
        let wrapped = serde_json::json!({ "serviceLevel": v });
        let mut skipped = Skipped::default();
        let obj = wrapped.as_object().expect("object literal");
        Ok(status_of(
            &mut Fields::new(obj, "location", &mut skipped),
            "serviceLevel",
        ))
    }

    /// A customer's locations (`GET /Customers/{c}/locations`, an array).
    pub async fn locations(&self, customer_id: &str) -> Result<Vec<LocationSummary>, PlumeError> {
        let v = self
            .get(
                &["Customers", customer_id, "locations"],
                &[],
                Scope::Customer(customer_id),
            )
            .await?;
        let list = unwrap_list(v, "locations")?;
        Ok(list
            .iter()
            .filter_map(|l| {
                Some(LocationSummary {
                    id: text(l, "id")?,
                    name: text(l, "name"),
                })
            })
            .collect())
    }

    /// Checks a unit's customer and location ids against Plume, with a message that says which
    /// one is wrong (and lists the customer's locations when the location is the wrong one).
    pub async fn verify_location(
        &self,
        customer_id: &str,
        location_id: &str,
    ) -> Result<VerifiedLocation, PlumeError> {
        match self.location(customer_id, location_id).await {
            Ok(l) => Ok(VerifiedLocation {
                customer_id: customer_id.to_string(),
                location_id: location_id.to_string(),
                name: l.name,
            }),
            Err(PlumeError::LocationNotFound {
                customer_id: c,
                location_id: l,
                ..
            }) => {
                let known = self
                    .locations(&c)
                    .await
                    .map(|ls| {
                        ls.into_iter()
                            .take(10)
                            .map(|l| match l.name {
                                Some(n) => format!("{} ({n})", l.id),
                                None => l.id,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Err(PlumeError::LocationNotFound {
                    customer_id: c,
                    location_id: l,
                    known,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The customer and location a pod or gateway belongs to, from the serial number printed
    /// on it (`GET /Partners/nodes/{serial}`).
    pub async fn find_by_serial(&self, serial: &str) -> Result<NodeOwner, PlumeError> {
        let serial = serial.trim();
        let v = match self
            .get(&["Partners", "nodes", serial], &[], Scope::Partner)
            .await
        {
            Ok(v) => v,
            Err(PlumeError::NotFound) => {
                return Err(PlumeError::UnknownSerial {
                    serial: serial.to_string(),
                })
            }
            Err(e) => return Err(e),
        };
        match (text(&v, "customerId"), text(&v, "locationId")) {
            (Some(c), Some(l)) => Ok(NodeOwner {
                serial_number: text(&v, "serialNumber").unwrap_or_else(|| serial.to_string()),
                customer_id: c,
                location_id: l,
            }),
            // Plume: "If the node is not claimed … the Inventory node information will be
            // returned (minus CustomerID and LocationID)".
            _ => Err(PlumeError::Unclaimed {
                serial: serial.to_string(),
            }),
        }
    }

    /// Customers whose CRM account id is exactly `account_id`
    /// (`GET /Partners/customers/search/{id}?field=accountId&exactMatch=true`).
    pub async fn find_by_account_id(
        &self,
        account_id: &str,
    ) -> Result<Vec<CustomerMatch>, PlumeError> {
        let account_id = account_id.trim();
        let v = match self
            .get(
                &["Partners", "customers", "search", account_id],
                &[("field", "accountId"), ("exactMatch", "true")],
                Scope::Partner,
            )
            .await
        {
            Ok(v) => v,
            Err(PlumeError::NotFound) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let list = match v {
            Value::Array(a) => a,
            Value::Object(mut o) => {
                match ["customers", "data", "items"]
                    .iter()
                    .find_map(|k| match o.remove(*k) {
                        Some(Value::Array(a)) => Some(a),
                        _ => None,
                    }) {
                    Some(a) => a,
                    None => vec![Value::Object(o)],
                }
            }
            _ => return Err(PlumeError::Decode("customer search: not a list".into())),
        };
        Ok(list
            .iter()
            .filter_map(|c| {
                Some(CustomerMatch {
                    customer_id: text(c, "id")?,
                    account_id: text(c, "accountId"),
                    name: text(c, "name"),
                    location_ids: c
                        .get("locations")
                        .and_then(Value::as_array)
                        .map(|ls| ls.iter().filter_map(|l| text(l, "id")).collect())
                        .unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Proves the API base with an authenticated call that needs no customer: a partner-scoped
    /// customer search for an account id nobody has. Any answer of the Plume API itself (a list,
    /// a LoopBack "not found" for the search) passes; a route that does not exist, a web page,
    /// a refused fresh token or no connection fails with a message that names the URL.
    pub async fn check_api(&self) -> Result<(), PlumeError> {
        let base = self.settings.api_base.trim().to_string();
        let r = self
            .get(
                &["Partners", "customers", "search", CHECK_KEYWORD],
                &[
                    ("field", "accountId"),
                    ("exactMatch", "true"),
                    ("limit", "1"),
                ],
                Scope::Partner,
            )
            .await;
        match r {
            Ok(_) | Err(PlumeError::NotFound) => Ok(()),
            // Validation of the search itself (422): the API answered.
            Err(PlumeError::Status { status: 422, .. }) => Ok(()),
            Err(PlumeError::ApiBase(m)) => Err(PlumeError::ApiBase(format!(
                "{m}{}",
                api_base_hint(&base)
            ))),
            Err(PlumeError::AuthFailed) => Err(PlumeError::ApiBase(format!(
                "The Plume API at {base} refused a freshly minted token (401): the SSO URL and the API base must belong to the same Plume cloud (region); use the pair Plume gave you"
            ))),
            Err(PlumeError::Forbidden(m)) => Err(PlumeError::ApiBase(format!(
                "The Plume API at {base} refused this partner (403): {m}; check the partner ID"
            ))),
            Err(PlumeError::Transport(reason)) => Err(PlumeError::Transport(format!(
                "cannot reach the Plume API at {base} ({reason})"
            ))),
            Err(e) => Err(e),
        }
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<url::Url, PlumeError> {
        let mut url = url::Url::parse(self.settings.api_base.trim())
            .map_err(|_| PlumeError::Config("Invalid URL".into()))?;
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|_| PlumeError::Config("Invalid URL".into()))?;
            segs.pop_if_empty();
            segs.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// GET with Bearer. A 401 re-mints the token at most once, and only when the token is the
    /// likely culprit (see [`TokenManager`]); on a customer's path, a 401 that survives is that
    /// customer.
    async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        scope: Scope<'_>,
    ) -> Result<Value, PlumeError> {
        let url = self.url(segments, query)?;
        let s = &*self.settings;
        let mut token = self.tokens.token(s).await?;
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
                let customer = scope.customer();
                let seen = customer.map(|c| self.tokens.customer_seen(s, c));
                let proven = self.tokens.is_proven(s, &token);
                // Refused before with a working token: this customer again, no mint.
                if let (Some(c), Some(Some(false))) = (customer, seen) {
                    return Err(PlumeError::CustomerNotFound {
                        customer_id: c.to_string(),
                    });
                }
                // Re-mint when the token is the likelier culprit: a call without a customer,
                // a customer read before, or a token that never worked.
                let suspect_token = match seen {
                    None | Some(Some(_)) => true,
                    Some(None) => !proven,
                };
                if suspect_token && !reminted && self.tokens.invalidate(s, &token) {
                    reminted = true;
                    token = self.tokens.token(s).await?;
                    continue;
                }
                match (customer, seen) {
                    // Read before, and the token could not be replaced yet: the token.
                    (Some(_), Some(Some(true))) if !reminted => {}
                    (Some(c), _) => {
                        self.tokens.note_customer_refused(s, c);
                        tracing::info!(
                            customer_id = c,
                            "plume: API refused this customer with a working token (401)"
                        );
                        return Err(PlumeError::CustomerNotFound {
                            customer_id: c.to_string(),
                        });
                    }
                    (None, _) => {}
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
                let v = serde_json::from_slice::<Value>(&bytes).map_err(|_| {
                    PlumeError::ApiBase(format!(
                        "The API base {} answered HTTP {status} with something that is not JSON: it is not the Plume API",
                        s.api_base.trim()
                    ))
                })?;
                self.tokens.note_success(s, &token, scope.customer());
                return Ok(v);
            }
            let err = status_error(status, &bytes, scope, s.api_base.trim());
            if matches!(err, PlumeError::RateLimited) {
                tracing::warn!(status, "plume: rate limited by Plume's firewall");
            }
            return Err(err);
        }
    }
}

fn location_path<'a>(c: &'a str, l: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["Customers", c, "locations", l];
    v.extend_from_slice(tail);
    v
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A LoopBack 3 error body (`{"error":{"statusCode","name","message",…}}`, swagger
/// `ErrorModel`): the answer came from the Plume API itself, not from something in front of it.
fn loopback_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e: &Map<String, Value> = v.get("error")?.as_object()?;
    if !["statusCode", "status", "name", "code"]
        .iter()
        .any(|k| e.contains_key(*k))
    {
        return None;
    }
    Some(
        e.get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(200)
            .collect(),
    )
}

/// LoopBack's answers for a path it has no route for (`url-not-found.js`: "Cannot GET /x";
/// strong-remoting: "There is no method to handle GET /x").
fn is_route_not_found(message: &str) -> bool {
    let m = message.trim();
    m.starts_with("Cannot ")
        || m.contains("There is no method to handle")
        || m.contains("has no method handling")
}

/// Map a non-2xx, non-401 answer.
fn status_error(status: u16, body: &[u8], scope: Scope<'_>, base: &str) -> PlumeError {
    let lb = loopback_message(body);
    match (status, lb) {
        (403, Some(m)) => PlumeError::Forbidden(if m.is_empty() { "Forbidden".into() } else { m }),
        // The WAF: bare, HTML or any non-LoopBack body (AWS WAF lets the owner choose it).
        (403, None) | (429, _) => PlumeError::RateLimited,
        (404, Some(m)) if !is_route_not_found(&m) => match scope {
            Scope::Location(c, l) => PlumeError::LocationNotFound {
                customer_id: c.to_string(),
                location_id: l.to_string(),
                known: Vec::new(),
            },
            Scope::Customer(c) => PlumeError::CustomerNotFound {
                customer_id: c.to_string(),
            },
            Scope::Partner => PlumeError::NotFound,
        },
        (404, m) => PlumeError::ApiBase(format!(
            "No Plume API route at {base} (HTTP 404{}): check the API base",
            match m {
                Some(m) if !m.is_empty() => format!(": {m}"),
                _ => ", not a Plume error".to_string(),
            }
        )),
        (s, m) => PlumeError::Status {
            status: s,
            message: m
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| http_reason(s)),
        },
    }
}

/// What to add to an API-base failure: the `/api` prefix the host probably left out.
fn api_base_hint(base: &str) -> String {
    let trimmed = base.trim().trim_end_matches('/');
    let has_api = url::Url::parse(trimmed)
        .ok()
        .and_then(|u| {
            u.path_segments()
                .map(|mut s| s.any(|seg| seg.eq_ignore_ascii_case("api")))
        })
        .unwrap_or(false);
    if has_api {
        String::new()
    } else {
        format!(
            ". The API base includes its path prefix: did you mean {trimmed}/api ? (Plume's US cloud: {})",
            super::settings::DEFAULT_API_BASE
        )
    }
}

fn http_reason(status: u16) -> String {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error")
        .to_string()
}

/// Read every item leniently; an item that is not an object at all is named in `skipped`.
fn read_items<T>(
    list: Vec<Value>,
    key: &str,
    read: fn(&Value, &str, &mut Skipped) -> Option<T>,
) -> Listing<T> {
    let mut skipped = Skipped::default();
    let items = list
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let path = format!("{key}[{i}]");
            let t = read(item, &path, &mut skipped);
            if t.is_none() {
                skipped.push_item(&path, item);
            }
            t
        })
        .collect();
    Listing {
        items,
        skipped: skipped.0,
    }
}

fn unwrap_list(v: Value, key: &str) -> Result<Vec<Value>, PlumeError> {
    Ok(match v {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nodes_of(v: Value) -> Listing<Node> {
        read_items(unwrap_list(v, "nodes").unwrap(), "nodes", Node::from_json)
    }

    #[test]
    fn plume_envelopes_all_unwrap() {
        let one = json!({"id": "A", "connectionState": "Connected"});
        for v in [
            json!({"nodes": [one]}),
            json!([one]),
            json!({"nodes": {"nodes": [one]}}),
        ] {
            let nodes = nodes_of(v);
            assert_eq!(nodes.items.len(), 1);
            assert!(nodes.items[0].is_connected());
        }
        assert!(unwrap_list(json!({"other": []}), "nodes").is_err());
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
        assert!(n.alerts.is_empty());
    }

    #[test]
    fn plume_one_odd_field_never_drops_a_pod() {
        let listing = nodes_of(json!({"nodes": [
            {"id": "GW", "model": 403, "connectionState": "connected", "networkMode": "router",
             "backhaulType": {"type": "ethernet"}, "alerts": {"type": "poorHealth"},
             "speedTest": {"download": "512.5", "upload": 41, "gateway": true}},
            {"id": "P2", "nickname": {"text": "Bedroom"}, "defaultName": "Pod 2",
             "connectionState": "connected", "health": [1, 2], "alerts": [{"type": "x"}, 7],
             "connectedDeviceCount": true},
            "not a pod"
        ]}));
        assert_eq!(listing.items.len(), 2, "both pods kept");
        let gw = &listing.items[0];
        assert_eq!(gw.model.as_deref(), Some("403"));
        assert_eq!(
            gw.alerts,
            vec![Alert {
                kind: "poorHealth".into(),
                state: None
            }]
        );
        assert!(gw.is_gateway());
        let st = gw.speed_test.as_ref().unwrap();
        assert_eq!(
            (st.download_mbps, st.upload_mbps),
            (Some(512.5), Some(41.0))
        );
        let p2 = &listing.items[1];
        assert_eq!(p2.display_name(), "Pod 2");
        assert!(p2.health.is_none());
        assert_eq!(p2.alerts.len(), 1);
        assert_eq!(
            listing.skipped,
            vec![
                "nodes[0].backhaulType (object)",
                "nodes[1].connectedDeviceCount (boolean)",
                "nodes[1].nickname (object)",
                "nodes[1].health (list)",
                "nodes[1].alerts[1] (number)",
                "nodes[2] (string)",
            ]
        );
    }

    #[test]
    fn plume_error_bodies_map() {
        let loc = Scope::Location("c", "l");
        let base = "http://x/api";
        assert_eq!(status_error(403, b"", loc, base), PlumeError::RateLimited);
        assert_eq!(
            status_error(403, b"<html><title>403 Forbidden</title></html>", loc, base),
            PlumeError::RateLimited
        );
        assert_eq!(
            status_error(403, br#"{"error":"Forbidden"}"#, loc, base),
            PlumeError::RateLimited,
            "a string `error` is not LoopBack's body"
        );
        assert_eq!(
            status_error(403, br#"{"message":"Forbidden"}"#, loc, base),
            PlumeError::RateLimited
        );
        assert_eq!(status_error(429, b"", loc, base), PlumeError::RateLimited);
        let lb = br#"{"error":{"statusCode":403,"name":"Error","message":"Not allowed","code":"X","status":403}}"#;
        assert_eq!(
            status_error(403, lb, loc, base),
            PlumeError::Forbidden("Not allowed".into())
        );
        let nf = br#"{"error":{"statusCode":404,"name":"Error","message":"Location not found","code":"LOCATION_NOT_FOUND"}}"#;
        assert_eq!(
            status_error(404, nf, loc, base),
            PlumeError::LocationNotFound {
                customer_id: "c".into(),
                location_id: "l".into(),
                known: vec![]
            }
        );
        assert_eq!(
            status_error(404, nf, Scope::Partner, base),
            PlumeError::NotFound
        );
        let route = br#"{"error":{"statusCode":404,"name":"Error","message":"Cannot GET /Customers/c/locations/l"}}"#;
        assert!(
            matches!(status_error(404, route, loc, base), PlumeError::ApiBase(m) if m.contains("http://x/api") && m.contains("Cannot GET"))
        );
        assert!(matches!(
            status_error(404, b"", loc, base),
            PlumeError::ApiBase(_)
        ));
        assert_eq!(
            status_error(503, b"oops", loc, base),
            PlumeError::Status {
                status: 503,
                message: "Service Unavailable".into()
            }
        );
    }

    #[test]
    fn plume_api_base_hint_suggests_the_api_prefix() {
        assert!(api_base_hint("https://h.example").contains("did you mean https://h.example/api ?"));
        assert!(
            api_base_hint("https://h.example/").contains("did you mean https://h.example/api ?")
        );
        assert_eq!(api_base_hint("https://h.example/api"), "");
        assert_eq!(api_base_hint("https://h.example/API/"), "");
    }
}
