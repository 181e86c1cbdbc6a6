//! The host test code (issue 12 item 11): proves authorise and revoke on the host's own
//! controller before the first guest arrives.
//!
//! The host asks for a code for a unit and types it on their own phone on that unit's guest
//! Wi-Fi. The code is an ordinary one-time voucher (one device — a second one is refused,
//! never swapped in — 60 seconds from first use, usable for an hour) marked as a test, so
//! everything on its way is the guests' own path:
//! the portal lets the phone in, the expiry timer ends the grant after 60 s and queues the
//! unauthorise in the same transaction (durable across restarts), and the outbox worker sends
//! it. Once the controller confirmed the disconnect, the worker asks it what it knows about
//! the phone — in Open API mode its authorisation records (none valid = ended); in hotspot
//! mode nothing can be read back, because a record's `valid` flag stays true after its end
//! (field notes §1.9) — and writes the result in the transaction that finishes the outbox
//! item (`host_test_result`), then publishes `host_test_result`.
//!
//! The code never shows up as a unit's live voucher (state snapshot), and creating it sends
//! no `voucher_issued` (automations that hand codes to guests must not pick it up).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::rfc3339;
use crate::events::{AuthState, Event, HostTestReport};
use crate::store::host_tests::{self, HostTest};
use crate::store::{from_ms, grants as g, outbox, rows, to_ms, StoreError};
use crate::usecase::{not_found, Error, Rentals, UseCase};
use crate::vouchers::code;
use crate::vouchers::model::{AccessMode, AuditAction, DevicePolicy, Grant, GrantState, Voucher};
use crate::vouchers::voucher::{NewVoucher, VoucherRequest};
use crate::vouchers::{Ctx, Error as Rule};

/// How long the phone stays in: the voucher's `duration_minutes`.
pub const TEST_MINUTES: u32 = 1;
/// How long the code can be used after it was made.
pub const CODE_VALID_MINUTES: i64 = 60;
/// The voucher's `source`.
const SOURCE: &str = "host_test";

/// The result as stored (and shown by `GET /api/v1/host-tests/{code}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredResult {
    pub ok: bool,
    pub client_mac: String,
    pub let_in_at_ms: Option<i64>,
    pub revoked_at_ms: i64,
    pub disconnected: usize,
    pub authorization_state: String,
    pub message: String,
}

/// Where a host test stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestStatus {
    /// The code waits for the phone.
    Waiting,
    /// Never used within its hour.
    Expired,
    /// The phone is in; it is taken off at `revoke_at`.
    In,
    /// The phone's grant ended; the controller has not confirmed the take-out yet.
    TakingOff,
    /// The result is in.
    Done,
}

impl TestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Waiting => "waiting",
            TestStatus::Expired => "expired",
            TestStatus::In => "in",
            TestStatus::TakingOff => "taking_off",
            TestStatus::Done => "done",
        }
    }
}

/// A host test as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTestView {
    pub code: String,
    pub unit_id: String,
    pub created_at: OffsetDateTime,
    pub valid_until: Option<OffsetDateTime>,
    pub status: TestStatus,
    pub client_mac: Option<String>,
    pub let_in_at: Option<OffsetDateTime>,
    pub revoke_at: Option<OffsetDateTime>,
    pub result: Option<StoredResult>,
}

/// Where a test stands, from its row, its voucher and the grant its code let in (pure).
pub fn status_of(
    test: &HostTest,
    voucher: &Voucher,
    grant: Option<&Grant>,
    now: OffsetDateTime,
) -> TestStatus {
    if test.result.is_some() {
        return TestStatus::Done;
    }
    match grant {
        Some(g) if g.state == GrantState::Active => TestStatus::In,
        Some(g) if g.state == GrantState::Ended => TestStatus::TakingOff,
        _ if voucher.expires_at().is_some_and(|end| end <= now) || voucher.revoked_at.is_some() => {
            TestStatus::Expired
        }
        _ => TestStatus::Waiting,
    }
}

