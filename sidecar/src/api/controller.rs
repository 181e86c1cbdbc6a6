//! The controller's operations (issue 12b): the sites and SSIDs the unit form offers, the
//! hotspot operator made for the units' sites, the self-test over every unit's site,
//! reconciliation on demand, the outbox items that wait (and the host's discard), and the
//! host test code.

use std::borrow::Cow;

use http::StatusCode;
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::error::ApiError;
use super::wire::{
    HostTestOut, HostTestResultBody, OperatorBody, OperatorOut, OutboxItemOut, OutboxOut,
    ReconcileOut, SelfTestOut, SiteCheckOut, SiteOut, SitesOut, SsidOut,
};
use super::{created_or_ok, json_response, ok, Result};
use crate::app::AppState;
use crate::clock::rfc3339 as ts;
use crate::controller::{step_problem, ControllerError};
use crate::events::{CheckFailure, Event};
use crate::omada::{SiteAccess, StepKind, StepStatus};
use crate::serve::{read_body, Body};
use crate::usecase::host_test::{HostTestView, TEST_MINUTES};
use crate::usecase::outbox_ops::PendingItem;
use crate::usecase::sites::site_specs;
use crate::vouchers::model::{AccessMode, AuditAction};
use crate::vouchers::Ctx;

fn not_configured() -> ApiError {
    ApiError::from(ControllerError::NotConfigured)
}

/// `GET /api/v1/controller/sites`: every site the Open API app sees, with its SSIDs and
/// the units on it.
pub async fn sites(s: &AppState) -> Result<Response<Body>> {
    let units = s.units().await?;
    let sites = s.controller.sites_with_ssids().await?;
    ok(&SitesOut {
        sites: sites
            .into_iter()
            .map(|(site, ssids)| {
                let (ssids, ssids_error) = match ssids {
                    Ok(list) => (
                        list.into_iter()
                            .map(|x| SsidOut {
                                id: x.id,
                                name: x.name,
                                guest_network: x.guest_network,
                                open: x.open,
                            })
                            .collect(),
                        None,
                    ),
                    Err(e) => (Vec::new(), Some(e.to_string())),
                };
                SiteOut {
                    unit_ids: units
                        .iter()
                        .filter(|u| {
                            u.omada_site_id.as_deref() == Some(site.id.as_str())
                                || (u.omada_site_id.is_none()
                                    && u.omada_site.eq_ignore_ascii_case(&site.name))
                        })
                        .map(|u| u.unit_id.clone())
                        .collect(),
                    id: site.id,
                    name: site.name,
                    ssids,
                    ssids_error,
                }
            })
            .collect(),
    })
}

/// `POST /api/v1/controller/hotspot-operator`: make the sidecar's own hotspot operator for
/// the units' sites (Open API) and store its credentials.
pub async fn create_operator(
    s: &AppState,
    ctx: &Ctx,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let b: OperatorBody = optional_body(req).await?;
    if !s.controller.is_configured() {
        return Err(not_configured());
    }
    let units = s.units().await?;
    let mut site_ids: Vec<String> = Vec::new();
    for spec in site_specs(&units) {
        let site = s
            .controller
            .resolve_site(&spec.name, spec.id.as_deref())
            .await?;
        if !site_ids.contains(&site.id) {
            site_ids.push(site.id);
        }
    }
    if site_ids.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "no unit has a site yet: add the rental units first, then create the operator for their sites",
        ));
    }
    let name = b.name.as_deref().unwrap_or("rental-wifi");
    let (op, _) = s.controller.create_operator(name, &site_ids).await?;
    s.rentals
        .audit_settings(ctx, AuditAction::HotspotOperatorCreate)
        .await?;
    s.rentals.retry_waiting().await;
    let settings = s.controller.settings_redacted();
    created_or_ok(
        true,
        &OperatorOut {
            name: op.name,
            site_ids: op.site_ids,
            username: settings.as_ref().and_then(|x| x.username.clone()),
            mode: Cow::Borrowed(s.controller.status().mode.map(|m| m.as_str()).unwrap_or("")),
        },
    )
}

/// `POST /api/v1/settings/omada/check`: every set-up step over every unit's site, then the
/// PPSK check of every password-mode unit (issue 18 item 4: a `ppsk` step each, and the
/// full check in `password_checks`); the report, and `controller_check`.
pub async fn check(s: &AppState) -> Result<Response<Body>> {
    let units = s.units().await?;
    let mut report = s.controller.self_test(&site_specs(&units)).await?;
    let mut password_checks = Vec::new();
    for u in units
        .iter()
        .filter(|u| u.access.mode == AccessMode::Password)
    {
        match super::passwords::check_unit(s, u, true).await {
            Ok(c) => {
                report.add_ppsk(&u.unit_id, &u.omada_site, Ok(&c.readiness));
                password_checks.push(c);
            }
            Err(e) => report.add_ppsk(&u.unit_id, &u.omada_site, Err(e.message)),
        }
    }
    // A failed step before them is the problem already; else a failed PPSK check is.
    s.controller.note_password_check(
        report
            .first_failure()
            .filter(|f| f.step == StepKind::Ppsk)
            .map(step_problem),
    );
    let failed: Vec<CheckFailure> = report
        .steps
        .iter()
        .filter(|x| x.status == StepStatus::Fail)
        .map(|x| CheckFailure {
            step: serde_json::to_value(x.step)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            site: x.site.clone(),
            message: x.message.clone(),
            controller_message: x.controller_message.clone(),
        })
        .collect();
    s.events.publish(Event::ControllerCheck {
        ok: report.ok,
        steps: report.steps.len(),
        failed,
    });
    if report.ok {
        // Whatever waited may go through now.
        s.rentals.retry_waiting().await;
    }
    Ok(json_response(
        StatusCode::OK,
        &SelfTestOut {
            report,
            password_checks,
        },
    ))
}

