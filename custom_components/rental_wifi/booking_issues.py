"""Repair issues for bookings that vanished from the calendar during a stay.

The sidecar decides what a missing booking means (DESIGN §10): during a stay the guest keeps
access until the booking's end, which is right when the calendar merely blanked out and wrong
when the stay was really cancelled — only the host can tell. So each such booking in the
sidecar's snapshot (``units[].vanished_bookings`` with ``during_stay``) gets a repair issue
naming it, and the issue goes away when the booking is back in the calendar or its stay is
over (it leaves the snapshot). Nothing is stored here: the issues follow the snapshot.
"""

from __future__ import annotations

import hashlib

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import RentalWifiConfigEntry

ISSUE_PREFIX = "booking_vanished"


def issue_id(entry_id: str, unit_id: str, booking_ref: str) -> str:
    """A stable issue id for one booking (the reference may hold any character)."""
    digest = hashlib.sha256(booking_ref.encode()).hexdigest()[:16]
    return f"{ISSUE_PREFIX}_{entry_id}_{unit_id}_{digest}"


@callback
def async_update_booking_issues(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> None:
    """Raise an issue for every booking that vanished during its stay; drop the others."""
    coordinator = entry.runtime_data.coordinator
    if not coordinator.last_update_success:
        return
    wanted: set[str] = set()
    for unit_id, unit in coordinator.data.units.items():
        for booking in unit.vanished_bookings:
            if not booking.during_stay:
                continue
            iid = issue_id(entry.entry_id, unit_id, booking.booking_ref)
            wanted.add(iid)
            if iid in entry.runtime_data.booking_issues:
                continue
            ir.async_create_issue(
                hass,
                DOMAIN,
                iid,
                is_fixable=False,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_PREFIX,
                translation_placeholders={
                    "unit": unit.unit.name,
                    "booking": booking.booking_ref,
                    "guest": booking.guest_name or booking.booking_ref,
                    "end": dt_util.as_local(booking.end).strftime("%Y-%m-%d %H:%M")
                    if booking.end
                    else "?",
                },
            )
    for iid in entry.runtime_data.booking_issues - wanted:
        ir.async_delete_issue(hass, DOMAIN, iid)
    entry.runtime_data.booking_issues = wanted


@callback
def async_clear_booking_issues(hass: HomeAssistant, entry: RentalWifiConfigEntry) -> None:
    """Drop this entry's booking issues (it unloads; they come back from the snapshot)."""
    for iid in entry.runtime_data.booking_issues:
        ir.async_delete_issue(hass, DOMAIN, iid)
    entry.runtime_data.booking_issues = set()
