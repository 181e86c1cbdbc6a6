//! Driving the guest portal like a phone: the controller's redirect, the login page, the
//! form posted back with its hidden fields.

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

/// Redirect query for a guest on an AP with this SSID (site `Default`).
pub fn redirect_query(mac: &str, ssid: &str) -> String {
    format!(
        "clientMac={mac}&clientIp=192.168.0.23&t=1677047514&site=Default&redirectUrl=http%3A%2F%2Fexample.com%2F&apMac=B0-95-75-15-93-44&ssidName={}&radioId=1",
        ssid.replace(' ', "%20")
    )
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
