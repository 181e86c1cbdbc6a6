//! Booking sync, booking-code login and voucher cards, over real HTTP with the Omada
//! simulator as the controller.

mod common;

use std::time::Duration as StdDuration;

use common::portal::unescape;
use common::{err_code, TestApp};
use rental_wifi::portal::errors::PortalError;
use rental_wifi::portal::i18n::Lang;
use rental_wifi::sim::omada::{self, OmadaSim, OmadaSimConfig, RedirectParams};
use reqwest::Method;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const SSID: &str = "Beach House Guest";

fn at(t: OffsetDateTime) -> String {
    rental_wifi::clock::rfc3339(t)
}

fn parse(s: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(s.as_str().expect("timestamp"), &Rfc3339).unwrap()
}

/// Whole seconds (the wire precision), so windows compare exactly.
fn now_s() -> OffsetDateTime {
    let n = OffsetDateTime::now_utc();
    n.replace_nanosecond(0).unwrap()
}

struct Env {
    app: TestApp,
    sim: OmadaSim,
}

/// A sidecar wired to the Omada simulator, with two units: `beach` (check-in grace 120 min,
/// check-out grace 60 min) and `loft`, each on its own SSID.
async fn env() -> Env {
    let app = TestApp::spawn().await;
    let sim = omada::start(OmadaSimConfig::default()).await.unwrap();
    let settings = serde_json::to_value(sim.hotspot_settings()).unwrap();
    let (s, b) = app
        .send(Method::PUT, "/api/v1/settings/omada", Some(settings))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "beach", "name": "Beach House", "ssids": [SSID],
                   "checkin_grace_minutes": 120, "checkout_grace_minutes": 60}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "loft", "name": "Loft", "ssids": ["Loft Guest"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    Env { app, sim }
}

async fn put_booking(app: &TestApp, unit: &str, r: &str, body: Value) -> (u16, Value) {
    app.send(
        Method::PUT,
        &format!("/api/v1/units/{unit}/bookings/{r}"),
        Some(body),
    )
    .await
}

fn redirect(mac: &str, ssid: &str) -> String {
    RedirectParams {
        client_mac: mac.parse().unwrap(),
        // Where the test connects from: what the portal compares `clientIp` with.
        client_ip: Some("127.0.0.1".into()),
        site: "Default".into(),
        redirect_url: "http://example.com/".into(),
        ap_mac: Some("B0-95-75-15-93-44".parse().unwrap()),
        ssid_name: Some(ssid.into()),
        radio_id: Some(1),
        gateway_mac: None,
        vid: None,
    }
    .query()
}

/// The guest's journey: the controller's redirect, the login page, the form posted.
async fn portal_login(app: &TestApp, mac: &str, ssid: &str, code: &str) -> (u16, String) {
    let r = app.redeem_with(&redirect(mac, ssid), code, &[], None).await;
    (r.status, unescape(&r.body))
}

