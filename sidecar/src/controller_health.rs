//! A unit's health as the Omada controller sees it (issue 15 item 7, DESIGN §6): are the
//! unit's access points adopted and connected, is the site gateway's WAN link up? Pure
//! functions from one read of the site ([`SiteDevices`], `OmadaClient::site_health`) to
//! [`Finding`]s with [`Source::Controller`]; [`crate::unit_health::combine`] makes the unit's
//! colour the worse of this and Plume.
//!
//! Which APs are the unit's: its `ap_macs` when the host named them, else the APs whose WLAN
//! group carries the unit's SSIDs ([`SsidAps`], `OmadaClient::ssid_aps`). Reasons name the
//! device (`AP 'Loft' (B0-95-75-15-93-44) is disconnected …`).
//!
//! Colours, by analogy with Plume's rules (a pod down is orange, the location offline red):
//! an AP of the unit not connected (disconnected, heartbeat missed, isolated, not adopted,
//! unknown MAC) is **orange**; none of them connected, no AP carrying the unit's SSIDs, or the
//! gateway without internet on every WAN port is **red**; an AP upgrading/rebooting, a status
//! word not in the spec, or a backup WAN port with a link but no internet is **yellow**; a
//! site without an Omada gateway, a WAN port without a link while another carries the
//! traffic, or a WAN read that failed is **info** (said, not coloured). Without Open API
//! credentials (`device_health` false) the controller source is `unknown` and says why.

use crate::net::Mac;
use crate::omada::{Capabilities, DeviceInfo, DeviceState, OmadaError, SiteDevices, SsidAps};
use crate::unit_health::{Finding, FindingCode, HealthReport, Severity, Source};

/// The access points a unit counts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitAps {
    /// The unit's `ap_macs`, as the host set them.
    Configured(Vec<Mac>),
    /// No `ap_macs`: the APs whose WLAN group carries the unit's SSIDs.
    ServingSsids { ssids: Vec<String>, aps: Vec<Mac> },
    /// Neither `ap_macs` nor SSIDs: nothing to judge the Wi-Fi by.
    Unspecified,
}

impl UnitAps {
    /// `ap_macs` when given, else the APs serving `ssids` (needs `ssid_aps`, else
    /// [`UnitAps::ServingSsids`] with no AP).
    pub fn for_unit(ap_macs: &[Mac], ssids: &[String], ssid_aps: Option<&SsidAps>) -> UnitAps {
        if !ap_macs.is_empty() {
            return UnitAps::Configured(ap_macs.to_vec());
        }
        if ssids.is_empty() {
            return UnitAps::Unspecified;
        }
        UnitAps::ServingSsids {
            ssids: ssids.to_vec(),
            aps: ssid_aps.map(|s| s.for_ssids(ssids)).unwrap_or_default(),
        }
    }
}

fn finding(severity: Severity, code: FindingCode, message: String) -> Finding {
    Finding::new(Source::Controller, severity, code, message)
}

