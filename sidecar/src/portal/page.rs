//! The portal's HTML pages (maud: every value is escaped).
//!
//! Each page is one self-contained document: inline `<style>`, no scripts, fonts, images or
//! other requests (the guest has no internet yet), mobile first, usable by keyboard and
//! screen reader. The colours are checked against WCAG AA in the tests below.
//!
//! URLs that end up in an `href` are re-checked here whatever the caller did: the continue
//! link only for absolute `http(s)` URLs, the terms link also for a same-site path (`/…`,
//! not `//…`). An unsafe terms URL drops the link, not the checkbox.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use time::OffsetDateTime;

use super::branding::Accent;
use super::errors::PortalError;
use super::i18n::{self, Lang};
use super::markdown;
use super::redirect::safe_http_url;

/// Where the login form posts.
pub const FORM_ACTION: &str = "/portal";

/// A `Content-Security-Policy` that fits these pages; also sent as `<meta>`. Send it as a
/// header too (with `frame-ancestors 'none'`, which only works as a header).
/// Note for browser tests: inject scripts with CSP bypassed (Playwright `bypassCSP: true`).
/// `form-action 'self'`: the login form can only ever post back to the portal (`default-src`
/// does not cover form targets), whatever markup an injection might add.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'";

/// [`CONTENT_SECURITY_POLICY`] for a page that shows the unit's logo: images from the
/// portal's own origin too, nothing else changes.
pub const CONTENT_SECURITY_POLICY_WITH_LOGO: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'";

/// The policy a page carries (its `<meta>` and the handler's header must agree): with the
/// logo only when the page shows one.
pub fn policy_for(welcome: Option<&Welcome<'_>>) -> &'static str {
    if welcome.is_some_and(|w| w.logo_src.and_then(safe_logo_src).is_some()) {
        CONTENT_SECURITY_POLICY_WITH_LOGO
    } else {
        CONTENT_SECURITY_POLICY
    }
}

/// What a guest typed, made fit to show again: control characters (C0, DEL, C1) and the
/// invisible formatting characters that reorder or hide text (bidi embeddings, overrides and
/// isolates, zero-width characters) are dropped; maud escapes the rest for HTML.
pub fn echo_safe(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(
                    c,
                    '\u{200B}'..='\u{200F}'
                        | '\u{202A}'..='\u{202E}'
                        | '\u{2060}'..='\u{2069}'
                        | '\u{FEFF}'
                )
        })
        .collect()
}

/// The login page with the code form.
#[derive(Debug, Clone)]
pub struct LoginPage<'a> {
    pub lang: Lang,
    pub unit_name: Option<&'a str>,
    /// When set, a required `accept_terms` checkbox appears (with a link when the URL is safe).
    pub terms_url: Option<&'a str>,
    pub error: Option<PortalError>,
    pub csrf: &'a str,
    /// The redirect context, from `RedirectContext::to_hidden_fields`.
    pub hidden: &'a [(&'a str, String)],
    /// What the guest typed last time (shown again after an error).
    pub code_value: &'a str,
}

/// The page after a successful redemption.
#[derive(Debug, Clone)]
pub struct SuccessPage<'a> {
    pub lang: Lang,
    pub unit_name: Option<&'a str>,
    /// From `RedirectContext::safe_continue_url`; re-checked here.
    pub continue_url: Option<&'a str>,
    /// Shown in the offset it carries: pass the unit's local time if known (shown as is),
    /// or UTC (shown with "UTC").
    pub expires_at: Option<OffsetDateTime>,
}

// --- colours -------------------------------------------------------------------------------

/// One colour scheme. Pairs that carry text must reach 4.5:1, UI boundaries 3:1 (tested).
#[derive(Debug, Clone, Copy)]
struct Palette {
    bg: &'static str,
    surface: &'static str,
    text: &'static str,
    muted: &'static str,
    border: &'static str,
    accent: &'static str,
    on_accent: &'static str,
    link: &'static str,
    error_bg: &'static str,
    error_text: &'static str,
    error_border: &'static str,
    ok: &'static str,
    focus: &'static str,
}

const LIGHT: Palette = Palette {
    bg: "#eef1f4",
    surface: "#ffffff",
    text: "#17202a",
    muted: "#4a5663",
    border: "#6b7785",
    accent: "#0a58a8",
    on_accent: "#ffffff",
    link: "#0a58a8",
    error_bg: "#fdeceb",
    error_text: "#8c1d12",
    error_border: "#b3261e",
    ok: "#1b6b34",
    focus: "#0a58a8",
};

const DARK: Palette = Palette {
    bg: "#0f1419",
    surface: "#1a2129",
    text: "#e9eef3",
    muted: "#b3bfcb",
    border: "#8793a0",
    accent: "#7cb8f7",
    on_accent: "#0b1725",
    link: "#8cc2ff",
    error_bg: "#3b1714",
    error_text: "#ffc2ba",
    error_border: "#f28b82",
    ok: "#7fd99a",
    focus: "#8cc2ff",
};

fn vars(p: &Palette) -> String {
    format!(
        "--bg:{};--surface:{};--text:{};--muted:{};--border:{};--accent:{};--on-accent:{};--link:{};\
         --error-bg:{};--error-text:{};--error-border:{};--ok:{};--focus:{};",
        p.bg, p.surface, p.text, p.muted, p.border, p.accent, p.on_accent, p.link, p.error_bg, p.error_text, p.error_border, p.ok, p.focus
    )
}

