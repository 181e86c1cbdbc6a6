"""The unit form against the real sidecar: every unit setting the sidecar keeps, pre-filled
from the sidecar, the controller's sites and SSIDs offered, the sidecar's field errors placed.
"""

from __future__ import annotations

from typing import Any

from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.selector import SelectSelector, TextSelector

from custom_components.rental_wifi.const import SUBENTRY_UNIT

from .conftest import Api, Sidecar, Sim, ppsk_profile_over_open_api, setup_entry
from .test_config_flow import open_sections, suggested, unit_form


def fields(result: dict) -> dict[str, Any]:
    """Every field of a form (sections looked into) → its selector."""
    found: dict[str, Any] = {}
    for key, value in result["data_schema"].schema.items():
        inner = getattr(getattr(value, "schema", None), "schema", None)
        if isinstance(inner, dict):
            found.update({str(sub): selector for sub, selector in inner.items()})
        else:
            found[str(key)] = value
    return found


async def _add_unit_form(hass: HomeAssistant, entry: MockConfigEntry) -> dict:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_UNIT), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    return result


async def test_every_unit_setting_round_trips_without_open_api(
    hass: HomeAssistant,
    sidecar: Sidecar,
    sim: Sim,
    api: Api,
    config_entry: MockConfigEntry,
) -> None:
    """Hotspot operator only: names are typed, the site id asked; every setting is saved,
    shown again from the sidecar, and a refused value lands where it was typed."""
    await api.configure(sim, plume=False)
    await setup_entry(hass, config_entry)
    result = await _add_unit_form(hass, config_entry)
    shown = fields(result)
    # The form does not ask a controller without an Open API app for its sites: the
    # sidecar's refusal became the controller's problem, a repair ("needs Open API client
    # credentials") raised by merely opening the form (seen in the real UI).
    assert (await api.request("GET", "/api/v1/state"))["controller"]["problem"] is None
    # No listing without Open API credentials: free text, and the site id field right
    # below the site (not in "Advanced": a hotspot operator needs it to take guests off).
    assert isinstance(shown["omada_site"], TextSelector)
    top = [str(key) for key in result["data_schema"].schema]
    assert top.index("omada_site_id") == top.index("omada_site") + 1
    # The time zone is searched in the zone names, not typed in full (a name not listed
    # may still be typed: the sidecar decides).
    zone = shown["time_zone"]
    assert isinstance(zone, SelectSelector)
    assert zone.config["custom_value"] is True
    assert {"Europe/Lisbon", "America/New_York", "UTC"} <= set(zone.config["options"])
    assert {
        "vanish_cancel_minutes",
        "device_policy",
        "short_code_second_factor",
        "address_translation",
        "terms_url",
        "checkin_grace_minutes",
        "plume_location_id",
    } <= set(shown)
    assert result["description_placeholders"]["docs"].endswith("omada-setup.md#site-ids")

    form = unit_form(
        omada_site_id=sim.info["omada_site_id"].upper(),
        bookings={"checkin_grace_minutes": 15, "vanish_cancel_minutes": 120},
        guests={
            "device_policy": "refuse",
            "short_code_second_factor": "last_name",
            "terms_url": "https://example.com/house-rules",
        },
        advanced={"address_translation": True},
    )
    # A terms page that is not a web address: the sidecar's reason, named in words, on
    # the guests section (opened) and at the top of the form.
    bad = {**form, "guests": {**form["guests"], "terms_url": "ftp://example.com/rules"}}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], bad)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_terms_url", "guests": "invalid_terms_url"}
    assert result["description_placeholders"]["message"] == "must be an absolute http(s) URL"
    assert open_sections(result) == {"bookings", "guests"}
    await api.request("GET", "/api/v1/units/beach-house", expect=404)

    result = await hass.config_entries.subentries.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    stored = await api.request("GET", "/api/v1/units/beach-house")
    assert stored["omada_site_id"] == sim.info["omada_site_id"].lower()
    assert stored["vanish_cancel_minutes"] == 120
    assert stored["device_policy"] == "refuse"
    assert stored["short_code_second_factor"] == "last_name"
    assert stored["address_translation"] is True
    assert stored["terms_url"] == "https://example.com/house-rules"
    assert stored["checkin_grace_minutes"] == 15

    # Changed on the sidecar itself: the form shows the sidecar's values, not the flow's.
    await api.request(
        "PATCH",
        "/api/v1/units/beach-house",
        {"vanish_cancel_minutes": 30, "device_policy": "replace_oldest", "terms_url": None},
    )
    subentry_id = next(iter(config_entry.subentries))
    result = await config_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    values = suggested(result)
    assert values["vanish_cancel_minutes"] == 30
    assert values["device_policy"] == "replace_oldest"
    assert values["short_code_second_factor"] == "last_name"
    assert values["address_translation"] is True
    assert values["omada_site_id"] == sim.info["omada_site_id"].lower()
    assert "terms_url" not in values

    # A site id the controller does not know: the sidecar checks it the way it will be used
    # (the operator lists that site's clients) and names the site; its words, on that field.
    wrong = {**form, "omada_site_id": "0" * 24}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], wrong)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"omada_site": "invalid_omada_site"}, result["errors"]
    assert "Default" in result["description_placeholders"]["message"]

    # Clearing the terms page and the second factor in the form clears them in the sidecar.
    cleared = {**form, "guests": {"device_policy": "refuse"}}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], cleared)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    stored = await api.request("GET", "/api/v1/units/beach-house")
    assert stored["terms_url"] is None
    assert stored["short_code_second_factor"] == "none"
    assert stored["vanish_cancel_minutes"] == 120


