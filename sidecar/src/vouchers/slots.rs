//! Slot reservation: may this device be let in on this voucher now, on which slot, and what
//! else that changes? A pure decision over plain values, made inside the redemption's reserve
//! transaction (`usecase::redemption`) and the host's "let this device in"
//! (`usecase::devices`) with the rows they just read.
//!
//! The rules (DESIGN §10 "Devices", issue 13, issue 14):
//! * `max_devices` counts devices **at the same time** (open grants), not every MAC a
//!   voucher ever saw: phones rotate their Wi-Fi address about every two weeks. A new device
//!   over the limit replaces the one the guest let in least recently (`replace_oldest`, the
//!   default) or is refused (`refuse`); a device the host let in by its MAC is never the one
//!   replaced. After the host lowered `max_devices` below the devices in, nobody is cut and
//!   nobody new comes in until the count is under the limit.
//! * No guest can change another device's access: a redemption for a MAC that already holds
//!   an active grant on another voucher never shortens that grant (the longer end wins) and
//!   never moves it unless the requester proved they hold the device; otherwise it is
//!   answered from the grant as it is.
//! * Success is throttled too: the same code for the same device again within
//!   [`REAUTHORIZE_AFTER`] of its last authorisation is answered from the grant, without
//!   asking the controller (a controller that lost its sessions gets the device back on the
//!   next try after that).

use time::{Duration, OffsetDateTime};

use crate::vouchers::model::{DevicePolicy, EndReason, Grant, GrantState, Voucher};

/// The same device and code again within this long of the last authorisation is answered
/// from its grant, not sent to the controller again.
pub const REAUTHORIZE_AFTER: Duration = Duration::seconds(30);

/// Why a device is not let in. Every variant is something a guest may be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Revoked voucher, another unit's code, a device the host took off: all read the same.
    InvalidCode,
    /// The voucher's booking is missing from the calendar (it may come back).
    Suspended,
    Expired,
    NotYetValid,
    DeviceLimit,
}

/// Who asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requester {
    /// A guest on the portal; `holder_proven` when the page token and the peer address show
    /// the request comes from the device itself (DESIGN §10 "Who is asking").
    Guest { holder_proven: bool },
    /// The host, letting a device in by its MAC.
    Host,
}

/// What the decision looks at.
#[derive(Clone, Copy, Debug)]
pub struct SlotRequest<'a> {
    pub voucher: &'a Voucher,
    /// The voucher's own policy, else its unit's.
    pub policy: DevicePolicy,
    /// This device's most recent grant on this voucher, if any.
    pub previous: Option<&'a Grant>,
    /// How many open grants (pending or active) the voucher has.
    pub open_count: usize,
    /// Those grants, when they may be needed (the voucher is full); else may be empty.
    pub open: &'a [Grant],
    /// This device's active grant on another voucher of the same site, if it has one.
    pub held_elsewhere: Option<&'a Grant>,
    pub requester: Requester,
    pub now: OffsetDateTime,
}

/// Which slot the device gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Its grant is still open: authorise it again on the controller, nothing new is taken.
    Reuse,
    /// Its grant ended: a new grant on the slot it already had.
    Reopen,
    /// A device new to this voucher: a new grant on a new slot.
    Take,
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Answer from this active grant as it is: no controller call, no row, no event (a
    /// repeat within [`REAUTHORIZE_AFTER`], or a grant on another voucher this request may
    /// not shorten or move).
    Answer(String),
    /// Let it in: take `slot`; end grant `replaces` now (a device over the limit makes room)
    /// and grant `moves` once the controller confirmed (the device leaves that voucher).
    Admit {
        slot: Slot,
        replaces: Option<String>,
        moves: Option<String>,
    },
}

/// Does the decision need the voucher's open grants themselves (to pick one to replace), or
/// is their number enough? Only a full voucher needs them: the common case reads one count.
pub fn needs_open_grants(v: &Voucher, open_count: usize) -> bool {
    v.max_devices > 0 && open_count >= v.max_devices as usize
}

