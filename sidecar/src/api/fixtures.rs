//! The wire fixtures (`sidecar/tests/fixtures/wire/*.json`), one per response type: built
//! here from domain values through the same code the handlers use, compared byte for byte
//! (as JSON values) with the files, and read back into the wire types. The Home Assistant
//! tests load the same files through the integration's models
//! (`tests/ha/test_wire_fixtures.py`), so a renamed or retyped field fails on both sides.
//!
//! After a deliberate change of the contract: `UPDATE_WIRE_FIXTURES=1 cargo test -p
//! rental-wifi-sidecar --lib api::fixtures` rewrites the files; review the diff.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use time::macros::datetime;
use time::OffsetDateTime;

use super::events::encode;
use super::wire::*;
use crate::controller::ControllerStatus;
use crate::events::{
    AuthState, BookingEventRef, CancelCause, CheckFailure, Event, GrantRef, HostTestReport,
    Published, UnitChange,
};
use crate::omada::{Capabilities, OmadaSettings, ResolvedMode};
use crate::plume::{HealthReport, HealthStatus, PlumeSettings, PlumeStatus};
use crate::unit_health::{Finding, FindingCode, Severity, Source, SourceState};
use crate::usecase::bookings::Synced;
use crate::usecase::units::UnitRevoked;
use crate::vouchers::booking::Refused;
use crate::vouchers::model::{
    AuditEntry, Booking, DevicePolicy, EndReason, Grant, GrantState, GuestChecks, GuestPage,
    SecondFactor, StayRules, Unit, Voucher,
};

const T0: OffsetDateTime = datetime!(2026-11-20 14:00 UTC);
const NOW: OffsetDateTime = datetime!(2026-11-21 09:30:15 UTC);

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wire")
}

/// Compare `value`'s JSON with the fixture `name` (or write it, when asked).
fn check_json(name: &str, json: Value) {
    let path = dir().join(format!("{name}.json"));
    if std::env::var_os("UPDATE_WIRE_FIXTURES").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        let mut text = serde_json::to_string_pretty(&json).unwrap();
        text.push('\n');
        std::fs::write(&path, text).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_WIRE_FIXTURES=1 writes it)", path.display()));
    let want: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json, want,
        "{name}.json differs from what the sidecar sends"
    );
}

/// Serialize, compare with the fixture, read the fixture back into `T`, serialize again.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, v: T) {
    let json = serde_json::to_value(&v).unwrap();
    check_json(name, json.clone());
    let back: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, v, "{name} reads back into its wire type");
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
}

fn unit() -> Unit {
    Unit {
        unit_id: "beach-house".into(),
        name: "Beach House".into(),
        omada_site: "Default".into(),
        ssids: vec!["Beach Guest".into()],
        vlans: vec![20],
        ap_macs: vec!["B0-95-75-15-93-44".parse().unwrap()],
        plume_customer_id: Some("642cc40d71d99d000a611549".into()),
        plume_location_id: Some("642cc40d71d99d000a61154a".into()),
        checkin_grace_minutes: 120,
        checkout_grace_minutes: 60,
        terms_url: Some("https://example.com/terms".into()),
        time_zone: Some("Europe/Lisbon".into()),
        access: Default::default(),
        created_at: T0,
        updated_at: T0,
        omada_site_id: Some("640effd1b3f2ae5b912275ec".into()),
        stay: StayRules {
            vanish_cancel_minutes: 60,
            device_policy: DevicePolicy::ReplaceOldest,
        },
        guest_checks: GuestChecks {
            address_translation: false,
            short_code_second_factor: SecondFactor::LastName,
        },
        guest_page: GuestPage {
            welcome_title: Some("Welcome to the Beach House".into()),
            welcome_text: Some("Towels are in the **hall cupboard**.\n\n- Bins: Tuesday\n- [Bakery](https://example.com/bakery)".into()),
            checkout_time: Some(time::macros::time!(11:00)),
            host_contact: Some("Anna, +49 170 1234567".into()),
            accent_color: Some("#0a58a8".into()),
            logo_sha256: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
            terms_text: Some("No parties.".into()),
            terms_sha256: Some(crate::portal::terms::sha256_hex("No parties.")),
        },
    }
}

/// A unit in password mode (issue 18).
fn password_unit() -> Unit {
    Unit {
        unit_id: "garden-flat".into(),
        name: "Garden Flat".into(),
        ssids: vec!["Garden".into()],
        vlans: vec![30],
        ap_macs: vec![],
        plume_customer_id: None,
        plume_location_id: None,
        terms_url: None,
        access: crate::vouchers::model::Access {
            mode: crate::vouchers::model::AccessMode::Password,
            ppsk_profile_id: Some("6512d0a1b2c3d4e5f6a7b8c9".into()),
        },
        ..unit()
    }
}