async def test_unit_form_offers_the_controllers_sites_and_ssids(
    hass: HomeAssistant,
    sidecar: Sidecar,
    sim: Sim,
    api: Api,
    config_entry: MockConfigEntry,
) -> None:
    """Open API credentials: a site dropdown and an SSID multi-select from the controller;
    the chosen site's id is stored with the unit."""
    await api.request(
        "PUT",
        "/api/v1/settings/omada",
        {
            "mode": "openapi",
            "base_url": sim.info["omada_url"],
            "client_id": sim.info["omada_client_id"],
            "client_secret": sim.info["omada_client_secret"],
            "verify_tls": False,
        },
    )
    await setup_entry(hass, config_entry)
    result = await _add_unit_form(hass, config_entry)
    shown = fields(result)
    site = shown["omada_site"]
    assert isinstance(site, SelectSelector)
    assert site.config["custom_value"] is True
    assert [str(o) for o in site.config["options"]] == ["Default"]
    ssids = shown["ssids"]
    assert isinstance(ssids, SelectSelector)
    assert ssids.config["multiple"] is True
    assert ssids.config["custom_value"] is True
    assert [o["value"] for o in ssids.config["options"]] == ["Guest"]
    # The id comes from the listing: no field for it.
    assert "omada_site_id" not in shown

    form = unit_form(
        networks={"ssids": ["Guest"]},
        bookings={},
        advanced={"address_translation": False},
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    stored = await api.request("GET", "/api/v1/units/beach-house")
    assert stored["omada_site"] == "Default"
    assert stored["omada_site_id"] == sim.info["omada_site_id"]
    assert stored["ssids"] == ["Guest"]


async def test_wifi_passwords_with_the_controllers_ppsk_profiles(
    hass: HomeAssistant,
    sidecar: Sidecar,
    sim: Sim,
    api: Api,
    http,
    config_entry: MockConfigEntry,
) -> None:
    """The PPSK profile is picked from the controller's list; password mode is saved (the
    sidecar's set-up check passes) and shown again from the sidecar."""
    profile = await ppsk_profile_over_open_api(http, api, sim)
    await setup_entry(hass, config_entry)
    result = await _add_unit_form(hass, config_entry)
    choice = fields(result)["ppsk_profile_id"]
    assert isinstance(choice, SelectSelector)
    assert [(o["value"], o["label"]) for o in choice.config["options"]] == [
        (profile, "Guest keys (Default)")
    ]
    # Picked from the list only: with typed values allowed, the frontend's combo box shows
    # the picked profile's id (24 hex digits) instead of its name (seen in the real UI).
    assert not choice.config.get("custom_value")
    form = unit_form(
        networks={"ssids": ["Guest"]},
        wifi_passwords={"access_mode": "password", "ppsk_profile_id": profile},
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    stored = await api.request("GET", "/api/v1/units/beach-house")
    assert stored["access_mode"] == "password"
    assert stored["ppsk_profile_id"] == profile

    subentry_id = next(iter(config_entry.subentries))
    result = await config_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    values = suggested(result)
    assert values["access_mode"] == "password"
    assert values["ppsk_profile_id"] == profile
    # A profile the controller no longer lists stays offered (by its id), so the form
    # still saves the unit's other settings.
    await api.request(
        "PATCH",
        "/api/v1/units/beach-house?validate=false",
        {"ppsk_profile_id": "0" * 24},
    )
    result = await config_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    options = fields(result)["ppsk_profile_id"].config["options"]
    assert [o["value"] for o in options] == [profile, "0" * 24]
    await api.request(
        "PATCH", "/api/v1/units/beach-house?validate=false", {"ppsk_profile_id": profile}
    )
    # Back to the portal.
    form["wifi_passwords"] = {"access_mode": "portal"}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], form)
    assert result["reason"] == "reconfigure_successful"
    stored = await api.request("GET", "/api/v1/units/beach-house")
    assert stored["access_mode"] == "portal"
