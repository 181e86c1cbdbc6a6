"""The controller steps of the config flow against the real sidecar and the simulated controller.

An untrusted certificate (CONTRACTS §4): the "trust this certificate?" step, pinning, declining.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path

import pytest

from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.rental_wifi.config_flow import _certificate_step, _fingerprint
from custom_components.rental_wifi.const import CONF_API_TOKEN

from .conftest import SIDECAR_BIN, Api, Process, Sidecar, Sim, _info_line
from .test_config_flow import choose, hotspot_form, open_sections, start_external


@pytest.fixture
def tls_sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sim]:
    """The simulated controller over HTTPS with a self-signed certificate without names."""
    monkeypatch.setenv("RENTAL_WIFI_SIM_OMADA_TLS", "factory-like")
    process = Process([SIDECAR_BIN, "sim"], tmp_path / "tls-sim.log")
    try:
        line = process.wait_for_line(_info_line)
        yield Sim(process=process, info=json.loads(line))
    finally:
        process.stop()


async def _to_hotspot_form(hass: HomeAssistant, sidecar: Sidecar) -> dict:
    result = await start_external(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sidecar.url, CONF_API_TOKEN: sidecar.token}
    )
    return await choose(hass, await choose(hass, result, "omada"), "omada_hotspot")


async def test_untrusted_certificate_shown_then_pinned(
    hass: HomeAssistant, sidecar: Sidecar, tls_sim: Sim, api: Api
) -> None:
    """Verification on (the default): the certificate is shown; trusting it pins its SHA-256."""
    sha256 = tls_sim.info["omada_cert_sha256"]
    assert tls_sim.info["omada_url"].startswith("https://")
    result = await _to_hotspot_form(hass, sidecar)
    form = hotspot_form(tls_sim, advanced={"verify_tls": True, "auth_time_unit": "ms"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)

    # No names on it and not TP-Link's own: a CA file cannot help, pinning is the way.
    assert result["type"] is FlowResultType.MENU, result
    assert result["step_id"] == "omada_certificate_no_names"
    assert result["menu_options"] == ["omada_trust", "omada_retry"]
    shown = result["description_placeholders"]
    assert shown["sha256"] == _fingerprint(sha256)
    first, second = shown["sha256"].split("\n")
    assert len(first) == len(second) == 16 * 3 - 1  # whole bytes on each line
    assert (first + second).replace(":", "").lower() == sha256
    assert "TP-Link" in shown["subject"]
    assert shown["san"] == "-"
    assert shown["docs"].endswith("omada-setup.md#5-the-certificate")

    # Nothing was stored by the refused test.
    await api.request("GET", "/api/v1/settings/omada", expect=404)

    result = await choose(hass, result, "omada_trust")
    assert result["type"] is FlowResultType.MENU, result
    assert result["step_id"] == "plume_menu"
    omada = await api.request("GET", "/api/v1/settings/omada")
    assert omada["cert_sha256"] == sha256
    assert omada["verify_tls"] is True
    assert omada["username"] == tls_sim.info["omada_username"]
    assert omada["password"] == "***"


async def test_untrusted_certificate_declined_returns_to_the_form(
    hass: HomeAssistant, sidecar: Sidecar, tls_sim: Sim, api: Api
) -> None:
    """Declining goes back to the form as it was filled in; nothing is stored."""
    result = await _to_hotspot_form(hass, sidecar)
    form = hotspot_form(tls_sim, advanced={"verify_tls": True, "auth_time_unit": "ms"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["step_id"] == "omada_certificate_no_names"
    result = await choose(hass, result, "omada_retry")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "omada_hotspot"
    # Said why nothing was saved (and why the password is empty), with the certificate
    # options open: back to the same form without a word left the host guessing.
    assert result["errors"] == {"base": "certificate_not_trusted"}
    assert open_sections(result) == {"advanced"}
    values = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert values["base_url"] == tls_sim.info["omada_url"]
    assert values["username"] == tls_sim.info["omada_username"]
    assert "password" not in values  # a secret is never sent back to the browser
    await api.request("GET", "/api/v1/settings/omada", expect=404)

    # The same form once more: the same question (it was not pinned).
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["step_id"] == "omada_certificate_no_names"


async def test_named_certificate_offers_a_ca_too(
    hass: HomeAssistant, sidecar: Sidecar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certificate with names: its names are shown and the step with the CA alternative."""
    monkeypatch.setenv("RENTAL_WIFI_SIM_OMADA_TLS", "named")
    process = Process([SIDECAR_BIN, "sim"], tmp_path / "named-sim.log")
    try:
        sim = Sim(process=process, info=json.loads(process.wait_for_line(_info_line)))
        result = await _to_hotspot_form(hass, sidecar)
        form = hotspot_form(sim, advanced={"verify_tls": True, "auth_time_unit": "ms"})
        result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
        assert result["step_id"] == "omada_certificate", result
        assert "127.0.0.1" in result["description_placeholders"]["san"]
    finally:
        process.stop()


