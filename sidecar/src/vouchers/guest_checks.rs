//! A unit's portal checks as plain rules (issue 13; DESIGN §10 "Who is asking"): whether the
//! redirect's `clientIp` must be the address the portal sees, which budgets a code attempt
//! falls under, and the short-code second factor. The settings are [`GuestChecks`] on the
//! unit; `portal/identity.rs` and the redemption use case apply these rules, and
//! `docs/security.md` says why they are what they are.
//!
//! **Address check.** Where guests reach the portal without address translation (the usual
//! Omada set-up: the portal is a host the guest network routes to), the controller's
//! `clientIp` is the very address the portal sees; a page asked for with another `clientIp`
//! was not opened by the device the redirect describes. Only a same-family mismatch is
//! refused: a redirect without `clientIp` (controllers before 5.9) or a phone that reaches
//! the portal over IPv6 while the controller reports its IPv4 address cannot be compared, and
//! is let through *unchecked* — never proven the holder of a device (see `holder_proven` in
//! `portal/identity.rs`), but never locked out either.
//!
//! **Second factor.** A unit may require the guest's last name with short codes. The name
//! is the one on the code's booking (or voucher). It is compared folded (case, accents,
//! punctuation and spaces ignored); it may be any run of words that ends the name (the family
//! part, or the whole name) or any one of its words but the first ("Ana María García López":
//! "García López", "Lopez", "garcia", the whole name; not "Ana"); a single-word name is the
//! name. Placeholders a calendar puts where a name would be
//! ("Reserved", "Not available", …) are no name: such a booking's short codes do not work on
//! a unit that requires the second factor (its long voucher code does).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::vouchers::code::is_short;
use crate::vouchers::model::{GuestChecks, SecondFactor, Unit, Voucher};

/// What the address check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressCheck {
    /// The redirect's `clientIp` is the address the portal sees.
    Matched,
    /// A unit of this network says its addresses are translated (`address_translation`).
    Translated,
    /// Nothing to compare: no `clientIp`, or not the same address family as the peer.
    Unverifiable,
}

/// The redirect's `clientIp` is another address of the same family than the peer's, on a
/// network without address translation: refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressMismatch {
    pub client_ip: IpAddr,
    pub peer: IpAddr,
}

/// Compare the redirect's `clientIp` with the `peer` address, unless a unit of the network
/// (`units`: those whose networks the redirect names) translates addresses.
pub fn check_address(
    units: &[&Unit],
    client_ip: Option<IpAddr>,
    peer: IpAddr,
) -> Result<AddressCheck, AddressMismatch> {
    if units.iter().any(|u| u.guest_checks.address_translation) {
        return Ok(AddressCheck::Translated);
    }
    let Some(client_ip) = client_ip.map(|ip| ip.to_canonical()) else {
        return Ok(AddressCheck::Unverifiable);
    };
    let peer = peer.to_canonical();
    if client_ip.is_ipv4() != peer.is_ipv4() {
        return Ok(AddressCheck::Unverifiable);
    }
    if client_ip == peer {
        Ok(AddressCheck::Matched)
    } else {
        Err(AddressMismatch { client_ip, peer })
    }
}

/// Which budgets a code attempt falls under (the portal's limiter keys them): the units whose
/// networks the redirect names, whether the code is short, and the folded last name that
/// stands beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptScope {
    /// Units on whose network the attempt comes (their short-code budgets apply).
    pub units: Vec<String>,
    /// The normalised code has at most `SHORT_CODE_MAX_LEN` characters.
    pub short: bool,
    /// A short code on a network whose every unit requires the last name, given with one:
    /// the folded name. Such an attempt is counted against its (unit, name) budget instead of
    /// the unit's, so only someone who knows the guest's name can spend the guest's budget.
    pub second_factor: Option<String>,
    /// A short code where a unit requires the last name, and none was typed: the portal asks
    /// for it without evaluating the code.
    pub second_factor_missing: bool,
}

