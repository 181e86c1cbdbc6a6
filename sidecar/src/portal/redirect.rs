//! The controller's redirect: who the guest is and where they are attached.
//!
//! The Omada controller sends the guest to `GET /portal?clientMac=…&apMac=…&…` (DESIGN §5,
//! `reference/omada-protocol.md` §1). The same information has to come back with the login
//! form, so [`RedirectContext::to_hidden_fields`] writes it out under the canonical names and
//! [`RedirectContext::from_pairs`] reads either form.
//!
//! # Spellings
//!
//! | field | accepted keys |
//! |---|---|
//! | client MAC | `clientMac`, `client_mac`, `cid` |
//! | client IP | `clientIp`, `clientIP` (the RADIUS-flavour doc example), `client_ip` |
//! | AP MAC | `apMac`, `ap_mac`, `ap` |
//! | gateway MAC | `gatewayMac`, `gateway_mac` |
//! | SSID | `ssidName`, `ssid` |
//! | radio | `radioId`, `radio_id`, `rid` |
//! | VLAN | `vid`, `vlan` |
//! | site | `site` |
//! | landing page | `redirectUrl`, `originUrl`, `origin_url` |
//! | timestamp | `t` |
//!
//! Keys are case-sensitive (the controller's spelling is fixed); unknown keys (`code`, `csrf`,
//! `accept_terms`, RADIUS-flavour extras such as `target`) are ignored.
//!
//! # Decisions
//!
//! As lenient as Omada's own portal page (field notes §1.1): what the controller itself
//! tolerates never locks a guest out here.
//!
//! * **Empty values are absent.** The RADIUS-flavour capture sends `gatewayMac=&vid=` for
//!   wireless clients; an empty value never errors and never overrides a non-empty one.
//! * **`vid=0` is no VLAN**, like an empty `vid` (an untagged network); other values must be
//!   VLAN ids 1–4094.
//! * **Duplicates:** the same field given twice (same key or two spellings) is accepted when
//!   both values mean the same thing (e.g. `AA-BB-…` and `aa:bb:…`) and is an error
//!   ([`RedirectError::Conflict`]) when they differ. "First wins" would silently pick one of
//!   two stories about which device is asking; refusing is cheap because the controller
//!   never sends conflicting copies.
//! * **Attachment:** the controller's authorize call needs `apMac` (wireless, EAP) or
//!   `gatewayMac` (wired, gateway) ([`Attachment`]). Neither → [`RedirectError::NoAttachment`]
//!   ([`RedirectContext::from_pairs`] enforces this so the guest learns "open the page again
//!   from the Wi-Fi" before typing a code, not after). Both → the EAP path, as the
//!   controller's own portal page picks it (`!!apMac ? … : …`, field notes [I9]; the
//!   RADIUS-flavour doc sends both keys): the gateway MAC is dropped from the context.
//! * **Limits:** SSID ≤ 64 characters (real SSIDs are ≤ 32 bytes), site ≤ 128, `t` an integer
//!   (seconds in every capture, ms in some 6.x fixtures: kept as sent). Control characters in
//!   SSID or site are refused. A landing URL longer than 2048 bytes — however long — is
//!   **dropped**, not an error: it is only where the guest goes afterwards, and refusing the
//!   whole portal because their original page had a long address would lock them out for
//!   nothing.
//! * Any other single raw value longer than [`MAX_VALUE_LEN`] is refused.

use std::net::IpAddr;

use crate::net::Mac;

/// Longest raw value accepted for any known key (bytes).
pub const MAX_VALUE_LEN: usize = 4096;
/// Longest landing-page URL kept (bytes); longer ones are dropped.
pub const MAX_URL_LEN: usize = 2048;
/// Longest SSID accepted (characters).
pub const MAX_SSID_LEN: usize = 64;
/// Longest site name accepted (characters).
pub const MAX_SITE_LEN: usize = 128;

