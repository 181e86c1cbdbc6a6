//! Wi-Fi passwords per booking (issue 18), end to end: the real sidecar in this process, the
//! simulated controller with a PPSK SSID, the API a host and Home Assistant use.
//!
//! * a stay opens → its key is on the controller; a move → the same password, a new window;
//!   check-out, a cancellation, a controller outage across check-out and a restart → the key
//!   is deleted and the devices that joined with it are pushed off;
//! * device-bound keys, password-mode voucher rules (`max_devices`, durations), the portal
//!   refusing a password-mode voucher;
//! * the set-up check names what is missing, and the unit form's profile list;
//! * with the controller's operations (issue 12b): a key that fails on a misconfiguration
//!   waits like any outbox item (listed, counted, named, discardable — a discarded deletion
//!   is given up and audited), the controller check (API and command line) has a `ppsk` step
//!   per password unit, host test codes are refused, and a portal grant from before a switch
//!   to password mode is not renewed;
//! * the password never appears in logs (captured at TRACE), listings, events, audit rows;
//!   only the issue answer, the dedicated reads and the cards show it, each read audited.

mod common;

use std::time::Duration;

use common::pdf::{get_pdf, pdf_pages};
use common::{config_for, eventually, fast_policy, Capture, TestApp};
use rental_wifi::clock::Clock;
use rental_wifi::net::Mac;
use rental_wifi::sim::omada::{
    self as sim, OmadaSim, OmadaSimConfig, SimPpskConfig, SimPsk, SimSsid,
};
use serde_json::{json, Value};

const HOST_PSK: &str = "family-password-1";

fn sim_config() -> OmadaSimConfig {
    let mut cfg = OmadaSimConfig::default();
    for name in ["Rental", "Shared"] {
        cfg.ssids.push(SimSsid {
            site: "Default".into(),
            name: name.into(),
            guest_network: false,
            open: false,
        });
    }
    cfg.ppsk_profiles.push(SimPpskConfig {
        site: "Default".into(),
        name: "Rental keys".into(),
        ssids: vec!["Rental".into(), "Shared".into()],
        keys: vec![SimPsk {
            name: "Family".into(),
            psk: HOST_PSK.into(),
            mac: None,
            vlan: None,
        }],
    });
    cfg
}

struct Env {
    app: TestApp,
    sim: OmadaSim,
    profile: String,
}

