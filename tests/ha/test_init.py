"""Set-up, unload, unavailability and recovery of the sidecar."""

from __future__ import annotations

import logging

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_URL, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant

from custom_components.rental_wifi.const import CONF_API_TOKEN, DOMAIN

from .conftest import Api, Sidecar, Sim, entity_id_of, loaded_entry, wait_for


async def test_setup_unload(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """The entry loads and unloads cleanly (the event listener stops with it)."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    assert entry.state is ConfigEntryState.LOADED
    await wait_for(hass, lambda: entry.runtime_data.coordinator.sse_connected)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_setup_sidecar_down(hass: HomeAssistant) -> None:
    """Nothing listening: retry later."""
    entry = MockConfigEntry(
        domain=DOMAIN, data={CONF_URL: "http://127.0.0.1:9", CONF_API_TOKEN: "x"}
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_unavailable_and_back(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Sidecar killed: entities unavailable, one log line; restarted: back, one line."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    coordinator = entry.runtime_data.coordinator
    await wait_for(hass, lambda: coordinator.sse_connected)
    iid = entry.unique_id
    watched = [
        entity_id_of(hass, "sensor", f"{iid}_beach-house_network_health"),
        entity_id_of(hass, "binary_sensor", f"{iid}_controller_connected"),
        entity_id_of(hass, "sensor", f"{iid}_active_grants"),
    ]
    caplog.set_level(logging.INFO, logger="custom_components.rental_wifi")
    caplog.clear()

    await hass.async_add_executor_job(sidecar.kill)
    # The broken event stream makes the coordinator look at once.
    await wait_for(
        hass, lambda: all(hass.states.get(e).state == STATE_UNAVAILABLE for e in watched)
    )
    # A few more failed polls do not log again.
    for _ in range(3):
        await coordinator.async_refresh()

    await hass.async_add_executor_job(sidecar.start)
    await wait_for(
        hass,
        lambda: all(hass.states.get(e).state != STATE_UNAVAILABLE for e in watched),
        timeout=30,
    )
    ours = [r for r in caplog.records if r.name.startswith("custom_components.rental_wifi")]
    down = [r for r in ours if r.levelno >= logging.WARNING]
    back = [r for r in ours if r.levelno == logging.INFO and "recovered" in r.getMessage()]
    assert len(down) == 1, [r.getMessage() for r in down]
    assert len(back) == 1, [r.getMessage() for r in ours]
    await wait_for(hass, lambda: coordinator.sse_connected, timeout=30)


async def test_graceful_sidecar_restart(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
) -> None:
    """SIGTERM ends the event stream; the coordinator notices at once and reconnects."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    coordinator = entry.runtime_data.coordinator
    await wait_for(hass, lambda: coordinator.sse_connected)
    health = entity_id_of(hass, "sensor", f"{entry.unique_id}_beach-house_network_health")

    await hass.async_add_executor_job(sidecar.stop)
    await wait_for(hass, lambda: not coordinator.sse_connected, timeout=5)
    await wait_for(hass, lambda: hass.states.get(health).state == STATE_UNAVAILABLE, timeout=5)

    await hass.async_add_executor_job(sidecar.start)
    await wait_for(hass, lambda: coordinator.sse_connected, timeout=30)
    await wait_for(hass, lambda: hass.states.get(health).state != STATE_UNAVAILABLE)