/// What the controller told us about the guest, validated and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectContext {
    pub client_mac: Mac,
    pub client_ip: Option<IpAddr>,
    pub ap_mac: Option<Mac>,
    pub gateway_mac: Option<Mac>,
    pub ssid: Option<String>,
    pub radio_id: Option<u8>,
    pub vid: Option<u16>,
    pub site: Option<String>,
    pub redirect_url: Option<String>,
    pub t: Option<i64>,
}

/// Where the guest is attached: what the controller's authorize call needs besides the MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment<'a> {
    /// Wireless, through an EAP: send `apMac`, `ssidName`, `radioId`.
    Ap {
        ap_mac: Mac,
        ssid: Option<&'a str>,
        radio_id: Option<u8>,
    },
    /// Wired, through the gateway's LAN portal: send `gatewayMac`, `vid`.
    Gateway { gateway_mac: Mac, vid: Option<u16> },
}

/// Why a redirect could not be used. Every variant maps to the guest-facing
/// "invalid request" message; the detail is for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    #[error("the redirect carries no client MAC")]
    MissingClientMac,
    #[error("`{0}` is not a MAC address")]
    BadMac(&'static str),
    #[error("`clientIp` is not an IP address")]
    BadIp,
    #[error("`radioId` must be 0 to 3")]
    BadRadioId,
    #[error("`vid` must be a VLAN id from 1 to 4094")]
    BadVlan,
    #[error("`t` is not an integer timestamp")]
    BadTimestamp,
    #[error("`{0}` is too long")]
    TooLong(&'static str),
    #[error("`{0}` contains control characters")]
    ControlCharacters(&'static str),
    #[error("`{0}` was given twice with different values")]
    Conflict(&'static str),
    #[error("the redirect names neither an AP (`apMac`) nor a gateway (`gatewayMac`)")]
    NoAttachment,
    #[error("the redirect names both an AP (`apMac`) and a gateway (`gatewayMac`)")]
    AmbiguousAttachment,
}

/// Canonical field, by any of its spellings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    ClientMac,
    ClientIp,
    ApMac,
    GatewayMac,
    Ssid,
    RadioId,
    Vid,
    Site,
    RedirectUrl,
    T,
}

/// Number of [`Field`] variants (slots in the parser).
const FIELD_COUNT: usize = 10;
const _: () = assert!(
    Field::T as usize + 1 == FIELD_COUNT,
    "T must stay the last field"
);

impl Field {
    fn from_key(key: &str) -> Option<Field> {
        Some(match key {
            "clientMac" | "client_mac" | "cid" => Field::ClientMac,
            "clientIp" | "clientIP" | "client_ip" => Field::ClientIp,
            "apMac" | "ap_mac" | "ap" => Field::ApMac,
            "gatewayMac" | "gateway_mac" => Field::GatewayMac,
            "ssidName" | "ssid" => Field::Ssid,
            "radioId" | "radio_id" | "rid" => Field::RadioId,
            "vid" | "vlan" => Field::Vid,
            "site" => Field::Site,
            "redirectUrl" | "originUrl" | "origin_url" => Field::RedirectUrl,
            "t" => Field::T,
            _ => return None,
        })
    }

    /// The canonical (controller 5.x) spelling, used in hidden fields and error messages.
    fn name(self) -> &'static str {
        match self {
            Field::ClientMac => "clientMac",
            Field::ClientIp => "clientIp",
            Field::ApMac => "apMac",
            Field::GatewayMac => "gatewayMac",
            Field::Ssid => "ssidName",
            Field::RadioId => "radioId",
            Field::Vid => "vid",
            Field::Site => "site",
            Field::RedirectUrl => "redirectUrl",
            Field::T => "t",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One parsed value, compared when a field comes twice.
#[derive(Clone, PartialEq, Eq)]
enum Value {
    Mac(Mac),
    Ip(IpAddr),
    Text(String),
    Small(u16),
    Int(i64),
    /// Given but meaning nothing: a landing URL over [`MAX_URL_LEN`], `vid=0`.
    Dropped,
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn parse_value(field: Field, raw: &str) -> Result<Value, RedirectError> {
    let name = field.name();
    Ok(match field {
        Field::ClientMac | Field::ApMac | Field::GatewayMac => {
            Value::Mac(raw.parse().map_err(|_| RedirectError::BadMac(name))?)
        }
        Field::ClientIp => Value::Ip(raw.trim().parse().map_err(|_| RedirectError::BadIp)?),
        Field::Ssid | Field::Site => {
            let max = if field == Field::Ssid {
                MAX_SSID_LEN
            } else {
                MAX_SITE_LEN
            };
            if raw.chars().count() > max {
                return Err(RedirectError::TooLong(name));
            }
            if has_control(raw) {
                return Err(RedirectError::ControlCharacters(name));
            }
            Value::Text(raw.to_owned())
        }
        Field::RadioId => match raw.trim().parse::<u8>() {
            Ok(r) if r <= 3 => Value::Small(r.into()),
            _ => return Err(RedirectError::BadRadioId),
        },
        Field::Vid => match raw.trim().parse::<u16>() {
            // An untagged network: no VLAN.
            Ok(0) => Value::Dropped,
            Ok(v) if (1..=4094).contains(&v) => Value::Small(v),
            _ => return Err(RedirectError::BadVlan),
        },
        Field::T => {
            let t = raw.trim();
            // Digits only: no sign, no exponent, no fraction.
            if t.is_empty() || t.len() > 19 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RedirectError::BadTimestamp);
            }
            Value::Int(t.parse().map_err(|_| RedirectError::BadTimestamp)?)
        }
        Field::RedirectUrl => {
            if raw.len() > MAX_URL_LEN {
                Value::Dropped
            } else if has_control(raw) {
                // A landing URL with control characters is not one we would ever send a guest to.
                Value::Dropped
            } else {
                Value::Text(raw.to_owned())
            }
        }
    })
}

impl RedirectContext {
    /// Parse a decoded query string or form body, given as key/value pairs.
    /// See the module doc for spellings and rules.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, RedirectError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut slots: [Option<Value>; FIELD_COUNT] = Default::default();
        for (k, v) in pairs {
            let Some(field) = Field::from_key(k.as_ref()) else {
                continue;
            };
            let raw = v.as_ref();
            if raw.len() > MAX_VALUE_LEN && field != Field::RedirectUrl {
                return Err(RedirectError::TooLong(field.name()));
            }
            if raw.trim().is_empty() {
                continue;
            }
            let value = parse_value(field, raw)?;
            let slot = &mut slots[field.index()];
            match slot {
                None => *slot = Some(value),
                Some(prev) if *prev == value => {}
                Some(_) => return Err(RedirectError::Conflict(field.name())),
            }
        }
        let take = |f: Field, slots: &mut [Option<Value>; FIELD_COUNT]| slots[f.index()].take();
        let mac = |v: Option<Value>| match v {
            Some(Value::Mac(m)) => Some(m),
            _ => None,
        };
        let text = |v: Option<Value>| match v {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        };
        let small = |v: Option<Value>| match v {
            Some(Value::Small(n)) => Some(n),
            _ => None,
        };
        let mut ctx = RedirectContext {
            client_mac: mac(take(Field::ClientMac, &mut slots))
                .ok_or(RedirectError::MissingClientMac)?,
            client_ip: match take(Field::ClientIp, &mut slots) {
                Some(Value::Ip(ip)) => Some(ip),
                _ => None,
            },
            ap_mac: mac(take(Field::ApMac, &mut slots)),
            gateway_mac: mac(take(Field::GatewayMac, &mut slots)),
            ssid: text(take(Field::Ssid, &mut slots)),
            radio_id: small(take(Field::RadioId, &mut slots)).map(|r| r as u8),
            vid: small(take(Field::Vid, &mut slots)),
            site: text(take(Field::Site, &mut slots)),
            redirect_url: text(take(Field::RedirectUrl, &mut slots)),
            t: match take(Field::T, &mut slots) {
                Some(Value::Int(t)) => Some(t),
                _ => None,
            },
        };
        if ctx.ap_mac.is_some() {
            // Both given: the EAP path, as the controller's own portal page decides.
            ctx.gateway_mac = None;
        }
        ctx.attachment()?;
        Ok(ctx)
    }

    /// Parse a raw (still percent-encoded) query string or `application/x-www-form-urlencoded`
    /// body. `+` is a space, invalid UTF-8 becomes U+FFFD.
    pub fn from_query(query: &str) -> Result<Self, RedirectError> {
        Self::from_pairs(url::form_urlencoded::parse(query.as_bytes()))
    }

    /// The AP or gateway the guest is behind; exactly one must be known (a parsed context
    /// never has both: [`RedirectContext::from_pairs`] keeps the AP).
    pub fn attachment(&self) -> Result<Attachment<'_>, RedirectError> {
        match (self.ap_mac, self.gateway_mac) {
            (Some(ap_mac), None) => Ok(Attachment::Ap {
                ap_mac,
                ssid: self.ssid.as_deref(),
                radio_id: self.radio_id,
            }),
            (None, Some(gateway_mac)) => Ok(Attachment::Gateway {
                gateway_mac,
                vid: self.vid,
            }),
            (None, None) => Err(RedirectError::NoAttachment),
            (Some(_), Some(_)) => Err(RedirectError::AmbiguousAttachment),
        }
    }

    /// The context as hidden form fields, canonical names, only the fields that are known.
    /// `from_pairs` of this gives back an equal context.
    pub fn to_hidden_fields(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![(Field::ClientMac.name(), self.client_mac.to_string())];
        let mut push = |f: Field, v: Option<String>| {
            if let Some(v) = v {
                out.push((f.name(), v));
            }
        };
        push(Field::ClientIp, self.client_ip.map(|ip| ip.to_string()));
        push(Field::ApMac, self.ap_mac.map(|m| m.to_string()));
        push(Field::GatewayMac, self.gateway_mac.map(|m| m.to_string()));
        push(Field::Ssid, self.ssid.clone());
        push(Field::RadioId, self.radio_id.map(|r| r.to_string()));
        push(Field::Vid, self.vid.map(|v| v.to_string()));
        push(Field::Site, self.site.clone());
        push(Field::RedirectUrl, self.redirect_url.clone());
        push(Field::T, self.t.map(|t| t.to_string()));
        out
    }

    /// Where the success page may send the guest: the landing URL when it is an absolute
    /// `http`/`https` URL with a host and no credentials, serialised by the `url` crate.
    /// `None` for anything else (`javascript:`, `data:`, relative, garbage) and for the OS
    /// connectivity probes (`…/generate_204`, `…/hotspot-detect.html`): sending a guest to
    /// an empty 204 page reads as "it didn't work", the neutral "you are online" is better.
    pub fn safe_continue_url(&self) -> Option<String> {
        safe_http_url(self.redirect_url.as_deref()?).filter(|u| {
            url::Url::parse(u)
                .map(|parsed| !super::probe::is_probe_path(parsed.path()))
                .unwrap_or(false)
        })
    }
}

/// `Some(normalised)` when `raw` is an absolute `http(s)` URL with a host and no user info.
/// Shared by the page renderer, which re-checks every URL it puts into an `href`.
pub(crate) fn safe_http_url(raw: &str) -> Option<String> {
    if raw.len() > MAX_URL_LEN {
        return None;
    }
    let url = url::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    match url.host_str() {
        Some(h) if !h.is_empty() => {}
        _ => return None,
    }
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURE_5_9_9: &str = "clientMac=52-DE-63-F1-E3-3B&clientIp=192.168.100.165&t=1677047514&site=Default&redirectUrl=http%3A%2F%2Fconnectivitycheck.gstatic.com%2Fgenerate_204&apMac=B0-95-75-15-93-44&ssidName=eap225&radioId=0";

    fn mac(s: &str) -> Mac {
        s.parse().unwrap()
    }

    #[test]
    fn real_capture_from_controller_5_9_9() {
        let ctx = RedirectContext::from_query(CAPTURE_5_9_9).unwrap();
        assert_eq!(ctx.client_mac, mac("52-DE-63-F1-E3-3B"));
        assert_eq!(ctx.client_ip, Some("192.168.100.165".parse().unwrap()));
        assert_eq!(ctx.t, Some(1677047514));
        assert_eq!(ctx.site.as_deref(), Some("Default"));
        assert_eq!(
            ctx.redirect_url.as_deref(),
            Some("http://connectivitycheck.gstatic.com/generate_204")
        );
        assert_eq!(ctx.ap_mac, Some(mac("B0-95-75-15-93-44")));
        assert_eq!(ctx.gateway_mac, None);
        assert_eq!(ctx.ssid.as_deref(), Some("eap225"));
        assert_eq!(ctx.radio_id, Some(0));
        assert_eq!(
            ctx.attachment().unwrap(),
            Attachment::Ap {
                ap_mac: mac("B0-95-75-15-93-44"),
                ssid: Some("eap225"),
                radio_id: Some(0)
            }
        );
        // The landing URL is a connectivity probe: no "continue" link to an empty page.
        assert_eq!(ctx.safe_continue_url(), None);
    }

    #[test]
    fn real_capture_from_controller_4_2_8_without_client_ip() {
        let q = "clientMac=70-8A-09-65-4D-EC&t=1611814464&site=Default&redirectUrl=http%3A%2F%2Fwww.example.org%2Fnews%3Fa%3D1&apMac=B0-95-75-15-93-44&ssidName=eap225&radioId=0";
        let ctx = RedirectContext::from_query(q).unwrap();
        assert_eq!(ctx.client_mac.to_string(), "70-8A-09-65-4D-EC");
        assert_eq!(ctx.client_ip, None);
        assert_eq!(
            ctx.safe_continue_url().as_deref(),
            Some("http://www.example.org/news?a=1")
        );
    }

    #[test]
    fn documented_gateway_redirect() {
        let q = "clientMac=aa:bb:cc:dd:ee:01&clientIp=10.0.20.7&gatewayMac=AA-BB-CC-DD-EE-FF&vid=20&t=1700000000&site=Beach%20House&redirectUrl=https%3A%2F%2Fexample.com%2F";
        let ctx = RedirectContext::from_query(q).unwrap();
        assert_eq!(ctx.client_mac.to_string(), "AA-BB-CC-DD-EE-01");
        assert_eq!(ctx.site.as_deref(), Some("Beach House"));
        assert_eq!(
            ctx.attachment().unwrap(),
            Attachment::Gateway {
                gateway_mac: mac("AA-BB-CC-DD-EE-FF"),
                vid: Some(20)
            }
        );
        assert_eq!(
            ctx.safe_continue_url().as_deref(),
            Some("https://example.com/")
        );
    }

    #[test]
    fn snake_case_and_legacy_spellings() {
        let snake = "client_mac=aabbccddee02&ap_mac=aa:bb:cc:00:00:01&ssid=Guest+WiFi&radio_id=1&vlan=7&origin_url=http%3A%2F%2Fexample.net%2F";
        let ctx = RedirectContext::from_query(snake).unwrap();
        assert_eq!(ctx.client_mac.to_string(), "AA-BB-CC-DD-EE-02");
        assert_eq!(ctx.ap_mac, Some(mac("AA-BB-CC-00-00-01")));
        assert_eq!(ctx.ssid.as_deref(), Some("Guest WiFi"));
        assert_eq!(ctx.radio_id, Some(1));
        assert_eq!(ctx.vid, Some(7));
        assert_eq!(ctx.redirect_url.as_deref(), Some("http://example.net/"));

        // Controller <= 3.2.17: cid, ap, ssid, t, rid, site.
        let legacy =
            "cid=AA-BB-CC-DD-EE-03&ap=AA-BB-CC-00-00-02&ssid=eap&t=1600588644&rid=1&site=Default";
        let ctx = RedirectContext::from_query(legacy).unwrap();
        assert_eq!(ctx.client_mac.to_string(), "AA-BB-CC-DD-EE-03");
        assert_eq!(ctx.ap_mac, Some(mac("AA-BB-CC-00-00-02")));
        assert_eq!(ctx.radio_id, Some(1));
        assert_eq!(ctx.t, Some(1600588644));

        // RADIUS flavour: originUrl, empty gatewayMac/vid for a wireless client, extra keys.
        let radius = "target=192.168.0.2&targetPort=8088&clientMac=AA-BB-CC-DD-EE-04&clientIp=10.0.0.9&radiusServerIp=10.0.0.1&apMac=AA-BB-CC-00-00-03&gatewayMac=&scheme=http&ssidName=x&radioId=1&vid=&originUrl=http%3A%2F%2Fexample.org%2F";
        let ctx = RedirectContext::from_query(radius).unwrap();
        assert_eq!(ctx.gateway_mac, None);
        assert_eq!(ctx.vid, None);
        assert_eq!(ctx.redirect_url.as_deref(), Some("http://example.org/"));
        assert!(matches!(ctx.attachment(), Ok(Attachment::Ap { .. })));
    }

    #[test]
    fn ipv6_client_ip() {
        let ctx = RedirectContext::from_query(
            "clientMac=AA-BB-CC-DD-EE-05&apMac=AA-BB-CC-00-00-01&clientIp=fe80%3A%3A1",
        )
        .unwrap();
        assert_eq!(ctx.client_ip, Some("fe80::1".parse().unwrap()));
    }

    #[test]
    fn errors() {
        let ap = "&apMac=AA-BB-CC-00-00-01";
        let cases: &[(String, RedirectError)] = &[
            (
                "apMac=AA-BB-CC-00-00-01".to_string(),
                RedirectError::MissingClientMac,
            ),
            (format!("clientMac={ap}"), RedirectError::MissingClientMac),
            (
                format!("clientMac=not-a-mac{ap}"),
                RedirectError::BadMac("clientMac"),
            ),
            (
                "clientMac=AA-BB-CC-DD-EE-FF&apMac=zz".to_string(),
                RedirectError::BadMac("apMac"),
            ),
            (
                "clientMac=AA-BB-CC-DD-EE-FF&gateway_mac=1".to_string(),
                RedirectError::BadMac("gatewayMac"),
            ),
            (
                format!("clientMac=AA-BB-CC-DD-EE-FF&clientIp=300.1.1.1{ap}"),
                RedirectError::BadIp,
            ),
            (
                format!("clientMac=AA-BB-CC-DD-EE-FF&radioId=4{ap}"),
                RedirectError::BadRadioId,
            ),
            (
                format!("clientMac=AA-BB-CC-DD-EE-FF&radioId=-1{ap}"),
                RedirectError::BadRadioId,
            ),
            (
                format!("clientMac=AA-BB-CC-DD-EE-FF&vid=4095{ap}"),
                RedirectError::BadVlan,
            ),
            (
                format!("clientMac=AA-BB-CC-DD-EE-FF&vlan=x{ap}"),
                RedirectError::BadVlan,
            ),
            (
                format!("clientMac=AA-BB-CC-DD-EE-FF&t=1e9{ap}"),
                RedirectError::BadTimestamp,
            ),
            (
                format!("clientMac=AA-BB-CC-DD-EE-FF&t=-5{ap}"),
                RedirectError::BadTimestamp,
            ),
            (
                format!("clientMac=AA-BB-CC-DD-EE-FF&t=99999999999999999999{ap}"),
                RedirectError::BadTimestamp,
            ),
            (
                format!(
                    "clientMac=AA-BB-CC-DD-EE-FF&ssidName={}{ap}",
                    "s".repeat(65)
                ),
                RedirectError::TooLong("ssidName"),
            ),
            (
                format!("clientMac=AA-BB-CC-DD-EE-FF&site={}{ap}", "s".repeat(129)),
                RedirectError::TooLong("site"),
            ),
            (
                format!("clientMac=AA-BB-CC-DD-EE-FF&ssidName=a%0Ab{ap}"),
                RedirectError::ControlCharacters("ssidName"),
            ),
            (
                format!(
                    "clientMac=AA-BB-CC-DD-EE-FF&site={}{ap}",
                    "s".repeat(MAX_VALUE_LEN + 1)
                ),
                RedirectError::TooLong("site"),
            ),
            (
                "clientMac=AA-BB-CC-DD-EE-FF".to_string(),
                RedirectError::NoAttachment,
            ),
        ];
        for (q, want) in cases {
            assert_eq!(RedirectContext::from_query(q).unwrap_err(), *want, "{q}");
        }
    }

    #[test]
    fn ssid_length_counts_characters_not_bytes() {
        // 32 multi-byte characters: 96 bytes but a fine SSID.
        let ssid = "ü".repeat(32);
        let ctx = RedirectContext::from_pairs([
            ("clientMac", "AA-BB-CC-DD-EE-FF"),
            ("apMac", "AA-BB-CC-00-00-01"),
            ("ssidName", ssid.as_str()),
        ])
        .unwrap();
        assert_eq!(ctx.ssid.as_deref(), Some(ssid.as_str()));
    }

    #[test]
    fn duplicates_agreeing_are_fine_conflicting_are_refused() {
        let same = "clientMac=AA-BB-CC-DD-EE-FF&client_mac=aa:bb:cc:dd:ee:ff&apMac=AA-BB-CC-00-00-01&apMac=AA-BB-CC-00-00-01";
        assert_eq!(
            RedirectContext::from_query(same).unwrap().client_mac,
            mac("AA-BB-CC-DD-EE-FF")
        );
        let conflict = "clientMac=AA-BB-CC-DD-EE-FF&cid=AA-BB-CC-DD-EE-00&apMac=AA-BB-CC-00-00-01";
        assert_eq!(
            RedirectContext::from_query(conflict).unwrap_err(),
            RedirectError::Conflict("clientMac")
        );
        let conflict = "clientMac=AA-BB-CC-DD-EE-FF&apMac=AA-BB-CC-00-00-01&redirectUrl=http%3A%2F%2Fa%2F&originUrl=http%3A%2F%2Fb%2F";
        assert_eq!(
            RedirectContext::from_query(conflict).unwrap_err(),
            RedirectError::Conflict("redirectUrl")
        );
        // An empty copy neither conflicts nor overrides.
        let empty = "clientMac=AA-BB-CC-DD-EE-FF&clientMac=&apMac=AA-BB-CC-00-00-01";
        assert_eq!(
            RedirectContext::from_query(empty).unwrap().client_mac,
            mac("AA-BB-CC-DD-EE-FF")
        );
    }

    #[test]
    fn overlong_landing_url_is_dropped_not_fatal() {
        // Over the kept length, and over the length any other value may have: both dropped.
        for n in [MAX_URL_LEN, MAX_VALUE_LEN + 1, 64 * 1024] {
            let long = format!("http://example.com/{}", "a".repeat(n));
            let ctx = RedirectContext::from_pairs([
                ("clientMac", "AA-BB-CC-DD-EE-FF"),
                ("apMac", "AA-BB-CC-00-00-01"),
                ("redirectUrl", long.as_str()),
            ])
            .unwrap();
            assert_eq!(ctx.redirect_url, None);
            assert_eq!(ctx.safe_continue_url(), None);
        }
    }

    #[test]
    fn as_lenient_as_the_controllers_own_portal() {
        // Both MACs (the RADIUS-flavour doc sends both keys; Omada's portal JS picks the AP).
        let both = "clientMac=AA-BB-CC-DD-EE-FF&apMac=AA-BB-CC-00-00-01&gatewayMac=AA-BB-CC-00-00-02&ssidName=Guest&radioId=1&vid=7";
        let ctx = RedirectContext::from_query(both).unwrap();
        assert_eq!(ctx.gateway_mac, None);
        assert_eq!(
            ctx.attachment().unwrap(),
            Attachment::Ap {
                ap_mac: mac("AA-BB-CC-00-00-01"),
                ssid: Some("Guest"),
                radio_id: Some(1)
            }
        );
        assert_eq!(
            RedirectContext::from_pairs(ctx.to_hidden_fields()).unwrap(),
            ctx
        );
        // vid=0 and an empty vid: no VLAN, on both paths.
        for q in [
            "clientMac=AA-BB-CC-DD-EE-FF&gatewayMac=AA-BB-CC-00-00-02&vid=0",
            "clientMac=AA-BB-CC-DD-EE-FF&gatewayMac=AA-BB-CC-00-00-02&vid=",
            "clientMac=AA-BB-CC-DD-EE-FF&gatewayMac=AA-BB-CC-00-00-02&vid=000",
            "clientMac=AA-BB-CC-DD-EE-FF&apMac=AA-BB-CC-00-00-01&vid=0",
        ] {
            let ctx = RedirectContext::from_query(q).unwrap();
            assert_eq!(ctx.vid, None, "{q}");
        }
        // The RADIUS-flavour doc example's capital-IP spelling.
        let ctx = RedirectContext::from_query(
            "clientMac=AA-BB-CC-DD-EE-FF&clientIP=10.0.0.9&apMac=AA-BB-CC-00-00-01",
        )
        .unwrap();
        assert_eq!(ctx.client_ip, Some("10.0.0.9".parse().unwrap()));
        // A hand-made context with both is still refused by `attachment`.
        let hand = RedirectContext {
            gateway_mac: Some(mac("AA-BB-CC-00-00-02")),
            ..ctx
        };
        assert_eq!(
            hand.attachment().unwrap_err(),
            RedirectError::AmbiguousAttachment
        );
    }

    #[test]
    fn hidden_fields_round_trip() {
        let full = RedirectContext {
            client_mac: mac("AA-BB-CC-DD-EE-FF"),
            client_ip: Some("192.168.1.20".parse().unwrap()),
            ap_mac: Some(mac("AA-BB-CC-00-00-01")),
            gateway_mac: None,
            ssid: Some("Guest & <Friends>".into()),
            radio_id: Some(3),
            vid: Some(4094),
            site: Some("Default".into()),
            redirect_url: Some("https://example.com/a?b=c&d=e".into()),
            t: Some(1757548800000),
        };
        let fields = full.to_hidden_fields();
        let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "clientMac",
                "clientIp",
                "apMac",
                "ssidName",
                "radioId",
                "vid",
                "site",
                "redirectUrl",
                "t"
            ]
        );
        assert_eq!(RedirectContext::from_pairs(fields.clone()).unwrap(), full);
        // Through real form encoding too, as the browser would post it.
        let body = serde_urlencoded::to_string(&fields).unwrap();
        assert_eq!(
            RedirectContext::from_query(&format!("code=ABC&csrf=x&{body}")).unwrap(),
            full
        );

        let minimal =
            RedirectContext::from_query("cid=AA-BB-CC-DD-EE-FF&gatewayMac=AA-BB-CC-00-00-09")
                .unwrap();
        let fields = minimal.to_hidden_fields();
        assert_eq!(
            fields,
            vec![
                ("clientMac", "AA-BB-CC-DD-EE-FF".to_string()),
                ("gatewayMac", "AA-BB-CC-00-00-09".to_string())
            ]
        );
        assert_eq!(RedirectContext::from_pairs(fields).unwrap(), minimal);
    }

    fn with_url(u: &str) -> RedirectContext {
        RedirectContext::from_pairs([
            ("clientMac", "AA-BB-CC-DD-EE-FF"),
            ("apMac", "AA-BB-CC-00-00-01"),
            ("redirectUrl", u),
        ])
        .unwrap()
    }

    #[test]
    fn continue_url_only_absolute_http() {
        for ok in [
            "http://example.com/",
            "https://example.com/path?q=1#frag",
            "HTTPS://Example.COM",
        ] {
            assert!(with_url(ok).safe_continue_url().is_some(), "{ok}");
        }
        assert_eq!(
            with_url("HTTPS://Example.COM")
                .safe_continue_url()
                .as_deref(),
            Some("https://example.com/")
        );
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "/relative/path",
            "//evil.example/",
            "example.com",
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://user:pass@example.com/",
            "http://",
            "not a url",
            "http://captive.apple.com/hotspot-detect.html",
            "http://www.msftconnecttest.com/connecttest.txt",
        ] {
            assert_eq!(with_url(bad).safe_continue_url(), None, "{bad}");
        }
    }
}
