//! Simulated TP-Link Omada controller and Plume cloud.
//!
//! The only test doubles in the project: written once, faithful to `reference/*.md`, and used
//! by the Rust tests, the Python tests (through the `demo`/`sim` commands), the demo and the
//! benchmarks alike. Each simulator is a real HTTP server on 127.0.0.1 with a control handle
//! to switch behaviours and to read what it received.

pub mod omada;
pub mod plume;
