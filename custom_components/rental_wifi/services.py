"""Actions: issue, revoke, extend and list vouchers; revoke a unit's access; let a device in;
a unit's guest page (welcome, terms, branding, logo) and its guests' terms consents; a unit's
network (the seed bot's commands); a print sheet of a unit's booking cards."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime
import os
from pathlib import Path
import re
from typing import Any, cast

import voluptuous as vol

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util

from .api import (
    RentalWifiApiError,
    RentalWifiAuthError,
    RentalWifiConnectionError,
)
from .const import (
    ATTR_CODE,
    ATTR_DEVICE_ID,
    ATTR_STATUS,
    ATTR_UNIT_ID,
    DEVICE_POLICIES,
    DOMAIN,
    VOUCHER_STATUSES,
)
from .coordinator import RentalWifiConfigEntry
from .managed import DATA_DIR_NAME

SERVICE_CREATE_VOUCHER = "create_voucher"
SERVICE_REVOKE_VOUCHER = "revoke_voucher"
SERVICE_EXTEND_VOUCHER = "extend_voucher"
SERVICE_REVOKE_UNIT_ACCESS = "revoke_unit_access"
SERVICE_LIST_VOUCHERS = "list_vouchers"
SERVICE_AUTHORIZE_DEVICE = "authorize_device"
SERVICE_SET_GUEST_PAGE = "set_guest_page"
SERVICE_SET_UNIT_LOGO = "set_unit_logo"
SERVICE_LIST_CONSENTS = "list_consents"

ATTR_VALID_FROM = "valid_from"
ATTR_VALID_UNTIL = "valid_until"
ATTR_DURATION_MINUTES = "duration_minutes"
ATTR_MAX_DEVICES = "max_devices"
ATTR_GUEST_NAME = "guest_name"
ATTR_BOOKING_REF = "booking_ref"
ATTR_DOWN_KBPS = "down_kbps"
ATTR_UP_KBPS = "up_kbps"
ATTR_NOTE = "note"
ATTR_DEVICE_POLICY = "device_policy"
ATTR_MAC = "mac"
ATTR_NAME = "name"
ATTR_PATH = "path"
ATTR_SINCE = "since"
# The unit's guest page (issue 17), as the sidecar names the fields.
GUEST_PAGE_FIELDS = (
    "welcome_title",
    "welcome_text",
    "checkout_time",
    "host_contact",
    "accent_color",
    "terms_text",
)
# Read at most this much of a logo file: the sidecar's own limit (256 KiB) is well below,
# so its answer names the real limit; this only bounds what is read into memory.
LOGO_READ_LIMIT = 1024 * 1024

_TARGET = {
    vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
    vol.Optional(ATTR_UNIT_ID): cv.string,
    vol.Optional(ATTR_DEVICE_ID): cv.string,
}
_ENTRY = {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}

# Shapes only: every rule (ranges, windows, limits) is the sidecar's, whose message
# comes back to the user as a ServiceValidationError.
CREATE_VOUCHER_SCHEMA = vol.Schema(
    {
        **_TARGET,
        vol.Optional(ATTR_VALID_FROM): cv.datetime,
        vol.Optional(ATTR_VALID_UNTIL): cv.datetime,
        vol.Optional(ATTR_DURATION_MINUTES): vol.Coerce(int),
        vol.Optional(ATTR_MAX_DEVICES): vol.Coerce(int),
        vol.Optional(ATTR_GUEST_NAME): cv.string,
        vol.Optional(ATTR_BOOKING_REF): cv.string,
        vol.Optional(ATTR_DOWN_KBPS): vol.Coerce(int),
        vol.Optional(ATTR_UP_KBPS): vol.Coerce(int),
        vol.Optional(ATTR_NOTE): cv.string,
        vol.Optional(ATTR_CODE): cv.string,
        vol.Optional(ATTR_DEVICE_POLICY): vol.In(DEVICE_POLICIES),
    }
)
REVOKE_VOUCHER_SCHEMA = vol.Schema({**_ENTRY, vol.Required(ATTR_CODE): cv.string})
EXTEND_VOUCHER_SCHEMA = vol.All(
    vol.Schema(
        {
            **_ENTRY,
            vol.Required(ATTR_CODE): cv.string,
            vol.Optional(ATTR_VALID_UNTIL): cv.datetime,
            vol.Optional(ATTR_DURATION_MINUTES): vol.Coerce(int),
            vol.Optional(ATTR_MAX_DEVICES): vol.Coerce(int),
        }
    ),
    cv.has_at_least_one_key(ATTR_VALID_UNTIL, ATTR_DURATION_MINUTES, ATTR_MAX_DEVICES),
)
REVOKE_UNIT_ACCESS_SCHEMA = vol.Schema(_TARGET)
AUTHORIZE_DEVICE_SCHEMA = vol.Schema(
    {
        **_TARGET,
        vol.Required(ATTR_MAC): cv.string,
        vol.Optional(ATTR_NAME): cv.string,
        vol.Optional(ATTR_CODE): cv.string,
    }
)
SET_GUEST_PAGE_SCHEMA = vol.All(
    vol.Schema(
        {
            **_TARGET,
            # A blank value clears the field on the sidecar.
            **{vol.Optional(key): vol.Any(None, cv.string) for key in GUEST_PAGE_FIELDS},
        }
    ),
    cv.has_at_least_one_key(*GUEST_PAGE_FIELDS),
)
SET_UNIT_LOGO_SCHEMA = vol.Schema(
    {**_TARGET, vol.Optional(ATTR_PATH): vol.Any(None, cv.string)}
)
LIST_CONSENTS_SCHEMA = vol.Schema({**_TARGET, vol.Optional(ATTR_SINCE): cv.datetime})
LIST_VOUCHERS_SCHEMA = vol.Schema(
    {**_TARGET, vol.Optional(ATTR_STATUS): vol.In(VOUCHER_STATUSES)}
)


def _rfc3339(value: datetime) -> str:
    """A UTC RFC 3339 timestamp (a naive time is Home Assistant's local time)."""
    return dt_util.as_utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _loaded_entries(hass: HomeAssistant) -> list[RentalWifiConfigEntry]:
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
    ]


