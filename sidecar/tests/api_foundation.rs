//! The local JSON API over real HTTP: every route and error path of the foundation.

mod common;

use std::collections::HashSet;

use common::{err_code, TestApp};
use reqwest::Method;
use serde_json::json;

fn in_hours(h: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::hours(h);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn info_is_public_everything_else_needs_the_token() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/api/v1/info")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let info: serde_json::Value = r.json().await.unwrap();
    assert_eq!(info["api_version"], 1);
    assert_eq!(info["name"], "rental-wifi-sidecar");
    assert_eq!(
        info["instance_id"].as_str().unwrap(),
        app.handle.instance_id()
    );

    for path in [
        "/api/v1/state",
        "/api/v1/units",
        "/api/v1/vouchers",
        "/api/v1/audit",
        "/metrics",
        "/api/v1/events",
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without token");
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(err_code(&b), "unauthorized");
        let r = app
            .http
            .get(app.url(path))
            .bearer_auth("wrong-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} with wrong token");
        let r = app
            .http
            .get(app.url(path))
            .header("authorization", format!("Basic {}", app.token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} with wrong scheme");
    }
    let (s, b) = app.get("/api/v1/nope").await;
    assert_eq!((s, err_code(&b)), (404, "not_found"));
    let (s, b) = app
        .send(Method::PUT, "/api/v1/units", Some(json!({})))
        .await;
    assert_eq!((s, err_code(&b)), (405, "method_not_allowed"));
    app.stop().await;
}

#[tokio::test]
async fn unit_crud_with_slugs_and_validation() {
    let app = TestApp::spawn().await;
    let (s, u) = app
        .post("/api/v1/units", json!({"name": "Beach House #2", "ssids": ["Guest", "Guest"], "vlans": [20, 10], "ap_macs": ["aa:bb:cc:dd:ee:01"]}))
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(u["unit_id"], "beach-house-2");
    assert_eq!(u["ssids"], json!(["Guest"]));
    assert_eq!(u["vlans"], json!([10, 20]));
    assert_eq!(u["ap_macs"], json!(["AA-BB-CC-DD-EE-01"]));
    assert_eq!(u["omada_site"], "Default");

    // Same name again: the generated slug moves on.
    let (s, u2) = app
        .post("/api/v1/units", json!({"name": "Beach House #2"}))
        .await;
    assert_eq!(s, 201);
    assert_eq!(u2["unit_id"], "beach-house-2-2");
    // A given id that is taken is a conflict.
    let (s, b) = app
        .post(
            "/api/v1/units",
            json!({"unit_id": "beach-house-2", "name": "x"}),
        )
        .await;
    assert_eq!((s, err_code(&b)), (409, "conflict"));

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"unit_id": "Bad Id", "name": "x"}), "unit_id"),
        (json!({"name": "x", "vlans": [0]}), "vlans"),
        (json!({"name": "x", "ap_macs": ["nope"]}), "ap_macs"),
        (
            json!({"name": "x", "checkin_grace_minutes": 5000}),
            "checkin_grace_minutes",
        ),
        (
            json!({"name": "x", "terms_url": "javascript:alert(1)"}),
            "terms_url",
        ),
        (
            json!({"name": "x", "plume_customer_id": "abc"}),
            "plume_location_id",
        ),
        (json!({"name": "x", "vlans": "20"}), "vlans"),
    ] {
        let (s, b) = app.post("/api/v1/units", body.clone()).await;
        assert_eq!(s, 400, "{body} → {b}");
        assert_eq!(b["error"]["field"], field, "{body} → {b}");
    }
    let (_, list) = app.get("/api/v1/units").await;
    assert_eq!(
        list["units"].as_array().unwrap().len(),
        2,
        "rejected units stored nothing"
    );

    let (s, p) = app
        .patch(
            "/api/v1/units/beach-house-2",
            json!({"name": "Beach House", "plume_customer_id": "c1", "plume_location_id": "l1"}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["name"], "Beach House");
    assert_eq!(p["ssids"], json!(["Guest"]), "unchanged fields stay");
    let (s, p) = app
        .patch(
            "/api/v1/units/beach-house-2",
            json!({"plume_customer_id": null, "plume_location_id": null}),
        )
        .await;
    assert_eq!(s, 200);
    assert!(p["plume_customer_id"].is_null());
    let (s, b) = app
        .patch("/api/v1/units/beach-house-2", json!({"unit_id": "other"}))
        .await;
    assert_eq!((s, err_code(&b)), (400, "validation_failed"));
    let (s, _) = app
        .patch("/api/v1/units/missing", json!({"name": "x"}))
        .await;
    assert_eq!(s, 404);
    let (s, g) = app.get("/api/v1/units/beach-house-2").await;
    assert_eq!((s, g["name"].as_str()), (200, Some("Beach House")));

    // Delete: refused while a voucher is live, unless forced.
    let (s, v) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "beach-house-2", "duration_minutes": 60}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(app.delete("/api/v1/units/beach-house-2").await, 409);
    assert_eq!(
        app.delete("/api/v1/units/beach-house-2?force=true").await,
        204
    );
    let (s, _) = app.get("/api/v1/units/beach-house-2").await;
    assert_eq!(s, 404);
    let (s, _) = app
        .get(&format!("/api/v1/vouchers/{}", v["code"].as_str().unwrap()))
        .await;
    assert_eq!(s, 404, "vouchers go with their unit");
    assert_eq!(app.delete("/api/v1/units/beach-house-2-2").await, 204);
    assert_eq!(app.delete("/api/v1/units/beach-house-2-2").await, 404);
    app.stop().await;
}