/// The sidecar (clock `clock`, data in `dir`) on a fresh simulator with a PPSK profile on
/// SSIDs `Rental` and `Shared`, and unit `loft` in password mode on `Rental`.
async fn start_at(dir: &std::path::Path, clock: Clock) -> Env {
    rental_wifi::init_crypto();
    let sim = sim::start(sim_config()).await.unwrap();
    let profile = sim.ppsk_profiles()[0].id.clone();
    let app = TestApp::spawn_full(config_for(dir), clock, fast_policy()).await;
    let env = Env { app, sim, profile };
    env.configure().await;
    let (s, b) = env
        .app
        .post(
            "/api/v1/units",
            json!({"unit_id": "loft", "name": "Loft", "ssids": ["Rental"], "vlans": [30],
                   "access_mode": "password", "ppsk_profile_id": env.profile}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["access_mode"], "password");
    env
}

impl Env {
    async fn configure(&self) {
        let settings = serde_json::to_value(self.sim.hotspot_settings()).unwrap();
        let (s, b) = self.app.put("/api/v1/settings/omada", settings).await;
        assert_eq!(s, 200, "{b}");
    }

    /// The sidecar's guest keys on the controller: (name, password, vlan, mac).
    fn keys(&self) -> Vec<(String, String, Option<u16>, Option<String>)> {
        self.sim
            .ppsk_profiles()
            .iter()
            .find(|p| p.id == self.profile)
            .unwrap()
            .keys
            .iter()
            .filter(|k| k.name.starts_with("rentalwifi-") && !k.name.starts_with("rentalwifi--"))
            .map(|k| (k.name.clone(), k.psk.clone(), k.vlan, k.mac.clone()))
            .collect()
    }

    fn has_password(&self, password: &str) -> bool {
        self.keys().iter().any(|k| k.1 == password)
    }

    /// Move the clock and let the timers see it.
    fn advance(&self, secs: u64) {
        self.app.clock.advance(Duration::from_secs(secs));
        self.app.handle.wake_timers();
    }

    async fn wait(&self, what: &str, f: impl Fn(&Env) -> bool) {
        let ok = eventually(15, || {
            self.app.handle.wake_timers();
            let r = f(self);
            async move { r }
        })
        .await;
        assert!(ok, "{what}: keys now {:?}", self.key_names());
    }

    fn key_names(&self) -> Vec<String> {
        self.keys().into_iter().map(|k| k.0).collect()
    }

    async fn unit_password(&self, unit: &str) -> Value {
        let (s, b) = self
            .app
            .get(&format!("/api/v1/units/{unit}/password"))
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    fn connected(&self) -> Vec<Mac> {
        self.sim.wifi_clients().iter().map(|c| c.mac).collect()
    }
}

fn at(clock: &Clock, secs: i64) -> String {
    rental_wifi::clock::rfc3339(clock.now() + time::Duration::seconds(secs))
}

fn mac(n: u8) -> Mac {
    format!("02-00-00-00-01-{n:02X}").parse().unwrap()
}

async fn start() -> (Env, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let env = start_at(tmp.path(), Clock::system()).await;
    (env, tmp)
}

#[tokio::test]
async fn a_stay_opens_moves_and_ends_on_the_controller() {
    let (env, _tmp) = start().await;
    let clock = env.app.clock.clone();
    // Check-in in an hour, check-out tomorrow.
    let (s, b) = env
        .app
        .put(
            "/api/v1/units/loft/bookings/B1",
            json!({"start": at(&clock, 3600), "end": at(&clock, 90_000), "guest_name": "Ana"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let code = b["voucher"]["code"].as_str().unwrap().to_owned();
    assert_eq!(
        b["voucher"]["max_devices"], 0,
        "no device limit in password mode"
    );
    // Known before the stay (for the welcome message), not yet on the controller.
    let p = env.unit_password("loft").await;
    assert_eq!(p["code"], code.as_str());
    assert_eq!(p["on_controller"], false);
    let password = p["wifi"]["password"].as_str().unwrap().to_owned();
    assert_eq!(
        p["wifi"]["qr_payload"],
        format!("WIFI:T:WPA;S:Rental;P:{password};;")
    );
    assert!(
        env.keys().is_empty(),
        "nothing on the controller before check-in"
    );

    // Check-in: the key is added, with the unit's VLAN; the guest's TV joins with it.
    env.advance(3601);
    env.wait("key added at check-in", |e| e.has_password(&password))
        .await;
    let keys = env.keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].2, Some(30), "the unit's VLAN");
    env.sim
        .join_wifi("Default", "Rental", mac(1), Some(&password))
        .unwrap();
    let (_, v) = env.app.get(&format!("/api/v1/vouchers/{code}")).await;
    assert_eq!(
        v["status"], "active",
        "the password works: the voucher is in use"
    );
    let p = env.unit_password("loft").await;
    assert_eq!(p["on_controller"], true);

    // The stay moves (two more days): the same password, a new window, nothing sent.
    let (s, b) = env
        .app
        .put(
            "/api/v1/units/loft/bookings/B1",
            json!({"start": at(&clock, -1), "end": at(&clock, 3 * 86_400), "guest_name": "Ana"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["voucher"]["code"], code.as_str());
    let p = env.unit_password("loft").await;
    assert_eq!(
        p["wifi"]["password"],
        password.as_str(),
        "the same password"
    );
    assert_eq!(p["valid_until"], b["voucher"]["valid_until"]);
    let adds = env.sim.requests_to("/add-psk").len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.app.handle.wake_timers();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.sim.requests_to("/add-psk").len(), adds);
    assert!(env.has_password(&password));

    // The old check-out time passes: the key stays.
    env.advance(90_000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(env.has_password(&password), "still inside the moved window");

    // Check-out: the key goes, and the TV that joined with it is pushed off for good; the
    // host's own key and its devices are untouched.
    env.sim
        .join_wifi("Default", "Rental", mac(9), Some(HOST_PSK))
        .unwrap();
    env.advance(3 * 86_400);
    env.wait("key deleted at check-out", |e| e.keys().is_empty())
        .await;
    env.wait("the guest's device is pushed off", |e| {
        !e.connected().contains(&mac(1))
    })
    .await;
    assert!(env.connected().contains(&mac(9)), "the host's device stays");
    assert!(env.sim.ppsk_profiles()[0]
        .keys
        .iter()
        .any(|k| k.psk == HOST_PSK));
    assert_eq!(env.app.handle.outbox_pending().await, 0);
    let (_, audit) = env.app.get("/api/v1/audit?limit=100").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "wifi_password.create",
        "wifi_password.add",
        "wifi_password.read",
        "wifi_password.remove",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let p = env.unit_password("loft").await;
    assert!(
        p["wifi"].is_null(),
        "no current password after the stay: {p}"
    );
}

#[tokio::test]
async fn a_stay_moved_later_takes_its_key_off_until_the_new_check_in() {
    let (env, _tmp) = start().await;
    let clock = env.app.clock.clone();
    let (_, b) = env
        .app
        .put(
            "/api/v1/units/loft/bookings/B2",
            json!({"start": at(&clock, -60), "end": at(&clock, 86_400)}),
        )
        .await;
    let code = b["voucher"]["code"].as_str().unwrap().to_owned();
    let password = env.unit_password("loft").await["wifi"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    env.wait("on at once", |e| e.has_password(&password)).await;
    // The guest arrives a day later after all.
    env.app
        .put(
            "/api/v1/units/loft/bookings/B2",
            json!({"start": at(&clock, 86_400), "end": at(&clock, 3 * 86_400)}),
        )
        .await;
    env.wait("off until the new check-in", |e| e.keys().is_empty())
        .await;
    env.advance(86_401);
    env.wait("back at the new check-in, the same password", |e| {
        e.has_password(&password)
    })
    .await;
    let (_, v) = env
        .app
        .get(&format!("/api/v1/vouchers/{code}/password"))
        .await;
    assert_eq!(v["wifi"]["password"], password.as_str());
}

#[tokio::test]
async fn a_cancellation_deletes_the_key_and_pushes_its_devices_off() {
    let (env, _tmp) = start().await;
    let clock = env.app.clock.clone();
    env.app
        .put(
            "/api/v1/units/loft/bookings/B3",
            json!({"start": at(&clock, -60), "end": at(&clock, 86_400)}),
        )
        .await;
    let password = env.unit_password("loft").await["wifi"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    env.wait("on", |e| e.has_password(&password)).await;
    env.sim
        .join_wifi("Default", "Rental", mac(2), Some(&password))
        .unwrap();
    assert_eq!(env.app.delete("/api/v1/units/loft/bookings/B3").await, 204);
    env.wait("deleted at the cancellation", |e| e.keys().is_empty())
        .await;
    env.wait("pushed off", |e| !e.connected().contains(&mac(2)))
        .await;
    // The device tries again with the password: refused.
    assert!(env
        .sim
        .join_wifi("Default", "Rental", mac(2), Some(&password))
        .is_err());
}

#[tokio::test]
async fn a_controller_outage_across_check_out_deletes_the_key_when_it_is_back() {
    let (env, _tmp) = start().await;
    let (s, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "valid_until": at(&env.app.clock, 3600), "guest_name": "Bo"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let password = v["wifi"]["password"].as_str().unwrap().to_owned();
    env.wait("on", |e| e.has_password(&password)).await;
    env.sim.set_outage(Some(sim::Outage::Drop));
    env.advance(3601);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(env.has_password(&password), "the controller is down");
    assert!(
        env.app.handle.outbox_pending().await > 0,
        "the deletion waits"
    );
    // Hours later the controller is back; the retry deletes the key.
    env.sim.set_outage(None);
    env.advance(120);
    env.wait("deleted once the controller answers", |e| {
        !e.has_password(&password)
    })
    .await;
}

#[tokio::test]
async fn restarts_lose_neither_a_check_in_nor_a_check_out() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Clock::system();
    let env = start_at(tmp.path(), clock.clone()).await;
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "valid_from": at(&clock, 600), "valid_until": at(&clock, 7200)}),
        )
        .await;
    let password = v["wifi"]["password"].as_str().unwrap().to_owned();
    let Env { app, sim, profile } = env;
    app.stop().await;
    // The check-in and the check-out are on disk, each an outbox item at its time.
    let due: Vec<i64> = {
        let db = rusqlite::Connection::open(tmp.path().join(rental_wifi::app::DB_FILE)).unwrap();
        let mut st = db
            .prepare("SELECT next_attempt_at FROM outbox WHERE kind = 'wifi_key' AND done_at IS NULL ORDER BY next_attempt_at")
            .unwrap();
        let rows: Vec<i64> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows
    };
    let ms = |field: &str| {
        let t = time::OffsetDateTime::parse(
            v[field].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        (t.unix_timestamp_nanos() / 1_000_000) as i64
    };
    assert_eq!(due, vec![ms("valid_from"), ms("valid_until")]);
    // Down across check-in: on the controller soon after the start.
    clock.advance(Duration::from_secs(601));
    let app = TestApp::spawn_full(config_for(tmp.path()), clock.clone(), fast_policy()).await;
    let env = Env { app, sim, profile };
    env.wait("added after the restart", |e| e.has_password(&password))
        .await;
    let Env { app, sim, profile } = env;
    app.stop().await;
    // Down across check-out: deleted soon after the start.
    clock.advance(Duration::from_secs(7200));
    let app = TestApp::spawn_full(config_for(tmp.path()), clock.clone(), fast_policy()).await;
    let env = Env { app, sim, profile };
    env.wait("deleted after the restart", |e| !e.has_password(&password))
        .await;
}

#[tokio::test]
async fn a_device_bound_key_works_for_that_device_only_and_goes_with_its_voucher() {
    let (env, _tmp) = start().await;
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "valid_until": at(&env.app.clock, 7200)}),
        )
        .await;
    let code = v["code"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/vouchers/{code}/devices");
    let (s, d) = env
        .app
        .post(&path, json!({"mac": "aa:bb:cc:00:11:22", "name": "TV"}))
        .await;
    assert_eq!(s, 201, "{d}");
    let tv: Mac = "AA-BB-CC-00-11-22".parse().unwrap();
    let tv_password = d["wifi"]["password"].as_str().unwrap().to_owned();
    assert_ne!(tv_password, v["wifi"]["password"].as_str().unwrap());
    assert_eq!(d["wifi"]["mac"], "AA-BB-CC-00-11-22");
    // Again: the same key (a replay), 200.
    let (s, again) = env
        .app
        .post(&path, json!({"mac": "AA-BB-CC-00-11-22"}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(again["wifi"]["password"], tv_password.as_str());
    env.wait("both keys on", |e| e.keys().len() == 2).await;
    assert!(env
        .keys()
        .iter()
        .any(|k| k.1 == tv_password && k.3.as_deref() == Some("AA-BB-CC-00-11-22")));
    assert!(
        env.sim
            .join_wifi("Default", "Rental", mac(3), Some(&tv_password))
            .is_err(),
        "another device cannot use the TV's password"
    );
    env.sim
        .join_wifi("Default", "Rental", tv, Some(&tv_password))
        .unwrap();
    let (_, p) = env
        .app
        .get(&format!("/api/v1/vouchers/{code}/password"))
        .await;
    assert_eq!(p["devices"][0]["password"], tv_password.as_str());
    // Revoked: both keys go, the TV is pushed off.
    env.app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    env.wait("both deleted", |e| e.keys().is_empty()).await;
    env.wait("the TV is off", |e| !e.connected().contains(&tv))
        .await;
    let (s, e) = env
        .app
        .post(&path, json!({"mac": "AA-BB-CC-00-11-23"}))
        .await;
    assert_eq!(s, 409, "{e}");
    let (s, _) = env.app.post(&path, json!({"mac": "not a mac"})).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn password_vouchers_count_from_valid_from_and_have_no_device_limit() {
    let (env, _tmp) = start().await;
    let from = env.app.clock.now();
    let (s, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "duration_minutes": 90, "max_devices": 3,
                   "valid_from": rental_wifi::clock::rfc3339(from)}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        v["max_devices"], 0,
        "ignored: the controller has no per-key limit"
    );
    assert!(v["duration_minutes"].is_null());
    assert_eq!(
        v["valid_until"],
        rental_wifi::clock::rfc3339(from + time::Duration::minutes(90))
    );
    assert!(v["wifi"]["password"].is_string());
    let code = v["code"].as_str().unwrap();
    let (s, p) = env
        .app
        .patch(
            &format!("/api/v1/vouchers/{code}"),
            json!({"max_devices": 5, "duration_minutes": 240}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["max_devices"], 0);
    assert_eq!(
        p["valid_until"],
        rental_wifi::clock::rfc3339(from + time::Duration::minutes(240))
    );
    assert!(
        p.get("wifi").is_none(),
        "a change does not show the password"
    );
    // The portal does not take a password-mode voucher (its guests have a password)…
    let query = common::redirect_query(&mac(4).to_string(), "Rental");
    let r = env.app.redeem_with(&query, code, &[], None).await;
    assert!(!r.succeeded(), "{}", r.body);
    // …and does once the unit is back in portal mode.
    let (s, b) = env
        .app
        .patch("/api/v1/units/loft", json!({"access_mode": "portal"}))
        .await;
    assert_eq!(s, 200, "{b}");
    let r = env.app.redeem_with(&query, code, &[], None).await;
    assert!(r.succeeded(), "{}", r.body);
}

#[tokio::test]
async fn kicks_spare_other_units_guests_on_a_shared_ssid() {
    let (env, _tmp) = start().await;
    for (id, ssid) in [("east", "Shared"), ("west", "Shared")] {
        let (s, b) = env
            .app
            .post(
                "/api/v1/units",
                json!({"unit_id": id, "name": id, "ssids": [ssid],
                       "access_mode": "password", "ppsk_profile_id": env.profile}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let mut passwords = Vec::new();
    for id in ["east", "west"] {
        let (_, v) = env
            .app
            .post(
                "/api/v1/vouchers",
                json!({"unit_id": id, "valid_until": at(&env.app.clock, 7200)}),
            )
            .await;
        passwords.push((
            v["code"].as_str().unwrap().to_owned(),
            v["wifi"]["password"].as_str().unwrap().to_owned(),
        ));
    }
    env.wait("both on", |e| e.keys().len() == 2).await;
    env.sim
        .join_wifi("Default", "Shared", mac(5), Some(&passwords[0].1))
        .unwrap();
    env.sim
        .join_wifi("Default", "Shared", mac(6), Some(&passwords[1].1))
        .unwrap();
    let kicks = env.sim.counters().kicks;
    env.app
        .post(
            &format!("/api/v1/vouchers/{}/revoke", passwords[0].0),
            json!({}),
        )
        .await;
    env.wait("east's key deleted", |e| !e.has_password(&passwords[0].1))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.sim.counters().kicks,
        kicks,
        "an SSID shared with another unit: nobody is pushed off"
    );
    assert!(env.connected().contains(&mac(6)), "west's guest stays");
    // Naming the unit's own access point lets the sidecar tell its devices apart.
    let ap = env.sim.devices()[0].mac.to_string();
    let (s, b) = env
        .app
        .patch("/api/v1/units/west", json!({"ap_macs": [ap]}))
        .await;
    assert_eq!(s, 200, "{b}");
    env.app
        .post(
            &format!("/api/v1/vouchers/{}/revoke", passwords[1].0),
            json!({}),
        )
        .await;
    env.wait("west's guest pushed off", |e| {
        !e.connected().contains(&mac(6))
    })
    .await;
}

#[tokio::test]
async fn the_set_up_check_names_what_is_missing() {
    let (env, _tmp) = start().await;
    // The unit form's choice: the site's profiles and their SSIDs.
    let (s, list) = env
        .app
        .get("/api/v1/controller/sites/Default/ppsk-profiles")
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["profiles"][0]["id"], env.profile.as_str());
    assert_eq!(list["profiles"][0]["ssids"], json!(["Rental", "Shared"]));
    let (s, c) = env
        .app
        .post("/api/v1/units/loft/password/check", json!({}))
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["ok"], true, "{c}");
    assert_eq!(c["write_checked"], true);
    let failed = |c: &Value, item: &str| {
        c["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["item"] == item && x["status"] == "fail")
    };
    // A role that may only view: the write probe names the role.
    let mut b = env.sim.behaviour();
    b.openapi_read_only = true;
    env.sim.set_behaviour(b.clone());
    let (_, c) = env
        .app
        .post("/api/v1/units/loft/password/check", json!({}))
        .await;
    assert_eq!(c["ok"], false, "{c}");
    assert!(failed(&c, "role"), "{c}");
    assert!(
        c["problem"].as_str().unwrap().contains("Administrator"),
        "{c}"
    );
    // A controller without the per-key calls: the version is named.
    b.openapi_read_only = false;
    b.ppsk_per_key_api = false;
    env.sim.set_behaviour(b.clone());
    let (_, c) = env
        .app
        .post("/api/v1/units/loft/password/check", json!({}))
        .await;
    assert!(failed(&c, "version"), "{c}");
    assert!(c["problem"].as_str().unwrap().contains("5.15.24"), "{c}");
    b.ppsk_per_key_api = true;
    env.sim.set_behaviour(b);
    // A profile that is not there: refused, naming the profile, nothing saved.
    let body = json!({"unit_id": "barn", "name": "Barn", "ssids": ["Rental"],
                      "access_mode": "password", "ppsk_profile_id": "0123456789abcdef01234567"});
    let (s, e) = env.app.post("/api/v1/units", body.clone()).await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["error"]["code"], "password_check_failed");
    let checks = e["error"]["checks"].as_array().unwrap();
    assert!(checks
        .iter()
        .any(|c| c["item"] == "profile" && c["status"] == "fail"));
    assert_eq!(env.app.get("/api/v1/units/barn").await.0, 404);
    // An SSID the profile does not serve: the SSID item fails.
    let (s, e) = env
        .app
        .patch("/api/v1/units/loft", json!({"ssids": ["Guest"]}))
        .await;
    assert_eq!(s, 422, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("Guest"),
        "{e}"
    );
    // Without the Open API credentials: the mode is what is missing.
    let settings = serde_json::to_value(env.sim.hotspot_only_settings()).unwrap();
    let (s, _) = env.app.put("/api/v1/settings/omada", settings).await;
    assert_eq!(s, 200);
    let (s, c) = env
        .app
        .post("/api/v1/units/loft/password/check", json!({}))
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["ok"], false);
    assert_eq!(c["checks"][0]["item"], "mode");
    assert!(c["problem"].as_str().unwrap().contains("Open API"), "{c}");
    // ?validate=false saves anyway (the controller may not be set up yet).
    let (s, _) = env
        .app
        .send(
            reqwest::Method::POST,
            "/api/v1/units?validate=false",
            Some(body),
        )
        .await;
    assert_eq!(s, 201);
    // Back with both credentials, a validated settings PUT checks every password unit.
    let settings = serde_json::to_value(env.sim.hotspot_settings()).unwrap();
    let (s, r) = env.app.put("/api/v1/settings/omada", settings).await;
    assert_eq!(s, 200, "{r}");
    let checks = r["password_checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{r}");
    let by = |id: &str| checks.iter().find(|c| c["unit_id"] == id).unwrap().clone();
    assert_eq!(by("loft")["ok"], true);
    assert_eq!(by("barn")["ok"], false);
    // A portal unit has no password check and no password.
    env.app.unit("flat").await;
    let (s, _) = env
        .app
        .post("/api/v1/units/flat/password/check", json!({}))
        .await;
    assert_eq!(s, 409);
    let (s, _) = env.app.get("/api/v1/units/flat/password").await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn a_unit_switched_to_portal_has_its_keys_deleted() {
    let (env, _tmp) = start().await;
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "valid_until": at(&env.app.clock, 7200)}),
        )
        .await;
    let password = v["wifi"]["password"].as_str().unwrap().to_owned();
    env.wait("on", |e| e.has_password(&password)).await;
    let (s, b) = env
        .app
        .patch("/api/v1/units/loft", json!({"access_mode": "portal"}))
        .await;
    assert_eq!(s, 200, "{b}");
    env.wait("off in portal mode", |e| e.keys().is_empty())
        .await;
    // Back to password mode: the same voucher's password is back.
    let (s, b) = env
        .app
        .patch("/api/v1/units/loft", json!({"access_mode": "password"}))
        .await;
    assert_eq!(s, 200, "{b}");
    env.wait("on again", |e| e.has_password(&password)).await;
    // The unit is deleted: its keys go with it.
    let (s, _) = env
        .app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/units/loft?force=true",
            None,
        )
        .await;
    assert_eq!(s, 204);
    env.wait("off with the unit", |e| e.keys().is_empty()).await;
}

/// A profile the host deleted on the controller: the key's item waits like every outbox item
/// (issue 12b's model: listed with its key and problem, counted, named in the controller
/// status, never dropped), other work goes on, and the key lands once the profile is back and
/// a controller check passes (which retries what waits at once).
#[tokio::test]
async fn a_misconfiguration_waits_and_is_named() {
    let (env, _tmp) = start().await;
    env.sim
        .edit_ppsk_profile(&env.profile, |p| p.site_id = "gone".into())
        .unwrap();
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "valid_until": at(&env.app.clock, 7200)}),
        )
        .await;
    let password = v["wifi"]["password"].as_str().unwrap().to_owned();
    let key = v["wifi"]["key"].as_str().unwrap().to_owned();
    let named = eventually(10, || async {
        let (_, st) = env.app.get("/api/v1/state").await;
        st["controller"]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("PPSK profile"))
            && st["controller"]["outbox_waiting"] == 1
    })
    .await;
    assert!(named, "the controller status names the missing profile");
    assert!(env.app.handle.outbox_pending().await > 0, "the item waits");
    let (s, list) = env.app.get("/api/v1/outbox").await;
    assert_eq!(s, 200, "{list}");
    // The check-in's item waits; the check-out's is queued for its time.
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let waiting: Vec<&Value> = items.iter().filter(|i| i["problem"].is_string()).collect();
    assert_eq!(waiting.len(), 1, "{list}");
    assert_eq!(waiting[0]["op"], "wifi_key");
    assert_eq!(waiting[0]["key"], key.as_str());
    assert_eq!(waiting[0]["unit_id"], "loft");
    assert_eq!(waiting[0]["site"], "Default");
    let problem = waiting[0]["problem"].as_str().unwrap();
    assert!(
        problem.contains(&key) && problem.contains("PPSK profile"),
        "{problem}"
    );
    assert!(
        !list.to_string().contains(&password),
        "the listing shows no password"
    );
    // Fixed on the controller: nothing the sidecar could notice, until the host's check.
    let site = env.sim.site_id("Default").unwrap();
    env.sim
        .edit_ppsk_profile(&env.profile, |p| p.site_id = site)
        .unwrap();
    let (s, r) = env
        .app
        .post("/api/v1/settings/omada/check", json!({}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["ok"], true, "{r}");
    env.wait("added once the profile is back", |e| {
        e.has_password(&password)
    })
    .await;
    let gone = eventually(10, || async {
        let (_, st) = env.app.get("/api/v1/state").await;
        st["controller"]["problem"].is_null() && st["controller"]["outbox_waiting"] == 0
    })
    .await;
    assert!(gone, "the problem clears with the item");
}

