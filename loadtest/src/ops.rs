//! The operations the scenarios repeat: issue a voucher, redeem one through the portal
//! (GET + POST, like a phone), read the API.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;

use crate::http::{Api, Conn, Resp};
use crate::load::{Op, Outcome};

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    let cut: String = s.chars().take(160).collect();
    cut.replace('\n', " ")
}

fn expect(resp: Result<Resp, hyper::Error>, want: StatusCode, what: &str) -> Result<Resp, Outcome> {
    match resp {
        Err(e) => Err(Outcome::Transport(format!("{what}: {e}"))),
        Ok(r) if r.status == want => Ok(r),
        Ok(r) => Err(Outcome::Unexpected(format!(
            "{what}: HTTP {} (expected {}): {}",
            r.status.as_u16(),
            want.as_u16(),
            snippet(&r.body)
        ))),
    }
}

/// `POST /api/v1/vouchers` with a pre-built body (one per unit, round-robin); expects 201.
pub struct Issue {
    pub api: Api,
    pub bodies: Vec<Bytes>,
}

impl Issue {
    pub fn new(api: Api, unit_ids: &[String], max_devices: u32) -> Issue {
        let bodies = unit_ids
            .iter()
            .map(|u| {
                Bytes::from(
                    serde_json::to_vec(&serde_json::json!({
                        "unit_id": u,
                        "duration_minutes": 1440,
                        "max_devices": max_devices,
                    }))
                    .expect("json"),
                )
            })
            .collect();
        Issue { api, bodies }
    }
}

impl Op for Issue {
    async fn run(&self, conn: &mut Conn, seq: u64) -> Outcome {
        let body = self.bodies[(seq % self.bodies.len() as u64) as usize].clone();
        let req = self.api.json(Method::POST, "/api/v1/vouchers", body);
        match expect(
            conn.send(req).await,
            StatusCode::CREATED,
            "POST /api/v1/vouchers",
        ) {
            Ok(_) => Outcome::Ok,
            Err(o) => o,
        }
    }
}

/// Like [`Issue`], but keeps every code it got (seeding).
pub struct IssueCollect {
    pub issue: Issue,
    pub codes: std::sync::Mutex<Vec<(u64, String)>>,
}

impl Op for IssueCollect {
    async fn run(&self, conn: &mut Conn, seq: u64) -> Outcome {
        let i = &self.issue;
        let body = i.bodies[(seq % i.bodies.len() as u64) as usize].clone();
        let req = i.api.json(Method::POST, "/api/v1/vouchers", body);
        match expect(
            conn.send(req).await,
            StatusCode::CREATED,
            "POST /api/v1/vouchers",
        ) {
            Ok(r) => {
                let code = serde_json::from_slice::<serde_json::Value>(&r.body)
                    .ok()
                    .and_then(|v| v.get("code")?.as_str().map(str::to_owned));
                match code {
                    Some(c) => {
                        self.codes
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((seq, c));
                        Outcome::Ok
                    }
                    None => Outcome::Unexpected("voucher without a code".into()),
                }
            }
            Err(o) => o,
        }
    }
}

impl IssueCollect {
    /// Codes in issue order (code i was issued for unit `i % units`).
    pub fn into_codes(self) -> Vec<String> {
        let mut v = self.codes.into_inner().unwrap_or_else(|e| e.into_inner());
        v.sort_unstable_by_key(|(s, _)| *s);
        v.into_iter().map(|(_, c)| c).collect()
    }
}

/// A MAC from a number: locally administered prefix byte + 40 bits of `n`.
pub fn mac(prefix: u8, n: u64) -> String {
    let b = n.to_be_bytes();
    format!(
        "{prefix:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
        b[3], b[4], b[5], b[6], b[7]
    )
}

/// `(name, value)` of every `<input type="hidden">` of a page, entities decoded.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<input") {
        rest = &rest[i + 6..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        rest = &rest[end..];
        let attrs = attributes(tag);
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if get("type").as_deref() == Some("hidden") {
            if let (Some(n), Some(v)) = (get("name"), get("value")) {
                out.push((n, v));
            }
        }
    }
    out
}

