"""The Omada controller in Home Assistant: its problem, its check, the host test code.

* A repair issue while the sidecar's controller status has a ``problem`` (a site or role
  the credentials lack, take-outs that wait, a controller that does not answer); it goes
  away by itself when the problem does.
* ``rental_wifi.check_controller``: the sidecar's self-test over every unit's site; the
  report comes back as response data and as a persistent notification.
* ``rental_wifi.create_host_test_code``: a one-time code for the host's own phone on a
  unit's guest Wi-Fi; shown in a notification. When the sidecar has taken the phone off
  again, its ``host_test_result`` event becomes a notification too.

The texts of the notifications are translated: they live under ``exceptions`` in
``strings.json`` (the one category for free-form messages) and are read with Home
Assistant's translation helper. The sidecar's own sentences (what failed, on which site)
are shown inside them as the sidecar wrote them.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from homeassistant.components import persistent_notification
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import (
    Event,
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.helpers import config_validation as cv, issue_registry as ir
from homeassistant.helpers.translation import async_get_translations

from .const import ATTR_DEVICE_ID, ATTR_UNIT_ID, DOMAIN, EVENT_PREFIX
from .coordinator import RentalWifiConfigEntry
from .services import _call, _resolve

SERVICE_CHECK_CONTROLLER = "check_controller"
SERVICE_CREATE_HOST_TEST_CODE = "create_host_test_code"
ISSUE_CONTROLLER_PROBLEM = "controller_problem"
SETUP_DOCS_URL = (
    "https://github.com/rental-wifi/rental-wifi/blob/main/docs/omada-setup.md"
)

CHECK_CONTROLLER_SCHEMA = vol.Schema({vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string})
CREATE_HOST_TEST_CODE_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_UNIT_ID): cv.string,
        vol.Optional(ATTR_DEVICE_ID): cv.string,
    }
)


def _issue_id(entry: RentalWifiConfigEntry) -> str:
    return f"{ISSUE_CONTROLLER_PROBLEM}_{entry.entry_id}"


@callback
def async_update_controller_issue(
    hass: HomeAssistant, entry: RentalWifiConfigEntry
) -> None:
    """Raise, update or clear the controller's repair issue from the latest snapshot."""
    coordinator = entry.runtime_data.coordinator
    if not coordinator.last_update_success:
        return
    problem = coordinator.data.controller.problem
    if problem:
        ir.async_create_issue(
            hass,
            DOMAIN,
            _issue_id(entry),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_CONTROLLER_PROBLEM,
            translation_placeholders={"title": entry.title, "problem": problem},
            learn_more_url=SETUP_DOCS_URL,
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, _issue_id(entry))


@callback
def async_setup_controller_issue(
    hass: HomeAssistant, entry: RentalWifiConfigEntry
) -> None:
    """Follow the coordinator: the repair issue mirrors the controller's problem."""
    coordinator = entry.runtime_data.coordinator
    entry.async_on_unload(
        coordinator.async_add_listener(
            lambda: async_update_controller_issue(hass, entry)
        )
    )
    entry.async_on_unload(lambda: ir.async_delete_issue(hass, DOMAIN, _issue_id(entry)))
    async_update_controller_issue(hass, entry)


async def _texts(hass: HomeAssistant) -> dict[str, str]:
    return await async_get_translations(
        hass, hass.config.language, "exceptions", {DOMAIN}
    )


async def _notify(
    hass: HomeAssistant,
    notification_id: str,
    title_key: str,
    message_key: str,
    placeholders: dict[str, Any],
) -> None:
    """A persistent notification from translated texts."""
    texts = await _texts(hass)

    def text(key: str) -> str:
        template = texts.get(f"component.{DOMAIN}.exceptions.{key}.message", key)
        return template.format(**placeholders)

    persistent_notification.async_create(
        hass,
        text(message_key),
        title=text(title_key),
        notification_id=notification_id,
    )


