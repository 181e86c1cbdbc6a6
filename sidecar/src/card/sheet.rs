//! A print sheet of voucher cards: a PDF of A4 or Letter pages, nine cards a page (3 × 3,
//! about 6 × 9 cm each) with dashed cut lines.
//!
//! Why PDF and not an SVG page: a sheet of a month of bookings is several pages, and PDF is
//! the one format with pages and a physical page size that every phone, computer and printer
//! opens and prints as is, without a browser (an SVG has one page and prints at whatever size
//! the viewer picks). It is written here by hand — the few objects a sheet needs are simpler
//! than a PDF library: the text uses the same embedded DejaVu Sans subsets as the PNG card
//! (TrueType in a `Type0`/`Identity-H` font with a `ToUnicode` map, so every character of the
//! subset prints and the text can be searched and copied), the QR codes are filled
//! rectangles (sharp at any printer resolution), streams are deflated.

use std::fmt::Write as _;
use std::io::Write as _;

use ab_glyph::Font as _;
use qrcode::Color;

use super::font::Face;
use super::{qr, CardInput, Layout, QUIET};

/// Most cards in one sheet (56 pages).
pub const MAX_CARDS: usize = 500;

const COLUMNS: usize = 3;
const ROWS: usize = 3;
/// Page margin in points (printers cannot print the outer 4–6 mm).
const MARGIN: f32 = 36.0;
/// The tallest card, in card units (three validity lines), so every cell scales alike.
const TALLEST_CARD: f32 = 514.0;

/// A paper size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    /// 210 × 297 mm.
    A4,
    /// 8.5 × 11 in.
    Letter,
}

impl Paper {
    /// `a4` or `letter`, any case.
    pub fn parse(s: &str) -> Option<Paper> {
        match s.trim().to_ascii_lowercase().as_str() {
            "a4" => Some(Paper::A4),
            "letter" => Some(Paper::Letter),
            _ => None,
        }
    }

    /// Width and height in points (1/72 in).
    pub fn size_pt(self) -> (f32, f32) {
        match self {
            Paper::A4 => (595.276, 841.89),
            Paper::Letter => (612.0, 792.0),
        }
    }
}

/// Why a sheet cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    #[error("there are no cards to print")]
    Empty,
    #[error("too many cards for one sheet: {0} (at most {MAX_CARDS})")]
    TooMany(usize),
}

/// Cards a page holds.
pub const CARDS_PER_PAGE: usize = COLUMNS * ROWS;

/// The PDF of `cards` on `paper`, in the order given, nine to a page.
pub fn pdf(paper: Paper, cards: &[CardInput]) -> Result<Vec<u8>, SheetError> {
    if cards.is_empty() {
        return Err(SheetError::Empty);
    }
    if cards.len() > MAX_CARDS {
        return Err(SheetError::TooMany(cards.len()));
    }
    let mut w = PdfWriter::default();
    // Objects 1 and 2: catalog and page tree; fonts next; then a page and its content each.
    let catalog = w.reserve();
    let pages = w.reserve();
    let fonts = [
        embed_font(&mut w, Face::Regular),
        embed_font(&mut w, Face::Bold),
    ];
    let (pw, ph) = paper.size_pt();
    let mut kids = Vec::new();
    for chunk in cards.chunks(CARDS_PER_PAGE) {
        let content = page_content(paper, chunk);
        let content_id = w.stream("", content.as_bytes());
        let page = w.add(format!(
            "<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 {pw} {ph}] \
             /Resources << /Font << /F1 {} 0 R /F2 {} 0 R >> >> /Contents {content_id} 0 R >>",
            fonts[0], fonts[1]
        ));
        kids.push(page);
    }
    let kids_list: Vec<String> = kids.iter().map(|k| format!("{k} 0 R")).collect();
    w.set(
        pages,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids_list.join(" "),
            kids.len()
        ),
    );
    w.set(catalog, format!("<< /Type /Catalog /Pages {pages} 0 R >>"));
    let info = w.add("<< /Title (Wi-Fi voucher cards) /Producer (Rental Wi-Fi) >>".to_owned());
    Ok(w.finish(catalog, info))
}

