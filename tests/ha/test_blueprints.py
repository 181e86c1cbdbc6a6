"""The automation blueprints: valid for Home Assistant's blueprint loader, and working as
automations in the test Home Assistant against the real sidecar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
import shutil
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import Blueprint, BlueprintInputs
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import yaml as yaml_util

from custom_components.rental_wifi.const import DOMAIN

from .conftest import REPO, Api, Sim, entity_id_of, loaded_entry, wait_for

BLUEPRINTS = REPO / "blueprints" / "automation" / "rental_wifi"
CHECKIN = "sensor.beach_check_in"


def _load(name: str) -> Blueprint:
    path = BLUEPRINTS / name
    return Blueprint(
        yaml_util.load_yaml_dict(path),
        path=str(path),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        (
            "voucher_at_checkin.yaml",
            {"checkin_sensor", "unit", "notify_action", "max_devices", "title"},
        ),
        ("revoke_at_checkout.yaml", {"checkin_sensor", "unit", "delay"}),
        (
            "health_alert.yaml",
            {"health_sensor", "checkin_sensor", "levels", "for", "notify_action"},
        ),
    ],
)
def test_blueprint_is_valid(name: str, inputs: set[str]) -> None:
    """Each blueprint passes the loader's schema, declares every !input and fits this HA."""
    blueprint = _load(name)
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == inputs
    assert blueprint.validate() is None
    assert blueprint.metadata["source_url"].endswith(f"blueprints/automation/rental_wifi/{name}")
    # Substituting inputs gives a config the automation schema accepts.
    given = {key: "sensor.x" for key in inputs if not blueprint.inputs[key] or "default" not in blueprint.inputs[key]}
    substituted = BlueprintInputs(
        blueprint, {"use_blueprint": {"path": f"rental_wifi/{name}", "input": given}}
    ).async_substitute()
    assert substituted["triggers"]


def test_blueprint_missing_input_is_refused() -> None:
    """The loader really checks: an !input without a definition fails."""
    data = yaml_util.load_yaml_dict(BLUEPRINTS / "revoke_at_checkout.yaml")
    del data["blueprint"]["input"]["unit"]
    with pytest.raises(Exception, match="Missing input definition for unit"):
        Blueprint(data, expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA)


async def _automations(hass: HomeAssistant, tmp_path: Path, *instances: dict[str, Any]) -> None:
    """Install our blueprints in a fresh config dir and set up automations from them."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / "rental_wifi"
    shutil.copytree(BLUEPRINTS, target)
    automations = [
        {"id": f"bp{n}", "alias": f"bp{n}", "use_blueprint": instance}
        for n, instance in enumerate(instances)
    ]
    assert await async_setup_component(hass, "automation", {"automation": automations})
    await hass.async_block_till_done()
    for n in range(len(instances)):
        assert hass.states.get(f"automation.bp{n}").state == "on", n


def _checkin(hass: HomeAssistant, state: str, start: datetime, end: datetime) -> None:
    """Write Rental Control's check-in sensor."""
    hass.states.async_set(
        CHECKIN,
        state,
        {
            "checkin_state": state,
            "summary": "Reserved - Ada",
            "start": start,
            "end": end,
            "guest_name": "Ada",
            "checkin_source": "automatic",
            "next_transition": end,
        },
    )


async def test_checkin_and_checkout_blueprints(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim, tmp_path: Path
) -> None:
    """Check-in: a voucher until the stay's end, its code sent; again: the same code.
    Check-out: the unit's access is revoked."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    device = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, f"{entry.unique_id}_beach-house")}
    )
    sent: list[ServiceCall] = async_mock_service(hass, "notify", "host_phone")
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(minutes=5), now + timedelta(days=3)
    _checkin(hass, "awaiting_checkin", start, end)
    await _automations(
        hass,
        tmp_path,
        {
            "path": "rental_wifi/voucher_at_checkin.yaml",
            "input": {
                "checkin_sensor": CHECKIN,
                "unit": device.id,
                "notify_action": "notify.host_phone",
                "max_devices": 3,
            },
        },
        {
            "path": "rental_wifi/revoke_at_checkout.yaml",
            "input": {"checkin_sensor": CHECKIN, "unit": device.id},
        },
    )

    _checkin(hass, "checked_in", start, end)
    await wait_for(hass, lambda: sent)
    vouchers = (await api.request("GET", "/api/v1/vouchers?unit_id=beach-house"))["vouchers"]
    assert len(vouchers) == 1
    voucher = vouchers[0]
    assert voucher["guest_name"] == "Ada"
    assert voucher["max_devices"] == 3
    assert datetime.fromisoformat(voucher["valid_until"].replace("Z", "+00:00")) == end
    assert voucher["code"] in sent[0].data["message"]
    assert "Ada" in sent[0].data["message"]
    assert sent[0].data["title"] == "Wi-Fi for your stay"

    # Re-triggered (a restart, a manual toggle): the same code, no second voucher.
    _checkin(hass, "awaiting_checkin", start, end)
    _checkin(hass, "checked_in", start, end)
    await wait_for(hass, lambda: len(sent) == 2)
    assert voucher["code"] in sent[1].data["message"]
    assert len((await api.request("GET", "/api/v1/vouchers?unit_id=beach-house"))["vouchers"]) == 1

    # Check-out: revoked.
    _checkin(hass, "checked_out", start, end)

    async def revoked() -> bool:
        listed = await api.request("GET", "/api/v1/vouchers?unit_id=beach-house")
        return [v["status"] for v in listed["vouchers"]] == ["revoked"]

    from .conftest import eventually  # noqa: PLC0415

    await eventually(hass, revoked)


async def test_health_alert_blueprint(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim, http, tmp_path: Path
) -> None:
    """The unit's Plume location goes offline while a guest is in: one alert with the reasons;
    the same while nobody is checked in: no alert."""
    entry = await loaded_entry(hass, config_entry, api, sim, poll_interval=1)
    health = entity_id_of(hass, "sensor", f"{entry.unique_id}_beach-house_network_health")
    await wait_for(hass, lambda: hass.states.get(health).state == "green")
    sent: list[ServiceCall] = async_mock_service(hass, "notify", "host_phone")
    now = datetime.now(UTC)
    _checkin(hass, "no_reservation", now, now + timedelta(days=1))
    await _automations(
        hass,
        tmp_path,
        {
            "path": "rental_wifi/health_alert.yaml",
            "input": {
                "health_sensor": health,
                "checkin_sensor": CHECKIN,
                "notify_action": "notify.host_phone",
                "for": {"seconds": 0},
            },
        },
    )
    location = sim.location("fine")

    # Nobody checked in: no alert.
    await sim.set_scenario(http, location, "pod_down")
    await wait_for(hass, lambda: hass.states.get(health).state == "orange")
    await sim.set_scenario(http, location, "fine")
    await wait_for(hass, lambda: hass.states.get(health).state == "green")
    assert not sent

    # A guest is in: offline → alert with the sidecar's reasons.
    _checkin(hass, "checked_in", now, now + timedelta(days=1))
    await sim.set_scenario(http, location, "offline")
    await wait_for(hass, lambda: sent)
    assert hass.states.get(health).state == "red"
    assert "offline" in sent[0].data["title"]
    assert "Beach House" in sent[0].data["title"]
    reasons = hass.states.get(health).attributes["reasons"]
    assert reasons
    assert reasons[0] in sent[0].data["message"]
