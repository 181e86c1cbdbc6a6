//! Answers for operating systems' captive-network probes.
//!
//! Phones and laptops test a fresh network by fetching a known URL and comparing the answer
//! with what the real server sends (Android/ChromeOS `/generate_204` → 204, Apple
//! `/hotspot-detect.html` → a "Success" page, Windows `/connecttest.txt` / `/ncsi.txt` → fixed
//! text, Firefox `/success.txt` / `/canonical.html`). Anything else means "captive", and the
//! OS opens its captive-portal sheet on whatever page the probe ended up at.
//!
//! Normally these probes never reach us: the EAP intercepts them and the controller
//! redirects to `/portal?clientMac=…`. They reach the portal listener when DNS for the probe
//! hosts points at the sidecar (walled-garden or lab set-ups, the demo), or when a device
//! asks the portal host itself. In every such case the answer is a **302 to `/portal`**:
//!
//! * Answering "online" (204 / `Success`) would be a lie for a guest who is not authorized
//!   yet: the OS would close the sheet and the guest would sit on a network with no internet
//!   and no login page. The portal cannot tell from a probe whether the device is
//!   authorized (that lives in the controller, and after authorization the probes go to the
//!   real internet anyway).
//! * A redirect is what every OS treats as "captive, show the sheet", and it lands the guest
//!   on the login page. The probe's own query string is passed on, so a probe URL that
//!   carries the controller's redirect parameters still ends on a working login page;
//!   without them the portal shows its "reconnect to the Wi-Fi" help.
//! * `Cache-Control: no-store` keeps a captive answer from being remembered after login.
//!
//! The match is on the path only (any host, ASCII case-insensitive), because the Host a
//! hijacked probe carries is the probe host, not ours. `Location` is absolute
//! (`http://<host>/portal`) when the request's Host is a plain host[:port] (some older
//! captive-network assistants mishandle relative redirects) and relative otherwise.

/// Probe paths, lower-case.
pub const PROBE_PATHS: &[&str] = &[
    "/generate_204", // Android, ChromeOS (connectivitycheck.gstatic.com, clients3.google.com)
    "/gen_204",      // Android variants, Google apps
    "/hotspot-detect.html", // Apple (captive.apple.com)
    "/library/test/success.html", // Apple, older iOS / macOS
    "/ncsi.txt",     // Windows 7/8 (www.msftncsi.com)
    "/connecttest.txt", // Windows 10/11 (www.msftconnecttest.com)
    "/redirect",     // Windows: the page it opens when captive
    "/success.txt",  // Firefox (detectportal.firefox.com)
    "/canonical.html", // Firefox
    "/kindle-wifi/wifistub.html", // Amazon Kindle
    "/check_network_status.txt", // Samsung / Tizen
];

/// Where the portal lives on its listener.
pub const PORTAL_PATH: &str = "/portal";

/// What to send back for a probe: `status` with `Location: location`,
/// `Cache-Control: no-store`, and [`ProbeAnswer::body`] as a tiny HTML fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAnswer {
    pub status: u16,
    pub location: String,
}

impl ProbeAnswer {
    pub const CACHE_CONTROL: &'static str = "no-store";
    pub const CONTENT_TYPE: &'static str = "text/html; charset=utf-8";

    /// A minimal page with a link, for clients that show a 302's body.
    pub fn body(&self) -> String {
        maud::html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { "Wi-Fi login" } }
                body { p { a href=(self.location) { "Continue to the Wi-Fi login" } } }
            }
        }
        .into_string()
    }
}

/// Whether `path` (no query) is one of the OS probe paths.
pub fn is_probe_path(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    PROBE_PATHS.iter().any(|p| p.eq_ignore_ascii_case(trimmed))
}

