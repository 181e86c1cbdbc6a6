"""Typed models mirroring the sidecar's JSON (docs/api.md), 1:1 and without conversions.

Only parsing lives here: every rule (voucher status, effective end, health) is computed
by the sidecar. Unknown keys are ignored so that the API may grow without breaking us;
each object keeps the JSON it came from in ``raw`` for action responses and diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self


def _dt(value: Any) -> datetime | None:
    """Parse an RFC 3339 timestamp (``null`` stays ``None``)."""
    if not value:
        return None
    return datetime.fromisoformat(str(value))


def _str_list(value: Any) -> list[str]:
    return [str(item) for item in value or []]


@dataclass(frozen=True, kw_only=True)
class Info:
    """``GET /api/v1/info``."""

    name: str
    version: str
    instance_id: str
    api_version: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from JSON."""
        return cls(
            name=str(data.get("name", "")),
            version=str(data.get("version", "")),
            instance_id=str(data["instance_id"]),
            api_version=int(data.get("api_version", 1)),
        )


@dataclass(frozen=True, kw_only=True)
class Unit:
    """A rental unit."""

    unit_id: str
    name: str
    omada_site: str | None = None
    ssids: list[str] = field(default_factory=list)
    vlans: list[int] = field(default_factory=list)
    ap_macs: list[str] = field(default_factory=list)
    plume_customer_id: str | None = None
    plume_location_id: str | None = None
    checkin_grace_minutes: int = 0
    checkout_grace_minutes: int = 0
    terms_url: str | None = None
    access_mode: str = "portal"
    ppsk_profile_id: str | None = None
    omada_site_id: str | None = None
    vanish_cancel_minutes: int = 0
    device_policy: str = "replace_oldest"
    address_translation: bool = False
    short_code_second_factor: str = "none"
    time_zone: str | None = None
    welcome_title: str | None = None
    welcome_text: str | None = None
    checkout_time: str | None = None
    host_contact: str | None = None
    accent_color: str | None = None
    logo_sha256: str | None = None
    logo_url: str | None = None
    terms_text: str | None = None
    terms_sha256: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from JSON."""
        return cls(
            unit_id=str(data["unit_id"]),
            name=str(data.get("name") or data["unit_id"]),
            omada_site=data.get("omada_site"),
            ssids=_str_list(data.get("ssids")),
            vlans=[int(v) for v in data.get("vlans") or []],
            ap_macs=_str_list(data.get("ap_macs")),
            plume_customer_id=data.get("plume_customer_id"),
            plume_location_id=data.get("plume_location_id"),
            checkin_grace_minutes=int(data.get("checkin_grace_minutes") or 0),
            checkout_grace_minutes=int(data.get("checkout_grace_minutes") or 0),
            terms_url=data.get("terms_url"),
            access_mode=str(data.get("access_mode") or "portal"),
            ppsk_profile_id=data.get("ppsk_profile_id"),
            omada_site_id=data.get("omada_site_id"),
            vanish_cancel_minutes=int(data.get("vanish_cancel_minutes") or 0),
            device_policy=str(data.get("device_policy") or "replace_oldest"),
            address_translation=bool(data.get("address_translation", False)),
            short_code_second_factor=str(data.get("short_code_second_factor") or "none"),
            time_zone=data.get("time_zone"),
            welcome_title=data.get("welcome_title"),
            welcome_text=data.get("welcome_text"),
            checkout_time=data.get("checkout_time"),
            host_contact=data.get("host_contact"),
            accent_color=data.get("accent_color"),
            logo_sha256=data.get("logo_sha256"),
            logo_url=data.get("logo_url"),
            terms_text=data.get("terms_text"),
            terms_sha256=data.get("terms_sha256"),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class WifiPasswordState:
    """A password-mode unit's current password in the snapshot: which voucher, never the
    password itself (``GET /api/v1/units/{unit_id}/password`` reads that, audited)."""

    code: str
    booking_ref: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    on_controller: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Self | None:
        """Build from JSON (``null``: no current password)."""
        if not data:
            return None
        return cls(
            code=str(data["code"]),
            booking_ref=data.get("booking_ref"),
            valid_from=_dt(data.get("valid_from")),
            valid_until=_dt(data.get("valid_until")),
            on_controller=bool(data.get("on_controller", False)),
        )


@dataclass(frozen=True, kw_only=True)
class Voucher:
    """A voucher (DESIGN §7)."""

    code: str
    unit_id: str
    status: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    duration_minutes: int | None = None
    expires_at: datetime | None = None
    max_devices: int | None = None
    devices_used: int = 0
    devices_active: int = 0
    guest_name: str | None = None
    booking_ref: str | None = None
    note: str | None = None
    created_at: datetime | None = None
    first_used_at: datetime | None = None
    revoked_at: datetime | None = None
    suspended_at: datetime | None = None
    device_policy: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from JSON."""
        return cls(
            code=str(data["code"]),
            unit_id=str(data["unit_id"]),
            status=str(data.get("status", "")),
            valid_from=_dt(data.get("valid_from")),
            valid_until=_dt(data.get("valid_until")),
            duration_minutes=data.get("duration_minutes"),
            expires_at=_dt(data.get("expires_at")),
            max_devices=data.get("max_devices"),
            devices_used=int(data.get("devices_used") or 0),
            devices_active=int(data.get("devices_active") or 0),
            guest_name=data.get("guest_name"),
            booking_ref=data.get("booking_ref"),
            note=data.get("note"),
            created_at=_dt(data.get("created_at")),
            first_used_at=_dt(data.get("first_used_at")),
            revoked_at=_dt(data.get("revoked_at")),
            suspended_at=_dt(data.get("suspended_at")),
            device_policy=data.get("device_policy"),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class VanishedBooking:
    """A booking missing from its unit's calendar (the snapshot's ``vanished_bookings``)."""

    booking_ref: str
    guest_name: str | None = None
    code: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    vanished_at: datetime | None = None
    during_stay: bool = False
    cancel_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from JSON."""
        return cls(
            booking_ref=str(data["booking_ref"]),
            guest_name=data.get("guest_name"),
            code=data.get("code"),
            start=_dt(data.get("start")),
            end=_dt(data.get("end")),
            vanished_at=_dt(data.get("vanished_at")),
            during_stay=bool(data.get("during_stay", False)),
            cancel_at=_dt(data.get("cancel_at")),
        )


@dataclass(frozen=True, kw_only=True)
class Health:
    """Latest Plume health of a unit."""

    status: str = "unknown"
    reasons: list[str] = field(default_factory=list)
    online: bool | None = None
    pods_connected: int | None = None
    pods_total: int | None = None
    devices_connected: int | None = None
    service_level: str | None = None
    updated_at: datetime | None = None
    stale: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Self:
        """Build from JSON (a missing health object reads as unknown)."""
        if not data:
            return cls()
        return cls(
            status=str(data.get("status") or "unknown"),
            reasons=_str_list(data.get("reasons")),
            online=data.get("online"),
            pods_connected=data.get("pods_connected"),
            pods_total=data.get("pods_total"),
            devices_connected=data.get("devices_connected"),
            service_level=data.get("service_level"),
            updated_at=_dt(data.get("updated_at")),
            stale=bool(data.get("stale", False)),
        )


@dataclass(frozen=True, kw_only=True)
class GuestChecks:
    """What the portal's checks see on a unit (the sidecar decides every flag)."""

    short_codes: int = 0
    short_codes_weak: bool = False
    short_codes_paused: bool = False
    address_mismatches: int = 0
    last_address_mismatch_at: datetime | None = None
    address_mismatch_recent: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Self:
        """Build from JSON (missing: nothing to report)."""
        if not data:
            return cls()
        return cls(
            short_codes=int(data.get("short_codes") or 0),
            short_codes_weak=bool(data.get("short_codes_weak", False)),
            short_codes_paused=bool(data.get("short_codes_paused", False)),
            address_mismatches=int(data.get("address_mismatches") or 0),
            last_address_mismatch_at=_dt(data.get("last_address_mismatch_at")),
            address_mismatch_recent=bool(data.get("address_mismatch_recent", False)),
        )


@dataclass(frozen=True, kw_only=True)
class SpeedTest:
    """The gateway's last ISP speed test (Plume), with Airbnb's tier of its download."""

    download_mbps: float | None = None
    upload_mbps: float | None = None
    rtt_ms: float | None = None
    status: str | None = None
    tested_at: str | None = None
    airbnb_tier: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Self | None:
        """Build from JSON (``null``: no speed test)."""
        if not data:
            return None
        return cls(
            download_mbps=data.get("download_mbps"),
            upload_mbps=data.get("upload_mbps"),
            rtt_ms=data.get("rtt_ms"),
            status=data.get("status"),
            tested_at=data.get("tested_at"),
            airbnb_tier=data.get("airbnb_tier"),
        )


@dataclass(frozen=True, kw_only=True)
class PodSummary:
    """A Plume pod or gateway, or a controller access point, of a unit."""

    source: str
    id: str
    name: str
    kind: str
    connected: bool

    @property
    def key(self) -> str:
        """Stable per unit: the source and the pod's id (serial or MAC)."""
        return f"{self.source}_{self.id}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from JSON."""
        return cls(
            source=str(data["source"]),
            id=str(data["id"]),
            name=str(data.get("name") or data["id"]),
            kind=str(data.get("kind") or "pod"),
            connected=bool(data.get("connected", False)),
        )


@dataclass(frozen=True, kw_only=True)
class NetworkSummary:
    """A unit's ``network`` in the snapshot."""

    pods: list[PodSummary] = field(default_factory=list)
    read: dict[str, bool] = field(default_factory=dict)
    """Per source: read since the sidecar started (a missing pod is gone only then)."""
    speed_test: SpeedTest | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Self:
        """Build from JSON (an older sidecar without it: nothing known)."""
        data = data or {}
        return cls(
            pods=[PodSummary.from_dict(p) for p in data.get("pods") or []],
            read={str(k): bool(v) for k, v in (data.get("read") or {}).items()},
            speed_test=SpeedTest.from_dict(data.get("speed_test")),
        )


@dataclass(frozen=True, kw_only=True)
class UnitState:
    """One unit in the state snapshot."""

    unit: Unit
    vouchers: list[Voucher]
    active_grants: int
    health: Health
    wifi_password: WifiPasswordState | None = None
    vanished_bookings: list[VanishedBooking] = field(default_factory=list)
    guest_checks: GuestChecks = field(default_factory=GuestChecks)
    network: NetworkSummary = field(default_factory=NetworkSummary)
    current_voucher: str | None = None
    """The code the unit's card shows: the stay in progress, else the next (the sidecar's)."""

    @property
    def live_voucher(self) -> Voucher | None:
        """The newest live voucher (the sidecar lists them newest first)."""
        return self.vouchers[0] if self.vouchers else None

    @property
    def card_voucher(self) -> Voucher | None:
        """The voucher whose card the unit's image shows."""
        return next((v for v in self.vouchers if v.code == self.current_voucher), None)

    @property
    def password_voucher(self) -> Voucher | None:
        """Password mode: the voucher of the unit's current password (the sidecar picks it)."""
        if self.wifi_password is None:
            return None
        for voucher in self.vouchers:
            if voucher.code == self.wifi_password.code:
                return voucher
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from JSON."""
        return cls(
            unit=Unit.from_dict(data["unit"]),
            vouchers=[Voucher.from_dict(v) for v in data.get("vouchers") or []],
            active_grants=int(data.get("active_grants") or 0),
            health=Health.from_dict(data.get("health")),
            wifi_password=WifiPasswordState.from_dict(data.get("wifi_password")),
            vanished_bookings=[
                VanishedBooking.from_dict(b) for b in data.get("vanished_bookings") or []
            ],
            guest_checks=GuestChecks.from_dict(data.get("guest_checks")),
            network=NetworkSummary.from_dict(data.get("network")),
            current_voucher=data.get("current_voucher"),
        )


@dataclass(frozen=True, kw_only=True)
class UpstreamStatus:
    """Controller or Plume status in the snapshot."""

    configured: bool = False
    connected: bool | None = None
    mode: str | None = None
    last_error: str | None = None
    problem: str | None = None
    """Controller only: a sentence for the host about what to fix, or None."""
    outbox_pending: int = 0
    outbox_waiting: int = 0
    outbox_oldest_pending_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Self:
        """Build from JSON."""
        data = data or {}
        return cls(
            configured=bool(data.get("configured", False)),
            connected=data.get("connected"),
            mode=data.get("mode"),
            last_error=data.get("last_error"),
            problem=data.get("problem"),
            outbox_pending=int(data.get("outbox_pending") or 0),
            outbox_waiting=int(data.get("outbox_waiting") or 0),
            outbox_oldest_pending_at=_dt(data.get("outbox_oldest_pending_at")),
        )


@dataclass(frozen=True, kw_only=True)
class State:
    """``GET /api/v1/state``: the one snapshot Home Assistant polls."""

    instance_id: str
    version: str
    controller: UpstreamStatus
    plume: UpstreamStatus
    units_total: int
    live_vouchers: int
    active_grants: int
    units: dict[str, UnitState]
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from JSON."""
        totals = data.get("totals") or {}
        units = [UnitState.from_dict(u) for u in data.get("units") or []]
        return cls(
            instance_id=str(data["instance_id"]),
            version=str(data.get("version", "")),
            controller=UpstreamStatus.from_dict(data.get("controller")),
            plume=UpstreamStatus.from_dict(data.get("plume")),
            units_total=int(totals.get("units") or len(units)),
            live_vouchers=int(totals.get("live_vouchers") or 0),
            active_grants=int(totals.get("active_grants") or 0),
            units={u.unit.unit_id: u for u in units},
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class SseEvent:
    """One Server-Sent Event from ``GET /api/v1/events``."""

    event: str
    data: dict[str, Any]
    id: str | None = None
