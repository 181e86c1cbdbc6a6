//! The outbox kind `wifi_key` (issue 18): puts a password-mode voucher's key on the controller
//! when its window opens and deletes it when it closes, is revoked or cancelled, or its unit
//! changes — whatever crashes and outages happen in between.
//!
//! An item names a key only (`{"op":"sync","key":"rentalwifi-…"}`); the worker compares what
//! should be now ([`rules::wanted`]: a unit in password mode, a voucher not revoked, inside its
//! window) with what is (the key's `placement`: where it is or may be on the controller), and
//! does what closes the gap:
//!
//! 1. a key at another spot than wanted (a profile or site changed, or not wanted at all) is
//!    deleted there (`ppsk_remove_key`: read first, never emptying the profile), then the
//!    devices that may have joined with it are pushed off ([`rules::to_kick`], `reconnect`,
//!    never `block`): deleting a key is not known to drop its devices (research §1.7);
//! 2. a wanted key is first recorded at its spot (use case `wifi_key_place`, committed before
//!    the controller hears of it, so a crash cannot leave a key there that the sidecar does
//!    not know of), then ensured (`ppsk_ensure_key`: nothing sent when it is already there
//!    exactly so; a key whose VLAN or device changed is replaced in place);
//! 3. one write (`wifi_key_done`) records the outcome (`live_since`, or the key gone), the
//!    audit row (`wifi_password.add` / `.remove`, never the password) and the item done.
//!
//! Every step is safe to repeat, so an item is simply retried: a crash after the controller
//! confirmed (fail point `wifi_key.sent`) repeats it after the restart, an item at a stale
//! time finds nothing to do. A failure is handed to the worker, which treats it like any
//! item's (issue 12b's waiting model, `worker::next_after_key`), never dropped: a controller
//! that does not answer stalls the queue; a change it did not keep is tried again alone; a
//! misconfiguration (a deleted profile, a missing right, no Open API credentials) **waits**
//! with a `problem` — listed in `GET /api/v1/outbox`, counted in `outbox_waiting`, named in
//! the controller's `problem`, tried again every 10 minutes and at once when the settings or
//! a unit change or a check passes, discardable by the host — without holding up take-outs.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::failpoint;
use crate::net::Mac;
use crate::omada::{KeyChange, KeyName, Kick, KickOutcome, PpskError, PskEntry};
use crate::store::outbox::{self, OutboxItem};
use crate::store::{rows, wifi_keys as keys, StoreError};
use crate::usecase::passwords::open;
use crate::usecase::{Rentals, UseCase};
use crate::vouchers::model::{Actor, AuditAction, Unit, Voucher};
use crate::vouchers::password::{self as rules, Connected, KickScope, Placement, WifiKey};
use crate::vouchers::Ctx;

/// The `kind` column of these items.
pub const KIND: &str = "wifi_key";

/// One item's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WifiKeyOp {
    /// Bring the key in line with what should be now.
    Sync { key: String },
}

impl WifiKeyOp {
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("an outbox op serializes")
    }

    pub fn from_payload(payload: &str) -> Result<WifiKeyOp, serde_json::Error> {
        serde_json::from_str(payload)
    }
}

/// How an item went: done (its write committed), or failed — the worker decides what
/// follows, as for every kind.
#[derive(Debug)]
pub enum Handled {
    Done,
    Failed(KeyFailure),
}

/// A failed item, for the worker.
#[derive(Debug)]
pub struct KeyFailure {
    pub error: PpskError,
    /// For the host: "putting Wi-Fi key rentalwifi-… of unit "loft" on site "Default"".
    pub what: String,
    /// The site it concerns (where the key is, else where it should go).
    pub site: Option<String>,
}

