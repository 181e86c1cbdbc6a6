"""Repair issues from the sidecar's ``guest_checks``: weak short codes, refused addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from custom_components.rental_wifi.const import DOMAIN
from custom_components.rental_wifi.issues import (
    ISSUE_ADDRESS_MISMATCH,
    ISSUE_SHORT_CODES_WEAK,
)

from .conftest import Api, Sidecar, Sim, loaded_entry


def _issue(hass: HomeAssistant, kind: str, entry: MockConfigEntry, unit: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{kind}_{entry.entry_id}_{unit}")


def _ts(at: datetime) -> str:
    return at.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_short_codes_without_a_second_factor_raise_a_warning(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """A door code on a unit that asks for nothing else: a warning until the host acts."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    assert _issue(hass, ISSUE_SHORT_CODES_WEAK, entry, "beach-house") is None

    now = datetime.now(UTC)
    await api.request(
        "PUT",
        "/api/v1/units/beach-house/bookings/HM-1",
        {"start": _ts(now - timedelta(hours=1)), "end": _ts(now + timedelta(days=2)),
         "guest_name": "Ana Silva", "codes": ["4711"]},
    )
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    issue = _issue(hass, ISSUE_SHORT_CODES_WEAK, entry, "beach-house")
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING
    assert not issue.is_fixable
    assert issue.translation_key == ISSUE_SHORT_CODES_WEAK
    assert issue.translation_placeholders == {"unit": "Beach House", "count": "1"}
    assert issue.learn_more_url and "security.md" in issue.learn_more_url

    # The host requires the guest's last name with short codes: the warning goes.
    unit = await api.request(
        "PATCH", "/api/v1/units/beach-house", {"short_code_second_factor": "last_name"}
    )
    assert unit["short_code_second_factor"] == "last_name"
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _issue(hass, ISSUE_SHORT_CODES_WEAK, entry, "beach-house") is None
    state = entry.runtime_data.coordinator.data.units["beach-house"]
    assert state.unit.short_code_second_factor == "last_name"
    assert state.guest_checks.short_codes == 1
    assert not state.guest_checks.short_codes_weak

    # Back to none, then the entry is unloaded: the issue does not outlive it.
    await api.request(
        "PATCH", "/api/v1/units/beach-house", {"short_code_second_factor": "none"}
    )
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _issue(hass, ISSUE_SHORT_CODES_WEAK, entry, "beach-house") is not None
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert _issue(hass, ISSUE_SHORT_CODES_WEAK, entry, "beach-house") is None


async def test_a_refused_address_raises_an_error_until_address_translation_is_on(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http: aiohttp.ClientSession,
) -> None:
    """A guest whose address the portal sees differently: never a silent lock-out."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    params = {
        "clientMac": "AA-BB-CC-DD-EE-07",
        # What the controller saw; the portal sees 127.0.0.1 (as behind a NAT).
        "clientIp": "192.168.0.23",
        "apMac": "AA-BB-CC-00-00-01",
        "ssidName": "Guest",
        "radioId": "1",
        "site": "Default",
        "redirectUrl": "http://example.com/",
    }
    async with http.get(f"{sidecar.portal_url}/portal", params=params) as response:
        assert response.status == 403
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    issue = _issue(hass, ISSUE_ADDRESS_MISMATCH, entry, "beach-house")
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders == {"unit": "Beach House", "count": "1"}
    checks = entry.runtime_data.coordinator.data.units["beach-house"].guest_checks
    assert checks.address_mismatches == 1
    assert checks.last_address_mismatch_at is not None

    # The host says the network translates addresses: the guest gets the page, the issue goes.
    await api.request("PATCH", "/api/v1/units/beach-house", {"address_translation": True})
    async with http.get(f"{sidecar.portal_url}/portal", params=params) as response:
        assert response.status == 200
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert entry.runtime_data.coordinator.data.units["beach-house"].unit.address_translation
    assert _issue(hass, ISSUE_ADDRESS_MISMATCH, entry, "beach-house") is None
