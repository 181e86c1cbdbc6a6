//! `GET /api/v1/state`: the one snapshot Home Assistant polls (docs/api.md).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::dto::{ts, UnitOut, VoucherOut};
use super::error::ApiError;
use crate::app::AppState;

pub async fn build(state: &Arc<AppState>) -> Result<Value, ApiError> {
    let now = state.clock.now();
    let units = state.vouchers.list_units().await?;
    let live = state.vouchers.live_vouchers().await?;
    let grants = state.active_grant_counts().await?;
    let mut by_unit: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for v in &live {
        by_unit
            .entry(v.unit_id.as_str())
            .or_default()
            .push(serde_json::to_value(VoucherOut::new(v, now)).unwrap_or(Value::Null));
    }
    let total_grants: u64 = grants.values().sum();
    let mut unit_values = Vec::with_capacity(units.len());
    for u in &units {
        unit_values.push(json!({
            "unit": UnitOut::from(u),
            "vouchers": by_unit.remove(u.unit_id.as_str()).unwrap_or_default(),
            "active_grants": grants.get(&u.unit_id).copied().unwrap_or(0),
            "health": state.health_json(u, now),
        }));
    }
    Ok(json!({
        "instance_id": state.instance_id,
        "version": env!("CARGO_PKG_VERSION"),
        "generated_at": ts(now),
        "controller": state.controller_status_json().await,
        "plume": state.plume_status_json(),
        "totals": {"units": units.len(), "live_vouchers": live.len(), "active_grants": total_grants},
        "units": unit_values,
    }))
}
