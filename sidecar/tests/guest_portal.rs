//! The guest's side after login (issue 17), over real HTTP against the in-process sidecar and
//! the Omada simulator: a unit's welcome, terms and branding set through the API (bad input
//! refused with the field named, nothing changed), the logo's own route, terms served by the
//! portal with a consent per grant (exported and audited), the status page and "disconnect
//! this device" for the device that asks (DESIGN §10), and the Captive Portal API (RFC 8908)
//! over the portal's HTTPS listener with a certificate from a test CA made here.

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use common::{hidden_fields, redirect_query_from, result_of, Phone, PortalEnv};
use serde_json::{json, Value};

const MAC: &str = "AA-BB-CC-DD-17-01";
const OTHER_MAC: &str = "AA-BB-CC-DD-17-02";

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Grayscale);
    let mut wr = enc.write_header().unwrap();
    wr.write_image_data(&vec![128u8; (w * h) as usize]).unwrap();
    drop(wr);
    out
}

async fn unit(env: &PortalEnv) -> Value {
    let (s, u) = env.app.get("/api/v1/units/beach").await;
    assert_eq!(s, 200, "{u}");
    u
}

async fn put_logo(env: &PortalEnv, bytes: Vec<u8>, content_type: &str) -> (u16, Value) {
    let r = env
        .app
        .http
        .put(env.app.url("/api/v1/units/beach/logo"))
        .bearer_auth(&env.app.token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// The login page of `phone` for `mac`: (its hidden fields, its HTML).
async fn login_page(phone: &Phone, mac: &str) -> (Vec<(String, String)>, String) {
    let q = redirect_query_from(mac, "Beach Guest", phone.addr);
    let r = phone
        .http
        .get(format!("{}/portal?{q}", phone.portal))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    (hidden_fields(&html), html)
}

async fn post(phone: &Phone, form: &[(String, String)], extra: &[(&str, &str)]) -> (u16, String) {
    let mut form = form.to_vec();
    for (k, v) in extra {
        form.push(((*k).into(), (*v).into()));
    }
    let r = phone
        .http
        .post(format!("{}/portal", phone.portal))
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn get_page(phone: &Phone, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = phone
        .http
        .get(format!("{}{path}", phone.portal))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let h = r.headers().clone();
    (s, h, r.text().await.unwrap())
}

async fn audit_actions(env: &PortalEnv) -> Vec<(String, String)> {
    let (s, a) = env.app.get("/api/v1/audit?limit=100").await;
    assert_eq!(s, 200, "{a}");
    a["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unit_guest_page_fields_are_checked_and_bad_input_changes_nothing() {
    let env = PortalEnv::start().await;
    let (s, u) = env
        .app
        .patch(
            "/api/v1/units/beach",
            json!({
                "welcome_title": "Welcome to the Beach House",
                "welcome_text": "Towels are in the **hall cupboard**.\n\n- Bins: Tuesday\n- [Bakery](https://example.com/bakery)",
                "checkout_time": "10:30",
                "host_contact": "Anna, +49 170 1234567",
                "accent_color": "#0A58A8",
                "terms_text": "No parties.\r\nQuiet after 22:00.\r\n",
            }),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["checkout_time"], "10:30");
    assert_eq!(u["accent_color"], "#0a58a8", "stored lower-case");
    assert_eq!(u["terms_text"], "No parties.\nQuiet after 22:00.");
    assert_eq!(
        u["terms_sha256"],
        rental_wifi::portal::terms::sha256_hex("No parties.\nQuiet after 22:00."),
        "the hash of the normalised text"
    );
    let before = unit(&env).await;

    for (body, field, says) in [
        (
            json!({"accent_color": "#ffff00"}),
            "accent_color",
            "contrast",
        ),
        (
            json!({"accent_color": "blue"}),
            "accent_color",
            "not a colour",
        ),
        (
            json!({"welcome_text": "<script>alert(1)</script>"}),
            "welcome_text",
            "HTML is not allowed",
        ),
        (
            json!({"welcome_text": "**bold"}),
            "welcome_text",
            "not closed",
        ),
        (
            json!({"welcome_text": "[x](javascript:alert(1))"}),
            "welcome_text",
            "links can only go to",
        ),
        (
            json!({"welcome_text": "a".repeat(9000)}),
            "welcome_text",
            "too long",
        ),
        (
            json!({"welcome_title": "t".repeat(81)}),
            "welcome_title",
            "too long",
        ),
        (
            json!({"host_contact": "two\nlines"}),
            "host_contact",
            "one line",
        ),
        (json!({"checkout_time": "25:00"}), "checkout_time", "HH:MM"),
        (
            json!({"terms_text": "<b>x</b>"}),
            "terms_text",
            "HTML is not allowed",
        ),
        (
            json!({"terms_text": "x".repeat(70 * 1024)}),
            "terms_text",
            "too long",
        ),
    ] {
        let (s, e) = env.app.patch("/api/v1/units/beach", body.clone()).await;
        assert_eq!(s, 400, "{body}: {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{field}: {msg}");
        assert_eq!(unit(&env).await, before, "refused {field} changed nothing");
    }

    // Null or blank clears; a clear of the terms clears the hash with them.
    let (s, u) = env
        .app
        .patch(
            "/api/v1/units/beach",
            json!({"terms_text": "", "accent_color": null, "checkout_time": null}),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["terms_text"], Value::Null);
    assert_eq!(u["terms_sha256"], Value::Null);
    assert_eq!(u["accent_color"], Value::Null);
    assert_eq!(u["checkout_time"], Value::Null);
    assert_eq!(
        u["welcome_title"], "Welcome to the Beach House",
        "untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logo_has_its_own_route_and_is_served_by_the_portal() {
    let env = PortalEnv::start().await;
    let before = unit(&env).await;
    assert_eq!(before["logo_sha256"], Value::Null);

    // Wrong types and broken or oversized files: 4xx naming the field, nothing stored.
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    for (bytes, status, says) in [
        (gif, 400, "PNG, JPEG or WebP"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            400,
            "PNG, JPEG or WebP",
        ),
        (Vec::new(), 400, "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00".to_vec(), 400, "damaged"),
        (png(2049, 1), 400, "2048"),
        (vec![0xFF; 300 * 1024], 413, "larger than"),
    ] {
        let (s, e) = put_logo(&env, bytes, "image/png").await;
        assert_eq!(s, status, "{e}");
        assert_eq!(e["error"]["field"], "logo", "{e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(says),
            "{e}"
        );
        assert_eq!(unit(&env).await, before, "a refused logo changes nothing");
    }

    // A PNG sent as anything: its type comes from its bytes.
    let file = png(120, 40);
    let (s, u) = put_logo(&env, file.clone(), "application/octet-stream").await;
    assert_eq!(s, 200, "{u}");
    let sha = u["logo_sha256"].as_str().unwrap().to_owned();
    assert_eq!(sha.len(), 64);
    assert_eq!(u["logo_url"], format!("/portal/logo/{sha}"));
    let guest = Phone::at(&env.app.portal, [127, 0, 17, 1]);
    let (s, h, _) = get_page(&guest, &format!("/portal/logo/{sha}")).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let bytes = guest
        .http
        .get(format!("{}/portal/logo/{sha}", env.app.portal))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), file.as_slice(), "the very file");
    for bad in ["nope", &sha.to_uppercase(), &"0".repeat(64)] {
        let (s, _, _) = get_page(&guest, &format!("/portal/logo/{bad}")).await;
        assert_eq!(s, 404, "{bad}");
    }
    assert!(audit_actions(&env)
        .await
        .iter()
        .any(|(a, d)| a == "unit.logo.put" && d.contains(&sha)));

    // Removed: the unit forgets it and the portal no longer serves it.
    let r = env
        .app
        .http
        .delete(env.app.url("/api/v1/units/beach/logo"))
        .bearer_auth(&env.app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(unit(&env).await["logo_sha256"], Value::Null);
    let (s, _, _) = get_page(&guest, &format!("/portal/logo/{sha}")).await;
    assert_eq!(s, 404, "an unused logo is deleted with its last use");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terms_served_by_the_portal_record_a_consent_per_grant() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({"max_devices": 3})).await;
    let (s, u) = env
        .app
        .patch(
            "/api/v1/units/beach",
            json!({"terms_text": "No parties.\n\n- Quiet after **22:00**"}),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    let hash = u["terms_sha256"].as_str().unwrap().to_owned();
    let phone = Phone::at(&env.app.portal, [127, 0, 17, 11]);

    // The terms are in the page, collapsible, with the required box and their hash.
    let (form, html) = login_page(&phone, MAC).await;
    assert!(html.contains("<details>"), "{html}");
    assert!(
        html.contains("Quiet after <strong>22:00</strong>"),
        "{html}"
    );
    assert!(html.contains(r#"name="accept_terms""#) && html.contains("required"));
    assert!(form.iter().any(|(k, v)| k == "terms_sha256" && *v == hash));

    // Not ticked: refused, nothing changes.
    let (s, body) = post(&phone, &form, &[("code", &code)]).await;
    assert_eq!((s, result_of(&body).as_str()), (400, "error"), "{body}");
    assert!(env.app.active_grants().await.is_empty());

    // The host changes the terms while the page is open: the old tick does not count.
    let (s, _) = env
        .app
        .patch(
            "/api/v1/units/beach",
            json!({"terms_text": "No parties at all."}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, body) = post(&phone, &form, &[("code", &code), ("accept_terms", "1")]).await;
    assert_eq!(result_of(&body), "error", "{s} {body}");
    assert!(env.app.active_grants().await.is_empty(), "no grant");
    let (_, c) = env.app.get("/api/v1/units/beach/consents").await;
    assert_eq!(c["consents"], json!([]), "no consent");

    // Ticked for the terms the page shows now: in, and the consent names them.
    let (form, _) = login_page(&phone, MAC).await;
    let new_hash = rental_wifi::portal::terms::sha256_hex("No parties at all.");
    let (s, body) = post(&phone, &form, &[("code", &code), ("accept_terms", "1")]).await;
    assert_eq!((s, result_of(&body).as_str()), (200, "success"), "{body}");
    let grants = env.app.active_grants().await;
    assert_eq!(grants.len(), 1);
    let (s, c) = env.app.get("/api/v1/units/beach/consents").await;
    assert_eq!(s, 200, "{c}");
    let list = c["consents"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{c}");
    assert_eq!(list[0]["grant_id"], grants[0]["grant_id"]);
    assert_eq!(list[0]["client_mac"], MAC);
    assert_eq!(list[0]["code"], code.as_str());
    assert_eq!(list[0]["terms_sha256"], new_hash.as_str());
    assert!(list[0]["at"].as_str().unwrap().ends_with('Z'));
    assert!(audit_actions(&env)
        .await
        .iter()
        .any(|(a, d)| a == "terms.consent" && d.contains(MAC) && d.contains(&new_hash)));

    // An older set-up that links its terms keeps working, and records the link.
    let (s, _) = env
        .app
        .patch(
            "/api/v1/units/beach",
            json!({"terms_text": null, "terms_url": "https://example.com/terms"}),
        )
        .await;
    assert_eq!(s, 200);
    let other = Phone::at(&env.app.portal, [127, 0, 17, 12]);
    let (form, html) = login_page(&other, OTHER_MAC).await;
    assert!(html.contains("https://example.com/terms"), "{html}");
    let (_, body) = post(&other, &form, &[("code", &code)]).await;
    assert_eq!(result_of(&body), "error", "the box is still required");
    let (_, body) = post(&other, &form, &[("code", &code), ("accept_terms", "1")]).await;
    assert_eq!(result_of(&body), "success", "{body}");
    let (_, c) = env.app.get("/api/v1/units/beach/consents?limit=1").await;
    assert_eq!(c["consents"][0]["terms_url"], "https://example.com/terms");
    assert_eq!(c["consents"][0]["client_mac"], OTHER_MAC);
    assert_eq!(c["consents"].as_array().unwrap().len(), 1, "limit");

    // The export refuses what it cannot read, and an unknown unit.
    let (s, e) = env
        .app
        .get("/api/v1/units/beach/consents?since=yesterday")
        .await;
    assert_eq!(s, 400, "{e}");
    let (s, _) = env.app.get("/api/v1/units/nope/consents").await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_the_asking_device_and_disconnects_only_it() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({"max_devices": 3})).await;
    let png_file = png(60, 20);
    let (s, _) = put_logo(&env, png_file, "image/png").await;
    assert_eq!(s, 200);
    let (s, u) = env
        .app
        .patch(
            "/api/v1/units/beach",
            json!({"welcome_title": "Welcome!", "welcome_text": "Wi-Fi is **fast**.",
                   "host_contact": "Anna, +49 170 1234567", "checkout_time": "11:00",
                   "accent_color": "#7a1f5c"}),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    let sha = u["logo_sha256"].as_str().unwrap().to_owned();

    let phone = Phone::at(&env.app.portal, [127, 0, 17, 21]);
    let stranger = Phone::at(&env.app.portal, [127, 0, 17, 22]);

    // Before login: no redirect, no access → how to get in; with a redirect → the login form.
    let (s, _, html) = get_page(&phone, "/portal/status").await;
    assert_eq!((s, result_of(&html).as_str()), (200, "offline"), "{html}");
    let q = redirect_query_from(MAC, "Beach Guest", phone.addr);
    let (s, _, html) = get_page(&phone, &format!("/portal/status?{q}")).await;
    assert_eq!((s, result_of(&html).as_str()), (200, "form"), "{html}");

    // Login: the success page links the status page and shows the welcome, with the logo.
    let (form, _) = login_page(&phone, MAC).await;
    let r = phone
        .http
        .post(format!("{}/portal", phone.portal))
        .form(&[form.clone(), vec![("code".into(), code.clone())]].concat())
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = r.text().await.unwrap();
    assert_eq!(result_of(&html), "success", "{html}");
    assert!(html.contains(r#"href="/portal/status""#), "{html}");
    assert!(html.contains("Welcome!") && html.contains("<strong>fast</strong>"));
    assert!(
        html.contains(&format!(r#"src="/portal/logo/{sha}""#)),
        "{html}"
    );
    assert!(csp.contains("img-src 'self' data:"), "{csp}");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(html.contains("--accent:#7a1f5c"), "the accent");

    // The status page of the same device: time left, end, devices, contact, welcome, button.
    let (s, h, html) = get_page(&phone, "/portal/status").await;
    assert_eq!((s, result_of(&html).as_str()), (200, "status"), "{html}");
    assert!(html.contains("Time left"), "{html}");
    assert!(
        html.contains("1 hour") || html.contains("2 hours"),
        "{html}"
    );
    assert!(html.contains("UTC"), "the end time is labelled");
    assert!(html.contains("1 of 3"), "{html}");
    assert!(html.contains("Anna, +49 170 1234567") && html.contains("11:00"));
    assert!(html.contains(r#"action="/portal/disconnect""#));
    assert_eq!(
        h["content-security-policy"].to_str().unwrap(),
        rental_wifi::portal::page::CONTENT_SECURITY_POLICY_WITH_LOGO
    );
    let status_form = hidden_fields(&html);
    // In German, too.
    let r = phone
        .http
        .get(format!("{}/portal/status", phone.portal))
        .header("accept-language", "de-DE")
        .send()
        .await
        .unwrap();
    let de = r.text().await.unwrap();
    assert!(de.contains("Dieses Gerät ist online."), "{de}");

    // Another device (another address) sees no one's access, and cannot end it: its own
    // token is for itself, the phone's token is bound to the phone's address.
    let (_, _, html) = get_page(&stranger, "/portal/status").await;
    assert_eq!(result_of(&html), "offline");
    let r = stranger
        .http
        .post(format!("{}/portal/disconnect", stranger.portal))
        .form(&status_form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a token for another address");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let forged = env
        .app
        .handle
        .csrf_token(&MAC.parse().unwrap(), stranger.addr, now);
    let r = stranger
        .http
        .post(format!("{}/portal/disconnect", stranger.portal))
        .form(&[("clientMac", MAC), ("csrf", forged.as_str())])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert_eq!(result_of(&html), "offline", "not the stranger's access");
    // Broken input: a clear page, nothing changes.
    let r = stranger
        .http
        .post(format!("{}/portal/disconnect", stranger.portal))
        .form(&[("clientMac", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(env.app.active_grants().await.len(), 1, "still online");
    assert_eq!(env.sim.authorized().len(), 1);

    // The phone itself disconnects: grant ended, device taken off through the outbox.
    let r = phone
        .http
        .post(format!("{}/portal/disconnect", phone.portal))
        .form(&status_form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert_eq!(result_of(&html), "disconnected", "{html}");
    assert!(env.app.active_grants().await.is_empty());
    let (_, g) = env.app.get("/api/v1/grants").await;
    assert_eq!(g["grants"][0]["end_reason"], "guest_disconnected", "{g}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !env.sim.authorized().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "device still authorised"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(audit_actions(&env)
        .await
        .iter()
        .any(|(a, d)| a == "grant.disconnect" && d == MAC));
    // The same form again: nothing left to end.
    let r = phone
        .http
        .post(format!("{}/portal/disconnect", phone.portal))
        .form(&status_form)
        .send()
        .await
        .unwrap();
    assert_eq!(result_of(&r.text().await.unwrap()), "offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_address_translation_no_status_is_shown() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({})).await;
    let phone = Phone::at(&env.app.portal, [127, 0, 17, 31]);
    let (form, _) = login_page(&phone, MAC).await;
    let (_, body) = post(&phone, &form, &[("code", &code)]).await;
    assert_eq!(result_of(&body), "success");
    let (_, _, html) = get_page(&phone, "/portal/status").await;
    assert_eq!(result_of(&html), "status");
    // Every guest shares the NAT's address: the portal cannot tell who asks.
    let (s, _) = env
        .app
        .patch("/api/v1/units/beach", json!({"address_translation": true}))
        .await;
    assert_eq!(s, 200);
    let (_, _, html) = get_page(&phone, "/portal/status").await;
    assert_eq!(result_of(&html), "offline");
}

/// A test CA, and a certificate for `wifi.test` signed by it: (CA PEM, cert PEM, key PEM).
fn test_ca() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Rental Wi-Fi test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["wifi.test".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
}

/// A phone at `addr` that trusts only `ca` and resolves `wifi.test` to the portal's HTTPS port.
fn https_phone(ca_pem: &str, https: &str, addr: [u8; 4]) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let port: u16 = https.rsplit(':').next().unwrap().parse().unwrap();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .resolve(
            "wifi.test",
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .local_address(IpAddr::from(addr))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_captive_portal_api_answers_over_https_with_the_hosts_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_ca();
    let cert_path = tmp.path().join("fullchain.pem");
    let key_path = tmp.path().join("privkey.pem");
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let data = tmp.path().join("data");
    let mut config = common::config_for(&data);
    config.server.portal_tls_cert = Some(cert_path);
    config.server.portal_tls_key = Some(key_path);
    let env = PortalEnv::start_with(config, rental_wifi::clock::Clock::system()).await;
    let https = env.app.portal_https.clone().expect("the HTTPS listener");
    let port = https.rsplit(':').next().unwrap();
    let addr = [127, 0, 17, 41];
    let client = https_phone(&ca, &https, addr);
    let api = format!("https://wifi.test:{port}/captive-portal/api");
    let portal_url = format!("https://wifi.test:{port}/portal/status");

    // Captive before login: exactly the RFC 8908 fields, with its media type.
    let r = client
        .get(&api)
        .header("accept", "application/captive+json")
        .send()
        .await
        .expect("TLS with the host's certificate, trusted through the test CA");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/captive+json");
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(
        v,
        json!({"captive": true, "user-portal-url": portal_url, "venue-info-url": portal_url,
               "can-extend-session": false})
    );

    // The same phone logs in over HTTPS; then the API counts its seconds.
    let code = env.voucher(json!({"duration_minutes": 120})).await;
    let q = redirect_query_from(MAC, "Beach Guest", IpAddr::from(addr));
    let page = client
        .get(format!("https://wifi.test:{port}/portal?{q}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = hidden_fields(&page);
    form.push(("code".into(), code));
    let done = client
        .post(format!("https://wifi.test:{port}/portal"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(result_of(&done), "success", "{done}");
    let v: Value = client.get(&api).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["captive"], false, "{v}");
    assert_eq!(v["can-extend-session"], false);
    assert_eq!(v["user-portal-url"], portal_url.as_str());
    assert_eq!(v["venue-info-url"], portal_url.as_str());
    let left = v["seconds-remaining"].as_u64().unwrap();
    assert!((7000..=7200).contains(&left), "{left}");
    assert_eq!(v.as_object().unwrap().len(), 5, "{v}");

    // Another phone is still captive; over plain HTTP there is no API (RFC 8908 §4).
    let other = https_phone(&ca, &https, [127, 0, 17, 42]);
    let v: Value = other.get(&api).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["captive"], true);
    assert!(v.get("seconds-remaining").is_none());
    let plain = Phone::at(&env.app.portal, addr);
    let (s, _, _) = get_page(&plain, "/captive-portal/api").await;
    assert_eq!(s, 404);

    // A client that does not trust the test CA fails the handshake: the certificate is
    // really the one served.
    let untrusting = https_phone(&test_ca().0, &https, [127, 0, 17, 43]);
    assert!(untrusting.get(&api).send().await.is_err());
}

/// The end of a guest's access on the success and status pages is the wall clock of the
/// unit's zone (DESIGN §10 "Time zone"): the property's, which Home Assistant sets, or the
/// unit's own; UTC (and labelled so) only when neither is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_after_login_show_the_end_in_the_units_zone() {
    let env = PortalEnv::start().await;
    let code = env.voucher(json!({"max_devices": 2})).await;
    let (s, b) = env
        .app
        .put(
            "/api/v1/settings/property",
            json!({"time_zone": "Asia/Kolkata"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let phone = Phone::at(&env.app.portal, [127, 0, 17, 31]);
    let (form, _) = login_page(&phone, MAC).await;
    let (s, html) = post(&phone, &form, &[("code", code.as_str())]).await;
    assert_eq!((s, result_of(&html).as_str()), (200, "success"), "{html}");
    let (_, grants) = env.app.get("/api/v1/grants").await;
    let end = time::OffsetDateTime::parse(
        grants["grants"][0]["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let wall = |zone: &str| {
        let t = rental_wifi::tz::Zone::parse(zone).unwrap().to_local(end);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )
    };
    // Kolkata is UTC+05:30 all year: its wall clock never equals UTC's.
    assert!(html.contains(&wall("Asia/Kolkata")), "{html}");
    assert!(!html.contains("UTC"), "{html}");
    let (_, _, html) = get_page(&phone, "/portal/status").await;
    assert_eq!(result_of(&html), "status", "{html}");
    assert!(
        html.contains(&wall("Asia/Kolkata")) && !html.contains("UTC"),
        "{html}"
    );

    // The unit's own zone wins over the property's.
    let (s, u) = env
        .app
        .patch(
            "/api/v1/units/beach",
            json!({"time_zone": "America/Sao_Paulo"}),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    let (_, _, html) = get_page(&phone, "/portal/status").await;
    assert!(html.contains(&wall("America/Sao_Paulo")), "{html}");

    // Neither: UTC, and the page says so.
    env.app
        .patch("/api/v1/units/beach", json!({"time_zone": null}))
        .await;
    env.app
        .put("/api/v1/settings/property", json!({"time_zone": null}))
        .await;
    let (_, _, html) = get_page(&phone, "/portal/status").await;
    assert!(
        html.contains(&wall("UTC")) && html.contains("UTC"),
        "{html}"
    );
}
