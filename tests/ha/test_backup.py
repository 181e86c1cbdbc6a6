"""Backups of the managed sidecar through Home Assistant's own backup manager.

A backup is taken while guests keep redeeming on the portal; the archive Home Assistant
writes is unpacked as a restore would, and the restored database must pass
``integrity_check`` and hold every grant committed before the snapshot.
"""

from __future__ import annotations

import asyncio
from contextlib import closing
from pathlib import Path
import shutil
import sqlite3
import tarfile
import time

import pytest

from homeassistant.components.backup import DATA_MANAGER
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component

from custom_components.rental_wifi import backup, snapshot

from .conftest import SIDECAR_BIN, Sidecar, Sim, redeem, wait_for
from .managed_helpers import free_port, managed_flow, portal

pytestmark = pytest.mark.usefixtures("config_dir", "dev_binary", "unload_at_end")


def _mac(n: int) -> str:
    return f"02-00-00-00-{n // 256:02X}-{n % 256:02X}"


def _unpack(archive: Path, into: Path) -> Path:
    """Unpack a Home Assistant backup (outer tar, inner homeassistant.tar.gz) → config dir."""
    outer = into / "outer"
    with tarfile.open(archive) as tar:
        tar.extractall(outer, filter="data")
    with tarfile.open(outer / "homeassistant.tar.gz") as tar:
        tar.extractall(into / "restored", filter="data")
    return into / "restored" / "data"


