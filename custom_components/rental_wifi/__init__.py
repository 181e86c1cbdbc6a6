"""The Rental Wi-Fi integration: a thin layer over the Rental Wi-Fi sidecar's local API."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .api import RentalWifiApiError, RentalWifiError
from .const import CONF_CALENDAR_ENTITY, CONF_UNIT_ID, DOMAIN, LOGGER, SUBENTRY_UNIT
from .coordinator import RentalWifiConfigEntry, RentalWifiCoordinator, RentalWifiData
from .helpers import async_remove_stale_devices, client_for_entry, unit_subentries
from .services import async_setup_services
from .sync import BookingSync, SyncStore

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.IMAGE, Platform.SENSOR]

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

    sync_store = SyncStore(hass, entry.entry_id)
    await sync_store.async_load()
    entry.runtime_data = RentalWifiData(
        client=client,
        coordinator=coordinator,
        unit_ids=set(unit_subentries(entry)),
        sync_store=sync_store,
    )

    @callback
    def _async_on_update() -> None:
        async_remove_stale_devices(hass, entry)
        if coordinator.last_update_success:
            # The sidecar answers again: retry a booking sync that failed.
            for sync in entry.runtime_data.syncs.values():
                if sync.needs_retry:
                    sync.async_schedule(0)

    entry.async_on_unload(coordinator.async_add_listener(_async_on_update))
    async_remove_stale_devices(hass, entry)

    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    coordinator.async_start_event_listener()
    _async_start_syncs(hass, entry)
    entry.async_on_unload(lambda: _async_stop_syncs(entry))
    return True


@callback
def _async_start_syncs(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> None:
    """Start a booking sync for every unit subentry that names a calendar."""
    data = entry.runtime_data
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_UNIT:
            continue
        unit_id = subentry.data.get(CONF_UNIT_ID)
        calendar = subentry.data.get(CONF_CALENDAR_ENTITY)
        if not unit_id or not calendar:
            continue
        sync = BookingSync(
            hass,
            client=data.client,
            store=data.sync_store,
            unit_id=unit_id,
            calendar_entity_id=calendar,
            on_change=data.coordinator.async_request_refresh,
        )
        data.syncs[unit_id] = sync
        sync.async_start()
    data.sync_store.async_forget_units(data.syncs)


@callback
def _async_stop_syncs(entry: RentalWifiConfigEntry) -> None:
    for sync in entry.runtime_data.syncs.values():
        sync.async_stop()
    entry.runtime_data.syncs.clear()


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
    # A unit's calendar may have changed: follow the subentries as they are now.
    _async_stop_syncs(entry)
    _async_start_syncs(hass, entry)
    await data.coordinator.async_request_refresh()


async def async_unload_entry(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> bool:
    """Unload a config entry (the event listener and the booking syncs stop with it)."""
    if unloaded := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        await entry.runtime_data.sync_store.async_flush()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> None:
    """The entry is deleted: forget which bookings it mirrored."""
    await SyncStore(hass, entry.entry_id).async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: RentalWifiConfigEntry, device_entry: dr.DeviceEntry
) -> bool:
    """Allow removing a unit's device once the sidecar no longer has that unit."""
    state = entry.runtime_data.coordinator.data
    live = {(DOMAIN, state.instance_id)} | {
        (DOMAIN, f"{state.instance_id}_{unit_id}") for unit_id in state.units
    }
    return not device_entry.identifiers & live
