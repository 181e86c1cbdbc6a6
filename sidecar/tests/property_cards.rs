//! The property's time zone (DESIGN §10 "Time zone") and the cards that show times in it
//! (issue 17 item 5): the setting Home Assistant keeps in line with its own zone, a unit's
//! override, the card routes in the right zone, the print sheet of a unit's upcoming
//! bookings and the voucher the card image follows.

mod common;

use common::pdf::{get_pdf, pdf_pages};
use common::{err_code, TestApp};
use rental_wifi::tz::Zone;
use serde_json::{json, Value};
use time::OffsetDateTime;

/// `YYYY-MM-DD HH:MM` of `t` on the wall clock of `zone`, as cards print it.
fn wall(zone: &str, t: OffsetDateTime) -> String {
    let l = Zone::parse(zone).unwrap().to_local(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        l.year(),
        u8::from(l.month()),
        l.day(),
        l.hour(),
        l.minute()
    )
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A whole hour some days from now.
fn hour_in(days: i64) -> OffsetDateTime {
    let t = OffsetDateTime::now_utc() + time::Duration::days(days);
    t.replace_minute(0)
        .unwrap()
        .replace_second(0)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap()
}

async fn svg(app: &TestApp, code: &str) -> String {
    let r = app
        .http
        .get(app.url(&format!("/api/v1/vouchers/{code}/card.svg")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn the_property_zone_is_set_checked_and_shown_on_cards_a_unit_may_override_it() {
    let tmp = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_in(tmp.path(), rental_wifi::clock::Clock::system()).await;
    let (s, b) = app.get("/api/v1/settings/property").await;
    assert_eq!((s, &b), (200, &json!({"time_zone": null})), "unset: UTC");
    let (s, _) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "loft", "name": "Loft", "ssids": ["Loft Guest"]}),
        )
        .await;
    assert_eq!(s, 201);
    let (from, until) = (hour_in(1), hour_in(4));
    let (s, v) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "valid_from": rfc3339(from), "valid_until": rfc3339(until)}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let code = v["code"].as_str().unwrap().to_owned();
    let card = svg(&app, &code).await;
    assert!(
        card.contains(&format!("{} UTC", wall("UTC", from))),
        "{card}"
    );

    // Bad names change nothing.
    for bad in [
        json!("Mars/Olympus_Mons"),
        json!("../../etc/passwd"),
        json!(7),
    ] {
        let (s, b) = app
            .put("/api/v1/settings/property", json!({"time_zone": bad}))
            .await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["error"]["field"], "time_zone", "{b}");
    }
    let (s, b) = app.put("/api/v1/settings/property", json!({})).await;
    assert_eq!((s, err_code(&b)), (400, "validation_failed"));
    let (s, b) = app
        .put(
            "/api/v1/settings/property",
            json!({"time_zone": "UTC", "x": 1}),
        )
        .await;
    assert_eq!((s, err_code(&b)), (400, "unknown_field"));
    assert_eq!(
        app.get("/api/v1/settings/property").await.1["time_zone"],
        Value::Null
    );

    // Home Assistant's zone: the card shows the wall clock of the property.
    let (s, b) = app
        .put(
            "/api/v1/settings/property",
            json!({"time_zone": " Europe/Berlin "}),
        )
        .await;
    assert_eq!((s, &b), (200, &json!({"time_zone": "Europe/Berlin"})));
    let card = svg(&app, &code).await;
    assert!(
        card.contains(&wall("Europe/Berlin", from)) && card.contains(&wall("Europe/Berlin", until)),
        "{card}"
    );
    assert!(!card.contains("UTC"), "{card}");

    // A unit elsewhere overrides it (New York); null gives it back.
    let (s, u) = app
        .patch(
            "/api/v1/units/loft",
            json!({"time_zone": "America/New_York"}),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["time_zone"], "America/New_York");
    let card = svg(&app, &code).await;
    assert!(card.contains(&wall("America/New_York", from)), "{card}");
    let (s, b) = app
        .patch("/api/v1/units/loft", json!({"time_zone": "Nowhere/Land"}))
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("time_zone")));
    let (s, u) = app
        .patch("/api/v1/units/loft", json!({"time_zone": null}))
        .await;
    assert_eq!((s, &u["time_zone"]), (200, &Value::Null));
    assert!(svg(&app, &code)
        .await
        .contains(&wall("Europe/Berlin", from)));

    // The setting is audited and survives a restart.
    let (_, audit) = app.get("/api/v1/audit?limit=20").await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "settings.property.put"
                && e["detail"] == "time_zone=Europe/Berlin"),
        "{audit}"
    );
    app.stop().await;
    let again = TestApp::spawn_in(tmp.path(), rental_wifi::clock::Clock::system()).await;
    assert_eq!(
        again.get("/api/v1/settings/property").await.1["time_zone"],
        "Europe/Berlin"
    );
    // null unsets it.
    let (s, b) = again
        .put("/api/v1/settings/property", json!({"time_zone": null}))
        .await;
    assert_eq!((s, &b["time_zone"]), (200, &Value::Null));
    again.stop().await;
}

