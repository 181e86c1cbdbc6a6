//! One HTTP exchange with the controller, with retries: network errors, 5xx and 429 are retried
//! with exponential backoff and full jitter inside an overall deadline; everything else is
//! handed back to the protocol layer as it came. Also the reading of Omada's JSON envelope
//! `{"errorCode","msg","result"}` and of the shapes a lost session takes.
//!
//! A 5xx that carries Omada's own envelope with a non-zero `errorCode` is the controller's
//! verdict, not an outage (an OC300 on 6.1.0.19 answers the Open API with HTTP 500
//! `-7131 "Controller ID not exist."`, field notes §1.8): it is returned, not retried, so the
//! host sees the controller's message. Other 5xx bodies are kept (shortened) in the error.
//! A redirect to another host on a LAN address is a cloud connector pointing at the
//! controller's local address (field notes §1.12), reported as such, not as a lost session.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use rand::Rng;
use reqwest::RequestBuilder;
use serde_json::Value;
use tokio::time::Instant;

use super::error::OmadaError;
use super::limiter::RateLimiter;

/// Retry/backoff/deadline knobs. Defaults are DESIGN §4's; tests inject tiny values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First backoff ceiling; doubles per retry (full jitter: a random delay in `0..=ceiling`).
    pub base: Duration,
    /// Largest backoff ceiling.
    pub cap: Duration,
    /// Tries per HTTP exchange, the first included.
    pub attempts: u32,
    /// Overall deadline of one operation (login + call + re-login + retries).
    pub deadline: Duration,
    /// Timeout of a single HTTP attempt (also bounded by what is left of the deadline).
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            attempts: 5,
            deadline: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// Full-jitter delay before retry number `retry` (0 = the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

/// A response read whole.
pub(crate) struct Raw {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Send the request built by `build` (called once per attempt) until it gets a non-5xx answer.
/// With a `limiter`, every attempt first waits for its turn (inside the deadline).
pub(crate) async fn send(
    policy: &RetryPolicy,
    deadline: Instant,
    what: &str,
    limiter: Option<&RateLimiter>,
    build: impl Fn() -> RequestBuilder,
) -> Result<Raw, OmadaError> {
    let mut last: Option<OmadaError> = None;
    let attempts = policy.attempts.max(1);
    for attempt in 0..attempts {
        if let Some(l) = limiter {
            l.acquire(deadline, what).await?;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(OmadaError::Timeout(format!("{what}: deadline reached")));
        }
        let per_try = policy.attempt_timeout.min(deadline - now);
        let err = match build().timeout(per_try).send().await {
            Ok(resp) => {
                let status = resp.status();
                let headers = resp.headers().clone();
                match resp.bytes().await {
                    Ok(body) if status.is_server_error() && verdict_in(&body) => {
                        return Ok(Raw {
                            status,
                            headers,
                            body,
                        })
                    }
                    Ok(body)
                        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS =>
                    {
                        OmadaError::Unreachable(format!(
                            "{what}: controller answered HTTP {status}{}",
                            excerpt(&body)
                        ))
                    }
                    Ok(body) => {
                        return Ok(Raw {
                            status,
                            headers,
                            body,
                        })
                    }
                    Err(e) => classify_reqwest(what, &e),
                }
            }
            Err(e) => classify_reqwest(what, &e),
        };
        if matches!(err, OmadaError::Tls(_) | OmadaError::TlsUntrusted { .. }) {
            return Err(err);
        }
        tracing::debug!(what, attempt = attempt + 1, error = %err, "controller request failed");
        last = Some(err);
        if attempt + 1 == attempts {
            break;
        }
        let pause = policy.backoff(attempt);
        if Instant::now() + pause >= deadline {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    Err(last.unwrap_or_else(|| OmadaError::Timeout(format!("{what}: deadline reached"))))
}

/// An Omada envelope with a non-zero `errorCode`: the controller's own answer.
fn verdict_in(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("errorCode").and_then(as_i64))
        .is_some_and(|c| c != 0)
}

/// `": <text>"` from an error page: JSON `msg`, or a short plain-text body; empty otherwise.
fn excerpt(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(m) = v
            .get("msg")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            return format!(": {}", m.chars().take(200).collect::<String>());
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() || text.contains('<') {
        return String::new();
    }
    format!(": {}", text.chars().take(200).collect::<String>())
}

/// Map a reqwest error to Timeout / Tls / TlsUntrusted / Unreachable, with a short cause (no
/// URL: it is known).
pub(crate) fn classify_reqwest(what: &str, e: &reqwest::Error) -> OmadaError {
    if let Some((tls, certificate_problem)) = find_tls_error(e) {
        let message = format!("{what}: {tls}");
        return if certificate_problem {
            OmadaError::TlsUntrusted {
                message,
                certificate: None,
            }
        } else {
            OmadaError::Tls(message)
        };
    }
    let cause = root_cause(e);
    if e.is_timeout() {
        OmadaError::Timeout(format!("{what}: no answer in time"))
    } else if e.is_decode() || e.is_builder() {
        OmadaError::Protocol(format!("{what}: {cause}"))
    } else {
        OmadaError::Unreachable(format!("{what}: {cause}"))
    }
}

/// Next error in the chain. `io::Error` hides its payload from `source()` (it returns the
/// payload's own source), so look inside it explicitly.
fn next_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    if let Some(inner) = err
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        return Some(inner);
    }
    err.source()
}

