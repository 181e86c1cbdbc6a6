//! Units: the checked input of a create or a change, and the rules that need no database.
//!
//! A caller's [`UnitInput`] is parsed once into [`UnitChanges`] (every given field valid on
//! its own) before a use case runs; inside the transaction [`UnitChanges::apply`] lays it
//! onto the stored unit and checks what depends on the combination (the Plume ids go
//! together). Issue 14 and later add unit fields (vanish limit, device policy, …) here.

use time::OffsetDateTime;

use crate::net::Mac;
use crate::vouchers::model::{
    AccessMode, DevicePolicy, GuestChecks, GuestPage, SecondFactor, StayRules, Unit,
    MAX_VANISH_CANCEL_MINUTES,
};
use crate::vouchers::voucher::check_policy;
use crate::vouchers::{invalid, Error};

/// Unit fields as given by a caller; `None` = not given (create: default, change: unchanged).
#[derive(Clone, Debug, Default)]
pub struct UnitInput {
    pub unit_id: Option<String>,
    pub name: Option<String>,
    pub omada_site: Option<String>,
    pub ssids: Option<Vec<String>>,
    pub vlans: Option<Vec<u16>>,
    pub ap_macs: Option<Vec<String>>,
    pub plume_customer_id: Option<Option<String>>,
    pub plume_location_id: Option<Option<String>>,
    pub checkin_grace_minutes: Option<u32>,
    pub checkout_grace_minutes: Option<u32>,
    pub terms_url: Option<Option<String>>,
    /// Issue 18: `portal` or `password`, and the PPSK profile of password mode.
    pub access_mode: Option<String>,
    pub ppsk_profile_id: Option<Option<String>>,
    /// `Some(None)` clears it.
    pub omada_site_id: Option<Option<String>>,
    /// Stays and devices (issue 14).
    pub vanish_cancel_minutes: Option<u32>,
    pub device_policy: Option<String>,
    /// The portal's checks (issue 13).
    pub address_translation: Option<bool>,
    pub short_code_second_factor: Option<String>,
    /// What the portal shows the unit's guests (issue 17); `Some(None)` or `Some("")` clears.
    pub welcome_title: Option<Option<String>>,
    pub welcome_text: Option<Option<String>>,
    pub checkout_time: Option<Option<String>>,
    pub host_contact: Option<Option<String>>,
    pub accent_color: Option<Option<String>>,
    pub terms_text: Option<Option<String>>,
    /// An IANA zone name; `Some(None)` = back to the property's zone.
    pub time_zone: Option<Option<String>>,
}

/// Checked unit fields: each `Some` is valid on its own (trimmed, normalised, deduplicated).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnitChanges {
    unit_id: Option<String>,
    name: Option<String>,
    omada_site: Option<String>,
    ssids: Option<Vec<String>>,
    vlans: Option<Vec<u16>>,
    ap_macs: Option<Vec<Mac>>,
    plume_customer_id: Option<Option<String>>,
    plume_location_id: Option<Option<String>>,
    checkin_grace_minutes: Option<u32>,
    checkout_grace_minutes: Option<u32>,
    terms_url: Option<Option<String>>,
    access_mode: Option<AccessMode>,
    ppsk_profile_id: Option<Option<String>>,
    omada_site_id: Option<Option<String>>,
    /// The canonical IANA name (as the zone database spells it), checked.
    time_zone: Option<Option<String>>,
    stay: StayChanges,
    guest_checks: GuestCheckChanges,
    guest_page: GuestPageChanges,
}

/// Checked changes of a unit's [`GuestPage`] (the logo has its own route).
#[derive(Clone, Debug, Default, PartialEq)]
struct GuestPageChanges {
    welcome_title: Option<Option<String>>,
    welcome_text: Option<Option<String>>,
    checkout_time: Option<Option<time::Time>>,
    host_contact: Option<Option<String>>,
    accent_color: Option<Option<String>>,
    /// The normalised text and its SHA-256.
    terms: Option<Option<(String, String)>>,
}

/// A given text field: `None` = unchanged, `Some(None)` = cleared (null or blank).
fn given(v: &Option<Option<String>>) -> Option<Option<&str>> {
    v.as_ref()
        .map(|o| o.as_deref().map(str::trim).filter(|s| !s.is_empty()))
}

