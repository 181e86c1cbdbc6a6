//! Printable voucher cards (`GET /api/v1/vouchers/{code}/card.svg` and `…/card.png`) and
//! print sheets of many cards ([`sheet`], PDF in A4 or Letter).
//!
//! The QR code lets a phone join the guest Wi-Fi: `WIFI:T:nopass;S:<ssid>;;` for the unit's
//! first SSID (an open guest network; the captive portal asks for the code), or just the code
//! when the unit names no SSID. The code itself is printed beside it. A password-mode unit's
//! card (issue 18) carries its Wi-Fi password instead: the QR code is
//! `WIFI:T:WPA;S:<ssid>;P:<password>;;` ([`wifi::wpa_payload`]) and the password is printed
//! where the code would be.
//!
//! Every card carries the same things in every format, all taken from one [`CardInput`]
//! through one [`CardText`]: the unit's name, the Wi-Fi name, the QR code, the code and the
//! validity.
//!
//! * SVG: one self-contained document (no fonts or images fetched; text is XML-escaped),
//!   drawn by the viewer's fonts.
//! * PNG: the same layout, rasterised with an embedded subset of DejaVu Sans ([`font`]), for
//!   printers and chat apps that do not take SVG.
//! * PDF sheet ([`sheet`]): many cards per page with cut lines, the same font embedded.
//!
//! Times are printed in the offset they carry: pass them converted to the property's time
//! zone ([`crate::tz`]); a UTC time is marked "UTC".

pub mod font;
pub mod sheet;
pub mod wifi;

use qrcode::{Color, EcLevel, QrCode};
use time::OffsetDateTime;

use crate::passphrase::WifiPassword;
use crate::vouchers::model::{Unit, Voucher};
use font::{Canvas, Face, Style};

/// What a card shows; built from a unit and a voucher ([`CardInput::new`]) or by a caller that
/// has these values from elsewhere (a booking's future voucher, a print sheet).
#[derive(Debug, Clone, PartialEq)]
pub struct CardInput {
    pub unit_name: String,
    /// The guest network's name; `None` when the unit names no SSID.
    pub ssid: Option<String>,
    pub code: String,
    pub valid_from: OffsetDateTime,
    pub valid_until: Option<OffsetDateTime>,
    pub duration_minutes: Option<u32>,
    /// A password-mode voucher's Wi-Fi password: printed, and in the QR code.
    pub wifi_password: Option<WifiPassword>,
}

impl CardInput {
    /// The card of `voucher` on `unit` (its first SSID), times as stored (UTC).
    pub fn new(unit: &Unit, voucher: &Voucher) -> CardInput {
        CardInput {
            unit_name: unit.name.clone(),
            ssid: unit.ssids.first().cloned(),
            code: voucher.code.clone(),
            valid_from: voucher.valid_from,
            valid_until: voucher.valid_until,
            duration_minutes: voucher.duration_minutes,
            wifi_password: None,
        }
    }

    /// The card of a password-mode voucher: its password (printed and in the QR code) and
    /// its window's `end` (a password's window never counts from a first use).
    pub fn with_password(mut self, password: WifiPassword, end: Option<OffsetDateTime>) -> Self {
        self.wifi_password = Some(password);
        self.valid_until = end.or(self.valid_until);
        self.duration_minutes = None;
        self
    }

    /// The same card with its times shown in `offset_of` (e.g. the property's time zone:
    /// `|t| zone.to_local(t)`).
    pub fn with_times(mut self, offset_of: impl Fn(OffsetDateTime) -> OffsetDateTime) -> Self {
        self.valid_from = offset_of(self.valid_from);
        self.valid_until = self.valid_until.map(&offset_of);
        self
    }

    /// What the QR code encodes.
    pub fn qr_payload(&self) -> String {
        match (&self.ssid, &self.wifi_password) {
            (Some(ssid), Some(p)) => wifi::wpa_payload(ssid, p),
            (Some(ssid), None) => format!("WIFI:T:nopass;S:{};;", wifi_escape(ssid)),
            (None, Some(p)) => p.expose().to_owned(),
            (None, None) => self.code.clone(),
        }
    }

    /// The lines of text on the card, shared by every format.
    pub fn text(&self) -> CardText {
        let mut validity = Vec::new();
        if let Some(until) = self.valid_until {
            validity.push(format!("Valid from {}", when(self.valid_from)));
            validity.push(format!("until {}", when(until)));
        }
        if let Some(d) = self.duration_minutes {
            validity.push(format!("{} from first use", span(d)));
        }
        CardText {
            unit: self.unit_name.trim().to_owned(),
            network: match &self.ssid {
                Some(s) => format!("Wi-Fi: {s}"),
                None => "Wi-Fi guest network".to_owned(),
            },
            label: if self.wifi_password.is_some() {
                "Wi-Fi password"
            } else {
                "Wi-Fi code"
            },
            code: match &self.wifi_password {
                Some(p) => p.expose().to_owned(),
                None => self.code.clone(),
            },
            password: self.wifi_password.is_some(),
            validity,
        }
    }
}

