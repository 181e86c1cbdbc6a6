//! `rental-wifi-sidecar demo`: a self-contained tour on a data dir of its own.
//!
//! Starts the sidecar, seeds two units and a voucher (only on an empty database, so a second
//! run keeps what the first made) and prints how to poke at it. The last line printed before
//! serving is `demo-json: {...}` with the same facts for scripts and browser tests.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use crate::app::{self, App};
use crate::clock::Clock;
use crate::config::{Config, LogFormat};
use crate::usecase::vouchers::Source;
use crate::vouchers::model::Actor;
use crate::vouchers::unit::{NewUnit, UnitInput};
use crate::vouchers::voucher::{NewVoucher, VoucherRequest};
use crate::vouchers::Ctx;

pub fn default_data_dir() -> PathBuf {
    std::env::temp_dir().join("rental-wifi-demo")
}

pub async fn run(mut config: Config) -> anyhow::Result<()> {
    if std::env::var_os("RENTAL_WIFI_LOG_FORMAT").is_none() {
        config.log.format = LogFormat::Text;
    }
    if std::env::var_os("RENTAL_WIFI_LOG_LEVEL").is_none() {
        config.log.level = "warn".into();
    }
    crate::telemetry::init(&config.log);
    let sims = crate::sim::Sims::start()
        .await
        .context("cannot start the simulators")?;
    let (api, portal) = app::bind(&config).await?;
    let api_addr = api.local_addr()?;
    let portal_addr = portal.local_addr()?;
    let app = App::build(config, Clock::system())
        .await
        .context("cannot start the demo")?;
    let state = app.state.clone();
    let ctx = Ctx::new(Actor::Demo);

    // The simulated controller and Plume cloud are new at every start: point the settings at them.
    state
        .controller
        .put(sims.omada.hotspot_settings(), true)
        .await
        .context("simulated controller")?;
    let desc = sims.describe();
    let plume = crate::plume::PlumeSettings {
        sso_url: sims.plume.sso_url(),
        auth_header: sims.plume.auth_header(),
        partner_id: sims.plume.partner_id(),
        api_base: sims.plume.api_base(),
        poll_interval_seconds: 15,
    };
    state
        .plume
        .put(plume)
        .await
        .context("simulated Plume cloud")?;

    let units = state.rentals.list_units().await?;
    if units.is_empty() {
        // One unit per health colour, each on its own simulated Plume location.
        let seeds = [
            ("beach-house", "Beach House", "Beach House Guest"),
            ("city-loft", "City Loft", "City Loft Guest"),
            ("garden-cottage", "Garden Cottage", "Garden Cottage Guest"),
            ("mountain-cabin", "Mountain Cabin", "Mountain Cabin Guest"),
        ];
        for ((id, name, ssid), (location, _)) in seeds.iter().zip(crate::sim::DEMO_LOCATIONS) {
            let input = UnitInput {
                unit_id: Some((*id).into()),
                name: Some((*name).into()),
                ssids: Some(vec![(*ssid).into()]),
                // The simulated AP, so the controller's health (it is up) sits beside Plume's.
                ap_macs: Some(vec![crate::sim::omada::DEFAULT_AP.into()]),
                plume_customer_id: Some(Some(crate::sim::DEMO_CUSTOMER.into())),
                plume_location_id: Some(Some((*location).into())),
                ..Default::default()
            };
            state
                .rentals
                .create_unit(&ctx, NewUnit::parse(input)?)
                .await?;
        }
        state.units_changed().await;
    }
    let demo_voucher = NewVoucher::parse(
        VoucherRequest {
            unit_id: "beach-house".into(),
            duration_minutes: Some(3 * 24 * 60),
            guest_name: Some("Demo Guest".into()),
            booking_ref: Some("DEMO-1".into()),
            ..Default::default()
        },
        &state.rentals.limits,
        state.clock.now(),
    )?;
    let (voucher, _) = state
        .rentals
        .issue(&ctx, demo_voucher, Source::Demo)
        .await?;

    let api_url = format!("http://{api_addr}");
    let portal_url = format!(
        "http://{portal_addr}/portal?clientMac=52-DE-63-F1-E3-3B&clientIp=192.168.100.165&t={}&site=Default&redirectUrl=http%3A%2F%2Fneverssl.com%2F&apMac=B0-95-75-15-93-44&ssidName=Beach%20House%20Guest&radioId=1",
        time::OffsetDateTime::now_utc().unix_timestamp()
    );
    let token = state.token.clone();
    println!(
        "Rental Wi-Fi demo is running (data in {}).",
        app.data_dir().display()
    );
    println!();
    println!("  API:          {api_url}   (token below)");
    println!("  API token:    {token}");
    println!("  Guest portal: {portal_url}");
    println!("  Voucher:      {} for unit beach-house", voucher.code);
    println!();
    println!("Try:");
    println!("  curl -s {api_url}/api/v1/info");
    println!("  curl -s -H 'Authorization: Bearer {token}' {api_url}/api/v1/state");
    println!(
        "  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"unit_id\":\"city-loft\",\"duration_minutes\":120,\"guest_name\":\"Alex\"}}' {api_url}/api/v1/vouchers"
    );
    println!();
    println!("Press Ctrl-C to stop.");
    println!(
        "demo-json: {}",
        json!({"api_url": api_url, "api_token": token, "portal_url": portal_url, "voucher_code": voucher.code, "unit_id": "beach-house", "sims": desc})
    );
    app.run(api, portal, crate::cli::shutdown_signal()).await;
    Ok(())
}
