"""Helpers for the managed-mode tests: a config dir of its own, fast supervision, the flow."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import contextlib
import os
from pathlib import Path
import socket
from types import SimpleNamespace
from typing import Any

import pytest

from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.rental_wifi import managed
from custom_components.rental_wifi.const import CONF_PORTAL_PORT, DOMAIN

from .conftest import SIDECAR_BIN, Sim


def free_port() -> int:
    """A TCP port nobody listens on right now (for the guest portal)."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))  # noqa: S104
        return sock.getsockname()[1]


def alive(pid: int | None) -> bool:
    """True while the process exists (and is not a zombie)."""
    if pid is None:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def portal(port: int) -> SimpleNamespace:
    """What conftest.redeem needs to find the portal."""
    return SimpleNamespace(portal_url=f"http://127.0.0.1:{port}")


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A Home Assistant config dir of the test's own (the managed data dir goes there)."""
    path = tmp_path / "config"
    path.mkdir()
    hass.config.config_dir = str(path)
    return path


@pytest.fixture
def fast_supervision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Restart within a fraction of a second; call a run stable after 2 s."""
    monkeypatch.setattr(managed, "RESTART_BACKOFF_MIN", 0.2)
    monkeypatch.setattr(managed, "RESTART_BACKOFF_MAX", 0.5)
    monkeypatch.setattr(managed, "STABLE_AFTER", 2.0)


@pytest.fixture
def dev_binary(monkeypatch: pytest.MonkeyPatch) -> str:
    """Use the binary of this tree's cargo build (a developer's explicit path)."""
    monkeypatch.setenv(managed.ENV_BINARY, SIDECAR_BIN)
    return SIDECAR_BIN


@pytest.fixture
async def unload_at_end(hass: HomeAssistant) -> AsyncIterator[None]:
    """Whatever a test did, its managed sidecars are stopped at the end."""
    yield
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def choose(hass: HomeAssistant, result: dict, step: str) -> dict:
    """Pick a menu option."""
    assert result["type"] is FlowResultType.MENU, result
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


def hotspot(sim: Sim) -> dict[str, Any]:
    """The hotspot operator form for the simulated controller."""
    return {
        "base_url": sim.info["omada_url"],
        "username": sim.info["omada_username"],
        "password": sim.info["omada_password"],
        "advanced": {"verify_tls": False, "auth_time_unit": "ms"},
    }


async def managed_flow(hass: HomeAssistant, sim: Sim, port: int) -> ConfigEntry:
    """Set up managed mode through the config flow, controller and Plume included."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await choose(hass, result, "managed")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "managed"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORTAL_PORT: port}
    )
    assert result["step_id"] == "controller", result
    result = await choose(hass, await choose(hass, result, "omada"), "omada_hotspot")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], hotspot(sim))
    assert result["step_id"] == "plume_menu", result
    result = await choose(hass, result, "plume")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], sim.plume_settings
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    return entry


@contextlib.contextmanager
def listening(port: int) -> Iterator[socket.socket]:
    """Another program on the portal port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))  # noqa: S104
        sock.listen()
        yield sock


def fake_binary(path: Path, script: str) -> str:
    """An executable shell script standing in for the sidecar."""
    path.write_text("#!/bin/sh\n" + script)
    os.chmod(path, 0o755)
    return str(path)
