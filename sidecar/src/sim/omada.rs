//! Simulated Omada controller.
