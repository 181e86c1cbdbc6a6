//! `GET /api/v1/info`, `GET /api/v1/state` (the one snapshot Home Assistant polls) and
//! `GET /metrics`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use http::header;
use hyper::Response;

use super::wire::{
    ControllerStatusOut, GuestChecksStateOut, HealthOut, InfoOut, PlumeStatusOut, StateOut,
    TotalsOut, UnitOut, UnitStateOut, VanishedBookingOut, VoucherOut, WifiPasswordStateOut,
};
use super::{ok, Result};
use crate::app::AppState;
use crate::portal::identity::MISMATCH_RECENT;
use crate::serve::{full, Body};
use crate::vouchers::guest_checks::{short_codes_live, short_codes_weak};
use crate::vouchers::model::{AccessMode, Unit};

pub fn info(s: &AppState) -> Result<Response<Body>> {
    ok(&InfoOut {
        name: Cow::Borrowed("rental-wifi-sidecar"),
        version: Cow::Borrowed(env!("CARGO_PKG_VERSION")),
        instance_id: s.instance_id.clone(),
        api_version: 1,
    })
}

pub async fn snapshot(s: &AppState) -> Result<Response<Body>> {
    let now = s.clock.now();
    let units = s.rentals.list_units().await?;
    let live = s.rentals.live_vouchers().await?;
    let grants = s.rentals.active_grant_counts().await?;
    let outbox = s.rentals.outbox_summary().await.unwrap_or_default();
    // A host test code is not a guest's voucher: it stays out of the units' voucher lists.
    let tests = s.rentals.live_host_test_codes().await.unwrap_or_default();
    let live: Vec<_> = live
        .into_iter()
        .filter(|v| !tests.contains(&v.code))
        .collect();
    let mut passwords = s.rentals.current_passwords().await?;
    let vanished = s.rentals.vanished_bookings().await?;
    let short_codes = short_codes_live(&live, &s.rentals.short_booking_codes().await?);
    let mut by_unit: BTreeMap<&str, Vec<VoucherOut>> = BTreeMap::new();
    for v in &live {
        by_unit
            .entry(v.unit_id.as_str())
            .or_default()
            .push(VoucherOut::new(v, now));
    }
    let total_grants: u64 = grants.values().sum();
    let mut live_by_unit: BTreeMap<&str, Vec<crate::vouchers::model::Voucher>> = BTreeMap::new();
    for v in &live {
        live_by_unit
            .entry(v.unit_id.as_str())
            .or_default()
            .push(v.clone());
    }
    let unit_states = units
        .iter()
        .map(|u| UnitStateOut {
            unit: UnitOut::from(u),
            vouchers: by_unit.remove(u.unit_id.as_str()).unwrap_or_default(),
            active_grants: grants.get(&u.unit_id).copied().unwrap_or(0),
            health: HealthOut::new(&u.unit_id, s.health.unit(&u.unit_id)),
            network: super::network::summary(s, &u.unit_id),
            current_voucher: live_by_unit
                .get(u.unit_id.as_str())
                .and_then(|vs| crate::vouchers::cards::current(vs, now))
                .map(|v| v.code.clone()),
            wifi_password: passwords
                .remove(&u.unit_id)
                .map(|c| WifiPasswordStateOut::new(&c.voucher, c.on_controller)),
            vanished_bookings: vanished
                .iter()
                .filter(|b| b.unit_id == u.unit_id)
                .map(VanishedBookingOut::from)
                .collect(),
            guest_checks: guest_checks_state(s, u, &short_codes, now),
        })
        .collect();
    ok(&StateOut {
        instance_id: s.instance_id.clone(),
        version: Cow::Borrowed(env!("CARGO_PKG_VERSION")),
        generated_at: crate::clock::rfc3339(now),
        controller: ControllerStatusOut::new(s.controller.status(), &outbox),
        plume: PlumeStatusOut::from(s.plume.status()),
        totals: TotalsOut {
            units: units.len(),
            live_vouchers: live.len(),
            active_grants: total_grants,
        },
        units: unit_states,
    })
}

/// A unit's [`GuestChecksStateOut`]: its live short codes, the limiter's and the portal's view.
fn guest_checks_state(
    s: &AppState,
    u: &Unit,
    short_codes: &HashMap<String, u32>,
    now: time::OffsetDateTime,
) -> GuestChecksStateOut {
    // A password-mode unit's codes let nobody in on the portal (issue 18): none to guess.
    let n = match u.access.mode {
        AccessMode::Password => 0,
        AccessMode::Portal => short_codes.get(&u.unit_id).copied().unwrap_or(0),
    };
    let seen = s.who.mismatches(&u.unit_id);
    GuestChecksStateOut {
        short_codes: n,
        short_codes_weak: short_codes_weak(&u.guest_checks, n),
        short_codes_paused: s
            .limiter
            .short_codes_paused(&u.unit_id, std::time::Instant::now()),
        address_mismatches: seen.count,
        last_address_mismatch_at: seen.last_at.map(crate::clock::rfc3339),
        address_mismatch_recent: !u.guest_checks.address_translation
            && seen.last_at.is_some_and(|t| now - t < MISMATCH_RECENT),
    }
}

pub async fn metrics(s: &AppState) -> Result<Response<Body>> {
    // Gauges whose truth is in the database are read at scrape time, not kept up to date
    // by a background tick.
    if let Ok((pending, active, waiting)) = s.rentals.gauges().await {
        s.metrics.outbox_depth.set(pending);
        s.metrics.active_grants.set(active);
        s.metrics.outbox_waiting.set(waiting);
    }
    s.metrics
        .plume_token_refreshes
        .set_total(s.plume.tokens.minted());
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(full(s.metrics.render()))
        .expect("static response parts"))
}
