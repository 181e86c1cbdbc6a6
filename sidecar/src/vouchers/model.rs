//! Plain domain types: units, vouchers, grants, bookings, and the domain's words as enums
//! (grant end reasons, actors, audit actions). No wire format here; `api/` maps these to JSON
//! and `store/` to rows. Each word's `as_str` is its one spelling in the database, the audit
//! log and the API.

use time::OffsetDateTime;

use crate::net::Mac;

/// A rental unit: the place a voucher belongs to and the networks it may be redeemed on.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    pub unit_id: String,
    pub name: String,
    pub omada_site: String,
    pub ssids: Vec<String>,
    pub vlans: Vec<u16>,
    pub ap_macs: Vec<Mac>,
    pub plume_customer_id: Option<String>,
    pub plume_location_id: Option<String>,
    pub checkin_grace_minutes: u32,
    pub checkout_grace_minutes: u32,
    pub terms_url: Option<String>,
    /// The unit's IANA time zone when it differs from the property's (DESIGN §10); `None`
    /// = the property's. See `property::zone_for`.
    pub time_zone: Option<String>,
    /// How guests get on: the portal, or a Wi-Fi password per booking (issue 18).
    pub access: Access,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The 24-hex id of `omada_site` on the controller (issue 12b), when known.
    pub omada_site_id: Option<String>,
    /// How stays and devices behave on this unit (issue 14).
    pub stay: StayRules,
    /// How the portal checks who is asking and what they type on this unit (issue 13).
    pub guest_checks: GuestChecks,
    /// What the portal shows a guest of this unit beyond the login form (issue 17).
    pub guest_page: GuestPage,
}

/// A unit's welcome, house info, branding and terms (issue 17), as checked at save by the
/// portal's building blocks (`portal::welcome`, `portal::branding`, `portal::terms`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestPage {
    pub welcome_title: Option<String>,
    /// The safe Markdown subset, as the host wrote it.
    pub welcome_text: Option<String>,
    /// Check-out time of day at the property.
    pub checkout_time: Option<time::Time>,
    pub host_contact: Option<String>,
    /// `#rrggbb`, lower-case; its contrast was checked at save.
    pub accent_color: Option<String>,
    /// SHA-256 (lower-case hex) of the logo in the `logos` table; set by its own route.
    pub logo_sha256: Option<String>,
    /// The terms (Markdown subset, normalised) and their SHA-256, set together.
    pub terms_text: Option<String>,
    pub terms_sha256: Option<String>,
}

/// A unit's portal checks (issue 13, DESIGN §10 "Who is asking"), kept together. The rules
/// that use them are in [`crate::vouchers::guest_checks`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestChecks {
    /// The guest network's addresses are translated (NAT) on the way to the portal, so the
    /// address the portal sees is not the guest's: the redirect's `clientIp` is not compared
    /// with it. Off by default: the usual Omada set-up routes guests to the portal as they are.
    pub address_translation: bool,
    /// What a guest must type besides a short code (at most
    /// [`crate::vouchers::code::SHORT_CODE_MAX_LEN`] characters) on this unit.
    pub short_code_second_factor: SecondFactor,
}

/// The second factor a unit may require with short codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SecondFactor {
    /// A short code alone lets a guest in (its wrong attempts have a budget per unit).
    #[default]
    None,
    /// A short code works only together with the last name of its booking's (or voucher's)
    /// guest.
    LastName,
}

impl SecondFactor {
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactor::None => "none",
            SecondFactor::LastName => "last_name",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => SecondFactor::None,
            "last_name" => SecondFactor::LastName,
            _ => return None,
        })
    }
}

/// A unit's rules for stays and devices (issue 14, DESIGN §10), kept together: when a
/// booking that vanished from the calendar counts as cancelled, and what a new device over a
/// voucher's limit does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StayRules {
    /// A booking that vanished from the calendar before its access window started counts as
    /// cancelled when it is still missing this many minutes after that start (0 = at the
    /// start). One that vanished during its stay is never cancelled by absence.
    pub vanish_cancel_minutes: u32,
    /// The default of the unit's vouchers (each may override it).
    pub device_policy: DevicePolicy,
}

/// Most minutes `vanish_cancel_minutes` may be (7 days).
pub const MAX_VANISH_CANCEL_MINUTES: u32 = 10_080;

/// What a new device does when a voucher's devices are all in use (DESIGN §10 "Devices").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DevicePolicy {
    /// The device the guest let in least recently makes room (never one the host added).
    #[default]
    ReplaceOldest,
    /// The new device is refused until one is taken off.
    Refuse,
}