static CSS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        ":root{{{light}color-scheme:light dark}}\
@media (prefers-color-scheme:dark){{:root{{{dark}}}}}\
*,*::before,*::after{{box-sizing:border-box}}\
html{{-webkit-text-size-adjust:100%;text-size-adjust:100%}}\
body{{margin:0;min-height:100vh;background:var(--bg);color:var(--text);\
font:1.0625rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",Arial,sans-serif}}\
main{{max-width:28rem;margin:0 auto;padding:1.25rem 1rem 2rem}}\
.card{{background:var(--surface);border-radius:.75rem;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}}\
h1{{font-size:1.5rem;line-height:1.25;margin:0 0 .5rem;overflow-wrap:anywhere}}\
p{{margin:.5rem 0}}\
.prompt{{margin-bottom:1.25rem}}\
.alert{{background:var(--error-bg);color:var(--error-text);border:2px solid var(--error-border);\
border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1.25rem;font-weight:600}}\
.alert p{{margin:0}}\
.field{{margin-bottom:1.25rem}}\
label{{display:block;font-weight:600;margin-bottom:.375rem}}\
.code{{display:block;width:100%;min-height:3rem;padding:.625rem .75rem;font:inherit;font-size:1.375rem;\
letter-spacing:.12em;text-transform:uppercase;font-family:ui-monospace,\"SF Mono\",Menlo,Consolas,monospace;\
color:var(--text);background:var(--surface);border:2px solid var(--border);border-radius:.5rem}}\
.code[aria-invalid=true],.name[aria-invalid=true]{{border-color:var(--error-border)}}\
.name{{display:block;width:100%;min-height:3rem;padding:.625rem .75rem;font:inherit;\
color:var(--text);background:var(--surface);border:2px solid var(--border);border-radius:.5rem}}\
.hint,.help{{color:var(--muted);font-size:.9375rem}}\
.terms{{display:flex;gap:.75rem;align-items:flex-start;margin-bottom:1.25rem}}\
.terms input{{flex:none;width:1.5rem;height:1.5rem;margin:.125rem 0 0;accent-color:var(--accent)}}\
.terms label{{margin:0}}\
.terms p{{margin:.25rem 0 0;font-size:.9375rem}}\
a{{color:var(--link);text-decoration:underline;text-underline-offset:.15em}}\
.button{{display:block;width:100%;min-height:3rem;padding:.75rem 1rem;border:0;border-radius:.5rem;\
background:var(--accent);color:var(--on-accent);font:inherit;font-weight:700;font-size:1.125rem;\
text-align:center;text-decoration:none;cursor:pointer}}\
.ok{{color:var(--ok);font-size:2.5rem;line-height:1;margin:0 0 .5rem}}\
:focus-visible{{outline:3px solid var(--focus);outline-offset:3px}}\
.code:focus-visible{{outline-offset:1px}}\
@media (min-width:40rem){{main{{padding-top:3rem}}.card{{padding:2rem}}}}",
        light = vars(&LIGHT),
        dark = vars(&DARK),
    )
});

// --- pages ---------------------------------------------------------------------------------

fn title(lang: Lang, unit_name: Option<&str>) -> String {
    let t = lang.texts().title;
    match unit_name {
        Some(u) if !u.trim().is_empty() => format!("{t} – {}", u.trim()),
        _ => t.to_owned(),
    }
}

/// `result` is a stable marker on `<body data-result>` (`form`, `error`, `success`) for
/// scripts and load tests; it is not shown.
fn document(lang: Lang, title: &str, result: &str, body: Markup) -> String {
    document_with(lang, title, result, body, "")
}

/// [`document`] with `extra_css` appended to the one stylesheet (the pages after login, a
/// unit's accent colour).
fn document_with(lang: Lang, title: &str, result: &str, body: Markup, extra_css: &str) -> String {
    document_csp(
        lang,
        title,
        result,
        body,
        extra_css,
        CONTENT_SECURITY_POLICY,
    )
}

/// [`document_with`] under the policy `csp` ([`policy_for`]).
fn document_csp(
    lang: Lang,
    title: &str,
    result: &str,
    body: Markup,
    extra_css: &str,
    csp: &str,
) -> String {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy" content=(csp);
                meta name="referrer" content="no-referrer";
                meta name="robots" content="noindex, nofollow";
                title { (title) }
                style { (PreEscaped(CSS.as_str())) (PreEscaped(extra_css)) }
            }
            body data-result=(result) {
                main { div class="card" { (body) } }
            }
        }
    }
    .into_string()
}

/// A terms link target: absolute http(s), or a same-site absolute path.
fn safe_terms_href(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.starts_with('/') && !raw.starts_with("//") && !raw.contains('\\') && raw.len() <= 2048 {
        return (!raw.chars().any(char::is_control)).then(|| raw.to_owned());
    }
    safe_http_url(raw)
}

/// The login page.
pub fn render_login(p: &LoginPage<'_>) -> String {
    render_login_with(p, &LoginExtras::default())
}

/// The login page with a unit's terms text, welcome and accent ([`LoginExtras`]).
pub fn render_login_with(p: &LoginPage<'_>, x: &LoginExtras<'_>) -> String {
    let t = p.lang.texts();
    let heading = match p.unit_name.map(str::trim).filter(|u| !u.is_empty()) {
        Some(unit) => t.heading.replace("{unit}", unit),
        None => t.heading_plain.to_owned(),
    };
    let terms_error = p.error == Some(PortalError::TermsNotAccepted);
    let code_error = p.error.is_some() && !terms_error;
    let code_described = if code_error {
        "code-hint portal-error"
    } else {
        "code-hint"
    };
    let body = html! {
        h1 { (heading) }
        p class="prompt" { (t.prompt) }
        @if let Some(err) = p.error {
            div id="portal-error" class="alert" role="alert" { p { (err.message(p.lang)) } }
        }
        form method="post" action=(FORM_ACTION) {
            input type="hidden" name="csrf" value=(p.csrf);
            @for (name, value) in p.hidden {
                input type="hidden" name=(name) value=(value);
            }
            div class="field" {
                label for="code" { (t.code_label) }
                input id="code" class="code" name="code" type="text" value=(echo_safe(p.code_value))
                    autocomplete="one-time-code" autocapitalize="characters" autocorrect="off"
                    inputmode="text" spellcheck="false" required maxlength="64"
                    aria-describedby=(code_described)
                    aria-invalid=[(code_error && p.error.is_some_and(|e| e.concerns_code())).then_some("true")];
                p id="code-hint" class="hint" { (t.code_hint) }
            }
            @if let Some(typed) = x.last_name {
                @let g = p.lang.guard();
                @let name_error = p.error == Some(PortalError::LastNameNeeded);
                div class="field" {
                    label for="last_name" { (g.last_name_label) }
                    input id="last_name" class="name" name="last_name" type="text"
                        value=(echo_safe(typed)) autocomplete="family-name" maxlength="100"
                        aria-describedby=(if name_error { "last-name-hint portal-error" } else { "last-name-hint" })
                        aria-invalid=[name_error.then_some("true")];
                    p id="last-name-hint" class="hint" { (g.last_name_hint) }
                }
            }
            @if p.terms_url.is_some() || x.terms_text.is_some() {
                div class="terms" {
                    input id="accept_terms" type="checkbox" name="accept_terms" value="1" required
                        aria-describedby=[terms_error.then_some("portal-error")]
                        aria-invalid=[terms_error.then_some("true")];
                    div {
                        label for="accept_terms" { (t.terms_label) }
                        @if let Some(text) = x.terms_text {
                            (terms_details(p.lang, text))
                        } @else if let Some(href) = p.terms_url.and_then(safe_terms_href) {
                            p { a href=(href) { (t.terms_link) } }
                        }
                    }
                }
            }
            button type="submit" class="button" { (t.submit) }
        }
        p class="help" { (t.captive_help) }
    };
    let result = if p.error.is_some() { "error" } else { "form" };
    document_with(
        p.lang,
        &title(p.lang, p.unit_name),
        result,
        body,
        &extra_css(x.accent, x.terms_text.is_some()),
    )
}