fn password_voucher() -> Voucher {
    Voucher {
        code: "P4SSW0RDQX".into(),
        unit_id: "garden-flat".into(),
        max_devices: 0,
        devices_used: 0,
        down_kbps: None,
        ..voucher()
    }
}

fn wifi_out() -> WifiOut {
    WifiOut {
        ssid: Some("Garden".into()),
        password: "lunar-cider-plank-agent-ivory-crisp".into(),
        qr_payload: Some("WIFI:T:WPA;S:Garden;P:lunar-cider-plank-agent-ivory-crisp;;".into()),
        key: "rentalwifi-garden-flat-P4SSW0RDQX".into(),
        mac: None,
    }
}

/// The password reads and the issue answer of a password-mode unit (issue 18).
#[test]
fn passwords() {
    round_trip("unit_password_mode", UnitOut::from(&password_unit()));
    round_trip(
        "password",
        PasswordOut {
            unit_id: "garden-flat".into(),
            code: Some("P4SSW0RDQX".into()),
            booking_ref: Some("HMABCDEF12".into()),
            guest_name: Some("Ana".into()),
            valid_from: Some(crate::clock::rfc3339(T0)),
            valid_until: Some("2026-11-23T12:00:00Z".into()),
            on_controller: true,
            wifi: Some(wifi_out()),
            devices: vec![WifiOut {
                password: "amber-oxide-tulip-crane-velvet-dusk".into(),
                qr_payload: Some(
                    "WIFI:T:WPA;S:Garden;P:amber-oxide-tulip-crane-velvet-dusk;;".into(),
                ),
                key: "rentalwifi-garden-flat-P4SSW0RDQX-52DE63F1E33B".into(),
                mac: Some("52-DE-63-F1-E3-3B".into()),
                ..wifi_out()
            }],
        },
    );
    round_trip(
        "voucher_issued_wifi",
        IssuedOut {
            voucher: VoucherOut::new(&password_voucher(), NOW),
            wifi: Some(wifi_out()),
        },
    );
}

fn voucher() -> Voucher {
    Voucher {
        code: "K7M2P9QX4T".into(),
        unit_id: "beach-house".into(),
        valid_from: T0,
        valid_until: Some(datetime!(2026-11-23 12:00 UTC)),
        duration_minutes: None,
        max_devices: 4,
        devices_used: 1,
        guest_name: Some("Ana".into()),
        booking_ref: Some("HMABCDEF12".into()),
        down_kbps: Some(20_000),
        up_kbps: None,
        note: None,
        created_at: T0,
        first_used_at: Some(datetime!(2026-11-20 16:05 UTC)),
        revoked_at: None,
        suspended_at: None,
        revoke_cause: None,
        device_policy: Some(DevicePolicy::Refuse),
        devices_active: 1,
    }
}

fn grant(state: GrantState, end: Option<EndReason>) -> Grant {
    Grant {
        grant_id: "0193b0c4-7d2e-7c61-9c1f-5b2a3e4d5f60".into(),
        code: "K7M2P9QX4T".into(),
        unit_id: "beach-house".into(),
        client_mac: "52-DE-63-F1-E3-3B".parse().unwrap(),
        client_ip: Some("192.168.100.165".into()),
        ap_mac: Some("B0-95-75-15-93-44".parse().unwrap()),
        gateway_mac: None,
        ssid: Some("Beach Guest".into()),
        vid: None,
        radio_id: Some(1),
        site: "Default".into(),
        state,
        authorized_at: Some(datetime!(2026-11-20 16:05 UTC)),
        expires_at: datetime!(2026-11-23 12:00 UTC),
        ended_at: end.map(|_| datetime!(2026-11-21 09:00 UTC)),
        end_reason: end,
        by_host: false,
        name: None,
    }
}

/// A TV the host let in by its MAC.
fn tv_grant() -> Grant {
    Grant {
        grant_id: "0193b0c4-7d2e-7c61-9c1f-5b2a3e4d5f61".into(),
        client_mac: "A4-77-33-0E-51-C2".parse().unwrap(),
        client_ip: None,
        ap_mac: None,
        ssid: None,
        radio_id: None,
        by_host: true,
        name: Some("Living room TV".into()),
        ..grant(GrantState::Active, None)
    }
}

fn booking() -> Booking {
    Booking {
        unit_id: "beach-house".into(),
        booking_ref: "HMABCDEF12".into(),
        start: datetime!(2026-11-20 16:00 UTC),
        end: datetime!(2026-11-23 11:00 UTC),
        guest_name: Some("Ana".into()),
        codes: vec!["4711".into()],
        updated_at: T0,
        voucher_code: Some("K7M2P9QX4T".into()),
        vanished_at: None,
        cancel_at: None,
        cancelled_at: None,
    }
}

