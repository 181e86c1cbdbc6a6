//! Stays and devices as they really happen (issue 14) and the redemption rules of issue 13,
//! over real HTTP with the Omada simulator as the controller and the sidecar's clock moved
//! forward instead of sleeping:
//!
//! * the calendar reads "No reservation" for 10 minutes and for 6 hours during a stay: no
//!   unauthorise reaches the controller and no revoke event fires;
//! * blank for 30 minutes before check-in: the same code works after the booking reappears;
//! * missing past the unit's limit: a real cancellation, undone with the same code when the
//!   booking comes back (unless the host revoked it);
//! * four phones whose Wi-Fi addresses rotate every 14 days through a 30-day stay never see
//!   the device-limit page, the database never holds more active grants than the limit, and
//!   the controller follows within seconds;
//! * the host lets a TV in by its MAC; a unit's access is revoked in one call;
//! * a redemption never shortens or moves another voucher's grant, and success is throttled.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use common::{eventually, redirect_query, PortalEnv, PortalResult, TestApp};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

const SSID: &str = "Guest";

fn at(t: OffsetDateTime) -> String {
    rental_wifi::clock::rfc3339(t)
}

/// A guest's MAC from a number.
fn mac(n: u32) -> String {
    format!(
        "02-00-00-{:02X}-{:02X}-{:02X}",
        (n >> 16) & 0xff,
        (n >> 8) & 0xff,
        n & 0xff
    )
}

/// The events the sidecar published, as its SSE stream delivered them.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<(String, Value)>>>);

impl Events {
    /// Follow `GET /api/v1/events` from now on.
    async fn follow(app: &TestApp) -> Events {
        let mut resp = app
            .http
            .get(app.url("/api/v1/events"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        // The stream says it is connected before anything else: nothing is missed after.
        let first = resp.chunk().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("connected"));
        let events = Events::default();
        let sink = events.0.clone();
        tokio::spawn(async move {
            let mut buf = String::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(i) = buf.find("\n\n") {
                    let block: String = buf.drain(..i + 2).collect();
                    let mut name = None;
                    let mut data = Value::Null;
                    for line in block.lines() {
                        if let Some(n) = line.strip_prefix("event: ") {
                            name = Some(n.to_owned());
                        } else if let Some(d) = line.strip_prefix("data: ") {
                            data = serde_json::from_str(d).unwrap_or(Value::Null);
                        }
                    }
                    if let Some(n) = name {
                        sink.lock().unwrap().push((n, data));
                    }
                }
            }
        });
        events
    }

    fn named(&self, name: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .collect()
    }

    async fn wait_for(&self, name: &str, n: usize) -> Vec<Value> {
        assert!(
            eventually(5, || async { self.named(name).len() >= n }).await,
            "{n} {name} events: {:?}",
            self.0.lock().unwrap()
        );
        self.named(name)
    }
}

struct Env {
    app: TestApp,
    sim: rental_wifi::sim::omada::OmadaSim,
    events: Events,
}

/// A sidecar on the simulator with unit `home` on the simulator's guest SSID, no grace.
async fn env() -> Env {
    let PortalEnv { app, sim } = PortalEnv::start().await;
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "home", "name": "Home", "ssids": [SSID]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let events = Events::follow(&app).await;
    Env { app, sim, events }
}

impl Env {
    fn now(&self) -> OffsetDateTime {
        self.app.clock.now().replace_nanosecond(0).unwrap()
    }

    /// Move the sidecar's clock and let its timers look.
    async fn advance(&self, by: Duration) {
        self.app
            .clock
            .advance(StdDuration::from_millis(by.whole_milliseconds() as u64));
        self.app.handle.wake_timers();
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }

    /// Home Assistant's whole-calendar call for unit `home`.
    async fn calendar(
        &self,
        bookings: &[(&str, OffsetDateTime, OffsetDateTime, &[&str])],
    ) -> Value {
        self.calendar_span(self.now(), None, bookings).await
    }