def _resolve(
    call: ServiceCall, *, unit_required: bool
) -> tuple[RentalWifiConfigEntry, str | None]:
    """Find the config entry and the unit an action is about."""
    hass = call.hass
    entry_id: str | None = call.data.get(ATTR_CONFIG_ENTRY_ID)
    unit_id: str | None = call.data.get(ATTR_UNIT_ID)
    device_id: str | None = call.data.get(ATTR_DEVICE_ID)
    if unit_id and device_id:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="unit_and_device"
        )

    device: dr.DeviceEntry | None = None
    if device_id:
        device = dr.async_get(hass).async_get(device_id)
        if device is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="not_a_unit_device",
                translation_placeholders={"device_id": device_id},
            )

    if entry_id:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="entry_not_found",
                translation_placeholders={"config_entry_id": entry_id},
            )
        if entry.state is not ConfigEntryState.LOADED:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="entry_not_loaded",
                translation_placeholders={"title": entry.title},
            )
    else:
        candidates = _loaded_entries(hass)
        if device is not None:
            candidates = [e for e in candidates if e.entry_id in device.config_entries]
        if not candidates:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=(
                    "not_a_unit_device" if device is not None else "no_loaded_entry"
                ),
                translation_placeholders={"device_id": device_id or ""},
            )
        if len(candidates) > 1:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="entry_required"
            )
        entry = candidates[0]

    if device is not None:
        prefix = f"{entry.unique_id}_"
        unit_id = next(
            (
                identifier.removeprefix(prefix)
                for domain, identifier in device.identifiers
                if domain == DOMAIN and identifier.startswith(prefix)
            ),
            None,
        )
        if unit_id is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="not_a_unit_device",
                translation_placeholders={"device_id": device.id},
            )
    if unit_required and not unit_id:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="unit_required"
        )
    return cast(RentalWifiConfigEntry, entry), unit_id