/// A booking that went missing from the calendar before its stay.
fn vanished_booking() -> Booking {
    Booking {
        booking_ref: "HMZZXY9876".into(),
        start: datetime!(2026-11-24 16:00 UTC),
        end: datetime!(2026-11-27 11:00 UTC),
        guest_name: Some("Bo".into()),
        codes: vec![],
        voucher_code: Some("P4X7K2M9QT".into()),
        vanished_at: Some(datetime!(2026-11-21 09:10 UTC)),
        cancel_at: Some(datetime!(2026-11-24 15:00 UTC)),
        ..booking()
    }
}

fn health() -> HealthReport {
    let finding = Finding {
        subject: Some("Living room".into()),
        ..Finding::new(
            Source::Plume,
            Severity::Yellow,
            FindingCode::PodHealthPoor,
            "Pod 'Living room' health is poor",
        )
    };
    HealthReport {
        status: HealthStatus::Yellow,
        reasons: vec![finding.message.clone()],
        reason_details: vec![finding],
        misconfigured: false,
        sources: [(
            Source::Plume,
            SourceState {
                status: HealthStatus::Yellow,
                stale: false,
                updated_at: Some(datetime!(2026-11-21 09:29 UTC)),
            },
        )]
        .into(),
        online: true,
        pods_connected: 3,
        pods_total: 3,
        devices_connected: 7,
        wifi_networks: vec!["Beach Guest".into()],
        service_level: Some("fullService".into()),
        updated_at: Some(datetime!(2026-11-21 09:29 UTC)),
        stale: false,
    }
}

fn speed_test() -> SpeedTestOut {
    SpeedTestOut {
        download_mbps: Some(512.3),
        upload_mbps: Some(41.2),
        rtt_ms: Some(9.1),
        status: Some("succeeded".into()),
        tested_at: Some("2026-11-21T03:00:00.000Z".into()),
        airbnb_tier: Some("fast".into()),
    }
}

fn pods() -> Vec<PodOut> {
    vec![
        PodOut {
            source: Source::Plume,
            id: "1GA2B3C4D5".into(),
            name: "Living room".into(),
            kind: "gateway".into(),
            model: Some("PP403Z".into()),
            firmware: Some("4.8.0-88-g0a1b2c3".into()),
            connection: "connected".into(),
            connected: true,
            connection_changed_at: Some("2026-11-20T10:00:00.000Z".into()),
            backhaul: Some("ethernet".into()),
            health: Some(HealthValueOut {
                status: Some("poor".into()),
                score: Some(2.0),
            }),
            connected_devices: Some(3),
            alerts: vec!["poorHealth".into()],
        },
        PodOut {
            source: Source::Controller,
            id: "B0-95-75-15-93-44".into(),
            name: "Loft".into(),
            kind: "access_point".into(),
            model: Some("EAP650(EU) v1.0".into()),
            firmware: None,
            connection: "connected".into(),
            connected: true,
            connection_changed_at: None,
            backhaul: None,
            health: None,
            connected_devices: None,
            alerts: vec![],
        },
    ]
}

fn network_summary() -> NetworkSummaryOut {
    NetworkSummaryOut {
        pods: pods().iter().map(PodSummaryOut::from).collect(),
        read: [(Source::Plume, true), (Source::Controller, true)].into(),
        speed_test: Some(speed_test()),
    }
}

fn controller_status() -> ControllerStatusOut {
    ControllerStatusOut::new(
        ControllerStatus {
            mode: Some(ResolvedMode::Hotspot),
            connected: true,
            last_error: None,
            last_ok_at: Some(datetime!(2026-11-21 09:28 UTC)),
            problem: Some("1 controller operation waits for a fix (the oldest since 2026-11-21T09:00:00Z): taking 52-DE-63-F1-E3-3B off site \"Default\": controller refused the credentials: hotspot disconnect: the controller still refused the session after logging in again (errorCode -1005 (Operation forbidden.)); check the operator's role (Administrator) and its Site Privileges".into()),
            capabilities: Capabilities {
                authorize_with_duration: true,
                ..Capabilities::default()
            },
        },
        &crate::store::outbox::Summary {
            pending: 2,
            waiting: 1,
            oldest_pending_at: Some(datetime!(2026-11-21 09:00 UTC)),
            oldest_problem: None,
        },
    )
}

