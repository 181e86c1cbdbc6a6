//! Wi-Fi passwords of password-mode units (issue 18): the dedicated, audited reads, the
//! device-bound keys, the controller's PPSK profiles for the unit form, and the set-up check.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/units/{unit_id}/password` | the unit's current password (booking in progress, else the next), audited |
//! | `GET /api/v1/vouchers/{code}/password` | a voucher's password and its device keys', audited |
//! | `POST /api/v1/vouchers/{code}/devices` | a password bound to one device (`mac`, `name`) |
//! | `POST /api/v1/units/{unit_id}/password/check` | the PPSK set-up check of the unit (`?write=false`: reads only) |
//! | `GET /api/v1/controller/sites/{site}/ppsk-profiles` | the site's PPSK profiles and their SSIDs |
//!
//! Passwords are shown here, in the `POST /api/v1/vouchers` answer and on the cards only;
//! every such read writes a `wifi_password.read` audit row (never the password).

use super::error::ApiError;
use super::wire::{DeviceKeyBody, DeviceKeyOut, PasswordOut, ProfilesOut, UnitCheckOut, WifiOut};
use super::{body, created_or_ok, ok, Query, Result};
use crate::app::AppState;
use crate::card::wifi::wpa_payload;
use crate::clock::rfc3339 as ts;
use crate::net::Mac;
use crate::passphrase::WifiPassword;
use crate::serve::Body;
use crate::usecase::passwords::{Reader, Shown};
use crate::vouchers::model::{AccessMode, Unit};
use crate::vouchers::password::{end, WifiKey};
use crate::vouchers::Ctx;
use http::StatusCode;
use hyper::body::Incoming;
use hyper::{Request, Response};

/// A password as the wire shows it.
pub fn wifi_out(unit: &Unit, key: &WifiKey, password: &WifiPassword) -> WifiOut {
    let ssid = unit.ssids.first().cloned();
    WifiOut {
        qr_payload: ssid.as_deref().map(|s| wpa_payload(s, password)),
        ssid,
        password: password.expose().to_owned(),
        key: key.key_name.clone(),
        mac: key.device_mac.map(|m| m.to_string()),
    }
}

fn password_out(unit_id: &str, shown: Option<Shown>) -> PasswordOut {
    match shown {
        None => PasswordOut {
            unit_id: unit_id.to_owned(),
            code: None,
            booking_ref: None,
            guest_name: None,
            valid_from: None,
            valid_until: None,
            on_controller: false,
            wifi: None,
            devices: Vec::new(),
        },
        Some(sh) => PasswordOut {
            unit_id: sh.unit.unit_id.clone(),
            code: Some(sh.voucher.code.clone()),
            booking_ref: sh.voucher.booking_ref.clone(),
            guest_name: sh.voucher.guest_name.clone(),
            valid_from: Some(ts(sh.voucher.valid_from)),
            valid_until: end(&sh.voucher).map(ts),
            on_controller: sh.key.live_since.is_some(),
            wifi: Some(wifi_out(&sh.unit, &sh.key, &sh.password)),
            devices: sh
                .devices
                .iter()
                .map(|(k, p)| wifi_out(&sh.unit, k, p))
                .collect(),
        },
    }
}

/// `GET /api/v1/units/{unit_id}/password`.
pub async fn unit(s: &AppState, ctx: &Ctx, unit_id: &str) -> Result<Response<Body>> {
    let shown = s
        .rentals
        .unit_password(ctx, unit_id, Reader::UnitRead)
        .await?;
    ok(&password_out(unit_id, shown))
}

/// `GET /api/v1/vouchers/{code}/password`.
pub async fn voucher(s: &AppState, ctx: &Ctx, code: &str) -> Result<Response<Body>> {
    match s
        .rentals
        .voucher_password(ctx, code, Reader::VoucherRead)
        .await?
    {
        Some(sh) => {
            let unit_id = sh.unit.unit_id.clone();
            ok(&password_out(&unit_id, Some(sh)))
        }
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_password_mode",
            "this voucher has no Wi-Fi password: its unit lets guests in through the portal",
        )),
    }
}

/// `POST /api/v1/vouchers/{code}/devices` on a password-mode unit: a password only the
/// device with this MAC can use (a TV stick with a fixed address), for the voucher's window.
/// The same MAC again answers the same password (200).
pub async fn device(
    s: &AppState,
    ctx: &Ctx,
    code: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let b: DeviceKeyBody = body(req).await?;
    let mac: Mac = b.mac.parse().map_err(|_| {
        ApiError::validation(Some("mac"), "mac must be a MAC address (AA-BB-CC-DD-EE-FF)")
    })?;
    let name = match b.name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) if n.chars().count() <= 64 && !n.chars().any(char::is_control) => {
            Some(n.to_owned())
        }
        Some(_) => {
            return Err(ApiError::validation(
                Some("name"),
                "name must be at most 64 characters",
            ))
        }
    };
    let (key, password, voucher, created) = s.rentals.device_key(ctx, code, mac, name).await?;
    let unit = s.rentals.get_unit(&voucher.unit_id).await?;
    created_or_ok(
        created,
        &DeviceKeyOut {
            code: voucher.code.clone(),
            unit_id: unit.unit_id.clone(),
            name: key.device_name.clone(),
            valid_from: ts(voucher.valid_from),
            valid_until: end(&voucher).map(ts),
            wifi: wifi_out(&unit, &key, &password),
        },
    )
}

