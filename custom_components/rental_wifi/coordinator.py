"""One coordinator per sidecar: polls the state snapshot, listens to its event stream."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .api import (
    SSE_CONNECTED,
    RentalWifiAuthError,
    RentalWifiClient,
    RentalWifiError,
)
from .const import (
    BUS_EVENTS,
    DOMAIN,
    EVENT_PREFIX,
    LOGGER,
    SCAN_INTERVAL,
    SSE_BACKOFF_MAX,
    SSE_BACKOFF_MIN,
)
from .models import SseEvent, State

if TYPE_CHECKING:
    from .managed import ManagedSidecar
    from .sync import BookingSync


@dataclass
class RentalWifiData:
    """What a loaded config entry keeps at runtime."""

    client: RentalWifiClient
    coordinator: RentalWifiCoordinator
    unit_ids: set[str]
    """Unit ids of the entry's unit subentries, to spot a removed subentry."""
    entry_data: dict[str, Any]
    """The entry data this runtime was built from: a change means a reload, never a patch."""
    sidecar: ManagedSidecar | None = None
    """The supervised child process in managed mode."""
    syncs: dict[str, BookingSync] = field(default_factory=dict)
    """Rental Control booking sync per unit (units whose subentry names a calendar)."""
    booking_issues: set[str] = field(default_factory=set)
    """Ids of the repair issues raised for bookings that vanished during a stay."""


type RentalWifiConfigEntry = ConfigEntry[RentalWifiData]


class RentalWifiCoordinator(DataUpdateCoordinator[State]):
    """Read ``GET /api/v1/state``; the only place client errors become HA errors."""

    config_entry: RentalWifiConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        config_entry: RentalWifiConfigEntry,
        client: RentalWifiClient,
    ) -> None:
        """Initialize the coordinator."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=config_entry,
            name=DOMAIN,
            update_interval=SCAN_INTERVAL,
            always_update=False,
            # Events come in bursts (issued, redeemed, …): refresh at once, then at
            # most once a second.
            request_refresh_debouncer=Debouncer(
                hass, LOGGER, cooldown=1.0, immediate=True
            ),
        )
        self.client = client
        self.sse_connected = False
        self._wake = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    async def _async_update_data(self) -> State:
        try:
            return await self.client.get_state()
        except RentalWifiAuthError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="auth_failed"
            ) from err
        except RentalWifiError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err

    @callback
    def async_start_event_listener(self) -> None:
        """Run the SSE listener for as long as the entry is loaded."""
        self._listener = self.config_entry.async_create_background_task(
            self.hass, self._async_listen(), f"{DOMAIN} event stream"
        )

    async def async_shutdown(self) -> None:
        """Stop polling and the event stream (before a managed sidecar is stopped)."""
        await super().async_shutdown()
        if self._listener is not None and not self._listener.done():
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        self._listener = None

    async def _async_listen(self) -> None:
        """Follow the event stream; reconnect with backoff (1 s doubling to 60 s)."""
        backoff = SSE_BACKOFF_MIN
        last_id: str | None = None
        while True:
            try:
                async for event in self.client.events(last_id):
                    if event.event == SSE_CONNECTED:
                        # A (re)connected stream: catch up on what was missed.
                        self.sse_connected = True
                        backoff = SSE_BACKOFF_MIN
                        LOGGER.debug("Event stream connected")
                        await self.async_request_refresh()
                        continue
                    last_id = event.id or last_id
                    await self._async_handle_event(event)
                LOGGER.debug("Event stream ended")
            except RentalWifiError as err:
                LOGGER.debug("Event stream error: %s", err)
            if self.sse_connected:
                self.sse_connected = False
                # The sidecar may be gone: find out now rather than at the next poll.
                await self.async_request_refresh()
            self._wake.clear()
            try:
                async with asyncio.timeout(backoff):
                    await self._wake.wait()
            except TimeoutError:
                backoff = min(backoff * 2, SSE_BACKOFF_MAX)
            else:
                backoff = SSE_BACKOFF_MIN

    @callback
    def async_reconnect_events(self) -> None:
        """The sidecar is back (managed restart): reconnect the stream without waiting."""
        self._wake.set()

    async def _async_handle_event(self, event: SseEvent) -> None:
        """Fire the bus event (when it is one we publish) and refresh the snapshot."""
        if event.event in BUS_EVENTS:
            self.hass.bus.async_fire(
                f"{EVENT_PREFIX}{event.event}",
                {**event.data, "config_entry_id": self.config_entry.entry_id},
            )
        await self.async_request_refresh()
