//! The host's welcome text and terms: a small, safe Markdown subset rendered to HTML.
//!
//! What a host can write (and nothing else):
//!
//! * paragraphs, separated by a blank line; a single line break is kept as a line break
//!   (hosts type house info line by line: "Wi-Fi: …", "Check-out: 11:00");
//! * lists: lines starting with `- ` or `* ` (bullets) or `1. ` / `1) ` (numbered); an
//!   indented line continues the item above;
//! * `**bold**` (within one line);
//! * links `[text](https://…)`, to `http(s)`, `mailto:` and `tel:` addresses only;
//! * a backslash before `*`, `[`, `]`, `(`, `)` or `\` prints that character.
//!
//! Everything else is text: it is escaped by maud, so no HTML can pass through. [`parse`] is
//! the strict check run when the host saves (a clear [`MarkdownError`] for HTML tags, an
//! unclosed `**`, a broken or forbidden link, control characters, too much text);
//! [`to_html`] renders stored text and never fails (text that no longer parses is shown as
//! plain escaped paragraphs).

use maud::{html, Markup};

/// Longest welcome text, in bytes of UTF-8.
pub const MAX_WELCOME_BYTES: usize = 8 * 1024;
/// Longest terms text, in bytes of UTF-8.
pub const MAX_TERMS_BYTES: usize = 64 * 1024;
/// Most links in one text.
pub const MAX_LINKS: usize = 50;
/// Longest link target.
pub const MAX_URL: usize = 2048;

/// Why a text is refused; `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkdownError {
    #[error("the text is too long: {len} bytes (at most {max})")]
    TooLong { len: usize, max: usize },
    #[error("line {line}: control characters are not allowed")]
    ControlCharacter { line: usize },
    #[error(
        "line {line}: HTML is not allowed; use **bold**, [text](https://…) and lists starting with \"- \""
    )]
    Html { line: usize },
    #[error("line {line}: \"**\" starts bold text that is not closed on the same line")]
    UnclosedBold { line: usize },
    #[error("line {line}: a link is written [text](https://…), with the text and the address")]
    BrokenLink { line: usize },
    #[error(
        "line {line}: links can only go to https://, http://, mailto: or tel: addresses, not \"{target}\""
    )]
    ForbiddenLink { line: usize, target: String },
    #[error("too many links: {count} (at most {MAX_LINKS})")]
    TooManyLinks { count: usize },
}

/// A parsed text: blocks of inline runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    /// Lines of a paragraph (shown with line breaks between them).
    Paragraph(Vec<Vec<Inline>>),
    Bullets(Vec<Vec<Inline>>),
    Numbered(Vec<Vec<Inline>>),
}

#[derive(Debug, Clone, PartialEq)]
enum Inline {
    Text(String),
    Bold(Vec<Inline>),
    Link { text: String, href: String },
}

/// Check and parse `src`, at most `max_bytes` long.
pub fn parse(src: &str, max_bytes: usize) -> Result<Doc, MarkdownError> {
    if src.len() > max_bytes {
        return Err(MarkdownError::TooLong {
            len: src.len(),
            max: max_bytes,
        });
    }
    let src = normalize_newlines(src);
    let mut links = 0usize;
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (i, raw) in src.split('\n').enumerate() {
        let line_no = i + 1;
        if raw
            .chars()
            .any(|c| c.is_control() && c != '\t' || is_invisible_format(c))
        {
            return Err(MarkdownError::ControlCharacter { line: line_no });
        }
        if looks_like_html(raw) {
            return Err(MarkdownError::Html { line: line_no });
        }
        if raw.trim().is_empty() {
            blocks.extend(current.take());
            continue;
        }
        let continues_item = raw.starts_with([' ', '\t'])
            && matches!(current, Some(Block::Bullets(_) | Block::Numbered(_)));
        let (kind, content) = if continues_item {
            (Kind::Continuation, raw.trim())
        } else {
            classify(raw.trim())
        };
        let runs = inline(content, line_no, &mut links)?;
        match (kind, &mut current) {
            (Kind::Continuation, Some(Block::Bullets(items) | Block::Numbered(items))) => {
                let last = items.last_mut().expect("a list block has an item");
                last.push(Inline::Text(" ".into()));
                last.extend(runs);
            }
            (Kind::Bullet, Some(Block::Bullets(items)))
            | (Kind::Number, Some(Block::Numbered(items))) => items.push(runs),
            (Kind::Text | Kind::Continuation, Some(Block::Paragraph(lines))) => lines.push(runs),
            (kind, cur) => {
                blocks.extend(cur.take());
                current = Some(match kind {
                    Kind::Bullet => Block::Bullets(vec![runs]),
                    Kind::Number => Block::Numbered(vec![runs]),
                    Kind::Text | Kind::Continuation => Block::Paragraph(vec![runs]),
                });
            }
        }
    }
    blocks.extend(current);
    if links > MAX_LINKS {
        return Err(MarkdownError::TooManyLinks { count: links });
    }
    Ok(Doc { blocks })
}

