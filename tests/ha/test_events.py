"""Bus events from the sidecar's event stream: a guest redeems a voucher on the portal."""

from __future__ import annotations

from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from homeassistant.core import HomeAssistant

from custom_components.rental_wifi.const import DOMAIN

from .conftest import Api, Sidecar, Sim, entity_id_of, loaded_entry, redeem, wait_for


async def test_redemption_events_and_entities(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http,
) -> None:
    """Issue → redeem on the portal → revoke: events fire, entities follow."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    issued = async_capture_events(hass, f"{DOMAIN}_voucher_issued")
    redeemed = async_capture_events(hass, f"{DOMAIN}_voucher_redeemed")
    revoked = async_capture_events(hass, f"{DOMAIN}_voucher_revoked")

    voucher = await hass.services.async_call(
        DOMAIN,
        "create_voucher",
        {"unit_id": "beach-house", "duration_minutes": 120, "booking_ref": "HM-7"},
        blocking=True,
        return_response=True,
    )
    code = voucher["code"]
    await wait_for(hass, lambda: issued)
    assert issued[0].data["code"] == code
    assert issued[0].data["unit_id"] == "beach-house"
    assert issued[0].data["config_entry_id"] == entry.entry_id

    # The guest types the code with a dash and in lower case.
    status, page = await redeem(http, sidecar, f"{code[:5].lower()}-{code[5:]}")
    assert status in (200, 303), page
    await wait_for(hass, lambda: redeemed)
    event = redeemed[0].data
    assert event["code"] == code
    assert event["unit_id"] == "beach-house"
    assert event["client_mac"] == "AA-BB-CC-DD-EE-01"
    assert event["booking_ref"] == "HM-7"
    assert event["config_entry_id"] == entry.entry_id
    assert "grant_id" in event

    iid = entry.unique_id
    guests = entity_id_of(hass, "sensor", f"{iid}_beach-house_guest_devices")
    grants = entity_id_of(hass, "sensor", f"{iid}_active_grants")
    voucher_code = entity_id_of(hass, "sensor", f"{iid}_beach-house_voucher_code")
    voucher_end = entity_id_of(hass, "sensor", f"{iid}_beach-house_voucher_end")
    await wait_for(hass, lambda: hass.states.get(guests).state == "1")
    assert hass.states.get(grants).state == "1"
    assert hass.states.get(voucher_code).attributes["status"] == "active"
    assert hass.states.get(voucher_code).attributes["devices_used"] == 1
    # Redeemed: the end is now known (first use + duration).
    assert hass.states.get(voucher_end).state not in ("unknown", "unavailable")

    await hass.services.async_call(
        DOMAIN, "revoke_voucher", {"code": code}, blocking=True
    )
    await wait_for(hass, lambda: revoked)
    assert revoked[0].data["code"] == code
    assert revoked[0].data["devices"] == 1
    await wait_for(hass, lambda: hass.states.get(guests).state == "0")
    assert hass.states.get(voucher_code).state == "unknown"
