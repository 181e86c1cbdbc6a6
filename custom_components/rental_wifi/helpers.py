"""Helpers shared by the platforms: dynamic unit devices, subentry lookup."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import RentalWifiClient
from .const import (
    CONF_API_TOKEN,
    CONF_MODE,
    CONF_UNIT_ID,
    DOMAIN,
    MODE_EXTERNAL,
    MODE_MANAGED,
    SUBENTRY_UNIT,
)
from .coordinator import RentalWifiConfigEntry


def client_for_entry(hass: HomeAssistant, data: Mapping[str, Any]) -> RentalWifiClient:
    """A client on Home Assistant's shared session for entry-shaped data (external mode)."""
    return RentalWifiClient(
        url=data[CONF_URL],
        token=data[CONF_API_TOKEN],
        session=async_get_clientsession(hass),
    )


def is_managed(entry: ConfigEntry) -> bool:
    """True when Home Assistant runs this entry's sidecar itself."""
    return entry.data.get(CONF_MODE, MODE_EXTERNAL) == MODE_MANAGED


def managed_entries(hass: HomeAssistant) -> list[ConfigEntry]:
    """The entries (at most one) whose sidecar Home Assistant runs."""
    return [e for e in hass.config_entries.async_entries(DOMAIN) if is_managed(e)]


def unit_subentries(entry: ConfigEntry) -> dict[str, str]:
    """Map unit_id → subentry_id for the entry's unit subentries."""
    return {
        subentry.data[CONF_UNIT_ID]: subentry_id
        for subentry_id, subentry in entry.subentries.items()
        if subentry.subentry_type == SUBENTRY_UNIT and CONF_UNIT_ID in subentry.data
    }


@callback
def async_add_unit_entities(
    entry: RentalWifiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    factory: Callable[[str], Iterable[Entity]],
) -> None:
    """Add a unit's entities when it appears in the snapshot (now or later).

    A unit created through a subentry gets its entities (and so its device) attached to
    that subentry; a unit created some other way (API, script) is attached to the entry.
    """
    coordinator = entry.runtime_data.coordinator
    known: set[str] = set()

    @callback
    def _async_add_new_units() -> None:
        if not coordinator.last_update_success:
            return
        current = set(coordinator.data.units)
        known.intersection_update(current)  # a unit that comes back is added again
        if not (new := current - known):
            return
        known.update(new)
        subentries = unit_subentries(entry)
        for unit_id in sorted(new):
            async_add_entities(
                factory(unit_id), config_subentry_id=subentries.get(unit_id)
            )

    _async_add_new_units()
    entry.async_on_unload(coordinator.async_add_listener(_async_add_new_units))


@callback
def async_remove_stale_devices(
    hass: HomeAssistant, entry: RentalWifiConfigEntry
) -> None:
    """Remove the devices of units that the sidecar no longer has."""
    coordinator = entry.runtime_data.coordinator
    if not coordinator.last_update_success:
        return
    state = coordinator.data
    prefix = f"{state.instance_id}_"
    current = {f"{prefix}{unit_id}" for unit_id in state.units}
    device_registry = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id):
        for domain, identifier in device.identifiers:
            if (
                domain == DOMAIN
                and identifier.startswith(prefix)
                and identifier not in current
            ):
                device_registry.async_update_device(
                    device.id, remove_config_entry_id=entry.entry_id
                )
                break
