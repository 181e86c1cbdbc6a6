"""The Rental Wi-Fi integration: a thin layer over the Rental Wi-Fi sidecar's local API.

Two ways to run the sidecar (the entry's ``mode``): ``managed``, where Home Assistant starts
and supervises it as a child process (``managed.py``), and ``external``, a sidecar on another
host reached by URL and token.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .api import RentalWifiApiError, RentalWifiClient, RentalWifiError
from .const import (
    CONF_API_TOKEN,
    CONF_CALENDAR_ENTITY,
    CONF_MODE,
    CONF_PORTAL_PORT,
    CONF_UNIT_ID,
    DOMAIN,
    LOGGER,
    MODE_EXTERNAL,
    SUBENTRY_UNIT,
)
from .controller import async_setup_controller_issue, async_setup_controller_services
from .coordinator import RentalWifiConfigEntry, RentalWifiCoordinator, RentalWifiData
from .helpers import (
    async_remove_stale_devices,
    client_for_entry,
    is_managed,
    unit_subentries,
)
from .issues import async_clear_unit_issues, async_update_unit_issues
from .managed import (
    ManagedConfig,
    ManagedSidecar,
    SidecarStartError,
    async_clear_issues,
    async_find_checked_binary,
    async_raise_issue,
    data_dir_for,
)
from .booking_issues import async_clear_booking_issues, async_update_booking_issues
from .services import async_setup_services
from .snapshot import MARKER_NAME
from .sync import BookingSync
from .time_zone import async_follow_time_zone

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.IMAGE,
    Platform.SENSOR,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions (once, for every entry)."""
    async_setup_services(hass)
    async_setup_controller_services(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> bool:
    """1.1 → 1.2: the mode is explicit; unit subentries keep only the unit id and calendar."""
    if entry.version > 1:
        return False
    if entry.minor_version < 2:
        for subentry in list(entry.subentries.values()):
            if subentry.subentry_type != SUBENTRY_UNIT:
                continue
            slim = {
                key: subentry.data[key]
                for key in (CONF_UNIT_ID, CONF_CALENDAR_ENTITY)
                if subentry.data.get(key)
            }
            hass.config_entries.async_update_subentry(entry, subentry, data=slim)
        hass.config_entries.async_update_entry(
            entry,
            data={CONF_MODE: MODE_EXTERNAL, **entry.data},
            minor_version=2,
        )
    return True


async def _async_start_sidecar(
    hass: HomeAssistant, entry: RentalWifiConfigEntry
) -> ManagedSidecar:
    """Start the managed sidecar; a problem the host can fix becomes a repair issue."""
    version = str((await async_get_integration(hass, DOMAIN)).version)
    try:
        binary = await async_find_checked_binary(hass, version)
        sidecar = ManagedSidecar(
            hass,
            ManagedConfig(
                binary=binary,
                data_dir=data_dir_for(hass),
                marker=Path(hass.config.path(MARKER_NAME)),
                token=entry.data[CONF_API_TOKEN],
                portal_port=int(entry.data[CONF_PORTAL_PORT]),
                version=version,
            ),
        )
        await sidecar.async_start()
    except SidecarStartError as err:
        async_raise_issue(hass, err)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key=err.reason,
            translation_placeholders=err.placeholders,
        ) from err
    return sidecar