fn last_seen(d: &DeviceInfo) -> String {
    d.last_seen_ms
        .and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms / 1000).ok())
        .map(|t| {
            format!(
                " (last seen {:04}-{:02}-{:02} {:02}:{:02} UTC)",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

fn busy_words(d: &DeviceInfo) -> &'static str {
    match d.detail_status {
        Some(10) => "provisioning",
        Some(11) | Some(50) => "being configured",
        Some(12) => "upgrading its firmware",
        Some(13) => "rebooting",
        _ => "busy",
    }
}

/// The findings of the unit's access points: one per AP that is not plainly connected, and
/// one red finding when none is; returns (findings, APs connected, APs counted).
fn ap_findings(site: &SiteDevices, aps: &UnitAps) -> (Vec<Finding>, u32, u32) {
    let mut out = Vec::new();
    let (list, configured) = match aps {
        UnitAps::Unspecified => {
            out.push(finding(
                Severity::Unknown,
                FindingCode::NoLocation,
                "The unit names no access point (ap_macs) and no SSID, so the controller cannot tell how its Wi-Fi is".into(),
            ));
            return (out, 0, 0);
        }
        UnitAps::Configured(list) => (list.clone(), true),
        UnitAps::ServingSsids { ssids, aps } => {
            if aps.is_empty() {
                let names = ssids
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", ");
                out.push(finding(
                    Severity::Red,
                    FindingCode::NoApForSsids,
                    format!(
                        "No access point on site '{}' broadcasts {names}: apply the SSID's WLAN group to the unit's APs in the controller, or set the unit's AP MACs",
                        site.site.name
                    ),
                ).about(ssids.join(", ")));
                return (out, 0, 0);
            }
            (aps.clone(), false)
        }
    };
    let mut connected = 0u32;
    for mac in &list {
        let Some(d) = site.device(*mac) else {
            if configured {
                out.push(
                    finding(
                        Severity::Orange,
                        FindingCode::ApUnknown,
                        format!(
                            "AP {mac} is not a device of site '{}': check the unit's AP MACs, or adopt the AP in the controller",
                            site.site.name
                        ),
                    )
                    .about(mac.to_string()),
                );
            }
            continue;
        };
        let label = d.label();
        let f = match d.state() {
            DeviceState::Connected => {
                connected += 1;
                None
            }
            DeviceState::Busy => {
                connected += 1;
                Some((
                    Severity::Yellow,
                    FindingCode::ApBusy,
                    format!("AP {label} is {}", busy_words(d)),
                ))
            }
            DeviceState::Disconnected => Some((
                Severity::Orange,
                FindingCode::ApDisconnected,
                format!("AP {label} is disconnected from the controller{}", last_seen(d)),
            )),
            DeviceState::HeartbeatMissed => Some((
                Severity::Orange,
                FindingCode::ApDisconnected,
                format!(
                    "The controller no longer hears from AP {label} (heartbeat missed){}",
                    last_seen(d)
                ),
            )),
            DeviceState::Isolated => Some((
                Severity::Orange,
                FindingCode::ApIsolated,
                format!("AP {label} is isolated: it lost its uplink (a mesh AP out of reach of its root AP)"),
            )),
            DeviceState::NotAdopted => Some((
                Severity::Orange,
                FindingCode::ApNotAdopted,
                format!(
                    "AP {label} is not adopted on site '{}' (pending, adopting, adoption failed or managed by another controller): adopt it in the controller",
                    site.site.name
                ),
            )),
            DeviceState::Unknown => Some((
                Severity::Yellow,
                FindingCode::ApStatusUnknown,
                format!(
                    "AP {label} reports status {} / {}, which the sidecar does not know",
                    d.status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                    d.detail_status.map(|s| s.to_string()).unwrap_or_else(|| "-".into())
                ),
            )),
        };
        if let Some((sev, code, msg)) = f {
            out.push(finding(sev, code, msg).about(d.mac.to_string()));
        }
    }
    let total = list.len() as u32;
    if total > 0 && connected == 0 {
        out.push(finding(
            Severity::Red,
            FindingCode::NoApConnected,
            if total == 1 {
                "The unit's access point is not connected: its Wi-Fi is down".to_string()
            } else {
                format!("None of the unit's {total} access points is connected: its Wi-Fi is down")
            },
        ));
    }
    (out, connected, total)
}

/// The findings of the site's gateway(s) and their WAN ports.
fn wan_findings(site: &SiteDevices) -> Vec<Finding> {
    let mut out = Vec::new();
    let gateways: Vec<&DeviceInfo> = site.gateways().collect();
    if gateways.is_empty() {
        out.push(finding(
            Severity::Info,
            FindingCode::NoGateway,
            format!(
                "Site '{}' has no Omada gateway: the controller does not watch the internet link",
                site.site.name
            ),
        ));
        return out;
    }
    for gw in gateways {
        let label = gw.label();
        let about = gw.mac.to_string();
        match gw.state() {
            DeviceState::Connected => {}
            DeviceState::Busy => {
                out.push(
                    finding(
                        Severity::Yellow,
                        FindingCode::ApBusy,
                        format!("Gateway {label} is {}", busy_words(gw)),
                    )
                    .about(about),
                );
                continue;
            }
            _ => {
                out.push(
                    finding(
                        Severity::Orange,
                        FindingCode::GatewayDisconnected,
                        format!(
                            "Gateway {label} is not connected to the controller{}: its internet link cannot be checked",
                            last_seen(gw)
                        ),
                    )
                    .about(about),
                );
                continue;
            }
        }
        let Some(wan) = site.wans.iter().find(|w| w.gateway == gw.mac) else {
            out.push(
                finding(
                    Severity::Info,
                    FindingCode::WanUnreadable,
                    format!("The WAN status of gateway {label} was not read"),
                )
                .about(about),
            );
            continue;
        };
        if let Some(e) = &wan.error {
            out.push(
                finding(
                    Severity::Info,
                    FindingCode::WanUnreadable,
                    format!("The WAN status of gateway {label} could not be read: {e}"),
                )
                .about(about),
            );
            continue;
        }
        let ports: Vec<_> = wan.ports.iter().filter(|p| p.is_wan()).collect();
        if ports.is_empty() {
            out.push(
                finding(
                    Severity::Info,
                    FindingCode::WanUnreadable,
                    format!("Gateway {label} reports no WAN port"),
                )
                .about(about),
            );
            continue;
        }
        let up: Vec<&str> = ports
            .iter()
            .filter(|p| p.up())
            .map(|p| p.name.as_str())
            .collect();
        if up.is_empty() {
            let linked: Vec<&str> = ports
                .iter()
                .filter(|p| p.link_up == Some(true))
                .map(|p| p.name.as_str())
                .collect();
            if linked.is_empty() {
                let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
                out.push(
                    finding(
                        Severity::Red,
                        FindingCode::WanDown,
                        format!(
                            "Gateway {label}: the WAN link is down ({}): no internet",
                            names.join(", ")
                        ),
                    )
                    .about(about),
                );
            } else {
                out.push(
                    finding(
                        Severity::Red,
                        FindingCode::WanNoInternet,
                        format!(
                            "Gateway {label}: {} has a link but no internet",
                            linked.join(", ")
                        ),
                    )
                    .about(about),
                );
            }
            continue;
        }
        for p in ports.iter().filter(|p| !p.up()) {
            if p.link_up == Some(true) {
                out.push(
                    finding(
                        Severity::Yellow,
                        FindingCode::WanPortDown,
                        format!(
                            "Gateway {label}: {} has a link but no internet; {} carries the traffic",
                            p.name,
                            up.join(", ")
                        ),
                    )
                    .about(about.clone()),
                );
            } else {
                out.push(
                    finding(
                        Severity::Info,
                        FindingCode::WanPortDown,
                        format!(
                            "Gateway {label}: {} has no link; {} carries the traffic",
                            p.name,
                            up.join(", ")
                        ),
                    )
                    .about(about.clone()),
                );
            }
        }
    }
    out
}

/// Every finding of a unit from one read of its site.
pub fn findings(site: &SiteDevices, aps: &UnitAps) -> Vec<Finding> {
    let (mut f, _, _) = ap_findings(site, aps);
    f.extend(wan_findings(site));
    f
}

/// The controller's report of a unit: colour from [`findings`], `online` when an AP of the
/// unit is connected and no WAN finding is red, `pods_connected`/`pods_total` counting the
/// unit's access points, `wifi_networks` the unit's SSIDs (never a key).
pub fn report(site: &SiteDevices, aps: &UnitAps, ssids: &[String]) -> HealthReport {
    let (mut f, connected, total) = ap_findings(site, aps);
    let wan = wan_findings(site);
    let wan_red = wan.iter().any(|x| x.severity == Severity::Red);
    f.extend(wan);
    let mut r = HealthReport::from_findings(Source::Controller, f);
    r.online = connected > 0 && !wan_red;
    r.pods_connected = connected;
    r.pods_total = total;
    r.wifi_networks = ssids.to_vec();
    r.updated_at = Some(site.read_at);
    r.refresh();
    r
}

/// When the controller cannot report device health at all: no Open API credentials
/// (`device_health` false). `None` when it can.
pub fn not_available(capabilities: &Capabilities) -> Option<HealthReport> {
    (!capabilities.device_health).then(|| {
        HealthReport::unknown(
            Source::Controller,
            FindingCode::NotConfigured,
            "The controller reports access points and the internet link only through its Open API: add the client ID and secret of an Open API app (Viewer or Administrator) in the Omada settings",
        )
    })
}

/// The report when the site could not be read: a permission problem is named as such (the
/// host must fix it), anything else is "read failed".
pub fn read_failed(site: &str, e: &OmadaError) -> HealthReport {
    match e {
        OmadaError::Misconfigured(m) => {
            let mut r =
                HealthReport::unknown(Source::Controller, FindingCode::AccessRefused, m.clone());
            r.reason_details[0].subject = Some(site.to_string());
            r.refresh();
            r
        }
        other => HealthReport::unknown(
            Source::Controller,
            FindingCode::ReadFailed,
            format!("The controller's devices on site '{site}' could not be read: {other}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::omada::{DeviceKind, GatewayWan, SiteInfo, WanPort};
    use crate::unit_health::HealthStatus;

    const AP1: &str = "B0-95-75-15-93-44";
    const AP2: &str = "B0-95-75-15-93-45";
    const GW: &str = "AC-84-C6-00-00-01";

    fn mac(s: &str) -> Mac {
        s.parse().unwrap()
    }

    fn dev(m: &str, name: &str, kind: DeviceKind, status: i64, detail: i64) -> DeviceInfo {
        DeviceInfo {
            mac: mac(m),
            name: name.into(),
            kind,
            model: None,
            status: Some(status),
            detail_status: Some(detail),
            last_seen_ms: Some(1_795_000_000_000),
        }
    }

    fn port(name: &str, link: bool, internet: bool) -> WanPort {
        WanPort {
            port: None,
            name: name.into(),
            mode: Some(0),
            link_up: Some(link),
            internet: Some(internet),
        }
    }

    fn site(devices: Vec<DeviceInfo>, ports: Vec<WanPort>) -> SiteDevices {
        SiteDevices {
            site: SiteInfo {
                id: "640effd1b3f2ae5b912275ec".into(),
                name: "Beach".into(),
            },
            devices,
            wans: vec![GatewayWan {
                gateway: mac(GW),
                ports,
                error: None,
            }],
            read_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn healthy() -> SiteDevices {
        site(
            vec![
                dev(AP1, "Loft", DeviceKind::Ap, 1, 14),
                dev(AP2, "Garden", DeviceKind::Ap, 1, 14),
                dev(GW, "Router", DeviceKind::Gateway, 1, 14),
            ],
            vec![port("WAN1", true, true)],
        )
    }

    fn configured(macs: &[&str]) -> UnitAps {
        UnitAps::Configured(macs.iter().map(|m| mac(m)).collect())
    }

    #[test]
    fn all_up_is_green_and_online() {
        let r = report(&healthy(), &configured(&[AP1, AP2]), &["Guest".into()]);
        assert_eq!(r.status, HealthStatus::Green, "{:?}", r.reasons);
        assert!(r.online && r.reasons.is_empty());
        assert_eq!((r.pods_connected, r.pods_total), (2, 2));
        assert_eq!(r.sources[&Source::Controller].status, HealthStatus::Green);
    }

    #[test]
    fn an_ap_down_is_orange_and_named_all_down_is_red() {
        let mut s = healthy();
        s.devices[0] = dev(AP1, "Loft", DeviceKind::Ap, 0, 0);
        let r = report(&s, &configured(&[AP1, AP2]), &[]);
        assert_eq!(r.status, HealthStatus::Orange);
        assert!(
            r.reasons[0].contains("'Loft' (B0-95-75-15-93-44)")
                && r.reasons[0].contains("disconnected"),
            "{:?}",
            r.reasons
        );
        assert_eq!(r.reason_details[0].subject.as_deref(), Some(AP1));
        assert!(r.online);
        let r = report(&s, &configured(&[AP1]), &[]);
        assert_eq!(r.status, HealthStatus::Red);
        assert!(!r.online);
        assert_eq!(r.reason_details[0].code, FindingCode::NoApConnected);
        for (status, detail, code) in [
            (3, 30, FindingCode::ApDisconnected),
            (4, 40, FindingCode::ApIsolated),
            (2, 20, FindingCode::ApNotAdopted),
            (2, 24, FindingCode::ApNotAdopted),
        ] {
            let mut s = healthy();
            s.devices[0] = dev(AP1, "Loft", DeviceKind::Ap, status, detail);
            let r = report(&s, &configured(&[AP1, AP2]), &[]);
            assert_eq!(r.status, HealthStatus::Orange);
            assert_eq!(r.reason_details[0].code, code);
        }
    }

    #[test]
    fn busy_or_unknown_words_are_yellow_never_green() {
        let mut s = healthy();
        s.devices[0] = dev(AP1, "Loft", DeviceKind::Ap, 1, 12);
        let r = report(&s, &configured(&[AP1]), &[]);
        assert_eq!(r.status, HealthStatus::Yellow);
        assert!(r.reasons[0].contains("upgrading"));
        s.devices[0] = dev(AP1, "Loft", DeviceKind::Ap, 7, 77);
        let r = report(&s, &configured(&[AP1]), &[]);
        assert_eq!(
            r.status,
            HealthStatus::Red,
            "an unknown word is not connected"
        );
        assert!(r
            .reason_details
            .iter()
            .any(|f| f.code == FindingCode::ApStatusUnknown));
    }

    #[test]
    fn a_wrong_ap_mac_is_a_misconfiguration() {
        let r = report(&healthy(), &configured(&[AP1, "02-00-00-00-00-09"]), &[]);
        assert_eq!(r.status, HealthStatus::Orange);
        assert!(r.misconfigured);
        assert!(r.reasons[0].contains("02-00-00-00-00-09") && r.reasons[0].contains("'Beach'"));
    }

    #[test]
    fn the_wan_link_decides_red() {
        let mut s = healthy();
        s.wans[0].ports = vec![port("WAN1", false, false)];
        let r = report(&s, &configured(&[AP1]), &[]);
        assert_eq!(r.status, HealthStatus::Red);
        assert!(!r.online);
        assert!(
            r.reasons[0].contains("'Router'") && r.reasons[0].contains("WAN1"),
            "{:?}",
            r.reasons
        );
        assert_eq!(r.reason_details[0].code, FindingCode::WanDown);
        s.wans[0].ports = vec![port("WAN1", true, false)];
        let r = report(&s, &configured(&[AP1]), &[]);
        assert_eq!(r.reason_details[0].code, FindingCode::WanNoInternet);
        assert_eq!(r.status, HealthStatus::Red);
        // A backup WAN without a link is said, not coloured; one with a link but no
        // internet is yellow.
        s.wans[0].ports = vec![port("WAN1", true, true), port("WAN2", false, false)];
        let r = report(&s, &configured(&[AP1]), &[]);
        assert_eq!(r.status, HealthStatus::Green);
        assert_eq!(r.reason_details[0].code, FindingCode::WanPortDown);
        s.wans[0].ports = vec![port("WAN1", true, true), port("WAN2", true, false)];
        assert_eq!(
            report(&s, &configured(&[AP1]), &[]).status,
            HealthStatus::Yellow
        );
        // LAN ports are not WAN.
        let mut lan = port("LAN1", false, false);
        lan.mode = Some(1);
        s.wans[0].ports = vec![port("WAN1", true, true), lan];
        assert!(report(&s, &configured(&[AP1]), &[]).reasons.is_empty());
    }

    #[test]
    fn a_gateway_away_or_absent() {
        let mut s = healthy();
        s.devices[2] = dev(GW, "Router", DeviceKind::Gateway, 0, 0);
        s.wans.clear();
        let r = report(&s, &configured(&[AP1]), &[]);
        assert_eq!(r.status, HealthStatus::Orange);
        assert_eq!(r.reason_details[0].code, FindingCode::GatewayDisconnected);
        s.devices.remove(2);
        let r = report(&s, &configured(&[AP1]), &[]);
        assert_eq!(r.status, HealthStatus::Green);
        assert_eq!(r.reason_details[0].code, FindingCode::NoGateway);
        assert_eq!(r.reason_details[0].severity, Severity::Info);
    }

    #[test]
    fn aps_from_the_ssids_when_the_unit_names_none() {
        let mut map = SsidAps::default();
        map.by_ssid.insert("Guest".into(), vec![AP2.into()]);
        let aps = UnitAps::for_unit(&[], &["Guest".into()], Some(&map));
        assert_eq!(
            aps,
            UnitAps::ServingSsids {
                ssids: vec!["Guest".into()],
                aps: vec![mac(AP2)]
            }
        );
        let mut s = healthy();
        s.devices[1] = dev(AP2, "Garden", DeviceKind::Ap, 0, 0);
        assert_eq!(
            report(&s, &aps, &["Guest".into()]).status,
            HealthStatus::Red
        );
        let none = UnitAps::for_unit(&[], &["Other".into()], Some(&map));
        let r = report(&healthy(), &none, &["Other".into()]);
        assert_eq!(r.status, HealthStatus::Red);
        assert_eq!(r.reason_details[0].code, FindingCode::NoApForSsids);
        assert!(r.reasons[0].contains("'Other'"));
        let r = report(&healthy(), &UnitAps::for_unit(&[], &[], None), &[]);
        assert_eq!(r.status, HealthStatus::Unknown);
        assert_eq!(
            UnitAps::for_unit(&[mac(AP1)], &["Guest".into()], Some(&map)),
            configured(&[AP1])
        );
    }

    #[test]
    fn without_the_open_api_the_source_says_so() {
        let caps = Capabilities::default();
        let r = not_available(&caps).unwrap();
        assert_eq!(r.status, HealthStatus::Unknown);
        assert_eq!(r.reason_details[0].code, FindingCode::NotConfigured);
        assert!(r.reasons[0].contains("Open API"));
        let caps = Capabilities {
            device_health: true,
            ..Capabilities::default()
        };
        assert!(not_available(&caps).is_none());
        let r = read_failed("Beach", &OmadaError::Misconfigured("may not read".into()));
        assert!(r.misconfigured && r.status == HealthStatus::Unknown);
        let r = read_failed("Beach", &OmadaError::Unreachable("x".into()));
        assert_eq!(r.reason_details[0].code, FindingCode::ReadFailed);
    }

    #[test]
    fn combined_with_plume_each_reason_names_its_source() {
        let mut s = healthy();
        s.wans[0].ports = vec![port("WAN1", false, false)];
        let ctrl = report(&s, &configured(&[AP1]), &[]);
        let plume = HealthReport::from_findings(Source::Plume, Vec::new());
        let both = crate::unit_health::combine(&[plume, ctrl]);
        assert_eq!(both.status, HealthStatus::Red);
        assert!(
            both.reasons[0].starts_with("Controller: Gateway 'Router'"),
            "{:?}",
            both.reasons
        );
    }
}
