//! PPSK (issue 18) and authorise-by-MAC (issue 14 item 4) against the simulated controller:
//! profiles and their SSIDs, keys added / removed / replaced safely and idempotently, the
//! profile never emptied (`-34044`), the host's keys never touched, devices that joined with a
//! deleted key pushed off at check-out, the set-up check naming what is missing, older
//! controllers and read-only apps named as such, and passwords never in the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rental_wifi::net::Mac;
use rental_wifi::omada::ppsk::SENTINEL_NAME;
use rental_wifi::omada::{
    CheckStatus, KeyChange, KeyName, Kick, KickOutcome, MacAuthError, OmadaClient, OmadaError,
    OmadaSettings, PpskError, PpskItem, PskEntry, RetryPolicy,
};
use rental_wifi::passphrase::WifiPassword;
use rental_wifi::sim::omada::{
    self as sim, OmadaSim, OmadaSimConfig, SimPpskConfig, SimPsk, SimSsid,
};
use serde_json::Value;

fn fast() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        attempts: 3,
        deadline: Duration::from_secs(5),
        attempt_timeout: Duration::from_secs(2),
    }
}

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

const HOST_PSK: &str = "family-password-1";

/// Default site with SSIDs `Guest` (open, portal) and `Rental` (PPSK, profile "Rental keys"
/// holding the host's own key `Family`).
fn config() -> OmadaSimConfig {
    let mut cfg = OmadaSimConfig::default();
    cfg.ssids.push(SimSsid {
        site: "Default".into(),
        name: "Rental".into(),
        guest_network: false,
        open: false,
    });
    cfg.ppsk_profiles.push(SimPpskConfig {
        site: "Default".into(),
        name: "Rental keys".into(),
        ssids: vec!["Rental".into()],
        keys: vec![SimPsk {
            name: "Family".into(),
            psk: HOST_PSK.into(),
            mac: None,
            vlan: None,
        }],
    });
    cfg
}

async fn start() -> (OmadaSim, OmadaClient, String) {
    let sim = sim::start(config()).await.unwrap();
    let c = OmadaClient::new(sim.openapi_settings(), fast()).unwrap();
    let id = sim.ppsk_profiles()[0].id.clone();
    (sim, c, id)
}

fn entry(suffix: &str, password: &WifiPassword) -> PskEntry {
    PskEntry {
        name: KeyName::new(suffix).unwrap(),
        password: password.clone(),
        mac: None,
        vlan: None,
    }
}

fn key_names(sim: &OmadaSim) -> Vec<String> {
    sim.ppsk_profiles()[0]
        .keys
        .iter()
        .map(|k| k.name.clone())
        .collect()
}