fn plume_status() -> PlumeStatusOut {
    PlumeStatusOut::from(PlumeStatus {
        configured: true,
        connected: true,
        last_error: None,
        last_poll_at: Some(datetime!(2026-11-21 09:29 UTC)),
        round_seconds: Some(1.5),
        effective_interval_seconds: Some(60),
    })
}

#[test]
fn resources() {
    round_trip(
        "info",
        InfoOut {
            name: "rental-wifi-sidecar".into(),
            version: "0.1.0".into(),
            instance_id: "0193b0c4-0000-7000-8000-000000000001".into(),
            api_version: 1,
        },
    );
    round_trip("unit", UnitOut::from(&unit()));
    round_trip(
        "units",
        UnitsOut {
            units: vec![UnitOut::from(&unit())],
        },
    );
    round_trip(
        "consents",
        ConsentsOut {
            consents: vec![ConsentOut::from(&crate::store::guest_page::Consent {
                grant_id: "0193b0c4-0000-7000-8000-0000000000c1".into(),
                unit_id: "beach-house".into(),
                code: "K7M2P9QX4T".into(),
                client_mac: "AA-BB-CC-DD-EE-01".parse().unwrap(),
                at: NOW,
                terms_sha256: Some(crate::portal::terms::sha256_hex("No parties.")),
                terms_url: None,
            })],
        },
    );
    round_trip("voucher", VoucherOut::new(&voucher(), NOW));
    round_trip(
        "vouchers",
        VouchersOut {
            vouchers: vec![VoucherOut::new(&voucher(), NOW)],
            total: 1,
        },
    );
    round_trip(
        "grant",
        GrantOut::new(&grant(GrantState::Active, None), NOW),
    );
    round_trip(
        "grants",
        GrantsOut {
            grants: vec![
                GrantOut::new(&grant(GrantState::Active, None), NOW),
                GrantOut::new(
                    &grant(GrantState::Ended, Some(EndReason::BookingCancelled)),
                    NOW,
                ),
            ],
        },
    );
    round_trip(
        "booking",
        BookingOut::new(&booking(), Some(&voucher()), NOW),
    );
    let mut suspended = voucher();
    suspended.code = "P4X7K2M9QT".into();
    suspended.suspended_at = Some(datetime!(2026-11-21 09:10 UTC));
    suspended.first_used_at = None;
    suspended.devices_used = 0;
    suspended.devices_active = 0;
    suspended.device_policy = None;
    round_trip(
        "booking_vanished",
        BookingOut::new(&vanished_booking(), Some(&suspended), NOW),
    );
    round_trip(
        "calendar",
        CalendarOut::from(Synced {
            created: vec!["HMNEW12345".into()],
            updated: vec!["HMABCDEF12".into()],
            unchanged: 1,
            vanished: vec!["HMZZXY9876".into()],
            restored: vec![],
            refused: vec![Refused {
                booking_ref: "HMLONG0000".into(),
                field: Some("end"),
                message:
                    "a booking may be at most 43200 minutes long (vouchers.max_duration_minutes)"
                        .into(),
            }],
        }),
    );
    round_trip(
        "unit_revoked",
        UnitRevokedOut::new(
            "beach-house",
            UnitRevoked {
                revoked: vec!["K7M2P9QX4T".into(), "P4X7K2M9QT".into()],
                devices: 2,
            },
        ),
    );
    round_trip(
        "devices",
        DevicesOut {
            devices: vec![
                GrantOut::new(&tv_grant(), NOW),
                GrantOut::new(&grant(GrantState::Ended, Some(EndReason::Replaced)), NOW),
            ],
        },
    );
    round_trip(
        "bookings",
        BookingsOut {
            bookings: vec![BookingOut::new(&booking(), Some(&voucher()), NOW)],
        },
    );
    round_trip(
        "audit",
        AuditListOut {
            entries: vec![AuditOut::from(&AuditEntry {
                id: 42,
                at: T0,
                correlation_id: "0193b0c4-0000-7000-8000-000000000002".into(),
                actor: "sync".into(),
                action: "booking.delete".into(),
                unit_id: Some("beach-house".into()),
                code: Some("K7M2P9QX4T".into()),
                detail: Some("cancelled".into()),
            })],
        },
    );
    // The structured health parts are the health model's types (serialized only): one way.
    check_json(
        "health",
        serde_json::to_value(HealthOut::new("beach-house", health())).unwrap(),
    );
}

