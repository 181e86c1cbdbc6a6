//! Property-based tests of the local JSON API against a real sidecar (`TestApp`): generated
//! bodies for `POST /api/v1/vouchers`, `POST /api/v1/units`, `PATCH /api/v1/units/{id}`,
//! `PATCH /api/v1/vouchers/{code}` (valid fields, wrong types, out-of-range numbers, unknown
//! fields, huge strings, nested junk, raw non-JSON bytes) and arbitrary `GET` paths/queries.
//!
//! For every request: never 5xx, never a dropped connection (a handler panic), every 4xx is
//! `{"error":{"code","message"}}` with a code that fits the status (docs/api.md). Rejected
//! writes store nothing (counts and the target object are unchanged); accepted ones return an
//! object that satisfies the documented invariants.
//!
//! One app per test (reused across its cases, for speed). Case counts by
//! `RENTAL_WIFI_TEST_MODE` (see `prop_common`).

mod common;
mod prop_common;

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use common::TestApp;
use prop_common::{config, nasty_string, Hits, SplitMix};
use rental_wifi::testing::code::{validate_custom, ALPHABET};

// ------------------------------------------------------------------------------------------
// Harness
// ------------------------------------------------------------------------------------------

/// A request body: JSON built from a value, or raw bytes sent as `application/json`.
#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    Raw(Vec<u8>),
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Json(v) => serde_json::to_vec(v).unwrap(),
            Body::Raw(b) => b.clone(),
        }
    }
    fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Body::Json(Value::Object(m)) => m.get(name),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    json: Option<Value>,
    text: String,
}

struct Harness {
    rt: tokio::runtime::Runtime,
    app: TestApp,
    /// A client without connection reuse, for bodies over the API's 64 KiB limit: the
    /// sidecar answers those 413 without reading them and closes the connection without
    /// `Connection: close`, so a pooled client's *next* request can fail (see
    /// `oversize_body_does_not_break_the_next_request`, in its own commit).
    unpooled: reqwest::Client,
}

impl Harness {
    fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(TestApp::spawn());
        let unpooled = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Harness { rt, app, unpooled }
    }

    fn send(&self, method: &str, path: &str, body: Option<&Body>) -> Result<Resp, TestCaseError> {
        self.send_auth(method, path, body, Some(&self.app.token))
    }

    fn send_auth(
        &self,
        method: &str,
        path: &str,
        body: Option<&Body>,
        token: Option<&str>,
    ) -> Result<Resp, TestCaseError> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let url = self.app.url(path);
        let oversize = body.is_some_and(|b| b.bytes().len() > rental_wifi::testing::MAX_BODY);
        let client = if oversize {
            &self.unpooled
        } else {
            &self.app.http
        };
        self.rt.block_on(async {
            let mut rb = client
                .request(method.clone(), &url)
                .timeout(Duration::from_secs(20));
            if let Some(t) = token {
                rb = rb.header("authorization", format!("Bearer {t}"));
            }
            if let Some(b) = body {
                rb = rb
                    .header("content-type", "application/json")
                    .body(b.bytes());
            }
            let r = rb.send().await.map_err(|e| {
                TestCaseError::fail(format!(
                    "{method} {url}: no response (handler panic or hang?): {e}"
                ))
            })?;
            let status = r.status().as_u16();
            let text = r
                .text()
                .await
                .map_err(|e| TestCaseError::fail(format!("{method} {url}: body cut off: {e}")))?;
            Ok(Resp {
                status,
                json: serde_json::from_str(&text).ok(),
                text,
            })
        })
    }

    fn get_json(&self, path: &str) -> Value {
        let r = self.send("GET", path, None).unwrap();
        assert_eq!(r.status, 200, "GET {path}: {}", r.text);
        r.json.unwrap()
    }

    fn voucher_total(&self) -> u64 {
        self.get_json("/api/v1/vouchers?limit=0")["total"]
            .as_u64()
            .unwrap()
    }

    fn unit_count(&self) -> usize {
        self.get_json("/api/v1/units")["units"]
            .as_array()
            .unwrap()
            .len()
    }

    fn must(&self, method: &str, path: &str, body: Value, want: u16) -> Value {
        let r = self.send(method, path, Some(&Body::Json(body))).unwrap();
        assert_eq!(r.status, want, "{method} {path}: {}", r.text);
        r.json.unwrap_or(Value::Null)
    }

    /// Run `test` over `strategy` with the mode's case count, on a thread with a big stack:
    /// the composed strategies (and their value trees) are deep, and a debug build does
    /// not inline them, which overflows the test thread's default 2 MiB.
    fn run<S: Strategy>(
        &self,
        name: &str,
        short: u32,
        long: u32,
        strategy: impl FnOnce() -> S + Send,
        test: impl Fn(S::Value) -> Result<(), TestCaseError> + Send,
    ) where
        S::Value: std::fmt::Debug,
    {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .stack_size(64 << 20)
                .spawn_scoped(scope, || {
                    let mut runner = TestRunner::new(config(name, short, long));
                    if let Err(e) = runner.run(&strategy(), test) {
                        panic!("{name}: {e}");
                    }
                })
                .unwrap()
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        });
    }
}

