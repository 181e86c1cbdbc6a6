"""Every entity's state against the sidecar's own snapshot; dynamic and stale devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from custom_components.rental_wifi.const import DOMAIN
from custom_components.rental_wifi.sensor import valid_for_text

from .conftest import Api, Sim, entity_id_of, loaded_entry, wait_for


def _onoff(value: bool | None) -> str:
    return STATE_UNKNOWN if value is None else (STATE_ON if value else STATE_OFF)


def _num(value: int | None) -> str:
    return STATE_UNKNOWN if value is None else str(value)


async def test_entities_match_snapshot(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """Sidecar and unit entities read the snapshot, and follow a new voucher."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    iid = entry.unique_id
    state = await api.request("GET", "/api/v1/state")
    unit = state["units"][0]
    health = unit["health"]

    def st(platform: str, key: str, unit_id: str | None = "beach-house"):
        uid = f"{iid}_{unit_id}_{key}" if unit_id else f"{iid}_{key}"
        return hass.states.get(entity_id_of(hass, platform, uid))

    assert st("sensor", "voucher_code").state == STATE_UNKNOWN
    assert st("sensor", "voucher_code").attributes["live_vouchers"] == 0
    assert st("sensor", "voucher_end").state == STATE_UNKNOWN
    assert st("sensor", "guest_devices").state == "0"
    network_health = st("sensor", "network_health")
    assert network_health.state == health["status"]
    assert network_health.attributes["options"] == [
        "green", "yellow", "orange", "red", "unknown"
    ]
    assert network_health.attributes["reasons"] == health["reasons"]
    assert st("sensor", "pods_connected").state == _num(health.get("pods_connected"))
    assert st("binary_sensor", "network_online").state == _onoff(health.get("online"))
    assert st("sensor", "active_grants", None).state == "0"
    assert st("binary_sensor", "controller_connected", None).state == _onoff(
        state["controller"]["connected"]
    )
    assert st("binary_sensor", "plume_connected", None).state == _onoff(
        state["plume"]["connected"]
    )
    assert state["controller"]["connected"] is True

    # Disabled by default (noisy).
    registry = er.async_get(hass)
    devices_connected = entity_id_of(hass, "sensor", f"{iid}_beach-house_devices_connected")
    assert registry.async_get(devices_connected).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get(devices_connected) is None

    # Device layout.
    device_registry = dr.async_get(hass)
    sidecar_device = device_registry.async_get_device(identifiers={(DOMAIN, iid)})
    unit_device = device_registry.async_get_device(
        identifiers={(DOMAIN, f"{iid}_beach-house")}
    )
    assert sidecar_device.sw_version == state["version"]
    assert unit_device.name == "Beach House"
    assert unit_device.via_device_id == sidecar_device.id

    # A voucher issued outside Home Assistant arrives over the event stream.
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    voucher = await api.request(
        "POST",
        "/api/v1/vouchers",
        {"unit_id": "beach-house", "valid_until": until.strftime("%Y-%m-%dT%H:%M:%SZ"),
         "guest_name": "Ada", "booking_ref": "B-1"},
    )
    await wait_for(hass, lambda: st("sensor", "voucher_code").state == voucher["code"])
    attrs = st("sensor", "voucher_code").attributes
    assert attrs["status"] == "unused"
    assert attrs["guest_name"] == "Ada"
    assert attrs["booking_ref"] == "B-1"
    assert attrs["live_vouchers"] == 1
    end = datetime.fromisoformat(st("sensor", "voucher_end").state)
    assert end == until


async def test_enabled_devices_connected(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """Once enabled, devices connected shows Plume's count."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    registry = er.async_get(hass)
    entity_id = entity_id_of(hass, "sensor", f"{entry.unique_id}_beach-house_devices_connected")
    registry.async_update_entity(entity_id, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    state = await api.request("GET", "/api/v1/state")
    assert hass.states.get(entity_id).state == _num(
        state["units"][0]["health"].get("devices_connected")
    )


async def test_dynamic_and_stale_devices(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """A unit created through the API gets a device; a deleted one loses it."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    device_registry = dr.async_get(hass)
    ident = {(DOMAIN, f"{entry.unique_id}_cabin")}

    await api.create_unit(unit_id="cabin", name="Cabin")
    await wait_for(hass, lambda: device_registry.async_get_device(identifiers=ident))
    cabin = device_registry.async_get_device(identifiers=ident)
    # Still in the sidecar: the device cannot be removed by hand.
    from custom_components.rental_wifi import async_remove_config_entry_device  # noqa: PLC0415

    assert not await async_remove_config_entry_device(hass, entry, cabin)

    await api.request("DELETE", "/api/v1/units/cabin?force=true")
    await wait_for(hass, lambda: device_registry.async_get_device(identifiers=ident) is None)

    # A device left over from a unit that is gone may be removed.
    stale = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, f"{entry.unique_id}_gone")}
    )
    assert await async_remove_config_entry_device(hass, entry, stale)

    # A unit that comes back gets its entities again.
    await api.create_unit(unit_id="cabin", name="Cabin")
    await wait_for(hass, lambda: device_registry.async_get_device(identifiers=ident))


async def test_voucher_end_from_first_use(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """A voucher that starts at first use: its end is unknown, and the sensor says why."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    end = entity_id_of(hass, "sensor", f"{entry.unique_id}_beach-house_voucher_end")
    assert hass.states.get(end).attributes["starts_at_first_use"] is False
    await api.request(
        "POST", "/api/v1/vouchers", {"unit_id": "beach-house", "duration_minutes": 4320}
    )
    await wait_for(hass, lambda: hass.states.get(end).attributes["starts_at_first_use"])
    state = hass.states.get(end)
    assert state.state == STATE_UNKNOWN
    assert state.attributes["valid_for"] == "3 days from first use"
    assert state.attributes["duration_minutes"] == 4320


def test_valid_for_text() -> None:
    """Days, hours or minutes, singular or plural, from the translations."""
    texts = {
        f"{prefix}{key}": text
        for prefix in (
            "component.rental_wifi.entity.sensor.voucher_end.state_attributes.valid_for.state.",
        )
        for key, text in (
            ("day", "1 Tag ab der ersten Nutzung"),
            ("days", "{count} Tage ab der ersten Nutzung"),
        )
    }
    assert valid_for_text(1440, texts) == "1 Tag ab der ersten Nutzung"
    assert valid_for_text(2880, texts) == "2 Tage ab der ersten Nutzung"
    assert valid_for_text(120, texts) == "2 hours from first use"
    assert valid_for_text(90, texts) == "90 minutes from first use"
    assert valid_for_text(60, {}) == "1 hour from first use"
