//! CSRF tokens for the login form, bound to the guest's device and to time.
//!
//! A device is the MAC of the redirect *together with* the peer address the portal sees
//! (DESIGN §10, "Who is asking"): the portal issues [`CsrfKey::issue_for`] /
//! [`CsrfKey::verify_for`] tokens, so a page fetched from one address cannot be posted from
//! another, and the limiter can count the (MAC, address) pair as one device.
//!
//! Token: `<unix seconds>.<base64url(HMAC-SHA256(key, "rental-wifi/portal-csrf/v2|" ts "|" MAC "|" IP))>`
//! (IP as `std::net::IpAddr` prints it, IPv4-mapped IPv6 as IPv4); [`CsrfKey::issue`] without
//! an address uses the older domain `"rental-wifi/portal-csrf/v1|" ts "|" MAC`, so the two
//! kinds never verify as each other. MAC in canonical `AA-BB-CC-DD-EE-FF` form. Stateless: nothing is stored per page; the key
//! lives in memory (a restart makes open pages answer "session expired — reload", which is
//! what [`super::errors::PortalError::SessionExpired`] tells the guest).
//!
//! A token is accepted for [`CSRF_TTL_SECS`] (30 min) after it was issued, only with the
//! MAC it was issued for, and not when its timestamp lies more than [`CLOCK_SKEW_SECS`] in
//! the future (clock stepped back, or a forged timestamp). Tags are compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{KeyInit, Mac as _};
use std::net::IpAddr;

use subtle::ConstantTimeEq as _;

use crate::net::Mac;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How long a login page stays usable.
pub const CSRF_TTL_SECS: i64 = 30 * 60;
/// How far in the future a token's timestamp may be (clock adjustments).
pub const CLOCK_SKEW_SECS: i64 = 5;
/// Longest token looked at; real ones are ~54 bytes.
const MAX_TOKEN_LEN: usize = 128;
const DOMAIN: &[u8] = b"rental-wifi/portal-csrf/v1|";
const DOMAIN_BOUND: &[u8] = b"rental-wifi/portal-csrf/v2|";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    #[error("CSRF token missing or malformed")]
    Malformed,
    #[error("CSRF token expired")]
    Expired,
    #[error("CSRF token issued in the future")]
    FromFuture,
    #[error("CSRF token does not match (other device or forged)")]
    Mismatch,
}

/// The secret behind the tokens. `Debug` does not show it.
#[derive(Clone)]
pub struct CsrfKey([u8; 32]);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