/// The site an item's key concerns (where it is or may be on the controller, else its
/// unit's), for the worker's [`super::worker::Hold`]. `None`: unreadable, or nothing known.
pub fn site_of(conn: &rusqlite::Connection, payload: &str) -> Result<Option<String>, StoreError> {
    let Ok(WifiKeyOp::Sync { key }) = WifiKeyOp::from_payload(payload) else {
        return Ok(None);
    };
    let Some(k) = keys::get(conn, &key)? else {
        return Ok(None);
    };
    if let Some(p) = &k.placement {
        return Ok(Some(p.site.clone()));
    }
    match rows::unit_get(conn, &k.unit_id) {
        Ok(u) => Ok(Some(u.omada_site)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The key and what the item is about, as `GET /api/v1/outbox` and a discard's audit show
/// it: (key name, unit id, site). `None`: unreadable.
#[allow(clippy::type_complexity)]
pub fn describe(
    conn: &rusqlite::Connection,
    payload: &str,
) -> Result<Option<(String, Option<String>, Option<String>)>, StoreError> {
    let Ok(WifiKeyOp::Sync { key }) = WifiKeyOp::from_payload(payload) else {
        return Ok(None);
    };
    let unit = keys::get(conn, &key)?.map(|k| k.unit_id);
    let site = site_of(conn, payload)?;
    Ok(Some((key, unit, site)))
}

/// Everything one item needs, read at once.
struct Plan {
    key: WifiKey,
    unit: Option<Unit>,
    voucher: Option<Voucher>,
    /// Another unit names one of the placement's SSIDs on its site.
    shared: bool,
    /// Devices never to push off: another placed key is bound to them, or they hold a
    /// portal grant.
    spare: Vec<Mac>,
}

/// What the controller was made to do: the key deleted at its old spot (with the devices
/// pushed off), and/or the key in place at its wanted one.
#[derive(Default)]
struct Outcome {
    removed: Option<usize>,
    live: Option<KeyChange>,
}

/// Handle one `wifi_key` item.
pub async fn handle(r: &Rentals, item: &OutboxItem) -> Result<Handled, StoreError> {
    let key = match WifiKeyOp::from_payload(&item.payload) {
        Ok(WifiKeyOp::Sync { key }) => key,
        Err(e) => {
            tracing::error!(id = item.id, error = %e, "unreadable Wi-Fi key item dropped");
            finish(r, item.id, None, Outcome::default()).await?;
            return Ok(Handled::Done);
        }
    };
    let Some(plan) = plan(r, &key).await? else {
        finish(r, item.id, None, Outcome::default()).await?;
        return Ok(Handled::Done);
    };
    match sync(r, &plan).await {
        Ok(outcome) => {
            failpoint::hit("wifi_key", "sent");
            finish(r, item.id, Some(&plan), outcome).await?;
            Ok(Handled::Done)
        }
        Err(error) => Ok(Handled::Failed(KeyFailure {
            what: plan.what(r.clock.now()),
            site: plan.site().map(str::to_owned),
            error,
        })),
    }
}

impl Plan {
    /// The site the item concerns: where the key is or may be, else where it should go.
    fn site(&self) -> Option<&str> {
        self.key
            .placement
            .as_ref()
            .map(|p| p.site.as_str())
            .or(self.unit.as_ref().map(|u| u.omada_site.as_str()))
    }

    /// What the item does, for the host.
    fn what(&self, now: OffsetDateTime) -> String {
        let k = &self.key;
        let wanted = rules::wanted(self.unit.as_ref(), self.voucher.as_ref(), now);
        let to = self.unit.as_ref().map(|u| u.omada_site.as_str());
        match (wanted, if wanted { to } else { self.site() }) {
            (true, Some(site)) => format!(
                "putting Wi-Fi key {} of unit {:?} on site {site:?}",
                k.key_name, k.unit_id
            ),
            (false, Some(site)) => format!(
                "deleting Wi-Fi key {} of unit {:?} from site {site:?}",
                k.key_name, k.unit_id
            ),
            (_, None) => format!("Wi-Fi key {} of unit {:?}", k.key_name, k.unit_id),
        }
    }
}

async fn plan(r: &Rentals, key: &str) -> Result<Option<Plan>, StoreError> {
    let key = key.to_owned();
    r.store
        .read(move |c| {
            let Some(k) = keys::get(c, &key)? else {
                return Ok(None);
            };
            let unit = match rows::unit_get(c, &k.unit_id) {
                Ok(u) => Some(u),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e),
            };
            let voucher = match rows::voucher_get(c, &k.code) {
                Ok(v) => Some(v),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e),
            };
            let (shared, spare) = match &k.placement {
                None => (false, Vec::new()),
                Some(p) => {
                    let shared = rows::unit_list(c)?.iter().any(|u| {
                        u.unit_id != k.unit_id
                            && u.omada_site.eq_ignore_ascii_case(&p.site)
                            && u.ssids.iter().any(|s| p.ssids.contains(s))
                    });
                    let mut spare: Vec<Mac> = keys::placed(c)?
                        .into_iter()
                        .filter(|o| o.key_name != k.key_name)
                        .filter_map(|o| o.device_mac)
                        .collect();
                    let mut stmt = c.prepare_cached(
                        "SELECT DISTINCT client_mac FROM grants WHERE ended_at IS NULL AND state = 'active'",
                    )?;
                    let macs = stmt.query_map([], |row| row.get::<_, String>(0))?;
                    for m in macs {
                        if let Ok(mac) = m?.parse::<Mac>() {
                            spare.push(mac);
                        }
                    }
                    (shared, spare)
                }
            };
            Ok(Some(Plan {
                key: k,
                unit,
                voucher,
                shared,
                spare,
            }))
        })
        .await
}

/// Make the controller match the plan (see the module docs).
async fn sync(r: &Rentals, plan: &Plan) -> Result<Outcome, PpskError> {
    let now = r.clock.now();
    let k = &plan.key;
    let Some(name) = KeyName::parse(&k.key_name) else {
        return Err(PpskError::InvalidKey(format!(
            "stored key name {} is not one of the sidecar's",
            k.key_name
        )));
    };
    let target = if rules::wanted(plan.unit.as_ref(), plan.voucher.as_ref(), now) {
        plan.unit
            .as_ref()
            .and_then(|u| Placement::for_unit(u, k.device_mac))
    } else {
        None
    };
    let mut outcome = Outcome::default();
    if let Some(old) = &k.placement {
        if target.as_ref().is_none_or(|t| !t.same_spot(old)) {
            let (site, profile, n) = (old.site.clone(), old.profile_id.clone(), name.clone());
            r.controller
                .ppsk(|c| async move { c.ppsk_remove_key(&site, &profile, &n).await })
                .await?;
            let kicked = kick(r, plan, old).await?;
            outcome.removed = Some(kicked);
        }
    }
    let Some(t) = target else {
        return Ok(outcome);
    };
    if k.placement.as_ref() != Some(&t) {
        place(r, &k.key_name, &t)
            .await
            .map_err(|e| PpskError::NotApplied {
                profile: t.profile_id.clone(),
                what: format!("the key could not be recorded first: {e}"),
            })?;
    }
    let password = open(&r.sealer, k).map_err(|e| PpskError::InvalidKey(e.to_string()))?;
    let entry = PskEntry {
        name,
        password,
        mac: t.mac,
        vlan: t.vlan,
    };
    let (site, profile) = (t.site.clone(), t.profile_id.clone());
    let change = r
        .controller
        .ppsk(|c| async move { c.ppsk_ensure_key(&site, &profile, &entry).await })
        .await?;
    outcome.live = Some(change);
    Ok(outcome)
}

/// Record where the key is about to go, before the controller hears of it.
async fn place(r: &Rentals, key: &str, t: &Placement) -> Result<(), StoreError> {
    let (key, t) = (key.to_owned(), t.clone());
    let ctx = Ctx::new(Actor::Scheduler);
    r.run(UseCase::WifiKeyPlace, &ctx, move |tx| {
        keys::set_placement(tx.db, &key, &t)
    })
    .await
}

/// Push off the devices that may have joined with the deleted key (see
/// [`rules::to_kick`]). A controller that does not answer fails the item (it is retried,
/// the key's deletion is then a no-op); one that refuses (no right to list or disconnect
/// clients) is noted in the controller status, and the item is done: the key is gone, the
/// devices stay on until they leave (docs/wifi-passwords.md).
async fn kick(r: &Rentals, plan: &Plan, p: &Placement) -> Result<usize, PpskError> {
    let (site, ssids) = (p.site.clone(), p.ssids.clone());
    let clients = match r
        .controller
        .ppsk(|c| async move {
            c.connected_clients(&site, &ssids)
                .await
                .map_err(PpskError::from)
        })
        .await
    {
        Ok(list) => list,
        Err(e) if e.is_transient() => return Err(e),
        Err(e) => {
            tracing::warn!(key = %plan.key.key_name, error = %e, "devices that joined with a deleted Wi-Fi password cannot be listed; they stay on until they leave");
            return Ok(0);
        }
    };
    let scope = KickScope {
        ssids: p.ssids.clone(),
        bound_mac: p.mac,
        shared: plan.shared,
        ap_macs: plan
            .unit
            .as_ref()
            .map(|u| u.ap_macs.clone())
            .unwrap_or_default(),
        spare: plan.spare.clone(),
    };
    let connected: Vec<Connected> = clients
        .iter()
        .map(|c| Connected {
            mac: c.mac,
            ssid: c.ssid.clone(),
            ap_mac: c.ap_mac,
        })
        .collect();
    let macs = rules::to_kick(&scope, &connected);
    if macs.is_empty() && !connected.is_empty() && plan.shared && p.mac.is_none() {
        tracing::info!(key = %plan.key.key_name, "the SSID is shared with other units and the unit names no access points: no device pushed off");
    }
    let mut kicked = 0;
    for mac in macs {
        let site = p.site.clone();
        match r
            .controller
            .ppsk(|c| async move {
                c.kick_client(&site, mac, Kick::Reconnect)
                    .await
                    .map_err(PpskError::from)
            })
            .await
        {
            Ok(KickOutcome::Kicked) => kicked += 1,
            Ok(_) => {}
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                tracing::warn!(key = %plan.key.key_name, error = %e, "a device that joined with a deleted Wi-Fi password could not be pushed off; it stays on until it leaves");
                break;
            }
        }
    }
    Ok(kicked)
}

