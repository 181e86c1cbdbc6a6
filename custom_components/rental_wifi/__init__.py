"""The Rental Wi-Fi integration: a thin layer over the Rental Wi-Fi sidecar's local API."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .api import RentalWifiApiError, RentalWifiError
from .const import DOMAIN, LOGGER
from .coordinator import RentalWifiConfigEntry, RentalWifiCoordinator, RentalWifiData
from .helpers import async_remove_stale_devices, client_for_entry, unit_subentries
from .services import async_setup_services

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions (once, for every entry)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> bool:
    """Set up Rental Wi-Fi from a config entry."""
    client = client_for_entry(hass, entry.data)
    coordinator = RentalWifiCoordinator(hass, entry, client)
    await coordinator.async_config_entry_first_refresh()

    entry.runtime_data = RentalWifiData(
        client=client,
        coordinator=coordinator,
        unit_ids=set(unit_subentries(entry)),
    )

    @callback
    def _async_on_update() -> None:
        async_remove_stale_devices(hass, entry)

    entry.async_on_unload(coordinator.async_add_listener(_async_on_update))
    async_remove_stale_devices(hass, entry)

    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    coordinator.async_start_event_listener()
    return True


async def _async_update_listener(
    hass: HomeAssistant, entry: RentalWifiConfigEntry
) -> None:
    """Subentries changed: delete the units whose subentry was removed, then refresh."""
    data = entry.runtime_data
    current = set(unit_subentries(entry))
    for unit_id in sorted(data.unit_ids - current):
        try:
            await data.client.delete_unit(unit_id, force=True)
        except RentalWifiApiError as err:
            if err.status != 404:
                LOGGER.warning("Could not delete unit %s on the sidecar: %s", unit_id, err)
        except RentalWifiError as err:
            LOGGER.warning("Could not delete unit %s on the sidecar: %s", unit_id, err)
    data.unit_ids = current
    await data.coordinator.async_request_refresh()


async def async_unload_entry(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> bool:
    """Unload a config entry (the event listener stops with it)."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: RentalWifiConfigEntry, device_entry: dr.DeviceEntry
) -> bool:
    """Allow removing a unit's device once the sidecar no longer has that unit."""
    state = entry.runtime_data.coordinator.data
    live = {(DOMAIN, state.instance_id)} | {
        (DOMAIN, f"{state.instance_id}_{unit_id}") for unit_id in state.units
    }
    return not device_entry.identifiers & live