def test_factory_certificate_has_its_own_words() -> None:
    """TP-Link's factory certificate: the step says what a pin of it is worth, and links the fix."""
    strings = json.loads(
        (
            Path(__file__).parents[2] / "custom_components/rental_wifi/strings.json"
        ).read_text()
    )
    steps = strings["config"]["step"]
    factory = steps["omada_factory_certificate"]["description"]
    assert "not against an attacker" in factory
    assert "({docs})" in factory
    assert "CA certificate" not in factory  # no CA file for a certificate without names
    assert "cannot verify it" in steps["omada_certificate_no_names"]["description"]
    assert "Instead of a pin" in steps["omada_certificate"]["description"]
    assert "Instead of a pin" not in steps["omada_certificate_no_names"]["description"]
    # The sidecar's report decides which words are shown.
    factory = {"sha256": "29" * 32, "san": [], "factory_default": True}
    assert _certificate_step(factory) == "omada_factory_certificate"
    named = {"sha256": "ab" * 32, "san": ["omada.lan"], "factory_default": False}
    assert _certificate_step(named) == "omada_certificate"
    assert _certificate_step({**named, "san": []}) == "omada_certificate_no_names"
    assert _fingerprint("0a" * 32) == "\n".join([":".join(["0A"] * 16)] * 2)


async def test_open_api_offers_the_dedicated_hotspot_operator(
    hass: HomeAssistant, sidecar: Sidecar, sim: Sim, api: Api, config_entry
) -> None:
    """With units on a site, saving the Open API app offers to create the sidecar's own
    hotspot operator; a refusal is shown with the sidecar's words, then it is created."""
    from .conftest import setup_entry
    from .test_config_flow import openapi_form

    await setup_entry(hass, config_entry)
    # No unit yet: nothing to create the operator for, so nothing is offered.
    result = await config_entry.start_reconfigure_flow(hass)
    result = await choose(hass, await choose(hass, result, "omada"), "omada_openapi")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], openapi_form(sim)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"

    await api.request(
        "POST",
        "/api/v1/units",
        {"name": "Beach House", "omada_site": "Default"},
        expect=201,
    )
    async def save_open_api() -> dict:
        result = await config_entry.start_reconfigure_flow(hass)
        result = await choose(hass, await choose(hass, result, "omada"), "omada_openapi")
        return await hass.config_entries.flow.async_configure(
            result["flow_id"], openapi_form(sim, client_secret=None)
        )

    # "Not now" leaves the settings as saved.
    result = await save_open_api()
    assert result["step_id"] == "omada_operator_offer"
    assert result["description_placeholders"]["docs"].endswith("omada-setup.md#2-credentials-a-hotspot-operator-and-an-open-api-app")
    result = await choose(hass, result, "omada_done")
    assert result["reason"] == "reconfigure_successful"
    assert not (await api.request("GET", "/api/v1/settings/omada")).get("username")

    result = await save_open_api()
    assert result["type"] is FlowResultType.MENU, result
    assert result["step_id"] == "omada_operator_offer"
    assert result["menu_options"] == ["omada_operator", "omada_done"]

    # A unit on a site the controller does not have: the sidecar's words, and a retry.
    await api.request(
        "POST",
        "/api/v1/units?validate=false",
        {"name": "Lake", "omada_site": "Nowhere"},
        expect=201,
    )
    result = await choose(hass, result, "omada_operator")
    assert result["type"] is FlowResultType.MENU, result
    assert result["step_id"] == "omada_operator_failed"
    assert "Nowhere" in result["description_placeholders"]["message"]
    await api.request("DELETE", "/api/v1/units/lake", expect=204)
    result = await choose(hass, result, "omada_operator")
    assert result["type"] is FlowResultType.ABORT, result
    assert result["reason"] == "operator_created"
    name = result["description_placeholders"]["name"]
    assert name.startswith("rental-wifi")
    stored = await api.request("GET", "/api/v1/settings/omada")
    assert stored["username"] == name
    assert stored["password"] == "***"
    assert stored["mode"] == "auto"

    # With an operator in place, the offer names it and says what creating one changes
    # (offering "a hotspot operator of its own" as if there were none misled the host).
    result = await save_open_api()
    assert result["step_id"] == "omada_operator_replace"
    assert result["menu_options"] == ["omada_operator", "omada_done"]
    assert result["description_placeholders"]["name"] == name
    result = await choose(hass, result, "omada_done")
    assert result["reason"] == "reconfigure_successful"
    assert (await api.request("GET", "/api/v1/settings/omada"))["username"] == name


