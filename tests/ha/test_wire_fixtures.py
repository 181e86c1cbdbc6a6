"""The sidecar's wire fixtures, read through the integration's models.

`sidecar/tests/fixtures/wire/*.json` are written by the sidecar's own wire types (the Rust
test `api::fixtures` builds them through the code the handlers use and fails when a field
changes). Here the integration reads the same files: every field a model has must be in the
JSON under its name (a model never falls back to a default because a key was renamed), the
values arrive unchanged, and every event the integration forwards to Home Assistant's bus
parses from the stream as the sidecar writes it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.rental_wifi.api import parse_sse
from custom_components.rental_wifi.const import BUS_EVENTS
from custom_components.rental_wifi.models import (
    Health,
    Info,
    NetworkSummary,
    PodSummary,
    SpeedTest,
    State,
    Unit,
    UnitState,
    UpstreamStatus,
    VanishedBooking,
    Voucher,
    WifiPasswordState,
)

FIXTURES = Path(__file__).resolve().parents[2] / "sidecar" / "tests" / "fixtures" / "wire"

# Fixtures of wire types the integration has no model for: it passes them on as they are
# (action responses) or reads one field by hand (errors, settings in the config flow).
UNMODELLED = {
    "grant",
    "grants",
    "booking",
    "booking_vanished",
    "bookings",
    "calendar",
    "unit_revoked",
    "devices",
    "audit",
    "settings_omada",
    "settings_plume",
    # Password mode (issue 18): the issue answer is passed on; the password read is read
    # by hand in the password sensor (checked below).
    "voucher_issued_wifi",
    "password",
    # The controller's operations (issue 12b): passed on as action responses, or not used.
    "controller_sites",
    "hotspot_operator",
    "reconcile",
    "outbox",
    "host_test",
    # `rental_wifi.get_network` returns it as it is; the time zone sync reads `time_zone`;
    # the Plume look-ups are for the unit form.
    "network",
    "settings_property",
    "plume_node",
    "plume_customers",
    "plume_locations",
    # A unit's terms consents (issue 17): passed on as the list_consents action's response.
    "consents",
}


def _load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def _fields(model: type) -> list[str]:
    return [f.name for f in dataclasses.fields(model) if f.name != "raw"]


def _assert_mirrors(model: type, obj: Any, data: dict[str, Any]) -> None:
    """Every field of `model` is a key of `data`, read unchanged (timestamps parsed)."""
    for name in _fields(model):
        assert name in data, f"{model.__name__}.{name} is not in the sidecar's JSON"
        value = getattr(obj, name)
        raw = data[name]
        if hasattr(value, "isoformat"):
            assert value.isoformat().replace("+00:00", "Z") == raw, name
        elif isinstance(value, (str, int, bool, list)) or value is None:
            assert value == raw, name


def test_every_fixture_is_read_here() -> None:
    """A new wire type needs a model here, or a place in UNMODELLED."""
    names = {p.stem for p in FIXTURES.glob("*.json")}
    assert names, f"no fixtures in {FIXTURES}"
    modelled = {
        "info",
        "unit",
        "units",
        "voucher",
        "vouchers",
        "health",
        "controller_status",
        "plume_status",
        "state",
        "error",
        "error_tls_untrusted",
        "unit_saved",
        "unit_password_mode",
    }
    events = {n for n in names if n.startswith("event_")}
    assert names - events == modelled | UNMODELLED


def test_resources() -> None:
    """Info, units, vouchers, health and the upstream statuses."""
    info = _load("info")
    _assert_mirrors(Info, Info.from_dict(info), info)
    unit = _load("unit")
    _assert_mirrors(Unit, Unit.from_dict(unit), unit)
    # A save's answer is the unit with its Plume check beside it.
    saved = _load("unit_saved")
    assert Unit.from_dict(saved) == Unit.from_dict(unit)
    assert saved["plume_check"]["status"] == "verified"
    assert [Unit.from_dict(u) for u in _load("units")["units"]] == [Unit.from_dict(unit)]
    voucher = _load("voucher")
    _assert_mirrors(Voucher, Voucher.from_dict(voucher), voucher)
    vouchers = _load("vouchers")
    assert [Voucher.from_dict(v) for v in vouchers["vouchers"]] == [
        Voucher.from_dict(voucher)
    ]
    assert vouchers["total"] == len(vouchers["vouchers"])
    health = _load("health")
    _assert_mirrors(Health, Health.from_dict(health), health)
    for name in ("controller_status", "plume_status"):
        data = _load(name)
        status = UpstreamStatus.from_dict(data)
        assert status.configured is data["configured"]
        assert status.connected is data["connected"]
        assert status.last_error == data["last_error"]
    controller = UpstreamStatus.from_dict(_load("controller_status"))
    assert controller.mode == "hotspot"
    data = _load("controller_status")
    assert controller.problem == data["problem"]
    assert controller.outbox_pending == data["outbox_pending"]
    assert controller.outbox_waiting == data["outbox_waiting"]
    assert (
        controller.outbox_oldest_pending_at.isoformat().replace("+00:00", "Z")
        == data["outbox_oldest_pending_at"]
    )
    password_unit = _load("unit_password_mode")
    _assert_mirrors(Unit, Unit.from_dict(password_unit), password_unit)
    assert Unit.from_dict(password_unit).access_mode == "password"


def test_password_reads() -> None:
    """What the password sensor reads from ``GET /api/v1/units/{unit_id}/password`` and
    what the create_voucher action passes on."""
    read = _load("password")
    assert {"code", "booking_ref", "valid_from", "valid_until", "wifi"} <= set(read)
    assert {"ssid", "password", "qr_payload"} <= set(read["wifi"])
    issued = _load("voucher_issued_wifi")
    assert Voucher.from_dict(issued).code == issued["code"]
    assert issued["wifi"]["password"] in issued["wifi"]["qr_payload"]


def test_state_snapshot() -> None:
    """``GET /api/v1/state`` as the coordinator reads it."""
    data = _load("state")
    state = State.from_dict(data)
    assert state.instance_id == data["instance_id"]
    assert state.version == data["version"]
    assert state.units_total == data["totals"]["units"]
    assert state.live_vouchers == data["totals"]["live_vouchers"]
    assert state.active_grants == data["totals"]["active_grants"]
    assert state.controller == UpstreamStatus.from_dict(data["controller"])
    assert state.plume == UpstreamStatus.from_dict(data["plume"])
    assert len(state.units) == len(data["units"])
    for raw in data["units"]:
        unit_state = state.units[raw["unit"]["unit_id"]]
        for name in _fields(UnitState):
            assert name in raw, f"UnitState.{name} is not in the snapshot"
        assert unit_state.active_grants == raw["active_grants"]
        assert unit_state.live_voucher == Voucher.from_dict(raw["vouchers"][0])
        _assert_mirrors(Health, unit_state.health, raw["health"])
        _assert_mirrors(Unit, unit_state.unit, raw["unit"])
        # The network summary (pods, sources read, speed test) and the card's voucher.
        assert unit_state.current_voucher == raw["current_voucher"]
        assert unit_state.card_voucher == Voucher.from_dict(raw["vouchers"][0])
        network = raw["network"]
        for name in _fields(NetworkSummary):
            assert name in network, f"NetworkSummary.{name} is not in the snapshot"
        assert unit_state.network.read == network["read"]
        assert len(unit_state.network.pods) == len(network["pods"])
        for pod, pod_raw in zip(unit_state.network.pods, network["pods"], strict=True):
            _assert_mirrors(PodSummary, pod, pod_raw)
        if network["speed_test"] is None:
            assert unit_state.network.speed_test is None
        else:
            assert unit_state.network.speed_test is not None
            _assert_mirrors(SpeedTest, unit_state.network.speed_test, network["speed_test"])
            assert (
                unit_state.network.speed_test.download_mbps
                == network["speed_test"]["download_mbps"]
            )
        if raw["wifi_password"] is None:
            assert unit_state.wifi_password is None
        else:
            _assert_mirrors(
                WifiPasswordState, unit_state.wifi_password, raw["wifi_password"]
            )
            assert unit_state.password_voucher is not None
        assert len(unit_state.vanished_bookings) == len(raw["vanished_bookings"])
        for model, booking in zip(
            unit_state.vanished_bookings, raw["vanished_bookings"], strict=True
        ):
            _assert_mirrors(VanishedBooking, model, booking)
    assert any(u["wifi_password"] for u in data["units"]), "a password-mode unit is shown"
    assert any(u["vanished_bookings"] for u in data["units"]), "a vanished booking is shown"
    assert any(u["network"]["pods"] for u in data["units"]), "pods are shown"
    assert any(u["network"]["speed_test"] for u in data["units"]), "a speed test is shown"


def test_error_body() -> None:
    """The error bodies the client turns into ``RentalWifiApiError``."""
    error = _load("error")["error"]
    assert {"code", "message", "field"} <= set(error)
    untrusted = _load("error_tls_untrusted")["error"]
    assert untrusted["code"] == "tls_untrusted"
    assert untrusted["field"] == "base_url"
    assert set(untrusted["certificate"]) == {"subject", "sha256", "san", "factory_default"}


class _Lines:
    def __init__(self, text: bytes) -> None:
        self._lines = text.splitlines(keepends=True)

    async def readline(self) -> bytes:
        return self._lines.pop(0) if self._lines else b""


@pytest.mark.parametrize(
    "path", sorted(FIXTURES.glob("event_*.json")), ids=lambda p: p.stem
)
async def test_events_parse_from_the_stream(path: Path) -> None:
    """Each event, written as the sidecar writes it, parses into an ``SseEvent``."""
    name = path.stem.removeprefix("event_")
    data = json.loads(path.read_text(encoding="utf-8"))
    text = f"event: {name}\nid: 1\ndata: {json.dumps(data)}\n\n".encode()
    events = [e async for e in parse_sse(_Lines(text))]  # type: ignore[arg-type]
    assert len(events) == 1
    assert events[0].event == name
    assert events[0].data == data
    assert "at" in data


def test_every_forwarded_event_has_a_fixture() -> None:
    """The events the integration fires on Home Assistant's bus all exist on the wire."""
    names = {p.stem.removeprefix("event_") for p in FIXTURES.glob("event_*.json")}
    assert BUS_EVENTS <= names, BUS_EVENTS - names
