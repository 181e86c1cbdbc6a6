//! Wire types of the local JSON API (docs/api.md): every request body and every response,
//! the state snapshot, health, controller and Plume status, settings, errors and events.
//! Requests reject unknown fields and become the domain's inputs; responses are built from
//! domain values here and nowhere else (no `json!` in the domain).
//!
//! Each response type has a JSON fixture in `sidecar/tests/fixtures/wire/`, checked by the
//! round-trip test below and read by the Home Assistant tests through the integration's
//! models (`tests/ha/test_wire_fixtures.py`), so the two sides cannot drift apart silently.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::clock::rfc3339 as ts;
use crate::controller::ControllerStatus;
use crate::omada::{
    Capabilities, CertificateInfo, ControllerInfo, OmadaSettings, SiteInfo, SitePortalTimeouts,
};
use crate::plume::{HealthReport, PlumeSettings, PlumeStatus};
use crate::store::outbox::Summary as OutboxSummary;
use crate::unit_health::{Finding, Source, SourceState};
use crate::usecase::bookings::Synced;
use crate::usecase::units::UnitRevoked;
use crate::vouchers::booking::{BookingRequest, CalendarRequest};
use crate::vouchers::model::{AuditEntry, Booking, Grant, Unit, Voucher};
use crate::vouchers::unit::UnitInput;
use crate::vouchers::voucher::{VoucherPatch, VoucherRequest};

/// A domain word on the wire (`"active"`, `"voucher_revoked"`, …): borrowed when written,
/// owned when read back (tests).
pub type Word = Cow<'static, str>;

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

fn rfc3339_req<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    rfc3339_opt(d)?.ok_or_else(|| serde::de::Error::custom("an RFC 3339 timestamp is required"))
}

// ---------------------------------------------------------------- requests

/// `POST /api/v1/units`, `PATCH /api/v1/units/{unit_id}`.
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
    /// Issue 18: `portal` (default) or `password`; the PPSK profile of password mode.
    pub access_mode: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub ppsk_profile_id: Option<Option<String>>,
    /// The site's 24-hex id (issue 12b); null clears it (looked up again when possible).
    #[serde(default, deserialize_with = "nullable")]
    pub omada_site_id: Option<Option<String>>,
    // Stays and devices (issue 14).
    pub vanish_cancel_minutes: Option<u32>,
    pub device_policy: Option<String>,
    // The portal's checks (issue 13).
    pub address_translation: Option<bool>,
    pub short_code_second_factor: Option<String>,
    // What the portal shows the unit's guests (issue 17); null or "" clears.
    #[serde(default, deserialize_with = "nullable")]
    pub welcome_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub welcome_text: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub checkout_time: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub host_contact: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub accent_color: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub terms_text: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub time_zone: Option<Option<String>>,
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
            access_mode: b.access_mode,
            ppsk_profile_id: b.ppsk_profile_id,
            omada_site_id: b.omada_site_id,
            vanish_cancel_minutes: b.vanish_cancel_minutes,
            device_policy: b.device_policy,
            address_translation: b.address_translation,
            short_code_second_factor: b.short_code_second_factor,
            welcome_title: b.welcome_title,
            welcome_text: b.welcome_text,
            checkout_time: b.checkout_time,
            host_contact: b.host_contact,
            accent_color: b.accent_color,
            terms_text: b.terms_text,
            time_zone: b.time_zone,
        }
    }
}

/// `PUT /api/v1/settings/property`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyBody {
    /// An IANA zone name, or `null` to unset (UTC).
    #[serde(default, deserialize_with = "nullable")]
    pub time_zone: Option<Option<String>>,
}

/// `POST /api/v1/vouchers/{code}/devices` on a password-mode unit: a Wi-Fi password bound
/// to one device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceKeyBody {
    pub mac: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /api/v1/vouchers`.
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
    pub device_policy: Option<String>,
}

impl From<VoucherBody> for VoucherRequest {
    fn from(b: VoucherBody) -> Self {
        VoucherRequest {
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
            device_policy: b.device_policy,
        }
    }
}

/// `PATCH /api/v1/vouchers/{code}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherPatchBody {
    #[serde(default, deserialize_with = "rfc3339_opt")]
    pub valid_until: Option<OffsetDateTime>,
    pub duration_minutes: Option<i64>,
    pub max_devices: Option<i64>,
    pub guest_name: Option<String>,
    pub note: Option<String>,
    /// `null`: back to the unit's policy.
    #[serde(default, deserialize_with = "nullable")]
    pub device_policy: Option<Option<String>>,
}

impl From<VoucherPatchBody> for VoucherPatch {
    fn from(b: VoucherPatchBody) -> Self {
        VoucherPatch {
            valid_until: b.valid_until,
            duration_minutes: b.duration_minutes,
            max_devices: b.max_devices,
            guest_name: b.guest_name,
            note: b.note,
            device_policy: b.device_policy,
        }
    }
}

/// `PUT /api/v1/units/{unit_id}/bookings/{booking_ref}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingBody {
    #[serde(deserialize_with = "rfc3339_req")]
    pub start: OffsetDateTime,
    #[serde(deserialize_with = "rfc3339_req")]
    pub end: OffsetDateTime,
    #[serde(default)]
    pub guest_name: Option<String>,
    #[serde(default)]
    pub codes: Option<Vec<String>>,
}

impl From<BookingBody> for BookingRequest {
    fn from(b: BookingBody) -> Self {
        BookingRequest {
            start: b.start,
            end: b.end,
            guest_name: b.guest_name,
            codes: b.codes.unwrap_or_default(),
        }
    }
}