/// `key="value"` / `key='value'` / `key=value` / `key` attributes of one tag's inside.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = tag.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if ks == i {
            i += 1;
            continue;
        }
        let key = tag[ks..i].to_ascii_lowercase();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            let (vs, ve);
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                vs = i + 1;
                let mut j = vs;
                while j < b.len() && b[j] != q {
                    j += 1;
                }
                ve = j;
                i = j + 1;
            } else {
                vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                ve = i;
            }
            out.push((key, decode_entities(&tag[vs..ve.min(tag.len())])));
        } else {
            out.push((key, String::new()));
        }
    }
    out
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Which device and voucher redemption `seq` uses.
#[derive(Clone, Copy)]
pub enum Devices {
    /// A new MAC for every redemption (prefix byte keeps runs apart); voucher `seq % n`.
    Distinct { prefix: u8 },
    /// A pool of `n` devices; device `seq % n` always uses voucher `seq % n` (re-redeeming
    /// with the same MAC re-authorizes).
    Pool { prefix: u8, n: u64 },
}

/// A guest redeeming through the portal: `GET /portal?<controller redirect>` → parse the form's
/// hidden inputs (csrf + redirect context) → `POST /portal` with them and `code` → 200 with
/// `data-result="success"`.
pub struct Redeem {
    host: HeaderValue,
    pub codes: Arc<Vec<String>>,
    pub devices: Devices,
    pub ssid: String,
    pub ap_mac: String,
}

pub const SUCCESS_MARKER: &str = "data-result=\"success\"";
pub const ERROR_MARKER: &str = "data-result=\"error\"";

impl Redeem {
    pub fn new(portal: SocketAddr, codes: Arc<Vec<String>>, devices: Devices) -> Redeem {
        Redeem {
            host: HeaderValue::from_str(&portal.to_string()).expect("addr is a valid header"),
            codes,
            devices,
            ssid: "LoadTest".into(),
            ap_mac: "AC-84-C6-00-00-01".into(),
        }
    }

