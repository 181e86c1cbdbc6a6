//! Omada controller clients (hotspot-operator API and Open API). See DESIGN §4.
