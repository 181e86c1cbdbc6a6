"""Actions with their responses and errors, against the real sidecar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr

from custom_components.rental_wifi.const import CONF_API_TOKEN, DOMAIN

from .conftest import Api, Sidecar, Sim, loaded_entry


def _until(days: int = 2) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def _call(hass: HomeAssistant, service: str, data: dict, response: bool = True):
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response
    )


async def test_create_voucher(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """By unit id or by device; the response is the sidecar's voucher JSON; replays."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    voucher = await _call(
        hass,
        "create_voucher",
        {
            "unit_id": "beach-house",
            "valid_until": _until(),
            "max_devices": 2,
            "guest_name": "Ada",
            "booking_ref": "HM-1",
            "down_kbps": 20000,
            "up_kbps": 5000,
            "note": "sea view",
        },
    )
    assert voucher["unit_id"] == "beach-house"
    assert voucher["status"] == "unused"
    assert voucher["max_devices"] == 2
    assert voucher["guest_name"] == "Ada"
    assert len(voucher["code"]) >= 8
    for key in ("valid_from", "valid_until", "expires_at", "devices_used", "created_at"):
        assert key in voucher

    # The same booking again: the same voucher (idempotent).
    again = await _call(
        hass,
        "create_voucher",
        {"unit_id": "beach-house", "valid_until": _until(), "booking_ref": "HM-1"},
    )
    assert again["code"] == voucher["code"]

    # By the unit's device, with a custom code and a naive local time.
    device = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, f"{entry.unique_id}_beach-house")}
    )
    custom = await _call(
        hass,
        "create_voucher",
        {
            "config_entry_id": entry.entry_id,
            "device_id": device.id,
            "code": "beach-2026",
            "valid_from": datetime.now().replace(microsecond=0).isoformat(),
            "duration_minutes": 120,
        },
    )
    assert custom["code"] == "BEACH2026"
    assert custom["duration_minutes"] == 120

    # Without asking for the response.
    assert (
        await _call(
            hass,
            "create_voucher",
            {"unit_id": "beach-house", "duration_minutes": 60},
            response=False,
        )
        is None
    )


