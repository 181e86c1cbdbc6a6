"""Managed mode: Home Assistant starts, watches, restarts and stops the sidecar itself.

The first test is the issue's judge: the wheel built from this tree (installed by tests/run
into the test environment, as Home Assistant would install the manifest's requirement) and
the whole managed flow with nothing started by hand. The others use the cargo-built binary
through $RENTAL_WIFI_SIDECAR_BIN (a developer's explicit path) to go faster.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
import importlib.metadata
import json
import logging
import os
from pathlib import Path
import signal
import subprocess

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from custom_components.rental_wifi import backup, managed, snapshot
from custom_components.rental_wifi.diagnostics import async_get_config_entry_diagnostics
from custom_components.rental_wifi.const import (
    CONF_API_TOKEN,
    CONF_MODE,
    CONF_PORTAL_PORT,
    DOMAIN,
    MODE_MANAGED,
    SUBENTRY_UNIT,
)

from .conftest import REPO, SIDECAR_BIN, Sim, entity_id_of, redeem, wait_for
from .managed_helpers import (
    alive,
    choose,
    fake_binary,
    free_port,
    listening,
    managed_flow,
    portal,
)

pytestmark = pytest.mark.usefixtures("config_dir", "fast_supervision", "unload_at_end")

MANIFEST = REPO / "custom_components" / DOMAIN / "manifest.json"


def _cargo_version() -> str:
    for line in (REPO / "sidecar" / "Cargo.toml").read_text().splitlines():
        if line.startswith("version"):
            return line.split('"')[1]
    raise AssertionError("no version in sidecar/Cargo.toml")


def test_manifest_requires_the_installed_wheel() -> None:
    """Home Assistant's test harness skips pip, so check what pip would have installed.

    The manifest requires exactly the installed distribution at the integration's version,
    which is the sidecar crate's version, and that distribution carries the binary.
    """
    manifest = json.loads(MANIFEST.read_text())
    version = manifest["version"]
    assert manifest["requirements"] == [f"{managed.DISTRIBUTION}=={version}"]
    assert version == _cargo_version()
    assert importlib.metadata.version(managed.DISTRIBUTION) == version, (
        "the rental-wifi-sidecar wheel is not installed: tests/run builds and installs it"
    )
    # Its RECORD lists the executable (importlib drops entries whose path a --target install
    # left wrong, so read RECORD itself), and it is where find_binary looks.
    dist = importlib.metadata.distribution(managed.DISTRIBUTION)
    record = dist.read_text("RECORD") or ""
    assert any(
        line.split(",")[0].endswith(f"bin/{managed.BINARY_NAME}") for line in record.splitlines()
    )


async def test_managed_end_to_end_from_the_wheel(
    hass: HomeAssistant,
    sim: Sim,
    config_dir: Path,
    http,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Flow, create_voucher, a guest on the portal, the event, unload, reload, a killed
    sidecar restarted, the backup hooks: all with the binary of the installed wheel."""
    monkeypatch.delenv(managed.ENV_BINARY, raising=False)
    binary = await hass.async_add_executor_job(managed.find_binary)
    assert binary is not None
    assert binary != Path(SIDECAR_BIN).resolve()
    assert importlib.metadata.distribution(managed.DISTRIBUTION).locate_file("") in binary.parents

    port = free_port()
    entry = await managed_flow(hass, sim, port)
    sidecar = entry.runtime_data.sidecar
    assert sidecar is not None
    assert sidecar.config.binary == binary
    assert entry.data[CONF_MODE] == MODE_MANAGED
    assert entry.data[CONF_PORTAL_PORT] == port
    data_dir = config_dir / "rental_wifi"
    assert sidecar.config.data_dir == data_dir
    token_file = data_dir / "api_token"
    assert token_file.read_text().strip() == entry.data[CONF_API_TOKEN]
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert sidecar.url.startswith("http://127.0.0.1:")
    assert entry.unique_id == sidecar.instance_id

    # A unit, through the subentry flow.
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_UNIT), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Beach House",
            "omada_site": "Default",
            "networks": {"ap_macs": ["AA-BB-CC-00-00-01"]},
            "plume": {},
            "bookings": {},
            "guests": {},
            "wifi_passwords": {},
            "advanced": {},
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await wait_for(hass, lambda: "beach-house" in entry.runtime_data.coordinator.data.units)

    # A voucher, and a guest who redeems it on the portal (the controller is simulated).
    redeemed = async_capture_events(hass, f"{DOMAIN}_voucher_redeemed")
    voucher = await hass.services.async_call(
        DOMAIN,
        "create_voucher",
        {"unit_id": "beach-house", "duration_minutes": 120},
        blocking=True,
        return_response=True,
    )
    status, page = await redeem(http, portal(port), voucher["code"])
    assert status == 200 and 'data-result="success"' in page, page
    await wait_for(hass, lambda: redeemed)
    assert redeemed[0].data["code"] == voucher["code"]
    assert redeemed[0].data["config_entry_id"] == entry.entry_id
    guests = entity_id_of(hass, "sensor", f"{entry.unique_id}_beach-house_guest_devices")
    await wait_for(hass, lambda: hass.states.get(guests).state == "1")

    # Unload: the process stops and the portal port is free again.
    pid = sidecar.pid
    assert alive(pid)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert not alive(pid)
    assert managed.port_is_free(port)
    assert not (data_dir / managed.PID_FILE).exists()

    # Set up again: same data, same instance, the guest still online.
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    sidecar = entry.runtime_data.sidecar
    assert sidecar.instance_id == entry.unique_id
    await wait_for(hass, lambda: hass.states.get(guests).state == "1")

    # Killed: the watchdog starts a new one, the entities come back, events flow again.
    coordinator = entry.runtime_data.coordinator
    await wait_for(hass, lambda: coordinator.sse_connected)
    old_pid = sidecar.pid
    os.kill(old_pid, signal.SIGKILL)
    await wait_for(hass, lambda: sidecar.pid != old_pid and sidecar.running, timeout=30)
    assert sidecar.restarts == 1
    # The API port is the kernel's choice at every start: the client follows it.
    assert entry.runtime_data.client.url == sidecar.url
    await wait_for(hass, lambda: hass.states.get(guests).state == "1", timeout=30)
    await wait_for(hass, lambda: coordinator.sse_connected, timeout=30)
    issued = async_capture_events(hass, f"{DOMAIN}_voucher_issued")
    await hass.services.async_call(
        DOMAIN, "create_voucher", {"unit_id": "beach-house", "duration_minutes": 60},
        blocking=True, return_response=True,
    )
    await wait_for(hass, lambda: issued)

    # The backup hooks: a consistent copy appears for the backup, and goes after it.
    snap = data_dir / "backup" / snapshot.DB_FILE
    await backup.async_pre_backup(hass)
    assert snap.exists()
    await backup.async_post_backup(hass)
    assert not snap.exists()


