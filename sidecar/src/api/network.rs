//! `GET /api/v1/units/{unit_id}/network`: a unit's pods, devices, Wi-Fi networks, service
//! level and status with reasons, from Plume's last read and the controller's (issue 15 item
//! 6) — what `rental_wifi.get_network` returns — and the short form of it in the snapshot.
//! Nothing here asks Plume or the controller: both were read by their pollers.

use std::borrow::Cow;
use std::collections::BTreeMap;

use hyper::Response;

use super::wire::{
    GatewayOut, HealthValueOut, NetworkDeviceOut, NetworkOut, NetworkSummaryOut, PodOut,
    PodSummaryOut, SourceStateOut, SpeedTestOut, WanPortOut,
};
use super::{ok, Result};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::controller_watch::UnitDevices;
use crate::omada::{DeviceInfo, DeviceState};
use crate::plume::NetworkDetails;
use crate::serve::Body;
use crate::unit_health::Source;

pub async fn get(s: &AppState, id: &str) -> Result<Response<Body>> {
    let unit = s.rentals.get_unit(id).await?;
    ok(&network(s, &unit.unit_id))
}

fn state_word(d: &DeviceInfo) -> &'static str {
    match d.state() {
        DeviceState::Connected => "connected",
        DeviceState::Busy => "busy",
        DeviceState::Disconnected => "disconnected",
        DeviceState::HeartbeatMissed => "heartbeat_missed",
        DeviceState::Isolated => "isolated",
        DeviceState::NotAdopted => "not_adopted",
        DeviceState::Unknown => "unknown",
    }
}

/// Up for a guest: connected, or connected and busy (upgrading still serves until it reboots).
fn device_up(d: &DeviceInfo) -> bool {
    matches!(d.state(), DeviceState::Connected | DeviceState::Busy)
}

fn plume_pods(n: &NetworkDetails) -> impl Iterator<Item = PodOut> + '_ {
    n.pods.iter().map(|p| PodOut {
        source: Source::Plume,
        id: p.id.clone().unwrap_or_else(|| p.name.clone()),
        name: p.name.clone(),
        kind: Cow::Borrowed(if p.gateway { "gateway" } else { "pod" }),
        model: p.model.clone(),
        firmware: p.firmware.clone(),
        connection: p.connection.clone(),
        connected: p.connection == "connected",
        connection_changed_at: p.connection_changed_at.clone(),
        backhaul: p.backhaul.clone(),
        health: p.health.as_ref().map(HealthValueOut::from),
        connected_devices: Some(p.connected_devices),
        alerts: p.alerts.clone(),
    })
}

fn controller_pods(d: &UnitDevices) -> impl Iterator<Item = PodOut> + '_ {
    d.aps.iter().map(|mac| match d.site.device(*mac) {
        Some(ap) => PodOut {
            source: Source::Controller,
            id: mac.to_string(),
            name: if ap.name.is_empty() {
                mac.to_string()
            } else {
                ap.name.clone()
            },
            kind: Cow::Borrowed("access_point"),
            model: ap.model.clone(),
            firmware: None,
            connection: state_word(ap).to_owned(),
            connected: device_up(ap),
            connection_changed_at: None,
            backhaul: None,
            health: None,
            connected_devices: None,
            alerts: Vec::new(),
        },
        None => PodOut {
            source: Source::Controller,
            id: mac.to_string(),
            name: mac.to_string(),
            kind: Cow::Borrowed("access_point"),
            model: None,
            firmware: None,
            connection: "not_on_site".to_owned(),
            connected: false,
            connection_changed_at: None,
            backhaul: None,
            health: None,
            connected_devices: None,
            alerts: Vec::new(),
        },
    })
}

