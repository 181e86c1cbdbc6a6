"""Rental Control → sidecar booking sync, driven by Rental Control-shaped sensor states.

The event sensors are written with hass.states.async_set exactly as Rental Control writes
them (`../shared/reference/rental-control.md` §2.2: state "<summary> - <D> <Month YYYY>
<HH:MM>" or "No reservation", attributes summary, description, location, start, end, uid,
eta_*, slot_name, slot_code, slot_number, and the parsed ones such as last_four), because
Rental Control itself needs a newer Home Assistant than the one installable here. The
integration sends each unit's whole calendar view; every assertion is on the real sidecar.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import logging
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import CONF_NAME, CONF_URL, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir

from custom_components.rental_wifi import sync as sync_module
from custom_components.rental_wifi.const import (
    CONF_API_TOKEN,
    CONF_CALENDAR_ENTITY,
    CONF_UNIT_ID,
    DOMAIN,
    SUBENTRY_UNIT,
)
from custom_components.rental_wifi.sync import (
    booking_ref_for,
    calendar_view,
    pattern_sensor_ids,
)

from .conftest import Api, Sidecar, Sim, eventually, instance_id, redeem, setup_entry, wait_for

CURRENT = "calendar.beach_rental_control"  # Rental Control >= 2.8 (has_entity_name)
LEGACY = "calendar.rental_control_cabin"  # Rental Control <= 2.7, ids kept by the registry


@pytest.fixture(autouse=True)
def fast_sync() -> Iterator[None]:
    """Let sensor bursts settle for 0.2 s instead of 2 s."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sync_module, "SYNC_DELAY", 0.2)
        yield


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rc_event(
    hass: HomeAssistant,
    entity_id: str,
    *,
    summary: str,
    start: datetime,
    end: datetime,
    uid: str | None = None,
    slot_code: str | None = "4821",
    last_four: str | None = None,
    slot_name: str | None = None,
    slot_number: int = 10,
) -> None:
    """Write an event sensor as Rental Control does for a reservation."""
    eta = start - datetime.now(UTC)
    started = eta.total_seconds() < 0
    description = "Guests: 2\nEmail: ada@example.com\n"
    if last_four:
        description += f"(Last 4 Digits): {last_four}\n"
    attributes: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "location": "Beach Road 1",
        "start": start,
        "end": end,
        "uid": uid,
        "eta_days": None if started else eta.days,
        "eta_hours": None if started else int(eta.total_seconds() // 3600),
        "eta_minutes": None if started else int(eta.total_seconds() // 60),
        "slot_name": slot_name,
        "slot_code": slot_code,
        "slot_number": slot_number,
        "number_of_guests": "2",
        "guest_email": "ada@example.com",
        "friendly_name": entity_id,
        "icon": "mdi:calendar",
    }
    if last_four:
        attributes["last_four"] = last_four
    state = f"{summary} - {start.strftime('%-d %B %Y')} {start.strftime('%H:%M')}"
    hass.states.async_set(entity_id, state, attributes)


def rc_empty(hass: HomeAssistant, entity_id: str, prefix: str = "") -> None:
    """Write an event sensor with no reservation."""
    summary = f"{prefix} No reservation".strip()
    hass.states.async_set(
        entity_id,
        summary,
        {
            "summary": summary,
            "description": None,
            "location": None,
            "start": None,
            "end": None,
            "eta_days": None,
            "eta_hours": None,
            "eta_minutes": None,
            "slot_name": None,
            "slot_code": None,
        },
    )


def sensors(prefix: str, count: int = 5) -> list[str]:
    """Event sensor ids `<prefix>_event_0..count-1`."""
    return [f"sensor.{prefix}_event_{n}" for n in range(count)]


async def vouchers_of(api: Api, booking_ref: str) -> list[dict[str, Any]]:
    """The sidecar's vouchers for a booking (GET /api/v1/vouchers?booking_ref=)."""
    data = await api.request("GET", f"/api/v1/vouchers?booking_ref={quote(booking_ref, safe='')}")
    return data["vouchers"]


async def booking(api: Api, unit_id: str, booking_ref: str) -> dict[str, Any]:
    """The sidecar's booking (GET /api/v1/units/{unit_id}/bookings/{booking_ref})."""
    return await api.request(
        "GET", f"/api/v1/units/{unit_id}/bookings/{quote(booking_ref, safe='')}"
    )


def booking_issues(hass: HomeAssistant) -> list[ir.IssueEntry]:
    """Our repair issues for bookings that vanished during a stay."""
    return [
        issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue_id.startswith("booking_vanished_")
    ]


async def live_voucher(api: Api, booking_ref: str) -> dict[str, Any] | None:
    """The booking's unused/active voucher, if any."""
    for voucher in await vouchers_of(api, booking_ref):
        if voucher["status"] in ("unused", "active"):
            return voucher
    return None


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def synced_entry(
    hass: HomeAssistant,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http: aiohttp.ClientSession,
    units: dict[str, str],
    **unit_fields: Any,
) -> MockConfigEntry:
    """Sidecar on the simulators, one unit subentry per (unit_id → calendar), set up."""
    await api.configure(sim, plume=False)
    subentries = []
    for unit_id, calendar in units.items():
        await api.create_unit(unit_id=unit_id, name=unit_id.title(), **unit_fields)
        subentries.append(
            ConfigSubentryData(
                data={CONF_UNIT_ID: unit_id, CONF_NAME: unit_id.title(), CONF_CALENDAR_ENTITY: calendar},
                subentry_type=SUBENTRY_UNIT,
                title=unit_id.title(),
                unique_id=unit_id,
            )
        )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Rental Wi-Fi",
        unique_id=await instance_id(http, sidecar),
        data={CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token},
        subentries_data=subentries,
    )
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    return entry


