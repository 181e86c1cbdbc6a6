"""Send a unit's Rental Control calendar to the sidecar, whole (no rules, no copies here).

Rental Control shows the next N reservations of a calendar as event sensors
(``sensor.<calendar object id>_event_<n>``). For every unit subentry with a calendar we follow
those sensors and, when they change, send what they show as one view: ``PUT
/api/v1/units/{unit_id}/bookings`` with the bookings (``start``, ``end``, ``guest_name`` from
``slot_name``, ``codes`` from ``slot_code`` and ``last_four``) and the time span the view
covers. The sidecar decides what is new, moved, missing or cancelled — and that a booking
missing from the view is not a cancellation (calendars blank out: Rental Control clears its
sensors to "No reservation" after two empty fetches). Nothing about the bookings is kept
here; the sidecar answers a repeated view without writing anything.

The span: from now, open-ended — unless every sensor holds a reservation, when a booking
after the last one shown may just be out of sight, so the view covers only up to that
booking's start. While Rental Control is (re)loading (sensors unavailable or unknown) no view
is sent: it would show nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
import hashlib
import re
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HassJob,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import (
    async_call_later,
    async_track_state_change_event,
)
from homeassistant.util import dt as dt_util

from .api import RentalWifiApiError, RentalWifiClient, RentalWifiError
from .const import DOMAIN, LOGGER

RENTAL_CONTROL = "rental_control"
NO_RESERVATION = "No reservation"
# Rental Control's default is 5 event sensors; hosts raise it. Without the entity registry we
# listen to this many per naming scheme (listening to an entity that does not exist is free).
PATTERN_SLOTS = 20
# Rental Control refreshes its sensors one after the other: let a burst settle before sending
# the view, so that a booking moving from event_1 to event_0 is never seen missing.
SYNC_DELAY = 2.0
MAX_REF_LENGTH = 100

_EVENT_ENTITY = re.compile(r"_event_(\d+)$")
_EVENT_NAME = re.compile(r"\bevent (\d+)$", re.IGNORECASE)


def rfc3339(value: datetime) -> str:
    """UTC RFC 3339 with seconds (a naive time is Home Assistant's local time)."""
    return dt_util.as_utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return dt_util.parse_datetime(value)
    return None


def booking_ref_for(attributes: Mapping[str, Any], start: datetime) -> str:
    """The event's iCal ``uid``; without one, a stable hash of (summary, start)."""
    uid = attributes.get("uid")
    if isinstance(uid, str) and uid.strip():
        uid = uid.strip()
        if len(uid) <= MAX_REF_LENGTH:
            return uid
        return "uid-" + hashlib.sha256(uid.encode()).hexdigest()[:32]
    summary = str(attributes.get("summary") or "")
    digest = hashlib.sha256(f"{summary}\n{rfc3339(start)}".encode()).hexdigest()
    return f"rc-{digest[:24]}"


def booking_from_state(state: State) -> dict[str, Any] | None:
    """The reservation an event sensor shows (a view entry), None for "No reservation"."""
    if state.state.endswith(NO_RESERVATION):  # also with an event prefix
        return None
    attributes = state.attributes
    start = _as_datetime(attributes.get("start"))
    end = _as_datetime(attributes.get("end"))
    if start is None or end is None:
        return None
    codes: list[str] = []
    for key in ("slot_code", "last_four"):
        value = attributes.get(key)
        if value is None or (code := str(value).strip()) == "" or code in codes:
            continue
        codes.append(code)
    guest = attributes.get("slot_name")
    return {
        "booking_ref": booking_ref_for(attributes, start),
        "start": rfc3339(start),
        "end": rfc3339(end),
        "guest_name": str(guest) if guest else None,
        "codes": codes,
    }


def calendar_view(states: list[State | None], now: datetime) -> dict[str, Any] | None:
    """The view to send for these event sensor states, or None when nothing can be said.

    Sensors that do not exist (None) are ignored; while any existing one is unavailable or
    unknown, Rental Control is not ready and no view is built.
    """
    existing = [state for state in states if state is not None]
    if not existing or any(
        state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN) for state in existing
    ):
        return None
    bookings: dict[str, dict[str, Any]] = {}
    shown = 0
    for state in existing:
        if (booking := booking_from_state(state)) is not None:
            shown += 1
            bookings.setdefault(booking["booking_ref"], booking)
    until = None
    if bookings and shown >= len(existing):
        # Every slot is taken: a booking after the last one shown may be out of sight.
        until = max(b["start"] for b in bookings.values())
    return {"from": rfc3339(now), "until": until, "bookings": list(bookings.values())}


