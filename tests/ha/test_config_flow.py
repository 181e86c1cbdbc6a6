"""Config flow (external mode), reauth, reconfigure and unit subentries against the real sidecar.

The managed mode's flow is in test_managed.py.
"""

from __future__ import annotations

from typing import Any

from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState, ConfigSubentryData
from homeassistant.const import CONF_NAME, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, section
from homeassistant.helpers import device_registry as dr

from custom_components.rental_wifi.const import (
    CONF_API_TOKEN,
    CONF_CALENDAR_ENTITY,
    CONF_MODE,
    CONF_UNIT_ID,
    CONF_VLANS,
    DOMAIN,
    MODE_EXTERNAL,
    MODE_MANAGED,
    SUBENTRY_UNIT,
)

from .conftest import (
    Api,
    Sidecar,
    Sim,
    eventually,
    instance_id,
    setup_entry,
    status_of,
    wait_for,
)

UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens


def hotspot_form(sim: Sim, **changes: Any) -> dict[str, Any]:
    """The hotspot operator form, filled for the simulated controller."""
    form = {
        "base_url": sim.info["omada_url"],
        "username": sim.info["omada_username"],
        "password": sim.info["omada_password"],
        "advanced": {"verify_tls": False, "auth_time_unit": "ms"},
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def openapi_form(sim: Sim, **changes: Any) -> dict[str, Any]:
    """The Open API form, filled for the simulated controller."""
    form = {
        "base_url": sim.info["omada_url"],
        "client_id": sim.info["omada_client_id"],
        "client_secret": sim.info["omada_client_secret"],
        "advanced": {"verify_tls": False},
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def suggested(result: dict) -> dict[str, Any]:
    """The suggested (pre-filled) values of a form, sections flattened."""
    found: dict[str, Any] = {}
    for key, value in result["data_schema"].schema.items():
        if key.description and "suggested_value" in key.description:
            found[str(key)] = key.description["suggested_value"]
        inner = getattr(value, "schema", None)
        if inner is not None and hasattr(inner, "schema"):
            for sub in inner.schema:
                if sub.description and "suggested_value" in sub.description:
                    found[str(sub)] = sub.description["suggested_value"]
    return found


def open_sections(result: dict) -> set[str]:
    """The sections of a form shown open (not collapsed)."""
    return {
        str(key)
        for key, value in result["data_schema"].schema.items()
        if isinstance(value, section) and not value.options.get("collapsed", False)
    }


def required(result: dict) -> set[str]:
    """The names of the form's required top-level fields."""
    return {
        str(key)
        for key in result["data_schema"].schema
        if type(key).__name__ == "Required"
    }


async def start_external(hass: HomeAssistant) -> dict:
    """Start the flow and pick "a sidecar running elsewhere"."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "user"
    assert result["menu_options"] == ["managed", "external"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "external"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "external"
    return result


async def choose(hass: HomeAssistant, result: dict, step: str) -> dict:
    """Pick a menu option."""
    assert result["type"] is FlowResultType.MENU, result
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


async def test_full_flow_with_errors_and_recovery(
    hass: HomeAssistant, sidecar: Sidecar, sim: Sim, api: Api, http
) -> None:
    """URL/token errors, the controller's and Plume's messages on the form, then success."""
    result = await start_external(hass)

    # Nothing listens there.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: UNREACHABLE, CONF_API_TOKEN: sidecar.token}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    # Wrong token.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url, CONF_API_TOKEN: "wrong-token"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    # Right token (a trailing slash is tolerated).
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url + "/", CONF_API_TOKEN: sidecar.token}
    )
    assert result["step_id"] == "controller"
    result = await choose(hass, result, "omada")
    assert result["step_id"] == "omada"
    assert result["menu_options"] == ["omada_hotspot", "omada_openapi"]
    result = await choose(hass, result, "omada_hotspot")
    assert result["type"] is FlowResultType.FORM
    # Nothing stored yet: the password is required and nothing says "leave blank".
    assert result["step_id"] == "omada_hotspot"
    assert {"base_url", "username", "password"} <= required(result)

    # Wrong controller password: the sidecar's message is shown.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], hotspot_form(sim, password="not-the-password")
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "rejected"}
    assert result["description_placeholders"]["message"]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], hotspot_form(sim)
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "plume_menu"
    result = await choose(hass, result, "plume")
    assert result["step_id"] == "plume"
    assert "auth_header" in required(result)

    # A partner id cut short (19 of 24 hex characters): the sidecar's validation message.
    bad = {**sim.plume_settings, "partner_id": "eb0af9d0a7ab946dcb3"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], bad)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_settings"}
    assert result["description_placeholders"]["message"].startswith("Partner ID looks invalid")

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], sim.plume_settings
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Rental Wi-Fi (127.0.0.1)"
    assert result["data"] == {
        CONF_MODE: MODE_EXTERNAL,
        CONF_URL: sidecar.url,
        CONF_API_TOKEN: sidecar.token,
    }
    assert result["result"].unique_id == await instance_id(http, sidecar)
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED

    omada = await api.request("GET", "/api/v1/settings/omada")
    assert omada["base_url"] == sim.info["omada_url"]
    assert omada["mode"] == "hotspot"
    assert omada["password"] == "***"
    assert omada["verify_tls"] is False
    plume = await api.request("GET", "/api/v1/settings/plume")
    assert plume["partner_id"] == sim.info["plume_partner_id"]


async def test_flow_skip_controller_and_plume(hass: HomeAssistant, sidecar: Sidecar) -> None:
    """Both settings steps can be skipped."""
    result = await start_external(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token}
    )
    result = await choose(hass, result, "plume_menu")
    assert result["step_id"] == "plume_menu"
    result = await choose(hass, result, "finish")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_flow_open_api_and_controller_unreachable(
    hass: HomeAssistant, sidecar: Sidecar, sim: Sim, api: Api
) -> None:
    """The Open API form; a controller that does not answer: 503, shown on the form."""
    result = await start_external(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token}
    )
    result = await choose(hass, await choose(hass, result, "omada"), "omada_openapi")
    assert result["step_id"] == "omada_openapi"
    assert {"base_url", "client_id", "client_secret"} <= required(result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], openapi_form(sim, base_url=UNREACHABLE)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "upstream_unavailable"}
    assert result["description_placeholders"]["message"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], openapi_form(sim)
    )
    assert result["step_id"] == "plume_menu"
    omada = await api.request("GET", "/api/v1/settings/omada")
    assert omada["mode"] == "openapi"
    assert omada["client_id"] == sim.info["omada_client_id"]
    assert omada["client_secret"] == "***"


async def test_several_entries_one_per_sidecar(
    hass: HomeAssistant,
    sidecar: Sidecar,
    config_entry: MockConfigEntry,
    http,
    tmp_path,
) -> None:
    """A second property's sidecar is a second entry; the same sidecar twice is refused;
    a second sidecar run by Home Assistant is refused with its own reason."""
    # The same sidecar again: already configured (its instance id is the unique id).
    result = await start_external(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    second_dir = tmp_path / "second"
    second_dir.mkdir()
    second = Sidecar(data_dir=second_dir, log_path=tmp_path / "second.log")
    await hass.async_add_executor_job(second.start)
    try:
        result = await start_external(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: second.url, CONF_API_TOKEN: second.token}
        )
        result = await choose(hass, await choose(hass, result, "plume_menu"), "finish")
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == "Rental Wi-Fi (127.0.0.1)"
        assert result["result"].unique_id == await instance_id(http, second)
        assert result["result"].unique_id != config_entry.unique_id
        await hass.async_block_till_done()
        assert result["result"].state is ConfigEntryState.LOADED
        assert len(hass.config_entries.async_entries(DOMAIN)) == 2
        await hass.config_entries.async_unload(result["result"].entry_id)
    finally:
        await hass.async_add_executor_job(second.stop)

    # Home Assistant runs one sidecar at most. A flow that offered it before another one
    # set it up (two browser tabs) is refused with its reason.
    earlier = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert earlier["menu_options"] == ["managed", "external"]
    MockConfigEntry(
        domain=DOMAIN,
        title="Rental Wi-Fi",
        data={CONF_MODE: MODE_MANAGED, CONF_API_TOKEN: "t", "portal_port": 8080},
    ).add_to_hass(hass)
    result = await choose(hass, earlier, "managed")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "managed_already"
    # From then on the first step offers only a sidecar elsewhere, and says why (offering
    # the recommended choice led to that dead end, seen in the real UI).
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "user_another"
    assert result["menu_options"] == ["external"]


async def test_reauth(hass: HomeAssistant, sidecar: Sidecar, http) -> None:
    """A refused token starts reauth; a good token fixes the entry."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=await instance_id(http, sidecar),
        data={CONF_URL: sidecar.url, CONF_API_TOKEN: "stale-token"},
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == "reauth"
    flow_id = flows[0]["flow_id"]

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_TOKEN: "still-wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_TOKEN: sidecar.token}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_API_TOKEN] == sidecar.token
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_connection(
    hass: HomeAssistant, sidecar: Sidecar, config_entry: MockConfigEntry, tmp_path
) -> None:
    """URL and token can change, but only to the same sidecar."""
    await setup_entry(hass, config_entry)
    result = await config_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["reconfigure_connection", "omada", "plume"]
    result = await choose(hass, result, "reconfigure_connection")
    assert result["step_id"] == "reconfigure_connection"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url, CONF_API_TOKEN: "bad"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()

    # Another sidecar (another instance id) is refused.
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = Sidecar(data_dir=other_dir, log_path=tmp_path / "other.log")
    try:
        await hass.async_add_executor_job(other.start)
        result = await config_entry.start_reconfigure_flow(hass)
        result = await choose(hass, result, "reconfigure_connection")
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: other.url, CONF_API_TOKEN: other.token}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "wrong_sidecar"
    finally:
        await hass.async_add_executor_job(other.close)


async def test_reconfigure_omada_and_plume(
    hass: HomeAssistant, sidecar: Sidecar, sim: Sim, api: Api, config_entry: MockConfigEntry
) -> None:
    """Stored secrets: the "update" forms, pre-filled without secrets; blank keeps them."""
    await api.configure(sim)
    await setup_entry(hass, config_entry)

    result = await config_entry.start_reconfigure_flow(hass)
    result = await choose(hass, await choose(hass, result, "omada"), "omada_hotspot")
    # A password is stored: the form that says "leave blank to keep it".
    assert result["step_id"] == "update_omada_hotspot"
    assert "password" not in required(result)
    shown = suggested(result)
    assert shown["base_url"] == sim.info["omada_url"]
    assert shown["username"] == sim.info["omada_username"]
    assert shown["verify_tls"] is False
    assert "password" not in shown

    # Wrong password: the sidecar refuses and keeps the old settings.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], hotspot_form(sim, password="nope")
    )
    assert result["errors"] == {"base": "rejected"}
    assert result["step_id"] == "update_omada_hotspot"
    # Blank password: the stored one is kept ("***").
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], hotspot_form(sim, password=None)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    stored = await api.request("GET", "/api/v1/settings/omada")
    assert stored["password"] == "***"

    # Open API added later: no client secret stored yet, so it is required; the
    # operator account stays stored.
    result = await config_entry.start_reconfigure_flow(hass)
    result = await choose(hass, await choose(hass, result, "omada"), "omada_openapi")
    assert result["step_id"] == "omada_openapi"
    assert "client_secret" in required(result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], openapi_form(sim)
    )
    assert result["reason"] == "reconfigure_successful"
    stored = await api.request("GET", "/api/v1/settings/omada")
    assert stored["mode"] == "openapi"
    assert stored["username"] == sim.info["omada_username"]
    assert stored["password"] == "***"

    result = await config_entry.start_reconfigure_flow(hass)
    result = await choose(hass, result, "plume")
    assert result["step_id"] == "update_plume"
    assert "auth_header" not in required(result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**sim.plume_settings, "sso_url": "ftp://example.com/token"}
    )
    assert result["errors"] == {"base": "invalid_settings"}
    assert result["description_placeholders"]["message"] == "Invalid URL"
    settings = {k: v for k, v in sim.plume_settings.items() if k != "auth_header"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], settings)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"


