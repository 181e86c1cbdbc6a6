"""Per-pod connectivity: a binary sensor for each Plume pod and each controller access point
of a unit (disabled by default), added when the sidecar first lists it and removed when its
source no longer does.

A pod that the snapshot does not list is removed only when its source has been read since the
sidecar started (``network.read``): after a restart, before the first poll, nothing is
removed, so an entity the host enabled keeps its registry entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .coordinator import RentalWifiConfigEntry, RentalWifiCoordinator
from .entity import RentalWifiUnitEntity
from .helpers import unit_subentries
from .models import PodSummary, UnitState

POD_PREFIX = "pod_"


def pod_description(pod: PodSummary) -> BinarySensorEntityDescription:
    """The description of a pod's connectivity sensor (its key holds source and id)."""
    return BinarySensorEntityDescription(
        key=f"{POD_PREFIX}{pod.key}",
        translation_key=(
            "access_point_connected" if pod.source == "controller" else "pod_connected"
        ),
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    )


class RentalWifiPodSensor(RentalWifiUnitEntity, BinarySensorEntity):
    """Is this pod (or access point) connected, as its source last saw it."""

    def __init__(
        self, coordinator: RentalWifiCoordinator, unit_id: str, pod: PodSummary
    ) -> None:
        """Initialize for one pod of one unit."""
        super().__init__(coordinator, pod_description(pod), unit_id)
        self._key = pod.key
        self._attr_translation_placeholders = {"name": pod.name}

    @property
    def _pod(self) -> PodSummary | None:
        units = self.coordinator.data.units
        unit = units.get(self.unit_id)
        if unit is None:
            return None
        return next((p for p in unit.network.pods if p.key == self._key), None)

    @property
    def available(self) -> bool:
        """Unavailable while the sidecar does not list the pod."""
        return super().available and self._pod is not None

    @property
    def is_on(self) -> bool | None:
        """Connected."""
        pod = self._pod
        return None if pod is None else pod.connected

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Where the state comes from and what the device is."""
        pod = self._pod
        if pod is None:
            return None
        return {"source": pod.source, "kind": pod.kind, "pod_id": pod.id}


@callback
def async_add_keyed_unit_entities(
    entry: RentalWifiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    keys: Callable[[UnitState], Iterable[str]],
    factory: Callable[[str, str], Entity],
) -> set[tuple[str, str]]:
    """Add an entity per (unit, key) when the snapshot first shows the key.

    Returns the set of (unit, key) whose entity exists: a key missing from a snapshot keeps
    its entity (unavailable) unless the caller removes it and discards the key; a unit that is
    gone takes its keys along (its device and entities are removed).
    """
    coordinator = entry.runtime_data.coordinator
    known: set[tuple[str, str]] = set()

    @callback
    def _async_add_new() -> None:
        if not coordinator.last_update_success:
            return
        units = coordinator.data.units
        subentries = unit_subentries(entry)
        current = {
            (unit_id, key) for unit_id, unit in units.items() for key in keys(unit)
        }
        known.intersection_update({k for k in known if k[0] in units})
        new: dict[str, list[Entity]] = {}
        for unit_id, key in sorted(current - known):
            new.setdefault(unit_id, []).append(factory(unit_id, key))
        known.update(current)
        for unit_id, entities in new.items():
            async_add_entities(entities, config_subentry_id=subentries.get(unit_id))

    _async_add_new()
    entry.async_on_unload(coordinator.async_add_listener(_async_add_new))
    return known


@callback
def async_setup_pod_sensors(
    entry: RentalWifiConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Pod sensors now and as pods appear; registry entries of pods that are gone removed."""
    coordinator = entry.runtime_data.coordinator
    hass = coordinator.hass

    def _pods(unit: UnitState) -> dict[str, PodSummary]:
        return {pod.key: pod for pod in unit.network.pods}

    known = async_add_keyed_unit_entities(
        entry,
        async_add_entities,
        lambda unit: _pods(unit).keys(),
        lambda unit_id, key: RentalWifiPodSensor(
            coordinator, unit_id, _pods(coordinator.data.units[unit_id])[key]
        ),
    )

    @callback
    def _async_remove_gone() -> None:
        if not coordinator.last_update_success:
            return
        state = coordinator.data
        registry = er.async_get(hass)
        for reg in er.async_entries_for_config_entry(registry, entry.entry_id):
            if reg.domain != "binary_sensor" or reg.platform != DOMAIN:
                continue
            # The unit whose prefix matches (the longest id: "a" and "a_pod" are both ids).
            heads = [
                (f"{state.instance_id}_{unit_id}_{POD_PREFIX}", unit)
                for unit_id, unit in state.units.items()
            ]
            matches = [(h, u) for h, u in heads if reg.unique_id.startswith(h)]
            if not matches:
                continue
            head, unit = max(matches, key=lambda m: len(m[0]))
            key = reg.unique_id.removeprefix(head)
            source = key.split("_", 1)[0]
            if unit.network.read.get(source) and key not in _pods(unit):
                registry.async_remove(reg.entity_id)
                known.discard((unit.unit.unit_id, key))

    _async_remove_gone()
    entry.async_on_unload(coordinator.async_add_listener(_async_remove_gone))
