//! Driving the guest portal like a phone: the controller's redirect, the login page, the
//! form posted back with its hidden fields.

use std::net::IpAddr;

/// The outcome of one guest's GET + POST through the portal.
#[derive(Debug)]
pub struct PortalResult {
    pub status: u16,
    /// The page's `data-result` marker (`success`, `error`, …; `none` when absent).
    pub result: String,
    pub body: String,
}

impl PortalResult {
    pub fn succeeded(&self) -> bool {
        self.result == "success"
    }
}

/// Where the tests' HTTP clients connect from, unless they bind another loopback address.
pub const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Redirect query for a guest on an AP with this SSID (site `Default`), whose address the
/// controller saw as 127.0.0.1: where the tests connect from, so the portal's `clientIp`
/// check (DESIGN §10 "Who is asking") sees the address it expects.
pub fn redirect_query(mac: &str, ssid: &str) -> String {
    redirect_query_from(mac, ssid, LOOPBACK)
}

/// [`redirect_query`] for a guest whose address is `client_ip`.
pub fn redirect_query_from(mac: &str, ssid: &str, client_ip: IpAddr) -> String {
    format!(
        "clientMac={mac}&clientIp={client_ip}&t=1677047514&site=Default&redirectUrl=http%3A%2F%2Fexample.com%2F&apMac=B0-95-75-15-93-44&ssidName={}&radioId=1",
        ssid.replace(' ', "%20")
    )
}

/// A guest's phone at its own loopback address (127.x.y.z: Linux routes all of 127/8 to
/// `lo`), so the portal sees the peer address a real Wi-Fi would show it, and the redirect
/// carries that address as `clientIp`.
pub struct Phone {
    pub http: reqwest::Client,
    pub portal: String,
    pub addr: IpAddr,
}

impl Phone {
    /// A phone at `addr` using the portal at `portal` (base URL).
    pub fn at(portal: &str, addr: impl Into<IpAddr>) -> Phone {
        let addr = addr.into();
        Phone {
            http: reqwest::Client::builder()
                .local_address(addr)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap(),
            portal: portal.to_owned(),
            addr,
        }
    }

    /// The hidden fields of the login page for `query` (its token is bound to MAC + address).
    pub async fn form_for(&self, query: &str) -> Vec<(String, String)> {
        let page = self
            .http
            .get(format!("{}/portal?{query}", self.portal))
            .send()
            .await
            .expect("GET /portal");
        assert_eq!(page.status(), 200, "GET /portal");
        hidden_fields(&page.text().await.unwrap())
    }

    /// The login page's hidden fields for `mac` on SSID "Beach Guest", the redirect
    /// carrying this phone's address.
    pub async fn form(&self, mac: &str) -> Vec<(String, String)> {
        self.form_for(&redirect_query_from(mac, "Beach Guest", self.addr))
            .await
    }

    /// POST `form` with `code`: (status, `data-result` marker).
    pub async fn post(&self, form: &[(String, String)], code: &str) -> (u16, String) {
        let r = self.post_page(form, code).await;
        (r.status, r.result)
    }

    /// POST `form` with `code`: the whole answer.
    pub async fn post_page(&self, form: &[(String, String)], code: &str) -> PortalResult {
        let mut form = form.to_vec();
        form.push(("code".into(), code.into()));
        let r = self
            .http
            .post(format!("{}/portal", self.portal))
            .form(&form)
            .send()
            .await
            .expect("POST /portal");
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        PortalResult {
            status,
            result: result_of(&body),
            body,
        }
    }

    /// GET the page for `mac`, POST it back with `code`.
    pub async fn try_code(&self, mac: &str, code: &str) -> (u16, String) {
        let form = self.form(mac).await;
        self.post(&form, code).await
    }
}

/// Undo the HTML escaping of attribute values and text.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `name="…" value="…"` of every hidden input of a page.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap_or(part.len())];
        if !tag.contains(r#"type="hidden""#) {
            continue;
        }
        let attr = |name: &str| {
            let key = format!(r#" {name}=""#);
            tag.find(&key).map(|i| {
                let rest = &tag[i + key.len()..];
                unescape(&rest[..rest.find('"').unwrap_or(rest.len())])
            })
        };
        if let Some(name) = attr("name") {
            out.push((name, attr("value").unwrap_or_default()));
        }
    }
    out
}

/// The `data-result` marker of a portal page (`none` when absent).
pub fn result_of(html: &str) -> String {
    html.split("data-result=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("none")
        .to_owned()
}

/// A guest at `portal` (base URL): GET the login page for `query`, POST the form back with
/// `code` and `extra` fields, in `lang` when given. `None` when the connection failed (a
/// sidecar killed meanwhile).
pub async fn submit_form(
    http: &reqwest::Client,
    portal: &str,
    query: &str,
    code: &str,
    extra: &[(&str, &str)],
    lang: Option<&str>,
) -> Option<PortalResult> {
    let mut get = http.get(format!("{portal}/portal?{query}"));
    if let Some(l) = lang {
        get = get.header("accept-language", l);
    }
    let page = get.send().await.ok()?;
    assert_eq!(page.status(), 200, "GET /portal");
    let html = page.text().await.ok()?;
    let mut form = hidden_fields(&html);
    assert!(
        form.iter().any(|(k, _)| k == "csrf"),
        "no csrf field: {html}"
    );
    form.push(("code".into(), code.into()));
    for (k, v) in extra {
        form.push(((*k).into(), (*v).into()));
    }
    let mut post = http.post(format!("{portal}/portal")).form(&form);
    if let Some(l) = lang {
        post = post.header("accept-language", l);
    }
    let r = post.send().await.ok()?;
    let status = r.status().as_u16();
    let body = r.text().await.ok()?;
    Some(PortalResult {
        status,
        result: result_of(&body),
        body,
    })
}
