//! The latest health per unit, shared between the poller (writer) and the API (readers).
//!
//! Staleness is computed when a report is read, not when it is written, so a poller that
//! stopped (outage, crash of its task) can never leave a green report behind: after 3 poll
//! intervals without an answer from Plume a unit reads `unknown`, `stale: true`, with
//! "No data from Plume for N minutes" followed by the last known reasons.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::{HealthReport, HealthStatus};

/// Missed intervals after which a report is stale (DESIGN §6).
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// Plume connectivity, for `GET /api/v1/state` → `plume`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlumeStatus {
    pub configured: bool,
    pub connected: bool,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_poll_at: Option<OffsetDateTime>,
}

/// Cheap to clone; clones share the data.
#[derive(Clone, Default)]
pub struct HealthBoard {
    inner: Arc<RwLock<State>>,
}

#[derive(Default)]
struct State {
    status: PlumeStatus,
    interval: Option<Duration>,
    units: HashMap<String, Entry>,
}

struct Entry {
    /// Last evaluated report (with `updated_at` = when it was read from Plume).
    report: Option<HealthReport>,
    /// Since when the poller is tracking this unit.
    since: OffsetDateTime,
    /// Why the last attempt failed, when it did.
    last_error: Option<String>,
}

impl HealthBoard {
    pub fn new() -> Self {
        Self::default()
    }

    /// The health of `unit_id` as of `now`.
    pub fn get(&self, unit_id: &str, now: OffsetDateTime) -> HealthReport {
        let state = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if !state.status.configured {
            return HealthReport::unknown("Plume is not configured");
        }
        let Some(entry) = state.units.get(unit_id) else {
            return HealthReport::unknown("Unit has no Plume location");
        };
        let interval = state.interval.unwrap_or(Duration::from_secs(60));
        let stale_after = interval * STALE_AFTER_INTERVALS;
        let Some(report) = entry.report.as_ref() else {
            let waited = (now - entry.since).unsigned_abs();
            let mut r = HealthReport::unknown(match &entry.last_error {
                Some(_) if waited > stale_after => {
                    format!("No data from Plume for {}", minutes(waited))
                }
                _ => "Waiting for the first poll of Plume".to_string(),
            });
            if let Some(e) = &entry.last_error {
                r.reasons.push(e.clone());
            }
            r.stale = waited > stale_after;
            return r;
        };
        let mut r = report.clone();
        let age = report
            .updated_at
            .map(|t| (now - t).unsigned_abs())
            .unwrap_or(Duration::MAX);
        if age > stale_after {
            r.stale = true;
            r.status = HealthStatus::Unknown;
            let mut reasons = vec![format!("No data from Plume for {}", minutes(age))];
            if let Some(e) = &entry.last_error {
                reasons.push(e.clone());
            }
            reasons.append(&mut r.reasons);
            r.reasons = reasons;
        }
        r
    }

    /// Plume connectivity for the state snapshot.
    pub fn status(&self) -> PlumeStatus {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .status
            .clone()
    }

    /// Unit ids the poller currently tracks.
    pub fn unit_ids(&self) -> Vec<String> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .units
            .keys()
            .cloned()
            .collect()
    }

    // ---- writer side (the poller) ----

    pub(crate) fn set_configured(&self, configured: bool, interval: Option<Duration>) {
        let mut state = self.inner.write().unwrap_or_else(|e| e.into_inner());
        state.status.configured = configured;
        state.interval = interval;
        if !configured {
            state.status.connected = false;
            state.units.clear();
        }
    }

    /// Track exactly these units (new ones start empty, removed ones are forgotten).
    pub(crate) fn retain_units(&self, ids: &[String], now: OffsetDateTime) {
        let mut state = self.inner.write().unwrap_or_else(|e| e.into_inner());
        state.units.retain(|k, _| ids.contains(k));
        for id in ids {
            state.units.entry(id.clone()).or_insert(Entry {
                report: None,
                since: now,
                last_error: None,
            });
        }
    }

    /// Drop what is known about a unit whose Plume location changed.
    pub(crate) fn reset_unit(&self, id: &str, now: OffsetDateTime) {
        let mut state = self.inner.write().unwrap_or_else(|e| e.into_inner());
        state.units.insert(
            id.to_string(),
            Entry {
                report: None,
                since: now,
                last_error: None,
            },
        );
    }

    pub(crate) fn record_report(&self, id: &str, mut report: HealthReport, now: OffsetDateTime) {
        report.updated_at = Some(now);
        report.stale = false;
        let mut state = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = state.units.get_mut(id) {
            e.report = Some(report);
            e.last_error = None;
        }
    }

    pub(crate) fn record_error(&self, id: &str, error: String) {
        let mut state = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = state.units.get_mut(id) {
            e.last_error = Some(error);
        }
    }

    /// Returns the previous `(connected, last_error)`.
    pub(crate) fn set_connectivity(
        &self,
        connected: bool,
        last_error: Option<String>,
        at: OffsetDateTime,
    ) -> (bool, Option<String>) {
        let mut state = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let prev = (state.status.connected, state.status.last_error.clone());
        state.status.connected = connected;
        state.status.last_error = last_error;
        state.status.last_poll_at = Some(at);
        prev
    }
}

fn minutes(d: Duration) -> String {
    let n = d.as_secs().div_ceil(60).max(1);
    if n == 1 {
        "1 minute".into()
    } else {
        format!("{n} minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn green() -> HealthReport {
        let mut r = HealthReport::unknown("x");
        r.status = HealthStatus::Green;
        r.reasons.clear();
        r
    }

    #[test]
    fn plume_board_goes_stale_after_three_intervals_and_is_never_green() {
        let board = HealthBoard::new();
        let t0 = OffsetDateTime::now_utc();
        assert_eq!(board.get("u", t0).reasons, vec!["Plume is not configured"]);
        board.set_configured(true, Some(Duration::from_secs(60)));
        assert_eq!(
            board.get("u", t0).reasons,
            vec!["Unit has no Plume location"]
        );
        board.retain_units(&["u".into()], t0);
        assert_eq!(board.get("u", t0).status, HealthStatus::Unknown);
        board.record_report("u", green(), t0);
        let at = |s: i64| t0 + time::Duration::seconds(s);
        assert_eq!(board.get("u", at(180)).status, HealthStatus::Green);
        assert!(!board.get("u", at(180)).stale);
        board.record_error("u", "Plume unreachable: connection failed".into());
        let r = board.get("u", at(181));
        assert!(r.stale);
        assert_eq!(r.status, HealthStatus::Unknown);
        assert_eq!(
            r.reasons,
            vec![
                "No data from Plume for 4 minutes",
                "Plume unreachable: connection failed"
            ]
        );
        assert_eq!(r.updated_at, Some(t0));
    }

    #[test]
    fn plume_board_never_polled_unit_goes_stale_too() {
        let board = HealthBoard::new();
        let t0 = OffsetDateTime::now_utc();
        board.set_configured(true, Some(Duration::from_secs(1)));
        board.retain_units(&["u".into()], t0);
        board.record_error("u", "Plume rate limit reached (403)".into());
        let r = board.get("u", t0 + time::Duration::seconds(4));
        assert!(r.stale);
        assert_eq!(
            r.reasons,
            vec![
                "No data from Plume for 1 minute",
                "Plume rate limit reached (403)"
            ]
        );
    }
}