/// One booking of a calendar view: a booking body with its reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarBookingBody {
    pub booking_ref: String,
    #[serde(deserialize_with = "rfc3339_req")]
    pub start: OffsetDateTime,
    #[serde(deserialize_with = "rfc3339_req")]
    pub end: OffsetDateTime,
    #[serde(default)]
    pub guest_name: Option<String>,
    #[serde(default)]
    pub codes: Option<Vec<String>>,
}

/// `PUT /api/v1/units/{unit_id}/bookings`: the whole calendar as Home Assistant sees it, and
/// the time span it covers (`until` null: no end).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarBody {
    #[serde(deserialize_with = "rfc3339_req")]
    pub from: OffsetDateTime,
    #[serde(default, deserialize_with = "rfc3339_opt")]
    pub until: Option<OffsetDateTime>,
    pub bookings: Vec<CalendarBookingBody>,
}

impl From<CalendarBody> for CalendarRequest {
    fn from(b: CalendarBody) -> Self {
        CalendarRequest {
            from: b.from,
            until: b.until,
            bookings: b
                .bookings
                .into_iter()
                .map(|x| {
                    (
                        x.booking_ref,
                        BookingRequest {
                            start: x.start,
                            end: x.end,
                            guest_name: x.guest_name,
                            codes: x.codes.unwrap_or_default(),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// `POST /api/v1/vouchers/{code}/devices`, `POST /api/v1/units/{unit_id}/devices`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceBody {
    pub mac: String,
    #[serde(default)]
    pub name: Option<String>,
}

// ---------------------------------------------------------------- responses

/// `GET /api/v1/info`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct InfoOut {
    pub name: Word,
    pub version: Word,
    pub instance_id: String,
    pub api_version: u32,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
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
    /// The unit's own IANA zone; `null` = the property's (`/api/v1/settings/property`).
    pub time_zone: Option<String>,
    pub access_mode: Word,
    pub ppsk_profile_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub omada_site_id: Option<String>,
    pub vanish_cancel_minutes: u32,
    pub device_policy: Word,
    pub address_translation: bool,
    pub short_code_second_factor: Word,
    pub welcome_title: Option<String>,
    pub welcome_text: Option<String>,
    /// `HH:MM` at the property.
    pub checkout_time: Option<String>,
    pub host_contact: Option<String>,
    pub accent_color: Option<String>,
    pub logo_sha256: Option<String>,
    /// Where the portal serves the logo (a path on the portal's origin).
    pub logo_url: Option<String>,
    pub terms_text: Option<String>,
    pub terms_sha256: Option<String>,
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
            time_zone: u.time_zone.clone(),
            access_mode: Cow::Borrowed(u.access.mode.as_str()),
            ppsk_profile_id: u.access.ppsk_profile_id.clone(),
            created_at: ts(u.created_at),
            updated_at: ts(u.updated_at),
            omada_site_id: u.omada_site_id.clone(),
            vanish_cancel_minutes: u.stay.vanish_cancel_minutes,
            device_policy: Cow::Borrowed(u.stay.device_policy.as_str()),
            address_translation: u.guest_checks.address_translation,
            short_code_second_factor: Cow::Borrowed(
                u.guest_checks.short_code_second_factor.as_str(),
            ),
            welcome_title: u.guest_page.welcome_title.clone(),
            welcome_text: u.guest_page.welcome_text.clone(),
            checkout_time: u
                .guest_page
                .checkout_time
                .map(|t| format!("{:02}:{:02}", t.hour(), t.minute())),
            host_contact: u.guest_page.host_contact.clone(),
            accent_color: u.guest_page.accent_color.clone(),
            logo_sha256: u.guest_page.logo_sha256.clone(),
            logo_url: u
                .guest_page
                .logo_sha256
                .as_ref()
                .map(|h| format!("{}{h}", crate::portal::page::LOGO_PATH)),
            terms_text: u.guest_page.terms_text.clone(),
            terms_sha256: u.guest_page.terms_sha256.clone(),
        }
    }
}

/// What a unit save learnt about its Plume ids (health-cards, issue 15 item 1).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PlumeCheckOut {
    /// `verified` (Plume knows the customer and the location), `skipped` (Plume is not
    /// configured), `unverified` (Plume could not be asked: unreachable, rate limit…).
    pub status: Word,
    /// The location's name in Plume (`verified`).
    pub location_name: Option<String>,
    /// Why it was skipped or not verified.
    pub message: Option<String>,
}

/// `POST /api/v1/units`, `PATCH /api/v1/units/{unit_id}`: the unit, and `plume_check` when the
/// save named Plume ids.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct UnitSavedOut {
    #[serde(flatten)]
    pub unit: UnitOut,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plume_check: Option<PlumeCheckOut>,
}

/// One guest's consent to a unit's terms (issue 17).
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct ConsentOut {
    pub grant_id: String,
    pub unit_id: String,
    pub code: String,
    pub client_mac: String,
    pub at: String,
    /// The SHA-256 of the terms text accepted (null: the unit linked its terms).
    pub terms_sha256: Option<String>,
    pub terms_url: Option<String>,
}

impl From<&crate::store::guest_page::Consent> for ConsentOut {
    fn from(c: &crate::store::guest_page::Consent) -> Self {
        ConsentOut {
            grant_id: c.grant_id.clone(),
            unit_id: c.unit_id.clone(),
            code: c.code.clone(),
            client_mac: c.client_mac.to_string(),
            at: ts(c.at),
            terms_sha256: c.terms_sha256.clone(),
            terms_url: c.terms_url.clone(),
        }
    }
}

/// `GET /api/v1/units/{unit_id}/consents`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct ConsentsOut {
    pub consents: Vec<ConsentOut>,
}

