"""The property's time zone follows Home Assistant's (DESIGN §10 "Time zone").

Guests see times (status page, cards) in the property's zone, a setting of the sidecar. Home
Assistant knows the property's zone, so it sets it when the entry is set up and whenever its
own zone changes; a unit may still override it in its own settings. A sidecar that cannot be
told (unreachable, an older version without the setting) is told again next time.
"""

from __future__ import annotations

from homeassistant.const import EVENT_CORE_CONFIG_UPDATE
from homeassistant.core import Event, HomeAssistant, callback

from .api import RentalWifiApiError, RentalWifiError
from .const import LOGGER
from .coordinator import RentalWifiConfigEntry


async def async_sync_time_zone(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> None:
    """Set the sidecar's property zone to Home Assistant's when they differ."""
    client = entry.runtime_data.client
    want = hass.config.time_zone
    try:
        current = (await client.get_property()).get("time_zone")
        if current != want:
            await client.put_property(want)
            LOGGER.debug("Property time zone set to %s (was %s)", want, current)
    except RentalWifiApiError as err:
        LOGGER.warning(
            "The sidecar did not take Home Assistant's time zone %s: %s", want, err.message
        )
    except RentalWifiError as err:
        LOGGER.debug("Could not tell the sidecar the time zone %s: %s", want, err)


async def async_follow_time_zone(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> None:
    """Set the zone now, and again whenever Home Assistant's configuration changes."""
    await async_sync_time_zone(hass, entry)

    @callback
    def _changed(_event: Event) -> None:
        entry.async_create_task(
            hass, async_sync_time_zone(hass, entry), "rental_wifi time zone"
        )

    entry.async_on_unload(hass.bus.async_listen(EVENT_CORE_CONFIG_UPDATE, _changed))