#[test]
fn snapshot_and_status() {
    round_trip("controller_status", controller_status());
    round_trip("plume_status", plume_status());
    check_json(
        "state",
        serde_json::to_value(StateOut {
            instance_id: "0193b0c4-0000-7000-8000-000000000001".into(),
            version: "0.1.0".into(),
            generated_at: crate::clock::rfc3339(NOW),
            controller: controller_status(),
            plume: plume_status(),
            totals: TotalsOut {
                units: 2,
                live_vouchers: 2,
                active_grants: 1,
            },
            units: vec![
                UnitStateOut {
                    unit: UnitOut::from(&unit()),
                    vouchers: vec![VoucherOut::new(&voucher(), NOW)],
                    active_grants: 1,
                    health: HealthOut::new("beach-house", health()),
                    network: network_summary(),
                    current_voucher: Some("K7M2P9QX4T".into()),
                    wifi_password: None,
                    vanished_bookings: vec![VanishedBookingOut::from(&vanished_booking())],
                    guest_checks: GuestChecksStateOut {
                        short_codes: 1,
                        short_codes_weak: false,
                        short_codes_paused: false,
                        address_mismatches: 2,
                        last_address_mismatch_at: Some(crate::clock::rfc3339(NOW)),
                        address_mismatch_recent: true,
                    },
                },
                UnitStateOut {
                    unit: UnitOut::from(&password_unit()),
                    vouchers: vec![VoucherOut::new(&password_voucher(), NOW)],
                    active_grants: 0,
                    health: HealthOut::new("garden-flat", health()),
                    network: NetworkSummaryOut {
                        pods: vec![],
                        read: [(Source::Plume, false), (Source::Controller, false)].into(),
                        speed_test: None,
                    },
                    current_voucher: Some("P4SSW0RDQX".into()),
                    wifi_password: Some(WifiPasswordStateOut::new(&password_voucher(), true)),
                    vanished_bookings: vec![],
                    guest_checks: GuestChecksStateOut {
                        short_codes: 0,
                        short_codes_weak: false,
                        short_codes_paused: false,
                        address_mismatches: 0,
                        last_address_mismatch_at: None,
                        address_mismatch_recent: false,
                    },
                },
            ],
        })
        .unwrap(),
    );
    round_trip(
        "error",
        ErrorOut {
            error: ErrorDetail {
                code: "validation_failed".into(),
                message: "valid_until must be after valid_from".into(),
                field: Some("valid_until".into()),
                certificate: None,
                checks: None,
            },
        },
    );
}

/// The error a settings test answers when the controller's certificate is not trusted.
#[test]
fn tls_untrusted_error() {
    round_trip(
        "error_tls_untrusted",
        ErrorOut {
            error: ErrorDetail {
                code: "tls_untrusted".into(),
                message: "the controller's certificate is not trusted".into(),
                field: Some("base_url".into()),
                certificate: Some(CertificateOut {
                    subject: "CN=localhost".into(),
                    sha256: "ab".repeat(32),
                    san: vec![],
                    factory_default: true,
                }),
                checks: None,
            },
        },
    );
}

#[test]
fn settings() {
    let omada = OmadaSettings {
        base_url: "https://omada.example:8043".into(),
        controller_id: Some("1f2e3d4c5b6a79881f2e3d4c5b6a7988".into()),
        username: Some("rental-wifi".into()),
        password: Some("operator-pass".into()),
        ..OmadaSettings::default()
    };
    // No Deserialize (the settings are flattened into it): compared one way.
    check_json(
        "settings_omada",
        serde_json::to_value(OmadaSettingsOut {
            settings: omada.redacted(),
            configured: true,
            check: Some(ControllerCheckOut {
                controller_version: Some("5.15.24.18".into()),
                certificate: Some(CertificateOut {
                    subject: "CN=localhost".into(),
                    sha256: "0".repeat(64),
                    san: vec![],
                    factory_default: false,
                }),
                capabilities: Capabilities {
                    authorize_with_duration: true,
                    ..Capabilities::default()
                }
                .into(),
                sites: vec![],
                portal_timeouts: vec![],
                site_checks: vec![SiteCheckOut {
                    site: "Default".into(),
                    site_id: Some("640effd1b3f2ae5b912275ec".into()),
                    ok: false,
                    problems: vec!["hotspot operator \"rental-wifi\" may not list the clients of site \"Default\" (640effd1b3f2ae5b912275ec): in the controller, Hotspot › Operators › rental-wifi, give it the role Administrator and add \"Default\" to its Site Privileges".into()],
                    controller_message: Some("errorCode -1005: Operation forbidden.".into()),
                }],
            }),
            password_checks: vec![],
        })
        .unwrap(),
    );
    round_trip(
        "settings_plume",
        PlumeSettingsOut::from(&PlumeSettings {
            sso_url: "https://external.sso.plume.com/oauth2/aus1/v1/token".into(),
            auth_header: "Basic c2VjcmV0OnNlY3JldA==".into(),
            partner_id: "642cc40d71d99d000a611548".into(),
            api_base: "https://piranha-gamma.prod.us-west-2.aws.plumenet.io/api".into(),
            poll_interval_seconds: 60,
        }),
    );
}

