//! End to end through the real binary and the real-controller simulator, in both modes
//! (issue 12b item 6): authorise → revoke (a device that is away, in Open API mode) →
//! expiry → shortening → crash rollback (killed after the controller let the device in,
//! before the commit). After each step the controller lets in exactly the devices with an
//! active grant, and the data at rest keeps every crash invariant.

mod common;

use std::time::{Duration, Instant};

use common::crash::{assert_killed_at, at, mac, Rig};
use serde_json::json;

fn on(rig: &Rig) -> Vec<String> {
    let mut v: Vec<String> = rig
        .sim
        .authorized()
        .iter()
        .map(|c| c.mac.to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Wait until the controller lets in exactly `want` (sorted).
async fn until_on(rig: &Rig, want: &[String], secs: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while on(rig) != want {
        assert!(
            Instant::now() < deadline,
            "{what}: the controller lets in {:?}, want {want:?}",
            on(rig)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rig.check(what);
}

async fn end_to_end(openapi: bool) {
    let mut rig = Rig::new().await;
    if openapi {
        rig.use_openapi().await;
    }
    let long = rig
        .voucher(json!({"valid_from": at(-60), "valid_until": at(7200), "duration_minutes": null, "max_devices": 4}))
        .await;

    // Authorise.
    rig.let_in(&mac(1), &long).await;
    rig.let_in(&mac(2), &long).await;
    until_on(&rig, &[mac(1), mac(2)], 10, "authorised").await;

    // Revoke one device (in Open API mode while it is away: ended through its record).
    if openapi {
        rig.sim.set_client_online(mac(1).parse().unwrap(), false);
    }
    let grants = rig.active_grants(&long);
    let (g1, _) = grants.iter().find(|(_, m)| *m == mac(1)).unwrap();
    rig.must(
        "POST",
        &format!("/api/v1/grants/{g1}/revoke"),
        Some(json!({})),
        &[200],
    )
    .await;
    until_on(&rig, &[mac(2)], 10, "revoked").await;
    if openapi {
        assert_eq!(
            rig.sim.counters().unauth_not_exist,
            0,
            "`unauth` never trusted"
        );
    }

    // Expiry: a voucher that ends in a few seconds.
    let short = rig
        .voucher(json!({"valid_from": at(-60), "valid_until": at(6), "duration_minutes": null}))
        .await;
    rig.let_in(&mac(3), &short).await;
    until_on(&rig, &[mac(2), mac(3)], 10, "let in until its end").await;
    until_on(&rig, &[mac(2)], 20, "expired").await;

    // Shortening: the long voucher now ended a minute ago.
    rig.must(
        "PATCH",
        &format!("/api/v1/vouchers/{long}"),
        Some(json!({"valid_until": at(-60)})),
        &[200],
    )
    .await;
    until_on(&rig, &[], 10, "shortened").await;

    // Crash rollback: killed after the controller let the device in, before the commit.
    let code = rig.voucher(json!({"max_devices": 1})).await;
    rig.stop();
    let point = "redeem.authorized";
    rig.try_start(&[(rental_wifi::testing::FAILPOINT_ENV, point)])
        .unwrap();
    let r = rig.guest(&mac(4), &code).await;
    assert!(r.is_none_or(|r| !r.succeeded()), "never told it is online");
    let e = rig.wait_death(15);
    assert_killed_at(&e, point);
    assert_eq!(on(&rig), vec![mac(4)], "the controller let it in");
    rig.integrity();
    rig.start(&[]);
    rig.check("after the crash");
    // The unfinished redemption is rolled back: its slot freed, and the device taken off once
    // an authorisation still in flight could have landed (the client's deadline + 2 s).
    let v = rig
        .must("GET", &format!("/api/v1/vouchers/{code}"), None, &[200])
        .await;
    assert_eq!(v["devices_used"], 0);
    until_on(&rig, &[], 30, "rolled back").await;
    rig.converge(10).await;
    // The guest tries again and gets in (the slot is free).
    rig.let_in(&mac(4), &code).await;
    until_on(&rig, &[mac(4)], 10, "let in again").await;
    rig.converge(10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorise_revoke_expire_shorten_and_roll_back_in_hotspot_mode() {
    end_to_end(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorise_revoke_expire_shorten_and_roll_back_in_open_api_mode() {
    end_to_end(true).await;
}
