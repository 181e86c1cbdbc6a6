//! A bounded, deterministic mutation fuzzer over the sidecar's input parsers.
//!
//! # Why this and not cargo-fuzz
//!
//! cargo-fuzz (libFuzzer) needs a nightly toolchain for `-Zsanitizer` and the coverage
//! instrumentation; the project builds with stable Rust only, and CI must not depend on a
//! second toolchain. So this is a plain integration test: a seeded PRNG (SplitMix64), a
//! corpus of real inputs (the Omada 5.9.9 redirect capture, a portal form body, voucher and
//! unit JSON bodies, Accept-Language headers, CSRF tokens), and the classic mutations (bit
//! flips, byte insert/delete/replace, interesting bytes, chunk duplication, splicing two
//! corpus entries). It is not coverage-guided, but it is deterministic (the same seed gives
//! the same inputs, so a failure is reproducible from its printed hex alone), needs nothing
//! but `cargo test`, and runs in a bounded time: `RENTAL_WIFI_TEST_MODE=short` does 20 000
//! iterations, `long` 1 000 000 (override with `RENTAL_WIFI_FUZZ_ITERS`, change the seed with
//! `RENTAL_WIFI_FUZZ_SEED`). The property-based tests (`prop_*.rs`) cover the structured side;
//! this covers the byte-level side the generators do not reach.
//!
//! Every target is called under `catch_unwind`; a panic is recorded with the target name and
//! the input as hex, and the test fails at the end listing them (at most 20).

mod prop_common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use prop_common::{long_mode, SplitMix};
use rental_wifi::net::Mac;
use rental_wifi::portal::csrf::CsrfKey;
use rental_wifi::portal::form::LoginForm;
use rental_wifi::portal::i18n::{negotiate, Lang};
use rental_wifi::portal::page::{render_login, LoginPage};
use rental_wifi::portal::probe::probe_answer;
use rental_wifi::portal::redirect::RedirectContext;
use rental_wifi::testing::code::{normalize, validate_custom};
use rental_wifi::testing::{UnitBody, VoucherBody, VoucherPatchBody};

const OMADA_REDIRECT: &str = "clientMac=52-DE-63-F1-E3-3B&clientIp=192.168.100.165&t=1677047514&site=Default&redirectUrl=http%3A%2F%2Fconnectivitycheck.gstatic.com%2Fgenerate_204&apMac=B0-95-75-15-93-44&ssidName=eap225&radioId=0";