/// The text of one card, top to bottom (the QR code sits between `network` and `label`).
#[derive(Debug, Clone, PartialEq)]
pub struct CardText {
    pub unit: String,
    pub network: String,
    pub label: &'static str,
    pub code: String,
    /// `code` is a Wi-Fi password (longer, lowercase words: drawn without letter spacing).
    pub password: bool,
    pub validity: Vec<String>,
}

impl CardText {
    /// Every line in reading order.
    pub fn lines(&self) -> Vec<&str> {
        let mut v = vec![
            self.unit.as_str(),
            self.network.as_str(),
            self.label,
            self.code.as_str(),
        ];
        v.extend(self.validity.iter().map(String::as_str));
        v
    }
}

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
    CardInput::new(unit, voucher).qr_payload()
}

pub(crate) fn qr(payload: &str) -> QrCode {
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

/// `2025-03-14 11:00`, with " UTC" when the time is in UTC.
fn when(t: OffsetDateTime) -> String {
    let s = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute()
    );
    if t.offset().is_utc() {
        s + " UTC"
    } else {
        s
    }
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
    CardInput {
        unit_name: String::new(),
        ssid: None,
        code: v.code.clone(),
        valid_from: v.valid_from,
        valid_until: v.valid_until,
        duration_minutes: v.duration_minutes,
        wifi_password: None,
    }
    .text()
    .validity
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

/// The SVG card of `voucher` on `unit`.
pub fn svg(unit: &Unit, voucher: &Voucher) -> String {
    svg_card(&CardInput::new(unit, voucher))
}

/// The SVG card.
pub fn svg_card(card: &CardInput) -> String {
    let code = qr(&card.qr_payload());
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
    let layout = Layout::of(&card.text());
    let (w, h) = (layout.width as usize, layout.height as usize);
    let (qr_x, qr_y, qr_px) = (layout.qr_x, layout.qr_y, layout.qr_side);
    let mut text = String::new();
    for line in &layout.lines {
        let (class, size) = match line.kind {
            LineKind::Unit => ("unit", fit(line.text.chars().count(), 22.0, 0.62, 0.0)),
            LineKind::Network => ("ssid", fit(line.text.chars().count(), 16.0, 0.56, 0.0)),
            LineKind::Label => ("label", String::new()),
            LineKind::Code => ("code", fit(line.text.len(), 30.0, 0.62, 2.0)),
            LineKind::Password => ("password", fit(line.text.len(), 20.0, 0.62, 0.0)),
            LineKind::Validity => ("small", String::new()),
        };
        let sep = if size.is_empty() { "" } else { " " };
        text.push_str(&format!(
            "<text x=\"{cx}\" y=\"{y}\" class=\"{class}\"{sep}{size}>{t}</text>\n",
            cx = w / 2,
            y = line.baseline,
            t = xml_escape(&line.text),
        ));
    }
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="Wi-Fi voucher {code_attr}">
<title>Wi-Fi voucher – {name}</title>
<style>text{{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;fill:#111;text-anchor:middle}}.unit{{font-weight:700}}.label{{font-size:13px;fill:#444;letter-spacing:1px;text-transform:uppercase}}.code{{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-weight:700;letter-spacing:2px}}.password{{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-weight:700}}.small{{font-size:14px;fill:#333}}</style>
<rect x="1" y="1" width="{rw}" height="{rh}" rx="14" fill="#fff" stroke="#999" stroke-width="2"/>
<svg x="{qr_x}" y="{qr_y}" width="{qr_px}" height="{qr_px}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d="{d}"/></svg>
{text}</svg>
"##,
        rw = w - 2,
        rh = h - 2,
        name = xml_escape(card.unit_name.trim()),
        code_attr = xml_escape(&card.code),
    )
}

/// Which line of the card; decides its face, size and colour in every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Unit,
    Network,
    Label,
    Code,
    /// A Wi-Fi password in place of the code (password mode).
    Password,
    Validity,
}

impl LineKind {
    /// Face, largest size and letter spacing (card units) and grey level of the ink.
    fn style(self) -> (Face, f32, f32, u8) {
        match self {
            LineKind::Unit => (Face::Bold, 22.0, 0.0, 0x11),
            LineKind::Network => (Face::Regular, 16.0, 0.0, 0x11),
            LineKind::Label => (Face::Regular, 13.0, 1.0, 0x44),
            LineKind::Code => (Face::Bold, 30.0, 2.0, 0x11),
            LineKind::Password => (Face::Bold, 20.0, 0.0, 0x11),
            LineKind::Validity => (Face::Regular, 14.0, 0.0, 0x33),
        }
    }
}

/// One line of text placed on the card (card units: the card is 360 wide).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub kind: LineKind,
    /// As printed (the label upper-cased, as the SVG's stylesheet shows it).
    pub text: String,
    /// Centre x is the card's middle; this is the baseline's y.
    pub baseline: f32,
}

