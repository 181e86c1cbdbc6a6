//! Voucher codes: generation from the OS CSPRNG and normalisation of what guests type.

/// Unambiguous alphabet: no 0/O, 1/I/L (DESIGN §3).
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Longest input we even look at; anything longer is not a code.
pub const MAX_INPUT: usize = 64;

/// Codes of at most this many characters (after normalisation) are "short": booking and door
/// codes of 4–7 characters (Rental Control's door codes are 4 digits by default), and custom
/// codes that short. Generated vouchers have 8–12. Short codes live in a space small enough
/// to walk, so their wrong attempts have a budget per unit and a unit may require a second
/// factor with them (docs/security.md §3).
pub const SHORT_CODE_MAX_LEN: usize = 7;

/// Whether a normalised code is short (see [`SHORT_CODE_MAX_LEN`]).
pub fn is_short(normalised: &str) -> bool {
    normalised.chars().count() <= SHORT_CODE_MAX_LEN
}

/// A fresh random code of `len` characters, uniformly drawn (rejection sampling, no modulo bias).
pub fn generate(len: usize) -> String {
    let n = ALPHABET.len() as u8; // 31
    let limit = 256 - (256 % n as u16) as u8 as u16; // largest multiple of 31 below 256 = 248
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 32];
    while out.len() < len {
        getrandom::fill(&mut buf).expect("OS random number generator unavailable");
        for &b in &buf {
            if (b as u16) < limit {
                out.push(ALPHABET[(b % n) as usize] as char);
                if out.len() == len {
                    break;
                }
            }
        }
    }
    out
}

/// Trim, upper-case, drop spaces and dashes (DESIGN §3). Returns `None` for input that cannot
/// be a code (too long, or characters outside `A-Z0-9` after normalisation).
pub fn normalize(input: &str) -> Option<String> {
    if input.len() > MAX_INPUT {
        return None;
    }
    let mut out = String::with_capacity(input.len());
    for c in input.trim().chars() {
        match c {
            ' ' | '-' | '\u{2010}'..='\u{2015}' | '\u{a0}' | '\t' => continue,
            'a'..='z' => out.push(c.to_ascii_uppercase()),
            'A'..='Z' | '0'..='9' => out.push(c),
            _ => return None,
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

/// A host's custom code: normalised, then `[A-Z0-9]{4,24}`.
pub fn validate_custom(input: &str) -> Result<String, &'static str> {
    let code = normalize(input).ok_or("code may only contain letters A-Z and digits 0-9")?;
    if !(4..=24).contains(&code.len()) {
        return Err("code must be 4 to 24 characters long");
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn generated_codes_use_only_the_alphabet_and_length() {
        for len in 8..=12 {
            let c = generate(len);
            assert_eq!(c.len(), len);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
        }
    }

    #[test]
    fn generation_is_roughly_uniform() {
        let mut counts: HashMap<u8, usize> = HashMap::new();
        for _ in 0..2000 {
            for b in generate(10).bytes() {
                *counts.entry(b).or_default() += 1;
            }
        }
        assert_eq!(counts.len(), ALPHABET.len());
        let expected = 20_000.0 / 31.0;
        for (&c, &n) in &counts {
            assert!(
                (n as f64 - expected).abs() < expected * 0.25,
                "{} appears {n} times",
                c as char
            );
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize("  k7m2-p9qx 4t ").as_deref(), Some("K7M2P9QX4T"));
        assert_eq!(normalize("ab\u{2013}cd").as_deref(), Some("ABCD"));
        assert_eq!(normalize("abc!"), None);
        assert_eq!(normalize("   "), None);
        assert_eq!(normalize(&"A".repeat(65)), None);
        assert_eq!(normalize("ÄBC"), None);
    }

    #[test]
    fn custom_codes() {
        assert_eq!(validate_custom("sea-view-2026").unwrap(), "SEAVIEW2026");
        assert!(validate_custom("abc").is_err());
        assert!(validate_custom(&"A".repeat(25)).is_err());
        assert!(validate_custom("ab_cd").is_err());
    }
}