/// The [`AttemptScope`] of `code` (normalised) typed with `last_name` (as typed, possibly
/// empty) on a network served by `units`.
pub fn attempt_scope(units: &[&Unit], code: &str, last_name: &str) -> AttemptScope {
    let short = is_short(code);
    let name = fold_name(last_name);
    let requires = |u: &&Unit| requires_second_factor(&u.guest_checks, code);
    let any = units.iter().any(requires);
    let all = !units.is_empty() && units.iter().all(requires);
    AttemptScope {
        units: units.iter().map(|u| u.unit_id.clone()).collect(),
        short,
        second_factor: (all && !name.is_empty()).then_some(name.clone()),
        second_factor_missing: any && name.is_empty(),
    }
}

/// Does a code need the second factor on a unit with these checks?
pub fn requires_second_factor(checks: &GuestChecks, code: &str) -> bool {
    checks.short_code_second_factor != SecondFactor::None && is_short(code)
}

/// The second factor said no (or was missing): read like a wrong code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecondFactorRefused;

/// Inside the redemption: does `last_name` go with the code's `guest_name` on a unit with
/// these `checks`? Always yes where the unit requires nothing or the code is long.
pub fn check_second_factor(
    checks: &GuestChecks,
    code: &str,
    guest_name: Option<&str>,
    last_name: &str,
) -> Result<(), SecondFactorRefused> {
    if !requires_second_factor(checks, code) {
        return Ok(());
    }
    match (checks.short_code_second_factor, guest_name) {
        (SecondFactor::LastName, Some(name)) if last_name_matches(name, last_name) => Ok(()),
        _ => Err(SecondFactorRefused),
    }
}

/// Short codes that let guests onto each unit now or later: the short codes of its live
/// vouchers and the short guest codes of its bookings whose voucher is live (`booking_codes`:
/// unit id, code, voucher code). Distinct codes per unit id.
pub fn short_codes_live(
    live: &[Voucher],
    booking_codes: &[(String, String, String)],
) -> HashMap<String, u32> {
    let live_codes: HashSet<&str> = live.iter().map(|v| v.code.as_str()).collect();
    let mut per_unit: HashMap<&str, HashSet<&str>> = HashMap::new();
    for v in live.iter().filter(|v| is_short(&v.code)) {
        per_unit.entry(&v.unit_id).or_default().insert(&v.code);
    }
    for (unit, code, voucher) in booking_codes {
        if is_short(code) && live_codes.contains(voucher.as_str()) {
            per_unit.entry(unit).or_default().insert(code);
        }
    }
    per_unit
        .into_iter()
        .map(|(u, codes)| (u.to_owned(), codes.len() as u32))
        .collect()
}

/// The host should hear that short codes are weaker: the unit has some live, and requires no
/// second factor with them.
pub fn short_codes_weak(checks: &GuestChecks, short_codes_live: u32) -> bool {
    short_codes_live > 0 && checks.short_code_second_factor == SecondFactor::None
}

/// Words a calendar puts where a guest's name would be: no name at all.
const PLACEHOLDER_NAMES: &[&str] = &[
    "reserved",
    "reservation",
    "booked",
    "booking",
    "blocked",
    "notavailable",
    "unavailable",
    "closed",
    "guest",
    "airbnb",
    "airbnbnotavailable",
    "vrbo",
    "bookingcom",
];

/// Does the typed `last_name` name the guest called `guest_name`? (See the module docs.)
pub fn last_name_matches(guest_name: &str, last_name: &str) -> bool {
    let typed = fold_name(last_name);
    if typed.chars().count() < 2 {
        return false;
    }
    let words: Vec<String> = guest_name
        .split_whitespace()
        .map(fold_name)
        .filter(|w| !w.is_empty())
        .collect();
    let whole: String = words.concat();
    if words.is_empty() || PLACEHOLDER_NAMES.contains(&whole.as_str()) {
        return false;
    }
    if words.len() == 1 {
        return typed == words[0];
    }
    // Any run of words that ends the name (the family part, or the whole name).
    (0..words.len()).any(|start| typed == words[start..].concat())
        // Or one word of it (a guest with two family names types one).
        || words[1..].contains(&typed)
}