impl DevicePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DevicePolicy::ReplaceOldest => "replace_oldest",
            DevicePolicy::Refuse => "refuse",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "replace_oldest" => DevicePolicy::ReplaceOldest,
            "refuse" => DevicePolicy::Refuse,
            _ => return None,
        })
    }
}

/// How a unit's guests get on the Wi-Fi (issue 18): `portal` (a voucher or booking code on
/// the captive portal) or `password` (a WPA2 password per booking or voucher, a key of the
/// PPSK profile of the unit's SSID on the controller).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AccessMode {
    #[default]
    Portal,
    Password,
}

impl AccessMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::Portal => "portal",
            AccessMode::Password => "password",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "portal" => AccessMode::Portal,
            "password" => AccessMode::Password,
            _ => return None,
        })
    }
}

/// A unit's access settings (flat in the unit's JSON: `access_mode`, `ppsk_profile_id`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    pub mode: AccessMode,
    /// The controller's id of the PPSK profile its SSID uses (password mode).
    pub ppsk_profile_id: Option<String>,
}

impl Access {
    /// Password mode with a profile: keys go to this profile.
    pub fn profile(&self) -> Option<&str> {
        match self.mode {
            AccessMode::Password => self.ppsk_profile_id.as_deref(),
            AccessMode::Portal => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoucherStatus {
    Unused,
    Active,
    /// Its booking vanished from the calendar before the stay: not usable until it returns.
    Suspended,
    Expired,
    Revoked,
}

impl VoucherStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            VoucherStatus::Unused => "unused",
            VoucherStatus::Active => "active",
            VoucherStatus::Suspended => "suspended",
            VoucherStatus::Expired => "expired",
            VoucherStatus::Revoked => "revoked",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unused" => VoucherStatus::Unused,
            "active" => VoucherStatus::Active,
            "suspended" => VoucherStatus::Suspended,
            "expired" => VoucherStatus::Expired,
            "revoked" => VoucherStatus::Revoked,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Voucher {
    pub code: String,
    pub unit_id: String,
    pub valid_from: OffsetDateTime,
    pub valid_until: Option<OffsetDateTime>,
    pub duration_minutes: Option<u32>,
    pub max_devices: u32,
    /// Distinct devices that redeemed it (slots used).
    pub devices_used: u32,
    pub guest_name: Option<String>,
    pub booking_ref: Option<String>,
    pub down_kbps: Option<u32>,
    pub up_kbps: Option<u32>,
    pub note: Option<String>,
    pub created_at: OffsetDateTime,
    pub first_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    /// Set while its booking is missing from the calendar before the stay (DESIGN §10).
    pub suspended_at: Option<OffsetDateTime>,
    /// Why it was revoked, where that matters (a booking that came back restores it).
    pub revoke_cause: Option<RevokeCause>,
    /// Its own device policy; `None`: the unit's.
    pub device_policy: Option<DevicePolicy>,
    /// Devices on it now (active grants), as the store counted them when it was read.
    pub devices_active: u32,
}

/// Why a voucher was revoked, when it was not the host's (or the API's) final word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeCause {
    /// Its booking stayed missing from the calendar past the unit's limit: if the booking
    /// comes back, so does the voucher (the same code).
    BookingAbsent,
}

impl RevokeCause {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeCause::BookingAbsent => "booking_absent",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        (s == "booking_absent").then_some(RevokeCause::BookingAbsent)
    }
}

impl Voucher {
    /// The effective end: the earlier of `valid_until` and first use + duration.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        let by_duration = match (self.first_used_at, self.duration_minutes) {
            (Some(first), Some(d)) => Some(first + time::Duration::minutes(d as i64)),
            _ => None,
        };
        match (self.valid_until, by_duration) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The end a redemption at `now` would get (first use may be now).
    pub fn end_if_redeemed_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        let first = self.first_used_at.unwrap_or(now);
        let by_duration = self
            .duration_minutes
            .map(|d| first + time::Duration::minutes(d as i64));
        match (self.valid_until, by_duration) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            // Creation refuses vouchers with neither; treat as already over.
            (None, None) => now,
        }
    }

    pub fn status(&self, now: OffsetDateTime) -> VoucherStatus {
        if self.revoked_at.is_some() {
            VoucherStatus::Revoked
        } else if self.expires_at().is_some_and(|end| now >= end) {
            VoucherStatus::Expired
        } else if self.suspended_at.is_some() {
            VoucherStatus::Suspended
        } else if self.first_used_at.is_some() {
            VoucherStatus::Active
        } else {
            VoucherStatus::Unused
        }
    }

    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        matches!(
            self.status(now),
            VoucherStatus::Unused | VoucherStatus::Active
        )
    }
}

