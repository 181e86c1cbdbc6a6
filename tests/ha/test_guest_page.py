"""A unit's guest page from Home Assistant (issue 17), against the real sidecar.

The welcome, terms and branding fields through ``rental_wifi.set_guest_page`` (the client's
PATCH), the logo through ``rental_wifi.set_unit_logo`` (a file under the config folder), and
the guests' terms consents through ``rental_wifi.list_consents``.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import aiohttp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from custom_components.rental_wifi.const import DOMAIN

from .conftest import Api, Sidecar, Sim, loaded_entry, redeem


def _png(width: int, height: int) -> bytes:
    """A small grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def _call(hass: HomeAssistant, service: str, data: dict, response: bool = True):
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response
    )


async def test_set_guest_page(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """The fields reach the sidecar; its refusals come back named; a blank value clears."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    page = await _call(
        hass,
        "set_guest_page",
        {
            "unit_id": "beach-house",
            "welcome_title": "Welcome!",
            "welcome_text": "Towels are in the **hall cupboard**.",
            "checkout_time": "10:30",
            "host_contact": "Anna, +49 170 1234567",
            "accent_color": "#0A58A8",
            "terms_text": "No parties.",
        },
    )
    assert page["welcome_title"] == "Welcome!"
    assert page["checkout_time"] == "10:30"
    assert page["accent_color"] == "#0a58a8"
    assert len(page["terms_sha256"]) == 64
    unit = await entry.runtime_data.client.get_unit("beach-house")
    assert unit.welcome_text == "Towels are in the **hall cupboard**."
    assert unit.host_contact == "Anna, +49 170 1234567"
    assert unit.terms_text == "No parties."
    assert unit.terms_sha256 == page["terms_sha256"]

    # The sidecar's rules, in its words; nothing changes.
    for data, words in (
        ({"accent_color": "#ffff00"}, "contrast"),
        ({"welcome_text": "<b>hi</b>"}, "HTML"),
        ({"checkout_time": "25:00"}, "HH:MM"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await _call(hass, "set_guest_page", {"unit_id": "beach-house", **data})
        assert err.value.translation_key == "sidecar_rejected"
        assert words in err.value.translation_placeholders["message"]
    assert await entry.runtime_data.client.get_unit("beach-house") == unit

    # At least one field, and a unit.
    with pytest.raises(Exception):
        await _call(hass, "set_guest_page", {"unit_id": "beach-house"})
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "set_guest_page", {"welcome_title": "x"})
    assert err.value.translation_key == "unit_required"

    cleared = await _call(
        hass, "set_guest_page", {"unit_id": "beach-house", "terms_text": ""}
    )
    assert cleared["terms_text"] is None
    assert cleared["terms_sha256"] is None
    assert cleared["welcome_title"] == "Welcome!"


async def test_set_unit_logo(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http: aiohttp.ClientSession,
) -> None:
    """A file under the config folder is uploaded and served by the portal; bad paths and
    files are refused and change nothing; no path removes it."""
    await loaded_entry(hass, config_entry, api, sim)
    www = Path(hass.config.config_dir) / "www"
    www.mkdir(exist_ok=True)
    # Home Assistant allows <config>/www by default (core config); the test core does not
    # process that default, so it is added here as a real set-up has it.
    hass.config.allowlist_external_dirs.add(str(www.resolve()))
    logo = www / "rental-wifi-test-logo.png"
    logo.write_bytes(_png(40, 20))
    gif = www / "rental-wifi-test-logo.gif"
    gif.write_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    huge = www / "rental-wifi-test-huge.png"
    huge.write_bytes(b"\x00" * (1024 * 1024 + 1))
    try:
        done = await _call(
            hass,
            "set_unit_logo",
            {"unit_id": "beach-house", "path": "www/rental-wifi-test-logo.png"},
        )
        sha = done["logo_sha256"]
        assert len(sha) == 64
        assert done["logo_url"] == f"/portal/logo/{sha}"
        async with http.get(f"{sidecar.portal_url}{done['logo_url']}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert await response.read() == logo.read_bytes()

        for path, key in (
            ("/etc/hostname", "logo_path_not_allowed"),
            ("../outside.png", "logo_path_not_allowed"),
            ("www/missing.png", "logo_not_found"),
            ("www/rental-wifi-test-logo.gif", "sidecar_rejected"),
            # Not even read whole: far over any logo.
            ("www/rental-wifi-test-huge.png", "logo_too_large"),
        ):
            with pytest.raises(ServiceValidationError) as err:
                await _call(hass, "set_unit_logo", {"unit_id": "beach-house", "path": path})
            assert err.value.translation_key == key, path
            if key == "sidecar_rejected":
                assert "PNG, JPEG or WebP" in err.value.translation_placeholders["message"]
        unit = await api.request("GET", "/api/v1/units/beach-house")
        assert unit["logo_sha256"] == sha, "a refused file changes nothing"

        removed = await _call(hass, "set_unit_logo", {"unit_id": "beach-house"})
        assert removed["logo_sha256"] is None
        async with http.get(f"{sidecar.portal_url}/portal/logo/{sha}") as response:
            assert response.status == 404
    finally:
        logo.unlink(missing_ok=True)
        gif.unlink(missing_ok=True)
        huge.unlink(missing_ok=True)


async def test_list_consents(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http: aiohttp.ClientSession,
) -> None:
    """A guest who accepts the unit's terms shows up with the terms' hash and the MAC."""
    await loaded_entry(hass, config_entry, api, sim)
    page = await _call(
        hass, "set_guest_page", {"unit_id": "beach-house", "terms_text": "No parties."}
    )
    voucher = await _call(
        hass, "create_voucher", {"unit_id": "beach-house", "duration_minutes": 60}
    )
    status, body = await redeem(http, sidecar, voucher["code"], client_mac="AA-BB-CC-DD-EE-17")
    assert status == 200, body
    assert 'data-result="success"' in body
    listed = await _call(hass, "list_consents", {"unit_id": "beach-house"})
    assert listed["unit_id"] == "beach-house"
    [consent] = listed["consents"]
    assert consent["client_mac"] == "AA-BB-CC-DD-EE-17"
    assert consent["terms_sha256"] == page["terms_sha256"]
    assert consent["code"] == voucher["code"]
    later = await _call(
        hass, "list_consents", {"unit_id": "beach-house", "since": "2999-01-01T00:00:00Z"}
    )
    assert later["consents"] == []
