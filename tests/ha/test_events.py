"""Bus events from the sidecar's event stream: a guest redeems a voucher on the portal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

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
    assert status == 200, page
    assert 'data-result="success"' in page, page
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


async def test_health_changed_events(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    http,
) -> None:
    """One unit per Plume scenario gets its colour; a pod going down fires the event."""
    entry = await loaded_entry(hass, config_entry, api, sim, poll_interval=1)
    iid = entry.unique_id
    colours = {"poor_health": "yellow", "pod_down": "orange", "offline": "red"}
    for scenario in colours:
        location = sim.location(scenario)
        await api.create_unit(
            unit_id=scenario.replace("_", "-"),
            name=scenario,
            plume_customer_id=location["customer_id"],
            plume_location_id=location["location_id"],
        )
    changed = async_capture_events(hass, f"{DOMAIN}_health_changed")

    expected = {"beach-house": "green"} | {
        scenario.replace("_", "-"): colour for scenario, colour in colours.items()
    }

    def health(unit_id: str):
        entity_id = er.async_get(hass).async_get_entity_id(
            "sensor", DOMAIN, f"{iid}_{unit_id}_network_health"
        )
        return hass.states.get(entity_id) if entity_id else None

    await wait_for(
        hass,
        lambda: all(
            (state := health(unit_id)) is not None and state.state == colour
            for unit_id, colour in expected.items()
        ),
    )
    assert health("offline").attributes["reasons"]
    assert hass.states.get(
        entity_id_of(hass, "binary_sensor", f"{iid}_offline_network_online")
    ).state == "off"
    assert hass.states.get(
        entity_id_of(hass, "binary_sensor", f"{iid}_beach-house_network_online")
    ).state == "on"

    # The beach house loses a pod: orange on the next poll, with the reason.
    changed.clear()
    await sim.set_scenario(http, sim.location("fine"), "pod_down")
    await wait_for(
        hass,
        lambda: any(
            e.data["unit_id"] == "beach-house" and e.data["status"] == "orange"
            for e in changed
        ),
    )
    event = next(
        e.data for e in changed
        if e.data["unit_id"] == "beach-house" and e.data["status"] == "orange"
    )
    assert event["previous"] == "green"
    assert any("Bedroom" in reason for reason in event["reasons"])
    assert event["config_entry_id"] == entry.entry_id
    await wait_for(hass, lambda: health("beach-house").state == "orange")
    pods = entity_id_of(hass, "sensor", f"{iid}_beach-house_pods_connected")
    assert hass.states.get(pods).state == "2"
    assert hass.states.get(pods).attributes["pods_total"] == 3

    # And back.
    await sim.set_scenario(http, sim.location("fine"), "fine")
    await wait_for(hass, lambda: health("beach-house").state == "green")
    assert any(
        e.data["unit_id"] == "beach-house"
        and e.data["status"] == "green"
        and e.data["previous"] == "orange"
        for e in changed
    )


async def test_grant_expired_event(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    http,
) -> None:
    """A voucher that ends a few seconds after redemption: grant_expired, devices back to 0."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    expired = async_capture_events(hass, f"{DOMAIN}_grant_expired")
    redeemed = async_capture_events(hass, f"{DOMAIN}_voucher_redeemed")
    until = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
    voucher = await hass.services.async_call(
        DOMAIN,
        "create_voucher",
        {"unit_id": "beach-house", "valid_until": until.isoformat()},
        blocking=True,
        return_response=True,
    )
    status, page = await redeem(http, sidecar, voucher["code"], client_mac="AA-BB-CC-DD-EE-02")
    assert status == 200 and 'data-result="success"' in page, page
    await wait_for(hass, lambda: redeemed)
    guests = entity_id_of(hass, "sensor", f"{entry.unique_id}_beach-house_guest_devices")
    await wait_for(hass, lambda: hass.states.get(guests).state == "1")
    assert not expired

    await wait_for(hass, lambda: expired, timeout=20)
    event = expired[0].data
    assert event["code"] == voucher["code"]
    assert event["unit_id"] == "beach-house"
    assert event["client_mac"] == "AA-BB-CC-DD-EE-02"
    assert event["grant_id"] == redeemed[0].data["grant_id"]
    assert event["config_entry_id"] == entry.entry_id
    assert datetime.now(UTC) >= until
    await wait_for(hass, lambda: hass.states.get(guests).state == "0")
    grants = await api.request("GET", "/api/v1/grants?active=true")
    assert grants["grants"] == []
