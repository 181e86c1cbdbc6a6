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
        self.spelled(b':', b"0123456789abcdef").as_str().to_owned()
    }

    /// The six octets in hex with `sep` between them, on the stack. Why not `write!` with
    /// `{:02X}`: a MAC is formatted on every redemption (SQL parameters, the controller call,
    /// the audit row), and the formatting machinery's padding per octet cost ~2 % of the
    /// store writer's time in the `redeem` benchmark (issue 11).
    fn spelled(&self, sep: u8, digits: &[u8; 16]) -> MacText {
        let mut buf = [sep; 17];
        for (i, o) in self.0.iter().enumerate() {
            buf[3 * i] = digits[usize::from(o >> 4)];
            buf[3 * i + 1] = digits[usize::from(o & 0xf)];
        }
        MacText(buf)
    }
}

/// A MAC spelled out (17 ASCII bytes), see [`Mac::spelled`].
struct MacText([u8; 17]);

impl MacText {
    fn as_str(&self) -> &str {
        // Hex digits and the separator only: always ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
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
        // `pad` honours a width or alignment a caller asks for, as `write!` did.
        f.pad(self.spelled(b'-', b"0123456789ABCDEF").as_str())
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

    #[test]
    fn spells_every_octet_in_both_forms() {
        let m: Mac = "00-09-0A-7F-A5-FF".parse().unwrap();
        assert_eq!(m.to_string(), "00-09-0A-7F-A5-FF");
        assert_eq!(m.colon_lower(), "00:09:0a:7f:a5:ff");
        assert_eq!(format!("{m:?}"), "00-09-0A-7F-A5-FF");
        // Width and alignment are honoured, as they were with `write!`.
        assert_eq!(format!("[{m:>19}]"), "[  00-09-0A-7F-A5-FF]");
        assert_eq!(format!("[{m:<18}]"), "[00-09-0A-7F-A5-FF ]");
        for o in 0..=255u8 {
            let m = Mac([o, 0, 0, 0, 0, o]);
            let s = m.to_string();
            assert_eq!(&s[..2], format!("{o:02X}"));
            assert_eq!(s.parse::<Mac>().unwrap(), m);
        }
    }
}