/// The names each `delete-psk` asked for, in order.
fn deletes(sim: &OmadaSim) -> Vec<Vec<String>> {
    sim.requests_to("/delete-psk")
        .iter()
        .map(|r| {
            r.body.as_ref().unwrap()["ppskNameList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn profiles_come_with_their_ssids_and_need_the_open_api() {
    let (sim, c, id) = start().await;
    let profiles = c.ppsk_profiles("Default").await.unwrap();
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].id, id);
    assert_eq!(profiles[0].name, "Rental keys");
    assert_eq!(profiles[0].ssids, vec!["Rental"]);
    // `type=0` always: older local controllers require it.
    let list = sim.requests_to("/ppsk-profiles");
    assert_eq!(list[0].query.as_deref(), Some("type=0"));
    // The SSID list shows the binding as Security 4 (PPSK without RADIUS).
    let ssids = c
        .list_ssids(&sim.site_id("Default").unwrap())
        .await
        .unwrap();
    assert!(ssids.iter().any(|s| s.name == "Rental" && !s.open));

    let p = c.ppsk_profile("Default", &id).await.unwrap();
    assert_eq!(p.host_keys(), vec!["Family"]);
    assert!(p.guest_keys().is_empty());
    assert!(
        !format!("{p:?}").contains(HOST_PSK),
        "passwords stay hidden in Debug"
    );

    let hotspot_only = OmadaClient::new(sim.hotspot_only_settings(), fast()).unwrap();
    let e = hotspot_only.ppsk_profiles("Default").await.unwrap_err();
    assert_eq!(e, PpskError::NeedsOpenApi);
    assert!(e.to_string().contains("Open API"));
}

#[tokio::test]
async fn a_key_is_added_once_and_lets_the_guest_in() {
    let (sim, c, id) = start().await;
    let pw = WifiPassword::generate();
    let e = entry("loft-B1", &pw);
    assert_eq!(
        c.ppsk_ensure_key("Default", &id, &e).await.unwrap(),
        KeyChange::Added
    );
    // A retry (outbox after a lost answer) sends nothing.
    let adds = sim.requests_to("/add-psk").len();
    assert_eq!(
        c.ppsk_ensure_key("Default", &id, &e).await.unwrap(),
        KeyChange::Unchanged
    );
    assert_eq!(sim.requests_to("/add-psk").len(), adds);
    assert_eq!(key_names(&sim), vec!["Family", "rentalwifi-loft-B1"]);
    // The body is the spec's `AddPSKsOpenApiVO`.
    let body = sim.requests_to("/add-psk")[0].body.clone().unwrap();
    assert_eq!(body["ppskList"][0]["name"], "rentalwifi-loft-B1");
    assert_eq!(body["ppskList"][0]["psk"], pw.expose());
    // The guest's phone joins with it; a wrong password does not get in.
    let phone = mac("52-DE-63-F1-E3-3B");
    assert_eq!(
        sim.join_wifi("Default", "Rental", phone, Some(pw.expose()))
            .unwrap()
            .as_deref(),
        Some("rentalwifi-loft-B1")
    );
    assert!(sim
        .join_wifi(
            "Default",
            "Rental",
            mac("52-DE-63-F1-E3-3C"),
            Some("wrong-password")
        )
        .is_err());
}

#[tokio::test]
async fn check_out_deletes_the_key_and_the_profile_is_never_emptied() {
    let sim = sim::start(OmadaSimConfig {
        ppsk_profiles: vec![SimPpskConfig {
            site: "Default".into(),
            name: "Only guests".into(),
            ssids: vec!["Guest".into()],
            keys: vec![],
        }],
        ..config()
    })
    .await
    .unwrap();
    let c = OmadaClient::new(sim.openapi_settings(), fast()).unwrap();
    let id = sim
        .ppsk_profiles()
        .iter()
        .find(|p| p.name == "Only guests")
        .unwrap()
        .id
        .clone();
    let profile = |sim: &OmadaSim| {
        sim.ppsk_profiles()
            .into_iter()
            .find(|p| p.id == id)
            .unwrap()
    };
    let pw = WifiPassword::generate();
    let e = entry("beach-HM42", &pw);
    c.ppsk_ensure_key("Default", &id, &e).await.unwrap();
    let tv = mac("02-11-22-33-44-55");
    sim.join_wifi("Default", "Guest", tv, Some(pw.expose()))
        .unwrap();

    // The guest's key is the profile's only key: deleting it alone would answer -34044.
    assert_eq!(
        c.ppsk_remove_key("Default", &id, &e.name).await.unwrap(),
        KeyChange::Removed
    );
    let names: Vec<String> = profile(&sim).keys.iter().map(|k| k.name.clone()).collect();
    assert_eq!(names, vec![SENTINEL_NAME.to_string()]);
    assert_eq!(sim.counters().last_key_refusals, 0, "never ran into -34044");
    // A retry after the delete is answered from the read: nothing sent.
    let before = sim.requests_to("/delete-psk").len();
    assert_eq!(
        c.ppsk_remove_key("Default", &id, &e.name).await.unwrap(),
        KeyChange::Absent
    );
    assert_eq!(sim.requests_to("/delete-psk").len(), before);

    // Deleting a key does not drop the devices that joined with it (unverified on hardware;
    // the conservative assumption): the sidecar pushes them off.
    assert!(sim.wifi_clients().iter().any(|x| x.mac == tv));
    let report = c
        .kick_ssid_clients("Default", &["Guest".to_string()], Kick::Reconnect)
        .await
        .unwrap();
    assert_eq!(report.kicked, vec![tv.to_string()]);
    assert!(
        !sim.wifi_clients().iter().any(|x| x.mac == tv),
        "without its key the TV cannot come back"
    );
    assert_eq!(
        c.kick_client("Default", tv, Kick::Disconnect)
            .await
            .unwrap(),
        KickOutcome::NotConnected,
        "-41011 means there is nothing left to do"
    );

    // The next guest's key goes in next to the placeholder, which stays.
    let next = entry("beach-HM43", &WifiPassword::generate());
    c.ppsk_ensure_key("Default", &id, &next).await.unwrap();
    assert_eq!(profile(&sim).keys.len(), 2);
}

#[tokio::test]
async fn if_the_placeholder_vanished_it_is_added_again_on_minus_34044() {
    let (sim, c, id) = start().await;
    let pw = WifiPassword::generate();
    let e = entry("u1-b1", &pw);
    c.ppsk_ensure_key("Default", &id, &e).await.unwrap();
    // The host removes their own key in the UI between our read and our delete: the raw
    // low-level call on a stale view meets -34044 and recovers.
    sim.edit_ppsk_profile(&id, |p| p.keys.retain(|k| k.name != "Family"))
        .unwrap();
    c.ppsk_delete_keys("Default", &id, std::slice::from_ref(&e.name))
        .await
        .unwrap();
    assert_eq!(key_names(&sim), vec![SENTINEL_NAME]);
    // The placeholder itself is never deleted, even when asked for by name.
    let sentinel = KeyName::parse(SENTINEL_NAME).unwrap();
    c.ppsk_delete_keys("Default", &id, &[sentinel])
        .await
        .unwrap();
    assert_eq!(key_names(&sim), vec![SENTINEL_NAME]);
}

#[tokio::test]
async fn a_moved_stay_changes_the_key_without_a_gap() {
    let (sim, c, id) = start().await;
    let pw = WifiPassword::generate();
    let old = entry("u1-b1", &pw);
    c.ppsk_ensure_key("Default", &id, &old).await.unwrap();
    // New name and new password: the new key is added before the old one goes.
    let new_pw = WifiPassword::generate();
    let new = entry("u1-b1-v2", &new_pw);
    assert_eq!(
        c.ppsk_replace_key("Default", &id, &old.name, &new)
            .await
            .unwrap(),
        KeyChange::Replaced
    );
    assert_eq!(key_names(&sim), vec!["Family", "rentalwifi-u1-b1-v2"]);
    let order: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("-psk"))
        .map(|r| r.path.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(order, vec!["add-psk", "add-psk", "delete-psk"]);
    // Retrying the same change sends nothing.
    let n = sim.requests().len();
    assert_eq!(
        c.ppsk_replace_key("Default", &id, &old.name, &new)
            .await
            .unwrap(),
        KeyChange::Unchanged
    );
    assert_eq!(
        sim.requests()
            .iter()
            .skip(n)
            .filter(|r| r.path.ends_with("-psk"))
            .count(),
        0
    );
    // Same password, a VLAN now: one password must not be in the profile twice, so the old
    // key goes first.
    let vlan = PskEntry {
        name: KeyName::new("u1-b1-v3").unwrap(),
        password: new_pw.clone(),
        mac: None,
        vlan: Some(30),
    };
    c.ppsk_replace_key("Default", &id, &new.name, &vlan)
        .await
        .unwrap();
    let p = &sim.ppsk_profiles()[0];
    let k = p
        .keys
        .iter()
        .find(|k| k.name == "rentalwifi-u1-b1-v3")
        .unwrap();
    assert_eq!((k.psk.as_str(), k.vlan), (new_pw.expose(), Some(30)));
    assert!(!p.keys.iter().any(|k| k.name == "rentalwifi-u1-b1-v2"));
    // The same name with other content is deleted and added again (no per-key modify).
    let bound = PskEntry {
        mac: Some(mac("AA-BB-CC-00-11-22")),
        ..vlan.clone()
    };
    assert_eq!(
        c.ppsk_ensure_key("Default", &id, &bound).await.unwrap(),
        KeyChange::Replaced
    );
    let p = &sim.ppsk_profiles()[0];
    let k = p
        .keys
        .iter()
        .find(|k| k.name == "rentalwifi-u1-b1-v3")
        .unwrap();
    assert_eq!(k.mac.as_deref(), Some("AA-BB-CC-00-11-22"));
    // The host's key was never part of a delete.
    assert!(deletes(&sim)
        .iter()
        .flatten()
        .all(|n| n.starts_with("rentalwifi-")));
    assert!(key_names(&sim).contains(&"Family".to_string()));
}

#[tokio::test]
async fn a_password_already_in_the_profile_is_refused_and_nothing_changes() {
    let (sim, c, id) = start().await;
    let e = entry("u1-b9", &WifiPassword::new(HOST_PSK).unwrap());
    let err = c.ppsk_ensure_key("Default", &id, &e).await.unwrap_err();
    assert!(matches!(err, PpskError::PasswordInUse { .. }), "{err:?}");
    assert!(!err.to_string().contains(HOST_PSK));
    assert!(sim.requests_to("/add-psk").is_empty());
    let bad_vlan = PskEntry {
        vlan: Some(4095),
        ..entry("u1-b9", &WifiPassword::generate())
    };
    assert!(matches!(
        c.ppsk_ensure_key("Default", &id, &bad_vlan).await,
        Err(PpskError::InvalidKey(_))
    ));
}

#[tokio::test]
async fn concurrent_writes_to_one_profile_all_land() {
    let (sim, c, id) = start().await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let c = c.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let e = entry(&format!("u{i}-b{i}"), &WifiPassword::generate());
            c.ppsk_ensure_key("Default", &id, &e).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), KeyChange::Added);
    }
    assert_eq!(key_names(&sim).len(), 7);
}