/// The property settings, the unit save's Plume check, Plume discovery, a unit's network and
/// the card sheet's answers (health-cards).
#[test]
fn health_cards() {
    round_trip(
        "settings_property",
        PropertyOut {
            time_zone: Some("Europe/Lisbon".into()),
        },
    );
    round_trip(
        "unit_saved",
        UnitSavedOut {
            unit: UnitOut::from(&unit()),
            plume_check: Some(PlumeCheckOut {
                status: "verified".into(),
                location_name: Some("Beach House".into()),
                message: None,
            }),
        },
    );
    round_trip(
        "plume_node",
        PlumeNodeOwnerOut {
            serial_number: "1GA2B3C4D5".into(),
            customer_id: "642cc40d71d99d000a611549".into(),
            location_id: "642cc40d71d99d000a61154a".into(),
        },
    );
    round_trip(
        "plume_customers",
        PlumeCustomersOut {
            customers: vec![PlumeCustomerOut {
                customer_id: "642cc40d71d99d000a611549".into(),
                account_id: Some("CRM-10042".into()),
                name: Some("Beach Rentals Ltd".into()),
                location_ids: vec!["642cc40d71d99d000a61154a".into()],
            }],
        },
    );
    round_trip(
        "plume_locations",
        PlumeLocationsOut {
            locations: vec![PlumeLocationOut {
                location_id: "642cc40d71d99d000a61154a".into(),
                name: Some("Beach House".into()),
            }],
        },
    );
    round_trip(
        "network",
        NetworkOut {
            unit_id: "beach-house".into(),
            status: "yellow".into(),
            reasons: vec!["Plume: Pod 'Living room' health is poor".into()],
            online: true,
            sources: [
                (
                    Source::Plume,
                    SourceStateOut {
                        status: "yellow".into(),
                        stale: false,
                        updated_at: Some("2026-11-21T09:29:00Z".into()),
                    },
                ),
                (
                    Source::Controller,
                    SourceStateOut {
                        status: "green".into(),
                        stale: false,
                        updated_at: Some("2026-11-21T09:29:30Z".into()),
                    },
                ),
            ]
            .into(),
            service_level: Some("fullService".into()),
            location_name: Some("Beach House".into()),
            network_status: Some("online".into()),
            pods: pods(),
            gateways: vec![GatewayOut {
                mac: "AC-84-C6-00-00-01".into(),
                name: "Gateway".into(),
                model: Some("ER605 v2.0".into()),
                connection: "connected".into(),
                connected: true,
                wan_ports: vec![WanPortOut {
                    name: "WAN1".into(),
                    link_up: Some(true),
                    internet: Some(true),
                    up: true,
                }],
                wan_error: None,
            }],
            devices: vec![NetworkDeviceOut {
                name: "Guest phone".into(),
                mac: Some("52:de:63:f1:e3:3b".into()),
                connection: "connected".into(),
                connected: true,
                band: Some("5G".into()),
                medium: Some("wifi".into()),
                health: Some(HealthValueOut {
                    status: Some("healthy".into()),
                    score: None,
                }),
            }],
            devices_total: 1,
            wifi_networks: vec!["Beach Guest".into()],
            speed_test: Some(speed_test()),
            skipped: vec![],
            plume_read_at: Some("2026-11-21T09:29:00Z".into()),
            controller_read_at: Some("2026-11-21T09:29:30Z".into()),
        },
    );
}

