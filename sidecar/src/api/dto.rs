//! Wire types of the local JSON API (docs/api.md). Requests reject unknown fields; responses
//! are built from domain types here and nowhere else.

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::vouchers::model::{AuditEntry, Unit, Voucher};
use crate::vouchers::{NewVoucher, UnitInput, VoucherPatch};

pub use crate::clock::rfc3339 as ts;

fn ts_opt(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(ts)
}

/// Distinguishes "absent" (None) from "null" (Some(None)).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Some(Option::<T>::deserialize(d)?))
}

fn rfc3339_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(s) => OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
            .map(Some)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "'{}' is not an RFC 3339 timestamp",
                    s.chars().take(40).collect::<String>()
                ))
            }),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitBody {
    pub unit_id: Option<String>,
    pub name: Option<String>,
    pub omada_site: Option<String>,
    pub ssids: Option<Vec<String>>,
    pub vlans: Option<Vec<u16>>,
    pub ap_macs: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub plume_customer_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub plume_location_id: Option<Option<String>>,
    pub checkin_grace_minutes: Option<u32>,
    pub checkout_grace_minutes: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub terms_url: Option<Option<String>>,
}

impl From<UnitBody> for UnitInput {
    fn from(b: UnitBody) -> Self {
        UnitInput {
            unit_id: b.unit_id,
            name: b.name,
            omada_site: b.omada_site,
            ssids: b.ssids,
            vlans: b.vlans,
            ap_macs: b.ap_macs,
            plume_customer_id: b.plume_customer_id,
            plume_location_id: b.plume_location_id,
            checkin_grace_minutes: b.checkin_grace_minutes,
            checkout_grace_minutes: b.checkout_grace_minutes,
            terms_url: b.terms_url,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UnitOut {
    pub unit_id: String,
    pub name: String,
    pub omada_site: String,
    pub ssids: Vec<String>,
    pub vlans: Vec<u16>,
    pub ap_macs: Vec<String>,
    pub plume_customer_id: Option<String>,
    pub plume_location_id: Option<String>,
    pub checkin_grace_minutes: u32,
    pub checkout_grace_minutes: u32,
    pub terms_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Unit> for UnitOut {
    fn from(u: &Unit) -> Self {
        UnitOut {
            unit_id: u.unit_id.clone(),
            name: u.name.clone(),
            omada_site: u.omada_site.clone(),
            ssids: u.ssids.clone(),
            vlans: u.vlans.clone(),
            ap_macs: u.ap_macs.iter().map(|m| m.to_string()).collect(),
            plume_customer_id: u.plume_customer_id.clone(),
            plume_location_id: u.plume_location_id.clone(),
            checkin_grace_minutes: u.checkin_grace_minutes,
            checkout_grace_minutes: u.checkout_grace_minutes,
            terms_url: u.terms_url.clone(),
            created_at: ts(u.created_at),
            updated_at: ts(u.updated_at),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherBody {
    pub unit_id: String,
    pub code: Option<String>,
    #[serde(default, deserialize_with = "rfc3339_opt")]
    pub valid_from: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "rfc3339_opt")]
    pub valid_until: Option<OffsetDateTime>,
    pub duration_minutes: Option<i64>,
    pub max_devices: Option<i64>,
    pub guest_name: Option<String>,
    pub booking_ref: Option<String>,
    pub down_kbps: Option<i64>,
    pub up_kbps: Option<i64>,
    pub note: Option<String>,
}

impl From<VoucherBody> for NewVoucher {
    fn from(b: VoucherBody) -> Self {
        NewVoucher {
            unit_id: b.unit_id,
            code: b.code,
            valid_from: b.valid_from,
            valid_until: b.valid_until,
            duration_minutes: b.duration_minutes,
            max_devices: b.max_devices,
            guest_name: b.guest_name,
            booking_ref: b.booking_ref,
            down_kbps: b.down_kbps,
            up_kbps: b.up_kbps,
            note: b.note,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherPatchBody {
    #[serde(default, deserialize_with = "rfc3339_opt")]
    pub valid_until: Option<OffsetDateTime>,
    pub duration_minutes: Option<i64>,
    pub max_devices: Option<i64>,
    pub guest_name: Option<String>,
    pub note: Option<String>,
}

impl From<VoucherPatchBody> for VoucherPatch {
    fn from(b: VoucherPatchBody) -> Self {
        VoucherPatch {
            valid_until: b.valid_until,
            duration_minutes: b.duration_minutes,
            max_devices: b.max_devices,
            guest_name: b.guest_name,
            note: b.note,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct VoucherOut {
    pub code: String,
    pub unit_id: String,
    pub status: &'static str,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub duration_minutes: Option<u32>,
    pub expires_at: Option<String>,
    pub max_devices: u32,
    pub devices_used: u32,
    pub guest_name: Option<String>,
    pub booking_ref: Option<String>,
    pub down_kbps: Option<u32>,
    pub up_kbps: Option<u32>,
    pub note: Option<String>,
    pub created_at: String,
    pub first_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl VoucherOut {
    pub fn new(v: &Voucher, now: OffsetDateTime) -> Self {
        VoucherOut {
            code: v.code.clone(),
            unit_id: v.unit_id.clone(),
            status: v.status(now).as_str(),
            valid_from: ts(v.valid_from),
            valid_until: ts_opt(v.valid_until),
            duration_minutes: v.duration_minutes,
            expires_at: ts_opt(v.expires_at()),
            max_devices: v.max_devices,
            devices_used: v.devices_used,
            guest_name: v.guest_name.clone(),
            booking_ref: v.booking_ref.clone(),
            down_kbps: v.down_kbps,
            up_kbps: v.up_kbps,
            note: v.note.clone(),
            created_at: ts(v.created_at),
            first_used_at: ts_opt(v.first_used_at),
            revoked_at: ts_opt(v.revoked_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AuditOut {
    pub id: i64,
    pub at: String,
    pub correlation_id: String,
    pub actor: String,
    pub action: String,
    pub unit_id: Option<String>,
    pub code: Option<String>,
    pub detail: Option<String>,
}

impl From<&AuditEntry> for AuditOut {
    fn from(a: &AuditEntry) -> Self {
        AuditOut {
            id: a.id,
            at: ts(a.at),
            correlation_id: a.correlation_id.clone(),
            actor: a.actor.clone(),
            action: a.action.clone(),
            unit_id: a.unit_id.clone(),
            code: a.code.clone(),
            detail: a.detail.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct GrantOut {
    pub grant_id: String,
    pub code: String,
    pub unit_id: String,
    pub client_mac: String,
    pub client_ip: Option<String>,
    pub ap_mac: Option<String>,
    pub gateway_mac: Option<String>,
    pub ssid: Option<String>,
    pub vid: Option<u16>,
    pub radio_id: Option<u8>,
    pub site: String,
    pub status: &'static str,
    pub authorized_at: Option<String>,
    pub expires_at: String,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
}

impl GrantOut {
    pub fn new(g: &crate::vouchers::model::Grant, now: OffsetDateTime) -> Self {
        GrantOut {
            grant_id: g.grant_id.clone(),
            code: g.code.clone(),
            unit_id: g.unit_id.clone(),
            client_mac: g.client_mac.to_string(),
            client_ip: g.client_ip.clone(),
            ap_mac: g.ap_mac.map(|m| m.to_string()),
            gateway_mac: g.gateway_mac.map(|m| m.to_string()),
            ssid: g.ssid.clone(),
            vid: g.vid,
            radio_id: g.radio_id,
            site: g.site.clone(),
            status: g.public_status(now),
            authorized_at: ts_opt(g.authorized_at),
            expires_at: ts(g.expires_at),
            ended_at: ts_opt(g.ended_at),
            end_reason: g.end_reason.clone(),
        }
    }
}
