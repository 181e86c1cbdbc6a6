//! A unit's health as the API shows it (DESIGN §6): Plume's report and the controller's,
//! combined by [`crate::unit_health::combine`] — the colour is the worse of the two, each reason
//! says its source — and the one place `health_changed` is published for that combined colour.
//!
//! Which sources count for a unit: Plume when it is configured and the unit has a Plume
//! location; the controller when it can read devices (Open API credentials) and the unit names
//! access points or SSIDs. A source that does not apply is left out rather than counted as
//! `unknown`, so a host without Plume sees the controller's colour, and a host whose controller
//! has no Open API app keeps Plume's. When neither applies, the unit is `unknown` and each
//! source says why (what to set up).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::Clock;
use crate::controller_watch::ControllerBoard;
use crate::events::{Event, EventBus};
use crate::plume::HealthBoard;
use crate::unit_health::{combine, HealthReport, HealthStatus};

pub(crate) struct HealthView {
    plume: HealthBoard,
    controller: ControllerBoard,
    clock: Clock,
    events: EventBus,
    /// unit → the colour last published in `health_changed`.
    published: Mutex<HashMap<String, HealthStatus>>,
}

impl HealthView {
    pub(crate) fn new(
        plume: HealthBoard,
        controller: ControllerBoard,
        clock: Clock,
        events: EventBus,
    ) -> HealthView {
        HealthView {
            plume,
            controller,
            clock,
            events,
            published: Mutex::new(HashMap::new()),
        }
    }

    /// The unit's health now, from every source that reports on it.
    pub(crate) fn unit(&self, unit_id: &str) -> HealthReport {
        let now = self.clock.now();
        let mut parts = Vec::with_capacity(2);
        if self.plume.tracks(unit_id) {
            parts.push(self.plume.get(unit_id, now));
        }
        if self.controller.applies(unit_id) {
            parts.push(self.controller.get(unit_id, now));
        }
        if parts.is_empty() {
            // Nothing reports: each source says why.
            parts.push(self.plume.get(unit_id, now));
            parts.push(self.controller.get(unit_id, now));
        }
        combine(&parts)
    }

    /// A source recorded something about `unit_id`: publish `health_changed` when the
    /// combined colour differs from the one last published.
    pub(crate) fn publish(&self, unit_id: &str) {
        let report = self.unit(unit_id);
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        let previous = published
            .get(unit_id)
            .copied()
            .unwrap_or(HealthStatus::Unknown);
        if report.status != previous {
            self.events.publish(Event::HealthChanged {
                unit_id: unit_id.to_owned(),
                status: report.status,
                previous,
                reasons: report.reasons,
            });
            published.insert(unit_id.to_owned(), report.status);
        }
    }

    /// Forget the units that no longer exist.
    pub(crate) fn retain(&self, unit_ids: &[String]) {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| unit_ids.contains(k));
    }
}