/// The decision. The voucher's network binding is checked before (`network::on_unit_network`).
pub fn reserve(r: SlotRequest<'_>) -> Result<Decision, Refusal> {
    let v = r.voucher;
    let host = r.requester == Requester::Host;
    if v.revoked_at.is_some() {
        return Err(Refusal::InvalidCode);
    }
    if v.expires_at().is_some_and(|end| r.now >= end) {
        return Err(Refusal::Expired);
    }
    if v.suspended_at.is_some() {
        return Err(Refusal::Suspended);
    }
    if r.now < v.valid_from {
        return Err(Refusal::NotYetValid);
    }
    let mut moves = None;
    if let Some(held) = r.held_elsewhere.filter(|h| h.code != v.code) {
        let longer = v.end_if_redeemed_at(r.now) > held.expires_at;
        match r.requester {
            Requester::Guest {
                holder_proven: true,
            } if longer => moves = Some(held.grant_id.clone()),
            Requester::Guest { .. } => return Ok(Decision::Answer(held.grant_id.clone())),
            // The host decides where a device belongs: it leaves the other voucher.
            Requester::Host => moves = Some(held.grant_id.clone()),
        }
    }
    let slot = match r.previous {
        // The host took this device off; the same code does not bring it back (the host may).
        Some(p) if p.end_reason == Some(EndReason::GrantRevoked) && !host => {
            return Err(Refusal::InvalidCode)
        }
        Some(p)
            if p.state == GrantState::Active
                && !host
                && p.authorized_at
                    .is_some_and(|at| r.now < at + REAUTHORIZE_AFTER && r.now >= at) =>
        {
            return Ok(Decision::Answer(p.grant_id.clone()));
        }
        Some(p) if p.state != GrantState::Ended => {
            return Ok(Decision::Admit {
                slot: Slot::Reuse,
                replaces: None,
                moves,
            })
        }
        Some(_) => Slot::Reopen,
        None => Slot::Take,
    };
    let replaces = make_room(&r)?;
    Ok(Decision::Admit {
        slot,
        replaces,
        moves,
    })
}