    async fn calendar_span(
        &self,
        from: OffsetDateTime,
        until: Option<OffsetDateTime>,
        bookings: &[(&str, OffsetDateTime, OffsetDateTime, &[&str])],
    ) -> Value {
        let list: Vec<Value> = bookings
            .iter()
            .map(|(r, s, e, codes)| {
                json!({"booking_ref": r, "start": at(*s), "end": at(*e), "guest_name": "Ana", "codes": codes})
            })
            .collect();
        let (s, b) = self
            .app
            .put(
                "/api/v1/units/home/bookings",
                json!({"from": at(from), "until": until.map(at), "bookings": list}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    async fn booking(&self, r: &str) -> Value {
        let (s, b) = self
            .app
            .get(&format!("/api/v1/units/home/bookings/{r}"))
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    async fn voucher(&self, code: &str) -> Value {
        let (s, v) = self.app.get(&format!("/api/v1/vouchers/{code}")).await;
        assert_eq!(s, 200, "{v}");
        v
    }

    async fn guest(&self, mac: &str, code: &str) -> PortalResult {
        self.app
            .redeem_with(&redirect_query(mac, SSID), code, &[], None)
            .await
    }

    /// MACs the controller lets in now.
    fn on_controller(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .sim
            .authorized()
            .iter()
            .map(|c| c.mac.to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// MACs with an active grant on `code`.
    async fn active_macs(&self, code: &str) -> Vec<String> {
        let (_, g) = self
            .app
            .get(&format!("/api/v1/grants?active=true&code={code}"))
            .await;
        let mut v: Vec<String> = g["grants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["client_mac"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    }

    async fn audit_actions(&self) -> Vec<String> {
        let (_, a) = self.app.get("/api/v1/audit?limit=1000").await;
        a["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn refs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_blank_calendar_during_a_stay_never_cuts_the_guest() {
    let env = env().await;
    let now = env.now();
    let stay = ("STAY", now - Duration::days(1), now + Duration::days(2));
    let r = env.calendar(&[(stay.0, stay.1, stay.2, &["4711"])]).await;
    assert_eq!(refs(&r["created"]), ["STAY"]);
    let code = env.booking("STAY").await["voucher"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = mac(1);
    assert!(env.guest(&phone, "4711").await.succeeded());
    assert_eq!(env.on_controller(), std::slice::from_ref(&phone));
    let before = env.sim.counters();

    for blank in [Duration::minutes(10), Duration::hours(6)] {
        // Rental Control clears its sensors after two empty fetches: Home Assistant sends the
        // blank view, again at every refresh while it lasts.
        let r = env.calendar(&[]).await;
        assert_eq!(refs(&r["vanished"]), ["STAY"], "{r}");
        let b = env.booking("STAY").await;
        assert_eq!(b["state"], "vanished");
        assert!(
            b["cancel_at"].is_null(),
            "during a stay it is never cancelled"
        );
        assert_eq!(b["voucher"]["status"], "active");
        let (_, st) = env.app.get("/api/v1/state").await;
        let vanished = &st["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["unit"]["unit_id"] == "home")
            .unwrap()["vanished_bookings"];
        assert_eq!(vanished[0]["booking_ref"], "STAY");
        assert_eq!(vanished[0]["during_stay"], true);
        let mut left = blank;
        while left > Duration::ZERO {
            let step = left.min(Duration::minutes(30));
            env.advance(step).await;
            left -= step;
            let r = env.calendar(&[]).await;
            assert!(refs(&r["vanished"]).is_empty(), "missing already: {r}");
        }
        // Nothing reached the controller, the guest is still in.
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        assert_eq!(env.app.handle.outbox_pending().await, 0);
        let after = env.sim.counters();
        assert_eq!(
            (after.disconnects, after.unauths),
            (before.disconnects, before.unauths),
            "no unauthorise during a {blank} blank"
        );
        assert_eq!(env.on_controller(), std::slice::from_ref(&phone));
        assert_eq!(env.active_macs(&code).await, std::slice::from_ref(&phone));
        // The calendar answers again.
        let r = env.calendar(&[(stay.0, stay.1, stay.2, &["4711"])]).await;
        assert_eq!(refs(&r["restored"]), ["STAY"]);
        assert_eq!(env.booking("STAY").await["state"], "present");
    }
    let vanished = env.events.wait_for("booking_vanished", 2).await;
    assert_eq!(vanished[0]["booking_ref"], "STAY");
    assert_eq!(vanished[0]["during_stay"], true);
    assert_eq!(vanished[0]["code"], code.as_str());
    let restored = env.events.wait_for("booking_restored", 2).await;
    assert_eq!(restored[1]["was_cancelled"], false);
    for revoke in ["grant_revoked", "voucher_revoked", "booking_cancelled"] {
        assert!(env.events.named(revoke).is_empty(), "{revoke} fired");
    }
    let audit = env.audit_actions().await;
    assert_eq!(audit.iter().filter(|a| *a == "booking.vanish").count(), 2);
    assert_eq!(audit.iter().filter(|a| *a == "booking.restore").count(), 2);
    assert!(!audit.contains(&"voucher.revoke".to_owned()));
    // Missing again, and this time the stay really was cancelled: the host's revoke still
    // cuts the guest off at once.
    env.calendar(&[]).await;
    let (s, _) = env
        .app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200);
    assert!(
        eventually(5, || async {
            env.app.handle.wake_timers();
            env.on_controller().is_empty()
        })
        .await,
        "the host's revoke takes the device off"
    );
}

#[tokio::test]
async fn blank_before_check_in_suspends_and_the_same_code_comes_back() {
    let env = env().await;
    let now = env.now();
    let stay = ("SOON", now + Duration::hours(3), now + Duration::days(3));
    env.calendar(&[(stay.0, stay.1, stay.2, &["5150"])]).await;
    let code = env.booking("SOON").await["voucher"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    // Blank for 30 minutes, three hours before check-in.
    let r = env.calendar(&[]).await;
    assert_eq!(refs(&r["vanished"]), ["SOON"]);
    let b = env.booking("SOON").await;
    assert_eq!(b["voucher"]["status"], "suspended");
    assert_eq!(
        b["cancel_at"],
        at(stay.1),
        "default limit: the start of its access window"
    );
    let (_, list) = env
        .app
        .get("/api/v1/vouchers?unit_id=home&status=suspended")
        .await;
    assert_eq!(list["total"], 1);
    let vanished = env.events.wait_for("booking_vanished", 1).await;
    assert_eq!(vanished[0]["during_stay"], false);
    assert_eq!(vanished[0]["cancel_at"], at(stay.1));
    env.advance(Duration::minutes(30)).await;
    let r = env.calendar(&[(stay.0, stay.1, stay.2, &["5150"])]).await;
    assert_eq!(refs(&r["restored"]), ["SOON"]);
    let b = env.booking("SOON").await;
    assert_eq!(b["voucher"]["code"], code.as_str(), "the same code");
    assert_eq!(b["voucher"]["status"], "unused");
    assert!(b["voucher"]["suspended_at"].is_null());
    // At check-in both the code the guest was sent and the door code work.
    env.advance(Duration::hours(3)).await;
    assert!(env.guest(&mac(2), &code).await.succeeded());
    assert!(env.guest(&mac(3), "5150").await.succeeded());
    assert!(env.events.named("booking_cancelled").is_empty());
}

#[tokio::test]
async fn missing_past_the_limit_is_a_cancellation_that_the_booking_can_undo() {
    let env = env().await;
    let now = env.now();
    let stay = ("GONE", now + Duration::hours(1), now + Duration::days(2));
    env.calendar(&[(stay.0, stay.1, stay.2, &["2468"])]).await;
    let code = env.booking("GONE").await["voucher"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    env.calendar(&[]).await;
    assert_eq!(env.voucher(&code).await["status"], "suspended");
    // Still missing at the start of its access window: cancelled.
    env.advance(Duration::minutes(61)).await;
    let cancelled = env.events.wait_for("booking_cancelled", 1).await;
    assert_eq!(cancelled[0]["booking_ref"], "GONE");
    assert_eq!(cancelled[0]["cause"], "absent");
    let b = env.booking("GONE").await;
    assert_eq!(b["state"], "cancelled");
    assert_eq!(b["voucher"]["status"], "revoked");
    let r = env.guest(&mac(4), &code).await;
    assert!(!r.succeeded(), "a cancelled booking's code does not work");
    assert!(env
        .audit_actions()
        .await
        .contains(&"booking.cancel".to_owned()));
    // The neighbours' windows no longer count it; a new view without it changes nothing.
    let r = env.calendar(&[]).await;
    assert!(refs(&r["vanished"]).is_empty());
    // It comes back later: the same code works again.
    let r = env.calendar(&[(stay.0, stay.1, stay.2, &["2468"])]).await;
    assert_eq!(refs(&r["restored"]), ["GONE"]);
    let restored = env.events.wait_for("booking_restored", 1).await;
    assert_eq!(restored[0]["was_cancelled"], true);
    assert_eq!(env.voucher(&code).await["status"], "unused");
    assert!(env.guest(&mac(4), &code).await.succeeded());
    assert!(env.guest(&mac(5), "2468").await.succeeded());

    // The host revoked it: missing, cancelled, back in the calendar: still revoked.
    let (s, _) = env
        .app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200);
    env.calendar(&[]).await;
    env.calendar(&[(stay.0, stay.1, stay.2, &["2468"])]).await;
    assert_eq!(env.voucher(&code).await["status"], "revoked");
}

#[tokio::test]
async fn the_units_limit_moves_the_cancellation() {
    let env = env().await;
    let (s, u) = env
        .app
        .patch("/api/v1/units/home", json!({"vanish_cancel_minutes": 90}))
        .await;
    assert_eq!((s, &u["vanish_cancel_minutes"]), (200, &json!(90)), "{u}");
    assert_eq!(u["device_policy"], "replace_oldest");
    let now = env.now();
    let stay = ("LATE", now + Duration::hours(1), now + Duration::days(2));
    env.calendar(&[(stay.0, stay.1, stay.2, &[])]).await;
    env.calendar(&[]).await;
    assert_eq!(
        env.booking("LATE").await["cancel_at"],
        at(stay.1 + Duration::minutes(90))
    );
    // Past the start of the window, inside the limit: suspended still.
    env.advance(Duration::hours(2)).await;
    assert_eq!(env.booking("LATE").await["state"], "vanished");
    assert_eq!(env.booking("LATE").await["voucher"]["status"], "suspended");
    env.advance(Duration::minutes(31)).await;
    assert!(
        eventually(5, || async {
            env.booking("LATE").await["state"] == "cancelled"
        })
        .await,
        "{}",
        env.booking("LATE").await
    );
    let (s, b) = env
        .app
        .patch(
            "/api/v1/units/home",
            json!({"vanish_cancel_minutes": 10_081}),
        )
        .await;
    assert_eq!(
        (s, &b["error"]["field"]),
        (400, &json!("vanish_cancel_minutes"))
    );
}

#[tokio::test]
async fn the_whole_calendar_view_only_speaks_for_its_span() {
    let env = env().await;
    let now = env.now();
    let d = Duration::days;
    let list = [
        ("A", now + d(1), now + d(2), &[][..]),
        ("B", now + d(5), now + d(6), &[][..]),
        ("C", now + d(9), now + d(10), &[][..]),
    ];
    let r = env.calendar(&list).await;
    assert_eq!(refs(&r["created"]), ["A", "B", "C"]);
    // The view is full: it covers only until the last booking it shows. C is beyond it.
    let r = env
        .calendar_span(now, Some(now + d(5)), &[list[0], list[1]])
        .await;
    assert_eq!(r["unchanged"], 2);
    assert!(refs(&r["vanished"]).is_empty(), "{r}");
    assert_eq!(env.booking("C").await["state"], "present");
    // A moved, B missing, one refused (too long): the refused one is left as it is.
    let r = env
        .calendar(&[
            ("A", now + d(1), now + d(3), &[]),
            ("C", now + d(9), now + d(50), &[]),
        ])
        .await;
    assert_eq!(refs(&r["updated"]), ["A"]);
    assert_eq!(refs(&r["vanished"]), ["B"]);
    assert_eq!(r["refused"][0]["booking_ref"], "C");
    assert_eq!(r["refused"][0]["field"], "end");
    assert_eq!(env.booking("C").await["state"], "present");
    // The same view again writes nothing.
    let audit = env.audit_actions().await.len();
    env.calendar(&[
        ("A", now + d(1), now + d(3), &[]),
        ("C", now + d(9), now + d(50), &[]),
    ])
    .await;
    assert_eq!(env.audit_actions().await.len(), audit);
    // The per-booking PUT still works and brings a missing booking back.
    let (s, b) = env
        .app
        .put(
            "/api/v1/units/home/bookings/B",
            json!({"start": at(now + d(5)), "end": at(now + d(6))}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["state"], "present");
    assert_eq!(b["voucher"]["status"], "unused");
    // The per-booking DELETE is still an explicit cancellation, and says so.
    assert_eq!(env.app.delete("/api/v1/units/home/bookings/A").await, 204);
    let c = env.events.wait_for("booking_cancelled", 1).await;
    assert_eq!(
        (c[0]["booking_ref"].as_str(), c[0]["cause"].as_str()),
        (Some("A"), Some("deleted"))
    );
    assert_eq!(env.app.delete("/api/v1/units/home/bookings/A").await, 204);

    // What makes a whole view meaningless is refused and changes nothing.
    for (body, field) in [
        (
            json!({"from": at(now), "until": at(now), "bookings": []}),
            "until",
        ),
        (
            json!({"from": at(now), "bookings": [
                {"booking_ref": "X", "start": at(now), "end": at(now + d(1))},
                {"booking_ref": "X", "start": at(now), "end": at(now + d(1))}]}),
            "bookings",
        ),
        (json!({"from": "yesterday", "bookings": []}), "from"),
    ] {
        let (s, b) = env
            .app
            .put("/api/v1/units/home/bookings", body.clone())
            .await;
        assert_eq!(
            (s, b["error"]["field"].as_str()),
            (400, Some(field)),
            "{body} → {b}"
        );
    }
    let (s, b) = env
        .app
        .put("/api/v1/units/home/bookings", json!({"bookings": []}))
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("from"),
        "{b}"
    );
    let (s, b) = env
        .app
        .put(
            "/api/v1/units/home/bookings",
            json!({"from": at(now), "bookings": [], "extra": 1}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("unknown_field"))
    );
    let (s, _) = env
        .app
        .put(
            "/api/v1/units/nowhere/bookings",
            json!({"from": at(now), "bookings": []}),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(env.booking("C").await["state"], "present");
    assert_eq!(env.booking("B").await["state"], "present");
}

/// Four phones with iOS 18's rotating private Wi-Fi address (a new MAC about every 14 days,
/// the default on open guest networks) through a 30-day stay.
#[tokio::test]
async fn rotating_macs_never_run_out_of_device_slots() {
    let env = env().await;
    let now = env.now();
    let (s, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "home", "valid_until": at(now + Duration::days(30) - Duration::minutes(1))}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["max_devices"], 4);
    let code = v["code"].as_str().unwrap().to_owned();
    // The phones join one after another on day 0 and rotate 14 and 28 days after joining.
    let mut current: Vec<String> = (0..4).map(|p| mac(100 + p)).collect();
    for m in &current {
        assert!(env.guest(m, &code).await.succeeded());
        env.advance(Duration::minutes(7)).await;
    }
    for (generation, day) in (1..).zip([14, 28]) {
        env.advance(Duration::days(day - 14 * (generation - 1) as i64) - Duration::minutes(28))
            .await;
        for (p, slot) in current.iter_mut().enumerate() {
            let new = mac(100 + (generation * 10 + p) as u32);
            let r = env.guest(&new, &code).await;
            assert!(
                r.succeeded(),
                "day {day}, phone {p}: {} (the device-limit page?)",
                r.status
            );
            *slot = new;
            let active = env.active_macs(&code).await;
            assert!(active.len() <= 4, "{active:?}");
            env.advance(Duration::minutes(7)).await;
        }
        // The controller follows within seconds: exactly the four current addresses.
        let mut want = current.clone();
        want.sort();
        assert!(
            eventually(5, || async {
                env.app.handle.wake_timers();
                env.on_controller() == want
            })
            .await,
            "day {day}: controller {:?}, phones {want:?}",
            env.on_controller()
        );
        assert_eq!(env.active_macs(&code).await, want);
    }
    let v = env.voucher(&code).await;
    assert_eq!(
        (v["devices_used"].as_u64(), v["devices_active"].as_u64()),
        (Some(12), Some(4))
    );
    let (_, g) = env
        .app
        .get(&format!("/api/v1/grants?active=false&code={code}"))
        .await;
    let replaced = g["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["end_reason"] == "replaced")
        .count();
    assert_eq!(replaced, 8);
    assert_eq!(env.events.wait_for("grant_revoked", 8).await.len(), 8);
}

#[tokio::test]
async fn lowering_max_devices_cuts_nobody_and_stops_new_ones() {
    let env = env().await;
    let (s, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "home", "duration_minutes": 600, "max_devices": 3}),
        )
        .await;
    assert_eq!(s, 201);
    let code = v["code"].as_str().unwrap().to_owned();
    for n in 0..3 {
        assert!(env.guest(&mac(200 + n), &code).await.succeeded());
    }
    let (s, v) = env
        .app
        .patch(
            &format!("/api/v1/vouchers/{code}"),
            json!({"max_devices": 1}),
        )
        .await;
    assert_eq!((s, v["devices_active"].as_u64()), (200, Some(3)), "{v}");
    let r = env.guest(&mac(299), &code).await;
    assert_eq!(r.status, 403, "over the lowered limit: nobody new");
    assert_eq!(env.active_macs(&code).await.len(), 3);
    assert_eq!(env.on_controller().len(), 3);
    // The same devices again still work.
    assert!(env.guest(&mac(200), &code).await.succeeded());
    // A voucher's own policy: refuse.
    let (s, v) = env
        .app
        .patch(
            &format!("/api/v1/vouchers/{code}"),
            json!({"max_devices": 3, "device_policy": "refuse"}),
        )
        .await;
    assert_eq!((s, v["device_policy"].as_str()), (200, Some("refuse")));
    let r = env.guest(&mac(299), &code).await;
    assert!(r.body.contains("Ask your host"), "{}", r.body);
    let (s, v) = env
        .app
        .patch(
            &format!("/api/v1/vouchers/{code}"),
            json!({"device_policy": null}),
        )
        .await;
    assert_eq!(
        (s, &v["device_policy"]),
        (200, &Value::Null),
        "back to the unit's"
    );
    assert!(env.guest(&mac(299), &code).await.succeeded());
    assert_eq!(env.active_macs(&code).await.len(), 3);
    let (s, b) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "home", "duration_minutes": 60, "device_policy": "kick"}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (400, Some("device_policy"))
    );
}

#[tokio::test]
async fn the_host_lets_a_tv_in_by_its_mac() {
    let env = env().await;
    let now = env.now();
    env.calendar(&[(
        "STAY",
        now - Duration::hours(2),
        now + Duration::days(1),
        &[],
    )])
    .await;
    let code = env.booking("STAY").await["voucher"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let tv = "A4-77-33-0E-51-C2";
    let path = format!("/api/v1/vouchers/{code}/devices");
    // Not on the Wi-Fi yet: the host is told what to do, nothing changes.
    let (s, b) = env
        .app
        .post(&path, json!({"mac": tv, "name": "Living room TV"}))
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("device_not_connected")),
        "{b}"
    );
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("connect it to the guest Wi-Fi first"));
    assert!(env.active_macs(&code).await.is_empty());
    // Connected: in, for the voucher's window, among the voucher's devices.
    env.sim
        .join_wifi("Default", SSID, tv.parse().unwrap(), None)
        .unwrap();
    let (s, g) = env
        .app
        .post(
            &path,
            json!({"mac": "a4:77:33:0e:51:c2", "name": "Living room TV"}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(g["by_host"], true);
    assert_eq!(g["name"], "Living room TV");
    assert_eq!(g["status"], "active");
    assert_eq!(
        g["expires_at"],
        env.booking("STAY").await["voucher"]["valid_until"]
    );
    assert!(env.on_controller().contains(&tv.to_owned()));
    let (_, list) = env.app.get(&path).await;
    assert_eq!(list["devices"][0]["client_mac"], tv);
    // Again: 200, still one device.
    let (s, _) = env.app.post(&path, json!({"mac": tv})).await;
    assert_eq!(s, 200);
    assert_eq!(env.voucher(&code).await["devices_active"], 1);
    let redeemed = env.events.wait_for("voucher_redeemed", 1).await;
    assert_eq!(redeemed[0]["by_host"], true);
    // It counts against the limit, and a guest's phone never replaces it.
    let (s, _) = env
        .app
        .patch(
            &format!("/api/v1/vouchers/{code}"),
            json!({"max_devices": 2}),
        )
        .await;
    assert_eq!(s, 200);
    assert!(env.guest(&mac(300), &code).await.succeeded());
    assert!(env.guest(&mac(301), &code).await.succeeded());
    let active = env.active_macs(&code).await;
    assert!(
        active.contains(&tv.to_owned()) && active.contains(&mac(301)),
        "{active:?}"
    );
    // By the unit's current stay.
    let other = "A4-77-33-0E-51-C3";
    env.sim
        .join_wifi("Default", SSID, other.parse().unwrap(), None)
        .unwrap();
    let (s, g) = env
        .app
        .post("/api/v1/units/home/devices", json!({"mac": other}))
        .await;
    assert_eq!((s, g["code"].as_str()), (201, Some(code.as_str())), "{g}");
    // Bad input.
    let (s, b) = env.app.post(&path, json!({"mac": "television"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("mac")));
    let (s, _) = env
        .app
        .post("/api/v1/vouchers/NOSUCHCODE/devices", json!({"mac": tv}))
        .await;
    assert_eq!(s, 404);
    // Check-out: off like any grant.
    env.advance(Duration::days(1)).await;
    assert!(
        eventually(5, || async {
            env.app.handle.wake_timers();
            !env.on_controller().contains(&tv.to_owned())
        })
        .await
    );
    let (s, b) = env
        .app
        .post("/api/v1/units/home/devices", json!({"mac": tv}))
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("conflict")),
        "no stay now: {b}"
    );
}

#[tokio::test]
async fn hotspot_only_controllers_cannot_authorise_by_mac_and_say_so() {
    let env = env().await;
    let settings = serde_json::to_value(env.sim.hotspot_only_settings()).unwrap();
    let (s, b) = env.app.put("/api/v1/settings/omada", settings).await;
    assert_eq!(s, 200, "{b}");
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "home", "duration_minutes": 60}),
        )
        .await;
    let code = v["code"].as_str().unwrap();
    let tv = "A4-77-33-0E-51-C2";
    env.sim
        .join_wifi("Default", SSID, tv.parse().unwrap(), None)
        .unwrap();
    let (s, b) = env
        .app
        .post(
            &format!("/api/v1/vouchers/{code}/devices"),
            json!({"mac": tv}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("mac_auth_needs_open_api")),
        "{b}"
    );
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("hotspot-operator mode"));
    assert_eq!(
        env.voucher(code).await["devices_used"],
        0,
        "the slot was given back"
    );
}

#[tokio::test]
async fn revoking_a_unit_reaches_every_voucher_in_one_call() {
    let env = env().await;
    let now = env.now();
    env.calendar(&[
        (
            "STAY",
            now - Duration::hours(2),
            now + Duration::days(1),
            &[],
        ),
        (
            "NEXT",
            now + Duration::days(3),
            now + Duration::days(4),
            &[],
        ),
    ])
    .await;
    // NEXT goes missing (suspended); STAY has a guest; one more plain voucher.
    env.calendar(&[(
        "STAY",
        now - Duration::hours(2),
        now + Duration::days(1),
        &[],
    )])
    .await;
    let stay = env.booking("STAY").await["voucher"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = env.booking("NEXT").await["voucher"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "home", "duration_minutes": 60}),
        )
        .await;
    let plain = v["code"].as_str().unwrap().to_owned();
    assert!(env.guest(&mac(400), &stay).await.succeeded());
    assert!(env.guest(&mac(401), &plain).await.succeeded());
    let (s, r) = env.app.post("/api/v1/units/home/revoke", json!({})).await;
    assert_eq!(s, 200, "{r}");
    let mut revoked: Vec<&str> = refs(&r["revoked"]);
    revoked.sort_unstable();
    let mut want = vec![stay.as_str(), next.as_str(), plain.as_str()];
    want.sort_unstable();
    assert_eq!(revoked, want);
    assert_eq!(r["devices"], 2);
    for c in [&stay, &next, &plain] {
        assert_eq!(env.voucher(c).await["status"], "revoked");
    }
    assert!(
        eventually(5, || async {
            env.app.handle.wake_timers();
            env.on_controller().is_empty()
        })
        .await
    );
    // Final: the missing booking coming back does not bring its code back.
    env.calendar(&[
        (
            "STAY",
            now - Duration::hours(2),
            now + Duration::days(1),
            &[],
        ),
        (
            "NEXT",
            now + Duration::days(3),
            now + Duration::days(4),
            &[],
        ),
    ])
    .await;
    assert_eq!(env.voucher(&next).await["status"], "revoked");
    // Again: nothing more to revoke; an unknown unit is 404.
    let (s, r) = env.app.post("/api/v1/units/home/revoke", json!({})).await;
    assert_eq!((s, r["revoked"].as_array().map(Vec::len)), (200, Some(0)));
    let (s, _) = env
        .app
        .post("/api/v1/units/nowhere/revoke", json!({}))
        .await;
    assert_eq!(s, 404);
    let (s, _) = env.app.get("/api/v1/units/home/revoke").await;
    assert_eq!(s, 405);
    assert!(env
        .audit_actions()
        .await
        .contains(&"unit.revoke".to_owned()));
}

/// Issue 13 finding 6: redeeming one's own 1-minute voucher with a victim's MAC replaced the
/// victim's 10-hour authorisation with a 1-minute one on the controller.
#[tokio::test]
async fn a_redemption_never_shortens_or_moves_another_vouchers_grant() {
    let env = env().await;
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "home", "duration_minutes": 600}),
        )
        .await;
    let victims = v["code"].as_str().unwrap().to_owned();
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "home", "duration_minutes": 1}),
        )
        .await;
    let attackers = v["code"].as_str().unwrap().to_owned();
    let victim = mac(500);
    assert!(env.guest(&victim, &victims).await.succeeded());
    let record = |env: &Env| {
        env.sim
            .authorized()
            .into_iter()
            .find(|c| c.mac.to_string() == victim)
            .and_then(|c| c.duration)
    };
    let before = record(&env).expect("the victim is on the controller");
    let auths = env.sim.counters().auths;
    let grant = env.app.active_grants().await[0].clone();

    let r = env.guest(&victim, &attackers).await;
    assert!(
        r.succeeded(),
        "answered from the device's own grant: {}",
        r.body
    );
    assert_eq!(
        env.sim.counters().auths,
        auths,
        "the controller was not asked"
    );
    assert_eq!(
        record(&env),
        Some(before),
        "still the 10-hour authorisation"
    );
    let now_grants = env.app.active_grants().await;
    assert_eq!(now_grants, vec![grant], "the victim's grant is as it was");
    let a = env.voucher(&attackers).await;
    assert_eq!(
        (a["status"].as_str(), a["devices_used"].as_u64()),
        (Some("unused"), Some(0))
    );
    // The attacker's code still works for the attacker's own device.
    assert!(env.guest(&mac(501), &attackers).await.succeeded());
}

