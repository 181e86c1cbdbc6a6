//! Who is asking, on the portal (DESIGN §10): the one place that decides which device a
//! request comes from. The login form, the attempt limits, and — with issue 17 — the status
//! page, "disconnect this device" and the Captive Portal API all call it.
//!
//! A **device** is the MAC of the controller's redirect *together with* the peer address the
//! portal sees. Two checks make that pair mean something:
//!
//! 1. **The address.** Where the guest network reaches the portal without address
//!    translation (the usual Omada set-up, and the default: a unit's `address_translation`
//!    is off), the redirect's `clientIp` must be the peer address; a same-family mismatch is
//!    refused with a friendly page, logged (at most once a minute per unit, with the count of
//!    what it did not log), and counted per unit for Home Assistant — never a silent lock-out.
//!    The rule itself is `vouchers::guest_checks::check_address`.
//! 2. **The page token.** Every page carries a token bound to the MAC and the peer address
//!    ([`CsrfKey::issue_for`]); a form is accepted only with a token for the same pair, so a
//!    page fetched from one address cannot be posted from another.
//!
//! What comes out is an [`Asker`]. [`Asker::holder_proven`] is true when both held with a
//! real comparison (token for this pair, `clientIp` equal to the peer): as far as the portal
//! can tell, the request comes from the device itself. That is the input the redemption use
//! case needs before it moves a device that holds an active grant to another voucher
//! (issue 13 finding 6; `RedeemRequest.holder_proven` of the `stays-devices` slice).
//!
//! **For issue 17** (status page, disconnect, Captive Portal API): call
//! [`WhoIsAsking::page`] when a page is shown for a redirect and put
//! [`WhoIsAsking::token_for`] in its form; call [`WhoIsAsking::form`] when a form comes back,
//! and act only for the [`Asker`] it returns (`handler.rs` shows both, `identify_page` /
//! `identify_form`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::csrf::{CsrfError, CsrfKey};
use crate::net::Mac;
use crate::vouchers::guest_checks::{check_address, AddressCheck, AddressMismatch};
use crate::vouchers::model::Unit;

/// At most one "clientIp mismatch" log line per unit in this time.
const MISMATCH_LOG_EVERY: Duration = Duration::from_secs(60);
/// A mismatch this recent makes the unit's state say so (Home Assistant's repair issue).
pub(crate) const MISMATCH_RECENT: time::Duration = time::Duration::hours(24);
/// Units with a mismatch record, at most (unit ids come from the database; "" = no unit).
const MAX_RECORDS: usize = 4096;

/// A device as the portal knows it, and what was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Asker {
    /// The MAC of the redirect.
    pub mac: Mac,
    /// The address the portal sees (IPv4-mapped IPv6 as IPv4).
    pub peer: IpAddr,
    /// What the `clientIp` check found.
    pub address: AddressCheck,
    /// A page token for (MAC, peer) came with the request.
    pub token: bool,
}

impl Asker {
    /// The request comes from the device itself, as far as the portal can tell: a token for
    /// this (MAC, peer), and the redirect's `clientIp` *compared* with the peer and equal.
    /// False where the comparison could not be made (address translation, no `clientIp`,
    /// another address family): such a guest is let in, but moves no one's grant.
    pub fn holder_proven(&self) -> bool {
        self.token && self.address == AddressCheck::Matched
    }
}

/// Why the portal does not accept the request as the device's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The redirect's `clientIp` is not the address the portal sees (logged and counted).
    AddressMismatch(AddressMismatch),
    /// No valid page token for this (MAC, peer).
    Token(CsrfError),
}

/// Mismatches seen for one unit (or "" for a network no unit serves).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MismatchStats {
    /// Since the process started.
    pub count: u64,
    pub last_at: Option<OffsetDateTime>,
}

#[derive(Debug, Default)]
struct Record {
    stats: MismatchStats,
    logged_at: Option<Instant>,
    not_logged: u64,
}

/// The portal's "who is asking": the page-token key and the mismatch records.
#[derive(Debug)]
pub(crate) struct WhoIsAsking {
    csrf: CsrfKey,
    records: Mutex<HashMap<String, Record>>,
}