/// Render stored text; text that does not parse (limits changed, an old row) is shown as
/// escaped plain paragraphs. `max_bytes` as for [`parse`]; longer text is cut.
pub fn to_html(src: &str, max_bytes: usize) -> Markup {
    match parse(src, max_bytes) {
        Ok(doc) => doc.render(),
        Err(_) => {
            let mut cut = src;
            if cut.len() > max_bytes {
                let mut end = max_bytes;
                while !cut.is_char_boundary(end) {
                    end -= 1;
                }
                cut = &cut[..end];
            }
            let text = normalize_newlines(cut);
            let text: String = text
                .chars()
                .filter(|c| (!c.is_control() || *c == '\n') && !is_invisible_format(*c))
                .collect();
            html! {
                @for para in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
                    p {
                        @for (i, line) in para.trim().split('\n').enumerate() {
                            @if i > 0 { br; }
                            (line)
                        }
                    }
                }
            }
        }
    }
}

impl Doc {
    /// The HTML: `p`, `br`, `ul`, `ol`, `li`, `strong` and `a` elements, every text escaped.
    pub fn render(&self) -> Markup {
        html! {
            @for block in &self.blocks {
                @match block {
                    Block::Paragraph(lines) => p {
                        @for (i, line) in lines.iter().enumerate() {
                            @if i > 0 { br; }
                            (runs(line))
                        }
                    },
                    Block::Bullets(items) => ul { @for item in items { li { (runs(item)) } } },
                    Block::Numbered(items) => ol { @for item in items { li { (runs(item)) } } },
                }
            }
        }
    }

    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

fn runs(items: &[Inline]) -> Markup {
    html! {
        @for item in items {
            @match item {
                Inline::Text(t) => (t),
                Inline::Bold(inner) => strong { (runs(inner)) },
                Inline::Link { text, href } => a href=(href) rel="nofollow noopener noreferrer" { (text) },
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bullet,
    Number,
    Continuation,
}

/// A trimmed line: list marker or text, and the content after the marker.
fn classify(line: &str) -> (Kind, &str) {
    for marker in ["- ", "* ", "• "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return (Kind::Bullet, rest.trim_start());
        }
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return (Kind::Number, rest.trim_start());
        }
    }
    (Kind::Text, line)
}

fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Bidirectional overrides and zero-width characters that can disguise text.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{FEFF}')
}

/// `<` followed by a letter, `/`, `!` or `?`: the start of a tag, comment or declaration.
fn looks_like_html(line: &str) -> bool {
    let b = line.as_bytes();
    b.windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'?')))
        || line.contains("&#")
}

/// Inline runs of one line.
fn inline(s: &str, line: usize, links: &mut usize) -> Result<Vec<Inline>, MarkdownError> {
    let mut out = Vec::new();
    let mut text = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    // While bold is open: the runs before it (`out` then collects the bold ones).
    let mut bold: Option<Vec<Inline>> = None;
    // `text` and `out` belong to the innermost open run (bold or the line).
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len()
                && matches!(chars[i + 1], '*' | '[' | ']' | '(' | ')' | '\\') =>
            {
                text.push(chars[i + 1]);
                i += 2;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                match bold.take() {
                    None => {
                        flush(&mut text, &mut out);
                        bold = Some(std::mem::take(&mut out));
                    }
                    Some(outer) => {
                        flush(&mut text, &mut out);
                        let inner = std::mem::replace(&mut out, outer);
                        if !inner.is_empty() {
                            out.push(Inline::Bold(inner));
                        }
                    }
                }
                i += 2;
            }
            '[' => match link_at(&chars, i, line)? {
                Some((link_text, href, next)) => {
                    *links += 1;
                    flush(&mut text, &mut out);
                    out.push(Inline::Link {
                        text: link_text,
                        href,
                    });
                    i = next;
                }
                None => {
                    text.push('[');
                    i += 1;
                }
            },
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    if bold.is_some() {
        return Err(MarkdownError::UnclosedBold { line });
    }
    flush(&mut text, &mut out);
    Ok(out)
}

