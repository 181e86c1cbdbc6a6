"""Sensors: per unit (voucher, guests, network health, ISP speed test) and for the sidecar."""

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
from homeassistant.const import UnitOfDataRate
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.translation import async_get_translations

from .api import RentalWifiError
from .const import DOMAIN, HEALTH_STATES, LOGGER
from .coordinator import RentalWifiConfigEntry, RentalWifiCoordinator
from .entity import RentalWifiEntity, RentalWifiUnitEntity
from .helpers import async_add_unit_entities
from .models import State, UnitState
from .pods import async_add_keyed_unit_entities

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class RentalWifiUnitSensorEntityDescription(SensorEntityDescription):
    """Describes a sensor of a rental unit."""

    value_fn: Callable[[UnitState], str | int | float | datetime | None]
    attributes_fn: Callable[[UnitState, Mapping[str, str]], Mapping[str, Any] | None] = (
        lambda _unit, _texts: None
    )


@dataclass(frozen=True, kw_only=True)
class RentalWifiSensorEntityDescription(SensorEntityDescription):
    """Describes a sensor of the sidecar."""

    value_fn: Callable[[State], int | None]


def _voucher_end(unit: UnitState) -> datetime | None:
    if (voucher := unit.live_voucher) is None:
        return None
    return voucher.expires_at or voucher.valid_until


_VALID_FOR = f"component.{DOMAIN}.entity.sensor.voucher_end.state_attributes.valid_for.state."


def valid_for_text(minutes: int, texts: Mapping[str, str]) -> str:
    """ "3 days from first use" in Home Assistant's language (the sidecar's duration)."""
    if minutes % 1440 == 0:
        unit, count = "day", minutes // 1440
    elif minutes % 60 == 0:
        unit, count = "hour", minutes // 60
    else:
        unit, count = "minute", minutes
    key = unit if count == 1 else f"{unit}s"
    template = texts.get(f"{_VALID_FOR}{key}", f"{{count}} {key} from first use")
    return template.replace("{count}", str(count))


def _voucher_end_attributes(
    unit: UnitState, texts: Mapping[str, str]
) -> Mapping[str, Any] | None:
    """A voucher whose end counts from its first use says so, instead of "Unknown" alone."""
    voucher = unit.live_voucher
    if voucher is None or not voucher.duration_minutes or voucher.expires_at is not None:
        return {"starts_at_first_use": False}
    return {
        "starts_at_first_use": True,
        "duration_minutes": voucher.duration_minutes,
        "valid_for": valid_for_text(int(voucher.duration_minutes), texts),
    }


def _voucher_attributes(unit: UnitState, texts: Mapping[str, str]) -> Mapping[str, Any] | None:
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
        attributes_fn=_voucher_end_attributes,
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
        attributes_fn=lambda unit, _: {
            "reasons": unit.health.reasons,
            "stale": unit.health.stale,
        },
    ),
    RentalWifiUnitSensorEntityDescription(
        key="pods_connected",
        translation_key="pods_connected",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda unit: unit.health.pods_connected,
        attributes_fn=lambda unit, _: {"pods_total": unit.health.pods_total},
    ),
    RentalWifiUnitSensorEntityDescription(
        key="devices_connected",
        translation_key="devices_connected",
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
        value_fn=lambda unit: unit.health.devices_connected,
    ),
)

def _speed_test_attributes(
    unit: UnitState, _texts: Mapping[str, str]
) -> Mapping[str, Any] | None:
    """Airbnb's tier of the download speed (the sidecar's), when and how long the test."""
    test = unit.network.speed_test
    if test is None:
        return None
    return {
        "airbnb_speed_tier": test.airbnb_tier,
        "tested_at": test.tested_at,
        "rtt_ms": test.rtt_ms,
    }


# The gateway's ISP speed test (Plume), added to a unit once the sidecar has one.
SPEED_TEST_SENSORS: tuple[RentalWifiUnitSensorEntityDescription, ...] = (
    RentalWifiUnitSensorEntityDescription(
        key="isp_download",
        translation_key="isp_download",
        device_class=SensorDeviceClass.DATA_RATE,
        native_unit_of_measurement=UnitOfDataRate.MEGABITS_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda unit: (
            unit.network.speed_test.download_mbps if unit.network.speed_test else None
        ),
        attributes_fn=_speed_test_attributes,
    ),
    RentalWifiUnitSensorEntityDescription(
        key="isp_upload",
        translation_key="isp_upload",
        device_class=SensorDeviceClass.DATA_RATE,
        native_unit_of_measurement=UnitOfDataRate.MEGABITS_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda unit: (
            unit.network.speed_test.upload_mbps if unit.network.speed_test else None
        ),
        attributes_fn=lambda unit, _: (
            {"tested_at": unit.network.speed_test.tested_at}
            if unit.network.speed_test
            else None
        ),
    ),
)
_SPEED_TEST = {description.key: description for description in SPEED_TEST_SENSORS}

