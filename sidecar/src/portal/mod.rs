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
//! * [`csrf`]: stateless CSRF tokens bound to the client MAC and time.
//! * [`limiter`]: brute-force limits per MAC, per IP and overall, bounded memory.
//! * [`probe`]: answers for OS captive-network probes (`/generate_204`, …).
//! * [`handler`]: the HTTP side: `GET`/`POST /portal`, redemption, grants.

pub mod csrf;
pub mod errors;
pub mod form;
pub mod handler;
pub mod i18n;
pub mod limiter;
pub mod page;
pub mod probe;
pub mod redirect;

pub use handler::handle;
