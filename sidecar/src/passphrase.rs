//! Wi-Fi passwords for password-mode units (issue 18): one WPA2 passphrase per booking or
//! voucher, made of words so that a guest can read it aloud and type it on a TV remote.
//!
//! **What a password looks like.** Six lowercase English words joined by hyphens, e.g.
//! `lunar-cider-plank-agent-ivory-crisp`: 23 to 35 characters (WPA2 wants 8–63, Omada's
//! `PpskSetting.psk` "8 to 63 visible ASCII characters"). Each word is drawn uniformly, from
//! the operating system's random number generator, out of 1,476 words of 3–5 letters taken
//! from the EFF's large diceware list (`sidecar/assets/wordlists/README.md`), so a password
//! carries 6 × log2(1476) ≈ 63.2 bits of entropy, above the 60 bits issue 18 asks for.
//!
//! **Why these choices.** Short common words keep the on-screen-keyboard work low (a TV
//! remote types one letter per several key presses: 6 short words ≈ 32 characters, where
//! 5 words of the full EFF list, also > 60 bits, average ≈ 39 characters); lowercase letters
//! only, because switching to capitals or digits is a separate keyboard page on most TVs; a
//! hyphen because a space is allowed by Omada's pattern but not by its text ("visible"
//! characters, research §1.2), and a hyphen needs no escaping in the Wi-Fi QR code. Digits
//! would add entropy per character but cost a keyboard switch each.
//!
//! [`WifiPassword`] is a secret: its `Debug` is redacted, it has no `Display` and no
//! `Serialize`, so it reaches a log line or a JSON body only through an explicit
//! [`WifiPassword::expose`].

use std::sync::OnceLock;

/// Words per generated password.
pub const WORDS: usize = 6;
/// Between two words.
pub const SEPARATOR: char = '-';
/// Shortest and longest passphrase WPA2 (and Omada's `psk` field) accept.
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 63;

const WORD_LIST: &str = include_str!("../assets/wordlists/eff-large-short-words.txt");

/// The embedded word list (1,476 words of 3–5 lowercase letters).
pub fn words() -> &'static [&'static str] {
    static WORDS_CELL: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS_CELL.get_or_init(|| {
        WORD_LIST
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect()
    })
}

/// Bits of entropy of a password of `n` words drawn uniformly from [`words`].
pub fn entropy_bits(n: usize) -> f64 {
    n as f64 * (words().len() as f64).log2()
}

/// Why a string is not a usable Wi-Fi password. The message never contains the password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a Wi-Fi password has 8 to 63 characters (this one has {0})")]
    Length(usize),
    #[error("a Wi-Fi password may only contain visible ASCII characters (letters, digits, punctuation; no spaces)")]
    Characters,
}

/// A WPA2 passphrase: 8–63 visible ASCII characters. A secret (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub struct WifiPassword(String);

impl WifiPassword {
    /// A fresh password of [`WORDS`] words (≈ 63 bits).
    pub fn generate() -> WifiPassword {
        let list = words();
        let mut out = String::with_capacity(WORDS * 6);
        for i in 0..WORDS {
            if i > 0 {
                out.push(SEPARATOR);
            }
            out.push_str(list[uniform_index(list.len())]);
        }
        WifiPassword(out)
    }

    /// Check a password that came from elsewhere (the host, the controller). Only visible
    /// ASCII (0x21–0x7E) is accepted: Omada documents "visible ASCII", and every phone and
    /// TV can type it.
    pub fn new(s: impl Into<String>) -> Result<WifiPassword, PasswordError> {
        let s = s.into();
        let n = s.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&n) {
            return Err(PasswordError::Length(n));
        }
        if !s.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(PasswordError::Characters);
        }
        Ok(WifiPassword(s))
    }

    /// The password itself, for the one place that must send or show it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WifiPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WifiPassword(***)")
    }
}

/// A uniform index in `0..n` (n ≤ 65 536) from the OS random number generator, by rejection
/// sampling (no modulo bias).
fn uniform_index(n: usize) -> usize {
    assert!(n > 0 && n <= 1 << 16);
    let limit = (1u32 << 16) - ((1u32 << 16) % n as u32);
    loop {
        let mut b = [0u8; 2];
        getrandom::fill(&mut b).expect("OS random number generator unavailable");
        let v = u16::from_le_bytes(b) as u32;
        if v < limit {
            return (v % n as u32) as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_word_list_is_what_the_docs_say() {
        let w = words();
        assert_eq!(w.len(), 1476);
        assert_eq!(
            w.iter().collect::<HashSet<_>>().len(),
            w.len(),
            "no duplicates"
        );
        assert!(w
            .iter()
            .all(|x| (3..=5).contains(&x.len()) && x.bytes().all(|b| b.is_ascii_lowercase())));
    }

    #[test]
    fn passwords_have_enough_entropy_and_fit_wpa2() {
        assert!(entropy_bits(WORDS) >= 60.0, "{}", entropy_bits(WORDS));
        assert!(
            entropy_bits(WORDS - 1) < 60.0,
            "six words are needed, not fewer"
        );
        // Bounds by construction: shortest and longest words.
        let shortest = WORDS * 3 + (WORDS - 1);
        let longest = WORDS * 5 + (WORDS - 1);
        assert!(shortest >= MIN_LEN && longest <= MAX_LEN);
        for _ in 0..500 {
            let p = WifiPassword::generate();
            let s = p.expose();
            assert!((shortest..=longest).contains(&s.len()), "{s}");
            let parts: Vec<&str> = s.split(SEPARATOR).collect();
            assert_eq!(parts.len(), WORDS);
            assert!(parts.iter().all(|x| words().contains(x)));
            assert_eq!(WifiPassword::new(s).as_ref(), Ok(&p));
        }
    }

    #[test]
    fn passwords_differ_and_every_word_can_come_up() {
        let mut seen = HashSet::new();
        let mut words_seen = HashSet::new();
        for _ in 0..6000 {
            let p = WifiPassword::generate();
            for w in p.expose().split(SEPARATOR) {
                words_seen.insert(w.to_string());
            }
            assert!(
                seen.insert(p.expose().to_string()),
                "a repeat in 6000 draws"
            );
        }
        // 36 000 draws over 1476 words: every word is expected ~24 times; a word never
        // drawn would mean a biased or truncated index.
        assert_eq!(words_seen.len(), words().len());
    }

    #[test]
    fn other_passwords_are_checked_and_never_shown() {
        assert_eq!(WifiPassword::new("short"), Err(PasswordError::Length(5)));
        assert_eq!(
            WifiPassword::new("x".repeat(64)),
            Err(PasswordError::Length(64))
        );
        assert_eq!(
            WifiPassword::new("has a space"),
            Err(PasswordError::Characters)
        );
        assert_eq!(
            WifiPassword::new("café-crème"),
            Err(PasswordError::Characters)
        );
        let p = WifiPassword::new("Tr0ub4dor&3;x").unwrap();
        assert_eq!(p.expose(), "Tr0ub4dor&3;x");
        let dbg = format!("{p:?} {:?}", Some(&p));
        assert!(!dbg.contains("Tr0ub4dor"), "{dbg}");
        let e = WifiPassword::new("has a space").unwrap_err().to_string();
        assert!(!e.contains("has a space"), "{e}");
    }
}
