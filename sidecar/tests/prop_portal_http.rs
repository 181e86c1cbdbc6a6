//! Property-based tests of the guest portal over HTTP (`GET`/`POST /portal`) against a real
//! sidecar wired to the Omada simulator, so that a valid code really lets a device in.
//!
//! * Arbitrary query strings on `GET /portal` (and arbitrary paths on the portal listener):
//!   never 5xx, always an HTML page without scripts, never a grant.
//! * Arbitrary form bodies on `POST /portal` (well-formed forms with valid / foreign /
//!   expired / garbage CSRF tokens and valid / revoked / other-unit / random codes, plus raw
//!   junk and oversize bodies): never 5xx, and a grant appears **if and only if** the form
//!   was fully valid (usable redirect, CSRF token of this device, the live code of the unit
//!   whose network the guest is on).
//!
//! The brute-force limiter is opened wide in this app (one IP makes every attempt); it has
//! its own properties in `prop_parsing.rs`. Case counts by `RENTAL_WIFI_TEST_MODE`.

mod common;
mod prop_common;

/// Where the test client connects from: what the portal binds page tokens to.
const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

use common::TestApp;
use prop_common::{canonical_mac, config, mac_spelling, nasty_string, Hits, SplitMix};
use rental_wifi::clock::Clock;
use rental_wifi::net::Mac;
use rental_wifi::portal::form::LoginForm;
use rental_wifi::portal::redirect::Attachment;
use rental_wifi::testing::code::normalize;

const GOOD_CODE: &str = "PORTALOK1";
const REVOKED_CODE: &str = "PORTALREV1";
const OTHER_UNIT_CODE: &str = "PORTALOTHER1";

struct Portal {
    rt: tokio::runtime::Runtime,
    app: TestApp,
    _sim: rental_wifi::sim::omada::OmadaSim,
    _tmp: tempfile::TempDir,
    unpooled: reqwest::Client,
}

#[derive(Debug)]
struct Resp {
    status: u16,
    content_type: String,
    text: String,
}

impl Portal {
    fn new() -> Portal {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = common::config_for(tmp.path());
        cfg.portal.max_failures = 1_000_000;
        cfg.portal.global_failures_per_minute = 1_000_000;
        cfg.portal.max_failures_per_address = 1_000_000;
        cfg.portal.short_code_failures_per_day = 1_000_000;
        let (app, sim) = rt.block_on(async {
            let mut sim_cfg = rental_wifi::sim::omada::OmadaSimConfig::default();
            sim_cfg.sites.push(rental_wifi::sim::omada::SimSite {
                name: "Other".into(),
                id: "0123456789abcdef01234567".into(),
            });
            let sim = rental_wifi::sim::omada::start(sim_cfg).await.unwrap();
            let app = TestApp::spawn_with(cfg, Clock::system()).await;
            app.use_controller(&sim).await;
            (app, sim)
        });
        let unpooled = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let p = Portal {
            rt,
            app,
            _sim: sim,
            _tmp: tmp,
            unpooled,
        };
        p.api(
            "POST",
            "/api/v1/units",
            json!({"unit_id": "portal-a", "name": "Portal <A> & \"Co\""}),
            201,
        );
        p.api(
            "POST",
            "/api/v1/units",
            json!({"unit_id": "portal-b", "name": "Elsewhere", "omada_site": "Other"}),
            201,
        );
        p.api("POST", "/api/v1/vouchers", json!({"unit_id": "portal-a", "code": GOOD_CODE, "duration_minutes": 600, "max_devices": 0}), 201);
        p.api(
            "POST",
            "/api/v1/vouchers",
            json!({"unit_id": "portal-a", "code": REVOKED_CODE, "duration_minutes": 600}),
            201,
        );
        p.api(
            "POST",
            &format!("/api/v1/vouchers/{REVOKED_CODE}/revoke"),
            json!({}),
            200,
        );
        p.api("POST", "/api/v1/vouchers", json!({"unit_id": "portal-b", "code": OTHER_UNIT_CODE, "duration_minutes": 600, "max_devices": 0}), 201);
        p
    }

