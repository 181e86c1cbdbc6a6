//! The controller's operations (issue 12b) through the sidecar's own API and portal, against
//! the simulator's real-controller behaviour, in both modes: a unit's site id looked up or
//! verified when it is saved; the sites the unit form offers and the operator made for the
//! units' sites; take-outs that wait for a fix (never dropped), shown, retried when the
//! settings or a unit change, discarded by the host; Open API grants renewed before the
//! portal's timeout, durable across restarts; reconciliation; the self-test over every
//! unit's site; the host test code. (The crash cases are in `failpoints.rs`; the end-to-end
//! run through the real binary in `controller_e2e.rs`.)

mod common;

use std::time::Duration;

use common::{config_for, eventually, fast_policy, redirect_query, TestApp};
use rental_wifi::clock::Clock;
use rental_wifi::omada::OmadaSettings;
use rental_wifi::sim::omada::{self as sim, OmadaSim, OmadaSimConfig, OperatorRole, SimSite};
use serde_json::{json, Value};

const PHONE: &str = "52-DE-63-F1-E3-3B";

/// A simulator with two sites, Default and Lake.
async fn two_sites(cfg: OmadaSimConfig) -> OmadaSim {
    rental_wifi::init_crypto();
    let mut sites = cfg.sites.clone();
    sites.push(SimSite {
        name: "Lake".into(),
        id: "5f3c0b2a9d8e7f6a5b4c3d2e".into(),
    });
    sim::start(OmadaSimConfig { sites, ..cfg }).await.unwrap()
}

async fn spawn_on(dir: &std::path::Path, clock: Clock) -> TestApp {
    TestApp::spawn_full(config_for(dir), clock, fast_policy()).await
}

