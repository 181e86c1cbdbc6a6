"""Base entities: one device for the sidecar, one per rental unit (via the sidecar)."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import RentalWifiCoordinator
from .models import UnitState


def sidecar_identifier(coordinator: RentalWifiCoordinator) -> tuple[str, str]:
    """Device identifier of the sidecar itself."""
    return (DOMAIN, coordinator.data.instance_id)


def unit_identifier(instance_id: str, unit_id: str) -> tuple[str, str]:
    """Device identifier of a rental unit."""
    return (DOMAIN, f"{instance_id}_{unit_id}")


class RentalWifiEntity(CoordinatorEntity[RentalWifiCoordinator]):
    """An entity of the sidecar device."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: RentalWifiCoordinator, description: EntityDescription
    ) -> None:
        """Initialize the entity."""
        super().__init__(coordinator)
        self.entity_description = description
        state = coordinator.data
        self._attr_unique_id = f"{state.instance_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={sidecar_identifier(coordinator)},
            name="Rental Wi-Fi sidecar",
            manufacturer="Rental Wi-Fi",
            model="Sidecar",
            sw_version=state.version,
        )


class RentalWifiUnitEntity(CoordinatorEntity[RentalWifiCoordinator]):
    """An entity of a rental unit's device."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: RentalWifiCoordinator,
        description: EntityDescription,
        unit_id: str,
    ) -> None:
        """Initialize the entity."""
        super().__init__(coordinator)
        self.entity_description = description
        self.unit_id = unit_id
        state = coordinator.data
        unit = state.units[unit_id].unit
        self._attr_unique_id = f"{state.instance_id}_{unit_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={unit_identifier(state.instance_id, unit_id)},
            name=unit.name,
            manufacturer="Rental Wi-Fi",
            model="Rental unit",
            via_device=sidecar_identifier(coordinator),
        )

    @property
    def unit_state(self) -> UnitState:
        """This unit in the latest snapshot (only while available)."""
        return self.coordinator.data.units[self.unit_id]

    @property
    def available(self) -> bool:
        """Unavailable when the sidecar is, or when the unit is gone."""
        return super().available and self.unit_id in self.coordinator.data.units
