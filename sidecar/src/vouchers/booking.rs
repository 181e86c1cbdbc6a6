//! Bookings: the stays Home Assistant mirrors from Rental Control (DESIGN §3 "Bookings",
//! docs/api.md "Bookings") — checked inputs and the pure rules.
//!
//! Each booking gets one voucher (`source` `booking`) whose validity is the booking's
//! **access window**: the stay widened by the unit's check-in / check-out grace, with the
//! grace clamped so that back-to-back stays never overlap ([`access_windows`]). What a sync
//! must do to a booking's voucher is [`reconcile_step`]; which booking a typed guest code
//! stands for is [`pick_for_code`]. The use cases in `usecase::bookings` apply these inside
//! one transaction.
//!
//! Calendars blank out for minutes to hours (Rental Control clears its sensors after two
//! empty fetches), so a booking missing from Home Assistant's whole-calendar view is not a
//! cancellation (DESIGN §10): [`plan_view`] says what a view means for each stored booking
//! (new, changed, back, missing, untouched), and [`cancel_at`] when a booking that went
//! missing before its stay counts as cancelled. One that goes missing during its stay runs
//! to its end.

use time::{Duration, OffsetDateTime};

use crate::config::VoucherConfig;
use crate::vouchers::model::{Booking, Presence, StayRules, Voucher};
use crate::vouchers::{code, invalid, Error};

/// Most guest codes a booking may carry.
pub const MAX_CODES: usize = 4;

/// Bookings starting further ahead than this are refused (a voucher's `valid_from` limit).
pub const MAX_AHEAD_DAYS: i64 = 366;

/// A booking reference as it appears in the path: 1–100 characters, no control characters,
/// no surrounding white space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingRef(String);