async fn configure(app: &TestApp, settings: OmadaSettings) -> Value {
    let (s, b) = app
        .put(
            "/api/v1/settings/omada",
            serde_json::to_value(settings).unwrap(),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn controller(app: &TestApp) -> Value {
    let (s, st) = app.get("/api/v1/state").await;
    assert_eq!(s, 200);
    st["controller"].clone()
}

async fn unit(app: &TestApp, id: &str, site: &str) -> Value {
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": id, "name": id, "omada_site": site, "ssids": ["Beach Guest"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b
}

async fn voucher(app: &TestApp, unit_id: &str, body: Value) -> String {
    let mut b = json!({"unit_id": unit_id, "duration_minutes": 120});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    let (s, v) = app.post("/api/v1/vouchers", b).await;
    assert_eq!(s, 201, "{v}");
    v["code"].as_str().unwrap().to_owned()
}

/// `mac` types `code` on site `site`'s SSID "Beach Guest".
async fn let_in(app: &TestApp, mac: &str, site: &str, code: &str) {
    let q = redirect_query(mac, "Beach Guest").replace("site=Default", &format!("site={site}"));
    let r = app.redeem_with(&q, code, &[], None).await;
    assert_eq!(r.result, "success", "{}", r.body);
}

/// The SSE stream, read until an event of a name arrives.
struct Events {
    resp: reqwest::Response,
    text: String,
}

impl Events {
    async fn open(app: &TestApp) -> Events {
        let mut resp = app
            .http
            .get(app.url("/api/v1/events"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        let _ = resp.chunk().await;
        Events {
            resp,
            text: String::new(),
        }
    }

    /// The data of the next event `name` that satisfies `want` (waiting up to 15 s).
    async fn until(&mut self, name: &str, want: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self.next(name).await;
            if want(&v) {
                return v;
            }
        }
    }

    /// The data of the next event `name` (waiting up to 15 s).
    async fn next(&mut self, name: &str) -> Value {
        let marker = format!("event: {name}\n");
        loop {
            if let Some(i) = self.text.find(&marker) {
                let rest = &self.text[i..];
                if let Some(end) = rest.find("\n\n") {
                    let block = rest[..end].to_owned();
                    self.text = rest[end + 2..].to_owned();
                    let data = block
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .unwrap();
                    return serde_json::from_str(data).unwrap();
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(15), self.resp.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {name} event; got: {}", self.text))
                .unwrap()
                .unwrap();
            self.text.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

// ------------------------------------------------------------------------ item 1: site ids

#[tokio::test]
async fn a_units_site_id_is_looked_up_through_the_open_api_and_verified_at_save() {
    // The operator may use Default only.
    let sim = two_sites(OmadaSimConfig {
        operator_sites: Some(vec!["Default".into()]),
        ..OmadaSimConfig::default()
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_on(tmp.path(), Clock::system()).await;
    configure(&app, sim.hotspot_settings()).await;

    // Looked up by name, stored, verified by listing the site's clients.
    let u = unit(&app, "beach", "Default").await;
    let default_id = sim.site_id("Default").unwrap();
    assert_eq!(u["omada_site_id"], default_id.as_str());
    assert!(sim.requests_to("/clients").iter().any(|r| r
        .path
        .contains(&format!("/hotspot/sites/{default_id}/clients"))));

    // A site the Open API app does not know: refused, naming the site and the ones it sees.
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "x", "name": "X", "omada_site": "Mountain"}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["code"], "site_check_failed");
    assert_eq!(b["error"]["field"], "omada_site");
    let m = b["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("\"Mountain\"") && m.contains("Default, Lake"),
        "{m}"
    );

    // A site the operator may not use: refused, naming the operator, its role and the site.
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "lake", "name": "Lake", "omada_site": "Lake"}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    let m = b["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("hotspot operator \"operator\" may not list the clients of site \"Lake\"")
            && m.contains("Site Privileges"),
        "{m}"
    );
    assert!(m.contains("the controller said"), "{m}");

    // An id and a name that are not the same site: refused.
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "y", "name": "Y", "omada_site": "Default", "omada_site_id": "5f3c0b2a9d8e7f6a5b4c3d2e"}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["field"], "omada_site_id");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("is the controller's site \"Lake\", not \"Default\""));

    // Moving a unit to another site looks the new id up (and a change that does not touch
    // the site asks the controller nothing).
    let before = sim.counters().requests;
    let (s, b) = app
        .patch("/api/v1/units/beach", json!({"checkout_grace_minutes": 30}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(sim.counters().requests, before, "no controller call");
    let (s, b) = app
        .patch("/api/v1/units/beach", json!({"omada_site": "Lake"}))
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = app.get("/api/v1/units/beach").await;
    assert_eq!(
        (s, b["omada_site_id"].as_str()),
        (200, Some(default_id.as_str()))
    );

    // The controller does not answer: 503 with how to save anyway; ?validate=false saves.
    sim.set_outage(Some(sim::Outage::Http503));
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "later", "name": "Later", "omada_site": "Default"}),
        )
        .await;
    assert_eq!(s, 503, "{b}");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("?validate=false"));
    let (s, b) = app
        .post(
            "/api/v1/units?validate=false",
            json!({"unit_id": "later", "name": "Later", "omada_site": "Default"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["omada_site_id"], Value::Null);
}

#[tokio::test]
async fn without_a_controller_a_unit_is_saved_as_given() {
    let app = TestApp::spawn().await;
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "u", "name": "U", "omada_site_id": "640EFFD1B3F2AE5B912275EC"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["omada_site_id"], "640effd1b3f2ae5b912275ec");
    let (s, b) = app
        .patch("/api/v1/units/u", json!({"omada_site_id": "nope"}))
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["field"], "omada_site_id");
    let (s, b) = app
        .patch("/api/v1/units/u", json!({"omada_site_id": null}))
        .await;
    assert_eq!((s, b["omada_site_id"].clone()), (200, Value::Null));
}

