//! A unit's branding, checked when the host saves it: the accent colour (readable, WCAG AA)
//! and the logo (a real PNG, JPEG or WebP image of bounded size).
//!
//! **Accent.** The portal uses the accent for links and for the main button. A link is text
//! on the card, so the accent must reach 4.5:1 (WCAG 1.4.3, AA) against the card's surface
//! and the page background; the button's label is drawn in white or in the page's text
//! colour, whichever reads better, and must reach 4.5:1 on the accent too. Those are checked
//! against the light scheme, which every phone shows unless it is set to dark; in the dark
//! scheme the accent is used only if it passes there too ([`Accent::dark`]), otherwise the
//! portal keeps its own dark accent. A colour that fails is refused with the ratio it reached.
//!
//! **Logo.** PNG, JPEG and WebP: what every phone browser a guest may bring shows (WebP since
//! iOS 14). No SVG (it can carry scripts and external references) and no GIF (animation). The
//! type comes from the file's first bytes, never from its name or a header; the dimensions
//! from its header (PNG `IHDR`, JPEG `SOFn`, WebP `VP8`/`VP8L`/`VP8X`). Wave-2 note: serve it
//! with the detected [`ImageKind::mime`] and `X-Content-Type-Options: nosniff`.

use sha2::{Digest, Sha256};

/// Page colours the accent must contrast with (the portal's own palettes in `page.rs`; a
/// test there keeps these equal).
#[derive(Debug, Clone, Copy)]
pub struct Scheme {
    pub text: &'static str,
    pub surface: &'static str,
    pub bg: &'static str,
}

pub const LIGHT: Scheme = Scheme {
    text: "#17202a",
    surface: "#ffffff",
    bg: "#eef1f4",
};
pub const DARK: Scheme = Scheme {
    text: "#e9eef3",
    surface: "#1a2129",
    bg: "#0f1419",
};

/// WCAG AA for normal text.
pub const MIN_CONTRAST: f64 = 4.5;

/// Largest logo file.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;
/// Largest logo side in pixels.
pub const MAX_LOGO_SIDE: u32 = 2048;

