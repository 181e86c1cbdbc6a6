"""Image: a unit's live voucher as the sidecar's printable QR card."""

from __future__ import annotations

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .api import RentalWifiError
from .const import LOGGER
from .coordinator import RentalWifiConfigEntry, RentalWifiCoordinator
from .entity import RentalWifiUnitEntity
from .helpers import async_add_unit_entities

PARALLEL_UPDATES = 0

VOUCHER_CARD = ImageEntityDescription(key="voucher_card", translation_key="voucher_card")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RentalWifiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the voucher card images."""
    coordinator = entry.runtime_data.coordinator
    async_add_unit_entities(
        entry,
        async_add_entities,
        lambda unit_id: [RentalWifiVoucherCard(coordinator, unit_id)],
    )


class RentalWifiVoucherCard(RentalWifiUnitEntity, ImageEntity):
    """The live voucher's card (``GET /api/v1/vouchers/{code}/card.png``).

    The state is the time the shown voucher last changed (a new code, or a new end);
    no live voucher: no image.
    """

    _attr_content_type = "image/png"

    def __init__(self, coordinator: RentalWifiCoordinator, unit_id: str) -> None:
        """Initialize the image."""
        super().__init__(coordinator, VOUCHER_CARD, unit_id)
        ImageEntity.__init__(self, coordinator.hass)
        self._shown: tuple[str | None, ...] | None = None
        self._image: bytes | None = None
        self._follow_voucher()

    @callback
    def _follow_voucher(self) -> None:
        """Note when the card to show changes; it is fetched when asked for."""
        units = self.coordinator.data.units
        voucher = units[self.unit_id].live_voucher if self.unit_id in units else None
        shown = (
            None
            if voucher is None
            else (
                voucher.code,
                str(voucher.valid_until),
                str(voucher.expires_at),
                voucher.guest_name,
            )
        )
        if shown == self._shown:
            return
        self._shown = shown
        self._image = None
        self._attr_image_last_updated = None if shown is None else dt_util.utcnow()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._follow_voucher()
        super()._handle_coordinator_update()

    async def async_image(self) -> bytes | None:
        """The card of the live voucher (PNG), None without one."""
        if self._shown is None:
            return None
        if self._image is not None:
            return self._image
        shown = self._shown
        code = str(shown[0])
        try:
            image = await self.coordinator.client.voucher_card(code)
        except RentalWifiError as err:
            LOGGER.debug("No card for the voucher of %s: %s", self.unit_id, err)
            return None
        if self._shown == shown:  # not replaced while we were fetching
            self._image = image
        return image