async def test_reconfigure_settings_sidecar_down(
    hass: HomeAssistant, sidecar: Sidecar, config_entry: MockConfigEntry
) -> None:
    """Reconfiguring the controller needs the sidecar."""
    await setup_entry(hass, config_entry)
    await hass.async_add_executor_job(sidecar.kill)
    for path in (("omada", "omada_hotspot"), ("plume",)):
        result = await config_entry.start_reconfigure_flow(hass)
        for step in path:
            result = await choose(hass, result, step)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "cannot_connect"


def unit_form(**changes: Any) -> dict[str, Any]:
    """The unit form with its sections."""
    form: dict[str, Any] = {
        CONF_NAME: "Beach House",
        "omada_site": "Default",
        "networks": {
            "ssids": ["Beach Guest"],
            CONF_VLANS: ["20"],
            "ap_macs": ["aa:bb:cc:dd:ee:01"],
        },
        "plume": {},
        "bookings": {
            "checkin_grace_minutes": 30,
            "checkout_grace_minutes": 60,
            CONF_CALENDAR_ENTITY: "calendar.beach_house",
        },
        "guests": {},
        "wifi_passwords": {},
        "advanced": {},
    }
    form.update(changes)
    return form


async def test_unit_subentry_lifecycle(
    hass: HomeAssistant, sidecar: Sidecar, api: Api, config_entry: MockConfigEntry
) -> None:
    """Add (POST), reconfigure (GET + PATCH) and remove (DELETE) a unit through subentries."""
    await setup_entry(hass, config_entry)
    device_registry = dr.async_get(hass)

    result = await hass.config_entries.subentries.async_init(
        (config_entry.entry_id, SUBENTRY_UNIT), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert open_sections(result) == {"bookings"}
    bad_vlan = unit_form(networks={CONF_VLANS: ["twenty"]})
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], bad_vlan)
    assert result["type"] is FlowResultType.FORM
    # An error on a section is said at the top too, and its section opens: the form is
    # shown again scrolled to its first field (seen in the real UI: nothing visible).
    assert result["errors"] == {"base": "invalid_vlan", "networks": "invalid_vlan"}
    assert open_sections(result) == {"networks", "bookings"}

    # The sidecar's own validation (a unit id outside [a-z0-9_-]): on the field it names,
    # in words (the field's label is in the error's text, not the API's name of it).
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**unit_form(), CONF_UNIT_ID: "Bad Id!"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_UNIT_ID: "invalid_unit_id"}
    assert result["description_placeholders"]["message"].startswith("must ")
    assert open_sections(result) == {"bookings"}

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], unit_form()
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Beach House"
    # The subentry keeps the unit id and its calendar only; the rest is the sidecar's.
    assert result["data"] == {
        CONF_UNIT_ID: "beach-house",
        CONF_CALENDAR_ENTITY: "calendar.beach_house",
    }
    subentry_id = next(iter(config_entry.subentries))

    stored = await api.request("GET", "/api/v1/units/beach-house")
    assert stored["name"] == "Beach House"
    assert stored["vlans"] == [20]
    assert stored["ssids"] == ["Beach Guest"]
    assert stored["ap_macs"] == ["AA-BB-CC-DD-EE-01"]
    assert stored["checkin_grace_minutes"] == 30
    assert stored["checkout_grace_minutes"] == 60

    # Its device and entities appear, attached to the subentry.
    unique = f"{config_entry.unique_id}_beach-house"
    await wait_for(
        hass, lambda: device_registry.async_get_device(identifiers={(DOMAIN, unique)})
    )
    device = device_registry.async_get_device(identifiers={(DOMAIN, unique)})
    assert device.name == "Beach House"
    assert device.config_entries_subentries[config_entry.entry_id] == {subentry_id}

    # A unit id that is taken: 409 from the sidecar.
    result = await hass.config_entries.subentries.async_init(
        (config_entry.entry_id, SUBENTRY_UNIT), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], unit_form(**{CONF_NAME: "Again", CONF_UNIT_ID: "beach-house"})
    )
    assert result["errors"] == {"base": "rejected"}
    assert result["description_placeholders"]["message"]

    # A change made on the sidecar directly is what the form shows (it reads the sidecar).
    await api.request("PATCH", "/api/v1/units/beach-house", {"checkout_grace_minutes": 90})
    result = await config_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    shown = suggested(result)
    assert shown["checkout_grace_minutes"] == 90
    assert shown[CONF_VLANS] == ["20"]
    assert shown[CONF_CALENDAR_ENTITY] == "calendar.beach_house"

    changed = unit_form(
        **{CONF_NAME: "Beach House East"},
        networks={CONF_VLANS: ["20", "30"], "ssids": [], "ap_macs": []},
        bookings={"checkin_grace_minutes": 0, "checkout_grace_minutes": 15},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**changed, "networks": {CONF_VLANS: ["x"]}}
    )
    assert result["errors"] == {"base": "invalid_vlan", "networks": "invalid_vlan"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**changed, "networks": {"ap_macs": ["not-a-mac"]}}
    )
    # The section holding the access point MACs shows the sidecar's message, as the top.
    assert result["errors"] == {"base": "invalid_ap_macs", "networks": "invalid_ap_macs"}
    assert result["description_placeholders"]["message"]
    assert not result["description_placeholders"]["message"].startswith("ap_macs")
    assert "networks" in open_sections(result)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], changed
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.subentries[subentry_id].title == "Beach House East"
    # The calendar was cleared in the form: the subentry has the unit id only.
    assert config_entry.subentries[subentry_id].data == {CONF_UNIT_ID: "beach-house"}
    stored = await api.request("GET", "/api/v1/units/beach-house")
    assert stored["name"] == "Beach House East"
    assert stored["vlans"] == [20, 30]
    assert stored["checkout_grace_minutes"] == 15

    # Remove: DELETE ?force=true, and the device goes.
    assert hass.config_entries.async_remove_subentry(config_entry, subentry_id)
    await wait_for(
        hass,
        lambda: device_registry.async_get_device(identifiers={(DOMAIN, unique)}) is None,
    )

    async def _deleted() -> bool:
        return await status_of(api.session, sidecar, "/api/v1/units/beach-house") == 404

    await eventually(hass, _deleted)