impl Rentals {
    /// Make a host test code for `unit_id` (one transaction: the voucher and the test row).
    pub async fn create_host_test(&self, ctx: &Ctx, unit_id: &str) -> Result<HostTestView, Error> {
        let unit_id = unit_id.to_owned();
        let code = self
            .run(UseCase::HostTestCreate, ctx, move |tx| {
                let unit = rows::unit_get(tx.db, &unit_id).map_err(not_found("unit"))?;
                // Its guests join with a Wi-Fi password: the portal refuses its codes, so a
                // test code could never let the phone in (issue 18).
                if unit.access.mode == AccessMode::Password {
                    return Err(Rule::Conflict(format!(
                        "unit {unit_id} is in password mode: its guests join with a Wi-Fi password, not through the portal, so a host test code cannot work there; the controller check (POST /api/v1/settings/omada/check) tests its PPSK profile instead"
                    ))
                    .into());
                }
                let code = loop {
                    let c = code::generate(tx.limits.code_length);
                    if !rows::voucher_exists(tx.db, &c)? {
                        break c;
                    }
                };
                let new = NewVoucher::parse(
                    VoucherRequest {
                        unit_id: unit_id.clone(),
                        code: None,
                        valid_from: Some(tx.now),
                        valid_until: Some(tx.now + time::Duration::minutes(CODE_VALID_MINUTES)),
                        duration_minutes: Some(TEST_MINUTES as i64),
                        max_devices: Some(1),
                        guest_name: Some("Host test".into()),
                        booking_ref: None,
                        down_kbps: None,
                        up_kbps: None,
                        // One phone: a second one is refused, never swapped in for the
                        // first (issue 14's `replace_oldest` is for guests' rotating MACs).
                        device_policy: Some(DevicePolicy::Refuse.as_str().into()),
                        note: Some(
                            "Host test code: lets one phone in for 60 seconds, then takes it off and reports what the controller says"
                                .into(),
                        ),
                    },
                    tx.limits,
                    tx.now,
                )?;
                let v = new.build(code.clone(), tx.now);
                rows::voucher_insert(tx.db, &v, SOURCE)?;
                host_tests::insert(tx.db, &code, &unit_id, tx.now)?;
                tx.audit(
                    AuditAction::HostTestCreate,
                    Some(&unit_id),
                    Some(&code),
                    None,
                )?;
                Ok::<_, Error>(code)
            })
            .await?;
        self.host_test(&code).await
    }

    /// A host test and where it stands.
    pub async fn host_test(&self, code: &str) -> Result<HostTestView, Error> {
        let c = code::normalize(code).ok_or(Error::NotFound("host test"))?;
        let now = self.clock.now();
        self.store
            .read(move |conn| {
                let test = host_tests::get(conn, &c)?;
                let voucher = rows::voucher_get(conn, &c)?;
                let grant = g::list(
                    conn,
                    &g::GrantFilter {
                        code: Some(c.clone()),
                        limit: 1,
                        ..Default::default()
                    },
                )?
                .into_iter()
                .next();
                let result: Option<StoredResult> = test
                    .result
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok());
                Ok(HostTestView {
                    status: status_of(&test, &voucher, grant.as_ref(), now),
                    code: test.code.clone(),
                    unit_id: test.unit_id.clone(),
                    created_at: test.created_at,
                    valid_until: voucher.valid_until,
                    client_mac: grant.as_ref().map(|g| g.client_mac.to_string()),
                    let_in_at: grant.as_ref().and_then(|g| g.authorized_at),
                    revoke_at: grant.as_ref().map(|g| g.ended_at.unwrap_or(g.expires_at)),
                    result,
                })
            })
            .await
            .map_err(not_found("host test"))
    }

    /// Codes of host tests still under way (the snapshot leaves their vouchers out).
    pub async fn live_host_test_codes(&self) -> Result<HashSet<String>, StoreError> {
        self.store.read(host_tests::unfinished_codes).await
    }
}

/// Ask the controller what it knows about the test phone after its take-out (`ended`
/// authorisations the disconnect ended), and say what that proves.
pub(crate) async fn confirm(
    r: &Rentals,
    test: &HostTest,
    grant: &Grant,
    site_id: Option<&str>,
    ended: usize,
) -> HostTestReport {
    let open_api = r.controller.renews();
    let mut read_error = None;
    // Hotspot API and nothing ended now: a second attempt (after a restart) finds the
    // record of the first one, disconnected — that, unlike `valid: true`, does say something.
    let ended_before = if !open_api && ended == 0 {
        r.controller
            .device_records(&grant.site, site_id, grant.client_mac)
            .await
            .is_ok_and(|recs| !recs.is_empty() && recs.iter().all(|x| !x.valid))
    } else {
        false
    };
    let still_valid = if open_api {
        match r
            .controller
            .device_records(&grant.site, site_id, grant.client_mac)
            .await
        {
            Ok(recs) => Some(recs.iter().filter(|x| x.valid).count()),
            Err(e) => {
                read_error = Some(e.to_string());
                None
            }
        }
    } else {
        None
    };
    let state = crate::outbox::worker::auth_state(open_api, still_valid);
    let now = r.clock.now();
    let let_in = grant
        .authorized_at
        .map(|t| format!(" was let in at {} and", rfc3339(t)))
        .unwrap_or_default();
    let head = format!(
        "Host test on unit {:?}: the phone {}{let_in} was taken off at {} on site {:?}",
        test.unit_id,
        grant.client_mac,
        rfc3339(now),
        grant.site
    );
    let (ok, message) = match (state, ended) {
        (AuthState::Ended, n) => (
            true,
            format!(
                "{head}: the controller ended {n} authorisation(s) and now lists none as valid. Check on the phone that the internet is gone: letting guests in and out works."
            ),
        ),
        (AuthState::StillValid, _) => (
            false,
            format!(
                "{head}, but the controller still lists {} valid authorisation(s) for it: the phone may still be online. Run the controller check (docs/omada-setup.md, §6).",
                still_valid.unwrap_or_default()
            ),
        ),
        (AuthState::NotReadable, 0) if ended_before => (
            true,
            format!(
                "{head}: the controller lists the phone's authorisation as disconnected (the take-out was confirmed before a restart). Check on the phone that the internet is gone."
            ),
        ),
        (AuthState::NotReadable, 0) => (
            false,
            format!(
                "{head}, but the controller found no valid authorisation of the phone to end, so the take-out cannot be confirmed: was the phone let in on another site? Run the controller check."
            ),
        ),
        (AuthState::NotReadable, n) if open_api => (
            true,
            format!(
                "{head}: the controller confirmed the disconnect ({n} authorisation(s) ended), but its records could not be read back ({}). Check on the phone that the internet is gone.",
                read_error.unwrap_or_default()
            ),
        ),
        (AuthState::NotReadable, n) => (
            true,
            format!(
                "{head}: the controller confirmed the disconnect ({n} authorisation(s) ended). With the hotspot API this is as far as the controller can tell — its records keep \"valid\" after their end — so check on the phone that the internet is gone."
            ),
        ),
    };
    HostTestReport {
        unit_id: test.unit_id.clone(),
        code: test.code.clone(),
        client_mac: grant.client_mac,
        ok,
        let_in_at: grant.authorized_at,
        revoked_at: now,
        disconnected: ended,
        authorization_state: state,
        message,
    }
}

