//! The controller self-test: every set-up step a host's installation needs, run against the
//! host's own controller, each reported with pass / fail / skip, a sentence that says what to
//! change (which site, which role, which setting, with the controller's menu names) and the
//! controller's own message (issue 12 item 11; `docs/omada-setup.md` explains each step).
//!
//! Steps, in order: `tls` (HTTPS only: the certificate shown and whether it is trusted),
//! `discovery` (`/api/info`, the controller id), `login` (operator and/or Open API token),
//! then per site `site` (its id), `permissions` (the credentials may use it) and
//! `portal_timeout` (Open API mode: the portal's Authentication Timeout bounds every grant).
//! A step that cannot run because an earlier one failed is `skip`ped, saying which.
//! Then, added by the caller that knows the units, one `ppsk` step per password-mode unit
//! (issue 18 item 4: its PPSK profile can be read and written; [`SelfTestReport::add_ppsk`]).

use serde::Serialize;
use tokio::time::Instant;

use super::ppsk::CheckStatus;
use super::{
    CertificateInfo, OmadaClient, OmadaError, PpskReadiness, ResolvedMode, SiteInfo, TlsTrust,
};

/// Which set-up step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Tls,
    Discovery,
    Login,
    Site,
    Permissions,
    PortalTimeout,
    /// A password-mode unit's PPSK set-up check (issue 18).
    Ppsk,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pass,
    Fail,
    Skip,
}

/// One step's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step: StepKind,
    /// `hotspot` / `openapi` for steps that concern one API.
    pub api: Option<&'static str>,
    /// The site (as given) for per-site steps.
    pub site: Option<String>,
    pub status: StepStatus,
    /// What was found, and for a failure what to change.
    pub message: String,
    /// The controller's own words (errorCode and message), when it gave any.
    pub controller_message: Option<String>,
    /// `tls` step: the certificate the controller showed.
    pub certificate: Option<CertificateInfo>,
}

/// A site to check: its name (as the unit has it) and, when known, its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SiteSpec {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
}

/// Every step, in order. `ok` is true when no step failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SelfTestReport {
    pub ok: bool,
    pub mode: ResolvedMode,
    pub controller_id: Option<String>,
    pub controller_version: Option<String>,
    pub steps: Vec<Step>,
}

impl SelfTestReport {
    /// The first failed step.
    pub fn first_failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.status == StepStatus::Fail)
    }

    /// Add the PPSK set-up check of password-mode unit `unit_id` on `site` as a `ppsk` step
    /// (`Err`: the check could not run, and why); `ok` follows.
    pub fn add_ppsk(&mut self, unit_id: &str, site: &str, check: Result<&PpskReadiness, String>) {
        let mut s = Step {
            api: Some("openapi"),
            site: Some(site.to_owned()),
            ..step(StepKind::Ppsk, StepStatus::Pass, String::new())
        };
        match check {
            Ok(r) if r.ok => {
                let profile = r
                    .profile
                    .as_ref()
                    .map(|p| format!("PPSK profile {:?} ({})", p.name, p.id))
                    .unwrap_or_else(|| "its PPSK profile".into());
                s.message = format!(
                    "unit {unit_id:?} (password mode): {profile} can be read{}",
                    if r.write_checked { " and written" } else { "" }
                );
            }
            Ok(r) => {
                let failed = r.checks.iter().find(|c| c.status == CheckStatus::Fail);
                s.status = StepStatus::Fail;
                s.message = format!(
                    "unit {unit_id:?} (password mode): {}",
                    r.problem().unwrap_or("a PPSK check failed")
                );
                s.controller_message = failed.and_then(|c| c.controller_message.clone());
            }
            Err(why) => {
                s.status = StepStatus::Fail;
                s.message = format!("unit {unit_id:?} (password mode): {why}");
            }
        }
        self.ok &= s.status != StepStatus::Fail;
        self.steps.push(s);
    }

    /// Plain text, one line per step (for the CLI and logs).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            let mark = match s.status {
                StepStatus::Pass => "PASS",
                StepStatus::Fail => "FAIL",
                StepStatus::Skip => "skip",
            };
            let step = serde_json::to_value(s.step)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let mut line = format!("{mark}  {step}");
            if let Some(api) = s.api {
                line.push_str(&format!(" [{api}]"));
            }
            if let Some(site) = &s.site {
                line.push_str(&format!(" (site {site:?})"));
            }
            line.push_str(&format!(": {}", s.message));
            if let Some(c) = &s.controller_message {
                line.push_str(&format!(" — controller: {c}"));
            }
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(if self.ok {
            "controller check passed\n"
        } else {
            "controller check FAILED\n"
        });
        out
    }
}

