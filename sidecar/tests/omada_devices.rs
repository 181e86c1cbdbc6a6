//! Health from the controller (issue 15 item 7) against the simulated controller: the site's
//! devices and the gateway's WAN status read through the Open API, turned into a unit's
//! findings that name the device — an AP offline, not adopted or not carrying the unit's
//! SSIDs, the WAN down or without internet — and a controller without Open API credentials
//! saying so instead of guessing.

use std::time::Duration;

use rental_wifi::controller_health::{self, UnitAps};
use rental_wifi::net::Mac;
use rental_wifi::omada::{DeviceKind, DeviceState, OmadaClient, OmadaError, RetryPolicy};
use rental_wifi::sim::omada::{
    self as sim, OmadaSim, OmadaSimConfig, SimDeviceKind, SimDeviceSpec, SimDeviceState, SimSite,
    DEFAULT_AP, DEFAULT_GATEWAY,
};
use rental_wifi::unit_health::{FindingCode, HealthStatus, Source};
use serde_json::json;

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

async fn start() -> (OmadaSim, OmadaClient) {
    rental_wifi::init_crypto();
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let c = OmadaClient::new(sim.openapi_settings(), fast()).unwrap();
    (sim, c)
}

async fn unit_report(c: &OmadaClient, aps: &UnitAps) -> rental_wifi::unit_health::HealthReport {
    let site = c.site_health("Default").await.unwrap();
    controller_health::report(&site, aps, &["Guest".to_string()])
}

fn configured() -> UnitAps {
    UnitAps::Configured(vec![mac(DEFAULT_AP)])
}

#[tokio::test]
async fn a_healthy_site_reads_green_with_its_devices_named() {
    let (sim, c) = start().await;
    let site = c.site_health("Default").await.unwrap();
    assert_eq!(site.devices.len(), 2);
    let ap = site.device(mac(DEFAULT_AP)).unwrap();
    assert_eq!(
        (ap.kind.clone(), ap.state()),
        (DeviceKind::Ap, DeviceState::Connected)
    );
    assert_eq!(ap.name, "Living room");
    assert_eq!(site.wans.len(), 1);
    assert_eq!(site.wans[0].gateway, mac(DEFAULT_GATEWAY));
    assert!(site.wans[0].ports[0].up());
    // The spec's paths and paging.
    let devices = sim.requests_to("/devices");
    assert!(devices[0].query.as_deref().unwrap().contains("page=1"));
    assert_eq!(sim.requests_to("/wan-status").len(), 1);

    let r = controller_health::report(&site, &configured(), &["Guest".to_string()]);
    assert_eq!(r.status, HealthStatus::Green, "{:?}", r.reasons);
    assert!(r.online);
    assert_eq!((r.pods_connected, r.pods_total), (1, 1));
    assert_eq!(r.wifi_networks, vec!["Guest"]);
    assert!(r.sources.contains_key(&Source::Controller));
}

