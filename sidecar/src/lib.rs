//! Rental Wi-Fi sidecar: guest Wi-Fi for short-term rentals, driven from Home Assistant.
//!
//! Reading order: [`config`] (what the process is told), `store` (what it remembers),
//! `vouchers` (the rules: plain types and pure decisions), `usecase` (each operation as one
//! transaction), `outbox` (what the controller must still be told), [`omada`] and [`plume`]
//! (the network gear it talks to), `api` and [`portal`] (the two HTTP faces), [`app`] (how it
//! is all wired and run), [`sim`] (stand-ins for the controller and the Plume cloud, for demo,
//! tests and benchmarks). `ARCHITECTURE.md` at the repository root has the codemap and the
//! invariants.
//!
//! **Public surface, on purpose small.** Everything with business rules (`vouchers`,
//! `usecase`, `store`, `api`, `outbox`, the controller and Plume services) is `pub(crate)`,
//! so the compiler reports dead code there. Public are: what `main` runs ([`cli`], [`demo`],
//! [`config`]); the built app and its test handle ([`app`]); the leaf libraries that have test
//! suites of their own and are used by the load harness ([`omada`], [`plume`], [`sim`], the
//! portal's building blocks in [`portal`], [`net`], [`clock`], [`events`], [`metrics`],
//! [`serve`], [`secrets`]); and [`testing`], the few internals the integration tests drive directly.

pub(crate) mod alarm;
pub(crate) mod api;
pub mod app;
// Cards and the PDF print sheet are issue 17's building blocks; 17b wires the rest in.
#[expect(
    dead_code,
    reason = "the print sheet and card text helpers are wired in by issue 17b"
)]
pub(crate) mod card;
pub mod cli;
pub mod clock;
pub mod config;
pub(crate) mod controller;
pub mod controller_health;
pub(crate) mod controller_watch;
pub(crate) mod datadir;
pub mod demo;
pub mod events;
pub(crate) mod failpoint;
pub(crate) mod health;
pub(crate) mod health_view;
pub mod metrics;
pub mod net;
pub mod omada;
pub(crate) mod outbox;
pub mod passphrase;
pub mod plume;
pub mod portal;
pub(crate) mod property;
pub mod secrets;
pub mod serve;
pub mod sim;
pub(crate) mod store;
pub(crate) mod tasks;
pub(crate) mod telemetry;
pub mod tz;
pub mod unit_health;
pub(crate) mod usecase;
pub(crate) mod vouchers;

/// Install rustls' `ring` crypto provider as the process default (idempotent). reqwest is
/// built without a provider of its own, so this must run before any HTTP client is built;
/// [`app::App::build`] and the simulators call it.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The internals `sidecar/tests` drive directly: body parsers and their error mapping, the
/// voucher code rules, the schema version, the fail point names. Not an API: nothing but the
/// tests uses it, and it may change with them.
#[doc(hidden)]
pub mod testing {
    pub use crate::api::error::{from_json_error, ApiError};
    pub use crate::api::wire::{UnitBody, VoucherBody, VoucherPatchBody};
    pub use crate::api::MAX_BODY;
    /// Cards and the print sheet, rendered to files by `guest_pages.rs`.
    pub mod card {
        pub use crate::card::{png_card, sheet, svg_card, CardInput};
    }
    pub use crate::failpoint::{ALL as FAILPOINTS, ENV as FAILPOINT_ENV};
    pub use crate::store::SCHEMA_VERSION;
    pub use crate::vouchers::code;
}
