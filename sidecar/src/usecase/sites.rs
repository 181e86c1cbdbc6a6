//! A unit's Omada site, checked at the controller before the unit is saved (issue 12 item 1).
//!
//! The Hotspot-Manager and Open API paths take the site's 24-hex id; the redirect carries its
//! name. When a unit is created or its site changes, the sidecar (no transaction open) looks
//! the id up through the Open API when it has credentials, or takes the one the host gave,
//! and verifies it the way it will be used: the hotspot operator lists that site's clients,
//! the Open API app sees it (and, given both a name and an id, they are the same site). A
//! failure is refused with a sentence naming the site and what to change; a controller that
//! does not answer is a 503 (the host may save with `?validate=false`, unchecked). Without a
//! configured controller nothing can be checked and the unit is saved as given.
//!
//! One case is saved rather than refused: no id and only a hotspot operator, which has no
//! documented way to learn site ids (field notes §3.6). Refusing would lock out every host
//! whose unit form cannot send an id yet; instead the unit is saved without one, and the
//! controller's `problem` names the unit and what to do for as long as any unit lacks its id
//! (take-outs of its guests wait, never dropped).
//!
//! The units' site ids are also told to the controller client at start and after every
//! unit change (`AppState::units_changed`), and they are what the self-test, the settings
//! test and reconciliation check.

use crate::controller::ControllerError;
use crate::omada::{OmadaError, SiteSpec};
use crate::usecase::Rentals;
use crate::vouchers::model::Unit;

/// Why a unit's site was refused.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The controller said no: the field at fault and a sentence for the host.
    #[error("{message}")]
    Refused {
        field: &'static str,
        message: String,
    },
    /// The controller could not be asked (503) or failed otherwise.
    #[error(transparent)]
    Controller(ControllerError),
}

/// The (name, id) pairs of the units that know their site's id.
pub fn site_ids(units: &[Unit]) -> Vec<(String, String)> {
    units
        .iter()
        .filter_map(|u| {
            u.omada_site_id
                .as_ref()
                .map(|id| (u.omada_site.clone(), id.clone()))
        })
        .collect()
}

/// The units whose site has no id yet, as (unit name, site name).
pub fn without_site_id(units: &[Unit]) -> Vec<(String, String)> {
    units
        .iter()
        .filter(|u| u.omada_site_id.is_none())
        .map(|u| (u.name.clone(), u.omada_site.clone()))
        .collect()
}

/// Every unit's site, once (the self-test, the settings test, the operator's sites).
pub fn site_specs(units: &[Unit]) -> Vec<SiteSpec> {
    let mut out: Vec<SiteSpec> = Vec::new();
    for u in units {
        match out
            .iter_mut()
            .find(|s| s.name.eq_ignore_ascii_case(&u.omada_site))
        {
            Some(s) => {
                if s.id.is_none() {
                    s.id.clone_from(&u.omada_site_id);
                }
            }
            None => out.push(SiteSpec {
                name: u.omada_site.clone(),
                id: u.omada_site_id.clone(),
            }),
        }
    }
    out
}

impl Rentals {
    /// Check the site a unit is about to get (`name`, and `id` when the host gave one) at the
    /// controller; the id to store. Not configured: nothing to check, `id` as given.
    pub async fn verify_site(
        &self,
        name: &str,
        id: Option<&str>,
    ) -> Result<Option<String>, SiteError> {
        let c = &self.controller;
        if !c.is_configured() {
            return Ok(id.map(str::to_owned));
        }
        // Can the controller be asked at all? Otherwise a failed check would blame the site.
        // (A refusal here is left to the site's own checks below, which say what it means.)
        if let Err(e) = c.probe().await {
            if matches!(&e, ControllerError::Omada(o) if o.is_transient() || matches!(o, OmadaError::Tls(_)))
            {
                return Err(SiteError::Controller(e));
            }
        }
        let discovery = c.capabilities().discovery;
        let site = match c.resolve_site(name, id).await {
            Ok(site) => site,
            // No id, and no Open API to look it up: the unit is saved without one. Guests are
            // let in (the sign-in body takes the name); take-outs wait until the id is given,
            // and the controller's problem says so from now on (never silently).
            Err(ControllerError::Omada(OmadaError::Misconfigured(_)))
                if !discovery && id.is_none() =>
            {
                return Ok(None);
            }
            Err(ControllerError::Omada(OmadaError::Misconfigured(m))) => {
                return Err(SiteError::Refused {
                    field: if id.is_some() {
                        "omada_site_id"
                    } else {
                        "omada_site"
                    },
                    message: m,
                });
            }
            Err(e) => return Err(SiteError::Controller(e)),
        };
        // An id given together with a name: the Open API can tell whether they match.
        if let (Some(id), true) = (id, c.capabilities().discovery) {
            match c.list_sites().await {
                Ok(sites) => match sites.iter().find(|s| s.id == id) {
                    Some(s) if !s.name.eq_ignore_ascii_case(name) => {
                        return Err(SiteError::Refused {
                            field: "omada_site_id",
                            message: format!(
                                "site id {id} is the controller's site {:?}, not {name:?}: correct the unit's omada_site or its omada_site_id",
                                s.name
                            ),
                        })
                    }
                    Some(_) => {}
                    None => {
                        return Err(SiteError::Refused {
                            field: "omada_site_id",
                            message: format!(
                                "site id {id} (for site {name:?}) is not among the sites the Open API app sees: check the id, or add the site to the app's Site Privileges under Settings › Platform Integration › Open API"
                            ),
                        })
                    }
                },
                Err(e) => return Err(SiteError::Controller(e)),
            }
        }
        let access = c.check_site(&site).await.map_err(SiteError::Controller)?;
        if !access.ok() {
            let controller = access
                .checks
                .iter()
                .filter(|x| !x.ok)
                .find_map(|x| x.controller_message.clone())
                .map(|m| format!(" (the controller said: {m})"))
                .unwrap_or_default();
            return Err(SiteError::Refused {
                field: "omada_site",
                message: format!("{}{controller}", access.problems().join("; ")),
            });
        }
        Ok(Some(site.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn unit(id: &str, site: &str, site_id: Option<&str>) -> Unit {
        Unit {
            unit_id: id.into(),
            name: id.into(),
            omada_site: site.into(),
            ssids: vec![],
            vlans: vec![],
            ap_macs: vec![],
            plume_customer_id: None,
            plume_location_id: None,
            checkin_grace_minutes: 0,
            checkout_grace_minutes: 0,
            terms_url: None,
            time_zone: None,
            access: Default::default(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            omada_site_id: site_id.map(str::to_owned),
            stay: Default::default(),
            guest_checks: Default::default(),
            guest_page: Default::default(),
        }
    }

    #[test]
    fn each_site_once_with_the_id_one_of_its_units_knows() {
        let units = [
            unit("a", "Beach", None),
            unit("b", "beach", Some("640effd1b3f2ae5b912275ec")),
            unit("c", "Lake", None),
        ];
        assert_eq!(
            site_specs(&units),
            vec![
                SiteSpec {
                    name: "Beach".into(),
                    id: Some("640effd1b3f2ae5b912275ec".into())
                },
                SiteSpec {
                    name: "Lake".into(),
                    id: None
                },
            ]
        );
        assert_eq!(
            site_ids(&units),
            vec![("beach".to_string(), "640effd1b3f2ae5b912275ec".to_string())]
        );
    }
}
