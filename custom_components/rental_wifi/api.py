"""A small typed async client for the Rental Wi-Fi sidecar's local JSON API (docs/api.md).

The aiohttp session is injected (Home Assistant's shared one). Every failure becomes one of
the exceptions below; mapping them to Home Assistant errors is the caller's business.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
import json
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from .const import CHECK_TIMEOUT, REQUEST_TIMEOUT, SSE_READ_TIMEOUT
from .models import Info, SseEvent, State, Unit, Voucher


class RentalWifiError(Exception):
    """Base error of the sidecar client."""


class RentalWifiConnectionError(RentalWifiError):
    """The sidecar cannot be reached, timed out or answered something that is not its API."""


class RentalWifiAuthError(RentalWifiError):
    """The API token was refused (HTTP 401)."""


class RentalWifiApiError(RentalWifiError):
    """The sidecar answered with an error object (`{"error": {code, message, field}}`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        certificate: dict[str, Any] | None = None,
    ) -> None:
        """Keep the sidecar's status, machine code, human message and faulty field.

        ``certificate``: the controller's certificate of a ``tls_untrusted`` answer.
        """
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.certificate = certificate


SSE_CONNECTED = "_connected"
"""Pseudo event yielded by :meth:`RentalWifiClient.events` once the stream is open."""