/// `2025-03-14 11:00` in the language's usual numeric order; " UTC" when the time is UTC.
fn format_until(lang: Lang, at: OffsetDateTime) -> String {
    let (y, m, d) = (at.year(), u8::from(at.month()), at.day());
    let (h, min) = (at.hour(), at.minute());
    let date = match lang {
        Lang::En => format!("{y}-{m:02}-{d:02} {h:02}:{min:02}"),
        Lang::De => format!("{d:02}.{m:02}.{y}, {h:02}:{min:02}"),
        Lang::Nl => format!("{d:02}-{m:02}-{y} {h:02}:{min:02}"),
        Lang::Fr | Lang::Es | Lang::It | Lang::Pt => format!("{d:02}/{m:02}/{y} {h:02}:{min:02}"),
    };
    if at.offset().is_utc() {
        format!("{date} UTC")
    } else {
        date
    }
}

/// The page after a successful redemption.
pub fn render_success(p: &SuccessPage<'_>) -> String {
    render_success_with(p, &SuccessExtras::default())
}

/// The success page with the unit's welcome, a link to the status page and its accent.
pub fn render_success_with(p: &SuccessPage<'_>, x: &SuccessExtras<'_>) -> String {
    let t = p.lang.texts();
    let continue_url = p.continue_url.and_then(safe_http_url);
    let body = html! {
        p class="ok" aria-hidden="true" { "✓" }
        h1 { (t.success_heading) }
        p { (t.success_body) }
        @if let Some(at) = p.expires_at {
            p { (t.success_until.replace("{until}", &format_until(p.lang, at))) }
        }
        @if let Some(href) = continue_url {
            p { a class="button" href=(href) { (t.continue_button) } }
        } @else {
            p { (t.online_neutral) }
        }
        @if x.status_link {
            p { a href=(STATUS_PATH) { (p.lang.guest().status_link) } }
        }
        p class="help" { (t.close_page) }
        @if let Some(w) = x.welcome {
            (welcome_block(p.lang, w))
        }
    };
    document_csp(
        p.lang,
        &title(p.lang, p.unit_name),
        "success",
        body,
        &extra_css(x.accent, true),
        policy_for(x.welcome),
    )
}

/// A page for errors that leave nothing to fill in (bad redirect, unknown network, …).
pub fn render_error(lang: Lang, error: PortalError) -> String {
    let t = lang.texts();
    let body = html! {
        h1 { (t.error_heading) }
        div id="portal-error" class="alert" role="alert" { p { (error.message(lang)) } }
    };
    document(lang, t.title, "error", body)
}

// --- the pages after login (issue 17) ------------------------------------------------------

/// Where a guest sees their access again (the success page links here).
pub const STATUS_PATH: &str = "/portal/status";
/// Where the "disconnect this device" form posts.
pub const DISCONNECT_ACTION: &str = "/portal/disconnect";
/// Where a unit's logo is served: this path followed by its SHA-256 (lower-case hex).
pub const LOGO_PATH: &str = "/portal/logo/";

/// What the login page shows beyond [`LoginPage`]; all optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoginExtras<'a> {
    /// The unit's terms (Markdown subset, as stored): shown in a collapsible section beside
    /// the required checkbox, instead of the `terms_url` link.
    pub terms_text: Option<&'a str>,
    pub accent: Option<&'a Accent>,
    /// The unit requires the guest's last name with short codes: the `last_name` field,
    /// holding what the guest typed last time.
    pub last_name: Option<&'a str>,
}

/// What the success page shows beyond [`SuccessPage`]; all optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct SuccessExtras<'a> {
    pub welcome: Option<&'a Welcome<'a>>,
    /// Link to [`STATUS_PATH`].
    pub status_link: bool,
    pub accent: Option<&'a Accent>,
}

/// A unit's welcome and house info (checked at save: [`super::welcome`], [`super::branding`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Welcome<'a> {
    pub title: Option<&'a str>,
    /// Markdown subset, as stored.
    pub text: Option<&'a str>,
    /// Check-out time of day at the property.
    pub checkout: Option<time::Time>,
    pub host_contact: Option<&'a str>,
    /// A path on the portal itself (`/portal/…`); anything else is dropped.
    pub logo_src: Option<&'a str>,
}

impl Welcome<'_> {
    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.text.is_none()
            && self.checkout.is_none()
            && self.host_contact.is_none()
            && self.logo_src.is_none()
    }
}

/// The status page: what a logged-in device sees at [`STATUS_PATH`].
#[derive(Debug, Clone)]
pub struct StatusPage<'a> {
    pub lang: Lang,
    pub unit_name: Option<&'a str>,
    pub now: OffsetDateTime,
    /// The grant's end, in the property's time zone (`tz::Zone::to_local`).
    pub expires_at: OffsetDateTime,
    /// Devices using this access now, and the limit (0 = none).
    pub devices_active: u32,
    pub max_devices: u32,
    /// For the disconnect form: the CSRF token bound to this device, and the device's
    /// redirect context (`RedirectContext::to_hidden_fields`).
    pub csrf: &'a str,
    pub hidden: &'a [(&'a str, String)],
    pub welcome: Option<&'a Welcome<'a>>,
    pub accent: Option<&'a Accent>,
}