impl WhoIsAsking {
    pub fn new(csrf: CsrfKey) -> Self {
        WhoIsAsking {
            csrf,
            records: Mutex::new(HashMap::new()),
        }
    }

    /// The page-token key (tests forge and check tokens with it).
    pub fn key(&self) -> &CsrfKey {
        &self.csrf
    }

    /// A page is asked for by `mac` (from the redirect, with its `client_ip`) at `peer`, on
    /// the network of `units`: the address check. `now` dates a mismatch.
    pub fn page(
        &self,
        mac: Mac,
        client_ip: Option<IpAddr>,
        peer: IpAddr,
        units: &[&Unit],
        now: OffsetDateTime,
    ) -> Result<Asker, Refused> {
        let peer = peer.to_canonical();
        match check_address(units, client_ip, peer) {
            Ok(address) => Ok(Asker {
                mac,
                peer,
                address,
                token: false,
            }),
            Err(m) => {
                self.record_mismatch(mac, m, units, now);
                Err(Refused::AddressMismatch(m))
            }
        }
    }

    /// The token for the page shown to `asker` at `now_unix` (bound to its MAC and peer).
    pub fn token_for(&self, asker: &Asker, now_unix: i64) -> String {
        self.csrf.issue_for(&asker.mac, asker.peer, now_unix)
    }

    /// A form came back from `peer` for `mac` (with the redirect's `client_ip`), carrying
    /// `token`: the address check, then the token. Nothing else may be done for the request
    /// unless this says yes.
    #[allow(clippy::too_many_arguments)]
    pub fn form(
        &self,
        mac: Mac,
        client_ip: Option<IpAddr>,
        peer: IpAddr,
        token: &str,
        units: &[&Unit],
        now: OffsetDateTime,
    ) -> Result<Asker, Refused> {
        let mut asker = self.page(mac, client_ip, peer, units, now)?;
        self.csrf
            .verify_for(token, &mac, asker.peer, now.unix_timestamp())
            .map_err(Refused::Token)?;
        asker.token = true;
        Ok(asker)
    }