/// `GET /api/v1/units`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct UnitsOut {
    pub units: Vec<UnitOut>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct VoucherOut {
    pub code: String,
    pub unit_id: String,
    pub status: Word,
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
    pub suspended_at: Option<String>,
    /// Its own policy; null: its unit's.
    pub device_policy: Option<Word>,
    /// Devices on it now (`devices_used` counts every device it ever let in).
    pub devices_active: u32,
}

impl VoucherOut {
    pub fn new(v: &Voucher, now: OffsetDateTime) -> Self {
        VoucherOut {
            code: v.code.clone(),
            unit_id: v.unit_id.clone(),
            status: Cow::Borrowed(v.status(now).as_str()),
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
            suspended_at: ts_opt(v.suspended_at),
            device_policy: v.device_policy.map(|p| Cow::Borrowed(p.as_str())),
            devices_active: v.devices_active,
        }
    }
}

/// The answer to `POST /api/v1/vouchers`: the voucher, and on a password-mode unit its
/// Wi-Fi password (the action response is one of the few places that shows it).
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct IssuedOut {
    #[serde(flatten)]
    pub voucher: VoucherOut,
    /// Password mode only (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wifi: Option<WifiOut>,
}

/// A Wi-Fi password as the action answers, the dedicated reads and the device route show
/// it: the network, the password, the QR payload that joins it.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct WifiOut {
    pub ssid: Option<String>,
    pub password: String,
    /// `WIFI:T:WPA;S:<ssid>;P:<password>;;` (escaped), what the card's QR code carries.
    pub qr_payload: Option<String>,
    /// The key's name on the controller (`rentalwifi-…`).
    pub key: String,
    /// The device it is bound to, for a device key.
    pub mac: Option<String>,
}

/// `GET /api/v1/units/{unit_id}/password` and `GET /api/v1/vouchers/{code}/password`: a
/// password with its voucher's window; every field null when the unit has none now.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PasswordOut {
    pub unit_id: String,
    pub code: Option<String>,
    pub booking_ref: Option<String>,
    pub guest_name: Option<String>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    /// The controller confirmed the key (the window is open).
    pub on_controller: bool,
    pub wifi: Option<WifiOut>,
    /// Device-bound keys of the voucher.
    pub devices: Vec<WifiOut>,
}

/// The answer of `POST /api/v1/vouchers/{code}/devices` on a password-mode unit.
#[derive(Debug, Serialize)]
pub struct DeviceKeyOut {
    pub code: String,
    pub unit_id: String,
    pub name: Option<String>,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub wifi: WifiOut,
}

/// The PPSK set-up check of one unit (`POST /api/v1/units/{unit_id}/password/check`, and
/// each of a settings `PUT`'s `password_checks`): `ok`, `site`, `profile`,
/// `controller_version`, `write_checked`, `checks[]` (`item`, `status`, `message`,
/// `controller_message`), and `problem`, the first failure's sentence.
#[derive(Debug, Serialize)]
pub struct UnitCheckOut {
    pub unit_id: String,
    #[serde(flatten)]
    pub readiness: crate::omada::PpskReadiness,
    pub problem: Option<String>,
}

/// `POST /api/v1/settings/omada/check`: the self-test report (`ok`, `mode`,
/// `controller_id`, `controller_version`, `steps[]`, a `ppsk` step per password-mode unit)
/// and each password-mode unit's PPSK check in full (absent when there are none).
#[derive(Debug, Serialize)]
pub struct SelfTestOut {
    #[serde(flatten)]
    pub report: crate::omada::SelfTestReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub password_checks: Vec<UnitCheckOut>,
}

/// `GET /api/v1/controller/sites/{site}/ppsk-profiles`: the site's PPSK profiles without
/// RADIUS and the SSIDs each serves (`id`, `name`, `ssids`).
#[derive(Debug, Serialize)]
pub struct ProfilesOut {
    pub site: String,
    pub profiles: Vec<crate::omada::PpskProfileSummary>,
}

/// The snapshot's `wifi_password` of a password-mode unit: which password is current, never
/// the password itself (Home Assistant reads it from the dedicated route when this changes).
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct WifiPasswordStateOut {
    pub code: String,
    pub booking_ref: Option<String>,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub on_controller: bool,
}

impl WifiPasswordStateOut {
    pub fn new(v: &Voucher, on_controller: bool) -> Self {
        WifiPasswordStateOut {
            code: v.code.clone(),
            booking_ref: v.booking_ref.clone(),
            valid_from: ts(v.valid_from),
            valid_until: ts_opt(crate::vouchers::password::end(v)),
            on_controller,
        }
    }
}

/// `GET /api/v1/vouchers`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct VouchersOut {
    pub vouchers: Vec<VoucherOut>,
    pub total: usize,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
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
    pub status: Word,
    pub authorized_at: Option<String>,
    pub expires_at: String,
    pub ended_at: Option<String>,
    pub end_reason: Option<Word>,
    /// The host let it in by its MAC.
    pub by_host: bool,
    pub name: Option<String>,
}

impl GrantOut {
    pub fn new(g: &Grant, now: OffsetDateTime) -> Self {
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
            status: Cow::Borrowed(g.public_status(now)),
            authorized_at: ts_opt(g.authorized_at),
            expires_at: ts(g.expires_at),
            ended_at: ts_opt(g.ended_at),
            end_reason: g.end_reason.map(|r| Cow::Borrowed(r.as_str())),
            by_host: g.by_host,
            name: g.name.clone(),
        }
    }
}