fn flush(text: &mut String, out: &mut Vec<Inline>) {
    if !text.is_empty() {
        out.push(Inline::Text(std::mem::take(text)));
    }
}

/// A link starting at `chars[start] == '['`: `Some((text, href, index after it))`; `None`
/// when the brackets are not a link (`[sic]`); an error when it is one, but broken.
fn link_at(
    chars: &[char],
    start: usize,
    line: usize,
) -> Result<Option<(String, String, usize)>, MarkdownError> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Ok(None),
            Some('\\') if i + 1 < chars.len() => {
                text.push(chars[i + 1]);
                i += 2;
            }
            Some(']') => break,
            Some('[') => return Ok(None),
            Some(c) => {
                text.push(*c);
                i += 1;
            }
        }
    }
    // `i` is at `]`.
    if chars.get(i + 1) != Some(&'(') {
        return Ok(None);
    }
    let url_start = i + 2;
    let Some(len) = chars[url_start..].iter().position(|c| *c == ')') else {
        return Err(MarkdownError::BrokenLink { line });
    };
    let target: String = chars[url_start..url_start + len].iter().collect();
    let text = text.trim().to_owned();
    if text.is_empty() || target.trim().is_empty() || text.contains("**") {
        return Err(MarkdownError::BrokenLink { line });
    }
    let href = safe_href(target.trim()).ok_or_else(|| MarkdownError::ForbiddenLink {
        line,
        target: target.trim().chars().take(60).collect(),
    })?;
    Ok(Some((text, href, url_start + len + 1)))
}