#[tokio::test]
async fn an_ap_offline_is_named_and_colours_the_unit() {
    let (sim, c) = start().await;
    sim.add_device(SimDeviceSpec {
        site: "Default".into(),
        mac: mac("B0-95-75-15-93-45"),
        name: "Garden".into(),
        kind: SimDeviceKind::Ap,
        model: "EAP225-Outdoor".into(),
    })
    .unwrap();
    sim.set_device_state(mac(DEFAULT_AP), SimDeviceState::Disconnected)
        .unwrap();
    let two = UnitAps::Configured(vec![mac(DEFAULT_AP), mac("B0-95-75-15-93-45")]);
    let r = unit_report(&c, &two).await;
    assert_eq!(r.status, HealthStatus::Orange);
    assert!(
        r.reasons[0].contains("'Living room' (B0-95-75-15-93-44)")
            && r.reasons[0].contains("disconnected"),
        "{:?}",
        r.reasons
    );
    let r = unit_report(&c, &configured()).await;
    assert_eq!(r.status, HealthStatus::Red);
    assert!(!r.online);
    // Through the control API, as the Python tests do: heartbeat missed, then back.
    let http = reqwest::Client::new();
    let url = format!("{}/_sim/device", sim.base_url());
    let s = http
        .post(&url)
        .json(&json!({"mac": DEFAULT_AP, "state": "heartbeat_missed"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 200);
    let r = unit_report(&c, &configured()).await;
    assert!(
        r.reasons.iter().any(|x| x.contains("heartbeat missed")),
        "{:?}",
        r.reasons
    );
    http.post(&url)
        .json(&json!({"mac": DEFAULT_AP, "state": "connected"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unit_report(&c, &configured()).await.status,
        HealthStatus::Green
    );
    // Pending adoption and a firmware upgrade.
    sim.set_device_state(mac(DEFAULT_AP), SimDeviceState::AdoptFailed)
        .unwrap();
    let r = unit_report(&c, &configured()).await;
    assert!(r
        .reason_details
        .iter()
        .any(|f| f.code == FindingCode::ApNotAdopted));
    sim.set_device_state(mac(DEFAULT_AP), SimDeviceState::Upgrading)
        .unwrap();
    let r = unit_report(&c, &configured()).await;
    assert_eq!(r.status, HealthStatus::Yellow);
    assert!(r.reasons[0].contains("upgrading"));
    // A MAC that is not a device of the site: the unit's settings are wrong.
    let r = unit_report(&c, &UnitAps::Configured(vec![mac("02-00-00-00-00-01")])).await;
    assert!(r.misconfigured);
    assert_eq!(r.status, HealthStatus::Red);
}

#[tokio::test]
async fn the_wan_down_or_without_internet_is_red() {
    let (sim, c) = start().await;
    sim.set_wan(mac(DEFAULT_GATEWAY), "WAN1", false, false)
        .unwrap();
    let r = unit_report(&c, &configured()).await;
    assert_eq!(r.status, HealthStatus::Red);
    assert_eq!(r.reason_details[0].code, FindingCode::WanDown);
    assert!(
        r.reasons[0].contains("'Gateway' (AC-84-C6-00-00-01)") && r.reasons[0].contains("WAN1"),
        "{:?}",
        r.reasons
    );
    assert_eq!(
        r.reason_details[0].subject.as_deref(),
        Some(DEFAULT_GATEWAY)
    );
    // Link up, no internet (over the control API).
    let http = reqwest::Client::new();
    http.post(format!("{}/_sim/wan", sim.base_url()))
        .json(&json!({"gateway": DEFAULT_GATEWAY, "link": true, "internet": false}))
        .send()
        .await
        .unwrap();
    let r = unit_report(&c, &configured()).await;
    assert_eq!(r.reason_details[0].code, FindingCode::WanNoInternet);
    // A backup WAN that fails while WAN1 works is not red.
    sim.set_wan(mac(DEFAULT_GATEWAY), "WAN1", true, true)
        .unwrap();
    sim.set_wan(mac(DEFAULT_GATEWAY), "WAN2", true, false)
        .unwrap();
    let r = unit_report(&c, &configured()).await;
    assert_eq!(r.status, HealthStatus::Yellow);
    // The gateway itself away: its WAN cannot be read, nothing is asked.
    let asked = sim.requests_to("/wan-status").len();
    sim.set_device_state(mac(DEFAULT_GATEWAY), SimDeviceState::Disconnected)
        .unwrap();
    let r = unit_report(&c, &configured()).await;
    assert_eq!(r.status, HealthStatus::Orange);
    assert_eq!(r.reason_details[0].code, FindingCode::GatewayDisconnected);
    assert_eq!(sim.requests_to("/wan-status").len(), asked);
    // The spec's -39501 for a MAC that is no gateway.
    let e = c
        .gateway_wan_status("Default", mac(DEFAULT_AP))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, OmadaError::Misconfigured(m) if m.contains("-39501")),
        "{e:?}"
    );
}

#[tokio::test]
async fn without_ap_macs_the_aps_of_the_units_ssids_count() {
    let (sim, c) = start().await;
    let map = c.ssid_aps("Default").await.unwrap();
    assert_eq!(map.for_ssids(&["Guest".to_string()]), vec![mac(DEFAULT_AP)]);
    let aps = UnitAps::for_unit(&[], &["Guest".to_string()], Some(&map));
    assert_eq!(unit_report(&c, &aps).await.status, HealthStatus::Green);
    // The AP moved to another WLAN group: nothing broadcasts the unit's SSID.
    sim.set_ap_serves_ssids(mac(DEFAULT_AP), false).unwrap();
    let map = c.ssid_aps("Default").await.unwrap();
    let aps = UnitAps::for_unit(&[], &["Guest".to_string()], Some(&map));
    let r = unit_report(&c, &aps).await;
    assert_eq!(r.status, HealthStatus::Red);
    assert_eq!(r.reason_details[0].code, FindingCode::NoApForSsids);
    assert!(r.reasons[0].contains("'Guest'"));
}

#[tokio::test]
async fn without_the_open_api_or_the_site_the_controller_says_why() {
    let cfg = OmadaSimConfig {
        openapi_sites: Some(vec!["Default".into()]),
        ..OmadaSimConfig::default()
    };
    let mut cfg = cfg;
    cfg.sites.push(SimSite {
        name: "Beach House".into(),
        id: "64b0c0ffee0000000000beac".into(),
    });
    let sim = sim::start(cfg).await.unwrap();
    let hotspot_only = OmadaClient::new(sim.hotspot_only_settings(), fast()).unwrap();
    assert!(!hotspot_only.capabilities().device_health);
    let r = controller_health::not_available(&hotspot_only.capabilities()).unwrap();
    assert_eq!(r.status, HealthStatus::Unknown);
    assert!(r.reasons[0].contains("Open API"));
    let e = hotspot_only
        .site_devices("640effd1b3f2ae5b912275ec")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, OmadaError::Misconfigured(m) if m.contains("Open API")),
        "{e:?}"
    );

    let c = OmadaClient::new(sim.openapi_settings(), fast()).unwrap();
    assert!(controller_health::not_available(&c.capabilities()).is_none());
    // A site outside the app's Site Privileges: a problem for the host, not an outage.
    let e = c.site_health("64b0c0ffee0000000000beac").await.unwrap_err();
    let r = controller_health::read_failed("Beach House", &e);
    assert!(r.misconfigured, "{e:?}");
    assert_eq!(r.status, HealthStatus::Unknown);
    // An outage is a read failure.
    sim.set_outage(Some(sim::Outage::Http503));
    let e = c.site_health("Default").await.unwrap_err();
    assert!(e.is_transient());
    let r = controller_health::read_failed("Default", &e);
    assert_eq!(r.reason_details[0].code, FindingCode::ReadFailed);
}
