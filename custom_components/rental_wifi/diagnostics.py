"""Diagnostics: the entry and the sidecar's snapshot, without secrets, codes or MACs."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .api import RentalWifiError
from .const import CONF_API_TOKEN
from .coordinator import RentalWifiConfigEntry

TO_REDACT = {
    CONF_API_TOKEN,
    "password",
    # Wi-Fi passwords (password mode): the snapshot never has one; the QR payload would.
    "qr_payload",
    "client_secret",
    "auth_header",
    # Voucher and booking codes are access credentials.
    "code",
    "codes",
    "current_voucher",
    # MAC addresses identify guests' devices and the host's hardware.
    "client_mac",
    "ap_mac",
    "gateway_mac",
    "ap_macs",
    # A pod's id: a Plume serial number or an access point's MAC.
    "id",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: RentalWifiConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    data = entry.runtime_data
    settings: dict[str, Any] = {}
    for kind, fetch in (
        ("omada", data.client.get_omada_settings),
        ("plume", data.client.get_plume_settings),
    ):
        try:
            settings[kind] = await fetch()
        except RentalWifiError as err:
            settings[kind] = {"error": str(err)}
    return async_redact_data(
        {
            "entry": {
                "data": dict(entry.data),
                "subentries": [
                    {
                        "subentry_type": subentry.subentry_type,
                        "title": subentry.title,
                        "data": dict(subentry.data),
                    }
                    for subentry in entry.subentries.values()
                ],
            },
            "mode": "managed" if data.sidecar is not None else "external",
            "managed_sidecar": data.sidecar.diagnostics() if data.sidecar else None,
            "coordinator": {
                "last_update_success": data.coordinator.last_update_success,
                "event_stream_connected": data.coordinator.sse_connected,
            },
            "booking_sync": {
                unit_id: {
                    "calendar": sync.calendar_entity_id,
                    "sensors_from": "registry" if sync.from_registry else "pattern",
                    "sensors_followed": len(sync.sensor_ids),
                    "last_result": sync.last_result,
                    "needs_retry": sync.needs_retry,
                    "last_error": sync.last_error,
                }
                for unit_id, sync in data.syncs.items()
            },
            "state": data.coordinator.data.raw,
            "settings": settings,
        },
        TO_REDACT,
    )