async def test_units_of_the_sidecar_become_subentries(
    hass: HomeAssistant, sidecar: Sidecar, api: Api, http
) -> None:
    """Units created elsewhere are adopted as subentries (reconfigurable and deletable like
    the others); a unit deleted on the sidecar loses its subentry; old subentries that
    copied the unit's settings are slimmed to the unit id and calendar (migration 1.2)."""
    await api.create_unit(unit_id="cabin", name="Cabin")
    await api.create_unit(unit_id="loft", name="Loft")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Rental Wi-Fi",
        unique_id=await instance_id(http, sidecar),
        data={CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token},
        version=1,
        minor_version=1,
        subentries_data=[
            ConfigSubentryData(
                data={
                    CONF_UNIT_ID: "loft",
                    CONF_NAME: "Loft",
                    "omada_site": "Default",
                    "ssids": [],
                    CONF_CALENDAR_ENTITY: "calendar.loft",
                },
                subentry_type=SUBENTRY_UNIT,
                title="Loft",
                unique_id="loft",
            )
        ],
    )
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    assert entry.minor_version == 2
    assert entry.data[CONF_MODE] == MODE_EXTERNAL
    by_unit = {s.data[CONF_UNIT_ID]: s for s in entry.subentries.values()}
    assert set(by_unit) == {"cabin", "loft"}
    assert by_unit["loft"].data == {CONF_UNIT_ID: "loft", CONF_CALENDAR_ENTITY: "calendar.loft"}
    assert by_unit["cabin"].data == {CONF_UNIT_ID: "cabin"}
    assert by_unit["cabin"].title == "Cabin"

    device_registry = dr.async_get(hass)
    cabin = device_registry.async_get_device(
        identifiers={(DOMAIN, f"{entry.unique_id}_cabin")}
    )
    assert cabin.config_entries_subentries[entry.entry_id] == {by_unit["cabin"].subentry_id}

    # Created later through the API: adopted at the next update.
    await api.create_unit(unit_id="annex", name="Annex")
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    annex = next(s for s in entry.subentries.values() if s.unique_id == "annex")
    device = device_registry.async_get_device(
        identifiers={(DOMAIN, f"{entry.unique_id}_annex")}
    )
    assert device.config_entries_subentries[entry.entry_id] == {annex.subentry_id}

    # Reconfigure an adopted unit like any other.
    result = await entry.start_subentry_reconfigure_flow(hass, annex.subentry_id)
    assert suggested(result)[CONF_NAME] == "Annex"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], unit_form(**{CONF_NAME: "Garden Annex"}, networks={}, bookings={})
    )
    assert result["reason"] == "reconfigure_successful"
    assert (await api.request("GET", "/api/v1/units/annex"))["name"] == "Garden Annex"

    # Deleted on the sidecar: the subentry and the device go, no DELETE is attempted.
    await api.request("DELETE", "/api/v1/units/cabin?force=true")
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert "cabin" not in {s.unique_id for s in entry.subentries.values()}
    await wait_for(
        hass,
        lambda: device_registry.async_get_device(
            identifiers={(DOMAIN, f"{entry.unique_id}_cabin")}
        )
        is None,
    )
    assert entry.state is ConfigEntryState.LOADED


