//! The property's time zone (DESIGN §10 "Time zone") and the cards that show times in it
//! (issue 17 item 5): the setting Home Assistant keeps in line with its own zone, a unit's
//! override, the card routes in the right zone, the print sheet of a unit's upcoming
//! bookings and the voucher the card image follows.

mod common;

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
