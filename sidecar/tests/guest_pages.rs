//! The guest pages after login (status, welcome, terms, disconnected) and the cards, rendered
//! by the real render functions and written to `$CARGO_TARGET_TMPDIR/guest-pages/` with a
//! `manifest.json`, so that `tests/browser/guest-pages.test.mjs` can load them in Chromium at
//! phone width (axe-core, no outside requests, no JavaScript needed), every language of each
//! kind where the kind has one sentence per language. `guest-portal.test.mjs` checks the same
//! pages as the sidecar serves them (with the logo). The checks here need no browser.

use std::path::PathBuf;

use rental_wifi::portal::branding::check_accent;
use rental_wifi::portal::i18n::Lang;
use rental_wifi::portal::page::{
    self, LoginExtras, LoginPage, StatusPage, SuccessExtras, SuccessPage, Welcome,
};
use rental_wifi::testing::card::{self, sheet, CardInput};
use rental_wifi::tz::Zone;
use serde_json::json;
use time::macros::{datetime, time};

const TERMS: &str = "By using this Wi-Fi you agree to:\n\n\
1. No illegal downloads.\n\
2. Fair use: no **large** backups or streaming in 4K all night.\n\
3. The host may disconnect devices that harm the network.\n\n\
Questions? Write to [the host](mailto:host@example.com).";

const WELCOME: &str = "Make yourself at home!\n\n\
- Bins go out on **Tuesday** evening.\n\
- The dishwasher tabs are under the sink.\n\
- Bakery: [Bäckerei Sonne](https://maps.example/sonne), 3 min walk.\n\n\
Enjoy your stay.";

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guest-pages");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn welcome<'a>(title: &'a str, text: &'a str, contact: &'a str) -> Welcome<'a> {
    Welcome {
        title: Some(title),
        text: Some(text),
        checkout: Some(time!(11:00)),
        host_contact: Some(contact),
        // A file page cannot load the logo from the portal; `guest-portal.test.mjs` shows it
        // as the sidecar serves it.
        logo_src: None,
    }
}

/// Checks every page must pass without a browser.
fn check(name: &str, html: &str) {
    assert!(html.starts_with("<!DOCTYPE html><html lang=\""), "{name}");
    for forbidden in [
        "<script", "<link", "<iframe", "@import", "url(", "src=", "<img",
    ] {
        assert!(!html.contains(forbidden), "{name}: {forbidden}");
    }
    assert!(
        html.contains(&format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
            page::CONTENT_SECURITY_POLICY
        )),
        "{name}"
    );
    assert_eq!(html.matches("<h1>").count(), 1, "{name}: one h1");
}

