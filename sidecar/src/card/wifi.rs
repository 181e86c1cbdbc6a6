//! The Wi-Fi QR payload of a password-mode unit (issue 18 item 3):
//! `WIFI:T:WPA;S:<ssid>;P:<password>;;`, which a phone's camera turns into "Join network?".
//!
//! The format is ZXing's (`WifiResultParser`: `WIFI:T:[network type];S:[network SSID];P:[network
//! password];H:[hidden?];;`, and the ZXing wiki *Barcode Contents*: "Special characters `\`,
//! `;`, `,` and `:` should be escaped with a backslash", its example escaping `"` as well), the
//! one Android and iOS camera apps read. `T:WPA` covers WPA2-Personal, which is what Omada's
//! "PPSK without RADIUS" is (PPSK is not offered on 6 GHz / WPA3, TP-Link KB 620762).
//!
//! The Wi-Fi Alliance later wrote the same URI into the WPA3 specification (v3.0+, §7 "WIFI
//! URI"), where a value is `*(printable / pct-encoded)` with `printable` excluding `;`, i.e. a
//! `;` is percent-encoded there, not backslash-escaped. The two readings differ only for
//! values containing `; , : " \` or `%`: the passwords the sidecar makes never contain any of
//! these ([`crate::passphrase`]), so a password payload reads the same both ways; an SSID with
//! such a character is escaped the ZXing way, which is what phones in the field decode.

use crate::passphrase::WifiPassword;

use super::wifi_escape;

/// `WIFI:T:WPA;S:<ssid>;P:<password>;;` with `\ ; , : "` backslash-escaped in both values.
pub fn wpa_payload(ssid: &str, password: &WifiPassword) -> String {
    format!(
        "WIFI:T:WPA;S:{};P:{};;",
        wifi_escape(ssid),
        wifi_escape(password.expose())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use qrcode::Color;

    /// Read a `WIFI:` payload back the way ZXing does: fields `K:value;` in any order, a
    /// backslash takes the next character literally.
    fn parse(payload: &str) -> (Option<String>, Option<String>, Option<String>) {
        let body = payload.strip_prefix("WIFI:").expect("WIFI: prefix");
        let (mut t, mut s, mut p) = (None, None, None);
        let mut chars = body.chars().peekable();
        loop {
            let mut key = String::new();
            while let Some(&c) = chars.peek() {
                if c == ':' {
                    break;
                }
                key.push(c);
                chars.next();
            }
            if chars.next().is_none() {
                break;
            }
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.push(chars.next().expect("dangling backslash")),
                    ';' => break,
                    c => value.push(c),
                }
            }
            match key.as_str() {
                "T" => t = Some(value),
                "S" => s = Some(value),
                "P" => p = Some(value),
                _ => {}
            }
            if chars.peek() == Some(&';') {
                break;
            }
        }
        (t, s, p)
    }

    /// Draw the payload as a QR code (4 px modules, 4-module quiet zone) and decode the image
    /// with `rqrr`, as a phone's camera would.
    fn through_a_qr_code(payload: &str) -> String {
        let code = crate::card::qr(payload);
        let n = code.width();
        let colors = code.to_colors();
        let (scale, quiet) = (4, 4);
        let side = (n + 2 * quiet) * scale;
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
            let (mx, my) = (x / scale, y / scale);
            let inside = (quiet..quiet + n).contains(&mx) && (quiet..quiet + n).contains(&my);
            if inside && colors[(my - quiet) * n + (mx - quiet)] == Color::Dark {
                0
            } else {
                255
            }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the picture");
        grids[0].decode().expect("the QR code decodes").1
    }

    #[test]
    fn a_password_payload_has_the_documented_shape() {
        let pw = WifiPassword::new("lunar-cider-plank-agent-ivory-crisp").unwrap();
        assert_eq!(
            wpa_payload("Beach House", &pw),
            "WIFI:T:WPA;S:Beach House;P:lunar-cider-plank-agent-ivory-crisp;;"
        );
    }

    #[test]
    fn special_characters_are_escaped_and_survive_a_qr_code() {
        for (ssid, password) in [
            ("Loft;2", r#"a;b,c:d"e\f"#),
            (r#"Tom's "Guest""#, "pass:word,1"),
            (r"back\slash", r"\;,:\;,:"),
            ("Café Wi-Fi", "plain-words-only"),
        ] {
            let pw = WifiPassword::new(password).unwrap();
            let payload = wpa_payload(ssid, &pw);
            let decoded = through_a_qr_code(&payload);
            assert_eq!(decoded, payload);
            let (t, s, p) = parse(&decoded);
            assert_eq!(t.as_deref(), Some("WPA"));
            assert_eq!(s.as_deref(), Some(ssid), "{payload}");
            assert_eq!(p.as_deref(), Some(pw.expose()), "{payload}");
        }
        assert_eq!(
            wpa_payload("a;b", &WifiPassword::new(r#"x"y\z,w:v;u"#).unwrap()),
            r#"WIFI:T:WPA;S:a\;b;P:x\"y\\z\,w\:v\;u;;"#
        );
    }

    #[test]
    fn generated_passwords_round_trip_through_the_qr_code() {
        for _ in 0..20 {
            let pw = WifiPassword::generate();
            let payload = wpa_payload("Guest", &pw);
            // Nothing in a generated password needs escaping, under either reading.
            assert!(!pw.expose().contains(['\\', ';', ',', ':', '"', '%']));
            let (_, s, p) = parse(&through_a_qr_code(&payload));
            assert_eq!(s.as_deref(), Some("Guest"));
            assert_eq!(p.as_deref(), Some(pw.expose()));
        }
    }
}