impl CsrfKey {
    /// 32 fresh bytes from the OS CSPRNG.
    ///
    /// # Panics
    /// When the OS has no randomness to give (getrandom fails), which on the supported
    /// platforms means the machine is unusable anyway.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("OS random number generator unavailable");
        CsrfKey(key)
    }

    /// A fixed key (tests, or a key persisted by the caller).
    pub fn from_bytes(key: [u8; 32]) -> Self {
        CsrfKey(key)
    }

    fn tag(&self, ts: i64, mac: &Mac, peer: Option<IpAddr>) -> [u8; 32] {
        let mut m =
            <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(if peer.is_some() { DOMAIN_BOUND } else { DOMAIN });
        m.update(ts.to_string().as_bytes());
        m.update(b"|");
        m.update(mac.to_string().as_bytes());
        if let Some(ip) = peer {
            m.update(b"|");
            m.update(ip.to_canonical().to_string().as_bytes());
        }
        m.finalize().into_bytes().into()
    }

    /// A token for a page shown to `client_mac` at `now_unix`, not bound to an address.
    pub fn issue(&self, client_mac: &Mac, now_unix: i64) -> String {
        self.issue_inner(client_mac, None, now_unix)
    }

    /// A token for a page shown to the device (`client_mac` at `peer`) at `now_unix`: what
    /// the portal uses.
    pub fn issue_for(&self, client_mac: &Mac, peer: IpAddr, now_unix: i64) -> String {
        self.issue_inner(client_mac, Some(peer), now_unix)
    }

    fn issue_inner(&self, client_mac: &Mac, peer: Option<IpAddr>, now_unix: i64) -> String {
        format!(
            "{now_unix}.{}",
            URL_SAFE_NO_PAD.encode(self.tag(now_unix, client_mac, peer))
        )
    }

    /// Accept an unbound `token` for `client_mac` at `now_unix`, or say why not.
    pub fn verify(&self, token: &str, client_mac: &Mac, now_unix: i64) -> Result<(), CsrfError> {
        self.verify_inner(token, client_mac, None, now_unix)
    }

    /// Accept `token` for the device (`client_mac` at `peer`) at `now_unix`, or say why not.
    pub fn verify_for(
        &self,
        token: &str,
        client_mac: &Mac,
        peer: IpAddr,
        now_unix: i64,
    ) -> Result<(), CsrfError> {
        self.verify_inner(token, client_mac, Some(peer), now_unix)
    }

    fn verify_inner(
        &self,
        token: &str,
        client_mac: &Mac,
        peer: Option<IpAddr>,
        now_unix: i64,
    ) -> Result<(), CsrfError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(CsrfError::Malformed);
        }
        let (ts, tag) = token.split_once('.').ok_or(CsrfError::Malformed)?;
        // Digits only: `i64::from_str` would also take a sign.
        if ts.is_empty() || ts.len() > 12 || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CsrfError::Malformed);
        }
        let ts: i64 = ts.parse().map_err(|_| CsrfError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| CsrfError::Malformed)?;
        if tag.len() != 32 {
            return Err(CsrfError::Malformed);
        }
        // Check the tag before the time, so a forged timestamp learns nothing but "mismatch".
        if !bool::from(self.tag(ts, client_mac, peer).ct_eq(&tag)) {
            return Err(CsrfError::Mismatch);
        }
        if ts > now_unix.saturating_add(CLOCK_SKEW_SECS) {
            return Err(CsrfError::FromFuture);
        }
        if now_unix.saturating_sub(ts) > CSRF_TTL_SECS {
            return Err(CsrfError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn mac(s: &str) -> Mac {
        s.parse().unwrap()
    }

    #[test]
    fn round_trip_and_shape() {
        let key = CsrfKey::generate();
        let m = mac("AA-BB-CC-DD-EE-FF");
        let token = key.issue(&m, NOW);
        let (ts, tag) = token.split_once('.').unwrap();
        assert_eq!(ts, NOW.to_string());
        assert_eq!(tag.len(), 43);
        assert!(
            tag.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{token}"
        );
        assert_eq!(key.verify(&token, &m, NOW), Ok(()));
        // The MAC is compared canonically: the redirect's spelling does not matter.
        assert_eq!(
            key.verify(&token, &mac("aa:bb:cc:dd:ee:ff"), NOW + 10),
            Ok(())
        );
    }

    #[test]
    fn known_answer() {
        // Pins the token format: HMAC-SHA256 over DOMAIN | ts | "|" | MAC, computed independently:
        // printf 'rental-wifi/portal-csrf/v1|1700000000|AA-BB-CC-DD-EE-FF' \
        //   | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf '07%.0s' {1..32}) -binary | basenc --base64url | tr -d =
        let key = CsrfKey::from_bytes([7u8; 32]);
        let token = key.issue(&mac("AA-BB-CC-DD-EE-FF"), NOW);
        assert_eq!(token, format!("{NOW}.{}", KNOWN_TAG));
    }
    const KNOWN_TAG: &str = "kYYvvJaJuPU8eQRyzasjSwWS88oD36xTh7sgfqd5oEE";

    #[test]
    fn window() {
        let key = CsrfKey::from_bytes([1u8; 32]);
        let m = mac("AA-BB-CC-DD-EE-FF");
        let token = key.issue(&m, NOW);
        assert_eq!(key.verify(&token, &m, NOW + CSRF_TTL_SECS), Ok(()));
        assert_eq!(
            key.verify(&token, &m, NOW + CSRF_TTL_SECS + 1),
            Err(CsrfError::Expired)
        );
        assert_eq!(key.verify(&token, &m, NOW - CLOCK_SKEW_SECS), Ok(()));
        assert_eq!(
            key.verify(&token, &m, NOW - CLOCK_SKEW_SECS - 1),
            Err(CsrfError::FromFuture)
        );
        // A token honestly issued for a future time (clock stepped) is refused as such.
        let future = key.issue(&m, NOW + 120);
        assert_eq!(key.verify(&future, &m, NOW), Err(CsrfError::FromFuture));
    }

    #[test]
    fn other_device_other_key_forgery() {
        let key = CsrfKey::from_bytes([1u8; 32]);
        let m = mac("AA-BB-CC-DD-EE-FF");
        let token = key.issue(&m, NOW);
        assert_eq!(
            key.verify(&token, &mac("AA-BB-CC-DD-EE-FE"), NOW),
            Err(CsrfError::Mismatch)
        );
        assert_eq!(
            CsrfKey::from_bytes([2u8; 32]).verify(&token, &m, NOW),
            Err(CsrfError::Mismatch)
        );
        // Moving the timestamp to renew a token breaks the tag.
        let (_, tag) = token.split_once('.').unwrap();
        assert_eq!(
            key.verify(&format!("{}.{tag}", NOW + 60), &m, NOW + 60),
            Err(CsrfError::Mismatch)
        );
        // Flipping one tag character breaks it too.
        let mut bad = token.clone().into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            key.verify(std::str::from_utf8(&bad).unwrap(), &m, NOW),
            Err(CsrfError::Mismatch)
        );
    }

    #[test]
    fn garbage() {
        let key = CsrfKey::from_bytes([1u8; 32]);
        let m = mac("AA-BB-CC-DD-EE-FF");
        let good = key.issue(&m, NOW);
        let (_, tag) = good.split_once('.').unwrap();
        let long = "9".repeat(200);
        for t in [
            "",
            ".",
            "abc",
            "1700000000",
            "1700000000.",
            ".AAAA",
            "1700000000.!!!!",
            "1700000000.AAAA",
            &format!("+{NOW}.{tag}"),
            &format!("-{NOW}.{tag}"),
            &format!(" {NOW}.{tag}"),
            &format!("{NOW}.{tag}="),
            &format!("{NOW}.{tag}AA"),
            &format!("9999999999999.{tag}"),
            &long,
        ] {
            assert_eq!(key.verify(t, &m, NOW), Err(CsrfError::Malformed), "{t:?}");
        }
    }

    #[test]
    fn bound_tokens_need_the_same_mac_and_address() {
        let key = CsrfKey::from_bytes([3u8; 32]);
        let m = mac("AA-BB-CC-DD-EE-FF");
        let home: IpAddr = "192.168.0.23".parse().unwrap();
        let token = key.issue_for(&m, home, NOW);
        assert_eq!(key.verify_for(&token, &m, home, NOW), Ok(()));
        // The same MAC from another address (a guest replaying a page fetched elsewhere).
        assert_eq!(
            key.verify_for(&token, &m, "192.168.0.66".parse().unwrap(), NOW),
            Err(CsrfError::Mismatch)
        );
        // Another MAC from the same address.
        assert_eq!(
            key.verify_for(&token, &mac("AA-BB-CC-DD-EE-FE"), home, NOW),
            Err(CsrfError::Mismatch)
        );
        // IPv4-mapped IPv6 is the same peer.
        assert_eq!(
            key.verify_for(&token, &m, "::ffff:192.168.0.23".parse().unwrap(), NOW),
            Ok(())
        );
        // Bound and unbound tokens never stand in for each other.
        assert_eq!(key.verify(&token, &m, NOW), Err(CsrfError::Mismatch));
        let unbound = key.issue(&m, NOW);
        assert_eq!(
            key.verify_for(&unbound, &m, home, NOW),
            Err(CsrfError::Mismatch)
        );
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", CsrfKey::from_bytes([9u8; 32])),
            "CsrfKey(<redacted>)"
        );
    }
}