/// Issue 13 finding 7: one valid code replayed 5,000 times made 5,000 controller calls,
/// audit rows and events.
#[tokio::test]
async fn successful_redemptions_are_throttled() {
    let env = env().await;
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "home", "duration_minutes": 600}),
        )
        .await;
    let code = v["code"].as_str().unwrap().to_owned();
    let phone = mac(600);
    let auths = env.sim.counters().auths;
    for _ in 0..25 {
        assert!(env.guest(&phone, &code).await.succeeded());
    }
    assert_eq!(env.sim.counters().auths - auths, 1, "one controller call");
    let audit = env.audit_actions().await;
    assert_eq!(audit.iter().filter(|a| *a == "voucher.redeem").count(), 1);
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    assert_eq!(env.events.named("voucher_redeemed").len(), 1);
    // The controller restarts and forgets its sessions; after the window the next try
    // brings the device back.
    env.sim.reset();
    assert!(env.on_controller().is_empty());
    env.advance(Duration::seconds(31)).await;
    assert!(env.guest(&phone, &code).await.succeeded());
    assert_eq!(env.on_controller(), std::slice::from_ref(&phone));
    assert_eq!(env.events.wait_for("voucher_redeemed", 2).await.len(), 2);
}

/// The controller keeps an authorisation by MAC (Open API, no duration) for its portal's
/// Authentication Timeout, whatever mode lets guests in: a TV on a stay longer than that is
/// authorised again before it runs out.
#[tokio::test]
async fn a_tv_stays_in_past_the_portal_timeout() {
    let env = env().await;
    env.sim
        .set_portal_timeout("Default", StdDuration::from_secs(3600))
        .unwrap();
    env.app.use_controller(&env.sim).await; // hotspot mode, Open API credentials too
    let now = env.now();
    env.calendar(&[(
        "STAY",
        now - Duration::hours(1),
        now + Duration::days(1),
        &[],
    )])
    .await;
    let tv = "A4-77-33-0E-51-C2";
    env.sim
        .join_wifi("Default", SSID, tv.parse().unwrap(), None)
        .unwrap();
    let (s, g) = env
        .app
        .post("/api/v1/units/home/devices", json!({"mac": tv}))
        .await;
    assert_eq!(s, 201, "{g}");
    let auths = || {
        env.sim
            .requests_to(&format!("/hotspot/clients/{tv}/auth"))
            .len()
    };
    assert_eq!(auths(), 1);
    for round in 2..=3 {
        env.advance(Duration::minutes(55)).await;
        assert!(
            eventually(10, || async {
                env.app.handle.wake_timers();
                auths() == round
            })
            .await,
            "renewal {round}: {} authorisations",
            auths()
        );
        assert!(env.on_controller().contains(&tv.to_owned()));
    }
}