/// The drawing operators of one page.
fn page_content(paper: Paper, cards: &[CardInput]) -> String {
    let (pw, ph) = paper.size_pt();
    let cw = (pw - 2.0 * MARGIN) / COLUMNS as f32;
    let ch = (ph - 2.0 * MARGIN) / ROWS as f32;
    let s = (cw / 360.0).min(ch / TALLEST_CARD) * 0.94;
    let mut out = String::new();
    for (i, card) in cards.iter().enumerate() {
        let (col, row) = (i % COLUMNS, i / COLUMNS);
        let cell_x = MARGIN + col as f32 * cw;
        let cell_top = ph - MARGIN - row as f32 * ch;
        // Cut lines: a dashed grey box around the cell.
        let _ = writeln!(
            out,
            "q 0.6 G 0.5 w [3 3] 0 d {} {} {} {} re S Q",
            f(cell_x),
            f(cell_top - ch),
            f(cw),
            f(ch)
        );
        let layout = Layout::of(&card.text());
        let x0 = cell_x + (cw - 360.0 * s) / 2.0;
        let top = cell_top - (ch - layout.height * s) / 2.0;
        // QR code: one filled rectangle per dark module.
        let code = qr(&card.qr_payload());
        let n = code.width();
        let colors = code.to_colors();
        let m = layout.qr_side * s / (n + 2 * QUIET) as f32;
        let (qx, qy) = (x0 + layout.qr_x * s, top - layout.qr_y * s);
        out.push_str("0 g\n");
        for y in 0..n {
            for x in 0..n {
                if colors[y * n + x] == Color::Dark {
                    let _ = writeln!(
                        out,
                        "{} {} {} {} re",
                        f(qx + (x + QUIET) as f32 * m),
                        f(qy - (y + QUIET + 1) as f32 * m),
                        f(m),
                        f(m)
                    );
                }
            }
        }
        out.push_str("f\n");
        for (line, size) in layout.fitted() {
            let (face, _, spacing, ink) = line.kind.style();
            let width = face.width(&line.text, size, spacing) * s;
            let x = x0 + 180.0 * s - width / 2.0;
            let y = top - line.baseline * s;
            let font = if face == Face::Bold { "F2" } else { "F1" };
            let mut hex = String::new();
            for c in line.text.chars() {
                let _ = write!(hex, "{:04X}", face.font().glyph_id(c).0);
            }
            let _ = writeln!(
                out,
                "BT {} g /{font} {} Tf {} Tc 1 0 0 1 {} {} Tm <{hex}> Tj ET",
                f(f32::from(ink) / 255.0),
                f(size * s),
                f(spacing * s),
                f(x),
                f(y)
            );
        }
    }
    out
}

/// A number for a PDF operator: three decimals at most, no trailing zeros.
fn f(v: f32) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// Embed one face as a `Type0` font; returns the object number of the font dictionary.
fn embed_font(w: &mut PdfWriter, face: Face) -> usize {
    let font = face.font();
    let name = match face {
        Face::Regular => "DejaVuSans",
        Face::Bold => "DejaVuSans-Bold",
    };
    let bytes = match face {
        Face::Regular => super::font::SANS_TTF,
        Face::Bold => super::font::SANS_BOLD_TTF,
    };
    let upem = face.units_per_em();
    let k = 1000.0 / upem;
    let file = w.stream(&format!("/Length1 {}", bytes.len()), bytes);
    // Bounding box and cap height from the outlines.
    let (mut x0, mut y0, mut x1, mut y1) = (0f32, 0f32, 0f32, 0f32);
    for g in 0..font.glyph_count() {
        if let Some(o) = font.outline(ab_glyph::GlyphId(g as u16)) {
            x0 = x0.min(o.bounds.min.x);
            y0 = y0.min(o.bounds.min.y);
            x1 = x1.max(o.bounds.max.x);
            y1 = y1.max(o.bounds.max.y);
        }
    }
    let cap = font
        .outline(font.glyph_id('H'))
        .map(|o| o.bounds.max.y)
        .unwrap_or(upem * 0.73);
    let descriptor = w.add(format!(
        "<< /Type /FontDescriptor /FontName /{name} /Flags 32 /FontBBox [{} {} {} {}] \
         /ItalicAngle 0 /Ascent {} /Descent {} /CapHeight {} /StemV {} /FontFile2 {file} 0 R >>",
        f(x0 * k),
        f(y0 * k),
        f(x1 * k),
        f(y1 * k),
        f(font.ascent_unscaled() * k),
        f(font.descent_unscaled() * k),
        f(cap * k),
        if face == Face::Bold { 140 } else { 80 },
    ));
    let widths: Vec<String> = (0..font.glyph_count())
        .map(|g| f(font.h_advance_unscaled(ab_glyph::GlyphId(g as u16)) * k))
        .collect();
    let cid = w.add(format!(
        "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} \
         /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
         /FontDescriptor {descriptor} 0 R /CIDToGIDMap /Identity /W [0 [{}]] >>",
        widths.join(" ")
    ));
    let to_unicode = w.stream("", to_unicode_cmap(face).as_bytes());
    w.add(format!(
        "<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H \
         /DescendantFonts [{cid} 0 R] /ToUnicode {to_unicode} 0 R >>"
    ))
}

