"""Constants for the Rental Wi-Fi integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "rental_wifi"
LOGGER = logging.getLogger(__package__)

# Config entry data keys (the sidecar connection).
CONF_API_TOKEN: Final = "api_token"
CONF_MODE: Final = "mode"
CONF_PORTAL_PORT: Final = "portal_port"
# How the sidecar runs: started and supervised by Home Assistant, or somewhere else.
MODE_MANAGED: Final = "managed"
MODE_EXTERNAL: Final = "external"

# Subentry type and its data keys (a rental unit).
SUBENTRY_UNIT: Final = "unit"
CONF_UNIT_ID: Final = "unit_id"
CONF_OMADA_SITE: Final = "omada_site"
CONF_SSIDS: Final = "ssids"
CONF_VLANS: Final = "vlans"
CONF_AP_MACS: Final = "ap_macs"
CONF_PLUME_CUSTOMER_ID: Final = "plume_customer_id"
CONF_PLUME_LOCATION_ID: Final = "plume_location_id"
CONF_CHECKIN_GRACE: Final = "checkin_grace_minutes"
CONF_CHECKOUT_GRACE: Final = "checkout_grace_minutes"
CONF_TIME_ZONE: Final = "time_zone"
CONF_CALENDAR_ENTITY: Final = "calendar_entity_id"

OMADA_TIME_UNITS: Final = ["ms", "us", "s"]

# The sidecar shows stored secrets as this placeholder; sending it back keeps the value.
SECRET_PLACEHOLDER: Final = "***"

SCAN_INTERVAL: Final = timedelta(seconds=60)
REQUEST_TIMEOUT: Final = 15  # seconds; the sidecar bounds controller calls at ~10 s
CHECK_TIMEOUT: Final = 180  # seconds: the controller check runs every step over every site

# Server-Sent Events: reconnect backoff and read timeout (keepalive is every 15 s).
SSE_BACKOFF_MIN: Final = 1.0
SSE_BACKOFF_MAX: Final = 60.0
SSE_READ_TIMEOUT: Final = 45.0

# SSE events re-fired on the Home Assistant bus as `rental_wifi_<name>`.
BUS_EVENTS: Final = frozenset(
    {
        "voucher_issued",
        "voucher_redeemed",
        "voucher_revoked",
        "grant_expired",
        "health_changed",
        "booking_vanished",
        "booking_restored",
        "booking_cancelled",
        "controller_problem",
        "controller_check",
        "host_test_result",
    }
)
EVENT_PREFIX: Final = f"{DOMAIN}_"

HEALTH_STATES: Final = ["green", "yellow", "orange", "red", "unknown"]
VOUCHER_STATUSES: Final = ["unused", "active", "suspended", "expired", "revoked"]
DEVICE_POLICIES: Final = ["replace_oldest", "refuse"]

ATTR_UNIT_ID: Final = "unit_id"
ATTR_DEVICE_ID: Final = "device_id"
ATTR_CODE: Final = "code"
ATTR_STATUS: Final = "status"