/// `GET /api/v1/grants`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct GrantsOut {
    pub grants: Vec<GrantOut>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct BookingOut {
    pub unit_id: String,
    pub booking_ref: String,
    pub start: String,
    pub end: String,
    pub guest_name: Option<String>,
    pub codes: Vec<String>,
    pub updated_at: String,
    pub voucher: Option<VoucherOut>,
    /// `present`, `vanished` (missing from the calendar), `cancelled` (missing past the
    /// unit's limit).
    pub state: Word,
    pub vanished_at: Option<String>,
    /// When it counts as cancelled if still missing (null: not missing, or missing during
    /// its stay).
    pub cancel_at: Option<String>,
}

impl BookingOut {
    pub fn new(b: &Booking, v: Option<&Voucher>, now: OffsetDateTime) -> Self {
        BookingOut {
            unit_id: b.unit_id.clone(),
            booking_ref: b.booking_ref.clone(),
            start: ts(b.start),
            end: ts(b.end),
            guest_name: b.guest_name.clone(),
            codes: b.codes.clone(),
            updated_at: ts(b.updated_at),
            voucher: v.map(|v| VoucherOut::new(v, now)),
            state: Cow::Borrowed(b.presence().as_str()),
            vanished_at: ts_opt(b.vanished_at),
            cancel_at: ts_opt(b.cancel_at),
        }
    }
}

/// A booking of a calendar view that a rule refused.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct RefusedOut {
    pub booking_ref: String,
    pub field: Option<String>,
    pub message: String,
}

/// `PUT /api/v1/units/{unit_id}/bookings`: what the view changed, by booking reference.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct CalendarOut {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
    pub vanished: Vec<String>,
    pub restored: Vec<String>,
    pub refused: Vec<RefusedOut>,
}

impl From<Synced> for CalendarOut {
    fn from(s: Synced) -> Self {
        CalendarOut {
            created: s.created,
            updated: s.updated,
            unchanged: s.unchanged,
            vanished: s.vanished,
            restored: s.restored,
            refused: s
                .refused
                .into_iter()
                .map(|r| RefusedOut {
                    booking_ref: r.booking_ref,
                    field: r.field.map(str::to_owned),
                    message: r.message,
                })
                .collect(),
        }
    }
}

/// `POST /api/v1/units/{unit_id}/revoke`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct UnitRevokedOut {
    pub unit_id: String,
    /// The codes revoked.
    pub revoked: Vec<String>,
    /// Devices taken off.
    pub devices: usize,
}

impl UnitRevokedOut {
    pub fn new(unit_id: &str, r: UnitRevoked) -> Self {
        UnitRevokedOut {
            unit_id: unit_id.to_owned(),
            revoked: r.revoked,
            devices: r.devices,
        }
    }
}

/// `GET /api/v1/vouchers/{code}/devices`: the devices let in on a voucher, newest first.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct DevicesOut {
    pub devices: Vec<GrantOut>,
}

/// A booking missing from its calendar, in the snapshot (Home Assistant's repair issue).
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct VanishedBookingOut {
    pub booking_ref: String,
    pub guest_name: Option<String>,
    pub code: Option<String>,
    pub start: String,
    pub end: String,
    pub vanished_at: Option<String>,
    /// Went missing while the guest may be in the house: access runs on to its end.
    pub during_stay: bool,
    pub cancel_at: Option<String>,
}

impl From<&Booking> for VanishedBookingOut {
    fn from(b: &Booking) -> Self {
        VanishedBookingOut {
            booking_ref: b.booking_ref.clone(),
            guest_name: b.guest_name.clone(),
            code: b.voucher_code.clone(),
            start: ts(b.start),
            end: ts(b.end),
            vanished_at: ts_opt(b.vanished_at),
            during_stay: b.cancel_at.is_none(),
            cancel_at: ts_opt(b.cancel_at),
        }
    }
}

/// `GET /api/v1/units/{unit_id}/bookings`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct BookingsOut {
    pub bookings: Vec<BookingOut>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
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

/// `GET /api/v1/audit`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct AuditListOut {
    pub entries: Vec<AuditOut>,
}

/// `GET /api/v1/units/{unit_id}/health`, and each unit's `health` in the snapshot (CONTRACTS
/// §6: `reasons` stays the human sentences, structure goes in the other fields). The
/// structured parts are the health model's own types (`unit_health`), serialized as they are.
#[derive(Debug, Serialize)]
pub struct HealthOut {
    pub unit_id: String,
    pub status: Word,
    pub reasons: Vec<String>,
    pub reason_details: Vec<Finding>,
    pub misconfigured: bool,
    pub online: bool,
    pub pods_connected: u32,
    pub pods_total: u32,
    pub devices_connected: u32,
    pub wifi_networks: Vec<String>,
    pub service_level: Option<String>,
    pub updated_at: Option<String>,
    pub stale: bool,
    pub sources: BTreeMap<Source, SourceState>,
}

impl HealthOut {
    pub fn new(unit_id: &str, r: HealthReport) -> Self {
        HealthOut {
            unit_id: unit_id.to_owned(),
            status: Cow::Borrowed(r.status.as_str()),
            reasons: r.reasons,
            reason_details: r.reason_details,
            misconfigured: r.misconfigured,
            online: r.online,
            pods_connected: r.pods_connected,
            pods_total: r.pods_total,
            devices_connected: r.devices_connected,
            wifi_networks: r.wifi_networks,
            service_level: r.service_level,
            updated_at: ts_opt(r.updated_at),
            stale: r.stale,
            sources: r.sources,
        }
    }
}

