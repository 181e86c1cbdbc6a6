//! Rental Wi-Fi sidecar: guest Wi-Fi for short-term rentals, driven from Home Assistant.
//!
//! Reading order: [`config`] (what the process is told), [`store`] (what it remembers),
//! [`vouchers`] (the rules), [`omada`] and [`plume`] (the network gear it talks to),
//! [`api`] and [`portal`] (the two HTTP faces), [`app`] (how it is all wired and run),
//! [`sim`] (stand-ins for the controller and the Plume cloud, for demo, tests and benchmarks).
//! `ARCHITECTURE.md` at the repository root has the codemap and the invariants.

pub mod api;
pub mod app;
pub mod bookings;
pub mod card;
pub mod cli;
pub mod clock;
pub mod config;
pub mod controller;
pub mod datadir;
pub mod demo;
pub mod events;
pub mod grants;
pub mod health;
pub mod metrics;
pub mod net;
pub mod omada;
pub mod plume;
pub mod portal;
pub mod secrets;
pub mod serve;
pub mod sim;
pub mod store;
pub mod tasks;
pub mod telemetry;
pub mod vouchers;

/// Install rustls' `ring` crypto provider as the process default (idempotent). reqwest is
/// built without a provider of its own, so this must run before any HTTP client is built;
/// [`app::App::build`] and the simulators call it.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
