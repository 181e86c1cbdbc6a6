"""Password mode (issue 18) in Home Assistant: the create_voucher action answers the Wi-Fi
password, a disabled-by-default sensor shows the unit's current password once enabled, the
image shows the password card (its QR code joins the Wi-Fi), and the password is in no
event, no other entity, no diagnostics and no log line; the controller check covers the
password unit, and its host test code button says why it cannot work there."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.components import persistent_notification
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er

from custom_components.rental_wifi.const import DOMAIN
from custom_components.rental_wifi.diagnostics import async_get_config_entry_diagnostics

from .conftest import Api, Sim, entity_id_of, ppsk_profile_over_open_api, setup_entry, wait_for

PNG = b"\x89PNG\r\n\x1a\n"


async def _password_unit(http: aiohttp.ClientSession, api: Api, sim: Sim) -> str:
    """A PPSK profile on the simulator's Guest SSID; unit `loft` in password mode on it."""
    profile = await ppsk_profile_over_open_api(http, api, sim)
    unit = await api.create_unit(
        unit_id="loft",
        name="Loft",
        ssids=["Guest"],
        access_mode="password",
        ppsk_profile_id=profile,
    )
    assert unit["access_mode"] == "password"
    return profile


async def test_password_mode(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    http: aiohttp.ClientSession,
    hass_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The action answers the password; sensor (once enabled) and image show it; nothing
    else does."""
    caplog.set_level(logging.DEBUG)
    await _password_unit(http, api, sim)
    await setup_entry(hass, config_entry)
    entry = config_entry
    fired: list[Event] = []
    hass.bus.async_listen(f"{DOMAIN}_voucher_issued", fired.append)
    hass.bus.async_listen(f"{DOMAIN}_voucher_revoked", fired.append)

    sensor = entity_id_of(hass, "sensor", f"{entry.unique_id}_loft_wifi_password")
    registry = er.async_get(hass)
    assert registry.async_get(sensor).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get(sensor) is None, "disabled by default"

    await wait_for(hass, lambda: entry.runtime_data.coordinator.sse_connected)
    voucher = await hass.services.async_call(
        DOMAIN,
        "create_voucher",
        {"unit_id": "loft", "duration_minutes": 120, "guest_name": "Ana"},
        blocking=True,
        return_response=True,
    )
    assert voucher is not None
    password = voucher["wifi"]["password"]
    assert voucher["wifi"]["qr_payload"] == f"WIFI:T:WPA;S:Guest;P:{password};;"
    assert voucher["max_devices"] == 0
    code = voucher["code"]
    # The event arrives on the event stream beside the action's answer, not before
    # it: wait for it before the reload below closes that stream.
    await wait_for(hass, lambda: any(e.event_type == f"{DOMAIN}_voucher_issued" for e in fired))

    # Enabled: the sensor reads the current password from the sidecar.
    registry.async_update_entity(sensor, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(hass, lambda: hass.states.get(sensor).state == password)
    attrs = hass.states.get(sensor).attributes
    assert attrs["ssid"] == "Guest"
    assert attrs["code"] == code
    # The key reaches the controller (outbox) and the next snapshot says so.
    coordinator = entry.runtime_data.coordinator

    async def on_controller() -> bool:
        await coordinator.async_refresh()
        current = coordinator.data.units["loft"].wifi_password
        return current is not None and current.on_controller

    for _ in range(100):
        if await on_controller():
            break
        await hass.async_block_till_done()
    assert await on_controller()
    await wait_for(hass, lambda: hass.states.get(sensor).attributes["on_controller"] is True)

    # The image shows that voucher's card: the sidecar's PNG, byte for byte.
    image = entity_id_of(hass, "image", f"{entry.unique_id}_loft_voucher_card")
    await wait_for(hass, lambda: hass.states.get(image).state != STATE_UNKNOWN)
    client = await hass_client()
    response = await client.get(f"/api/image_proxy/{image}")
    assert response.status == 200
    body = await response.read()
    assert body.startswith(PNG)
    async with http.get(
        f"{api.sidecar.url}/api/v1/vouchers/{code}/card.png",
        headers={"Authorization": f"Bearer {api.sidecar.token}"},
    ) as direct:
        assert await direct.read() == body

    # The sidecar audited each read, never writing the password.
    audit = await api.request("GET", "/api/v1/audit?limit=200")
    reads = [e for e in audit["entries"] if e["action"] == "wifi_password.read"]
    assert {e["detail"].split(";")[0] for e in reads} >= {
        "shown in the issue answer",
        "unit password read",
        "printed on a card",
    }
    assert password not in json.dumps(audit)

    # Revoked: the sensor has no password any more.
    await wait_for(hass, lambda: coordinator.sse_connected)
    await hass.services.async_call(DOMAIN, "revoke_voucher", {"code": code}, blocking=True)
    await coordinator.async_refresh()
    await wait_for(hass, lambda: hass.states.get(sensor).state == STATE_UNKNOWN)

    # Nowhere else: events, other entities, diagnostics, logs.
    await wait_for(hass, lambda: len({e.event_type for e in fired}) == 2)
    assert {e.event_type for e in fired} >= {
        f"{DOMAIN}_voucher_issued",
        f"{DOMAIN}_voucher_revoked",
    }
    for event in fired:
        assert password not in json.dumps(event.data, default=str)
    for state in hass.states.async_all():
        if state.entity_id == sensor:
            continue
        assert password not in str(state.state)
        assert password not in json.dumps(dict(state.attributes), default=str)
    diag = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(diag, default=str)
    assert password not in text
    assert '"access_mode": "password"' in text, "the unit's mode is there"
    assert password not in caplog.text


async def test_portal_units_have_no_password(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
) -> None:
    """A portal unit's password sensor (enabled) stays unknown and reads nothing."""
    await api.configure(sim, plume=False)
    await api.create_unit(unit_id="flat", name="Flat", ssids=["Guest"])
    await setup_entry(hass, config_entry)
    sensor = entity_id_of(hass, "sensor", f"{config_entry.unique_id}_flat_wifi_password")
    er.async_get(hass).async_update_entity(sensor, disabled_by=None)
    await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    await api.request("POST", "/api/v1/vouchers", {"unit_id": "flat", "duration_minutes": 60})
    await config_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == STATE_UNKNOWN
    assert hass.states.get(sensor).attributes.get("code") is None
    audit = await api.request("GET", "/api/v1/audit?limit=200")
    assert not [e for e in audit["entries"] if e["action"].startswith("wifi_password")]


async def test_password_unit_in_the_controller_check_and_host_test(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    http: aiohttp.ClientSession,
) -> None:
    """The controller check's report (action and notification) has the password unit's
    ``ppsk`` step; its host test code button says why it cannot work there."""
    await _password_unit(http, api, sim)
    await setup_entry(hass, config_entry)
    entry = config_entry
    report = await hass.services.async_call(
        DOMAIN, "check_controller", {}, blocking=True, return_response=True
    )
    assert report["ok"] is True, report
    ppsk = [s for s in report["steps"] if s["step"] == "ppsk"]
    assert len(ppsk) == 1 and ppsk[0]["status"] == "pass", report
    assert report["password_checks"][0]["unit_id"] == "loft"
    notes = persistent_notification._async_get_or_create_notifications(hass)  # noqa: SLF001
    assert "✅ ppsk [openapi] (Default)" in notes[f"{DOMAIN}_controller_check_{entry.entry_id}"][
        "message"
    ]

    button = entity_id_of(hass, "button", f"{entry.unique_id}_loft_host_test_code")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call("button", "press", {"entity_id": button}, blocking=True)
    assert err.value.translation_key == "sidecar_rejected"
    assert "password mode" in err.value.translation_placeholders["message"]
