"""Sensors: per unit (voucher, guests, Plume health) and for the sidecar."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import HEALTH_STATES
from .coordinator import RentalWifiConfigEntry
from .entity import RentalWifiEntity, RentalWifiUnitEntity
from .helpers import async_add_unit_entities
from .models import State, UnitState

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class RentalWifiUnitSensorEntityDescription(SensorEntityDescription):
    """Describes a sensor of a rental unit."""

    value_fn: Callable[[UnitState], str | int | datetime | None]
    attributes_fn: Callable[[UnitState], Mapping[str, Any] | None] = lambda _: None


@dataclass(frozen=True, kw_only=True)
class RentalWifiSensorEntityDescription(SensorEntityDescription):
    """Describes a sensor of the sidecar."""

    value_fn: Callable[[State], int | None]


def _voucher_end(unit: UnitState) -> datetime | None:
    if (voucher := unit.live_voucher) is None:
        return None
    return voucher.expires_at or voucher.valid_until


def _voucher_attributes(unit: UnitState) -> Mapping[str, Any] | None:
    if (voucher := unit.live_voucher) is None:
        return {"live_vouchers": 0}
    return {
        "status": voucher.status,
        "guest_name": voucher.guest_name,
        "booking_ref": voucher.booking_ref,
        "devices_used": voucher.devices_used,
        "max_devices": voucher.max_devices,
        "live_vouchers": len(unit.vouchers),
    }


def _health(unit: UnitState) -> str:
    status = unit.health.status
    return status if status in HEALTH_STATES else "unknown"


UNIT_SENSORS: tuple[RentalWifiUnitSensorEntityDescription, ...] = (
    RentalWifiUnitSensorEntityDescription(
        key="voucher_code",
        translation_key="voucher_code",
        value_fn=lambda unit: unit.live_voucher.code if unit.live_voucher else None,
        attributes_fn=_voucher_attributes,
    ),
    RentalWifiUnitSensorEntityDescription(
        key="voucher_end",
        translation_key="voucher_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_voucher_end,
    ),
    RentalWifiUnitSensorEntityDescription(
        key="guest_devices",
        translation_key="guest_devices",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda unit: unit.active_grants,
    ),
    RentalWifiUnitSensorEntityDescription(
        key="network_health",
        translation_key="network_health",
        device_class=SensorDeviceClass.ENUM,
        options=HEALTH_STATES,
        value_fn=_health,
        attributes_fn=lambda unit: {
            "reasons": unit.health.reasons,
            "stale": unit.health.stale,
        },
    ),
    RentalWifiUnitSensorEntityDescription(
        key="pods_connected",
        translation_key="pods_connected",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda unit: unit.health.pods_connected,
        attributes_fn=lambda unit: {"pods_total": unit.health.pods_total},
    ),
    RentalWifiUnitSensorEntityDescription(
        key="devices_connected",
        translation_key="devices_connected",
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
        value_fn=lambda unit: unit.health.devices_connected,
    ),
)

SIDECAR_SENSORS: tuple[RentalWifiSensorEntityDescription, ...] = (
    RentalWifiSensorEntityDescription(
        key="active_grants",
        translation_key="active_grants",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda state: state.active_grants,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RentalWifiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the sensors."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        RentalWifiSensor(coordinator, description) for description in SIDECAR_SENSORS
    )
    async_add_unit_entities(
        entry,
        async_add_entities,
        lambda unit_id: [
            RentalWifiUnitSensor(coordinator, description, unit_id)
            for description in UNIT_SENSORS
        ],
    )


class RentalWifiSensor(RentalWifiEntity, SensorEntity):
    """A sensor of the sidecar."""

    entity_description: RentalWifiSensorEntityDescription

    @property
    def native_value(self) -> int | None:
        """Return the state."""
        return self.entity_description.value_fn(self.coordinator.data)


class RentalWifiUnitSensor(RentalWifiUnitEntity, SensorEntity):
    """A sensor of a rental unit."""

    entity_description: RentalWifiUnitSensorEntityDescription

    @property
    def native_value(self) -> str | int | datetime | None:
        """Return the state."""
        return self.entity_description.value_fn(self.unit_state)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return the attributes."""
        return self.entity_description.attributes_fn(self.unit_state)