/// Every event kind, through the encoder the SSE stream uses; the file is named after the
/// event and holds its `data:` JSON.
#[test]
fn events() {
    let g = GrantRef {
        unit_id: "beach-house".into(),
        code: "K7M2P9QX4T".into(),
        grant_id: "0193b0c4-7d2e-7c61-9c1f-5b2a3e4d5f60".into(),
        client_mac: "52-DE-63-F1-E3-3B".parse().unwrap(),
    };
    let stay = BookingEventRef {
        unit_id: "beach-house".into(),
        booking_ref: "HMABCDEF12".into(),
        guest_name: Some("Ana".into()),
        code: Some("K7M2P9QX4T".into()),
        start: datetime!(2026-11-20 16:00 UTC),
        end: datetime!(2026-11-23 11:00 UTC),
    };
    let all = [
        Event::VoucherIssued {
            unit_id: "beach-house".into(),
            code: "K7M2P9QX4T".into(),
            booking_ref: Some("HMABCDEF12".into()),
            valid_until: Some(datetime!(2026-11-23 12:00 UTC)),
            expires_at: Some(datetime!(2026-11-23 12:00 UTC)),
        },
        Event::VoucherRedeemed {
            grant: g.clone(),
            booking_ref: Some("HMABCDEF12".into()),
            by_host: false,
        },
        Event::VoucherRevoked {
            unit_id: "beach-house".into(),
            code: "K7M2P9QX4T".into(),
            booking_ref: Some("HMABCDEF12".into()),
            devices: 2,
        },
        Event::VoucherUpdated {
            unit_id: "beach-house".into(),
            code: "K7M2P9QX4T".into(),
            valid_until: Some(datetime!(2026-11-24 12:00 UTC)),
            max_devices: 4,
        },
        Event::GrantExpired(g.clone()),
        Event::GrantRevoked(g),
        Event::HealthChanged {
            unit_id: "beach-house".into(),
            status: HealthStatus::Yellow,
            previous: HealthStatus::Green,
            reasons: vec!["Pod 'Living room' health is poor".into()],
        },
        Event::ControllerStatus {
            connected: false,
            last_error: Some("controller unreachable: connection refused".into()),
        },
        Event::PlumeStatus {
            connected: true,
            last_error: None,
        },
        Event::UnitChanged {
            unit_id: "beach-house".into(),
            change: UnitChange::Created,
        },
        Event::BookingVanished {
            booking: stay.clone(),
            during_stay: true,
            cancel_at: None,
        },
        Event::BookingRestored {
            booking: stay.clone(),
            was_cancelled: false,
        },
        Event::BookingCancelled {
            booking: stay,
            cause: CancelCause::Absent,
        },
        Event::ControllerProblem {
            problem: Some("1 controller operation waits for a fix (the oldest since 2026-11-21T09:00:00Z): taking 52-DE-63-F1-E3-3B off site \"Default\": the Open API app may not use this site (errorCode -1505)".into()),
            outbox_waiting: 1,
        },
        Event::ControllerCheck {
            ok: false,
            steps: 6,
            failed: vec![CheckFailure {
                step: "permissions".into(),
                site: Some("Default".into()),
                message: "the Open API app does not see site \"Default\": add \"Default\" to the app's Site Privileges under Settings › Platform Integration › Open API".into(),
                controller_message: None,
            }],
        },
        Event::HostTestResult(Box::new(HostTestReport {
            unit_id: "beach-house".into(),
            code: "K7M2P9QX4T".into(),
            client_mac: "52-DE-63-F1-E3-3B".parse().unwrap(),
            ok: true,
            let_in_at: Some(datetime!(2026-11-21 09:29:10 UTC)),
            revoked_at: datetime!(2026-11-21 09:30:12 UTC),
            disconnected: 1,
            authorization_state: AuthState::Ended,
            message: "Host test on unit \"beach-house\": the phone 52-DE-63-F1-E3-3B was let in at 2026-11-21T09:29:10Z and was taken off at 2026-11-21T09:30:12Z on site \"Default\": the controller ended 1 authorisation(s) and now lists none as valid. Check on the phone that the internet is gone: letting guests in and out works.".into(),
        })),
    ];
    let mut names = Vec::new();
    for event in all {
        let (name, data) = encode(&Published {
            event: std::sync::Arc::new(event),
            at: NOW,
        });
        let json: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(
            json["at"], "2026-11-21T09:30:15Z",
            "{name}: every event has `at`"
        );
        check_json(&format!("event_{name}"), json);
        names.push(name);
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        16,
        "every event kind has its own name: {names:?}"
    );
}