def pattern_sensor_ids(calendar_entity_id: str, slots: int = PATTERN_SLOTS) -> list[str]:
    """Event sensor ids derived from the calendar's id, for both naming schemes.

    Rental Control names its sensors after the calendar entity: current
    ``calendar.<cal>_rental_control`` → ``sensor.<cal>_rental_control_event_<n>``, legacy
    ``calendar.rental_control_<cal>`` → ``sensor.rental_control_<cal>_event_<n>``: both are
    ``sensor.<calendar object id>_event_<n>``. An install upgraded halfway may have the
    calendar in one scheme and the sensors in the other, so the other scheme is added too.
    """
    object_id = calendar_entity_id.partition(".")[2]
    prefixes = [object_id]
    if object_id.endswith(f"_{RENTAL_CONTROL}"):
        prefixes.append(f"{RENTAL_CONTROL}_{object_id.removesuffix(f'_{RENTAL_CONTROL}')}")
    elif object_id.startswith(f"{RENTAL_CONTROL}_"):
        prefixes.append(f"{object_id.removeprefix(f'{RENTAL_CONTROL}_')}_{RENTAL_CONTROL}")
    return [
        f"sensor.{prefix}_event_{n}" for prefix in prefixes for n in range(slots)
    ]


def registry_sensor_ids(hass: HomeAssistant, calendar_entity_id: str) -> list[str]:
    """Event sensors of the calendar's Rental Control entry, from the entity registry.

    Found by platform and config entry (the calendar's), so renamed entity ids work too.
    Empty when the calendar is not a registered Rental Control entity.
    """
    registry = er.async_get(hass)
    calendar = registry.async_get(calendar_entity_id)
    if (
        calendar is None
        or calendar.platform != RENTAL_CONTROL
        or calendar.config_entry_id is None
    ):
        return []
    found: list[tuple[int, str]] = []
    for entry in er.async_entries_for_config_entry(registry, calendar.config_entry_id):
        if entry.domain != "sensor" or entry.platform != RENTAL_CONTROL:
            continue
        match = _EVENT_ENTITY.search(entry.entity_id) or _EVENT_NAME.search(
            entry.original_name or ""
        )
        if match:
            found.append((int(match.group(1)), entry.entity_id))
    return [entity_id for _, entity_id in sorted(found)]


