//! `rental-wifi-sidecar`: parse the command line, load the configuration, hand over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jemalloc instead of glibc's malloc: after a flood of connections (thousands of tasks and
/// buffers freed at once) its background thread gives the memory back to the OS within about
/// a second (configured in `.cargo/config.toml`), where glibc kept it in its per-thread arenas
/// for good (issue 13; docs/benchmarks.md "Hostile guests").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use rental_wifi::config::{Config, Overrides};

#[derive(Parser)]
#[command(
    name = "rental-wifi-sidecar",
    version,
    about = "Guest Wi-Fi for short-term rentals: vouchers, Omada captive portal, Plume health"
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory for the database, API token and key file.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Address of the local JSON API (default 127.0.0.1:8765).
    #[arg(long, global = true)]
    api_listen: Option<String>,
    /// Address of the guest portal (default 0.0.0.0:8766).
    #[arg(long, global = true)]
    portal_listen: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the sidecar (the default).
    Serve,
    /// Run a self-contained demo with simulated Omada controller and Plume cloud.
    Demo,
    /// Print the API token (creating it if this is the first start).
    Token,
    /// Validate the configuration and exit.
    CheckConfig,
    /// Run every set-up step against the configured Omada controller (discovery, TLS, login,
    /// each site, permissions, portal timeout; then the PPSK profile of each password-mode
    /// unit) and print pass/fail per step; exit status 1 when a step fails.
    CheckController {
        /// A rental unit's Omada site: `NAME`, or `NAME=SITE_ID`. Repeat for each site.
        /// Without it, every unit's site (with the id the unit keeps) is checked.
        #[arg(long = "site", value_name = "NAME[=SITE_ID]")]
        sites: Vec<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run only the simulated Omada controller and Plume cloud (for tests); prints one JSON line.
    Sim,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: std::collections::BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("RENTAL_WIFI_"))
        .collect();
    let command = cli.command.unwrap_or(Command::Serve);
    let is_demo = matches!(command, Command::Demo);
    let flags = Overrides {
        data_dir: cli
            .data_dir
            .or_else(|| is_demo.then(rental_wifi::demo::default_data_dir)),
        api_listen: cli
            .api_listen
            .or_else(|| is_demo.then(|| "127.0.0.1:8765".into())),
        portal_listen: cli
            .portal_listen
            .or_else(|| is_demo.then(|| "127.0.0.1:8766".into())),
    };
    let config = match Config::load(cli.config.as_deref(), &env, &flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rental-wifi-sidecar: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rental-wifi-sidecar: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Serve => rental_wifi::cli::serve(config).await,
            Command::Demo => rental_wifi::demo::run(config).await,
            Command::Token => rental_wifi::cli::token(&config),
            Command::CheckConfig => rental_wifi::cli::check_config(&config),
            Command::CheckController { sites, json } => {
                match rental_wifi::cli::check_controller(&config, &sites, json).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(anyhow::anyhow!("controller check failed")),
                    Err(e) => Err(e),
                }
            }
            Command::Sim => rental_wifi::cli::sim().await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rental-wifi-sidecar: {e:#}");
            ExitCode::FAILURE
        }
    }
}
