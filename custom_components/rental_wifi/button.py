"""Buttons: check the controller (sidecar device), make a host test code (each unit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .controller import async_check_controller, async_create_host_test_code
from .coordinator import RentalWifiConfigEntry
from .entity import RentalWifiEntity, RentalWifiUnitEntity
from .helpers import async_add_unit_entities

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class RentalWifiButtonEntityDescription(ButtonEntityDescription):
    """Describes a button of the sidecar."""

    press_fn: Callable[[HomeAssistant, RentalWifiConfigEntry], Awaitable[Any]]


@dataclass(frozen=True, kw_only=True)
class RentalWifiUnitButtonEntityDescription(ButtonEntityDescription):
    """Describes a button of a rental unit."""

    press_fn: Callable[[HomeAssistant, RentalWifiConfigEntry, str], Awaitable[Any]]


SIDECAR_BUTTONS: tuple[RentalWifiButtonEntityDescription, ...] = (
    RentalWifiButtonEntityDescription(
        key="check_controller",
        translation_key="check_controller",
        entity_category=EntityCategory.DIAGNOSTIC,
        press_fn=async_check_controller,
    ),
)

UNIT_BUTTONS: tuple[RentalWifiUnitButtonEntityDescription, ...] = (
    RentalWifiUnitButtonEntityDescription(
        key="host_test_code",
        translation_key="host_test_code",
        entity_category=EntityCategory.DIAGNOSTIC,
        press_fn=async_create_host_test_code,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RentalWifiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the buttons."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        RentalWifiButton(coordinator, description) for description in SIDECAR_BUTTONS
    )
    async_add_unit_entities(
        entry,
        async_add_entities,
        lambda unit_id: [
            RentalWifiUnitButton(coordinator, description, unit_id)
            for description in UNIT_BUTTONS
        ],
    )


class RentalWifiButton(RentalWifiEntity, ButtonEntity):
    """A button of the sidecar."""

    entity_description: RentalWifiButtonEntityDescription

    async def async_press(self) -> None:
        """Run the action; its result is shown as a notification."""
        await self.entity_description.press_fn(self.hass, self.coordinator.config_entry)


class RentalWifiUnitButton(RentalWifiUnitEntity, ButtonEntity):
    """A button of a rental unit."""

    entity_description: RentalWifiUnitButtonEntityDescription

    async def async_press(self) -> None:
        """Run the action for this unit; its result is shown as a notification."""
        await self.entity_description.press_fn(
            self.hass, self.coordinator.config_entry, self.unit_id
        )