/// The rustls error in the chain, as text, and whether it is about the certificate.
fn find_tls_error(e: &(dyn std::error::Error + 'static)) -> Option<(String, bool)> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            use rustls::{CertificateError as C, Error as E};
            return Some(match t {
                E::InvalidCertificate(C::Other(o)) => {
                    (format!("invalid peer certificate: {o}"), true)
                }
                E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => (
                    format!("{t} (a self-signed controller? pin its certificate with cert_sha256)"),
                    true,
                ),
                E::InvalidCertificate(_) => (t.to_string(), true),
                _ => (t.to_string(), false),
            });
        }
        cur = next_error(err);
    }
    None
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = next_error(cur) {
        cur = next;
    }
    let s = cur.to_string();
    // reqwest's own Display carries the URL; the innermost cause does not.
    if s.is_empty() {
        "request failed".into()
    } else {
        s
    }
}

/// What an answer means for the session-based protocols.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A JSON envelope; `code` 0 means success.
    Json {
        code: i64,
        msg: String,
        result: Value,
    },
    /// The session is not (or no longer) accepted: 302 to a login page, 401/403, an HTML page.
    SessionLost(String),
}

/// Read an answer to a request sent to `base`: the JSON envelope, or one of the shapes of a
/// lost session. A redirect to a LAN address on another host is a cloud-connector problem.
pub(crate) fn classify(what: &str, base: &url::Url, raw: &Raw) -> Result<Answer, OmadaError> {
    if raw.status.is_redirection() {
        let to = raw
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        if let Some(host) = lan_redirect(base, to) {
            return Err(OmadaError::Misconfigured(format!(
                "{what}: the controller URL redirects to {to}, the controller's own LAN address ({host}). This is what Omada's cloud access does when the URL is a cloud connector: use the controller's address on your network as the controller URL, or, for a cloud-based controller, the API host TP-Link gives for it with the controller ID set"
            )));
        }
        return Ok(Answer::SessionLost(format!(
            "HTTP {} to {to}",
            raw.status.as_u16()
        )));
    }
    if raw.status == StatusCode::UNAUTHORIZED || raw.status == StatusCode::FORBIDDEN {
        return Ok(Answer::SessionLost(format!("HTTP {}", raw.status.as_u16())));
    }
    if let Ok(v) = serde_json::from_slice::<Value>(&raw.body) {
        if let Some(code) = v.get("errorCode").and_then(as_i64) {
            let mut msg: String = v
                .get("msg")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            if raw.status.is_server_error() {
                msg = format!("{msg} (HTTP {})", raw.status.as_u16());
            }
            let result = v.get("result").cloned().unwrap_or(Value::Null);
            return Ok(Answer::Json { code, msg, result });
        }
    }
    let ctype = raw
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let head = raw.body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if raw.status.is_success() && (ctype.contains("html") || head == Some(b'<')) {
        return Ok(Answer::SessionLost("an HTML page instead of JSON".into()));
    }
    Err(OmadaError::Protocol(format!(
        "{what}: HTTP {} without an Omada JSON envelope",
        raw.status.as_u16()
    )))
}

