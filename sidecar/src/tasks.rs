//! Background tasks that run beside the listeners until shutdown, each given the parts it
//! needs. None of them ticks: each sleeps until its next item is due (DESIGN §10 "Idle
//! cost") — the expiry timer until the next grant ends, the outbox worker until the next
//! item is due, the controller monitor, the reconciler and maintenance on their long periods, the Plume
//! poller and the controller health watcher on their intervals, the checkpointer every 2 s
//! at most.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::controller::Controller;
use crate::usecase::Rentals;

pub fn spawn_all(state: &Arc<AppState>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let rentals = state.rentals.clone();
    vec![
        tokio::spawn(maintenance(rentals.clone(), stop.clone())),
        tokio::spawn(rentals.store.clone().run_checkpointer(stop.clone())),
        tokio::spawn(rentals.clone().run_expiry(stop.clone())),
        tokio::spawn(crate::outbox::worker::run(rentals.clone(), stop.clone())),
        state.plume.spawn_poller(
            state.events.clone(),
            state.shutdown.clone(),
            on_health(state),
        ),
        state.controller_watch.spawn(
            state.controller.clone(),
            state.clock.clone(),
            on_health(state),
            stop.clone(),
        ),
        tokio::spawn(controller_monitor(
            state.controller.clone(),
            rentals.clone(),
            stop.clone(),
        )),
        tokio::spawn(reconciler(rentals, state.metrics.clone(), stop)),
    ]
}

/// What a health source calls after recording a unit: publish the combined colour.
fn on_health(state: &Arc<AppState>) -> crate::plume::HealthHook {
    let view = state.health.clone();
    Arc::new(move |unit_id: &str| view.publish(unit_id))
}

/// Reconciliation with the controller (issue 12b): shortly after start, then daily; after a
/// failure (controller down, not configured yet) again in ten minutes.
async fn reconciler(
    rentals: Arc<Rentals>,
    metrics: Arc<crate::metrics::Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut wait = Duration::from_secs(2);
    loop {
        tokio::select! {
            _ = stop.wait_for(|v| *v) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = if !rentals.controller.is_configured() {
            Duration::from_secs(600)
        } else {
            match rentals.reconcile_controller().await {
                Ok(r) if r.failed.is_empty() => {
                    metrics.reconcile_ended.add(r.ended as u64);
                    Duration::from_secs(24 * 3600)
                }
                Ok(r) => {
                    metrics.reconcile_ended.add(r.ended as u64);
                    Duration::from_secs(600)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reconciliation with the controller failed");
                    Duration::from_secs(600)
                }
            }
        };
    }
}

/// While the controller looks down, every 30 s, else every 5 minutes: check it, so
/// `controller_status` reflects reality between guest logins; then let the outbox try again.
async fn controller_monitor(
    controller: Arc<Controller>,
    rentals: Arc<Rentals>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let wait = if controller.is_configured() && !controller.connected() {
            Duration::from_secs(30)
        } else {
            Duration::from_secs(300)
        };
        tokio::select! {
            _ = stop.wait_for(|v| *v) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if controller.is_configured() {
            let _ = controller.probe().await;
            rentals.outbox_alarm.wake();
        }
    }
}

/// Hourly retention (audit rows, tombstones, finished outbox rows).
async fn maintenance(rentals: Arc<Rentals>, mut stop: watch::Receiver<bool>) {
    loop {
        match rentals.maintenance().await {
            Ok(n) if n > 0 => tracing::info!(rows = n, "retention pruned old rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention failed"),
        }
        tokio::select! {
            _ = stop.wait_for(|v| *v) => return,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}