    /// What was seen for `unit_id` since the start.
    pub fn mismatches(&self, unit_id: &str) -> MismatchStats {
        self.lock()
            .get(unit_id)
            .map(|r| r.stats)
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count the mismatch for each unit of the network and log it, at most once a minute per
    /// unit (with how many were not logged since).
    fn record_mismatch(&self, mac: Mac, m: AddressMismatch, units: &[&Unit], now: OffsetDateTime) {
        let ids: Vec<&str> = if units.is_empty() {
            vec![""]
        } else {
            units.iter().map(|u| u.unit_id.as_str()).collect()
        };
        let at = Instant::now();
        let mut lines = Vec::new();
        {
            let mut records = self.lock();
            for id in ids {
                if !records.contains_key(id) && records.len() >= MAX_RECORDS {
                    continue;
                }
                let r = records.entry(id.to_owned()).or_default();
                r.stats.count += 1;
                r.stats.last_at = Some(now);
                if r.logged_at
                    .is_none_or(|t| at.saturating_duration_since(t) >= MISMATCH_LOG_EVERY)
                {
                    lines.push((id.to_owned(), r.not_logged));
                    r.logged_at = Some(at);
                    r.not_logged = 0;
                } else {
                    r.not_logged += 1;
                }
            }
        }
        for (unit_id, not_logged) in lines {
            tracing::warn!(
                unit_id = %unit_id,
                client_mac = %mac,
                client_ip = %m.client_ip,
                peer = %m.peer,
                not_logged_since_last_line = not_logged,
                "portal: refused a guest whose redirect names another address (clientIp) than the one the portal sees; if this network translates guest addresses on the way to the portal (NAT), set the unit's address_translation (docs/omada-setup.md)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vouchers::model::{GuestChecks, SecondFactor};

    fn unit(id: &str, translation: bool) -> Unit {
        let t = OffsetDateTime::UNIX_EPOCH;
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
            created_at: t,
            updated_at: t,
            omada_site_id: None,
            stay: Default::default(),
            guest_checks: GuestChecks {
                address_translation: translation,
                short_code_second_factor: SecondFactor::None,
            },
            guest_page: Default::default(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const MAC: &str = "52-DE-63-F1-E3-3B";

    /// The JSON log lines `f` writes.
    fn capture(f: impl FnOnce()) -> Vec<String> {
        use std::io::Write;
        use std::sync::Arc;
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let b2 = buf.clone();
        let sub = tracing_subscriber::fmt()
            .json()
            .with_writer(move || b2.clone())
            .finish();
        tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }
    const NOW: OffsetDateTime = time::macros::datetime!(2026-12-01 10:00 UTC);

    #[test]
    fn the_holder_is_proven_only_by_a_token_and_a_matching_client_ip() {
        let who = WhoIsAsking::new(CsrfKey::from_bytes([7; 32]));
        let mac: Mac = MAC.parse().unwrap();
        let plain = unit("beach", false);
        let nat = unit("loft", true);
        let peer = ip("192.168.0.23");
        let t = NOW.unix_timestamp();

        let page = who.page(mac, Some(peer), peer, &[&plain], NOW).unwrap();
        assert_eq!(page.address, AddressCheck::Matched);
        assert!(!page.holder_proven(), "no token yet");
        let token = who.token_for(&page, t);
        let asker = who
            .form(mac, Some(peer), peer, &token, &[&plain], NOW)
            .unwrap();
        assert!(asker.holder_proven());

        // Address translation on: let in, never proven.
        let behind_nat = ip("10.0.0.1");
        let page = who.page(mac, Some(peer), behind_nat, &[&nat], NOW).unwrap();
        let token = who.token_for(&page, t);
        let asker = who
            .form(mac, Some(peer), behind_nat, &token, &[&nat], NOW)
            .unwrap();
        assert_eq!(asker.address, AddressCheck::Translated);
        assert!(!asker.holder_proven());

        // No clientIp in the redirect: let in, never proven.
        let page = who.page(mac, None, peer, &[&plain], NOW).unwrap();
        let token = who.token_for(&page, t);
        let asker = who.form(mac, None, peer, &token, &[&plain], NOW).unwrap();
        assert_eq!(asker.address, AddressCheck::Unverifiable);
        assert!(!asker.holder_proven());

        // A token for another address, or another MAC, is no token.
        let other: Mac = "52-DE-63-F1-E3-3C".parse().unwrap();
        let token = who.token_for(&page, t);
        assert_eq!(
            who.form(other, None, peer, &token, &[&plain], NOW),
            Err(Refused::Token(CsrfError::Mismatch))
        );
        let elsewhere = ip("192.168.0.99");
        assert_eq!(
            who.form(mac, None, elsewhere, &token, &[&plain], NOW),
            Err(Refused::Token(CsrfError::Mismatch))
        );
    }

    #[test]
    fn a_mismatch_is_refused_counted_per_unit_and_logged_once_a_minute() {
        let who = WhoIsAsking::new(CsrfKey::generate());
        let mac: Mac = MAC.parse().unwrap();
        let plain = unit("beach", false);
        let logs = capture(|| {
            for i in 0..5 {
                let r = who.page(
                    mac,
                    Some(ip("192.168.0.23")),
                    ip("10.0.0.1"),
                    &[&plain],
                    NOW + time::Duration::seconds(i),
                );
                assert_eq!(
                    r,
                    Err(Refused::AddressMismatch(AddressMismatch {
                        client_ip: ip("192.168.0.23"),
                        peer: ip("10.0.0.1")
                    }))
                );
            }
        });
        assert_eq!(
            who.mismatches("beach"),
            MismatchStats {
                count: 5,
                last_at: Some(NOW + time::Duration::seconds(4))
            }
        );
        assert_eq!(who.mismatches("loft"), MismatchStats::default());
        let lines: Vec<&String> = logs.iter().filter(|l| l.contains("clientIp")).collect();
        assert_eq!(lines.len(), 1, "{logs:#?}");
        assert!(lines[0].contains("address_translation"), "{}", lines[0]);
        assert!(lines[0].contains("beach"), "{}", lines[0]);
        // The form is refused the same way, before its token is looked at.
        assert!(matches!(
            who.form(
                mac,
                Some(ip("192.168.0.23")),
                ip("10.0.0.1"),
                "garbage",
                &[&plain],
                NOW
            ),
            Err(Refused::AddressMismatch(_))
        ));
        assert_eq!(who.mismatches("beach").count, 6);
    }
}