fn step(kind: StepKind, status: StepStatus, message: impl Into<String>) -> Step {
    Step {
        step: kind,
        api: None,
        site: None,
        status,
        message: message.into(),
        controller_message: None,
        certificate: None,
    }
}

fn failed(kind: StepKind, message: impl Into<String>, e: &OmadaError) -> Step {
    Step {
        controller_message: Some(e.controller_message().unwrap_or_else(|| e.to_string())),
        ..step(kind, StepStatus::Fail, message)
    }
}

pub(crate) async fn run(client: &OmadaClient, sites: &[SiteSpec]) -> SelfTestReport {
    let inner = &client.inner;
    let c = &inner.common;
    let mut steps = Vec::new();
    let deadline = || Instant::now() + c.policy.deadline;

    // 1. TLS and discovery: both come from /api/info.
    let info = c.api_info(deadline()).await;
    let https = c.base.scheme() == "https";
    let tls_failed = matches!(
        &info,
        Err(OmadaError::TlsUntrusted { .. } | OmadaError::Tls(_))
    );
    if https {
        let cert = c.certificate();
        let s = match &info {
            Err(e @ OmadaError::TlsUntrusted { .. }) => {
                let advice = e
                    .certificate()
                    .map(|c| c.advice())
                    .unwrap_or_else(|| "the controller's certificate is not trusted".into());
                Step {
                    certificate: e.certificate().cloned(),
                    ..failed(StepKind::Tls, advice, e)
                }
            }
            Err(e @ OmadaError::Tls(_)) => failed(
                StepKind::Tls,
                "the TLS handshake with the controller failed before any certificate was checked: check the controller URL and port (8043 on a software controller, 443 on an OC200/OC300)",
                e,
            ),
            _ => {
                let how = match inner.trust {
                    TlsTrust::Pinned => "matches the pinned SHA-256",
                    TlsTrust::Verified => "is trusted (verified with its name)",
                    TlsTrust::Disabled => {
                        "is NOT checked (verify_tls = false): pin it with cert_sha256 instead"
                    }
                };
                let what = cert
                    .as_ref()
                    .map(|c| {
                        if c.factory_default {
                            format!("TP-Link's factory certificate ({}, SHA-256 {})", c.subject, c.sha256)
                        } else {
                            format!("{} (SHA-256 {})", c.subject, c.sha256)
                        }
                    })
                    .unwrap_or_else(|| "the certificate".into());
                Step {
                    certificate: cert.clone(),
                    ..step(StepKind::Tls, StepStatus::Pass, format!("{what} {how}"))
                }
            }
        };
        steps.push(s);
    }
    let mut controller_id = None;
    let mut controller_version = None;
    match &info {
        Ok(i) => {
            controller_version = i.version.clone();
            match &c.configured_id {
                Some(conf) if !conf.eq_ignore_ascii_case(&i.controller_id) => {
                    steps.push(step(
                        StepKind::Discovery,
                        StepStatus::Fail,
                        format!(
                            "the controller reports ID {} but the settings say {conf}: leave the controller ID empty to use the reported one",
                            i.controller_id
                        ),
                    ));
                }
                _ => {
                    controller_id = Some(i.controller_id.clone());
                    *c.discovered.lock().await = Some(i.controller_id.clone());
                    steps.push(step(
                        StepKind::Discovery,
                        StepStatus::Pass,
                        format!(
                            "Omada controller {} answers with ID {}",
                            i.version.as_deref().unwrap_or("(version not given)"),
                            i.controller_id
                        ),
                    ));
                }
            }
        }
        Err(_) if tls_failed => steps.push(step(
            StepKind::Discovery,
            StepStatus::Skip,
            "not tried: the TLS step failed",
        )),
        Err(e @ (OmadaError::Protocol(_) | OmadaError::Rejected { .. }))
            if c.configured_id.is_some() =>
        {
            controller_id = c.configured_id.clone();
            steps.push(Step {
                controller_message: Some(e.controller_message().unwrap_or_else(|| e.to_string())),
                ..step(
                    StepKind::Discovery,
                    StepStatus::Pass,
                    "the controller did not answer /api/info (usual behind cloud hosts and proxies); using the configured controller ID",
                )
            });
        }
        Err(e) => steps.push(failed(
            StepKind::Discovery,
            "the controller URL does not answer like an Omada controller 5.0.15 or newer: check the URL (https://<controller>:8043 for a software controller, https://<controller> for an OC200/OC300)",
            e,
        )),
    }
    let Some(_) = controller_id else {
        steps.push(step(
            StepKind::Login,
            StepStatus::Skip,
            "not tried: the controller was not found",
        ));
        return finish(client, None, controller_version, steps);
    };

    // 2. Logins.
    let mut logged_in = false;
    if let (Some(h), Some(op)) = (&inner.hotspot, client.operator_name()) {
        let s = match h.fresh_login(c, deadline()).await {
            Ok(()) => {
                logged_in = true;
                step(
                    StepKind::Login,
                    StepStatus::Pass,
                    format!("hotspot operator {op:?} logged in"),
                )
            }
            Err(e) => failed(
                StepKind::Login,
                format!(
                    "hotspot operator {op:?} could not log in: check its name and password under Hotspot › Operators (an operator of the Hotspot Manager, not the controller's admin account)"
                ),
                &e,
            ),
        };
        steps.push(Step {
            api: Some("hotspot"),
            ..s
        });
    }
    if let Some(o) = &inner.openapi {
        let s = match o.mint(c, deadline()).await {
            Ok(_) => {
                logged_in = true;
                step(
                    StepKind::Login,
                    StepStatus::Pass,
                    "the Open API app got an access token",
                )
            }
            Err(e) => failed(
                StepKind::Login,
                "the Open API app got no access token: check its client ID and secret under Settings › Platform Integration › Open API; the app must be in Client mode",
                &e,
            ),
        };
        steps.push(Step {
            api: Some("openapi"),
            ..s
        });
    }
    if !logged_in {
        steps.push(step(
            StepKind::Site,
            StepStatus::Skip,
            "not tried: no login succeeded",
        ));
        return finish(client, controller_id, controller_version, steps);
    }

    // 3. Each site.
    if sites.is_empty() {
        steps.push(step(
            StepKind::Site,
            StepStatus::Skip,
            "no unit sites to check yet: add a unit and run the check again",
        ));
    }
    for spec in sites {
        let given = spec.name.clone();
        let per_site = |s: Step| Step {
            site: Some(given.clone()),
            ..s
        };
        if let Some(id) = spec.id.as_deref().filter(|i| !i.trim().is_empty()) {
            client.remember_site(&spec.name, id.trim());
        }
        let site: SiteInfo = match client.resolve_site(&spec.name).await {
            Ok(site) => {
                steps.push(per_site(step(
                    StepKind::Site,
                    StepStatus::Pass,
                    format!("site {:?} has the id {}", spec.name, site.id),
                )));
                site
            }
            Err(e) => {
                let msg = match &e {
                    OmadaError::Misconfigured(m) => m.clone(),
                    _ => format!("the id of site {:?} could not be looked up", spec.name),
                };
                steps.push(per_site(failed(StepKind::Site, msg, &e)));
                steps.push(per_site(step(
                    StepKind::Permissions,
                    StepStatus::Skip,
                    "not tried: the site's id is unknown",
                )));
                continue;
            }
        };
        let access = client.check_site_access(&site).await;
        let mut controller_message = None;
        for chk in access.checks.iter().filter(|c| !c.ok) {
            controller_message = controller_message.or(chk.controller_message.clone());
        }
        let s = if access.ok() {
            let ok: Vec<String> = access.checks.iter().map(|c| c.message.clone()).collect();
            step(StepKind::Permissions, StepStatus::Pass, ok.join("; "))
        } else {
            Step {
                controller_message,
                ..step(
                    StepKind::Permissions,
                    StepStatus::Fail,
                    access.problems().join("; "),
                )
            }
        };
        steps.push(per_site(s));
        if inner.openapi.is_some() {
            let s = match (inner.mode, client.portal_auth_timeout(&site.id).await) {
                (ResolvedMode::Hotspot, _) => step(
                    StepKind::PortalTimeout,
                    StepStatus::Skip,
                    "guests are let in through the hotspot API with each grant's own duration; the portal timeout does not bound them",
                ),
                (ResolvedMode::OpenApi, Ok(portals)) if portals.is_empty() => step(
                    StepKind::PortalTimeout,
                    StepStatus::Fail,
                    format!(
                        "site {:?} has no enabled portal of type External Portal Server: create one under Authentication › Portal (server http://<sidecar host>:8766/portal) and bind it to the unit's SSIDs",
                        spec.name
                    ),
                ),
                (ResolvedMode::OpenApi, Ok(portals)) => {
                    let parts: Vec<String> = portals
                        .iter()
                        .map(|p| match p.timeout {
                            Some(t) => format!("{:?}: {}", p.portal_name, human(t)),
                            None => format!("{:?}: unreadable", p.portal_name),
                        })
                        .collect();
                    step(
                        StepKind::PortalTimeout,
                        StepStatus::Pass,
                        format!(
                            "Authentication Timeout {} — an Open API authorisation lasts this long, so stays longer than it are re-authorised before it runs out",
                            parts.join(", ")
                        ),
                    )
                }
                (ResolvedMode::OpenApi, Err(e)) => failed(
                    StepKind::PortalTimeout,
                    format!(
                        "the portal settings of site {:?} could not be read: give the Open API app the Administrator role and the site in its Site Privileges",
                        spec.name
                    ),
                    &e,
                ),
            };
            steps.push(per_site(Step {
                api: Some("openapi"),
                ..s
            }));
        }
    }
    finish(client, controller_id, controller_version, steps)
}

fn finish(
    client: &OmadaClient,
    controller_id: Option<String>,
    controller_version: Option<String>,
    steps: Vec<Step>,
) -> SelfTestReport {
    SelfTestReport {
        ok: !steps.iter().any(|s| s.status == StepStatus::Fail),
        mode: client.mode(),
        controller_id,
        controller_version,
        steps,
    }
}

/// `8 hours`, `90 minutes`, `3 days`.
fn human(d: std::time::Duration) -> String {
    let m = d.as_secs() / 60;
    if m.is_multiple_of(1440) {
        let n = m / 1440;
        format!("{n} day{}", if n == 1 { "" } else { "s" })
    } else if m.is_multiple_of(60) {
        let n = m / 60;
        format!("{n} hour{}", if n == 1 { "" } else { "s" })
    } else {
        format!("{m} minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_read_like_the_controllers_menu() {
        assert_eq!(human(Duration::from_secs(8 * 3600)), "8 hours");
        assert_eq!(human(Duration::from_secs(86400)), "1 day");
        assert_eq!(human(Duration::from_secs(90 * 60)), "90 minutes");
    }
}
