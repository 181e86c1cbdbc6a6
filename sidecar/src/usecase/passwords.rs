//! Wi-Fi passwords of password-mode units (issue 18), at the transaction level: a voucher's
//! keys follow the voucher and its unit, and the reads that show a password are audited.
//!
//! * [`prepare`] applies the password-mode rules to a voucher being issued (its duration
//!   counts from `valid_from`; `max_devices` does not apply) and [`after_change`] to a
//!   changed one;
//! * [`follow`] runs in the same transaction as every change of a voucher (issue, change,
//!   revoke — booking syncs and cancellations go through these) and of its unit: it makes
//!   the voucher's password when its unit is in password mode (sealed, audited
//!   `wifi_password.create`, never the password itself), and queues the key's outbox items
//!   (`wifi_key` kind): now when the controller must change now, and at the window's start
//!   and end. Older pending items of the key are superseded. The worker
//!   (`outbox::wifi_keys`) compares what should be with what is, so an item at a stale time
//!   does nothing, and a key is on the controller exactly inside its window, across
//!   restarts and outages;
//! * [`unit_changed`] / [`unit_deleted`]: a unit's mode, profile, site, SSIDs or VLAN
//!   changed, or it is gone: every key of its vouchers follows (a deleted unit's keys are
//!   deleted on the controller; their rows stay until that is confirmed);
//! * [`Rentals::unit_password`], [`Rentals::voucher_password`]: the audited reads
//!   (`wifi_password.read`, saying what asked); [`show_in`] the same inside a transaction
//!   (the issue answer: issued, shown and audited in one commit);
//! * [`Rentals::device_key`]: a password bound to one device by its MAC.

use std::collections::HashSet;

use crate::net::Mac;
use crate::omada::KeyName;
use crate::outbox::wifi_keys::{WifiKeyOp, KIND};
use crate::passphrase::WifiPassword;
use crate::store::{outbox, rows, wifi_keys as keys, StoreError};
use crate::usecase::{not_found, Error, Rentals, Tx, UseCase};
use crate::vouchers::model::{AccessMode, AuditAction, Unit, Voucher};
use crate::vouchers::password::{self as rules, Placement, WifiKey};
use crate::vouchers::{invalid, Ctx, Error as Rule};

/// Device-bound keys per voucher, at most.
pub const MAX_DEVICE_KEYS: usize = 16;

/// Password-mode rules for a voucher about to be issued (nothing changes on a portal unit).
pub fn prepare(tx: &Tx<'_>, unit: &Unit, v: &mut Voucher) -> Result<(), Error> {
    if unit.access.mode == AccessMode::Password {
        rules::adapt(v, tx.now)?;
    }
    Ok(())
}

/// Password-mode rules for a changed voucher (`before` → `after`).
pub fn after_change(tx: &Tx<'_>, before: &Voucher, after: &mut Voucher) -> Result<(), Error> {
    let unit = rows::unit_get(tx.db, &after.unit_id).map_err(not_found("unit"))?;
    if unit.access.mode == AccessMode::Password {
        rules::fold_duration(before, after);
        if after.valid_until.is_some_and(|u| u <= after.valid_from) {
            return Err(invalid(
                "duration_minutes",
                "the Wi-Fi password would end before it starts",
            )
            .into());
        }
    }
    Ok(())
}