/// Lower case, accents off, only letters and digits kept ("O'Brien-Smith" → "obriensmith",
/// "Müller" → "muller").
pub fn fold_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match fold_char(c) {
            Some(f) => out.push_str(f),
            None if c.is_alphanumeric() => out.push(c),
            None => {}
        }
    }
    out
}

/// The base letters of the Latin letters with diacritics guests' names carry (Latin-1 and
/// Latin Extended-A, lower case), so a guest may type "Muller" for "Müller".
fn fold_char(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn unit(id: &str, translation: bool, factor: SecondFactor) -> Unit {
        Unit {
            unit_id: id.into(),
            name: id.into(),
            omada_site: "Default".into(),
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
            omada_site_id: None,
            stay: Default::default(),
            guest_checks: GuestChecks {
                address_translation: translation,
                short_code_second_factor: factor,
            },
            guest_page: Default::default(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_address_check_refuses_only_a_same_family_mismatch() {
        let plain = unit("a", false, SecondFactor::None);
        let nat = unit("b", true, SecondFactor::None);
        let u = [&plain];
        assert_eq!(
            check_address(&u, Some(ip("192.168.0.23")), ip("192.168.0.23")),
            Ok(AddressCheck::Matched)
        );
        // An IPv4-mapped peer is its IPv4 address.
        assert_eq!(
            check_address(&u, Some(ip("192.168.0.23")), ip("::ffff:192.168.0.23")),
            Ok(AddressCheck::Matched)
        );
        assert_eq!(
            check_address(&u, Some(ip("192.168.0.23")), ip("192.168.0.99")),
            Err(AddressMismatch {
                client_ip: ip("192.168.0.23"),
                peer: ip("192.168.0.99")
            })
        );
        assert!(check_address(&u, Some(ip("2001:db8::1")), ip("2001:db8::2")).is_err());
        // Nothing to compare: let through, unchecked.
        assert_eq!(
            check_address(&u, None, ip("192.168.0.99")),
            Ok(AddressCheck::Unverifiable)
        );
        assert_eq!(
            check_address(&u, Some(ip("192.168.0.23")), ip("2001:db8::2")),
            Ok(AddressCheck::Unverifiable)
        );
        // A network with address translation: nothing is compared.
        assert_eq!(
            check_address(&[&nat], Some(ip("192.168.0.23")), ip("10.0.0.1")),
            Ok(AddressCheck::Translated)
        );
        assert_eq!(
            check_address(&[&plain, &nat], Some(ip("192.168.0.23")), ip("10.0.0.1")),
            Ok(AddressCheck::Translated),
            "one unit of the network says the network translates"
        );
        // No unit serves the network: checked as the default says.
        assert!(check_address(&[], Some(ip("192.168.0.23")), ip("10.0.0.1")).is_err());
    }

    #[test]
    fn attempt_scopes() {
        let plain = unit("a", false, SecondFactor::None);
        let named = unit("b", false, SecondFactor::LastName);
        let s = attempt_scope(&[&plain], "4711", "");
        assert_eq!(
            s,
            AttemptScope {
                units: vec!["a".into()],
                short: true,
                second_factor: None,
                second_factor_missing: false
            }
        );
        assert!(!attempt_scope(&[&plain], "K7M2P9QX4T", "").short);
        // A name beside a short code on a unit that asks for it.
        let s = attempt_scope(&[&named], "4711", " Müller ");
        assert_eq!(s.second_factor.as_deref(), Some("muller"));
        assert!(!s.second_factor_missing);
        let s = attempt_scope(&[&named], "4711", "");
        assert!(s.second_factor_missing && s.second_factor.is_none());
        // A long code needs no name.
        let s = attempt_scope(&[&named], "K7M2P9QX4T", "");
        assert!(!s.second_factor_missing && s.second_factor.is_none());
        // Mixed network: a name does not take the attempt out of the plain unit's budget.
        let s = attempt_scope(&[&plain, &named], "4711", "Muller");
        assert_eq!(s.second_factor, None);
        assert!(attempt_scope(&[&plain, &named], "4711", "").second_factor_missing);
        // Punctuation alone is no name.
        assert!(attempt_scope(&[&named], "4711", " - ").second_factor_missing);
    }

    #[test]
    fn short_codes_live_per_unit_and_the_warning() {
        let voucher = |code: &str, unit: &str| Voucher {
            code: code.into(),
            unit_id: unit.into(),
            valid_from: OffsetDateTime::UNIX_EPOCH,
            valid_until: None,
            duration_minutes: Some(60),
            max_devices: 4,
            devices_used: 0,
            guest_name: None,
            booking_ref: None,
            down_kbps: None,
            up_kbps: None,
            note: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            first_used_at: None,
            revoked_at: None,
            suspended_at: None,
            revoke_cause: None,
            device_policy: None,
            devices_active: 0,
        };
        let live = [
            voucher("K7M2P9QX4T", "beach"),
            voucher("SEA7", "beach"),
            voucher("Q2W3E4R5T6", "loft"),
        ];
        let b = |u: &str, c: &str, v: &str| (u.to_owned(), c.to_owned(), v.to_owned());
        let codes = [
            b("beach", "4711", "K7M2P9QX4T"),
            b("beach", "0815", "K7M2P9QX4T"),
            // The same door code on two bookings of a unit counts once.
            b("beach", "4711", "SEA7"),
            b("loft", "1234", "Q2W3E4R5T6"),
            // A booking whose voucher is no longer live lets no one in.
            b("loft", "9999", "GONEGONE22"),
            b("cabin", "5555", "GONEGONE23"),
        ];
        let n = short_codes_live(&live, &codes);
        assert_eq!(n.get("beach"), Some(&3), "SEA7, 4711, 0815");
        assert_eq!(n.get("loft"), Some(&1));
        assert_eq!(n.get("cabin"), None);
        let none = GuestChecks::default();
        let named = GuestChecks {
            short_code_second_factor: SecondFactor::LastName,
            ..none
        };
        assert!(short_codes_weak(&none, 3));
        assert!(!short_codes_weak(&none, 0));
        assert!(!short_codes_weak(&named, 3));
    }

    #[test]
    fn the_second_factor_is_the_family_name_of_the_booking() {
        let checks = GuestChecks {
            address_translation: false,
            short_code_second_factor: SecondFactor::LastName,
        };
        let ok = |guest: Option<&str>, typed: &str| {
            check_second_factor(&checks, "4711", guest, typed).is_ok()
        };
        assert!(ok(Some("John Smith"), "smith"));
        assert!(ok(Some("John Smith"), "SMITH "));
        assert!(!ok(Some("John Smith"), "john"), "a first name is not it");
        assert!(
            ok(Some("John Smith"), "John Smith"),
            "the whole name ends with it"
        );
        assert!(!ok(Some("John Smith"), "smit"));
        assert!(!ok(Some("John Smith"), ""));
        assert!(ok(Some("Ana María García López"), "García López"));
        assert!(ok(Some("Ana María García López"), "garcia"));
        assert!(ok(Some("Ana María García López"), "Lopez"));
        assert!(ok(Some("Jan van der Berg"), "van der Berg"));
        assert!(ok(Some("Jan van der Berg"), "Berg"));
        assert!(ok(Some("Lukas Müller"), "Muller"));
        assert!(ok(Some("Lukas Müller"), "müller"));
        assert!(ok(Some("Siobhán O'Brien"), "OBrien"));
        assert!(ok(Some("Zoë Œuvray-Łukasz"), "oeuvray-lukasz"));
        assert!(ok(Some("Smith"), "smith"), "a single word is the name");
        assert!(
            ok(Some("HMABCD1234"), "hmabcd1234"),
            "an Airbnb code stands for the name"
        );
        // No name to check against: refused, whatever is typed.
        assert!(!ok(None, "smith"));
        assert!(!ok(Some("Reserved"), "reserved"));
        assert!(!ok(Some("Not available"), "available"));
        assert!(!ok(Some("  "), "x"));
        assert!(!ok(Some("John X"), "x"), "one letter is no name");
        // Long codes and units without the factor need nothing.
        assert!(check_second_factor(&checks, "K7M2P9QX4T", None, "").is_ok());
        let none = GuestChecks::default();
        assert!(check_second_factor(&none, "4711", None, "").is_ok());
    }
}
