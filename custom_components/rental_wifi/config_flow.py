"""Config flow: run or connect to the sidecar, hand it the controller and Plume settings, units.

Set-up: ``user`` (menu: run the sidecar here, or connect to one elsewhere) → ``managed``
(portal port; the sidecar is started for the rest of the flow) or ``external`` (URL and
token) → ``controller`` (menu) → ``omada`` (menu: which controller login) →
``omada_hotspot``/``omada_openapi`` → ``plume_menu`` → ``plume`` → the entry.

A settings form exists twice: ``omada_hotspot`` and ``update_omada_hotspot`` (likewise
``omada_openapi``, ``plume``). The ``update_`` form is shown when the sidecar already stores
that form's secret: then the secret may be left blank to keep it, and only then does the
form say so. Both handle set-up and reconfiguration alike.

The unit form (a subentry) may name a pod serial or a Plume account id instead of the Plume
ids: the sidecar's look-up routes fill them in before the unit is saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
import zoneinfo

import voluptuous as vol
from yarl import URL

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.loader import async_get_integration

from .api import (
    RentalWifiApiError,
    RentalWifiAuthError,
    RentalWifiClient,
    RentalWifiConnectionError,
    RentalWifiError,
)
from .const import (
    CONF_AP_MACS,
    CONF_API_TOKEN,
    CONF_CALENDAR_ENTITY,
    CONF_CHECKIN_GRACE,
    CONF_CHECKOUT_GRACE,
    CONF_MODE,
    CONF_OMADA_SITE,
    CONF_PLUME_CUSTOMER_ID,
    CONF_PLUME_LOCATION_ID,
    CONF_PORTAL_PORT,
    CONF_SSIDS,
    CONF_TIME_ZONE,
    CONF_UNIT_ID,
    CONF_VLANS,
    DOMAIN,
    LOGGER,
    MODE_EXTERNAL,
    MODE_MANAGED,
    OMADA_TIME_UNITS,
    SECRET_PLACEHOLDER,
    SUBENTRY_UNIT,
)
from .helpers import client_for_entry, is_managed, managed_entries
from .managed import (
    DEFAULT_PORTAL_PORT,
    ManagedConfig,
    ManagedSidecar,
    SidecarStartError,
    async_find_checked_binary,
    data_dir_for,
    new_token,
    port_is_free,
    read_token,
)
from .models import Unit
from .snapshot import MARKER_NAME

DEFAULT_URL = "http://127.0.0.1:8765"
DOCS = "https://github.com/rental-wifi/rental-wifi/blob/main/docs/omada-setup.md"
DOCS_CERTIFICATE = f"{DOCS}#5-the-certificate"
DOCS_SITE_IDS = f"{DOCS}#site-ids"
DOCS_OPERATOR = f"{DOCS}#2-credentials-a-hotspot-operator-and-an-open-api-app"

# Controller settings (PUT /api/v1/settings/omada).
CONF_BASE_URL = "base_url"
CONF_CONTROLLER_ID = "controller_id"
CONF_USERNAME = "username"
CONF_PASSWORD = "password"
CONF_CLIENT_ID = "client_id"
CONF_CLIENT_SECRET = "client_secret"
CONF_VERIFY_TLS = "verify_tls"
CONF_CERT_SHA256 = "cert_sha256"
CONF_CA_CERT_PEM = "ca_cert_pem"
CONF_AUTH_TIME_UNIT = "auth_time_unit"
HOTSPOT = "hotspot"
OPENAPI = "openapi"

# Plume settings (PUT /api/v1/settings/plume).
CONF_SSO_URL = "sso_url"
CONF_AUTH_HEADER = "auth_header"
CONF_PARTNER_ID = "partner_id"
CONF_API_BASE = "api_base"
CONF_POLL_INTERVAL = "poll_interval_seconds"

# Sections of the forms (collapsed groups of fields).
SECTION_ADVANCED = "advanced"
SECTION_NETWORKS = "networks"
SECTION_PLUME = "plume"
SECTION_BOOKINGS = "bookings"

# Look-up aids in the unit form's Plume section: they fill in the ids and are never stored.
CONF_PLUME_SERIAL = "plume_serial"
CONF_PLUME_ACCOUNT_ID = "plume_account_id"

_TEXT = TextSelector()
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_SECRET = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_MULTILINE = TextSelector(TextSelectorConfig(multiline=True))
_LIST = TextSelector(TextSelectorConfig(multiple=True))
_GRACE = NumberSelector(
    NumberSelectorConfig(
        min=0, max=1440, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="min"
    )
)
_PORT = NumberSelector(
    NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
)


def _shown(values: Mapping[str, Any]) -> dict[str, Any]:
    """Stored settings to pre-fill a form with (secrets are never shown back)."""
    return {
        key: value
        for key, value in values.items()
        if value is not None and value != SECRET_PLACEHOLDER
    }


def _stored(settings: Mapping[str, Any] | None, key: str) -> bool:
    return bool(settings) and settings.get(key) == SECRET_PLACEHOLDER


def _external_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_URL, default=DEFAULT_URL): _URL,
            vol.Required(CONF_API_TOKEN): _SECRET,
        }
    )


def _managed_schema() -> vol.Schema:
    return vol.Schema(
        {vol.Required(CONF_PORTAL_PORT, default=DEFAULT_PORTAL_PORT): _PORT}
    )


def _tls_fields(*, time_unit: bool) -> dict[Any, Any]:
    fields: dict[Any, Any] = {
        vol.Optional(CONF_CONTROLLER_ID): _TEXT,
        vol.Required(CONF_VERIFY_TLS, default=True): BooleanSelector(),
        vol.Optional(CONF_CERT_SHA256): _TEXT,
        vol.Optional(CONF_CA_CERT_PEM): _MULTILINE,
    }
    if time_unit:
        fields[vol.Required(CONF_AUTH_TIME_UNIT, default="ms")] = SelectSelector(
            SelectSelectorConfig(
                options=OMADA_TIME_UNITS,
                translation_key="auth_time_unit",
                mode=SelectSelectorMode.DROPDOWN,
            )
        )
    return fields


def _secret_field(key: str, *, stored: bool) -> vol.Marker:
    """A secret is required unless the sidecar already has one (blank keeps it)."""
    return vol.Optional(key) if stored else vol.Required(key)


def _omada_schema(login: str, *, stored: bool, advanced_open: bool = False) -> vol.Schema:
    if login == HOTSPOT:
        credentials = {
            vol.Required(CONF_USERNAME): _TEXT,
            _secret_field(CONF_PASSWORD, stored=stored): _SECRET,
        }
    else:
        credentials = {
            vol.Required(CONF_CLIENT_ID): _TEXT,
            _secret_field(CONF_CLIENT_SECRET, stored=stored): _SECRET,
        }
    return vol.Schema(
        {
            vol.Required(CONF_BASE_URL): _URL,
            **credentials,
            vol.Required(SECTION_ADVANCED): section(
                vol.Schema(_tls_fields(time_unit=login == HOTSPOT)),
                {"collapsed": not advanced_open},
            ),
        }
    )


def _plume_schema(*, stored: bool) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_SSO_URL): _URL,
            _secret_field(CONF_AUTH_HEADER, stored=stored): _SECRET,
            vol.Required(CONF_PARTNER_ID): _TEXT,
            vol.Required(CONF_API_BASE): _URL,
            vol.Required(CONF_POLL_INTERVAL, default=60): NumberSelector(
                NumberSelectorConfig(
                    min=10,
                    max=3600,
                    step=1,
                    mode=NumberSelectorMode.BOX,
                    unit_of_measurement="s",
                )
            ),
        }
    )


# Which secret each settings form carries, and the other login's fields it must keep.
_OMADA_SECRET = {HOTSPOT: CONF_PASSWORD, OPENAPI: CONF_CLIENT_SECRET}
_OMADA_OTHER = {
    HOTSPOT: (CONF_CLIENT_ID, CONF_CLIENT_SECRET),
    OPENAPI: (CONF_USERNAME, CONF_PASSWORD),
}


def _omada_body(
    login: str, user_input: Mapping[str, Any], stored: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The PUT body of a controller form.

    The form's login decides the mode; the stored credentials of the other login are kept
    (a secret as ``***``, which the sidecar reads as "keep"). A blank secret keeps the
    stored one.
    """
    flat = {**user_input, **user_input.get(SECTION_ADVANCED, {})}
    flat.pop(SECTION_ADVANCED, None)
    body: dict[str, Any] = {CONF_MODE: login}
    for key, value in flat.items():
        if value is None or value == "":
            continue
        body[key] = value
    if (
        stored
        and body.get(CONF_CONTROLLER_ID) == stored.get(CONF_CONTROLLER_ID)
        and _same_url(body.get(CONF_BASE_URL), stored.get(CONF_BASE_URL)) is False
    ):
        # The form shows the ID the sidecar found at the old address: a controller at a
        # new one is asked for its own (an ID typed together with the new URL is kept).
        body.pop(CONF_CONTROLLER_ID, None)
    secret = _OMADA_SECRET[login]
    if secret not in body and _stored(stored, secret):
        body[secret] = SECRET_PLACEHOLDER
    for key in _OMADA_OTHER[login]:
        if stored and stored.get(key):
            body[key] = stored[key]
    return body


