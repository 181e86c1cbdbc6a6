//! Crash proof, one fail point at a time (issue 11 item 3): for every named fail point
//! (`rental_wifi::testing::FAILPOINTS`) the real binary is killed there (it SIGKILLs itself
//! when it reaches the point named in `RENTAL_WIFI_FAILPOINT`; debug builds only), restarted
//! on the same data dir, and then:
//!
//! * the file passes `PRAGMA integrity_check` as the kill left it;
//! * no active grant on a revoked, expired or cancelled voucher; every ended grant has its
//!   unauthorise queued or confirmed; no voucher over its device limit; slots add up; no
//!   unfinished redemption after the restart (`common::crash::check_invariants`);
//! * the client's retry of the same request (revoke again, PUT again, the cancellation
//!   again, the guest's form again) succeeds and ends in the state the first try wanted;
//! * the controller follows: every device it lets in has an active grant or a queued
//!   unauthorise.
//!
//! Each case: set up with a normal process and stop it; start one armed with the fail point
//! and drive it there; restart normally, check, retry, check again.

mod common;

use common::crash::{assert_killed_at, at, mac, now_ms, Rig};
use serde_json::{json, Value};

/// Start the sidecar armed with `point`. `false` when it died before `ready` (a point on
/// the start-up path), checked to be that point.
fn arm(rig: &mut Rig, point: &str) -> bool {
    match rig.try_start(&[(rental_wifi::testing::FAILPOINT_ENV, point)]) {
        Ok(()) => true,
        Err(e) => {
            assert_killed_at(&e, point);
            false
        }
    }
}

/// The armed sidecar must die at `point` (within `secs`).
fn dies(rig: &mut Rig, point: &str, secs: u64) {
    let e = rig.wait_death(secs);
    assert_killed_at(&e, point);
}

/// After the kill: the file is sound, a normal start recovers, the invariants hold.
fn restart(rig: &mut Rig, point: &str) {
    rig.integrity();
    rig.start(&[]);
    rig.check(&format!("after the crash at {point}"));
}

/// A request the armed process must not survive (no answer, or an answer it managed to send
/// before a point further down the line).
async fn doomed(rig: &Rig, method: &str, path: &str, body: Option<Value>) {
    let _ = rig.api(method, path, body).await;
}

fn status_of(v: &Value) -> &str {
    v["status"].as_str().unwrap_or_default()
}

/// A voucher with two devices in.
async fn voucher_with_two(rig: &Rig, extra: Value) -> String {
    let code = rig.voucher(extra).await;
    rig.let_in(&mac(1), &code).await;
    rig.let_in(&mac(2), &code).await;
    code
}

/// A booking `B1` of unit `u` (in its stay now, door code 4711) with a device in on it;
/// its voucher's code.
async fn booking_with_guest(rig: &Rig) -> String {
    let b = rig
        .must(
            "PUT",
            "/api/v1/units/u/bookings/B1",
            Some(json!({"start": at(-3600), "end": at(86_400), "codes": ["4711"]})),
            &[201],
        )
        .await;
    rig.let_in(&mac(7), "4711").await;
    b["voucher"]["code"].as_str().unwrap().to_owned()
}

/// A PPSK profile on the simulator's `Guest` SSID, and unit `p` in password mode using it
/// (issue 18).
async fn password_unit(rig: &Rig) {
    let id = rig
        .sim
        .add_ppsk_profile("Default", "Guest keys", &["Guest"], vec![])
        .unwrap();
    rig.must(
        "POST",
        "/api/v1/units",
        Some(json!({"unit_id": "p", "name": "P", "ssids": ["Guest"],
                    "access_mode": "password", "ppsk_profile_id": id})),
        &[201],
    )
    .await;
}

/// The passwords of the sidecar's guest keys on the controller.
fn guest_keys(rig: &Rig) -> Vec<String> {
    rig.sim
        .ppsk_profiles()
        .iter()
        .flat_map(|p| p.keys.clone())
        .filter(|k| k.name.starts_with("rentalwifi-") && !k.name.starts_with("rentalwifi--"))
        .map(|k| k.psk)
        .collect()
}

/// A voucher of unit `p` open for an hour; its code and password.
async fn password_voucher(rig: &Rig) -> (String, String) {
    let v = rig
        .must(
            "POST",
            "/api/v1/vouchers",
            Some(json!({"unit_id": "p", "valid_until": at(3600)})),
            &[201],
        )
        .await;
    (
        v["code"].as_str().unwrap().to_owned(),
        v["wifi"]["password"].as_str().unwrap().to_owned(),
    )
}

/// The only voucher of unit `p`, and its password (read again after a crash).
async fn the_password_voucher(rig: &Rig) -> (String, String) {
    let list = rig
        .must("GET", "/api/v1/vouchers?unit_id=p", None, &[200])
        .await;
    assert_eq!(list["total"], 1, "{list}");
    let code = list["vouchers"][0]["code"].as_str().unwrap().to_owned();
    let p = rig
        .must(
            "GET",
            &format!("/api/v1/vouchers/{code}/password"),
            None,
            &[200],
        )
        .await;
    (code, p["wifi"]["password"].as_str().unwrap().to_owned())
}