impl BookingRef {
    pub fn parse(booking_ref: &str) -> Result<BookingRef, Error> {
        let n = booking_ref.chars().count();
        if n == 0
            || n > 100
            || booking_ref.chars().any(char::is_control)
            || booking_ref.trim() != booking_ref
        {
            return Err(invalid(
                "booking_ref",
                "booking_ref must be 1 to 100 characters without surrounding spaces",
            ));
        }
        Ok(BookingRef(booking_ref.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A `PUT` body as given (`PUT` replaces: absent `guest_name`/`codes` mean none).
#[derive(Clone, Debug)]
pub struct BookingRequest {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub guest_name: Option<String>,
    pub codes: Vec<String>,
}

/// A booking's checked content: `end` after `start`, no longer than the voucher limit, not
/// too far ahead, codes normalised (at most [`MAX_CODES`]), times at storage precision.
#[derive(Clone, Debug, PartialEq)]
pub struct BookingSpec {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub guest_name: Option<String>,
    pub codes: Vec<String>,
}

impl BookingSpec {
    pub fn parse(
        r: BookingRequest,
        limits: &VoucherConfig,
        now: OffsetDateTime,
    ) -> Result<BookingSpec, Error> {
        if r.end <= r.start {
            return Err(invalid("end", "end must be after start"));
        }
        let max = limits.max_duration_minutes;
        if r.end - r.start > Duration::minutes(max) {
            return Err(invalid(
                "end",
                format!(
                    "a booking may be at most {max} minutes long (vouchers.max_duration_minutes)"
                ),
            ));
        }
        if r.start > now + Duration::days(MAX_AHEAD_DAYS) {
            return Err(invalid(
                "start",
                format!("start may be at most {MAX_AHEAD_DAYS} days ahead"),
            ));
        }
        let codes = check_codes(&r.codes)?;
        let guest_name = check_guest_name(r.guest_name)?;
        // Stored to the millisecond, like every timestamp; compare in that precision.
        Ok(BookingSpec {
            start: crate::clock::to_millis(r.start),
            end: crate::clock::to_millis(r.end),
            guest_name,
            codes,
        })
    }

    /// Does the stored booking already say exactly this?
    pub fn same_as(&self, b: &Booking) -> bool {
        (b.start, b.end, &b.guest_name, &b.codes)
            == (self.start, self.end, &self.guest_name, &self.codes)
    }
}

/// Normalise and check the guest codes like custom voucher codes; duplicates collapse.
pub fn check_codes(codes: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for c in codes {
        let c = code::validate_custom(c).map_err(|m| invalid("codes", m))?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    if out.len() > MAX_CODES {
        return Err(invalid(
            "codes",
            format!("a booking may have at most {MAX_CODES} codes"),
        ));
    }
    Ok(out)
}

fn check_guest_name(name: Option<String>) -> Result<Option<String>, Error> {
    let Some(n) = name else { return Ok(None) };
    let n = n.trim();
    if n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(invalid(
            "guest_name",
            "guest_name must be at most 100 characters",
        ));
    }
    Ok((!n.is_empty()).then(|| n.to_owned()))
}

/// When a booking's voucher is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: OffsetDateTime,
    pub until: OffsetDateTime,
}

/// Access windows of one unit's bookings, in the order given.
///
/// For booking B with check-in grace `ig` and check-out grace `og`:
/// * `from(B)  = max(B.start − ig, latest end of another booking that ends ≤ B.start)`
/// * `until(B) = min(B.end + og, earliest from(N) of another booking N that starts ≥ B.end)`
///
/// So grace never reaches into a neighbouring stay, and when both graces want the same gap
/// the arriving guest's check-in grace wins over the leaving guest's check-out grace. Only
/// grace is ever cut: the stay itself (start..end) is always inside the window. Bookings that
/// overlap each other (a double booking) are not neighbours: their windows are left to
/// overlap, as the host's calendar says. Finally a window longer than `max` (the voucher
/// limit) loses check-out grace first, then check-in grace; the stay itself is at most `max`
/// long (checked on `PUT`).
pub fn access_windows(
    bookings: &[Booking],
    checkin_grace: Duration,
    checkout_grace: Duration,
    max: Duration,
) -> Vec<Window> {
    let from_of = |i: usize| {
        let b = &bookings[i];
        let prev_end = bookings
            .iter()
            .enumerate()
            .filter(|(j, o)| *j != i && o.end <= b.start)
            .map(|(_, o)| o.end)
            .max();
        let from = b.start - checkin_grace;
        prev_end.map_or(from, |p| from.max(p))
    };
    let froms: Vec<OffsetDateTime> = (0..bookings.len()).map(from_of).collect();
    bookings
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let next_from = bookings
                .iter()
                .enumerate()
                .filter(|(j, o)| *j != i && o.start >= b.end)
                .map(|(j, _)| froms[j])
                .min();
            let until = b.end + checkout_grace;
            let mut w = Window {
                from: froms[i],
                until: next_from.map_or(until, |n| until.min(n)),
            };
            if w.until - w.from > max {
                w.until = w.until.min(b.end.max(w.from + max));
                if w.until - w.from > max {
                    w.from = w.until - max;
                }
            }
            w
        })
        .collect()
}

/// What a sync does to one booking's voucher.
#[derive(Clone, Debug, PartialEq)]
pub enum BookingStep {
    /// Nothing: in line already, revoked by the host (stays revoked), or over before it
    /// ever got a voucher.
    Nothing,
    /// Issue the booking its voucher for this window.
    Issue(Window),
    /// Move the voucher to this window and guest name (its live grants follow).
    Move {
        window: Window,
        guest_name: Option<String>,
    },
}

/// The step for booking `b` with access window `w`, given its voucher (if it has one).
pub fn reconcile_step(
    b: &Booking,
    voucher: Option<&Voucher>,
    w: Window,
    now: OffsetDateTime,
) -> BookingStep {
    match voucher {
        None if w.until > now => BookingStep::Issue(w),
        None => BookingStep::Nothing,
        Some(v) if v.revoked_at.is_some() => BookingStep::Nothing,
        Some(v)
            if v.valid_from == w.from
                && v.valid_until == Some(w.until)
                && v.guest_name == b.guest_name =>
        {
            BookingStep::Nothing
        }
        Some(_) => BookingStep::Move {
            window: w,
            guest_name: b.guest_name.clone(),
        },
    }
}

/// A booking with its voucher, as the API shows it.
pub type WithVoucher = (Booking, Option<Voucher>);

/// Most bookings one calendar view may carry.
pub const MAX_VIEW: usize = 200;

/// A unit's calendar as Home Assistant sees it (`PUT /api/v1/units/{unit_id}/bookings`),
/// as given.
#[derive(Clone, Debug)]
pub struct CalendarRequest {
    pub from: OffsetDateTime,
    pub until: Option<OffsetDateTime>,
    pub bookings: Vec<(String, BookingRequest)>,
}

/// A checked calendar view: the bookings it shows, and the time span it covers (`until`
/// `None`: everything from `from` on).
#[derive(Clone, Debug, PartialEq)]
pub struct CalendarView {
    pub from: OffsetDateTime,
    pub until: Option<OffsetDateTime>,
    pub shown: Vec<(BookingRef, BookingSpec)>,
    /// Shown, but refused by a rule: left as they are (neither changed nor missing).
    pub refused: Vec<Refused>,
}

/// A booking of a view that a rule refused.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    pub booking_ref: String,
    pub field: Option<&'static str>,
    pub message: String,
}