#[tokio::test]
async fn voucher_issue_read_extend_revoke() {
    let app = TestApp::spawn().await;
    app.unit("loft").await;
    let until = in_hours(48);
    let (s, v) = app
        .post("/api/v1/vouchers", json!({"unit_id": "loft", "valid_until": until, "duration_minutes": 120, "max_devices": 2, "guest_name": "Ana", "down_kbps": 20000, "up_kbps": 5000, "note": "late arrival"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let code = v["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 10);
    assert!(code
        .bytes()
        .all(|b| b"23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(&b)));
    for f in [
        "code",
        "unit_id",
        "status",
        "valid_from",
        "valid_until",
        "duration_minutes",
        "expires_at",
        "max_devices",
        "devices_used",
        "guest_name",
        "booking_ref",
        "down_kbps",
        "up_kbps",
        "note",
        "created_at",
        "first_used_at",
        "revoked_at",
    ] {
        assert!(v.get(f).is_some(), "voucher JSON has {f}");
    }
    assert_eq!(v["status"], "unused");
    assert_eq!(v["max_devices"], 2);
    assert_eq!(
        v["expires_at"], v["valid_until"],
        "before first use the end is valid_until"
    );

    // Lookup normalises what a guest or host types.
    let messy = format!("{}-{} ", code[..5].to_lowercase(), &code[5..]);
    let (s, g) = app
        .get(&format!("/api/v1/vouchers/{}", messy.replace(' ', "%20")))
        .await;
    assert_eq!((s, g["code"].as_str()), (200, Some(code.as_str())));

    // Custom code: normalised, unique across the database.
    let (s, c) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "code": "sea-view 26", "duration_minutes": 30}),
        )
        .await;
    assert_eq!((s, c["code"].as_str()), (201, Some("SEAVIEW26")));
    let (s, b) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "loft", "code": "SEAVIEW26", "duration_minutes": 30}),
        )
        .await;
    assert_eq!((s, err_code(&b)), (409, "conflict"));

    // Extend.
    let later = in_hours(72);
    let (s, p) = app
        .patch(
            &format!("/api/v1/vouchers/{code}"),
            json!({"valid_until": later, "max_devices": 3}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["max_devices"], 3);
    assert_ne!(p["valid_until"], v["valid_until"]);
    let (s, b) = app
        .patch(&format!("/api/v1/vouchers/{code}"), json!({}))
        .await;
    assert_eq!((s, err_code(&b)), (400, "validation_failed"));
    let (s, b) = app
        .patch("/api/v1/vouchers/NOPE2345", json!({"max_devices": 1}))
        .await;
    assert_eq!((s, err_code(&b)), (404, "not_found"));

    // List with filters.
    let (_, l) = app.get("/api/v1/vouchers?unit_id=loft&status=unused").await;
    assert_eq!(l["total"], 2);
    let (s, b) = app.get("/api/v1/vouchers?status=bogus").await;
    assert_eq!((s, err_code(&b)), (400, "validation_failed"));
    let (s, b) = app.get("/api/v1/vouchers?limit=abc").await;
    assert_eq!((s, err_code(&b)), (400, "invalid_query"));

    // Revoke (idempotent), then it cannot be changed.
    let (s, r) = app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("revoked")));
    let first_revoked_at = r["revoked_at"].clone();
    let (s, r) = app
        .post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(r["revoked_at"], first_revoked_at);
    let (s, b) = app
        .patch(
            &format!("/api/v1/vouchers/{code}"),
            json!({"max_devices": 1}),
        )
        .await;
    assert_eq!((s, err_code(&b)), (409, "conflict"));
    let (_, l) = app.get("/api/v1/vouchers?status=revoked").await;
    assert_eq!(l["total"], 1);
    let (s, _) = app
        .post("/api/v1/vouchers/NOPE2345/revoke", json!({}))
        .await;
    assert_eq!(s, 404);
    app.stop().await;
}