/// Revoke `code`: every key of it leaves the controller.
async fn revoke_and_check_gone(rig: &Rig, code: &str) {
    rig.must(
        "POST",
        &format!("/api/v1/vouchers/{code}/revoke"),
        Some(json!({})),
        &[200],
    )
    .await;
    rig.converge(15).await;
    assert!(
        guest_keys(rig).is_empty(),
        "keys left: {:?}",
        guest_keys(rig).len()
    );
}

async fn run(point: &str) {
    let mut rig = Rig::new().await;
    let (scope, _) = point.split_once('.').unwrap();
    match scope {
        "unit_create" => {
            rig.stop();
            let body = json!({"unit_id": "loft", "name": "Loft", "ssids": ["Loft Guest"]});
            if arm(&mut rig, point) {
                doomed(&rig, "POST", "/api/v1/units", Some(body.clone())).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            // The retry: created now, or the identical replay of what was committed.
            rig.must("POST", "/api/v1/units", Some(body), &[200, 201])
                .await;
            let u = rig.must("GET", "/api/v1/units/loft", None, &[200]).await;
            assert_eq!(u["ssids"], json!(["Loft Guest"]));
        }
        "unit_patch" => {
            booking_with_guest(&rig).await;
            rig.stop();
            let body = json!({"checkout_grace_minutes": 90});
            if arm(&mut rig, point) {
                doomed(&rig, "PATCH", "/api/v1/units/u", Some(body.clone())).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            rig.must("PATCH", "/api/v1/units/u", Some(body), &[200])
                .await;
            let b = rig
                .must("GET", "/api/v1/units/u/bookings/B1", None, &[200])
                .await;
            let end = time::OffsetDateTime::parse(
                b["end"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            assert_eq!(
                b["voucher"]["valid_until"],
                rental_wifi::clock::rfc3339(end + time::Duration::minutes(90)),
                "the booking voucher follows the unit's grace"
            );
        }
        "unit_delete" => {
            voucher_with_two(&rig, json!({})).await;
            rig.stop();
            if arm(&mut rig, point) {
                doomed(&rig, "DELETE", "/api/v1/units/u?force=true", None).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            // Gone either way (a unit leaves no tombstone: a repeated DELETE reads 404).
            rig.must("DELETE", "/api/v1/units/u?force=true", None, &[204, 404])
                .await;
            rig.must("GET", "/api/v1/units/u", None, &[404]).await;
            rig.converge(10).await;
            assert!(rig.sim.authorized().is_empty(), "every device taken off");
        }
        "voucher_issue" => {
            rig.stop();
            let body = json!({"unit_id": "u", "duration_minutes": 60, "booking_ref": "R1"});
            if arm(&mut rig, point) {
                doomed(&rig, "POST", "/api/v1/vouchers", Some(body.clone())).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            rig.must("POST", "/api/v1/vouchers", Some(body), &[200, 201])
                .await;
            let list = rig
                .must("GET", "/api/v1/vouchers?booking_ref=R1", None, &[200])
                .await;
            assert_eq!(list["total"], 1, "one voucher for the booking reference");
        }
        "voucher_patch" => {
            let code = voucher_with_two(
                &rig,
                json!({"valid_from": at(-3600), "valid_until": at(7200), "duration_minutes": null}),
            )
            .await;
            rig.stop();
            // Shortened into the past: both devices must go.
            let body = json!({"valid_until": at(-60)});
            let path = format!("/api/v1/vouchers/{code}");
            if arm(&mut rig, point) {
                doomed(&rig, "PATCH", &path, Some(body.clone())).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            let v = rig.must("PATCH", &path, Some(body), &[200]).await;
            assert_eq!(status_of(&v), "expired");
            assert!(rig.active_grants(&code).is_empty());
            rig.converge(10).await;
            assert!(rig.sim.authorized().is_empty());
        }
        "voucher_revoke" => {
            let code = voucher_with_two(&rig, json!({})).await;
            rig.stop();
            let path = format!("/api/v1/vouchers/{code}/revoke");
            if arm(&mut rig, point) {
                doomed(&rig, "POST", &path, Some(json!({}))).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            let v = rig.must("POST", &path, Some(json!({})), &[200]).await;
            assert_eq!(status_of(&v), "revoked");
            assert!(rig.active_grants(&code).is_empty());
            rig.converge(10).await;
            assert!(rig.sim.authorized().is_empty());
        }
        "grant_revoke" => {
            let code = voucher_with_two(&rig, json!({})).await;
            let (victim, _) = rig
                .active_grants(&code)
                .into_iter()
                .find(|(_, m)| *m == mac(1))
                .unwrap();
            rig.stop();
            let path = format!("/api/v1/grants/{victim}/revoke");
            if arm(&mut rig, point) {
                doomed(&rig, "POST", &path, Some(json!({}))).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            let g = rig.must("POST", &path, Some(json!({})), &[200]).await;
            assert_eq!(g["end_reason"], "grant_revoked");
            let left: Vec<String> = rig.active_grants(&code).into_iter().map(|g| g.1).collect();
            assert_eq!(left, vec![mac(2)], "the other device stays");
            rig.converge(10).await;
            let on: Vec<String> = rig
                .sim
                .authorized()
                .iter()
                .map(|c| c.mac.to_string())
                .collect();
            assert_eq!(on, vec![mac(2)]);
        }
        "booking_put" => {
            let code = booking_with_guest(&rig).await;
            rig.stop();
            // The stay is cut short: it ended a minute ago.
            let body = json!({"start": at(-3600), "end": at(-60), "codes": ["4711"]});
            if arm(&mut rig, point) {
                doomed(
                    &rig,
                    "PUT",
                    "/api/v1/units/u/bookings/B1",
                    Some(body.clone()),
                )
                .await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            let b = rig
                .must("PUT", "/api/v1/units/u/bookings/B1", Some(body), &[200])
                .await;
            assert_eq!(b["voucher"]["code"], code.as_str());
            assert_eq!(b["voucher"]["status"], "expired");
            assert!(rig.active_grants(&code).is_empty());
            rig.converge(10).await;
            assert!(rig.sim.authorized().is_empty());
        }
        "booking_delete" => {
            let code = booking_with_guest(&rig).await;
            rig.stop();
            let path = "/api/v1/units/u/bookings/B1";
            if arm(&mut rig, point) {
                doomed(&rig, "DELETE", path, None).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            // A retried cancellation succeeds and never leaves a live voucher behind.
            rig.must("DELETE", path, None, &[204]).await;
            rig.must("GET", path, None, &[404]).await;
            let v = rig
                .must("GET", &format!("/api/v1/vouchers/{code}"), None, &[200])
                .await;
            assert_eq!(status_of(&v), "revoked");
            assert!(rig.active_grants(&code).is_empty());
            rig.converge(10).await;
            assert!(rig.sim.authorized().is_empty());
        }
        "bookings_sync" => {
            let code = booking_with_guest(&rig).await;
            rig.stop();
            // The calendar goes blank during B1's stay and shows a new booking B2.
            let body = json!({"from": at(0), "bookings": [
                {"booking_ref": "B2", "start": at(86_400 * 3), "end": at(86_400 * 4)}]});
            let path = "/api/v1/units/u/bookings";
            if arm(&mut rig, point) {
                doomed(&rig, "PUT", path, Some(body.clone())).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            rig.must("PUT", path, Some(body), &[200]).await;
            let b1 = rig
                .must("GET", "/api/v1/units/u/bookings/B1", None, &[200])
                .await;
            assert_eq!(b1["state"], "vanished");
            assert_eq!(b1["voucher"]["status"], "active", "the guest stays in");
            let b2 = rig
                .must("GET", "/api/v1/units/u/bookings/B2", None, &[200])
                .await;
            assert_eq!(b2["voucher"]["status"], "unused");
            assert_eq!(rig.active_grants(&code).len(), 1);
            rig.converge(10).await;
            assert_eq!(
                rig.sim.authorized().len(),
                1,
                "the guest is still on the controller"
            );
        }
        "vanish_cancel" => {
            // A booking that starts in 3 s goes missing: it is cancelled at its start.
            rig.must(
                "PUT",
                "/api/v1/units/u/bookings",
                Some(json!({"from": at(0), "bookings": [
                    {"booking_ref": "B3", "start": at(3), "end": at(86_400)}]})),
                &[200],
            )
            .await;
            let b = rig
                .must(
                    "PUT",
                    "/api/v1/units/u/bookings",
                    Some(json!({"from": at(0), "bookings": []})),
                    &[200],
                )
                .await;
            assert_eq!(b["vanished"], json!(["B3"]));
            rig.stop();
            if arm(&mut rig, point) {
                dies(&mut rig, point, 15);
            }
            restart(&mut rig, point);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let b = rig
                    .must("GET", "/api/v1/units/u/bookings/B3", None, &[200])
                    .await;
                if b["state"] == "cancelled" {
                    assert_eq!(b["voucher"]["status"], "revoked");
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "not cancelled: {b}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        "unit_revoke" => {
            let a = voucher_with_two(&rig, json!({})).await;
            let b = rig.voucher(json!({})).await;
            rig.stop();
            let path = "/api/v1/units/u/revoke";
            if arm(&mut rig, point) {
                doomed(&rig, "POST", path, Some(json!({}))).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            rig.must("POST", path, Some(json!({})), &[200]).await;
            for code in [&a, &b] {
                let v = rig
                    .must("GET", &format!("/api/v1/vouchers/{code}"), None, &[200])
                    .await;
                assert_eq!(status_of(&v), "revoked");
            }
            rig.converge(10).await;
            assert!(rig.sim.authorized().is_empty(), "every device taken off");
        }
        "device_reserve" | "device" | "device_confirm" | "device_release" => {
            let code = rig.voucher(json!({"max_devices": 2})).await;
            let tv = "A4-77-33-0E-51-C2";
            rig.sim
                .join_wifi("Default", common::crash::SSID, tv.parse().unwrap(), None)
                .unwrap();
            rig.stop();
            let path = format!("/api/v1/vouchers/{code}/devices");
            let body = json!({"mac": tv, "name": "TV"});
            if arm(&mut rig, point) {
                if scope == "device_release" {
                    // The controller fails: the slot is given back.
                    rig.sim.set_openapi_http500(true);
                }
                doomed(&rig, "POST", &path, Some(body.clone())).await;
                dies(&mut rig, point, 15);
                rig.sim.set_openapi_http500(false);
            }
            restart(&mut rig, point);
            let g = rig.must("POST", &path, Some(body), &[200, 201]).await;
            assert_eq!(
                (g["status"].as_str(), g["by_host"].as_bool()),
                (Some("active"), Some(true))
            );
            let on: Vec<String> = rig.active_grants(&code).into_iter().map(|g| g.1).collect();
            assert_eq!(on, vec![tv.to_owned()]);
            rig.check("after the host's retry");
            rig.converge(20).await;
            assert!(rig.sim.authorized().iter().any(|c| c.mac.to_string() == tv));
        }
        "redeem_reserve" | "redeem" | "redeem_confirm" | "redeem_release" => {
            let code = rig.voucher(json!({"max_devices": 1})).await;
            rig.stop();
            let guest = mac(3);
            if arm(&mut rig, point) {
                if scope == "redeem_release" {
                    // The controller refuses: the slot is given back.
                    rig.sim.set_reject_sessions(true);
                }
                let r = rig.guest(&guest, &code).await;
                assert!(
                    r.as_ref().is_none_or(|r| !r.succeeded()),
                    "no success page from a process that died before confirming"
                );
                dies(&mut rig, point, 15);
                rig.sim.set_reject_sessions(false);
            }
            restart(&mut rig, point);
            // The guest tries again (a slot rolled back is free again) and is let in.
            let r = rig.guest(&guest, &code).await.expect("the portal answers");
            assert!(r.succeeded(), "{}", r.body);
            let on: Vec<String> = rig.active_grants(&code).into_iter().map(|g| g.1).collect();
            assert_eq!(on, vec![guest.clone()]);
            rig.check("after the guest's retry");
            rig.converge(10).await;
        }
        "expiry" => {
            let code = rig
                .voucher(json!({"valid_until": at(10), "duration_minutes": null}))
                .await;
            rig.let_in(&mac(4), &code).await;
            rig.stop();
            if arm(&mut rig, point) {
                dies(&mut rig, point, 30);
            }
            restart(&mut rig, point);
            assert!(rig.active_grants(&code).is_empty());
            rig.converge(10).await;
            assert!(rig.sim.authorized().is_empty(), "taken off at its end");
        }
        "recovery" => {
            // What an earlier version's crash could leave: a redemption never confirmed,
            // and a revoke committed without its grants ended.
            let code = rig.voucher(json!({"max_devices": 2})).await;
            let other = rig.voucher(json!({})).await;
            rig.let_in(&mac(5), &other).await;
            rig.stop();
            {
                let db =
                    rusqlite::Connection::open(rig.path().join(rental_wifi::app::DB_FILE)).unwrap();
                db.execute(
                    "INSERT INTO grants (grant_id, code, unit_id, client_mac, site, state, created_at, expires_at)
                     VALUES ('g-pending', ?1, 'u', ?2, 'Default', 'pending', 0, 9999999999999)",
                    rusqlite::params![code, mac(6)],
                )
                .unwrap();
                db.execute(
                    "UPDATE vouchers SET devices_used = 1 WHERE code = ?1",
                    [&code],
                )
                .unwrap();
                db.execute(
                    "UPDATE vouchers SET revoked_at = ?2 WHERE code = ?1",
                    rusqlite::params![other, now_ms()],
                )
                .unwrap();
            }
            assert!(!arm(&mut rig, point), "the repair runs before `ready`");
            restart(&mut rig, point);
            assert!(
                rig.active_grants(&other).is_empty(),
                "revoked voucher's device ended"
            );
            let v = rig
                .must("GET", &format!("/api/v1/vouchers/{code}"), None, &[200])
                .await;
            assert_eq!(
                v["devices_used"], 0,
                "the unfinished redemption's slot is free"
            );
            rig.converge(10).await;
        }
        "outbox" | "outbox_done" | "outbox_retry" | "outbox_park" => {
            let code = voucher_with_two(&rig, json!({})).await;
            rig.stop();
            if arm(&mut rig, point) {
                match scope {
                    // The controller does not answer: the item is retried with a backoff.
                    "outbox_retry" => rig
                        .sim
                        .set_outage(Some(rental_wifi::sim::omada::Outage::Http503)),
                    // The controller refuses the operator: the item waits for the host.
                    "outbox_park" => rig.sim.set_reject_sessions(true),
                    _ => {}
                }
                // The revoke itself commits and answers; the worker dies sending it on.
                let path = format!("/api/v1/vouchers/{code}/revoke");
                let (s, _) = rig
                    .api("POST", &path, Some(json!({})))
                    .await
                    .unwrap_or((0, Value::Null));
                assert!(s == 200 || s == 0, "{s}");
                dies(&mut rig, point, 15);
                rig.sim.set_reject_sessions(false);
                rig.sim.set_outage(None);
            }
            restart(&mut rig, point);
            assert!(rig.active_grants(&code).is_empty());
            // Sent (again) after the restart (a waiting item is tried once at start), until
            // the controller confirms.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !rig.sim.authorized().is_empty() {
                assert!(std::time::Instant::now() < deadline, "devices still on");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            rig.converge(20).await;
        }
        "settings_audit" => {
            rig.stop();
            let settings = serde_json::to_value(rig.sim.hotspot_settings()).unwrap();
            let path = "/api/v1/settings/omada?validate=false";
            if arm(&mut rig, point) {
                doomed(&rig, "PUT", path, Some(settings.clone())).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            rig.must("PUT", path, Some(settings), &[200]).await;
            rig.must("GET", "/api/v1/settings/omada", None, &[200])
                .await;
        }
        "maintenance" => {
            voucher_with_two(&rig, json!({})).await;
            rig.stop();
            // Retention runs at every start, then hourly.
            if arm(&mut rig, point) {
                dies(&mut rig, point, 15);
            }
            restart(&mut rig, point);
            rig.converge(10).await;
        }
        "wifi_key_place" | "wifi_key" | "wifi_key_done" => {
            password_unit(&rig).await;
            rig.stop();
            if arm(&mut rig, point) {
                // The issue commits and answers; the worker dies putting the key on.
                let _ = rig
                    .api(
                        "POST",
                        "/api/v1/vouchers",
                        Some(json!({"unit_id": "p", "valid_until": at(3600)})),
                    )
                    .await;
                dies(&mut rig, point, 15);
            }
            restart(&mut rig, point);
            let (code, password) = the_password_voucher(&rig).await;
            rig.converge(15).await;
            assert_eq!(guest_keys(&rig), vec![password], "on the controller, once");
            let live: Option<i64> = rig
                .db()
                .query_row(
                    "SELECT live_since FROM wifi_keys WHERE code = ?1",
                    [&code],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(live.is_some(), "the sidecar knows the key is on");
            revoke_and_check_gone(&rig, &code).await;
        }
        "password_read" => {
            password_unit(&rig).await;
            let (code, password) = password_voucher(&rig).await;
            rig.converge(15).await;
            rig.stop();
            if arm(&mut rig, point) {
                doomed(&rig, "GET", "/api/v1/units/p/password", None).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            let p = rig
                .must("GET", "/api/v1/units/p/password", None, &[200])
                .await;
            assert_eq!(p["wifi"]["password"], password.as_str());
            let reads: i64 = rig
                .db()
                .query_row(
                    "SELECT COUNT(*) FROM audit WHERE action = 'wifi_password.read' AND code = ?1",
                    [&code],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(
                reads >= 2,
                "the issue answer and the read that answered: {reads}"
            );
            revoke_and_check_gone(&rig, &code).await;
        }
        "device_key" => {
            password_unit(&rig).await;
            let (code, _) = password_voucher(&rig).await;
            rig.converge(15).await;
            rig.stop();
            let path = format!("/api/v1/vouchers/{code}/devices");
            let body = json!({"mac": mac(8), "name": "TV"});
            if arm(&mut rig, point) {
                doomed(&rig, "POST", &path, Some(body.clone())).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            let d = rig.must("POST", &path, Some(body), &[200, 201]).await;
            assert_eq!(d["wifi"]["mac"], mac(8).as_str());
            rig.converge(15).await;
            assert_eq!(guest_keys(&rig).len(), 2, "the voucher's key and the TV's");
            revoke_and_check_gone(&rig, &code).await;
        }
        "outbox_discard" => {
            // Two take-outs wait on a refused operator; the host discards one.
            let code = voucher_with_two(&rig, json!({})).await;
            rig.sim.set_reject_sessions(true);
            rig.must(
                "POST",
                &format!("/api/v1/vouchers/{code}/revoke"),
                Some(json!({})),
                &[200],
            )
            .await;
            let waiting = || async {
                rig.must("GET", "/api/v1/outbox", None, &[200]).await["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|i| i["problem"].is_string())
                    .count()
            };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while waiting().await < 2 {
                assert!(std::time::Instant::now() < deadline, "items never waited");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let items = rig.must("GET", "/api/v1/outbox", None, &[200]).await;
            let id = items["items"][0]["id"].as_i64().unwrap();
            rig.stop();
            let path = format!("/api/v1/outbox/{id}/discard");
            if arm(&mut rig, point) {
                doomed(&rig, "POST", &path, None).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            // The retry: discarded now, or found discarded already (409).
            rig.must("POST", &path, None, &[200, 409]).await;
            let db = rig.db();
            let (done, discarded): (Option<i64>, Option<i64>) = db
                .query_row(
                    "SELECT done_at, discarded_at FROM outbox WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert!(
                done.is_some() && done == discarded,
                "discarded, and so finished"
            );
            let audited: i64 = db
                .query_row(
                    "SELECT COUNT(*) FROM audit WHERE action = 'outbox.discard'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(audited, 1, "one discard, audited once");
            let left = rig.must("GET", "/api/v1/outbox", None, &[200]).await;
            assert_eq!(
                left["items"].as_array().unwrap().len(),
                1,
                "the other still waits"
            );
            rig.sim.set_reject_sessions(false);
        }
        "renewal" => {
            // Open API: a stay longer than the portal timeout (8 h) is renewed before it runs
            // out. Extending the voucher re-authorises at once and schedules the next.
            rig.use_openapi().await;
            let code = rig.voucher(json!({"duration_minutes": 120})).await;
            rig.let_in(&mac(8), &code).await;
            rig.stop();
            let path = format!("/api/v1/vouchers/{code}");
            let body = json!({"duration_minutes": 3 * 24 * 60});
            if arm(&mut rig, point) {
                let _ = rig.api("PATCH", &path, Some(body.clone())).await;
                dies(&mut rig, point, 15);
            }
            restart(&mut rig, point);
            rig.must("PATCH", &path, Some(body), &[200]).await;
            rig.converge(10).await;
            let (grant, _) = rig.active_grants(&code).pop().unwrap();
            let due: Vec<i64> = {
                let db = rig.db();
                let mut st = db
                    .prepare(
                        "SELECT next_attempt_at FROM outbox WHERE done_at IS NULL
                         AND json_extract(payload, '$.op') = 'reauthorize'
                         AND json_extract(payload, '$.grant_id') = ?1",
                    )
                    .unwrap();
                let v = st
                    .query_map([&grant], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                v
            };
            assert_eq!(due.len(), 1, "exactly one renewal waits: {due:?}");
            let in_h = (due[0] - now_ms()) as f64 / 3_600_000.0;
            assert!(
                (7.5..8.0).contains(&in_h),
                "renewed before the 8-hour portal timeout: in {in_h} h"
            );
            assert!(
                rig.sim.requests_to("/auth").len() >= 2,
                "authorised again through the Open API"
            );
        }
        "reconcile" => {
            // A database restored from a backup older than a guest's login: the controller
            // still lets the device in, the database knows no grant for it.
            let code = rig.voucher(json!({})).await;
            rig.stop();
            let backup = rig.backup();
            rig.start(&[]);
            rig.let_in(&mac(9), &code).await;
            rig.stop();
            rig.restore(&backup);
            assert_eq!(rig.sim.authorized().len(), 1);
            if arm(&mut rig, point) {
                // Reconciliation runs shortly after the start.
                dies(&mut rig, point, 15);
            }
            restart(&mut rig, point);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !rig.sim.authorized().is_empty() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the device without a grant is still let in"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            rig.converge(10).await;
        }
        "host_test_create" => {
            rig.stop();
            if arm(&mut rig, point) {
                doomed(&rig, "POST", "/api/v1/units/u/host-test", None).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            let t = rig
                .must("POST", "/api/v1/units/u/host-test", None, &[201])
                .await;
            assert_eq!(t["status"], "waiting");
            let code = t["code"].as_str().unwrap().to_owned();
            let db = rig.db();
            let orphans: i64 = db
                .query_row(
                    "SELECT COUNT(*) FROM vouchers v WHERE v.source = 'host_test'
                     AND v.code NOT IN (SELECT code FROM host_tests)",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                orphans, 0,
                "a test code is its voucher and its test row, or neither"
            );
            rig.let_in(&mac(10), &code).await;
        }
        "host_test_result" => {
            let t = rig
                .must("POST", "/api/v1/units/u/host-test", None, &[201])
                .await;
            let code = t["code"].as_str().unwrap().to_owned();
            rig.let_in(&mac(11), &code).await;
            rig.stop();
            let path = format!("/api/v1/vouchers/{code}/revoke");
            if arm(&mut rig, point) {
                // Taken off early: the same path as after its 60 seconds.
                let _ = rig.api("POST", &path, Some(json!({}))).await;
                dies(&mut rig, point, 15);
            }
            restart(&mut rig, point);
            rig.must("POST", &path, Some(json!({})), &[200]).await;
            rig.converge(10).await;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let t = rig
                    .must("GET", &format!("/api/v1/host-tests/{code}"), None, &[200])
                    .await;
                if t["status"] == "done" {
                    assert_eq!(t["result"]["ok"], true, "{t}");
                    assert_eq!(t["result"]["authorization_state"], "not_readable", "{t}");
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "no result: {t}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert!(rig.sim.authorized().is_empty());
        }
        "property_put" => {
            // The property's zone and its audit row: both or neither.
            let path = "/api/v1/settings/property";
            rig.must(
                "PUT",
                path,
                Some(json!({"time_zone": "Europe/Lisbon"})),
                &[200],
            )
            .await;
            rig.stop();
            let body = json!({"time_zone": "America/New_York"});
            if arm(&mut rig, point) {
                doomed(&rig, "PUT", path, Some(body.clone())).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            let stored = rig.must("GET", path, None, &[200]).await;
            let audited = |a: &Value, zone: &str| {
                a["entries"].as_array().unwrap().iter().any(|e| {
                    e["action"] == "settings.property.put"
                        && e["detail"] == format!("time_zone={zone}")
                })
            };
            let audit = rig.must("GET", "/api/v1/audit", None, &[200]).await;
            if point.ends_with("after_commit") {
                assert_eq!(stored["time_zone"], "America/New_York");
                assert!(audited(&audit, "America/New_York"), "{audit}");
            } else {
                assert_eq!(stored["time_zone"], "Europe/Lisbon");
                assert!(!audited(&audit, "America/New_York"), "{audit}");
            }
            rig.must("PUT", path, Some(body), &[200]).await;
            let stored = rig.must("GET", path, None, &[200]).await;
            assert_eq!(stored["time_zone"], "America/New_York");
        }
        "unit_logo" => {
            // A logo upload: the unit points at a stored image, or keeps none.
            let mut file = Vec::new();
            {
                let mut enc = png::Encoder::new(&mut file, 8, 8);
                enc.set_color(png::ColorType::Grayscale);
                let mut wr = enc.write_header().unwrap();
                wr.write_image_data(&[7u8; 64]).unwrap();
            }
            rig.stop();
            if arm(&mut rig, point) {
                let _ = rig
                    .api_raw("PUT", "/api/v1/units/u/logo", file.clone())
                    .await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            {
                let db = rig.db();
                let dangling: i64 = db
                    .query_row(
                        "SELECT COUNT(*) FROM units WHERE logo_sha256 IS NOT NULL
                         AND logo_sha256 NOT IN (SELECT sha256 FROM logos)",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(
                    dangling, 0,
                    "a unit never points at a logo that is not stored"
                );
            }
            let u = rig
                .api_raw("PUT", "/api/v1/units/u/logo", file.clone())
                .await
                .expect("an answer");
            assert_eq!(u.0, 200, "{}", u.1);
            let sha = u.1["logo_sha256"].as_str().unwrap().to_owned();
            let (s, _) = rig
                .portal_get(&format!("/portal/logo/{sha}"))
                .await
                .unwrap();
            assert_eq!(s, 200, "the logo is served");
        }
        "guest_disconnect" => {
            // The guest ends their own device's access from the status page.
            let code = rig.voucher(json!({"max_devices": 2})).await;
            rig.let_in(&mac(12), &code).await;
            rig.stop();
            if arm(&mut rig, point) {
                let (_, html) = rig.portal_get("/portal/status").await.unwrap();
                let form = common::hidden_fields(&html);
                assert!(form.iter().any(|(k, _)| k == "csrf"), "{html}");
                let _ = rig.portal_post("/portal/disconnect", &form).await;
                dies(&mut rig, point, 10);
            }
            restart(&mut rig, point);
            // The guest tries again: the status page has a fresh form while the grant lasts.
            let (_, html) = rig.portal_get("/portal/status").await.unwrap();
            let form = common::hidden_fields(&html);
            if form.iter().any(|(k, _)| k == "csrf") {
                let (s, html) = rig.portal_post("/portal/disconnect", &form).await.unwrap();
                assert_eq!(
                    (s, common::result_of(&html).as_str()),
                    (200, "disconnected")
                );
            }
            assert!(
                rig.active_grants(&code).is_empty(),
                "the device's access ended"
            );
            rig.converge(10).await;
            assert!(rig.sim.authorized().is_empty(), "and the device is off");
        }
        other => panic!("no crash case for fail point scope {other}"),
    }
    rig.check(&format!("at the end of the {point} case"));
}

macro_rules! cases {
    ($($name:ident => $point:literal,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                run($point).await;
            }
        )*

        /// Every fail point the sidecar has is killed at by a case above.
        #[test]
        fn every_fail_point_has_a_case() {
            let covered = [$($point),*];
            let mut missing: Vec<&str> = rental_wifi::testing::FAILPOINTS
                .iter()
                .copied()
                .filter(|p| !covered.contains(p))
                .collect();
            missing.sort_unstable();
            assert!(missing.is_empty(), "fail points without a crash case: {missing:?}");
            for p in covered {
                assert!(rental_wifi::testing::FAILPOINTS.contains(&p), "{p} is no fail point");
            }
        }
    };
}

cases! {
    unit_create_before_commit => "unit_create.before_commit",
    unit_create_after_commit => "unit_create.after_commit",
    unit_patch_before_commit => "unit_patch.before_commit",
    unit_patch_after_commit => "unit_patch.after_commit",
    unit_delete_before_commit => "unit_delete.before_commit",
    unit_delete_after_commit => "unit_delete.after_commit",
    voucher_issue_before_commit => "voucher_issue.before_commit",
    voucher_issue_after_commit => "voucher_issue.after_commit",
    voucher_patch_before_commit => "voucher_patch.before_commit",
    voucher_patch_after_commit => "voucher_patch.after_commit",
    voucher_revoke_before_commit => "voucher_revoke.before_commit",
    voucher_revoke_after_commit => "voucher_revoke.after_commit",
    grant_revoke_before_commit => "grant_revoke.before_commit",
    grant_revoke_after_commit => "grant_revoke.after_commit",
    booking_put_before_commit => "booking_put.before_commit",
    booking_put_after_commit => "booking_put.after_commit",
    booking_delete_before_commit => "booking_delete.before_commit",
    booking_delete_after_commit => "booking_delete.after_commit",
    bookings_sync_before_commit => "bookings_sync.before_commit",
    bookings_sync_after_commit => "bookings_sync.after_commit",
    vanish_cancel_before_commit => "vanish_cancel.before_commit",
    vanish_cancel_after_commit => "vanish_cancel.after_commit",
    unit_revoke_before_commit => "unit_revoke.before_commit",
    unit_revoke_after_commit => "unit_revoke.after_commit",
    device_reserve_before_commit => "device_reserve.before_commit",
    device_reserve_after_commit => "device_reserve.after_commit",
    device_authorized => "device.authorized",
    device_confirm_before_commit => "device_confirm.before_commit",
    device_confirm_after_commit => "device_confirm.after_commit",
    device_release_before_commit => "device_release.before_commit",
    device_release_after_commit => "device_release.after_commit",
    redeem_reserve_before_commit => "redeem_reserve.before_commit",
    redeem_reserve_after_commit => "redeem_reserve.after_commit",
    redeem_authorized => "redeem.authorized",
    redeem_confirm_before_commit => "redeem_confirm.before_commit",
    redeem_confirm_after_commit => "redeem_confirm.after_commit",
    redeem_release_before_commit => "redeem_release.before_commit",
    redeem_release_after_commit => "redeem_release.after_commit",
    expiry_before_commit => "expiry.before_commit",
    expiry_after_commit => "expiry.after_commit",
    recovery_before_commit => "recovery.before_commit",
    recovery_after_commit => "recovery.after_commit",
    outbox_sent => "outbox.sent",
    outbox_done_before_commit => "outbox_done.before_commit",
    outbox_done_after_commit => "outbox_done.after_commit",
    outbox_retry_before_commit => "outbox_retry.before_commit",
    outbox_retry_after_commit => "outbox_retry.after_commit",
    settings_audit_before_commit => "settings_audit.before_commit",
    settings_audit_after_commit => "settings_audit.after_commit",
    maintenance_before_commit => "maintenance.before_commit",
    maintenance_after_commit => "maintenance.after_commit",
    wifi_key_place_before_commit => "wifi_key_place.before_commit",
    wifi_key_place_after_commit => "wifi_key_place.after_commit",
    wifi_key_sent => "wifi_key.sent",
    wifi_key_done_before_commit => "wifi_key_done.before_commit",
    wifi_key_done_after_commit => "wifi_key_done.after_commit",
    password_read_before_commit => "password_read.before_commit",
    password_read_after_commit => "password_read.after_commit",
    device_key_before_commit => "device_key.before_commit",
    device_key_after_commit => "device_key.after_commit",
    outbox_park_before_commit => "outbox_park.before_commit",
    outbox_park_after_commit => "outbox_park.after_commit",
    outbox_discard_before_commit => "outbox_discard.before_commit",
    outbox_discard_after_commit => "outbox_discard.after_commit",
    renewal_before_commit => "renewal.before_commit",
    renewal_after_commit => "renewal.after_commit",
    reconcile_before_commit => "reconcile.before_commit",
    reconcile_after_commit => "reconcile.after_commit",
    host_test_create_before_commit => "host_test_create.before_commit",
    host_test_create_after_commit => "host_test_create.after_commit",
    host_test_result_before_commit => "host_test_result.before_commit",
    host_test_result_after_commit => "host_test_result.after_commit",
    unit_logo_before_commit => "unit_logo.before_commit",
    unit_logo_after_commit => "unit_logo.after_commit",
    guest_disconnect_before_commit => "guest_disconnect.before_commit",
    guest_disconnect_after_commit => "guest_disconnect.after_commit",
    property_put_before_commit => "property_put.before_commit",
    property_put_after_commit => "property_put.after_commit",
}
