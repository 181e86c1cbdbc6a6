//! The subcommands behind `main`: each takes the validated configuration explicitly.

use std::sync::Arc;

use anyhow::Context;

use crate::app::{self, App};
use crate::clock::Clock;
use crate::config::Config;

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called (inside the
/// runtime), not when the future is first polled: a supervisor's SIGTERM right after the
/// `ready` line must stop the process gracefully, not kill it with the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    crate::telemetry::init(&config.log);
    let (api, portal) = app::bind(&config).await?;
    let https = app::bind_https(&config).await?;
    let app = App::build(config, Clock::system())
        .await
        .context("cannot start")?;
    app.run_with_https(api, portal, https, shutdown_signal())
        .await;
    Ok(())
}

pub fn token(config: &Config) -> anyhow::Result<()> {
    let dir = &config.server.data_dir;
    crate::datadir::ensure_private_dir(dir)?;
    let token = crate::secrets::load_or_create_token(dir)?;
    println!("{token}");
    Ok(())
}

pub fn check_config(config: &Config) -> anyhow::Result<()> {
    println!(
        "configuration ok: api {} portal {} data dir {}",
        config.server.api_listen,
        config.server.portal_listen,
        config.server.data_dir.display()
    );
    Ok(())
}

/// `check-controller`: run every set-up step against the controller stored in the data dir
/// (the one `serve` uses) and print one line per step — or the JSON report with `json`.
/// `sites` are `NAME` or `NAME=SITE_ID` (the id when the Open API cannot look it up); none
/// given: every unit's site, with the id the unit keeps, then each password-mode unit's PPSK
/// profile (a `ppsk` step each, with the write probe). Returns whether every step passed.
pub async fn check_controller(
    config: &Config,
    sites: &[String],
    json: bool,
) -> anyhow::Result<bool> {
    crate::init_crypto();
    let dir = &config.server.data_dir;
    let db = dir.join(app::DB_FILE);
    if !db.exists() {
        anyhow::bail!(
            "no sidecar data in {} (start `serve` and set the controller up first)",
            dir.display()
        );
    }
    let store = crate::store::Store::open(&db).context("database")?;
    let units = store
        .read(crate::store::rows::unit_list)
        .await
        .context("units")?;
    let sealer = crate::secrets::Sealer::load_or_create(dir).context("key file")?;
    let controller = crate::controller::Controller::load(
        store,
        sealer,
        Clock::system(),
        crate::events::EventBus::default(),
        Arc::new(crate::metrics::Metrics::default()),
        crate::omada::RetryPolicy::default(),
    )
    .await
    .context("controller settings")?;
    let mut specs: Vec<crate::omada::SiteSpec> = sites
        .iter()
        .map(|s| match s.rsplit_once('=') {
            Some((name, id)) if crate::omada::is_site_id(id.trim()) => crate::omada::SiteSpec {
                name: name.trim().to_string(),
                id: Some(id.trim().to_string()),
            },
            _ => crate::omada::SiteSpec {
                name: s.trim().to_string(),
                id: None,
            },
        })
        .collect();
    if specs.is_empty() {
        specs = crate::usecase::sites::site_specs(&units);
    }
    let mut report = controller
        .self_test(&specs)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if sites.is_empty() {
        // Then each password-mode unit's PPSK profile, as the API's check does (issue 18).
        for u in units
            .iter()
            .filter(|u| u.access.mode == crate::vouchers::model::AccessMode::Password)
        {
            let check = match u.access.ppsk_profile_id.clone() {
                None => Err("the unit names no PPSK profile (ppsk_profile_id)".to_string()),
                Some(profile) => {
                    let (site, ssids) = (u.omada_site.clone(), u.ssids.clone());
                    controller
                        .ppsk(|c| async move { Ok(c.check_ppsk(&site, &profile, &ssids, true).await) })
                        .await
                        .map_err(|e| e.to_string())
                }
            };
            report.add_ppsk(
                &u.unit_id,
                &u.omada_site,
                check.as_ref().map_err(Clone::clone),
            );
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
        if specs.is_empty() {
            println!(
                "(no rental unit yet and no --site given: add the units, or give each unit's site, to check its id and permissions)"
            );
        }
    }
    Ok(report.ok)
}

/// Run only the simulators; print one JSON line describing them, then serve until a signal.
pub async fn sim() -> anyhow::Result<()> {
    let sims = crate::sim::Sims::start()
        .await
        .context("cannot start the simulators")?;
    println!("{}", sims.describe());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    shutdown_signal().await;
    sims.omada.shutdown().await;
    sims.plume.shutdown().await;
    Ok(())
}