def test_sensor_ids_from_the_calendar() -> None:
    """Both naming schemes, each with the other as a fallback; no fixed count assumed."""
    assert pattern_sensor_ids(CURRENT, 2) == [
        "sensor.beach_rental_control_event_0",
        "sensor.beach_rental_control_event_1",
        "sensor.rental_control_beach_event_0",
        "sensor.rental_control_beach_event_1",
    ]
    assert pattern_sensor_ids(LEGACY, 1) == [
        "sensor.rental_control_cabin_event_0",
        "sensor.cabin_rental_control_event_0",
    ]
    assert pattern_sensor_ids("calendar.my_stays", 1) == ["sensor.my_stays_event_0"]


def test_booking_ref() -> None:
    """uid when present (hashed when too long), else a stable hash of summary and start."""
    start = datetime(2026, 12, 1, 16, tzinfo=UTC)
    assert booking_ref_for({"uid": "abc@airbnb.com"}, start) == "abc@airbnb.com"
    long = booking_ref_for({"uid": "x" * 300}, start)
    assert long.startswith("uid-") and len(long) <= 100
    a = booking_ref_for({"summary": "Reserved - Ada"}, start)
    assert a == booking_ref_for({"summary": "Reserved - Ada", "uid": None}, start)
    assert a != booking_ref_for({"summary": "Reserved - Ada"}, start + timedelta(days=1))
    assert a != booking_ref_for({"summary": "Reserved - Bob"}, start)


async def test_calendar_view(hass: HomeAssistant) -> None:
    """The view is what the sensors show, and the span they can speak for."""
    ids = sensors("beach_rental_control", 2)
    now = _now()
    a = (now + timedelta(days=1), now + timedelta(days=2))
    b = (now + timedelta(days=4), now + timedelta(days=5))
    rc_event(hass, ids[0], summary="A", start=a[0], end=a[1], uid="a", slot_code="1111")
    rc_empty(hass, ids[1])
    states = [hass.states.get(i) for i in ids]
    view = calendar_view([*states, None], now)  # a sensor that does not exist: ignored
    assert view == {
        "from": _z(now),
        "until": None,
        "bookings": [
            {"booking_ref": "a", "start": _z(a[0]), "end": _z(a[1]), "guest_name": None,
             "codes": ["1111"]},
        ],
    }
    # Every slot holds a booking: the view covers only up to the last one's start.
    rc_event(hass, ids[1], summary="B", start=b[0], end=b[1], uid="b", slot_name="Bo")
    view = calendar_view([hass.states.get(i) for i in ids], now)
    assert view["until"] == _z(b[0])
    assert [x["booking_ref"] for x in view["bookings"]] == ["a", "b"]
    # Rental Control (re)loading: nothing can be said.
    hass.states.async_set(ids[1], STATE_UNAVAILABLE, {})
    assert calendar_view([hass.states.get(i) for i in ids], now) is None
    assert calendar_view([None, None], now) is None
    # All "No reservation": an empty view that covers everything from now on.
    for entity_id in ids:
        rc_empty(hass, entity_id)
    assert calendar_view([hass.states.get(i) for i in ids], now) == {
        "from": _z(now), "until": None, "bookings": [],
    }


