//! Issue 13 on the portal, over real HTTP: who is asking (DESIGN §10: the redirect's MAC at
//! the peer address, `clientIp` compared where the network does not translate addresses),
//! the short-code second factor and budgets as a guest meets them, and the state Home
//! Assistant warns the host from.
//!
//! Guests come from their own loopback addresses (127.0.x.y, all routed to `lo`), so the
//! portal sees the peer addresses a real Wi-Fi would show it; the redirect's `clientIp` is
//! that address unless a test says otherwise.

mod common;

use std::net::IpAddr;
use std::sync::LazyLock;

use common::{redirect_query_from, Capture, Phone, PortalEnv};
use serde_json::{json, Value};

static LOGS: LazyLock<Capture> = LazyLock::new(|| {
    let c = Capture::default();
    c.install_json();
    c
});

const MAC: &str = "52-DE-63-F1-E3-3B";

fn ip(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

/// `form` with `name` set to `value` (replacing it when present).
fn with(form: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = form.iter().filter(|(k, _)| k != name).cloned().collect();
    f.push((name.into(), value.into()));
    f
}

async fn unit_state(env: &PortalEnv, unit: &str) -> Value {
    let (s, b) = env.app.get("/api/v1/state").await;
    assert_eq!(s, 200, "{b}");
    b["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"]["unit_id"] == unit)
        .unwrap_or_else(|| panic!("{unit} in {b}"))
        .clone()
}

