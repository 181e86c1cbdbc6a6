"""The Omada controller in Home Assistant: its problem (binary sensor, repair issue, event),
the controller check (button, action, notification, event) and the host test code (button,
action, notifications, event), against the real sidecar and the controller simulator."""

from __future__ import annotations

from typing import Any

from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from homeassistant.components import persistent_notification
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir

from custom_components.rental_wifi.const import DOMAIN

import pytest

from .conftest import Api, Sidecar, Sim, entity_id_of, loaded_entry, redeem, wait_for


def _notifications(hass: HomeAssistant) -> dict[str, Any]:
    return persistent_notification._async_get_or_create_notifications(hass)  # noqa: SLF001


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"controller_problem_{entry.entry_id}")


async def test_controller_problem_sensor_and_repair_issue(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """A unit whose site id cannot be learnt is a problem until it has one."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    problem = entity_id_of(hass, "binary_sensor", f"{entry.unique_id}_controller_problem")
    assert hass.states.get(problem).state == STATE_OFF
    assert hass.states.get(problem).attributes["outbox_pending"] == 0
    assert _issue(hass, entry) is None
    events = async_capture_events(hass, f"{DOMAIN}_controller_problem")

    # Only a hotspot operator: a unit on a site the sidecar cannot learn the id of is saved
    # without one.
    await api.create_unit(unit_id="cabin", name="Cabin", omada_site="Lake")
    await wait_for(hass, lambda: hass.states.get(problem).state == STATE_ON)
    sentence = hass.states.get(problem).attributes["problem"]
    assert sentence.startswith('Unit "Cabin" (site "Lake") has no site id'), sentence
    await wait_for(hass, lambda: _issue(hass, entry) is not None)
    issue = _issue(hass, entry)
    assert issue.translation_key == "controller_problem"
    assert issue.translation_placeholders["problem"] == sentence
    assert issue.severity is ir.IssueSeverity.ERROR
    await wait_for(hass, lambda: any(e.data["problem"] == sentence for e in events))

    # The id is given: the problem and the issue go away by themselves.
    await api.request(
        "PATCH",
        "/api/v1/units/cabin",
        {"omada_site": "Default", "omada_site_id": sim.info["omada_site_id"]},
    )
    await wait_for(hass, lambda: hass.states.get(problem).state == STATE_OFF)
    await wait_for(hass, lambda: _issue(hass, entry) is None)
    await wait_for(hass, lambda: events[-1].data["problem"] is None)
    assert events[-1].data["config_entry_id"] == entry.entry_id

    # Unloading the entry takes its issue along.
    await api.create_unit(unit_id="annex", name="Annex", omada_site="Lake")
    await wait_for(hass, lambda: _issue(hass, entry) is not None)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert _issue(hass, entry) is None


async def test_check_controller_button_and_action(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """The report comes back, as a notification too; a failure is the problem."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    checks = async_capture_events(hass, f"{DOMAIN}_controller_check")
    report = await hass.services.async_call(
        DOMAIN, "check_controller", {}, blocking=True, return_response=True
    )
    assert report["ok"] is True
    assert {s["step"] for s in report["steps"]} >= {"discovery", "login", "site", "permissions"}
    note = _notifications(hass)[f"{DOMAIN}_controller_check_{entry.entry_id}"]
    assert note["title"] == "Controller check passed (Rental Wi-Fi)"
    assert "✅ permissions" in note["message"]
    assert "(Default)" in note["message"]
    await wait_for(hass, lambda: len(checks) == 1)
    assert checks[0].data["ok"] is True

    # A wrong password (stored unchecked): the button's check fails and says where.
    await api.request(
        "PUT",
        "/api/v1/settings/omada?validate=false",
        {**sim.omada_settings, "password": "not-the-password!"},
    )
    button = entity_id_of(hass, "button", f"{entry.unique_id}_check_controller")
    await hass.services.async_call(
        "button", "press", {"entity_id": button}, blocking=True
    )
    note = _notifications(hass)[f"{DOMAIN}_controller_check_{entry.entry_id}"]
    assert note["title"] == "Controller check failed (Rental Wi-Fi)"
    assert "❌ login [hotspot]" in note["message"], note["message"]
    await wait_for(hass, lambda: len(checks) == 2)
    assert checks[1].data["ok"] is False
    assert checks[1].data["failed"][0]["step"] == "login"
    problem = entity_id_of(hass, "binary_sensor", f"{entry.unique_id}_controller_problem")
    await wait_for(hass, lambda: hass.states.get(problem).state == STATE_ON)
    assert "login" in hass.states.get(problem).attributes["problem"]


async def test_check_controller_without_a_controller(
    hass: HomeAssistant, config_entry: MockConfigEntry, sidecar: Sidecar
) -> None:
    """The sidecar's refusal reaches the user, translated."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "check_controller", {}, blocking=True, return_response=True
        )
    assert err.value.translation_key == "sidecar_rejected"


async def test_host_test_code(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http,  # noqa: ANN001
) -> None:
    """A code for the host's phone: shown, used, taken off; the result as a notification."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    results = async_capture_events(hass, f"{DOMAIN}_host_test_result")
    test = await hass.services.async_call(
        DOMAIN,
        "create_host_test_code",
        {"unit_id": "beach-house"},
        blocking=True,
        return_response=True,
    )
    code = test["code"]
    assert test["status"] == "waiting"
    assert test["seconds"] == 60
    note = _notifications(hass)[f"{DOMAIN}_host_test_{code}"]
    assert note["title"] == f"Host test code for Beach House: {code}"
    assert f"**{code}**" in note["message"]
    assert "60 seconds" in note["message"]
    # Not a guest's voucher: the unit's voucher sensor does not show it.
    voucher = entity_id_of(hass, "sensor", f"{entry.unique_id}_beach-house_voucher_code")
    assert hass.states.get(voucher).attributes["live_vouchers"] == 0

    status, page = await redeem(http, sidecar, code, client_mac="AA-BB-CC-DD-EE-42")
    assert status in (200, 303), page
    # Taken off (here early, by a revoke: the same way as after its 60 seconds).
    await api.request("POST", f"/api/v1/vouchers/{code}/revoke", {})
    await wait_for(hass, lambda: len(results) == 1)
    data = results[0].data
    assert data["ok"] is True
    assert data["code"] == code
    assert data["client_mac"] == "AA-BB-CC-DD-EE-42"
    assert data["authorization_state"] == "not_readable"
    await wait_for(hass, lambda: _notifications(hass)[f"{DOMAIN}_host_test_{code}"]["title"] != note["title"])
    done = _notifications(hass)[f"{DOMAIN}_host_test_{code}"]
    assert done["title"] == "Host test passed: Beach House"
    assert data["message"] in done["message"]

    # The unit's button makes another code.
    button = entity_id_of(hass, "button", f"{entry.unique_id}_beach-house_host_test_code")
    before = set(_notifications(hass))
    await hass.services.async_call("button", "press", {"entity_id": button}, blocking=True)
    new = set(_notifications(hass)) - before
    assert len(new) == 1 and next(iter(new)).startswith(f"{DOMAIN}_host_test_")

    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN, "create_host_test_code", {}, blocking=True, return_response=True
        )
