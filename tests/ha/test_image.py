"""The voucher card image: the live voucher's QR card from the sidecar."""

from __future__ import annotations

from datetime import datetime

from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant

from custom_components.rental_wifi.const import DOMAIN

from .conftest import Api, Sim, entity_id_of, loaded_entry, wait_for

PNG = b"\x89PNG\r\n\x1a\n"


async def test_voucher_card(
    hass: HomeAssistant, config_entry: MockConfigEntry, api: Api, sim: Sim, hass_client
) -> None:
    """No voucher: no image. A voucher: its card (PNG, as the sidecar serves it); a new
    voucher: a new card; revoked: no image again."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    image = entity_id_of(hass, "image", f"{entry.unique_id}_beach-house_voucher_card")
    assert hass.states.get(image).state == STATE_UNKNOWN
    client = await hass_client()
    response = await client.get(f"/api/image_proxy/{image}")
    assert response.status >= 400  # nothing to show

    first = await api.request(
        "POST", "/api/v1/vouchers", {"unit_id": "beach-house", "duration_minutes": 60}
    )
    await wait_for(hass, lambda: hass.states.get(image).state != STATE_UNKNOWN)
    changed_at = hass.states.get(image).state
    # The state is when the voucher was issued, and a reload does not change it (no
    # spurious "changed to …" line in the activity log).
    assert datetime.fromisoformat(changed_at) == datetime.fromisoformat(first["created_at"])
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(hass, lambda: hass.states.get(image).state == changed_at)
    response = await client.get(f"/api/image_proxy/{image}")
    assert response.status == 200
    assert response.content_type == "image/png"
    body = await response.read()
    assert body.startswith(PNG)
    # What the sidecar serves for that code, byte for byte.
    async with api.session.get(
        f"{api.sidecar.url}/api/v1/vouchers/{first['code']}/card.png",
        headers={"Authorization": f"Bearer {api.sidecar.token}"},
    ) as direct:
        assert direct.status == 200
        assert await direct.read() == body

    second = await api.request(
        "POST", "/api/v1/vouchers", {"unit_id": "beach-house", "duration_minutes": 90}
    )
    await wait_for(hass, lambda: hass.states.get(image).state != changed_at)
    response = await client.get(f"/api/image_proxy/{image}")
    assert response.status == 200
    assert (await response.read()) != body
    assert second["code"] != first["code"]

    # A new SSID under the same voucher: a new QR code, so a new image.
    shown = hass.states.get(image).state
    await api.request("PATCH", "/api/v1/units/beach-house", {"ssids": ["Beach Guest"]})
    await entry.runtime_data.coordinator.async_refresh()
    await wait_for(hass, lambda: hass.states.get(image).state != shown)

    for code in (first["code"], second["code"]):
        await hass.services.async_call(DOMAIN, "revoke_voucher", {"code": code}, blocking=True)
    await wait_for(hass, lambda: hass.states.get(image).state == STATE_UNKNOWN)