/// Why branding is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrandingError {
    #[error("\"{0}\" is not a colour; use #rrggbb or #rgb, e.g. #0a58a8")]
    NotAColour(String),
    #[error(
        "the accent colour {colour} is too light or too low in contrast: {ratio:.2}:1 against the {against} (at least 4.5:1 is needed so guests can read links and buttons)"
    )]
    LowContrast {
        colour: String,
        against: &'static str,
        ratio: f64,
    },
    #[error("the logo file is empty")]
    EmptyLogo,
    #[error("the logo is too large: {len} bytes (at most {max})")]
    LogoTooLarge { len: usize, max: usize },
    #[error("the logo must be a PNG, JPEG or WebP image{}", detected.map(|d| format!(", not {d}")).unwrap_or_default())]
    UnsupportedImage { detected: Option<&'static str> },
    #[error("the logo file is damaged: {0}")]
    DamagedImage(&'static str),
    #[error("the logo is {width}×{height} pixels; at most {max}×{max}")]
    LogoDimensions { width: u32, height: u32, max: u32 },
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb` or `#rgb` (the `#` optional), any case.
    pub fn parse(s: &str) -> Result<Rgb, BrandingError> {
        let bad = || BrandingError::NotAColour(s.chars().take(32).collect());
        let hex = s.trim().trim_start_matches('#');
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let v = |i: usize, n: usize| u8::from_str_radix(&hex[i..i + n], 16).map_err(|_| bad());
        match hex.len() {
            6 => Ok(Rgb(v(0, 2)?, v(2, 2)?, v(4, 2)?)),
            3 => Ok(Rgb(v(0, 1)? * 17, v(1, 1)? * 17, v(2, 1)? * 17)),
            _ => Err(bad()),
        }
    }

    /// `#rrggbb`, lower case.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG 2 relative luminance (0 = black, 1 = white).
    pub fn luminance(self) -> f64 {
        let ch = |v: u8| {
            let c = f64::from(v) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(self.0) + 0.7152 * ch(self.1) + 0.0722 * ch(self.2)
    }
}

/// WCAG 2 contrast ratio, 1 to 21.
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

fn rgb(hex: &str) -> Rgb {
    Rgb::parse(hex).expect("palette colours are valid")
}

/// An accepted accent colour and what the portal draws with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accent {
    /// `#rrggbb`: links, focus ring and button in the light scheme.
    pub colour: String,
    /// The button label on the accent: white or the page's text colour.
    pub on_accent: String,
    /// Whether the accent also passes in the dark scheme (then it is used there too, with
    /// its own label colour); `None`: the dark scheme keeps the portal's accent.
    pub dark: Option<(String, String)>,
}

/// Check a host's accent colour (see the module docs for the rule).
pub fn check_accent(s: &str) -> Result<Accent, BrandingError> {
    let c = Rgb::parse(s)?;
    let fits = |scheme: Scheme| -> Result<String, (&'static str, f64)> {
        for (against, bg) in [
            ("card background", scheme.surface),
            ("page background", scheme.bg),
        ] {
            let r = contrast(c, rgb(bg));
            if r < MIN_CONTRAST {
                return Err((against, r));
            }
        }
        let label = [rgb("#ffffff"), rgb(scheme.text), rgb(LIGHT.text)]
            .into_iter()
            .max_by(|a, b| contrast(c, *a).total_cmp(&contrast(c, *b)))
            .expect("three candidates");
        let r = contrast(c, label);
        if r < MIN_CONTRAST {
            return Err(("button text", r));
        }
        Ok(label.hex())
    };
    let on_accent = fits(LIGHT).map_err(|(against, ratio)| BrandingError::LowContrast {
        colour: c.hex(),
        against,
        ratio,
    })?;
    Ok(Accent {
        colour: c.hex(),
        on_accent,
        dark: fits(DARK).ok().map(|label| (c.hex(), label)),
    })
}

impl Accent {
    /// CSS that overrides the page's accent variables (appended to the page's stylesheet).
    pub fn css(&self) -> String {
        let vars =
            |c: &str, on: &str| format!("--accent:{c};--link:{c};--focus:{c};--on-accent:{on};");
        let mut css = format!(":root{{{}}}", vars(&self.colour, &self.on_accent));
        css = format!("@media (prefers-color-scheme:light){{{css}}}");
        if let Some((c, on)) = &self.dark {
            css.push_str(&format!(
                "@media (prefers-color-scheme:dark){{:root{{{}}}}}",
                vars(c, on)
            ));
        }
        css
    }
}

/// The image types a logo may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Webp,
}

impl ImageKind {
    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Webp => "image/webp",
        }
    }
}

/// An accepted logo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    /// Lower-case hex SHA-256 of the file: a cache-busting name for its URL.
    pub sha256: String,
}

/// Check an uploaded logo (see the module docs).
pub fn check_logo(bytes: &[u8]) -> Result<Logo, BrandingError> {
    if bytes.is_empty() {
        return Err(BrandingError::EmptyLogo);
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(BrandingError::LogoTooLarge {
            len: bytes.len(),
            max: MAX_LOGO_BYTES,
        });
    }
    let (kind, (width, height)) = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        (ImageKind::Png, png_size(bytes)?)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        (ImageKind::Jpeg, jpeg_size(bytes)?)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        (ImageKind::Webp, webp_size(bytes)?)
    } else {
        return Err(BrandingError::UnsupportedImage {
            detected: sniff_other(bytes),
        });
    };
    if width == 0 || height == 0 {
        return Err(BrandingError::DamagedImage("it has no pixels"));
    }
    if width > MAX_LOGO_SIDE || height > MAX_LOGO_SIDE {
        return Err(BrandingError::LogoDimensions {
            width,
            height,
            max: MAX_LOGO_SIDE,
        });
    }
    Ok(Logo {
        kind,
        width,
        height,
        sha256: hex::encode(Sha256::digest(bytes)),
    })
}