fn corpus() -> Vec<Vec<u8>> {
    let key = CsrfKey::from_bytes([7; 32]);
    let mac: Mac = "52-DE-63-F1-E3-3B".parse().unwrap();
    let token = key.issue(&mac, 1_700_000_000);
    [
        OMADA_REDIRECT.to_owned(),
        "clientMac=70-8A-09-65-4D-EC&t=1611814464&site=Default&redirectUrl=http%3A%2F%2Fwww.example.org%2Fnews%3Fa%3D1&apMac=B0-95-75-15-93-44&ssidName=eap225&radioId=0".to_owned(),
        "clientMac=aa:bb:cc:dd:ee:01&clientIp=10.0.20.7&gatewayMac=AA-BB-CC-DD-EE-FF&vid=20&t=1700000000&site=Beach%20House&redirectUrl=https%3A%2F%2Fexample.com%2F".to_owned(),
        "cid=AA-BB-CC-DD-EE-03&ap=AA-BB-CC-00-00-02&ssid=eap&t=1600588644&rid=1&site=Default".to_owned(),
        "target=192.168.0.2&targetPort=8088&clientMac=AA-BB-CC-DD-EE-04&clientIp=10.0.0.9&radiusServerIp=10.0.0.1&apMac=AA-BB-CC-00-00-03&gatewayMac=&scheme=http&ssidName=x&radioId=1&vid=&originUrl=http%3A%2F%2Fexample.org%2F".to_owned(),
        format!("csrf={token}&code=k7m2-p9qx+4t&accept_terms=1&{OMADA_REDIRECT}"),
        format!("code=SEAVIEW2026&csrf={}&clientMac=52-DE-63-F1-E3-3B&apMac=B0-95-75-15-93-44", token.replace('.', "%2E")),
        r#"{"unit_id":"beach-house","duration_minutes":1440,"max_devices":4,"guest_name":"Ana","booking_ref":"HMABC123","note":"late arrival"}"#.to_owned(),
        r#"{"unit_id":"beach-house","code":"sea-view-2026","valid_from":"2026-11-20T15:00:00Z","valid_until":"2026-11-23T11:00:00+01:00","down_kbps":20000,"up_kbps":5000}"#.to_owned(),
        r#"{"valid_until":"2026-11-24T11:00:00Z","max_devices":6,"duration_minutes":60,"guest_name":null,"note":"extended"}"#.to_owned(),
        r#"{"unit_id":"beach-house","name":"Beach House","omada_site":"Default","ssids":["Beach Guest"],"vlans":[20],"ap_macs":["aa:bb:cc:dd:ee:01"],"plume_customer_id":"642cc40d71d99d000a611549","plume_location_id":"642cc40d71d99d000a61154a","checkin_grace_minutes":30,"checkout_grace_minutes":0,"terms_url":"https://example.com/terms"}"#.to_owned(),
        "de-CH,de;q=0.9,en;q=0.8,*;q=0.1".to_owned(),
        "pt-BR;q=0.5, fr;Q=1.000, es;q=0".to_owned(),
        token,
        "AA-BB-CC-DD-EE-FF".to_owned(),
        "aabb.ccdd.eeff".to_owned(),
        "/generate_204?clientMac=AA-BB-CC-DD-EE-FF&apMac=AA-BB-CC-00-00-01".to_owned(),
        "/hotspot-detect.html".to_owned(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

const INTERESTING: &[u8] = b"\x00\x7f\x80\xff%=&+;.:-_ \t\n\r\"'<>{}[],\\0019AaFfGgzZq\xc3\xe2\xf0";

/// One to eight stacked mutations of `input`, splicing with `other` now and then.
fn mutate(rng: &mut SplitMix, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        match rng.below(9) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(b.len() + 1);
                b.insert(i, rng.next_u64() as u8);
            }
            2 if !b.is_empty() => {
                let i = rng.below(b.len());
                let n = 1 + rng.below(8.min(b.len() - i));
                b.drain(i..i + n);
            }
            3 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            4 => {
                let i = rng.below(b.len() + 1);
                b.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            5 if !b.is_empty() => {
                // Duplicate a chunk (grows inputs towards the length limits).
                let i = rng.below(b.len());
                let n = 1 + rng.below((b.len() - i).min(64));
                let chunk = b[i..i + n].to_vec();
                let at = rng.below(b.len() + 1);
                let max_copies = if rng.below(16) == 0 { 200 } else { 4 };
                for _ in 0..1 + rng.below(max_copies) {
                    b.splice(at..at, chunk.iter().copied());
                }
            }
            6 if !other.is_empty() => {
                // Splice: our head, the other's tail.
                let cut = rng.below(b.len() + 1);
                let from = rng.below(other.len());
                b.truncate(cut);
                b.extend_from_slice(&other[from..]);
            }
            7 if !b.is_empty() => {
                // Percent-encode one byte, or a random escape.
                let i = rng.below(b.len());
                let esc = if rng.below(2) == 0 {
                    format!("%{:02X}", b[i])
                } else {
                    format!("%{:02x}", rng.next_u64() as u8)
                };
                b.splice(i..=i, esc.into_bytes());
            }
            _ => {
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    b.truncate(i);
                }
            }
        }
    }
    b.truncate(128 * 1024);
    b
}