async def test_managed_flow_errors(
    hass: HomeAssistant, tmp_path: Path, dev_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Missing binary, wrong version, taken port: said on the form; then it starts."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await choose(hass, result, "managed")
    port = free_port()

    monkeypatch.setenv(managed.ENV_BINARY, str(tmp_path / "nope"))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORTAL_PORT: port}
    )
    assert result["errors"] == {"base": "binary_missing"}
    assert result["description_placeholders"]["path"] == str(tmp_path / "nope")

    old = fake_binary(tmp_path / "old", 'echo "rental-wifi-sidecar 0.0.1"\n')
    monkeypatch.setenv(managed.ENV_BINARY, old)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORTAL_PORT: port}
    )
    assert result["errors"] == {"base": "binary_version"}

    monkeypatch.setenv(managed.ENV_BINARY, dev_binary)
    with listening(port):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_PORTAL_PORT: port}
        )
    assert result["errors"] == {"base": "portal_port_taken"}

    # A sidecar that dies at start: its own message.
    crashing = fake_binary(
        tmp_path / "crashing",
        f'[ "$1" = --version ] && exec {dev_binary} --version\n'
        'echo "rental-wifi-sidecar: cannot start: disk full" >&2\nexit 1\n',
    )
    monkeypatch.setenv(managed.ENV_BINARY, crashing)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORTAL_PORT: port}
    )
    assert result["errors"] == {"base": "start_failed"}
    assert "disk full" in result["description_placeholders"]["message"]

    monkeypatch.setenv(managed.ENV_BINARY, dev_binary)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORTAL_PORT: port}
    )
    assert result["step_id"] == "controller"
    flow = hass.config_entries.flow._progress[result["flow_id"]]  # noqa: SLF001
    pid = flow._sidecar.pid  # noqa: SLF001
    assert alive(pid)
    # Closing the dialog stops the sidecar the flow started.
    hass.config_entries.flow.async_abort(result["flow_id"])
    await wait_for(hass, lambda: not alive(pid))


