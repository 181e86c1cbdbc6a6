//! `rental-wifi-sidecar demo`: a self-contained tour on a data dir of its own.
//!
//! Starts the sidecar, seeds two units and a voucher (only on an empty database, so a second
//! run keeps what the first made) and prints how to poke at it. The last line printed before
//! serving is `demo-json: {...}` with the same facts for scripts and browser tests.
//!
//! The default data dir is private to the user: `$TMPDIR/rental-wifi-demo-<uid>`, created
//! 0700, and refused when it is a symlink or belongs to someone else (a shared `/tmp` lets
//! anyone create that name first; a fixed name once let other users read the demo's codes
//! and token, issue 13).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    std::env::temp_dir().join(format!("rental-wifi-demo-{uid}"))
}

/// Create `dir` 0700 if needed, then make sure it is a real directory of this user.
pub fn ensure_own_private_dir(dir: &Path) -> anyhow::Result<()> {
    crate::datadir::ensure_private_dir(dir)?;
    let meta = std::fs::symlink_metadata(dir)
        .with_context(|| format!("demo data dir {}", dir.display()))?;
    if meta.file_type().is_symlink() {
        anyhow::bail!(
            "demo data dir {} is a symbolic link; refusing to use it (remove it or pass --data-dir)",
            dir.display()
        );
    }
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if me.is_some_and(|uid| uid != meta.uid()) {
        anyhow::bail!(
            "demo data dir {} belongs to another user; refusing to use it (pass --data-dir)",
            dir.display()
        );
    }
    Ok(())
}

pub async fn run(mut config: Config) -> anyhow::Result<()> {
    if std::env::var_os("RENTAL_WIFI_LOG_FORMAT").is_none() {
        config.log.format = LogFormat::Text;
    }
    if std::env::var_os("RENTAL_WIFI_LOG_LEVEL").is_none() {
        config.log.level = "warn".into();
    }
    crate::telemetry::init(&config.log);
    ensure_own_private_dir(&config.server.data_dir)?;
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
    let (voucher, _, _) = state
        .rentals
        .issue(&ctx, demo_voucher, Source::Demo, None)
        .await?;

    let api_url = format!("http://{api_addr}");
    // The redirect a controller would send a guest on this machine: `clientIp` is the
    // address the portal sees when the URL is opened here (the portal refuses a page whose
    // `clientIp` is another address, DESIGN §10).
    let portal_url = format!(
        "http://{portal_addr}/portal?clientMac=52-DE-63-F1-E3-3B&clientIp=127.0.0.1&t={}&site=Default&redirectUrl=http%3A%2F%2Fneverssl.com%2F&apMac=B0-95-75-15-93-44&ssidName=Beach%20House%20Guest&radioId=1",
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
    println!("                (open it on this machine: its clientIp is 127.0.0.1)");
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_default_dir_is_per_user() {
        let uid = std::fs::metadata("/proc/self").unwrap().uid();
        assert!(default_data_dir()
            .to_string_lossy()
            .ends_with(&format!("rental-wifi-demo-{uid}")));
    }

    #[test]
    fn a_private_dir_is_made_and_a_symlink_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        ensure_own_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let planted = tmp.path().join("planted");
        std::fs::create_dir(&planted).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&planted, &link).unwrap();
        let err = ensure_own_private_dir(&link).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
    }
}