/// The styles of the pages after login (appended to [`CSS`] where used).
const GUEST_CSS: &str = ".status{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem;margin:1rem 0 1.25rem}\
.status dt{color:var(--muted)}\
.status dd{margin:0;font-weight:600;overflow-wrap:anywhere}\
.secondary{background:var(--surface);color:var(--link);border:2px solid var(--accent)}\
details{border:2px solid var(--border);border-radius:.5rem;margin:.5rem 0 0;padding:0 .75rem}\
summary{cursor:pointer;font-weight:600;color:var(--link);padding:.625rem 0}\
details[open]{padding-bottom:.5rem}\
.welcome{margin-top:1.5rem;border-top:1px solid var(--border);padding-top:1rem;overflow-wrap:anywhere}\
.welcome h2{font-size:1.25rem;margin:0 0 .5rem}\
.logo{display:block;max-width:12rem;max-height:6rem;width:auto;height:auto;margin:0 0 1rem}\
ul,ol{padding-left:1.5rem;margin:.5rem 0}";

fn extra_css(accent: Option<&Accent>, guest: bool) -> String {
    let mut css = String::new();
    if guest {
        css.push_str(GUEST_CSS);
    }
    if let Some(a) = accent {
        css.push_str(&a.css());
    }
    css
}

/// The terms in a collapsible section (works without scripts: `<details>`).
fn terms_details(lang: Lang, text: &str) -> Markup {
    html! {
        details {
            summary { (lang.texts().terms_link) }
            div { (markdown::to_html(text, markdown::MAX_TERMS_BYTES)) }
        }
    }
}

/// A logo source the page will load: a path on the portal itself only (the CSP allows
/// images from the portal's own origin and nothing else).
fn safe_logo_src(src: &str) -> Option<&str> {
    let ok = src.starts_with("/portal/")
        && !src.contains("//")
        && !src.contains('\\')
        && src.len() <= 256
        && src
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'<' && b != b'>');
    ok.then_some(src)
}