impl GuestPageChanges {
    /// Each field through the portal's checks; every refusal names the field.
    fn parse(input: &UnitInput) -> Result<GuestPageChanges, Error> {
        use crate::portal::{branding, terms, welcome};
        let line =
            |field: &'static str,
             v: &Option<Option<String>>,
             check: fn(&str) -> Result<Option<String>, welcome::WelcomeError>| {
                given(v)
                    .map(|o| o.map(check).transpose().map(Option::flatten))
                    .transpose()
                    .map_err(|e| invalid(field, format!("{field}: {e}")))
            };
        let welcome_title = line("welcome_title", &input.welcome_title, welcome::check_title)?;
        let welcome_text = line("welcome_text", &input.welcome_text, welcome::check_text)?;
        let host_contact = line("host_contact", &input.host_contact, welcome::check_contact)?;
        let checkout_time = given(&input.checkout_time)
            .map(|o| o.map(welcome::parse_checkout).transpose())
            .transpose()
            .map_err(|e| invalid("checkout_time", format!("checkout_time: {e}")))?;
        let accent_color = given(&input.accent_color)
            .map(|o| {
                o.map(|c| branding::check_accent(c).map(|a| a.colour))
                    .transpose()
            })
            .transpose()
            .map_err(|e| invalid("accent_color", format!("accent_color: {e}")))?;
        let terms = given(&input.terms_text)
            .map(|o| match o {
                None => Ok(None),
                Some(t) => terms::Terms::new(t).map(|t| t.map(|t| (t.text, t.sha256))),
            })
            .transpose()
            .map_err(|e| invalid("terms_text", format!("terms_text: {e}")))?;
        Ok(GuestPageChanges {
            welcome_title,
            welcome_text,
            checkout_time,
            host_contact,
            accent_color,
            terms,
        })
    }

    fn apply(&self, p: &mut GuestPage) {
        if let Some(v) = &self.welcome_title {
            p.welcome_title.clone_from(v);
        }
        if let Some(v) = &self.welcome_text {
            p.welcome_text.clone_from(v);
        }
        if let Some(v) = self.checkout_time {
            p.checkout_time = v;
        }
        if let Some(v) = &self.host_contact {
            p.host_contact.clone_from(v);
        }
        if let Some(v) = &self.accent_color {
            p.accent_color.clone_from(v);
        }
        if let Some(v) = &self.terms {
            p.terms_text = v.as_ref().map(|(t, _)| t.clone());
            p.terms_sha256 = v.as_ref().map(|(_, h)| h.clone());
        }
    }
}

/// Checked changes of a unit's [`StayRules`].
#[derive(Clone, Debug, Default, PartialEq)]
struct StayChanges {
    vanish_cancel_minutes: Option<u32>,
    device_policy: Option<DevicePolicy>,
}

impl StayChanges {
    fn parse(input: &UnitInput) -> Result<StayChanges, Error> {
        if input
            .vanish_cancel_minutes
            .is_some_and(|m| m > MAX_VANISH_CANCEL_MINUTES)
        {
            return Err(invalid(
                "vanish_cancel_minutes",
                format!("vanish_cancel_minutes must be between 0 and {MAX_VANISH_CANCEL_MINUTES}"),
            ));
        }
        Ok(StayChanges {
            vanish_cancel_minutes: input.vanish_cancel_minutes,
            device_policy: input
                .device_policy
                .as_deref()
                .map(|p| check_policy("device_policy", p))
                .transpose()?,
        })
    }

    fn apply(&self, s: &mut StayRules) {
        if let Some(v) = self.vanish_cancel_minutes {
            s.vanish_cancel_minutes = v;
        }
        if let Some(v) = self.device_policy {
            s.device_policy = v;
        }
    }
}

/// Checked changes of a unit's [`GuestChecks`].
#[derive(Clone, Debug, Default, PartialEq)]
struct GuestCheckChanges {
    address_translation: Option<bool>,
    short_code_second_factor: Option<SecondFactor>,
}

impl GuestCheckChanges {
    fn parse(input: &UnitInput) -> Result<GuestCheckChanges, Error> {
        let short_code_second_factor = match input.short_code_second_factor.as_deref() {
            None => None,
            Some(s) => Some(SecondFactor::parse(s.trim()).ok_or_else(|| {
                invalid(
                    "short_code_second_factor",
                    "short_code_second_factor must be 'none' or 'last_name'",
                )
            })?),
        };
        Ok(GuestCheckChanges {
            address_translation: input.address_translation,
            short_code_second_factor,
        })
    }