async fn patch_unit(env: &PortalEnv, unit: &str, body: Value) -> Value {
    let (s, b) = env.app.patch(&format!("/api/v1/units/{unit}"), body).await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn booking(env: &PortalEnv, unit: &str, r: &str, guest: &str, codes: &[&str]) {
    let now = time::OffsetDateTime::now_utc();
    let (s, b) = env
        .app
        .put(
            &format!("/api/v1/units/{unit}/bookings/{r}"),
            json!({
                "start": rental_wifi::clock::rfc3339(now - time::Duration::hours(1)),
                "end": rental_wifi::clock::rfc3339(now + time::Duration::days(3)),
                "guest_name": guest,
                "codes": codes,
            }),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_for_another_address_is_refused_counted_and_logged() {
    let logs = &*LOGS;
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({})).await;
    let me = [127, 0, 9, 1];
    let phone = Phone::at(&env.app.portal, me);

    // A page asked for with another device's address: a friendly page, no form.
    let q = redirect_query_from(MAC, "Beach Guest", ip([192, 168, 0, 23]));
    let page = phone
        .http
        .get(format!("{}/portal?{q}", env.app.portal))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("This page was opened for another device or connection"),
        "{html}"
    );
    assert!(!html.contains("name=\"csrf\""), "no form to post");

    // A form fetched as itself, posted with the victim's address in `clientIp`: refused
    // before the code is looked at, and it costs no attempt (six of them, one over the
    // device's budget of five).
    let form = phone.form(MAC).await;
    let forged = with(&form, "clientIp", "127.0.9.2");
    for _ in 0..6 {
        let r = phone.post_page(&forged, &code).await;
        assert_eq!((r.status, r.result.as_str()), (403, "error"), "{}", r.body);
        assert!(r.body.contains("another device or connection"));
    }
    assert!(env.app.active_grants().await.is_empty());
    let (status, result) = phone.post(&form, &code).await;
    assert_eq!(
        (status, result.as_str()),
        (200, "success"),
        "no attempt was spent"
    );

    // Home Assistant can see it: counted on the unit, recent.
    let checks = unit_state(&env, "beach").await["guest_checks"].clone();
    assert_eq!(checks["address_mismatches"], 7, "{checks}");
    assert_eq!(checks["address_mismatch_recent"], true);
    assert!(checks["last_address_mismatch_at"].is_string());

    // Logged once (at most a line a minute per unit), naming what to change.
    let text = logs.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("clientIp") && l.contains("\"peer\":\"127.0.9.1\""))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("\"level\":\"WARN\""), "{}", lines[0]);
    assert!(lines[0].contains("address_translation"), "{}", lines[0]);
    assert!(lines[0].contains("\"unit_id\":\"beach\""), "{}", lines[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_address_translation_a_guest_behind_nat_gets_in() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({})).await;
    // The guest's address as the controller saw it, before the NAT the portal sits behind.
    let real = ip([192, 168, 0, 23]);
    let phone = Phone::at(&env.app.portal, [127, 0, 9, 20]);
    let q = redirect_query_from(MAC, "Beach Guest", real);
    let get = |phone: &Phone| {
        let url = format!("{}/portal?{q}", env.app.portal);
        let http = phone.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(&phone).await, 403, "checked by default");

    let unit = patch_unit(&env, "beach", json!({"address_translation": true})).await;
    assert_eq!(unit["address_translation"], true);
    assert_eq!(get(&phone).await, 200);
    let form = phone.form_for(&q).await;
    let (status, result) = phone.post(&form, &code).await;
    assert_eq!((status, result.as_str()), (200, "success"));
    // The controller was told the address it reported.
    let grants = env.app.active_grants().await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["client_ip"], "192.168.0.23");
    // Nothing is counted as a mismatch while the setting is on.
    let checks = unit_state(&env, "beach").await["guest_checks"].clone();
    assert_eq!(checks["address_mismatch_recent"], false, "{checks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_code_needs_the_last_name_where_the_unit_requires_it() {
    let env = PortalEnv::start().await;
    patch_unit(
        &env,
        "beach",
        json!({"short_code_second_factor": "last_name"}),
    )
    .await;
    booking(&env, "beach", "HM1", "Ana María García López", &["4711"]).await;
    let guest = Phone::at(&env.app.portal, [127, 0, 9, 40]);
    let form = guest.form(MAC).await;
    let page = guest
        .http
        .get(format!(
            "{}/portal?{}",
            env.app.portal,
            redirect_query_from(MAC, "Beach Guest", guest.addr)
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"last_name\""), "the field is shown");
    assert!(page.contains("Last name on the booking"));

    // Without the name: asked for it; nothing evaluated, nothing counted (six times, one
    // over the device's budget).
    for _ in 0..6 {
        let r = guest.post_page(&form, "4711").await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("also enter the last name"), "{}", r.body);
    }
    // A first name is not it: a wrong code, as far as the guest can tell.
    let r = guest
        .post_page(&with(&form, "last_name", "Ana"), "4711")
        .await;
    assert_eq!((r.status, r.result.as_str()), (403, "error"));
    assert!(r.body.contains("not valid for this Wi-Fi network"));
    // A long voucher code needs no name.
    let long = env.voucher(json!({})).await;
    let other = Phone::at(&env.app.portal, [127, 0, 9, 41]);
    let (status, _) = other.try_code("02-00-00-00-09-41", &long).await;
    assert_eq!(status, 200);

    // Strangers who do not know the name walk the door code with a name of their choosing:
    // that name's budget is spent (10 a day), the guest's is not.
    for a in 0..10u8 {
        let p = Phone::at(&env.app.portal, [127, 0, 10, a + 1]);
        let f = p.form(&format!("02-00-00-00-0A-{a:02X}")).await;
        let (status, _) = p
            .post(&with(&f, "last_name", "Jones"), &format!("{:04}", 100 + a))
            .await;
        assert_eq!(status, 403, "evaluated and wrong");
    }
    let p = Phone::at(&env.app.portal, [127, 0, 10, 99]);
    let f = p.form("02-00-00-00-0A-99").await;
    let r = p.post_page(&with(&f, "last_name", "jones"), "0001").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("longer access code"), "{}", r.body);
    // The guest, with their family name as they type it, gets in.
    let r = guest
        .post_page(&with(&form, "last_name", "garcia lopez"), "4711")
        .await;
    assert_eq!(
        (r.status, r.result.as_str()),
        (200, "success"),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_short_code_budget_tells_the_guest_what_still_works() {
    let env = PortalEnv::start().await;
    booking(&env, "beach", "HM2", "Lukas Müller", &["0042"]).await;
    for a in 0..10u8 {
        let p = Phone::at(&env.app.portal, [127, 0, 11, a + 1]);
        let (status, _) = p
            .try_code(
                &format!("02-00-00-00-0B-{a:02X}"),
                &format!("{:04}", 100 + a),
            )
            .await;
        assert_eq!(status, 403);
    }
    let checks = unit_state(&env, "beach").await["guest_checks"].clone();
    assert_eq!(checks["short_codes_paused"], true, "{checks}");
    let p = Phone::at(&env.app.portal, [127, 0, 11, 99]);
    let form = p.form("02-00-00-00-0B-99").await;
    let r = p.post_page(&form, "0042").await;
    assert_eq!(r.status, 429);
    assert!(
        r.body
            .contains("Short booking codes can't be used on this Wi-Fi for a while")
            && r.body.contains("longer access code"),
        "{}",
        r.body
    );
    // In German too.
    let r = p
        .http
        .post(format!("{}/portal", env.app.portal))
        .header("accept-language", "de")
        .form(&with(&form, "code", "0042"))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Kurze Buchungscodes"));
    // The long voucher code still works.
    let long = env.voucher(json!({})).await;
    let (status, result) = p.post(&form, &long).await;
    assert_eq!((status, result.as_str()), (200, "success"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_warns_of_short_codes_without_a_second_factor() {
    let env = PortalEnv::start().await;
    let (s, b) = env
        .app
        .post(
            "/api/v1/units",
            json!({"unit_id": "loft", "name": "Loft", "ssids": ["Loft Guest"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let checks = unit_state(&env, "beach").await["guest_checks"].clone();
    assert_eq!(
        checks,
        json!({"short_codes": 0, "short_codes_weak": false, "short_codes_paused": false,
               "address_mismatches": 0, "last_address_mismatch_at": null,
               "address_mismatch_recent": false})
    );
    // A door code and a long code on a booking; a long voucher on the loft.
    booking(&env, "beach", "HM3", "Ana Silva", &["4711", "LONGCODE99"]).await;
    env.voucher(json!({})).await;
    let beach = unit_state(&env, "beach").await["guest_checks"].clone();
    assert_eq!(beach["short_codes"], 1, "{beach}");
    assert_eq!(beach["short_codes_weak"], true);
    // A custom short voucher code counts too.
    let (s, b) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "beach", "code": "SEA7", "duration_minutes": 60}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        unit_state(&env, "beach").await["guest_checks"]["short_codes"],
        2
    );
    let loft = unit_state(&env, "loft").await["guest_checks"].clone();
    assert_eq!(loft["short_codes_weak"], false, "{loft}");
    // The host requires the last name: no warning any more.
    let unit = patch_unit(
        &env,
        "beach",
        json!({"short_code_second_factor": "last_name"}),
    )
    .await;
    assert_eq!(unit["short_code_second_factor"], "last_name");
    let beach = unit_state(&env, "beach").await["guest_checks"].clone();
    assert_eq!(
        (
            beach["short_codes"].clone(),
            beach["short_codes_weak"].clone()
        ),
        (json!(2), json!(false))
    );
    // Bad values are refused and change nothing.
    let (s, b) = env
        .app
        .patch(
            "/api/v1/units/beach",
            json!({"short_code_second_factor": "birthday"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["field"], "short_code_second_factor");
    let (s, _) = env
        .app
        .patch("/api/v1/units/beach", json!({"address_translation": "yes"}))
        .await;
    assert_eq!(s, 400);
    let (_, unit) = env.app.get("/api/v1/units/beach").await;
    assert_eq!(unit["short_code_second_factor"], "last_name");
    assert_eq!(unit["address_translation"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_is_proven_by_a_matching_client_ip_not_behind_nat() {
    let logs = &*LOGS;
    let env = PortalEnv::start().await;
    for (id, ssid, nat) in [
        ("holder", "Holder Guest", false),
        ("holder-nat", "Holder NAT", true),
    ] {
        let (s, b) = env
            .app
            .post(
                "/api/v1/units",
                json!({"unit_id": id, "name": id, "ssids": [ssid], "address_translation": nat}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let (s, v) = env
            .app
            .post(
                "/api/v1/vouchers",
                json!({"unit_id": id, "duration_minutes": 60}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let phone = Phone::at(&env.app.portal, [127, 0, 12, 1 + u8::from(nat)]);
        let client_ip = if nat {
            ip([192, 168, 0, 77])
        } else {
            phone.addr
        };
        let form = phone
            .form_for(&redirect_query_from(MAC, ssid, client_ip))
            .await;
        let (status, _) = phone.post(&form, v["code"].as_str().unwrap()).await;
        assert_eq!(status, 200);
    }
    let text = logs.text();
    let let_in = |unit: &str| -> String {
        text.lines()
            .find(|l| {
                l.contains("guest device let in") && l.contains(&format!("\"unit_id\":\"{unit}\""))
            })
            .unwrap_or_else(|| panic!("no line for {unit}"))
            .to_owned()
    };
    assert!(let_in("holder").contains("\"holder_proven\":true"));
    assert!(let_in("holder-nat").contains("\"holder_proven\":false"));
}