#[tokio::test]
async fn the_unit_form_gets_sites_with_ssids_and_the_operator_is_made_for_the_units_sites() {
    let sim = two_sites(OmadaSimConfig::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_on(tmp.path(), Clock::system()).await;
    // Open API only: discovery, and an operator to make.
    configure(&app, sim.openapi_settings()).await;
    unit(&app, "lake", "Lake").await;

    let (s, b) = app.get("/api/v1/controller/sites").await;
    assert_eq!(s, 200, "{b}");
    let sites = b["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 2);
    let lake = sites.iter().find(|x| x["name"] == "Lake").unwrap();
    assert_eq!(lake["id"], "5f3c0b2a9d8e7f6a5b4c3d2e");
    assert_eq!(lake["unit_ids"], json!(["lake"]));
    let default = sites.iter().find(|x| x["name"] == "Default").unwrap();
    assert_eq!(default["ssids"][0]["name"], "Guest");
    assert_eq!(default["ssids"][0]["guest_network"], true);
    assert_eq!(default["unit_ids"], json!([]));

    let (s, b) = app
        .post("/api/v1/controller/hotspot-operator", json!({"name": "rw"}))
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["name"], "rw");
    assert_eq!(b["site_ids"], json!(["5f3c0b2a9d8e7f6a5b4c3d2e"]));
    assert_eq!(
        b["mode"], "hotspot",
        "auto: the operator now lets guests in"
    );
    assert!(!b
        .to_string()
        .contains(&sim.operator_password("rw").unwrap()));
    let op = sim
        .operators()
        .into_iter()
        .find(|o| o.name == "rw")
        .unwrap();
    assert_eq!(op.role, OperatorRole::Administrator);
    assert_eq!(op.site_ids, vec!["5f3c0b2a9d8e7f6a5b4c3d2e".to_string()]);
    let (_, settings) = app.get("/api/v1/settings/omada").await;
    assert_eq!(
        (settings["username"].as_str(), settings["password"].as_str()),
        (Some("rw"), Some("***"))
    );
    let (_, audit) = app.get("/api/v1/audit").await;
    assert!(audit.to_string().contains("settings.omada.operator_create"));
    // A second one gets its own name.
    let (s, b) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/controller/hotspot-operator",
            None,
        )
        .await;
    assert_eq!((s, b["name"].as_str()), (201, Some("rental-wifi")));

    // Without Open API credentials neither works, and says why.
    configure(&app, sim.hotspot_only_settings()).await;
    let (s, b) = app.get("/api/v1/controller/sites").await;
    assert_eq!(s, 422, "{b}");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Open API client credentials"));
}

// ------------------------------------------------------------------ item 2: waiting items

