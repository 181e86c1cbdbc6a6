"""Repair issues the sidecar's state calls for: what the host should change on a unit.

The sidecar decides every condition (``guest_checks`` in ``GET /api/v1/state``); this module
only turns its flags into Home Assistant repair issues and takes them away again:

* ``short_codes_weak``: the unit has live short codes (door codes, short booking codes) and
  requires no second factor with them — a guess has a small space to walk.
* ``address_mismatch``: guests were refused in the last 24 hours because the address the
  portal saw was not the one the controller reported — the guest network probably
  translates addresses on the way to the portal, and the unit needs ``address_translation``.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .models import State

ISSUE_SHORT_CODES_WEAK = "short_codes_weak"
ISSUE_ADDRESS_MISMATCH = "address_mismatch"
LEARN_MORE_SECURITY = (
    "https://github.com/rental-wifi/rental-wifi/blob/main/docs/security.md"
    "#3-short-codes-a-budget-per-unit"
)
LEARN_MORE_ADDRESS = (
    "https://github.com/rental-wifi/rental-wifi/blob/main/docs/omada-setup.md"
    "#7-who-is-asking-clientip-and-address-translation"
)


def _issue_id(kind: str, entry_id: str, unit_id: str) -> str:
    return f"{kind}_{entry_id}_{unit_id}"


@callback
def async_update_unit_issues(hass: HomeAssistant, entry_id: str, state: State) -> None:
    """Raise the issues the snapshot calls for, drop the ones it no longer does."""
    wanted: set[str] = set()
    for unit_id, unit in state.units.items():
        checks = unit.guest_checks
        if checks.short_codes_weak:
            issue_id = _issue_id(ISSUE_SHORT_CODES_WEAK, entry_id, unit_id)
            wanted.add(issue_id)
            ir.async_create_issue(
                hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_SHORT_CODES_WEAK,
                translation_placeholders={
                    "unit": unit.unit.name,
                    "count": str(checks.short_codes),
                },
                learn_more_url=LEARN_MORE_SECURITY,
            )
        if checks.address_mismatch_recent:
            issue_id = _issue_id(ISSUE_ADDRESS_MISMATCH, entry_id, unit_id)
            wanted.add(issue_id)
            ir.async_create_issue(
                hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=ISSUE_ADDRESS_MISMATCH,
                translation_placeholders={
                    "unit": unit.unit.name,
                    "count": str(checks.address_mismatches),
                },
                learn_more_url=LEARN_MORE_ADDRESS,
            )
    for issue_id in _entry_issues(hass, entry_id) - wanted:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


@callback
def async_clear_unit_issues(hass: HomeAssistant, entry_id: str) -> None:
    """The entry is unloaded: its units' issues go (they come back with the next state)."""
    for issue_id in _entry_issues(hass, entry_id):
        ir.async_delete_issue(hass, DOMAIN, issue_id)


def _entry_issues(hass: HomeAssistant, entry_id: str) -> set[str]:
    prefixes = tuple(
        f"{kind}_{entry_id}_" for kind in (ISSUE_SHORT_CODES_WEAK, ISSUE_ADDRESS_MISMATCH)
    )
    return {
        issue_id
        for domain, issue_id in ir.async_get(hass).issues
        if domain == DOMAIN and issue_id.startswith(prefixes)
    }