/// The snapshot's `controller`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct ControllerStatusOut {
    pub configured: bool,
    /// The controller answers (CONTRACTS §5).
    pub connected: bool,
    pub mode: Option<Word>,
    pub last_error: Option<String>,
    pub last_ok_at: Option<String>,
    pub outbox_pending: u64,
    /// A sentence for the host about what to fix, or null.
    pub problem: Option<String>,
    pub capabilities: CapabilitiesOut,
    /// When the oldest pending outbox item was queued (CONTRACTS §5).
    pub outbox_oldest_pending_at: Option<String>,
    /// Pending items that wait for the host to fix a problem (issue 12b).
    pub outbox_waiting: u64,
}

impl ControllerStatusOut {
    pub fn new(s: ControllerStatus, outbox: &OutboxSummary) -> Self {
        ControllerStatusOut {
            configured: s.mode.is_some(),
            connected: s.connected,
            mode: s.mode.map(|m| Cow::Borrowed(m.as_str())),
            last_error: s.last_error,
            last_ok_at: ts_opt(s.last_ok_at),
            outbox_pending: outbox.pending,
            problem: s.problem,
            capabilities: s.capabilities.into(),
            outbox_oldest_pending_at: ts_opt(outbox.oldest_pending_at),
            outbox_waiting: outbox.waiting,
        }
    }
}

/// The snapshot's `plume`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PlumeStatusOut {
    pub configured: bool,
    pub connected: bool,
    pub last_error: Option<String>,
    pub last_poll_at: Option<String>,
    /// How long the last complete round over every unit took.
    pub round_seconds: Option<f64>,
    /// How often each unit is really refreshed.
    pub effective_interval_seconds: Option<u64>,
}

impl From<PlumeStatus> for PlumeStatusOut {
    fn from(s: PlumeStatus) -> Self {
        PlumeStatusOut {
            configured: s.configured,
            connected: s.connected,
            last_error: s.last_error,
            last_poll_at: ts_opt(s.last_poll_at),
            round_seconds: s.round_seconds,
            effective_interval_seconds: s.effective_interval_seconds,
        }
    }
}

/// The snapshot's `totals`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct TotalsOut {
    pub units: usize,
    pub live_vouchers: usize,
    pub active_grants: u64,
}

/// One unit in the snapshot.
#[derive(Debug, Serialize)]
pub struct UnitStateOut {
    pub unit: UnitOut,
    pub vouchers: Vec<VoucherOut>,
    pub active_grants: u64,
    pub health: HealthOut,
    /// Pods and access points (connected or not) and the ISP speed test.
    pub network: NetworkSummaryOut,
    /// The code of the voucher the unit's card shows: the stay in progress, else the next.
    pub current_voucher: Option<String>,
    /// Password mode: the current password's voucher (no password); null otherwise.
    pub wifi_password: Option<WifiPasswordStateOut>,
    /// Bookings missing from the unit's calendar (not cancelled), by start.
    pub vanished_bookings: Vec<VanishedBookingOut>,
    /// What the portal's checks see on this unit (issue 13).
    pub guest_checks: GuestChecksStateOut,
}

/// A unit's portal checks as they stand (issue 13): what Home Assistant warns the host of.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct GuestChecksStateOut {
    /// Distinct short codes (at most 7 characters) that let guests onto the unit now or
    /// later: custom voucher codes and booking codes of live vouchers.
    pub short_codes: u32,
    /// Short codes are live and the unit requires no second factor with them: a guess has a
    /// small space to walk (docs/security.md §3).
    pub short_codes_weak: bool,
    /// Short codes are refused on the unit right now: wrong ones spent its budget (or the
    /// global ceiling); long codes still work.
    pub short_codes_paused: bool,
    /// Guests refused since the sidecar started because the redirect's `clientIp` was not
    /// the address the portal saw.
    pub address_mismatches: u64,
    pub last_address_mismatch_at: Option<String>,
    /// A refusal of that kind in the last 24 hours: if guests reach the portal through
    /// address translation, the unit needs `address_translation`.
    pub address_mismatch_recent: bool,
}

/// `GET /api/v1/state`: the one snapshot Home Assistant polls.
#[derive(Debug, Serialize)]
pub struct StateOut {
    pub instance_id: String,
    pub version: Word,
    pub generated_at: String,
    pub controller: ControllerStatusOut,
    pub plume: PlumeStatusOut,
    pub totals: TotalsOut,
    pub units: Vec<UnitStateOut>,
}

/// `GET`/`PUT /api/v1/settings/omada`: the stored settings (secrets masked by the caller)
/// and `configured`; a validated `PUT` adds what the test learnt ([`ControllerCheckOut`]).
#[derive(Debug, Serialize)]
pub struct OmadaSettingsOut {
    #[serde(flatten)]
    pub settings: OmadaSettings,
    pub configured: bool,
    #[serde(flatten)]
    pub check: Option<ControllerCheckOut>,
    /// A validated `PUT`: the PPSK set-up check of every password-mode unit (issue 18
    /// item 4), each `{unit_id, ok, problem, checks, …}`; absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub password_checks: Vec<UnitCheckOut>,
}

/// What a validated controller settings `PUT` learnt (CONTRACTS §4, §5).
#[derive(Debug, Serialize)]
pub struct ControllerCheckOut {
    pub controller_version: Option<String>,
    /// Reached over HTTPS: the certificate it showed.
    pub certificate: Option<CertificateOut>,
    pub capabilities: CapabilitiesOut,
    /// Sites the credentials see (Open API).
    pub sites: Vec<SiteInfo>,
    /// Each site's portal Authentication Timeout (Open API).
    pub portal_timeouts: Vec<SitePortalTimeouts>,
    /// Every unit's site: may the credentials use it? (issue 12b)
    pub site_checks: Vec<SiteCheckOut>,
}

