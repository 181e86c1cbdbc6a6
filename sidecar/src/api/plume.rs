//! Finding a unit's Plume ids (issue 15 item 5), for the unit form: from the serial number
//! printed on a pod, from the customer's CRM account id, and a customer's locations to pick
//! one. Each route is one or two Plume reads (through the poller's request budget);
//! `plume_check` of a unit save then verifies the pair.
//!
//! `GET /api/v1/plume/nodes/{serial}`, `GET /api/v1/plume/customers?account_id=`,
//! `GET /api/v1/plume/customers/{customer_id}/locations`.

use http::StatusCode;
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::error::ApiError;
use super::wire::{
    PlumeCustomerOut, PlumeCustomersOut, PlumeLocationOut, PlumeLocationsOut, PlumeNodeOwnerOut,
};
use super::{ok, Query, Result};
use crate::app::AppState;
use crate::health::PlumeServiceError;
use crate::serve::Body;

/// Longest serial, account id or customer id accepted (Plume's are far shorter).
const MAX_ID: usize = 128;

fn configured(s: &AppState) -> Result<()> {
    match s.plume.settings() {
        Some(_) => Ok(()),
        None => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_configured",
            "Plume is not configured",
        )),
    }
}

fn checked<'a>(field: &str, v: &'a str) -> Result<&'a str> {
    let v = v.trim();
    if v.is_empty() || v.len() > MAX_ID || v.chars().any(|c| c.is_control() || c == '/') {
        return Err(ApiError::validation(
            Some(field),
            format!("{field} must be 1 to {MAX_ID} characters"),
        ));
    }
    Ok(v)
}

/// A Plume error about what the host typed names that field.
fn named(field: &'static str) -> impl Fn(PlumeServiceError) -> ApiError {
    move |e| {
        let mut a = ApiError::from(e);
        if a.status == StatusCode::UNPROCESSABLE_ENTITY && a.field.is_none() {
            a.field = Some(field.to_owned());
        }
        a
    }
}

pub async fn node(s: &AppState, serial: &str) -> Result<Response<Body>> {
    configured(s)?;
    let serial = checked("serial", serial)?;
    let owner = s
        .plume
        .find_by_serial(serial)
        .await
        .map_err(named("serial"))?;
    ok(&PlumeNodeOwnerOut {
        serial_number: owner.serial_number,
        customer_id: owner.customer_id,
        location_id: owner.location_id,
    })
}

pub async fn customers(s: &AppState, req: &Request<Incoming>) -> Result<Response<Body>> {
    let q = Query::of(req)?;
    let account = q
        .text("account_id")
        .ok_or_else(|| ApiError::bad_query("account_id is required"))?;
    let account = checked("account_id", &account)?.to_owned();
    configured(s)?;
    let found = s
        .plume
        .find_by_account_id(&account)
        .await
        .map_err(named("account_id"))?;
    ok(&PlumeCustomersOut {
        customers: found
            .into_iter()
            .map(|c| PlumeCustomerOut {
                customer_id: c.customer_id,
                account_id: c.account_id,
                name: c.name,
                location_ids: c.location_ids,
            })
            .collect(),
    })
}

pub async fn locations(s: &AppState, customer_id: &str) -> Result<Response<Body>> {
    configured(s)?;
    let customer_id = checked("customer_id", customer_id)?;
    let list = s
        .plume
        .locations(customer_id)
        .await
        .map_err(named("customer_id"))?;
    ok(&PlumeLocationsOut {
        locations: list
            .into_iter()
            .map(|l| PlumeLocationOut {
                location_id: l.id,
                name: l.name,
            })
            .collect(),
    })
}