    fn api(&self, method: &str, path: &str, body: Value, want: u16) -> Value {
        let (s, b) = self.rt.block_on(self.app.send(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            path,
            Some(body),
        ));
        assert_eq!(s, want, "{method} {path}: {b}");
        b
    }

    /// Every grant, as `(code, client_mac)`.
    fn grants(&self) -> Vec<(String, String)> {
        let (s, b) = self.rt.block_on(self.app.get("/api/v1/grants?limit=10000"));
        assert_eq!(s, 200, "{b}");
        b["grants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["code"].as_str().unwrap_or("").to_owned(),
                    g["client_mac"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    fn portal(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        lang: &str,
    ) -> Result<Resp, TestCaseError> {
        let url = format!("{}{}", self.app.portal, path_and_query);
        let oversize = body.as_ref().is_some_and(|b| b.len() > 16 * 1024);
        let client = if oversize {
            &self.unpooled
        } else {
            &self.app.http
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.rt.block_on(async {
            let mut rb = client
                .request(method.clone(), &url)
                .timeout(Duration::from_secs(20))
                .header("accept-language", lang);
            if let Some(b) = body {
                rb = rb
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(b);
            }
            let r = rb.send().await.map_err(|e| {
                TestCaseError::fail(format!("{method} {url}: no response (panic?): {e}"))
            })?;
            let status = r.status().as_u16();
            let content_type = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let text = r
                .text()
                .await
                .map_err(|e| TestCaseError::fail(format!("{method} {url}: body cut off: {e}")))?;
            Ok(Resp {
                status,
                content_type,
                text,
            })
        })
    }

    /// Like `prop_api`: a thread with a big stack, the strategy built on it.
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

/// Never 5xx, always an HTML page, never a script.
fn check_page(what: &str, r: &Resp) -> Result<(), TestCaseError> {
    prop_assert!(r.status < 500, "{}: {} {}", what, r.status, r.text);
    prop_assert!(
        r.content_type.starts_with("text/html"),
        "{}: content-type {:?}",
        what,
        r.content_type
    );
    prop_assert!(
        !r.text.to_ascii_lowercase().contains("<script"),
        "{}: script in page",
        what
    );
    Ok(())
}

fn accept_language() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["en", "de-CH,de;q=0.9", "fr;q=0.5, pt-BR", "*", "", "xx;q=0"]).prop_map(str::to_owned),
        1 => "[ -~]{0,60}",
    ]
}

/// A redirect as pairs: mostly well-formed (any spelling), with random extra pairs.
fn redirect_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let keys = prop::sample::select(vec![
        "clientMac",
        "client_mac",
        "cid",
        "clientIp",
        "apMac",
        "ap",
        "gatewayMac",
        "ssidName",
        "radioId",
        "vid",
        "site",
        "redirectUrl",
        "originUrl",
        "t",
        "target",
    ]);
    (
        any::<[u8; 6]>(),
        (0u8..4, any::<u16>()),
        any::<[u8; 6]>(),
        any::<bool>(),
        prop::sample::select(vec![
            None,
            Some("Default"),
            Some("Default"),
            Some("Other"),
            Some("Nowhere"),
        ]),
        proptest::option::of(prop_oneof![
            Just("http://example.com/welcome".to_owned()),
            Just("javascript:alert(1)".to_owned()),
            Just("http://connectivitycheck.gstatic.com/generate_204".to_owned()),
            nasty_string(),
        ]),
        proptest::option::weighted(0.3, vec((keys, nasty_string()), 1..4)),
        // Hotspot authorization needs ssidName + radioId (AP) or vid (gateway).
        proptest::bool::weighted(0.9),
        (0u8..4, 1u16..4095, "[A-Za-z0-9 ]{1,32}"),
        any::<u64>(),
        // The controller's view of the guest's address: the test's own (127.0.0.1), another
        // one (refused: DESIGN §10 "Who is asking"), IPv6 (not comparable), or none.
        prop::sample::select(vec![
            None,
            None,
            Some("127.0.0.1"),
            Some("127.0.0.1"),
            Some("127.0.0.1"),
            Some("10.9.8.7"),
            Some("fe80::1"),
        ]),
    )
        .prop_map(
            |(
                client,
                (layout, case),
                attach,
                wired,
                site,
                url,
                extra,
                complete,
                (radio, vid, ssid),
                seed,
                client_ip,
            )| {
                let mut p: Vec<(String, String)> = vec![
                    ("clientMac".into(), mac_spelling(client, layout, case)),
                    (
                        if wired { "gatewayMac" } else { "apMac" }.into(),
                        canonical_mac(attach),
                    ),
                ];
                if complete && wired {
                    p.push(("vid".into(), vid.to_string()));
                } else if complete {
                    p.push(("ssidName".into(), ssid));
                    p.push(("radioId".into(), radio.to_string()));
                }
                if let Some(s) = site {
                    p.push(("site".into(), s.into()));
                }
                if let Some(u) = url {
                    p.push(("redirectUrl".into(), u));
                }
                if let Some(ip) = client_ip {
                    p.push(("clientIp".into(), ip.into()));
                }
                p.extend(extra.into_iter().flatten().map(|(k, v)| (k.to_owned(), v)));
                SplitMix(seed).shuffle(&mut p);
                p
            },
        )
}

#[test]
fn get_portal_arbitrary_queries_never_5xx_and_grant_nothing() {
    let p = Portal::new();
    static HITS: Hits = Hits::new();
    let strategy = || {
        let query = prop_oneof![
            3 => redirect_pairs().prop_map(|p| serde_urlencoded::to_string(p).unwrap()),
            1 => nasty_string().prop_map(|s| s.replace('#', "%23")),
            1 => "[ -~]{0,200}".prop_map(|s| s.replace('#', "%23")),
        ];
        let path = prop::sample::select(vec![
            "/portal",
            "/portal",
            "/portal",
            "/",
            "/generate_204",
            "/hotspot-detect.html",
            "/PORTAL",
            "/portal/",
            "/healthz",
            "/nope",
            "/api/v1/vouchers",
        ]);
        let method = prop::sample::select(vec![
            "GET", "GET", "GET", "HEAD", "PUT", "DELETE", "OPTIONS",
        ]);
        (path, query, method, accept_language())
    };
    p.run(
        "get_portal",
        500,
        20_000,
        strategy,
        |(path, query, method, lang)| {
            let before = p.grants().len();
            let pq = format!("{path}?{query}");
            let r = p.portal(method, &pq, None, &lang)?;
            // The portal's read buffer is capped at 16 KiB (issue 13: a flood of connections
            // each growing its buffer): a head that does not fit is answered 431 by hyper,
            // before any handler runs (whether it fits depends on how it arrives). The length
            // on the wire is the percent-encoded one.
            if r.status == 431 {
                let wire = reqwest::Url::parse(&format!("http://h{pq}"))
                    .map_or(pq.len(), |u| u.as_str().len() - "http://h".len());
                prop_assert!(wire >= 15 * 1024, "431 for a {}-byte head", wire);
                return Ok(());
            }
            if method == "HEAD" {
                prop_assert!(r.status < 500, "HEAD {}: {}", pq, r.status);
            } else {
                check_page(&format!("{method} {pq}"), &r)?;
            }
            if method == "GET" && path == "/portal" {
                HITS.record(r.status == 200);
                if r.status == 200 {
                    prop_assert!(
                        r.text.contains("name=\"csrf\""),
                        "login page without a CSRF field"
                    );
                } else if r.status == 403 {
                    // Who is asking: a `clientIp` of IPv4 that is not the test's own address.
                    let ip = rental_wifi::portal::redirect::RedirectContext::from_query(&query)
                        .ok()
                        .and_then(|c| c.client_ip)
                        .map(|ip| ip.to_canonical());
                    prop_assert!(
                        ip.is_some_and(|ip| ip.is_ipv4() && ip != LOOPBACK),
                        "403 for {:?}: {}",
                        ip,
                        r.text
                    );
                } else {
                    prop_assert_eq!(r.status, 400, "{}", r.text);
                }
            }
            prop_assert_eq!(
                p.grants().len(),
                before,
                "{} {} created a grant",
                method,
                pq
            );
            Ok(())
        },
    );
    // About 50 of the 500 cases are a GET of /portal; between 18 and 45 % of those reach the
    // login page from one run to the next (the rest: another address's clientIp, 403; no
    // usable context, 400). 20 % failed one run in six; 10 % still proves the branch is
    // taken, like the other properties' floors.
    HITS.assert_at_least("GET /portal answered with the login page", 10);
}

/// What the guest posts, before encoding.
#[derive(Debug, Clone)]
enum Csrf {
    Valid,
    OtherDevice,
    Expired,
    Garbage(String),
    Missing,
}

#[derive(Debug, Clone)]
enum Post {
    Form {
        pairs: Vec<(String, String)>,
        csrf: Csrf,
        code: String,
        terms: Option<String>,
        extra_code: Option<String>,
        seed: u64,
    },
    Raw(Vec<u8>),
}

fn post_body() -> impl Strategy<Value = Post> {
    let csrf = prop_oneof![
        10 => Just(Csrf::Valid),
        1 => Just(Csrf::OtherDevice),
        1 => Just(Csrf::Expired),
        1 => nasty_string().prop_map(Csrf::Garbage),
        1 => Just(Csrf::Missing),
    ];
    let code = prop_oneof![
        4 => (any::<u64>()).prop_map(|seed| {
            // The good code as a guest might type it.
            let mut rng = SplitMix(seed);
            let mut s = String::from([" ", "", ""][rng.below(3)]);
            for c in GOOD_CODE.chars() {
                s.push(if rng.below(2) == 0 { c.to_ascii_lowercase() } else { c });
                if rng.below(5) == 0 { s.push_str(["-", " ", "\u{2013}"][rng.below(3)]); }
            }
            s
        }),
        1 => prop::sample::select(vec![REVOKED_CODE, OTHER_UNIT_CODE, "PORTALOK", "PORTALOK12", "P0RTAL0K1", ""]).prop_map(str::to_owned),
        2 => nasty_string(),
    ];
    prop_oneof![
        9 => (redirect_pairs(), csrf, code, proptest::option::of(prop::sample::select(vec!["1", "on", "0"]).prop_map(str::to_owned)),
              proptest::option::weighted(0.1, prop_oneof![Just(GOOD_CODE.to_owned()), nasty_string()]), any::<u64>())
            .prop_map(|(pairs, csrf, code, terms, extra_code, seed)| Post::Form { pairs, csrf, code, terms, extra_code, seed }),
        1 => prop_oneof![
            vec(any::<u8>(), 0..300),
            nasty_string().prop_map(String::into_bytes),
            (1usize..40).prop_map(|n| format!("code={GOOD_CODE}&clientMac={}", "A".repeat(n * 1024)).into_bytes()),
        ].prop_map(Post::Raw),
    ]
}

impl Portal {
    fn encode(&self, post: &Post) -> Vec<u8> {
        match post {
            Post::Raw(b) => b.clone(),
            Post::Form {
                pairs,
                csrf,
                code,
                terms,
                extra_code,
                seed,
            } => {
                let ctx = LoginForm::parse(serde_urlencoded::to_string(pairs).unwrap().as_bytes())
                    .context;
                let mac: Mac = ctx
                    .as_ref()
                    .map(|c| c.client_mac)
                    .unwrap_or_else(|_| "02-00-00-00-00-01".parse().unwrap());
                let now = self.app.clock.now().unix_timestamp();
                let other: Mac = canonical_mac({
                    let mut o = mac.octets();
                    o[5] ^= 1;
                    o
                })
                .parse()
                .unwrap();
                let token = match csrf {
                    // Page tokens are bound to MAC + the address the portal sees (issue 13).
                    Csrf::Valid => Some(self.app.handle.csrf_token(&mac, LOOPBACK, now)),
                    Csrf::OtherDevice => Some(self.app.handle.csrf_token(&other, LOOPBACK, now)),
                    Csrf::Expired => Some(self.app.handle.csrf_token(&mac, LOOPBACK, now - 3_600)),
                    Csrf::Garbage(g) => Some(g.clone()),
                    Csrf::Missing => None,
                };
                let mut fields = pairs.clone();
                if let Some(t) = token {
                    fields.push(("csrf".into(), t));
                }
                fields.push(("code".into(), code.clone()));
                if let Some(t) = terms {
                    fields.push(("accept_terms".into(), t.clone()));
                }
                if let Some(c) = extra_code {
                    fields.push(("code".into(), c.clone()));
                }
                SplitMix(*seed).shuffle(&mut fields);
                serde_urlencoded::to_string(&fields).unwrap().into_bytes()
            }
        }
    }
}

#[test]
fn post_portal_arbitrary_forms_never_5xx_and_grant_only_valid_codes() {
    let p = Portal::new();
    static HITS: Hits = Hits::new();
    p.run(
        "post_portal",
        500,
        20_000,
        || (post_body(), accept_language()),
        |(post, lang)| {
            let body = p.encode(&post);
            // The expectation, from the parsers (which have their own properties).
            let form = LoginForm::parse(&body);
            let now = p.app.clock.now().unix_timestamp();
            // Code, token and network right; `complete` = what a hotspot authorization needs
            // besides the MAC (omada/hotspot.rs). An incomplete redirect still succeeds when the
            // device already has a grant for the code (re-authorisation uses the stored one).
            let (core_valid, complete) = match &form.context {
                Ok(ctx) => (
                    p.app
                        .handle
                        .csrf_valid(&form.csrf, &ctx.client_mac, LOOPBACK, now)
                        // Who is asking (DESIGN §10): a `clientIp` of the peer's family must
                        // be the peer (the test connects from 127.0.0.1).
                        && ctx.client_ip.is_none_or(|ip| {
                            let ip = ip.to_canonical();
                            ip == LOOPBACK || ip.is_ipv4() != LOOPBACK.is_ipv4()
                        })
                        && match normalize(&form.code).as_deref() {
                            // portal-a is on site Default, portal-b on site Other (no SSID/VLAN limits).
                            Some(GOOD_CODE) => ctx
                                .site
                                .as_deref()
                                .is_none_or(|s| s.eq_ignore_ascii_case("Default")),
                            Some(OTHER_UNIT_CODE) => ctx
                                .site
                                .as_deref()
                                .is_none_or(|s| s.eq_ignore_ascii_case("Other")),
                            _ => false,
                        },
                    match ctx.attachment() {
                        Ok(Attachment::Ap { ssid, radio_id, .. }) => {
                            ssid.is_some_and(|s| !s.is_empty()) && radio_id.is_some()
                        }
                        // No VLAN (absent, empty or 0) is an untagged network: vid 0 is sent.
                        Ok(Attachment::Gateway { .. }) => true,
                        Err(_) => false,
                    },
                ),
                Err(_) => (false, false),
            };
            let shown: String = String::from_utf8_lossy(&body).chars().take(400).collect();
            let before = p.grants();
            let r = p.portal("POST", "/portal", Some(body.clone()), &lang)?;
            check_page("POST /portal", &r)?;
            let after = p.grants();
            // Over the portal's form limit (`portal::handler::MAX_FORM`, 16 KiB) — a long
            // generated landing URL, percent-encoded three bytes per character — is refused
            // whole with 413, valid or not, and changes nothing.
            if body.len() > 16 * 1024 {
                prop_assert_eq!(r.status, 413, "an over-long form: {}", shown);
                prop_assert_eq!(before, after, "an over-long form changes nothing");
                return Ok(());
            }
            HITS.record(core_valid && complete);
            if core_valid {
                let mac = form.context.as_ref().unwrap().client_mac.to_string();
                let code = normalize(&form.code).unwrap();
                let had = before.iter().any(|(c, m)| *c == code && *m == mac);
                if complete || had {
                    prop_assert_eq!(r.status, 200, "valid form refused: {}", shown);
                    prop_assert!(
                        r.text.contains("data-result=\"success\""),
                        "no success page"
                    );
                    prop_assert!(
                        after.iter().any(|(c, m)| *c == code && *m == mac),
                        "no grant for {} with {}",
                        mac,
                        code
                    );
                    prop_assert!(after.len() <= before.len() + 1);
                } else {
                    prop_assert_eq!(r.status, 400, "incomplete redirect: {}", shown);
                    prop_assert_eq!(
                        after.len(),
                        before.len(),
                        "incomplete redirect created a grant: {}",
                        shown
                    );
                }
            } else {
                prop_assert!(
                    r.status >= 400,
                    "invalid form accepted ({}): {}",
                    r.status,
                    shown
                );
                prop_assert_eq!(
                    after.len(),
                    before.len(),
                    "invalid form created a grant: {}",
                    shown
                );
            }
            Ok(())
        },
    );
    HITS.assert_at_least("fully valid forms", 5);
}

// ------------------------------------------------------------------------------------------
// Known bugs: these assert the correct behaviour and fail until the sidecar is fixed.
// ------------------------------------------------------------------------------------------

/// The portal matches the redirect's `site` to the unit case-insensitively
/// (`grants::on_unit_network`), but then authorizes on the controller with the redirect's
/// spelling (`grants.rs`, `let site = r2.site.clone()…`). The controller (simulator) knows
/// `Default`, not `default`: the guest gets HTTP 502 "can't be reached" for a code that is
/// valid on their network. Expected: the unit's own site name is used, 200 and a grant.
#[test]
fn site_spelled_in_another_case_is_redeemed_not_502() {
    let p = Portal::new();
    let pairs: Vec<(String, String)> = vec![
        ("clientMac".into(), "02-00-00-00-00-0A".into()),
        ("apMac".into(), "02-00-00-00-00-AA".into()),
        ("ssidName".into(), "Guest".into()),
        ("radioId".into(), "1".into()),
        ("site".into(), "default".into()),
    ];
    let body = p.encode(&Post::Form {
        pairs,
        csrf: Csrf::Valid,
        code: GOOD_CODE.into(),
        terms: None,
        extra_code: None,
        seed: 0,
    });
    let r = p.portal("POST", "/portal", Some(body), "en").unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(p
        .grants()
        .iter()
        .any(|(c, m)| c == GOOD_CODE && m == "02-00-00-00-00-0A"));
}

/// Same as the API's: a form well over 16 KiB (200 KiB here; smaller ones fit in the socket
/// buffers) is answered 413 without being read and the connection is closed without
/// `Connection: close`, so the browser's next request on it can fail.
#[test]
fn oversize_form_does_not_break_the_next_request() {
    let p = Portal::new();
    let big = format!("code={GOOD_CODE}&clientMac={}", "A".repeat(200 * 1024));
    let mut broken = Vec::new();
    p.rt.block_on(async {
        for i in 0..100 {
            let post = p
                .app
                .http
                .post(format!("{}/portal", p.app.portal))
                .header("content-type", "application/x-www-form-urlencoded")
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
            let get = p
                .app
                .http
                .get(format!("{}/healthz", p.app.portal))
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