/// A device new to the voucher's open grants: is there room, or who makes room?
fn make_room(r: &SlotRequest<'_>) -> Result<Option<String>, Refusal> {
    let max = r.voucher.max_devices as usize;
    let open = r.open_count.max(r.open.len());
    if max == 0 || open < max {
        return Ok(None);
    }
    // Over the limit (the host lowered it): nobody new until the count is under it.
    if open > max || r.policy == DevicePolicy::Refuse {
        return Err(Refusal::DeviceLimit);
    }
    r.open
        .iter()
        .filter(|g| g.state == GrantState::Active && !g.by_host)
        .min_by_key(|g| (g.authorized_at, g.grant_id.clone()))
        .map(|g| Some(g.grant_id.clone()))
        .ok_or(Refusal::DeviceLimit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

    fn voucher() -> Voucher {
        Voucher {
            code: "ABCD2345".into(),
            unit_id: "u".into(),
            valid_from: NOW - Duration::hours(1),
            valid_until: Some(NOW + Duration::hours(1)),
            duration_minutes: None,
            max_devices: 2,
            devices_used: 0,
            guest_name: None,
            booking_ref: None,
            down_kbps: None,
            up_kbps: None,
            note: None,
            created_at: NOW - Duration::hours(2),
            first_used_at: None,
            revoked_at: None,
            suspended_at: None,
            revoke_cause: None,
            device_policy: None,
            devices_active: 0,
        }
    }

    fn grant(id: &str, state: GrantState, reason: Option<EndReason>) -> Grant {
        Grant {
            grant_id: id.into(),
            code: "ABCD2345".into(),
            unit_id: "u".into(),
            client_mac: "02-00-00-00-00-01".parse().unwrap(),
            client_ip: None,
            ap_mac: None,
            gateway_mac: None,
            ssid: None,
            vid: None,
            radio_id: None,
            site: "Default".into(),
            state,
            authorized_at: Some(NOW - Duration::hours(1)),
            expires_at: NOW + Duration::hours(1),
            ended_at: None,
            end_reason: reason,
            by_host: false,
            name: None,
        }
    }

    fn active(id: &str, minutes_ago: i64) -> Grant {
        let mut g = grant(id, GrantState::Active, None);
        g.authorized_at = Some(NOW - Duration::minutes(minutes_ago));
        g
    }

    struct Ask<'a> {
        v: &'a Voucher,
        previous: Option<&'a Grant>,
        open: &'a [Grant],
        held: Option<&'a Grant>,
        requester: Requester,
        policy: DevicePolicy,
        now: OffsetDateTime,
    }

    impl<'a> Ask<'a> {
        fn new(v: &'a Voucher) -> Self {
            Ask {
                v,
                previous: None,
                open: &[],
                held: None,
                requester: Requester::Guest {
                    holder_proven: false,
                },
                policy: DevicePolicy::ReplaceOldest,
                now: NOW,
            }
        }
        fn decide(&self) -> Result<Decision, Refusal> {
            reserve(SlotRequest {
                voucher: self.v,
                policy: self.policy,
                previous: self.previous,
                open_count: self.open.len(),
                open: self.open,
                held_elsewhere: self.held,
                requester: self.requester,
                now: self.now,
            })
        }
    }

    fn admit(slot: Slot) -> Result<Decision, Refusal> {
        Ok(Decision::Admit {
            slot,
            replaces: None,
            moves: None,
        })
    }

    #[test]
    fn window_revocation_and_suspension_come_first() {
        let mut v = voucher();
        assert_eq!(Ask::new(&v).decide(), admit(Slot::Take));
        assert_eq!(
            Ask {
                now: NOW - Duration::hours(2),
                ..Ask::new(&v)
            }
            .decide(),
            Err(Refusal::NotYetValid)
        );
        assert_eq!(
            Ask {
                now: NOW + Duration::hours(1),
                ..Ask::new(&v)
            }
            .decide(),
            Err(Refusal::Expired),
            "the end itself is already over"
        );
        v.suspended_at = Some(NOW);
        assert_eq!(Ask::new(&v).decide(), Err(Refusal::Suspended));
        v.revoked_at = Some(NOW);
        assert_eq!(Ask::new(&v).decide(), Err(Refusal::InvalidCode));
    }

    #[test]
    fn the_same_device_keeps_its_slot() {
        let v = voucher();
        let open = active("g", 10);
        let ended = grant("g", GrantState::Ended, Some(EndReason::Expired));
        let pending = grant("g", GrantState::Pending, None);
        let full = [active("a", 20), active("b", 30)];
        for (previous, want) in [(&open, admit(Slot::Reuse)), (&pending, admit(Slot::Reuse))] {
            let ask = Ask {
                previous: Some(previous),
                open: &full,
                ..Ask::new(&v)
            };
            assert_eq!(ask.decide(), want);
        }
        // An ended grant back on a voucher with room reopens its slot.
        let ask = Ask {
            previous: Some(&ended),
            open: &full[..1],
            ..Ask::new(&v)
        };
        assert_eq!(ask.decide(), admit(Slot::Reopen));
    }

    #[test]
    fn devices_count_at_the_same_time_and_the_oldest_makes_room() {
        let mut v = voucher();
        // Ten MACs over the stay, two at a time: a rotated address is just a new device.
        v.devices_used = 10;
        assert_eq!(
            Ask {
                open: &[active("a", 5)],
                ..Ask::new(&v)
            }
            .decide(),
            admit(Slot::Take),
            "room: devices used before do not count"
        );
        let full = [active("newer", 5), active("older", 50)];
        assert_eq!(
            Ask {
                open: &full,
                ..Ask::new(&v)
            }
            .decide(),
            Ok(Decision::Admit {
                slot: Slot::Take,
                replaces: Some("older".into()),
                moves: None
            })
        );
        assert_eq!(
            Ask {
                open: &full,
                policy: DevicePolicy::Refuse,
                ..Ask::new(&v)
            }
            .decide(),
            Err(Refusal::DeviceLimit)
        );
        // The host's TV is never replaced, and a device mid-login (pending) neither.
        let mut tv = active("tv", 500);
        tv.by_host = true;
        let mut mid = grant("mid", GrantState::Pending, None);
        mid.authorized_at = None;
        assert_eq!(
            Ask {
                open: &[tv.clone(), mid.clone()],
                ..Ask::new(&v)
            }
            .decide(),
            Err(Refusal::DeviceLimit)
        );
        assert_eq!(
            Ask {
                open: &[tv, active("phone", 1)],
                ..Ask::new(&v)
            }
            .decide(),
            Ok(Decision::Admit {
                slot: Slot::Take,
                replaces: Some("phone".into()),
                moves: None
            })
        );
        // Lowered below the devices in: nobody is cut, nobody new comes in.
        v.max_devices = 1;
        assert_eq!(
            Ask {
                open: &full,
                ..Ask::new(&v)
            }
            .decide(),
            Err(Refusal::DeviceLimit)
        );
        v.max_devices = 0;
        assert_eq!(
            Ask {
                open: &full,
                ..Ask::new(&v)
            }
            .decide(),
            admit(Slot::Take),
            "0 = unlimited"
        );
        // The grants are read only when the voucher is full; the count decides otherwise.
        v.max_devices = 2;
        assert!(!needs_open_grants(&v, 1));
        assert!(needs_open_grants(&v, 2));
        let counted = reserve(SlotRequest {
            voucher: &v,
            policy: DevicePolicy::Refuse,
            previous: None,
            open_count: 2,
            open: &[],
            held_elsewhere: None,
            requester: Requester::Guest {
                holder_proven: false,
            },
            now: NOW,
        });
        assert_eq!(
            counted,
            Err(Refusal::DeviceLimit),
            "a count alone is enough to refuse"
        );
    }

    #[test]
    fn a_device_the_host_revoked_stays_off_unless_the_host_says_so() {
        let v = voucher();
        let revoked = grant("g", GrantState::Ended, Some(EndReason::GrantRevoked));
        let ask = Ask {
            previous: Some(&revoked),
            ..Ask::new(&v)
        };
        assert_eq!(ask.decide(), Err(Refusal::InvalidCode));
        assert_eq!(
            Ask {
                requester: Requester::Host,
                ..ask
            }
            .decide(),
            admit(Slot::Reopen)
        );
    }

    #[test]
    fn success_again_within_the_window_is_answered_from_the_grant() {
        let v = voucher();
        let just_now = active("g", 0);
        let ask = Ask {
            previous: Some(&just_now),
            open: std::slice::from_ref(&just_now),
            ..Ask::new(&v)
        };
        assert_eq!(ask.decide(), Ok(Decision::Answer("g".into())));
        let ask = Ask {
            now: NOW + REAUTHORIZE_AFTER,
            ..ask
        };
        assert_eq!(
            ask.decide(),
            admit(Slot::Reuse),
            "after the window the controller hears of it again"
        );
    }

    #[test]
    fn another_vouchers_grant_is_never_shortened_or_moved_without_proof() {
        // The victim holds a 10-hour grant on another voucher; this voucher ends in 1 hour.
        let v = voucher();
        let mut victim = active("victim", 30);
        victim.code = "VICTIM234".into();
        victim.expires_at = NOW + Duration::hours(10);
        let ask = Ask {
            held: Some(&victim),
            ..Ask::new(&v)
        };
        assert_eq!(ask.decide(), Ok(Decision::Answer("victim".into())));
        let proven = Ask {
            requester: Requester::Guest {
                holder_proven: true,
            },
            ..ask
        };
        assert_eq!(
            proven.decide(),
            Ok(Decision::Answer("victim".into())),
            "proof or not, a shorter voucher never shortens it"
        );
        // This voucher ends later: the holder may move the device here, nobody else.
        victim.expires_at = NOW + Duration::minutes(10);
        let ask = Ask {
            held: Some(&victim),
            ..Ask::new(&v)
        };
        assert_eq!(ask.decide(), Ok(Decision::Answer("victim".into())));
        assert_eq!(
            Ask {
                requester: Requester::Guest {
                    holder_proven: true
                },
                ..ask
            }
            .decide(),
            Ok(Decision::Admit {
                slot: Slot::Take,
                replaces: None,
                moves: Some("victim".into())
            })
        );
        // A refusal of this voucher comes before anything about the other one.
        let mut revoked = voucher();
        revoked.revoked_at = Some(NOW);
        assert_eq!(
            Ask {
                held: Some(&victim),
                ..Ask::new(&revoked)
            }
            .decide(),
            Err(Refusal::InvalidCode)
        );
    }
}