/// Never 5xx; 4xx bodies have the documented error shape and a code that fits the status.
fn check_status_and_shape(what: &str, r: &Resp) -> Result<(), TestCaseError> {
    prop_assert!(r.status < 500, "{}: {} {}", what, r.status, r.text);
    if r.status >= 400 {
        let v = r.json.as_ref().ok_or_else(|| {
            TestCaseError::fail(format!(
                "{what}: {} non-JSON error body {:?}",
                r.status, r.text
            ))
        })?;
        let obj = v.as_object().filter(|o| o.len() == 1);
        let err = obj
            .and_then(|o| o.get("error"))
            .and_then(Value::as_object)
            .ok_or_else(|| TestCaseError::fail(format!("{what}: bad error shape {v}")))?;
        let code = err.get("code").and_then(Value::as_str).unwrap_or("");
        let message = err.get("message").and_then(Value::as_str).unwrap_or("");
        prop_assert!(!message.is_empty(), "{}: no message in {}", what, v);
        prop_assert!(
            err.keys()
                .all(|k| matches!(k.as_str(), "code" | "message" | "field")),
            "{}: {}",
            what,
            v
        );
        if let Some(f) = err.get("field") {
            prop_assert!(f.is_string(), "{}: {}", what, v);
        }
        let allowed: &[&str] = match r.status {
            400 => &[
                "invalid_json",
                "unknown_field",
                "validation_failed",
                "invalid_query",
            ],
            401 => &["unauthorized"],
            404 => &["not_found", "not_configured"],
            405 => &["method_not_allowed"],
            409 => &["conflict"],
            413 => &["payload_too_large"],
            422 => &[
                "controller_rejected",
                "controller_auth_failed",
                "plume_rejected",
                "plume_auth_failed",
                "not_configured",
            ],
            _ => &[],
        };
        prop_assert!(
            allowed.contains(&code),
            "{}: status {} with code {:?}: {}",
            what,
            r.status,
            code,
            v
        );
    }
    Ok(())
}

/// Every timestamp on the wire is RFC 3339 UTC (`…Z`).
fn check_timestamps(v: &Value, fields: &[&str]) -> Result<(), TestCaseError> {
    for f in fields {
        match &v[*f] {
            Value::Null => {}
            Value::String(s) => {
                let ok = s.ends_with('Z') && OffsetDateTime::parse(s, &Rfc3339).is_ok();
                prop_assert!(ok, "{} = {:?} is not RFC 3339 UTC in {}", f, s, v);
            }
            other => prop_assert!(false, "{} = {} is not a timestamp", f, other),
        }
    }
    Ok(())
}