/// The `ToUnicode` CMap: glyph id → the character it draws (for search, copy and tests).
fn to_unicode_cmap(face: Face) -> String {
    let mut pairs: Vec<(u16, char)> = face
        .font()
        .codepoint_ids()
        .map(|(g, c)| (g.0, c))
        .filter(|(g, _)| *g != 0)
        .collect();
    pairs.sort_unstable();
    pairs.dedup_by_key(|(g, _)| *g);
    let mut out = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for chunk in pairs.chunks(100) {
        let _ = writeln!(out, "{} beginbfchar", chunk.len());
        for (g, c) in chunk {
            let mut utf16 = [0u16; 2];
            let units: String = c
                .encode_utf16(&mut utf16)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            let _ = writeln!(out, "<{g:04X}> <{units}>");
        }
        out.push_str("endbfchar\n");
    }
    out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    out
}

/// Objects numbered from 1, written in order with a cross-reference table.
#[derive(Default)]
struct PdfWriter {
    /// Body of each object (between `N 0 obj` and `endobj`); `None` until set.
    objects: Vec<Option<Vec<u8>>>,
}

impl PdfWriter {
    fn reserve(&mut self) -> usize {
        self.objects.push(None);
        self.objects.len()
    }

    fn set(&mut self, id: usize, body: String) {
        self.objects[id - 1] = Some(body.into_bytes());
    }

    fn add(&mut self, body: String) -> usize {
        let id = self.reserve();
        self.set(id, body);
        id
    }

    /// A deflated stream with extra dictionary entries `extra`.
    fn stream(&mut self, extra: &str, data: &[u8]) -> usize {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(data).expect("deflate to memory");
        let packed = z.finish().expect("deflate to memory");
        let mut body = format!(
            "<< /Length {} /Filter /FlateDecode{}{} >>\nstream\n",
            packed.len(),
            if extra.is_empty() { "" } else { " " },
            extra
        )
        .into_bytes();
        body.extend_from_slice(&packed);
        body.extend_from_slice(b"\nendstream");
        let id = self.reserve();
        self.objects[id - 1] = Some(body);
        id
    }

