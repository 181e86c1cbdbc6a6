//! A unit's Plume ids through the sidecar's API (issue 15 items 1 and 5): a save verifies them
//! before the write and refuses a wrong one naming the field; without Plume the check is
//! skipped with a note, and when Plume cannot be asked the ids are saved unverified. The
//! discovery routes find the ids from a pod's serial or an account id, and list a customer's
//! locations, as Plume documents.

mod common;

use common::{err_code, TestApp};
use rental_wifi::sim::plume::{PlumeSim, Scenario};
use serde_json::{json, Value};

const CUSTOMER: &str = "642cc40d71d99d000a611549";
const OTHER: &str = "642cc40d71d99d000a611548";

async fn sim() -> PlumeSim {
    rental_wifi::init_crypto();
    let sim = rental_wifi::sim::plume::start(Default::default())
        .await
        .unwrap();
    sim.add_location(CUSTOMER, "loc-beach", Scenario::Fine);
    sim.add_location(CUSTOMER, "loc-loft", Scenario::Fine);
    sim
}

async fn configure(app: &TestApp, sim: &PlumeSim) {
    let (s, b) = app
        .put(
            "/api/v1/settings/plume",
            json!({"sso_url": sim.sso_url(), "auth_header": sim.auth_header(), "partner_id": sim.partner_id(), "api_base": sim.api_base(), "poll_interval_seconds": 60}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

fn unit(id: &str, customer: &str, location: &str) -> Value {
    json!({"unit_id": id, "name": id, "plume_customer_id": customer, "plume_location_id": location})
}

#[tokio::test]
async fn without_plume_the_check_is_skipped_with_a_note() {
    let app = TestApp::spawn().await;
    let (s, b) = app
        .post("/api/v1/units", unit("beach", CUSTOMER, "loc-beach"))
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["plume_check"]["status"], "skipped");
    assert!(b["plume_check"]["message"]
        .as_str()
        .unwrap()
        .contains("Plume is not configured"));
    assert_eq!(b["plume_customer_id"], CUSTOMER);
    // A save that does not name Plume ids carries no check; a GET never does.
    let (s, b) = app
        .patch("/api/v1/units/beach", json!({"name": "Beach"}))
        .await;
    assert_eq!(s, 200);
    assert!(b.get("plume_check").is_none(), "{b}");
    assert!(app
        .get("/api/v1/units/beach")
        .await
        .1
        .get("plume_check")
        .is_none());
    // Discovery needs Plume.
    let (s, b) = app.get("/api/v1/plume/nodes/SIMX0001").await;
    assert_eq!((s, err_code(&b)), (422, "not_configured"));
    app.stop().await;
}

#[tokio::test]
async fn a_save_verifies_the_ids_and_refuses_a_wrong_one_naming_the_field() {
    let app = TestApp::spawn().await;
    let sim = sim().await;
    configure(&app, &sim).await;

    let (s, b) = app
        .post("/api/v1/units", unit("beach", CUSTOMER, "loc-beach"))
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["plume_check"]["status"], "verified");
    assert!(b["plume_check"]["location_name"].is_string(), "{b}");

    // A customer id Plume does not know: 422 on that field, nothing created.
    let (s, b) = app
        .post("/api/v1/units", unit("typo", OTHER, "loc-beach"))
        .await;
    assert_eq!((s, err_code(&b)), (422, "plume_rejected"), "{b}");
    assert_eq!(b["error"]["field"], "plume_customer_id");
    assert!(
        b["error"]["message"].as_str().unwrap().contains(OTHER),
        "{b}"
    );
    assert_eq!(app.get("/api/v1/units/typo").await.0, 404);

    // A location the customer does not have: the field, and the customer's locations listed.
    let (s, b) = app
        .post("/api/v1/units", unit("typo", CUSTOMER, "loc-nowhere"))
        .await;
    assert_eq!((s, err_code(&b)), (422, "plume_rejected"), "{b}");
    assert_eq!(b["error"]["field"], "plume_location_id");
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("loc-nowhere") && msg.contains("loc-loft"),
        "{msg}"
    );
    assert_eq!(app.get("/api/v1/units/typo").await.0, 404);

    // A change that names one id is checked with the other one the unit has; refused, the
    // unit is unchanged.
    let (s, b) = app
        .patch(
            "/api/v1/units/beach",
            json!({"plume_location_id": "loc-gone"}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (422, Some("plume_location_id"))
    );
    assert_eq!(
        app.get("/api/v1/units/beach").await.1["plume_location_id"],
        "loc-beach"
    );
    let (s, b) = app
        .patch(
            "/api/v1/units/beach",
            json!({"plume_location_id": "loc-loft"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["plume_check"]["status"], "verified");
    assert_eq!(b["plume_location_id"], "loc-loft");
    // Clearing the ids needs no check.
    let (s, b) = app
        .patch(
            "/api/v1/units/beach",
            json!({"plume_customer_id": null, "plume_location_id": null}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("plume_check").is_none());
    // A unit that does not exist is 404 before any Plume call.
    let before = sim.counters().api_requests;
    let (s, _) = app
        .patch(
            "/api/v1/units/nobody",
            json!({"plume_location_id": "loc-loft"}),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(sim.counters().api_requests, before);

    // Plume cannot be asked: saved, unverified, and said so.
    sim.set_outage(true);
    let (s, b) = app
        .post("/api/v1/units", unit("loft", CUSTOMER, "loc-loft"))
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["plume_check"]["status"], "unverified");
    assert!(b["plume_check"]["message"]
        .as_str()
        .unwrap()
        .contains("could not check"));
    app.stop().await;
}

#[tokio::test]
async fn discovery_finds_the_ids_from_a_serial_or_an_account_id() {
    let app = TestApp::spawn().await;
    let sim = sim().await;
    configure(&app, &sim).await;

    // The serial printed on a pod (any case) → its customer and location.
    let serial = PlumeSim::node_serials("loc-loft")[1].to_ascii_lowercase();
    let (s, b) = app.get(&format!("/api/v1/plume/nodes/{serial}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["customer_id"].as_str(), b["location_id"].as_str()),
        (Some(CUSTOMER), Some("loc-loft"))
    );
    assert_eq!(b["serial_number"], serial.to_ascii_uppercase());
    let (s, b) = app.get("/api/v1/plume/nodes/NOSUCHPOD").await;
    assert_eq!((s, err_code(&b)), (422, "plume_rejected"), "{b}");
    assert_eq!(b["error"]["field"], "serial");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("NOSUCHPOD"));
    sim.add_unclaimed_node("SIMFRESH01");
    let (s, b) = app.get("/api/v1/plume/nodes/SIMFRESH01").await;
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not claimed"),
        "{b}"
    );

    // The CRM account id → the customer and its location ids (no e-mail).
    let account = PlumeSim::account_id_for(CUSTOMER);
    let (s, b) = app
        .get(&format!("/api/v1/plume/customers?account_id={account}"))
        .await;
    assert_eq!(s, 200, "{b}");
    let c = &b["customers"][0];
    assert_eq!(c["customer_id"], CUSTOMER);
    assert_eq!(c["account_id"], account);
    let mut ids: Vec<&str> = c["location_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["loc-beach", "loc-loft"]);
    assert!(!b.to_string().contains('@'), "no e-mail address: {b}");
    let (s, b) = app.get("/api/v1/plume/customers?account_id=nobody").await;
    assert_eq!((s, &b), (200, &json!({"customers": []})));
    let (s, b) = app.get("/api/v1/plume/customers").await;
    assert_eq!((s, err_code(&b)), (400, "invalid_query"));

    // A customer's locations, to pick one.
    let (s, b) = app
        .get(&format!("/api/v1/plume/customers/{CUSTOMER}/locations"))
        .await;
    assert_eq!(s, 200, "{b}");
    let locs = b["locations"].as_array().unwrap();
    assert_eq!(locs.len(), 2);
    assert!(locs
        .iter()
        .all(|l| l["location_id"].is_string() && l["name"].is_string()));
    let (s, b) = app
        .get(&format!("/api/v1/plume/customers/{OTHER}/locations"))
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (422, Some("plume_customer_id")),
        "{b}"
    );
    let (s, _) = app
        .send(reqwest::Method::POST, "/api/v1/plume/customers", None)
        .await;
    assert_eq!(s, 405);
    app.stop().await;
}
