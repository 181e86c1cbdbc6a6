//! Named fail points: the crash tests kill the process between two externally visible steps
//! of a use case (`sidecar/tests/failpoints.rs`).
//!
//! Compiled only into builds with debug assertions (`cargo build`, `cargo test`, the binary
//! `tests/run` uses): in a release build [`hit`] is an empty inline function and nothing of
//! this reaches the hot path. A debug process started with
//! `RENTAL_WIFI_FAILPOINT=<use case>.<stage>` (e.g. `voucher_revoke.after_commit`) writes
//! `failpoint <name> reached` to stderr when it gets there and kills itself with SIGKILL
//! (`kill -9`, so no destructor, flush or checkpoint runs; `abort()` if `kill` cannot be
//! run). Every use case has `<name>.before_commit` (its rows are written, the transaction is
//! not committed) and `<name>.after_commit` (committed, nothing published or answered); the
//! steps around a controller call have their own ([`ALL`] lists every one).

/// Every fail point, for the tests (each one must be reachable and killed at).
pub const ALL: &[&str] = &[
    "unit_create.before_commit",
    "unit_create.after_commit",
    "unit_patch.before_commit",
    "unit_patch.after_commit",
    "unit_delete.before_commit",
    "unit_delete.after_commit",
    "voucher_issue.before_commit",
    "voucher_issue.after_commit",
    "voucher_patch.before_commit",
    "voucher_patch.after_commit",
    "voucher_revoke.before_commit",
    "voucher_revoke.after_commit",
    "grant_revoke.before_commit",
    "grant_revoke.after_commit",
    "booking_put.before_commit",
    "booking_put.after_commit",
    "booking_delete.before_commit",
    "booking_delete.after_commit",
    "bookings_sync.before_commit",
    "bookings_sync.after_commit",
    "vanish_cancel.before_commit",
    "vanish_cancel.after_commit",
    "unit_revoke.before_commit",
    "unit_revoke.after_commit",
    "device_reserve.before_commit",
    "device_reserve.after_commit",
    "device.authorized",
    "device_confirm.before_commit",
    "device_confirm.after_commit",
    "device_release.before_commit",
    "device_release.after_commit",
    "redeem_reserve.before_commit",
    "redeem_reserve.after_commit",
    "redeem.authorized",
    "redeem_confirm.before_commit",
    "redeem_confirm.after_commit",
    "redeem_release.before_commit",
    "redeem_release.after_commit",
    "expiry.before_commit",
    "expiry.after_commit",
    "recovery.before_commit",
    "recovery.after_commit",
    "outbox.sent",
    "outbox_done.before_commit",
    "outbox_done.after_commit",
    "outbox_retry.before_commit",
    "outbox_retry.after_commit",
    "settings_audit.before_commit",
    "settings_audit.after_commit",
    "maintenance.before_commit",
    "maintenance.after_commit",
    "outbox_park.before_commit",
    "outbox_park.after_commit",
    "outbox_discard.before_commit",
    "outbox_discard.after_commit",
    "renewal.before_commit",
    "renewal.after_commit",
    "reconcile.before_commit",
    "reconcile.after_commit",
    "host_test_create.before_commit",
    "host_test_create.after_commit",
    "host_test_result.before_commit",
    "host_test_result.after_commit",
    "wifi_key_place.before_commit",
    "wifi_key_place.after_commit",
    "wifi_key.sent",
    "wifi_key_done.before_commit",
    "wifi_key_done.after_commit",
    "password_read.before_commit",
    "password_read.after_commit",
    "device_key.before_commit",
    "device_key.after_commit",
    "unit_logo.before_commit",
    "unit_logo.after_commit",
    "guest_disconnect.before_commit",
    "guest_disconnect.after_commit",
    "property_put.before_commit",
    "property_put.after_commit",
];

/// The environment variable that arms one fail point.
pub const ENV: &str = "RENTAL_WIFI_FAILPOINT";

/// Reached `<scope>.<stage>`: if that is the armed fail point, die here.
#[inline(always)]
pub fn hit(scope: &str, stage: &str) {
    #[cfg(debug_assertions)]
    armed::hit(scope, stage);
    #[cfg(not(debug_assertions))]
    let _ = (scope, stage);
}

#[cfg(debug_assertions)]
mod armed {
    use std::sync::OnceLock;

    fn armed() -> Option<&'static str> {
        static ARMED: OnceLock<Option<String>> = OnceLock::new();
        ARMED
            .get_or_init(|| std::env::var(super::ENV).ok().filter(|v| !v.is_empty()))
            .as_deref()
    }

    pub(super) fn hit(scope: &str, stage: &str) {
        let Some(point) = armed() else { return };
        let matches = point
            .strip_prefix(scope)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| rest == stage);
        if !matches {
            return;
        }
        eprintln!("failpoint {point} reached: killing the process");
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
        // `kill` should not return before the signal landed; should it, still die here.
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_scope_dot_stage() {
        let mut seen = std::collections::HashSet::new();
        for p in ALL {
            let (scope, stage) = p.split_once('.').expect("scope.stage");
            assert!(!scope.is_empty() && !stage.is_empty() && !stage.contains('.'));
            assert!(seen.insert(*p), "{p} twice");
        }
        // An unarmed process passes every point.
        for p in ALL {
            let (scope, stage) = p.split_once('.').unwrap();
            hit(scope, stage);
        }
    }
}