WIFI_PASSWORD = SensorEntityDescription(
    key="wifi_password",
    translation_key="wifi_password",
    entity_registry_enabled_default=False,
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
    texts = await async_get_translations(hass, hass.config.language, "entity", {DOMAIN})
    async_add_entities(
        RentalWifiSensor(coordinator, description) for description in SIDECAR_SENSORS
    )
    async_add_unit_entities(
        entry,
        async_add_entities,
        lambda unit_id: [
            *(
                RentalWifiUnitSensor(coordinator, description, unit_id, texts)
                for description in UNIT_SENSORS
            ),
            RentalWifiPasswordSensor(coordinator, WIFI_PASSWORD, unit_id),
        ],
    )
    async_add_keyed_unit_entities(
        entry,
        async_add_entities,
        lambda unit: _SPEED_TEST if unit.network.speed_test is not None else (),
        lambda unit_id, key: RentalWifiSpeedTestSensor(
            coordinator, _SPEED_TEST[key], unit_id, texts
        ),
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

    def __init__(
        self,
        coordinator: RentalWifiCoordinator,
        description: RentalWifiUnitSensorEntityDescription,
        unit_id: str,
        texts: Mapping[str, str],
    ) -> None:
        """Initialize the sensor (texts: this integration's translations)."""
        super().__init__(coordinator, description, unit_id)
        self._texts = texts

    @property
    def native_value(self) -> str | int | float | datetime | None:
        """Return the state."""
        return self.entity_description.value_fn(self.unit_state)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return the attributes."""
        return self.entity_description.attributes_fn(self.unit_state, self._texts)


class RentalWifiSpeedTestSensor(RentalWifiUnitSensor):
    """The ISP speed test: unavailable while the sidecar has none for the unit."""

    @property
    def available(self) -> bool:
        """Available with a speed test."""
        return super().available and self.unit_state.network.speed_test is not None


class RentalWifiPasswordSensor(RentalWifiUnitEntity, SensorEntity):
    """A password-mode unit's current Wi-Fi password, disabled by default.

    Like core's ``unifi`` WLAN password sensor, the password is shown only once the host
    enables this entity. The snapshot says which password is current (the booking in
    progress, else the next) but never the password itself: this sensor reads it from the
    sidecar's dedicated route (``GET /api/v1/units/{unit_id}/password``, audited) when the
    current one changes, so the audit log holds one read per password, not one per poll. A
    unit in portal mode, or without a current password, reads unknown.
    """

    def __init__(
        self,
        coordinator: RentalWifiCoordinator,
        description: SensorEntityDescription,
        unit_id: str,
    ) -> None:
        """Initialize the sensor."""
        super().__init__(coordinator, description, unit_id)
        self._wanted: str | None = None
        self._read: dict[str, Any] | None = None

    async def async_added_to_hass(self) -> None:
        """Read the current password once the (enabled) entity is added."""
        await super().async_added_to_hass()
        self._follow()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._follow()
        super()._handle_coordinator_update()

    @callback
    def _follow(self) -> None:
        """Fetch the password when the current one changes."""
        current = self.unit_state.wifi_password if self.available else None
        code = current.code if current is not None else None
        if code == self._wanted:
            return
        self._wanted = code
        self._read = None
        if code is not None:
            self.coordinator.config_entry.async_create_background_task(
                self.hass, self._async_fetch(code), f"{DOMAIN} Wi-Fi password"
            )

    async def _async_fetch(self, code: str) -> None:
        try:
            data = await self.coordinator.client.unit_password(self.unit_id)
        except RentalWifiError as err:
            LOGGER.debug("Wi-Fi password of %s not read: %s", self.unit_id, err)
            self._wanted = None  # try again at the next update
            return
        if self._wanted != code:
            return  # another password became current meanwhile
        self._read = data if data.get("code") == code else None
        if self._read is None:
            self._wanted = None
        self.async_write_ha_state()

    @property
    def native_value(self) -> str | None:
        """The password, or None."""
        wifi = (self._read or {}).get("wifi") or {}
        return wifi.get("password")

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Which voucher and network it belongs to (never the password again)."""
        if self._read is None or not self.available:
            return None
        current = self.unit_state.wifi_password
        wifi = self._read.get("wifi") or {}
        return {
            "ssid": wifi.get("ssid"),
            "code": self._read.get("code"),
            "booking_ref": self._read.get("booking_ref"),
            "valid_from": self._read.get("valid_from"),
            "valid_until": current.valid_until if current else self._read.get("valid_until"),
            "on_controller": current.on_controller if current else False,
        }