#[tokio::test]
async fn idempotent_replay_on_booking_ref() {
    let app = TestApp::spawn().await;
    app.unit("a").await;
    app.unit("b").await;
    let body = json!({"unit_id": "a", "duration_minutes": 60, "booking_ref": "HM123"});
    let (s1, v1) = app.post("/api/v1/vouchers", body.clone()).await;
    let (s2, v2) = app.post("/api/v1/vouchers", body.clone()).await;
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(v1["code"], v2["code"]);
    // Same booking ref on another unit is another voucher.
    let (s3, v3) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "b", "duration_minutes": 60, "booking_ref": "HM123"}),
        )
        .await;
    assert_eq!(s3, 201);
    assert_ne!(v1["code"], v3["code"]);
    // After revoke, the booking gets a fresh voucher.
    app.post(
        &format!("/api/v1/vouchers/{}/revoke", v1["code"].as_str().unwrap()),
        json!({}),
    )
    .await;
    let (s4, v4) = app.post("/api/v1/vouchers", body).await;
    assert_eq!(s4, 201);
    assert_ne!(v4["code"], v1["code"]);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.unit("u").await;
    let cases = vec![
        (json!({"unit_id": "u"}), 400, "validation_failed"),
        (
            json!({"unit_id": "u", "duration_minutes": 0}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "duration_minutes": 43201}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "valid_until": in_hours(-1)}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "valid_until": in_hours(24 * 31)}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "valid_from": in_hours(5), "valid_until": in_hours(4)}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "duration_minutes": 60, "max_devices": 101}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "duration_minutes": 60, "max_devices": -1}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "duration_minutes": 60, "code": "ab"}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "duration_minutes": 60, "code": "ab<script>"}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "duration_minutes": 60, "guest_name": "x".repeat(101)}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "duration_minutes": 60, "down_kbps": 0}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "duration_minutes": "sixty"}),
            400,
            "validation_failed",
        ),
        (
            json!({"unit_id": "u", "duration_minutes": 60, "extra": true}),
            400,
            "unknown_field",
        ),
        (json!({"duration_minutes": 60}), 400, "validation_failed"),
        (
            json!({"unit_id": "nope", "duration_minutes": 60}),
            404,
            "not_found",
        ),
        (json!([1, 2]), 400, "validation_failed"),
    ];
    for (body, status, code) in cases {
        let (s, b) = app.post("/api/v1/vouchers", body.clone()).await;
        assert_eq!((s, err_code(&b)), (status, code), "{body} → {b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "message for {body}"
        );
    }
    for raw in ["{", "not json", "", "{\"unit_id\": \"u\",}"] {
        let (s, b) = app.raw_post("/api/v1/vouchers", raw.to_owned()).await;
        assert_eq!((s, err_code(&b)), (400, "invalid_json"), "{raw:?}");
    }
    let big = format!(
        "{{\"unit_id\":\"u\",\"note\":\"{}\"}}",
        "x".repeat(rental_wifi::testing::MAX_BODY)
    );
    let (s, b) = app.raw_post("/api/v1/vouchers", big).await;
    assert_eq!((s, err_code(&b)), (413, "payload_too_large"));
    assert_eq!(app.count_vouchers().await, 0, "nothing was stored");
    let (_, audit) = app.get("/api/v1/audit").await;
    assert_eq!(
        audit["entries"].as_array().unwrap().len(),
        1,
        "only the unit creation was audited: {audit}"
    );
    app.stop().await;
}

#[tokio::test]
async fn mutations_are_audited_with_the_request_id() {
    let app = TestApp::spawn().await;
    app.unit("u").await;
    let r = app
        .http
        .post(app.url("/api/v1/vouchers"))
        .bearer_auth(&app.token)
        .json(&json!({"unit_id": "u", "duration_minutes": 60}))
        .send()
        .await
        .unwrap();
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&rid).unwrap().get_version_num(),
        7,
        "UUIDv7"
    );
    let v: serde_json::Value = r.json().await.unwrap();
    let (_, a) = app.get("/api/v1/audit?limit=1").await;
    let e = &a["entries"][0];
    assert_eq!(e["correlation_id"].as_str(), Some(rid.as_str()));
    assert_eq!(e["action"], "voucher.issue");
    assert_eq!(e["code"], v["code"]);
    assert_eq!(e["actor"], "api");
    app.stop().await;
}

