//! Terms of use served by the portal itself (a guest cannot open an outside link before they
//! are online), identified by the SHA-256 of their text so that a consent record names
//! exactly the words the guest accepted.
//!
//! The text is the same Markdown subset as the welcome text ([`super::markdown`]), up to
//! [`MAX_TERMS_BYTES`]. It is normalised before hashing (line endings to `\n`, surrounding
//! blank space removed), so saving the same terms from Windows or Linux gives one hash.

use sha2::{Digest, Sha256};

use super::markdown::{self, MarkdownError, MAX_TERMS_BYTES};

/// Terms as stored: the normalised text and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub text: String,
    /// Lower-case hex SHA-256 of `text` (UTF-8).
    pub sha256: String,
}

impl Terms {
    /// Check and normalise terms a host saves; `Ok(None)` for an empty text (no terms: the
    /// portal shows no checkbox).
    pub fn new(raw: &str) -> Result<Option<Terms>, MarkdownError> {
        let text = normalize(raw);
        if text.is_empty() {
            return Ok(None);
        }
        markdown::parse(&text, MAX_TERMS_BYTES)?;
        Ok(Some(Terms {
            sha256: sha256_hex(&text),
            text,
        }))
    }
}

/// Line endings to `\n`, trailing blanks on each line and blank lines around the text removed.
pub fn normalize(raw: &str) -> String {
    let unix = raw.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = unix.split('\n').map(str::trim_end).collect();
    lines.join("\n").trim_matches('\n').to_owned()
}

/// Lower-case hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_of_the_normalised_text() {
        let t = Terms::new("No parties.\r\n\r\n- Quiet after 22:00  \r\n")
            .unwrap()
            .unwrap();
        assert_eq!(t.text, "No parties.\n\n- Quiet after 22:00");
        assert_eq!(t.sha256, sha256_hex("No parties.\n\n- Quiet after 22:00"));
        // Known vector: SHA-256("abc").
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // The same words from another system hash the same; other words do not.
        let unix = Terms::new("No parties.\n\n- Quiet after 22:00\n")
            .unwrap()
            .unwrap();
        assert_eq!(unix.sha256, t.sha256);
        let other = Terms::new("No parties!\n\n- Quiet after 22:00")
            .unwrap()
            .unwrap();
        assert_ne!(other.sha256, t.sha256);
    }

    #[test]
    fn empty_means_no_terms_and_bad_text_is_refused() {
        assert_eq!(Terms::new(""), Ok(None));
        assert_eq!(Terms::new(" \r\n \n"), Ok(None));
        assert_eq!(
            Terms::new("ok\n<iframe src=x>"),
            Err(MarkdownError::Html { line: 2 })
        );
        let long = "a".repeat(MAX_TERMS_BYTES + 1);
        assert!(matches!(
            Terms::new(&long),
            Err(MarkdownError::TooLong { .. })
        ));
        // Terms may be much longer than a welcome text.
        assert!(Terms::new(&"word ".repeat(10_000)).unwrap().is_some());
    }
}