async def test_a_new_controller_url_is_asked_for_its_own_id(
    hass: HomeAssistant, sidecar: Sidecar, sim: Sim, tls_sim: Sim, api: Api, config_entry
) -> None:
    """The form shows the controller ID the sidecar found at the stored address; a new
    address (another controller) must not get it: the sidecar asks the new one. Seen in the
    real UI: "The controller reports ID …; leave the field empty to use it", about a field
    in a collapsed section the host never typed."""
    from .conftest import setup_entry
    from .test_config_flow import suggested

    await api.configure(sim, plume=False)
    await setup_entry(hass, config_entry)
    result = await config_entry.start_reconfigure_flow(hass)
    result = await choose(hass, await choose(hass, result, "omada"), "omada_hotspot")
    assert result["step_id"] == "update_omada_hotspot"
    shown = suggested(result)
    assert shown["controller_id"] == sim.info["omada_controller_id"]
    assert sim.info["omada_controller_id"] != tls_sim.info["omada_controller_id"]
    form = {
        "base_url": tls_sim.info["omada_url"],
        "username": shown["username"],
        "advanced": {
            "controller_id": shown["controller_id"],
            "verify_tls": True,
            "cert_sha256": tls_sim.info["omada_cert_sha256"],
            "auth_time_unit": "ms",
        },
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.ABORT, result
    assert result["reason"] == "reconfigure_successful"
    stored = await api.request("GET", "/api/v1/settings/omada")
    assert stored["base_url"] == tls_sim.info["omada_url"]
    assert stored["controller_id"] == tls_sim.info["omada_controller_id"]

    # An ID the host types with the new URL is sent as typed (and refused when wrong, with
    # the certificate options open where the field is).
    result = await config_entry.start_reconfigure_flow(hass)
    result = await choose(hass, await choose(hass, result, "omada"), "omada_hotspot")
    typed = {
        **form,
        "base_url": sim.info["omada_url"],
        "advanced": {"controller_id": "0123456789abcdef0123456789abcdef", "verify_tls": False, "auth_time_unit": "ms"},
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], typed)
    assert result["type"] is FlowResultType.FORM, result
    assert result["errors"] == {"base": "invalid_settings"}
    assert tls_sim.info["omada_controller_id"] not in result["description_placeholders"]["message"]
    assert sim.info["omada_controller_id"] in result["description_placeholders"]["message"]
    assert open_sections(result) == {"advanced"}
