"""Config flow, reauth, reconfigure and unit subentries against the real sidecar."""

from __future__ import annotations

from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_NAME, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr

from custom_components.rental_wifi.const import (
    CONF_API_TOKEN,
    CONF_CALENDAR_ENTITY,
    CONF_UNIT_ID,
    CONF_VLANS,
    DOMAIN,
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


async def _start(hass: HomeAssistant) -> dict:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result


async def test_full_flow_with_errors_and_recovery(
    hass: HomeAssistant, sidecar: Sidecar, sim: Sim, api: Api, http
) -> None:
    """URL/token errors, the controller's and Plume's messages on the form, then success."""
    result = await _start(hass)

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
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "controller"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "omada"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "omada"

    # Wrong controller password: the sidecar's message is shown.
    wrong = {**sim.omada_settings, "password": "not-the-password"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], wrong)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "rejected"}
    assert result["description_placeholders"]["message"]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], sim.omada_settings
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "plume_menu"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "plume"}
    )
    assert result["step_id"] == "plume"

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
    assert result["title"] == "Rental Wi-Fi"
    assert result["data"] == {CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token}
    assert result["result"].unique_id == await instance_id(http, sidecar)
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED

    omada = await api.request("GET", "/api/v1/settings/omada")
    assert omada["base_url"] == sim.info["omada_url"]
    assert omada["password"] == "***"
    plume = await api.request("GET", "/api/v1/settings/plume")
    assert plume["partner_id"] == sim.info["plume_partner_id"]


async def test_flow_skip_controller_and_plume(hass: HomeAssistant, sidecar: Sidecar) -> None:
    """Both settings steps can be skipped."""
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "plume_menu"}
    )
    assert result["step_id"] == "plume_menu"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "finish"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_flow_controller_unreachable(
    hass: HomeAssistant, sidecar: Sidecar, sim: Sim
) -> None:
    """A controller that does not answer: 503 from the sidecar, shown on the form."""
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "omada"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**sim.omada_settings, "base_url": UNREACHABLE}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "upstream_unavailable"}
    assert result["description_placeholders"]["message"]


async def test_flow_already_configured(
    hass: HomeAssistant, sidecar: Sidecar, config_entry: MockConfigEntry
) -> None:
    """The same sidecar (instance id) cannot be added twice."""
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


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
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_connection"}
    )
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
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "reconfigure_connection"}
        )
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
    """Controller and Plume settings: pre-filled without secrets; blank secret keeps it."""
    await api.configure(sim)
    await setup_entry(hass, config_entry)

    result = await config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_omada"}
    )
    assert result["step_id"] == "reconfigure_omada"
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested["base_url"] == sim.info["omada_url"]
    assert "password" not in suggested

    # Wrong password: the sidecar refuses and keeps the old settings.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**sim.omada_settings, "password": "nope"}
    )
    assert result["errors"] == {"base": "rejected"}
    # Blank password: the stored one is kept ("***").
    settings = {k: v for k, v in sim.omada_settings.items() if k != "password"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], settings)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"

    result = await config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure_plume"}
    )
    assert result["step_id"] == "reconfigure_plume"
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
    for step in ("reconfigure_omada", "reconfigure_plume"):
        result = await config_entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": step}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "cannot_connect"


async def test_unit_subentry_lifecycle(
    hass: HomeAssistant, sidecar: Sidecar, api: Api, config_entry: MockConfigEntry
) -> None:
    """Add (POST), reconfigure (PATCH) and remove (DELETE) a unit through subentries."""
    await setup_entry(hass, config_entry)
    device_registry = dr.async_get(hass)

    result = await hass.config_entries.subentries.async_init(
        (config_entry.entry_id, SUBENTRY_UNIT), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    unit = {
        CONF_NAME: "Beach House",
        "omada_site": "Default",
        "ssids": ["Beach Guest"],
        CONF_VLANS: ["twenty"],
        "ap_macs": ["aa:bb:cc:dd:ee:01"],
        "checkin_grace_minutes": 30,
        "checkout_grace_minutes": 60,
        CONF_CALENDAR_ENTITY: "calendar.beach_house",
    }
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], unit)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_VLANS: "invalid_vlan"}

    # The sidecar's own validation (a unit id outside [a-z0-9_-]).
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**unit, CONF_VLANS: ["20"], CONF_UNIT_ID: "Bad Id!"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_settings"}
    assert result["description_placeholders"]["message"]

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**unit, CONF_VLANS: ["20"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Beach House"
    assert result["data"][CONF_UNIT_ID] == "beach-house"
    assert result["data"][CONF_VLANS] == [20]
    assert result["data"][CONF_CALENDAR_ENTITY] == "calendar.beach_house"
    subentry_id = next(iter(config_entry.subentries))

    stored = await api.request("GET", "/api/v1/units/beach-house")
    assert stored["name"] == "Beach House"
    assert stored["vlans"] == [20]
    assert stored["ap_macs"] == ["AA-BB-CC-DD-EE-01"]
    assert stored["checkin_grace_minutes"] == 30

    # Its device and entities appear, attached to the subentry.
    unique = f"{config_entry.unique_id}_beach-house"
    await wait_for(
        hass, lambda: device_registry.async_get_device(identifiers={(DOMAIN, unique)})
    )
    device = device_registry.async_get_device(identifiers={(DOMAIN, unique)})
    assert device.name == "Beach House"
    assert subentry_id in device.config_entries_subentries[config_entry.entry_id]

    # A unit id that is taken: 409 from the sidecar.
    result = await hass.config_entries.subentries.async_init(
        (config_entry.entry_id, SUBENTRY_UNIT), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Again", CONF_UNIT_ID: "beach-house"}
    )
    assert result["errors"] == {"base": "rejected"}
    assert result["description_placeholders"]["message"]

    # Reconfigure: PATCH.
    result = await config_entry.start_subentry_reconfigure_flow(hass, subentry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    changed = {**unit, CONF_NAME: "Beach House East", CONF_VLANS: ["20", "30"]}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**changed, CONF_VLANS: ["x"]}
    )
    assert result["errors"] == {CONF_VLANS: "invalid_vlan"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**changed, "ap_macs": ["not-a-mac"]}
    )
    assert result["errors"] == {"base": "invalid_settings"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], changed
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.subentries[subentry_id].title == "Beach House East"
    assert config_entry.subentries[subentry_id].data[CONF_VLANS] == [20, 30]
    stored = await api.request("GET", "/api/v1/units/beach-house")
    assert stored["name"] == "Beach House East"
    assert stored["vlans"] == [20, 30]

    # Remove: DELETE ?force=true, and the device goes.
    assert hass.config_entries.async_remove_subentry(config_entry, subentry_id)
    await wait_for(
        hass,
        lambda: device_registry.async_get_device(identifiers={(DOMAIN, unique)}) is None,
    )
    async def _deleted() -> bool:
        return await status_of(api.session, sidecar, "/api/v1/units/beach-house") == 404

    await eventually(hass, _deleted)