/// Where everything sits on a card, in card units, shared by the SVG, PNG and PDF.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub width: f32,
    pub height: f32,
    pub qr_x: f32,
    pub qr_y: f32,
    pub qr_side: f32,
    pub lines: Vec<Line>,
}

/// Room for one line of text on the card, in card units.
const ROOM: f32 = 320.0;

impl Layout {
    pub fn of(text: &CardText) -> Layout {
        let (width, qr_side, qr_y) = (360.0, 240.0, 96.0);
        let mut lines = vec![
            Line {
                kind: LineKind::Unit,
                text: text.unit.clone(),
                baseline: 42.0,
            },
            Line {
                kind: LineKind::Network,
                text: text.network.clone(),
                baseline: 72.0,
            },
        ];
        let mut y = qr_y + qr_side + 36.0;
        lines.push(Line {
            kind: LineKind::Label,
            text: text.label.to_uppercase(),
            baseline: y,
        });
        y += 36.0;
        lines.push(Line {
            kind: if text.password {
                LineKind::Password
            } else {
                LineKind::Code
            },
            text: text.code.clone(),
            baseline: y,
        });
        y += 12.0;
        for v in &text.validity {
            y += 22.0;
            lines.push(Line {
                kind: LineKind::Validity,
                text: v.clone(),
                baseline: y,
            });
        }
        Layout {
            width,
            height: y + 28.0,
            qr_x: (width - qr_side) / 2.0,
            qr_y,
            qr_side,
            lines,
        }
    }

    /// Every line fitted to the card's width with the embedded fonts: `(line, size)`; a line
    /// too long even at the smallest size is cut with "…".
    pub fn fitted(&self) -> Vec<(Line, f32)> {
        self.lines
            .iter()
            .map(|l| {
                let (face, max, spacing, _) = l.kind.style();
                let (text, size) = font::fit(face, &l.text, ROOM, max, 9.0, spacing);
                (Line { text, ..l.clone() }, size)
            })
            .collect()
    }
}

/// Pixels per card unit in the PNG (720 px wide: sharp on paper at 6–9 cm).
pub const PNG_SCALE: f32 = 2.0;

/// The PNG card of `voucher` on `unit`.
pub fn png(unit: &Unit, voucher: &Voucher) -> Vec<u8> {
    png_card(&CardInput::new(unit, voucher))
}

/// The PNG card: 8-bit greyscale, the SVG's layout drawn with the embedded fonts.
pub fn png_card(card: &CardInput) -> Vec<u8> {
    let canvas = raster(card);
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, canvas.width as u32, canvas.height as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().expect("PNG header to memory");
        writer
            .write_image_data(&canvas.px)
            .expect("PNG data to memory matches its header");
    }
    out
}