    fn apply(&self, c: &mut GuestChecks) {
        if let Some(v) = self.address_translation {
            c.address_translation = v;
        }
        if let Some(v) = self.short_code_second_factor {
            c.short_code_second_factor = v;
        }
    }
}

/// A checked unit to create: a name, and a `unit_id` when the caller chose one.
#[derive(Clone, Debug, PartialEq)]
pub struct NewUnit {
    pub unit_id: Option<String>,
    changes: UnitChanges,
}

impl NewUnit {
    pub fn parse(input: UnitInput) -> Result<NewUnit, Error> {
        check_unit_id(input.unit_id.as_deref())?;
        if input.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(invalid("name", "name is required"));
        }
        let changes = UnitChanges::parse(input)?;
        // Apply once to a blank unit now, so that a bad combination is refused before the
        // transaction (the same check runs again there; it cannot differ).
        changes.apply(&mut blank_unit(OffsetDateTime::UNIX_EPOCH))?;
        Ok(NewUnit {
            unit_id: changes.unit_id.clone(),
            changes,
        })
    }

    /// The unit this creates, with `unit_id` and both timestamps as given.
    pub fn build(&self, unit_id: String, now: OffsetDateTime) -> Result<Unit, Error> {
        let mut unit = blank_unit(now);
        self.changes.apply(&mut unit)?;
        unit.unit_id = unit_id;
        Ok(unit)
    }

    pub fn name(&self) -> &str {
        self.changes.name.as_deref().unwrap_or_default()
    }

    /// The site name the unit gets (`Default` when not given) and its id, if given.
    pub fn site(&self) -> (&str, Option<&str>) {
        (
            self.changes.omada_site.as_deref().unwrap_or(DEFAULT_SITE),
            self.changes
                .omada_site_id
                .as_ref()
                .and_then(|i| i.as_deref()),
        )
    }

    /// Store this site id (looked up or verified at the controller).
    pub fn set_site_id(&mut self, id: Option<String>) {
        self.changes.omada_site_id = Some(id);
    }

    /// The Plume customer and location ids the new unit names (to verify before the write).
    pub fn plume_ids(&self) -> Option<(&str, &str)> {
        match (
            &self.changes.plume_customer_id,
            &self.changes.plume_location_id,
        ) {
            (Some(Some(c)), Some(Some(l))) => Some((c, l)),
            _ => None,
        }
    }
}

/// The Omada site a unit gets when none is given.
pub const DEFAULT_SITE: &str = "Default";

/// What a new unit starts from before the caller's fields.
fn blank_unit(now: OffsetDateTime) -> Unit {
    Unit {
        unit_id: String::new(),
        name: String::new(),
        omada_site: DEFAULT_SITE.into(),
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
        created_at: now,
        updated_at: now,
        omada_site_id: None,
        stay: StayRules::default(),
        guest_checks: GuestChecks::default(),
        guest_page: GuestPage::default(),
    }
}

/// Are two units the same apart from their timestamps? (An identical create is a replay.)
pub fn same_settings(a: &Unit, b: &Unit) -> bool {
    Unit {
        created_at: b.created_at,
        updated_at: b.updated_at,
        ..a.clone()
    } == *b
}

/// `[a-z0-9_-]{1,64}`
pub fn valid_unit_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A slug from a display name: lower-case ASCII, other runs become `-`.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        let c = match c {
            'à'..='å' | 'À'..='Å' => 'a',
            'è'..='ë' | 'È'..='Ë' => 'e',
            'ì'..='ï' | 'Ì'..='Ï' => 'i',
            'ò'..='ö' | 'Ò'..='Ö' | 'ø' => 'o',
            'ù'..='ü' | 'Ù'..='Ü' => 'u',
            'ç' | 'Ç' => 'c',
            'ñ' | 'Ñ' => 'n',
            'ß' => 's',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    let mut s = out.trim_end_matches('-').to_owned();
    s.truncate(56);
    let s = s.trim_end_matches('-').to_owned();
    if s.is_empty() {
        "unit".into()
    } else {
        s
    }
}

