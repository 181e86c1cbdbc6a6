//! Background tasks that run beside the listeners until shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::store::rows;

/// How long audit rows are kept.
pub const AUDIT_RETENTION_DAYS: i64 = 180;

pub fn spawn_all(state: Arc<AppState>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(audit_retention(state.clone(), stop.clone())),
        tokio::spawn(state.store.clone().run_checkpointer(stop.clone())),
        tokio::spawn(state.grants.clone().run(stop.clone())),
        state
            .plume
            .spawn_poller(state.events.clone(), state.shutdown.clone()),
        tokio::spawn(controller_monitor(state, stop)),
    ]
}

/// While the outbox has work and the controller looks down, or every 5 minutes otherwise,
/// check the controller so `controller_status` reflects reality between guest logins.
async fn controller_monitor(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    loop {
        let wait = if state.controller.is_configured() && !state.controller.connected() {
            Duration::from_secs(30)
        } else {
            Duration::from_secs(300)
        };
        tokio::select! {
            _ = stop.wait_for(|v| *v) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if state.controller.is_configured() {
            let _ = state.controller.probe().await;
            state.grants.wake();
        }
    }
}

async fn audit_retention(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    loop {
        let cutoff = state.clock.now() - time::Duration::days(AUDIT_RETENTION_DAYS);
        match state
            .store
            .write(move |tx| rows::audit_prune(tx, cutoff))
            .await
        {
            Ok(n) if n > 0 => tracing::info!(rows = n, "audit retention pruned old rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "audit retention failed"),
        }
        tokio::select! {
            _ = stop.wait_for(|v| *v) => return,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}
