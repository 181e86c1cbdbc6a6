"""Config flow: connect to the sidecar, hand it the controller and Plume settings, units."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import voluptuous as vol

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    SOURCE_RECONFIGURE,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_URL
from homeassistant.core import HomeAssistant, callback
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
    CONF_OMADA_SITE,
    CONF_PLUME_CUSTOMER_ID,
    CONF_PLUME_LOCATION_ID,
    CONF_SSIDS,
    CONF_UNIT_ID,
    CONF_VLANS,
    DOMAIN,
    LOGGER,
    OMADA_MODES,
    OMADA_TIME_UNITS,
    SECRET_PLACEHOLDER,
    SUBENTRY_UNIT,
)
from .helpers import client_for_entry

DEFAULT_URL = "http://127.0.0.1:8765"

# Controller settings (PUT /api/v1/settings/omada).
CONF_MODE = "mode"
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
OMADA_SECRETS = (CONF_PASSWORD, CONF_CLIENT_SECRET)

# Plume settings (PUT /api/v1/settings/plume).
CONF_SSO_URL = "sso_url"
CONF_AUTH_HEADER = "auth_header"
CONF_PARTNER_ID = "partner_id"
CONF_API_BASE = "api_base"
CONF_POLL_INTERVAL = "poll_interval_seconds"
PLUME_SECRETS = (CONF_AUTH_HEADER,)

_TEXT = TextSelector()
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_SECRET = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_MULTILINE = TextSelector(TextSelectorConfig(multiline=True))
_LIST = TextSelector(TextSelectorConfig(multiple=True))
_GRACE = NumberSelector(
    NumberSelectorConfig(min=0, max=1440, step=1, mode=NumberSelectorMode.BOX)
)


def _shown(values: Mapping[str, Any]) -> dict[str, Any]:
    """Stored settings to pre-fill a form with (secrets are never shown back)."""
    return {
        key: value
        for key, value in values.items()
        if value is not None and value != SECRET_PLACEHOLDER
    }


def _user_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_URL, default=DEFAULT_URL): _URL,
            vol.Required(CONF_API_TOKEN): _SECRET,
        }
    )


def _omada_schema() -> vol.Schema:
    # Secrets are optional: with Open API there is no password, and on reconfiguration
    # a blank secret keeps the one the sidecar stores.
    return vol.Schema(
        {
            vol.Required(CONF_MODE, default="auto"): SelectSelector(
                SelectSelectorConfig(
                    options=OMADA_MODES,
                    translation_key="omada_mode",
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(CONF_BASE_URL): _URL,
            vol.Optional(CONF_USERNAME): _TEXT,
            vol.Optional(CONF_PASSWORD): _SECRET,
            vol.Optional(CONF_CLIENT_ID): _TEXT,
            vol.Optional(CONF_CLIENT_SECRET): _SECRET,
            vol.Optional(CONF_CONTROLLER_ID): _TEXT,
            vol.Required(CONF_VERIFY_TLS, default=True): BooleanSelector(),
            vol.Optional(CONF_CERT_SHA256): _TEXT,
            vol.Optional(CONF_CA_CERT_PEM): _MULTILINE,
            vol.Required(CONF_AUTH_TIME_UNIT, default="ms"): SelectSelector(
                SelectSelectorConfig(
                    options=OMADA_TIME_UNITS,
                    translation_key="auth_time_unit",
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
        }
    )


def _plume_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_SSO_URL): _URL,
            vol.Optional(CONF_AUTH_HEADER): _SECRET,
            vol.Required(CONF_PARTNER_ID): _TEXT,
            vol.Required(CONF_API_BASE): _URL,
            vol.Required(CONF_POLL_INTERVAL, default=60): NumberSelector(
                NumberSelectorConfig(
                    min=10, max=3600, step=1, mode=NumberSelectorMode.BOX
                )
            ),
        }
    )


def _settings_body(
    user_input: Mapping[str, Any], secrets: tuple[str, ...], stored: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The PUT body: blank fields are left out, a blank secret keeps the stored one."""
    body: dict[str, Any] = {}
    for key, value in user_input.items():
        if value is None or value == "":
            continue
        body[key] = int(value) if key == CONF_POLL_INTERVAL else value
    for key in secrets:
        if key not in body and stored and stored.get(key) == SECRET_PLACEHOLDER:
            body[key] = SECRET_PLACEHOLDER
    return body


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