def _step_line(step: dict[str, Any]) -> str:
    """One line per step, as the CLI prints them."""
    mark = {"pass": "✅", "fail": "❌"}.get(str(step.get("status")), "➖")
    where = f" ({step['site']})" if step.get("site") else ""
    api = f" [{step['api']}]" if step.get("api") else ""
    line = f"{mark} {step.get('step')}{api}{where}: {step.get('message')}"
    if step.get("controller_message"):
        line += f" — {step['controller_message']}"
    return line


async def async_check_controller(
    hass: HomeAssistant, entry: RentalWifiConfigEntry
) -> dict[str, Any]:
    """Run the sidecar's controller check; show the report as a notification."""
    report: dict[str, Any] = await _call(entry, entry.runtime_data.client.check_controller())
    steps = "\n".join(_step_line(step) for step in report.get("steps") or [])
    await _notify(
        hass,
        f"{DOMAIN}_controller_check_{entry.entry_id}",
        "controller_check_passed_title"
        if report.get("ok")
        else "controller_check_failed_title",
        "controller_check_message",
        {"title": entry.title, "steps": steps},
    )
    await entry.runtime_data.coordinator.async_request_refresh()
    return report


async def async_create_host_test_code(
    hass: HomeAssistant, entry: RentalWifiConfigEntry, unit_id: str
) -> dict[str, Any]:
    """Ask the sidecar for a host test code for `unit_id`; show it as a notification."""
    test: dict[str, Any] = await _call(
        entry, entry.runtime_data.client.create_host_test(unit_id)
    )
    unit = entry.runtime_data.coordinator.data.units.get(unit_id)
    await _notify(
        hass,
        f"{DOMAIN}_host_test_{test['code']}",
        "host_test_code_title",
        "host_test_code_message",
        {
            "unit": unit.unit.name if unit else unit_id,
            "code": test["code"],
            "seconds": test.get("seconds", 60),
            "valid_until": test.get("valid_until") or "",
        },
    )
    return test


async def _async_check_controller_service(call: ServiceCall) -> ServiceResponse:
    entry, _ = _resolve(call, unit_required=False)
    return await async_check_controller(call.hass, entry)


async def _async_create_host_test_code_service(call: ServiceCall) -> ServiceResponse:
    entry, unit_id = _resolve(call, unit_required=True)
    assert unit_id is not None
    return await async_create_host_test_code(call.hass, entry, unit_id)


async def _async_on_host_test_result(hass: HomeAssistant, event: Event) -> None:
    """The sidecar took the test phone off again: tell the host what the controller said."""
    data = event.data
    unit_id = str(data.get("unit_id", ""))
    name = unit_id
    entry = hass.config_entries.async_get_entry(str(data.get("config_entry_id", "")))
    if entry is not None and entry.state is ConfigEntryState.LOADED:
        unit = entry.runtime_data.coordinator.data.units.get(unit_id)
        if unit is not None:
            name = unit.unit.name
    await _notify(
        hass,
        f"{DOMAIN}_host_test_{data.get('code', '')}",
        "host_test_result_ok_title" if data.get("ok") else "host_test_result_failed_title",
        "host_test_result_message",
        {
            "unit": name,
            "code": data.get("code", ""),
            "message": data.get("message", ""),
        },
    )


@callback
def async_setup_controller_services(hass: HomeAssistant) -> None:
    """Register the controller actions and the host test result notification (once)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_CHECK_CONTROLLER,
        _async_check_controller_service,
        schema=CHECK_CONTROLLER_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_CREATE_HOST_TEST_CODE,
        _async_create_host_test_code_service,
        schema=CREATE_HOST_TEST_CODE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )

    async def _on_result(event: Event) -> None:
        await _async_on_host_test_result(hass, event)

    hass.bus.async_listen(f"{EVENT_PREFIX}host_test_result", _on_result)