/// A key's deletion that waits on a problem the host will not fix: the host discards it
/// (audited, naming where the key may still be), the sidecar forgets where the key was, and
/// neither a later change nor the start-up repair queues its deletion again.
#[tokio::test]
async fn a_discarded_key_deletion_is_given_up_and_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Clock::system();
    let env = start_at(tmp.path(), clock.clone()).await;
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "valid_until": at(&clock, 7200)}),
        )
        .await;
    let (code, key) = (
        v["code"].as_str().unwrap().to_owned(),
        v["wifi"]["key"].as_str().unwrap().to_owned(),
    );
    let password = v["wifi"]["password"].as_str().unwrap().to_owned();
    env.wait("on the controller", |e| e.has_password(&password))
        .await;
    // The profile moves away; the revoke's deletion cannot find it and waits.
    env.sim
        .edit_ppsk_profile(&env.profile, |p| p.site_id = "gone".into())
        .unwrap();
    let (s, _) = env
        .app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200);
    let waiting = eventually(10, || async {
        let (_, list) = env.app.get("/api/v1/outbox").await;
        list["items"]
            .as_array()
            .is_some_and(|i| i.len() == 1 && i[0]["problem"].is_string())
    })
    .await;
    assert!(waiting, "the deletion waits");
    let (_, list) = env.app.get("/api/v1/outbox").await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    assert_eq!(list["items"][0]["key"], key.as_str());
    let (s, d) = env
        .app
        .post(&format!("/api/v1/outbox/{id}/discard"), json!({}))
        .await;
    assert_eq!(s, 200, "{d}");
    let (_, list) = env.app.get("/api/v1/outbox").await;
    assert_eq!(list["items"], json!([]), "nothing waits any more");
    let (_, st) = env.app.get("/api/v1/state").await;
    assert!(
        st["controller"]["problem"].is_null(),
        "{}",
        st["controller"]
    );
    let (_, audit) = env.app.get("/api/v1/audit?limit=1000").await;
    assert!(
        !audit.to_string().contains(&password),
        "no password in the audit log"
    );
    let discards: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "outbox.discard")
        .collect();
    assert_eq!(discards.len(), 1, "{audit}");
    let detail = discards[0].to_string();
    assert!(
        detail.contains(&key) && detail.contains("delete it there by hand"),
        "{detail}"
    );
    // A restart: the repair does not queue the given-up deletion again.
    let Env { app, sim, profile } = env;
    app.stop().await;
    let (placement, removed): (Option<String>, Option<i64>) = {
        let db = rusqlite::Connection::open(tmp.path().join(rental_wifi::app::DB_FILE)).unwrap();
        db.query_row(
            "SELECT placement, removed_at FROM wifi_keys WHERE key_name = ?1",
            [&key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    assert_eq!(placement, None, "the sidecar no longer knows it there");
    assert_eq!(removed, None, "nor does it claim the key gone");
    let app = TestApp::spawn_full(config_for(tmp.path()), clock.clone(), fast_policy()).await;
    let env = Env { app, sim, profile };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.app.handle.outbox_pending().await,
        0,
        "nothing re-queued"
    );
    // The host deletes it by hand; the sidecar stays out of it.
    assert!(env.has_password(&password));
}

/// Password mode and the controller's own operations (issue 12b): the controller check ends
/// with a `ppsk` step per password-mode unit, whose failure is the controller's problem; a
/// host test code is refused (the portal refuses a password unit's codes).
#[tokio::test]
async fn the_controller_check_covers_password_units_and_host_tests_are_refused() {
    let (env, _tmp) = start().await;
    let (s, r) = env
        .app
        .post("/api/v1/settings/omada/check", json!({}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["ok"], true, "{r}");
    let ppsk: Vec<&Value> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["step"] == "ppsk")
        .collect();
    assert_eq!(ppsk.len(), 1, "one step per password unit: {r}");
    assert_eq!(ppsk[0]["status"], "pass");
    assert!(ppsk[0]["message"].as_str().unwrap().contains("loft"), "{r}");
    assert_eq!(r["password_checks"][0]["unit_id"], "loft");
    assert_eq!(r["password_checks"][0]["write_checked"], true);
    // The role may only view: the step fails, names the role, and is the problem.
    let mut b = env.sim.behaviour();
    b.openapi_read_only = true;
    env.sim.set_behaviour(b.clone());
    let (_, r) = env
        .app
        .post("/api/v1/settings/omada/check", json!({}))
        .await;
    assert_eq!(r["ok"], false, "{r}");
    let failed: Vec<&Value> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{r}");
    assert_eq!(failed[0]["step"], "ppsk");
    let (_, st) = env.app.get("/api/v1/state").await;
    let problem = st["controller"]["problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("ppsk") && problem.contains("Administrator"),
        "{problem}"
    );
    b.openapi_read_only = false;
    env.sim.set_behaviour(b);
    let (_, r) = env
        .app
        .post("/api/v1/settings/omada/check", json!({}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let (_, st) = env.app.get("/api/v1/state").await;
    assert!(
        st["controller"]["problem"].is_null(),
        "{}",
        st["controller"]
    );
    // No host test code on a password unit; nothing is made.
    let (s, e) = env
        .app
        .post("/api/v1/units/loft/host-test", json!({}))
        .await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("password mode"),
        "{e}"
    );
    let (_, vs) = env.app.get("/api/v1/vouchers?unit_id=loft").await;
    assert_eq!(vs["vouchers"], json!([]), "{vs}");
}

/// Nothing leaks: the password is absent from every log line (TRACE), listing, the state,
/// the audit log and the event stream; it is in the issue answer, the dedicated reads and
/// the cards, whose QR code decodes to the WPA payload.
#[tokio::test]
async fn the_password_never_leaks() {
    let capture = Capture::default();
    capture.install_json();
    let (env, _tmp) = start().await;
    let clock = env.app.clock.clone();
    let mut events = env
        .app
        .http
        .get(env.app.url("/api/v1/events"))
        .bearer_auth(&env.app.token)
        .send()
        .await
        .unwrap();
    let (_, b) = env
        .app
        .put(
            "/api/v1/units/loft/bookings/B9",
            json!({"start": at(&clock, -60), "end": at(&clock, 7200), "guest_name": "Cy"}),
        )
        .await;
    let code = b["voucher"]["code"].as_str().unwrap().to_owned();
    let (s, issued) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "valid_until": at(&clock, 3600), "booking_ref": "B9"}),
        )
        .await;
    assert_eq!(
        s, 200,
        "an idempotent replay of the booking's voucher: {issued}"
    );
    let password = issued["wifi"]["password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 23);
    env.wait("on", |e| e.has_password(&password)).await;
    let (s, card) = {
        let r = env
            .app
            .http
            .get(env.app.url(&format!("/api/v1/vouchers/{code}/card.png")))
            .bearer_auth(&env.app.token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap())
    };
    assert_eq!(s, 200);
    let decoder = png::Decoder::new(std::io::Cursor::new(card.to_vec()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(
        grids[0].decode().unwrap().1,
        format!("WIFI:T:WPA;S:Rental;P:{password};;")
    );
    let svg = env
        .app
        .http
        .get(env.app.url(&format!("/api/v1/vouchers/{code}/card.svg")))
        .bearer_auth(&env.app.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(svg.contains(&password));
    env.app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    env.wait("off", |e| e.keys().is_empty()).await;

    for path in [
        "/api/v1/vouchers".to_owned(),
        format!("/api/v1/vouchers/{code}"),
        "/api/v1/state".to_owned(),
        "/api/v1/units".to_owned(),
        "/api/v1/units/loft".to_owned(),
        "/api/v1/units/loft/bookings".to_owned(),
        "/api/v1/grants".to_owned(),
        "/api/v1/audit?limit=1000".to_owned(),
        "/metrics".to_owned(),
    ] {
        let r = env
            .app
            .http
            .get(env.app.url(&path))
            .bearer_auth(&env.app.token)
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        assert!(!text.contains(&password), "{path} shows the password");
    }
    let mut stream = String::new();
    while let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_millis(500), events.chunk())
        .await
        .map(|c| c.unwrap())
    {
        stream.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(stream.contains("voucher_revoked"), "{stream}");
    assert!(!stream.contains(&password), "an event carries the password");
    for file in [
        rental_wifi::app::DB_FILE.to_owned(),
        format!("{}-wal", rental_wifi::app::DB_FILE),
    ] {
        let bytes = std::fs::read(env.app.data_dir.join(&file)).unwrap_or_default();
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "{file} holds the password in clear"
        );
    }
    let logs = capture.text();
    assert!(logs.contains("ppsk: key added"), "the TRACE capture works");
    assert!(!logs.contains(&password), "a log line carries the password");
}

/// The start-up repair: a key whose outbox items are gone (a hand-edited or restored
/// database) is still added at check-in and deleted at check-out after a restart.
#[tokio::test]
async fn the_start_up_repair_requeues_a_key_without_items() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Clock::system();
    let env = start_at(tmp.path(), clock.clone()).await;
    let (_, v) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "valid_from": at(&clock, 600), "valid_until": at(&clock, 7200)}),
        )
        .await;
    let password = v["wifi"]["password"].as_str().unwrap().to_owned();
    let forget_items = |dir: &std::path::Path| {
        let db = rusqlite::Connection::open(dir.join(rental_wifi::app::DB_FILE)).unwrap();
        let n = db
            .execute(
                "DELETE FROM outbox WHERE kind = 'wifi_key' AND done_at IS NULL",
                [],
            )
            .unwrap();
        assert!(n > 0, "items to forget");
    };
    let Env { app, sim, profile } = env;
    app.stop().await;
    forget_items(tmp.path());
    clock.advance(Duration::from_secs(601));
    let app = TestApp::spawn_full(config_for(tmp.path()), clock.clone(), fast_policy()).await;
    let env = Env { app, sim, profile };
    env.wait("added after the repair", |e| e.has_password(&password))
        .await;
    let Env { app, sim, profile } = env;
    app.stop().await;
    forget_items(tmp.path());
    clock.advance(Duration::from_secs(7200));
    let app = TestApp::spawn_full(config_for(tmp.path()), clock.clone(), fast_policy()).await;
    let env = Env { app, sim, profile };
    env.wait("deleted after the repair", |e| !e.has_password(&password))
        .await;
}