impl From<ControllerInfo> for ControllerCheckOut {
    fn from(i: ControllerInfo) -> Self {
        ControllerCheckOut {
            controller_version: i.controller_version,
            certificate: i.certificate.as_ref().map(CertificateOut::from),
            capabilities: i.capabilities.into(),
            sites: i.sites,
            portal_timeouts: i.portal_timeouts,
            site_checks: Vec::new(),
        }
    }
}

/// `GET`/`PUT /api/v1/settings/plume`, `auth_header` always masked.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PlumeSettingsOut {
    pub sso_url: String,
    pub auth_header: Word,
    pub partner_id: String,
    pub api_base: String,
    pub poll_interval_seconds: u32,
    pub configured: bool,
}

impl From<&PlumeSettings> for PlumeSettingsOut {
    fn from(s: &PlumeSettings) -> Self {
        PlumeSettingsOut {
            sso_url: s.sso_url.clone(),
            auth_header: Cow::Borrowed(crate::controller::MASK),
            partner_id: s.partner_id.clone(),
            api_base: s.api_base.clone(),
            poll_interval_seconds: s.poll_interval_seconds,
            configured: true,
        }
    }
}

/// `GET`/`PUT /api/v1/settings/property`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PropertyOut {
    /// The property's IANA zone as the zone database spells it; `null` = not set (UTC).
    pub time_zone: Option<String>,
}

/// Every error body.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct ErrorOut {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct ErrorDetail {
    pub code: Word,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `tls_untrusted`: the certificate the controller showed (CONTRACTS §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateOut>,
    /// `password_check_failed`: every item of the PPSK set-up check (issue 18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<serde_json::Value>,
}

/// A controller's TLS certificate as a settings test saw it (CONTRACTS §4).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct CertificateOut {
    pub subject: String,
    /// 64 lowercase hex digits: what `cert_sha256` pins.
    pub sha256: String,
    pub san: Vec<String>,
    /// TP-Link's factory certificate, the same on every software controller.
    pub factory_default: bool,
}

impl From<&CertificateInfo> for CertificateOut {
    fn from(c: &CertificateInfo) -> Self {
        CertificateOut {
            subject: c.subject.clone(),
            sha256: c.sha256.clone(),
            san: c.san.clone(),
            factory_default: c.factory_default,
        }
    }
}

/// What the configured controller credentials make possible (CONTRACTS §5).
#[derive(Clone, Copy, Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct CapabilitiesOut {
    pub authorize_with_duration: bool,
    pub discovery: bool,
    pub client_lookup: bool,
    pub device_health: bool,
    pub ppsk: bool,
}

impl From<Capabilities> for CapabilitiesOut {
    fn from(c: Capabilities) -> Self {
        CapabilitiesOut {
            authorize_with_duration: c.authorize_with_duration,
            discovery: c.discovery,
            client_lookup: c.client_lookup,
            device_health: c.device_health,
            ppsk: c.ppsk,
        }
    }
}

// ---------------------------------------------------------------- events (`data:` lines)

/// `voucher_issued`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct VoucherIssuedOut {
    pub unit_id: String,
    pub code: String,
    pub booking_ref: Option<String>,
    pub valid_until: Option<String>,
    pub expires_at: Option<String>,
    pub at: String,
}

/// `voucher_redeemed`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct VoucherRedeemedOut {
    pub unit_id: String,
    pub code: String,
    pub grant_id: String,
    pub client_mac: String,
    pub booking_ref: Option<String>,
    /// The host let the device in by its MAC (not a guest on the portal).
    pub by_host: bool,
    pub at: String,
}

/// `voucher_revoked`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct VoucherRevokedOut {
    pub unit_id: String,
    pub code: String,
    pub booking_ref: Option<String>,
    pub devices: usize,
    pub at: String,
}

/// `voucher_updated`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct VoucherUpdatedOut {
    pub unit_id: String,
    pub code: String,
    pub valid_until: Option<String>,
    pub max_devices: u32,
    pub at: String,
}

/// `grant_expired` and `grant_revoked`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct GrantEndedOut {
    pub unit_id: String,
    pub code: String,
    pub grant_id: String,
    pub client_mac: String,
    pub at: String,
}

/// `health_changed`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct HealthChangedOut {
    pub unit_id: String,
    pub status: Word,
    pub previous: Word,
    pub reasons: Vec<String>,
    pub at: String,
}

/// `controller_status` and `plume_status`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct ConnectivityOut {
    pub connected: bool,
    pub last_error: Option<String>,
    pub at: String,
}

/// `unit_changed`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct UnitChangedOut {
    pub unit_id: String,
    pub change: Word,
    pub at: String,
}

/// `booking_vanished`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct BookingVanishedOut {
    pub unit_id: String,
    pub booking_ref: String,
    pub guest_name: Option<String>,
    pub code: Option<String>,
    pub start: String,
    pub end: String,
    pub during_stay: bool,
    pub cancel_at: Option<String>,
    pub at: String,
}

/// `booking_restored`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct BookingRestoredOut {
    pub unit_id: String,
    pub booking_ref: String,
    pub guest_name: Option<String>,
    pub code: Option<String>,
    pub start: String,
    pub end: String,
    pub was_cancelled: bool,
    pub at: String,
}

/// `booking_cancelled`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct BookingCancelledOut {
    pub unit_id: String,
    pub booking_ref: String,
    pub guest_name: Option<String>,
    pub code: Option<String>,
    pub start: String,
    pub end: String,
    /// `deleted` (the per-booking DELETE) or `absent` (missing past the unit's limit).
    pub cause: Word,
    pub at: String,
}