/// A target returns whether the input was accepted (for the coverage summary).
type Target = (&'static str, fn(&[u8]) -> bool);

fn targets() -> Vec<Target> {
    fn s(b: &[u8]) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(b)
    }
    vec![
        ("Mac::from_str", |b| {
            let r = s(b).parse::<Mac>();
            if let Ok(m) = r {
                assert_eq!(m.to_string().parse::<Mac>().unwrap(), m);
            }
            r.is_ok()
        }),
        ("code::normalize", |b| {
            if let Some(n) = normalize(&s(b)) {
                assert!(n
                    .bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
                assert_eq!(normalize(&n).as_deref(), Some(n.as_str()));
            }
            validate_custom(&s(b)).is_ok()
        }),
        ("RedirectContext::from_query", |b| {
            let r = RedirectContext::from_query(&s(b));
            if let Ok(ctx) = &r {
                assert_eq!(
                    RedirectContext::from_pairs(ctx.to_hidden_fields()),
                    Ok(ctx.clone())
                );
                if let Some(u) = ctx.safe_continue_url() {
                    assert!(u.starts_with("http://") || u.starts_with("https://"), "{u}");
                }
            }
            r.is_ok()
        }),
        ("LoginForm::parse", |b| {
            let f = LoginForm::parse(b);
            assert!(f.code.chars().count() <= 64);
            f.context.is_ok()
        }),
        ("CsrfKey::verify", |b| {
            let key = CsrfKey::from_bytes([7; 32]);
            let mac: Mac = "52-DE-63-F1-E3-3B".parse().unwrap();
            let other: Mac = "52-DE-63-F1-E3-3C".parse().unwrap();
            let t = s(b);
            let ok = key.verify(&t, &mac, 1_700_000_000).is_ok();
            // Whatever the mutation, never valid for another device.
            assert!(key.verify(&t, &other, 1_700_000_000).is_err());
            ok
        }),
        ("i18n::negotiate", |b| {
            let l = negotiate(Some(&s(b)));
            assert!(Lang::ALL.contains(&l));
            l != Lang::En
        }),
        ("probe::probe_answer", |b| {
            let t = s(b);
            let (p, h) = t.split_once('\n').unwrap_or((&t, "portal.example"));
            let r = probe_answer(p, Some(h));
            if let Some(a) = &r {
                assert!(a
                    .location
                    .bytes()
                    .all(|c| c.is_ascii_graphic() && c != b'#'));
                let _ = a.body();
            }
            r.is_some()
        }),
        ("json VoucherBody", |b| {
            let de = &mut serde_json::Deserializer::from_slice(b);
            match serde_path_to_error::deserialize::<_, VoucherBody>(de) {
                Ok(_) => true,
                Err(e) => {
                    let api = rental_wifi::testing::from_json_error(e);
                    assert!(api.status.is_client_error());
                    false
                }
            }
        }),
        ("json UnitBody", |b| {
            let de = &mut serde_json::Deserializer::from_slice(b);
            match serde_path_to_error::deserialize::<_, UnitBody>(de) {
                Ok(_) => true,
                Err(e) => {
                    assert!(rental_wifi::testing::from_json_error(e)
                        .status
                        .is_client_error());
                    false
                }
            }
        }),
        ("json VoucherPatchBody", |b| {
            let de = &mut serde_json::Deserializer::from_slice(b);
            match serde_path_to_error::deserialize::<_, VoucherPatchBody>(de) {
                Ok(_) => true,
                Err(e) => {
                    assert!(rental_wifi::testing::from_json_error(e)
                        .status
                        .is_client_error());
                    false
                }
            }
        }),
    ]
}

/// Rendering is slower than parsing: only every 16th input goes through the login page.
fn render(b: &[u8]) {
    let t = String::from_utf8_lossy(b);
    let hidden = vec![("ssidName", t.to_string())];
    let html = render_login(&LoginPage {
        lang: Lang::En,
        unit_name: Some(&t),
        terms_url: Some(&t),
        error: None,
        csrf: &t,
        hidden: &hidden,
        code_value: &t,
    });
    assert!(!html.to_ascii_lowercase().contains("<script"));
}

#[test]
fn bounded_mutation_fuzz() {
    let iters: u64 = std::env::var("RENTAL_WIFI_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if long_mode() { 1_000_000 } else { 20_000 });
    let seed: u64 = std::env::var("RENTAL_WIFI_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_F022);
    let corpus = corpus();
    let targets = targets();
    let mut rng = SplitMix(seed);
    let mut failures: Vec<String> = Vec::new();
    let mut failed_total = 0u64;
    let started = std::time::Instant::now();
    // Keep panics quiet while fuzzing; they are collected and reported at the end.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut last = corpus[0].clone();
    let mut calls = 0u64;
    let mut accepted = vec![0u64; targets.len()];
    for i in 0..iters {
        let base = if rng.below(4) == 0 {
            last.clone()
        } else {
            corpus[rng.below(corpus.len())].clone()
        };
        let other = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, &base, other);
        for (t, (name, f)) in targets.iter().enumerate() {
            calls += 1;
            match catch_unwind(AssertUnwindSafe(|| f(&input))) {
                Ok(true) => accepted[t] += 1,
                Ok(false) => {}
                Err(p) => {
                    failed_total += 1;
                    if failures.len() < 20 {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        failures.push(format!(
                            "iteration {i}: {name} panicked ({msg}) on input hex {}",
                            hex::encode(&input)
                        ));
                    }
                }
            }
        }
        if i % 16 == 0 {
            calls += 1;
            if catch_unwind(AssertUnwindSafe(|| render(&input))).is_err() {
                failed_total += 1;
                if failures.len() < 20 {
                    failures.push(format!(
                        "iteration {i}: render_login panicked on input hex {}",
                        hex::encode(&input)
                    ));
                }
            }
        }
        // Walk away from the corpus now and then by mutating the last mutant.
        if input.len() < 8 * 1024 {
            last = input;
        }
    }
    std::panic::set_hook(hook);
    eprintln!(
        "bounded_mutation_fuzz: {iters} inputs, {calls} target calls, seed {seed:#x}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for ((name, _), n) in targets.iter().zip(&accepted) {
        eprintln!("  {name}: accepted {n} of {iters}");
    }
    assert!(
        failures.is_empty(),
        "{failed_total} panics; first ones:\n{}",
        failures.join("\n")
    );
}