fn ts(v: &Value, f: &str) -> Option<OffsetDateTime> {
    v[f].as_str()
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

// ------------------------------------------------------------------------------------------
// Generators
// ------------------------------------------------------------------------------------------

/// Arbitrary JSON, nested up to a few levels.
fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(nasty_string(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `Some(value)` (mostly `good`, sometimes junk) or absent.
fn field(
    p_present: f64,
    good: impl Strategy<Value = Value> + 'static,
) -> impl Strategy<Value = Option<Value>> {
    proptest::option::weighted(p_present, prop_oneof![12 => good, 1 => junk()])
}

fn int_around(lo: i64, hi: i64) -> impl Strategy<Value = Value> {
    prop_oneof![
        10 => (lo..=hi).prop_map(Value::from),
        1 => prop::sample::select(vec![lo - 1, hi + 1, -1, 0, i64::MIN, i64::MAX, i32::MAX as i64 + 1, u32::MAX as i64 + 1])
            .prop_map(Value::from),
        1 => prop::sample::select(vec![json!(u64::MAX), json!(1.5), json!(60.0), json!(-0.0), json!(1e300), json!("60"), json!(true)]),
    ]
}

fn text_around(max: usize) -> impl Strategy<Value = Value> {
    prop_oneof![
        12 => proptest::string::string_regex(&format!("\\PC{{0,{max}}}")).unwrap().prop_map(Value::String),
        1 => (max - 2..max + 3).prop_map(|n| Value::String("é".repeat(n))),
        1 => Just(Value::String("  ".into())),
        1 => nasty_string().prop_map(Value::String),
        1 => Just(Value::String("line\nbreak".into())),
    ]
}

/// A timestamp string relative to now (minutes), in one of several valid or broken spellings.
fn timestamp() -> impl Strategy<Value = Value> {
    let offsets = prop_oneof![
        6 => prop::sample::select(vec!["Z", "+00:00", "+02:00", "-05:30", "+23:59", "-23:59"]),
        1 => prop::sample::select(vec!["z", "", "+2"]),
    ];
    let rel = (-500i64..50_000, offsets, any::<bool>()).prop_map(|(min, off, frac)| {
        let t = OffsetDateTime::now_utc() + time::Duration::minutes(min);
        let offset = match off {
            "+02:00" => time::UtcOffset::from_hms(2, 0, 0).unwrap(),
            "-05:30" => time::UtcOffset::from_hms(-5, -30, 0).unwrap(),
            "+23:59" => time::UtcOffset::from_hms(23, 59, 0).unwrap(),
            "-23:59" => time::UtcOffset::from_hms(-23, -59, 0).unwrap(),
            _ => time::UtcOffset::UTC,
        };
        let l = t.to_offset(offset);
        let secs = if frac {
            format!("{:02}.{:09}", l.second(), l.nanosecond())
        } else {
            format!("{:02}", l.second())
        };
        Value::String(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{secs}{off}",
            l.year(),
            l.month() as u8,
            l.day(),
            l.hour(),
            l.minute()
        ))
    });
    prop_oneof![
        6 => rel,
        1 => prop::sample::select(vec![
            "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59",
            "2026-02-30T00:00:00Z", "2026-06-30T23:59:60Z", "2026-13-01T00:00:00Z", "2026-01-01",
            "2026-01-01 10:00:00Z", "1e9", "", "now", "2026-01-01T00:00:00+24:00",
        ]).prop_map(|s| Value::String(s.into())),
        1 => any::<i64>().prop_map(Value::from),
    ]
}

const UNIT: &str = "prop-a";
const OTHER_UNIT: &str = "prop-b";
/// Custom codes of fixture vouchers (also used as "taken" codes on create).
const FIXTURE_CODES: &[&str] = &["PROPFIX1", "PROPFIX2", "PROPFIX3"];
const REVOKED_CODE: &str = "PROPREVOKED";

fn unknown_fields() -> impl Strategy<Value = Vec<(String, Value)>> {
    vec(
        (
            prop_oneof![
                prop::sample::select(vec![
                    "unitId",
                    "Code",
                    "extra",
                    "",
                    "unit_id ",
                    "__proto__",
                    "devices"
                ])
                .prop_map(str::to_owned),
                nasty_string(),
            ],
            junk(),
        ),
        0..3,
    )
}

fn object(
    fields: Vec<(&str, Option<Value>)>,
    unknown: Vec<(String, Value)>,
    with_unknown: bool,
) -> Value {
    let mut m = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    }
    if with_unknown {
        for (k, v) in unknown {
            m.insert(k, v);
        }
    }
    Value::Object(m)
}

/// Raw bodies: not JSON, JSON with numbers serde cannot take, deep nesting, huge.
fn raw_body() -> impl Strategy<Value = Body> {
    let lit = prop::sample::select(vec![
        "1e400",
        "18446744073709551616",
        "-9223372036854775809",
        "1.5",
        "60.0",
        "-0",
        "0x10",
        "NaN",
        "Infinity",
        "1e2",
        "01",
        "+1",
        "\"60\"",
        "[60]",
        "{}",
        "null",
    ]);
    let field = prop::sample::select(vec![
        "duration_minutes",
        "max_devices",
        "down_kbps",
        "checkin_grace_minutes",
        "vlans",
        "valid_until",
        "unit_id",
        "name",
    ]);
    prop_oneof![
        vec(any::<u8>(), 0..200).prop_map(Body::Raw),
        nasty_string().prop_map(|s| Body::Raw(s.into_bytes())),
        (field, lit).prop_map(|(f, l)| Body::Raw(format!("{{\"unit_id\":\"{UNIT}\",\"name\":\"n\",\"{f}\":{l}}}").into_bytes())),
        (1usize..3_000).prop_map(|n| Body::Raw(format!("{{\"unit_id\":{}{}}}", "[".repeat(n), "]".repeat(n)).into_bytes())),
        (0usize..80).prop_map(|cut| {
            let s = format!("{{\"unit_id\":\"{UNIT}\",\"duration_minutes\":60,\"name\":\"x\"}}");
            Body::Raw(s.as_bytes()[..cut.min(s.len())].to_vec())
        }),
        Just(Body::Raw(format!("{{\"unit_id\":\"{UNIT}\",\"unit_id\":\"{OTHER_UNIT}\",\"duration_minutes\":60,\"name\":\"x\"}}").into_bytes())),
        Just(Body::Raw(b"\xEF\xBB\xBF{}".to_vec())),
        Just(Body::Raw(format!("{{\"unit_id\":\"{UNIT}\",\"name\":\"{}\",\"duration_minutes\":60}}", "x".repeat(70 * 1024)).into_bytes())),
        Just(Body::Raw(Vec::new())),
    ]
}

fn voucher_body() -> impl Strategy<Value = Body> {
    let unit_id = prop_oneof![
        8 => Just(json!(UNIT)),
        1 => Just(json!(OTHER_UNIT)),
        1 => prop::sample::select(vec!["nope", "Prop-A", "", " prop-a", "prop a", "a/b"]).prop_map(|s| json!(s)),
    ];
    let code = prop_oneof![
        8 => "[A-Za-z0-9]{4,24}".prop_map(Value::String),
        1 => "[A-Za-z0-9 -]{0,30}".prop_map(Value::String),
        1 => prop::sample::select(FIXTURE_CODES.to_vec()).prop_map(|c| json!(c.to_lowercase())),
        1 => nasty_string().prop_map(Value::String),
    ];
    let booking = prop_oneof![
        2 => prop::sample::select(vec!["B-1", "B-2", "b-1", " B-1 ", ""]).prop_map(|s| json!(s)),
        1 => text_around(100),
    ];
    let fields = (
        (
            proptest::option::weighted(0.95, prop_oneof![9 => unit_id, 1 => junk()]),
            field(0.25, code),
            field(0.3, timestamp()),
            field(0.5, timestamp()),
        ),
        (
            field(0.6, int_around(1, 43_200)),
            field(0.4, int_around(0, 100)),
            field(0.3, text_around(100)),
            field(0.3, booking),
        ),
        (
            field(0.2, int_around(1, 10_000_000)),
            field(0.2, int_around(1, 10_000_000)),
            field(0.3, text_around(500)),
        ),
        unknown_fields(),
        proptest::bool::weighted(0.1),
    )
        .prop_map(
            |((u, c, vf, vu), (d, m, g, b), (dn, up, n), unknown, with_unknown)| {
                object(
                    vec![
                        ("unit_id", u),
                        ("code", c),
                        ("valid_from", vf),
                        ("valid_until", vu),
                        ("duration_minutes", d),
                        ("max_devices", m),
                        ("guest_name", g),
                        ("booking_ref", b),
                        ("down_kbps", dn),
                        ("up_kbps", up),
                        ("note", n),
                    ],
                    unknown,
                    with_unknown,
                )
            },
        );
    prop_oneof![
        17 => fields.prop_map(Body::Json),
        1 => junk().prop_map(Body::Json),
        2 => raw_body(),
    ]
}

fn unit_body(id_pool: &'static [&'static str]) -> impl Strategy<Value = Body> {
    let unit_id = prop_oneof![
        4 => "[a-z0-9_-]{1,64}".prop_map(Value::String),
        1 => prop::sample::select(id_pool.to_vec()).prop_map(|s| json!(s)),
        1 => prop::sample::select(vec!["Has Space", "UPPER", "", "x".repeat(65).leak() as &str, "ü", "a/b"]).prop_map(|s| json!(s)),
    ];
    let name = prop_oneof![
        8 => "\\PC{1,40}".prop_map(Value::String),
        1 => text_around(100),
        1 => prop::sample::select(vec!["!!!", "Beach House", "   ", "Ferienwohnung Müller"]).prop_map(|s| json!(s)),
    ];
    let mac = prop_oneof![
        12 => (any::<[u8; 6]>(), 0u8..4, any::<u16>()).prop_map(|(o, l, c)| json!(prop_common::mac_spelling(o, l, c))),
        1 => nasty_string().prop_map(Value::String),
    ];
    let ssid = prop_oneof![12 => "[ -~]{1,32}".prop_map(Value::String), 1 => text_around(33)];
    let vlan = prop_oneof![30 => (1i64..=4094).prop_map(Value::from), 1 => int_around(1, 4094)];
    let plume_id = prop_oneof![
        8 => "[0-9a-f]{24}".prop_map(Value::String),
        1 => Just(Value::Null),
        1 => nasty_string().prop_map(Value::String),
    ];
    let terms = prop_oneof![
        5 => "https?://[a-z]{1,10}\\.com/[a-z]{0,8}".prop_map(Value::String),
        1 => Just(Value::Null),
        1 => prop::sample::select(vec!["javascript:alert(1)", "/terms", "", "ftp://x.com/", "http://"]).prop_map(|s| json!(s)),
        1 => nasty_string().prop_map(Value::String),
    ];
    let fields = (
        (field(0.5, unit_id), field(0.9, name), field(0.3, prop_oneof![3 => "[A-Za-z0-9 ]{1,64}".prop_map(Value::String), 1 => text_around(64)])),
        (field(0.3, vec(ssid, 0..18).prop_map(Value::Array)), field(0.3, vec(vlan, 0..66).prop_map(Value::Array)), field(0.3, vec(mac, 0..4).prop_map(Value::Array))),
        (
            prop_oneof![
                6 => Just((None, None)),
                3 => (plume_id.clone(), plume_id.clone()).prop_map(|(a, b)| (Some(a), Some(b))),
                1 => (field(0.5, plume_id.clone()), field(0.5, plume_id)),
            ],
            field(0.3, int_around(0, 1440)),
            field(0.3, int_around(0, 1440)),
            field(0.3, terms),
        ),
        unknown_fields(),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|((id, name, site), (ssids, vlans, macs), ((pc, pl), gi, go, terms), unknown, with_unknown)| {
            object(
                vec![("unit_id", id), ("name", name), ("omada_site", site), ("ssids", ssids), ("vlans", vlans), ("ap_macs", macs),
                     ("plume_customer_id", pc), ("plume_location_id", pl), ("checkin_grace_minutes", gi), ("checkout_grace_minutes", go),
                     ("terms_url", terms)],
                unknown,
                with_unknown,
            )
        });
    prop_oneof![
        17 => fields.prop_map(Body::Json),
        1 => junk().prop_map(Body::Json),
        2 => raw_body(),
    ]
}