def _clean(body: Mapping[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None: absent means "default" to the sidecar."""
    return {key: value for key, value in body.items() if value is not None}


@dataclass(kw_only=True)
class RentalWifiClient:
    """Client of one sidecar."""

    url: str
    token: str | None
    session: aiohttp.ClientSession
    request_timeout: float = REQUEST_TIMEOUT

    def _url(self, path: str) -> URL:
        return URL(self.url.rstrip("/") + path)

    def _headers(self, *, auth: bool = True) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        auth: bool = True,
        accept: str = "application/json",
        timeout: float | None = None,
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        """Send one request (a JSON ``body`` or raw ``data``); return the response and its raw body."""
        headers = self._headers(auth=auth)
        headers["Accept"] = accept
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
        try:
            async with asyncio.timeout(timeout or self.request_timeout):
                response = await self.session.request(
                    method,
                    self._url(path),
                    params=params,
                    json=body,
                    data=data,
                    headers=headers,
                )
                async with response:
                    raw = await response.read()
        except TimeoutError as err:
            raise RentalWifiConnectionError(
                f"Timeout talking to the sidecar at {self.url}"
            ) from err
        except (aiohttp.ClientError, OSError) as err:
            raise RentalWifiConnectionError(
                f"Cannot reach the sidecar at {self.url}: {err}"
            ) from err
        return response, raw

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        auth: bool = True,
        timeout: float | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON (None for an empty body)."""
        response, raw = await self._send(
            method,
            path,
            params=params,
            body=body,
            data=data,
            auth=auth,
            timeout=timeout,
        )
        text = raw.decode("utf-8", errors="replace")
        return self._decode(response, text)

    def _decode(self, response: aiohttp.ClientResponse, text: str) -> Any:
        """JSON of a response, or the matching error."""
        data: Any = None
        if text:
            try:
                data = json.loads(text)
            except ValueError as err:
                if response.status < 400:
                    raise RentalWifiConnectionError(
                        f"Unexpected non-JSON answer from {self.url}"
                    ) from err
        if response.status == 401:
            raise RentalWifiAuthError("The sidecar refused the API token")
        if response.status >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            if not isinstance(error, dict):
                raise RentalWifiApiError(
                    response.status, "http_error", f"HTTP {response.status}"
                )
            raise RentalWifiApiError(
                response.status,
                str(error.get("code", "error")),
                str(error.get("message", "")),
                error.get("field"),
                cert if isinstance(cert := error.get("certificate"), dict) else None,
            )
        return data

    # --- instance ---------------------------------------------------------------------

    async def get_info(self) -> Info:
        """``GET /api/v1/info`` (no auth)."""
        data = await self._request("GET", "/api/v1/info", auth=False)
        try:
            return Info.from_dict(data)
        except (KeyError, TypeError, AttributeError) as err:
            raise RentalWifiConnectionError(
                f"{self.url} does not look like a Rental Wi-Fi sidecar"
            ) from err

    async def get_state(self) -> State:
        """``GET /api/v1/state``: controller, Plume and every unit in one snapshot."""
        return State.from_dict(await self._request("GET", "/api/v1/state"))

    # --- settings ---------------------------------------------------------------------

    async def get_omada_settings(self) -> dict[str, Any] | None:
        """Stored controller settings (secrets shown as ``***``), None when not set."""
        return await self._get_settings("omada")

    async def put_omada_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Test (log in) and store the controller settings."""
        return await self._request("PUT", "/api/v1/settings/omada", body=_clean(settings))

    async def get_plume_settings(self) -> dict[str, Any] | None:
        """Stored Plume settings (``auth_header`` shown as ``***``), None when not set."""
        return await self._get_settings("plume")

    async def put_plume_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Validate (mint an OAuth token) and store the Plume settings."""
        return await self._request("PUT", "/api/v1/settings/plume", body=_clean(settings))

    async def get_controller_sites(self) -> list[dict[str, Any]]:
        """``GET /api/v1/controller/sites``: sites and their SSIDs (Open API credentials)."""
        data = await self._request("GET", "/api/v1/controller/sites")
        sites = data.get("sites") if isinstance(data, dict) else None
        return [site for site in sites or [] if isinstance(site, dict)]

    async def get_ppsk_profiles(self, site: str) -> list[dict[str, Any]]:
        """``GET /api/v1/controller/sites/{site}/ppsk-profiles`` (Open API credentials)."""
        data = await self._request(
            "GET", f"/api/v1/controller/sites/{quote(site, safe='')}/ppsk-profiles"
        )
        profiles = data.get("profiles") if isinstance(data, dict) else None
        return [p for p in profiles or [] if isinstance(p, dict) and p.get("id")]

    async def create_hotspot_operator(self) -> dict[str, Any]:
        """``POST /api/v1/controller/hotspot-operator``: the sidecar's own operator."""
        return await self._request(
            "POST", "/api/v1/controller/hotspot-operator", body={}, timeout=CHECK_TIMEOUT
        )

    async def check_controller(self) -> dict[str, Any]:
        """``POST /api/v1/settings/omada/check``: every set-up step over every unit's site.

        Each step may take the sidecar's controller deadline (~10 s), hence the long wait.
        """
        return await self._request(
            "POST", "/api/v1/settings/omada/check", timeout=CHECK_TIMEOUT
        )

    async def create_host_test(self, unit_id: str) -> dict[str, Any]:
        """``POST /api/v1/units/{unit_id}/host-test``: a one-time host test code."""
        return await self._request(
            "POST", f"/api/v1/units/{_quote(unit_id)}/host-test"
        )

    async def _get_settings(self, kind: str) -> dict[str, Any] | None:
        try:
            return await self._request("GET", f"/api/v1/settings/{kind}")
        except RentalWifiApiError as err:
            if err.status == 404:
                return None
            raise

    # --- units ------------------------------------------------------------------------

    async def get_unit(self, unit_id: str) -> Unit:
        """``GET /api/v1/units/{unit_id}``."""
        return Unit.from_dict(await self._request("GET", f"/api/v1/units/{unit_id}"))

    async def create_unit(self, unit: Mapping[str, Any]) -> Unit:
        """``POST /api/v1/units``."""
        return Unit.from_dict(
            await self._request("POST", "/api/v1/units", body=_clean(unit))
        )

    async def update_unit(self, unit_id: str, changes: Mapping[str, Any]) -> Unit:
        """``PATCH /api/v1/units/{unit_id}``."""
        return Unit.from_dict(
            await self._request("PATCH", f"/api/v1/units/{unit_id}", body=changes)
        )

    async def set_unit_logo(self, unit_id: str, image: bytes) -> Unit:
        """``PUT /api/v1/units/{unit_id}/logo`` with the image file as the body."""
        return Unit.from_dict(
            await self._request(
                "PUT", f"/api/v1/units/{_quote(unit_id)}/logo", data=image
            )
        )

    async def delete_unit_logo(self, unit_id: str) -> Unit:
        """``DELETE /api/v1/units/{unit_id}/logo``."""
        return Unit.from_dict(
            await self._request("DELETE", f"/api/v1/units/{_quote(unit_id)}/logo")
        )

    async def list_consents(
        self, unit_id: str, *, since: str | None = None
    ) -> list[dict[str, Any]]:
        """``GET /api/v1/units/{unit_id}/consents``: the guests' terms consents, newest first."""
        data = await self._request(
            "GET",
            f"/api/v1/units/{_quote(unit_id)}/consents",
            params=_clean({"since": since, "limit": "10000"}),
        )
        return list(data.get("consents") or [])

    async def delete_unit(self, unit_id: str, *, force: bool = False) -> None:
        """``DELETE /api/v1/units/{unit_id}`` (``force`` revokes its live vouchers first)."""
        await self._request(
            "DELETE",
            f"/api/v1/units/{unit_id}",
            params={"force": "true"} if force else None,
        )

    # --- vouchers ---------------------------------------------------------------------

    async def create_voucher(self, voucher: Mapping[str, Any]) -> Voucher:
        """``POST /api/v1/vouchers`` (201, or 200 on an idempotent ``booking_ref`` replay)."""
        return Voucher.from_dict(
            await self._request("POST", "/api/v1/vouchers", body=_clean(voucher))
        )

    async def list_vouchers(
        self, *, unit_id: str | None = None, status: str | None = None
    ) -> list[Voucher]:
        """``GET /api/v1/vouchers?unit_id=&status=`` (newest first)."""
        params = _clean({"unit_id": unit_id, "status": status, "limit": "1000"})
        data = await self._request("GET", "/api/v1/vouchers", params=params)
        return [Voucher.from_dict(v) for v in data.get("vouchers") or []]

    async def update_voucher(self, code: str, changes: Mapping[str, Any]) -> Voucher:
        """``PATCH /api/v1/vouchers/{code}`` (live grants follow a changed end)."""
        return Voucher.from_dict(
            await self._request(
                "PATCH", f"/api/v1/vouchers/{_quote(code)}", body=_clean(changes)
            )
        )

    async def revoke_voucher(self, code: str) -> None:
        """``POST /api/v1/vouchers/{code}/revoke``: revoke it and let its devices out."""
        await self._request("POST", f"/api/v1/vouchers/{_quote(code)}/revoke")

    async def unit_password(self, unit_id: str) -> dict[str, Any]:
        """``GET /api/v1/units/{unit_id}/password``: the unit's current Wi-Fi password
        (password mode; audited by the sidecar). ``wifi`` is null when it has none now."""
        return await self._request("GET", f"/api/v1/units/{_quote(unit_id)}/password")

    async def voucher_card(self, code: str, kind: str = "png") -> bytes:
        """``GET /api/v1/vouchers/{code}/card.png`` (or ``card.svg``): the printable card."""
        content_type = "image/png" if kind == "png" else "image/svg+xml"
        response, raw = await self._send(
            "GET", f"/api/v1/vouchers/{_quote(code)}/card.{kind}", accept=content_type
        )
        if response.status >= 400:
            self._decode(response, raw.decode("utf-8", errors="replace"))
        return raw

    async def revoke_unit(self, unit_id: str) -> dict[str, Any]:
        """``POST /api/v1/units/{unit_id}/revoke``: every voucher of the unit, one call."""
        return await self._request("POST", f"/api/v1/units/{_quote(unit_id)}/revoke")

    async def authorize_device(
        self,
        mac: str,
        *,
        code: str | None = None,
        unit_id: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Let a device in by its MAC: on voucher ``code``, else on the unit's current stay."""
        path = (
            f"/api/v1/vouchers/{_quote(code)}/devices"
            if code is not None
            else f"/api/v1/units/{_quote(unit_id or '')}/devices"
        )
        return await self._request("POST", path, body=_clean({"mac": mac, "name": name}))

    # --- bookings (Rental Control sync) -----------------------------------------------

    async def put_calendar(self, unit_id: str, view: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /api/v1/units/{unit_id}/bookings``: the unit's whole calendar view."""
        return await self._request(
            "PUT", f"/api/v1/units/{_quote(unit_id)}/bookings", body=view
        )

    # --- network, property time zone, card sheets ---------------------------------------

    async def get_network(self, unit_id: str) -> dict[str, Any]:
        """``GET /api/v1/units/{unit_id}/network``: pods, devices, Wi-Fi, status (both sources)."""
        return await self._request("GET", f"/api/v1/units/{_quote(unit_id)}/network")

    async def get_property(self) -> dict[str, Any]:
        """``GET /api/v1/settings/property`` (``time_zone``: IANA name or None)."""
        return await self._request("GET", "/api/v1/settings/property")

    async def put_property(self, time_zone: str | None) -> dict[str, Any]:
        """``PUT /api/v1/settings/property``: the property's time zone."""
        return await self._request(
            "PUT", "/api/v1/settings/property", body={"time_zone": time_zone}
        )

    async def card_sheet(
        self, unit_id: str, *, start: str, end: str, paper: str
    ) -> tuple[bytes, int]:
        """``GET /api/v1/units/{unit_id}/cards.pdf``: the PDF and how many cards it holds."""
        response, raw = await self._send(
            "GET",
            f"/api/v1/units/{_quote(unit_id)}/cards.pdf",
            params={"from": start, "to": end, "paper": paper},
            accept="application/pdf",
        )
        if response.status >= 400 or not raw.startswith(b"%PDF-"):
            self._decode(response, raw.decode("utf-8", errors="replace"))
            raise RentalWifiConnectionError(f"Unexpected answer from {self.url}: not a PDF")
        return raw, int(response.headers.get("X-Card-Count", "0"))

    # --- finding a unit's Plume ids (the unit form) --------------------------------------

    async def find_plume_node(self, serial: str) -> dict[str, Any]:
        """``GET /api/v1/plume/nodes/{serial}``: the customer and location of a pod."""
        return await self._request("GET", f"/api/v1/plume/nodes/{_quote(serial)}")

    async def find_plume_customers(self, account_id: str) -> list[dict[str, Any]]:
        """``GET /api/v1/plume/customers?account_id=``: customers with that account id."""
        data = await self._request(
            "GET", "/api/v1/plume/customers", params={"account_id": account_id}
        )
        return list(data.get("customers") or [])

    async def plume_locations(self, customer_id: str) -> list[dict[str, Any]]:
        """``GET /api/v1/plume/customers/{customer_id}/locations``: ids and names."""
        data = await self._request(
            "GET", f"/api/v1/plume/customers/{_quote(customer_id)}/locations"
        )
        return list(data.get("locations") or [])

    # --- events -----------------------------------------------------------------------

    async def events(self, last_event_id: str | None = None) -> AsyncIterator[SseEvent]:
        """Stream ``GET /api/v1/events`` until the connection ends.

        Raises the client errors on connect; a stream that breaks later raises
        RentalWifiConnectionError.
        """
        headers = self._headers()
        headers["Accept"] = "text/event-stream"
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.request_timeout, sock_read=SSE_READ_TIMEOUT
        )
        try:
            async with self.session.get(
                self._url("/api/v1/events"), headers=headers, timeout=timeout
            ) as response:
                if response.status == 401:
                    raise RentalWifiAuthError("The sidecar refused the API token")
                if response.status != 200:
                    raise RentalWifiApiError(
                        response.status, "http_error", f"HTTP {response.status}"
                    )
                yield SseEvent(event=SSE_CONNECTED, data={})
                async for event in parse_sse(response.content):
                    yield event
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise RentalWifiConnectionError(f"Event stream from {self.url} broke: {err}") from err


def _quote(segment: str) -> str:
    """Percent-encode one path segment (codes are [A-Z0-9] but input is a user's)."""
    return quote(segment, safe="")


async def parse_sse(stream: aiohttp.StreamReader) -> AsyncIterator[SseEvent]:
    """Parse a ``text/event-stream``: ``event:``/``data:``/``id:`` lines, blank line ends one."""
    event = "message"
    data_lines: list[str] = []
    event_id: str | None = None
    while raw := await stream.readline():
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data_lines:
                try:
                    payload = json.loads("\n".join(data_lines))
                except ValueError:
                    payload = {"raw": "\n".join(data_lines)}
                if not isinstance(payload, dict):
                    payload = {"value": payload}
                yield SseEvent(event=event, data=payload, id=event_id)
            event, data_lines = "message", []
            continue
        if line.startswith(":"):
            continue  # comment, e.g. ": keepalive"
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data_lines.append(value)
        elif name == "id":
            event_id = value
