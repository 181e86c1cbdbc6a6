//! The fonts embedded for the PNG card and the PDF sheet, and text measured and drawn with them.
//!
//! Two subsets of DejaVu Sans (regular and bold; Latin, Latin-1 and Latin Extended-A plus a
//! few typographic marks: `sidecar/assets/fonts/README.md`), 73 KB together, parsed on first
//! use only, so an idle sidecar never touches them. `ab_glyph` rasterises the outlines with
//! anti-aliasing; the PDF embeds the same files, so both outputs measure text alike.

use std::sync::LazyLock;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};

pub(crate) const SANS_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");
pub(crate) const SANS_BOLD_TTF: &[u8] =
    include_bytes!("../../assets/fonts/DejaVuSans-Bold-subset.ttf");

static SANS: LazyLock<FontRef<'static>> =
    LazyLock::new(|| FontRef::try_from_slice(SANS_TTF).expect("the embedded font parses"));
static SANS_BOLD: LazyLock<FontRef<'static>> =
    LazyLock::new(|| FontRef::try_from_slice(SANS_BOLD_TTF).expect("the embedded font parses"));

/// Which embedded face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Face {
    Regular,
    Bold,
}

impl Face {
    pub(crate) fn font(self) -> &'static FontRef<'static> {
        match self {
            Face::Regular => &SANS,
            Face::Bold => &SANS_BOLD,
        }
    }

    /// The glyph for `c`; `None` when the subset lacks it (drawn as `.notdef`, a box).
    pub fn glyph(self, c: char) -> Option<GlyphId> {
        let id = self.font().glyph_id(c);
        (id.0 != 0).then_some(id)
    }

    /// Units per em of the face (2048 for DejaVu).
    pub(crate) fn units_per_em(self) -> f32 {
        self.font().units_per_em().unwrap_or(2048.0)
    }

    /// Advance of one glyph in font units.
    pub(crate) fn advance_units(self, id: GlyphId) -> f32 {
        self.font().h_advance_unscaled(id)
    }

    /// Width of `text` at `size` px (em size), with `spacing` px after every character but
    /// the last.
    pub fn width(self, text: &str, size: f32, spacing: f32) -> f32 {
        let scale = size / self.units_per_em();
        let mut w = 0.0;
        let mut n = 0usize;
        for c in text.chars() {
            w += self.advance_units(self.font().glyph_id(c)) * scale;
            n += 1;
        }
        w + spacing * n.saturating_sub(1) as f32
    }
}

/// The largest size ≤ `max` (and ≥ `min`) at which `text` fits `room` px; at `min`, the text
/// is cut and ends with "…" so that it fits.
pub fn fit(face: Face, text: &str, room: f32, max: f32, min: f32, spacing: f32) -> (String, f32) {
    let w = face.width(text, max, spacing);
    if w <= room {
        return (text.to_owned(), max);
    }
    let size = (max * room / w).max(min);
    if face.width(text, size, spacing) <= room + 0.01 {
        return (text.to_owned(), size);
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let cut: String = chars.iter().collect::<String>().trim_end().to_owned() + "…";
        if face.width(&cut, size, spacing) <= room {
            return (cut, size);
        }
    }
    ("…".to_owned(), size)
}

/// How a line of text is drawn: face, em size and letter spacing in px, grey level of the ink.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub face: Face,
    pub size: f32,
    pub spacing: f32,
    pub ink: u8,
}