/// A path segment: percent-encoded text; sometimes with raw `%` escapes left for the server.
fn segment(s: &str, raw_percent: bool) -> String {
    const SEG: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'/')
        .add(b'%')
        .add(b'\\')
        .add(b'^')
        .add(b'|')
        .add(b'[')
        .add(b']');
    const SEG_KEEP_PERCENT: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'/')
        .add(b'\\')
        .add(b'^')
        .add(b'|')
        .add(b'[')
        .add(b']');
    utf8_percent_encode(s, if raw_percent { SEG_KEEP_PERCENT } else { SEG }).to_string()
}

// ------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------

fn setup() -> Harness {
    let h = Harness::new();
    h.must(
        "POST",
        "/api/v1/units",
        json!({"unit_id": UNIT, "name": "Prop A"}),
        201,
    );
    h.must(
        "POST",
        "/api/v1/units",
        json!({"unit_id": OTHER_UNIT, "name": "Prop B", "ssids": ["Guest"], "vlans": [20]}),
        201,
    );
    for (i, c) in FIXTURE_CODES.iter().enumerate() {
        h.must("POST", "/api/v1/vouchers", json!({"unit_id": UNIT, "code": c, "duration_minutes": 60 * (i + 1), "booking_ref": format!("FIX-{i}")}), 201);
    }
    h.must(
        "POST",
        "/api/v1/vouchers",
        json!({"unit_id": UNIT, "code": REVOKED_CODE, "duration_minutes": 60}),
        201,
    );
    h.must(
        "POST",
        &format!("/api/v1/vouchers/{REVOKED_CODE}/revoke"),
        json!({}),
        200,
    );
    h
}

// ------------------------------------------------------------------------------------------
// POST /api/v1/vouchers
// ------------------------------------------------------------------------------------------