fn day(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

#[tokio::test]
async fn a_sheet_of_the_upcoming_bookings_cards_in_the_units_zone() {
    let app = TestApp::spawn().await;
    let (s, _) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "loft", "name": "City Loft", "ssids": ["Loft Guest"], "time_zone": "Asia/Kolkata"}),
        )
        .await;
    assert_eq!(s, 201);
    // Eleven stays of two nights, one every three days from tomorrow: two pages of A4.
    let mut codes = Vec::new();
    for i in 0..11 {
        let start = hour_in(1 + 3 * i);
        let (s, b) = app
            .put(
                &format!("/api/v1/units/loft/bookings/B{i:02}"),
                json!({"start": rfc3339(start), "end": rfc3339(start + time::Duration::days(2)), "guest_name": format!("Guest {i}")}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        codes.push((start, b["voucher"]["code"].as_str().unwrap().to_owned()));
    }
    // The host revokes one voucher: that stay gets no card.
    let revoked = codes[3].1.clone();
    let (s, _) = app
        .post(&format!("/api/v1/vouchers/{revoked}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200);

    let until = day(Zone::parse("Asia/Kolkata").unwrap().to_local(codes[10].0));
    let (s, h, pdf) = get_pdf(&app, &format!("/api/v1/units/loft/cards.pdf?to={until}")).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["x-card-count"], "10");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .contains("wifi-cards-loft-a4.pdf"));
    let pages = pdf_pages(&pdf);
    assert_eq!(pages.len(), 2);
    assert!(
        pages[0].starts_with("MediaBox [0 0 595.276 841.89]"),
        "{}",
        pages[0]
    );
    let all = pages.join("\n");
    for (i, (start, code)) in codes.iter().enumerate() {
        assert_eq!(
            all.contains(code.as_str()),
            i != 3,
            "card of B{i:02} ({code})"
        );
        if i != 3 {
            // Valid from the start of the stay (no check-in grace), in the unit's zone.
            assert!(all.contains(&wall("Asia/Kolkata", *start)), "{all}");
        }
    }
    assert!(
        all.contains("City Loft") && all.contains("Wi-Fi: Loft Guest"),
        "{all}"
    );
    assert!(!all.contains("UTC"), "local times: {all}");
    // In booking order: the first page holds the first stays.
    assert!(pages[0].contains(&codes[0].1) && pages[1].contains(&codes[10].1));

    // Letter paper; a range of days picks the stays in it.
    let from = day(Zone::parse("Asia/Kolkata").unwrap().to_local(codes[5].0));
    let to = day(Zone::parse("Asia/Kolkata").unwrap().to_local(codes[6].0));
    let (s, h, pdf) = get_pdf(
        &app,
        &format!("/api/v1/units/loft/cards.pdf?paper=Letter&from={from}&to={to}"),
    )
    .await;
    assert_eq!(s, 200);
    let pages = pdf_pages(&pdf);
    assert!(
        pages[0].starts_with("MediaBox [0 0 612 792]"),
        "{}",
        pages[0]
    );
    let n: usize = h["x-card-count"].to_str().unwrap().parse().unwrap();
    assert!(
        (2..=3).contains(&n),
        "{n}: the stays of B05, B06 (and B04 if it runs into {from})"
    );
    assert!(pages[0].contains(&codes[5].1) && pages[0].contains(&codes[6].1));
    assert!(!pages[0].contains(&codes[8].1));

    // Bad input changes nothing and says what is wrong.
    for (q, field) in [
        ("paper=a3", "paper"),
        ("from=tomorrow", "from"),
        ("from=2030-01-02&to=2030-01-01", "to"),
        ("from=2030-01-01&to=2032-01-01", "to"),
    ] {
        let (s, b) = app.get(&format!("/api/v1/units/loft/cards.pdf?{q}")).await;
        assert_eq!(
            (s, b["error"]["field"].as_str()),
            (400, Some(field)),
            "{q}: {b}"
        );
    }
    let far = day(OffsetDateTime::now_utc() + time::Duration::days(200));
    let (s, b) = app
        .get(&format!("/api/v1/units/loft/cards.pdf?from={far}"))
        .await;
    assert_eq!((s, err_code(&b)), (422, "no_cards"), "{b}");
    let (s, _) = app.get("/api/v1/units/nowhere/cards.pdf").await;
    assert_eq!(s, 404);
    app.stop().await;
}

/// The snapshot names the voucher the unit's card shows: the stay in progress, else the next.
#[tokio::test]
async fn the_card_follows_the_stay_in_progress_else_the_next() {
    let app = TestApp::spawn().await;
    app.unit("loft").await;
    let current =
        || async { app.get("/api/v1/state").await.1["units"][0]["current_voucher"].clone() };
    assert_eq!(current().await, Value::Null);
    let book = |r: &'static str, start: OffsetDateTime, days: i64| {
        let app = &app;
        async move {
            let (s, b) = app
                .put(
                    &format!("/api/v1/units/loft/bookings/{r}"),
                    json!({"start": rfc3339(start), "end": rfc3339(start + time::Duration::days(days))}),
                )
                .await;
            assert_eq!(s, 201, "{b}");
            b["voucher"]["code"].as_str().unwrap().to_owned()
        }
    };
    let later = book("LATER", hour_in(10), 2).await;
    let next = book("NEXT", hour_in(3), 2).await;
    assert_eq!(
        current().await,
        json!(next),
        "the next stay, not the newest voucher"
    );
    let now_stay = book("NOW", hour_in(-1), 2).await;
    assert_eq!(current().await, json!(now_stay));
    let (s, _) = app
        .post(&format!("/api/v1/vouchers/{now_stay}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(current().await, json!(next));
    assert_ne!(later, next);
    app.stop().await;
}