async def async_setup_entry(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> bool:
    """Set up Rental Wi-Fi from a config entry (starting the sidecar in managed mode)."""
    sidecar: ManagedSidecar | None = None
    if is_managed(entry):
        sidecar = await _async_start_sidecar(hass, entry)
        client = RentalWifiClient(
            url=str(sidecar.url),
            token=entry.data[CONF_API_TOKEN],
            session=async_get_clientsession(hass),
        )
    else:
        client = client_for_entry(hass, entry.data)
    try:
        await _async_setup_runtime(hass, entry, client, sidecar)
    except BaseException:
        if sidecar is not None:
            await sidecar.async_stop()
        raise
    return True


async def _async_setup_runtime(
    hass: HomeAssistant,
    entry: RentalWifiConfigEntry,
    client: RentalWifiClient,
    sidecar: ManagedSidecar | None,
) -> None:
    coordinator = RentalWifiCoordinator(hass, entry, client)
    await coordinator.async_config_entry_first_refresh()

    entry.runtime_data = RentalWifiData(
        client=client,
        coordinator=coordinator,
        unit_ids=set(unit_subentries(entry)),
        entry_data=dict(entry.data),
        sidecar=sidecar,
    )

    @callback
    def _async_on_update() -> None:
        # Registered before the platforms: a new unit has its subentry before its entities.
        _async_adopt_units(hass, entry)
        async_remove_stale_devices(hass, entry)
        async_update_booking_issues(hass, entry)
        if coordinator.last_update_success:
            async_update_unit_issues(hass, entry.entry_id, coordinator.data)
            # The sidecar answers again: retry a booking sync that failed.
            for sync in entry.runtime_data.syncs.values():
                if sync.needs_retry:
                    sync.async_schedule(0)

    entry.async_on_unload(coordinator.async_add_listener(_async_on_update))
    entry.async_on_unload(lambda: async_clear_unit_issues(hass, entry.entry_id))
    async_setup_controller_issue(hass, entry)
    _async_adopt_units(hass, entry)
    async_remove_stale_devices(hass, entry)
    async_update_booking_issues(hass, entry)
    async_update_unit_issues(hass, entry.entry_id, coordinator.data)

    if sidecar is not None:

        @callback
        def _async_on_restart() -> None:
            client.url = str(sidecar.url)
            coordinator.async_reconnect_events()
            hass.async_create_task(coordinator.async_request_refresh())

        entry.async_on_unload(sidecar.async_add_listener(_async_on_restart))

    await async_follow_time_zone(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    coordinator.async_start_event_listener()
    _async_start_syncs(hass, entry)
    entry.async_on_unload(lambda: _async_stop_syncs(entry))


@callback
def _async_adopt_units(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> None:
    """Every unit of the sidecar is a subentry: adopt new ones, drop the ones it deleted.

    Units created through the API (a script, another Home Assistant, before this version)
    become subentries like those added in Home Assistant, so every unit is managed the same
    way (reconfigure, delete). Nothing happens unless the snapshot is this entry's sidecar.
    """
    coordinator = entry.runtime_data.coordinator
    if not coordinator.last_update_success:
        return
    state = coordinator.data
    if entry.unique_id is not None and state.instance_id != entry.unique_id:
        return
    data = entry.runtime_data
    known = unit_subentries(entry)
    for unit_id, unit_state in sorted(state.units.items()):
        if unit_id in known:
            continue
        LOGGER.debug("Adopting unit %s as a subentry", unit_id)
        data.unit_ids.add(unit_id)
        hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data=MappingProxyType({CONF_UNIT_ID: unit_id}),
                subentry_type=SUBENTRY_UNIT,
                title=unit_state.unit.name,
                unique_id=unit_id,
            ),
        )
    for unit_id, subentry_id in known.items():
        if unit_id not in state.units:
            LOGGER.debug("Unit %s is gone from the sidecar: removing its subentry", unit_id)
            data.unit_ids.discard(unit_id)  # no DELETE for a unit that is already gone
            hass.config_entries.async_remove_subentry(entry, subentry_id)


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
            unit_id=unit_id,
            calendar_entity_id=calendar,
            on_change=data.coordinator.async_request_refresh,
        )
        data.syncs[unit_id] = sync
        sync.async_start()


@callback
def _async_stop_syncs(entry: RentalWifiConfigEntry) -> None:
    for sync in entry.runtime_data.syncs.values():
        sync.async_stop()
    entry.runtime_data.syncs.clear()


async def _async_update_listener(
    hass: HomeAssistant, entry: RentalWifiConfigEntry
) -> None:
    """The entry changed.

    Connection data (a new token after reauth, a new URL or portal port): reload, which
    builds a new client (and restarts a managed sidecar). Nothing here may use the old
    client: with a rotated token it would be refused and open a second reauth flow.
    Subentries: delete the units whose subentry was removed, follow the calendars, refresh.
    """
    data = entry.runtime_data
    if dict(entry.data) != data.entry_data:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
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
    """Unload a config entry; a managed sidecar is stopped last."""
    if unloaded := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        data = entry.runtime_data
        _async_stop_syncs(entry)
        async_clear_booking_issues(hass, entry)
        # Nothing may talk to the sidecar while it stops (no errors logged for a reload).
        await data.coordinator.async_shutdown()
        if data.sidecar is not None:
            await data.sidecar.async_stop()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> None:
    """The entry is deleted (the sidecar's data stays)."""
    # Versions before the whole-calendar sync kept a copy of the bookings here.
    await Store(hass, 1, f"{DOMAIN}.bookings.{entry.entry_id}").async_remove()
    if is_managed(entry):
        async_clear_issues(hass)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: RentalWifiConfigEntry, device_entry: dr.DeviceEntry
) -> bool:
    """Allow removing a unit's device once the sidecar no longer has that unit."""
    state = entry.runtime_data.coordinator.data
    live = {(DOMAIN, state.instance_id)} | {
        (DOMAIN, f"{state.instance_id}_{unit_id}") for unit_id in state.units
    }
    return not device_entry.identifiers & live