async def _call[_T](entry: RentalWifiConfigEntry, request: Awaitable[_T]) -> _T:
    """Await a client call; turn its errors into Home Assistant's."""
    try:
        return await request
    except RentalWifiAuthError as err:
        entry.async_start_reauth(entry.runtime_data.coordinator.hass)
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="auth_failed"
        ) from err
    except RentalWifiApiError as err:
        if err.status < 500:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="sidecar_rejected",
                translation_placeholders={"message": err.message},
            ) from err
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="sidecar_error",
            translation_placeholders={"message": err.message},
        ) from err
    except RentalWifiConnectionError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err


async def _async_create_voucher(call: ServiceCall) -> ServiceResponse:
    entry, unit_id = _resolve(call, unit_required=True)
    body: dict[str, Any] = {"unit_id": unit_id}
    for key in (
        ATTR_DURATION_MINUTES,
        ATTR_MAX_DEVICES,
        ATTR_GUEST_NAME,
        ATTR_BOOKING_REF,
        ATTR_DOWN_KBPS,
        ATTR_UP_KBPS,
        ATTR_NOTE,
        ATTR_CODE,
        ATTR_DEVICE_POLICY,
    ):
        if key in call.data:
            body[key] = call.data[key]
    for key in (ATTR_VALID_FROM, ATTR_VALID_UNTIL):
        if key in call.data:
            body[key] = _rfc3339(call.data[key])
    voucher = await _call(entry, entry.runtime_data.client.create_voucher(body))
    await entry.runtime_data.coordinator.async_request_refresh()
    return voucher.raw


async def _async_revoke_voucher(call: ServiceCall) -> None:
    entry, _ = _resolve(call, unit_required=False)
    await _call(entry, entry.runtime_data.client.revoke_voucher(call.data[ATTR_CODE]))
    await entry.runtime_data.coordinator.async_request_refresh()


async def _async_extend_voucher(call: ServiceCall) -> ServiceResponse:
    entry, _ = _resolve(call, unit_required=False)
    changes: dict[str, Any] = {
        key: call.data[key]
        for key in (ATTR_DURATION_MINUTES, ATTR_MAX_DEVICES)
        if key in call.data
    }
    if ATTR_VALID_UNTIL in call.data:
        changes[ATTR_VALID_UNTIL] = _rfc3339(call.data[ATTR_VALID_UNTIL])
    voucher = await _call(
        entry,
        entry.runtime_data.client.update_voucher(call.data[ATTR_CODE], changes),
    )
    await entry.runtime_data.coordinator.async_request_refresh()
    return voucher.raw


async def _async_revoke_unit_access(call: ServiceCall) -> ServiceResponse:
    entry, unit_id = _resolve(call, unit_required=True)
    result = await _call(entry, entry.runtime_data.client.revoke_unit(cast(str, unit_id)))
    await entry.runtime_data.coordinator.async_request_refresh()
    return result


async def _async_authorize_device(call: ServiceCall) -> ServiceResponse:
    """Let a device without a browser in by its MAC: on a voucher, or the unit's stay."""
    code = call.data.get(ATTR_CODE)
    if code is None and not (call.data.get(ATTR_UNIT_ID) or call.data.get(ATTR_DEVICE_ID)):
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="code_or_unit"
        )
    entry, unit_id = _resolve(call, unit_required=False)
    if code is not None and unit_id is not None:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="code_and_unit"
        )
    grant = await _call(
        entry,
        entry.runtime_data.client.authorize_device(
            call.data[ATTR_MAC],
            code=code,
            unit_id=unit_id,
            name=call.data.get(ATTR_NAME),
        ),
    )
    await entry.runtime_data.coordinator.async_request_refresh()
    return grant