/// The controller's operations (issue 12b).
#[test]
fn controller_operations() {
    round_trip(
        "controller_sites",
        SitesOut {
            sites: vec![SiteOut {
                id: "640effd1b3f2ae5b912275ec".into(),
                name: "Default".into(),
                ssids: vec![SsidOut {
                    id: "6410b4b5e4b0c6a7d8e9f001".into(),
                    name: "Beach Guest".into(),
                    guest_network: true,
                    open: true,
                }],
                ssids_error: None,
                unit_ids: vec!["beach-house".into()],
            }],
        },
    );
    round_trip(
        "hotspot_operator",
        OperatorOut {
            name: "rental-wifi".into(),
            site_ids: vec!["640effd1b3f2ae5b912275ec".into()],
            username: Some("rental-wifi".into()),
            mode: "hotspot".into(),
        },
    );
    round_trip(
        "reconcile",
        ReconcileOut {
            sites: 1,
            ended: 1,
            kept: 2,
            other_methods: 1,
            failed: vec![],
        },
    );
    round_trip(
        "outbox",
        OutboxOut {
            items: vec![OutboxItemOut {
                id: 17,
                op: Some("unauthorize".into()),
                key: None,
                site: Some("Default".into()),
                client_mac: Some("52-DE-63-F1-E3-3B".into()),
                grant_id: Some("0193b0c4-7d2e-7c61-9c1f-5b2a3e4d5f60".into()),
                unit_id: Some("beach-house".into()),
                attempts: 3,
                created_at: crate::clock::rfc3339(datetime!(2026-11-21 09:00 UTC)),
                next_attempt_at: crate::clock::rfc3339(datetime!(2026-11-21 09:40 UTC)),
                last_error: Some("the Open API app may not use this site (errorCode -1505)".into()),
                problem: Some("taking 52-DE-63-F1-E3-3B off site \"Default\": the Open API app may not use this site (errorCode -1505)".into()),
                discarded_at: None,
            }, OutboxItemOut {
                id: 18,
                op: Some("wifi_key".into()),
                key: Some("rentalwifi-garden-flat-P4SSW0RDQX".into()),
                site: Some("Default".into()),
                client_mac: None,
                grant_id: None,
                unit_id: Some("garden-flat".into()),
                attempts: 1,
                created_at: crate::clock::rfc3339(datetime!(2026-11-21 09:10 UTC)),
                next_attempt_at: crate::clock::rfc3339(datetime!(2026-11-21 09:40 UTC)),
                last_error: Some("PPSK profile \"6512d0a1b2c3d4e5f6a7b8c9\" is not on site \"Default\" (or not a PPSK profile without RADIUS): choose one of the site's profiles under Settings › Profiles › PPSK".into()),
                problem: Some("putting Wi-Fi key rentalwifi-garden-flat-P4SSW0RDQX of unit \"garden-flat\" on site \"Default\": PPSK profile \"6512d0a1b2c3d4e5f6a7b8c9\" is not on site \"Default\" (or not a PPSK profile without RADIUS): choose one of the site's profiles under Settings › Profiles › PPSK".into()),
                discarded_at: None,
            }],
        },
    );
    round_trip(
        "host_test",
        HostTestOut {
            code: "K7M2P9QX4T".into(),
            unit_id: "beach-house".into(),
            status: "done".into(),
            created_at: crate::clock::rfc3339(datetime!(2026-11-21 09:28 UTC)),
            valid_until: Some(crate::clock::rfc3339(datetime!(2026-11-21 10:28 UTC))),
            seconds: 60,
            client_mac: Some("52-DE-63-F1-E3-3B".into()),
            let_in_at: Some(crate::clock::rfc3339(datetime!(2026-11-21 09:29:10 UTC))),
            revoke_at: Some(crate::clock::rfc3339(datetime!(2026-11-21 09:30:10 UTC))),
            result: Some(HostTestResultBody {
                ok: true,
                revoked_at: crate::clock::rfc3339(datetime!(2026-11-21 09:30:12 UTC)),
                disconnected: 1,
                authorization_state: "ended".into(),
                message: "Host test on unit \"beach-house\": the phone 52-DE-63-F1-E3-3B was let in at 2026-11-21T09:29:10Z and was taken off at 2026-11-21T09:30:12Z on site \"Default\": the controller ended 1 authorisation(s) and now lists none as valid. Check on the phone that the internet is gone: letting guests in and out works.".into(),
            }),
            instructions: "On your own phone, join a guest Wi-Fi of unit \"beach-house\", wait for the sign-in page and enter K7M2P9QX4T. The phone is let in for 60 seconds, then taken off; the result comes as a notification. The code works once, until 2026-11-21T10:28:00Z.".into(),
        },
    );
}

/// Every fixture file belongs to a test above (a stale file would mislead the HA tests).
#[test]
fn no_stray_fixtures() {
    if std::env::var_os("UPDATE_WIRE_FIXTURES").is_some() {
        return;
    }
    let known = [
        "info",
        "unit",
        "units",
        "consents",
        "voucher",
        "vouchers",
        "grant",
        "grants",
        "booking",
        "booking_vanished",
        "bookings",
        "calendar",
        "unit_revoked",
        "devices",
        "audit",
        "health",
        "controller_status",
        "plume_status",
        "state",
        "error",
        "error_tls_untrusted",
        "settings_omada",
        "settings_plume",
        "unit_password_mode",
        "password",
        "voucher_issued_wifi",
        "controller_sites",
        "hotspot_operator",
        "reconcile",
        "outbox",
        "host_test",
        "settings_property",
        "network",
        "unit_saved",
        "plume_node",
        "plume_customers",
        "plume_locations",
    ];
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let stem = name.trim_end_matches(".json");
        assert!(
            known.contains(&stem) || stem.starts_with("event_"),
            "{name} is not produced by api::fixtures"
        );
    }
}
