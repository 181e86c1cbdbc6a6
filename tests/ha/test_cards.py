"""Cards in Home Assistant (issue 17 item 5) and the property's time zone (DESIGN §10): the
``create_card_sheet`` action writes the PDF under the config dir and nowhere else, the card
image follows the stay in progress (else the next one), and the sidecar's property zone
follows Home Assistant's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from custom_components.rental_wifi.const import DOMAIN
from custom_components.rental_wifi.time_zone import async_sync_time_zone

from .conftest import Api, Sidecar, Sim, entity_id_of, loaded_entry, wait_for


def _at(days: float) -> str:
    t = datetime.now(UTC) + timedelta(days=days)
    return t.replace(minute=0, second=0, microsecond=0).isoformat().replace("+00:00", "Z")


async def _book(api: Api, ref: str, start_days: float, nights: int = 2) -> str:
    booking = await api.request(
        "PUT",
        f"/api/v1/units/beach-house/bookings/{ref}",
        {"start": _at(start_days), "end": _at(start_days + nights), "guest_name": ref},
    )
    return booking["voucher"]["code"]


async def _sheet(hass: HomeAssistant, data: dict[str, Any]) -> dict[str, Any]:
    return await hass.services.async_call(
        DOMAIN,
        "create_card_sheet",
        {"unit_id": "beach-house", **data},
        blocking=True,
        return_response=True,
    )


async def test_create_card_sheet_writes_under_the_config_dir(
    hass: HomeAssistant, config_dir: Path, config_entry: MockConfigEntry, api: Api, sim: Sim
) -> None:
    """The PDF of the upcoming bookings' cards, its path returned; bad names, empty ranges
    and places outside the config dir are refused."""
    await loaded_entry(hass, config_entry, api, sim)
    codes = [await _book(api, f"B{i}", 1 + 3 * i) for i in range(3)]
    assert len(set(codes)) == 3

    result = await _sheet(hass, {})
    cards_dir = config_dir / "rental_wifi" / "cards"
    path = Path(result["path"])
    assert path.parent == cards_dir
    assert path.name.startswith("cards-beach-house-") and path.suffix == ".pdf"
    assert result["cards"] == 3
    assert result["paper"] == "a4"
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) == result["size"]
    assert os.stat(path).st_mode & 0o777 == 0o600
    # What the sidecar serves for the same range, byte for byte.
    today = datetime.now().date().isoformat()  # noqa: DTZ005 (Home Assistant's zone is the test's)
    async with api.session.get(
        f"{api.sidecar.url}/api/v1/units/beach-house/cards.pdf",
        params={"from": today},
        headers={"Authorization": f"Bearer {api.sidecar.token}"},
    ) as direct:
        assert direct.status == 200
        assert direct.headers["X-Card-Count"] == "3"

    # Letter, a range, a name of one's own (the extension added); written again in place.
    start = (datetime.now() + timedelta(days=3)).date()  # noqa: DTZ005
    end = start + timedelta(days=2)
    result = await _sheet(
        hass,
        {"paper": "letter", "start_date": start.isoformat(), "end_date": end.isoformat(), "filename": "December"},
    )
    assert result["path"] == str(cards_dir / "December.pdf")
    assert result["paper"] == "letter"
    assert 1 <= result["cards"] <= 2
    assert b"/MediaBox [0 0 612 792]" in Path(result["path"]).read_bytes()
    assert not list(cards_dir.glob(".*.part")), "no partial file left"

    # A name that would leave the folder, or is not a file name.
    for bad in ("../escape.pdf", "a/b.pdf", ".hidden.pdf", "x" * 120):
        with pytest.raises(ServiceValidationError) as err:
            await _sheet(hass, {"filename": bad})
        assert err.value.translation_key == "invalid_card_filename"
    assert not Path(hass.config.path("rental_wifi", "escape.pdf")).exists()
    # Nothing to print, or a range the sidecar refuses: its message.
    far = (datetime.now() + timedelta(days=200)).date().isoformat()  # noqa: DTZ005
    with pytest.raises(ServiceValidationError) as err:
        await _sheet(hass, {"start_date": far})
    assert "no upcoming booking" in err.value.translation_placeholders["message"]
    with pytest.raises(ServiceValidationError):
        await _sheet(hass, {"start_date": far, "end_date": today})
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN, "create_card_sheet", {"paper": "a4"}, blocking=True, return_response=True
        )


async def test_card_sheet_never_written_outside_the_config_dir(
    hass: HomeAssistant,
    config_dir: Path,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    tmp_path: Path,
) -> None:
    """A cards folder that is a link to elsewhere is refused; one that cannot be written is
    a Home Assistant error."""
    await loaded_entry(hass, config_entry, api, sim)
    await _book(api, "B0", 1)
    folder = config_dir / "rental_wifi" / "cards"
    folder.parent.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    folder.symlink_to(outside)
    with pytest.raises(ServiceValidationError) as err:
        await _sheet(hass, {})
    assert err.value.translation_key == "card_path_outside"
    assert not list(outside.iterdir())
    folder.unlink()
    folder.write_text("not a folder")
    with pytest.raises(HomeAssistantError) as err:
        await _sheet(hass, {})
    assert err.value.translation_key == "card_write_failed"
    folder.unlink()
    # The file cannot take the sheet (a folder of that name): an error, no partial file left.
    (folder / "Taken.pdf").mkdir(parents=True)
    with pytest.raises(HomeAssistantError) as err:
        await _sheet(hass, {"filename": "Taken.pdf"})
    assert err.value.translation_key == "card_write_failed"
    assert sorted(p.name for p in folder.iterdir()) == ["Taken.pdf"]


async def test_card_image_follows_the_current_stay(
    hass: HomeAssistant,
    config_dir: Path,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    hass_client,
) -> None:
    """Bookings weeks ahead do not take the card: the stay in progress does, else the next."""
    entry = await loaded_entry(hass, config_entry, api, sim)
    image = entity_id_of(hass, "image", f"{entry.unique_id}_beach-house_voucher_card")
    client = await hass_client()
    coordinator = entry.runtime_data.coordinator

    async def shown() -> bytes:
        response = await client.get(f"/api/image_proxy/{image}")
        assert response.status == 200
        return await response.read()

    async def card(code: str) -> bytes:
        async with api.session.get(
            f"{api.sidecar.url}/api/v1/vouchers/{code}/card.png",
            headers={"Authorization": f"Bearer {api.sidecar.token}"},
        ) as direct:
            assert direct.status == 200
            return await direct.read()

    nxt = await _book(api, "NEXT", 2)
    later = await _book(api, "LATER", 20)  # issued last: the newest voucher
    await coordinator.async_refresh()
    await wait_for(hass, lambda: coordinator.data.units["beach-house"].current_voucher == nxt)
    assert await shown() == await card(nxt)
    assert await shown() != await card(later)
    now_code = await _book(api, "NOW", -0.5)
    await coordinator.async_refresh()
    await wait_for(hass, lambda: coordinator.data.units["beach-house"].current_voucher == now_code)
    assert await shown() == await card(now_code)
    # Home Assistant's zone changes: the sidecar is told, and the card shows the new times.
    before = await shown()
    await hass.config.async_update(time_zone="Pacific/Auckland")
    await hass.async_block_till_done()
    assert (await api.request("GET", "/api/v1/settings/property"))["time_zone"] == "Pacific/Auckland"
    after = await shown()
    assert after != before
    assert after == await card(now_code)


async def test_the_property_zone_follows_home_assistant(
    hass: HomeAssistant,
    config_dir: Path,
    config_entry: MockConfigEntry,
    api: Api,
    sim: Sim,
    sidecar: Sidecar,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Set at set-up and when Home Assistant's zone changes; a refusal or an unreachable
    sidecar is logged, never an error."""
    await hass.config.async_update(time_zone="Europe/Lisbon")
    entry = await loaded_entry(hass, config_entry, api, sim)
    assert (await api.request("GET", "/api/v1/settings/property"))["time_zone"] == "Europe/Lisbon"
    await hass.config.async_update(time_zone="America/Chicago")
    await hass.async_block_till_done()
    assert (await api.request("GET", "/api/v1/settings/property"))["time_zone"] == "America/Chicago"
    # A zone the sidecar's database does not know: a warning, nothing changes.
    hass.config.time_zone = "Mars/Olympus_Mons"
    with caplog.at_level(logging.WARNING):
        await async_sync_time_zone(hass, entry)
    assert "did not take Home Assistant's time zone Mars/Olympus_Mons" in caplog.text
    assert (await api.request("GET", "/api/v1/settings/property"))["time_zone"] == "America/Chicago"
    # The sidecar away: nothing raised.
    await hass.async_add_executor_job(sidecar.stop)
    await async_sync_time_zone(hass, entry)