#[test]
fn write_guest_pages_for_the_browser_tests() {
    let dir = out_dir();
    let berlin = Zone::parse("Europe/Berlin").unwrap();
    let now = datetime!(2025-03-28 09:00 UTC);
    // Check-out across the DST change: 2025-03-30 is when Berlin moves to summer time.
    let end = berlin.to_local(datetime!(2025-03-31 09:00 UTC));
    assert_eq!(end.offset().whole_hours(), 2);
    let hidden = vec![
        ("clientMac", "AA-BB-CC-DD-EE-FF".to_owned()),
        ("site", "Default".to_owned()),
    ];
    let accent = check_accent("#1b6b34").unwrap();
    let long_name = "Ferienwohnung Sonnenblick am Großen Alpsee – Obergeschoss links, Eingang B, \
                     neben der Bäckerei";
    let long_contact = "Anna-Lena Schmidt-Hoffmann, +49 170 1234567, anna-lena.schmidt-hoffmann@\
                        ferienwohnung-sonnenblick.example";
    let long_text = format!(
        "{}\n\n- {}\n- https://a.very.long.host.name.example/with/a/very/long/path/that/does/not/break/easily",
        "Langes Wort: Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichen. ".repeat(6),
        "Grundstücksverkehrsgenehmigungszuständigkeitsübertragungsverordnung"
    );

    let mut pages = Vec::new();
    let mut add = |name: String, html: String, kind: &str, lang: Lang| {
        check(&name, &html);
        std::fs::write(dir.join(format!("{name}.html")), &html).unwrap();
        pages.push(json!({"file": format!("{name}.html"), "kind": kind, "lang": lang.code()}));
    };

    for lang in Lang::ALL {
        let w = welcome("Welcome to the Loft", WELCOME, "Anna, +49 170 1234567");
        let html = page::render_status(&StatusPage {
            lang,
            unit_name: Some("Loft"),
            now,
            expires_at: end,
            devices_active: 2,
            max_devices: 4,
            csrf: "1700000000.token",
            hidden: &hidden,
            welcome: Some(&w),
            accent: None,
        });
        add(format!("status-{}", lang.code()), html, "status", lang);
    }
    let w = welcome(long_name, &long_text, long_contact);
    add(
        "status-long-accent".into(),
        page::render_status(&StatusPage {
            lang: Lang::De,
            unit_name: Some(long_name),
            now,
            expires_at: end,
            devices_active: 1,
            max_devices: 0,
            csrf: "1700000000.token",
            hidden: &hidden,
            welcome: Some(&w),
            accent: Some(&accent),
        }),
        "status",
        Lang::De,
    );
    for lang in [Lang::En, Lang::Fr] {
        add(
            format!("login-terms-{}", lang.code()),
            page::render_login_with(
                &LoginPage {
                    lang,
                    unit_name: Some("Loft"),
                    terms_url: None,
                    error: None,
                    csrf: "1700000000.token",
                    hidden: &hidden,
                    code_value: "",
                },
                &LoginExtras {
                    terms_text: Some(TERMS),
                    accent: Some(&accent),
                    ..LoginExtras::default()
                },
            ),
            "login-terms",
            lang,
        );
    }
    let w = welcome("Welcome to the Loft", WELCOME, "Anna, +49 170 1234567");
    add(
        "success-welcome-nl".into(),
        page::render_success_with(
            &SuccessPage {
                lang: Lang::Nl,
                unit_name: Some("Loft"),
                continue_url: Some("https://example.com/"),
                expires_at: Some(end),
            },
            &SuccessExtras {
                welcome: Some(&w),
                status_link: true,
                accent: None,
            },
        ),
        "success",
        Lang::Nl,
    );
    for lang in Lang::ALL {
        add(
            format!("offline-{}", lang.code()),
            page::render_offline(lang, None),
            "offline",
            lang,
        );
    }
    add(
        "disconnected-pt".into(),
        page::render_disconnected(Lang::Pt, Some("Loft"), None),
        "disconnected",
        Lang::Pt,
    );

    // The status page shows the Berlin wall clock after the change to summer time.
    let status_de = std::fs::read_to_string(dir.join("status-de.html")).unwrap();
    assert!(
        status_de.contains("<dd>Montag, 31.03.2025, 11:00</dd>"),
        "{status_de}"
    );
    assert!(status_de.contains("<dd>3 Tage</dd>"));

    // Cards, for people to look at (and the browser test to open the SVG).
    let c = CardInput {
        unit_name: "Chalet Zoë & Søren".into(),
        ssid: Some("Beach Guest".into()),
        code: "K7MPQ2X9TA".into(),
        valid_from: datetime!(2025-07-01 13:00 UTC),
        valid_until: Some(datetime!(2025-07-08 09:00 UTC)),
        duration_minutes: None,
        wifi_password: None,
    }
    .with_times(|t| berlin.to_local(t));
    std::fs::write(dir.join("card.png"), card::png_card(&c)).unwrap();
    std::fs::write(dir.join("card.svg"), card::svg_card(&c)).unwrap();
    let cards: Vec<CardInput> = (0..12)
        .map(|i| CardInput {
            code: format!("K7MPQ2X{i:03}"),
            ..c.clone()
        })
        .collect();
    for paper in [sheet::Paper::A4, sheet::Paper::Letter] {
        let pdf = sheet::pdf(paper, &cards).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        std::fs::write(dir.join(format!("sheet-{paper:?}.pdf").to_lowercase()), pdf).unwrap();
    }

    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&json!({ "pages": pages })).unwrap(),
    )
    .unwrap();
    assert_eq!(pages.len(), 7 + 1 + 2 + 1 + 7 + 1);
}