/// `POST /api/v1/controller/reconcile`: reconcile now (also at start-up and daily).
pub async fn reconcile(s: &AppState) -> Result<Response<Body>> {
    if !s.controller.is_configured() {
        return Err(not_configured());
    }
    let r = s.rentals.reconcile_controller().await?;
    s.metrics.reconcile_ended.add(r.ended as u64);
    ok(&ReconcileOut {
        sites: r.sites,
        ended: r.ended,
        kept: r.kept,
        other_methods: r.other_methods,
        failed: r.failed,
    })
}

fn item_out(i: PendingItem) -> OutboxItemOut {
    OutboxItemOut {
        id: i.row.id,
        op: i.op.map(Cow::Borrowed),
        key: i.key,
        site: i.site,
        client_mac: i.client_mac,
        grant_id: i.grant_id,
        unit_id: i.unit_id,
        attempts: i.row.attempts,
        created_at: ts(i.row.created_at),
        next_attempt_at: ts(i.row.next_attempt_at),
        last_error: i.row.last_error,
        problem: i.row.problem,
        discarded_at: i.row.discarded_at.map(ts),
    }
}

/// `GET /api/v1/outbox`: the pending controller operations, oldest first.
pub async fn outbox(s: &AppState) -> Result<Response<Body>> {
    let items = s.rentals.pending_outbox().await?;
    ok(&OutboxOut {
        items: items.into_iter().map(item_out).collect(),
    })
}

/// `POST /api/v1/outbox/{id}/discard`: the host gives up on an item that can never succeed.
pub async fn discard(s: &AppState, ctx: &Ctx, id: &str) -> Result<Response<Body>> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("outbox item"))?;
    let item = s.rentals.discard_outbox(ctx, id).await?;
    ok(&item_out(item))
}

fn host_test_out(v: HostTestView) -> HostTestOut {
    HostTestOut {
        instructions: format!(
            "On your own phone, join a guest Wi-Fi of unit {:?}, wait for the sign-in page and enter {}. The phone is let in for {} seconds, then taken off; the result comes as a notification. The code works once, until {}.",
            v.unit_id,
            v.code,
            TEST_MINUTES * 60,
            v.valid_until.map(ts).unwrap_or_default()
        ),
        code: v.code,
        unit_id: v.unit_id,
        status: Cow::Borrowed(v.status.as_str()),
        created_at: ts(v.created_at),
        valid_until: v.valid_until.map(ts),
        seconds: TEST_MINUTES * 60,
        client_mac: v.client_mac,
        let_in_at: v.let_in_at.map(ts),
        revoke_at: v.revoke_at.map(ts),
        result: v.result.map(|r| HostTestResultBody {
            ok: r.ok,
            revoked_at: ts(r.revoked_at()),
            disconnected: r.disconnected,
            authorization_state: r.authorization_state,
            message: r.message,
        }),
    }
}

/// `POST /api/v1/units/{unit_id}/host-test`: a one-time host test code for the unit.
pub async fn create_host_test(s: &AppState, ctx: &Ctx, unit_id: &str) -> Result<Response<Body>> {
    if !s.controller.is_configured() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_configured",
            "the Omada controller is not configured: set it up before testing it",
        ));
    }
    let v = s.rentals.create_host_test(ctx, unit_id).await?;
    created_or_ok(true, &host_test_out(v))
}

/// `GET /api/v1/host-tests/{code}`.
pub async fn host_test(s: &AppState, code: &str) -> Result<Response<Body>> {
    ok(&host_test_out(s.rentals.host_test(code).await?))
}

/// The settings test's site checks, as the `PUT` answer shows them.
pub fn site_checks(
    specs: &[crate::omada::SiteSpec],
    results: Vec<std::result::Result<SiteAccess, String>>,
) -> Vec<SiteCheckOut> {
    specs
        .iter()
        .zip(results)
        .map(|(spec, r)| match r {
            Ok(a) => SiteCheckOut {
                site: spec.name.clone(),
                site_id: Some(a.site.id.clone()),
                ok: a.ok(),
                problems: a.problems(),
                controller_message: a
                    .checks
                    .iter()
                    .filter(|c| !c.ok)
                    .find_map(|c| c.controller_message.clone()),
            },
            Err(m) => SiteCheckOut {
                site: spec.name.clone(),
                site_id: spec.id.clone(),
                ok: false,
                problems: vec![m],
                controller_message: None,
            },
        })
        .collect()
}

/// A JSON body that may be empty (then the defaults).
async fn optional_body<T: serde::de::DeserializeOwned + Default>(
    req: Request<Incoming>,
) -> Result<T> {
    let (_, bytes) = read_body(req, super::MAX_BODY).await.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "request body could not be read",
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(super::error::from_json_error)
}
