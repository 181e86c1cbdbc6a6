//! Plume OAuth token manager, API client, poller and health model. See DESIGN §6.