/// The card drawn on a canvas (what [`png_card`] encodes).
pub fn raster(card: &CardInput) -> Canvas {
    let layout = Layout::of(&card.text());
    let s = PNG_SCALE;
    let (w, h) = (
        (layout.width * s).round() as usize,
        (layout.height * s).round() as usize,
    );
    let mut c = Canvas::new(w, h);
    // The border (the SVG's stroke, without its rounded corners).
    let b = (2.0 * s) as usize;
    c.fill(0, 0, w, b, 0x99);
    c.fill(0, h - b, w, b, 0x99);
    c.fill(0, 0, b, h, 0x99);
    c.fill(w - b, 0, b, h, 0x99);
    // The QR code: whole pixels per module, centred in the SVG's square.
    let code = qr(&card.qr_payload());
    let n = code.width();
    let colors = code.to_colors();
    let side = n + 2 * QUIET;
    let module = ((layout.qr_side * s) as usize / side).max(1);
    let qr_px = module * side;
    let x0 = (w - qr_px) / 2;
    let y0 = (layout.qr_y * s) as usize + ((layout.qr_side * s) as usize - qr_px) / 2;
    for y in 0..n {
        for x in 0..n {
            if colors[y * n + x] == Color::Dark {
                c.fill(
                    x0 + (x + QUIET) * module,
                    y0 + (y + QUIET) * module,
                    module,
                    module,
                    0,
                );
            }
        }
    }
    for (line, size) in layout.fitted() {
        let (face, _, spacing, ink) = line.kind.style();
        c.text_centered(
            &line.text,
            w as f32 / 2.0,
            line.baseline * s,
            Style {
                face,
                size: size * s,
                spacing: spacing * s,
                ink,
            },
        );
    }
    c
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

    use time::macros::datetime;

    pub(crate) fn sample() -> CardInput {
        CardInput {
            unit_name: "Chalet Zoë & Søren".into(),
            ssid: Some("Beach; Guest".into()),
            code: "K7MPQ2X9TA".into(),
            valid_from: datetime!(2025-07-01 15:00 +02:00),
            valid_until: Some(datetime!(2025-07-08 11:00 +02:00)),
            duration_minutes: Some(120),
            wifi_password: None,
        }
    }

    /// Ink (pixels darker than mid-grey) in a rectangle of the canvas.
    fn ink(c: &Canvas, x0: usize, y0: usize, x1: usize, y1: usize) -> usize {
        let mut n = 0;
        for y in y0..y1.min(c.height) {
            for x in x0..x1.min(c.width) {
                n += usize::from(c.px[y * c.width + x] < 128);
            }
        }
        n
    }

    #[test]
    fn text_is_the_same_in_every_format() {
        let card = sample();
        let t = card.text();
        assert_eq!(
            t.lines(),
            vec![
                "Chalet Zoë & Søren",
                "Wi-Fi: Beach; Guest",
                "Wi-Fi code",
                "K7MPQ2X9TA",
                "Valid from 2025-07-01 15:00",
                "until 2025-07-08 11:00",
                "2 hours from first use",
            ]
        );
        // The SVG's <text> elements are the layout's lines, in order.
        let svg = svg_card(&card);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").to_owned())
            .collect();
        let layout: Vec<String> = Layout::of(&t).lines.into_iter().map(|l| l.text).collect();
        assert_eq!(texts, layout);
        assert_eq!(layout[2], "WI-FI CODE");
        // UTC times say so; the card of a voucher shows them as stored.
        let utc = CardInput {
            valid_from: datetime!(2025-07-01 13:00 UTC),
            valid_until: Some(datetime!(2025-07-08 09:00 UTC)),
            ..card
        };
        assert_eq!(utc.text().validity[1], "until 2025-07-08 09:00 UTC");
        let local = utc
            .clone()
            .with_times(|t| t.to_offset(time::macros::offset!(+2)));
        assert_eq!(local.text().validity[1], "until 2025-07-08 11:00");
    }

    /// A password-mode card: the QR code a phone decodes joins the WPA network with the
    /// password, which is printed whole (issue 18 item 3), in the PNG and the SVG alike.
    #[test]
    fn a_password_card_carries_the_wpa_payload_and_the_password() {
        let pw = WifiPassword::new("lunar-cider-plank-agent-ivory-crisp").unwrap();
        let card = sample().with_password(pw.clone(), Some(datetime!(2025-07-08 11:00 +02:00)));
        let want = "WIFI:T:WPA;S:Beach\\; Guest;P:lunar-cider-plank-agent-ivory-crisp;;";
        assert_eq!(card.qr_payload(), want);
        let bytes = png_card(&card);
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let (w, h) = (info.width as usize, info.height as usize);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        assert_eq!(grids[0].decode().unwrap().1, want);
        let text = card.text();
        assert_eq!(text.label, "Wi-Fi password");
        assert_eq!(text.code, pw.expose());
        assert!(
            !text.validity.iter().any(|l| l.contains("first use")),
            "a password's window does not count from a first use"
        );
        let fitted = Layout::of(&text).fitted();
        let line = fitted
            .iter()
            .find(|(l, _)| l.kind == LineKind::Password)
            .unwrap();
        assert_eq!(line.0.text, pw.expose(), "printed whole, never cut");
        // The widest password the generator can make (six of the widest words) fits too.
        let widest = crate::passphrase::words()
            .iter()
            .max_by(|a, b| {
                let w = |x: &str| Face::Bold.width(x, 20.0, 0.0);
                w(a).total_cmp(&w(b))
            })
            .unwrap();
        let worst = WifiPassword::new([*widest; 6].join("-")).unwrap();
        let fitted = Layout::of(&sample().with_password(worst.clone(), None).text()).fitted();
        let line = fitted
            .iter()
            .find(|(l, _)| l.kind == LineKind::Password)
            .unwrap();
        assert_eq!(line.0.text, worst.expose(), "{}", worst.expose());
        let svg = svg_card(&card);
        assert!(svg.contains(">lunar-cider-plank-agent-ivory-crisp</text>"));
        assert!(svg.contains("WI-FI PASSWORD"));
    }

    #[test]
    fn png_carries_the_qr_code_and_every_line() {
        let card = sample();
        let bytes = png_card(&card);
        // Decode the PNG as a viewer would, then the QR code as a phone would.
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let (w, h) = (info.width as usize, info.height as usize);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        assert_eq!(
            grids[0].decode().unwrap().1,
            "WIFI:T:nopass;S:Beach\\; Guest;;"
        );

        let canvas = Canvas {
            width: w,
            height: h,
            px: buf[..w * h].to_vec(),
        };
        assert_eq!(canvas.px, raster(&card).px, "the PNG is the raster");
        let layout = Layout::of(&card.text());
        let s = PNG_SCALE;
        let mut boxes = Vec::new();
        for (line, size) in layout.fitted() {
            let (face, _, spacing, _) = line.kind.style();
            let width = face.width(&line.text, size, spacing) * s;
            let (x0, x1) = (w as f32 / 2.0 - width / 2.0, w as f32 / 2.0 + width / 2.0);
            let y0 = (line.baseline - size) * s;
            let y1 = (line.baseline + size * 0.3) * s;
            let b = (
                x0 as usize,
                y0 as usize,
                x1.ceil() as usize + 1,
                y1.ceil() as usize + 1,
            );
            // Every line left ink where the layout put it.
            let n = ink(&canvas, b.0, b.1, b.2, b.3);
            assert!(
                n > 30 * line.text.chars().count(),
                "{:?}: {n} dark pixels",
                line.text
            );
            boxes.push((line, b));
        }
        // The code's glyphs are drawn one by one: its row has as many separate runs of ink
        // as the code has characters (letter-spaced, bold sans).
        let (code_line, b) = boxes
            .iter()
            .find(|(l, _)| l.kind == LineKind::Code)
            .unwrap();
        let mut runs = 0;
        let mut inside = false;
        for x in b.0..b.2 {
            let col = ink(&canvas, x, b.1, x + 1, b.3) > 0;
            if col && !inside {
                runs += 1;
            }
            inside = col;
        }
        assert_eq!(runs, code_line.text.len());
        // Outside the border, the text boxes and the QR code, the card is blank.
        let qr = (
            (layout.qr_x * s) as usize,
            (layout.qr_y * s) as usize,
            ((layout.qr_x + layout.qr_side) * s) as usize,
            ((layout.qr_y + layout.qr_side) * s) as usize,
        );
        let border = (2.0 * s) as usize + 1;
        for y in border..h - border {
            for x in border..w - border {
                let within = |b: &(usize, usize, usize, usize)| {
                    x + 2 >= b.0 && x <= b.2 + 2 && y + 2 >= b.1 && y <= b.3 + 2
                };
                if boxes.iter().any(|(_, b)| within(b)) || within(&qr) {
                    continue;
                }
                assert!(canvas.px[y * w + x] > 200, "stray ink at {x},{y}");
            }
        }
    }

    #[test]
    fn long_names_shrink_and_never_leave_the_card() {
        let card = CardInput {
            unit_name: "Ferienwohnung Sonnenblick am Großen Alpsee – Obergeschoss links, Eingang B"
                .into(),
            ssid: None,
            ..sample()
        };
        let layout = Layout::of(&card.text());
        for (line, size) in layout.fitted() {
            let (face, max, spacing, _) = line.kind.style();
            assert!(face.width(&line.text, size, spacing) <= ROOM + 0.01);
            assert!(size <= max);
        }
        let unit = &layout.fitted()[0].0.text;
        assert!(
            unit.ends_with('…') || unit.starts_with("Ferienwohnung"),
            "{unit}"
        );
        // Without an SSID the QR code carries the code.
        let c = raster(&card);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(c.width, c.height, |x, y| {
            c.px[y * c.width + x]
        });
        assert_eq!(img.detect_grids()[0].decode().unwrap().1, "K7MPQ2X9TA");
        // Nothing is drawn over the border's outer edge: the right edge column is border grey.
        assert!((0..c.height).all(|y| c.px[y * c.width + c.width - 1] == 0x99));
    }

    #[test]
    fn spans() {
        assert_eq!(span(120), "2 hours");
        assert_eq!(span(1440), "1 day");
        assert_eq!(span(90), "90 minutes");
    }
}