/// An 8-bit greyscale canvas (255 = white).
#[derive(Debug, Clone)]
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub px: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            px: vec![255; width * height],
        }
    }

    /// Fill a rectangle (clipped) with `grey`.
    pub fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, grey: u8) {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        for row in y.min(y1)..y1 {
            self.px[row * self.width + x.min(x1)..row * self.width + x1].fill(grey);
        }
    }

    /// Darken one pixel towards `ink` by `coverage` (0..=1); never lightens.
    fn blend(&mut self, x: i32, y: i32, coverage: f32, ink: u8) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let i = y as usize * self.width + x as usize;
        let c = coverage.clamp(0.0, 1.0);
        let v = (f32::from(self.px[i]) * (1.0 - c) + f32::from(ink) * c).round() as u8;
        self.px[i] = self.px[i].min(v);
    }

    /// Draw `text` centred on `cx` with its baseline at `baseline`; returns the ink's
    /// horizontal extent `(left, right)` in px.
    pub fn text_centered(&mut self, text: &str, cx: f32, baseline: f32, st: Style) -> (f32, f32) {
        let Style {
            face,
            size,
            spacing,
            ink,
        } = st;
        let font = face.font();
        // `PxScale` is the height from descender to ascender; `size` is the em, as in CSS
        // and PDF.
        let px = PxScale::from(size * font.height_unscaled() / face.units_per_em());
        let scaled = font.as_scaled(px);
        let width = face.width(text, size, spacing);
        let mut x = cx - width / 2.0;
        let left = x;
        for c in text.chars() {
            let id = font.glyph_id(c);
            let glyph = id.with_scale_and_position(px, point(x, baseline));
            if let Some(outlined) = font.outline_glyph(glyph) {
                let b = outlined.px_bounds();
                let (bx, by) = (b.min.x as i32, b.min.y as i32);
                outlined.draw(|gx, gy, cov| self.blend(bx + gx as i32, by + gy as i32, cov, ink));
            }
            x += scaled.h_advance(id) + spacing;
        }
        (left, left + width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_covers_the_portal_languages() {
        // Every letter the 7 portal languages use, and the marks the cards print.
        let letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789\
                       äöüÄÖÜßéèêëàâæçîïôœùûüÿÉÈÊÀÇÎÔŒÙÛáíóúñÁÍÓÚÑ¿¡ãõÃÕòìÒÌ–—‘’“”•…€✓łŁőűčšžřĆŞğı";
        for face in [Face::Regular, Face::Bold] {
            for c in letters.chars() {
                assert!(face.glyph(c).is_some(), "{face:?} lacks {c:?}");
            }
            // Outside the subset: no glyph (drawn as a box), not a panic.
            assert!(face.glyph('漢').is_none());
            assert!(face.glyph('🙂').is_none());
        }
    }

    #[test]
    fn fit_shrinks_then_cuts() {
        let (t, s) = fit(Face::Regular, "Loft", 300.0, 22.0, 10.0, 0.0);
        assert_eq!((t.as_str(), s), ("Loft", 22.0));
        let long = "The Very Long Name Of A Seaside Holiday Apartment";
        let (t, s) = fit(Face::Regular, long, 300.0, 22.0, 10.0, 0.0);
        assert_eq!(t, long);
        assert!((10.0..22.0).contains(&s), "{s}");
        assert!(Face::Regular.width(&t, s, 0.0) <= 300.01);
        let huge = "W".repeat(200);
        let (t, s) = fit(Face::Bold, &huge, 300.0, 22.0, 10.0, 0.0);
        assert_eq!(s, 10.0);
        assert!(t.ends_with('…') && t.chars().count() < 200, "{t}");
        assert!(Face::Bold.width(&t, s, 0.0) <= 300.0);
    }

    #[test]
    fn drawing_inks_only_inside_the_measured_box() {
        let mut c = Canvas::new(400, 60);
        let (l, r) = c.text_centered(
            "Zürich",
            200.0,
            40.0,
            Style {
                face: Face::Bold,
                size: 28.0,
                spacing: 0.0,
                ink: 0,
            },
        );
        assert!((r - l - Face::Bold.width("Zürich", 28.0, 0.0)).abs() < 0.01);
        let mut inked = 0;
        for y in 0..60 {
            for x in 0..400 {
                if c.px[y * 400 + x] < 128 {
                    inked += 1;
                    assert!(x as f32 >= l - 2.0 && x as f32 <= r + 2.0, "ink at {x}");
                }
            }
        }
        assert!(inked > 200, "{inked}");
    }
}