async def _async_list_vouchers(call: ServiceCall) -> ServiceResponse:
    entry, unit_id = _resolve(call, unit_required=False)
    vouchers = await _call(
        entry,
        entry.runtime_data.client.list_vouchers(
            unit_id=unit_id, status=call.data.get(ATTR_STATUS)
        ),
    )
    return {"vouchers": [voucher.raw for voucher in vouchers]}


async def _async_set_guest_page(call: ServiceCall) -> ServiceResponse:
    entry, unit_id = _resolve(call, unit_required=True)
    assert unit_id is not None
    changes = {
        key: (call.data[key] or None) for key in GUEST_PAGE_FIELDS if key in call.data
    }
    unit = await _call(entry, entry.runtime_data.client.update_unit(unit_id, changes))
    await entry.runtime_data.coordinator.async_request_refresh()
    return {key: unit.raw.get(key) for key in (*GUEST_PAGE_FIELDS, "terms_sha256")}


def _read_logo(hass: HomeAssistant, raw: str) -> bytes:
    """The logo file at ``raw`` (relative to, or inside, the config dir)."""
    config = Path(hass.config.config_dir).resolve()
    path = Path(raw)
    if not path.is_absolute():
        path = config / path
    path = path.resolve()
    if not path.is_relative_to(config) or not hass.config.is_allowed_path(str(path)):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="logo_path_not_allowed",
            translation_placeholders={"path": raw},
        )
    if not path.is_file():
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="logo_not_found",
            translation_placeholders={"path": raw},
        )
    with path.open("rb") as file:
        data = file.read(LOGO_READ_LIMIT + 1)
    if len(data) > LOGO_READ_LIMIT:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="logo_too_large",
            translation_placeholders={"path": raw},
        )
    return data


async def _async_set_unit_logo(call: ServiceCall) -> ServiceResponse:
    entry, unit_id = _resolve(call, unit_required=True)
    assert unit_id is not None
    client = entry.runtime_data.client
    raw = call.data.get(ATTR_PATH)
    if raw:
        image = await call.hass.async_add_executor_job(_read_logo, call.hass, raw)
        unit = await _call(entry, client.set_unit_logo(unit_id, image))
    else:
        unit = await _call(entry, client.delete_unit_logo(unit_id))
    await entry.runtime_data.coordinator.async_request_refresh()
    return {"unit_id": unit_id, "logo_sha256": unit.logo_sha256, "logo_url": unit.logo_url}


async def _async_list_consents(call: ServiceCall) -> ServiceResponse:
    entry, unit_id = _resolve(call, unit_required=True)
    assert unit_id is not None
    since = call.data.get(ATTR_SINCE)
    consents = await _call(
        entry,
        entry.runtime_data.client.list_consents(
            unit_id, since=_rfc3339(since) if since else None
        ),
    )
    return {"unit_id": unit_id, "consents": consents}


# --- a unit's network, card sheets ----------------------------------------------------

SERVICE_GET_NETWORK = "get_network"
SERVICE_CREATE_CARD_SHEET = "create_card_sheet"

ATTR_START_DATE = "start_date"
ATTR_END_DATE = "end_date"
ATTR_PAPER = "paper"
ATTR_FILENAME = "filename"
PAPERS = ["a4", "letter"]
CARDS_DIR = "cards"
"""Sheets go to ``<config>/rental_wifi/cards/`` (beside a managed sidecar's data)."""
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\.pdf$", re.IGNORECASE)

GET_NETWORK_SCHEMA = vol.Schema(_TARGET)
CREATE_CARD_SHEET_SCHEMA = vol.Schema(
    {
        **_TARGET,
        vol.Optional(ATTR_START_DATE): cv.date,
        vol.Optional(ATTR_END_DATE): cv.date,
        vol.Optional(ATTR_PAPER, default="a4"): vol.In(PAPERS),
        vol.Optional(ATTR_FILENAME): cv.string,
    }
)


