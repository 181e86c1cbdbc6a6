"""Footprint of managed mode inside Home Assistant: a benchmark that prints numbers.

Not part of the test run (the file name does not start with test_): run it on purpose, with
the binary to measure (the release build is what hosts get from the wheel):

    RENTAL_WIFI_SIDECAR_BIN=target/release/rental-wifi-sidecar \\
        ~/.cache/rental-wifi/venv-ha/bin/python -m pytest tests/ha/bench_managed.py \\
        -p no:cacheprovider -s -o timeout=600

It measures, on a real Home Assistant core with the simulated controller and Plume (one unit,
Plume polled every 60 s, the integration polling every 60 s and following the event stream):

* the time the managed entry's set-up takes (spawn → ready → first refresh), which is what it
  adds to Home Assistant's start-up, against an external entry's set-up;
* the sidecar's RSS when idle;
* its context switches per second (all threads, voluntary + involuntary, from
  /proc/<pid>/task/*/status) over IDLE_SECONDS with nothing happening.

docs/home-assistant.md ("Footprint") has the results.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import statistics
import time

from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant

from custom_components.rental_wifi import managed
from custom_components.rental_wifi.const import (
    CONF_API_TOKEN,
    CONF_MODE,
    CONF_PORTAL_PORT,
    DOMAIN,
    MODE_EXTERNAL,
    MODE_MANAGED,
)

from .conftest import Sidecar, Sim
from .managed_helpers import free_port

IDLE_SECONDS = float(os.environ.get("RENTAL_WIFI_BENCH_IDLE_SECONDS", "60"))
RUNS = 5


def switches(pid: int) -> int:
    """Context switches of every thread of a process so far."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def rss_mib(pid: int) -> float:
    """Resident set size in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def _timed_setup(hass: HomeAssistant, entry: MockConfigEntry) -> float:
    started = time.perf_counter()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    elapsed = time.perf_counter() - started
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    return elapsed


async def test_footprint(hass: HomeAssistant, sim: Sim, tmp_path: Path) -> None:
    """Print the numbers (asserts only that what was measured was real)."""
    binary = os.environ[managed.ENV_BINARY]
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    hass.config.config_dir = str(config_dir)
    port = free_port()
    entry = MockConfigEntry(
        domain=DOMAIN,
        version=1,
        minor_version=2,
        data={
            CONF_MODE: MODE_MANAGED,
            CONF_API_TOKEN: managed.new_token(),
            CONF_PORTAL_PORT: port,
        },
    )
    entry.add_to_hass(hass)
    # First start creates the database; configure it like a host's, then time later starts.
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    client = entry.runtime_data.client
    await client.put_omada_settings(
        {
            "mode": "hotspot",
            "base_url": sim.info["omada_url"],
            "username": sim.info["omada_username"],
            "password": sim.info["omada_password"],
            "verify_tls": False,
        }
    )
    await client.put_plume_settings({**_plume(sim), "poll_interval_seconds": 60})
    location = sim.location("fine")
    await client.create_unit(
        {
            "unit_id": "beach-house",
            "name": "Beach House",
            "plume_customer_id": location["customer_id"],
            "plume_location_id": location["location_id"],
        }
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    managed_times = [await _timed_setup(hass, entry) for _ in range(RUNS)]

    side = Sidecar(data_dir=tmp_path / "external", log_path=tmp_path / "external.log")
    (tmp_path / "external").mkdir()
    await hass.async_add_executor_job(side.start)
    external = MockConfigEntry(
        domain=DOMAIN,
        version=1,
        minor_version=2,
        data={CONF_MODE: MODE_EXTERNAL, CONF_URL: side.url, CONF_API_TOKEN: side.token},
    )
    external.add_to_hass(hass)
    external_times = [await _timed_setup(hass, external) for _ in range(RUNS)]
    await hass.async_add_executor_job(side.close)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    pid = entry.runtime_data.sidecar.pid
    await asyncio.sleep(5)  # let the first Plume poll and the event stream settle
    before, rss_before = switches(pid), rss_mib(pid)
    started = time.monotonic()
    await asyncio.sleep(IDLE_SECONDS)
    elapsed = time.monotonic() - started
    after, rss_after = switches(pid), rss_mib(pid)
    wakeups = (after - before) / elapsed
    print(  # noqa: T201
        f"\nbinary: {binary}\n"
        f"managed set-up (spawn → ready → first refresh), {RUNS} runs: "
        f"median {statistics.median(managed_times) * 1000:.0f} ms, "
        f"max {max(managed_times) * 1000:.0f} ms\n"
        f"external set-up, {RUNS} runs: median {statistics.median(external_times) * 1000:.0f} ms\n"
        f"idle RSS: {rss_before:.1f} MiB → {rss_after:.1f} MiB after {elapsed:.0f} s\n"
        f"idle context switches: {after - before} in {elapsed:.0f} s = {wakeups:.2f}/s "
        f"(all threads, in Home Assistant: polled every 60 s, event stream open)"
    )
    assert wakeups >= 0 and rss_after > 0


def _plume(sim: Sim) -> dict:
    return {
        "sso_url": sim.info["plume_sso_url"],
        "auth_header": sim.info["plume_auth_header"],
        "partner_id": sim.info["plume_partner_id"],
        "api_base": sim.info["plume_api_base"],
    }