#[tokio::test]
async fn state_snapshot_lists_units_and_live_vouchers() {
    let app = TestApp::spawn().await;
    app.unit("a").await;
    app.unit("b").await;
    let (_, v) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "a", "duration_minutes": 60}),
        )
        .await;
    let (_, r) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "a", "duration_minutes": 60}),
        )
        .await;
    app.post(
        &format!("/api/v1/vouchers/{}/revoke", r["code"].as_str().unwrap()),
        json!({}),
    )
    .await;
    let (s, st) = app.get("/api/v1/state").await;
    assert_eq!(s, 200);
    assert_eq!(st["instance_id"].as_str(), Some(app.handle.instance_id()));
    assert_eq!(st["totals"]["units"], 2);
    assert_eq!(st["totals"]["live_vouchers"], 1);
    let units = st["units"].as_array().unwrap();
    let a = units.iter().find(|u| u["unit"]["unit_id"] == "a").unwrap();
    assert_eq!(a["vouchers"].as_array().unwrap().len(), 1);
    assert_eq!(a["vouchers"][0]["code"], v["code"]);
    assert_eq!(a["active_grants"], 0);
    assert!(a["health"]["status"].is_string());
    assert!(st["controller"]["connected"].is_boolean());
    app.stop().await;
}

#[tokio::test]
async fn sixteen_clients_issue_1600_distinct_codes() {
    let app = TestApp::spawn().await;
    app.unit("u").await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let http = app.http.clone();
        let url = app.url("/api/v1/vouchers");
        let token = app.token.clone();
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..100 {
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"unit_id": "u", "duration_minutes": 60}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let v: serde_json::Value = r.json().await.unwrap();
                codes.push(v["code"].as_str().unwrap().to_owned());
            }
            codes
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for c in t.await.unwrap() {
            assert!(all.insert(c), "duplicate code");
        }
    }
    assert_eq!(all.len(), 1600);
    assert_eq!(app.count_vouchers().await, 1600);
    app.stop().await;
}

#[tokio::test]
async fn data_survives_a_restart_and_the_token_is_stable() {
    let tmp = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_in(tmp.path(), Default::default()).await;
    app.unit("u").await;
    let (_, v) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "u", "duration_minutes": 60, "booking_ref": "R1"}),
        )
        .await;
    let (token, instance) = (app.token.clone(), app.handle.instance_id().to_owned());
    app.stop().await;

    let app = TestApp::spawn_in(tmp.path(), Default::default()).await;
    assert_eq!(app.token, token);
    assert_eq!(app.handle.instance_id(), instance);
    let (s, g) = app
        .get(&format!("/api/v1/vouchers/{}", v["code"].as_str().unwrap()))
        .await;
    assert_eq!((s, &g["booking_ref"]), (200, &json!("R1")));
    let (s, _) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "u", "duration_minutes": 60, "booking_ref": "R1"}),
        )
        .await;
    assert_eq!(s, 200, "idempotency survives the restart");
    app.stop().await;
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_in(tmp.path(), Default::default()).await;
    app.stop().await;
    let db = tmp.path().join(rental_wifi::app::DB_FILE);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(
        None,
        "user_version",
        rental_wifi::testing::SCHEMA_VERSION + 1,
    )
    .unwrap();
    drop(conn);
    let err = rental_wifi::app::App::build(common::config_for(tmp.path()), Default::default())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("newer version"), "{err}");
}

#[tokio::test]
async fn events_stream_carries_voucher_events() {
    let app = TestApp::spawn().await;
    app.unit("u").await;
    let mut resp = app
        .http
        .get(app.url("/api/v1/events"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with(": connected"));
    let (_, v) = app
        .post(
            "/api/v1/vouchers",
            json!({"unit_id": "u", "duration_minutes": 60}),
        )
        .await;
    let code = v["code"].as_str().unwrap();
    app.post(&format!("/api/v1/vouchers/{code}/revoke"), json!({}))
        .await;
    let mut text = String::new();
    while !text.contains("event: voucher_revoked") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), resp.chunk())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: voucher_issued"), "{text}");
    let data_line = text
        .lines()
        .find(|l| {
            l.starts_with("data: ") && l.contains("voucher_issued") || l.starts_with("data: ")
        })
        .unwrap();
    let data: serde_json::Value = serde_json::from_str(&data_line[6..]).unwrap();
    assert_eq!(data["code"], code);
    assert_eq!(data["unit_id"], "u");
    assert!(data["at"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/units").await;
    let r = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("rental_wifi_api_requests_total "))
        .expect("api counter");
    let n: u64 = line.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(n >= 1, "{line}");
    assert!(text.contains("# TYPE rental_wifi_controller_call_seconds histogram"));
    app.stop().await;
}