async def test_sync_current_scheme(
    hass: HomeAssistant, api: Api, sim: Sim, sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    """New → the sidecar issues a voucher, codes work on the portal, moved → same voucher
    moved. Sensors named after `calendar.<cal>_rental_control`."""
    ids = sensors("beach_rental_control")
    for entity_id in ids:
        rc_empty(hass, entity_id)
    entry = await synced_entry(hass, api, sim, sidecar, http, {"beach-house": CURRENT})
    assert entry.runtime_data.syncs["beach-house"].sensor_ids[:5] == ids

    now = _now()
    stay = (now - timedelta(hours=2), now + timedelta(days=2))
    later = (now + timedelta(days=5), now + timedelta(days=8))
    rc_event(hass, ids[0], summary="Reserved - Ada", start=stay[0], end=stay[1],
             uid="ada-1@airbnb.com", slot_name="Ada", slot_code="4821", last_four="7765")
    rc_event(hass, ids[1], summary="Reserved - Bob", start=later[0], end=later[1],
             uid="bob-2@airbnb.com", slot_name="Bob", slot_code="9130")

    async def both_synced() -> bool:
        return bool(await live_voucher(api, "ada-1@airbnb.com")) and bool(
            await live_voucher(api, "bob-2@airbnb.com")
        )

    await eventually(hass, both_synced)
    ada = await live_voucher(api, "ada-1@airbnb.com")
    assert ada["unit_id"] == "beach-house"
    assert ada["guest_name"] == "Ada"
    assert _ts(ada["valid_from"]) <= stay[0]
    assert _ts(ada["valid_until"]) >= stay[1]
    bob = await live_voucher(api, "bob-2@airbnb.com")
    assert _ts(bob["valid_from"]) == later[0]
    assert _ts(bob["valid_until"]) == later[1]
    assert (await booking(api, "beach-house", "ada-1@airbnb.com"))["codes"] == ["4821", "7765"]

    # The guest types the door code (slot_code) on the portal during the stay.
    status, page = await redeem(http, sidecar, "4821", client_mac="AA-BB-CC-DD-EE-21")
    assert status == 200 and 'data-result="success"' in page, page

    # Bob's stay moves by a day: the same voucher follows.
    moved = (later[0] + timedelta(days=1), later[1] + timedelta(days=1))
    rc_event(hass, ids[1], summary="Reserved - Bob", start=moved[0], end=moved[1],
             uid="bob-2@airbnb.com", slot_name="Bob", slot_code="9130")

    async def bob_moved() -> bool:
        voucher = await live_voucher(api, "bob-2@airbnb.com")
        return voucher is not None and _ts(voucher["valid_from"]) == moved[0]

    await eventually(hass, bob_moved)
    assert (await live_voucher(api, "bob-2@airbnb.com"))["code"] == bob["code"]
    assert _ts((await live_voucher(api, "bob-2@airbnb.com"))["valid_until"]) == moved[1]


async def test_a_blank_calendar_is_not_a_cancellation(
    hass: HomeAssistant, api: Api, sim: Sim, sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    """Rental Control clears its sensors to "No reservation" (two empty fetches): the guest
    in the house keeps access, Home Assistant gets an event and a repair issue naming the
    booking; a future booking is suspended and keeps its code; both come back."""
    ids = sensors("beach_rental_control", 3)
    now = _now()
    stay = (now - timedelta(hours=5), now + timedelta(days=2))
    soon = (now + timedelta(days=3), now + timedelta(days=5))
    rc_event(hass, ids[0], summary="Reserved - Ada", start=stay[0], end=stay[1],
             uid="ada", slot_name="Ada", slot_code="4821")
    rc_event(hass, ids[1], summary="Reserved - Bo", start=soon[0], end=soon[1],
             uid="bo", slot_name="Bo", slot_code="9130")
    rc_empty(hass, ids[2])
    entry = await synced_entry(hass, api, sim, sidecar, http, {"beach-house": CURRENT})

    async def synced() -> bool:
        return bool(await live_voucher(api, "ada")) and bool(await live_voucher(api, "bo"))

    await eventually(hass, synced)
    ada_code = (await live_voucher(api, "ada"))["code"]
    bo_code = (await live_voucher(api, "bo"))["code"]
    status, page = await redeem(http, sidecar, "4821", client_mac="AA-BB-CC-DD-EE-31")
    assert 'data-result="success"' in page, page
    fired: list[tuple[str, dict[str, Any]]] = []
    for name in ("booking_vanished", "booking_restored", "booking_cancelled", "voucher_revoked"):
        hass.bus.async_listen(
            f"{DOMAIN}_{name}", lambda e, n=name: fired.append((n, dict(e.data)))
        )

    for entity_id in ids:
        rc_empty(hass, entity_id)

    async def vanished() -> bool:
        return (await booking(api, "beach-house", "ada"))["state"] == "vanished"

    await eventually(hass, vanished)
    grants = await api.request("GET", "/api/v1/grants?active=true")
    assert [g["client_mac"] for g in grants["grants"]] == ["AA-BB-CC-DD-EE-31"]
    assert (await booking(api, "beach-house", "ada"))["voucher"]["status"] == "active"
    bo = await booking(api, "beach-house", "bo")
    assert bo["state"] == "vanished"
    assert bo["voucher"]["status"] == "suspended"
    await wait_for(hass, lambda: len(booking_issues(hass)) == 1)
    issue = booking_issues(hass)[0]
    assert issue.translation_key == "booking_vanished"
    assert issue.translation_placeholders["booking"] == "ada"
    assert issue.translation_placeholders["guest"] == "Ada"
    assert issue.translation_placeholders["unit"] == "Beach-House"
    # Raised once, whatever the refreshes; gone while unloaded, back from the snapshot.
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert len(booking_issues(hass)) == 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert booking_issues(hass) == []
    await setup_entry(hass, entry)
    await wait_for(hass, lambda: len(booking_issues(hass)) == 1)
    await wait_for(hass, lambda: sorted(n for n, _ in fired) == ["booking_vanished"] * 2)
    during = {d["booking_ref"]: d["during_stay"] for _, d in fired}
    assert during == {"ada": True, "bo": False}
    assert all(d["config_entry_id"] == entry.entry_id for _, d in fired)

    # The calendar answers again: same codes, the issue goes away.
    rc_event(hass, ids[0], summary="Reserved - Ada", start=stay[0], end=stay[1],
             uid="ada", slot_name="Ada", slot_code="4821")
    rc_event(hass, ids[1], summary="Reserved - Bo", start=soon[0], end=soon[1],
             uid="bo", slot_name="Bo", slot_code="9130")

    async def back() -> bool:
        return (await booking(api, "beach-house", "bo"))["state"] == "present"

    await eventually(hass, back)
    assert (await live_voucher(api, "ada"))["code"] == ada_code
    assert (await live_voucher(api, "bo"))["code"] == bo_code
    await wait_for(hass, lambda: not booking_issues(hass))
    await wait_for(hass, lambda: [n for n, _ in fired].count("booking_restored") == 2)
    assert not [n for n, _ in fired if n in ("booking_cancelled", "voucher_revoked")]


async def test_sync_legacy_scheme_without_uid(
    hass: HomeAssistant, api: Api, sim: Sim, sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    """`calendar.rental_control_<cal>` → `sensor.rental_control_<cal>_event_<n>`; no uid:
    the ref is a hash of summary and start, so a moved stay is a new booking (the old one is
    missing from the view)."""
    ids = sensors("rental_control_cabin", 3)
    now = _now()
    start, end = now + timedelta(days=1), now + timedelta(days=3)
    rc_event(hass, ids[0], summary="Reserved - Cleo", start=start, end=end,
             slot_code="5150", slot_name="Cleo")
    rc_empty(hass, ids[1], prefix="Cabin")
    rc_empty(hass, ids[2], prefix="Cabin")
    await synced_entry(hass, api, sim, sidecar, http, {"cabin": LEGACY})
    ref = booking_ref_for({"summary": "Reserved - Cleo"}, start)

    async def synced() -> bool:
        return await live_voucher(api, ref) is not None

    await eventually(hass, synced)
    assert (await live_voucher(api, ref))["guest_name"] == "Cleo"

    start2 = start + timedelta(days=7)
    rc_event(hass, ids[0], summary="Reserved - Cleo", start=start2, end=end + timedelta(days=7),
             slot_code="5150", slot_name="Cleo")
    ref2 = booking_ref_for({"summary": "Reserved - Cleo"}, start2)

    async def swapped() -> bool:
        return await live_voucher(api, ref2) is not None and (
            await booking(api, "cabin", ref)
        )["state"] == "vanished"

    await eventually(hass, swapped)


async def test_sync_from_entity_registry(
    hass: HomeAssistant, api: Api, sim: Sim, sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    """A registered Rental Control calendar: its entry's event sensors are found in the
    registry, even under entity ids that no pattern would guess."""
    rc_entry = MockConfigEntry(domain="rental_control", title="Cottage")
    rc_entry.add_to_hass(hass)
    registry = er.async_get(hass)
    calendar = registry.async_get_or_create(
        "calendar", "rental_control", "cal-uuid", config_entry=rc_entry,
        suggested_object_id="cottage_rental_control",
    )
    renamed = []
    for n in range(2):
        entity = registry.async_get_or_create(
            "sensor", "rental_control", f"sensor-uuid-{n}", config_entry=rc_entry,
            suggested_object_id=f"cottage_stay_{n}", original_name=f"Cottage Event {n}",
        )
        renamed.append(entity.entity_id)
    # The check-in sensor of the same entry is not an event sensor.
    registry.async_get_or_create(
        "sensor", "rental_control", "checkin-uuid", config_entry=rc_entry,
        suggested_object_id="cottage_check_in", original_name="Check-in",
    )
    now = _now()
    rc_event(hass, renamed[0], summary="Reserved - Dan", start=now + timedelta(days=1),
             end=now + timedelta(days=2), uid="dan@vrbo", slot_code="2468")
    rc_empty(hass, renamed[1])
    entry = await synced_entry(
        hass, api, sim, sidecar, http, {"cottage": calendar.entity_id}
    )
    sync = entry.runtime_data.syncs["cottage"]
    assert sync.from_registry
    assert sync.sensor_ids == renamed

    async def synced() -> bool:
        return await live_voucher(api, "dan@vrbo") is not None

    await eventually(hass, synced)

    # Rental Control gains a third event sensor: followed at once.
    third = registry.async_get_or_create(
        "sensor", "rental_control", "sensor-uuid-2", config_entry=rc_entry,
        suggested_object_id="cottage_stay_2", original_name="Cottage Event 2",
    )
    await hass.async_block_till_done()
    assert sync.sensor_ids == [*renamed, third.entity_id]
    rc_event(hass, third.entity_id, summary="Reserved - Eve", start=now + timedelta(days=4),
             end=now + timedelta(days=6), uid="eve@vrbo", slot_code="1357")

    async def eve() -> bool:
        return await live_voucher(api, "eve@vrbo") is not None

    await eventually(hass, eve)


async def test_back_to_back_with_grace(
    hass: HomeAssistant, api: Api, sim: Sim, sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    """Check-out 11:00 and check-in 11:00 the same day: the sidecar keeps the windows apart
    (grace never overlaps a neighbour) — we only send the two stays."""
    ids = sensors("beach_rental_control", 2)
    day = (_now() + timedelta(days=3)).replace(hour=11, minute=0, second=0)
    first = (day - timedelta(days=2), day)
    second = (day, day + timedelta(days=4))
    rc_event(hass, ids[0], summary="Reserved - Finn", start=first[0], end=first[1], uid="finn")
    rc_event(hass, ids[1], summary="Reserved - Gia", start=second[0], end=second[1], uid="gia",
             slot_code="8080")
    await synced_entry(
        hass, api, sim, sidecar, http, {"beach-house": CURRENT},
        checkin_grace_minutes=60, checkout_grace_minutes=60,
    )

    async def both() -> bool:
        return bool(await live_voucher(api, "finn")) and bool(await live_voucher(api, "gia"))

    await eventually(hass, both)
    finn, gia = await live_voucher(api, "finn"), await live_voucher(api, "gia")
    assert finn["code"] != gia["code"]
    assert _ts(finn["valid_from"]) == first[0] - timedelta(hours=1)
    assert _ts(finn["valid_until"]) <= _ts(gia["valid_from"])
    assert _ts(gia["valid_from"]) <= second[0]
    assert _ts(gia["valid_until"]) == second[1] + timedelta(hours=1)


async def test_window_full_and_unavailable(
    hass: HomeAssistant, api: Api, sim: Sim, sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    """A booking pushed past the last sensor is untouched; unavailable sensors send nothing;
    all slots empty makes every booking missing — never cancelled."""
    ids = sensors("beach_rental_control", 2)
    now = _now()
    a = (now + timedelta(days=2), now + timedelta(days=3))
    b = (now + timedelta(days=5), now + timedelta(days=6))
    rc_event(hass, ids[0], summary="A", start=a[0], end=a[1], uid="a")
    rc_event(hass, ids[1], summary="B", start=b[0], end=b[1], uid="b")
    entry = await synced_entry(hass, api, sim, sidecar, http, {"beach-house": CURRENT})
    sync = entry.runtime_data.syncs["beach-house"]

    async def both() -> bool:
        return bool(await live_voucher(api, "a")) and bool(await live_voucher(api, "b"))

    await eventually(hass, both)

    # A new earlier stay: the two sensors now show new + a; b is out of sight, not missing.
    n = (now + timedelta(hours=20), now + timedelta(hours=40))
    rc_event(hass, ids[0], summary="N", start=n[0], end=n[1], uid="n")
    rc_event(hass, ids[1], summary="A", start=a[0], end=a[1], uid="a")

    async def new_one() -> bool:
        return bool(await live_voucher(api, "n"))

    await eventually(hass, new_one)
    await sync.async_sync()
    assert (await booking(api, "beach-house", "b"))["state"] == "present"
    assert sync.last_result["vanished"] == []

    # Rental Control reloading: sensors unavailable. Nothing is sent.
    requests = sync.last_result
    for entity_id in ids:
        hass.states.async_set(entity_id, STATE_UNAVAILABLE, {})
    await hass.async_block_till_done()
    await sync.async_sync()
    assert sync.last_result is requests
    for ref in ("n", "a", "b"):
        assert (await booking(api, "beach-house", ref))["state"] == "present", ref

    # Every sensor "No reservation": all three are missing, none is cancelled.
    for entity_id in ids:
        rc_empty(hass, entity_id)

    async def all_missing() -> bool:
        return all(
            [(await booking(api, "beach-house", r))["state"] == "vanished" for r in "nab"]
        )

    await eventually(hass, all_missing)
    for ref in ("n", "a", "b"):
        voucher = (await booking(api, "beach-house", ref))["voucher"]
        assert voucher["status"] == "suspended", ref


async def test_sidecar_down_and_back(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A calendar change while the sidecar is away is sent once it answers (logged once);
    nothing about the bookings is stored in Home Assistant."""
    ids = sensors("beach_rental_control", 2)
    now = _now()
    rc_event(hass, ids[0], summary="K", start=now + timedelta(days=2), end=now + timedelta(days=3), uid="k")
    rc_empty(hass, ids[1])
    entry = await synced_entry(hass, api, sim, sidecar, http, {"beach-house": CURRENT})

    async def k_synced() -> bool:
        return bool(await live_voucher(api, "k"))

    await eventually(hass, k_synced)

    caplog.set_level(logging.WARNING, logger="custom_components.rental_wifi")
    await hass.async_add_executor_job(sidecar.kill)
    rc_event(hass, ids[1], summary="I", start=now + timedelta(days=4), end=now + timedelta(days=5), uid="i")
    sync = entry.runtime_data.syncs["beach-house"]
    await eventually(hass, _async(lambda: sync.needs_retry))
    await sync.async_sync()  # fails again, logs nothing more
    assert len([r for r in caplog.records if "Booking sync" in r.getMessage()]) == 1
    await hass.async_add_executor_job(sidecar.start)

    async def i_synced() -> bool:
        return bool(await live_voucher(api, "i"))

    await eventually(hass, i_synced, timeout=30)
    assert not sync.needs_retry
    assert sync.last_error is None
    await hass.async_block_till_done()
    assert not [key for key in hass_storage if key.startswith(f"{DOMAIN}.bookings")]


async def test_legacy_booking_copy_removed_with_the_entry(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http: aiohttp.ClientSession,
) -> None:
    """The booking copy older versions kept is deleted with the entry."""
    entry = await synced_entry(hass, api, sim, sidecar, http, {"beach-house": CURRENT})
    key = f"{DOMAIN}.bookings.{entry.entry_id}"
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": {}}
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_odd_sensor_states(
    hass: HomeAssistant,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Times as strings (a restored state), a reservation without an end (ignored), and a
    stay the sidecar refuses (logged once, the rest of the view still counts)."""
    ids = sensors("beach_rental_control", 3)
    now = _now()
    start, end = now + timedelta(days=1), now + timedelta(days=2)
    hass.states.async_set(
        ids[0],
        f"Reserved - Lu - {start.strftime('%-d %B %Y %H:%M')}",
        {"summary": "Reserved - Lu", "start": start.isoformat(), "end": end.isoformat(),
         "uid": "lu", "slot_code": 7331, "slot_name": "Lu", "last_four": "7331"},
    )
    hass.states.async_set(ids[1], "Reserved - Mo - soon", {"summary": "Reserved - Mo", "start": start.isoformat()})
    # Ends before it starts: the sidecar's rules refuse it.
    rc_event(hass, ids[2], summary="Reserved - Ny", start=end, end=start, uid="ny")
    caplog.set_level(logging.WARNING, logger="custom_components.rental_wifi")
    entry = await synced_entry(hass, api, sim, sidecar, http, {"beach-house": CURRENT})

    async def lu() -> bool:
        return bool(await live_voucher(api, "lu"))

    await eventually(hass, lu)
    voucher = await live_voucher(api, "lu")
    assert _ts(voucher["valid_from"]) == start
    assert _ts(voucher["valid_until"]) == end
    sync = entry.runtime_data.syncs["beach-house"]
    await sync.async_sync()
    refused = [r for r in caplog.records if "refused booking ny" in r.getMessage()]
    assert len(refused) == 1
    assert not sync.needs_retry
    assert "ny" in (sync.last_error or "")
    assert await vouchers_of(api, "ny") == []
    from custom_components.rental_wifi.diagnostics import (  # noqa: PLC0415
        async_get_config_entry_diagnostics,
    )

    diag = (await async_get_config_entry_diagnostics(hass, entry))["booking_sync"]
    assert diag["beach-house"]["calendar"] == CURRENT
    assert diag["beach-house"]["sensors_from"] == "pattern"
    assert diag["beach-house"]["last_result"]["refused"][0]["booking_ref"] == "ny"
    b = await booking(api, "beach-house", "lu")
    assert b["codes"] == ["7331"]  # slot_code and last_four, once
    assert b["guest_name"] == "Lu"


async def test_a_refused_view_is_logged(
    hass: HomeAssistant,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A view the sidecar refuses as a whole (here: the unit is gone) is logged, not retried."""
    ids = sensors("beach_rental_control", 1)
    rc_empty(hass, ids[0])
    entry = await synced_entry(hass, api, sim, sidecar, http, {"beach-house": CURRENT})
    sync = entry.runtime_data.syncs["beach-house"]
    await eventually(hass, _async(lambda: sync.last_result is not None))
    await api.request("DELETE", "/api/v1/units/beach-house?force=true", expect=204)
    caplog.set_level(logging.WARNING, logger="custom_components.rental_wifi")
    await sync.async_sync()
    assert "refused the calendar of unit beach-house" in caplog.text
    assert not sync.needs_retry
    assert "404" in (sync.last_error or "")


async def test_subentry_calendar_change_restarts_sync(
    hass: HomeAssistant, api: Api, sim: Sim, sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    """Reconfiguring a unit's calendar follows the new calendar's sensors."""
    entry = await synced_entry(hass, api, sim, sidecar, http, {"beach-house": CURRENT})
    subentry = next(iter(entry.subentries.values()))
    hass.config_entries.async_update_subentry(
        entry, subentry, data={**subentry.data, CONF_CALENDAR_ENTITY: LEGACY}
    )
    await hass.async_block_till_done()
    assert entry.runtime_data.syncs["beach-house"].calendar_entity_id == LEGACY
    now = _now()
    rc_event(hass, "sensor.rental_control_cabin_event_0", summary="J",
             start=now + timedelta(days=1), end=now + timedelta(days=2), uid="j")

    async def j_synced() -> bool:
        return bool(await live_voucher(api, "j"))

    await eventually(hass, j_synced)

    # No calendar any more: no sync.
    hass.config_entries.async_update_subentry(
        entry, subentry, data={k: v for k, v in subentry.data.items() if k != CONF_CALENDAR_ENTITY}
    )
    await hass.async_block_till_done()
    assert entry.runtime_data.syncs == {}


def _async(predicate):  # noqa: ANN001, ANN202
    async def check() -> bool:
        return bool(predicate())

    return check