impl CalendarView {
    /// Check a view. What makes the whole view meaningless (a span that ends before it
    /// starts, too many bookings, one reference twice) is an error; a booking a rule refuses
    /// (too long, ends before it starts, bad codes) is listed in `refused` and the rest of
    /// the view still counts.
    pub fn parse(
        r: CalendarRequest,
        limits: &VoucherConfig,
        now: OffsetDateTime,
    ) -> Result<CalendarView, Error> {
        if r.until.is_some_and(|u| u <= r.from) {
            return Err(invalid("until", "until must be after from"));
        }
        if r.bookings.len() > MAX_VIEW {
            return Err(invalid(
                "bookings",
                format!("a calendar view may carry at most {MAX_VIEW} bookings"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (booking_ref, _) in &r.bookings {
            if !seen.insert(booking_ref.as_str()) {
                return Err(invalid(
                    "bookings",
                    format!(
                        "booking_ref {:?} appears twice",
                        booking_ref.chars().take(100).collect::<String>()
                    ),
                ));
            }
        }
        let mut shown = Vec::new();
        let mut refused = Vec::new();
        for (booking_ref, req) in r.bookings {
            let checked = BookingRef::parse(&booking_ref)
                .and_then(|br| BookingSpec::parse(req, limits, now).map(|spec| (br, spec)));
            match checked {
                Ok(ok) => shown.push(ok),
                Err(e) => {
                    let (field, message) = match e {
                        Error::Validation { field, message } => (field, message),
                        Error::Conflict(m) => (None, m),
                    };
                    refused.push(Refused {
                        booking_ref: booking_ref.chars().take(100).collect(),
                        field,
                        message,
                    });
                }
            }
        }
        Ok(CalendarView {
            from: crate::clock::to_millis(r.from),
            until: r.until.map(crate::clock::to_millis),
            shown,
            refused,
        })
    }

    /// Does the view cover this stored booking, so that its absence means something? It
    /// covers a booking that is not over at `from` and starts before `until`.
    pub fn covers(&self, b: &Booking) -> bool {
        b.end > self.from && self.until.is_none_or(|u| b.start < u)
    }
}

/// What a calendar view means for one booking.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewStep {
    /// New: store it (its voucher is issued by the reconcile that follows).
    Create(BookingRef, BookingSpec),
    /// Shown with other content: replace it.
    Update(BookingRef, BookingSpec),
    /// Shown again after it went missing (or was cancelled for it): bring it back, with
    /// this content.
    Restore(BookingRef, BookingSpec),
    /// Shown as stored: nothing to do.
    Unchanged,
    /// Covered by the view but missing from it: it vanished (not a cancellation).
    Vanish(String),
}

/// What `view` means for each booking: one step per shown booking (in the view's order),
/// then one per stored booking that went missing. Stored bookings the view does not cover,
/// the ones it shows but a rule refused, and the ones already missing get no step.
pub fn plan_view(stored: &[Booking], view: &CalendarView) -> Vec<ViewStep> {
    let find = |r: &str| stored.iter().find(|b| b.booking_ref == r);
    let mut steps: Vec<ViewStep> = view
        .shown
        .iter()
        .map(|(r, spec)| match find(r.as_str()) {
            None => ViewStep::Create(r.clone(), spec.clone()),
            Some(b) if b.presence() != Presence::Present => {
                ViewStep::Restore(r.clone(), spec.clone())
            }
            Some(b) if spec.same_as(b) => ViewStep::Unchanged,
            Some(_) => ViewStep::Update(r.clone(), spec.clone()),
        })
        .collect();
    for b in stored {
        let shown = view.shown.iter().any(|(r, _)| r.as_str() == b.booking_ref)
            || view.refused.iter().any(|r| r.booking_ref == b.booking_ref);
        if !shown && b.presence() == Presence::Present && view.covers(b) {
            steps.push(ViewStep::Vanish(b.booking_ref.clone()));
        }
    }
    steps
}

/// When a booking that goes missing now, with access window `w`, counts as cancelled if it
/// stays missing: `w.from` + the unit's limit. `None` when its access window has begun (the
/// guest may be in the house): then it runs to its end, and only the host cuts it short.
pub fn cancel_at(w: Window, rules: &StayRules, now: OffsetDateTime) -> Option<OffsetDateTime> {
    (now < w.from).then(|| w.from + Duration::minutes(rules.vanish_cancel_minutes as i64))
}

/// The voucher of the stay in progress, among a unit's bookings with their vouchers: valid
/// now (not revoked, not suspended, inside its window); of several, the one that began last.
pub fn current_voucher(candidates: Vec<WithVoucher>, now: OffsetDateTime) -> Option<Voucher> {
    candidates
        .into_iter()
        .filter_map(|(b, v)| v.filter(|_| b.presence() != Presence::Cancelled))
        .filter(|v| {
            v.revoked_at.is_none()
                && v.suspended_at.is_none()
                && v.valid_from <= now
                && v.expires_at().is_none_or(|e| now < e)
        })
        .max_by_key(|v| v.valid_from)
}

/// Which voucher a typed booking code stands for. `candidates` are the bookings with that
/// code on units whose networks the guest is on, each with its voucher. Preference: a voucher
/// valid now; else the next one to become valid; else the latest that ended; a revoked one
/// last (it then reads "invalid code"). `Err(())` when the best is a booking whose window
/// was over before it ever got a voucher (it reads "expired").
#[allow(clippy::result_unit_err)]
pub fn pick_for_code(
    candidates: Vec<WithVoucher>,
    now: OffsetDateTime,
) -> Result<Option<Voucher>, ()> {
    let rank = |(b, v): &WithVoucher| -> (u8, i128) {
        match v {
            Some(v) if v.revoked_at.is_some() || v.suspended_at.is_some() => (3, 0),
            Some(v) if now < v.valid_from => (1, v.valid_from.unix_timestamp_nanos()),
            Some(v) if v.expires_at().is_none_or(|e| now < e) => (0, 0),
            Some(v) => (2, -v.expires_at().unwrap_or(b.end).unix_timestamp_nanos()),
            None => (2, -b.end.unix_timestamp_nanos()),
        }
    };
    match candidates.into_iter().min_by_key(rank) {
        None => Ok(None),
        Some((_, Some(v))) => Ok(Some(v)),
        Some((_, None)) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn b(r: &str, start: OffsetDateTime, end: OffsetDateTime) -> Booking {
        Booking {
            unit_id: "u".into(),
            booking_ref: r.into(),
            start,
            end,
            guest_name: None,
            codes: vec![],
            updated_at: start,
            voucher_code: None,
            vanished_at: None,
            cancel_at: None,
            cancelled_at: None,
        }
    }

    const MAX: Duration = Duration::days(30);

    #[test]
    fn lone_booking_gets_both_graces() {
        let w = access_windows(
            &[b(
                "a",
                datetime!(2026-11-20 16:00 UTC),
                datetime!(2026-11-23 11:00 UTC),
            )],
            Duration::hours(2),
            Duration::hours(1),
            MAX,
        );
        assert_eq!(w[0].from, datetime!(2026-11-20 14:00 UTC));
        assert_eq!(w[0].until, datetime!(2026-11-23 12:00 UTC));
    }

    #[test]
    fn back_to_back_grace_is_clamped_and_arrival_wins() {
        let list = [
            b(
                "next",
                datetime!(2026-11-23 16:00 UTC),
                datetime!(2026-11-25 11:00 UTC),
            ),
            b(
                "prev",
                datetime!(2026-11-20 16:00 UTC),
                datetime!(2026-11-23 11:00 UTC),
            ),
        ];
        // Small graces fit the 5-hour gap: nothing is cut.
        let w = access_windows(&list, Duration::hours(2), Duration::hours(2), MAX);
        assert_eq!(w[1].until, datetime!(2026-11-23 13:00 UTC));
        assert_eq!(w[0].from, datetime!(2026-11-23 14:00 UTC));
        // Large graces collide: check-in grace keeps the gap, check-out grace yields.
        let w = access_windows(&list, Duration::hours(8), Duration::hours(8), MAX);
        assert_eq!(
            w[0].from,
            datetime!(2026-11-23 11:00 UTC),
            "not before prev end"
        );
        assert_eq!(w[1].until, datetime!(2026-11-23 11:00 UTC), "no overlap");
        // Same-day turnover: end == start.
        let list = [
            b(
                "prev",
                datetime!(2026-11-20 16:00 UTC),
                datetime!(2026-11-23 11:00 UTC),
            ),
            b(
                "next",
                datetime!(2026-11-23 11:00 UTC),
                datetime!(2026-11-25 11:00 UTC),
            ),
        ];
        let w = access_windows(&list, Duration::hours(3), Duration::hours(3), MAX);
        assert_eq!(w[0].until, datetime!(2026-11-23 11:00 UTC));
        assert_eq!(w[1].from, datetime!(2026-11-23 11:00 UTC));
        assert_eq!(w[0].from, datetime!(2026-11-20 13:00 UTC));
        assert_eq!(w[1].until, datetime!(2026-11-25 14:00 UTC));
        for (i, x) in w.iter().enumerate() {
            for y in &w[i + 1..] {
                assert!(x.until <= y.from || y.until <= x.from);
            }
        }
    }

    #[test]
    fn overlapping_bookings_are_not_neighbours() {
        let list = [
            b(
                "a",
                datetime!(2026-11-20 16:00 UTC),
                datetime!(2026-11-23 11:00 UTC),
            ),
            b(
                "b",
                datetime!(2026-11-22 16:00 UTC),
                datetime!(2026-11-24 11:00 UTC),
            ),
        ];
        let w = access_windows(&list, Duration::hours(1), Duration::hours(1), MAX);
        assert_eq!(w[0].until, datetime!(2026-11-23 12:00 UTC));
        assert_eq!(w[1].from, datetime!(2026-11-22 15:00 UTC));
    }

    #[test]
    fn window_is_cut_to_the_voucher_limit_grace_first() {
        let list = [b(
            "a",
            datetime!(2026-11-01 16:00 UTC),
            datetime!(2026-11-03 16:00 UTC),
        )];
        let w = access_windows(
            &list,
            Duration::hours(2),
            Duration::hours(2),
            Duration::hours(51),
        );
        assert_eq!(w[0].from, datetime!(2026-11-01 14:00 UTC));
        assert_eq!(w[0].until, datetime!(2026-11-03 17:00 UTC));
        let w = access_windows(
            &list,
            Duration::hours(2),
            Duration::hours(2),
            Duration::hours(49),
        );
        assert_eq!(w[0].from, datetime!(2026-11-01 15:00 UTC));
        assert_eq!(w[0].until, datetime!(2026-11-03 16:00 UTC));
        let w = access_windows(
            &list,
            Duration::hours(2),
            Duration::hours(2),
            Duration::hours(48),
        );
        assert_eq!(w[0].from, datetime!(2026-11-01 16:00 UTC));
        assert_eq!(w[0].until, datetime!(2026-11-03 16:00 UTC));
    }

    #[test]
    fn codes_and_refs_are_normalised_and_limited() {
        assert_eq!(
            check_codes(&["ab-12 34".into(), "AB1234".into(), "4711".into()]).unwrap(),
            vec!["AB1234".to_owned(), "4711".to_owned()]
        );
        assert!(check_codes(&["12".into()]).is_err());
        assert!(check_codes(&["12!4".into()]).is_err());
        let five: Vec<String> = (1000..1005).map(|n| n.to_string()).collect();
        assert!(check_codes(&five).is_err());
        assert!(BookingRef::parse("").is_err());
        assert!(BookingRef::parse(" x").is_err());
        assert!(BookingRef::parse(&"x".repeat(101)).is_err());
        assert_eq!(
            BookingRef::parse("HMABCDEF12").unwrap().as_str(),
            "HMABCDEF12"
        );
    }

    #[test]
    fn specs_are_checked_against_the_limits() {
        let now = datetime!(2026-11-20 12:00 UTC);
        let limits = VoucherConfig::default();
        let req = |start: OffsetDateTime, end: OffsetDateTime| BookingRequest {
            start,
            end,
            guest_name: Some("  Ana ".into()),
            codes: vec!["47-11".into()],
        };
        let ok = BookingSpec::parse(req(now, now + Duration::days(2)), &limits, now).unwrap();
        assert_eq!(ok.guest_name.as_deref(), Some("Ana"));
        assert_eq!(ok.codes, vec!["4711".to_owned()]);
        let field = |r: Result<BookingSpec, Error>| match r {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(BookingSpec::parse(req(now, now), &limits, now)),
            Some("end")
        );
        assert_eq!(
            field(BookingSpec::parse(
                req(now, now + Duration::days(31)),
                &limits,
                now
            )),
            Some("end")
        );
        let far = now + Duration::days(MAX_AHEAD_DAYS + 1);
        assert_eq!(
            field(BookingSpec::parse(
                req(far, far + Duration::days(1)),
                &limits,
                now
            )),
            Some("start")
        );
    }

    fn voucher(from: OffsetDateTime, until: OffsetDateTime) -> Voucher {
        Voucher {
            code: "ABCD2345".into(),
            unit_id: "u".into(),
            valid_from: from,
            valid_until: Some(until),
            duration_minutes: None,
            max_devices: 4,
            devices_used: 0,
            guest_name: None,
            booking_ref: Some("a".into()),
            down_kbps: None,
            up_kbps: None,
            note: None,
            created_at: from,
            first_used_at: None,
            revoked_at: None,
            suspended_at: None,
            revoke_cause: None,
            device_policy: None,
            devices_active: 0,
        }
    }

    #[test]
    fn reconcile_issues_moves_or_leaves_alone() {
        let now = datetime!(2026-11-20 12:00 UTC);
        let w = Window {
            from: now,
            until: now + Duration::days(2),
        };
        let bk = b("a", now, now + Duration::days(2));
        assert_eq!(reconcile_step(&bk, None, w, now), BookingStep::Issue(w));
        assert_eq!(
            reconcile_step(&bk, None, w, w.until),
            BookingStep::Nothing,
            "no voucher for a window that is over"
        );
        let v = voucher(w.from, w.until);
        assert_eq!(reconcile_step(&bk, Some(&v), w, now), BookingStep::Nothing);
        let moved = Window {
            until: w.until - Duration::hours(5),
            ..w
        };
        assert_eq!(
            reconcile_step(&bk, Some(&v), moved, now),
            BookingStep::Move {
                window: moved,
                guest_name: None
            }
        );
        let mut named = bk.clone();
        named.guest_name = Some("Ana".into());
        assert!(matches!(
            reconcile_step(&named, Some(&v), w, now),
            BookingStep::Move { .. }
        ));
        let mut revoked = v.clone();
        revoked.revoked_at = Some(now);
        assert_eq!(
            reconcile_step(&bk, Some(&revoked), moved, now),
            BookingStep::Nothing,
            "the host's revoke stays"
        );
    }

    #[test]
    fn booking_codes_prefer_valid_now_then_next_then_last() {
        let now = datetime!(2026-11-20 12:00 UTC);
        let past = voucher(now - Duration::days(5), now - Duration::days(3));
        let current = voucher(now - Duration::days(1), now + Duration::days(1));
        let next = voucher(now + Duration::days(3), now + Duration::days(5));
        let bk = b("a", now, now);
        let pick = |list: Vec<Option<Voucher>>| {
            pick_for_code(list.into_iter().map(|v| (bk.clone(), v)).collect(), now)
        };
        assert_eq!(
            pick(vec![
                Some(past.clone()),
                Some(next.clone()),
                Some(current.clone())
            ]),
            Ok(Some(current))
        );
        assert_eq!(
            pick(vec![Some(past.clone()), Some(next.clone())]),
            Ok(Some(next))
        );
        let mut revoked = past.clone();
        revoked.revoked_at = Some(now);
        assert_eq!(
            pick(vec![Some(revoked), Some(past.clone())]),
            Ok(Some(past))
        );
        assert_eq!(pick(vec![None]), Err(()), "over before it had a voucher");
        assert_eq!(pick(vec![]), Ok(None));
    }

    fn spec(start: OffsetDateTime, end: OffsetDateTime) -> BookingSpec {
        BookingSpec {
            start,
            end,
            guest_name: None,
            codes: vec![],
        }
    }

    fn view(
        from: OffsetDateTime,
        until: Option<OffsetDateTime>,
        shown: Vec<(&str, BookingSpec)>,
    ) -> CalendarView {
        CalendarView {
            from,
            until,
            shown: shown
                .into_iter()
                .map(|(r, s)| (BookingRef::parse(r).unwrap(), s))
                .collect(),
            refused: vec![],
        }
    }

    #[test]
    fn a_view_decides_new_changed_back_and_missing() {
        let now = datetime!(2026-11-20 12:00 UTC);
        let d = Duration::days;
        let stay = b("stay", now - d(1), now + d(2));
        let next = b("next", now + d(3), now + d(5));
        let far = b("far", now + d(40), now + d(42));
        let over = b("over", now - d(5), now - d(1));
        let mut gone = b("gone", now + d(6), now + d(8));
        gone.vanished_at = Some(now - Duration::hours(1));
        let mut cancelled = b("cancelled", now + d(9), now + d(10));
        cancelled.vanished_at = Some(now - d(3));
        cancelled.cancelled_at = Some(now - d(1));
        let stored = [
            stay.clone(),
            next.clone(),
            far,
            over,
            gone.clone(),
            cancelled.clone(),
        ];
        // The view shows the stay unchanged, `next` moved, `gone` back, one new booking; it
        // covers the next 30 days. `far` is beyond it, `over` ended before it: untouched.
        let moved = spec(next.start + d(1), next.end + d(1));
        let v = view(
            now,
            Some(now + d(30)),
            vec![
                ("stay", spec(stay.start, stay.end)),
                ("next", moved.clone()),
                ("gone", spec(gone.start, gone.end)),
                ("new", spec(now + d(11), now + d(12))),
            ],
        );
        let steps = plan_view(&stored, &v);
        assert_eq!(
            steps,
            vec![
                ViewStep::Unchanged,
                ViewStep::Update(BookingRef::parse("next").unwrap(), moved),
                ViewStep::Restore(
                    BookingRef::parse("gone").unwrap(),
                    spec(gone.start, gone.end)
                ),
                ViewStep::Create(
                    BookingRef::parse("new").unwrap(),
                    spec(now + d(11), now + d(12))
                ),
            ],
            "nothing vanishes: `far` is outside the span, `over` ended, `cancelled` is already gone"
        );
        // A blank calendar: everything the span covers that is present vanishes, the stay
        // in progress included (what that means is decided per booking afterwards).
        let steps = plan_view(&stored, &view(now, None, vec![]));
        assert_eq!(
            steps,
            vec![
                ViewStep::Vanish("stay".into()),
                ViewStep::Vanish("next".into()),
                ViewStep::Vanish("far".into()),
            ]
        );
        // A booking the view shows but a rule refused is neither changed nor missing.
        let mut v = view(now, None, vec![]);
        v.refused.push(Refused {
            booking_ref: "next".into(),
            field: Some("end"),
            message: "too long".into(),
        });
        assert!(!plan_view(&stored, &v).contains(&ViewStep::Vanish("next".into())));
        // A cancelled booking shown again comes back.
        let steps = plan_view(
            &[cancelled.clone()],
            &view(
                now,
                None,
                vec![("cancelled", spec(cancelled.start, cancelled.end))],
            ),
        );
        assert!(matches!(steps[..], [ViewStep::Restore(..)]));
    }

    #[test]
    fn the_span_is_start_before_until_and_end_after_from() {
        let now = datetime!(2026-11-20 12:00 UTC);
        let v = view(now, Some(now + Duration::days(1)), vec![]);
        assert!(v.covers(&b(
            "in",
            now - Duration::days(1),
            now + Duration::minutes(1)
        )));
        assert!(!v.covers(&b("ended", now - Duration::days(1), now)));
        assert!(!v.covers(&b(
            "at_until",
            now + Duration::days(1),
            now + Duration::days(2)
        )));
        assert!(v.covers(&b(
            "before_until",
            now + Duration::days(1) - Duration::seconds(1),
            now + Duration::days(2)
        )));
    }

    #[test]
    fn views_are_checked_as_a_whole_and_per_booking() {
        let now = datetime!(2026-11-20 12:00 UTC);
        let limits = VoucherConfig::default();
        let req = |start: OffsetDateTime, end: OffsetDateTime| BookingRequest {
            start,
            end,
            guest_name: None,
            codes: vec![],
        };
        let ok = req(now, now + Duration::days(1));
        let field = |r: Result<CalendarView, Error>| match r {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(CalendarView::parse(
                CalendarRequest {
                    from: now,
                    until: Some(now),
                    bookings: vec![]
                },
                &limits,
                now
            )),
            Some("until")
        );
        assert_eq!(
            field(CalendarView::parse(
                CalendarRequest {
                    from: now,
                    until: None,
                    bookings: vec![("a".into(), ok.clone()), ("a".into(), ok.clone())]
                },
                &limits,
                now
            )),
            Some("bookings"),
            "one reference twice"
        );
        let too_many = (0..=MAX_VIEW)
            .map(|n| (n.to_string(), ok.clone()))
            .collect();
        assert_eq!(
            field(CalendarView::parse(
                CalendarRequest {
                    from: now,
                    until: None,
                    bookings: too_many
                },
                &limits,
                now
            )),
            Some("bookings")
        );
        let v = CalendarView::parse(
            CalendarRequest {
                from: now,
                until: None,
                bookings: vec![
                    ("good".into(), ok.clone()),
                    ("long".into(), req(now, now + Duration::days(40))),
                    (" bad".into(), ok),
                ],
            },
            &limits,
            now,
        )
        .unwrap();
        assert_eq!(v.shown.len(), 1);
        let refused: Vec<(&str, Option<&str>)> = v
            .refused
            .iter()
            .map(|r| (r.booking_ref.as_str(), r.field))
            .collect();
        assert_eq!(
            refused,
            vec![("long", Some("end")), (" bad", Some("booking_ref"))]
        );
    }

    #[test]
    fn missing_before_the_stay_counts_as_cancelled_at_the_limit_during_it_never() {
        let now = datetime!(2026-11-20 12:00 UTC);
        let w = Window {
            from: now + Duration::minutes(30),
            until: now + Duration::days(2),
        };
        let rules = StayRules::default();
        assert_eq!(
            cancel_at(w, &rules, now),
            Some(w.from),
            "default: at the start"
        );
        let later = StayRules {
            vanish_cancel_minutes: 90,
            ..rules
        };
        assert_eq!(
            cancel_at(w, &later, now),
            Some(w.from + Duration::minutes(90))
        );
        assert_eq!(cancel_at(w, &rules, w.from), None, "the window has begun");
        assert_eq!(cancel_at(w, &later, w.until - Duration::hours(1)), None);
    }

    #[test]
    fn the_current_voucher_is_the_one_valid_now() {
        let now = datetime!(2026-11-20 12:00 UTC);
        let bk = b("a", now, now);
        let past = voucher(now - Duration::days(5), now - Duration::days(3));
        let current = voucher(now - Duration::days(1), now + Duration::days(1));
        let mut newer = voucher(now - Duration::hours(1), now + Duration::days(1));
        newer.code = "NEWER234".into();
        let next = voucher(now + Duration::days(3), now + Duration::days(5));
        let pick = |list: Vec<Voucher>| {
            current_voucher(
                list.into_iter().map(|v| (bk.clone(), Some(v))).collect(),
                now,
            )
            .map(|v| v.code)
        };
        assert_eq!(pick(vec![past.clone(), next.clone()]), None);
        assert_eq!(
            pick(vec![past.clone(), current.clone(), next.clone()]),
            Some(current.code.clone())
        );
        assert_eq!(
            pick(vec![current.clone(), newer.clone()]),
            Some("NEWER234".into()),
            "overlapping stays: the one that began last"
        );
        let mut suspended = current.clone();
        suspended.suspended_at = Some(now);
        assert_eq!(pick(vec![suspended]), None);
        let mut revoked = current;
        revoked.revoked_at = Some(now);
        assert_eq!(pick(vec![revoked]), None);
    }
}
