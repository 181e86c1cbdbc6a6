//! Guest captive portal. See DESIGN §5.
