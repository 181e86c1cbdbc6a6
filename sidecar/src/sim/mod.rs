//! Simulated TP-Link Omada controller and Plume cloud.
//!
//! The only test doubles in the project: written once, faithful to `reference/*.md`, and used
//! by the Rust tests, the Python tests (through the `demo`/`sim` commands), the demo and the
//! benchmarks alike. Each simulator is a real HTTP server on 127.0.0.1 with a control handle
//! to switch behaviours and to read what it received.

pub mod omada;
pub mod plume;

use serde_json::{json, Value};

/// Demo/test Plume locations: (customer id, location id, scenario) — one unit per colour.
pub const DEMO_CUSTOMER: &str = "642cc40d71d99d000a611549";
pub const DEMO_LOCATIONS: &[(&str, plume::Scenario)] = &[
    ("642cc40d71d99d000a61154a", plume::Scenario::Fine),
    ("642cc40d71d99d000a61154b", plume::Scenario::PoorHealth),
    ("642cc40d71d99d000a61154c", plume::Scenario::PodDown),
    ("642cc40d71d99d000a61154d", plume::Scenario::Offline),
];

/// Sites beside "Default" for `rental-wifi-sidecar sim`, from `"Site:SSID,SSID;Site:SSID"`
/// (the Home Assistant UI tour shows the unit form's site and SSID pickers with several).
/// Each SSID is a guest network with a password; empty names are skipped.
fn extra_sites(spec: &str) -> (Vec<omada::SimSite>, Vec<omada::SimSsid>) {
    let mut sites = Vec::new();
    let mut ssids = Vec::new();
    for part in spec.split(';') {
        let (site, names) = part.split_once(':').unwrap_or((part, ""));
        let site = site.trim();
        if site.is_empty() {
            continue;
        }
        sites.push(omada::SimSite {
            name: site.to_string(),
            id: omada::random_hex(12),
        });
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            ssids.push(omada::SimSsid {
                site: site.to_string(),
                name: name.to_string(),
                guest_network: true,
                open: false,
            });
        }
    }
    (sites, ssids)
}

/// Both simulators, started on 127.0.0.1 with the demo locations seeded.
pub struct Sims {
    pub omada: omada::OmadaSim,
    pub plume: plume::PlumeSim,
}

impl Sims {
    ///
    /// `RENTAL_WIFI_SIM_OMADA_TLS=factory-like` (or `named`) serves the controller over HTTPS
    /// with that certificate (the Home Assistant tests of the "trust this certificate?" step).
    /// `RENTAL_WIFI_SIM_OMADA_SITES` adds sites beside "Default" (see [`extra_sites`]).
    pub async fn start() -> std::io::Result<Sims> {
        crate::init_crypto();
        let mut config = omada::OmadaSimConfig::default();
        match std::env::var("RENTAL_WIFI_SIM_OMADA_TLS").as_deref() {
            Ok("factory-like") => config.tls = true,
            Ok("named") => {
                config.tls = true;
                config.tls_cert = omada::SimCert::Named;
            }
            _ => {}
        }
        if let Ok(spec) = std::env::var("RENTAL_WIFI_SIM_OMADA_SITES") {
            let (sites, ssids) = extra_sites(&spec);
            config.sites.extend(sites);
            config.ssids.extend(ssids);
        }
        let omada = omada::start(config).await?;
        let plume = plume::start(plume::PlumeSimConfig::default()).await?;
        for (loc, scenario) in DEMO_LOCATIONS {
            plume.add_location(DEMO_CUSTOMER, loc, *scenario);
        }
        Ok(Sims { omada, plume })
    }

    /// Everything a test or script needs to point the sidecar at the simulators.
    pub fn describe(&self) -> Value {
        let o = self.omada.hotspot_settings();
        let oa = self.omada.openapi_settings();
        json!({
            "omada_url": self.omada.base_url(),
            "omada_cert_sha256": self.omada.cert_sha256(),
            "omada_controller_id": self.omada.controller_id(),
            "omada_username": o.username,
            "omada_password": o.password,
            "omada_client_id": oa.client_id,
            "omada_client_secret": oa.client_secret,
            "omada_site": "Default",
            "omada_site_id": self.omada.site_id("Default"),
            "omada_sites": self.omada.info_json()["sites"].clone(),
            "plume_sso_url": self.plume.sso_url(),
            "plume_auth_header": self.plume.auth_header(),
            "plume_partner_id": self.plume.partner_id(),
            "plume_api_base": self.plume.api_base(),
            "plume_control_url": format!("{}/_sim", self.plume.base_url()),
            "omada_control_url": format!("{}/_sim", self.omada.base_url()),
            "plume_customer_id": DEMO_CUSTOMER,
            "plume_account_id": plume::PlumeSim::account_id_for(DEMO_CUSTOMER),
            "plume_locations": DEMO_LOCATIONS.iter().map(|(l, s)| json!({"customer_id": DEMO_CUSTOMER, "location_id": l, "scenario": serde_json::to_value(s).unwrap_or_default(), "node_serials": plume::PlumeSim::node_serials(l)})).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_sites_are_read_from_the_spec() {
        let (sites, ssids) = extra_sites("Beach:Beach Guest, Beach Staff; ;Cabin:");
        let names: Vec<&str> = sites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Beach", "Cabin"]);
        assert!(sites.iter().all(|s| s.id.len() == 24));
        assert_ne!(sites[0].id, sites[1].id);
        let ssid_names: Vec<(&str, &str)> = ssids
            .iter()
            .map(|s| (s.site.as_str(), s.name.as_str()))
            .collect();
        assert_eq!(
            ssid_names,
            [("Beach", "Beach Guest"), ("Beach", "Beach Staff")]
        );
    }
}