fn gateways(d: &UnitDevices) -> Vec<GatewayOut> {
    d.site
        .gateways()
        .map(|g| {
            let wan = d.site.wans.iter().find(|w| w.gateway == g.mac);
            GatewayOut {
                mac: g.mac.to_string(),
                name: g.name.clone(),
                model: g.model.clone(),
                connection: Cow::Borrowed(state_word(g)),
                connected: device_up(g),
                wan_ports: wan
                    .map(|w| {
                        w.ports
                            .iter()
                            .filter(|p| p.is_wan())
                            .map(|p| WanPortOut {
                                name: p.name.clone(),
                                link_up: p.link_up,
                                internet: p.internet,
                                up: p.up(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                wan_error: wan.and_then(|w| w.error.clone()),
            }
        })
        .collect()
}

/// What each source last read for the unit (only sources that report on it).
struct Reads {
    plume: Option<std::sync::Arc<NetworkDetails>>,
    controller: Option<UnitDevices>,
}

fn reads(s: &AppState, unit_id: &str) -> Reads {
    Reads {
        plume: s
            .plume
            .board
            .tracks(unit_id)
            .then(|| s.plume.board.network(unit_id))
            .flatten(),
        controller: s
            .controller_watch
            .board
            .applies(unit_id)
            .then(|| s.controller_watch.board.devices(unit_id))
            .flatten(),
    }
}

fn pods(r: &Reads) -> Vec<PodOut> {
    let mut out: Vec<PodOut> = r
        .plume
        .as_deref()
        .map(|n| plume_pods(n).collect())
        .unwrap_or_default();
    if let Some(d) = &r.controller {
        out.extend(controller_pods(d));
    }
    out
}

fn speed_test(r: &Reads) -> Option<SpeedTestOut> {
    r.plume
        .as_deref()
        .and_then(|n| n.speed_test.as_ref())
        .map(SpeedTestOut::from)
}

/// The whole answer of `GET …/network`.
pub(crate) fn network(s: &AppState, unit_id: &str) -> NetworkOut {
    let health = s.health.unit(unit_id);
    let r = reads(s, unit_id);
    let plume = r.plume.as_deref();
    let mut wifi = health.wifi_networks.clone();
    if let Some(n) = plume {
        for w in &n.wifi_networks {
            if !wifi.contains(w) {
                wifi.push(w.clone());
            }
        }
    }
    NetworkOut {
        unit_id: unit_id.to_owned(),
        status: Cow::Borrowed(health.status.as_str()),
        reasons: health.reasons.clone(),
        online: health.online,
        sources: health
            .sources
            .iter()
            .map(|(k, v)| (*k, SourceStateOut::from(v)))
            .collect(),
        service_level: health
            .service_level
            .clone()
            .or_else(|| plume.and_then(|n| n.service_level.clone())),
        location_name: plume.and_then(|n| n.location_name.clone()),
        network_status: plume.and_then(|n| n.network_status.clone()),
        pods: pods(&r),
        gateways: r.controller.as_ref().map(gateways).unwrap_or_default(),
        devices: plume
            .map(|n| {
                n.devices
                    .iter()
                    .map(|d| NetworkDeviceOut {
                        name: d.name.clone(),
                        mac: d.mac.clone(),
                        connection: d.connection.clone(),
                        connected: d.connection == "connected",
                        band: d.band.clone(),
                        medium: d.medium.clone(),
                        health: d.health.as_ref().map(HealthValueOut::from),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        devices_total: plume.map(|n| n.devices_total).unwrap_or(0),
        wifi_networks: wifi,
        speed_test: speed_test(&r),
        skipped: plume.map(|n| n.skipped.clone()).unwrap_or_default(),
        plume_read_at: plume.map(|n| rfc3339(n.read_at)),
        controller_read_at: r.controller.as_ref().map(|d| rfc3339(d.site.read_at)),
    }
}

/// The snapshot's short form: pods with their connectivity, which sources were read, the
/// speed test.
pub(crate) fn summary(s: &AppState, unit_id: &str) -> NetworkSummaryOut {
    let r = reads(s, unit_id);
    let read: BTreeMap<Source, bool> = [
        (Source::Plume, r.plume.is_some()),
        (
            Source::Controller,
            r.controller.is_some() && s.controller_watch.board.has_read(unit_id),
        ),
    ]
    .into();
    NetworkSummaryOut {
        pods: pods(&r).iter().map(PodSummaryOut::from).collect(),
        read,
        speed_test: speed_test(&r),
    }
}