    fn finish(self, root: usize, info: usize) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(self.objects.len());
        for (i, body) in self.objects.into_iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(&body.expect("every reserved object is set"));
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1);
        for off in &offsets {
            let _ = writeln!(table, "{off:010} 00000 n ");
        }
        let _ = write!(
            table,
            "trailer\n<< /Size {} /Root {root} 0 R /Info {info} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        );
        out.extend_from_slice(table.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::Read as _;

    use crate::card::tests::sample;

    /// A minimal reader for the PDFs written above: objects by number (via the xref table,
    /// which must point exactly at each object), streams inflated.
    struct Parsed {
        objects: HashMap<usize, Vec<u8>>,
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    fn parse(pdf: &[u8]) -> Parsed {
        assert!(pdf.starts_with(b"%PDF-1.7\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let tail = std::str::from_utf8(&pdf[pdf.len() - 40..]).unwrap_or("");
        let startxref: usize = tail
            .split("startxref\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let table = std::str::from_utf8(&pdf[startxref..]).unwrap();
        let mut lines = table.lines();
        assert_eq!(lines.next(), Some("xref"));
        let count: usize = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(lines.next(), Some("0000000000 65535 f "));
        let mut objects = HashMap::new();
        for n in 1..count {
            let entry = lines.next().unwrap();
            assert_eq!(
                entry.len(),
                19,
                "xref entries are 20 bytes with the newline"
            );
            let off: usize = entry[..10].parse().unwrap();
            let head = format!("{n} 0 obj\n");
            assert!(
                pdf[off..].starts_with(head.as_bytes()),
                "xref of {n} is off"
            );
            let body = &pdf[off + head.len()..];
            let end = find(body, b"\nendobj\n").unwrap();
            let body = &body[..end];
            let data = match find(body, b"stream\n") {
                Some(at) => {
                    let dict = std::str::from_utf8(&body[..at]).unwrap();
                    let len: usize = dict
                        .split("/Length ")
                        .nth(1)
                        .unwrap()
                        .split(' ')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    let raw = &body[at + 7..at + 7 + len];
                    assert_eq!(&body[at + 7 + len..], b"\nendstream", "/Length is exact");
                    let mut out = Vec::new();
                    flate2::read::ZlibDecoder::new(raw)
                        .read_to_end(&mut out)
                        .unwrap();
                    out
                }
                None => body.to_vec(),
            };
            objects.insert(n, data);
        }
        assert!(table.contains(&format!("/Size {count} /Root 1 0 R")));
        Parsed { objects }
    }

    impl Parsed {
        fn text(&self, n: usize) -> String {
            String::from_utf8_lossy(&self.objects[&n]).into_owned()
        }
        /// `(media box, content)` of each page, in order.
        fn pages(&self) -> Vec<(String, String)> {
            let tree = self.text(2);
            let kids = tree
                .split("/Kids [")
                .nth(1)
                .unwrap()
                .split(']')
                .next()
                .unwrap();
            kids.split(" 0 R")
                .filter(|k| !k.trim().is_empty())
                .map(|k| {
                    let page = self.text(k.trim().parse().unwrap());
                    let mb = page
                        .split("/MediaBox [")
                        .nth(1)
                        .unwrap()
                        .split(']')
                        .next()
                        .unwrap();
                    let c: usize = page
                        .split("/Contents ")
                        .nth(1)
                        .unwrap()
                        .split(' ')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    (mb.to_owned(), self.text(c))
                })
                .collect()
        }
        /// glyph id → character, from a font's ToUnicode CMap.
        fn to_unicode(&self, font_resource: &str) -> HashMap<u16, char> {
            let mut map = HashMap::new();
            for n in 1..=self.objects.len() {
                let t = self.text(n);
                if t.contains("/Subtype /Type0") && t.contains(font_resource) {
                    let cmap: usize = t
                        .split("/ToUnicode ")
                        .nth(1)
                        .unwrap()
                        .split(' ')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    for line in self.text(cmap).lines() {
                        if let Some((g, u)) =
                            line.strip_prefix('<').and_then(|l| l.split_once("> <"))
                        {
                            if u.ends_with('>') {
                                let g = u16::from_str_radix(g, 16).unwrap();
                                let u = u32::from_str_radix(u.trim_end_matches('>'), 16).unwrap();
                                map.insert(g, char::from_u32(u).unwrap());
                            }
                        }
                    }
                }
            }
            map
        }
    }

    fn fonts(p: &Parsed) -> (HashMap<u16, char>, HashMap<u16, char>) {
        (
            p.to_unicode("/BaseFont /DejaVuSans "),
            p.to_unicode("/BaseFont /DejaVuSans-Bold "),
        )
    }

    /// The lines of text on a page, in drawing order, decoded through the ToUnicode maps.
    fn page_text(
        content: &str,
        regular: &HashMap<u16, char>,
        bold: &HashMap<u16, char>,
    ) -> Vec<String> {
        content
            .lines()
            .filter(|l| l.starts_with("BT "))
            .map(|l| {
                let map = if l.contains("/F2 ") { bold } else { regular };
                let hex = l.split('<').nth(1).unwrap().split('>').next().unwrap();
                (0..hex.len())
                    .step_by(4)
                    .map(|i| map[&u16::from_str_radix(&hex[i..i + 4], 16).unwrap()])
                    .collect()
            })
            .collect()
    }

    /// The QR codes of a page: the filled rectangles of each card drawn into a bitmap, then
    /// decoded as a phone would.
    fn page_qr_codes(content: &str) -> Vec<String> {
        let mut out = Vec::new();
        for block in content.split("0 g\n").skip(1) {
            let rects: Vec<[f32; 4]> = block
                .lines()
                .take_while(|l| l.ends_with(" re"))
                .map(|l| {
                    let v: Vec<f32> = l.split(' ').take(4).map(|x| x.parse().unwrap()).collect();
                    [v[0], v[1], v[2], v[3]]
                })
                .collect();
            let m = rects[0][2];
            let x0 = rects.iter().map(|r| r[0]).fold(f32::MAX, f32::min) - 4.0 * m;
            let y1 = rects.iter().map(|r| r[1] + r[3]).fold(f32::MIN, f32::max) + 4.0 * m;
            let px = 8.0 / m; // 8 pixels a module
            let size = 400usize;
            let mut bmp = vec![255u8; size * size];
            for r in &rects {
                let (cx, cy) = (
                    ((r[0] - x0) * px).round() as usize,
                    ((y1 - r[1] - r[3]) * px).round() as usize,
                );
                for y in cy..cy + 8 {
                    for x in cx..cx + 8 {
                        if x < size && y < size {
                            bmp[y * size + x] = 0;
                        }
                    }
                }
            }
            let mut img =
                rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| bmp[y * size + x]);
            let grids = img.detect_grids();
            assert_eq!(grids.len(), 1);
            out.push(grids[0].decode().unwrap().1);
        }
        out
    }

    #[test]
    fn cards_on_pages_with_text_and_qr_codes() {
        let cards: Vec<CardInput> = (0..11)
            .map(|i| CardInput {
                code: format!("CODE{i:02}"),
                ssid: (i % 2 == 0).then(|| "Beach Guest".to_owned()),
                ..sample()
            })
            .collect();
        let pdf = pdf(Paper::A4, &cards).unwrap();
        let parsed = parse(&pdf);
        let pages = parsed.pages();
        assert_eq!(pages.len(), 2, "nine cards a page");
        assert!(parsed.text(2).contains("/Count 2"));
        let (regular, bold) = fonts(&parsed);
        assert!(regular.len() > 300 && bold.len() > 300);
        let mut n = 0;
        for (media, content) in &pages {
            assert_eq!(media, "0 0 595.276 841.89");
            let text = page_text(content, &regular, &bold);
            let codes = page_qr_codes(content);
            let on_page = text.len() / 7;
            assert_eq!(codes.len(), on_page);
            for (k, lines) in text.chunks(7).enumerate() {
                let card = &cards[n];
                let want: Vec<String> = Layout::of(&card.text())
                    .lines
                    .into_iter()
                    .map(|l| l.text)
                    .collect();
                assert_eq!(lines, &want[..], "card {n}");
                assert_eq!(codes[k], card.qr_payload(), "card {n}");
                n += 1;
            }
        }
        assert_eq!(n, 11, "every card printed once, in order");
        // The fonts are embedded, with their licence-compatible names.
        assert!(
            (1..=parsed.objects.len()).any(|i| parsed.objects[&i] == super::super::font::SANS_TTF)
        );
    }

    #[test]
    fn letter_paper_and_limits() {
        let one = pdf(Paper::Letter, &[sample()]).unwrap();
        let parsed = parse(&one);
        let pages = parsed.pages();
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].0, "0 0 612 792");
        // Every card fits inside the page's margins.
        for line in pages[0].1.lines().filter(|l| l.ends_with(" re")) {
            let v: Vec<f32> = line
                .split(' ')
                .take(4)
                .map(|x| x.parse().unwrap())
                .collect();
            assert!(
                v[0] >= MARGIN - 0.01 && v[0] + v[2] <= 612.0 - MARGIN + 0.01,
                "{line}"
            );
            assert!(
                v[1] >= MARGIN - 0.01 && v[1] + v[3] <= 792.0 - MARGIN + 0.01,
                "{line}"
            );
        }
        assert_eq!(pdf(Paper::A4, &[]), Err(SheetError::Empty));
        let many = vec![sample(); MAX_CARDS + 1];
        assert_eq!(
            pdf(Paper::A4, &many),
            Err(SheetError::TooMany(MAX_CARDS + 1))
        );
        assert!(pdf(Paper::A4, &many[..MAX_CARDS]).is_ok());
        assert_eq!(Paper::parse(" LETTER "), Some(Paper::Letter));
        assert_eq!(Paper::parse("a4"), Some(Paper::A4));
        assert_eq!(Paper::parse("a5"), None);
        assert_eq!(
            SheetError::TooMany(501).to_string(),
            "too many cards for one sheet: 501 (at most 500)"
        );
    }
}
