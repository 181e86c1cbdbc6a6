"""A unit's network in Home Assistant (issue 15 items 6 and 7), against the real sidecar and its
simulators: the ``get_network`` action (the seed bot's commands), per-pod connectivity sensors
that come and go with the pods, the ISP speed test with Airbnb's tier, and health from the
controller for a host without Plume."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er

from custom_components.rental_wifi.const import DOMAIN
from custom_components.rental_wifi.models import UnitState
from custom_components.rental_wifi.sensor import SPEED_TEST_SENSORS

from .conftest import Api, Sim, entity_id_of, eventually, loaded_entry, setup_entry, wait_for

AP = "B0-95-75-15-93-44"  # the simulated controller's access point ("Living room")
GATEWAY = "AC-84-C6-00-00-01"


def _openapi_settings(sim: Sim) -> dict[str, Any]:
    """Controller settings with Open API credentials too (device health)."""
    return {
        **sim.omada_settings,
        "client_id": sim.info["omada_client_id"],
        "client_secret": sim.info["omada_client_secret"],
    }


async def _get_network(hass: HomeAssistant, data: dict[str, Any]) -> dict[str, Any]:
    return await hass.services.async_call(
        DOMAIN, "get_network", data, blocking=True, return_response=True
    )


async def _sim_control(api: Api, sim: Sim, path: str, body: dict[str, Any]) -> None:
    async with api.session.post(f"{sim.info['omada_control_url']}/{path}", json=body) as r:
        assert r.status < 300, await r.text()


async def test_get_network_returns_the_seed_commands(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """Pods (name, model, connection, backhaul, health), devices (name, connection, band,
    health), Wi-Fi networks, service level, status and reasons — by unit id or device."""
    entry = await loaded_entry(hass, config_entry, api, sim)

    async def read() -> bool:
        net = await _get_network(hass, {"unit_id": "beach-house"})
        return bool(net["pods"])

    await eventually(hass, read)
    net = await _get_network(hass, {"unit_id": "beach-house"})
    assert net["unit_id"] == "beach-house"
    assert net["status"] == "green"
    assert net["service_level"] == "fullService"
    assert isinstance(net["reasons"], list)
    for pod in net["pods"]:
        assert pod["source"] == "plume"
        for key in ("name", "model", "connection", "backhaul", "health", "connected"):
            assert key in pod
    assert any(pod["kind"] == "gateway" for pod in net["pods"])
    assert net["devices"]
    for device in net["devices"]:
        for key in ("name", "connection", "band", "health"):
            assert key in device
    assert net["wifi_networks"]
    assert net["speed_test"]["airbnb_tier"] == "fast"
    # By the unit's device, the same answer.
    device = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, f"{entry.unique_id}_beach-house")}
    )
    by_device = await _get_network(hass, {"device_id": device.id})
    assert by_device["pods"] == net["pods"]
    # A unit the sidecar does not know: a validation error with its message.
    with pytest.raises(ServiceValidationError) as err:
        await _get_network(hass, {"unit_id": "nowhere"})
    assert err.value.translation_key == "sidecar_rejected"
    with pytest.raises(ServiceValidationError):
        await _get_network(hass, {})


async def test_pod_sensors_and_speed_test(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """A connectivity sensor per pod (disabled by default) follows its pod; a pod that is
    gone loses its entity; the ISP speed test with Airbnb's tier."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    registry = er.async_get(hass)
    iid = entry.unique_id
    coordinator = entry.runtime_data.coordinator

    def pod_entries() -> list[er.RegistryEntry]:
        return [
            e
            for e in er.async_entries_for_config_entry(registry, entry.entry_id)
            if e.unique_id.startswith(f"{iid}_beach-house_pod_")
        ]

    async def has_pods() -> bool:
        await coordinator.async_refresh()
        return len(pod_entries()) == 3

    await eventually(hass, has_pods)
    entries = pod_entries()
    assert all(e.disabled_by is er.RegistryEntryDisabler.INTEGRATION for e in entries)
    assert all(e.translation_key == "pod_connected" for e in entries)
    # Enable "Bedroom"'s sensor (the pod the pod_down scenario takes away).
    snapshot = await api.request("GET", "/api/v1/state")
    pods = snapshot["units"][0]["network"]["pods"]
    bedroom = next(p for p in pods if p["name"] == "Bedroom")
    bedroom_uid = f"{iid}_beach-house_pod_plume_{bedroom['id']}"
    bedroom_id = entity_id_of(hass, "binary_sensor", bedroom_uid)
    registry.async_update_entity(bedroom_id, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(hass, lambda: hass.states.get(bedroom_id).state == STATE_ON)
    state = hass.states.get(bedroom_id)
    assert state.attributes["source"] == "plume"
    assert state.attributes["friendly_name"].endswith("Pod Bedroom")

    # The ISP speed test: Mbit/s, Airbnb's tier as an attribute.
    download = entity_id_of(hass, "sensor", f"{iid}_beach-house_isp_download")
    upload = entity_id_of(hass, "sensor", f"{iid}_beach-house_isp_upload")
    assert float(hass.states.get(download).state) == pytest.approx(512.3)
    assert hass.states.get(download).attributes["airbnb_speed_tier"] == "fast"
    assert hass.states.get(download).attributes["unit_of_measurement"] == "Mbit/s"
    assert float(hass.states.get(upload).state) == pytest.approx(41.2)

    # Plume says Bedroom is down: its sensor goes off.
    location = sim.location("fine")
    await sim.set_scenario(api.session, location, "pod_down")
    await api.request("PUT", "/api/v1/settings/plume", {**sim.plume_settings, "poll_interval_seconds": 1})

    async def bedroom_off() -> bool:
        await coordinator.async_refresh()
        return hass.states.get(bedroom_id).state == STATE_OFF

    await eventually(hass, bedroom_off)

    # The unit moves to another Plume location: other pods; the old ones' entities go.
    other = sim.location("poor_health")
    await api.request(
        "PATCH",
        "/api/v1/units/beach-house",
        {"plume_location_id": other["location_id"]},
    )

    async def moved() -> bool:
        await coordinator.async_refresh()
        entries = pod_entries()
        return bool(entries) and all(bedroom["id"] not in e.unique_id for e in entries)

    await eventually(hass, moved)
    assert registry.async_get(bedroom_id) is None
    assert len(pod_entries()) == 3


async def test_health_from_the_controller_without_plume(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """No Plume: the controller's colour instead of unknown; an AP offline is red with its
    reason; the access point's own sensor; removed when the unit names another AP."""
    await api.request("PUT", "/api/v1/settings/omada", _openapi_settings(sim))
    await api.create_unit(unit_id="loft", name="Loft", omada_site="Default", ap_macs=[AP])
    await setup_entry(hass, config_entry)
    iid = config_entry.unique_id
    coordinator = config_entry.runtime_data.coordinator
    health = entity_id_of(hass, "sensor", f"{iid}_loft_network_health")

    async def colour(want: str) -> bool:
        await coordinator.async_refresh()
        return hass.states.get(health).state == want

    await eventually(hass, lambda: colour("green"))
    ap_uid = f"{iid}_loft_pod_controller_{AP}"
    ap_entity = entity_id_of(hass, "binary_sensor", ap_uid)
    registry = er.async_get(hass)
    assert registry.async_get(ap_entity).translation_key == "access_point_connected"
    registry.async_update_entity(ap_entity, disabled_by=None)
    await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(hass, lambda: hass.states.get(ap_entity).state == STATE_ON)

    # The AP goes offline; new controller settings make the sidecar read it at once.
    await _sim_control(api, sim, "device", {"mac": AP, "state": "disconnected"})
    await api.request("PUT", "/api/v1/settings/omada", _openapi_settings(sim))
    await eventually(hass, lambda: colour("red"))
    reasons = hass.states.get(health).attributes["reasons"]
    assert any("Living room" in r and "disconnected" in r for r in reasons), reasons
    assert hass.states.get(ap_entity).state == STATE_OFF
    net = await _get_network(hass, {"unit_id": "loft"})
    assert net["pods"][0]["source"] == "controller"
    assert net["gateways"][0]["mac"] == GATEWAY

    # The unit names another AP: the old AP's sensor is removed.
    await api.request("PATCH", "/api/v1/units/loft", {"ap_macs": ["B0-95-75-15-93-99"]})

    async def removed() -> bool:
        await coordinator.async_refresh()
        return registry.async_get(ap_entity) is None

    await eventually(hass, removed)
    # The snapshot's entity is unavailable-free: the new AP's sensor exists instead.
    assert entity_id_of(hass, "binary_sensor", f"{iid}_loft_pod_controller_B0-95-75-15-93-99")
    assert hass.states.get(ap_entity) is None or hass.states.get(ap_entity).state == STATE_UNAVAILABLE


def test_speed_test_sensors_without_a_speed_test() -> None:
    """A unit whose speed test is gone reads as no value and no attributes (the entity is
    unavailable then)."""
    unit = UnitState.from_dict(
        {"unit": {"unit_id": "u", "name": "U"}, "vouchers": [], "health": None}
    )
    assert unit.network.speed_test is None and unit.card_voucher is None
    for description in SPEED_TEST_SENSORS:
        assert description.value_fn(unit) is None
        assert description.attributes_fn(unit, {}) is None