/// `HH:MM`.
fn hhmm(t: time::Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// The welcome and house-info block.
pub fn welcome_block(lang: Lang, w: &Welcome<'_>) -> Markup {
    let g = lang.guest();
    if w.is_empty() {
        return html! {};
    }
    html! {
        section class="welcome" aria-labelledby=[w.title.map(|_| "welcome-title")] {
            @if let Some(src) = w.logo_src.and_then(safe_logo_src) {
                img class="logo" src=(src) alt="";
            }
            @if let Some(title) = w.title {
                h2 id="welcome-title" { (title) }
            }
            @if let Some(text) = w.text {
                (markdown::to_html(text, markdown::MAX_WELCOME_BYTES))
            }
            @if w.checkout.is_some() || w.host_contact.is_some() {
                dl class="status" {
                    @if let Some(t) = w.checkout {
                        dt { (g.checkout_label) }
                        dd { (hhmm(t)) }
                    }
                    @if let Some(c) = w.host_contact {
                        dt { (g.host_label) }
                        dd { (c) }
                    }
                }
            }
        }
    }
}

/// "Saturday, 2025-03-15 11:00" in the language's order.
fn format_end(lang: Lang, at: OffsetDateTime) -> String {
    let g = lang.guest();
    let weekday = g.weekdays[usize::from(at.weekday().number_days_from_monday())];
    format!("{weekday}{}{}", g.weekday_sep, format_until(lang, at))
}

/// The status page: time left, end time, devices, the host's contact, the welcome, and a
/// button that disconnects this device.
pub fn render_status(p: &StatusPage<'_>) -> String {
    let g = p.lang.guest();
    let left = (p.expires_at - p.now).whole_seconds().max(0) as u64;
    let devices = if p.max_devices == 0 {
        g.devices_unlimited
            .replace("{active}", &p.devices_active.to_string())
    } else {
        g.devices_of
            .replace("{active}", &p.devices_active.to_string())
            .replace("{max}", &p.max_devices.to_string())
    };
    let body = html! {
        h1 { (g.status_heading) }
        p class="prompt" { (g.status_online) }
        dl class="status" {
            dt { (g.time_left_label) }
            dd { (i18n::duration_words(p.lang, left)) }
            dt { (g.ends_label) }
            dd { (format_end(p.lang, p.expires_at)) }
            dt { (g.devices_label) }
            dd { (devices) }
        }
        form method="post" action=(DISCONNECT_ACTION) {
            input type="hidden" name="csrf" value=(p.csrf);
            @for (name, value) in p.hidden {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" class="button secondary" aria-describedby="disconnect-hint" { (g.disconnect_button) }
            p id="disconnect-hint" class="hint" { (g.disconnect_hint) }
        }
        @if let Some(w) = p.welcome {
            (welcome_block(p.lang, w))
        }
    };
    document_csp(
        p.lang,
        &title(p.lang, p.unit_name),
        "status",
        body,
        &extra_css(p.accent, true),
        policy_for(p.welcome),
    )
}

/// The status page for a device that is not online, when no login form can be shown (no
/// redirect came with the request): what to do to reach the login page.
pub fn render_offline(lang: Lang, unit_name: Option<&str>) -> String {
    let g = lang.guest();
    let body = html! {
        h1 { (g.offline_heading) }
        p { (g.offline_body) }
        p class="help" { (lang.texts().captive_help) }
    };
    document_with(
        lang,
        &title(lang, unit_name),
        "offline",
        body,
        &extra_css(None, true),
    )
}

/// The page after "disconnect this device".
pub fn render_disconnected(lang: Lang, unit_name: Option<&str>, accent: Option<&Accent>) -> String {
    let g = lang.guest();
    let body = html! {
        h1 { (g.disconnected_heading) }
        p { (g.disconnected_body) }
        p class="help" { (lang.texts().close_page) }
    };
    document_with(
        lang,
        &title(lang, unit_name),
        "disconnected",
        body,
        &extra_css(accent, true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hidden() -> Vec<(&'static str, String)> {
        vec![
            ("clientMac", "AA-BB-CC-DD-EE-FF".into()),
            ("apMac", "AA-BB-CC-00-00-01".into()),
            ("ssidName", "eap225".into()),
        ]
    }

    fn login<'a>(hidden: &'a [(&'a str, String)]) -> LoginPage<'a> {
        LoginPage {
            lang: Lang::En,
            unit_name: Some("Beach House"),
            terms_url: None,
            error: None,
            csrf: "1700000000.abc",
            hidden,
            code_value: "",
        }
    }

    /// The attribute list of the first tag that contains `needle`.
    fn tag_with<'a>(html: &'a str, needle: &str) -> &'a str {
        let at = html
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not in {html}"));
        let start = html[..at].rfind('<').unwrap();
        let end = at + html[at..].find('>').unwrap();
        &html[start..=end]
    }

    #[test]
    fn login_page_structure() {
        let h = hidden();
        let html = render_login(&login(&h));
        assert!(
            html.starts_with("<!DOCTYPE html><html lang=\"en\">"),
            "{html}"
        );
        assert!(html
            .contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
        assert!(html.contains("<title>Guest Wi-Fi – Beach House</title>"));
        assert!(html.contains("<h1>Welcome to Beach House</h1>"));
        assert!(html.contains("<form method=\"post\" action=\"/portal\">"));
        assert!(html.contains("<label for=\"code\">Access code</label>"));
        let input = tag_with(&html, "id=\"code\"");
        for attr in [
            "name=\"code\"",
            "type=\"text\"",
            "autocomplete=\"one-time-code\"",
            "autocapitalize=\"characters\"",
            "inputmode=\"text\"",
            "spellcheck=\"false\"",
            "required",
            "aria-describedby=\"code-hint\"",
        ] {
            assert!(input.contains(attr), "{attr} missing in {input}");
        }
        assert!(!input.contains("aria-invalid"));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"1700000000.abc\">"));
        assert!(
            html.contains("<input type=\"hidden\" name=\"clientMac\" value=\"AA-BB-CC-DD-EE-FF\">")
        );
        assert!(html.contains("<input type=\"hidden\" name=\"ssidName\" value=\"eap225\">"));
        assert!(html.contains("<button type=\"submit\" class=\"button\">Connect</button>"));
        // No error region without an error, no terms without a terms URL.
        assert!(!html.contains("role=\"alert\""));
        assert!(!html.contains("accept_terms"));
    }

    #[test]
    fn self_contained() {
        let h = hidden();
        let pages = [
            render_login(&LoginPage {
                terms_url: Some("https://example.com/terms"),
                error: Some(PortalError::InvalidCode),
                ..login(&h)
            }),
            render_success(&SuccessPage {
                lang: Lang::En,
                unit_name: None,
                continue_url: Some("https://example.com/"),
                expires_at: None,
            }),
            render_error(Lang::En, PortalError::InvalidRequest),
        ];
        for html in pages {
            for forbidden in [
                "<script", "<link", "<img", "@import", "url(", "<iframe", "src=",
            ] {
                assert!(!html.contains(forbidden), "{forbidden} in {html}");
            }
            assert_eq!(html.matches("<style>").count(), 1);
            assert!(html.contains(":focus-visible{outline:3px solid"));
        }
    }

    #[test]
    fn error_is_an_alert_linked_to_the_input() {
        let h = hidden();
        let html = render_login(&LoginPage {
            error: Some(PortalError::InvalidCode),
            code_value: "ABCD-1234",
            ..login(&h)
        });
        assert!(html.contains(
            "<div id=\"portal-error\" class=\"alert\" role=\"alert\"><p>This code is not valid for this Wi-Fi network. Please check it and try again.</p></div>"
        ));
        let input = tag_with(&html, "id=\"code\"");
        assert!(
            input.contains("aria-describedby=\"code-hint portal-error\""),
            "{input}"
        );
        assert!(input.contains("aria-invalid=\"true\""), "{input}");
        assert!(input.contains("value=\"ABCD-1234\""), "{input}");
        // The alert comes before the form, so it is read first.
        assert!(html.find("role=\"alert\"").unwrap() < html.find("<form").unwrap());

        // A lockout is linked but does not blame the code.
        let html = render_login(&LoginPage {
            error: Some(PortalError::TooManyAttempts {
                retry_after: Duration::from_secs(240),
            }),
            ..login(&h)
        });
        assert!(html.contains("Please try again in 4 min."));
        let input = tag_with(&html, "id=\"code\"");
        assert!(
            input.contains("aria-describedby=\"code-hint portal-error\"")
                && !input.contains("aria-invalid"),
            "{input}"
        );
    }

    #[test]
    fn terms_checkbox() {
        let h = hidden();
        let html = render_login(&LoginPage {
            terms_url: Some("https://example.com/terms?a=1&b=2"),
            ..login(&h)
        });
        let cb = tag_with(&html, "id=\"accept_terms\"");
        for attr in [
            "type=\"checkbox\"",
            "name=\"accept_terms\"",
            "value=\"1\"",
            "required",
        ] {
            assert!(cb.contains(attr), "{attr} missing in {cb}");
        }
        assert!(html.contains("<label for=\"accept_terms\">I accept the terms of use</label>"));
        assert!(
            html.contains(
                "<a href=\"https://example.com/terms?a=1&amp;b=2\">Read the terms of use</a>"
            ),
            "{html}"
        );
        // Same-site path is fine.
        let html = render_login(&LoginPage {
            terms_url: Some("/portal/terms"),
            ..login(&h)
        });
        assert!(html.contains("<a href=\"/portal/terms\">"));
        // Unsafe URLs lose the link but keep the required checkbox.
        for bad in [
            "javascript:alert(1)",
            "//evil.example/x",
            "data:text/html,x",
            "/\\evil.example",
        ] {
            let html = render_login(&LoginPage {
                terms_url: Some(bad),
                ..login(&h)
            });
            assert!(html.contains("name=\"accept_terms\""), "{bad}");
            assert!(!html.contains("<a "), "{bad}: {html}");
        }
        // The terms error points at the checkbox, not the code.
        let html = render_login(&LoginPage {
            terms_url: Some("/t"),
            error: Some(PortalError::TermsNotAccepted),
            ..login(&h)
        });
        let cb = tag_with(&html, "id=\"accept_terms\"");
        assert!(
            cb.contains("aria-describedby=\"portal-error\"")
                && cb.contains("aria-invalid=\"true\""),
            "{cb}"
        );
        assert!(tag_with(&html, "id=\"code\"").contains("aria-describedby=\"code-hint\""));
    }

    #[test]
    fn hostile_values_are_escaped() {
        let evil = "<script>alert(1)</script>\"'&";
        let h: Vec<(&str, String)> = vec![
            ("ssidName", evil.into()),
            ("redirectUrl", "\"><script>x</script>".into()),
        ];
        let html = render_login(&LoginPage {
            unit_name: Some(evil),
            csrf: evil,
            code_value: evil,
            terms_url: Some("https://example.com/\"><script>"),
            hidden: &h,
            ..login(&h)
        });
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("<h1>Welcome to &lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;</h1>"),
            "{html}"
        );
        assert!(html.contains(
            "name=\"ssidName\" value=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;\""
        ));
        assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        // A placeholder-looking unit name is not expanded twice.
        let html = render_login(&LoginPage {
            unit_name: Some("{unit}"),
            ..login(&h)
        });
        assert!(html.contains("<h1>Welcome to {unit}</h1>"));

        let html = render_success(&SuccessPage {
            lang: Lang::En,
            unit_name: Some(evil),
            continue_url: Some("javascript:alert(1)"),
            expires_at: None,
        });
        assert!(
            !html.contains("<script") && !html.contains("javascript:"),
            "{html}"
        );
        assert!(html.contains("<title>Guest Wi-Fi – &lt;script&gt;"));
    }

    #[test]
    fn success_page_continue_only_when_safe() {
        let base = SuccessPage {
            lang: Lang::En,
            unit_name: Some("Loft"),
            continue_url: None,
            expires_at: None,
        };
        let html = render_success(&base);
        assert!(html.contains("<h1>You're online</h1>"));
        assert!(html.contains("You can now use the internet as usual."));
        assert!(html.contains("You can close this page."));
        assert!(!html.contains("<a "));
        let html = render_success(&SuccessPage {
            continue_url: Some("https://example.com/news?a=1&b=2"),
            ..base.clone()
        });
        assert!(
            html.contains(
                "<a class=\"button\" href=\"https://example.com/news?a=1&amp;b=2\">Continue</a>"
            ),
            "{html}"
        );
        assert!(!html.contains("as usual"));
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "/relative",
            "//evil.example/",
        ] {
            let html = render_success(&SuccessPage {
                continue_url: Some(bad),
                ..base.clone()
            });
            assert!(!html.contains("<a "), "{bad}");
            assert!(html.contains("as usual"), "{bad}");
        }
    }

    #[test]
    fn success_page_expiry_per_language() {
        let utc = time::macros::datetime!(2025-03-14 11:05 UTC);
        let local = time::macros::datetime!(2025-03-14 11:05 +01:00);
        let cases = [
            (
                Lang::En,
                utc,
                "Your access is valid until 2025-03-14 11:05 UTC.",
            ),
            (
                Lang::De,
                local,
                "Ihr Zugang ist gültig bis 14.03.2025, 11:05.",
            ),
            (
                Lang::Fr,
                local,
                "Votre accès est valable jusqu'au 14/03/2025 11:05.",
            ),
            (
                Lang::Nl,
                utc,
                "Uw toegang is geldig tot 14-03-2025 11:05 UTC.",
            ),
        ];
        for (lang, at, want) in cases {
            let html = render_success(&SuccessPage {
                lang,
                unit_name: None,
                continue_url: None,
                expires_at: Some(at),
            });
            assert!(html.contains(want), "{lang:?}: {html}");
        }
    }

    #[test]
    fn error_page() {
        let html = render_error(Lang::De, PortalError::InvalidRequest);
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"de\">"));
        assert!(html.contains("<h1>Verbindung nicht möglich</h1>"));
        assert!(html.contains("role=\"alert\"><p>Dieser Seite fehlen Angaben aus dem WLAN."));
        assert!(!html.contains("<form"));
    }

    #[test]
    fn pages_in_every_language() {
        let h = hidden();
        for lang in Lang::ALL {
            let t = lang.texts();
            let html = render_login(&LoginPage {
                lang,
                terms_url: Some("/t"),
                ..login(&h)
            });
            assert!(html.contains(&format!("<html lang=\"{}\">", lang.code())));
            for s in [
                t.prompt,
                t.code_label,
                t.code_hint,
                t.submit,
                t.terms_label,
                t.terms_link,
                t.captive_help,
            ] {
                let escaped = maud::html! { (s) }.into_string();
                assert!(html.contains(&escaped), "{lang:?}: {s}");
            }
        }
    }

    // --- WCAG contrast -----------------------------------------------------------------

    fn luminance(hex: &str) -> f64 {
        let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
        let ch = |shift: u32| {
            let c = f64::from((v >> shift) & 0xff) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(16) + 0.7152 * ch(8) + 0.0722 * ch(0)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    #[test]
    fn contrast_math_is_right() {
        assert!((contrast("#000000", "#ffffff") - 21.0).abs() < 1e-9);
        assert!((contrast("#767676", "#ffffff") - 4.54).abs() < 0.01);
        assert!(contrast("#777777", "#ffffff") < 4.5);
    }

    #[test]
    fn colours_meet_wcag_aa() {
        for (name, p) in [("light", LIGHT), ("dark", DARK)] {
            let text_pairs = [
                ("text/surface", p.text, p.surface),
                ("text/bg", p.text, p.bg),
                ("muted/surface", p.muted, p.surface),
                ("link/surface", p.link, p.surface),
                ("on_accent/accent", p.on_accent, p.accent),
                ("error_text/error_bg", p.error_text, p.error_bg),
            ];
            for (pair, fg, bg) in text_pairs {
                let c = contrast(fg, bg);
                assert!(c >= 4.5, "{name} {pair}: {c:.2}");
            }
            // Non-text (WCAG 1.4.11): input border, focus ring, error border, the check mark.
            let ui_pairs = [
                ("border/surface", p.border, p.surface),
                ("focus/surface", p.focus, p.surface),
                ("focus/bg", p.focus, p.bg),
                ("error_border/surface", p.error_border, p.surface),
                ("accent/surface", p.accent, p.surface),
                ("ok/surface", p.ok, p.surface),
            ];
            for (pair, fg, bg) in ui_pairs {
                let c = contrast(fg, bg);
                assert!(c >= 3.0, "{name} {pair}: {c:.2}");
            }
        }
        // The palettes are what the stylesheet uses.
        assert!(
            CSS.contains(&format!("--text:{}", LIGHT.text))
                && CSS.contains(&format!("--text:{}", DARK.text))
        );
    }

    #[test]
    fn echoed_input_loses_control_and_invisible_characters() {
        assert_eq!(echo_safe("AB\u{0}C\u{7}D\u{1b}[31m\r\n\u{85}"), "ABCD[31m");
        assert_eq!(echo_safe("\u{202E}4711\u{202C}\u{200B}"), "4711");
        assert_eq!(echo_safe("Zoë-1234 ✓"), "Zoë-1234 ✓");
        let html = render_login(&LoginPage {
            lang: Lang::En,
            unit_name: None,
            terms_url: None,
            error: Some(PortalError::InvalidCode),
            csrf: "t",
            hidden: &[],
            code_value: "12\u{0}34\u{202E}<x>",
        });
        assert!(html.contains("value=\"1234&lt;x&gt;\""), "{html}");
        assert!(!html.contains('\u{0}') && !html.contains('\u{202E}'));
    }

    proptest::proptest! {
        #[test]
        fn nothing_echoed_is_a_control_character(typed in proptest::prelude::any::<String>()) {
            let shown = echo_safe(&typed);
            let hidden = |c: char| {
                c.is_control()
                    || ('\u{202A}'..='\u{202E}').contains(&c)
                    || ('\u{2066}'..='\u{2069}').contains(&c)
            };
            proptest::prop_assert!(!shown.chars().any(hidden), "{:?}", shown);
            // What is shown is what was typed, minus the dropped characters, in order.
            let mut rest = typed.chars();
            proptest::prop_assert!(shown.chars().all(|c| rest.any(|t| t == c)));
            let printable = typed.chars().filter(|c| c.is_alphanumeric()).count();
            proptest::prop_assert_eq!(shown.chars().filter(|c| c.is_alphanumeric()).count(), printable);
        }
    }

    #[test]
    fn csp_keeps_forms_on_the_portal() {
        assert!(CONTENT_SECURITY_POLICY.contains("form-action 'self'"));
        let html = render_login(&LoginPage {
            lang: Lang::En,
            unit_name: None,
            terms_url: None,
            error: None,
            csrf: "t",
            hidden: &[],
            code_value: "",
        });
        assert!(html.contains("form-action &#39;self&#39;") || html.contains("form-action 'self'"));
    }
}

#[cfg(test)]
mod guest_tests {
    use super::*;
    use crate::portal::branding::{self, check_accent, contrast, Rgb};
    use time::macros::{datetime, time};

    fn hidden() -> Vec<(&'static str, String)> {
        vec![("clientMac", "AA-BB-CC-DD-EE-FF".into())]
    }

    fn welcome() -> Welcome<'static> {
        Welcome {
            title: Some("Welcome to the Loft"),
            text: Some("Hi!\n\n- Bins: **Tuesday**\n- [Map](https://maps.example/loft)"),
            checkout: Some(time!(11:00)),
            host_contact: Some("Anna, +49 170 1234567"),
            logo_src: Some("/portal/logo/abc.png"),
        }
    }

    fn status<'a>(hidden: &'a [(&'a str, String)], w: Option<&'a Welcome<'a>>) -> StatusPage<'a> {
        StatusPage {
            lang: Lang::En,
            unit_name: Some("Loft"),
            now: datetime!(2025-03-13 08:00 UTC),
            // 2 days, 2 hours and 5 minutes later, shown in Berlin time.
            expires_at: datetime!(2025-03-15 11:05 +01:00),
            devices_active: 2,
            max_devices: 4,
            csrf: "1700000000.tok",
            hidden,
            welcome: w,
            accent: None,
        }
    }

    #[test]
    fn palettes_match_the_branding_check() {
        for (p, s) in [(LIGHT, branding::LIGHT), (DARK, branding::DARK)] {
            assert_eq!((p.text, p.surface, p.bg), (s.text, s.surface, s.bg));
        }
    }

    #[test]
    fn status_page() {
        let h = hidden();
        let w = welcome();
        let html = render_status(&status(&h, Some(&w)));
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
        assert!(html.contains("<body data-result=\"status\">"));
        assert!(html.contains("<h1>Your Wi-Fi access</h1>"));
        assert!(
            html.contains("<dt>Time left</dt><dd>2 days and 2 hours</dd>"),
            "{html}"
        );
        assert!(
            html.contains("<dt>Access ends</dt><dd>Saturday, 2025-03-15 11:05</dd>"),
            "{html}"
        );
        assert!(html.contains("<dt>Devices</dt><dd>2 of 4 in use</dd>"));
        // The disconnect form: POST, CSRF token, the device's context, a labelled button.
        assert!(html.contains("<form method=\"post\" action=\"/portal/disconnect\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"1700000000.tok\">"));
        assert!(
            html.contains("<input type=\"hidden\" name=\"clientMac\" value=\"AA-BB-CC-DD-EE-FF\">")
        );
        assert!(html.contains(
            "<button type=\"submit\" class=\"button secondary\" aria-describedby=\"disconnect-hint\">Disconnect this device</button>"
        ));
        // Welcome and house info.
        assert!(html.contains("<h2 id=\"welcome-title\">Welcome to the Loft</h2>"));
        assert!(html.contains("<li>Bins: <strong>Tuesday</strong></li>"));
        assert!(html.contains("<dt>Check-out</dt><dd>11:00</dd>"));
        assert!(html.contains("<dt>Your host</dt><dd>Anna, +49 170 1234567</dd>"));
        assert!(html.contains("<img class=\"logo\" src=\"/portal/logo/abc.png\" alt=\"\">"));
        // No limit; a UTC end says so; time is never negative.
        let html = render_status(&StatusPage {
            max_devices: 0,
            devices_active: 1,
            expires_at: datetime!(2025-03-13 07:00 UTC),
            ..status(&h, None)
        });
        assert!(html.contains("<dd>1 in use</dd>"));
        assert!(html.contains("<dd>less than a minute</dd>"));
        assert!(
            html.contains("<dd>Thursday, 2025-03-13 07:00 UTC</dd>"),
            "{html}"
        );
        assert!(!html.contains("class=\"welcome\""));
    }

    #[test]
    fn status_page_in_every_language() {
        let h = hidden();
        let w = welcome();
        for lang in Lang::ALL {
            let g = lang.guest();
            let html = render_status(&StatusPage {
                lang,
                ..status(&h, Some(&w))
            });
            assert!(html.contains(&format!("<html lang=\"{}\">", lang.code())));
            for s in [
                g.status_heading,
                g.status_online,
                g.time_left_label,
                g.ends_label,
                g.devices_label,
                g.disconnect_button,
                g.disconnect_hint,
                g.checkout_label,
                g.host_label,
                g.weekdays[5],
            ] {
                let escaped = maud::html! { (s) }.into_string();
                assert!(html.contains(&escaped), "{lang:?}: {s}");
            }
            assert!(
                html.contains(&maud::html! { (i18n::duration_words(lang, 180_300)) }.into_string())
            );
        }
        let html = render_status(&StatusPage {
            lang: Lang::De,
            ..status(&h, None)
        });
        assert!(
            html.contains("<dd>Samstag, 15.03.2025, 11:05</dd>"),
            "{html}"
        );
        assert!(html.contains("<dd>2 Tage und 2 Stunden</dd>"));
        assert!(html.contains("<dd>2 von 4 in Nutzung</dd>"));
        let html = render_status(&StatusPage {
            lang: Lang::Fr,
            ..status(&h, None)
        });
        assert!(html.contains("<dd>samedi 15/03/2025 11:05</dd>"), "{html}");
    }

    #[test]
    fn terms_text_in_a_collapsible_section() {
        let h = hidden();
        let base = LoginPage {
            lang: Lang::En,
            unit_name: Some("Loft"),
            terms_url: None,
            error: None,
            csrf: "c",
            hidden: &h,
            code_value: "",
        };
        let terms = "1. No parties.\n2. Quiet after **22:00**.";
        let html = render_login_with(
            &base,
            &LoginExtras {
                terms_text: Some(terms),
                ..LoginExtras::default()
            },
        );
        // The checkbox appears with terms text alone, and the text is in <details>.
        assert!(html.contains("name=\"accept_terms\""));
        assert!(html.contains(
            "<details><summary>Read the terms of use</summary><div><ol><li>No parties.</li><li>Quiet after <strong>22:00</strong>.</li></ol></div></details>"
        ), "{html}");
        assert!(html.find("<details>").unwrap() < html.find("</form>").unwrap());
        // The text wins over an outside link; without text the link stays.
        let with_url = LoginPage {
            terms_url: Some("https://example.com/terms"),
            ..base.clone()
        };
        let html = render_login_with(
            &with_url,
            &LoginExtras {
                terms_text: Some(terms),
                ..LoginExtras::default()
            },
        );
        assert!(html.contains("<details>") && !html.contains("example.com/terms"));
        assert_eq!(
            render_login_with(&with_url, &LoginExtras::default()),
            render_login(&with_url)
        );
        // Neither: no checkbox.
        assert!(!render_login_with(&base, &LoginExtras::default()).contains("accept_terms"));
        // Hostile terms stay text.
        let html = render_login_with(
            &base,
            &LoginExtras {
                terms_text: Some("<script>alert(1)</script>"),
                ..LoginExtras::default()
            },
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn success_page_links_the_status_and_shows_the_welcome() {
        let w = welcome();
        let p = SuccessPage {
            lang: Lang::Es,
            unit_name: Some("Loft"),
            continue_url: None,
            expires_at: None,
        };
        let html = render_success_with(
            &p,
            &SuccessExtras {
                welcome: Some(&w),
                status_link: true,
                accent: None,
            },
        );
        assert!(html
            .contains("<a href=\"/portal/status\">Ver el tiempo restante y los dispositivos</a>"));
        assert!(html.contains("<dt>Salida</dt><dd>11:00</dd>"));
        assert_eq!(
            render_success_with(&p, &SuccessExtras::default()),
            render_success(&p)
        );
        let html = render_disconnected(Lang::It, Some("Loft"), None);
        assert!(html.contains("<body data-result=\"disconnected\">"));
        assert!(html.contains("<h1>Questo dispositivo è disconnesso</h1>"));
    }

    #[test]
    fn accent_colours_reach_the_page_and_stay_readable() {
        let a = check_accent("#1b6b34").unwrap();
        let h = hidden();
        let html = render_status(&StatusPage {
            accent: Some(&a),
            ..status(&h, None)
        });
        assert!(
            html.contains("--accent:#1b6b34;--link:#1b6b34;--focus:#1b6b34;--on-accent:#ffffff")
        );
        assert_eq!(html.matches("<style>").count(), 1, "one stylesheet");
        // The secondary button: link colour on the surface, the accent as its border.
        let c = Rgb::parse(&a.colour).unwrap();
        assert!(contrast(c, Rgb::parse(LIGHT.surface).unwrap()) >= 4.5);
    }

    #[test]
    fn only_portal_logos_load() {
        for bad in [
            "https://evil.example/logo.png",
            "//evil.example/x.png",
            "/portal//evil",
            "/other/logo.png",
            "/portal/logo\".png",
            "javascript:alert(1)",
        ] {
            let w = Welcome {
                logo_src: Some(bad),
                ..welcome()
            };
            let html = welcome_block(Lang::En, &w).into_string();
            assert!(!html.contains("<img"), "{bad}: {html}");
        }
        assert_eq!(
            welcome_block(Lang::En, &Welcome::default()).into_string(),
            ""
        );
    }

    #[test]
    fn new_pages_are_self_contained() {
        let h = hidden();
        let w = Welcome {
            logo_src: None,
            ..welcome()
        };
        for html in [
            render_status(&status(&h, Some(&w))),
            render_disconnected(Lang::En, None, None),
        ] {
            for forbidden in [
                "<script", "<link", "<img", "@import", "url(", "<iframe", "src=",
            ] {
                assert!(!html.contains(forbidden), "{forbidden} in {html}");
            }
            assert_eq!(html.matches("<style>").count(), 1);
            assert!(html.contains(&format!("content=\"{CONTENT_SECURITY_POLICY}\"")));
        }
    }
}