/// `rental-wifi-sidecar check-controller` over the stored units ends with the `ppsk` step of
/// each password-mode unit, like the API's check.
#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_check_covers_password_units() {
    let tmp = tempfile::tempdir().unwrap();
    let env = start_at(tmp.path(), Clock::system()).await;
    let Env { app, sim, .. } = env;
    app.stop().await;
    let run = |sim_read_only: bool| {
        let mut b = sim.behaviour();
        b.openapi_read_only = sim_read_only;
        sim.set_behaviour(b);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rental-wifi-sidecar"))
            .arg("check-controller")
            .arg("--data-dir")
            .arg(tmp.path())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = tokio::task::block_in_place(|| run(false));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("PASS  ppsk [openapi] (site \"Default\"): unit \"loft\" (password mode)"),
        "{out}"
    );
    let (code, out) = tokio::task::block_in_place(|| run(true));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  ppsk"), "{out}");
}

/// Open API renewals (issue 12b) and a unit that switches to password mode: the portal grant
/// of a guest let in before the switch is not authorised again when its renewal comes due
/// (its guest now joins with the voucher's Wi-Fi password); it runs out with the portal
/// timeout. (Without the switch the same stay is renewed: `controller_ops.rs`.)
#[tokio::test]
async fn a_portal_grant_is_not_renewed_once_its_unit_takes_passwords() {
    rental_wifi::init_crypto();
    let sim = sim::start(sim_config()).await.unwrap();
    sim.set_portal_timeout("Default", Duration::from_secs(3600))
        .unwrap();
    let profile = sim.ppsk_profiles()[0].id.clone();
    let tmp = tempfile::tempdir().unwrap();
    let clock = Clock::system();
    let app = TestApp::spawn_full(config_for(tmp.path()), clock.clone(), fast_policy()).await;
    let (s, b) = app
        .put(
            "/api/v1/settings/omada",
            serde_json::to_value(sim.openapi_settings()).unwrap(),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "den", "name": "Den", "ssids": ["Rental"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, v) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "den", "duration_minutes": 180}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let code = v["code"].as_str().unwrap();
    let q = common::redirect_query("02-00-00-00-02-01", "Rental");
    let r = app.redeem_with(&q, code, &[], None).await;
    assert_eq!(r.result, "success", "{}", r.body);
    let renewals = || {
        let db = rusqlite::Connection::open(tmp.path().join(rental_wifi::app::DB_FILE)).unwrap();
        let n: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL AND json_extract(payload, '$.op') = 'reauthorize'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        n
    };
    assert_eq!(
        renewals(),
        1,
        "a 3-hour stay outlives the 1-hour portal timeout"
    );
    assert_eq!(sim.requests_to("/auth").len(), 1);
    let (s, b) = app
        .patch(
            "/api/v1/units/den",
            json!({"access_mode": "password", "ppsk_profile_id": profile}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    clock.advance(Duration::from_secs(55 * 60));
    app.handle.wake_timers();
    assert!(
        eventually(10, || async {
            app.handle.wake_timers();
            renewals() == 0
        })
        .await,
        "the renewal is finished"
    );
    assert_eq!(
        sim.requests_to("/auth").len(),
        1,
        "and the device was not authorised again"
    );
}

/// The portal's checks (issue 13) and password mode: a short code on a password-mode unit
/// lets nobody in (the portal refuses its codes), so the state counts none and warns of none.
#[tokio::test]
async fn short_codes_of_a_password_unit_are_no_guessing_risk() {
    let (env, _tmp) = start().await;
    let (s, b) = env
        .app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "code": "SEA7", "valid_until": at(&env.app.clock, 3600)}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (_, st) = env.app.get("/api/v1/state").await;
    let loft = st["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"]["unit_id"] == "loft")
        .unwrap()
        .clone();
    assert_eq!(loft["unit"]["short_code_second_factor"], "none", "{loft}");
    assert_eq!(loft["guest_checks"]["short_codes"], 0, "{loft}");
    assert_eq!(loft["guest_checks"]["short_codes_weak"], false, "{loft}");
}

