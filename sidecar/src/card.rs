//! Printable voucher cards (`GET /api/v1/vouchers/{code}/card.svg` and `…/card.png`).
//!
//! The QR code lets a phone join the guest Wi-Fi: `WIFI:T:nopass;S:<ssid>;;` for the unit's
//! first SSID (an open guest network; the captive portal asks for the code), or just the code
//! when the unit names no SSID. The code itself is printed beside it.
//!
//! * SVG: the whole card — unit name, SSID, QR code, code and validity — as one
//!   self-contained document (no fonts or images fetched; text is XML-escaped).
//! * PNG: a raster for printers and chat apps that do not take SVG: the QR code with its
//!   quiet zone and the code underneath, drawn with a built-in 5×7 pixel font (codes are
//!   `A-Z0-9` only). The unit name and validity are left out: free text needs real fonts.

use qrcode::{Color, EcLevel, QrCode};
use time::OffsetDateTime;

use crate::vouchers::model::{Unit, Voucher};

/// Escape a value for the `WIFI:` URI scheme: `\ ; , : "` get a backslash.
pub fn wifi_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ';' | ',' | ':' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What the card's QR code encodes.
pub fn qr_payload(unit: &Unit, voucher: &Voucher) -> String {
    match unit.ssids.first() {
        Some(ssid) => format!("WIFI:T:nopass;S:{};;", wifi_escape(ssid)),
        None => voucher.code.clone(),
    }
}

fn qr(payload: &str) -> QrCode {
    // Medium error correction survives a smudged print; payloads here are short.
    QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .or_else(|_| QrCode::new(payload.as_bytes()))
        .expect("a Wi-Fi payload of at most ~100 bytes always fits a QR code")
}

/// Escape text for XML content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all; units and SSIDs refuse them anyway.
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn span(minutes: u32) -> String {
    match minutes {
        m if m % 1440 == 0 => format!("{} day{}", m / 1440, if m == 1440 { "" } else { "s" }),
        m if m % 60 == 0 => format!("{} hour{}", m / 60, if m == 60 { "" } else { "s" }),
        m => format!("{m} minute{}", if m == 1 { "" } else { "s" }),
    }
}

/// The validity lines printed on the card.
pub fn validity_lines(v: &Voucher) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(until) = v.valid_until {
        lines.push(format!("Valid from {}", when(v.valid_from)));
        lines.push(format!("until {}", when(until)));
    }
    if let Some(d) = v.duration_minutes {
        lines.push(format!("{} from first use", span(d)));
    }
    lines
}

const QUIET: usize = 4;

/// Room for one line of text on the SVG card, in px.
const LINE_PX: f64 = 320.0;

/// Font size (px) for `chars` characters of about `em` ems each (plus `spacing` px) to fit
/// [`LINE_PX`], at most `max`, at least 10; below that the line is squeezed with `textLength`.
fn fit(chars: usize, max: f64, em: f64, spacing: f64) -> String {
    let n = chars.max(1) as f64;
    let size = ((LINE_PX / n - spacing) / em).clamp(10.0, max);
    let mut attrs = format!(r#"font-size="{size:.1}""#);
    if n * (size * em + spacing) > LINE_PX {
        attrs.push_str(&format!(
            r#" textLength="{LINE_PX}" lengthAdjust="spacingAndGlyphs""#
        ));
    }
    attrs
}

/// The SVG card.
pub fn svg(unit: &Unit, voucher: &Voucher) -> String {
    let code = qr(&qr_payload(unit, voucher));
    let n = code.width();
    let colors = code.to_colors();
    let mut d = String::new();
    for y in 0..n {
        for x in 0..n {
            if colors[y * n + x] == Color::Dark {
                d.push_str(&format!("M{} {}h1v1h-1z", x + QUIET, y + QUIET));
            }
        }
    }
    let side = n + 2 * QUIET;
    let (w, qr_px, qr_y) = (360, 240, 96);
    let qr_x = (w - qr_px) / 2;
    let mut y = qr_y + qr_px + 36;
    let mut text = String::new();
    text.push_str(&format!(
        r#"<text x="{cx}" y="{y}" class="label">Wi-Fi code</text>"#,
        cx = w / 2
    ));
    y += 36;
    text.push_str(&format!(
        r#"<text x="{cx}" y="{y}" class="code" {size}>{code}</text>"#,
        cx = w / 2,
        size = fit(voucher.code.len(), 30.0, 0.62, 2.0),
        code = xml_escape(&voucher.code)
    ));
    y += 12;
    for line in validity_lines(voucher) {
        y += 22;
        text.push_str(&format!(
            r#"<text x="{cx}" y="{y}" class="small">{}</text>"#,
            xml_escape(&line),
            cx = w / 2
        ));
    }
    let h = y + 28;
    let ssid_line = match unit.ssids.first() {
        Some(s) => format!("Wi-Fi: {s}"),
        None => "Wi-Fi guest network".to_owned(),
    };
    let ssid_chars = ssid_line.chars().count();
    let ssid_line = xml_escape(&ssid_line);
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="Wi-Fi voucher {code_attr}">
<title>Wi-Fi voucher – {name}</title>
<style>text{{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;fill:#111;text-anchor:middle}}.unit{{font-weight:700}}.label{{font-size:13px;fill:#444;letter-spacing:1px;text-transform:uppercase}}.code{{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-weight:700;letter-spacing:2px}}.small{{font-size:14px;fill:#333}}</style>
<rect x="1" y="1" width="{rw}" height="{rh}" rx="14" fill="#fff" stroke="#999" stroke-width="2"/>
<text x="{cx}" y="42" class="unit" {name_size}>{name}</text>
<text x="{cx}" y="72" class="ssid" {ssid_size}>{ssid_line}</text>
<svg x="{qr_x}" y="{qr_y}" width="{qr_px}" height="{qr_px}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d="{d}"/></svg>
{text}
</svg>
"##,
        rw = w - 2,
        rh = h - 2,
        cx = w / 2,
        name = xml_escape(&unit.name),
        name_size = fit(unit.name.chars().count(), 22.0, 0.62, 0.0),
        ssid_size = fit(ssid_chars, 16.0, 0.56, 0.0),
        code_attr = xml_escape(&voucher.code),
    )
}

/// 5×7 glyphs for `0-9A-Z`, one byte per row, bit 4 = leftmost pixel.
const FONT: [[u8; 7]; 36] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], // 0
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E], // 1
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], // 2
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E], // 3
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], // 4
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E], // 5
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], // 6
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08], // 7
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], // 8
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C], // 9
    [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11], // A
    [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E], // B
    [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], // C
    [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C], // D
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], // E
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10], // F
    [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], // G
    [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], // H
    [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], // I
    [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C], // J
    [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], // K
    [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F], // L
    [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], // M
    [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11], // N
    [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], // O
    [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10], // P
    [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], // Q
    [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11], // R
    [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], // S
    [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04], // T
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], // U
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04], // V
    [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], // W
    [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11], // X
    [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], // Y
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F], // Z
];