#[tokio::test]
async fn take_outs_wait_for_a_fix_and_go_through_when_the_settings_change() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_on(tmp.path(), Clock::system()).await;
    configure(&app, sim.hotspot_settings()).await;
    unit(&app, "beach", "Default").await;
    let code = voucher(&app, "beach", json!({})).await;
    let_in(&app, PHONE, "Default", &code).await;
    let mut events = Events::open(&app).await;

    // The controller refuses the operator's session (a role or privilege taken away).
    sim.set_reject_sessions(true);
    let (s, _) = app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200);
    let p = events
        .until("controller_problem", |p| p["outbox_waiting"] == 1)
        .await;
    let problem = p["problem"].as_str().unwrap();
    assert!(
        problem.contains(&format!("taking {PHONE} off site \"Default\""))
            && problem.contains("Administrator"),
        "{problem}"
    );
    let c = controller(&app).await;
    assert_eq!(
        (c["connected"].clone(), c["outbox_waiting"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(c["problem"], p["problem"]);
    // Not retried in a loop: one attempt, then it waits (10 minutes, or a settings change).
    let disconnect_tries = sim.counters().session_rejections;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sim.counters().session_rejections, disconnect_tries);
    assert_eq!(sim.authorized().len(), 1, "never dropped, never done");

    // The host fixes it on the controller and saves the settings again: retried at once.
    sim.set_reject_sessions(false);
    configure(&app, sim.hotspot_settings()).await;
    assert!(eventually(10, || async { sim.authorized().is_empty() }).await);
    let p = events.next("controller_problem").await;
    assert_eq!(p["problem"], Value::Null, "{p}");
    let c = controller(&app).await;
    assert_eq!(
        (c["outbox_pending"].clone(), c["outbox_waiting"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(c["outbox_oldest_pending_at"], Value::Null);
}

#[tokio::test]
async fn in_open_api_mode_a_site_the_app_cannot_use_makes_take_outs_wait_until_the_unit_is_fixed() {
    let sim = two_sites(OmadaSimConfig {
        openapi_sites: Some(vec!["Default".into()]),
        ..OmadaSimConfig::default()
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_on(tmp.path(), Clock::system()).await;
    configure(&app, sim.openapi_settings()).await;
    unit(&app, "beach", "Default").await;
    let code = voucher(&app, "beach", json!({})).await;
    let_in(&app, PHONE, "Default", &code).await;
    // The host points the unit at another site id by mistake (unchecked).
    let (s, b) = app
        .patch(
            "/api/v1/units/beach?validate=false",
            json!({"omada_site_id": "5f3c0b2a9d8e7f6a5b4c3d2e"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    app.post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert!(
        eventually(10, || async {
            controller(&app).await["outbox_waiting"] == 1
        })
        .await,
        "{}",
        controller(&app).await
    );
    let (_, o) = app.get("/api/v1/outbox").await;
    let problem = o["items"][0]["problem"].as_str().unwrap();
    assert!(problem.contains("Site Privileges"), "{problem}");
    assert_eq!(sim.authorized().len(), 1);
    // Fixed through the unit (checked this time): the take-out goes through at once.
    let (s, b) = app
        .patch(
            "/api/v1/units/beach",
            json!({"omada_site_id": sim.site_id("Default").unwrap()}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // The queued item carried the wrong id; the host discards it and revokes again.
    let id = o["items"][0]["id"].as_i64().unwrap();
    let (s, d) = app
        .post(&format!("/api/v1/outbox/{id}/discard"), json!({}))
        .await;
    assert_eq!(s, 200, "{d}");
    assert!(d["discarded_at"].is_string());
    assert_eq!(controller(&app).await["problem"], Value::Null);
    let (s, _) = app
        .post(&format!("/api/v1/outbox/{id}/discard"), json!({}))
        .await;
    assert_eq!(s, 409, "discarded already");
    let (s, _) = app.post("/api/v1/outbox/999999/discard", json!({})).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_take_out_whose_unit_is_gone_waits_and_the_host_can_discard_it_audited() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_on(tmp.path(), Clock::system()).await;
    configure(&app, sim.hotspot_only_settings()).await;
    // Saved unchecked: no site id, and a hotspot operator cannot learn it.
    let (s, b) = app
        .post(
            "/api/v1/units?validate=false",
            json!({"unit_id": "beach", "name": "Beach", "ssids": ["Beach Guest"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let code = voucher(&app, "beach", json!({})).await;
    let_in(&app, PHONE, "Default", &code).await;
    assert_eq!(app.delete("/api/v1/units/beach?force=true").await, 204);
    assert!(
        eventually(10, || async {
            controller(&app).await["outbox_waiting"] == 1
        })
        .await
    );
    let (_, o) = app.get("/api/v1/outbox").await;
    let item = &o["items"][0];
    assert_eq!(item["unit_id"], Value::Null, "its unit is gone");
    assert_eq!(item["client_mac"], PHONE);
    let mut events = Events::open(&app).await;
    let (s, d) = app
        .post(&format!("/api/v1/outbox/{}/discard", item["id"]), json!({}))
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(
        events.next("controller_problem").await["problem"],
        Value::Null
    );
    let (_, audit) = app.get("/api/v1/audit?limit=5").await;
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "outbox.discard")
        .unwrap()
        .clone();
    let detail = entry["detail"].as_str().unwrap();
    assert!(
        detail.contains(PHONE) && detail.contains("Default") && detail.contains("waited on"),
        "{detail}"
    );
    assert_eq!(entry["actor"], "api");
    let c = controller(&app).await;
    assert_eq!(
        (c["outbox_pending"].clone(), c["problem"].clone()),
        (json!(0), Value::Null)
    );
}

// -------------------------------------------------------------------- item 3: renewals

#[tokio::test]
async fn open_api_stays_longer_than_the_portal_timeout_are_renewed_before_it_runs_out() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    sim.set_portal_timeout("Default", Duration::from_secs(3600))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let clock = Clock::system();
    let app = spawn_on(tmp.path(), clock.clone()).await;
    // The settings test tells the host the timeout.
    let b = configure(&app, sim.openapi_settings()).await;
    assert_eq!(b["portal_timeouts"][0]["portals"][0]["timeout_minutes"], 60);
    unit(&app, "beach", "Default").await;
    let (s, report) = app.post("/api/v1/settings/omada/check", json!({})).await;
    assert_eq!(s, 200);
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["step"] == "portal_timeout")
        .unwrap()
        .clone();
    assert_eq!(step["status"], "pass");
    assert!(
        step["message"].as_str().unwrap().contains("1 hour"),
        "{step}"
    );

    // A 3-hour stay: renewed 6 minutes before each hour is up.
    let code = voucher(&app, "beach", json!({"duration_minutes": 180})).await;
    let_in(&app, PHONE, "Default", &code).await;
    let renewal = |app: &TestApp| {
        let db = rusqlite::Connection::open(app.data_dir.join(rental_wifi::app::DB_FILE)).unwrap();
        let v: Vec<i64> = db
            .prepare("SELECT next_attempt_at FROM outbox WHERE done_at IS NULL AND json_extract(payload, '$.op') = 'reauthorize'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        v
    };
    let due = renewal(&app);
    assert_eq!(due.len(), 1, "{due:?}");
    let in_min = (due[0] - clock.now().unix_timestamp() * 1000) as f64 / 60_000.0;
    assert!((53.0..54.5).contains(&in_min), "{in_min} min");
    assert_eq!(sim.requests_to("/auth").len(), 1);

    // Durable: a restart keeps it.
    app.stop().await;
    let app = spawn_on(tmp.path(), clock.clone()).await;
    assert_eq!(renewal(&app), due);

    // When it is due, the device is authorised again and the next renewal is queued, an
    // hour (minus the margin) after this one: at about 54, 108 and 162 minutes. The one at
    // 162 lasts past the stay's end (180), so it is the last.
    let mut last = due[0];
    for auths in 2..=4 {
        clock.advance(Duration::from_secs(55 * 60));
        app.handle.wake_timers();
        assert!(
            eventually(10, || async { sim.requests_to("/auth").len() == auths }).await,
            "renewal {auths}"
        );
        if auths < 4 {
            assert!(
                eventually(10, || async {
                    let d = renewal(&app);
                    d.len() == 1 && d[0] > last
                })
                .await
            );
            let next = renewal(&app)[0];
            let gap = (next - last) as f64 / 60_000.0;
            assert!((54.0..56.5).contains(&gap), "{gap} min");
            last = next;
        }
    }
    assert!(eventually(10, || async { renewal(&app).is_empty() }).await);
    let newest = sim
        .auth_records()
        .into_iter()
        .filter(|r| r.valid)
        .max_by_key(|r| r.authorized_at)
        .unwrap();
    assert_eq!(newest.via, sim::AuthApi::OpenApi);
    assert_eq!(newest.duration, Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn the_hotspot_api_needs_no_renewal() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    sim.set_portal_timeout("Default", Duration::from_secs(3600))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_on(tmp.path(), Clock::system()).await;
    configure(&app, sim.hotspot_settings()).await;
    unit(&app, "beach", "Default").await;
    let code = voucher(&app, "beach", json!({"duration_minutes": 600})).await;
    let_in(&app, PHONE, "Default", &code).await;
    let (_, o) = app.get("/api/v1/outbox").await;
    assert_eq!(o["items"], json!([]), "the grant carries its own duration");
    assert!(sim.authorized()[0].duration.unwrap() > Duration::from_secs(590 * 60));
}

// ---------------------------------------------------------------- item 4: reconciliation

fn copy_db(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(to).unwrap() {
        let entry = entry.unwrap();
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(rental_wifi::app::DB_FILE)
        {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(rental_wifi::app::DB_FILE)
        {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn authorized_macs(sim: &OmadaSim) -> Vec<String> {
    let mut v: Vec<String> = sim.authorized().iter().map(|c| c.mac.to_string()).collect();
    v.sort();
    v.dedup();
    v
}

async fn restored_backup_case(settings: fn(&OmadaSim) -> OmadaSettings) {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_on(tmp.path(), Clock::system()).await;
    configure(&app, settings(&sim)).await;
    // Guests on "Beach Guest"; the controller's own voucher portal on "Guest".
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "beach", "name": "Beach", "ssids": ["Beach Guest", "Guest"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let code = voucher(&app, "beach", json!({"max_devices": 3})).await;
    let kept = "02-00-00-00-00-0A";
    let_in(&app, kept, "Default", &code).await;
    app.stop().await;
    let backup = tempfile::tempdir().unwrap();
    copy_db(tmp.path(), backup.path());

    // After the backup: a guest the backup never saw, and a guest of the controller's own
    // voucher portal (another authentication type).
    let app = spawn_on(tmp.path(), Clock::system()).await;
    let_in(&app, PHONE, "Default", &code).await;
    let other: rental_wifi::net::Mac = "02-00-00-00-00-0C".parse().unwrap();
    sim.add_authorization("Default", other, 3).unwrap();
    app.stop().await;
    assert_eq!(
        authorized_macs(&sim),
        vec![kept.to_string(), "02-00-00-00-00-0C".into(), PHONE.into()]
    );

    // The backup is restored: at start-up the controller's authorisation of PHONE has no
    // grant behind it and is ended; the guest the backup knows and the voucher guest stay.
    copy_db(backup.path(), tmp.path());
    let app = spawn_on(tmp.path(), Clock::system()).await;
    assert!(
        eventually(15, || async {
            authorized_macs(&sim) == vec![kept.to_string(), "02-00-00-00-00-0C".into()]
        })
        .await,
        "{:?}",
        authorized_macs(&sim)
    );
    let (_, audit) = app.get("/api/v1/audit?limit=20").await;
    let detail = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "controller.reconcile")
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .expect("the reconciliation is audited");
    assert!(
        detail.contains(PHONE) && detail.contains("\"Default\""),
        "{detail}"
    );
    // Again (daily, or on demand): nothing more to end.
    let (s, r) = app.post("/api/v1/controller/reconcile", json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (
            r["sites"].clone(),
            r["ended"].clone(),
            r["kept"].clone(),
            r["other_methods"].clone()
        ),
        (json!(1), json!(0), json!(1), json!(1))
    );
    let (_, guests) = app.get("/api/v1/grants?active=true").await;
    assert_eq!(guests["grants"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn reconciliation_ends_what_a_restored_backup_forgot_in_hotspot_mode() {
    restored_backup_case(|s| s.hotspot_settings()).await;
}

#[tokio::test]
async fn reconciliation_ends_what_a_restored_backup_forgot_in_open_api_mode() {
    restored_backup_case(|s| s.openapi_settings()).await;
}

#[tokio::test]
async fn after_a_lost_database_every_external_portal_authorisation_is_ended() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    for n in 1..=3u8 {
        let mac: rental_wifi::net::Mac = format!("02-00-00-00-01-0{n}").parse().unwrap();
        sim.add_authorization("Default", mac, 4).unwrap();
    }
    let local_user: rental_wifi::net::Mac = "02-00-00-00-02-01".parse().unwrap();
    sim.add_authorization("Default", local_user, 5).unwrap();
    // A fresh sidecar (the old database is gone), its unit on that site.
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_on(tmp.path(), Clock::system()).await;
    configure(&app, sim.hotspot_settings()).await;
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "beach", "name": "Beach"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(app.handle.reconcile_controller().await, Ok(3));
    assert!(
        eventually(10, || async {
            authorized_macs(&sim) == vec!["02-00-00-00-02-01".to_string()]
        })
        .await,
        "{:?}",
        authorized_macs(&sim)
    );
    // A unit that takes guests on one SSID only: another SSID of the site is not its network.
    let ssid_only = sim::start(OmadaSimConfig::default()).await.unwrap();
    ssid_only
        .add_authorization("Default", "02-00-00-00-03-01".parse().unwrap(), 4)
        .unwrap();
    let tmp2 = tempfile::tempdir().unwrap();
    let app2 = spawn_on(tmp2.path(), Clock::system()).await;
    configure(&app2, ssid_only.hotspot_settings()).await;
    unit(&app2, "beach", "Default").await; // SSID "Beach Guest"; the record is on "Guest"
    assert_eq!(app2.handle.reconcile_controller().await, Ok(0));
}

// ------------------------------------------------------------ item 5: the self-test

#[tokio::test]
async fn the_controller_check_runs_every_step_over_every_units_site() {
    let sim = two_sites(OmadaSimConfig {
        operator_sites: Some(vec!["Default".into()]),
        ..OmadaSimConfig::default()
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_on(tmp.path(), Clock::system()).await;
    configure(&app, sim.hotspot_settings()).await;
    unit(&app, "beach", "Default").await;
    // Lake: the operator may not use it (saved unchecked).
    let (s, b) = app
        .post(
            "/api/v1/units?validate=false",
            json!({"unit_id": "lake", "name": "Lake", "omada_site": "Lake"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let mut events = Events::open(&app).await;
    let (s, report) = app.post("/api/v1/settings/omada/check", json!({})).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["ok"], false);
    let steps = report["steps"].as_array().unwrap();
    let find = |step: &str, site: Option<&str>| {
        steps
            .iter()
            .filter(|x| x["step"] == step && x["site"].as_str() == site)
            .map(|x| x["status"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(find("discovery", None), vec!["pass"]);
    assert_eq!(
        find("login", None),
        vec!["pass", "pass"],
        "operator and app"
    );
    assert_eq!(find("site", Some("Default")), vec!["pass"]);
    assert_eq!(find("permissions", Some("Default")), vec!["pass"]);
    assert_eq!(find("site", Some("Lake")), vec!["pass"]);
    assert_eq!(find("permissions", Some("Lake")), vec!["fail"]);
    assert_eq!(find("portal_timeout", Some("Lake")), vec!["skip"]);
    let lake = steps
        .iter()
        .find(|x| x["step"] == "permissions" && x["site"] == "Lake")
        .unwrap();
    assert!(lake["message"]
        .as_str()
        .unwrap()
        .contains("hotspot operator \"operator\" may not list the clients of site \"Lake\""));
    assert!(lake["controller_message"].as_str().is_some(), "{lake}");
    let e = events.next("controller_check").await;
    assert_eq!(
        (e["ok"].clone(), e["steps"].clone()),
        (json!(false), json!(steps.len()))
    );
    assert_eq!(e["failed"][0]["step"], "permissions");
    assert_eq!(e["failed"][0]["site"], "Lake");
    let problem = controller(&app).await["problem"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        problem.starts_with("The controller check failed at step permissions (site \"Lake\")"),
        "{problem}"
    );
    // The settings test checks every unit's site too.
    let b = configure(&app, sim.hotspot_settings()).await;
    let checks = b["site_checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    let lake = checks.iter().find(|c| c["site"] == "Lake").unwrap();
    assert_eq!(lake["ok"], false);
    assert!(lake["problems"][0]
        .as_str()
        .unwrap()
        .contains("Site Privileges"));

    // Fixed: an operator for both units' sites; the check passes and the problem clears.
    let (s, b) = app
        .post("/api/v1/controller/hotspot-operator", json!({}))
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, report) = app.post("/api/v1/settings/omada/check", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(report["ok"], true, "{report}");
    assert!(
        events.until("controller_check", |e| e["ok"] == true).await["failed"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(controller(&app).await["problem"], Value::Null);
}

#[tokio::test]
async fn the_check_needs_a_controller() {
    let app = TestApp::spawn().await;
    let (s, b) = app.post("/api/v1/settings/omada/check", json!({})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("not_configured"))
    );
    app.unit("u").await;
    let (s, b) = app.post("/api/v1/units/u/host-test", json!({})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("not_configured"))
    );
}

// ------------------------------------------------------------ item 5: the host test code

async fn host_test_case(settings: fn(&OmadaSim) -> OmadaSettings, away: bool) -> Value {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let clock = Clock::system();
    let app = spawn_on(tmp.path(), clock.clone()).await;
    configure(&app, settings(&sim)).await;
    unit(&app, "beach", "Default").await;
    let mut events = Events::open(&app).await;
    let (s, t) = app.post("/api/v1/units/beach/host-test", json!({})).await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(
        (t["status"].as_str(), t["seconds"].as_u64()),
        (Some("waiting"), Some(60))
    );
    let code = t["code"].as_str().unwrap().to_owned();
    assert!(t["instructions"].as_str().unwrap().contains(&code));
    // Not a guest's voucher: not in the unit's live vouchers, no `voucher_issued`.
    let (_, st) = app.get("/api/v1/state").await;
    assert_eq!(st["units"][0]["vouchers"], json!([]));
    let guest = voucher(&app, "beach", json!({})).await;
    assert_eq!(events.next("voucher_issued").await["code"], guest.as_str());

    let_in(&app, PHONE, "Default", &code).await;
    let (_, t) = app.get(&format!("/api/v1/host-tests/{code}")).await;
    assert_eq!(
        (t["status"].as_str(), t["client_mac"].as_str()),
        (Some("in"), Some(PHONE))
    );
    // One phone, once.
    let q = redirect_query("02-00-00-00-00-77", "Beach Guest");
    assert_ne!(
        app.redeem_with(&q, &code, &[], None).await.result,
        "success"
    );
    if away {
        sim.set_client_online(PHONE.parse().unwrap(), false);
    }
    // 60 seconds later it is taken off (expiry → outbox), and the controller is asked.
    clock.advance(Duration::from_secs(61));
    app.handle.wake_timers();
    let r = events.next("host_test_result").await;
    assert_eq!(
        (r["unit_id"].as_str(), r["code"].as_str()),
        (Some("beach"), Some(code.as_str()))
    );
    assert_eq!(r["client_mac"], PHONE);
    assert!(r["let_in_at"].is_string() && r["revoked_at"].is_string());
    assert!(sim.authorized().is_empty(), "the phone is off");
    let (_, t) = app.get(&format!("/api/v1/host-tests/{code}")).await;
    assert_eq!(t["status"], "done");
    assert_eq!(t["result"]["ok"], r["ok"]);
    let (_, audit) = app.get("/api/v1/audit?limit=10").await;
    assert!(audit.to_string().contains("host_test.result"));
    r
}

#[tokio::test]
async fn a_host_test_code_in_hotspot_mode_is_confirmed_by_the_disconnect_only() {
    let r = host_test_case(|s| s.hotspot_settings(), false).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["disconnected"], 1);
    assert_eq!(r["authorization_state"], "not_readable");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("\"valid\" after their end"),
        "{r}"
    );
}

#[tokio::test]
async fn a_host_test_code_in_open_api_mode_is_confirmed_by_the_authorisation_state() {
    let r = host_test_case(|s| s.openapi_settings(), true).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["authorization_state"], "ended");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("now lists none as valid"),
        "{r}"
    );
}
