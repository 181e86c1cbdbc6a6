//! The Captive Portal API (RFC 8908): the JSON a phone fetches to learn whether it is captive,
//! where to log in and how long its access lasts, so the OS can show it natively.
//!
//! The phone learns the API's URL from DHCP option 114 / DHCPv6 option 103 / RA option 37
//! (RFC 8910); see `docs/captive-portal-api.md` for what the host sets up. This module is the
//! pure part: the media type and the document for one device. The route (wave 2) identifies
//! the asking device as DESIGN §10 says and answers with [`MEDIA_TYPE`] and
//! [`CACHE_CONTROL`].
//!
//! RFC 8908 §5: `captive` is required; `user-portal-url` MUST be reached over TLS (so only an
//! `https` URL is accepted here); `venue-info-url` SHOULD be; `seconds-remaining` SHOULD be
//! sent when the device is not captive and its session is time-limited, and SHOULD NOT be
//! sent to a captive device; `can-extend-session` is always `false` here (a guest cannot
//! extend their stay on the portal). Clients ignore keys they do not know.

use serde::Serialize;
use time::OffsetDateTime;

/// The media type of the API's answers (RFC 8908 §5, registered by IANA).
pub const MEDIA_TYPE: &str = "application/captive+json";
/// The answer is about one device: no shared cache may keep it (RFC 8908's examples send
/// `private`; `no-store` because it changes as time passes).
pub const CACHE_CONTROL: &str = "private, no-store";

/// Why a document cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptiveApiError {
    #[error("the {field} must be an absolute https:// URL (RFC 8908 requires TLS), not \"{url}\"")]
    NotHttps { field: &'static str, url: String },
}

/// The state of one device, as the portal knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Not let in (or its grant ended): must visit the portal.
    Captive,
    /// Let in until `expires_at`.
    Online { expires_at: OffsetDateTime },
}

/// The RFC 8908 document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptiveStatus {
    pub captive: bool,
    #[serde(rename = "user-portal-url")]
    pub user_portal_url: String,
    #[serde(rename = "venue-info-url", skip_serializing_if = "Option::is_none")]
    pub venue_info_url: Option<String>,
    #[serde(rename = "seconds-remaining", skip_serializing_if = "Option::is_none")]
    pub seconds_remaining: Option<u64>,
    #[serde(rename = "can-extend-session")]
    pub can_extend_session: bool,
}

impl CaptiveStatus {
    /// The document for a device in `state` at `now`: `portal_url` is the login page,
    /// `venue_url` the status/welcome page (both `https`). A grant that has run out reads as
    /// captive.
    pub fn new(
        state: DeviceState,
        now: OffsetDateTime,
        portal_url: &str,
        venue_url: Option<&str>,
    ) -> Result<CaptiveStatus, CaptiveApiError> {
        let user_portal_url = https("user-portal-url", portal_url)?;
        let venue_info_url = venue_url.map(|u| https("venue-info-url", u)).transpose()?;
        let remaining = match state {
            DeviceState::Online { expires_at } if expires_at > now => {
                Some((expires_at - now).whole_seconds().max(0) as u64)
            }
            _ => None,
        };
        Ok(CaptiveStatus {
            captive: remaining.is_none(),
            user_portal_url,
            venue_info_url,
            seconds_remaining: remaining,
            can_extend_session: false,
        })
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain fields serialise")
    }
}

fn https(field: &'static str, raw: &str) -> Result<String, CaptiveApiError> {
    let err = || CaptiveApiError::NotHttps {
        field,
        url: raw.chars().take(200).collect(),
    };
    let url = url::Url::parse(raw.trim()).map_err(|_| err())?;
    let ok = url.scheme() == "https"
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none();
    if ok {
        Ok(url.to_string())
    } else {
        Err(err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-06-01 12:00 UTC);
    const PORTAL: &str = "https://wifi.example.net/portal";
    const VENUE: &str = "https://wifi.example.net/portal/status";

    fn doc(state: DeviceState) -> Value {
        let s = CaptiveStatus::new(state, NOW, PORTAL, Some(VENUE)).unwrap();
        serde_json::from_str(&s.to_json()).unwrap()
    }

    #[test]
    fn captive_device() {
        assert_eq!(
            doc(DeviceState::Captive),
            json!({
                "captive": true,
                "user-portal-url": PORTAL,
                "venue-info-url": VENUE,
                "can-extend-session": false
            })
        );
        assert_eq!(MEDIA_TYPE, "application/captive+json");
    }

    #[test]
    fn online_device_gets_its_seconds() {
        let v = doc(DeviceState::Online {
            expires_at: datetime!(2025-06-02 11:00 UTC),
        });
        assert_eq!(
            v,
            json!({
                "captive": false,
                "user-portal-url": PORTAL,
                "venue-info-url": VENUE,
                "seconds-remaining": 23 * 3600,
                "can-extend-session": false
            })
        );
        // Ended a moment ago: captive again, no seconds.
        let v = doc(DeviceState::Online {
            expires_at: datetime!(2025-06-01 11:59:59 UTC),
        });
        assert_eq!(v["captive"], true);
        assert!(v.get("seconds-remaining").is_none());
        // Exactly now: over.
        assert_eq!(
            doc(DeviceState::Online { expires_at: NOW })["captive"],
            true
        );
        // No venue page: the key is left out, not null.
        let s = CaptiveStatus::new(DeviceState::Captive, NOW, PORTAL, None).unwrap();
        assert!(!s.to_json().contains("venue-info-url"), "{}", s.to_json());
    }

    #[test]
    fn urls_must_be_https() {
        for bad in [
            "http://wifi.example.net/portal",
            "/portal",
            "https://",
            "https://user:pw@wifi.example.net/",
            "javascript:alert(1)",
            "",
        ] {
            assert!(
                matches!(
                    CaptiveStatus::new(DeviceState::Captive, NOW, bad, None),
                    Err(CaptiveApiError::NotHttps {
                        field: "user-portal-url",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        let e = CaptiveStatus::new(DeviceState::Captive, NOW, PORTAL, Some("http://x.example/"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the venue-info-url must be an absolute https:// URL (RFC 8908 requires TLS), not \"http://x.example/\""
        );
    }
}