/// The unit's "let this device in" route gives a password-mode unit's TV a key bound to its
/// MAC on the current stay; a booking missing from the calendar before its stay keeps its
/// password off the controller at check-in, and it is back once the booking is.
#[tokio::test]
async fn the_unit_device_route_and_a_blank_calendar_in_password_mode() {
    let (env, _tmp) = start().await;
    let clock = env.app.clock.clone();
    let view = |bookings: Value| json!({"from": at(&clock, -86_400), "until": at(&clock, 30 * 86_400), "bookings": bookings});
    let stay = json!({"booking_ref": "B1", "start": at(&clock, -60), "end": at(&clock, 90_000), "guest_name": "Ana", "codes": []});
    let (s, b) = env
        .app
        .put("/api/v1/units/loft/bookings", view(json!([stay])))
        .await;
    assert_eq!(s, 200, "{b}");
    let p = env.unit_password("loft").await;
    let code = p["code"].as_str().unwrap().to_owned();
    let (s, d) = env
        .app
        .post(
            "/api/v1/units/loft/devices",
            json!({"mac": "AA-BB-CC-00-11-22", "name": "TV"}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["code"], code.as_str(), "the stay in progress");
    assert_eq!(d["wifi"]["mac"], "AA-BB-CC-00-11-22");

    // A second booking in two days vanishes from the calendar before its stay.
    let next = json!({"booking_ref": "B2", "start": at(&clock, 172_800), "end": at(&clock, 259_200), "guest_name": "Bo", "codes": []});
    let (s, _) = env
        .app
        .put("/api/v1/units/loft/bookings", view(json!([stay, next])))
        .await;
    assert_eq!(s, 200);
    let (s, b2) = env.app.get("/api/v1/units/loft/bookings/B2").await;
    assert_eq!(s, 200, "{b2}");
    let code2 = b2["voucher"]["code"].as_str().unwrap().to_owned();
    let (_, p2) = env
        .app
        .get(&format!("/api/v1/vouchers/{code2}/password"))
        .await;
    let password2 = p2["wifi"]["password"].as_str().unwrap().to_owned();
    let (s, _) = env
        .app
        .put("/api/v1/units/loft/bookings", view(json!([stay])))
        .await;
    assert_eq!(s, 200);
    let (_, v2) = env.app.get(&format!("/api/v1/vouchers/{code2}")).await;
    assert_eq!(v2["status"], "suspended", "{v2}");
    // Its check-in comes (the unit's limit keeps it from counting as cancelled yet):
    // no password on the controller for a booking that is not in the calendar.
    let (s, u) = env
        .app
        .patch("/api/v1/units/loft", json!({"vanish_cancel_minutes": 600}))
        .await;
    assert_eq!(s, 200, "{u}");
    env.advance(172_800 + 60);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !env.has_password(&password2),
        "a suspended voucher's password stays off the controller"
    );
    // The booking is back: the same code, and its password goes on.
    let next_now = json!({"booking_ref": "B2", "start": at(&clock, -60), "end": at(&clock, 86_400), "guest_name": "Bo", "codes": []});
    let (s, b) = env
        .app
        .put("/api/v1/units/loft/bookings", view(json!([next_now])))
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, v2) = env.app.get(&format!("/api/v1/vouchers/{code2}")).await;
    assert_eq!(v2["code"], code2.as_str());
    assert_ne!(v2["status"], "suspended", "{v2}");
    env.wait("the restored booking's password is on", |e| {
        e.has_password(&password2)
    })
    .await;
}

