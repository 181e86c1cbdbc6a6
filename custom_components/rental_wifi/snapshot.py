"""A consistent copy of the managed sidecar's database for Home Assistant's backups.

A backup copies the config dir file by file while the sidecar keeps writing: the database
file and its write-ahead log may be copied at different moments, and such a pair can be
inconsistent in ways ``integrity_check`` does not even see (rows from two points in time).
So, before each backup, :func:`take` copies the database with SQLite's online backup API
into ``<data dir>/backup/rental-wifi.sqlite3``, one read transaction that the sidecar's
writers do not wait for (WAL mode): guests keep getting online during a backup. After the
backup :func:`remove` deletes it. The copy is made here, from Python, because the sidecar
has no API route for it (the API belongs to another part of the project this round), and
because SQLite's online backup is safe across processes.

Telling a restore from a crash. At start, :func:`restore_if_needed` finds a snapshot either
because a backup was restored (then it must replace the torn live copy) or because Home
Assistant stopped between the two backup hooks (then the live database is newer and right).
The difference is the marker file ``<config>/rental_wifi_sidecar.log``: backups leave out
``*.log`` files at the top of the config dir (Home Assistant's ``EXCLUDE_FROM_BACKUP`` and
the Supervisor's ``HOMEASSISTANT_BACKUP_EXCLUDE``) and a restore empties the config dir, so
after a restore it is missing; on the machine that kept running it is there. It is also the
managed sidecar's start/stop history, one line each.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
import os
from pathlib import Path
import shutil
import sqlite3

DB_FILE = "rental-wifi.sqlite3"  # sidecar/src/app.rs: DB_FILE
SNAPSHOT_DIR = "backup"
MARKER_NAME = "rental_wifi_sidecar.log"
BEFORE_RESTORE_DIR = "before-restore"
MARKER_MAX_BYTES = 256 * 1024


class SnapshotError(Exception):
    """The snapshot could not be made or checked."""


def snapshot_path(data_dir: Path) -> Path:
    """Where the snapshot for a backup lives."""
    return data_dir / SNAPSHOT_DIR / DB_FILE


def take(data_dir: Path) -> Path | None:
    """Copy the live database consistently into the snapshot path; None without a database.

    One ``sqlite3_backup_step(-1)``: a single read transaction (writers go on in WAL mode),
    so the copy is one point in time. The copy is switched to a rollback journal so that it
    is one self-contained file, checked with ``quick_check``, synced, then renamed into place.
    """
    source = data_dir / DB_FILE
    if not source.exists():
        return None
    target = snapshot_path(data_dir)
    target.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = target.with_name(f".{DB_FILE}.tmp")
    tmp.unlink(missing_ok=True)
    # Read-write only so that SQLite may use the live -shm index; nothing is written.
    src = sqlite3.connect(source, timeout=10)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            (result,) = dst.execute("PRAGMA quick_check").fetchone()
            if result != "ok":
                raise SnapshotError(f"the copy failed its check: {result}")
        finally:
            dst.close()
    finally:
        src.close()
    os.chmod(tmp, 0o600)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    _fsync_dir(target.parent)
    return target


def remove(data_dir: Path) -> None:
    """The backup is written: the snapshot is not needed any more."""
    snapshot_path(data_dir).unlink(missing_ok=True)


def restore_if_needed(data_dir: Path, marker: Path) -> bool:
    """Before the sidecar starts: put a restored snapshot in place of the torn live copy.

    Returns True when it restored. The replaced files are kept in ``before-restore/``.
    """
    snap = snapshot_path(data_dir)
    restored = False
    if snap.exists():
        if marker.exists():
            # Home Assistant stopped between the two backup hooks: the live database is
            # newer than the snapshot and was never copied.
            note(marker, "stale backup snapshot removed (the live database is newer)")
            snap.unlink()
        else:
            aside = data_dir / BEFORE_RESTORE_DIR
            shutil.rmtree(aside, ignore_errors=True)
            aside.mkdir(mode=0o700)
            for suffix in ("", "-wal", "-shm", "-journal"):
                live = data_dir / f"{DB_FILE}{suffix}"
                if live.exists():
                    os.replace(live, aside / live.name)
            os.replace(snap, data_dir / DB_FILE)
            _fsync_dir(data_dir)
            restored = True
    note(
        marker,
        "database restored from the backup's snapshot" if restored else "starting",
    )
    return restored


def note(marker: Path, what: str) -> None:
    """Append one line to the marker file (kept under MARKER_MAX_BYTES)."""
    with contextlib.suppress(OSError):
        if marker.exists() and marker.stat().st_size > MARKER_MAX_BYTES:
            lines = marker.read_text(encoding="utf-8", errors="replace").splitlines()
            marker.write_text("\n".join(lines[len(lines) // 2 :]) + "\n", encoding="utf-8")
        with open(marker, "a", encoding="utf-8") as handle:
            handle.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {what}\n")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
