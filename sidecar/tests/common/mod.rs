//! Test support: a real sidecar on 127.0.0.1:0 with a fresh data dir.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use rental_wifi::app::{App, AppState};
use rental_wifi::clock::Clock;
use rental_wifi::config::{Config, Overrides};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct TestApp {
    pub api: String,
    pub portal: String,
    pub token: String,
    pub http: reqwest::Client,
    pub state: Arc<AppState>,
    pub data_dir: PathBuf,
    pub clock: Clock,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

pub fn config_for(dir: &std::path::Path) -> Config {
    let flags = Overrides {
        data_dir: Some(dir.to_owned()),
        api_listen: Some("127.0.0.1:0".into()),
        portal_listen: Some("127.0.0.1:0".into()),
    };
    Config::load(None, &Default::default(), &flags).expect("test config")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        let mut app = Self::spawn_in(&dir, Clock::system()).await;
        app._tmp = Some(tmp);
        app
    }

    pub async fn spawn_in(dir: &std::path::Path, clock: Clock) -> TestApp {
        Self::spawn_with(config_for(dir), clock).await
    }

    pub async fn spawn_with(config: Config, clock: Clock) -> TestApp {
        rental_wifi::init_crypto();
        let dir = config.server.data_dir.clone();
        let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let portal = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr = api.local_addr().unwrap();
        let portal_addr = portal.local_addr().unwrap();
        let app = App::build(config, clock.clone()).await.expect("app builds");
        let state = app.state.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(api, portal, async move {
            let _ = rx.await;
        }));
        TestApp {
            api: format!("http://{api_addr}"),
            portal: format!("http://{portal_addr}"),
            token: state.token.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            state,
            data_dir: dir,
            clock,
            stop: Some(tx),
            task: Some(task),
            _tmp: None,
        }
    }

    /// Stop serving and wait for the drain to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.api, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> u16 {
        self.send(reqwest::Method::DELETE, path, None).await.0
    }

    pub async fn raw_post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn unit(&self, id: &str) {
        let (s, b) = self
            .post(
                "/api/v1/units",
                serde_json::json!({"unit_id": id, "name": format!("Unit {id}")}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }

    pub async fn count_vouchers(&self) -> u64 {
        let (s, b) = self.get("/api/v1/vouchers?limit=0").await;
        assert_eq!(s, 200);
        b["total"].as_u64().unwrap()
    }
}

pub fn err_code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// A short controller retry policy so outage tests take milliseconds, not 10 s.
pub fn fast_policy() -> rental_wifi::omada::RetryPolicy {
    rental_wifi::omada::RetryPolicy {
        base: std::time::Duration::from_millis(5),
        cap: std::time::Duration::from_millis(20),
        attempts: 2,
        deadline: std::time::Duration::from_millis(800),
        attempt_timeout: std::time::Duration::from_millis(400),
    }
}

/// A sidecar wired to a fresh simulated Omada controller, with one unit `beach`
/// (site Default, SSID "Beach Guest").
pub struct PortalEnv {
    pub app: TestApp,
    pub sim: rental_wifi::sim::omada::OmadaSim,
}

impl PortalEnv {
    pub async fn start() -> PortalEnv {
        let tmp = tempfile::tempdir().unwrap();
        let mut env = Self::start_at(tmp.path(), Clock::system()).await;
        env.app._tmp = Some(tmp);
        env
    }

    /// On a data dir the caller keeps (for restart tests).
    pub async fn start_at(dir: &std::path::Path, clock: Clock) -> PortalEnv {
        rental_wifi::init_crypto();
        let sim = rental_wifi::sim::omada::start(Default::default())
            .await
            .unwrap();
        let app = TestApp::spawn_full(config_for(dir), clock, fast_policy()).await;
        let settings = serde_json::to_value(sim.hotspot_settings()).unwrap();
        let (s, b) = app
            .send(
                reqwest::Method::PUT,
                "/api/v1/settings/omada",
                Some(settings),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = app.post("/api/v1/units", serde_json::json!({"unit_id": "beach", "name": "Beach House", "ssids": ["Beach Guest"]})).await;
        assert_eq!(s, 201, "{b}");
        PortalEnv { app, sim }
    }

    pub async fn voucher(&self, body: Value) -> String {
        let mut b = serde_json::json!({"unit_id": "beach", "duration_minutes": 120});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (s, v) = self.app.post("/api/v1/vouchers", b).await;
        assert!(s == 201 || s == 200, "{v}");
        v["code"].as_str().unwrap().to_owned()
    }
}

/// The outcome of one guest's GET + POST through the portal.
#[derive(Debug)]
pub struct PortalResult {
    pub status: u16,
    pub result: String,
    pub body: String,
}

/// Redirect query for a guest on the beach SSID.
pub fn redirect_query(mac: &str, ssid: &str) -> String {
    format!(
        "clientMac={mac}&clientIp=192.168.0.23&t=1677047514&site=Default&redirectUrl=http%3A%2F%2Fexample.com%2F&apMac=B0-95-75-15-93-44&ssidName={}&radioId=1",
        ssid.replace(' ', "%20")
    )
}

pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input type=\"hidden\" name=\"").skip(1) {
        let name = part.split('"').next().unwrap().to_owned();
        let value = part
            .split("value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let value = value
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'");
        out.push((name, value));
    }
    out
}

pub fn result_of(html: &str) -> String {
    html.split("data-result=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("none")
        .to_owned()
}

impl TestApp {
    pub async fn spawn_full(
        config: Config,
        clock: Clock,
        policy: rental_wifi::omada::RetryPolicy,
    ) -> TestApp {
        rental_wifi::init_crypto();
        let dir = config.server.data_dir.clone();
        let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let portal = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr = api.local_addr().unwrap();
        let portal_addr = portal.local_addr().unwrap();
        let app = App::build_with(config, clock.clone(), policy)
            .await
            .expect("app builds");
        let state = app.state.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(api, portal, async move {
            let _ = rx.await;
        }));
        TestApp {
            api: format!("http://{api_addr}"),
            portal: format!("http://{portal_addr}"),
            token: state.token.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            state,
            data_dir: dir,
            clock,
            stop: Some(tx),
            task: Some(task),
            _tmp: None,
        }
    }

    /// A guest: GET the portal with a redirect, POST the form with `code` (+ extra fields).
    pub async fn redeem_with(
        &self,
        query: &str,
        code: &str,
        extra: &[(&str, &str)],
        lang: Option<&str>,
    ) -> PortalResult {
        let mut get = self.http.get(format!("{}/portal?{query}", self.portal));
        if let Some(l) = lang {
            get = get.header("accept-language", l);
        }
        let page = get.send().await.unwrap();
        assert_eq!(page.status(), 200, "GET /portal");
        let html = page.text().await.unwrap();
        let mut form = hidden_fields(&html);
        form.push(("code".into(), code.into()));
        for (k, v) in extra {
            form.push(((*k).into(), (*v).into()));
        }
        let mut post = self
            .http
            .post(format!("{}/portal", self.portal))
            .form(&form);
        if let Some(l) = lang {
            post = post.header("accept-language", l);
        }
        let r = post.send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        PortalResult {
            status,
            result: result_of(&body),
            body,
        }
    }

    pub async fn redeem(&self, mac: &str, code: &str) -> PortalResult {
        self.redeem_with(&redirect_query(mac, "Beach Guest"), code, &[], None)
            .await
    }

    pub async fn active_grants(&self) -> Vec<Value> {
        let (s, b) = self.get("/api/v1/grants?active=true").await;
        assert_eq!(s, 200);
        b["grants"].as_array().unwrap().clone()
    }
}

/// Poll `f` until it is true or `secs` pass.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}