def _managed_entry(hass: HomeAssistant, port: int) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Rental Wi-Fi",
        version=1,
        minor_version=2,
        data={
            CONF_MODE: MODE_MANAGED,
            CONF_API_TOKEN: managed.new_token(),
            CONF_PORTAL_PORT: port,
        },
    )
    entry.add_to_hass(hass)
    return entry


async def _retry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Let Home Assistant's own set-up retry run (its timer, not a reload by hand)."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=100))
    await hass.async_block_till_done()
    await wait_for(hass, lambda: entry.state is not ConfigEntryState.SETUP_IN_PROGRESS)


async def test_repairs_and_recovery_without_restart(
    hass: HomeAssistant, tmp_path: Path, dev_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each cause is a repair issue, and the entry comes up once the cause is gone."""
    issues = ir.async_get(hass)
    port = free_port()
    entry = _managed_entry(hass, port)

    monkeypatch.setenv(managed.ENV_BINARY, str(tmp_path / "missing"))
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert issues.async_get_issue(DOMAIN, managed.ISSUE_BINARY_MISSING)

    old = fake_binary(tmp_path / "old", 'echo "rental-wifi-sidecar 0.0.1"\n')
    monkeypatch.setenv(managed.ENV_BINARY, old)
    await _retry(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    issue = issues.async_get_issue(DOMAIN, managed.ISSUE_BINARY_VERSION)
    assert issue and issue.translation_placeholders["found"] == "0.0.1"

    monkeypatch.setenv(managed.ENV_BINARY, dev_binary)
    with listening(port):
        await _retry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        issue = issues.async_get_issue(DOMAIN, managed.ISSUE_PORT_TAKEN)
        assert issue and issue.translation_placeholders["port"] == str(port)

    # The port is free again: the next retry starts it, and every issue is gone.
    await _retry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    for issue_id in managed.START_ISSUES:
        assert issues.async_get_issue(DOMAIN, issue_id) is None
    assert entry.runtime_data.sidecar.running

    # Removing the entry clears its issues for good.
    managed.async_raise_issue(
        hass, managed.SidecarStartError(managed.ISSUE_PORT_TAKEN, {"port": "1"})
    )
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, managed.ISSUE_PORT_TAKEN) is None


async def test_crash_loop_repair_and_recovery(
    hass: HomeAssistant, dev_binary: str
) -> None:
    """Killed again and again: a repair issue; running for a while clears it."""
    issues = ir.async_get(hass)
    entry = _managed_entry(hass, free_port())
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    sidecar = entry.runtime_data.sidecar
    for count in range(1, managed.CRASH_LIMIT + 1):
        pid = sidecar.pid
        os.kill(pid, signal.SIGKILL)
        await wait_for(
            hass, lambda count=count: sidecar.restarts == count and sidecar.running, timeout=30
        )
    issue = issues.async_get_issue(DOMAIN, managed.ISSUE_CRASHING)
    assert issue is not None
    assert issue.translation_placeholders["count"] == str(managed.CRASH_LIMIT)
    # STABLE_AFTER (2 s here) of uptime: healthy again.
    await wait_for(
        hass, lambda: issues.async_get_issue(DOMAIN, managed.ISSUE_CRASHING) is None, timeout=10
    )
    assert sidecar.diagnostics()["restarts"] == managed.CRASH_LIMIT


async def test_hung_sidecar_is_restarted(
    hass: HomeAssistant, dev_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that stops answering (SIGSTOP) is killed and respawned."""
    monkeypatch.setattr(managed, "PROBE_INTERVAL", 0.2)
    monkeypatch.setattr(managed, "PROBE_TIMEOUT", 0.3)
    monkeypatch.setattr(managed, "PROBE_FAILURES", 2)
    entry = _managed_entry(hass, free_port())
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    sidecar = entry.runtime_data.sidecar
    pid = sidecar.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        await wait_for(hass, lambda: sidecar.restarts == 1 and sidecar.running, timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    assert sidecar.pid != pid
    assert not alive(pid)


async def test_orphan_from_a_killed_home_assistant_is_replaced(
    hass: HomeAssistant, config_dir: Path, dev_binary: str
) -> None:
    """A sidecar left running by a Home Assistant that died holds the portal port: it is
    found by its pid file and stopped before the new one starts."""
    port = free_port()
    data_dir = config_dir / "rental_wifi"
    data_dir.mkdir()
    orphan = subprocess.Popen(  # noqa: S603
        [dev_binary, "serve", "--data-dir", str(data_dir), "--api-listen", "127.0.0.1:0",
         "--portal-listen", f"0.0.0.0:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (data_dir / managed.PID_FILE).write_text(f"{orphan.pid}\n")
        await hass.async_add_executor_job(
            lambda: wait_until(lambda: not managed.port_is_free(port))
        )
        entry = _managed_entry(hass, port)
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        assert orphan.poll() is not None
        assert entry.runtime_data.sidecar.pid != orphan.pid
    finally:
        if orphan.poll() is None:
            orphan.kill()
        orphan.wait()


def wait_until(predicate, timeout: float = 20.0) -> None:  # noqa: ANN001
    """Block until predicate() holds (in the executor)."""
    import time  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


async def test_stops_with_home_assistant_and_forwards_logs(
    hass: HomeAssistant, dev_binary: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The sidecar's JSON lines reach Home Assistant's log at their level; it stops with
    Home Assistant; its open-files limit is raised."""
    caplog.set_level(logging.DEBUG, logger="custom_components.rental_wifi.sidecar")
    entry = _managed_entry(hass, free_port())
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    sidecar = entry.runtime_data.sidecar
    ready = [
        r for r in caplog.records
        if r.name == "custom_components.rental_wifi.sidecar" and r.getMessage().startswith("ready")
    ]
    assert ready and ready[0].levelno == logging.INFO
    assert "api_addr=127.0.0.1:" in ready[0].getMessage()
    assert entry.data[CONF_API_TOKEN] not in caplog.text

    diag = await async_get_config_entry_diagnostics(hass, entry)
    assert diag["mode"] == "managed"
    assert diag["managed_sidecar"]["running"] is True
    assert diag["managed_sidecar"]["portal_port"] == entry.data[CONF_PORTAL_PORT]
    assert entry.data[CONF_API_TOKEN] not in json.dumps(diag, default=str)

    limits = Path(f"/proc/{sidecar.pid}/limits").read_text()
    soft = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    hard_limit = int(soft.split()[4]) if soft.split()[4] != "unlimited" else None
    expected = managed.NOFILE if hard_limit is None else min(managed.NOFILE, hard_limit)
    assert int(soft.split()[3]) >= expected

    pid = sidecar.pid
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    await wait_for(hass, lambda: not alive(pid))
    assert not sidecar.running


def test_format_line() -> None:
    """Sidecar lines → (level, text): JSON levels map, fields are kept, other text is INFO."""
    level, text, record = managed.format_line(
        '{"timestamp":"t","level":"WARN","message":"controller slow","target":"x","ms":12}'
    )
    assert level == logging.WARNING
    assert text == "controller slow ms=12"
    assert record["ms"] == 12
    level, text, _ = managed.format_line(
        '{"level":"ERROR","fields":{"message":"boom","error":"disk"},"target":"y"}'
    )
    assert (level, text) == (logging.ERROR, "boom error=disk")
    assert managed.format_line("plain text")[:2] == (logging.INFO, "plain text")
    assert managed.format_line("{not json")[:2] == (logging.INFO, "{not json")
    assert managed.format_line("[1]")[0] == logging.INFO


async def test_reconfigure_portal_port_and_reauth(
    hass: HomeAssistant, sim: Sim, dev_binary: str, http
) -> None:
    """The portal moves to another port (a taken one is refused); a managed reauth gives
    the sidecar a new token; both settle in one reload."""
    port = free_port()
    entry = await managed_flow(hass, sim, port)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["menu_options"] == ["reconfigure_portal", "omada", "plume"]
    result = await choose(hass, result, "reconfigure_portal")
    other = free_port()
    with listening(other):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_PORTAL_PORT: other}
        )
        assert result["errors"] == {CONF_PORTAL_PORT: "portal_port_taken"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORTAL_PORT: other}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    await wait_for(hass, lambda: entry.state is ConfigEntryState.LOADED)
    assert entry.runtime_data.sidecar.config.portal_port == other
    status, page = await redeem(http, portal(other), "NOT-A-CODE")
    assert status == 403 and "<html" in page  # the portal answers: wrong code
    assert managed.port_is_free(port)

    old_token = entry.data[CONF_API_TOKEN]
    entry.async_start_reauth(hass)
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["step_id"] for f in flows] == ["reauth_managed"]
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    await wait_for(hass, lambda: entry.state is ConfigEntryState.LOADED)
    assert entry.data[CONF_API_TOKEN] != old_token
    assert entry.runtime_data.client.token == entry.data[CONF_API_TOKEN]
    assert (
        Path(hass.config.path("rental_wifi", "api_token")).read_text().strip()
        == entry.data[CONF_API_TOKEN]
    )
    await entry.runtime_data.coordinator.async_refresh()
    assert entry.runtime_data.coordinator.last_update_success
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_flow_reuses_an_existing_data_dir(
    hass: HomeAssistant, sim: Sim, config_dir: Path, dev_binary: str
) -> None:
    """Removed and added again: the same sidecar instance, units and token come back."""
    entry = await managed_flow(hass, sim, free_port())
    instance = entry.unique_id
    token = entry.data[CONF_API_TOKEN]
    await entry.runtime_data.client.create_unit({"unit_id": "cabin", "name": "Cabin"})
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert (config_dir / "rental_wifi" / "api_token").exists()

    again = await managed_flow(hass, sim, free_port())
    assert again.unique_id == instance
    assert again.data[CONF_API_TOKEN] == token
    await wait_for(
        hass, lambda: any(s.unique_id == "cabin" for s in again.subentries.values())
    )


async def test_setup_failure_after_start_stops_the_sidecar(
    hass: HomeAssistant, dev_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the first refresh fails after the process started, nothing is left running."""
    entry = _managed_entry(hass, free_port())
    started: list[managed.ManagedSidecar] = []
    original = managed.ManagedSidecar.async_start

    async def _start(self, **kwargs):  # noqa: ANN001, ANN003, ANN202
        started.append(self)
        await original(self, **kwargs)
        self.url = "http://127.0.0.1:9"  # nothing answers there

    monkeypatch.setattr(managed.ManagedSidecar, "async_start", _start)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert started and not started[0].running
    await asyncio.sleep(0)


_LINGERING_SIDECAR = """
import ctypes, os, signal, socket, sys, threading, time
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("0.0.0.0", int(sys.argv[-1])))
sock.listen()
stopping = threading.Event()
def linger():
    stopping.wait()
    time.sleep(1.5)
    sock.close()
    os._exit(0)
threading.Thread(target=linger).start()
def on_term(*_):
    stopping.set()
    ctypes.CDLL(None).pthread_exit(None)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while True:
    time.sleep(1)
"""


def test_an_orphan_is_stopped_only_when_its_last_thread_is(tmp_path: Path) -> None:
    """The cause of the orphan test's SETUP_RETRY under load: an exiting process loses its
    command line (its memory goes first) while another of its threads still holds the
    portal socket. Stopping it must wait for every thread, so the port is free after."""
    import sys

    port = free_port()
    data_dir = tmp_path / "rental_wifi"
    data_dir.mkdir()
    script = tmp_path / "lingering.py"
    script.write_text(_LINGERING_SIDECAR)
    # argv[0] names the sidecar binary: the process looks like ours in /proc.
    process = subprocess.Popen(  # noqa: S603
        [str(tmp_path / managed.BINARY_NAME), str(script), "serve", "--data-dir",
         str(data_dir), str(port)],
        executable=sys.executable,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        (data_dir / managed.PID_FILE).write_text(f"{process.pid}\n")
        assert not managed.port_is_free(port)
        assert managed.stop_orphan(data_dir)
        assert managed.port_is_free(port)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