class _SettingsSteps:
    """The controller and Plume forms, shared by set-up and reconfiguration."""

    hass: HomeAssistant

    def _client(self) -> RentalWifiClient:
        raise NotImplementedError

    async def _put_omada(
        self, user_input: dict[str, Any]
    ) -> tuple[dict[str, str], dict[str, str]]:
        client = self._client()
        try:
            stored = await client.get_omada_settings()
            await client.put_omada_settings(
                _settings_body(user_input, OMADA_SECRETS, stored)
            )
        except RentalWifiError as err:
            return _api_error(err)
        return {}, {}

    async def _put_plume(
        self, user_input: dict[str, Any]
    ) -> tuple[dict[str, str], dict[str, str]]:
        client = self._client()
        try:
            stored = await client.get_plume_settings()
            await client.put_plume_settings(
                _settings_body(user_input, PLUME_SECRETS, stored)
            )
        except RentalWifiError as err:
            return _api_error(err)
        return {}, {}


class RentalWifiConfigFlow(_SettingsSteps, ConfigFlow, domain=DOMAIN):
    """Handle a config flow for Rental Wi-Fi."""

    VERSION = 1

    def __init__(self) -> None:
        """Initialize the flow."""
        self._data: dict[str, Any] = {}

    def _client(self) -> RentalWifiClient:
        if self.source == SOURCE_RECONFIGURE:
            return client_for_entry(self.hass, self._get_reconfigure_entry().data)
        return client_for_entry(self.hass, self._data)

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Rental units are subentries."""
        return {SUBENTRY_UNIT: UnitSubentryFlow}

    # --- set-up: connection, controller, Plume ---------------------------------------

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the sidecar's URL and API token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            user_input[CONF_URL] = user_input[CONF_URL].rstrip("/")
            instance_id, errors = await _validate_connection(self.hass, user_input)
            if not errors:
                await self.async_set_unique_id(instance_id)
                self._abort_if_unique_id_configured(updates={CONF_URL: user_input[CONF_URL]})
                self._data = dict(user_input)
                return await self.async_step_controller()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_user_schema(), user_input),
            errors=errors,
        )

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
        """Send the controller settings; the sidecar logs in to test them."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"message": ""}
        if user_input is not None:
            errors, found = await self._put_omada(user_input)
            placeholders.update(found)
            if not errors:
                return await self.async_step_plume_menu()
        return self.async_show_form(
            step_id="omada",
            data_schema=self.add_suggested_values_to_schema(
                _omada_schema(), user_input
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_plume_menu(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the (optional) Plume settings."""
        return self.async_show_menu(step_id="plume_menu", menu_options=["plume", "finish"])

    async def async_step_plume(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Send the Plume settings; the sidecar validates them and mints a token."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"message": ""}
        if user_input is not None:
            errors, found = await self._put_plume(user_input)
            placeholders.update(found)
            if not errors:
                return await self.async_step_finish()
        return self.async_show_form(
            step_id="plume",
            data_schema=self.add_suggested_values_to_schema(_plume_schema(), user_input),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Create the entry."""
        return self.async_create_entry(title="Rental Wi-Fi", data=self._data)

    # --- reauthentication -------------------------------------------------------------

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """The sidecar refused the token."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new API token."""
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

    # --- reconfiguration --------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose what to change."""
        return self.async_show_menu(
            step_id="reconfigure",
            menu_options=["reconfigure_connection", "reconfigure_omada", "reconfigure_plume"],
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
                _user_schema(), user_input or {CONF_URL: entry.data[CONF_URL]}
            ),
            errors=errors,
        )

    async def async_step_reconfigure_omada(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the controller settings (blank secrets keep the stored ones)."""
        return await self._async_reconfigure_settings(
            "reconfigure_omada",
            user_input,
            self._put_omada,
            lambda: self._client().get_omada_settings(),
            _omada_schema(),
        )

    async def async_step_reconfigure_plume(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the Plume settings (a blank authorization header keeps the stored one)."""
        return await self._async_reconfigure_settings(
            "reconfigure_plume",
            user_input,
            self._put_plume,
            lambda: self._client().get_plume_settings(),
            _plume_schema(),
        )

    async def _async_reconfigure_settings(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        put: Callable[[dict[str, Any]], Awaitable[tuple[dict[str, str], dict[str, str]]]],
        get: Callable[[], Awaitable[Mapping[str, Any] | None]],
        schema: vol.Schema,
    ) -> ConfigFlowResult:
        """One settings form: PUT to the sidecar, show its message, or prefill from it."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"message": ""}
        if user_input is not None:
            errors, found = await put(user_input)
            placeholders.update(found)
            if not errors:
                return await self._async_reconfigured()
            suggested: Mapping[str, Any] = user_input
        else:
            try:
                suggested = await get() or {}
            except RentalWifiError:
                return self.async_abort(reason="cannot_connect")
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, _shown(suggested)),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_reconfigured(self) -> ConfigFlowResult:
        """Settings live in the sidecar: refresh the entities, nothing to store here."""
        entry = self._get_reconfigure_entry()
        if entry.state is ConfigEntryState.LOADED:
            await entry.runtime_data.coordinator.async_request_refresh()
        return self.async_abort(reason="reconfigure_successful")


def _unit_schema(*, new: bool) -> vol.Schema:
    fields: dict[Any, Any] = {vol.Required(CONF_NAME): _TEXT}
    if new:
        fields[vol.Optional(CONF_UNIT_ID)] = _TEXT
    fields.update(
        {
            vol.Optional(CONF_OMADA_SITE, default="Default"): _TEXT,
            vol.Optional(CONF_SSIDS): _LIST,
            vol.Optional(CONF_VLANS): _LIST,
            vol.Optional(CONF_AP_MACS): _LIST,
            vol.Optional(CONF_PLUME_CUSTOMER_ID): _TEXT,
            vol.Optional(CONF_PLUME_LOCATION_ID): _TEXT,
            vol.Optional(CONF_CHECKIN_GRACE, default=0): _GRACE,
            vol.Optional(CONF_CHECKOUT_GRACE, default=0): _GRACE,
            vol.Optional(CONF_CALENDAR_ENTITY): EntitySelector(
                EntitySelectorConfig(domain="calendar")
            ),
        }
    )
    return vol.Schema(fields)


def _unit_body(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """The unit as the sidecar wants it (the calendar link is Home Assistant's only).

    Raises ValueError on a VLAN id that is not a number.
    """
    return {
        CONF_NAME: user_input[CONF_NAME],
        CONF_OMADA_SITE: user_input.get(CONF_OMADA_SITE) or "Default",
        CONF_SSIDS: [s for s in user_input.get(CONF_SSIDS, []) if s],
        CONF_VLANS: [int(v) for v in user_input.get(CONF_VLANS, []) if str(v).strip()],
        CONF_AP_MACS: [m for m in user_input.get(CONF_AP_MACS, []) if m],
        CONF_PLUME_CUSTOMER_ID: user_input.get(CONF_PLUME_CUSTOMER_ID) or None,
        CONF_PLUME_LOCATION_ID: user_input.get(CONF_PLUME_LOCATION_ID) or None,
        CONF_CHECKIN_GRACE: int(user_input.get(CONF_CHECKIN_GRACE) or 0),
        CONF_CHECKOUT_GRACE: int(user_input.get(CONF_CHECKOUT_GRACE) or 0),
    }


class UnitSubentryFlow(ConfigSubentryFlow):
    """Add or change a rental unit; the unit itself lives in the sidecar."""

    def _client(self) -> RentalWifiClient:
        return client_for_entry(self.hass, self._get_entry().data)

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Create a unit (POST /api/v1/units)."""
        errors: dict[str, str] = {}
        placeholders = {"message": ""}
        if user_input is not None:
            try:
                body = _unit_body(user_input)
            except ValueError:
                errors[CONF_VLANS] = "invalid_vlan"
            else:
                if unit_id := user_input.get(CONF_UNIT_ID):
                    body[CONF_UNIT_ID] = unit_id
                try:
                    unit = await self._client().create_unit(body)
                except RentalWifiError as err:
                    errors, found = _api_error(err)
                    placeholders.update(found)
                else:
                    data = {**user_input, **body, CONF_UNIT_ID: unit.unit_id}
                    return self.async_create_entry(
                        title=unit.name, data=data, unique_id=unit.unit_id
                    )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                _unit_schema(new=True), user_input
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a unit (PATCH /api/v1/units/{unit_id})."""
        subentry = self._get_reconfigure_subentry()
        unit_id = subentry.data[CONF_UNIT_ID]
        errors: dict[str, str] = {}
        placeholders = {"message": "", CONF_UNIT_ID: unit_id}
        if user_input is not None:
            try:
                body = _unit_body(user_input)
            except ValueError:
                errors[CONF_VLANS] = "invalid_vlan"
            else:
                try:
                    unit = await self._client().update_unit(unit_id, body)
                except RentalWifiError as err:
                    errors, found = _api_error(err)
                    placeholders.update(found)
                else:
                    return self.async_update_and_abort(
                        self._get_entry(),
                        subentry,
                        title=unit.name,
                        data={**user_input, **body, CONF_UNIT_ID: unit_id},
                    )
        suggested: dict[str, Any] = dict(user_input or subentry.data)
        if CONF_VLANS in suggested:
            suggested[CONF_VLANS] = [str(v) for v in suggested[CONF_VLANS]]
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _unit_schema(new=False), suggested
            ),
            errors=errors,
            description_placeholders=placeholders,
        )