class BookingSync:
    """Send one unit's Rental Control calendar to the sidecar whenever it changes."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        client: RentalWifiClient,
        unit_id: str,
        calendar_entity_id: str,
        on_change: Callable[[], Awaitable[None]],
    ) -> None:
        """Prepare (nothing runs before async_start)."""
        self.hass = hass
        self.client = client
        self.unit_id = unit_id
        self.calendar_entity_id = calendar_entity_id
        self._on_change = on_change
        self.sensor_ids: list[str] = []
        self.from_registry = False
        self._lock = asyncio.Lock()
        self._unsubs: list[CALLBACK_TYPE] = []
        self._unsub_track: CALLBACK_TYPE | None = None
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._job = HassJob(self._async_timer_fired, f"{DOMAIN} booking sync")
        self.needs_retry = False
        self.last_error: str | None = None
        self.last_result: dict[str, Any] | None = None
        # Refusals already logged (booking and message), so a view sent again every refresh
        # does not log them again.
        self._logged: set[tuple[str, str]] = set()

    # --- lifecycle --------------------------------------------------------------------

    @callback
    def async_start(self) -> None:
        """Follow the sensors; send what they show now."""
        self._async_follow()
        self._unsubs.append(
            self.hass.bus.async_listen(
                er.EVENT_ENTITY_REGISTRY_UPDATED,
                self._async_registry_updated,
                event_filter=self._is_rental_control_change,
            )
        )
        self.async_schedule(0)

    @callback
    def async_stop(self) -> None:
        """Stop listening (the sidecar keeps the bookings it was sent)."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        if self._unsub_track:
            self._unsub_track()
            self._unsub_track = None
        if self._unsub_timer:
            self._unsub_timer()
            self._unsub_timer = None

    @callback
    def _async_follow(self) -> None:
        """(Re)compute the sensor ids and listen to their state changes."""
        from_registry = registry_sensor_ids(self.hass, self.calendar_entity_id)
        self.from_registry = bool(from_registry)
        sensor_ids = from_registry or pattern_sensor_ids(self.calendar_entity_id)
        if sensor_ids == self.sensor_ids and self._unsub_track:
            return
        self.sensor_ids = sensor_ids
        if self._unsub_track:
            self._unsub_track()
        self._unsub_track = async_track_state_change_event(
            self.hass, sensor_ids, self._async_state_changed
        )
        LOGGER.debug(
            "Unit %s follows %s event sensors of %s (%s)",
            self.unit_id,
            len(sensor_ids),
            self.calendar_entity_id,
            "entity registry" if from_registry else "entity id pattern",
        )

    @callback
    def _is_rental_control_change(self, data: Mapping[str, Any]) -> bool:
        entity_id = str(data.get("entity_id", ""))
        return entity_id == self.calendar_entity_id or entity_id.startswith("sensor.")

    @callback
    def _async_registry_updated(self, event: Event[Any]) -> None:
        self._async_follow()
        self.async_schedule()

    @callback
    def _async_state_changed(self, event: Event[EventStateChangedData]) -> None:
        self.async_schedule()

    @callback
    def async_schedule(self, delay: float | None = None) -> None:
        """Send after the sensors have settled (each change restarts the wait)."""
        if self._unsub_timer:
            self._unsub_timer()
        self._unsub_timer = async_call_later(
            self.hass, SYNC_DELAY if delay is None else delay, self._job
        )

    async def _async_timer_fired(self, _now: datetime) -> None:
        self._unsub_timer = None
        await self.async_sync()

    # --- sending ----------------------------------------------------------------------

    async def async_sync(self) -> None:
        """Send the calendar as the sensors show it now (one call)."""
        async with self._lock:
            states = [self.hass.states.get(entity_id) for entity_id in self.sensor_ids]
            view = calendar_view(states, dt_util.utcnow())
            if view is None:
                return
            try:
                result = await self.client.put_calendar(self.unit_id, view)
            except RentalWifiError as err:
                if isinstance(err, RentalWifiApiError) and err.status < 500:
                    # The sidecar refused the view itself (it says why); not retried until
                    # the sensors change.
                    LOGGER.warning(
                        "The sidecar refused the calendar of unit %s: %s",
                        self.unit_id,
                        err.message,
                    )
                    self.last_error = str(err)
                    self.needs_retry = False
                    return
                self._failed(err)
                return
            if self.needs_retry:
                LOGGER.info("Booking sync for unit %s works again", self.unit_id)
            self.needs_retry = False
            self.last_error = None
            self.last_result = result
            for refused in result.get("refused") or []:
                ref, message = str(refused.get("booking_ref")), str(refused.get("message"))
                self.last_error = f"booking {ref}: {message}"
                if (ref, message) not in self._logged:
                    self._logged.add((ref, message))
                    LOGGER.warning(
                        "The sidecar refused booking %s of unit %s: %s",
                        ref,
                        self.unit_id,
                        message,
                    )
            if any(
                result.get(key) for key in ("created", "updated", "vanished", "restored")
            ):
                await self._on_change()

    def _failed(self, err: RentalWifiError) -> None:
        if not self.needs_retry:
            LOGGER.warning(
                "Booking sync for unit %s failed (retrying when the sidecar answers): %s",
                self.unit_id,
                err,
            )
        self.needs_retry = True
        self.last_error = str(err)
