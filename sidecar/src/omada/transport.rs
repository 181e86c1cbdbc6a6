//! One HTTP exchange with the controller, with retries: network errors, 5xx and 429 are retried
//! with exponential backoff and full jitter inside an overall deadline; everything else is
//! handed back to the protocol layer as it came. Also the reading of Omada's JSON envelope
//! `{"errorCode","msg","result"}` and of the shapes a lost session takes.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use rand::Rng;
use reqwest::RequestBuilder;
use serde_json::Value;
use tokio::time::Instant;

use super::error::OmadaError;

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
pub(crate) async fn send(
    policy: &RetryPolicy,
    deadline: Instant,
    what: &str,
    build: impl Fn() -> RequestBuilder,
) -> Result<Raw, OmadaError> {
    let mut last: Option<OmadaError> = None;
    let attempts = policy.attempts.max(1);
    for attempt in 0..attempts {
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
                    Ok(body)
                        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS =>
                    {
                        drop(body);
                        OmadaError::Unreachable(format!(
                            "{what}: controller answered HTTP {status}"
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
        if matches!(err, OmadaError::Tls(_)) {
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

/// Map a reqwest error to Timeout / Tls / Unreachable, with a short cause (no URL: it is known).
pub(crate) fn classify_reqwest(what: &str, e: &reqwest::Error) -> OmadaError {
    if let Some(tls) = find_tls_error(e) {
        return OmadaError::Tls(format!("{what}: {tls}"));
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

fn find_tls_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            use rustls::{CertificateError as C, Error as E};
            return Some(match t {
                E::InvalidCertificate(C::Other(o)) => format!("invalid peer certificate: {o}"),
                E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
                    format!(
                        "{t} (a self-signed controller? trust it with ca_cert_pem or cert_sha256)"
                    )
                }
                _ => t.to_string(),
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

/// Read an answer: the JSON envelope, or one of the shapes of a lost session.
pub(crate) fn classify(what: &str, raw: &Raw) -> Result<Answer, OmadaError> {
    if raw.status.is_redirection() {
        let to = raw
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
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
            let msg = v
                .get("msg")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
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

    #[test]
    fn classifies_the_session_lost_shapes_and_envelopes() {
        assert!(matches!(
            classify("t", &raw(302, "text/plain", "")).unwrap(),
            Answer::SessionLost(_)
        ));
        assert!(matches!(
            classify("t", &raw(401, "application/json", "{}")).unwrap(),
            Answer::SessionLost(_)
        ));
        assert!(matches!(
            classify("t", &raw(200, "text/html", "<html>login</html>")).unwrap(),
            Answer::SessionLost(_)
        ));
        match classify(
            "t",
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
        assert!(classify("t", &raw(200, "application/json", "[1,2]")).is_err());
    }
}