/// `controller_problem`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct ControllerProblemOut {
    pub problem: Option<String>,
    pub outbox_waiting: u64,
    pub at: String,
}

/// A failed step in `controller_check`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct FailedStepOut {
    pub step: String,
    pub site: Option<String>,
    pub message: String,
    pub controller_message: Option<String>,
}

/// `controller_check`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct ControllerCheckEventOut {
    pub ok: bool,
    pub steps: usize,
    pub failed: Vec<FailedStepOut>,
    pub at: String,
}

/// `host_test_result`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct HostTestResultOut {
    pub unit_id: String,
    pub code: String,
    pub client_mac: String,
    pub ok: bool,
    pub let_in_at: Option<String>,
    pub revoked_at: String,
    pub disconnected: usize,
    pub authorization_state: Word,
    pub message: String,
    pub at: String,
}

// ---------------------------------------------------------------- controller operations (12b)

/// An SSID in `GET /api/v1/controller/sites`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct SsidOut {
    pub id: String,
    pub name: String,
    pub guest_network: bool,
    pub open: bool,
}

/// A site in `GET /api/v1/controller/sites`: what the unit form offers.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct SiteOut {
    pub id: String,
    pub name: String,
    pub ssids: Vec<SsidOut>,
    /// Why the SSIDs could not be read (null when they could).
    pub ssids_error: Option<String>,
    /// Units on this site.
    pub unit_ids: Vec<String>,
}

/// `GET /api/v1/controller/sites`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct SitesOut {
    pub sites: Vec<SiteOut>,
}

/// `POST /api/v1/controller/hotspot-operator` (body optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorBody {
    pub name: Option<String>,
}

/// `POST /api/v1/controller/hotspot-operator`: the operator made and stored (its password
/// never leaves the sidecar).
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct OperatorOut {
    pub name: String,
    pub site_ids: Vec<String>,
    /// The controller settings now stored (secrets masked).
    pub username: Option<String>,
    pub mode: Word,
}

/// `POST /api/v1/controller/reconcile`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct ReconcileOut {
    pub sites: usize,
    pub ended: usize,
    pub kept: usize,
    pub other_methods: usize,
    pub failed: Vec<String>,
}

/// One pending controller operation in `GET /api/v1/outbox`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct OutboxItemOut {
    pub id: i64,
    /// `unauthorize`, `reauthorize` or `wifi_key` (null: unreadable).
    pub op: Option<Word>,
    /// A `wifi_key` item's key name on the controller (never its password).
    pub key: Option<String>,
    pub site: Option<String>,
    pub client_mac: Option<String>,
    pub grant_id: Option<String>,
    pub unit_id: Option<String>,
    pub attempts: u32,
    pub created_at: String,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    /// The problem it waits on, for the host to fix (null: it is only being retried).
    pub problem: Option<String>,
    pub discarded_at: Option<String>,
}

/// `GET /api/v1/outbox`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct OutboxOut {
    pub items: Vec<OutboxItemOut>,
}

/// One unit site checked by the settings test (a validated `PUT /api/v1/settings/omada`).
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct SiteCheckOut {
    pub site: String,
    pub site_id: Option<String>,
    pub ok: bool,
    /// One sentence per failed check (which site, which credential, what to change).
    pub problems: Vec<String>,
    /// The controller's own words, when it gave any.
    pub controller_message: Option<String>,
}

/// The result of a host test code's take-out.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct HostTestResultBody {
    pub ok: bool,
    pub revoked_at: String,
    pub disconnected: usize,
    pub authorization_state: String,
    pub message: String,
}

/// `POST /api/v1/units/{unit_id}/host-test`, `GET /api/v1/host-tests/{code}`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct HostTestOut {
    pub code: String,
    pub unit_id: String,
    /// `waiting`, `expired`, `in`, `taking_off`, `done`.
    pub status: Word,
    pub created_at: String,
    /// The code can be used until then.
    pub valid_until: Option<String>,
    /// How long the phone stays in.
    pub seconds: u32,
    pub client_mac: Option<String>,
    pub let_in_at: Option<String>,
    /// When the phone is (or was) taken off.
    pub revoke_at: Option<String>,
    pub result: Option<HostTestResultBody>,
    /// What the host does with the code.
    pub instructions: String,
}

// ---------------------------------------------------------------- a unit's network (health-cards)

/// A Plume or device `health` object: Plume's word and score as sent.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct HealthValueOut {
    pub status: Option<String>,
    pub score: Option<f64>,
}

impl From<&crate::plume::client::Health> for HealthValueOut {
    fn from(h: &crate::plume::client::Health) -> Self {
        HealthValueOut {
            status: h.status.clone(),
            score: h.score,
        }
    }
}

/// The gateway's last ISP speed test (Plume `speedTest`), with Airbnb's tier of its download.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct SpeedTestOut {
    pub download_mbps: Option<f64>,
    pub upload_mbps: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub status: Option<String>,
    /// When the test ran, as Plume sent it.
    pub tested_at: Option<String>,
    /// `basic` (< 7 Mbps), `steady` (7–24), `good` (25–49), `fast` (≥ 50): Airbnb's tiers.
    pub airbnb_tier: Option<Word>,
}

impl From<&crate::plume::client::SpeedTest> for SpeedTestOut {
    fn from(t: &crate::plume::client::SpeedTest) -> Self {
        SpeedTestOut {
            download_mbps: t.download_mbps,
            upload_mbps: t.upload_mbps,
            rtt_ms: t.rtt_ms,
            status: t.status.clone(),
            tested_at: t.started_at.clone(),
            airbnb_tier: t
                .download_mbps
                .and_then(crate::plume::AirbnbTier::of)
                .map(|x| Cow::Borrowed(x.as_str())),
        }
    }
}