    fn pick(&self, seq: u64) -> (String, &str) {
        let n = self.codes.len() as u64;
        match self.devices {
            Devices::Distinct { prefix } => (mac(prefix, seq), &self.codes[(seq % n) as usize]),
            Devices::Pool { prefix, n: pool } => {
                let d = seq % pool;
                (mac(prefix, d), &self.codes[(d % n) as usize])
            }
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Op for Redeem {
    async fn run(&self, conn: &mut Conn, seq: u64) -> Outcome {
        let (client_mac, code) = self.pick(seq);
        let uri = format!(
            "/portal?clientMac={client_mac}&apMac={}&ssidName={}&radioId=1&site=Default&redirectUrl=http%3A%2F%2Fexample.com%2F&t={}",
            self.ap_mac,
            self.ssid,
            unix_now()
        );
        let get = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(header::HOST, self.host.clone())
            .header(header::ACCEPT, "text/html")
            .header(header::ACCEPT_LANGUAGE, "en")
            .body(Full::new(Bytes::new()))
            .expect("valid request");
        let page = match expect(conn.send(get).await, StatusCode::OK, "GET /portal") {
            Ok(r) => r,
            Err(o) => return o,
        };
        let html = String::from_utf8_lossy(&page.body);
        let mut fields = hidden_inputs(&html);
        if !fields.iter().any(|(n, _)| n == "csrf") {
            return Outcome::Unexpected(format!(
                "GET /portal: no csrf input in the page: {}",
                snippet(&page.body)
            ));
        }
        fields.push(("code".into(), code.to_owned()));
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        let mut post = Request::builder()
            .method(Method::POST)
            .uri("/portal")
            .header(header::HOST, self.host.clone())
            .header(header::ACCEPT, "text/html")
            .header(header::ACCEPT_LANGUAGE, "en")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        // Send back any cookie the page set (the portal's CSRF is stateless today; if it ever
        // becomes cookie-bound, the harness still behaves like a browser).
        for c in page.headers.get_all(header::SET_COOKIE) {
            if let Some(pair) = c.to_str().ok().and_then(|s| s.split(';').next()) {
                post = post.header(header::COOKIE, pair);
            }
        }
        let post = post
            .body(Full::new(Bytes::from(form)))
            .expect("valid request");
        match expect(conn.send(post).await, StatusCode::OK, "POST /portal") {
            Ok(r) => {
                let body = String::from_utf8_lossy(&r.body);
                if body.contains(SUCCESS_MARKER) {
                    Outcome::Ok
                } else if body.contains(ERROR_MARKER) {
                    Outcome::Unexpected(format!(
                        "POST /portal: error page for {client_mac} code {code}: {}",
                        error_text(&body)
                    ))
                } else {
                    Outcome::Unexpected(format!(
                        "POST /portal: 200 without a data-result marker: {}",
                        snippet(&r.body)
                    ))
                }
            }
            Err(o) => o,
        }
    }
}

/// The visible text near the error marker, for the report.
fn error_text(html: &str) -> String {
    let i = html.find(ERROR_MARKER).unwrap_or(0);
    let i = html[..i].rfind('<').unwrap_or(i);
    let s = &html[i..];
    let mut out = String::new();
    let mut in_tag = false;
    for ch in s.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
        if out.len() > 400 {
            break;
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    words.join(" ").chars().take(160).collect()
}

/// API reads, a mix: `GET /api/v1/vouchers/{code}`, `GET /api/v1/units/{id}`,
/// `GET /api/v1/vouchers?unit_id=..&limit=10`; expects 200.
pub struct Reads {
    pub api: Api,
    pub codes: Arc<Vec<String>>,
    pub units: Vec<String>,
}

/// splitmix64: a well-spread index from a sequence number, no RNG state to share.
pub fn spread(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Op for Reads {
    async fn run(&self, conn: &mut Conn, seq: u64) -> Outcome {
        let r = spread(seq);
        let path = match seq % 3 {
            0 => format!(
                "/api/v1/vouchers/{}",
                self.codes[(r % self.codes.len() as u64) as usize]
            ),
            1 => format!(
                "/api/v1/units/{}",
                self.units[(r % self.units.len() as u64) as usize]
            ),
            _ => format!(
                "/api/v1/vouchers?unit_id={}&limit=10",
                self.units[(r % self.units.len() as u64) as usize]
            ),
        };
        let req = self.api.get(&path);
        match expect(conn.send(req).await, StatusCode::OK, "GET") {
            Ok(_) => Outcome::Ok,
            Err(Outcome::Unexpected(e)) => Outcome::Unexpected(format!("{path}: {e}")),
            Err(o) => o,
        }
    }
}

/// `GET /api/v1/info`: no token, no database; the floor of the HTTP path.
pub struct Info {
    host: HeaderValue,
}

impl Info {
    pub fn new(api: SocketAddr) -> Info {
        Info {
            host: HeaderValue::from_str(&api.to_string()).expect("addr is a valid header"),
        }
    }
}

impl Op for Info {
    async fn run(&self, conn: &mut Conn, _seq: u64) -> Outcome {
        let req = Request::builder()
            .uri("/api/v1/info")
            .header(header::HOST, self.host.clone())
            .body(Full::new(Bytes::new()))
            .expect("valid request");
        match expect(conn.send(req).await, StatusCode::OK, "GET /api/v1/info") {
            Ok(_) => Outcome::Ok,
            Err(o) => o,
        }
    }
}

/// `GET /api/v1/units/{id}/health` round-robin; expects 200.
pub struct Health {
    pub api: Api,
    pub units: Vec<String>,
}

impl Op for Health {
    async fn run(&self, conn: &mut Conn, seq: u64) -> Outcome {
        let path = format!(
            "/api/v1/units/{}/health",
            self.units[(seq % self.units.len() as u64) as usize]
        );
        match expect(
            conn.send(self.api.get(&path)).await,
            StatusCode::OK,
            "GET health",
        ) {
            Ok(_) => Outcome::Ok,
            Err(o) => o,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_inputs_from_a_maud_page() {
        let html = r#"<form method="post" action="/portal"><input type="hidden" name="csrf" value="1700000000.a-b_c"><input type="hidden" name="clientMac" value="AA-BB-CC-DD-EE-FF"><input type="hidden" name="redirectUrl" value="http://example.com/?a=1&amp;b=&quot;2&quot;"><input id="code" name="code" type="text" required><input type='hidden' name='t' value=1700000000 /></form>"#;
        let f = hidden_inputs(html);
        assert_eq!(
            f,
            vec![
                ("csrf".to_string(), "1700000000.a-b_c".to_string()),
                ("clientMac".into(), "AA-BB-CC-DD-EE-FF".into()),
                (
                    "redirectUrl".into(),
                    "http://example.com/?a=1&b=\"2\"".into()
                ),
                ("t".into(), "1700000000".into()),
            ]
        );
    }

    #[test]
    fn macs_are_distinct_and_well_formed() {
        assert_eq!(mac(2, 0), "02-00-00-00-00-00");
        assert_eq!(mac(2, 0x01_0203_0405), "02-01-02-03-04-05");
        assert_ne!(mac(2, 1), mac(6, 1));
    }

    #[test]
    fn error_text_strips_tags() {
        let html = r#"<main data-result="error"><h1>That code did not work</h1><p>Check it and try again.</p></main>"#;
        assert_eq!(
            error_text(html),
            "That code did not work Check it and try again."
        );
    }
}
