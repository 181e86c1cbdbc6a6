//! A real sidecar in this process on `127.0.0.1:0` with a fresh data dir.

use std::path::PathBuf;

use rental_wifi::app::{App, Handle};
use rental_wifi::clock::Clock;
use rental_wifi::config::{Config, Overrides};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::portal::{redirect_query, submit_form, PortalResult};

pub struct TestApp {
    pub api: String,
    pub portal: String,
    /// The portal over HTTPS (`https://127.0.0.1:<port>`), when the configuration names a
    /// certificate (`server.portal_tls_cert`/`portal_tls_key`).
    pub portal_https: Option<String>,
    pub token: String,
    pub http: reqwest::Client,
    /// The app's test handle (wake the timers, outbox depth, portal tokens).
    pub handle: Handle,
    pub data_dir: PathBuf,
    pub clock: Clock,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub(crate) _tmp: Option<tempfile::TempDir>,
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
        Self::spawn_full(config, clock, rental_wifi::omada::RetryPolicy::default()).await
    }

    pub async fn spawn_full(
        config: Config,
        clock: Clock,
        policy: rental_wifi::omada::RetryPolicy,
    ) -> TestApp {
        rental_wifi::init_crypto();
        let dir = config.server.data_dir.clone();
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        // The sidecar's own listeners (deep accept queue), on ports the kernel picks.
        let api = rental_wifi::app::listen(loopback).unwrap();
        let portal = rental_wifi::app::listen(loopback).unwrap();
        let api_addr = api.local_addr().unwrap();
        let portal_addr = portal.local_addr().unwrap();
        let https = config
            .server
            .portal_tls_cert
            .as_ref()
            .map(|_| rental_wifi::app::listen(loopback).unwrap());
        let https_addr = https.as_ref().map(|l| l.local_addr().unwrap());
        let app = App::build_with(config, clock.clone(), policy)
            .await
            .expect("app builds");
        let handle = app.handle();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_with_https(api, portal, https, async move {
            let _ = rx.await;
        }));
        TestApp {
            api: format!("http://{api_addr}"),
            portal: format!("http://{portal_addr}"),
            portal_https: https_addr.map(|a| format!("https://{a}")),
            token: handle.token().to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            handle,
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

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
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

    /// Point the sidecar at the Omada simulator (hotspot operator), through the API.
    pub async fn use_controller(&self, sim: &rental_wifi::sim::omada::OmadaSim) {
        let settings = serde_json::to_value(sim.hotspot_settings()).unwrap();
        let (s, b) = self.put("/api/v1/settings/omada", settings).await;
        assert_eq!(s, 200, "{b}");
    }

    /// A guest: GET the portal with a redirect, POST the form with `code` (+ extra fields).
    pub async fn redeem_with(
        &self,
        query: &str,
        code: &str,
        extra: &[(&str, &str)],
        lang: Option<&str>,
    ) -> PortalResult {
        submit_form(&self.http, &self.portal, query, code, extra, lang)
            .await
            .expect("the portal answers")
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
        Self::start_with(config_for(dir), clock).await
    }

    /// With this configuration (its data dir is the caller's to keep).
    pub async fn start_with(config: Config, clock: Clock) -> PortalEnv {
        let sim = super::omada_sim().await;
        let app = TestApp::spawn_full(config, clock, super::fast_policy()).await;
        app.use_controller(&sim).await;
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