/// The answer for a request to `path_and_query` with `Host: host`, when it is a probe.
pub fn probe_answer(path_and_query: &str, host: Option<&str>) -> Option<ProbeAnswer> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    if !is_probe_path(path) {
        return None;
    }
    let mut location = match host.filter(|h| is_plain_host(h)) {
        Some(h) => format!("http://{}{PORTAL_PATH}", h.to_ascii_lowercase()),
        None => PORTAL_PATH.to_owned(),
    };
    if let Some(q) = query.filter(|q| is_safe_query(q)) {
        location.push('?');
        location.push_str(q);
    }
    Some(ProbeAnswer {
        status: 302,
        location,
    })
}

/// `name`, `name:port`, `1.2.3.4:80`, `[v6]:port`: nothing that could change the URL's meaning.
fn is_plain_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        && url::Url::parse(&format!("http://{h}/"))
            .is_ok_and(|u| u.path() == "/" && u.query().is_none())
}

/// Visible ASCII without `#`, bounded: safe to copy into a `Location` header verbatim.
fn is_safe_query(q: &str) -> bool {
    !q.is_empty() && q.len() <= 4096 && q.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_probe_path_redirects_to_the_portal() {
        for p in PROBE_PATHS {
            let a = probe_answer(p, None).unwrap_or_else(|| panic!("{p}"));
            assert_eq!(
                a,
                ProbeAnswer {
                    status: 302,
                    location: "/portal".into()
                },
                "{p}"
            );
        }
        for p in [
            "/GENERATE_204",
            "/Hotspot-Detect.html",
            "/generate_204/",
            "/connecttest.txt?x",
        ] {
            assert!(probe_answer(p, None).is_some(), "{p}");
        }
    }

    #[test]
    fn other_paths_are_not_probes() {
        for p in [
            "/",
            "/portal",
            "/generate_2040",
            "/x/generate_204",
            "/redirects",
            "/success.txt.bak",
            "",
            "/favicon.ico",
        ] {
            assert_eq!(probe_answer(p, Some("example.com")), None, "{p}");
            assert!(!is_probe_path(p), "{p}");
        }
    }

    #[test]
    fn absolute_location_from_a_plain_host() {
        let a = probe_answer("/generate_204", Some("Portal.Local:8088")).unwrap();
        assert_eq!(a.location, "http://portal.local:8088/portal");
        let a = probe_answer("/hotspot-detect.html", Some("192.168.0.5")).unwrap();
        assert_eq!(a.location, "http://192.168.0.5/portal");
        let a = probe_answer("/ncsi.txt", Some("[fd00::1]:8088")).unwrap();
        assert_eq!(a.location, "http://[fd00::1]:8088/portal");
        for bad in [
            "evil.com/path",
            "a b",
            "x\r\nSet-Cookie: y",
            "user@host",
            "",
            "host?q",
            "h#f",
        ] {
            assert_eq!(
                probe_answer("/generate_204", Some(bad)).unwrap().location,
                "/portal",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn query_is_passed_on_when_safe() {
        let a = probe_answer(
            "/generate_204?clientMac=AA-BB-CC-DD-EE-FF&apMac=AA-BB-CC-00-00-01",
            None,
        )
        .unwrap();
        assert_eq!(
            a.location,
            "/portal?clientMac=AA-BB-CC-DD-EE-FF&apMac=AA-BB-CC-00-00-01"
        );
        assert_eq!(
            probe_answer("/generate_204?", None).unwrap().location,
            "/portal"
        );
        assert_eq!(
            probe_answer("/generate_204?a=b\r\nX: y", None)
                .unwrap()
                .location,
            "/portal"
        );
        assert_eq!(
            probe_answer("/generate_204?a=ü", None).unwrap().location,
            "/portal"
        );
    }

    #[test]
    fn body_links_to_the_location_escaped() {
        let a = ProbeAnswer {
            status: 302,
            location: "/portal?a=\"><script>".into(),
        };
        let body = a.body();
        assert!(
            body.contains("href=\"/portal?a=&quot;&gt;&lt;script&gt;\""),
            "{body}"
        );
        assert!(!body.contains("<script>"));
    }
}