fn check_new_voucher(req: &Body, r: &Resp, before: u64, after: u64) -> Result<(), TestCaseError> {
    let v = r
        .json
        .as_ref()
        .ok_or_else(|| TestCaseError::fail("accepted without JSON"))?;
    check_timestamps(
        v,
        &[
            "valid_from",
            "valid_until",
            "expires_at",
            "created_at",
            "first_used_at",
            "revoked_at",
        ],
    )?;
    let code = v["code"].as_str().unwrap_or("");
    match req.field("code").and_then(Value::as_str) {
        Some(custom) if r.status == 201 => prop_assert_eq!(
            Ok(code.to_owned()),
            validate_custom(custom).map_err(|e| e.to_owned())
        ),
        None if r.status == 201 => {
            prop_assert_eq!(code.len(), 10, "generated code {}", code);
            prop_assert!(
                code.bytes().all(|b| ALPHABET.contains(&b)),
                "generated code {}",
                code
            );
        }
        _ => prop_assert!(!code.is_empty()),
    }
    prop_assert_eq!(
        v["unit_id"].as_str(),
        req.field("unit_id").and_then(Value::as_str)
    );
    let until = ts(v, "valid_until");
    let expires = ts(v, "expires_at");
    prop_assert!(
        until.is_some() || v["duration_minutes"].is_u64(),
        "neither end nor duration: {}",
        v
    );
    if let (Some(u), Some(e)) = (until, expires) {
        prop_assert!(e <= u, "expires_at after valid_until: {}", v);
    }
    if let (Some(u), Some(f)) = (until, ts(v, "valid_from")) {
        prop_assert!(u > f, "valid_until not after valid_from: {}", v);
    }
    let md = v["max_devices"].as_u64().unwrap_or(999);
    prop_assert!(md <= 100, "{}", v);
    if let Some(d) = v["duration_minutes"].as_u64() {
        prop_assert!((1..=43_200).contains(&d), "{}", v);
    }
    for (f, max) in [("guest_name", 100), ("booking_ref", 100), ("note", 500)] {
        if let Some(s) = v[f].as_str() {
            prop_assert!(
                !s.is_empty()
                    && s.chars().count() <= max
                    && s.trim() == s
                    && !s.chars().any(char::is_control),
                "{}: {}",
                f,
                v
            );
        }
    }
    for f in ["down_kbps", "up_kbps"] {
        if let Some(n) = v[f].as_u64() {
            prop_assert!((1..=10_000_000).contains(&n), "{}", v);
        }
    }
    if r.status == 201 {
        prop_assert_eq!(v["status"].as_str(), Some("unused"));
        prop_assert_eq!(v["devices_used"].as_u64(), Some(0));
        prop_assert_eq!(
            after,
            before + 1,
            "created but the total did not grow by one"
        );
        if req.field("max_devices").is_none() {
            prop_assert_eq!(md, 4);
        }
        if let Some(d) = req.field("duration_minutes") {
            prop_assert_eq!(&v["duration_minutes"], d);
        }
    } else {
        // Idempotent replay: only with a booking_ref, and nothing new stored.
        prop_assert_eq!(r.status, 200);
        prop_assert!(
            v["booking_ref"].is_string(),
            "200 without booking_ref: {}",
            v
        );
        prop_assert_eq!(after, before, "replay stored something");
    }
    Ok(())
}

#[test]
fn post_vouchers_never_5xx_and_store_nothing_on_reject() {
    let h = setup();
    static HITS: Hits = Hits::new();
    h.run("post_vouchers", 500, 20_000, voucher_body, |body| {
        let before = h.voucher_total();
        let r = h.send("POST", "/api/v1/vouchers", Some(&body))?;
        HITS.record(r.status < 400);
        check_status_and_shape("POST /api/v1/vouchers", &r)?;
        let after = h.voucher_total();
        if r.status >= 400 {
            prop_assert_eq!(
                after,
                before,
                "rejected ({}) but stored: {}",
                r.status,
                r.text
            );
        } else {
            prop_assert!(
                r.status == 200 || r.status == 201,
                "{} {}",
                r.status,
                r.text
            );
            check_new_voucher(&body, &r, before, after)?;
        }
        Ok(())
    });
    HITS.assert_at_least("accepted voucher requests", 6);
}

// ------------------------------------------------------------------------------------------
// POST /api/v1/units, PATCH /api/v1/units/{id}
// ------------------------------------------------------------------------------------------

/// A saved unit's answer without its `plume_check`, which stands beside the unit's fields
/// (docs/api.md): Plume is not configured here, so a check is always `skipped`, and only a
/// unit with Plume ids has one.
fn without_plume_check(mut v: Value) -> Result<Value, TestCaseError> {
    if let Some(check) = v.as_object_mut().and_then(|o| o.remove("plume_check")) {
        prop_assert_eq!(&check["status"], "skipped", "{}", check);
        prop_assert!(
            v["plume_customer_id"].is_string() && v["plume_location_id"].is_string(),
            "a Plume check without Plume ids: {}",
            v
        );
    }
    Ok(v)
}

