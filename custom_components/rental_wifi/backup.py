"""Backup platform: every Home Assistant backup carries a consistent copy of the database.

Only the managed sidecar's data lives in the config dir; a sidecar on another host is
backed up there (docs/home-assistant.md, "Backups"). See ``snapshot.py`` for how the copy is
made and how a restore is told apart from a crash.
"""

from __future__ import annotations

import sqlite3

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from . import snapshot
from .const import DOMAIN, LOGGER
from .helpers import managed_entries
from .managed import data_dir_for


async def async_pre_backup(hass: HomeAssistant) -> None:
    """Copy the managed sidecar's database into the data dir (guests keep getting online)."""
    if not managed_entries(hass):
        return
    data_dir = data_dir_for(hass)
    try:
        path = await hass.async_add_executor_job(snapshot.take, data_dir)
    except (OSError, sqlite3.Error, snapshot.SnapshotError) as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="snapshot_failed",
            translation_placeholders={"error": str(err)},
        ) from err
    LOGGER.debug("Database snapshot for the backup: %s", path)


async def async_post_backup(hass: HomeAssistant) -> None:
    """The backup is written: drop the snapshot."""
    if not managed_entries(hass):
        return
    await hass.async_add_executor_job(snapshot.remove, data_dir_for(hass))