async def _async_get_network(call: ServiceCall) -> ServiceResponse:
    """The unit's pods, devices, Wi-Fi networks, service level and status with reasons."""
    entry, unit_id = _resolve(call, unit_required=True)
    return await _call(entry, entry.runtime_data.client.get_network(cast(str, unit_id)))


def _write_sheet(config_dir: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``<config>/rental_wifi/cards/<name>`` (0600, atomically).

    Raises ``ValueError`` when the place resolves outside the config dir (a symlink).
    """
    config = config_dir.resolve()
    folder = config_dir / DATA_DIR_NAME / CARDS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = (folder / name).resolve()
    if not target.is_relative_to(config) or target.parent != folder.resolve():
        raise ValueError(str(target))
    tmp = target.with_name(f".{target.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


async def _async_create_card_sheet(call: ServiceCall) -> ServiceResponse:
    """Write the print sheet of the unit's upcoming bookings; return where it is."""
    entry, unit_id = _resolve(call, unit_required=True)
    unit_id = cast(str, unit_id)
    start: date = call.data.get(ATTR_START_DATE) or dt_util.now().date()
    end: date | None = call.data.get(ATTR_END_DATE)
    paper: str = call.data[ATTR_PAPER]
    name = call.data.get(ATTR_FILENAME) or "-".join(
        part
        for part in (
            f"cards-{unit_id}",
            start.isoformat(),
            end.isoformat() if end else "",
            "letter" if paper == "letter" else "",
        )
        if part
    )
    if not name.lower().endswith(".pdf"):
        name = f"{name}.pdf"
    if not _FILENAME.fullmatch(name):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_card_filename",
            translation_placeholders={"filename": name},
        )
    pdf, cards = await _call(
        entry,
        entry.runtime_data.client.card_sheet(
            unit_id,
            start=start.isoformat(),
            end=end.isoformat() if end else "",
            paper=paper,
        ),
    )
    hass = call.hass
    try:
        path = await hass.async_add_executor_job(
            _write_sheet, Path(hass.config.config_dir), name, pdf
        )
    except ValueError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="card_path_outside",
            translation_placeholders={"path": str(err)},
        ) from err
    except OSError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="card_write_failed",
            translation_placeholders={"error": str(err)},
        ) from err
    return {
        "path": str(path),
        "unit_id": unit_id,
        "cards": cards,
        "paper": paper,
        "size": len(pdf),
    }


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_CREATE_VOUCHER,
        _async_create_voucher,
        schema=CREATE_VOUCHER_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_REVOKE_VOUCHER,
        _async_revoke_voucher,
        schema=REVOKE_VOUCHER_SCHEMA,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_EXTEND_VOUCHER,
        _async_extend_voucher,
        schema=EXTEND_VOUCHER_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_REVOKE_UNIT_ACCESS,
        _async_revoke_unit_access,
        schema=REVOKE_UNIT_ACCESS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_AUTHORIZE_DEVICE,
        _async_authorize_device,
        schema=AUTHORIZE_DEVICE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_LIST_VOUCHERS,
        _async_list_vouchers,
        schema=LIST_VOUCHERS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_SET_GUEST_PAGE,
        _async_set_guest_page,
        schema=SET_GUEST_PAGE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_SET_UNIT_LOGO,
        _async_set_unit_logo,
        schema=SET_UNIT_LOGO_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_LIST_CONSENTS,
        _async_list_consents,
        schema=LIST_CONSENTS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_NETWORK,
        _async_get_network,
        schema=GET_NETWORK_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_CREATE_CARD_SHEET,
        _async_create_card_sheet,
        schema=CREATE_CARD_SHEET_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
