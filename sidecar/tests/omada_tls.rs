//! TLS trust modes against the simulator's HTTPS mode: by default a certificate shaped like
//! TP-Link's factory one (CN=localhost, no subjectAltName), which only a pin can trust; a
//! certificate with names (`SimCert::Named`) for the CA-file case. A refused certificate is
//! reported (subject, SHA-256, names, factory or not) so the host can pin it.

mod common;

use std::time::Duration;

use rental_wifi::omada::{AuthorizeRequest, OmadaClient, OmadaError, OmadaSettings, TlsTrust};
use rental_wifi::sim::omada::{self as sim, OmadaSim, OmadaSimConfig, SimCert};

use common::client_policy as fast;

async fn tls_sim() -> OmadaSim {
    tls_sim_with(SimCert::FactoryLike).await
}

async fn tls_sim_with(cert: SimCert) -> OmadaSim {
    let sim = sim::start(OmadaSimConfig {
        tls: true,
        tls_cert: cert,
        ..OmadaSimConfig::default()
    })
    .await
    .unwrap();
    assert!(
        sim.base_url().starts_with("https://127.0.0.1:"),
        "{}",
        sim.base_url()
    );
    sim
}

/// Hotspot settings for the TLS sim with no trust configured at all.
fn plain_settings(sim: &OmadaSim) -> OmadaSettings {
    OmadaSettings {
        cert_sha256: None,
        ca_cert_pem: None,
        verify_tls: true,
        ..sim.hotspot_only_settings()
    }
}

fn req() -> AuthorizeRequest {
    AuthorizeRequest {
        client_mac: "aa:bb:cc:dd:ee:01".parse().unwrap(),
        client_ip: None,
        site: "Default".into(),
        ap_mac: Some("AA-BB-CC-DD-EE-99".parse().unwrap()),
        ssid_name: Some("Guest".into()),
        radio_id: Some(0),
        gateway_mac: None,
        vid: None,
        duration: Duration::from_secs(60),
        down_kbps: None,
        up_kbps: None,
    }
}

#[tokio::test]
async fn default_verification_rejects_the_factory_certificate_and_reports_it() {
    let sim = tls_sim().await;
    let client = OmadaClient::new(plain_settings(&sim), fast()).unwrap();
    assert_eq!(client.tls_trust(), TlsTrust::Verified);
    let err = client.test().await.unwrap_err();
    let OmadaError::TlsUntrusted {
        message,
        certificate,
    } = &err
    else {
        panic!("{err:?}");
    };
    let cert = certificate.as_deref().expect("the certificate shown");
    assert_eq!(cert.subject, "O=TP-Link, OU=TP-Link, CN=localhost");
    assert_eq!(Some(cert.sha256.clone()), sim.cert_sha256());
    assert!(cert.san.is_empty());
    // The simulator's look-alike has its own key, so it is not the factory fingerprint.
    assert!(!cert.factory_default);
    // The advice is the pin, never a CA file (which cannot work without names).
    assert!(
        message.contains(&format!("cert_sha256 = {}", cert.sha256))
            && !message.contains("ca_cert_pem"),
        "{message}"
    );
    assert!(!err.is_transient());
    assert_eq!(
        sim.counters().requests,
        0,
        "no request got through the handshake"
    );
}

#[tokio::test]
async fn pinned_fingerprint_is_accepted_in_any_spelling() {
    let sim = tls_sim().await;
    let pin = sim.cert_sha256().unwrap();
    let colons = pin
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    for spelling in [pin.clone(), colons] {
        let client = OmadaClient::new(
            OmadaSettings {
                cert_sha256: Some(spelling.clone()),
                ..plain_settings(&sim)
            },
            fast(),
        )
        .unwrap();
        assert_eq!(client.tls_trust(), TlsTrust::Pinned);
        let info = client
            .test()
            .await
            .unwrap_or_else(|e| panic!("{spelling}: {e}"));
        assert_eq!(info.controller_id, sim.controller_id());
        client.authorize(&req()).await.unwrap();
    }
    assert_eq!(
        sim.authorized().len(),
        1,
        "second authorize replaced the first record"
    );
}

