//! `/api/v1/settings/omada`, `/api/v1/settings/plume` and `/api/v1/settings/property`. Reads mask every secret; writes
//! are tested against the controller / Plume before anything is stored, and audited
//! (without their content).

use http::StatusCode;
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::error::ApiError;
use super::wire::{
    ControllerCheckOut, OmadaSettingsOut, PlumeSettingsOut, PropertyBody, PropertyOut,
};
use super::{body, no_content, ok, Query, Result};
use crate::app::AppState;
use crate::serve::Body;
use crate::usecase::sites::site_specs;
use crate::vouchers::model::AuditAction;
use crate::vouchers::Ctx;

fn not_configured(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_configured",
        format!("{what} is not configured"),
    )
}

pub fn get_omada(s: &AppState) -> Result<Response<Body>> {
    match s.controller.settings_redacted() {
        Some(settings) => ok(&OmadaSettingsOut {
            settings,
            configured: true,
            check: None,
            password_checks: Vec::new(),
        }),
        None => Err(not_configured("the Omada controller")),
    }
}

pub async fn put_omada(s: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response<Body>> {
    let validate = Query::of(&req)?.bool("validate")?.unwrap_or(true);
    let settings: crate::omada::OmadaSettings = body(req).await?;
    let info = s.controller.put(settings, validate).await?;
    s.rentals
        .audit_settings(ctx, AuditAction::OmadaSettingsPut)
        .await?;
    let mut check: Option<ControllerCheckOut> = info.map(Into::into);
    if let Some(check) = &mut check {
        // Every unit's site: may these credentials use it? (A failure is the problem.)
        let specs = site_specs(&s.units().await?);
        let results = s.controller.check_sites(&specs).await;
        check.site_checks = super::controller::site_checks(&specs, results);
    }
    // The outbox may have been waiting for a controller, or for these settings; the units'
    // health is read with the new ones.
    s.rentals.retry_waiting().await;
    s.controller_watch.settings_changed();
    let settings = s
        .controller
        .settings_redacted()
        .ok_or_else(|| not_configured("the Omada controller"))?;
    // Password-mode units: can the new credentials read and write their PPSK profiles?
    let password_checks = if check.is_some() {
        super::passwords::check_all(s).await
    } else {
        Vec::new()
    };
    // A site that failed is the problem already; else a failed PPSK check is.
    s.controller
        .note_password_check(password_checks.iter().find(|c| !c.readiness.ok).map(|c| {
            format!(
                "The PPSK check of unit {:?} (password mode) failed: {}",
                c.unit_id,
                c.problem.as_deref().unwrap_or("a check failed")
            )
        }));
    ok(&OmadaSettingsOut {
        settings,
        configured: true,
        check,
        password_checks,
    })
}

pub async fn delete_omada(s: &AppState, ctx: &Ctx) -> Result<Response<Body>> {
    s.controller.delete().await?;
    s.controller_watch.settings_changed();
    s.rentals
        .audit_settings(ctx, AuditAction::OmadaSettingsDelete)
        .await?;
    no_content()
}

pub fn get_plume(s: &AppState) -> Result<Response<Body>> {
    match s.plume.settings() {
        Some(settings) => ok(&PlumeSettingsOut::from(&settings)),
        None => Err(not_configured("Plume")),
    }
}

pub async fn put_plume(s: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response<Body>> {
    let settings: crate::plume::PlumeSettings = body(req).await?;
    s.plume.put(settings).await?;
    s.rentals
        .audit_settings(ctx, AuditAction::PlumeSettingsPut)
        .await?;
    let settings = s.plume.settings().ok_or_else(|| not_configured("Plume"))?;
    ok(&PlumeSettingsOut::from(&settings))
}

pub async fn delete_plume(s: &AppState, ctx: &Ctx) -> Result<Response<Body>> {
    s.plume.delete().await?;
    s.rentals
        .audit_settings(ctx, AuditAction::PlumeSettingsDelete)
        .await?;
    no_content()
}

pub fn get_property(s: &AppState) -> Result<Response<Body>> {
    ok(&PropertyOut {
        time_zone: s.property.time_zone().map(|z| z.name().to_owned()),
    })
}

/// Set (or, with `null`, unset) the property's time zone; an unknown name changes nothing.
pub async fn put_property(
    s: &AppState,
    ctx: &Ctx,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let b: PropertyBody = body(req).await?;
    let zone = match b.time_zone {
        None => {
            return Err(ApiError::validation(
                Some("time_zone"),
                "time_zone is required (an IANA name such as Europe/Berlin, or null for UTC)",
            ))
        }
        Some(None) => None,
        Some(Some(name)) if name.trim().is_empty() => None,
        Some(Some(name)) => Some(
            crate::tz::Zone::parse(&name)
                .map_err(|e| ApiError::validation(Some("time_zone"), format!("time_zone: {e}")))?,
        ),
    };
    s.rentals.set_property(ctx, zone.as_ref()).await?;
    s.property.replace(zone);
    get_property(s)
}
