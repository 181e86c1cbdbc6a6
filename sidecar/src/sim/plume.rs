//! Simulated Plume cloud.