def _same_url(new: Any, old: Any) -> bool | None:
    """Whether two controller URLs are the same (None when one is missing)."""
    if not new or not old:
        return None
    return str(new).rstrip("/").lower() == str(old).rstrip("/").lower()


def _plume_body(
    user_input: Mapping[str, Any], stored: Mapping[str, Any] | None
) -> dict[str, Any]:
    body = {
        key: (int(value) if key == CONF_POLL_INTERVAL else value)
        for key, value in user_input.items()
        if value is not None and value != ""
    }
    if CONF_AUTH_HEADER not in body and _stored(stored, CONF_AUTH_HEADER):
        body[CONF_AUTH_HEADER] = SECRET_PLACEHOLDER
    return body


def _omada_suggested(stored: Mapping[str, Any]) -> dict[str, Any]:
    shown = _shown(stored)
    advanced = {
        key: shown[key]
        for key in (
            CONF_CONTROLLER_ID,
            CONF_VERIFY_TLS,
            CONF_CERT_SHA256,
            CONF_CA_CERT_PEM,
            CONF_AUTH_TIME_UNIT,
        )
        if key in shown
    }
    return {**shown, SECTION_ADVANCED: advanced}


_OMADA_ADVANCED = {
    CONF_CONTROLLER_ID,
    CONF_VERIFY_TLS,
    CONF_CERT_SHA256,
    CONF_CA_CERT_PEM,
    CONF_AUTH_TIME_UNIT,
}


def _untrusted(err: RentalWifiApiError) -> bool:
    """A refusal the host can settle by pinning the certificate it names."""
    return (
        err.code == "tls_untrusted"
        and isinstance(err.certificate, dict)
        and bool(err.certificate.get("sha256"))
    )


def _certificate_step(certificate: Mapping[str, Any]) -> str:
    """Which "trust this certificate?" words fit: TP-Link's own, one with names, one without.

    Only a certificate with names (subject alternative names) can be verified by a CA file,
    so only that step mentions one.
    """
    if certificate.get("factory_default"):
        return "omada_factory_certificate"
    if certificate.get("san"):
        return "omada_certificate"
    return "omada_certificate_no_names"


def _fingerprint(sha256: str) -> str:
    """A SHA-256 the way browsers show it (AB:CD:…), easier to compare by eye, in two
    lines of 16 bytes: as one word the frontend broke it anywhere, splitting a byte
    ("…:9F:C" / "A:E7:…"); a line of 16 fits a phone."""
    digits = sha256.upper()
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    return "\n".join(":".join(pairs[i : i + 16]) for i in range(0, len(pairs), 16))


def _api_error(err: RentalWifiError) -> tuple[dict[str, str], dict[str, str]]:
    """Map a client error to form errors (base) and the placeholder with the message."""
    if isinstance(err, RentalWifiAuthError):
        return {"base": "invalid_auth"}, {}
    if isinstance(err, RentalWifiApiError):
        if err.status == 400:
            key = "invalid_settings"
        elif err.status == 503:
            key = "upstream_unavailable"
        elif err.status < 500:
            key = "rejected"
        else:
            key = "sidecar_error"
        return {"base": key}, {"message": err.message}
    return {"base": "cannot_connect"}, {}


