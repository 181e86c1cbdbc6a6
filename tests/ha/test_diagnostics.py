"""Diagnostics: secrets, voucher codes and MAC addresses are redacted."""

from __future__ import annotations

import json

from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.core import HomeAssistant

from custom_components.rental_wifi.diagnostics import async_get_config_entry_diagnostics

from .conftest import Api, Sidecar, Sim, loaded_entry

REDACTED = "**REDACTED**"


async def test_diagnostics(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim, sidecar: Sidecar
) -> None:
    """Everything useful is there, nothing secret is."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    voucher = await api.request(
        "POST", "/api/v1/vouchers", {"unit_id": "beach-house", "duration_minutes": 60}
    )
    await entry.runtime_data.coordinator.async_refresh()

    diag = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(diag, default=str)
    assert sidecar.token not in text
    assert voucher["code"] not in text
    assert "AA-BB-CC-00-00-01" not in text
    assert sim.info["omada_password"] not in text

    assert diag["entry"]["data"]["api_token"] == REDACTED
    assert diag["entry"]["data"]["url"] == sidecar.url
    unit = diag["state"]["units"][0]
    assert unit["unit"]["ap_macs"] == REDACTED
    assert unit["vouchers"][0]["code"] == REDACTED
    assert unit["vouchers"][0]["unit_id"] == "beach-house"
    assert diag["settings"]["omada"]["password"] == REDACTED
    assert diag["settings"]["plume"]["auth_header"] == REDACTED
    assert diag["coordinator"]["last_update_success"] is True

    # The settings part degrades to the error when the sidecar is gone.
    await hass.async_add_executor_job(sidecar.kill)
    diag = await async_get_config_entry_diagnostics(hass, entry)
    assert "error" in diag["settings"]["omada"]
