//! Reconciliation with the controller (issue 12 item 10b): at start-up and daily, the
//! authorisations the controller holds on the units' networks that an external portal made
//! (`authType` 4, as this sidecar's are) and that no active grant stands behind are ended.
//!
//! That covers what no transaction can: a database restored from an older backup (the
//! controller still lets in devices whose grants the backup never saw), a lost database, and
//! a crash between the controller's answer and the commit in a version without pending
//! grants. Authorisations made any other way — vouchers and local users of the controller's
//! own portal, other authentication types — are left alone, and so is every device with an
//! active or pending grant, or with a take-out already queued.
//!
//! Shape: the controller is asked per site with no transaction open; then one transaction
//! (`reconcile`) decides per device against the grants *as they are then* and queues the
//! take-outs in the outbox (durable, retried, shown when they wait), with one audit row per
//! site that had any. A device let in after that transaction is protected by the outbox's own
//! rule (a take-out queued before a newer grant is skipped).
//!
//! In Open API mode the same transaction makes sure every active grant whose authorisation
//! runs out before it ends has its renewal queued (a database from before renewals, a switch
//! from the hotspot API): the sites' portal timeouts are read first, so the schedule uses the
//! controller's real values, never a guess.

use std::collections::{BTreeSet, HashSet};

use crate::omada::AuthRecord;
use crate::outbox::{OutboxOp, OP_REAUTHORIZE};
use crate::store::{grants as g, outbox, to_ms};
use crate::usecase::sites::site_specs;
use crate::usecase::{Error, Rentals, UseCase};
use crate::vouchers::model::{Actor, AuditAction, GrantState, Unit};
use crate::vouchers::Ctx;

/// What a reconciliation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Sites asked.
    pub sites: usize,
    /// Devices whose authorisation was queued to end.
    pub ended: usize,
    /// External-portal authorisations with a grant (or a take-out already queued).
    pub kept: usize,
    /// Valid authorisations of other kinds, left alone.
    pub other_methods: usize,
    /// Sites that could not be asked, with why.
    pub failed: Vec<String>,
}

/// One site as the controller answered for it.
struct SiteRecords {
    name: String,
    id: String,
    unit_ids: Vec<String>,
    /// The units' SSIDs; `None` when a unit of the site takes any.
    ssids: Option<HashSet<String>>,
    records: Vec<AuthRecord>,
}

/// Of a site's valid records on the units' networks: the MACs of external-portal ones, and
/// how many of other kinds (pure).
fn candidates(
    records: &[AuthRecord],
    ssids: Option<&HashSet<String>>,
) -> (BTreeSet<String>, usize) {
    let mut macs = BTreeSet::new();
    let mut others = 0;
    for r in records.iter().filter(|r| r.valid) {
        let on_network = match (ssids, &r.ssid) {
            (Some(set), Some(ssid)) => set.contains(ssid),
            _ => true,
        };
        if !on_network {
            continue;
        }
        match (r.is_external_portal(), r.mac) {
            (true, Some(mac)) => {
                macs.insert(mac.to_string());
            }
            (false, _) => others += 1,
            (true, None) => {}
        }
    }
    (macs, others)
}