/// The host test's transaction: its outbox item done, its result written, the event after
/// the commit.
pub(crate) async fn record_result(
    r: &Rentals,
    item_id: i64,
    report: HostTestReport,
) -> Result<(), StoreError> {
    let stored = StoredResult {
        ok: report.ok,
        client_mac: report.client_mac.to_string(),
        let_in_at_ms: report.let_in_at.map(to_ms),
        revoked_at_ms: to_ms(report.revoked_at),
        disconnected: report.disconnected,
        authorization_state: report.authorization_state.as_str().to_owned(),
        message: report.message.clone(),
    };
    let json = serde_json::to_string(&stored).expect("a result serializes");
    let ctx = Ctx::new(crate::vouchers::model::Actor::Scheduler);
    r.run(UseCase::HostTestResult, &ctx, move |tx| {
        outbox::done(tx.db, item_id, tx.now)?;
        if host_tests::finish(tx.db, &report.code, tx.now, &json)? {
            tx.audit(
                AuditAction::HostTestResult,
                Some(&report.unit_id),
                Some(&report.code),
                Some(format!("ok={}", report.ok)),
            )?;
            tx.publish(Event::HostTestResult(Box::new(report)));
        }
        Ok(())
    })
    .await
}

impl StoredResult {
    pub fn revoked_at(&self) -> OffsetDateTime {
        from_ms(self.revoked_at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

    fn test_row(result: Option<&str>) -> HostTest {
        HostTest {
            code: "K7M2P9QX4T".into(),
            unit_id: "u".into(),
            created_at: NOW,
            finished_at: None,
            result: result.map(str::to_owned),
        }
    }

    fn voucher(first_used: Option<OffsetDateTime>) -> Voucher {
        Voucher {
            code: "K7M2P9QX4T".into(),
            unit_id: "u".into(),
            valid_from: NOW,
            valid_until: Some(NOW + time::Duration::hours(1)),
            duration_minutes: Some(1),
            max_devices: 1,
            devices_used: first_used.map_or(0, |_| 1),
            guest_name: None,
            booking_ref: None,
            down_kbps: None,
            up_kbps: None,
            note: None,
            created_at: NOW,
            first_used_at: first_used,
            revoked_at: None,
            suspended_at: None,
            revoke_cause: None,
            device_policy: None,
            devices_active: first_used.map_or(0, |_| 1),
        }
    }

    fn grant(state: GrantState) -> Grant {
        Grant {
            grant_id: "g".into(),
            code: "K7M2P9QX4T".into(),
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
            authorized_at: Some(NOW),
            expires_at: NOW + time::Duration::minutes(1),
            ended_at: None,
            end_reason: None,
            by_host: false,
            name: None,
        }
    }

    #[test]
    fn a_test_goes_waiting_in_taking_off_done_or_expires() {
        let t = test_row(None);
        assert_eq!(
            status_of(&t, &voucher(None), None, NOW),
            TestStatus::Waiting
        );
        assert_eq!(
            status_of(&t, &voucher(None), None, NOW + time::Duration::hours(2)),
            TestStatus::Expired
        );
        let used = voucher(Some(NOW));
        assert_eq!(
            status_of(&t, &used, Some(&grant(GrantState::Active)), NOW),
            TestStatus::In
        );
        assert_eq!(
            status_of(&t, &used, Some(&grant(GrantState::Ended)), NOW),
            TestStatus::TakingOff
        );
        assert_eq!(
            status_of(
                &test_row(Some("{}")),
                &used,
                Some(&grant(GrantState::Ended)),
                NOW
            ),
            TestStatus::Done
        );
    }
}
