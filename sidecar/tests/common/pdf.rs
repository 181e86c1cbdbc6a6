//! Reading the print sheets the sidecar writes (`GET /api/v1/units/{unit_id}/cards.pdf`):
//! each page's text, decoded through the fonts' `ToUnicode` maps.

use super::app::TestApp;

/// The text of each page of a card sheet: its content streams decoded through each font's
/// `ToUnicode` map (enough of a PDF reader for the sheets the sidecar writes).
pub fn pdf_pages(pdf: &[u8]) -> Vec<String> {
    use std::collections::HashMap;
    use std::io::Read;
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut objects: HashMap<usize, Vec<u8>> = HashMap::new();
    let mut at = 0;
    while let Some(start) = find(pdf, b" 0 obj\n", at) {
        let num_start = pdf[..start]
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |p| p + 1);
        let n: usize = std::str::from_utf8(&pdf[num_start..start])
            .unwrap()
            .parse()
            .unwrap();
        let body_start = start + 7;
        let end = find(pdf, b"\nendobj\n", body_start).unwrap();
        let body = &pdf[body_start..end];
        let data = match find(body, b"stream\n", 0) {
            Some(s) => {
                let raw = &body[s + 7..body.len() - b"\nendstream".len()];
                let mut out = Vec::new();
                flate2::read::ZlibDecoder::new(raw)
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            None => body.to_vec(),
        };
        objects.insert(n, data);
        at = end;
    }
    let text = |n: usize| String::from_utf8_lossy(&objects[&n]).into_owned();
    let refnum = |s: &str, key: &str| -> usize {
        s.split(key)
            .nth(1)
            .unwrap()
            .trim()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let cmap = |font: usize| -> HashMap<String, char> {
        let map = text(refnum(&text(font), "/ToUnicode "));
        map.lines()
            .filter_map(|l| {
                let (g, u) = l.strip_prefix('<')?.split_once("> <")?;
                let u = u.strip_suffix('>')?;
                let c = char::from_u32(u32::from_str_radix(u, 16).ok()?)?;
                Some((g.to_owned(), c))
            })
            .collect()
    };
    let kids = text(2);
    let kids = kids
        .split("/Kids [")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
    kids.split(" 0 R")
        .filter(|k| !k.trim().is_empty())
        .map(|k| {
            let page = text(k.trim().parse().unwrap());
            let fonts = [
                ("F1", cmap(refnum(&page, "/F1 "))),
                ("F2", cmap(refnum(&page, "/F2 "))),
            ];
            let content = text(refnum(&page, "/Contents "));
            let mut out = String::new();
            for line in content.lines().filter(|l| l.ends_with("Tj ET")) {
                let map = &fonts
                    .iter()
                    .find(|(f, _)| line.contains(&format!("/{f} ")))
                    .unwrap()
                    .1;
                let hex = line.split('<').nth(1).unwrap().split('>').next().unwrap();
                for i in (0..hex.len()).step_by(4) {
                    out.push(*map.get(&hex[i..i + 4]).unwrap_or(&'?'));
                }
                out.push('\n');
            }
            format!(
                "MediaBox [{}]\n{out}",
                page.split("/MediaBox [")
                    .nth(1)
                    .unwrap()
                    .split(']')
                    .next()
                    .unwrap()
            )
        })
        .collect()
}

/// `GET path` with the token: status, headers and the body's bytes.
pub async fn get_pdf(app: &TestApp, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = app
        .http
        .get(app.url(path))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}