fn glyph(c: char) -> Option<&'static [u8; 7]> {
    match c {
        '0'..='9' => Some(&FONT[c as usize - '0' as usize]),
        'A'..='Z' => Some(&FONT[10 + c as usize - 'A' as usize]),
        _ => None,
    }
}

/// Pixels per QR module and per font pixel in the PNG.
const MODULE_PX: usize = 8;
const FONT_PX: usize = 4;

/// The PNG card: 8-bit greyscale, QR code (quiet zone included) with the code underneath.
pub fn png(unit: &Unit, voucher: &Voucher) -> Vec<u8> {
    let code = qr(&qr_payload(unit, voucher));
    let n = code.width();
    let colors = code.to_colors();
    let qr_side = (n + 2 * QUIET) * MODULE_PX;
    let chars: Vec<&[u8; 7]> = voucher.code.chars().filter_map(glyph).collect();
    let advance = 6 * FONT_PX;
    let text_w = (chars.len() * advance).saturating_sub(FONT_PX);
    let margin = QUIET * MODULE_PX;
    let w = qr_side.max(text_w + 2 * margin);
    let h = qr_side + 7 * FONT_PX + margin;
    let mut px = vec![255u8; w * h];
    let qr_x = (w - qr_side) / 2;
    for y in 0..n {
        for x in 0..n {
            if colors[y * n + x] == Color::Dark {
                let (x0, y0) = (qr_x + (x + QUIET) * MODULE_PX, (y + QUIET) * MODULE_PX);
                for row in px[y0 * w..].chunks_mut(w).take(MODULE_PX) {
                    row[x0..x0 + MODULE_PX].fill(0);
                }
            }
        }
    }
    let text_x = (w - text_w) / 2;
    let text_y = qr_side;
    for (i, g) in chars.iter().enumerate() {
        for (gy, bits) in g.iter().enumerate() {
            for gx in 0..5 {
                if bits & (0x10 >> gx) != 0 {
                    let (x0, y0) = (text_x + i * advance + gx * FONT_PX, text_y + gy * FONT_PX);
                    for row in px[y0 * w..].chunks_mut(w).take(FONT_PX) {
                        row[x0..x0 + FONT_PX].fill(0);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().expect("PNG header to memory");
        writer
            .write_image_data(&px)
            .expect("PNG data to memory matches its header");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wifi_escaping() {
        assert_eq!(wifi_escape("Beach House Guest"), "Beach House Guest");
        assert_eq!(wifi_escape(r#"a;b,c:d"e\f"#), r#"a\;b\,c\:d\"e\\f"#);
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml_escape(r#"Tom & Jerry's <"Loft">"#),
            "Tom &amp; Jerry&apos;s &lt;&quot;Loft&quot;&gt;"
        );
    }

    #[test]
    fn spans() {
        assert_eq!(span(120), "2 hours");
        assert_eq!(span(1440), "1 day");
        assert_eq!(span(90), "90 minutes");
    }
}