/// The host of an absolute `location` that leaves `base`'s host for a private, loopback or
/// link-local address (or a single-label / `.local` / `.lan` name).
fn lan_redirect(base: &url::Url, location: &str) -> Option<String> {
    let to = url::Url::parse(location).ok()?;
    let host = to.host()?;
    if base.host() == Some(host.clone()) {
        return None;
    }
    let lan = match &host {
        url::Host::Ipv4(ip) => ip.is_private() || ip.is_loopback() || ip.is_link_local(),
        url::Host::Ipv6(ip) => {
            ip.is_loopback()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        url::Host::Domain(d) => {
            let d = d.to_ascii_lowercase();
            !d.contains('.') || d.ends_with(".local") || d.ends_with(".lan")
        }
    };
    lan.then(|| host.to_string())
}

/// `errorCode`/ids arrive as numbers or strings depending on version.
pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_by_the_doubling_ceiling_and_the_cap() {
        let p = RetryPolicy::default();
        for retry in 0..10 {
            let ceiling =
                (Duration::from_millis(500) * 2u32.pow(retry)).min(Duration::from_secs(8));
            for _ in 0..50 {
                assert!(p.backoff(retry) <= ceiling);
            }
        }
        let zero = RetryPolicy {
            base: Duration::ZERO,
            ..RetryPolicy::default()
        };
        assert_eq!(zero.backoff(3), Duration::ZERO);
        // Jitter: not always the same value.
        let samples: std::collections::HashSet<_> = (0..20).map(|_| p.backoff(4)).collect();
        assert!(samples.len() > 1);
    }

    fn raw(status: u16, ctype: &str, body: &str) -> Raw {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, ctype.parse().unwrap());
        Raw {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    fn base() -> url::Url {
        url::Url::parse("https://euw1-api-omada-controller-connector.tplinkcloud.com/abc").unwrap()
    }

    #[test]
    fn classifies_the_session_lost_shapes_and_envelopes() {
        let b = base();
        assert!(matches!(
            classify("t", &b, &raw(302, "text/plain", "")).unwrap(),
            Answer::SessionLost(_)
        ));
        assert!(matches!(
            classify("t", &b, &raw(401, "application/json", "{}")).unwrap(),
            Answer::SessionLost(_)
        ));
        assert!(matches!(
            classify("t", &b, &raw(200, "text/html", "<html>login</html>")).unwrap(),
            Answer::SessionLost(_)
        ));
        match classify(
            "t",
            &b,
            &raw(
                200,
                "application/json",
                r#"{"errorCode":"-1005","msg":"Operation forbidden."}"#,
            ),
        )
        .unwrap()
        {
            Answer::Json { code, msg, .. } => {
                assert_eq!((code, msg.as_str()), (-1005, "Operation forbidden."))
            }
            other => panic!("{other:?}"),
        }
        assert!(classify("t", &b, &raw(200, "application/json", "[1,2]")).is_err());
        // Omada's verdict on a 500 keeps its code and says which status it came with.
        match classify(
            "t",
            &b,
            &raw(
                500,
                "application/json",
                r#"{"errorCode":-7131,"msg":"Controller ID not exist."}"#,
            ),
        )
        .unwrap()
        {
            Answer::Json { code, msg, .. } => {
                assert_eq!(
                    (code, msg.as_str()),
                    (-7131, "Controller ID not exist. (HTTP 500)")
                )
            }
            other => panic!("{other:?}"),
        }
    }

    fn redirect_to(location: &str) -> Raw {
        let mut r = raw(302, "text/plain", "");
        r.headers
            .insert(http::header::LOCATION, location.parse().unwrap());
        r
    }

    #[test]
    fn a_connector_redirect_to_a_lan_address_is_named_not_a_lost_session() {
        let b = base();
        for to in [
            "https://192.168.0.2:443/abc/login",
            "https://10.1.2.3/abc/api/v2/hotspot/login",
            "https://omada/login",
            "https://oc200.local:443/x",
            "https://[fe80::1]/x",
        ] {
            match classify("hotspot login", &b, &redirect_to(to)) {
                Err(OmadaError::Misconfigured(m)) => {
                    assert!(m.contains(to) && m.contains("LAN address"), "{m}")
                }
                other => panic!("{to}: {other:?}"),
            }
        }
        // Same host, relative, or a public host: the usual lost-session shapes.
        for to in [
            "/abc/login",
            "https://euw1-api-omada-controller-connector.tplinkcloud.com/abc/login",
            "https://203.0.113.9/login",
        ] {
            assert!(
                matches!(
                    classify("t", &b, &redirect_to(to)),
                    Ok(Answer::SessionLost(_))
                ),
                "{to}"
            );
        }
        // A LAN controller redirecting to its own LAN address is a lost session too.
        let lan = url::Url::parse("https://192.168.0.2:8043").unwrap();
        assert!(matches!(
            classify(
                "t",
                &lan,
                &redirect_to("https://192.168.0.2:8043/abc/login")
            ),
            Ok(Answer::SessionLost(_))
        ));
    }

    #[test]
    fn error_excerpts_keep_the_controllers_words_not_html() {
        assert_eq!(
            excerpt(br#"{"errorCode":-1,"msg":"General error."}"#),
            ": General error."
        );
        assert_eq!(excerpt(b"Service  Unavailable\n"), ": Service Unavailable");
        assert_eq!(excerpt(b"<html><body>503</body></html>"), "");
        assert!(verdict_in(br#"{"errorCode":-7131,"msg":"x"}"#));
        assert!(!verdict_in(br#"{"errorCode":0}"#));
        assert!(!verdict_in(b"<html>"));
    }
}