/// Name a refused type when we recognise it, for the error message.
fn sniff_other(b: &[u8]) -> Option<&'static str> {
    let head = String::from_utf8_lossy(&b[..b.len().min(256)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("GIF")
    } else if head.starts_with("<svg") || (head.starts_with("<?xml") && head.contains("<svg")) {
        Some("SVG (it can carry scripts)")
    } else if head.starts_with('<') {
        Some("HTML or XML")
    } else if b.starts_with(b"%PDF") {
        Some("PDF")
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" {
        Some("HEIC/AVIF")
    } else if b.starts_with(b"BM") {
        Some("BMP")
    } else {
        None
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn png_size(b: &[u8]) -> Result<(u32, u32), BrandingError> {
    // Signature (8), then the IHDR chunk: length 13, "IHDR", width, height.
    if be32(b, 8) != Some(13) || b.get(12..16) != Some(b"IHDR") {
        return Err(BrandingError::DamagedImage(
            "a PNG must start with its IHDR header",
        ));
    }
    match (be32(b, 16), be32(b, 20)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(BrandingError::DamagedImage("the PNG header is cut short")),
    }
}

fn jpeg_size(b: &[u8]) -> Result<(u32, u32), BrandingError> {
    let damaged = BrandingError::DamagedImage("no JPEG frame header (SOF) found");
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return Err(damaged);
        }
        let marker = b[i + 1];
        match marker {
            // Fill bytes, and markers without a length.
            0xFF => {
                i += 1;
                continue;
            }
            0x01 | 0xD0..=0xD7 => {
                i += 2;
                continue;
            }
            // Start of scan or end of image before any frame header.
            0xDA | 0xD9 => return Err(damaged),
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        if len < 2 {
            return Err(damaged);
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let seg = b
                .get(i + 4..i + 2 + len)
                .ok_or(BrandingError::DamagedImage(
                    "the JPEG frame header is cut short",
                ))?;
            if seg.len() < 5 {
                return Err(damaged);
            }
            let h = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
            let w = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
            return Ok((w, h));
        }
        i += 2 + len;
    }
    Err(damaged)
}

fn webp_size(b: &[u8]) -> Result<(u32, u32), BrandingError> {
    let damaged = |why| BrandingError::DamagedImage(why);
    let chunk = b
        .get(12..16)
        .ok_or(damaged("the WebP header is cut short"))?;
    let d = b.get(20..).unwrap_or_default();
    match chunk {
        // Lossy: 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height.
        b"VP8 " => {
            if d.len() < 10 || d[3..6] != [0x9d, 0x01, 0x2a] {
                return Err(damaged("bad VP8 frame header"));
            }
            let w = u32::from(u16::from_le_bytes([d[6], d[7]]) & 0x3fff);
            let h = u32::from(u16::from_le_bytes([d[8], d[9]]) & 0x3fff);
            Ok((w, h))
        }
        // Lossless: signature 0x2f, then width-1 and height-1 in 14 bits each.
        b"VP8L" => {
            if d.len() < 5 || d[0] != 0x2f {
                return Err(damaged("bad VP8L header"));
            }
            let bits = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
            Ok(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
        }
        // Extended: flags (4 bytes), then canvas width-1 and height-1 in 24 bits each.
        b"VP8X" => {
            if d.len() < 10 {
                return Err(damaged("the VP8X header is cut short"));
            }
            let w = u32::from_le_bytes([d[4], d[5], d[6], 0]) + 1;
            let h = u32::from_le_bytes([d[7], d[8], d[9], 0]) + 1;
            Ok((w, h))
        }
        _ => Err(damaged("unknown WebP chunk")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_is_wcag_math() {
        let (black, white) = (Rgb(0, 0, 0), Rgb(255, 255, 255));
        assert!((contrast(black, white) - 21.0).abs() < 1e-9);
        assert!((contrast(white, white) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1 grey.
        assert!((contrast(Rgb::parse("#767676").unwrap(), white) - 4.54).abs() < 0.01);
        assert_eq!(Rgb::parse("#ABC").unwrap(), Rgb(0xaa, 0xbb, 0xcc));
        assert_eq!(Rgb::parse(" 0a58A8 ").unwrap().hex(), "#0a58a8");
        for bad in [
            "", "#", "#12", "#12345", "#1234567", "red", "#ggg000", "#ü12",
        ] {
            assert!(
                matches!(Rgb::parse(bad), Err(BrandingError::NotAColour(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn accents() {
        // The portal's own blue passes in light, not in dark (too dark there).
        let a = check_accent("#0a58a8").unwrap();
        assert_eq!(a.colour, "#0a58a8");
        assert_eq!(a.on_accent, "#ffffff");
        assert_eq!(a.dark, None);
        assert!(a
            .css()
            .contains("--accent:#0a58a8;--link:#0a58a8;--focus:#0a58a8;--on-accent:#ffffff"));
        assert!(!a.css().contains("prefers-color-scheme:dark"));
        // A deep green that is fine on white.
        assert!(check_accent("#1b6b34").is_ok());
        // Too light: yellow and a light grey fail against the card.
        for light in ["#ffd700", "#cccccc", "#7cb8f7", "#ffffff"] {
            match check_accent(light) {
                Err(BrandingError::LowContrast { against, ratio, .. }) => {
                    assert_eq!(against, "card background", "{light}");
                    assert!(ratio < 4.5);
                }
                other => panic!("{light}: {other:?}"),
            }
        }
        // #767676 passes on white (4.54) but not on the grey page background (4.0).
        match check_accent("#767676") {
            Err(BrandingError::LowContrast { against, .. }) => {
                assert_eq!(against, "page background")
            }
            other => panic!("{other:?}"),
        }
        let e = check_accent("#ffd700").unwrap_err().to_string();
        assert!(
            e.starts_with("the accent colour #ffd700 is too light"),
            "{e}"
        );
        assert!(e.contains(":1 against the card background"), "{e}");
        assert!(matches!(
            check_accent("blue"),
            Err(BrandingError::NotAColour(_))
        ));
    }

    #[test]
    fn accepted_accents_always_reach_aa() {
        // Every colour on a coarse grid: accepted ones really pass, with their label.
        for r in (0..=255).step_by(17) {
            for g in (0..=255).step_by(17) {
                for b in (0..=255).step_by(17) {
                    let c = Rgb(r as u8, g as u8, b as u8);
                    if let Ok(a) = check_accent(&c.hex()) {
                        for bg in [LIGHT.surface, LIGHT.bg] {
                            assert!(contrast(c, rgb(bg)) >= 4.5);
                        }
                        assert!(contrast(c, rgb(&a.on_accent)) >= 4.5);
                        if let Some((_, on)) = &a.dark {
                            for bg in [DARK.surface, DARK.bg] {
                                assert!(contrast(c, rgb(bg)) >= 4.5);
                            }
                            assert!(contrast(c, rgb(on)) >= 4.5);
                        }
                    } else {
                        assert!(
                            contrast(c, rgb(LIGHT.surface)) < 4.5
                                || contrast(c, rgb(LIGHT.bg)) < 4.5
                                || contrast(c, rgb("#ffffff")).max(contrast(c, rgb(LIGHT.text)))
                                    < 4.5
                        );
                    }
                }
            }
        }
    }

    fn png_bytes(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Grayscale);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&vec![128u8; (w * h) as usize]).unwrap();
        drop(wr);
        out
    }

    #[test]
    fn png_logos() {
        let logo = check_logo(&png_bytes(120, 40)).unwrap();
        assert_eq!(
            (logo.kind, logo.width, logo.height),
            (ImageKind::Png, 120, 40)
        );
        assert_eq!(logo.kind.mime(), "image/png");
        assert_eq!(logo.sha256.len(), 64);
        assert_eq!(
            check_logo(&png_bytes(2049, 1)),
            Err(BrandingError::LogoDimensions {
                width: 2049,
                height: 1,
                max: 2048
            })
        );
        let mut cut = png_bytes(10, 10);
        cut.truncate(18);
        assert_eq!(
            check_logo(&cut),
            Err(BrandingError::DamagedImage("the PNG header is cut short"))
        );
    }

    #[test]
    fn jpeg_and_webp_headers() {
        // A JPEG: SOI, an APP0 segment, then SOF0 with height 300 and width 400.
        let mut jpg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        jpg.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        jpg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0x2C, 0x01, 0x90, 0x03]);
        jpg.extend_from_slice(&[0u8; 9]);
        jpg.extend_from_slice(&[0xFF, 0xD9]);
        let l = check_logo(&jpg).unwrap();
        assert_eq!((l.kind, l.width, l.height), (ImageKind::Jpeg, 400, 300));
        // A JPEG that ends before any frame header.
        assert!(matches!(
            check_logo(&[0xFF, 0xD8, 0xFF, 0xD9]),
            Err(BrandingError::DamagedImage(_))
        ));
        // WebP lossless, 64×32: width-1 = 63, height-1 = 31 packed in 14-bit fields.
        let bits: u32 = 63 | (31 << 14);
        let mut webp = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f".to_vec();
        webp.extend_from_slice(&bits.to_le_bytes());
        let l = check_logo(&webp).unwrap();
        assert_eq!((l.kind, l.width, l.height), (ImageKind::Webp, 64, 32));
        // WebP lossy, 100×50.
        let mut webp = b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0".to_vec();
        webp.extend_from_slice(&[0, 0, 0, 0x9d, 0x01, 0x2a, 100, 0, 50, 0]);
        let l = check_logo(&webp).unwrap();
        assert_eq!((l.width, l.height), (100, 50));
        // WebP extended, 3000 wide: too large.
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\0\0\0\0".to_vec();
        webp.extend_from_slice(&[0, 0, 0, 0]);
        webp.extend_from_slice(&(2999u32.to_le_bytes()[..3]));
        webp.extend_from_slice(&(99u32.to_le_bytes()[..3]));
        assert!(matches!(
            check_logo(&webp),
            Err(BrandingError::LogoDimensions {
                width: 3000,
                height: 100,
                ..
            })
        ));
    }

    proptest::proptest! {
        /// Any upload: an answer, never a panic; accepted logos are within the limits.
        #[test]
        fn any_bytes_get_an_answer(
            head in proptest::prop_oneof![
                proptest::strategy::Just(b"\x89PNG\r\n\x1a\n".to_vec()),
                proptest::strategy::Just(vec![0xFF, 0xD8, 0xFF]),
                proptest::strategy::Just(b"RIFF\0\0\0\0WEBPVP8X".to_vec()),
                proptest::strategy::Just(b"RIFF\0\0\0\0WEBPVP8L".to_vec()),
                proptest::strategy::Just(Vec::new()),
            ],
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
        ) {
            let mut bytes = head;
            bytes.extend(tail);
            if let Ok(logo) = check_logo(&bytes) {
                proptest::prop_assert!(logo.width >= 1 && logo.width <= MAX_LOGO_SIDE);
                proptest::prop_assert!(logo.height >= 1 && logo.height <= MAX_LOGO_SIDE);
            }
        }
    }

    #[test]
    fn wrong_types_and_sizes_are_refused_by_name() {
        let cases: [(&[u8], Option<&str>); 6] = [
            (
                b"<svg xmlns='http://www.w3.org/2000/svg'><script>x</script></svg>",
                Some("SVG (it can carry scripts)"),
            ),
            (
                b"<?xml version='1.0'?>\n<svg/>",
                Some("SVG (it can carry scripts)"),
            ),
            (b"GIF89a\x01\0\x01\0", Some("GIF")),
            (b"<html><body>hi", Some("HTML or XML")),
            (b"%PDF-1.7", Some("PDF")),
            (b"just some text", None),
        ];
        for (bytes, detected) in cases {
            assert_eq!(
                check_logo(bytes),
                Err(BrandingError::UnsupportedImage { detected }),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(
            BrandingError::UnsupportedImage {
                detected: Some("GIF")
            }
            .to_string(),
            "the logo must be a PNG, JPEG or WebP image, not GIF"
        );
        assert_eq!(check_logo(&[]), Err(BrandingError::EmptyLogo));
        let mut big = png_bytes(10, 10);
        big.resize(MAX_LOGO_BYTES + 1, 0);
        assert_eq!(
            check_logo(&big),
            Err(BrandingError::LogoTooLarge {
                len: MAX_LOGO_BYTES + 1,
                max: MAX_LOGO_BYTES
            })
        );
    }
}