fn check_unit(v: &Value) -> Result<(), TestCaseError> {
    check_timestamps(v, &["created_at", "updated_at"])?;
    let id = v["unit_id"].as_str().unwrap_or("");
    prop_assert!(
        !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'),
        "unit_id {:?}",
        id
    );
    let name = v["name"].as_str().unwrap_or("");
    prop_assert!(
        !name.is_empty() && name.chars().count() <= 100 && name.trim() == name,
        "name {:?}",
        name
    );
    for f in ["checkin_grace_minutes", "checkout_grace_minutes"] {
        prop_assert!(v[f].as_u64().is_some_and(|g| g <= 1440), "{}", v);
    }
    for m in v["ap_macs"].as_array().unwrap() {
        let m = m.as_str().unwrap_or("");
        prop_assert!(
            m.len() == 17
                && m.parse::<rental_wifi::net::Mac>()
                    .is_ok_and(|p| p.to_string() == m),
            "ap_mac {:?}",
            m
        );
    }
    let vlans: Vec<u64> = v["vlans"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    prop_assert!(
        vlans.windows(2).all(|w| w[0] < w[1]) && vlans.iter().all(|x| (1..=4094).contains(x)),
        "vlans {:?}",
        vlans
    );
    let ssids = v["ssids"].as_array().unwrap();
    prop_assert!(
        ssids.len() <= 16
            && ssids
                .iter()
                .all(|s| s.as_str().is_some_and(|s| !s.is_empty() && s.len() <= 32)),
        "{}",
        v
    );
    prop_assert_eq!(
        v["plume_customer_id"].is_null(),
        v["plume_location_id"].is_null(),
        "{}",
        v
    );
    if let Some(t) = v["terms_url"].as_str() {
        prop_assert!(
            url::Url::parse(t).is_ok_and(|u| matches!(u.scheme(), "http" | "https")),
            "terms_url {:?}",
            t
        );
    }
    Ok(())
}

#[test]
fn post_units_never_5xx_and_store_nothing_on_reject() {
    let h = setup();
    static HITS: Hits = Hits::new();
    h.run(
        "post_units",
        500,
        20_000,
        || unit_body(&[UNIT, OTHER_UNIT]),
        |body| {
            let before = h.unit_count();
            let r = h.send("POST", "/api/v1/units", Some(&body))?;
            HITS.record(r.status < 400);
            check_status_and_shape("POST /api/v1/units", &r)?;
            let after = h.unit_count();
            if r.status >= 400 {
                prop_assert_eq!(
                    after,
                    before,
                    "rejected ({}) but stored: {}",
                    r.status,
                    r.text
                );
                return Ok(());
            }
            prop_assert_eq!(r.status, 201, "{}", r.text);
            prop_assert_eq!(after, before + 1);
            let v = without_plume_check(r.json.unwrap())?;
            check_unit(&v)?;
            let id = v["unit_id"].as_str().unwrap().to_owned();
            if let Some(given) = body.field("unit_id").and_then(Value::as_str) {
                prop_assert_eq!(&id, given);
            }
            prop_assert_eq!(
                h.get_json(&format!("/api/v1/units/{id}")),
                v.clone(),
                "stored unit differs from the answer"
            );
            // Keep the table small: the next case starts from the fixtures again.
            let d = h.send("DELETE", &format!("/api/v1/units/{id}?force=true"), None)?;
            prop_assert_eq!(d.status, 204, "{}", d.text);
            Ok(())
        },
    );
    HITS.assert_at_least("accepted unit requests", 6);
}

#[test]
fn patch_units_never_5xx_and_change_nothing_on_reject() {
    let h = setup();
    static HITS: Hits = Hits::new();
    let target = || {
        prop_oneof![
            8 => Just(UNIT.to_owned()),
            1 => Just("nope".to_owned()),
            1 => nasty_string().prop_map(|s| segment(&s, false)),
        ]
    };
    h.run(
        "patch_units",
        500,
        20_000,
        || (target(), unit_body(&[UNIT, OTHER_UNIT])),
        |(target, body)| {
            let path = format!("/api/v1/units/{target}");
            let before = h.get_json(&format!("/api/v1/units/{UNIT}"));
            let count = h.unit_count();
            let r = h.send("PATCH", &path, Some(&body))?;
            HITS.record(r.status < 400);
            check_status_and_shape(&format!("PATCH {path}"), &r)?;
            let after = h.get_json(&format!("/api/v1/units/{UNIT}"));
            prop_assert_eq!(h.unit_count(), count);
            if r.status >= 400 {
                prop_assert_eq!(
                    after,
                    before,
                    "rejected ({}) but changed: {}",
                    r.status,
                    r.text
                );
                return Ok(());
            }
            prop_assert_eq!(r.status, 200, "{}", r.text);
            prop_assert_eq!(&target, UNIT);
            let v = without_plume_check(r.json.unwrap())?;
            check_unit(&v)?;
            prop_assert_eq!(&after, &v, "stored unit differs from the answer");
            prop_assert_eq!(&v["created_at"], &before["created_at"]);
            Ok(())
        },
    );
    HITS.assert_at_least("accepted unit patches", 6);
}

// ------------------------------------------------------------------------------------------
// PATCH /api/v1/vouchers/{code}
// ------------------------------------------------------------------------------------------

fn voucher_patch_body() -> impl Strategy<Value = Body> {
    let fields = (
        field(0.4, timestamp()),
        field(0.3, int_around(1, 43_200)),
        field(0.3, int_around(0, 100)),
        field(0.2, text_around(100)),
        field(0.2, text_around(500)),
        unknown_fields(),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(vu, d, m, g, n, unknown, with_unknown)| {
            object(
                vec![
                    ("valid_until", vu),
                    ("duration_minutes", d),
                    ("max_devices", m),
                    ("guest_name", g),
                    ("note", n),
                ],
                unknown,
                with_unknown,
            )
        });
    prop_oneof![
        17 => fields.prop_map(Body::Json),
        1 => junk().prop_map(Body::Json),
        2 => raw_body(),
    ]
}

#[test]
fn patch_vouchers_never_5xx_and_change_nothing_on_reject() {
    let h = setup();
    static HITS: Hits = Hits::new();
    let target = || {
        prop_oneof![
            6 => (prop::sample::select(FIXTURE_CODES.to_vec()), any::<u64>()).prop_map(|(c, seed)| {
                // Any spelling a host could type: lower case, dashes, spaces (encoded).
                let mut rng = SplitMix(seed);
                let mut s = String::new();
                for ch in c.chars() {
                    s.push(if rng.below(2) == 0 { ch.to_ascii_lowercase() } else { ch });
                    if rng.below(4) == 0 { s.push(['-', ' '][rng.below(2)]); }
                }
                (c.to_owned(), segment(&s, false))
            }),
            1 => Just((REVOKED_CODE.to_owned(), REVOKED_CODE.to_owned())),
            1 => Just((String::new(), "NOPE1234".to_owned())),
            1 => (nasty_string(), any::<bool>()).prop_map(|(s, raw)| (String::new(), segment(&s, raw))),
        ]
    };
    h.run(
        "patch_vouchers",
        500,
        20_000,
        || (target(), voucher_patch_body()),
        |((code, seg), body)| {
            let path = format!("/api/v1/vouchers/{seg}");
            let total = h.voucher_total();
            let before: Vec<Value> = FIXTURE_CODES
                .iter()
                .chain([&REVOKED_CODE])
                .map(|c| h.get_json(&format!("/api/v1/vouchers/{c}")))
                .collect();
            let r = h.send("PATCH", &path, Some(&body))?;
            HITS.record(r.status < 400);
            check_status_and_shape(&format!("PATCH {path}"), &r)?;
            prop_assert_eq!(h.voucher_total(), total);
            let after: Vec<Value> = FIXTURE_CODES
                .iter()
                .chain([&REVOKED_CODE])
                .map(|c| h.get_json(&format!("/api/v1/vouchers/{c}")))
                .collect();
            let strip = |v: &Value| {
                let mut v = v.clone();
                v.as_object_mut().unwrap().remove("status");
                v
            };
            if r.status >= 400 {
                for (b, a) in before.iter().zip(&after) {
                    prop_assert_eq!(
                        strip(b),
                        strip(a),
                        "rejected ({}) but changed: {}",
                        r.status,
                        r.text
                    );
                }
                return Ok(());
            }
            prop_assert_eq!(r.status, 200, "{}", r.text);
            prop_assert!(
                FIXTURE_CODES.contains(&code.as_str()),
                "patched {:?} ({})",
                seg,
                r.text
            );
            let v = r.json.unwrap();
            prop_assert_eq!(v["code"].as_str(), Some(code.as_str()));
            check_timestamps(
                &v,
                &[
                    "valid_from",
                    "valid_until",
                    "expires_at",
                    "created_at",
                    "first_used_at",
                    "revoked_at",
                ],
            )?;
            if let (Some(u), Some(f)) = (ts(&v, "valid_until"), ts(&v, "valid_from")) {
                prop_assert!(u > f, "valid_until not after valid_from: {}", v);
                prop_assert!(u - f <= time::Duration::minutes(43_200), "{}", v);
                prop_assert!(ts(&v, "expires_at").is_some_and(|e| e <= u), "{}", v);
            }
            prop_assert!(v["max_devices"].as_u64().is_some_and(|m| m <= 100), "{}", v);
            let i = FIXTURE_CODES.iter().position(|c| *c == code).unwrap();
            prop_assert_eq!(
                strip(&after[i]),
                strip(&v),
                "stored voucher differs from the answer"
            );
            // Other fixtures untouched.
            for (j, (b, a)) in before.iter().zip(&after).enumerate() {
                if j != i {
                    prop_assert_eq!(strip(b), strip(a));
                }
            }
            Ok(())
        },
    );
    HITS.assert_at_least("accepted voucher patches", 6);
}

// ------------------------------------------------------------------------------------------
// GET: arbitrary paths and query strings
// ------------------------------------------------------------------------------------------

#[test]
fn get_arbitrary_paths_and_queries_never_5xx() {
    let h = setup();
    let strategy = || {
        let seg = prop_oneof![
            4 => prop::sample::select(vec!["units", "vouchers", "grants", "audit", "state", "info", "settings", "omada", "plume", "health", "revoke", UNIT, FIXTURE_CODES[0], "propfix1", "", ".", ".."])
                .prop_map(|s| s.to_owned()),
            2 => (nasty_string(), any::<bool>()).prop_map(|(s, raw)| segment(&s, raw)),
        ];
        let key = prop_oneof![
            4 => prop::sample::select(vec!["status", "unit_id", "booking_ref", "limit", "offset", "active", "code", "force", "validate"]).prop_map(str::to_owned),
            1 => nasty_string(),
        ];
        let value = prop_oneof![
            2 => prop::sample::select(vec!["unused", "active", "expired", "revoked", "true", "false", "1", "0", "", "-1", "1000", "1001",
                "18446744073709551615", "18446744073709551616", "9223372036854775807", "1e3", "%", "%ZZ", UNIT]).prop_map(str::to_owned),
            1 => any::<u64>().prop_map(|n| n.to_string()),
            2 => nasty_string(),
        ];
        let query = prop_oneof![
            2 => vec((key, value), 0..5).prop_map(|p| Some(serde_urlencoded::to_string(p).unwrap())),
            1 => "[ -~]{0,40}".prop_map(|q| Some(q.replace('#', "%23"))),
            1 => Just(None),
        ];
        let prefix = prop::sample::select(vec![
            "/api/v1", "/api/v1", "/api/v1", "/api", "", "/API/v1", "/api/v2", "/metrics",
        ]);
        let auth = prop_oneof![9 => Just(true), 1 => Just(false)];
        let method = prop::sample::select(vec![
            "GET", "GET", "GET", "GET", "HEAD", "DELETE", "PUT", "OPTIONS", "POST",
        ]);
        (prefix, vec(seg, 0..4), query, auth, method)
    };
    h.run(
        "get_paths",
        1_000,
        40_000,
        strategy,
        |(prefix, segs, query, auth, method)| {
            let mut path = format!("{prefix}/{}", segs.join("/"));
            if let Some(q) = &query {
                path.push('?');
                path.push_str(q);
            }
            // The event stream never ends; DELETE/PUT/POST only on paths that cannot touch the fixtures.
            let decoded: Vec<String> = segs
                .iter()
                .map(|s| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                })
                .collect();
            if decoded.iter().any(|s| s == "events") {
                return Ok(());
            }
            let mutating = method != "GET" && method != "HEAD" && method != "OPTIONS";
            if mutating
                && (decoded.iter().any(|s| {
                    s == UNIT
                        || s == OTHER_UNIT
                        || s == "settings"
                        || s.contains("fix")
                        || s.contains("FIX")
                        || s == "revoke"
                }))
            {
                return Ok(());
            }
            let total = h.voucher_total();
            let r = h.send_auth(method, &path, None, auth.then_some(h.app.token.as_str()))?;
            let what = format!("{method} {path}");
            if method != "HEAD" {
                check_status_and_shape(&what, &r)?;
            } else {
                prop_assert!(r.status < 500, "{}: {}", what, r.status);
            }
            // The path the server sees: the client resolves `.`/`..` segments first.
            let seen = url::Url::parse(&h.app.url(&path))
                .map(|u| u.path().trim_end_matches('/').to_owned())
                .unwrap_or_default();
            let is_info = seen == "/api/v1/info";
            if !auth && !is_info && method != "HEAD" {
                prop_assert_eq!(r.status, 401, "{} without a token: {}", what, r.text);
            }
            if r.status == 200 && method == "GET" && prefix != "/metrics" {
                prop_assert!(r.json.is_some(), "{}: 200 without JSON", what);
            }
            prop_assert_eq!(
                h.voucher_total(),
                total,
                "{} changed the voucher count",
                what
            );
            Ok(())
        },
    );
}

