//! Shared pieces of the property-based tests (`prop_*.rs`) and the bounded fuzzer.
//!
//! Test mode: `RENTAL_WIFI_TEST_MODE=short` (default) keeps every suite fast enough for
//! `tests/run`; `RENTAL_WIFI_TEST_MODE=long` multiplies the case counts so the suites reach
//! well over 10⁶ generated cases together. `PROPTEST_RNG_SEED=<u64>` replays a proptest run.
#![allow(dead_code)]

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// `true` when `RENTAL_WIFI_TEST_MODE=long`.
pub fn long_mode() -> bool {
    std::env::var("RENTAL_WIFI_TEST_MODE").is_ok_and(|m| m.trim().eq_ignore_ascii_case("long"))
}

/// `short` or `long` cases, by mode.
pub fn cases(short: u32, long: u32) -> u32 {
    if long_mode() {
        long
    } else {
        short
    }
}

/// A proptest config with the mode's case count. No regression files are written (the
/// failing input is printed; replay with `PROPTEST_RNG_SEED`).
pub fn config(name: &str, short: u32, long: u32) -> Config {
    let n = cases(short, long);
    eprintln!(
        "{name}: {n} cases ({} mode)",
        if long_mode() { "long" } else { "short" }
    );
    Config {
        cases: n,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    }
}

/// Pieces that tend to break parsers: escapes, separators, markup, odd Unicode, numbers.
pub const FRAGMENTS: &[&str] = &[
    "%",
    "%2",
    "%ZZ",
    "%00",
    "%FF",
    "%E2%9C%93",
    "%C3%28",
    "%2F",
    "%26",
    "%3D",
    "+",
    "&",
    "=",
    "&&",
    "==",
    "?",
    "#",
    ";",
    ",",
    "<script>alert(1)</script>",
    "</title><script>",
    "\"><svg onload=alert(1)>",
    "'><img src=x onerror=alert(1)>",
    "<!--",
    "]]>",
    "{unit}",
    "{minutes}",
    "\"",
    "'",
    "\\",
    "\u{0}",
    "\n",
    "\r\n",
    "\t",
    "\u{7f}",
    "\u{85}",
    "\u{202E}",
    "\u{FEFF}",
    "\u{2013}",
    "\u{a0}",
    "\u{3000}",
    "ü",
    "ß",
    "😀",
    "\u{FFFD}",
    "AA-BB-CC-DD-EE-FF",
    "aa:bb:cc:dd:ee:ff",
    "aabb.ccdd.eeff",
    "AABBCCDDEEFF",
    "-",
    ":",
    ".",
    " ",
    "0",
    "-1",
    "1e9",
    "4095",
    "65536",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999999",
    "http://",
    "https://example.com/",
    "javascript:alert(1)",
    "//evil.example",
    "data:text/html,x",
    "null",
    "true",
    "{}",
    "[]",
];

/// Arbitrary text with a bias towards the [`FRAGMENTS`] that break parsers; now and then huge.
pub fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "\\PC{0,40}",
        2 => "[ -~]{0,64}",
        1 => vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        3 => vec(prop::sample::select(FRAGMENTS), 0..8).prop_map(|v| v.concat()),
        3 => (vec(prop::sample::select(FRAGMENTS), 0..6), "[ -~]{0,12}", vec(prop::sample::select(FRAGMENTS), 0..6))
            .prop_map(|(a, m, b)| format!("{}{m}{}", a.concat(), b.concat())),
        1 => (prop::sample::select(FRAGMENTS), 1usize..6_000)
            .prop_map(|(f, n)| f.repeat(n / f.len().max(1) + 1)),
    ]
}

/// A MAC written in one of the accepted layouts, with random letter case.
pub fn mac_spelling(octets: [u8; 6], layout: u8, case_bits: u16) -> String {
    let hex: Vec<String> = octets.iter().map(|o| format!("{o:02x}")).collect();
    let plain = match layout % 4 {
        0 => hex.join("-"),
        1 => hex.join(":"),
        2 => format!(
            "{}{}.{}{}.{}{}",
            hex[0], hex[1], hex[2], hex[3], hex[4], hex[5]
        ),
        _ => hex.concat(),
    };
    plain
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if case_bits & (1 << (i % 16)) != 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// `AA-BB-CC-DD-EE-FF` for `octets`, written independently of the crate's `Display`.
pub fn canonical_mac(octets: [u8; 6]) -> String {
    octets
        .iter()
        .map(|o| format!("{o:02X}"))
        .collect::<Vec<_>>()
        .join("-")
}

/// A small deterministic PRNG (SplitMix64) for shuffles inside strategies and for the fuzzer.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform-enough in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Counts how often an interesting branch was taken, so a property cannot pass vacuously
/// (e.g. a generator that never produces an accepted redirect).
pub struct Hits(std::sync::atomic::AtomicU32, std::sync::atomic::AtomicU32);

impl Hits {
    pub const fn new() -> Self {
        Hits(
            std::sync::atomic::AtomicU32::new(0),
            std::sync::atomic::AtomicU32::new(0),
        )
    }
    pub fn record(&self, hit: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.0.fetch_add(1, Relaxed);
        if hit {
            self.1.fetch_add(1, Relaxed);
        }
    }
    /// At least `min_percent` of the cases took the branch.
    pub fn assert_at_least(&self, what: &str, min_percent: u32) {
        use std::sync::atomic::Ordering::Relaxed;
        let (n, h) = (self.0.load(Relaxed), self.1.load(Relaxed));
        eprintln!("{what}: {h} of {n} cases");
        assert!(
            n > 0 && h * 100 >= n * min_percent,
            "{what}: only {h} of {n} cases"
        );
    }
}
