"""Set-up, unload, unavailability and recovery of the sidecar."""

from __future__ import annotations

from datetime import timedelta
import logging

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import CONF_URL, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from custom_components.rental_wifi.const import (
    CONF_API_TOKEN,
    CONF_CALENDAR_ENTITY,
    CONF_UNIT_ID,
    DOMAIN,
    SUBENTRY_UNIT,
)

from .conftest import (
    Api,
    Sidecar,
    Sim,
    entity_id_of,
    instance_id,
    loaded_entry,
    wait_for,
)


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


async def test_reauth_settles_in_one_go(
    hass: HomeAssistant, sidecar: Sidecar, api: Api, sim: Sim, http
) -> None:
    """The token is rotated on the sidecar; the host takes longer than a poll interval to
    type the new one. After it: one reload with a new client (booking syncs included), no
    second reauth flow, entities back."""
    await api.configure(sim, plume=False)
    await api.create_unit(unit_id="beach-house", name="Beach House")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Rental Wi-Fi",
        unique_id=await instance_id(http, sidecar),
        data={CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token},
        subentries_data=[
            ConfigSubentryData(
                data={CONF_UNIT_ID: "beach-house", CONF_CALENDAR_ENTITY: "calendar.beach"},
                subentry_type=SUBENTRY_UNIT,
                title="Beach House",
                unique_id="beach-house",
            )
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    old_client = entry.runtime_data.client
    assert entry.runtime_data.syncs["beach-house"].client is old_client

    # Rotate the token: a new token file, the sidecar restarted (as `token` after a wipe).
    await hass.async_add_executor_job(sidecar.stop)
    new_token = "n" * 43
    (sidecar.data_dir / "api_token").write_text(new_token)
    sidecar.token = new_token
    await hass.async_add_executor_job(sidecar.start)

    def reauth_flows() -> list:
        return [
            flow
            for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            if flow["context"]["source"] == "reauth"
        ]

    await entry.runtime_data.coordinator.async_refresh()
    await wait_for(hass, lambda: len(reauth_flows()) == 1)
    # The host is slow: several poll intervals pass with the form open.
    for minutes in (1, 2, 3):
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=minutes))
        await hass.async_block_till_done()
    assert len(reauth_flows()) == 1

    result = await hass.config_entries.flow.async_configure(
        reauth_flows()[0]["flow_id"], {CONF_API_TOKEN: new_token}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    await wait_for(hass, lambda: entry.state is ConfigEntryState.LOADED)
    data = entry.runtime_data
    assert data.client is not old_client
    assert data.client.token == new_token
    assert data.syncs["beach-house"].client is data.client
    assert data.coordinator.last_update_success
    await wait_for(hass, lambda: data.coordinator.sse_connected)
    # And no second flow, not even after more polls.
    for minutes in (4, 5):
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=minutes))
        await hass.async_block_till_done()
    assert reauth_flows() == []
    assert entry.state is ConfigEntryState.LOADED
