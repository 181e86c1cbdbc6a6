//! Guest captive portal. See DESIGN §5.

pub mod handler;
pub use handler::handle;