/// One write: the key's new state, its audit row, the item done.
async fn finish(
    r: &Rentals,
    id: i64,
    plan: Option<&Plan>,
    outcome: Outcome,
) -> Result<(), StoreError> {
    let ctx = Ctx::new(Actor::Scheduler);
    let key = plan.map(|p| p.key.clone());
    r.run(UseCase::WifiKeyDone, &ctx, move |tx| {
        if let Some(k) = &key {
            if let Some(kicked) = outcome.removed {
                if outcome.live.is_none() {
                    keys::set_removed(tx.db, &k.key_name, tx.now)?;
                }
                tx.audit(
                    AuditAction::WifiPasswordRemove,
                    Some(&k.unit_id),
                    Some(&k.code),
                    Some(format!(
                        "key {} deleted on the controller; {kicked} device(s) pushed off",
                        k.key_name
                    )),
                )?;
            }
            if let Some(change) = outcome.live {
                keys::set_live(tx.db, &k.key_name, tx.now)?;
                rows::voucher_set_first_used(tx.db, &k.code, tx.now)?;
                if k.live_since.is_none()
                    || outcome.removed.is_some()
                    || change != KeyChange::Unchanged
                {
                    tx.audit(
                        AuditAction::WifiPasswordAdd,
                        Some(&k.unit_id),
                        Some(&k.code),
                        Some(format!("key {} on the controller", k.key_name)),
                    )?;
                }
            }
        }
        outbox::done(tx.db, id, tx.now)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payload format is the contract of rows already queued.
    #[test]
    fn payloads_keep_their_format() {
        let op = WifiKeyOp::Sync {
            key: "rentalwifi-loft-K7M2P9QX4T".into(),
        };
        let json = op.to_payload();
        assert_eq!(json, r#"{"op":"sync","key":"rentalwifi-loft-K7M2P9QX4T"}"#);
        assert_eq!(WifiKeyOp::from_payload(&json).unwrap(), op);
        assert!(WifiKeyOp::from_payload(r#"{"op":"unauthorize"}"#).is_err());
    }
}