impl Rentals {
    /// Reconcile every unit site with the controller (see the module docs).
    pub async fn reconcile_controller(&self) -> Result<Reconciled, Error> {
        let mut out = Reconciled::default();
        if !self.controller.is_configured() {
            return Ok(out);
        }
        let units = self.list_units().await?;
        let mut sites = Vec::new();
        for spec in site_specs(&units) {
            let site = match self
                .controller
                .resolve_site(&spec.name, spec.id.as_deref())
                .await
            {
                Ok(s) => s,
                Err(e) => {
                    out.failed.push(format!("site {:?}: {e}", spec.name));
                    continue;
                }
            };
            if self.controller.renews() {
                // Fresh timeouts for the renewal schedule below.
                self.controller.portal_timeout(&spec.name).await;
            }
            let records = match self.controller.authorizations(&site.id).await {
                Ok(r) => r,
                Err(e) => {
                    out.failed.push(format!("site {:?}: {e}", spec.name));
                    continue;
                }
            };
            let of_site: Vec<&Unit> = units
                .iter()
                .filter(|u| u.omada_site.eq_ignore_ascii_case(&spec.name))
                .collect();
            let ssids = if of_site.iter().any(|u| u.ssids.is_empty()) {
                None
            } else {
                Some(of_site.iter().flat_map(|u| u.ssids.clone()).collect())
            };
            sites.push(SiteRecords {
                name: spec.name.clone(),
                id: site.id,
                unit_ids: of_site.iter().map(|u| u.unit_id.clone()).collect(),
                ssids,
                records,
            });
        }
        out.sites = sites.len();
        let ctx = Ctx::new(Actor::Scheduler);
        let (ended, kept, others) = self
            .run(UseCase::Reconcile, &ctx, move |tx| {
                let (mut ended, mut kept, mut others) = (0, 0, 0);
                for site in &sites {
                    let (macs, other) = candidates(&site.records, site.ssids.as_ref());
                    others += other;
                    let mut with_grant = HashSet::new();
                    for unit_id in &site.unit_ids {
                        for grant in g::open_for_unit(tx.db, unit_id)? {
                            with_grant.insert(grant.client_mac.to_string());
                            if tx.renewals.is_some()
                                && grant.state == GrantState::Active
                                && outbox::pending_for_grant(
                                    tx.db,
                                    OP_REAUTHORIZE,
                                    &grant.grant_id,
                                )?
                                .is_none()
                            {
                                let from = grant.authorized_at.unwrap_or(tx.now);
                                tx.grant_authorized(
                                    &grant.grant_id,
                                    &grant.site,
                                    from,
                                    grant.expires_at,
                                )?;
                            }
                        }
                    }
                    let mut queued = Vec::new();
                    for mac in macs {
                        if with_grant.contains(&mac)
                            || outbox::unauthorize_pending(tx.db, &mac, &site.name)?
                        {
                            kept += 1;
                            continue;
                        }
                        let op = OutboxOp::Unauthorize {
                            site: site.name.clone(),
                            client_mac: mac.clone(),
                            grant_id: "reconcile".into(),
                            queued_at_ms: to_ms(tx.now),
                            site_id: Some(site.id.clone()),
                        };
                        tx.queue(&op, tx.now)?;
                        queued.push(mac);
                    }
                    if !queued.is_empty() {
                        ended += queued.len();
                        tx.audit(
                            AuditAction::ControllerReconcile,
                            site.unit_ids.first().map(String::as_str),
                            None,
                            Some(format!(
                                "site {:?}: {} authorisation(s) without a grant ended: {}",
                                site.name,
                                queued.len(),
                                queued.join(", ")
                            )),
                        )?;
                    }
                }
                Ok::<_, Error>((ended, kept, others))
            })
            .await?;
        out.ended = ended;
        out.kept = kept;
        out.other_methods = others;
        tracing::info!(
            sites = out.sites,
            ended = out.ended,
            kept = out.kept,
            other_methods = out.other_methods,
            failed = out.failed.len(),
            "reconciled with the controller"
        );
        for f in &out.failed {
            tracing::warn!(problem = %f, "reconciliation could not ask the controller about a site");
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(mac: &str, auth_type: i64, valid: bool, ssid: Option<&str>) -> AuthRecord {
        AuthRecord {
            id: mac.into(),
            mac: mac.parse().ok(),
            auth_type: Some(auth_type),
            valid,
            start_ms: None,
            end_ms: None,
            ssid: ssid.map(str::to_owned),
        }
    }

    #[test]
    fn only_valid_external_portal_records_on_the_units_networks_are_candidates() {
        let records = [
            rec("02-00-00-00-00-01", 4, true, Some("Guest")),
            rec("02-00-00-00-00-01", 4, true, Some("Guest")),
            rec("02-00-00-00-00-02", 4, false, Some("Guest")),
            rec("02-00-00-00-00-03", 3, true, Some("Guest")),
            rec("02-00-00-00-00-04", 4, true, Some("Office")),
            rec("02-00-00-00-00-05", 4, true, None),
        ];
        let any = candidates(&records, None);
        assert_eq!(
            any.0.into_iter().collect::<Vec<_>>(),
            [
                "02-00-00-00-00-01",
                "02-00-00-00-00-04",
                "02-00-00-00-00-05"
            ]
        );
        assert_eq!(any.1, 1, "the voucher (auth type 3) is left alone");
        let guest: HashSet<String> = ["Guest".to_string()].into();
        let (macs, _) = candidates(&records, Some(&guest));
        assert_eq!(
            macs.into_iter().collect::<Vec<_>>(),
            ["02-00-00-00-00-01", "02-00-00-00-00-05"],
            "another SSID of the site is not the units' network"
        );
    }
}