async def test_backup_during_redemptions_restores_cleanly(
    hass: HomeAssistant,
    sim: Sim,
    config_dir: Path,
    tmp_path: Path,
    http,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Guests keep getting online during the backup; the restore has all they got before."""
    port = free_port()
    entry = await managed_flow(hass, sim, port)
    client = entry.runtime_data.client
    await client.create_unit(
        {"unit_id": "beach-house", "name": "Beach House", "ap_macs": ["AA-BB-CC-00-00-01"]}
    )
    voucher = await client.create_voucher(
        {"unit_id": "beach-house", "duration_minutes": 600, "max_devices": 0}
    )
    assert await async_setup_component(hass, "backup", {})
    await hass.async_block_till_done()
    manager = hass.data[DATA_MANAGER]

    snapshot_started: list[float] = []
    take = snapshot.take

    def _take(data_dir: Path) -> Path | None:
        snapshot_started.append(time.monotonic())
        return take(data_dir)

    monkeypatch.setattr(snapshot, "take", _take)

    done: list[tuple[str, float]] = []
    failures: list[str] = []
    latencies: list[float] = []
    stop = asyncio.Event()

    async def guests() -> None:
        n = 0
        while not stop.is_set():
            mac = _mac(n)
            started = time.monotonic()
            status, page = await redeem(http, portal(port), voucher.code, client_mac=mac)
            latencies.append(time.monotonic() - started)
            if status == 200 and 'data-result="success"' in page:
                done.append((mac, time.monotonic()))
            else:
                failures.append(f"{mac}: {status}")
            n += 1

    task = asyncio.create_task(guests())
    await wait_for(hass, lambda: len(done) >= 20, timeout=60)
    before_backup = len(done)
    await manager.async_create_backup(
        agent_ids=["backup.local"],
        include_addons=None,
        include_all_addons=False,
        include_database=False,
        include_folders=None,
        include_homeassistant=True,
        name="during redemptions",
        password=None,
    )
    after_backup = len(done)
    await wait_for(hass, lambda: len(done) >= after_backup + 5, timeout=60)
    stop.set()
    await task
    print(  # noqa: T201 - the numbers, for the report
        f"redemptions: {len(done)} ok, {len(failures)} failed, "
        f"{after_backup - before_backup} during the backup, "
        f"latency max {max(latencies) * 1000:.0f} ms"
    )
    assert failures == []
    assert len(snapshot_started) == 1
    committed_before = {mac for mac, at in done if at < snapshot_started[0]}
    assert len(committed_before) >= 20

    # The live data dir: the snapshot was removed after the backup; the marker is there.
    data_dir = config_dir / "rental_wifi"
    assert not snapshot.snapshot_path(data_dir).exists()
    assert (config_dir / snapshot.MARKER_NAME).exists()

    # The archive Home Assistant wrote: the snapshot is in it, the marker (*.log) is not.
    archives = sorted(Path(hass.config.path("backups")).glob("*.tar"))
    assert len(archives) == 1
    restored = _unpack(archives[0], tmp_path)
    assert snapshot.snapshot_path(restored / "rental_wifi").exists()
    assert not (restored / snapshot.MARKER_NAME).exists()

    # Restore: the snapshot replaces the copied live database.
    restored_dir = restored / "rental_wifi"
    assert snapshot.restore_if_needed(restored_dir, restored / snapshot.MARKER_NAME)
    assert not snapshot.snapshot_path(restored_dir).exists()
    assert (restored_dir / snapshot.BEFORE_RESTORE_DIR / snapshot.DB_FILE).exists()
    with closing(sqlite3.connect(restored_dir / snapshot.DB_FILE)) as db, db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    # The sidecar on the restored data: every grant committed before the snapshot.
    restored_side = Sidecar(data_dir=restored_dir, log_path=tmp_path / "restored.log")
    try:
        await hass.async_add_executor_job(restored_side.start)
        async with http.get(
            f"{restored_side.url}/api/v1/grants?unit_id=beach-house",
            headers={"Authorization": f"Bearer {entry.data['api_token']}"},
        ) as response:
            assert response.status == 200
            grants = (await response.json())["grants"]
    finally:
        await hass.async_add_executor_job(restored_side.close)
    restored_macs = {grant["client_mac"] for grant in grants}
    assert committed_before <= restored_macs
    assert SIDECAR_BIN


async def test_interrupted_backup_keeps_the_live_database(tmp_path: Path) -> None:
    """A snapshot left by a backup that never finished is dropped while the marker says
    this is the machine that kept running; without the marker (a restore) it is used."""
    data_dir = tmp_path / "rental_wifi"
    data_dir.mkdir()
    marker = tmp_path / snapshot.MARKER_NAME
    with closing(sqlite3.connect(data_dir / snapshot.DB_FILE)) as db, db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES ('old')")
    assert snapshot.take(data_dir) is not None
    with closing(sqlite3.connect(data_dir / snapshot.DB_FILE)) as db, db:
        db.execute("INSERT INTO t VALUES ('new')")

    marker.write_text("")
    assert not snapshot.restore_if_needed(data_dir, marker)
    assert not snapshot.snapshot_path(data_dir).exists()
    with closing(sqlite3.connect(data_dir / snapshot.DB_FILE)) as db, db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (2,)
    assert "stale backup snapshot" in marker.read_text()

    # Without a database there is nothing to copy.
    assert snapshot.take(tmp_path / "empty") is None

    # The marker file stays small.
    marker.write_text("x\n" * (snapshot.MARKER_MAX_BYTES // 2 + 10))
    snapshot.note(marker, "starting")
    assert marker.stat().st_size < snapshot.MARKER_MAX_BYTES
    assert marker.read_text().endswith("starting\n")


async def test_backup_hooks_without_a_managed_entry_and_on_failure(
    hass: HomeAssistant, sim: Sim, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No managed sidecar: the hooks do nothing. A copy that fails fails the backup."""
    await backup.async_pre_backup(hass)
    await backup.async_post_backup(hass)
    assert not (config_dir / "rental_wifi").exists()

    await managed_flow(hass, sim, free_port())

    def _broken(data_dir: Path) -> None:
        raise snapshot.SnapshotError("the copy failed its check")

    monkeypatch.setattr(snapshot, "take", _broken)
    with pytest.raises(HomeAssistantError) as err:
        await backup.async_pre_backup(hass)
    assert err.value.translation_key == "snapshot_failed"
    shutil.rmtree(config_dir / "rental_wifi" / "backup", ignore_errors=True)