async def test_unit_form_finds_plume_ids_and_takes_a_time_zone(
    hass: HomeAssistant, sim: Sim, api: Api, config_entry: MockConfigEntry
) -> None:
    """The unit form fills in the Plume ids from a pod serial or an account id (issue 15
    item 5), says what it found when the answer is not one location, and shows the
    sidecar's message for a serial Plume does not know; the unit's own time zone is read
    and written like its other settings."""
    await api.configure(sim)
    await setup_entry(hass, config_entry)
    fine = sim.location("fine")

    async def submit(form: dict[str, Any], flow: dict | None = None) -> dict:
        if flow is None:
            flow = await hass.config_entries.subentries.async_init(
                (config_entry.entry_id, SUBENTRY_UNIT), context={"source": SOURCE_USER}
            )
        return await hass.config_entries.subentries.async_configure(flow["flow_id"], form)

    # A serial Plume does not know: the sidecar's words, naming it, and nothing created.
    result = await submit(unit_form(plume={"plume_serial": "NOSUCHPOD"}))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_field", "plume": "invalid_field"}
    assert "NOSUCHPOD" in result["description_placeholders"]["message"]
    assert "plume" in open_sections(result)
    assert await status_of(api.session, api.sidecar, "/api/v1/units/beach-house") == 404

    # The serial printed on a pod (any case) → its customer and location; the time zone too.
    serial = fine["node_serials"][1].lower()
    result = await submit(
        unit_form(time_zone="Europe/Lisbon", plume={"plume_serial": serial}), result
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"] == {
        CONF_UNIT_ID: "beach-house",
        CONF_CALENDAR_ENTITY: "calendar.beach_house",
    }
    stored = await api.request("GET", "/api/v1/units/beach-house")
    assert (stored["plume_customer_id"], stored["plume_location_id"]) == (
        fine["customer_id"],
        fine["location_id"],
    )
    assert stored["time_zone"] == "Europe/Lisbon"

    # The account id of a customer with several locations: its customer id is filled in and
    # its locations are listed; the host picks one.
    result = await submit(
        unit_form(
            **{CONF_NAME: "Loft", CONF_UNIT_ID: "loft"},
            plume={"plume_account_id": sim.info["plume_account_id"]},
        )
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "plume_pick_location", "plume": "plume_pick_location"}
    placeholders = result["description_placeholders"]
    assert placeholders["customer_id"] == sim.info["plume_customer_id"]
    for location in sim.info["plume_locations"]:
        assert location["location_id"] in placeholders["choices"]
    shown = suggested(result)
    assert shown["plume_customer_id"] == sim.info["plume_customer_id"]
    assert "plume_account_id" not in shown
    poor = sim.location("poor_health")
    result = await submit(
        unit_form(
            **{CONF_NAME: "Loft", CONF_UNIT_ID: "loft"},
            plume={
                "plume_customer_id": shown["plume_customer_id"],
                "plume_location_id": poor["location_id"],
            },
        ),
        result,
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    stored = await api.request("GET", "/api/v1/units/loft")
    assert stored["plume_location_id"] == poor["location_id"]
    assert stored["time_zone"] is None

    # A customer with one location: filled in at once.
    lone = {"customer_id": "64aaaaaaaaaaaaaaaaaa7777", "location_id": "64bbbbbbbbbbbbbbbbbb0001"}
    await sim.set_scenario(api.session, lone, "fine")
    result = await submit(
        unit_form(
            **{CONF_NAME: "Cabin", CONF_UNIT_ID: "cabin"},
            plume={"plume_account_id": "acct-7777"},
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    stored = await api.request("GET", "/api/v1/units/cabin")
    assert (stored["plume_customer_id"], stored["plume_location_id"]) == (
        lone["customer_id"],
        lone["location_id"],
    )

    # An account id nobody has, and one two customers share.
    result = await submit(
        unit_form(**{CONF_NAME: "Barn"}, plume={"plume_account_id": "acct-none"})
    )
    assert result["errors"] == {
        "base": "plume_account_unknown",
        "plume": "plume_account_unknown",
    }
    assert result["description_placeholders"]["account_id"] == "acct-none"
    twin = {"customer_id": "64cccccccccccccccccc7777", "location_id": "64dddddddddddddddddd0001"}
    await sim.set_scenario(api.session, twin, "fine")
    result = await submit(
        unit_form(**{CONF_NAME: "Barn"}, plume={"plume_account_id": "acct-7777"}), result
    )
    assert result["errors"] == {
        "base": "plume_account_ambiguous",
        "plume": "plume_account_ambiguous",
    }
    assert lone["customer_id"] in result["description_placeholders"]["choices"]
    assert twin["customer_id"] in result["description_placeholders"]["choices"]

    # Reconfigure: the form shows the unit's zone; a zone that does not exist is refused
    # with the sidecar's message; a blank zone means Home Assistant's (the property's).
    subentry_id = next(
        s.subentry_id for s in config_entry.subentries.values() if s.unique_id == "beach-house"
    )
    result = await config_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    shown = suggested(result)
    assert shown["time_zone"] == "Europe/Lisbon"
    assert shown["plume_location_id"] == fine["location_id"]
    form = unit_form(
        time_zone="Mars/Olympus_Mons",
        plume={
            "plume_customer_id": fine["customer_id"],
            "plume_location_id": fine["location_id"],
        },
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], form)
    assert result["errors"] == {"time_zone": "invalid_time_zone"}
    assert "Mars/Olympus_Mons" in result["description_placeholders"]["message"]
    assert not result["description_placeholders"]["message"].startswith("time_zone")
    assert (await api.request("GET", "/api/v1/units/beach-house"))["time_zone"] == (
        "Europe/Lisbon"
    )
    form.pop("time_zone")
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert (await api.request("GET", "/api/v1/units/beach-house"))["time_zone"] is None
