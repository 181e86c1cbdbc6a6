//! The subcommands behind `main`: each takes the validated configuration explicitly.

use anyhow::Context;

use crate::app::{self, App};
use crate::clock::Clock;
use crate::config::Config;

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when
/// the future is first polled: a supervisor's SIGTERM right after the `ready` line must stop
/// the process gracefully, not kill it with the default action.
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
    let app = App::build(config, Clock::system())
        .await
        .context("cannot start")?;
    app.run(api, portal, shutdown_signal()).await;
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