#[tokio::test]
async fn an_older_controller_and_a_read_only_app_are_named() {
    let (sim, c, id) = start().await;
    sim.apply(sim::BehaviourPatch {
        ppsk_per_key_api: Some(false),
        ..Default::default()
    })
    .unwrap();
    let e = entry("u1-b1", &WifiPassword::generate());
    let err = c.ppsk_ensure_key("Default", &id, &e).await.unwrap_err();
    assert_eq!(
        err,
        PpskError::Unsupported {
            version: Some("5.15.24".into())
        }
    );
    assert!(err.to_string().contains("5.15.24") && err.is_misconfiguration());

    sim.apply(sim::BehaviourPatch {
        ppsk_per_key_api: Some(true),
        openapi_read_only: Some(true),
        ..Default::default()
    })
    .unwrap();
    let err = c.ppsk_ensure_key("Default", &id, &e).await.unwrap_err();
    match &err {
        PpskError::Omada(OmadaError::Misconfigured(m)) => {
            assert!(m.contains("Administrator") && m.contains("Default"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_misconfiguration() && !err.is_transient());
    // A profile the host deleted is named as such.
    let err = c
        .ppsk_profile("Default", "000000000000000000000000")
        .await
        .unwrap_err();
    assert!(matches!(err, PpskError::ProfileNotFound { .. }), "{err:?}");
}

fn checks(r: &rental_wifi::omada::PpskReadiness) -> Vec<(PpskItem, CheckStatus)> {
    r.checks.iter().map(|c| (c.item, c.status)).collect()
}

#[tokio::test]
async fn the_set_up_check_passes_and_leaves_only_the_placeholder() {
    let (sim, c, id) = start().await;
    // A probe a crash left behind (random password, stored nowhere) is cleaned up.
    sim.edit_ppsk_profile(&id, |p| {
        p.keys.push(SimPsk {
            name: "rentalwifi--probe-OLD12345".into(),
            psk: "leftover-probe-password".into(),
            mac: None,
            vlan: None,
        })
    })
    .unwrap();
    let r = c
        .check_ppsk("Default", &id, &["Rental".to_string()], true)
        .await;
    assert!(r.ok, "{:#?}", r.checks);
    assert!(r.write_checked);
    assert_eq!(r.controller_version.as_deref(), Some("5.15.24"));
    assert_eq!(r.profile.as_ref().unwrap().name, "Rental keys");
    let items: Vec<PpskItem> = r.checks.iter().map(|c| c.item).collect();
    for want in [
        PpskItem::Mode,
        PpskItem::Site,
        PpskItem::Role,
        PpskItem::Profile,
        PpskItem::Ssid,
        PpskItem::Expiry,
        PpskItem::Version,
    ] {
        assert!(items.contains(&want), "{want:?} missing");
    }
    // The probe came and went; the placeholder stays so that no delete ever meets -34044.
    assert_eq!(key_names(&sim), vec!["Family", SENTINEL_NAME]);
    // By name too, and without writing anything.
    let adds = sim.requests_to("/add-psk").len();
    let r = c
        .check_ppsk("Default", "Rental keys", &["Rental".to_string()], false)
        .await;
    assert!(r.ok);
    assert!(!r.write_checked);
    assert_eq!(sim.requests_to("/add-psk").len(), adds);
}

#[tokio::test]
async fn the_set_up_check_names_what_is_missing() {
    let (sim, c, id) = start().await;
    // The unit's SSID does not use the profile.
    let r = c
        .check_ppsk("Default", &id, &["Guest".to_string()], true)
        .await;
    assert!(!r.ok);
    let f = r
        .checks
        .iter()
        .find(|c| c.status == CheckStatus::Fail)
        .unwrap();
    assert_eq!(f.item, PpskItem::Ssid);
    assert!(
        f.message.contains("\"Guest\"") && f.message.contains("PPSK without RADIUS"),
        "{}",
        f.message
    );
    assert!(!r.write_checked, "nothing written when a check failed");
    // A profile that does not exist: the site's profiles are listed.
    let r = c
        .check_ppsk("Default", "Nope", &["Rental".to_string()], false)
        .await;
    let f = r
        .checks
        .iter()
        .find(|c| c.status == CheckStatus::Fail)
        .unwrap();
    assert_eq!(f.item, PpskItem::Profile);
    assert!(f.message.contains("\"Rental keys\""), "{}", f.message);
    assert!(checks(&r).contains(&(PpskItem::Ssid, CheckStatus::Skip)));
    // A site the app does not see.
    let r = c
        .check_ppsk("Nowhere", &id, &["Rental".to_string()], false)
        .await;
    assert_eq!(r.checks[1].item, PpskItem::Site);
    assert_eq!(r.checks[1].status, CheckStatus::Fail);
    assert!(r.problem().unwrap().contains("Nowhere"));
    // A profile expiry of its own is a warning.
    sim.edit_ppsk_profile(&id, |p| p.expiration_type = 1)
        .unwrap();
    let r = c
        .check_ppsk("Default", &id, &["Rental".to_string()], false)
        .await;
    assert!(r.ok);
    assert!(checks(&r).contains(&(PpskItem::Expiry, CheckStatus::Warn)));
    // Write rights and the controller version come from the write probe.
    sim.apply(sim::BehaviourPatch {
        openapi_read_only: Some(true),
        ..Default::default()
    })
    .unwrap();
    let r = c
        .check_ppsk("Default", &id, &["Rental".to_string()], true)
        .await;
    let f = r
        .checks
        .iter()
        .find(|c| c.status == CheckStatus::Fail)
        .unwrap();
    assert_eq!(f.item, PpskItem::Role);
    assert!(f.message.contains("Administrator"));
    sim.apply(sim::BehaviourPatch {
        openapi_read_only: Some(false),
        ppsk_per_key_api: Some(false),
        ..Default::default()
    })
    .unwrap();
    let r = c
        .check_ppsk("Default", &id, &["Rental".to_string()], true)
        .await;
    let f = r
        .checks
        .iter()
        .find(|c| c.status == CheckStatus::Fail)
        .unwrap();
    assert_eq!(f.item, PpskItem::Version);
    assert!(f.message.contains("5.15.24"));
    // Hotspot-operator credentials only: the mode is what is missing.
    let hotspot_only = OmadaClient::new(sim.hotspot_only_settings(), fast()).unwrap();
    let r = hotspot_only
        .check_ppsk("Default", &id, &["Rental".to_string()], true)
        .await;
    assert_eq!(
        checks(&r)[0],
        (PpskItem::Mode, CheckStatus::Fail),
        "{:?}",
        r.checks
    );
    assert!(r.checks[0].message.contains("hotspot"));
}

#[tokio::test]
async fn a_connected_device_is_let_in_by_its_mac() {
    let (sim, c, _) = start().await;
    let tv = mac("02-AA-BB-CC-DD-01");
    let site = "Default";
    let guest = vec!["Guest".to_string()];
    // Not connected: the host is told to connect it first; nothing is authorised.
    let e = c
        .authorize_connected_mac(site, tv, &guest)
        .await
        .unwrap_err();
    assert!(matches!(e, MacAuthError::NotConnected { .. }), "{e:?}");
    assert!(e
        .to_string()
        .contains("connect it to the guest Wi-Fi first"));
    assert!(sim.authorized().is_empty());
    // Connected to another network of the site.
    sim.join_wifi(site, "Rental", tv, Some(HOST_PSK)).unwrap();
    let e = c
        .authorize_connected_mac(site, tv, &guest)
        .await
        .unwrap_err();
    assert!(matches!(e, MacAuthError::OtherNetwork { .. }), "{e:?}");
    assert_eq!(e.kind(), "device_on_other_network");
    // On the guest SSID: authorised through the Open API.
    sim.join_wifi(site, "Guest", tv, None).unwrap();
    let client = c.authorize_connected_mac(site, tv, &guest).await.unwrap();
    assert_eq!(client.ssid.as_deref(), Some("Guest"));
    assert_eq!(sim.authorized().len(), 1);
    assert_eq!(sim.authorized()[0].mac, tv);
    // Hotspot-operator mode cannot do it, and says which mode it is in.
    let hotspot_only = OmadaClient::new(sim.hotspot_only_settings(), fast()).unwrap();
    let e = hotspot_only
        .authorize_connected_mac(site, tv, &guest)
        .await
        .unwrap_err();
    assert!(matches!(e, MacAuthError::NeedsOpenApi { .. }));
    assert!(e.to_string().contains("hotspot-operator mode"));
    // The controller's own answer for a device that is away is -41010 (spec), which the
    // client reads as "connect it first".
    sim.set_client_online(tv, false);
    let site_id = sim.site_id("Default").unwrap();
    let raw = raw_post(
        &sim,
        &c,
        &format!("sites/{site_id}/hotspot/clients/{tv}/auth"),
    )
    .await;
    assert_eq!(raw["errorCode"], -41010);
}

async fn raw_post(sim: &OmadaSim, _c: &OmadaClient, tail: &str) -> Value {
    rental_wifi::init_crypto();
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!(
            "{}/openapi/authorize/token?grant_type=client_credentials",
            sim.base_url()
        ))
        .json(&serde_json::json!({"omadacId": sim.controller_id(), "client_id": "sim-client-id", "client_secret": "sim-client-secret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = token["result"]["accessToken"].as_str().unwrap();
    http.post(format!(
        "{}/openapi/v1/{}/{tail}",
        sim.base_url(),
        sim.controller_id()
    ))
    .header("Authorization", format!("AccessToken={t}"))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn deleting_a_key_can_also_drop_its_devices_where_a_controller_does() {
    // The alternative behaviour (unverified either way): the product works in both.
    let (sim, c, id) = start().await;
    sim.apply(sim::BehaviourPatch {
        ppsk_delete_kicks: Some(true),
        ..Default::default()
    })
    .unwrap();
    let pw = WifiPassword::generate();
    let e = entry("u1-b1", &pw);
    c.ppsk_ensure_key("Default", &id, &e).await.unwrap();
    let phone = mac("02-00-00-00-00-77");
    let host_phone = mac("02-00-00-00-00-78");
    sim.join_wifi("Default", "Rental", phone, Some(pw.expose()))
        .unwrap();
    sim.join_wifi("Default", "Rental", host_phone, Some(HOST_PSK))
        .unwrap();
    c.ppsk_remove_key("Default", &id, &e.name).await.unwrap();
    let left: Vec<Mac> = sim.wifi_clients().iter().map(|x| x.mac).collect();
    assert_eq!(left, vec![host_phone]);
    // Kicking afterwards is harmless: the host's phone rejoins with its own key.
    let report = c
        .kick_ssid_clients("Default", &["Rental".to_string()], Kick::Reconnect)
        .await
        .unwrap();
    assert_eq!(report.kicked, vec![host_phone.to_string()]);
    assert_eq!(sim.wifi_clients().len(), 1, "a valid key gets back in");
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
    type Writer = Buf;
    fn make_writer(&'a self) -> Buf {
        self.clone()
    }
}

#[tokio::test]
async fn passwords_never_reach_the_logs_or_error_messages() {
    let buf = Buf::default();
    // As the sidecar does (`try_init` also routes `log` records of reqwest/rustls here).
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buf.clone())
        .try_init()
        .ok();
    let (sim, c, id) = start().await;
    let mut secrets = vec![HOST_PSK.to_string()];
    let a = entry("u1-b1", &WifiPassword::generate());
    let b = entry("u1-b2", &WifiPassword::generate());
    secrets.push(a.password.expose().to_string());
    secrets.push(b.password.expose().to_string());
    c.ppsk_ensure_key("Default", &id, &a).await.unwrap();
    c.ppsk_replace_key("Default", &id, &a.name, &b)
        .await
        .unwrap();
    let _ = c
        .check_ppsk("Default", &id, &["Rental".to_string()], true)
        .await;
    tracing::info!(entry = ?b, profile = ?c.ppsk_profile("Default", &id).await.unwrap(), "debug output of the types");
    // Errors: a refusal carrying the request, an outage mid-write.
    let e1 = c
        .ppsk_ensure_key(
            "Default",
            &id,
            &entry("u1-b3", &WifiPassword::new(HOST_PSK).unwrap()),
        )
        .await
        .unwrap_err();
    // As many failures as the client's attempts: the operation fails, nothing is half-done.
    sim.fail_next(3, 503);
    let e2 = c
        .ppsk_remove_key("Default", &id, &b.name)
        .await
        .unwrap_err();
    assert!(e2.is_transient());
    c.ppsk_remove_key("Default", &id, &b.name).await.unwrap();
    // Every placeholder/probe password the sidecar sent, read back from the simulator.
    for r in sim.requests_to("/add-psk") {
        for k in r.body.unwrap()["ppskList"].as_array().unwrap() {
            secrets.push(k["psk"].as_str().unwrap().to_string());
        }
    }
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("ppsk: key added"), "the capture works");
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a password in the logs");
        assert!(!e1.to_string().contains(s.as_str()));
        assert!(!e2.to_string().contains(s.as_str()));
    }
    let settings_dbg = format!("{:?}", OmadaSettings::default());
    assert!(!settings_dbg.is_empty());
}
