//! Network identifiers that cross every layer: client/AP/gateway MAC addresses.
//!
//! Controllers send MACs as `AA-BB-CC-DD-EE-FF` (observed captures), guests' redirects may
//! carry colons or lower case. Everything inside the sidecar holds the one canonical form,
//! upper-case hyphenated, which is also what Omada's Open API wants in paths.

use std::fmt;
use std::str::FromStr;

/// A 48-bit MAC address in canonical form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac([u8; 6]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a MAC address")]
pub struct MacError;

impl Mac {
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
    /// `aa:bb:cc:dd:ee:ff`, the form Home Assistant and most tools show.
    pub fn colon_lower(&self) -> String {
        let o = self.0;
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl FromStr for Mac {
    type Err = MacError;
    /// Accepts `AA-BB-CC-DD-EE-FF`, `aa:bb:cc:dd:ee:ff`, `aabb.ccdd.eeff` and `AABBCCDDEEFF`.
    fn from_str(s: &str) -> Result<Self, MacError> {
        let s = s.trim();
        if s.len() > 17 {
            return Err(MacError);
        }
        let mut out = [0u8; 6];
        let mut n = 0usize;
        let mut hi: Option<u8> = None;
        for c in s.bytes() {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                b'-' | b':' | b'.' => {
                    if hi.is_some() {
                        return Err(MacError);
                    }
                    continue;
                }
                _ => return Err(MacError),
            };
            match hi.take() {
                None => hi = Some(v),
                Some(h) => {
                    if n == 6 {
                        return Err(MacError);
                    }
                    out[n] = h << 4 | v;
                    n += 1;
                }
            }
        }
        if n != 6 || hi.is_some() {
            return Err(MacError);
        }
        // Separators must be consistent with a real MAC layout; reject things like "a-abbccddeeff".
        let seps: Vec<usize> = s
            .bytes()
            .enumerate()
            .filter(|(_, c)| matches!(c, b'-' | b':' | b'.'))
            .map(|(i, _)| i)
            .collect();
        let ok = seps.is_empty() || seps == [2, 5, 8, 11, 14] || seps == [4, 9];
        if !ok {
            return Err(MacError);
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling_to_one_form() {
        for s in [
            "AA-BB-CC-0D-EE-FF",
            "aa:bb:cc:0d:ee:ff",
            "aabb.cc0d.eeff",
            "AABBCC0DEEFF",
            " aa-BB-cc-0d-EE-ff ",
        ] {
            assert_eq!(
                s.parse::<Mac>().unwrap().to_string(),
                "AA-BB-CC-0D-EE-FF",
                "{s}"
            );
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "AA-BB-CC-DD-EE",
            "AA-BB-CC-DD-EE-FF-00",
            "GG-BB-CC-DD-EE-FF",
            "A-ABB-CC-DD-EE-FF",
            "AA--BBCCDDEEFF",
            "AABBCCDDEEF",
        ] {
            assert!(s.parse::<Mac>().is_err(), "{s}");
        }
    }
}