/// A device let onto the network with a voucher.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub grant_id: String,
    pub code: String,
    pub unit_id: String,
    pub client_mac: Mac,
    pub client_ip: Option<String>,
    pub ap_mac: Option<Mac>,
    pub gateway_mac: Option<Mac>,
    pub ssid: Option<String>,
    pub vid: Option<u16>,
    pub radio_id: Option<u8>,
    pub site: String,
    /// `pending` (slot reserved, controller not yet confirmed), `active`, `ended`.
    pub state: GrantState,
    pub authorized_at: Option<OffsetDateTime>,
    pub expires_at: OffsetDateTime,
    pub ended_at: Option<OffsetDateTime>,
    pub end_reason: Option<EndReason>,
    /// The host let this device in by its MAC (a TV, a console): never replaced by a guest's.
    pub by_host: bool,
    /// What the host called the device, if anything.
    pub name: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantState {
    Pending,
    Active,
    Ended,
}

impl GrantState {
    pub fn as_str(&self) -> &'static str {
        match self {
            GrantState::Pending => "pending",
            GrantState::Active => "active",
            GrantState::Ended => "ended",
        }
    }
    pub fn parse(s: &str) -> GrantState {
        match s {
            "pending" => GrantState::Pending,
            "active" => GrantState::Active,
            _ => GrantState::Ended,
        }
    }
}

impl Grant {
    /// What the API shows: `active`, `expired` or `revoked`.
    pub fn public_status(&self, now: OffsetDateTime) -> &'static str {
        match (self.state, self.end_reason) {
            (GrantState::Ended, Some(EndReason::Expired)) => "expired",
            (GrantState::Ended, _) => "revoked",
            (_, _) if now >= self.expires_at => "expired",
            _ => "active",
        }
    }
}

/// Why a grant ended (`grants.end_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// Its end came.
    Expired,
    /// Its voucher was revoked (by the host, or with its unit).
    VoucherRevoked,
    /// The host took this one device off.
    GrantRevoked,
    /// Its booking was cancelled.
    BookingCancelled,
    /// Its voucher's window was cut so that it is over, or moved so that it starts later.
    Shortened,
    /// The guest disconnected this device on the portal's status page (issue 17).
    GuestDisconnected,
    /// A newer device on the same voucher took its place (`device_policy` `replace_oldest`).
    Replaced,
    /// The device's holder moved it to another voucher with a later end.
    Moved,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Expired => "expired",
            EndReason::VoucherRevoked => "voucher_revoked",
            EndReason::GrantRevoked => "grant_revoked",
            EndReason::BookingCancelled => "booking_cancelled",
            EndReason::Shortened => "shortened",
            EndReason::GuestDisconnected => "guest_disconnected",
            EndReason::Replaced => "replaced",
            EndReason::Moved => "moved",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "expired" => EndReason::Expired,
            "voucher_revoked" => EndReason::VoucherRevoked,
            "grant_revoked" => EndReason::GrantRevoked,
            "booking_cancelled" => EndReason::BookingCancelled,
            "shortened" => EndReason::Shortened,
            "guest_disconnected" => EndReason::GuestDisconnected,
            "replaced" => EndReason::Replaced,
            "moved" => EndReason::Moved,
            _ => return None,
        })
    }
}

/// Who made a change (the audit log's `actor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A call on the local API (Home Assistant, scripts).
    Api,
    /// A guest on the portal.
    Portal,
    /// The booking sync (`/units/{id}/bookings` routes).
    Sync,
    /// The sidecar itself: expiry, start-up repair.
    Scheduler,
    /// `rental-wifi-sidecar demo` seeding its data.
    Demo,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Api => "api",
            Actor::Portal => "portal",
            Actor::Sync => "sync",
            Actor::Scheduler => "scheduler",
            Actor::Demo => "demo",
        }
    }
}

