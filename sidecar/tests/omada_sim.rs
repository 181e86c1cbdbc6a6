//! The simulator's wire behaviour and its `/_sim/` control API, spoken to directly over HTTP
//! (what an out-of-process test, e.g. Python, sees).

use std::sync::Arc;

use rental_wifi::sim::omada::{self as sim, OmadaSimConfig, SimCert};
use serde_json::{json, Value};

fn http() -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.unwrap()
}

#[tokio::test]
async fn api_info_has_the_captured_shape() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let v = json_of(
        http()
            .get(format!("{}/api/info", sim.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        v,
        json!({"errorCode": 0, "msg": "Success.", "result": {
            "controllerVer": "5.15.24", "apiVer": "3", "configured": true, "type": 1, "supportApp": true, "omadacId": sim.controller_id(),
        }})
    );
}

#[tokio::test]
async fn hotspot_wire_protocol_by_hand() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let base = sim.base_url();
    let id = sim.controller_id();
    let c = http();
    // Switch behaviour over HTTP: old cookie name, HTML expiry page.
    let b = json_of(
        c.post(format!("{base}/_sim/behaviour"))
            .json(&json!({"cookie_name": "TPEAP_SESSIONID", "session_expiry": "html"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (b["cookie_name"].as_str(), b["session_expiry"].as_str()),
        (Some("TPEAP_SESSIONID"), Some("html"))
    );

    let login = format!("{base}/{id}/api/v2/hotspot/login");
    let bad = json_of(
        c.post(&login)
            .json(&json!({"name": "operator", "password": "nope"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(bad["errorCode"], -30109);
    let wrong_key = json_of(
        c.post(&login)
            .json(&json!({"login": "operator", "password": "operator-pass"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        wrong_key["errorCode"], -1,
        "the field is `name`, not `login`/`username`"
    );

    let resp = c
        .post(&login)
        .json(&json!({"name": "operator", "password": sim.config().operator_password}))
        .send()
        .await
        .unwrap();
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.starts_with("TPEAP_SESSIONID="), "{set_cookie}");
    let v = json_of(resp).await;
    assert_eq!(v["msg"], "Hotspot log in successfully.");
    let token = v["result"]["token"].as_str().unwrap().to_string();
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    let auth = format!("{base}/{id}/api/v2/hotspot/extPortal/auth");
    let eap_ints = json!({"clientMac": "AA-BB-CC-DD-EE-01", "apMac": "AA-BB-CC-DD-EE-99", "ssidName": "Guest", "radioId": 1, "site": "Default", "time": 60000, "authType": 4});
    // No CSRF token: the session is not accepted (HTML login page in this mode).
    let r = c
        .post(&auth)
        .header("Cookie", &cookie)
        .json(&eap_ints)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // Integers are accepted as well as strings.
    let post = |body: Value| {
        c.post(&auth)
            .header("Cookie", &cookie)
            .header("Csrf-Token", &token)
            .json(&body)
            .send()
    };
    assert_eq!(
        json_of(post(eap_ints.clone()).await.unwrap()).await,
        json!({"errorCode": 0, "msg": "Success."})
    );
    // authType other than 4 → -41501; malformed → -1.
    let mut voucher = eap_ints.clone();
    voucher["authType"] = json!(3);
    assert_eq!(
        json_of(post(voucher).await.unwrap()).await["errorCode"],
        -41501
    );
    for broken in [
        json!({"clientMac": "AA-BB-CC-DD-EE-01", "apMac": "AA-BB-CC-DD-EE-99", "radioId": "1", "site": "Default", "time": "60000", "authType": "4"}),
        json!({"clientMac": "nope", "gatewayMac": "AA-BB-CC-DD-EE-98", "vid": "1", "site": "Default", "time": "60000", "authType": "4"}),
        json!({"clientMac": "AA-BB-CC-DD-EE-01", "gatewayMac": "AA-BB-CC-DD-EE-98", "site": "Default", "time": "60000", "authType": "4"}),
        json!({"clientMac": "AA-BB-CC-DD-EE-01", "gatewayMac": "AA-BB-CC-DD-EE-98", "vid": "1", "time": "60000", "authType": "4"}),
        json!({"clientMac": "AA-BB-CC-DD-EE-01", "gatewayMac": "AA-BB-CC-DD-EE-98", "vid": "1", "site": "Default", "authType": "4"}),
        json!({"clientMac": "AA-BB-CC-DD-EE-01", "apMac": "AA-BB-CC-DD-EE-99", "gatewayMac": "AA-BB-CC-DD-EE-98", "ssidName": "G", "radioId": "0", "vid": "1", "site": "Default", "time": "1", "authType": "4"}),
        json!({"clientMac": "AA-BB-CC-DD-EE-01", "apMac": "AA-BB-CC-DD-EE-99", "ssidName": "G", "radioId": "7", "site": "Default", "time": "1", "authType": "4"}),
    ] {
        assert_eq!(
            json_of(post(broken.clone()).await.unwrap()).await,
            json!({"errorCode": -1, "msg": "General error."}),
            "{broken}"
        );
    }

    // Hotspot-Manager paths take the site id; a name there is not a site.
    let site_id = sim.site_id("Default").unwrap();
    let list_of = |site: String| {
        c.get(format!(
            "{base}/{id}/api/v2/hotspot/sites/{site}/clients?currentPage=1&currentPageSize=10"
        ))
        .header("Cookie", &cookie)
        .header("Csrf-Token", &token)
        .send()
    };
    let by_name = json_of(list_of("Default".into()).await.unwrap()).await;
    assert_eq!(by_name["errorCode"], -1001, "{by_name}");
    let list = json_of(list_of(site_id.clone()).await.unwrap()).await;
    assert_eq!(list["result"]["totalRows"], 1);
    assert_eq!(list["result"]["data"][0]["mac"], "AA-BB-CC-DD-EE-01");
    assert_eq!(list["result"]["data"][0]["valid"], true);
    assert_eq!(list["result"]["data"][0]["authType"], 4);
    let rid = sim.authorized()[0].id.clone();
    let disconnect = |site: String| {
        c.post(format!(
            "{base}/{id}/api/v2/hotspot/sites/{site}/cmd/clients/{rid}/disconnect"
        ))
        .header("Cookie", &cookie)
        .header("Csrf-Token", &token)
        .send()
    };
    let d = json_of(disconnect("Default".into()).await.unwrap()).await;
    assert_eq!(d["errorCode"], -1001);
    assert_eq!(sim.authorized().len(), 1, "nothing ended by a name path");
    let d = json_of(disconnect(site_id.clone()).await.unwrap()).await;
    assert_eq!(d["errorCode"], 0);

    // Control API views.
    let clients = json_of(c.get(format!("{base}/_sim/clients")).send().await.unwrap()).await;
    assert_eq!(clients, json!([]));
    let all = json_of(
        c.get(format!("{base}/_sim/clients?all=1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(all[0]["mac"], "AA-BB-CC-DD-EE-01");
    assert_eq!(all[0]["duration_ms"], 60000);
    assert_eq!(all[0]["valid"], false);
    let counters = json_of(c.get(format!("{base}/_sim/counters")).send().await.unwrap()).await;
    assert_eq!(
        (
            counters["logins"].as_u64(),
            counters["auths"].as_u64(),
            counters["disconnects"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let reqs = json_of(c.get(format!("{base}/_sim/requests")).send().await.unwrap()).await;
    let auths: Vec<&Value> = reqs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/extPortal/auth"))
        .collect();
    assert_eq!(auths.len(), 10);
    assert_eq!(
        reqs.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["path"].as_str().unwrap().ends_with("/disconnect"))
            .count(),
        2
    );
    assert_eq!(auths[1]["body"]["radioId"], 1);
    assert_eq!(auths[1]["csrf_token"].as_str(), Some(token.as_str()));

    let r = json_of(c.post(format!("{base}/_sim/reset")).send().await.unwrap()).await;
    assert_eq!(r["reset"], true);
    assert!(sim.auth_records().is_empty());
    assert_eq!(sim.behaviour().cookie_name, "TPOMADA_SESSIONID");
}

#[tokio::test]
async fn outage_and_failures_via_the_control_api() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let base = sim.base_url();
    let c = http();
    let set = |body: Value| c.post(format!("{base}/_sim/behaviour")).json(&body).send();
    assert_eq!(set(json!({"outage": "drop"})).await.unwrap().status(), 200);
    let fresh = http();
    assert!(
        fresh.get(format!("{base}/api/info")).send().await.is_err(),
        "connection dropped"
    );
    // The control API stays reachable during the outage.
    assert_eq!(set(json!({"outage": "503"})).await.unwrap().status(), 200);
    assert_eq!(
        fresh
            .get(format!("{base}/api/info"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    set(json!({"outage": false, "fail_next": 1, "fail_status": 500}))
        .await
        .unwrap();
    assert_eq!(
        fresh
            .get(format!("{base}/api/info"))
            .send()
            .await
            .unwrap()
            .status(),
        500
    );
    assert_eq!(
        fresh
            .get(format!("{base}/api/info"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        set(json!({"outage": "sometimes"})).await.unwrap().status(),
        400
    );
    assert_eq!(set(json!({"no_such_knob": 1})).await.unwrap().status(), 400);
    let counters = sim.counters();
    assert!(counters.dropped_connections >= 1);
    assert_eq!((counters.outage_503, counters.injected_failures), (1, 1));
}

#[tokio::test]
async fn openapi_wire_protocol_by_hand() {
    let sim = sim::start(OmadaSimConfig::default()).await.unwrap();
    let base = sim.base_url();
    let id = sim.controller_id();
    let c = http();
    let tok = |q: &'static str, body: Value| {
        c.post(format!("{base}/openapi/authorize/token{q}"))
            .json(&body)
            .send()
    };
    let creds =
        json!({"omadacId": id, "client_id": "sim-client-id", "client_secret": "sim-client-secret"});
    assert_eq!(
        json_of(tok("", creds.clone()).await.unwrap()).await["errorCode"],
        -44111
    );
    assert_eq!(
        json_of(
            tok(
                "?grant_type=client_credentials",
                json!({"omadacId": id, "client_id": "x", "client_secret": "y"})
            )
            .await
            .unwrap()
        )
        .await["errorCode"],
        -44106
    );
    let v = json_of(tok("?grant_type=client_credentials", creds).await.unwrap()).await;
    assert_eq!(v["result"]["expiresIn"], 7200);
    assert_eq!(v["result"]["tokenType"], "bearer");
    let auth = format!(
        "AccessToken={}",
        v["result"]["accessToken"].as_str().unwrap()
    );

    let sites_url = format!("{base}/openapi/v1/{id}/sites");
    assert_eq!(
        c.get(&sites_url)
            .query(&[("page", 1), ("pageSize", 10)])
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        json_of(
            c.get(&sites_url)
                .header("Authorization", &auth)
                .send()
                .await
                .unwrap()
        )
        .await["errorCode"],
        -1001,
        "page/pageSize required"
    );
    let sites = json_of(
        c.get(&sites_url)
            .query(&[("page", 1), ("pageSize", 10)])
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(sites["result"]["totalRows"], 1);
    assert_eq!(sites["result"]["data"][0]["name"], "Default");
    let site_id = sites["result"]["data"][0]["siteId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(site_id.len(), 24);

    let client_url = |mac: &str, action: &str| {
        format!("{base}/openapi/v1/{id}/sites/{site_id}/hotspot/clients/{mac}/{action}")
    };
    let post = |url: String| c.post(url).header("Authorization", &auth).send();
    assert_eq!(
        json_of(post(client_url("aa:bb:cc:dd:ee:01", "auth")).await.unwrap()).await["errorCode"],
        -1001,
        "MAC must be AA-BB-CC-DD-EE-FF"
    );
    assert_eq!(
        json_of(post(client_url("AA-BB-CC-DD-EE-01", "auth")).await.unwrap()).await["errorCode"],
        0
    );
    assert_eq!(sim.authorized().len(), 1);
    assert_eq!(
        json_of(
            post(client_url("AA-BB-CC-DD-EE-01", "unauth"))
                .await
                .unwrap()
        )
        .await["errorCode"],
        0
    );
    let gone = json_of(
        post(client_url("AA-BB-CC-DD-EE-01", "unauth"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(gone["msg"], "The client does not exist.");

    sim.expire_sessions();
    assert_eq!(
        json_of(post(client_url("AA-BB-CC-DD-EE-01", "auth")).await.unwrap()).await["errorCode"],
        -44112
    );
}

#[tokio::test]
async fn tls_mode_exposes_its_certificate_and_shutdown_stops_it() {
    // A certificate of the host's own, with names: a CA file can verify it.
    let sim = sim::start(OmadaSimConfig {
        tls: true,
        tls_cert: SimCert::Named,
        ..OmadaSimConfig::default()
    })
    .await
    .unwrap();
    let pem = sim.cert_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
        .map(|c: rustls::pki_types::CertificateDer<'static>| c)
        .unwrap();
    assert_eq!(
        rental_wifi::omada::tls::sha256_hex(der.as_ref()),
        sim.cert_sha256().unwrap()
    );
    let info = json_of(
        reqwest::Client::builder()
            .tls_backend_preconfigured(
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates({
                    let mut roots = rustls::RootCertStore::empty();
                    roots.add(der).unwrap();
                    roots
                })
                .with_no_client_auth(),
            )
            .build()
            .unwrap()
            .get(format!("{}/_sim/info", sim.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info["cert_sha256"].as_str(), sim.cert_sha256().as_deref());
    assert_eq!(
        info["controller_id"].as_str(),
        Some(sim.controller_id().as_str())
    );

    let addr = sim.base_url().trim_start_matches("https://").to_string();
    sim.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed after shutdown"
    );
}