/// Run the PPSK set-up check (issue 18 item 4) for `unit`'s site, profile and SSIDs: mode,
/// site, role, profile, SSID binding, profile expiry, and with `write` the write right and the
/// controller version's per-key calls (a probe key added and deleted; the placeholder added
/// when missing).
pub async fn check_unit(s: &AppState, unit: &Unit, write: bool) -> Result<UnitCheckOut> {
    let profile = unit.access.ppsk_profile_id.clone().ok_or_else(|| {
        ApiError::validation(Some("ppsk_profile_id"), "the unit names no PPSK profile")
    })?;
    let (site, ssids) = (unit.omada_site.clone(), unit.ssids.clone());
    let readiness = s
        .controller
        .ppsk(|c| async move { Ok(c.check_ppsk(&site, &profile, &ssids, write).await) })
        .await
        .map_err(|e| match e {
            crate::omada::PpskError::Omada(crate::omada::OmadaError::Misconfigured(m)) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_configured", m)
            }
            other => other.into(),
        })?;
    Ok(UnitCheckOut {
        unit_id: unit.unit_id.clone(),
        problem: readiness.problem().map(str::to_owned),
        readiness,
    })
}

/// `POST /api/v1/units/{unit_id}/password/check`.
pub async fn check(s: &AppState, unit_id: &str, req: &Request<Incoming>) -> Result<Response<Body>> {
    let write = Query::of(req)?.bool("write")?.unwrap_or(true);
    let unit = s.rentals.get_unit(unit_id).await?;
    if unit.access.mode != AccessMode::Password {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_password_mode",
            format!("unit {unit_id} is in portal mode: set access_mode to password (with ppsk_profile_id) first"),
        ));
    }
    ok(&check_unit(s, &unit, write).await?)
}

/// Before a unit is saved in password mode (new, or its mode, profile, site or SSIDs
/// changed): the check with its write probe must pass, else 422 `password_check_failed`
/// naming what is missing, with every item in `error.checks`. Skipped with
/// `?validate=false` (e.g. the controller is not reachable yet).
pub async fn check_before_save(
    s: &AppState,
    before: Option<&Unit>,
    after: &Unit,
    validate: bool,
) -> Result<()> {
    if !validate || after.access.mode != AccessMode::Password {
        return Ok(());
    }
    let unchanged = before.is_some_and(|b| {
        b.access == after.access
            && b.omada_site == after.omada_site
            && b.omada_site_id == after.omada_site_id
            && b.ssids == after.ssids
    });
    if unchanged {
        return Ok(());
    }
    let out = check_unit(s, after, true).await?;
    if out.readiness.ok {
        return Ok(());
    }
    let mut e = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "password_check_failed",
        format!(
            "password mode cannot work on this controller yet: {}",
            out.problem.as_deref().unwrap_or("a check failed")
        ),
    )
    .with_field("ppsk_profile_id");
    e.checks = serde_json::to_value(&out.readiness.checks).ok();
    Err(e)
}

/// The site's PPSK profiles (without RADIUS) with the SSIDs each serves: what the unit form
/// offers for `ppsk_profile_id`. `site` is a name or a 24-hex id.
pub async fn profiles(s: &AppState, site: &str) -> Result<Response<Body>> {
    if site.trim().is_empty() || site.len() > 64 {
        return Err(ApiError::not_found("site"));
    }
    let name = site.to_owned();
    let list = s
        .controller
        .ppsk(|c| async move { c.ppsk_profiles(&name).await })
        .await
        .map_err(|e| match e {
            crate::omada::PpskError::Omada(crate::omada::OmadaError::Misconfigured(m))
                if !s.controller.is_configured() =>
            {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_configured", m)
            }
            other => other.into(),
        })?;
    ok(&ProfilesOut {
        site: site.to_owned(),
        profiles: list,
    })
}

/// Each password-mode unit's check, after the controller settings were saved and tested.
pub async fn check_all(s: &AppState) -> Vec<UnitCheckOut> {
    let Ok(units) = s.rentals.list_units().await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for u in units
        .iter()
        .filter(|u| u.access.mode == AccessMode::Password)
    {
        match check_unit(s, u, true).await {
            Ok(c) => out.push(c),
            Err(e) => tracing::warn!(unit = %u.unit_id, code = e.code, "PPSK check could not run"),
        }
    }
    out
}
