"""The client's edges: the event-stream parser and answers that are not the API's."""

from __future__ import annotations

import aiohttp
import pytest

from custom_components.rental_wifi.api import (
    RentalWifiApiError,
    RentalWifiAuthError,
    RentalWifiClient,
    RentalWifiConnectionError,
    parse_sse,
)

from .conftest import Sidecar


class _Lines:
    def __init__(self, text: bytes) -> None:
        self._lines = text.splitlines(keepends=True)

    async def readline(self) -> bytes:
        return self._lines.pop(0) if self._lines else b""


async def test_parse_sse() -> None:
    """event/data/id lines, comments, multi-line data, non-JSON and non-object data."""
    stream = _Lines(
        b": keepalive\n\n"
        b"event: voucher_issued\nid: 7\ndata: {\"code\":\"K7M2\",\n"
        b"data: \"unit_id\":\"a\"}\n\n"
        b"data: not json\n\n"
        b"event: x\ndata: [1]\r\n\r\n"
        b"retry: 100\n\n"
    )
    events = [event async for event in parse_sse(stream)]  # type: ignore[arg-type]
    assert events[0].data == {"code": "K7M2", "unit_id": "a"}
    assert events[0].id == "7"
    assert events[1].event == "message"
    assert events[1].data == {"raw": "not json"}
    assert events[2].event == "x"
    assert events[2].data == {"value": [1]}
    assert len(events) == 3


async def test_client_errors(sidecar: Sidecar) -> None:
    """Wrong listener, wrong token, unknown route, nothing listening."""
    async with aiohttp.ClientSession() as session:
        # The portal answers HTML, not the API.
        portal = RentalWifiClient(url=sidecar.portal_url, token=None, session=session)
        with pytest.raises((RentalWifiConnectionError, RentalWifiApiError)):
            await portal.get_info()

        bad = RentalWifiClient(url=sidecar.url, token="wrong", session=session)
        with pytest.raises(RentalWifiAuthError):
            await bad.get_state()
        with pytest.raises(RentalWifiAuthError):
            async for _ in bad.events():
                pass

        good = RentalWifiClient(url=sidecar.url, token=sidecar.token, session=session)
        with pytest.raises(RentalWifiApiError) as err:
            await good.get_unit("nope")
        assert err.value.status == 404
        assert err.value.code == "not_found"
        assert await good.get_omada_settings() is None
        with pytest.raises(RentalWifiApiError) as err:
            await good.delete_unit("nope", force=True)
        assert err.value.status == 404

        down = RentalWifiClient(url="http://127.0.0.1:9", token="x", session=session)
        with pytest.raises(RentalWifiConnectionError):
            await down.get_info()
        with pytest.raises(RentalWifiConnectionError):
            async for _ in down.events():
                pass