/// The keys of voucher `v` follow it and its unit (see the module docs).
pub fn follow(tx: &mut Tx<'_>, v: &Voucher) -> Result<(), Error> {
    let unit = match rows::unit_get(tx.db, &v.unit_id) {
        Ok(u) => Some(u),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    follow_on(tx, v, unit.as_ref())
}

/// [`follow`] with the voucher's unit already read in this transaction (`None`: deleted).
pub fn follow_on(tx: &mut Tx<'_>, v: &Voucher, unit: Option<&Unit>) -> Result<(), Error> {
    let mut list = keys::for_code(tx.db, &v.code)?;
    let password_unit = unit.filter(|u| u.access.mode == AccessMode::Password);
    if let Some(u) = password_unit {
        let live = v.revoked_at.is_none()
            && v.suspended_at.is_none()
            && rules::end(v).is_some_and(|e| tx.now < e);
        if live && !list.iter().any(|k| k.device_mac.is_none()) {
            list.insert(0, create(tx, u, v, None, None)?.0);
        }
    }
    for k in &list {
        schedule(tx, k, unit, Some(v))?;
    }
    Ok(())
}

/// A unit changed (`before` → `after`, same transaction): when anything its keys depend on
/// changed, every key of its vouchers follows (a unit now in password mode gives its live
/// vouchers passwords; one back in portal mode has them deleted).
pub fn unit_changed(tx: &mut Tx<'_>, before: &Unit, after: &Unit) -> Result<(), Error> {
    let same = before.access == after.access
        && before.omada_site == after.omada_site
        && before.ssids == after.ssids
        && before.vlans == after.vlans
        && before.ap_macs == after.ap_macs;
    if same {
        return Ok(());
    }
    let mut codes: Vec<String> = Vec::new();
    for v in rows::vouchers_live_for_unit(tx.db, &after.unit_id, tx.now)? {
        codes.push(v.code);
    }
    for k in keys::for_unit(tx.db, &after.unit_id)? {
        if !codes.contains(&k.code) {
            codes.push(k.code);
        }
    }
    for code in codes {
        match rows::voucher_get(tx.db, &code) {
            Ok(v) => follow(tx, &v)?,
            Err(StoreError::NotFound) => {
                for k in keys::for_code(tx.db, &code)? {
                    schedule(tx, &k, Some(after), None)?;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A unit is being deleted (its vouchers go with it): every key of it that may be on the
/// controller is deleted there (the rows stay until the controller confirms).
pub fn unit_deleted(tx: &mut Tx<'_>, unit_id: &str) -> Result<(), Error> {
    for k in keys::for_unit(tx.db, unit_id)? {
        schedule(tx, &k, None, None)?;
    }
    Ok(())
}

/// Start-up repair: every key gets the items it needs — one now when it is not where it
/// should be, one at each of its window's times still ahead — when they are missing (nothing
/// a crash can lose; a safeguard for hand-edited or restored databases). Returns how many
/// keys it rescheduled.
pub fn repair(tx: &mut Tx<'_>) -> Result<usize, Error> {
    let pending = pending_items(tx)?;
    let mut n = 0;
    let mut seen: HashSet<String> = HashSet::new();
    let mut all = keys::placed(tx.db)?;
    for unit in rows::unit_list(tx.db)? {
        if unit.access.mode == AccessMode::Password {
            all.extend(keys::for_unit(tx.db, &unit.unit_id)?);
        }
    }
    for k in all {
        if !seen.insert(k.key_name.clone()) {
            continue;
        }
        let unit = rows::unit_get(tx.db, &k.unit_id).ok();
        let v = rows::voucher_get(tx.db, &k.code).ok();
        let waiting = pending
            .get(&k.key_name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let now_ok = settled(&k, unit.as_ref(), v.as_ref(), tx.now) || !waiting.is_empty();
        let password_unit = unit
            .as_ref()
            .is_some_and(|u| u.access.mode == AccessMode::Password);
        let later_ok = match (&v, password_unit) {
            (Some(v), true) if v.revoked_at.is_none() => rules::due_times(v, tx.now)
                .iter()
                .all(|t| waiting.contains(&crate::store::to_ms(*t))),
            _ => true,
        };
        if now_ok && later_ok {
            continue;
        }
        schedule(tx, &k, unit.as_ref(), v.as_ref())?;
        n += 1;
    }
    Ok(n)
}

/// The host discarded a key's waiting item (`POST /api/v1/outbox/{id}/discard`, same
/// transaction). A key that should not be on the controller now is given up: the sidecar
/// forgets where it may be, so that neither the start-up repair nor a later change queues its
/// deletion again — it is the host's to delete by hand if it is still there. Returns that
/// spot (for the audit row). A key that should be on the controller is left as it is: its
/// next change, or the next start, tries again.
pub fn discarded(tx: &Tx<'_>, key_name: &str) -> Result<Option<Placement>, Error> {
    let Some(k) = keys::get(tx.db, key_name)? else {
        return Ok(None);
    };
    let unit = rows::unit_get(tx.db, &k.unit_id).ok();
    let v = rows::voucher_get(tx.db, &k.code).ok();
    if rules::wanted(unit.as_ref(), v.as_ref(), tx.now) || k.placement.is_none() {
        return Ok(None);
    }
    keys::forget_placement(tx.db, key_name)?;
    Ok(k.placement)
}

/// The pending `wifi_key` items: key name → their due times (ms).
fn pending_items(tx: &Tx<'_>) -> Result<std::collections::HashMap<String, Vec<i64>>, StoreError> {
    let mut pending: std::collections::HashMap<String, Vec<i64>> = Default::default();
    let mut stmt = tx.db.prepare_cached(
        "SELECT json_extract(payload, '$.key'), next_attempt_at FROM outbox WHERE done_at IS NULL AND kind = ?1",
    )?;
    let rows = stmt.query_map([KIND], |r| {
        Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        if let (Some(key), at) = row? {
            pending.entry(key).or_default().push(at);
        }
    }
    Ok(pending)
}

/// Is the key where it should be at `now` (nothing for the controller to do)?
fn settled(
    k: &WifiKey,
    unit: Option<&Unit>,
    v: Option<&Voucher>,
    now: time::OffsetDateTime,
) -> bool {
    if rules::wanted(unit, v, now) {
        let target = unit.and_then(|u| Placement::for_unit(u, k.device_mac));
        k.placement.is_some() && k.placement == target && k.live_since.is_some()
    } else {
        k.placement.is_none()
    }
}

fn queue(tx: &mut Tx<'_>, key_name: &str, at: time::OffsetDateTime) -> Result<(), StoreError> {
    let op = WifiKeyOp::Sync {
        key: key_name.to_owned(),
    };
    tx.queue_kind(KIND, &op.to_payload(), at)
}

/// Replace the key's pending items: now when the controller must change now, and at the
/// window's start and end still ahead.
fn schedule(
    tx: &mut Tx<'_>,
    k: &WifiKey,
    unit: Option<&Unit>,
    v: Option<&Voucher>,
) -> Result<(), Error> {
    outbox::supersede(tx.db, KIND, "key", &k.key_name, tx.now)?;
    if !settled(k, unit, v, tx.now) {
        queue(tx, &k.key_name, tx.now)?;
    }
    let password_unit = unit.is_some_and(|u| u.access.mode == AccessMode::Password);
    if let (true, Some(v)) = (password_unit, v) {
        if v.revoked_at.is_none() {
            for at in rules::due_times(v, tx.now) {
                queue(tx, &k.key_name, at)?;
            }
        }
    }
    Ok(())
}

/// Make a password for voucher `v` (bound to `mac` for a device key), sealed, audited.
fn create(
    tx: &mut Tx<'_>,
    unit: &Unit,
    v: &Voucher,
    mac: Option<Mac>,
    device_name: Option<String>,
) -> Result<(WifiKey, WifiPassword), Error> {
    let name = match mac {
        None => KeyName::derived(&[&unit.unit_id, &v.code]),
        Some(m) => KeyName::derived(&[&unit.unit_id, &v.code, &m.to_string().replace('-', "")]),
    };
    let password = WifiPassword::generate();
    let k = WifiKey {
        key_name: name.as_str().to_owned(),
        code: v.code.clone(),
        unit_id: unit.unit_id.clone(),
        device_mac: mac,
        device_name,
        sealed: tx.sealer.seal(password.expose().as_bytes()),
        created_at: tx.now,
        placement: None,
        live_since: None,
        removed_at: None,
    };
    keys::insert(tx.db, &k)?;
    tx.audit(
        AuditAction::WifiPasswordCreate,
        Some(&unit.unit_id),
        Some(&v.code),
        Some(describe(&k)),
    )?;
    Ok((k, password))
}

/// The audit detail of a key: its name on the controller and the device it is bound to.
fn describe(k: &WifiKey) -> String {
    match k.device_mac {
        None => format!("key {}", k.key_name),
        Some(m) => format!("key {} bound to {m}", k.key_name),
    }
}

/// Open a stored password.
pub fn open(sealer: &crate::secrets::Sealer, k: &WifiKey) -> Result<WifiPassword, StoreError> {
    let bytes = sealer.open(&k.sealed).map_err(|_| {
        StoreError::Corrupt(
            "a stored Wi-Fi password cannot be decrypted (key file replaced?)".into(),
        )
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| StoreError::Corrupt("a stored Wi-Fi password is not text".into()))?;
    WifiPassword::new(text)
        .map_err(|_| StoreError::Corrupt("a stored Wi-Fi password is not valid".into()))
}

/// Open the passwords of `code`'s keys in `list` (its own key and its device keys).
fn opened(
    sealer: &crate::secrets::Sealer,
    unit: Unit,
    voucher: Voucher,
    list: Vec<WifiKey>,
    code: &str,
) -> Result<Shown, Error> {
    let mut own = None;
    let mut devices = Vec::new();
    for k in list.into_iter().filter(|k| k.code == code) {
        let p = open(sealer, &k)?;
        match k.device_mac {
            None => own = Some((k, p)),
            Some(_) => devices.push((k, p)),
        }
    }
    let (key, password) = own.ok_or(Error::NotFound("Wi-Fi password"))?;
    Ok(Shown {
        unit,
        voucher,
        key,
        password,
        devices,
    })
}

fn read_detail(reader: Reader, key: &WifiKey) -> String {
    format!("{}; key {}", reader.as_str(), key.key_name)
}

/// Voucher `v`'s password, shown and audited in this transaction (the issue answer: the
/// voucher, its key and the audit row of the read commit together); `None` when `unit` is
/// not in password mode or the voucher has no key of its own (not live).
pub fn show_in(
    tx: &mut Tx<'_>,
    unit: &Unit,
    v: &Voucher,
    reader: Reader,
) -> Result<Option<Shown>, Error> {
    if unit.access.mode != AccessMode::Password {
        return Ok(None);
    }
    let list = keys::for_code(tx.db, &v.code)?;
    if !list.iter().any(|k| k.device_mac.is_none()) {
        return Ok(None);
    }
    let shown = opened(tx.sealer, unit.clone(), v.clone(), list, &v.code)?;
    tx.audit(
        AuditAction::WifiPasswordRead,
        Some(&unit.unit_id),
        Some(&v.code),
        Some(read_detail(reader, &shown.key)),
    )?;
    Ok(Some(shown))
}

/// What asked to see a password (the audit row's detail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// `GET /api/v1/units/{unit_id}/password` (the Home Assistant sensor).
    UnitRead,
    /// `GET /api/v1/vouchers/{code}/password`.
    VoucherRead,
    /// The answer to `POST /api/v1/vouchers` (the `create_voucher` action).
    IssueAnswer,
    /// A printable card (SVG, PNG).
    Card,
    /// The answer to binding a device.
    DeviceAnswer,
}

impl Reader {
    fn as_str(self) -> &'static str {
        match self {
            Reader::UnitRead => "unit password read",
            Reader::VoucherRead => "voucher password read",
            Reader::IssueAnswer => "shown in the issue answer",
            Reader::Card => "printed on a card",
            Reader::DeviceAnswer => "shown in the device answer",
        }
    }
}

/// A voucher's password with what it belongs to.
#[derive(Clone, Debug)]
pub struct Shown {
    pub unit: Unit,
    pub voucher: Voucher,
    pub key: WifiKey,
    pub password: WifiPassword,
    /// Device-bound keys of the voucher, with their passwords.
    pub devices: Vec<(WifiKey, WifiPassword)>,
}

/// A unit's current password, without the password (what the snapshot shows).
#[derive(Clone, Debug)]
pub struct Current {
    pub voucher: Voucher,
    pub on_controller: bool,
}

impl Rentals {
    /// Each password-mode unit's current password (no password: which voucher, and whether
    /// the controller has it), for the state snapshot.
    pub async fn current_passwords(
        &self,
    ) -> Result<std::collections::HashMap<String, Current>, StoreError> {
        let now = self.clock.now();
        self.store
            .read(move |c| {
                let mut out = std::collections::HashMap::new();
                for unit in rows::unit_list(c)? {
                    if unit.access.mode != AccessMode::Password {
                        continue;
                    }
                    let mut vouchers = Vec::new();
                    let mut live = HashSet::new();
                    for k in keys::for_unit(c, &unit.unit_id)? {
                        if k.device_mac.is_some() {
                            continue;
                        }
                        if k.live_since.is_some() {
                            live.insert(k.code.clone());
                        }
                        if let Ok(v) = rows::voucher_get(c, &k.code) {
                            vouchers.push(v);
                        }
                    }
                    if let Some(v) = rules::current(&vouchers, now) {
                        out.insert(
                            unit.unit_id.clone(),
                            Current {
                                on_controller: live.contains(&v.code),
                                voucher: v.clone(),
                            },
                        );
                    }
                }
                Ok(out)
            })
            .await
    }

    /// The unit's current password (the booking in progress, else the next; DESIGN issue 18
    /// item 3), audited; `None` when it has none now. A unit in portal mode is a conflict.
    pub async fn unit_password(
        &self,
        ctx: &Ctx,
        unit_id: &str,
        reader: Reader,
    ) -> Result<Option<Shown>, Error> {
        let id = unit_id.to_owned();
        let now = self.clock.now();
        let found = self
            .store
            .read(move |c| {
                let unit = rows::unit_get(c, &id)?;
                let mut vouchers = Vec::new();
                let mut own = Vec::new();
                for k in keys::for_unit(c, &id)? {
                    if k.device_mac.is_some() {
                        continue;
                    }
                    if let Ok(v) = rows::voucher_get(c, &k.code) {
                        vouchers.push(v);
                        own.push(k);
                    }
                }
                Ok((unit, vouchers, own))
            })
            .await
            .map_err(not_found("unit"))?;
        let (unit, vouchers, own) = found;
        if unit.access.mode != AccessMode::Password {
            return Err(not_password_mode(&unit.unit_id));
        }
        let Some(v) = rules::current(&vouchers, now) else {
            return Ok(None);
        };
        let code = v.code.clone();
        self.show(ctx, unit, v.clone(), own, &code, reader)
            .await
            .map(Some)
    }

    /// A voucher's password (and its device keys'), audited; `None` for a voucher without
    /// one (a portal unit's).
    pub async fn voucher_password(
        &self,
        ctx: &Ctx,
        code: &str,
        reader: Reader,
    ) -> Result<Option<Shown>, Error> {
        let code = crate::vouchers::code::normalize(code).ok_or(Error::NotFound("voucher"))?;
        let c2 = code.clone();
        let (v, unit, list) = self
            .store
            .read(move |c| {
                let v = rows::voucher_get(c, &c2)?;
                let unit = rows::unit_get(c, &v.unit_id)?;
                Ok((v, unit, keys::for_code(c, &c2)?))
            })
            .await
            .map_err(not_found("voucher"))?;
        if !list.iter().any(|k| k.device_mac.is_none()) {
            return Ok(None);
        }
        self.show(ctx, unit, v, list, &code, reader).await.map(Some)
    }

    /// Open the passwords of `code`'s keys, then write the audit row: one read, one row.
    async fn show(
        &self,
        ctx: &Ctx,
        unit: Unit,
        voucher: Voucher,
        list: Vec<WifiKey>,
        code: &str,
        reader: Reader,
    ) -> Result<Shown, Error> {
        let shown = opened(&self.sealer, unit, voucher, list, code)?;
        let (uid, c, detail) = (
            shown.unit.unit_id.clone(),
            code.to_owned(),
            read_detail(reader, &shown.key),
        );
        self.run(UseCase::PasswordRead, ctx, move |tx| {
            tx.audit(
                AuditAction::WifiPasswordRead,
                Some(&uid),
                Some(&c),
                Some(detail),
            )
        })
        .await?;
        Ok(shown)
    }

    /// Bind a password of voucher `code` to one device (`mac`): a key of its own, with its
    /// own password, only that device can use, for the voucher's window (issue 18 item 2).
    /// The same device again answers the same key (a replay). Returns the key, its password
    /// and whether it is new.
    pub async fn device_key(
        &self,
        ctx: &Ctx,
        code: &str,
        mac: Mac,
        name: Option<String>,
    ) -> Result<(WifiKey, WifiPassword, Voucher, bool), Error> {
        let code = crate::vouchers::code::normalize(code).ok_or(Error::NotFound("voucher"))?;
        let sealer = self.sealer.clone();
        self.run(UseCase::DeviceKey, ctx, move |tx| {
            let v = rows::voucher_get(tx.db, &code).map_err(not_found("voucher"))?;
            let unit = rows::unit_get(tx.db, &v.unit_id).map_err(not_found("unit"))?;
            if unit.access.mode != AccessMode::Password {
                return Err(not_password_mode(&unit.unit_id));
            }
            if v.revoked_at.is_some() || rules::end(&v).is_none_or(|e| e <= tx.now) {
                return Err(Rule::Conflict(
                    "the voucher is over or revoked: its Wi-Fi passwords are gone".into(),
                )
                .into());
            }
            let list = keys::for_code(tx.db, &v.code)?;
            if let Some(k) = list.iter().find(|k| k.device_mac == Some(mac)) {
                let p = open(&sealer, k)?;
                tx.audit(
                    AuditAction::WifiPasswordRead,
                    Some(&unit.unit_id),
                    Some(&v.code),
                    Some(format!(
                        "{}; {}",
                        Reader::DeviceAnswer.as_str(),
                        describe(k)
                    )),
                )?;
                return Ok((k.clone(), p, v, false));
            }
            if list.iter().filter(|k| k.device_mac.is_some()).count() >= MAX_DEVICE_KEYS {
                return Err(Rule::Conflict(format!(
                    "a voucher has at most {MAX_DEVICE_KEYS} device-bound Wi-Fi passwords"
                ))
                .into());
            }
            let (k, p) = create(tx, &unit, &v, Some(mac), name)?;
            follow(tx, &v)?;
            Ok((k, p, v, true))
        })
        .await
    }
}

fn not_password_mode(unit_id: &str) -> Error {
    Rule::Conflict(format!(
        "unit {unit_id} lets guests in through the portal (access_mode portal): it has no Wi-Fi passwords"
    ))
    .into()
}
