//! Guest captive portal. See DESIGN §5.
//!
//! Building blocks, free of HTTP and storage so they can be tested on their own; the request
//! handling that ties them to the store and the controller lives beside them:
//!
//! * [`redirect`]: the controller's redirect parameters (every spelling) → [`redirect::RedirectContext`],
//!   and back to hidden form fields; the safe "continue" URL.
//! * [`form`]: the posted login form (`code`, `accept_terms`, `csrf` + the hidden redirect fields).
//! * [`i18n`]: languages, `Accept-Language` negotiation, every visible string.
//! * [`errors`]: [`errors::PortalError`], what a guest can be told.
//! * [`page`]: the login, success and error pages (maud).
//! * [`csrf`]: stateless page tokens bound to the client MAC, the peer address and time.
//! * `identity`: who is asking (DESIGN §10) — the redirect's MAC at the peer address, the
//!   `clientIp` check and the page token; what every handler acting for a device calls.
//! * [`limiter`]: attempt limits per device, address, IPv6 /64, per unit for short codes and
//!   overall, paid before the code is evaluated; bounded memory.
//! * [`probe`]: answers for OS captive-network probes (`/generate_204`, …).
//! * [`markdown`]: the host's welcome text and terms, a safe Markdown subset.
//! * [`branding`]: accent colour (WCAG contrast) and logo checks.
//! * [`terms`]: terms served by the portal, identified by their SHA-256.
//! * [`captive_api`]: the RFC 8908 Captive Portal API document.
//! * [`welcome`]: the welcome / house-info fields a host saves, checked.
//! * [`handler`]: the HTTP side: `GET`/`POST /portal`, redemption, grants.

pub mod branding;
pub mod captive_api;
pub mod csrf;
pub mod errors;
pub mod form;
pub mod handler;
pub mod i18n;
pub(crate) mod identity;
pub mod limiter;
pub mod markdown;
pub mod page;
pub mod probe;
pub mod redirect;
pub mod terms;
pub mod tls;
pub mod welcome;

pub use handler::handle;