async def test_create_voucher_errors(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """Input errors and the sidecar's refusals are ServiceValidationErrors."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    sidecar_device = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, entry.unique_id)}
    )
    cases = [
        ({"duration_minutes": 60}, "unit_required"),
        ({"unit_id": "beach-house", "device_id": "x", "duration_minutes": 60}, "unit_and_device"),
        ({"device_id": "no-such-device", "duration_minutes": 60}, "not_a_unit_device"),
        ({"device_id": sidecar_device.id, "duration_minutes": 60}, "not_a_unit_device"),
        ({"config_entry_id": "nope", "unit_id": "beach-house"}, "entry_not_found"),
        # Neither valid_until nor duration_minutes: the sidecar's rule and message.
        ({"unit_id": "beach-house"}, "sidecar_rejected"),
        ({"unit_id": "no-such-unit", "duration_minutes": 60}, "sidecar_rejected"),
        ({"unit_id": "beach-house", "duration_minutes": 999999}, "sidecar_rejected"),
    ]
    for data, key in cases:
        with pytest.raises(ServiceValidationError) as err:
            await _call(hass, "create_voucher", data)
        assert err.value.translation_key == key, data
        if key == "sidecar_rejected":
            assert err.value.translation_placeholders["message"]

    # A device of another integration.
    other = MockConfigEntry(domain="other")
    other.add_to_hass(hass)
    foreign = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("other", "x")}
    )
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "create_voucher", {"device_id": foreign.id, "duration_minutes": 5})
    assert err.value.translation_key == "not_a_unit_device"

    # An entry that is not loaded.
    idle = MockConfigEntry(domain=DOMAIN, data={CONF_URL: "http://127.0.0.1:9", CONF_API_TOKEN: "x"})
    idle.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "create_voucher",
            {"config_entry_id": idle.entry_id, "unit_id": "beach-house", "duration_minutes": 5},
        )
    assert err.value.translation_key == "entry_not_loaded"


async def test_no_loaded_entry(hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim) -> None:
    """Actions need a loaded entry."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "list_vouchers", {})
    assert err.value.translation_key == "no_loaded_entry"


async def test_revoke_extend_list(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """Extend, list (filters), revoke; unknown codes are the sidecar's 404."""
    await loaded_entry(hass, config_entry, api, sim)
    await api.create_unit(unit_id="cabin", name="Cabin")
    first = await _call(hass, "create_voucher", {"unit_id": "beach-house", "valid_until": _until(2)})
    second = await _call(hass, "create_voucher", {"unit_id": "cabin", "duration_minutes": 90})

    new_end = _until(3)
    extended = await _call(
        hass, "extend_voucher", {"code": first["code"], "valid_until": new_end, "max_devices": 6}
    )
    assert datetime.fromisoformat(extended["valid_until"]) == datetime.fromisoformat(new_end)
    assert extended["max_devices"] == 6
    extended = await _call(
        hass, "extend_voucher", {"code": second["code"], "duration_minutes": 120}
    )
    assert extended["duration_minutes"] == 120

    everything = await _call(hass, "list_vouchers", {})
    assert {v["code"] for v in everything["vouchers"]} == {first["code"], second["code"]}
    beach = await _call(hass, "list_vouchers", {"unit_id": "beach-house"})
    assert [v["code"] for v in beach["vouchers"]] == [first["code"]]

    assert await _call(hass, "revoke_voucher", {"code": first["code"]}, response=False) is None
    revoked = await _call(hass, "list_vouchers", {"status": "revoked"})
    assert [v["code"] for v in revoked["vouchers"]] == [first["code"]]
    unused = await _call(hass, "list_vouchers", {"status": "unused"})
    assert [v["code"] for v in unused["vouchers"]] == [second["code"]]

    for service, data in (
        ("revoke_voucher", {"code": "NOSUCHCODE"}),
        ("extend_voucher", {"code": "NOSUCHCODE", "max_devices": 1}),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await _call(hass, service, data, response=service != "revoke_voucher")
        assert err.value.translation_key == "sidecar_rejected"


async def test_revoke_unit_access(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """Every live voucher of the unit is revoked, others are left alone."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    await api.create_unit(unit_id="cabin", name="Cabin")
    a = await _call(hass, "create_voucher", {"unit_id": "beach-house", "duration_minutes": 60})
    b = await _call(hass, "create_voucher", {"unit_id": "beach-house", "duration_minutes": 60})
    c = await _call(hass, "create_voucher", {"unit_id": "cabin", "duration_minutes": 60})
    device = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, f"{entry.unique_id}_beach-house")}
    )
    result = await _call(hass, "revoke_unit_access", {"device_id": device.id})
    assert result["unit_id"] == "beach-house"
    assert sorted(result["revoked"]) == sorted([a["code"], b["code"]])
    assert result["devices"] == 0
    live = await _call(hass, "list_vouchers", {"status": "unused"})
    assert [v["code"] for v in live["vouchers"]] == [c["code"]]
    # One call to the sidecar, not one per voucher.
    audit = await api.request("GET", "/api/v1/audit?limit=50")
    actions = [e["action"] for e in audit["entries"]]
    assert actions.count("unit.revoke") == 1
    again = await _call(hass, "revoke_unit_access", {"unit_id": "beach-house"})
    assert again["revoked"] == []


async def test_create_voucher_device_policy(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """The voucher's own device policy goes through; a suspended status can be listed."""
    await loaded_entry(hass, config_entry, api, sim)
    voucher = await _call(
        hass,
        "create_voucher",
        {"unit_id": "beach-house", "duration_minutes": 60, "device_policy": "refuse"},
    )
    assert voucher["device_policy"] == "refuse"
    assert voucher["devices_active"] == 0
    listed = await _call(hass, "list_vouchers", {"status": "suspended"})
    assert listed["vouchers"] == []


async def _join(http: aiohttp.ClientSession, sim: Sim, mac: str) -> None:
    async with http.post(
        f"{sim.info['omada_control_url']}/wifi",
        json={"site": "Default", "ssid": "Guest", "mac": mac},
    ) as response:
        assert response.status == 200, await response.text()


async def test_authorize_device(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    http: aiohttp.ClientSession,
) -> None:
    """A TV in by its MAC: on a voucher, or on the unit's stay in progress; what the
    controller cannot do comes back as the sidecar says it."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    tv = "A4-77-33-0E-51-C2"
    voucher = await _call(
        hass, "create_voucher", {"unit_id": "beach-house", "duration_minutes": 600}
    )
    # Operator credentials only: the controller admits devices only through the portal.
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "authorize_device", {"code": voucher["code"], "mac": tv})
    assert err.value.translation_key == "sidecar_rejected"
    assert "hotspot-operator mode" in err.value.translation_placeholders["message"]
    # With the Open API credentials too, a device not on the Wi-Fi yet is told so.
    await api.request(
        "PUT",
        "/api/v1/settings/omada",
        {
            **sim.omada_settings,
            "client_id": sim.info["omada_client_id"],
            "client_secret": sim.info["omada_client_secret"],
        },
    )
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "authorize_device", {"code": voucher["code"], "mac": tv})
    assert "connect it to the guest Wi-Fi first" in err.value.translation_placeholders["message"]
    await _join(http, sim, tv)
    grant = await _call(
        hass,
        "authorize_device",
        {"code": voucher["code"], "mac": tv, "name": "Living room TV"},
    )
    assert grant["client_mac"] == tv
    assert grant["by_host"] is True
    assert grant["name"] == "Living room TV"
    devices = await api.request("GET", f"/api/v1/vouchers/{voucher['code']}/devices")
    assert [d["client_mac"] for d in devices["devices"]] == [tv]
    # By the unit: its stay in progress (a booking now), by the unit's device.
    now = datetime.now(UTC).replace(microsecond=0)
    stay = await api.request(
        "PUT",
        "/api/v1/units/beach-house/bookings/STAY",
        {
            "start": (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "end": (now + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        },
    )
    console = "A4-77-33-0E-51-C3"
    await _join(http, sim, console)
    device = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, f"{entry.unique_id}_beach-house")}
    )
    grant = await _call(hass, "authorize_device", {"device_id": device.id, "mac": console})
    assert grant["code"] == stay["voucher"]["code"]
    # Neither or both: told what to give.
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "authorize_device", {"mac": tv})
    assert err.value.translation_key == "code_or_unit"
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "authorize_device",
            {"mac": tv, "code": voucher["code"], "unit_id": "beach-house"},
        )
    assert err.value.translation_key == "code_and_unit"


async def test_actions_sidecar_down_and_auth(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim, sidecar: Sidecar
) -> None:
    """A refused token starts reauth; an unreachable sidecar is a HomeAssistantError."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    client = entry.runtime_data.client
    token, client.token = client.token, "wrong"
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "list_vouchers", {})
    assert err.value.translation_key == "auth_failed"
    await hass.async_block_till_done()
    assert any(
        flow["context"]["source"] == "reauth"
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    )
    client.token = token

    await hass.async_add_executor_job(sidecar.kill)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "create_voucher", {"unit_id": "beach-house", "duration_minutes": 60})
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "cannot_connect"
