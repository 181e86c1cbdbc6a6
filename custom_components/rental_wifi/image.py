"""Image: the sidecar's printable QR card of a unit's current stay (in progress, else the
next); in password mode, the current password's card (its QR code joins the Wi-Fi with the
password)."""

from __future__ import annotations

from typing import cast

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.const import EVENT_CORE_CONFIG_UPDATE
from homeassistant.core import Event, HomeAssistant, callback
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
    """The card of the unit's current voucher (``GET /api/v1/vouchers/{code}/card.png``).

    Which voucher is the sidecar's choice (``current_voucher``): the stay in progress, else
    the next one — not the newest voucher, which the booking sync issues for stays weeks
    ahead. The PNG holds the unit, the Wi-Fi name, the QR code, the code and the validity in
    the property's time zone, so it changes with the voucher, the SSID, the validity or the
    zone. The state is when the shown voucher was issued, the same before and after a reload
    (a restart does not log a change); any other change under the same voucher counts from
    when it was noticed. No current voucher: no image.
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
        unit = units.get(self.unit_id)
        voucher = None
        if unit is not None:
            # Password mode: the sidecar names the current password's voucher; else the
            # voucher of the stay in progress, else the next (the sidecar's choice too).
            voucher = (
                unit.password_voucher
                if unit.unit.access_mode == "password"
                else unit.card_voucher
            )
        if voucher is None or unit is None:
            shown = None
        else:
            # Everything the card prints (the zone: the unit's own, else Home Assistant's).
            shown = (
                voucher.code,
                unit.unit.ssids[0] if unit.unit.ssids else None,
                unit.unit.name,
                str(voucher.valid_from),
                str(voucher.valid_until),
                str(voucher.duration_minutes),
                unit.unit.time_zone or self.coordinator.hass.config.time_zone,
            )
        if shown == self._shown:
            return
        same_voucher = (
            shown is not None and self._shown is not None and shown[0] == self._shown[0]
        )
        self._shown = shown
        self._image = None
        if shown is None:
            self._attr_image_last_updated = None
        elif same_voucher or voucher is None or voucher.created_at is None:
            self._attr_image_last_updated = dt_util.utcnow()
        else:
            self._attr_image_last_updated = voucher.created_at

    @callback
    def _handle_coordinator_update(self) -> None:
        self._follow_voucher()
        super()._handle_coordinator_update()

    async def async_added_to_hass(self) -> None:
        """Also follow Home Assistant's time zone (the card prints times in it)."""
        await super().async_added_to_hass()

        @callback
        def _zone_changed(_event: Event) -> None:
            self._follow_voucher()
            self.async_write_ha_state()

        self.async_on_remove(
            self.hass.bus.async_listen(EVENT_CORE_CONFIG_UPDATE, _zone_changed)
        )

    async def async_image(self) -> bytes | None:
        """The card of the live voucher (PNG), None without one."""
        if self._shown is None:
            return None
        if self._image is not None:
            return self._image
        shown = self._shown
        code = cast(str, shown[0])
        try:
            image = await self.coordinator.client.voucher_card(code)
        except RentalWifiError as err:
            LOGGER.debug("No card for the voucher of %s: %s", self.unit_id, err)
            return None
        if self._shown == shown:  # not replaced while we were fetching
            self._image = image
        return image