/// What an audit row records (the audit log's `action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    UnitCreate,
    UnitUpdate,
    UnitDelete,
    VoucherIssue,
    VoucherUpdate,
    VoucherRevoke,
    VoucherRedeem,
    GrantRevoke,
    BookingCreate,
    BookingUpdate,
    BookingDelete,
    /// A booking went missing from the calendar view.
    BookingVanish,
    /// A missing booking is in the calendar again.
    BookingRestore,
    /// A missing booking stayed missing past the unit's limit.
    BookingCancel,
    /// Every live voucher of a unit revoked at once.
    UnitRevoke,
    /// The host let a device in by its MAC.
    DeviceAuthorize,
    OmadaSettingsPut,
    OmadaSettingsDelete,
    PlumeSettingsPut,
    PlumeSettingsDelete,
    /// A Wi-Fi password was made for a voucher (password mode); never the password itself.
    WifiPasswordCreate,
    /// The controller confirmed the password's key.
    WifiPasswordAdd,
    /// Someone read the password (the dedicated read, a card, an action's answer).
    WifiPasswordRead,
    /// The controller confirmed the key gone.
    WifiPasswordRemove,
    /// Issue 12b: the controller's operations.
    OutboxDiscard,
    ControllerReconcile,
    HotspotOperatorCreate,
    HostTestCreate,
    HostTestResult,
    /// Issue 17: a guest ended their own device's access; a unit's logo; terms accepted.
    GrantDisconnect,
    UnitLogoPut,
    UnitLogoDelete,
    TermsConsent,
    PropertySettingsPut,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::UnitCreate => "unit.create",
            AuditAction::UnitUpdate => "unit.update",
            AuditAction::UnitDelete => "unit.delete",
            AuditAction::VoucherIssue => "voucher.issue",
            AuditAction::VoucherUpdate => "voucher.update",
            AuditAction::VoucherRevoke => "voucher.revoke",
            AuditAction::VoucherRedeem => "voucher.redeem",
            AuditAction::GrantRevoke => "grant.revoke",
            AuditAction::BookingCreate => "booking.create",
            AuditAction::BookingUpdate => "booking.update",
            AuditAction::BookingDelete => "booking.delete",
            AuditAction::BookingVanish => "booking.vanish",
            AuditAction::BookingRestore => "booking.restore",
            AuditAction::BookingCancel => "booking.cancel",
            AuditAction::UnitRevoke => "unit.revoke",
            AuditAction::DeviceAuthorize => "device.authorize",
            AuditAction::OmadaSettingsPut => "settings.omada.put",
            AuditAction::OmadaSettingsDelete => "settings.omada.delete",
            AuditAction::PlumeSettingsPut => "settings.plume.put",
            AuditAction::PlumeSettingsDelete => "settings.plume.delete",
            AuditAction::WifiPasswordCreate => "wifi_password.create",
            AuditAction::WifiPasswordAdd => "wifi_password.add",
            AuditAction::WifiPasswordRead => "wifi_password.read",
            AuditAction::WifiPasswordRemove => "wifi_password.remove",
            AuditAction::OutboxDiscard => "outbox.discard",
            AuditAction::ControllerReconcile => "controller.reconcile",
            AuditAction::HotspotOperatorCreate => "settings.omada.operator_create",
            AuditAction::HostTestCreate => "host_test.create",
            AuditAction::HostTestResult => "host_test.result",
            AuditAction::GrantDisconnect => "grant.disconnect",
            AuditAction::UnitLogoPut => "unit.logo.put",
            AuditAction::UnitLogoDelete => "unit.logo.delete",
            AuditAction::TermsConsent => "terms.consent",
            AuditAction::PropertySettingsPut => "settings.property.put",
        }
    }
}

/// One audit row (as stored: rows written by older versions may use other words).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: OffsetDateTime,
    pub correlation_id: String,
    pub actor: String,
    pub action: String,
    pub unit_id: Option<String>,
    pub code: Option<String>,
    pub detail: Option<String>,
}

/// A booking mirrored from Rental Control.
#[derive(Clone, Debug, PartialEq)]
pub struct Booking {
    pub unit_id: String,
    pub booking_ref: String,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub guest_name: Option<String>,
    /// Normalised guest codes (at most 4), accepted by the portal like a voucher code.
    pub codes: Vec<String>,
    pub updated_at: OffsetDateTime,
    /// The booking's one voucher; `None` until one was issued (never, when the booking was
    /// already over at its first sync).
    pub voucher_code: Option<String>,
    /// When it went missing from the calendar view (`None`: it is shown).
    pub vanished_at: Option<OffsetDateTime>,
    /// When it counts as cancelled if still missing: set only for a booking that vanished
    /// before its access window (one that vanished during its stay runs to its end).
    pub cancel_at: Option<OffsetDateTime>,
    /// When it was cancelled for staying missing (it may still come back).
    pub cancelled_at: Option<OffsetDateTime>,
}

/// Where a stored booking stands with the calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// In the calendar (or sent by the per-booking route).
    Present,
    /// Missing from the calendar view; not (yet) a cancellation.
    Vanished,
    /// Missing past the unit's limit: cancelled, its voucher revoked until it comes back.
    Cancelled,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Present => "present",
            Presence::Vanished => "vanished",
            Presence::Cancelled => "cancelled",
        }
    }
}

impl Booking {
    pub fn presence(&self) -> Presence {
        if self.cancelled_at.is_some() {
            Presence::Cancelled
        } else if self.vanished_at.is_some() {
            Presence::Vanished
        } else {
            Presence::Present
        }
    }
}