fn check_unit_id(id: Option<&str>) -> Result<(), Error> {
    match id {
        Some(id) if !valid_unit_id(id) => {
            Err(invalid("unit_id", "unit_id must match [a-z0-9_-]{1,64}"))
        }
        _ => Ok(()),
    }
}

fn check_url(field: &'static str, v: &str) -> Result<(), Error> {
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && v.len() <= 2048 => Ok(()),
        _ => Err(invalid(
            field,
            format!("{field} must be an absolute http(s) URL"),
        )),
    }
}

fn check_plume_id(field: &'static str, v: Option<String>) -> Result<Option<String>, Error> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s)
            if s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(Some(s.to_owned()))
        }
        Some(_) => Err(invalid(
            field,
            format!("{field} must be a Plume id (letters, digits, '-', '_')"),
        )),
    }
}

/// A PPSK profile id as the controller lists it (24 hex digits on real controllers; any
/// visible ASCII up to 64 characters is kept, the set-up check tells a wrong one).
fn check_profile_id(v: Option<String>) -> Result<Option<String>, Error> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.len() <= 64 && s.bytes().all(|b| (0x21..=0x7e).contains(&b)) => {
            Ok(Some(s.to_owned()))
        }
        Some(_) => Err(invalid(
            "ppsk_profile_id",
            "ppsk_profile_id must be the controller's id of a PPSK profile (1 to 64 visible characters)",
        )),
    }
}

/// A site id as the controller has them: 24 hex digits (stored lower-case).
fn check_site_id(v: Option<String>) -> Result<Option<String>, Error> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(s.to_ascii_lowercase()))
        }
        Some(_) => Err(invalid(
            "omada_site_id",
            "omada_site_id must be the site's 24-character id (digits and a-f), as the controller's Open API lists it; docs/omada-setup.md (Site ids) shows where to find it",
        )),
    }
}

fn check_grace(field: &'static str, g: Option<u32>) -> Result<Option<u32>, Error> {
    match g {
        Some(g) if g > 1440 => Err(invalid(
            field,
            format!("{field} must be between 0 and 1440"),
        )),
        g => Ok(g),
    }
}