/// A link target the portal will print: absolute `http(s)` with a host and no credentials,
/// `mailto:` with an address, or `tel:` with a number. Normalised by the URL parser.
pub fn safe_href(raw: &str) -> Option<String> {
    if raw.len() > MAX_URL
        || raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() && !raw.starts_with("tel:"))
    {
        return None;
    }
    let lower = raw.to_ascii_lowercase();
    if let Some(number) = lower.strip_prefix("tel:") {
        let digits: String = number
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let ok = !digits.is_empty()
            && digits.len() <= 32
            && digits
                .char_indices()
                .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+'))
            && digits.chars().any(|c| c.is_ascii_digit());
        return ok.then(|| format!("tel:{digits}"));
    }
    let url = url::Url::parse(raw).ok()?;
    match url.scheme() {
        "http" | "https" => {
            let has_host = url.host_str().is_some_and(|h| !h.is_empty());
            let creds = !url.username().is_empty() || url.password().is_some();
            (has_host && !creds).then(|| url.to_string())
        }
        "mailto" => {
            let addr = url.path();
            let ok = addr.contains('@') && !addr.starts_with('@') && !addr.ends_with('@');
            ok.then(|| url.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn render(src: &str) -> String {
        parse(src, MAX_WELCOME_BYTES)
            .unwrap()
            .render()
            .into_string()
    }

    #[test]
    fn the_subset() {
        assert_eq!(render("Hello"), "<p>Hello</p>");
        assert_eq!(
            render("Welcome!\nWi-Fi: Beach\n\nEnjoy."),
            "<p>Welcome!<br>Wi-Fi: Beach</p><p>Enjoy.</p>"
        );
        assert_eq!(
            render("Rules:\n- no **parties**\n- quiet after 22:00\n  please\n\n1. one\n2) two"),
            "<p>Rules:</p><ul><li>no <strong>parties</strong></li><li>quiet after 22:00 please</li></ul>\
             <ol><li>one</li><li>two</li></ol>"
        );
        assert_eq!(
            render("Call [me](tel:+49 30 1234-5) or [mail](mailto:host@example.com), see [the map](https://example.com/a?b=1&c=2)."),
            "<p>Call <a href=\"tel:+493012345\" rel=\"nofollow noopener noreferrer\">me</a> or \
             <a href=\"mailto:host@example.com\" rel=\"nofollow noopener noreferrer\">mail</a>, see \
             <a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow noopener noreferrer\">the map</a>.</p>"
        );
        assert_eq!(
            render("**[x](https://a.example)** and [sic] and 2 * 3 and \\*\\*not bold\\*\\*"),
            "<p><strong><a href=\"https://a.example/\" rel=\"nofollow noopener noreferrer\">x</a></strong> \
             and [sic] and 2 * 3 and **not bold**</p>"
        );
        // Text that looks like markup but is not HTML stays text, escaped.
        assert_eq!(
            render("5 < 6 & \"quotes\" > 'apostrophes'"),
            "<p>5 &lt; 6 &amp; &quot;quotes&quot; &gt; 'apostrophes'</p>"
        );
        assert!(parse("", MAX_WELCOME_BYTES).unwrap().is_empty());
        assert!(parse("\n\n  \n", MAX_WELCOME_BYTES).unwrap().is_empty());
    }

    #[test]
    fn bad_input_gets_a_clear_error() {
        let p = |s: &str| parse(s, MAX_WELCOME_BYTES).unwrap_err();
        assert_eq!(p("ok\n<b>bold</b>"), MarkdownError::Html { line: 2 });
        assert_eq!(
            p("<script>alert(1)</script>"),
            MarkdownError::Html { line: 1 }
        );
        assert_eq!(p("a <!-- c -->"), MarkdownError::Html { line: 1 });
        assert_eq!(p("&#60;script&#62;"), MarkdownError::Html { line: 1 });
        assert_eq!(p("a\n\n**bold"), MarkdownError::UnclosedBold { line: 3 });
        assert_eq!(
            p("[text](https://x.example"),
            MarkdownError::BrokenLink { line: 1 }
        );
        assert_eq!(
            p("[](https://x.example)"),
            MarkdownError::BrokenLink { line: 1 }
        );
        assert_eq!(p("[x]()"), MarkdownError::BrokenLink { line: 1 });
        assert_eq!(
            p("[x](javascript:alert(1))"),
            MarkdownError::ForbiddenLink {
                line: 1,
                target: "javascript:alert(1".into()
            }
        );
        for bad in [
            "[x](/relative)",
            "[x](//evil.example/)",
            "[x](data:text/html,hi)",
            "[x](https://user:pw@evil.example/)",
            "[x](mailto:nobody)",
            "[x](tel:call-me)",
            "[x](ftp://files.example/)",
            "[x](https://a.example/ b)",
        ] {
            assert!(
                matches!(p(bad), MarkdownError::ForbiddenLink { line: 1, .. }),
                "{bad}: {:?}",
                parse(bad, MAX_WELCOME_BYTES)
            );
        }
        assert_eq!(p("bell\u{7}"), MarkdownError::ControlCharacter { line: 1 });
        assert_eq!(
            p("rtl \u{202E}txt"),
            MarkdownError::ControlCharacter { line: 1 }
        );
        assert_eq!(
            parse(&"a".repeat(9000), MAX_WELCOME_BYTES).unwrap_err(),
            MarkdownError::TooLong {
                len: 9000,
                max: MAX_WELCOME_BYTES
            }
        );
        let many = "[a](https://a.example) ".repeat(MAX_LINKS + 1);
        assert_eq!(
            parse(&many, MAX_TERMS_BYTES).unwrap_err(),
            MarkdownError::TooManyLinks {
                count: MAX_LINKS + 1
            }
        );
        // The messages say what to change.
        assert_eq!(
            MarkdownError::UnclosedBold { line: 3 }.to_string(),
            "line 3: \"**\" starts bold text that is not closed on the same line"
        );
        // CRLF is a line break, not a control character.
        assert_eq!(render("a\r\nb"), "<p>a<br>b</p>");
    }

    #[test]
    fn stored_text_that_no_longer_parses_is_shown_as_text() {
        let html = to_html("<b>hi</b>\n\n**open", MAX_WELCOME_BYTES).into_string();
        assert_eq!(html, "<p>&lt;b&gt;hi&lt;/b&gt;</p><p>**open</p>");
        let html = to_html(&"é".repeat(10), 7).into_string();
        assert_eq!(html, "<p>ééé</p>", "cut on a character boundary");
    }

    /// The allowed output, checked by a tiny scanner: only these tags, balanced, and every
    /// `href` a safe scheme.
    fn check_output(html: &str) -> Result<(), String> {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            let end = rest[at..].find('>').ok_or("unclosed tag")? + at;
            let tag = &rest[at + 1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop() != Some(name) {
                    return Err(format!("unbalanced </{name}>"));
                }
                continue;
            }
            let name = tag.split(' ').next().unwrap();
            match name {
                "br" => {}
                "p" | "ul" | "ol" | "li" | "strong" if tag == name => stack.push(name),
                "a" => {
                    let href = tag
                        .strip_prefix("a href=\"")
                        .and_then(|t| t.strip_suffix("\" rel=\"nofollow noopener noreferrer\""))
                        .ok_or(format!("odd <{tag}>"))?;
                    if href.contains('"') || href.contains('<') {
                        return Err(format!("href {href}"));
                    }
                    if !["https://", "http://", "mailto:", "tel:"]
                        .iter()
                        .any(|s| href.starts_with(s))
                    {
                        return Err(format!("href scheme {href}"));
                    }
                    stack.push("a");
                }
                _ => return Err(format!("tag <{tag}>")),
            }
        }
        if stack.is_empty() {
            Ok(())
        } else {
            Err(format!("unclosed {stack:?}"))
        }
    }

    fn markdownish() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("**".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("\n".to_owned()),
            Just("\n\n".to_owned()),
            Just("- ".to_owned()),
            Just("1. ".to_owned()),
            Just("  ".to_owned()),
            Just("\\".to_owned()),
            Just("<".to_owned()),
            Just(">".to_owned()),
            Just("&".to_owned()),
            Just("\"".to_owned()),
            Just("<script>".to_owned()),
            Just("javascript:".to_owned()),
            Just("https://a.example/x?y=\"z\"".to_owned()),
            Just("mailto:a@b.example".to_owned()),
            Just("tel:+1 555".to_owned()),
            "[a-zA-Zéü ]{0,8}",
            any::<char>().prop_map(|c| c.to_string()),
        ];
        prop::collection::vec(atom, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the host types, the page gets only the allowed elements, balanced, with
        /// safe links — whether it parses or falls back to plain text.
        #[test]
        fn output_is_always_safe(src in markdownish()) {
            let html = to_html(&src, MAX_WELCOME_BYTES).into_string();
            prop_assert!(check_output(&html).is_ok(), "{:?} -> {} : {:?}", src, html, check_output(&html));
            if let Ok(doc) = parse(&src, MAX_WELCOME_BYTES) {
                prop_assert_eq!(doc.render().into_string(), html);
            }
        }

        /// Any input at all: no panic, and the same guarantees.
        #[test]
        fn arbitrary_strings(src in any::<String>()) {
            let html = to_html(&src, MAX_WELCOME_BYTES).into_string();
            prop_assert!(check_output(&html).is_ok(), "{:?} -> {}", src, html);
        }

        /// Plain words come out as the same words.
        #[test]
        fn plain_text_is_kept(words in prop::collection::vec("[a-zA-Z0-9éöñç,.!?]{1,10}", 1..20)) {
            // "12. word" opens an ordered list: that is Markdown, not plain prose.
            let first = &words[0];
            let digits = first.strip_suffix('.').unwrap_or("");
            prop_assume!(digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()));
            let src = words.join(" ");
            prop_assert_eq!(render(&src), format!("<p>{src}</p>"));
        }

        /// Links to safe places always survive, whatever their text.
        #[test]
        fn safe_links_render(text in "[a-zA-Z0-9 ]{1,12}", path in "[a-z0-9/]{0,12}") {
            prop_assume!(!text.trim().is_empty());
            let src = format!("[{text}](https://host.example/{path})");
            let html = render(&src);
            let want = format!("href=\"https://host.example/{path}\"");
            prop_assert!(html.contains(&want), "{}", html);
            prop_assert!(html.contains(&format!(">{}</a>", text.trim())), "{}", html);
        }
    }
}