#[tokio::test]
async fn wrong_pin_is_rejected() {
    let sim = tls_sim().await;
    let mut wrong = sim.cert_sha256().unwrap().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let settings = OmadaSettings {
        cert_sha256: Some(String::from_utf8(wrong).unwrap()),
        ..plain_settings(&sim)
    };
    let err = OmadaClient::new(settings, fast())
        .unwrap()
        .test()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OmadaError::TlsUntrusted { message, certificate: Some(c) } if message.contains("pinned") && Some(c.sha256.clone()) == sim.cert_sha256()),
        "{err:?}"
    );
    assert_eq!(sim.counters().requests, 0);
}

#[tokio::test]
async fn pin_overrides_verify_tls_false() {
    let sim = tls_sim().await;
    let settings = OmadaSettings {
        cert_sha256: Some("00".repeat(32)),
        verify_tls: false,
        ..plain_settings(&sim)
    };
    let err = OmadaClient::new(settings, fast())
        .unwrap()
        .test()
        .await
        .unwrap_err();
    assert!(matches!(err, OmadaError::TlsUntrusted { .. }), "{err:?}");
}

#[tokio::test]
async fn a_ca_file_without_names_is_refused_with_the_pin_to_use() {
    let sim = tls_sim().await;
    let settings = OmadaSettings {
        ca_cert_pem: sim.cert_pem(),
        ..plain_settings(&sim)
    };
    let err = OmadaClient::new(settings, fast()).unwrap_err();
    match err {
        OmadaError::InvalidSettings { field, message } => {
            assert_eq!(field, "ca_cert_pem");
            assert!(
                message.contains("subjectAltName") && message.contains(&sim.cert_sha256().unwrap()),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ca_pem_is_accepted_for_a_certificate_with_names() {
    let sim = tls_sim_with(SimCert::Named).await;
    let settings = OmadaSettings {
        ca_cert_pem: sim.cert_pem(),
        ..plain_settings(&sim)
    };
    let client = OmadaClient::new(settings.clone(), fast()).unwrap();
    assert_eq!(client.tls_trust(), TlsTrust::Verified);
    client.test().await.unwrap();
    client.authorize(&req()).await.unwrap();
    assert_eq!(sim.authorized().len(), 1);
    // Hostname verification stays on: the certificate names localhost and 127.0.0.1 only.
    let other_sim = tls_sim_with(SimCert::Named).await;
    let mismatched = OmadaSettings {
        base_url: other_sim.base_url(),
        ..settings
    };
    let err = OmadaClient::new(mismatched, fast())
        .unwrap()
        .test()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OmadaError::TlsUntrusted { certificate: Some(c), .. } if c.san == ["localhost", "127.0.0.1"]),
        "another controller's certificate is not trusted: {err:?}"
    );
}

#[tokio::test]
async fn verify_tls_false_accepts() {
    let sim = tls_sim().await;
    let client = OmadaClient::new(
        OmadaSettings {
            verify_tls: false,
            ..plain_settings(&sim)
        },
        fast(),
    )
    .unwrap();
    assert_eq!(client.tls_trust(), TlsTrust::Disabled);
    client.test().await.unwrap();
    client.authorize(&req()).await.unwrap();
    let auth = sim.requests_to("/extPortal/auth");
    assert!(
        auth[0]
            .cookie
            .as_deref()
            .unwrap_or("")
            .contains("TPOMADA_SESSIONID="),
        "Secure cookie is sent over https"
    );
}

#[tokio::test]
async fn openapi_over_pinned_tls() {
    let sim = tls_sim().await;
    let client = OmadaClient::new(sim.openapi_settings(), fast()).unwrap();
    client.authorize(&req()).await.unwrap();
    client
        .unauthorize("Default", "aa:bb:cc:dd:ee:01".parse().unwrap())
        .await
        .unwrap();
    assert!(sim.authorized().is_empty());
    assert_eq!(sim.counters().disconnects, 1);
    // A successful settings test shows the certificate it trusted.
    let info = client.test().await.unwrap();
    let cert = info.certificate.expect("https");
    assert_eq!(Some(cert.sha256), sim.cert_sha256());
}
