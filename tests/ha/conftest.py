"""Fixtures: the real sidecar binary (and its simulators) on loopback, Home Assistant set up.

No client is mocked: every test talks HTTP to `rental-wifi-sidecar serve`, which talks to
`rental-wifi-sidecar sim` (a simulated Omada controller and Plume cloud). The binary is
$RENTAL_WIFI_SIDECAR_BIN, default <repo>/target/debug/rental-wifi-sidecar. Every process a
fixture starts is stopped when the test ends, whatever happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
import json
import os
from pathlib import Path
import re
import signal
import subprocess
import time
from typing import Any

import aiohttp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant

from custom_components.rental_wifi.const import CONF_API_TOKEN, DOMAIN

REPO = Path(__file__).resolve().parents[2]
SIDECAR_BIN = os.environ.get(
    "RENTAL_WIFI_SIDECAR_BIN", str(REPO / "target" / "debug" / "rental-wifi-sidecar")
)
START_TIMEOUT = 20.0

API_ADDR = re.compile(r"api_addr\W+([0-9.]+:[0-9]+)")
PORTAL_ADDR = re.compile(r"portal_addr\W+([0-9.]+:[0-9]+)")


class Process:
    """A child process whose stdout+stderr go to a log file (a pipe could fill up)."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        """Start it."""
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115
        self._offset = log_path.stat().st_size
        self.popen = subprocess.Popen(  # noqa: S603
            args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info")},
        )

    def output(self) -> str:
        """What this run of the process printed so far."""
        with open(self.log_path, "rb") as log:
            log.seek(self._offset)
            return log.read().decode("utf-8", errors="replace")

    def wait_for_line(self, predicate, timeout: float = START_TIMEOUT) -> str:  # noqa: ANN001
        """Wait for a printed line that satisfies predicate; fail if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.output().splitlines():
                if predicate(line):
                    return line
            if self.popen.poll() is not None:
                time.sleep(0.1)  # let the last lines land in the log
                for line in self.output().splitlines():
                    if predicate(line):
                        return line
                raise AssertionError(
                    f"{self.args[:2]} exited with {self.popen.returncode}:\n{self.output()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"{self.args[:2]} not ready after {timeout}s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it (SIGTERM, then SIGKILL after 10 s); idempotent."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log.close()


@dataclass
class Sim:
    """The simulated Omada controller and Plume cloud."""

    process: Process
    info: dict[str, Any]

    @property
    def omada_settings(self) -> dict[str, Any]:
        """Controller settings that log in to the simulated controller."""
        return {
            "mode": "hotspot",
            "base_url": self.info["omada_url"],
            "username": self.info["omada_username"],
            "password": self.info["omada_password"],
            "verify_tls": False,
            "auth_time_unit": "ms",
        }

    @property
    def plume_settings(self) -> dict[str, Any]:
        """Plume settings that mint tokens from the simulated Plume cloud."""
        return {
            "sso_url": self.info["plume_sso_url"],
            "auth_header": self.info["plume_auth_header"],
            "partner_id": self.info["plume_partner_id"],
            "api_base": self.info["plume_api_base"],
            "poll_interval_seconds": 60,
        }

    def location(self, scenario: str) -> dict[str, str]:
        """The simulated Plume location that starts in `scenario` (fine, poor_health, …)."""
        for location in self.info["plume_locations"]:
            if location["scenario"] == scenario:
                return location
        raise AssertionError(f"the simulator has no {scenario} location: {self.info}")

    async def set_scenario(
        self, http: aiohttp.ClientSession, location: dict[str, str], scenario: str
    ) -> None:
        """Switch a simulated Plume location to another scenario (POST /_sim/scenario)."""
        async with http.post(
            f"{self.info['plume_control_url']}/scenario",
            json={
                "customer_id": location["customer_id"],
                "location_id": location["location_id"],
                "scenario": scenario,
            },
        ) as response:
            assert response.status < 300, await response.text()


@dataclass
class Sidecar:
    """`rental-wifi-sidecar serve` on loopback with its own data dir."""

    data_dir: Path
    log_path: Path
    api_addr: str = "127.0.0.1:0"
    portal_addr: str = "127.0.0.1:0"
    token: str = ""
    process: Process | None = None
    runs: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Base URL of the API listener."""
        return f"http://{self.api_addr}"

    @property
    def portal_url(self) -> str:
        """Base URL of the portal listener."""
        return f"http://{self.portal_addr}"

    def start(self) -> None:
        """Start (or restart, on the same data dir and ports) and wait for `ready`."""
        self.process = Process(
            [
                SIDECAR_BIN,
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--api-listen",
                self.api_addr,
                "--portal-listen",
                self.portal_addr,
            ],
            self.log_path,
        )
        self.runs.append(self.process)
        line = self.process.wait_for_line(lambda line: "ready" in line and "api_addr" in line)
        api = API_ADDR.search(line)
        portal = PORTAL_ADDR.search(line)
        assert api and portal, f"no api_addr/portal_addr in the ready line: {line}"
        self.api_addr, self.portal_addr = api.group(1), portal.group(1)
        if not self.token:
            self.token = subprocess.run(  # noqa: S603
                [SIDECAR_BIN, "token", "--data-dir", str(self.data_dir)],
                capture_output=True,
                text=True,
                check=True,
                timeout=20,
            ).stdout.strip()

    def stop(self) -> None:
        """Stop gracefully (SIGTERM)."""
        if self.process:
            self.process.stop()

    def kill(self) -> None:
        """Kill without warning (SIGKILL)."""
        if self.process:
            self.process.stop(signal.SIGKILL)

    def close(self) -> None:
        """Stop every run."""
        for process in self.runs:
            process.stop()


@pytest.fixture(autouse=True)
def auto_enable(enable_custom_integrations: None, socket_enabled: None) -> None:
    """Load custom_components/ and allow loopback sockets (the sidecar is real)."""


def _info_line(line: str) -> bool:
    """The simulator's JSON line, complete (the log may be read while it is written)."""
    if not (line.lstrip().startswith("{") and "omada_url" in line):
        return False
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    """Start `rental-wifi-sidecar sim`; it prints one JSON line with its URLs."""
    process = Process([SIDECAR_BIN, "sim"], tmp_path / "sim.log")
    try:
        line = process.wait_for_line(_info_line)
        yield Sim(process=process, info=json.loads(line))
    finally:
        process.stop()


@pytest.fixture
async def sidecar(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[Sidecar]:
    """Start `rental-wifi-sidecar serve` on 127.0.0.1:0 with a fresh data dir.

    At the end, our entries are unloaded first (their event stream closed), then the
    sidecar is stopped.
    """
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    side = Sidecar(data_dir=data_dir, log_path=tmp_path / "sidecar.log")
    try:
        await hass.async_add_executor_job(side.start)
        yield side
    finally:
        for entry in hass.config_entries.async_entries(DOMAIN):
            if entry.state is ConfigEntryState.LOADED:
                await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        await hass.async_add_executor_job(side.close)


class Api:
    """A plain HTTP client for preparing the sidecar (not the integration's client)."""

    def __init__(self, sidecar: Sidecar, session: aiohttp.ClientSession) -> None:
        """Bind to a sidecar."""
        self.sidecar = sidecar
        self.session = session

    async def request(
        self, method: str, path: str, body: Any = None, expect: int | None = None
    ) -> Any:
        """Send a request with the API token, return the JSON body."""
        async with self.session.request(
            method,
            f"{self.sidecar.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.sidecar.token}"},
        ) as response:
            text = await response.text()
            if expect is not None:
                assert response.status == expect, f"{method} {path}: {response.status} {text}"
            elif response.status >= 400:
                raise AssertionError(f"{method} {path}: {response.status} {text}")
            return json.loads(text) if text else None

    async def configure(
        self, sim: Sim, *, plume: bool = True, poll_interval: int = 60
    ) -> None:
        """Point the sidecar at the simulators (Plume polled every `poll_interval` s)."""
        await self.request("PUT", "/api/v1/settings/omada", sim.omada_settings)
        if plume:
            await self.request(
                "PUT",
                "/api/v1/settings/plume",
                {**sim.plume_settings, "poll_interval_seconds": poll_interval},
            )

    async def create_unit(self, **unit: Any) -> dict[str, Any]:
        """Create a unit directly in the sidecar."""
        return await self.request("POST", "/api/v1/units", unit)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session for the test itself (cookies kept, for the portal)."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(sidecar: Sidecar, http: aiohttp.ClientSession) -> Api:
    """Prepare the sidecar over its API."""
    return Api(sidecar, http)


async def instance_id(http: aiohttp.ClientSession, sidecar: Sidecar) -> str:
    """The sidecar's instance id (GET /api/v1/info)."""
    async with http.get(f"{sidecar.url}/api/v1/info") as response:
        return (await response.json())["instance_id"]


@pytest.fixture
async def config_entry(
    hass: HomeAssistant, sidecar: Sidecar, http: aiohttp.ClientSession
) -> MockConfigEntry:
    """A config entry for the running sidecar (not set up yet)."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Rental Wi-Fi",
        unique_id=await instance_id(http, sidecar),
        data={CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token},
    )
    entry.add_to_hass(hass)
    return entry


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up and wait until Home Assistant is idle."""
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def wait_for(hass: HomeAssistant, predicate, timeout: float = 15.0) -> None:  # noqa: ANN001
    """Let Home Assistant run until predicate() holds (pushes and refreshes are async)."""
    deadline = time.monotonic() + timeout
    while True:
        await hass.async_block_till_done()
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def eventually(hass: HomeAssistant, check, timeout: float = 15.0) -> None:  # noqa: ANN001
    """Like wait_for, with an async check (e.g. one that asks the sidecar)."""
    deadline = time.monotonic() + timeout
    while True:
        await hass.async_block_till_done()
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def status_of(http: aiohttp.ClientSession, sidecar: Sidecar, path: str) -> int:
    """HTTP status of an authorized GET."""
    async with http.get(
        f"{sidecar.url}{path}", headers={"Authorization": f"Bearer {sidecar.token}"}
    ) as response:
        return response.status


class _FormParser(HTMLParser):
    """Collect the inputs of the portal page's form."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.inputs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action")
        if tag == "input" and "name" in values:
            self.inputs.add(values["name"])
            if values.get("type", "").lower() == "hidden":
                self.hidden[values["name"]] = values.get("value", "")


async def redeem(
    http: aiohttp.ClientSession,
    sidecar: Sidecar,
    code: str,
    *,
    client_mac: str = "AA-BB-CC-DD-EE-01",
    ap_mac: str = "AA-BB-CC-00-00-01",
    ssid: str = "Guest",
) -> tuple[int, str]:
    """Redeem a code on the captive portal as a guest's browser would."""
    params = {
        "clientMac": client_mac,
        # Where the tests connect from: the portal compares `clientIp` with it.
        "clientIp": "127.0.0.1",
        "apMac": ap_mac,
        "ssidName": ssid,
        "radioId": "1",
        "site": "Default",
        "redirectUrl": "http://example.com/",
    }
    async with http.get(f"{sidecar.portal_url}/portal", params=params) as response:
        assert response.status == 200, await response.text()
        page = await response.text()
    form = _FormParser()
    form.feed(page)
    assert "csrf" in form.hidden, page
    data = dict(form.hidden)
    data["code"] = code
    if "accept_terms" in form.inputs:
        data["accept_terms"] = "on"
    action = form.action or "/portal"
    if not action.startswith("http"):
        action = f"{sidecar.portal_url}{action if action.startswith('/') else '/portal'}"
    async with http.post(action, data=data, allow_redirects=False) as response:
        return response.status, await response.text()


async def ppsk_profile_over_open_api(http: aiohttp.ClientSession, api: Api, sim: Sim) -> str:
    """A PPSK profile "Guest keys" on the simulator's Guest SSID, and the sidecar logged in
    through the Open API (which lists profiles); the profile's id."""
    async with http.post(
        f"{sim.info['omada_control_url']}/ppsk_profiles",
        json={"site": "Default", "name": "Guest keys", "ssids": ["Guest"]},
    ) as response:
        assert response.status == 200, await response.text()
        profile: str = (await response.json())["id"]
    await api.request(
        "PUT",
        "/api/v1/settings/omada",
        {
            **sim.omada_settings,
            "client_id": sim.info["omada_client_id"],
            "client_secret": sim.info["omada_client_secret"],
        },
    )
    return profile


def entity_id_of(hass: HomeAssistant, platform: str, unique_id: str) -> str:
    """The entity id registered for one of our unique ids."""
    from homeassistant.helpers import entity_registry as er  # noqa: PLC0415

    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert entity_id, f"no {platform} entity with unique id {unique_id}"
    return entity_id


async def loaded_entry(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    *,
    poll_interval: int = 60,
) -> MockConfigEntry:
    """The sidecar pointed at the simulators, one unit (Plume: fine), the entry set up."""
    await api.configure(sim, poll_interval=poll_interval)
    location = sim.location("fine")
    await api.create_unit(
        unit_id="beach-house",
        name="Beach House",
        omada_site="Default",
        omada_site_id=sim.info["omada_site_id"],
        ap_macs=["AA-BB-CC-00-00-01"],
        plume_customer_id=location["customer_id"],
        plume_location_id=location["location_id"],
    )
    await setup_entry(hass, config_entry)
    return config_entry


# Managed-mode fixtures (their module imports this one, so they are registered last).
from .managed_helpers import (  # noqa: E402, F401
    config_dir,
    dev_binary,
    fast_supervision,
    unload_at_end,
)