fn succeeded(html: &str) -> bool {
    html.contains(r#"data-result="success""#)
}

async fn grants_of(app: &TestApp, code: &str) -> Vec<Value> {
    let (s, b) = app.get(&format!("/api/v1/grants?code={code}")).await;
    assert_eq!(s, 200);
    b["grants"].as_array().unwrap().clone()
}

/// Poll until the controller (simulator) no longer lets `mac` in.
async fn wait_unauthorized(app: &TestApp, sim: &OmadaSim, mac: &str) {
    for _ in 0..100 {
        app.handle.wake_timers();
        if !sim.authorized().iter().any(|c| c.mac.to_string() == mac) {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("{mac} is still authorised on the controller");
}

#[tokio::test]
async fn booking_voucher_follows_the_booking() {
    let Env { app, sim } = env().await;
    let now = now_s();
    let (start, end) = (now - Duration::hours(1), now + Duration::days(2));
    let body = json!({"start": at(start), "end": at(end), "guest_name": "Ana", "codes": ["47-11"]});
    let (s, b) = put_booking(&app, "beach", "HM123", body.clone()).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["unit_id"], "beach");
    assert_eq!(b["booking_ref"], "HM123");
    assert_eq!(b["codes"], json!(["4711"]), "codes are normalised");
    assert_eq!(b["guest_name"], "Ana");
    let v = &b["voucher"];
    let code = v["code"].as_str().unwrap().to_owned();
    assert_eq!(v["booking_ref"], "HM123");
    assert_eq!(v["guest_name"], "Ana");
    assert_eq!(v["status"], "unused");
    assert_eq!(parse(&v["valid_from"]), start - Duration::minutes(120));
    assert_eq!(parse(&v["valid_until"]), end + Duration::minutes(60));

    // The same body again: same booking, same voucher, 200, nothing new audited.
    let (_, audit_before) = app.get("/api/v1/audit?limit=1000").await;
    let (s, again) = put_booking(&app, "beach", "HM123", body.clone()).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["voucher"]["code"], code.as_str());
    assert_eq!(again["voucher"]["valid_until"], v["valid_until"]);
    let (_, audit_after) = app.get("/api/v1/audit?limit=1000").await;
    assert_eq!(
        audit_before["entries"].as_array().unwrap().len(),
        audit_after["entries"].as_array().unwrap().len()
    );
    assert_eq!(app.count_vouchers().await, 1);
    // A voucher POST for the same booking hands back the same voucher.
    let (s, replay) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "beach", "booking_ref": "HM123", "duration_minutes": 60}),
        )
        .await;
    assert_eq!((s, replay["code"].as_str()), (200, Some(code.as_str())));

    // The guest logs in with the voucher; the grant ends with the voucher.
    let mac = "AA-BB-CC-00-00-01";
    let (s, html) = portal_login(&app, mac, SSID, &code.to_lowercase()).await;
    assert_eq!(s, 200);
    assert!(succeeded(&html), "{html}");
    let g = grants_of(&app, &code).await;
    assert_eq!(g.len(), 1);
    assert_eq!(parse(&g[0]["expires_at"]), end + Duration::minutes(60));
    let auths = sim.auth_records().len();

    // Moved later: the voucher and the live grant follow, and the controller is told.
    let later = end + Duration::days(1);
    let (s, b) = put_booking(
        &app,
        "beach",
        "HM123",
        json!({"start": at(start), "end": at(later), "guest_name": "Ana", "codes": ["4711"]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["voucher"]["code"], code.as_str());
    assert_eq!(
        parse(&b["voucher"]["valid_until"]),
        later + Duration::minutes(60)
    );
    let g = grants_of(&app, &code).await;
    assert_eq!(parse(&g[0]["expires_at"]), later + Duration::minutes(60));
    assert_eq!(g[0]["status"], "active");
    for _ in 0..100 {
        app.handle.wake_timers();
        if sim.auth_records().len() > auths {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    assert!(
        sim.auth_records().len() > auths,
        "re-authorised with the new end"
    );

    // Moved earlier: shortened.
    let earlier = now + Duration::hours(5);
    let (s, b) = put_booking(
        &app,
        "beach",
        "HM123",
        json!({"start": at(start), "end": at(earlier), "codes": ["4711"]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        parse(&b["voucher"]["valid_until"]),
        earlier + Duration::minutes(60)
    );
    assert!(b["voucher"]["guest_name"].is_null(), "guest name follows");
    let g = grants_of(&app, &code).await;
    assert_eq!(parse(&g[0]["expires_at"]), earlier + Duration::minutes(60));

    // Listed.
    let (s, list) = app.get("/api/v1/units/beach/bookings").await;
    assert_eq!(s, 200);
    assert_eq!(list["bookings"].as_array().unwrap().len(), 1);
    assert_eq!(list["bookings"][0]["voucher"]["code"], code.as_str());

    // Cancelled: the voucher is revoked and the device taken off the network.
    assert_eq!(app.delete("/api/v1/units/beach/bookings/HM123").await, 204);
    let (_, v) = app.get(&format!("/api/v1/vouchers/{code}")).await;
    assert_eq!(v["status"], "revoked");
    let g = grants_of(&app, &code).await;
    assert_eq!(g[0]["status"], "revoked");
    assert_eq!(g[0]["end_reason"], "booking_cancelled");
    wait_unauthorized(&app, &sim, mac).await;
    // A repeated cancellation (a client retrying) succeeds and changes nothing (DESIGN §10);
    // only a booking never seen is unknown.
    assert_eq!(app.delete("/api/v1/units/beach/bookings/HM123").await, 204);
    let (_, v) = app.get(&format!("/api/v1/vouchers/{code}")).await;
    assert_eq!(v["status"], "revoked");
    assert_eq!(app.delete("/api/v1/units/beach/bookings/NEVER").await, 404);
    let (s, list) = app.get("/api/v1/units/beach/bookings").await;
    assert_eq!((s, list["bookings"].as_array().unwrap().len()), (200, 0));

    // Audited as the sync.
    let (_, audit) = app.get("/api/v1/audit?limit=1000").await;
    let actions: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "sync")
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for want in [
        "booking.create",
        "booking.update",
        "voucher.issue",
        "voucher.update",
        "voucher.revoke",
        "booking.delete",
    ] {
        assert!(
            actions.iter().any(|(a, _)| a == want),
            "{want} in {actions:?}"
        );
    }
    assert!(actions
        .iter()
        .any(|(a, d)| a == "booking.delete" && d == "cancelled"));
    app.stop().await;
}

#[tokio::test]
async fn moving_a_booking_into_the_future_takes_the_device_off() {
    let Env { app, sim } = env().await;
    let now = now_s();
    let (s, b) = put_booking(
        &app,
        "loft",
        "B1",
        json!({"start": at(now - Duration::hours(1)), "end": at(now + Duration::days(1))}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let code = b["voucher"]["code"].as_str().unwrap().to_owned();
    let mac = "AA-BB-CC-00-00-02";
    let (_, html) = portal_login(&app, mac, "Loft Guest", &code).await;
    assert!(succeeded(&html), "{html}");
    // The stay moves to next week: the device goes off until then.
    let (s, b) = put_booking(
        &app,
        "loft",
        "B1",
        json!({"start": at(now + Duration::days(7)), "end": at(now + Duration::days(9))}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["voucher"]["code"], code.as_str());
    assert_eq!(parse(&b["voucher"]["valid_from"]), now + Duration::days(7));
    let g = grants_of(&app, &code).await;
    assert_eq!(g[0]["end_reason"], "shortened");
    wait_unauthorized(&app, &sim, mac).await;
    app.stop().await;
}

#[tokio::test]
async fn back_to_back_bookings_never_overlap() {
    let Env { app, .. } = env().await;
    // beach: check-in grace 120, check-out grace 60. Turnover gap 11:00 → 12:30.
    let day = now_s().replace_time(time::macros::time!(0:00)) + Duration::days(3);
    let first = (
        day - Duration::days(2) + Duration::hours(16),
        day + Duration::hours(11),
    );
    let second = (
        day + Duration::hours(12) + Duration::minutes(30),
        day + Duration::days(2) + Duration::hours(11),
    );
    let (s, a) = put_booking(
        &app,
        "beach",
        "A",
        json!({"start": at(first.0), "end": at(first.1)}),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    // Alone, the first stay gets its full check-out grace.
    assert_eq!(
        parse(&a["voucher"]["valid_until"]),
        first.1 + Duration::minutes(60)
    );
    let (s, b) = put_booking(
        &app,
        "beach",
        "B",
        json!({"start": at(second.0), "end": at(second.1)}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    // The arriving guest's check-in grace stops at the previous check-out...
    assert_eq!(parse(&b["voucher"]["valid_from"]), first.1);
    // ...and the leaving guest's check-out grace yields to it.
    let (_, a) = app.get("/api/v1/units/beach/bookings/A").await;
    assert_eq!(parse(&a["voucher"]["valid_until"]), first.1);
    assert_eq!(
        parse(&a["voucher"]["valid_from"]),
        first.0 - Duration::minutes(120)
    );
    assert_eq!(
        parse(&b["voucher"]["valid_until"]),
        second.1 + Duration::minutes(60)
    );
    let (_, list) = app.get("/api/v1/units/beach/bookings").await;
    let windows: Vec<(OffsetDateTime, OffsetDateTime)> = list["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                parse(&b["voucher"]["valid_from"]),
                parse(&b["voucher"]["valid_until"]),
            )
        })
        .collect();
    assert_eq!(windows.len(), 2);
    assert!(windows[0].1 <= windows[1].0, "{windows:?}");

    // The second stay is cancelled: the first gets its check-out grace back.
    assert_eq!(app.delete("/api/v1/units/beach/bookings/B").await, 204);
    let (_, a) = app.get("/api/v1/units/beach/bookings/A").await;
    assert_eq!(
        parse(&a["voucher"]["valid_until"]),
        first.1 + Duration::minutes(60)
    );

    // Grace changes on the unit reach booking vouchers.
    let (s, _) = app
        .patch("/api/v1/units/beach", json!({"checkout_grace_minutes": 30}))
        .await;
    assert_eq!(s, 200);
    let (_, a) = app.get("/api/v1/units/beach/bookings/A").await;
    assert_eq!(
        parse(&a["voucher"]["valid_until"]),
        first.1 + Duration::minutes(30)
    );
    app.stop().await;
}

#[tokio::test]
async fn booking_codes_let_guests_in_inside_the_window_on_their_unit_only() {
    let Env { app, sim } = env().await;
    let now = now_s();
    // The same door code on two units, and a booking that has not started yet.
    let (s, b) = put_booking(
        &app,
        "beach",
        "NOW",
        json!({"start": at(now - Duration::hours(3)), "end": at(now + Duration::days(1)), "codes": ["4711", "ab-12"]}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let beach_voucher = b["voucher"]["code"].as_str().unwrap().to_owned();
    let (s, _) = put_booking(
        &app,
        "loft",
        "L1",
        json!({"start": at(now - Duration::hours(3)), "end": at(now + Duration::days(1)), "codes": ["4711", "9999"]}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = put_booking(
        &app,
        "beach",
        "LATER",
        json!({"start": at(now + Duration::days(5)), "end": at(now + Duration::days(7)), "codes": ["5555"]}),
    )
    .await;
    assert_eq!(s, 201);

    let not_yet = PortalError::CodeNotYetValid.message(Lang::En);
    let invalid = PortalError::InvalidCode.message(Lang::En);

    // Outside its window: "not yet valid", like a voucher.
    let (_, html) = portal_login(&app, "AA-BB-CC-00-00-10", SSID, "5555").await;
    assert!(!succeeded(&html));
    assert!(html.contains(&not_yet), "{html}");
    // Another unit's booking code on this network: the generic message.
    let (_, html) = portal_login(&app, "AA-BB-CC-00-00-10", SSID, "9999").await;
    assert!(html.contains(&invalid), "{html}");
    assert!(!html.contains(&not_yet));

    // Inside the window, any spelling, on this unit's network: in, on this booking's voucher.
    let (s, html) = portal_login(&app, "AA-BB-CC-00-00-11", SSID, " ab 12 ").await;
    assert_eq!(s, 200);
    assert!(succeeded(&html), "{html}");
    let (_, html) = portal_login(&app, "AA-BB-CC-00-00-12", SSID, "4711").await;
    assert!(succeeded(&html), "{html}");
    let g = grants_of(&app, &beach_voucher).await;
    assert_eq!(
        g.len(),
        2,
        "both devices are on the beach booking's voucher"
    );
    assert!(g.iter().all(|g| g["unit_id"] == "beach"));
    assert_eq!(sim.authorized().len(), 2);
    // The shared door code on the loft's network lands on the loft's booking.
    let (_, html) = portal_login(&app, "AA-BB-CC-00-00-13", "Loft Guest", "4711").await;
    assert!(succeeded(&html), "{html}");
    let (_, loft) = app.get("/api/v1/units/loft/bookings/L1").await;
    let loft_code = loft["voucher"]["code"].as_str().unwrap();
    assert_eq!(grants_of(&app, loft_code).await.len(), 1);
    let (_, v) = app.get(&format!("/api/v1/vouchers/{beach_voucher}")).await;
    assert_eq!(v["devices_used"], 2);
    app.stop().await;
}

#[tokio::test]
async fn booking_code_guesses_count_toward_the_lockout() {
    let Env { app, .. } = env().await;
    let now = now_s();
    let (s, _) = put_booking(
        &app,
        "beach",
        "X",
        json!({"start": at(now - Duration::hours(1)), "end": at(now + Duration::days(1)), "codes": ["4711"]}),
    )
    .await;
    assert_eq!(s, 201);
    let mac = "AA-BB-CC-00-00-20";
    for guess in ["1111", "2222", "3333", "4444", "5555"] {
        let (s, html) = portal_login(&app, mac, SSID, guess).await;
        assert!(!succeeded(&html));
        assert_ne!(s, 200, "{html}");
    }
    // Locked out: even the right booking code is refused for now.
    let (s, html) = portal_login(&app, mac, SSID, "4711").await;
    assert_eq!(s, 429, "{html}");
    assert!(!succeeded(&html));
    app.stop().await;
}

#[tokio::test]
async fn booking_validation() {
    let Env { app, .. } = env().await;
    let now = now_s();
    let ok = |extra: Value| {
        let mut b =
            json!({"start": at(now + Duration::days(1)), "end": at(now + Duration::days(3))});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (body, code, field) in [
        (ok(json!({"nights": 2})), "unknown_field", "nights"),
        (
            ok(json!({"end": at(now + Duration::days(1))})),
            "validation_failed",
            "end",
        ),
        (
            ok(json!({"start": "tomorrow"})),
            "validation_failed",
            "start",
        ),
        (ok(json!({"codes": ["12"]})), "validation_failed", "codes"),
        (ok(json!({"codes": ["12$4"]})), "validation_failed", "codes"),
        (
            ok(json!({"codes": ["1001", "1002", "1003", "1004", "1005"]})),
            "validation_failed",
            "codes",
        ),
        (
            ok(json!({"end": at(now + Duration::days(40))})),
            "validation_failed",
            "end",
        ),
        (
            ok(json!({"guest_name": "x".repeat(101)})),
            "validation_failed",
            "guest_name",
        ),
    ] {
        let (s, b) = put_booking(&app, "beach", "V", body.clone()).await;
        assert_eq!((s, err_code(&b)), (400, code), "{body} → {b}");
        assert_eq!(b["error"]["field"], field, "{body} → {b}");
    }
    let (s, b) = put_booking(&app, "beach", &"x".repeat(101), ok(json!({}))).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (400, Some("booking_ref")),
        "{b}"
    );
    let (s, b) = put_booking(&app, "nowhere", "V", ok(json!({}))).await;
    assert_eq!((s, err_code(&b)), (404, "not_found"));
    let (s, _) = app.get("/api/v1/units/nowhere/bookings").await;
    assert_eq!(s, 404);
    assert_eq!(app.delete("/api/v1/units/beach/bookings/none").await, 404);
    let (s, _) = app.post("/api/v1/units/beach/bookings/V", json!({})).await;
    assert_eq!(s, 405);
    let (s, list) = app.get("/api/v1/units/beach/bookings").await;
    assert_eq!(
        (s, list["bookings"].as_array().unwrap().len()),
        (200, 0),
        "nothing stored"
    );

    // A stay that is already over is stored, without a voucher.
    let (s, b) = put_booking(
        &app,
        "loft",
        "PAST",
        json!({"start": at(now - Duration::days(5)), "end": at(now - Duration::days(2)), "codes": ["1234"]}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert!(b["voucher"].is_null(), "{b}");
    let (_, html) = portal_login(&app, "AA-BB-CC-00-00-30", "Loft Guest", "1234").await;
    assert!(
        html.contains(&PortalError::CodeExpired.message(Lang::En)),
        "{html}"
    );
    // Deleting a finished stay forgets it without revoking anything.
    let (s, b) = put_booking(
        &app,
        "loft",
        "ENDED",
        json!({"start": at(now - Duration::days(2)), "end": at(now - Duration::minutes(1))}),
    )
    .await;
    assert_eq!(s, 201);
    assert!(b["voucher"].is_null(), "loft has no check-out grace: {b}");
    assert_eq!(app.delete("/api/v1/units/loft/bookings/ENDED").await, 204);
    let (_, audit) = app.get("/api/v1/audit?limit=5").await;
    assert!(audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "booking.delete" && e["detail"] == "ended"));
    app.stop().await;
}

fn decode_png(bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the card");
    grids[0].decode().unwrap().1
}

#[tokio::test]
async fn voucher_cards() {
    let app = TestApp::spawn().await;
    let (s, _) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "beach", "name": "Tom & Jerry's <Beach> House", "ssids": [SSID, "Other"]}),
        )
        .await;
    assert_eq!(s, 201);
    app.unit("plain").await;
    let (_, v) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "beach", "valid_until": at(now_s() + Duration::days(2)), "duration_minutes": 120}),
        )
        .await;
    let code = v["code"].as_str().unwrap();

    let r = app
        .http
        .get(app.url(&format!("/api/v1/vouchers/{code}/card.svg")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml; charset=utf-8");
    let svg = r.text().await.unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the card is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_owned())
        .collect();
    assert!(
        texts.iter().any(|t| t == "Tom & Jerry's <Beach> House"),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == code), "{texts:?}");
    assert!(
        texts.iter().any(|t| t == &format!("Wi-Fi: {SSID}")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.starts_with("Valid from ")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t == "2 hours from first use"),
        "{texts:?}"
    );
    assert!(svg.contains("Tom &amp; Jerry"));

    let r = app
        .http
        .get(app.url(&format!(
            "/api/v1/vouchers/{}/card.png",
            code.to_lowercase()
        )))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = r.bytes().await.unwrap();
    assert_eq!(decode_png(&png), "WIFI:T:nopass;S:Beach House Guest;;");

    // No SSID: the QR code carries the code itself.
    let (_, v) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "plain", "duration_minutes": 60}),
        )
        .await;
    let plain = v["code"].as_str().unwrap();
    let r = app
        .http
        .get(app.url(&format!("/api/v1/vouchers/{plain}/card.png")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(decode_png(&r.bytes().await.unwrap()), plain);

    // Like every API route: the token, and 404 for unknown codes.
    let r = app
        .http
        .get(app.url(&format!("/api/v1/vouchers/{code}/card.svg")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (s, b) = app.get("/api/v1/vouchers/NOSUCHCODE/card.svg").await;
    assert_eq!((s, err_code(&b)), (404, "not_found"));
    app.stop().await;
}