/// One pod, gateway or access point of a unit, from either source.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PodOut {
    pub source: Source,
    /// Plume's node id (its serial number), or the access point's MAC.
    pub id: String,
    pub name: String,
    /// `pod`, `gateway` (Plume) or `access_point` (controller).
    pub kind: Word,
    pub model: Option<String>,
    pub firmware: Option<String>,
    /// Plume: `connected`, `disconnected`, `unavailable`…; controller: `connected`, `busy`,
    /// `disconnected`, `heartbeat_missed`, `isolated`, `not_adopted`, `unknown`,
    /// `not_on_site` (a MAC in `ap_macs` the site does not have).
    pub connection: String,
    pub connected: bool,
    pub connection_changed_at: Option<String>,
    /// Plume: `ethernet`, `wifi` (a mesh hop)…
    pub backhaul: Option<String>,
    pub health: Option<HealthValueOut>,
    pub connected_devices: Option<u32>,
    pub alerts: Vec<String>,
}

/// One client device Plume lists.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct NetworkDeviceOut {
    pub name: String,
    pub mac: Option<String>,
    pub connection: String,
    pub connected: bool,
    /// `2.4G`, `5G`, `6G`.
    pub band: Option<String>,
    /// `wifi`, `ethernet`.
    pub medium: Option<String>,
    pub health: Option<HealthValueOut>,
}

/// One WAN port of the site's gateway (controller).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct WanPortOut {
    pub name: String,
    pub link_up: Option<bool>,
    pub internet: Option<bool>,
    /// Link and internet both up.
    pub up: bool,
}

/// The site's gateway as the controller sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct GatewayOut {
    pub mac: String,
    pub name: String,
    pub model: Option<String>,
    pub connection: Word,
    pub connected: bool,
    pub wan_ports: Vec<WanPortOut>,
    /// Why the WAN status could not be read, when it could not.
    pub wan_error: Option<String>,
}

/// `GET /api/v1/units/{unit_id}/network` (and the `rental_wifi.get_network` action): the
/// seed bot's `/health`, `/status`, `/nodes`, `/devices` and `/wifi` in one answer, from both
/// sources.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct NetworkOut {
    pub unit_id: String,
    /// The unit's health, as `GET …/health` shows it (both sources combined).
    pub status: Word,
    pub reasons: Vec<String>,
    pub online: bool,
    pub sources: BTreeMap<Source, SourceStateOut>,
    /// Plume `serviceLevel` (`fullService`, `basicService`, `noService`).
    pub service_level: Option<String>,
    pub location_name: Option<String>,
    /// Plume `networkStatus` (`online`, `offline`).
    pub network_status: Option<String>,
    pub pods: Vec<PodOut>,
    pub gateways: Vec<GatewayOut>,
    pub devices: Vec<NetworkDeviceOut>,
    /// How many devices Plume listed (`devices` holds at most 100, connected first).
    pub devices_total: usize,
    /// SSIDs only, never a key.
    pub wifi_networks: Vec<String>,
    pub speed_test: Option<SpeedTestOut>,
    /// Fields Plume sent that could not be read.
    pub skipped: Vec<String>,
    pub plume_read_at: Option<String>,
    pub controller_read_at: Option<String>,
}

/// A source's state in [`NetworkOut`] (read back in tests, unlike the health model's type).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct SourceStateOut {
    pub status: Word,
    pub stale: bool,
    pub updated_at: Option<String>,
}

impl From<&SourceState> for SourceStateOut {
    fn from(s: &SourceState) -> Self {
        SourceStateOut {
            status: Cow::Borrowed(s.status.as_str()),
            stale: s.stale,
            updated_at: ts_opt(s.updated_at),
        }
    }
}

/// A pod in the snapshot: enough for a connectivity entity per pod.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PodSummaryOut {
    pub source: Source,
    pub id: String,
    pub name: String,
    pub kind: Word,
    pub connected: bool,
}

impl From<&PodOut> for PodSummaryOut {
    fn from(p: &PodOut) -> Self {
        PodSummaryOut {
            source: p.source,
            id: p.id.clone(),
            name: p.name.clone(),
            kind: p.kind.clone(),
            connected: p.connected,
        }
    }
}

/// Each unit's `network` in the snapshot.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct NetworkSummaryOut {
    pub pods: Vec<PodSummaryOut>,
    /// Per source, whether it has been read for this unit: a pod missing from `pods` is gone
    /// only when its source has been read.
    pub read: BTreeMap<Source, bool>,
    pub speed_test: Option<SpeedTestOut>,
}

// ---------------------------------------------------------------- Plume discovery (health-cards)

/// `GET /api/v1/plume/nodes/{serial}`: the customer and location a pod belongs to.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PlumeNodeOwnerOut {
    pub serial_number: String,
    pub customer_id: String,
    pub location_id: String,
}

/// One customer found by account id.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PlumeCustomerOut {
    pub customer_id: String,
    pub account_id: Option<String>,
    pub name: Option<String>,
    pub location_ids: Vec<String>,
}

/// `GET /api/v1/plume/customers?account_id=`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PlumeCustomersOut {
    pub customers: Vec<PlumeCustomerOut>,
}

/// One location of a customer.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PlumeLocationOut {
    pub location_id: String,
    pub name: Option<String>,
}

/// `GET /api/v1/plume/customers/{customer_id}/locations`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize, PartialEq))]
pub struct PlumeLocationsOut {
    pub locations: Vec<PlumeLocationOut>,
}
