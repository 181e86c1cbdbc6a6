"""Mirror a unit's Rental Control bookings into the sidecar (no rules here).

Rental Control exposes the next N reservations of a calendar as event sensors
(``sensor.<calendar object id>_event_<n>``). For every unit subentry with a calendar we follow
those sensors with state-change listeners and mirror what they show:

* each sensor with a reservation (``start``/``end`` set) → ``PUT
  /api/v1/units/{unit_id}/bookings/{booking_ref}`` with ``start``, ``end``, ``guest_name``
  (``slot_name``) and ``codes`` (``slot_code``, ``last_four``);
* a booking we mirrored earlier that no sensor shows any more → ``DELETE`` on the same path.

The sidecar owns every rule (grace, extend/shorten, revoke, overlap; a DELETE after the
booking's end is "ended", before it "cancelled"). The only judgement made here is about what
the sensors *can* show: when every event sensor holds a reservation, a booking that starts
after the last one shown may just have been pushed out of sight by an earlier one, so it is
not deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
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
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .api import RentalWifiApiError, RentalWifiClient, RentalWifiError
from .const import DOMAIN, LOGGER

RENTAL_CONTROL = "rental_control"
NO_RESERVATION = "No reservation"
# Rental Control's default is 5 event sensors; hosts raise it. Without the entity registry we
# listen to this many per naming scheme (listening to an entity that does not exist is free).
PATTERN_SLOTS = 20
# Rental Control refreshes its sensors one after the other: let a burst settle before
# comparing, so that a booking moving from event_1 to event_0 is not seen as cancelled.
SYNC_DELAY = 2.0
MAX_REF_LENGTH = 100

STORAGE_VERSION = 1

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


@dataclass(frozen=True)
class Booking:
    """One reservation as an event sensor shows it."""

    ref: str
    start: datetime
    end: datetime
    body: dict[str, Any]


def booking_from_state(state: State | None) -> Booking | None:
    """The reservation an event sensor shows, None for "No reservation" or no data."""
    if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return None
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
    body = {
        "start": rfc3339(start),
        "end": rfc3339(end),
        "guest_name": str(guest) if guest else None,
        "codes": codes,
    }
    return Booking(booking_ref_for(attributes, start), start, end, body)


def _shows_real_state(state: State | None) -> bool:
    return state is not None and state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)


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


class SyncStore:
    """Which bookings each unit's sync has mirrored, kept across restarts.

    A booking cancelled while Home Assistant was down is then still deleted afterwards.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Bind to one config entry."""
        self._store: Store[dict[str, dict[str, dict[str, str]]]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.bookings.{entry_id}"
        )
        self.data: dict[str, dict[str, dict[str, str]]] = {}

    async def async_load(self) -> None:
        """Read the stored state."""
        self.data = await self._store.async_load() or {}

    def unit(self, unit_id: str) -> dict[str, dict[str, str]]:
        """booking_ref → {"start", "end"} of the bookings mirrored for a unit."""
        return self.data.setdefault(unit_id, {})

    @callback
    def async_forget_units(self, keep: Iterable[str]) -> None:
        """Drop the units that have no sync any more."""
        keep = set(keep)
        for unit_id in [u for u in self.data if u not in keep]:
            del self.data[unit_id]
        self.async_save()

    @callback
    def async_save(self) -> None:
        """Write soon (batched)."""
        self._store.async_delay_save(lambda: self.data, 1.0)

    async def async_flush(self) -> None:
        """Write now."""
        await self._store.async_save(self.data)

    async def async_remove(self) -> None:
        """Delete the file (the entry is being removed)."""
        await self._store.async_remove()


class BookingSync:
    """Mirror one unit's Rental Control event sensors into the sidecar."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        client: RentalWifiClient,
        store: SyncStore,
        unit_id: str,
        calendar_entity_id: str,
        on_change: Callable[[], Awaitable[None]],
    ) -> None:
        """Prepare (nothing runs before async_start)."""
        self.hass = hass
        self.client = client
        self.store = store
        self.unit_id = unit_id
        self.calendar_entity_id = calendar_entity_id
        self._on_change = on_change
        self.sensor_ids: list[str] = []
        self.from_registry = False
        self._sent: dict[str, dict[str, Any]] = {}
        self._lock = asyncio.Lock()
        self._unsubs: list[CALLBACK_TYPE] = []
        self._unsub_track: CALLBACK_TYPE | None = None
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._job = HassJob(self._async_timer_fired, f"{DOMAIN} booking sync")
        self.needs_retry = False
        self.last_error: str | None = None

    # --- lifecycle --------------------------------------------------------------------

    @callback
    def async_start(self) -> None:
        """Follow the sensors; mirror what they show now."""
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
        """Stop listening (bookings already mirrored stay in the sidecar)."""
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
        """Mirror after the sensors have settled (each change restarts the wait)."""
        if self._unsub_timer:
            self._unsub_timer()
        self._unsub_timer = async_call_later(
            self.hass, SYNC_DELAY if delay is None else delay, self._job
        )

    async def _async_timer_fired(self, _now: datetime) -> None:
        self._unsub_timer = None
        await self.async_sync()

    # --- mirroring --------------------------------------------------------------------

    def _read_sensors(self) -> tuple[dict[str, Booking], int, int] | None:
        """Bookings shown now, slots with a real state, slots holding a booking.

        None while no sensor has a real state (Rental Control not loaded yet): then nothing
        can be concluded, least of all that every booking was cancelled.
        """
        states = [self.hass.states.get(entity_id) for entity_id in self.sensor_ids]
        real = [state for state in states if _shows_real_state(state)]
        if not real:
            return None
        bookings: dict[str, Booking] = {}
        for state in real:
            if (booking := booking_from_state(state)) is not None:
                bookings.setdefault(booking.ref, booking)
        shown = sum(1 for state in real if booking_from_state(state) is not None)
        return bookings, len(real), shown

    async def async_sync(self) -> None:
        """Compare the sensors with what was mirrored; PUT and DELETE the difference."""
        async with self._lock:
            read = self._read_sensors()
            if read is None:
                return
            bookings, slots, shown = read
            mirrored = self.store.unit(self.unit_id)
            changed = False
            failed = False

            for ref, booking in bookings.items():
                if self._sent.get(ref) == booking.body:
                    continue
                try:
                    await self.client.put_booking(self.unit_id, ref, booking.body)
                except RentalWifiApiError as err:
                    if err.status >= 500:
                        failed = True
                        self._failed(f"PUT booking {ref}", err)
                        continue
                    # Refused (the sidecar's rules, e.g. a stay that is too long): not
                    # retried until the reservation changes.
                    LOGGER.warning(
                        "The sidecar refused booking %s of unit %s: %s",
                        ref,
                        self.unit_id,
                        err.message,
                    )
                    self._sent[ref] = booking.body
                    self.last_error = f"PUT booking {ref}: {err}"
                    continue
                except RentalWifiError as err:
                    failed = True
                    self._failed(f"PUT booking {ref}", err)
                    continue
                self._sent[ref] = booking.body
                mirrored[ref] = {"start": booking.body["start"], "end": booking.body["end"]}
                changed = True

            # All slots full: a booking after the last one shown may just be out of sight.
            window_end = (
                max(b.start for b in bookings.values())
                if bookings and shown >= slots
                else None
            )
            for ref in [ref for ref in mirrored if ref not in bookings]:
                start = dt_util.parse_datetime(mirrored[ref]["start"])
                if window_end is not None and start is not None and start >= window_end:
                    continue
                try:
                    await self.client.delete_booking(self.unit_id, ref)
                except RentalWifiApiError as err:
                    if err.status >= 500:
                        failed = True
                        self._failed(f"DELETE booking {ref}", err)
                        continue
                    if err.status != 404:  # 404: already gone, which is what we want
                        LOGGER.warning(
                            "The sidecar refused to delete booking %s of unit %s: %s",
                            ref,
                            self.unit_id,
                            err.message,
                        )
                except RentalWifiError as err:
                    failed = True
                    self._failed(f"DELETE booking {ref}", err)
                    continue
                del mirrored[ref]
                self._sent.pop(ref, None)
                changed = True

            if changed:
                self.store.async_save()
                await self._on_change()
            if not failed and self.needs_retry:
                LOGGER.info("Booking sync for unit %s works again", self.unit_id)
            self.needs_retry = failed

    def _failed(self, what: str, err: RentalWifiError) -> None:
        if not self.needs_retry:
            LOGGER.warning(
                "Booking sync for unit %s: %s failed (retrying when the sidecar answers): %s",
                self.unit_id,
                what,
                err,
            )
        self.needs_retry = True
        self.last_error = f"{what}: {err}"