impl UnitChanges {
    /// Check every given field on its own.
    pub fn parse(input: UnitInput) -> Result<UnitChanges, Error> {
        check_unit_id(input.unit_id.as_deref())?;
        let stay = StayChanges::parse(&input)?;
        let guest_checks = GuestCheckChanges::parse(&input)?;
        let guest_page = GuestPageChanges::parse(&input)?;
        let name = match input.name {
            None => None,
            Some(name) => {
                let name = name.trim().to_owned();
                if name.is_empty()
                    || name.chars().count() > 100
                    || name.chars().any(|c| c.is_control())
                {
                    return Err(invalid("name", "name must be 1 to 100 characters"));
                }
                Some(name)
            }
        };
        let omada_site = match input.omada_site {
            None => None,
            Some(site) => {
                let site = site.trim().to_owned();
                if site.is_empty() || site.len() > 64 || site.chars().any(|c| c.is_control()) {
                    return Err(invalid(
                        "omada_site",
                        "omada_site must be 1 to 64 characters",
                    ));
                }
                Some(site)
            }
        };
        let ssids = match input.ssids {
            None => None,
            Some(ssids) => {
                if ssids.len() > 16 {
                    return Err(invalid("ssids", "at most 16 SSIDs"));
                }
                let mut out = Vec::new();
                for s in ssids {
                    if s.is_empty() || s.len() > 32 || s.chars().any(|c| c.is_control()) {
                        return Err(invalid("ssids", "each SSID must be 1 to 32 bytes"));
                    }
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
                Some(out)
            }
        };
        let vlans = match input.vlans {
            None => None,
            Some(mut v) => {
                if v.len() > 64 || v.iter().any(|v| !(1..=4094).contains(v)) {
                    return Err(invalid(
                        "vlans",
                        "VLAN ids must be between 1 and 4094 (at most 64)",
                    ));
                }
                v.sort_unstable();
                v.dedup();
                Some(v)
            }
        };
        let ap_macs = match input.ap_macs {
            None => None,
            Some(macs) => {
                if macs.len() > 256 {
                    return Err(invalid("ap_macs", "at most 256 access points"));
                }
                let mut out: Vec<Mac> = Vec::new();
                for m in macs {
                    let mac: Mac = m.parse().map_err(|_| {
                        invalid(
                            "ap_macs",
                            format!(
                                "'{}' is not a MAC address",
                                m.chars().take(32).collect::<String>()
                            ),
                        )
                    })?;
                    if !out.contains(&mac) {
                        out.push(mac);
                    }
                }
                Some(out)
            }
        };
        let plume_customer_id = input
            .plume_customer_id
            .map(|v| check_plume_id("plume_customer_id", v))
            .transpose()?;
        let plume_location_id = input
            .plume_location_id
            .map(|v| check_plume_id("plume_location_id", v))
            .transpose()?;
        let checkin_grace_minutes =
            check_grace("checkin_grace_minutes", input.checkin_grace_minutes)?;
        let checkout_grace_minutes =
            check_grace("checkout_grace_minutes", input.checkout_grace_minutes)?;
        let terms_url = match input.terms_url {
            None => None,
            Some(t) => match t.as_deref().map(str::trim) {
                None | Some("") => Some(None),
                Some(u) => {
                    check_url("terms_url", u)?;
                    Some(Some(u.to_owned()))
                }
            },
        };
        let access_mode =
            match input.access_mode.as_deref().map(str::trim) {
                None => None,
                Some(m) => Some(AccessMode::parse(m).ok_or_else(|| {
                    invalid("access_mode", "access_mode must be portal or password")
                })?),
            };
        let ppsk_profile_id = input.ppsk_profile_id.map(check_profile_id).transpose()?;
        let omada_site_id = input.omada_site_id.map(check_site_id).transpose()?;
        let time_zone = match input.time_zone {
            None => None,
            Some(t) => match t.as_deref().map(str::trim) {
                None | Some("") => Some(None),
                Some(name) => {
                    let zone = crate::tz::Zone::parse(name)
                        .map_err(|e| invalid("time_zone", format!("time_zone: {e}")))?;
                    Some(Some(zone.name().to_owned()))
                }
            },
        };
        Ok(UnitChanges {
            unit_id: input.unit_id,
            name,
            omada_site,
            ssids,
            vlans,
            ap_macs,
            plume_customer_id,
            plume_location_id,
            checkin_grace_minutes,
            checkout_grace_minutes,
            terms_url,
            access_mode,
            ppsk_profile_id,
            omada_site_id,
            time_zone,
            stay,
            guest_checks,
            guest_page,
        })
    }

    /// The `unit_id` the caller gave, if any (a change may not alter it).
    pub fn unit_id(&self) -> Option<&str> {
        self.unit_id.as_deref()
    }

    /// Store this site id (looked up or verified at the controller).
    pub fn set_site_id(&mut self, id: Option<String>) {
        self.omada_site_id = Some(id);
    }

    /// Does this change touch the site (its name or its id)?
    pub fn touches_site(&self) -> bool {
        self.omada_site.is_some() || self.omada_site_id.is_some()
    }

    /// Does the change set either Plume id (so the result is verified before the write)?
    pub fn touches_plume(&self) -> bool {
        matches!(self.plume_customer_id, Some(Some(_)))
            || matches!(self.plume_location_id, Some(Some(_)))
    }

    /// Lay the changes onto `unit`; refused when the result would be inconsistent.
    pub fn apply(&self, unit: &mut Unit) -> Result<(), Error> {
        let mut u = unit.clone();
        if let Some(v) = &self.name {
            u.name.clone_from(v);
        }
        if let Some(v) = &self.omada_site {
            u.omada_site.clone_from(v);
        }
        if let Some(v) = &self.ssids {
            u.ssids.clone_from(v);
        }
        if let Some(v) = &self.vlans {
            u.vlans.clone_from(v);
        }
        if let Some(v) = &self.ap_macs {
            u.ap_macs.clone_from(v);
        }
        if let Some(v) = &self.plume_customer_id {
            u.plume_customer_id.clone_from(v);
        }
        if let Some(v) = &self.plume_location_id {
            u.plume_location_id.clone_from(v);
        }
        if let Some(v) = self.checkin_grace_minutes {
            u.checkin_grace_minutes = v;
        }
        if let Some(v) = self.checkout_grace_minutes {
            u.checkout_grace_minutes = v;
        }
        if let Some(v) = &self.terms_url {
            u.terms_url.clone_from(v);
        }
        if let Some(v) = &self.time_zone {
            u.time_zone.clone_from(v);
        }
        if let Some(v) = self.access_mode {
            u.access.mode = v;
        }
        if let Some(v) = &self.ppsk_profile_id {
            u.access.ppsk_profile_id.clone_from(v);
        }
        check_password_mode(&u)?;
        match &self.omada_site_id {
            Some(v) => u.omada_site_id.clone_from(v),
            // Another site and no id for it: the old id belonged to the old site.
            None if u.omada_site != unit.omada_site => u.omada_site_id = None,
            None => {}
        }
        self.stay.apply(&mut u.stay);
        self.guest_checks.apply(&mut u.guest_checks);
        self.guest_page.apply(&mut u.guest_page);
        if u.plume_customer_id.is_some() != u.plume_location_id.is_some() {
            return Err(invalid(
                "plume_location_id",
                "plume_customer_id and plume_location_id go together",
            ));
        }
        *unit = u;
        Ok(())
    }
}

/// A password-mode unit names its PPSK profile and its SSID, and has at most one VLAN: the
/// one its keys put devices on (issue 18 item 7: one VLAN per key).
fn check_password_mode(u: &Unit) -> Result<(), Error> {
    if u.access.mode != AccessMode::Password {
        return Ok(());
    }
    if u.access.ppsk_profile_id.is_none() {
        return Err(invalid(
            "ppsk_profile_id",
            "a unit in password mode needs ppsk_profile_id: the PPSK profile its SSID uses",
        ));
    }
    if u.ssids.is_empty() {
        return Err(invalid(
            "ssids",
            "a unit in password mode needs its SSID (the one whose Security is the PPSK profile)",
        ));
    }
    if u.vlans.len() > 1 {
        return Err(invalid(
            "vlans",
            "a unit in password mode has at most one VLAN: the one its Wi-Fi passwords put devices on",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Beach House #2"), "beach-house-2");
        assert_eq!(slugify("  Ferienwohnung Müller "), "ferienwohnung-muller");
        assert_eq!(slugify("!!!"), "unit");
        assert!(valid_unit_id(&slugify(&"x".repeat(200))));
    }

    fn field(r: Result<impl std::fmt::Debug, Error>) -> Option<&'static str> {
        match r {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn fields_are_checked_and_normalised() {
        let input = UnitInput {
            name: Some("  Loft ".into()),
            vlans: Some(vec![30, 20, 30]),
            ap_macs: Some(vec!["aa:bb:cc:dd:ee:01".into(), "AA-BB-CC-DD-EE-01".into()]),
            ssids: Some(vec!["Guest".into(), "Guest".into()]),
            ..Default::default()
        };
        let new = NewUnit::parse(input).unwrap();
        let u = new
            .build("loft".into(), OffsetDateTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(u.name, "Loft");
        assert_eq!(u.vlans, vec![20, 30]);
        assert_eq!(u.ap_macs.len(), 1);
        assert_eq!(u.ssids, vec!["Guest".to_owned()]);
        assert_eq!(u.omada_site, "Default");
        assert_eq!(field(NewUnit::parse(UnitInput::default())), Some("name"));
        let bad = |i: UnitInput| {
            field(NewUnit::parse(UnitInput {
                name: Some("x".into()),
                ..i
            }))
        };
        assert_eq!(
            bad(UnitInput {
                unit_id: Some("Not Valid".into()),
                ..Default::default()
            }),
            Some("unit_id")
        );
        assert_eq!(
            bad(UnitInput {
                vlans: Some(vec![0]),
                ..Default::default()
            }),
            Some("vlans")
        );
        assert_eq!(
            bad(UnitInput {
                checkin_grace_minutes: Some(1441),
                ..Default::default()
            }),
            Some("checkin_grace_minutes")
        );
        assert_eq!(
            bad(UnitInput {
                terms_url: Some(Some("ftp://x".into())),
                ..Default::default()
            }),
            Some("terms_url")
        );
        assert_eq!(
            bad(UnitInput {
                vanish_cancel_minutes: Some(MAX_VANISH_CANCEL_MINUTES + 1),
                ..Default::default()
            }),
            Some("vanish_cancel_minutes")
        );
        assert_eq!(
            bad(UnitInput {
                device_policy: Some("kick_everyone".into()),
                ..Default::default()
            }),
            Some("device_policy")
        );
        assert_eq!(
            bad(UnitInput {
                plume_customer_id: Some(Some("c1".into())),
                ..Default::default()
            }),
            Some("plume_location_id"),
            "the Plume ids go together"
        );
        assert_eq!(
            bad(UnitInput {
                time_zone: Some(Some("Mars/Olympus_Mons".into())),
                ..Default::default()
            }),
            Some("time_zone")
        );
        assert_eq!(
            bad(UnitInput {
                time_zone: Some(Some("../etc/passwd".into())),
                ..Default::default()
            }),
            Some("time_zone")
        );
    }

    #[test]
    fn time_zone_is_stored_as_the_database_spells_it_and_can_be_cleared() {
        let mut u = NewUnit::parse(UnitInput {
            name: Some("Loft".into()),
            time_zone: Some(Some(" Europe/Lisbon ".into())),
            ..Default::default()
        })
        .unwrap()
        .build("loft".into(), OffsetDateTime::UNIX_EPOCH)
        .unwrap();
        assert_eq!(u.time_zone.as_deref(), Some("Europe/Lisbon"));
        UnitChanges::parse(UnitInput {
            name: Some("Loft 2".into()),
            ..Default::default()
        })
        .unwrap()
        .apply(&mut u)
        .unwrap();
        assert_eq!(u.time_zone.as_deref(), Some("Europe/Lisbon"), "kept");
        UnitChanges::parse(UnitInput {
            time_zone: Some(None),
            ..Default::default()
        })
        .unwrap()
        .apply(&mut u)
        .unwrap();
        assert_eq!(u.time_zone, None, "null: the property's zone again");
    }

    #[test]
    fn password_mode_needs_a_profile_an_ssid_and_at_most_one_vlan() {
        let base = || UnitInput {
            name: Some("Loft".into()),
            ssids: Some(vec!["Rental".into()]),
            access_mode: Some("password".into()),
            ppsk_profile_id: Some(Some(" 6512d0a1b2c3d4e5f6a7b8c9 ".into())),
            ..Default::default()
        };
        let u = NewUnit::parse(base())
            .unwrap()
            .build("loft".into(), OffsetDateTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(u.access.mode, AccessMode::Password);
        assert_eq!(u.access.profile(), Some("6512d0a1b2c3d4e5f6a7b8c9"));
        assert_eq!(
            field(NewUnit::parse(UnitInput {
                ppsk_profile_id: None,
                ..base()
            })),
            Some("ppsk_profile_id")
        );
        assert_eq!(
            field(NewUnit::parse(UnitInput {
                ssids: None,
                ..base()
            })),
            Some("ssids")
        );
        assert_eq!(
            field(NewUnit::parse(UnitInput {
                vlans: Some(vec![20, 30]),
                ..base()
            })),
            Some("vlans")
        );
        assert_eq!(
            field(NewUnit::parse(UnitInput {
                access_mode: Some("wpa".into()),
                ..base()
            })),
            Some("access_mode")
        );
        assert_eq!(
            field(NewUnit::parse(UnitInput {
                ppsk_profile_id: Some(Some("has space".into())),
                ..base()
            })),
            Some("ppsk_profile_id")
        );
        // Portal is the default, and a portal unit may keep two VLANs and a profile id.
        let p = NewUnit::parse(UnitInput {
            name: Some("Flat".into()),
            vlans: Some(vec![20, 30]),
            ..Default::default()
        })
        .unwrap()
        .build("flat".into(), OffsetDateTime::UNIX_EPOCH)
        .unwrap();
        assert_eq!(p.access.mode, AccessMode::Portal);
        assert_eq!(p.access.profile(), None);
        // Back to portal keeps the profile (for a later switch back), unused.
        let mut back = u.clone();
        UnitChanges::parse(UnitInput {
            access_mode: Some("portal".into()),
            ..Default::default()
        })
        .unwrap()
        .apply(&mut back)
        .unwrap();
        assert_eq!(back.access.profile(), None);
        assert!(back.access.ppsk_profile_id.is_some());
    }

    #[test]
    fn guest_checks_are_checked_and_kept() {
        assert_eq!(
            field(UnitChanges::parse(UnitInput {
                short_code_second_factor: Some("birthday".into()),
                ..Default::default()
            })),
            Some("short_code_second_factor")
        );
        let mut u = blank_unit(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            u.guest_checks,
            GuestChecks::default(),
            "address check on, no second factor"
        );
        UnitChanges::parse(UnitInput {
            short_code_second_factor: Some("last_name".into()),
            ..Default::default()
        })
        .unwrap()
        .apply(&mut u)
        .unwrap();
        assert_eq!(
            u.guest_checks.short_code_second_factor,
            SecondFactor::LastName
        );
        assert!(
            !u.guest_checks.address_translation,
            "not named, not changed"
        );
        UnitChanges::parse(UnitInput {
            address_translation: Some(true),
            ..Default::default()
        })
        .unwrap()
        .apply(&mut u)
        .unwrap();
        assert!(u.guest_checks.address_translation);
        assert_eq!(
            u.guest_checks.short_code_second_factor,
            SecondFactor::LastName
        );
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name() {
        let mut u = NewUnit::parse(UnitInput {
            name: Some("Loft".into()),
            ssids: Some(vec!["Guest".into()]),
            ..Default::default()
        })
        .unwrap()
        .build("loft".into(), OffsetDateTime::UNIX_EPOCH)
        .unwrap();
        let before = u.clone();
        assert_eq!(
            u.stay,
            StayRules::default(),
            "replace_oldest, cancel at the start"
        );
        let c = UnitChanges::parse(UnitInput {
            checkout_grace_minutes: Some(60),
            device_policy: Some("refuse".into()),
            ..Default::default()
        })
        .unwrap();
        c.apply(&mut u).unwrap();
        assert_eq!(u.checkout_grace_minutes, 60);
        assert_eq!(u.stay.device_policy, DevicePolicy::Refuse);
        assert_eq!(u.stay.vanish_cancel_minutes, 0, "not named, not changed");
        assert_eq!(u.ssids, before.ssids);
        assert!(!same_settings(&u, &before));
        let mut later = before.clone();
        later.updated_at += time::Duration::hours(1);
        assert!(same_settings(&before, &later));
    }

    #[test]
    fn site_ids_are_24_hex_stored_lower_case_and_follow_the_site() {
        let new = NewUnit::parse(UnitInput {
            name: Some("Loft".into()),
            omada_site: Some("Beach".into()),
            omada_site_id: Some(Some(" 640EFFD1B3F2AE5B912275EC ".into())),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(new.site(), ("Beach", Some("640effd1b3f2ae5b912275ec")));
        let mut u = new
            .build("loft".into(), OffsetDateTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(u.omada_site_id.as_deref(), Some("640effd1b3f2ae5b912275ec"));
        for bad in [
            "Default",
            "640effd1b3f2ae5b912275e",
            "640effd1b3f2ae5b912275eg",
        ] {
            let r = UnitChanges::parse(UnitInput {
                omada_site_id: Some(Some(bad.into())),
                ..Default::default()
            });
            assert_eq!(field(r), Some("omada_site_id"), "{bad}");
        }
        // The same site again keeps the id; another site without an id drops it (it was the
        // old site's); null clears it.
        let same = UnitChanges::parse(UnitInput {
            omada_site: Some("Beach".into()),
            ..Default::default()
        })
        .unwrap();
        same.apply(&mut u).unwrap();
        assert!(u.omada_site_id.is_some());
        let mut moved = u.clone();
        UnitChanges::parse(UnitInput {
            omada_site: Some("Lake".into()),
            ..Default::default()
        })
        .unwrap()
        .apply(&mut moved)
        .unwrap();
        assert_eq!(moved.omada_site_id, None);
        UnitChanges::parse(UnitInput {
            omada_site_id: Some(None),
            ..Default::default()
        })
        .unwrap()
        .apply(&mut u)
        .unwrap();
        assert_eq!(u.omada_site_id, None);
        let mut c = UnitChanges::parse(UnitInput::default()).unwrap();
        c.set_site_id(Some("640effd1b3f2ae5b912275ec".into()));
        c.apply(&mut u).unwrap();
        assert_eq!(u.omada_site_id.as_deref(), Some("640effd1b3f2ae5b912275ec"));
        assert_eq!(
            NewUnit::parse(UnitInput {
                name: Some("x".into()),
                ..Default::default()
            })
            .unwrap()
            .site(),
            ("Default", None)
        );
    }
}