async def _validate_connection(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> tuple[str | None, dict[str, str]]:
    """Check URL and token: GET /api/v1/info (no auth), then GET /api/v1/state."""
    client = client_for_entry(hass, user_input)
    try:
        info = await client.get_info()
        await client.get_state()
    except RentalWifiAuthError:
        return None, {"base": "invalid_auth"}
    except RentalWifiConnectionError:
        return None, {"base": "cannot_connect"}
    except RentalWifiError:
        LOGGER.exception("Unexpected answer from the sidecar")
        return None, {"base": "unknown"}
    return info.instance_id, {}


def _entry_title(data: Mapping[str, Any]) -> str:
    """The sidecar Home Assistant runs is "Rental Wi-Fi"; one elsewhere says where it is
    (a host with two properties has two entries)."""
    if data.get(CONF_MODE) == MODE_MANAGED:
        return "Rental Wi-Fi"
    host = URL(str(data.get(CONF_URL, ""))).host
    return f"Rental Wi-Fi ({host})" if host else "Rental Wi-Fi"


def loaded_client(hass: HomeAssistant, entry: ConfigEntry) -> RentalWifiClient | None:
    """The client a flow on an existing entry talks through (None: no sidecar to talk to)."""
    if entry.state is ConfigEntryState.LOADED:
        return entry.runtime_data.client
    if is_managed(entry):
        return None  # its sidecar runs only while the entry is loaded
    return client_for_entry(hass, entry.data)


class RentalWifiConfigFlow(ConfigFlow, domain=DOMAIN):
    """Handle a config flow for Rental Wi-Fi."""

    VERSION = 1
    MINOR_VERSION = 2

    def __init__(self) -> None:
        """Initialize the flow."""
        self._data: dict[str, Any] = {}
        self._sidecar: ManagedSidecar | None = None
        self._stored: Mapping[str, Any] | None = None
        # A PUT refused for an untrusted certificate: (login, form, body, certificate).
        self._untrusted: (
            tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]] | None
        ) = None
        # The form to show again after "do not trust".
        self._retry_input: dict[str, Any] | None = None
        # The hotspot operator the sidecar logs in with (offer of a dedicated one).
        self._operator = ""

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Rental units are subentries."""
        return {SUBENTRY_UNIT: UnitSubentryFlow}

    def _client(self) -> RentalWifiClient | None:
        if self.source == SOURCE_RECONFIGURE:
            return loaded_client(self.hass, self._get_reconfigure_entry())
        if self._sidecar is not None:
            return RentalWifiClient(
                url=str(self._sidecar.url),
                token=self._data[CONF_API_TOKEN],
                session=async_get_clientsession(self.hass),
            )
        return client_for_entry(self.hass, self._data)

    @callback
    def async_remove(self) -> None:
        """The flow ends (finished, aborted or closed): stop a sidecar it started."""
        if self._sidecar is not None:
            sidecar, self._sidecar = self._sidecar, None
            self.hass.async_create_task(sidecar.async_stop(), eager_start=True)

    # --- set-up: how the sidecar runs -------------------------------------------------

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Run the sidecar in Home Assistant (recommended), or connect to one elsewhere.

        When Home Assistant already runs one, only the second is offered (with the reason):
        offering the first would lead to a dead end.
        """
        if managed_entries(self.hass):
            return self.async_show_menu(step_id="user_another", menu_options=["external"])
        return self.async_show_menu(step_id="user", menu_options=["managed", "external"])

    async_step_user_another = async_step_user

    async def async_step_managed(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Start the sidecar here: the portal port; data under the config dir.

        Only once per Home Assistant: it has one data directory and one portal port. A
        second property (another controller) connects to a sidecar running elsewhere.
        """
        if managed_entries(self.hass):
            return self.async_abort(reason="managed_already")
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"message": "", "path": "", "version": ""}
        if user_input is not None:
            port = int(user_input[CONF_PORTAL_PORT])
            errors, found = await self._async_start_managed(port)
            placeholders.update(found)
            if not errors:
                return await self.async_step_controller()
        return self.async_show_form(
            step_id="managed",
            data_schema=self.add_suggested_values_to_schema(_managed_schema(), user_input),
            errors=errors,
            description_placeholders={
                **placeholders,
                "data_dir": str(data_dir_for(self.hass)),
            },
        )

    async def _async_start_managed(
        self, port: int
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Check the binary and the port, start the sidecar, take its instance id."""
        if self._sidecar is not None:
            await self._sidecar.async_stop()
            self._sidecar = None
        version = str((await async_get_integration(self.hass, DOMAIN)).version)
        data_dir = data_dir_for(self.hass)
        try:
            binary = await async_find_checked_binary(self.hass, version)
            if not await self.hass.async_add_executor_job(port_is_free, port):
                raise SidecarStartError("portal_port_taken", {"port": str(port)})
            # A data dir from an earlier install keeps its token (and its units).
            token = await self.hass.async_add_executor_job(read_token, data_dir)
            token = token or new_token()
            sidecar = ManagedSidecar(
                self.hass,
                ManagedConfig(
                    binary=binary,
                    data_dir=data_dir,
                    marker=Path(self.hass.config.path(MARKER_NAME)),
                    token=token,
                    portal_port=port,
                    version=version,
                ),
            )
            await sidecar.async_start(supervise=False)
        except SidecarStartError as err:
            return {"base": err.reason}, {
                "message": err.placeholders.get("error", ""),
                "path": err.placeholders.get("path", ""),
                "version": err.placeholders.get("version", version),
            }
        self._sidecar = sidecar
        self._data = {CONF_MODE: MODE_MANAGED, CONF_API_TOKEN: token, CONF_PORTAL_PORT: port}
        await self.async_set_unique_id(sidecar.instance_id)
        self._abort_if_unique_id_configured()
        return {}, {}

    async def async_step_external(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the URL and API token of a sidecar running elsewhere."""
        errors: dict[str, str] = {}
        if user_input is not None:
            user_input[CONF_URL] = user_input[CONF_URL].rstrip("/")
            instance_id, errors = await _validate_connection(self.hass, user_input)
            if not errors:
                await self.async_set_unique_id(instance_id)
                self._abort_if_unique_id_configured(updates={CONF_URL: user_input[CONF_URL]})
                self._data = {CONF_MODE: MODE_EXTERNAL, **user_input}
                return await self.async_step_controller()
        return self.async_show_form(
            step_id="external",
            data_schema=self.add_suggested_values_to_schema(_external_schema(), user_input),
            errors=errors,
        )

    # --- controller and Plume (set-up and reconfiguration) ------------------------------

    async def async_step_controller(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the Omada controller settings, or to skip them."""
        return self.async_show_menu(
            step_id="controller", menu_options=["omada", "plume_menu"]
        )

    async def async_step_omada(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """How the sidecar logs in to the controller (one form per login)."""
        return self.async_show_menu(
            step_id="omada", menu_options=["omada_hotspot", "omada_openapi"]
        )

    async def async_step_omada_hotspot(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Hotspot operator account (controller 5.x/6.x)."""
        return await self._async_settings_form("omada", HOTSPOT, user_input)

    async_step_update_omada_hotspot = async_step_omada_hotspot

    async def async_step_omada_openapi(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Open API application (controller 5.12 and newer)."""
        return await self._async_settings_form("omada", OPENAPI, user_input)

    async_step_update_omada_openapi = async_step_omada_openapi

    async def async_step_plume_menu(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the (optional) Plume settings."""
        return self.async_show_menu(step_id="plume_menu", menu_options=["plume", "finish"])

    async def async_step_plume(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Plume: the sidecar validates the settings and requests a token."""
        return await self._async_settings_form("plume", None, user_input)

    async_step_update_plume = async_step_plume

    async def _async_settings_form(
        self, kind: str, login: str | None, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """One settings form: pre-filled from the sidecar, PUT to it, its message shown."""
        client = self._client()
        if client is None:
            return self.async_abort(reason="not_running")
        get = client.get_omada_settings if kind == "omada" else client.get_plume_settings
        put = client.put_omada_settings if kind == "omada" else client.put_plume_settings
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"message": ""}
        advanced_open = False
        if user_input is None or self._stored is None:
            try:
                self._stored = await get() or {}
            except RentalWifiError:
                return self.async_abort(reason="cannot_connect")
        stored = self._stored
        if kind == "omada":
            assert login is not None
            has_secret = _stored(stored, _OMADA_SECRET[login])
            schema = _omada_schema(login, stored=has_secret)
            step_id = f"update_omada_{login}" if has_secret else f"omada_{login}"
            suggested: Mapping[str, Any] = _omada_suggested(stored)
        else:
            has_secret = _stored(stored, CONF_AUTH_HEADER)
            schema = _plume_schema(stored=has_secret)
            step_id = "update_plume" if has_secret else "plume"
            suggested = _shown(stored)
        if user_input is not None:
            body = (
                _omada_body(login, user_input, stored)
                if kind == "omada" and login is not None
                else _plume_body(user_input, stored)
            )
            try:
                saved = await put(body)
            except RentalWifiApiError as err:
                if kind == "omada" and login is not None and _untrusted(err):
                    self._untrusted = (login, user_input, body, err.certificate or {})
                    return await self.async_step_omada_certificate()
                errors, found = _api_error(err)
                placeholders.update(found)
                advanced_open = err.field in _OMADA_ADVANCED
            except RentalWifiError as err:
                errors, found = _api_error(err)
                placeholders.update(found)
            else:
                return await self._async_settings_saved(kind, login, saved)
            suggested = user_input
        elif self._retry_input is not None:
            # Back from "do not trust": say why nothing was saved and the secret is gone.
            suggested, self._retry_input = self._retry_input, None
            errors = {"base": "certificate_not_trusted"}
            advanced_open = True
        if advanced_open and kind == "omada" and login is not None:
            schema = _omada_schema(login, stored=has_secret, advanced_open=True)
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    # --- an untrusted controller certificate (CONTRACTS §4) ------------------------------

    async def async_step_omada_certificate(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The controller's certificate is not trusted: show it, offer to pin it."""
        assert self._untrusted is not None
        certificate = self._untrusted[3]
        names = [str(name) for name in certificate.get("san") or []]
        return self.async_show_menu(
            step_id=_certificate_step(certificate),
            menu_options=["omada_trust", "omada_retry"],
            description_placeholders={
                "subject": str(certificate.get("subject") or "?"),
                "sha256": _fingerprint(str(certificate.get("sha256") or "")),
                "san": ", ".join(names) or "-",
                "docs": DOCS_CERTIFICATE,
            },
        )

    async_step_omada_factory_certificate = async_step_omada_certificate
    async_step_omada_certificate_no_names = async_step_omada_certificate

    async def async_step_omada_trust(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pin the certificate shown: the same settings again with its SHA-256."""
        assert self._untrusted is not None
        login, form, body, certificate = self._untrusted
        self._untrusted = None
        form = {
            **form,
            SECTION_ADVANCED: {
                **form.get(SECTION_ADVANCED, {}),
                CONF_VERIFY_TLS: True,
                CONF_CERT_SHA256: certificate.get("sha256"),
            },
        }
        return await self._async_settings_form("omada", login, form)

    async def async_step_omada_retry(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Do not trust it: back to the controller form, as it was filled in."""
        assert self._untrusted is not None
        login, form, _body, _certificate = self._untrusted
        self._untrusted = None
        # As filled in, but the secret is never sent back to the browser: typed again.
        self._retry_input = {k: v for k, v in form.items() if k != _OMADA_SECRET[login]}
        return await self._async_settings_form("omada", login, None)

    async def _async_settings_saved(
        self, kind: str, login: str | None = None, saved: Mapping[str, Any] | None = None
    ) -> ConfigFlowResult:
        self._stored = None
        if login == OPENAPI and await self._async_units_with_sites():
            self._operator = str((saved or {}).get(CONF_USERNAME) or "")
            return await self.async_step_omada_operator_offer()
        return await self._async_omada_or_plume_done(kind)

    async def async_step_omada_operator_offer(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer to create the sidecar's own hotspot operator (optional).

        When the sidecar already has one (the host's), the offer names it and says that
        the new one would be used instead.
        """
        return self.async_show_menu(
            step_id="omada_operator_replace" if self._operator else "omada_operator_offer",
            menu_options=["omada_operator", "omada_done"],
            description_placeholders={"name": self._operator, "docs": DOCS_OPERATOR},
        )

    async_step_omada_operator_replace = async_step_omada_operator_offer

    async def _async_units_with_sites(self) -> bool:
        """Whether the sidecar has units (the operator is created for their sites)."""
        if (client := self._client()) is None:
            return False
        try:
            return bool((await client.get_state()).units)
        except RentalWifiError:
            return False

    async def async_step_omada_operator(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Create the sidecar's own hotspot operator through the Open API app.

        With it the sidecar lets guests in through the hotspot API with each stay's own
        duration (``mode`` becomes ``auto``); its password never leaves the sidecar.
        """
        client = self._client()
        if client is None:
            return self.async_abort(reason="not_running")
        try:
            created = await client.create_hotspot_operator()
        except RentalWifiError as err:
            _errors, found = _api_error(err)
            return self.async_show_menu(
                step_id="omada_operator_failed",
                menu_options=["omada_operator", "omada_done"],
                description_placeholders={"message": found.get("message", str(err))},
            )
        name = str(created.get("name") or "")
        if self.source == SOURCE_RECONFIGURE:
            await self._async_refresh_reconfigured()
            return self.async_abort(
                reason="operator_created", description_placeholders={"name": name}
            )
        return await self.async_step_plume_menu()

    async_step_omada_operator_failed = async_step_omada_operator

    async def async_step_omada_done(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """No dedicated operator now (it can be created later: reconfigure → controller)."""
        return await self._async_omada_or_plume_done("omada")

    async def _async_refresh_reconfigured(self) -> None:
        entry = self._get_reconfigure_entry()
        if entry.state is ConfigEntryState.LOADED:
            # Settings live in the sidecar: refresh the entities, nothing to store here.
            await entry.runtime_data.coordinator.async_request_refresh()

    async def _async_omada_or_plume_done(self, kind: str) -> ConfigFlowResult:
        if self.source == SOURCE_RECONFIGURE:
            await self._async_refresh_reconfigured()
            return self.async_abort(reason="reconfigure_successful")
        if kind == "omada":
            return await self.async_step_plume_menu()
        return await self.async_step_finish()

    async def async_step_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Create the entry (a managed sidecar started for the flow is restarted by it)."""
        if self._sidecar is not None:
            sidecar, self._sidecar = self._sidecar, None
            await sidecar.async_stop()
        return self.async_create_entry(title=_entry_title(self._data), data=self._data)

    # --- reauthentication -------------------------------------------------------------

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """The sidecar refused the token."""
        if entry_data.get(CONF_MODE) == MODE_MANAGED:
            return await self.async_step_reauth_managed()
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new API token (a sidecar elsewhere)."""
        errors: dict[str, str] = {}
        entry = self._get_reauth_entry()
        if user_input is not None:
            data = {**entry.data, CONF_API_TOKEN: user_input[CONF_API_TOKEN]}
            instance_id, errors = await _validate_connection(self.hass, data)
            if not errors:
                await self.async_set_unique_id(instance_id)
                self._abort_if_unique_id_mismatch(reason="wrong_sidecar")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_API_TOKEN: user_input[CONF_API_TOKEN]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_API_TOKEN): _SECRET}),
            errors=errors,
            description_placeholders={CONF_URL: entry.data[CONF_URL]},
        )

    async def async_step_reauth_managed(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The sidecar Home Assistant runs refused the token: give it a new one."""
        if user_input is not None:
            return self.async_update_reload_and_abort(
                self._get_reauth_entry(), data_updates={CONF_API_TOKEN: new_token()}
            )
        return self.async_show_form(step_id="reauth_managed", data_schema=vol.Schema({}))

    # --- reconfiguration --------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose what to change."""
        entry = self._get_reconfigure_entry()
        first = "reconfigure_portal" if is_managed(entry) else "reconfigure_connection"
        return self.async_show_menu(
            step_id="reconfigure", menu_options=[first, "omada", "plume"]
        )

    async def async_step_reconfigure_connection(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the sidecar URL or token (it must be the same sidecar)."""
        errors: dict[str, str] = {}
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            user_input[CONF_URL] = user_input[CONF_URL].rstrip("/")
            instance_id, errors = await _validate_connection(self.hass, user_input)
            if not errors:
                await self.async_set_unique_id(instance_id)
                self._abort_if_unique_id_mismatch(reason="wrong_sidecar")
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
        return self.async_show_form(
            step_id="reconfigure_connection",
            data_schema=self.add_suggested_values_to_schema(
                _external_schema(), user_input or {CONF_URL: entry.data[CONF_URL]}
            ),
            errors=errors,
        )

    async def async_step_reconfigure_portal(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move the guest portal of the sidecar Home Assistant runs to another port."""
        errors: dict[str, str] = {}
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            port = int(user_input[CONF_PORTAL_PORT])
            if port != entry.data[CONF_PORTAL_PORT] and not await self.hass.async_add_executor_job(
                port_is_free, port
            ):
                errors[CONF_PORTAL_PORT] = "portal_port_taken"
            else:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_PORTAL_PORT: port}
                )
        return self.async_show_form(
            step_id="reconfigure_portal",
            data_schema=self.add_suggested_values_to_schema(
                _managed_schema(),
                user_input or {CONF_PORTAL_PORT: entry.data[CONF_PORTAL_PORT]},
            ),
            errors=errors,
        )


# --- rental units (subentries) ------------------------------------------------------------


# Unit settings the sidecar keeps (docs/api.md "Unit"); the form's keys are the API's.
CONF_OMADA_SITE_ID = "omada_site_id"
CONF_TERMS_URL = "terms_url"
CONF_VANISH_CANCEL = "vanish_cancel_minutes"
CONF_DEVICE_POLICY = "device_policy"
CONF_ADDRESS_TRANSLATION = "address_translation"
CONF_SECOND_FACTOR = "short_code_second_factor"
CONF_ACCESS_MODE = "access_mode"
CONF_PPSK_PROFILE = "ppsk_profile_id"
SECTION_GUESTS = "guests"
SECTION_PASSWORDS = "wifi_passwords"
_UNIT_SECTIONS = (
    SECTION_NETWORKS,
    SECTION_PLUME,
    SECTION_BOOKINGS,
    SECTION_GUESTS,
    SECTION_PASSWORDS,
    SECTION_ADVANCED,
)
ACCESS_MODES = ["portal", "password"]
DEVICE_POLICIES = ["replace_oldest", "refuse"]
SECOND_FACTORS = ["none", "last_name"]
_VANISH = NumberSelector(
    NumberSelectorConfig(
        min=0, max=10080, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="min"
    )
)


def _site_selector(sites: list[dict[str, Any]] | None) -> Any:
    """The controller's sites as a dropdown (a name not listed may still be typed)."""
    if not sites:
        return _TEXT
    names = sorted({str(site.get("name")) for site in sites if site.get("name")})
    return SelectSelector(
        SelectSelectorConfig(
            options=names, custom_value=True, mode=SelectSelectorMode.DROPDOWN
        )
    )


def _ssid_selector(sites: list[dict[str, Any]] | None) -> Any:
    """The controller's SSIDs (of every site) to pick from; others may be typed."""
    if not sites:
        return _LIST
    options: dict[str, str] = {}
    for site in sites:
        for ssid in site.get("ssids") or []:
            if isinstance(ssid, dict) and (name := ssid.get("name")):
                label = f"{name} ({site.get('name')})" if len(sites) > 1 else str(name)
                options.setdefault(str(name), label)
    return SelectSelector(
        SelectSelectorConfig(
            options=[{"value": value, "label": label} for value, label in options.items()],
            multiple=True,
            custom_value=True,
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def _profile_selector(profiles: list[dict[str, Any]] | None, keep: str | None) -> Any:
    """The controller's PPSK profiles (of the listed sites) to pick from by name; without a
    listing the id is typed.

    No typed values beside the list: the frontend's combo box then shows the picked
    profile's id instead of its name. A profile the unit has that is not listed (deleted on
    the controller, its site not listed) stays offered by its id, so the form still saves.
    """
    if not profiles:
        return _TEXT
    options = [
        {"value": str(p["id"]), "label": str(p.get("label") or p["id"])} for p in profiles
    ]
    if keep and keep not in {o["value"] for o in options}:
        options.append({"value": keep, "label": keep})
    return SelectSelector(
        SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN)
    )


@cache
def _time_zones() -> list[str]:
    """The IANA zone names (Area/City, and UTC) to pick a unit's zone from; reads the zone
    database, so called in the executor (once)."""
    return sorted(
        zone
        for zone in zoneinfo.available_timezones()
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "posix/", "right/"))
    ) + ["UTC"]


def _time_zone_selector(zones: list[str] | None) -> Any:
    """The unit's time zone, searched by typing ("Lis" → Europe/Lisbon) instead of typed in
    full; a name not listed may still be typed (the sidecar decides)."""
    if not zones:
        return _TEXT
    return SelectSelector(
        SelectSelectorConfig(
            options=zones, custom_value=True, sort=False, mode=SelectSelectorMode.DROPDOWN
        )
    )


def _unit_schema(
    *,
    new: bool,
    sites: list[dict[str, Any]] | None = None,
    profiles: list[dict[str, Any]] | None = None,
    keep_profile: str | None = None,
    expanded: frozenset[str] = frozenset(),
    time_zones: list[str] | None = None,
) -> vol.Schema:
    """The unit form; ``sites`` is the controller's listing (None: free text, with the site
    id right below the site: a hotspot operator cannot look it up, and without it guests
    are not taken off again), ``profiles`` its PPSK profiles (``keep_profile``: the unit's
    own, offered even when not listed); the sections in ``expanded`` are shown open (the
    ones holding an error)."""

    def collapsed(name: str, default: bool = True) -> dict[str, bool]:
        return {"collapsed": default and name not in expanded}

    fields: dict[Any, Any] = {vol.Required(CONF_NAME): _TEXT}
    if new:
        fields[vol.Optional(CONF_UNIT_ID)] = _TEXT
    fields[vol.Optional(CONF_OMADA_SITE, default="Default")] = _site_selector(sites)
    if not sites:
        fields[vol.Optional(CONF_OMADA_SITE_ID)] = _TEXT
    fields[vol.Optional(CONF_TIME_ZONE)] = _time_zone_selector(time_zones)
    fields[vol.Required(SECTION_NETWORKS)] = section(
        vol.Schema(
            {
                vol.Optional(CONF_SSIDS): _ssid_selector(sites),
                vol.Optional(CONF_VLANS): _LIST,
                vol.Optional(CONF_AP_MACS): _LIST,
            }
        ),
        collapsed(SECTION_NETWORKS),
    )
    fields[vol.Required(SECTION_BOOKINGS)] = section(
        vol.Schema(
            {
                vol.Optional(CONF_CALENDAR_ENTITY): EntitySelector(
                    EntitySelectorConfig(domain="calendar")
                ),
                vol.Optional(CONF_CHECKIN_GRACE, default=0): _GRACE,
                vol.Optional(CONF_CHECKOUT_GRACE, default=0): _GRACE,
                vol.Optional(CONF_VANISH_CANCEL, default=0): _VANISH,
            }
        ),
        collapsed(SECTION_BOOKINGS, default=False),
    )
    fields[vol.Required(SECTION_GUESTS)] = section(
        vol.Schema(
            {
                vol.Optional(CONF_DEVICE_POLICY, default="replace_oldest"): SelectSelector(
                    SelectSelectorConfig(
                        options=DEVICE_POLICIES,
                        translation_key="device_policy",
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(CONF_SECOND_FACTOR, default="none"): SelectSelector(
                    SelectSelectorConfig(
                        options=SECOND_FACTORS,
                        translation_key="short_code_second_factor",
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(CONF_TERMS_URL): _URL,
            }
        ),
        collapsed(SECTION_GUESTS),
    )
    fields[vol.Required(SECTION_PASSWORDS)] = section(
        vol.Schema(
            {
                vol.Optional(CONF_ACCESS_MODE, default="portal"): SelectSelector(
                    SelectSelectorConfig(
                        options=ACCESS_MODES,
                        translation_key="access_mode",
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(CONF_PPSK_PROFILE): _profile_selector(profiles, keep_profile),
            }
        ),
        collapsed(SECTION_PASSWORDS),
    )
    fields[vol.Required(SECTION_PLUME)] = section(
        vol.Schema(
            {
                vol.Optional(CONF_PLUME_CUSTOMER_ID): _TEXT,
                vol.Optional(CONF_PLUME_LOCATION_ID): _TEXT,
                vol.Optional(CONF_PLUME_SERIAL): _TEXT,
                vol.Optional(CONF_PLUME_ACCOUNT_ID): _TEXT,
            }
        ),
        collapsed(SECTION_PLUME),
    )
    fields[vol.Required(SECTION_ADVANCED)] = section(
        vol.Schema(
            {vol.Optional(CONF_ADDRESS_TRANSLATION, default=False): BooleanSelector()}
        ),
        collapsed(SECTION_ADVANCED),
    )
    return vol.Schema(fields)


def _flat(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """The form's values with the sections' fields lifted to the top."""
    flat: dict[str, Any] = {}
    for key, value in user_input.items():
        if key in _UNIT_SECTIONS:
            flat.update(value or {})
        else:
            flat[key] = value
    return flat


def _site_id(sites: list[dict[str, Any]] | None, name: str) -> str | None:
    """The listed id of the site called ``name`` (None: not listed)."""
    for site in sites or []:
        if site.get("name") == name and site.get("id"):
            return str(site["id"])
    return None


def _unit_body(
    user_input: Mapping[str, Any], sites: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The unit as the sidecar wants it (the calendar link is Home Assistant's only).

    With the controller's listing the site id is the chosen site's (a site typed in that
    is not listed: none, the sidecar looks it up); without it, what the host typed.
    Raises ValueError on a VLAN id that is not a number.
    """
    flat = _flat(user_input)
    site = flat.get(CONF_OMADA_SITE) or "Default"
    site_id = _site_id(sites, site) if sites else flat.get(CONF_OMADA_SITE_ID)
    return {
        CONF_NAME: flat[CONF_NAME],
        CONF_OMADA_SITE: site,
        CONF_OMADA_SITE_ID: (site_id or "").strip() or None,
        CONF_SSIDS: [s for s in flat.get(CONF_SSIDS, []) if s],
        CONF_VLANS: [int(v) for v in flat.get(CONF_VLANS, []) if str(v).strip()],
        CONF_AP_MACS: [m for m in flat.get(CONF_AP_MACS, []) if m],
        CONF_PLUME_CUSTOMER_ID: flat.get(CONF_PLUME_CUSTOMER_ID) or None,
        CONF_PLUME_LOCATION_ID: flat.get(CONF_PLUME_LOCATION_ID) or None,
        CONF_CHECKIN_GRACE: int(flat.get(CONF_CHECKIN_GRACE) or 0),
        CONF_CHECKOUT_GRACE: int(flat.get(CONF_CHECKOUT_GRACE) or 0),
        CONF_VANISH_CANCEL: int(flat.get(CONF_VANISH_CANCEL) or 0),
        CONF_DEVICE_POLICY: flat.get(CONF_DEVICE_POLICY) or "replace_oldest",
        CONF_SECOND_FACTOR: flat.get(CONF_SECOND_FACTOR) or "none",
        CONF_ADDRESS_TRANSLATION: bool(flat.get(CONF_ADDRESS_TRANSLATION, False)),
        CONF_TERMS_URL: (flat.get(CONF_TERMS_URL) or "").strip() or None,
        CONF_ACCESS_MODE: flat.get(CONF_ACCESS_MODE) or "portal",
        CONF_PPSK_PROFILE: (flat.get(CONF_PPSK_PROFILE) or "").strip() or None,
        CONF_TIME_ZONE: str(flat.get(CONF_TIME_ZONE) or "").strip() or None,
    }


def _unit_suggested(unit: Unit, calendar: str | None) -> dict[str, Any]:
    """The sidecar's unit (and the subentry's calendar) as the form's sections."""
    return {
        CONF_NAME: unit.name,
        CONF_OMADA_SITE: unit.omada_site or "Default",
        **({CONF_OMADA_SITE_ID: unit.omada_site_id} if unit.omada_site_id else {}),
        **({CONF_TIME_ZONE: unit.time_zone} if unit.time_zone else {}),
        SECTION_NETWORKS: {
            CONF_SSIDS: unit.ssids,
            CONF_VLANS: [str(v) for v in unit.vlans],
            CONF_AP_MACS: unit.ap_macs,
        },
        SECTION_PLUME: {
            key: value
            for key, value in (
                (CONF_PLUME_CUSTOMER_ID, unit.plume_customer_id),
                (CONF_PLUME_LOCATION_ID, unit.plume_location_id),
            )
            if value
        },
        SECTION_BOOKINGS: {
            CONF_CHECKIN_GRACE: unit.checkin_grace_minutes,
            CONF_CHECKOUT_GRACE: unit.checkout_grace_minutes,
            CONF_VANISH_CANCEL: unit.vanish_cancel_minutes,
            **({CONF_CALENDAR_ENTITY: calendar} if calendar else {}),
        },
        SECTION_GUESTS: {
            CONF_DEVICE_POLICY: unit.device_policy,
            CONF_SECOND_FACTOR: unit.short_code_second_factor,
            **({CONF_TERMS_URL: unit.terms_url} if unit.terms_url else {}),
        },
        SECTION_PASSWORDS: {
            CONF_ACCESS_MODE: unit.access_mode,
            **({CONF_PPSK_PROFILE: unit.ppsk_profile_id} if unit.ppsk_profile_id else {}),
        },
        SECTION_ADVANCED: {CONF_ADDRESS_TRANSLATION: unit.address_translation},
    }


class _PlumeLookupError(Exception):
    """A look-up that found no single location: the form's error, and what it did find."""

    def __init__(
        self, key: str, placeholders: dict[str, str], customer_id: str | None = None
    ) -> None:
        super().__init__(key)
        self.key = key
        self.placeholders = placeholders
        self.customer_id = customer_id


def _choices(items: list[dict[str, Any]], id_key: str) -> str:
    return ", ".join(f"{item[id_key]} ({item.get('name') or '?'})" for item in items)


async def _plume_lookup(
    client: RentalWifiClient, flat: Mapping[str, Any]
) -> tuple[str, str] | None:
    """The (customer, location) a pod serial or a Plume account id points at, as Plume
    documents ("Obtain CustomerID and LocationID from Serial Number", "… from AccountID").

    None when the form names neither. A serial wins over an account id. Raises
    ``_PlumeLookupError`` when the account id finds no customer, several, or a customer
    with several locations (then with its customer id); the sidecar's refusals (a serial
    Plume does not know, Plume not configured) as ``RentalWifiError``.
    """
    serial = str(flat.get(CONF_PLUME_SERIAL) or "").strip()
    account_id = str(flat.get(CONF_PLUME_ACCOUNT_ID) or "").strip()
    if serial:
        node = await client.find_plume_node(serial)
        return node["customer_id"], node["location_id"]
    if not account_id:
        return None
    customers = await client.find_plume_customers(account_id)
    if not customers:
        raise _PlumeLookupError("plume_account_unknown", {"account_id": account_id})
    if len(customers) > 1:
        raise _PlumeLookupError(
            "plume_account_ambiguous",
            {"account_id": account_id, "choices": _choices(customers, "customer_id")},
        )
    customer_id: str = customers[0]["customer_id"]
    location_ids: list[str] = list(customers[0].get("location_ids") or [])
    wanted = str(flat.get(CONF_PLUME_LOCATION_ID) or "").strip()
    if wanted and wanted in location_ids:
        return customer_id, wanted
    if len(location_ids) == 1:
        return customer_id, location_ids[0]
    locations = await client.plume_locations(customer_id)
    raise _PlumeLookupError(
        "plume_pick_location",
        {"customer_id": customer_id, "choices": _choices(locations, "location_id") or "-"},
        customer_id,
    )


def _with_plume_ids(
    user_input: Mapping[str, Any], customer_id: str, location_id: str | None
) -> dict[str, Any]:
    """The form's values with the ids a look-up found, and the look-up fields cleared."""
    plume = {
        key: value
        for key, value in (user_input.get(SECTION_PLUME) or {}).items()
        if key not in (CONF_PLUME_SERIAL, CONF_PLUME_ACCOUNT_ID)
    }
    plume[CONF_PLUME_CUSTOMER_ID] = customer_id
    if location_id is not None:
        plume[CONF_PLUME_LOCATION_ID] = location_id
    return {**user_input, SECTION_PLUME: plume}


async def _unit_form_body(
    client: RentalWifiClient,
    user_input: dict[str, Any],
    sites: list[dict[str, Any]] | None,
    errors: dict[str, str],
    placeholders: dict[str, str],
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The unit to send for a submitted form, after any Plume look-up, and the form's values
    to show again (with the ids found). None (with ``errors`` set) when it cannot be sent;
    a look-up's problem is shown on the Plume section."""
    try:
        body = _unit_body(user_input, sites)
    except ValueError:
        errors[SECTION_NETWORKS] = "invalid_vlan"
        return None, user_input
    try:
        found = await _plume_lookup(client, _flat(user_input))
    except _PlumeLookupError as err:
        errors[SECTION_PLUME] = err.key
        placeholders.update(err.placeholders)
        if err.customer_id is not None:
            user_input = _with_plume_ids(user_input, err.customer_id, None)
        return None, user_input
    except RentalWifiApiError as err:
        if err.status < 500:
            # A serial Plume does not know, Plume not configured: the sidecar's words.
            errors[SECTION_PLUME] = "invalid_field"
            placeholders["message"] = err.message
        else:
            found_errors, found_placeholders = _api_error(err)
            errors.update(found_errors)
            placeholders.update(found_placeholders)
        return None, user_input
    except RentalWifiError as err:
        found_errors, found_placeholders = _api_error(err)
        errors.update(found_errors)
        placeholders.update(found_placeholders)
        return None, user_input
    if found is not None:
        body[CONF_PLUME_CUSTOMER_ID], body[CONF_PLUME_LOCATION_ID] = found
        user_input = _with_plume_ids(user_input, *found)
    return body, user_input


# Where each unit setting sits in the form: a sidecar error's `field` is shown there.
_UNIT_FIELDS = {
    CONF_NAME,
    CONF_UNIT_ID,
    CONF_OMADA_SITE,
    CONF_OMADA_SITE_ID,
    CONF_SSIDS,
    CONF_VLANS,
    CONF_AP_MACS,
    CONF_PLUME_CUSTOMER_ID,
    CONF_PLUME_LOCATION_ID,
    CONF_CHECKIN_GRACE,
    CONF_CHECKOUT_GRACE,
    CONF_VANISH_CANCEL,
    CONF_DEVICE_POLICY,
    CONF_SECOND_FACTOR,
    CONF_TERMS_URL,
    CONF_ADDRESS_TRANSLATION,
    CONF_ACCESS_MODE,
    CONF_PPSK_PROFILE,
    CONF_TIME_ZONE,
}


def _unit_error(
    err: RentalWifiError, schema: vol.Schema
) -> tuple[dict[str, str], dict[str, str]]:
    """A sidecar refusal naming a field the form shows lands there, in the host's words.

    Home Assistant's form shows errors of top-level keys only: a field inside a section
    gets its error on that section (shown above the section's fields). The error's text
    names the field as the form does (``invalid_<field>``: "House rules or terms page
    (Guests): …"), followed by the sidecar's reason without its API name of the field.
    """
    errors, placeholders = _api_error(err)
    if isinstance(err, RentalWifiApiError) and err.field and err.status < 500:
        if (where := _field_places(schema).get(err.field)) is not None:
            return {where: f"invalid_{err.field}"}, {
                "message": _reason(err.message, err.field)
            }
    return errors, placeholders


def _reason(message: str, field: str) -> str:
    """The sidecar's message without the API name of the field it starts with
    ("terms_url must be …" → "must be …"): the form names the field in words."""
    for prefix in (f"{field}: ", f"{field} "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _on_top(errors: dict[str, str]) -> frozenset[str]:
    """An error on a section is repeated at the top of the form, and its section opens.

    The frontend scrolls a form back to its first field when it is shown again, so an
    error far down (above a section, maybe collapsed) would go unseen: the host would see
    the same form, nothing saved, and no reason. Returns the sections to show open.
    """
    sections = frozenset(key for key in errors if key in _UNIT_SECTIONS)
    if sections and "base" not in errors:
        errors["base"] = errors[next(key for key in errors if key in sections)]
    return sections


def _field_places(schema: vol.Schema) -> dict[str, str]:
    """Each unit setting the form shows → the top-level key its error goes on."""
    places: dict[str, str] = {}
    for key, value in schema.schema.items():
        inner = getattr(getattr(value, "schema", None), "schema", None)
        if isinstance(inner, dict):
            places.update({str(sub): str(key) for sub in inner})
        else:
            places[str(key)] = str(key)
    return {field: where for field, where in places.items() if field in _UNIT_FIELDS}


def _subentry_data(unit_id: str, user_input: Mapping[str, Any]) -> dict[str, Any]:
    """What a unit subentry keeps: the unit id and its calendar, nothing the sidecar has."""
    data: dict[str, Any] = {CONF_UNIT_ID: unit_id}
    if calendar := _flat(user_input).get(CONF_CALENDAR_ENTITY):
        data[CONF_CALENDAR_ENTITY] = calendar
    return data


async def _async_profiles(
    client: RentalWifiClient, sites: list[dict[str, Any]] | None
) -> list[dict[str, Any]] | None:
    """Every listed site's PPSK profiles, labelled "name (site)" (None: none to offer)."""
    found: list[dict[str, Any]] = []
    for site in sites or []:
        name = str(site.get("name") or "")
        try:
            profiles = await client.get_ppsk_profiles(str(site.get("id") or name))
        except RentalWifiError as err:
            LOGGER.debug("No PPSK profiles of site %s: %s", name, err)
            continue
        for profile in profiles:
            label = str(profile.get("name") or profile["id"])
            found.append({"id": profile["id"], "label": f"{label} ({name})"})
    return found or None


class UnitSubentryFlow(ConfigSubentryFlow):
    """Add or change a rental unit; every setting is read from and written to the sidecar."""

    _sites: list[dict[str, Any]] | None = None
    _profiles: list[dict[str, Any]] | None = None
    _time_zones: list[str] | None = None
    _sites_read = False

    def _client(self) -> RentalWifiClient | None:
        return loaded_client(self.hass, self._get_entry())

    async def _async_sites(self, client: RentalWifiClient) -> list[dict[str, Any]] | None:
        """The controller's sites and SSIDs, once per flow (None: free text instead).

        Listing needs Open API credentials (not asked for without them); without them, or
        when the controller does not answer, the form takes names as typed and asks for the
        site id.
        """
        if not self._sites_read:
            self._sites_read = True
            try:
                # Only a controller with an Open API app can list: asking one without it
                # is refused, and the sidecar takes the refusal for a controller problem
                # (a repair raised by opening this form).
                omada = await client.get_omada_settings() or {}
                if omada.get(CONF_CLIENT_ID) and omada.get(CONF_CLIENT_SECRET):
                    self._sites = await client.get_controller_sites() or None
            except RentalWifiError as err:
                LOGGER.debug("No site listing for the unit form: %s", err)
                self._sites = None
            self._profiles = await _async_profiles(client, self._sites)
            self._time_zones = await self.hass.async_add_executor_job(_time_zones)
        return self._sites

    def _placeholders(self, **extra: str) -> dict[str, str]:
        return {"message": "", "docs": DOCS_SITE_IDS, **extra}

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Create a unit (POST /api/v1/units)."""
        if (client := self._client()) is None:
            return self.async_abort(reason="not_running")
        sites = await self._async_sites(client)
        schema = self._schema(new=True, sites=sites, values=user_input)
        errors: dict[str, str] = {}
        placeholders = self._placeholders()
        if user_input is not None:
            body, user_input = await _unit_form_body(
                client, user_input, sites, errors, placeholders
            )
            if body is not None:
                if unit_id := user_input.get(CONF_UNIT_ID):
                    body[CONF_UNIT_ID] = unit_id
                try:
                    unit = await client.create_unit(body)
                except RentalWifiError as err:
                    errors, found = _unit_error(err, schema)
                    placeholders.update(found)
                else:
                    return self._async_created(unit, user_input)
        schema = self._schema(
            new=True, sites=sites, values=user_input, expanded=_on_top(errors)
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _schema(
        self,
        *,
        new: bool,
        sites: list[dict[str, Any]] | None,
        values: Mapping[str, Any] | None,
        expanded: frozenset[str] = frozenset(),
    ) -> vol.Schema:
        """The unit form for this flow (``values``: what it shows, for the PPSK profile)."""
        keep = _flat(values).get(CONF_PPSK_PROFILE) if values else None
        return _unit_schema(
            new=new,
            sites=sites,
            profiles=self._profiles,
            keep_profile=str(keep) if keep else None,
            expanded=expanded,
            time_zones=self._time_zones,
        )

    @callback
    def _async_created(self, unit: Unit, user_input: Mapping[str, Any]) -> SubentryFlowResult:
        data = _subentry_data(unit.unit_id, user_input)
        entry = self._get_entry()
        for subentry in entry.subentries.values():
            if subentry.unique_id == unit.unit_id:
                # Adopted from the sidecar's snapshot while we were creating it.
                self.hass.config_entries.async_update_subentry(
                    entry, subentry, title=unit.name, data=data
                )
                return self.async_abort(reason="unit_created")
        return self.async_create_entry(title=unit.name, data=data, unique_id=unit.unit_id)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a unit: read it (GET), write it (PATCH /api/v1/units/{unit_id})."""
        subentry = self._get_reconfigure_subentry()
        unit_id = subentry.data[CONF_UNIT_ID]
        if (client := self._client()) is None:
            return self.async_abort(reason="not_running")
        sites = await self._async_sites(client)
        schema = self._schema(new=False, sites=sites, values=user_input)
        errors: dict[str, str] = {}
        placeholders = self._placeholders(unit_id=unit_id, name=subentry.title)
        if user_input is not None:
            body, user_input = await _unit_form_body(
                client, user_input, sites, errors, placeholders
            )
            if body is not None:
                try:
                    unit = await client.update_unit(unit_id, body)
                except RentalWifiError as err:
                    errors, found = _unit_error(err, schema)
                    placeholders.update(found)
                else:
                    return self.async_update_and_abort(
                        self._get_entry(),
                        subentry,
                        title=unit.name,
                        data=_subentry_data(unit_id, user_input),
                    )
            suggested: Mapping[str, Any] = user_input
        else:
            try:
                unit = await client.get_unit(unit_id)
            except RentalWifiError:
                return self.async_abort(reason="cannot_connect")
            suggested = _unit_suggested(unit, subentry.data.get(CONF_CALENDAR_ENTITY))
        schema = self._schema(
            new=False, sites=sites, values=suggested, expanded=_on_top(errors)
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )
