//! The voucher domain: units, codes, validity windows, device limits, idempotent issue.
//!
//! This is where the product's rules live (DESIGN §3). `api/` and `portal/` translate wire
//! formats into the input types here and call [`Vouchers`]; nothing below knows HTTP.
//! Every mutation writes an audit row in the same transaction as the change itself.

pub mod code;
pub mod model;

use time::OffsetDateTime;

use crate::clock::Clock;
use crate::config::VoucherConfig;
use crate::events::{EventBus, EventKind};
use crate::net::Mac;
use crate::store::rows::{self, NewAudit, VoucherFilter};
use crate::store::{Store, StoreError};
use model::{AuditEntry, Unit, Voucher, VoucherStatus};

/// Errors of the domain layer; `api::error` maps each to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Validation {
        field: Option<&'static str>,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Error::Conflict(m),
            other => Error::Store(other),
        }
    }
}

pub fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Validation {
        field: Some(field),
        message: message.into(),
    }
}

/// Who asked, for the audit log.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub correlation_id: String,
    pub actor: &'static str,
}

impl Ctx {
    pub fn new(actor: &'static str) -> Self {
        Ctx {
            correlation_id: uuid::Uuid::now_v7().to_string(),
            actor,
        }
    }
}

/// Unit fields as given by a caller; `None` = not given (create: default, patch: unchanged).
#[derive(Clone, Debug, Default)]
pub struct UnitInput {
    pub unit_id: Option<String>,
    pub name: Option<String>,
    pub omada_site: Option<String>,
    pub ssids: Option<Vec<String>>,
    pub vlans: Option<Vec<u16>>,
    pub ap_macs: Option<Vec<String>>,
    pub plume_customer_id: Option<Option<String>>,
    pub plume_location_id: Option<Option<String>>,
    pub checkin_grace_minutes: Option<u32>,
    pub checkout_grace_minutes: Option<u32>,
    pub terms_url: Option<Option<String>>,
}

/// A voucher request (DESIGN §7 `POST /api/v1/vouchers`).
#[derive(Clone, Debug, Default)]
pub struct NewVoucher {
    pub unit_id: String,
    pub code: Option<String>,
    pub valid_from: Option<OffsetDateTime>,
    pub valid_until: Option<OffsetDateTime>,
    pub duration_minutes: Option<i64>,
    pub max_devices: Option<i64>,
    pub guest_name: Option<String>,
    pub booking_ref: Option<String>,
    pub down_kbps: Option<i64>,
    pub up_kbps: Option<i64>,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct VoucherPatch {
    /// Not on the public PATCH route; booking sync moves a booking voucher's start.
    pub valid_from: Option<OffsetDateTime>,
    pub valid_until: Option<OffsetDateTime>,
    pub duration_minutes: Option<i64>,
    pub max_devices: Option<i64>,
    pub guest_name: Option<String>,
    pub note: Option<String>,
}

/// The voucher service. Cheap to clone.
#[derive(Clone)]
pub struct Vouchers {
    pub store: Store,
    pub clock: Clock,
    pub events: EventBus,
    pub config: VoucherConfig,
}

/// `[a-z0-9_-]{1,64}`
pub fn valid_unit_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A slug from a display name: lower-case ASCII, other runs become `-`.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        let c = match c {
            'à'..='å' | 'À'..='Å' => 'a',
            'è'..='ë' | 'È'..='Ë' => 'e',
            'ì'..='ï' | 'Ì'..='Ï' => 'i',
            'ò'..='ö' | 'Ò'..='Ö' | 'ø' => 'o',
            'ù'..='ü' | 'Ù'..='Ü' => 'u',
            'ç' | 'Ç' => 'c',
            'ñ' | 'Ñ' => 'n',
            'ß' => 's',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    let mut s = out.trim_end_matches('-').to_owned();
    s.truncate(56);
    let s = s.trim_end_matches('-').to_owned();
    if s.is_empty() {
        "unit".into()
    } else {
        s
    }
}

fn check_len(field: &'static str, v: &Option<String>, max: usize) -> Result<Option<String>, Error> {
    match v {
        None => Ok(None),
        Some(s) => {
            let t = s.trim();
            if t.chars().count() > max {
                return Err(invalid(
                    field,
                    format!("{field} must be at most {max} characters"),
                ));
            }
            if t.chars().any(|c| c.is_control()) {
                return Err(invalid(
                    field,
                    format!("{field} must not contain control characters"),
                ));
            }
            Ok(if t.is_empty() {
                None
            } else {
                Some(t.to_owned())
            })
        }
    }
}

fn check_range(
    field: &'static str,
    v: Option<i64>,
    lo: i64,
    hi: i64,
) -> Result<Option<u32>, Error> {
    match v {
        None => Ok(None),
        Some(n) if (lo..=hi).contains(&n) => Ok(Some(n as u32)),
        Some(_) => Err(invalid(
            field,
            format!("{field} must be between {lo} and {hi}"),
        )),
    }
}

fn check_http_url(field: &'static str, v: &str) -> Result<(), Error> {
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && v.len() <= 2048 => Ok(()),
        _ => Err(invalid(
            field,
            format!("{field} must be an absolute http(s) URL"),
        )),
    }
}

fn check_plume_id(field: &'static str, v: &Option<String>) -> Result<Option<String>, Error> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s)
            if s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(Some(s.to_owned()))
        }
        Some(_) => Err(invalid(
            field,
            format!("{field} must be a Plume id (letters, digits, '-', '_')"),
        )),
    }
}

/// Apply `input` onto `unit` with validation.
fn apply_unit(unit: &mut Unit, input: UnitInput) -> Result<(), Error> {
    if let Some(name) = input.name {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(|c| c.is_control()) {
            return Err(invalid("name", "name must be 1 to 100 characters"));
        }
        unit.name = name;
    }
    if let Some(site) = input.omada_site {
        let site = site.trim().to_owned();
        if site.is_empty() || site.len() > 64 || site.chars().any(|c| c.is_control()) {
            return Err(invalid(
                "omada_site",
                "omada_site must be 1 to 64 characters",
            ));
        }
        unit.omada_site = site;
    }
    if let Some(ssids) = input.ssids {
        if ssids.len() > 16 {
            return Err(invalid("ssids", "at most 16 SSIDs"));
        }
        let mut out = Vec::new();
        for s in ssids {
            if s.is_empty() || s.len() > 32 || s.chars().any(|c| c.is_control()) {
                return Err(invalid("ssids", "each SSID must be 1 to 32 bytes"));
            }
            if !out.contains(&s) {
                out.push(s);
            }
        }
        unit.ssids = out;
    }
    if let Some(vlans) = input.vlans {
        if vlans.len() > 64 || vlans.iter().any(|v| !(1..=4094).contains(v)) {
            return Err(invalid(
                "vlans",
                "VLAN ids must be between 1 and 4094 (at most 64)",
            ));
        }
        let mut v = vlans;
        v.sort_unstable();
        v.dedup();
        unit.vlans = v;
    }
    if let Some(macs) = input.ap_macs {
        if macs.len() > 256 {
            return Err(invalid("ap_macs", "at most 256 access points"));
        }
        let mut out: Vec<Mac> = Vec::new();
        for m in macs {
            let mac: Mac = m.parse().map_err(|_| {
                invalid(
                    "ap_macs",
                    format!(
                        "'{}' is not a MAC address",
                        m.chars().take(32).collect::<String>()
                    ),
                )
            })?;
            if !out.contains(&mac) {
                out.push(mac);
            }
        }
        unit.ap_macs = out;
    }
    if let Some(v) = input.plume_customer_id {
        unit.plume_customer_id = check_plume_id("plume_customer_id", &v)?;
    }
    if let Some(v) = input.plume_location_id {
        unit.plume_location_id = check_plume_id("plume_location_id", &v)?;
    }
    if let Some(g) = input.checkin_grace_minutes {
        if g > 1440 {
            return Err(invalid(
                "checkin_grace_minutes",
                "checkin_grace_minutes must be between 0 and 1440",
            ));
        }
        unit.checkin_grace_minutes = g;
    }
    if let Some(g) = input.checkout_grace_minutes {
        if g > 1440 {
            return Err(invalid(
                "checkout_grace_minutes",
                "checkout_grace_minutes must be between 0 and 1440",
            ));
        }
        unit.checkout_grace_minutes = g;
    }
    if let Some(t) = input.terms_url {
        match t.as_deref().map(str::trim) {
            None | Some("") => unit.terms_url = None,
            Some(u) => {
                check_http_url("terms_url", u)?;
                unit.terms_url = Some(u.to_owned());
            }
        }
    }
    if unit.plume_customer_id.is_some() != unit.plume_location_id.is_some() {
        return Err(invalid(
            "plume_location_id",
            "plume_customer_id and plume_location_id go together",
        ));
    }
    Ok(())
}

fn audit(
    tx: &rusqlite::Connection,
    ctx: &Ctx,
    now: OffsetDateTime,
    action: &str,
    unit_id: Option<&str>,
    code: Option<&str>,
    detail: Option<String>,
) -> Result<(), StoreError> {
    rows::audit_insert(
        tx,
        &NewAudit {
            at: now,
            correlation_id: &ctx.correlation_id,
            actor: ctx.actor,
            action,
            unit_id,
            code,
            detail,
        },
    )
}

impl Vouchers {
    // ---------- units ----------

    pub async fn create_unit(&self, ctx: &Ctx, input: UnitInput) -> Result<Unit, Error> {
        let now = self.clock.now();
        let given_id = input.unit_id.clone();
        if let Some(id) = &given_id {
            if !valid_unit_id(id) {
                return Err(invalid("unit_id", "unit_id must match [a-z0-9_-]{1,64}"));
            }
        }
        if input.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(invalid("name", "name is required"));
        }
        let mut unit = Unit {
            unit_id: String::new(),
            name: String::new(),
            omada_site: "Default".into(),
            ssids: vec![],
            vlans: vec![],
            ap_macs: vec![],
            plume_customer_id: None,
            plume_location_id: None,
            checkin_grace_minutes: 0,
            checkout_grace_minutes: 0,
            terms_url: None,
            created_at: now,
            updated_at: now,
        };
        apply_unit(&mut unit, input)?;
        let ctx = ctx.clone();
        let unit = self
            .store
            .write(move |tx| {
                unit.unit_id = match given_id {
                    Some(id) => id,
                    None => {
                        let base = slugify(&unit.name);
                        let mut candidate = base.clone();
                        let mut n = 2;
                        while rows::unit_exists(tx, &candidate)? {
                            candidate = format!("{base}-{n}");
                            n += 1;
                        }
                        candidate
                    }
                };
                rows::unit_put(tx, &unit, true)?;
                audit(
                    tx,
                    &ctx,
                    now,
                    "unit.create",
                    Some(&unit.unit_id),
                    None,
                    Some(unit.name.clone()),
                )?;
                Ok::<_, Error>(unit)
            })
            .await?;
        self.events.publish(
            EventKind::UnitChanged,
            serde_json::json!({"unit_id": unit.unit_id, "change": "created"}),
        );
        Ok(unit)
    }

    pub async fn update_unit(
        &self,
        ctx: &Ctx,
        unit_id: &str,
        input: UnitInput,
    ) -> Result<Unit, Error> {
        if input.unit_id.as_deref().is_some_and(|id| id != unit_id) {
            return Err(invalid("unit_id", "unit_id cannot be changed"));
        }
        let now = self.clock.now();
        let ctx = ctx.clone();
        let unit_id = unit_id.to_owned();
        let unit = self
            .store
            .write(move |tx| {
                let mut unit = rows::unit_get(tx, &unit_id).map_err(not_found("unit"))?;
                apply_unit(&mut unit, input)?;
                unit.updated_at = now;
                rows::unit_put(tx, &unit, false)?;
                audit(
                    tx,
                    &ctx,
                    now,
                    "unit.update",
                    Some(&unit.unit_id),
                    None,
                    None,
                )?;
                Ok::<_, Error>(unit)
            })
            .await?;
        self.events.publish(
            EventKind::UnitChanged,
            serde_json::json!({"unit_id": unit.unit_id, "change": "updated"}),
        );
        Ok(unit)
    }

    pub async fn get_unit(&self, unit_id: &str) -> Result<Unit, Error> {
        let id = unit_id.to_owned();
        self.store
            .read(move |c| rows::unit_get(c, &id))
            .await
            .map_err(not_found("unit"))
    }

    pub async fn list_units(&self) -> Result<Vec<Unit>, Error> {
        Ok(self.store.read(rows::unit_list).await?)
    }

    /// Delete a unit. With live vouchers it is refused unless `force`, in which case the
    /// caller must have revoked them first (see `app` which orchestrates revoke + delete).
    pub async fn delete_unit(&self, ctx: &Ctx, unit_id: &str, force: bool) -> Result<(), Error> {
        let now = self.clock.now();
        let ctx = ctx.clone();
        let id = unit_id.to_owned();
        self.store
            .write(move |tx| {
                rows::unit_get(tx, &id).map_err(not_found("unit"))?;
                let has_live = rows::unit_has_live_vouchers(tx, &id, now)?;
                if has_live && !force {
                    return Err(Error::Conflict(
                        "unit has live vouchers; revoke them first or delete with ?force=true"
                            .into(),
                    ));
                }
                rows::unit_delete(tx, &id)?;
                audit(tx, &ctx, now, "unit.delete", Some(&id), None, None)?;
                Ok::<_, Error>(())
            })
            .await?;
        self.events.publish(
            EventKind::UnitChanged,
            serde_json::json!({"unit_id": unit_id, "change": "deleted"}),
        );
        Ok(())
    }

    // ---------- vouchers ----------

    /// Issue a voucher. Returns the voucher and whether it was created (false = idempotent replay).
    pub async fn issue(
        &self,
        ctx: &Ctx,
        req: NewVoucher,
        source: &'static str,
    ) -> Result<(Voucher, bool), Error> {
        let now = self.clock.now();
        if !valid_unit_id(&req.unit_id) {
            return Err(invalid(
                "unit_id",
                "unit_id is required and must match [a-z0-9_-]{1,64}",
            ));
        }
        let custom = match &req.code {
            Some(c) => Some(code::validate_custom(c).map_err(|m| invalid("code", m))?),
            None => None,
        };
        let max_minutes = self.config.max_duration_minutes;
        let duration = check_range("duration_minutes", req.duration_minutes, 1, max_minutes)?;
        let max_devices = check_range("max_devices", req.max_devices, 0, 100)?
            .unwrap_or(self.config.default_max_devices);
        let down = check_range("down_kbps", req.down_kbps, 1, 10_000_000)?;
        let up = check_range("up_kbps", req.up_kbps, 1, 10_000_000)?;
        let guest_name = check_len("guest_name", &req.guest_name, 100)?;
        let booking_ref = check_len("booking_ref", &req.booking_ref, 100)?;
        let note = check_len("note", &req.note, 500)?;
        let valid_from = req.valid_from.unwrap_or(now);
        if req.valid_until.is_none() && duration.is_none() {
            return Err(invalid(
                "valid_until",
                "give valid_until, duration_minutes, or both",
            ));
        }
        if let Some(until) = req.valid_until {
            if until <= valid_from {
                return Err(invalid(
                    "valid_until",
                    "valid_until must be after valid_from",
                ));
            }
            if until <= now {
                return Err(invalid("valid_until", "valid_until must be in the future"));
            }
            if until - valid_from > time::Duration::minutes(max_minutes) {
                return Err(invalid(
                    "valid_until",
                    format!("validity may be at most {max_minutes} minutes"),
                ));
            }
        }
        if valid_from < now - time::Duration::days(366) {
            return Err(invalid("valid_from", "valid_from is too far in the past"));
        }
        if valid_from > now + time::Duration::days(366) {
            return Err(invalid("valid_from", "valid_from is too far in the future"));
        }
        let code_len = self.config.code_length;
        let ctx = ctx.clone();
        let unit_id = req.unit_id.clone();
        let (voucher, created) = self
            .store
            .write(move |tx| {
                if !rows::unit_exists(tx, &unit_id)? {
                    return Err(Error::NotFound("unit"));
                }
                if let Some(b) = &booking_ref {
                    if let Some(existing) = rows::voucher_live_by_booking(tx, &unit_id, b, now)? {
                        return Ok::<_, Error>((existing, false));
                    }
                }
                let code = match custom {
                    Some(c) => {
                        if rows::voucher_exists(tx, &c)? {
                            return Err(Error::Conflict("code is already in use".into()));
                        }
                        c
                    }
                    None => loop {
                        let c = code::generate(code_len);
                        if !rows::voucher_exists(tx, &c)? {
                            break c;
                        }
                    },
                };
                let v = Voucher {
                    code,
                    unit_id: unit_id.clone(),
                    valid_from,
                    valid_until: req.valid_until,
                    duration_minutes: duration,
                    max_devices,
                    devices_used: 0,
                    guest_name,
                    booking_ref,
                    down_kbps: down,
                    up_kbps: up,
                    note,
                    created_at: now,
                    first_used_at: None,
                    revoked_at: None,
                };
                rows::voucher_insert(tx, &v, source)?;
                audit(
                    tx,
                    &ctx,
                    now,
                    "voucher.issue",
                    Some(&v.unit_id),
                    Some(&v.code),
                    v.booking_ref.clone(),
                )?;
                Ok::<_, Error>((v, true))
            })
            .await?;
        if created {
            self.events.publish(
                EventKind::VoucherIssued,
                serde_json::json!({"unit_id": voucher.unit_id, "code": voucher.code, "booking_ref": voucher.booking_ref,
                    "valid_until": voucher.valid_until.map(rfc3339), "expires_at": voucher.expires_at().map(rfc3339)}),
            );
        }
        Ok((voucher, created))
    }

    pub async fn get(&self, code: &str) -> Result<Voucher, Error> {
        let c = code::normalize(code).ok_or(Error::NotFound("voucher"))?;
        self.store
            .read(move |conn| rows::voucher_get(conn, &c))
            .await
            .map_err(not_found("voucher"))
    }

    pub async fn list(&self, filter: VoucherFilter) -> Result<(Vec<Voucher>, usize), Error> {
        let now = self.clock.now();
        Ok(self
            .store
            .read(move |c| rows::voucher_list(c, &filter, now))
            .await?)
    }

    pub async fn live_vouchers(&self) -> Result<Vec<Voucher>, Error> {
        let now = self.clock.now();
        Ok(self
            .store
            .read(move |c| rows::vouchers_live(c, now))
            .await?)
    }

    /// Change a voucher's end / device limit / labels. Returns (before, after).
    pub async fn update(
        &self,
        ctx: &Ctx,
        code: &str,
        patch: VoucherPatch,
    ) -> Result<(Voucher, Voucher), Error> {
        let now = self.clock.now();
        let c = code::normalize(code).ok_or(Error::NotFound("voucher"))?;
        let max_minutes = self.config.max_duration_minutes;
        let duration = check_range("duration_minutes", patch.duration_minutes, 1, max_minutes)?;
        let max_devices = check_range("max_devices", patch.max_devices, 0, 100)?;
        let guest_name = check_len("guest_name", &patch.guest_name, 100)?;
        let note = check_len("note", &patch.note, 500)?;
        if patch.valid_until.is_none()
            && patch.valid_from.is_none()
            && duration.is_none()
            && max_devices.is_none()
            && patch.guest_name.is_none()
            && patch.note.is_none()
        {
            return Err(Error::Validation {
                field: None,
                message: "nothing to change".into(),
            });
        }
        let ctx = ctx.clone();
        let (before, after) = self
            .store
            .write(move |tx| {
                let before = rows::voucher_get(tx, &c).map_err(not_found("voucher"))?;
                if before.revoked_at.is_some() {
                    return Err(Error::Conflict("voucher is revoked".into()));
                }
                let mut v = before.clone();
                if let Some(from) = patch.valid_from {
                    v.valid_from = from;
                    if patch.valid_until.is_none() && v.valid_until.is_some_and(|u| u <= from) {
                        return Err(invalid(
                            "valid_until",
                            "valid_until must be after valid_from",
                        ));
                    }
                }
                if let Some(until) = patch.valid_until {
                    if until <= v.valid_from {
                        return Err(invalid(
                            "valid_until",
                            "valid_until must be after valid_from",
                        ));
                    }
                    if until - v.valid_from > time::Duration::minutes(max_minutes) {
                        return Err(invalid(
                            "valid_until",
                            format!("validity may be at most {max_minutes} minutes"),
                        ));
                    }
                    v.valid_until = Some(until);
                }
                if let Some(d) = duration {
                    v.duration_minutes = Some(d);
                }
                if let Some(m) = max_devices {
                    v.max_devices = m;
                }
                if patch.guest_name.is_some() {
                    v.guest_name = guest_name;
                }
                if patch.note.is_some() {
                    v.note = note;
                }
                rows::voucher_update(tx, &v)?;
                audit(
                    tx,
                    &ctx,
                    now,
                    "voucher.update",
                    Some(&v.unit_id),
                    Some(&v.code),
                    None,
                )?;
                Ok::<_, Error>((before, v))
            })
            .await?;
        self.events.publish(
            EventKind::VoucherUpdated,
            serde_json::json!({"unit_id": after.unit_id, "code": after.code, "valid_until": after.valid_until.map(rfc3339), "max_devices": after.max_devices}),
        );
        Ok((before, after))
    }

    /// Mark a voucher revoked. Unauthorising its devices is the grant layer's job (outbox).
    pub async fn revoke(&self, ctx: &Ctx, code: &str) -> Result<Voucher, Error> {
        let now = self.clock.now();
        let c = code::normalize(code).ok_or(Error::NotFound("voucher"))?;
        let ctx = ctx.clone();
        self.store
            .write(move |tx| {
                let mut v = rows::voucher_get(tx, &c).map_err(not_found("voucher"))?;
                if v.revoked_at.is_none() {
                    v.revoked_at = Some(now);
                    rows::voucher_update(tx, &v)?;
                    audit(
                        tx,
                        &ctx,
                        now,
                        "voucher.revoke",
                        Some(&v.unit_id),
                        Some(&v.code),
                        None,
                    )?;
                }
                Ok::<_, Error>(v)
            })
            .await
    }

    pub async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, Error> {
        Ok(self.store.read(move |c| rows::audit_list(c, limit)).await?)
    }
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> Error {
    move |e| match e {
        StoreError::NotFound => Error::NotFound(what),
        other => other.into(),
    }
}

pub use crate::clock::rfc3339;

/// Parse a status filter.
pub fn parse_status(s: &str) -> Result<VoucherStatus, Error> {
    VoucherStatus::parse(s).ok_or_else(|| {
        invalid(
            "status",
            "status must be unused, active, expired or revoked",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Beach House #2"), "beach-house-2");
        assert_eq!(slugify("  Ferienwohnung Müller "), "ferienwohnung-muller");
        assert_eq!(slugify("!!!"), "unit");
        assert!(valid_unit_id(&slugify(&"x".repeat(200))));
    }
}