// ------------------------------------------------------------------------------------------
// Known bugs: these assert the correct behaviour and fail until the sidecar is fixed.
// ------------------------------------------------------------------------------------------

/// After a 413 (body over `MAX_BODY`, refused from its Content-Length without reading it), the
/// sidecar closes the connection without `Connection: close`; a keep-alive client (reqwest
/// here, aiohttp in Home Assistant) reuses it and its *next* request fails
/// (`IncompleteMessage` / broken pipe), about one time in ten.
#[test]
fn oversize_body_does_not_break_the_next_request() {
    let h = Harness::new();
    h.must(
        "POST",
        "/api/v1/units",
        json!({"unit_id": UNIT, "name": "Prop A"}),
        201,
    );
    let big = format!(
        "{{\"unit_id\":\"{UNIT}\",\"name\":\"{}\",\"duration_minutes\":60}}",
        "x".repeat(rental_wifi::testing::MAX_BODY)
    );
    let mut broken = Vec::new();
    h.rt.block_on(async {
        for i in 0..100 {
            let post = h
                .app
                .http
                .post(h.app.url("/api/v1/vouchers"))
                .bearer_auth(&h.app.token)
                .header("content-type", "application/json")
                .body(big.clone())
                .send()
                .await;
            match post {
                Ok(r) => {
                    assert_eq!(r.status(), 413);
                    let _ = r.text().await;
                }
                Err(e) => broken.push(format!("POST {i}: {e:?}")),
            }
            let get = h
                .app
                .http
                .get(h.app.url("/api/v1/vouchers?limit=0"))
                .bearer_auth(&h.app.token)
                .send()
                .await;
            if let Err(e) = get {
                broken.push(format!("GET after 413, round {i}: {e:?}"));
            }
        }
    });
    assert!(
        broken.is_empty(),
        "{} of 200 requests failed:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

/// `valid_from` has no lower bound, and `clock::rfc3339` writes years before 0000 as `-001`:
/// a voucher from `0000-01-01T00:00:00+00:01` is accepted (201, live, in `/api/v1/state`)
/// with `"valid_from": "-001-12-31T23:59:00Z"`, which is not RFC 3339.
#[test]
fn every_accepted_voucher_has_rfc3339_timestamps_even_for_ancient_valid_from() {
    let h = Harness::new();
    h.must(
        "POST",
        "/api/v1/units",
        json!({"unit_id": UNIT, "name": "Prop A"}),
        201,
    );
    h.run(
        "ancient_valid_from",
        100,
        2_000,
        || (0i32..3, 0u8..24, 0u8..60, 1i64..=43_200),
        |(year, oh, om, duration)| {
            let vf = format!("{year:04}-01-01T00:00:00+{oh:02}:{om:02}");
            let body = Body::Json(
                json!({"unit_id": UNIT, "valid_from": vf, "duration_minutes": duration}),
            );
            let r = h.send("POST", "/api/v1/vouchers", Some(&body))?;
            check_status_and_shape("POST /api/v1/vouchers", &r)?;
            if r.status < 400 {
                let v = r.json.unwrap();
                check_timestamps(
                    &v,
                    &["valid_from", "valid_until", "expires_at", "created_at"],
                )?;
                let state = h.get_json("/api/v1/state");
                for u in state["units"].as_array().unwrap() {
                    for v in u["vouchers"].as_array().unwrap() {
                        check_timestamps(
                            v,
                            &["valid_from", "valid_until", "expires_at", "created_at"],
                        )?;
                    }
                }
            }
            Ok(())
        },
    );
}