/// The print sheet of a password-mode unit (issue 17 item 5 with issue 18): each stay's card
/// carries its own Wi-Fi password where a portal unit's shows the code (the portal refuses a
/// password-mode voucher's code), and every password printed is an audited read.
#[tokio::test]
async fn the_print_sheet_carries_each_stays_password() {
    let (env, _tmp) = start().await;
    let clock = env.app.clock.clone();
    let mut stays = Vec::new();
    for (i, start) in [(1, 86_400i64), (2, 4 * 86_400)] {
        let (s, b) = env
            .app
            .put(
                &format!("/api/v1/units/loft/bookings/S{i}"),
                json!({"start": at(&clock, start), "end": at(&clock, start + 2 * 86_400),
                       "guest_name": format!("Guest {i}")}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let code = b["voucher"]["code"].as_str().unwrap().to_owned();
        let (s, p) = env
            .app
            .get(&format!("/api/v1/vouchers/{code}/password"))
            .await;
        assert_eq!(s, 200, "{p}");
        stays.push((code, p["wifi"]["password"].as_str().unwrap().to_owned()));
    }
    let printed = |audit: &Value| {
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["action"] == "wifi_password.read"
                    && e["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("printed on a card"))
            })
            .count()
    };
    let before = printed(&env.app.get("/api/v1/audit").await.1);

    let (s, h, pdf) = get_pdf(&env.app, "/api/v1/units/loft/cards.pdf").await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(h["x-card-count"], "2");
    let all = pdf_pages(&pdf).join("\n");
    for (code, password) in &stays {
        assert!(all.contains(password.as_str()), "{password} in {all}");
        assert!(
            !all.contains(code.as_str()),
            "no voucher code {code}: {all}"
        );
    }
    assert!(
        all.contains("WI-FI PASSWORD") && all.contains("Wi-Fi: Rental"),
        "{all}"
    );
    let audit = env.app.get("/api/v1/audit").await.1;
    assert_eq!(
        printed(&audit),
        before + 2,
        "one audited read per card: {audit}"
    );
}
