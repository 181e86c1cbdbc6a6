"""Binary sensors: unit network online; controller and Plume connectivity; controller problem."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import RentalWifiConfigEntry
from .entity import RentalWifiEntity, RentalWifiUnitEntity
from .helpers import async_add_unit_entities
from .models import State, UnitState
from .pods import async_setup_pod_sensors

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class RentalWifiBinarySensorEntityDescription(BinarySensorEntityDescription):
    """Describes a binary sensor of the sidecar."""

    value_fn: Callable[[State], bool | None]
    attrs_fn: Callable[[State], Mapping[str, Any]] | None = None


def _controller_problem_attrs(state: State) -> Mapping[str, Any]:
    """The problem sentence and what waits in the sidecar's outbox."""
    controller = state.controller
    oldest = controller.outbox_oldest_pending_at
    return {
        "problem": controller.problem,
        "outbox_pending": controller.outbox_pending,
        "outbox_waiting": controller.outbox_waiting,
        "outbox_oldest_pending_at": oldest.isoformat() if oldest else None,
    }


@dataclass(frozen=True, kw_only=True)
class RentalWifiUnitBinarySensorEntityDescription(BinarySensorEntityDescription):
    """Describes a binary sensor of a rental unit."""

    value_fn: Callable[[UnitState], bool | None]


SIDECAR_BINARY_SENSORS: tuple[RentalWifiBinarySensorEntityDescription, ...] = (
    RentalWifiBinarySensorEntityDescription(
        key="controller_connected",
        translation_key="controller_connected",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: bool(state.controller.connected),
    ),
    RentalWifiBinarySensorEntityDescription(
        key="controller_problem",
        translation_key="controller_problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: bool(state.controller.problem),
        attrs_fn=_controller_problem_attrs,
    ),
    RentalWifiBinarySensorEntityDescription(
        key="plume_connected",
        translation_key="plume_connected",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: bool(state.plume.connected),
    ),
)

UNIT_BINARY_SENSORS: tuple[RentalWifiUnitBinarySensorEntityDescription, ...] = (
    RentalWifiUnitBinarySensorEntityDescription(
        key="network_online",
        translation_key="network_online",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        value_fn=lambda unit: unit.health.online,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RentalWifiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the binary sensors."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        RentalWifiBinarySensor(coordinator, description)
        for description in SIDECAR_BINARY_SENSORS
    )
    async_add_unit_entities(
        entry,
        async_add_entities,
        lambda unit_id: [
            RentalWifiUnitBinarySensor(coordinator, description, unit_id)
            for description in UNIT_BINARY_SENSORS
        ],
    )
    async_setup_pod_sensors(entry, async_add_entities)


class RentalWifiBinarySensor(RentalWifiEntity, BinarySensorEntity):
    """A binary sensor of the sidecar."""

    entity_description: RentalWifiBinarySensorEntityDescription

    @property
    def is_on(self) -> bool | None:
        """Return the state."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Extra attributes, where the description has them."""
        if self.entity_description.attrs_fn is None:
            return None
        return self.entity_description.attrs_fn(self.coordinator.data)


class RentalWifiUnitBinarySensor(RentalWifiUnitEntity, BinarySensorEntity):
    """A binary sensor of a rental unit."""

    entity_description: RentalWifiUnitBinarySensorEntityDescription

    @property
    def is_on(self) -> bool | None:
        """Return the state."""
        return self.entity_description.value_fn(self.unit_state)
