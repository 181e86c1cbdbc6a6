//! PPSK — a Wi-Fi password per booking on the unit's usual SSID (issue 18), through the Open
//! API's PPSK profile calls (`ProfilesAPI` in the spec as generated SDK docs, Tohaker/omada-go-sdk
//! `omada/api_profiles.go`; research notes `team/research-ppsk-and-mac-auth.md` §1):
//!
//! | call | path (under `/openapi/v1/{omadacId}/sites/{siteId}`) |
//! |---|---|
//! | list profiles + bound SSIDs | `GET /ppsk-profiles?type=0` (`type` required by older local controllers, research §1.1) |
//! | a profile and its keys | `GET /ppsk-profile/{profileId}` — passwords come back in plain text |
//! | add keys | `POST /ppsk-profile/{profileId}/add-psk` `{"ppskList":[{name, psk, mac?, vlan?}]}` |
//! | delete keys | `POST /ppsk-profile/{profileId}/delete-psk` `{"ppskNameList":[name]}` — by name |
//!
//! What real controllers do and how this module deals with it:
//! - **No per-key modify** (absent from both spec copies): a key is changed by adding the new
//!   one and then deleting the old one ([`OmadaClient::ppsk_replace_key`]); only when the
//!   password stays the same is the old one deleted first (two keys with one password in a
//!   profile cannot be told apart by the AP, which finds the key by the password).
//! - **A profile cannot be emptied**: `delete-psk` of the last key answers `-34044 "The PPSK
//!   Profile should have at least one PSK entry."` (observed on 6.3.0.45, deevnet CHG-0013
//!   phase 3). Before a delete that would empty the profile, the sidecar adds its
//!   **placeholder** key [`SENTINEL_NAME`] with a random 63-character password that is stored
//!   nowhere and shown to nobody, and keeps it there for good: the profile then never goes
//!   below one entry (deevnet's fix, there removed again on the next issue; keeping it also
//!   avoids an SSID on an empty profile, research §1.6.2). A `-34044` despite that (the host
//!   deleted the placeholder meanwhile) adds it and retries once.
//! - **Idempotent retries**: every add and delete reads the profile first (the detail carries
//!   the passwords, so "already there with this password" is checkable) and reads it again
//!   afterwards to confirm. Writes to one profile are serialised in this process.
//! - **Only the sidecar's keys are touched**: every name it writes starts with [`KEY_PREFIX`]
//!   ([`KeyName`] cannot be built otherwise); the host's own keys in the same profile are read
//!   (to avoid a password clash) and never changed.
//! - **Older controllers** lack `add-psk`/`delete-psk` (absent from a local spec served before
//!   6.2; present on 6.3.0.45): HTTP 404 or `-1600` becomes [`PpskError::Unsupported`] naming
//!   the controller version. There is no fallback to `modifyPPSKProfile` (a read-modify-write
//!   of every guest's and the host's keys, research §1.9.2).
//!
//! Passwords never appear in logs or error messages: they travel as [`WifiPassword`] (redacted
//! `Debug`) and controller messages about a write are scrubbed of the password sent.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::error::OmadaError;
use super::openapi::{list_of, OpenApi, FORBIDDEN, UNSUPPORTED_PATH};
use super::{transport, Common, OmadaClient, SiteInfo};
use crate::net::Mac;
use crate::passphrase::WifiPassword;

/// Every key the sidecar writes starts with this; keys without it belong to the host.
pub const KEY_PREFIX: &str = "rentalwifi-";
/// The placeholder that keeps a profile from being emptied (see the module docs).
pub const SENTINEL_NAME: &str = "rentalwifi--placeholder-do-not-use";
/// Write probes of the set-up check: added and deleted at once.
const PROBE_PREFIX: &str = "rentalwifi--probe-";
/// `delete-psk` of a profile's last key (OBS, 6.3.0.45).
pub const LAST_KEY: i64 = -34044;
/// Longest key name (`PpskSetting.name`: "1 to 64 characters").
pub const MAX_NAME: usize = 64;

// ------------------------------------------------------------------------------------------
// Names, keys, profiles
// ------------------------------------------------------------------------------------------

/// The name of one of the sidecar's keys: [`KEY_PREFIX`] + a suffix of visible ASCII without
/// spaces, at most 64 characters in all (the spec's pattern: no `+ - @ =` first, then
/// `[\041-\0176]`). Suffixes start with a letter or digit, so a caller's name can never be the
/// placeholder or a probe (whose suffixes start with `-`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl Serialize for KeyName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl KeyName {
    /// `rentalwifi-<suffix>`, checked.
    pub fn new(suffix: &str) -> Result<KeyName, PpskError> {
        let ok_first = suffix
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if !ok_first {
            return Err(PpskError::InvalidKey(
                "a key name's suffix starts with a letter or a digit".into(),
            ));
        }
        if !suffix.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(PpskError::InvalidKey(
                "a key name has visible ASCII characters only (no spaces)".into(),
            ));
        }
        let name = format!("{KEY_PREFIX}{suffix}");
        if name.len() > MAX_NAME {
            return Err(PpskError::InvalidKey(format!(
                "a key name has at most {MAX_NAME} characters ({} here)",
                name.len()
            )));
        }
        Ok(KeyName(name))
    }

    /// A deterministic name from parts (e.g. unit id and booking reference): characters
    /// outside `[A-Za-z0-9._]` become `_`, parts are joined with `-`, and a name that would
    /// be too long keeps its start and gets 10 hex characters of the SHA-256 of all parts,
    /// so distinct inputs keep distinct names.
    pub fn derived(parts: &[&str]) -> KeyName {
        let clean: Vec<String> = parts
            .iter()
            .map(|p| {
                p.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect()
            })
            .collect();
        let mut suffix = clean.join("-");
        if !suffix
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            suffix.insert(0, 'k');
        }
        let room = MAX_NAME - KEY_PREFIX.len();
        if suffix.len() > room {
            let digest = Sha256::digest(parts.join("\u{1f}").as_bytes());
            let tag = hex::encode(&digest[..5]);
            suffix.truncate(room - tag.len() - 1);
            suffix.push('-');
            suffix.push_str(&tag);
        }
        KeyName(format!("{KEY_PREFIX}{suffix}"))
    }

    /// A name read from the controller, if it is one of the sidecar's (placeholder and probes
    /// included).
    pub fn parse(full: &str) -> Option<KeyName> {
        (full.starts_with(KEY_PREFIX) && full.len() <= MAX_NAME).then(|| KeyName(full.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The placeholder or a probe: the sidecar's bookkeeping, not a guest's key.
    pub fn is_internal(&self) -> bool {
        self.0[KEY_PREFIX.len()..].starts_with('-')
    }

    fn sentinel() -> KeyName {
        KeyName(SENTINEL_NAME.to_string())
    }

    fn probe() -> KeyName {
        KeyName(format!("{PROBE_PREFIX}{}", super::random_token(8)))
    }
}

/// A key to put on the controller: one of the sidecar's names, the password, and optionally
/// a device it is bound to (`mac`) and the VLAN it puts the device on (`vlan`, 1–4094).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PskEntry {
    pub name: KeyName,
    pub password: WifiPassword,
    pub mac: Option<Mac>,
    pub vlan: Option<u16>,
}

impl PskEntry {
    fn check(&self) -> Result<(), PpskError> {
        if self.vlan.is_some_and(|v| !(1..=4094).contains(&v)) {
            return Err(PpskError::InvalidKey(
                "a key's VLAN is between 1 and 4094".into(),
            ));
        }
        Ok(())
    }

    /// `PpskSetting` as the spec names its fields; the MAC as `AA-BB-CC-00-11-22`.
    fn wire(&self) -> Value {
        let mut v = json!({"name": self.name.as_str(), "psk": self.password.expose()});
        if let Some(mac) = self.mac {
            v["mac"] = json!(mac.to_string());
        }
        if let Some(vlan) = self.vlan {
            v["vlan"] = json!(vlan);
        }
        v
    }
}

/// A profile as the list shows it: id, name, the SSIDs it serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PpskProfileSummary {
    pub id: String,
    pub name: String,
    pub ssids: Vec<String>,
}

/// A key as the controller holds it (any owner). Its password is kept private.
#[derive(Clone, PartialEq, Eq)]
pub struct ProfileKey {
    pub name: String,
    psk: String,
    pub mac: Option<Mac>,
    pub vlan: Option<u16>,
}

impl std::fmt::Debug for ProfileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileKey")
            .field("name", &self.name)
            .field("psk", &"***")
            .field("mac", &self.mac)
            .field("vlan", &self.vlan)
            .finish()
    }
}

impl ProfileKey {
    /// One of the sidecar's keys?
    pub fn owned(&self) -> Option<KeyName> {
        KeyName::parse(&self.name)
    }

    /// The key's password, when it is a valid WPA2 passphrase.
    pub fn password(&self) -> Option<WifiPassword> {
        WifiPassword::new(self.psk.clone()).ok()
    }

    fn same_as(&self, e: &PskEntry) -> bool {
        self.name == e.name.as_str()
            && self.psk == e.password.expose()
            && self.mac == e.mac
            && self.vlan == e.vlan
    }

    fn from_row(row: &Value) -> Option<ProfileKey> {
        Some(ProfileKey {
            name: row.get("name").and_then(Value::as_str)?.to_string(),
            psk: row
                .get("psk")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            mac: row
                .get("mac")
                .and_then(Value::as_str)
                .and_then(|m| m.parse().ok()),
            vlan: row
                .get("vlan")
                .and_then(transport::as_i64)
                .and_then(|v| u16::try_from(v).ok())
                .filter(|v| *v > 0),
        })
    }
}

/// A profile with its keys (`PPSKProfileVO`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PpskProfile {
    pub id: String,
    pub name: String,
    /// 0 PPSK without RADIUS, 1 with the built-in RADIUS server; `None` when not sent.
    pub kind: Option<i64>,
    pub ssids: Vec<String>,
    pub keys: Vec<ProfileKey>,
    /// `expiration.type`: 0 never, 1 a window, 2 a duration, 3 daily; `None` when absent.
    pub expiration_type: Option<i64>,
}

impl PpskProfile {
    pub fn key(&self, name: &str) -> Option<&ProfileKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The sidecar's guest keys (not the placeholder or probes).
    pub fn guest_keys(&self) -> Vec<KeyName> {
        self.keys
            .iter()
            .filter_map(ProfileKey::owned)
            .filter(|n| !n.is_internal())
            .collect()
    }

    /// The host's own keys (names without the sidecar's prefix).
    pub fn host_keys(&self) -> Vec<&str> {
        self.keys
            .iter()
            .filter(|k| k.owned().is_none())
            .map(|k| k.name.as_str())
            .collect()
    }

    fn uses_password(&self, password: &WifiPassword, except: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.name != except && k.psk == password.expose())
    }

    fn from_result(id: &str, v: &Value) -> PpskProfile {
        PpskProfile {
            id: v
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .to_string(),
            name: v
                .get("profileName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            kind: v.get("type").and_then(transport::as_i64),
            ssids: strings(v.get("ssid")),
            keys: v
                .get("ppsk")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(ProfileKey::from_row).collect())
                .unwrap_or_default(),
            expiration_type: v
                .get("expiration")
                .and_then(|e| e.get("type"))
                .and_then(transport::as_i64),
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What a key operation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyChange {
    /// The key was added.
    Added,
    /// The key was already there exactly so (a retry): nothing sent.
    Unchanged,
    /// The key (or the old key of a replacement) was changed.
    Replaced,
    /// The key was deleted.
    Removed,
    /// The key to delete was not there (a retry, or the host removed it): nothing sent.
    Absent,
}

// ------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------

/// What can go wrong with PPSK. Messages never carry a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PpskError {
    /// The controller could not be reached, refused the credentials, or the app lacks a
    /// right (`Misconfigured`, naming it); see [`OmadaError`].
    #[error(transparent)]
    Omada(#[from] OmadaError),
    /// No Open API credentials: a hotspot operator cannot read or write PPSK profiles.
    #[error("Wi-Fi passwords per booking need the controller's Open API credentials (Settings › Omada: client ID and secret of an app in Client mode, role Administrator); the hotspot operator cannot manage PPSK profiles")]
    NeedsOpenApi,
    /// This controller has no per-key PPSK calls (`add-psk`/`delete-psk`).
    #[error("this controller{} has no per-key PPSK calls (add-psk / delete-psk; they are present on 6.3): update the controller to use Wi-Fi passwords per booking", version.as_deref().map(|v| format!(" (version {v})")).unwrap_or_default())]
    Unsupported { version: Option<String> },
    /// The profile is not (or no longer) on the site.
    #[error("PPSK profile {profile:?} is not on site {site:?} (or not a PPSK profile without RADIUS): choose one of the site's profiles under Settings › Profiles › PPSK")]
    ProfileNotFound { site: String, profile: String },
    /// The key cannot be sent as it is (name, VLAN).
    #[error("invalid PPSK key: {0}")]
    InvalidKey(String),
    /// Another key of the profile (the host's, or another guest's) has this password.
    #[error("another key of PPSK profile {profile:?} already uses this password; make a new one")]
    PasswordInUse { profile: String },
    /// The controller answered success but the profile read back does not show the change.
    #[error("the controller did not keep the change to PPSK profile {profile:?}: {what}")]
    NotApplied { profile: String, what: String },
}

impl PpskError {
    /// Worth retrying later (outbox): the controller may come back.
    pub fn is_transient(&self) -> bool {
        match self {
            PpskError::Omada(e) => e.is_transient(),
            PpskError::NotApplied { .. } => true,
            _ => false,
        }
    }

    /// Something the host must fix on the controller or in the unit (queued work waits).
    pub fn is_misconfiguration(&self) -> bool {
        matches!(
            self,
            PpskError::NeedsOpenApi
                | PpskError::Unsupported { .. }
                | PpskError::ProfileNotFound { .. }
                | PpskError::Omada(OmadaError::Misconfigured(_) | OmadaError::AuthFailed(_))
        )
    }

    /// A stable snake_case name for API error codes and audit entries.
    pub fn kind(&self) -> &'static str {
        match self {
            PpskError::Omada(e) => e.kind(),
            PpskError::NeedsOpenApi => "ppsk_needs_open_api",
            PpskError::Unsupported { .. } => "ppsk_unsupported",
            PpskError::ProfileNotFound { .. } => "ppsk_profile_not_found",
            PpskError::InvalidKey(_) => "ppsk_invalid_key",
            PpskError::PasswordInUse { .. } => "ppsk_password_in_use",
            PpskError::NotApplied { .. } => "ppsk_not_applied",
        }
    }
}

/// Replace every occurrence of the secrets in a controller message.
fn scrub(message: &str, secrets: &[&str]) -> String {
    let mut out = message.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s, "***");
    }
    out
}

// ------------------------------------------------------------------------------------------
// Wire
// ------------------------------------------------------------------------------------------

fn site_url<'a>(id: &'a str, site_id: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["openapi", "v1", id, "sites", site_id];
    v.extend_from_slice(rest);
    v
}

impl OpenApi {
    /// `GET …/ppsk-profiles?type=0`: the site's profiles without RADIUS, with their SSIDs.
    pub(super) async fn ppsk_list(
        &self,
        c: &Common,
        site_id: &str,
        deadline: Instant,
    ) -> Result<Vec<PpskProfileSummary>, OmadaError> {
        let result = self
            .call(c, deadline, "openapi ppsk-profiles", |id| {
                c.http
                    .get(c.url(&site_url(id, site_id, &["ppsk-profiles"])))
                    .query(&[("type", "0")])
            })
            .await?;
        Ok(list_of(&result)
            .iter()
            .filter_map(|p| {
                Some(PpskProfileSummary {
                    id: p.get("id").and_then(Value::as_str)?.to_string(),
                    name: p
                        .get("profileName")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    ssids: strings(p.get("ssid")),
                })
            })
            .collect())
    }

    /// `GET …/ppsk-profile/{profileId}`.
    pub(super) async fn ppsk_detail(
        &self,
        c: &Common,
        site_id: &str,
        profile_id: &str,
        deadline: Instant,
    ) -> Result<PpskProfile, OmadaError> {
        let result = self
            .call(c, deadline, "openapi ppsk-profile", |id| {
                c.http
                    .get(c.url(&site_url(id, site_id, &["ppsk-profile", profile_id])))
            })
            .await?;
        Ok(PpskProfile::from_result(profile_id, &result))
    }

    /// `POST …/ppsk-profile/{profileId}/add-psk`.
    async fn ppsk_add(
        &self,
        c: &Common,
        site_id: &str,
        profile_id: &str,
        entries: &[&PskEntry],
        deadline: Instant,
    ) -> Result<(), OmadaError> {
        let body = json!({"ppskList": entries.iter().map(|e| e.wire()).collect::<Vec<_>>()});
        let secrets: Vec<&str> = entries.iter().map(|e| e.password.expose()).collect();
        self.call(c, deadline, "openapi ppsk add-psk", |id| {
            c.http
                .post(c.url(&site_url(
                    id,
                    site_id,
                    &["ppsk-profile", profile_id, "add-psk"],
                )))
                .json(&body)
        })
        .await
        .map(|_| ())
        .map_err(|e| match e {
            OmadaError::Rejected { code, message } => OmadaError::Rejected {
                code,
                message: scrub(&message, &secrets),
            },
            other => other,
        })
    }

    /// `POST …/ppsk-profile/{profileId}/delete-psk` (by name).
    async fn ppsk_delete(
        &self,
        c: &Common,
        site_id: &str,
        profile_id: &str,
        names: &[&str],
        deadline: Instant,
    ) -> Result<(), OmadaError> {
        let body = json!({ "ppskNameList": names });
        self.call(c, deadline, "openapi ppsk delete-psk", |id| {
            c.http
                .post(c.url(&site_url(
                    id,
                    site_id,
                    &["ppsk-profile", profile_id, "delete-psk"],
                )))
                .json(&body)
        })
        .await
        .map(|_| ())
    }
}

// ------------------------------------------------------------------------------------------
// The readiness check
// ------------------------------------------------------------------------------------------

/// What the PPSK set-up check looks at (issue 18 item 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PpskItem {
    /// Open API credentials are configured (PPSK is not possible in hotspot-operator mode).
    Mode,
    /// The unit's site is visible to the Open API app.
    Site,
    /// The app's role may read (View Only) and write (Modify) the site's PPSK profiles.
    Role,
    /// The chosen profile exists and is a PPSK profile without RADIUS.
    Profile,
    /// The unit's SSIDs use that profile.
    Ssid,
    /// The controller has the per-key calls.
    Version,
    /// The profile has no expiry of its own (it would cut every guest off at once).
    Expiry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    /// Works, but the host should know (e.g. a profile-wide expiry).
    Warn,
    Fail,
    /// Not checked because an earlier check failed.
    Skip,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PpskCheck {
    pub item: PpskItem,
    pub status: CheckStatus,
    pub message: String,
    /// The controller's own words, when it refused.
    pub controller_message: Option<String>,
}

/// The PPSK set-up check of one unit's site and profile: each item with pass / warn / fail /
/// skip and a sentence naming what to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PpskReadiness {
    pub ok: bool,
    pub site: Option<SiteInfo>,
    pub profile: Option<PpskProfileSummary>,
    pub controller_version: Option<String>,
    /// A write probe ran (and passed when `ok`).
    pub write_checked: bool,
    pub checks: Vec<PpskCheck>,
}

impl PpskReadiness {
    /// The first failed check's sentence: what the host must change.
    pub fn problem(&self) -> Option<&str> {
        self.checks
            .iter()
            .find(|c| c.status == CheckStatus::Fail)
            .map(|c| c.message.as_str())
    }

    fn push(&mut self, item: PpskItem, status: CheckStatus, message: impl Into<String>) {
        self.checks.push(PpskCheck {
            item,
            status,
            message: message.into(),
            controller_message: None,
        });
    }

    fn fail(&mut self, item: PpskItem, message: impl Into<String>, e: Option<&OmadaError>) {
        self.checks.push(PpskCheck {
            item,
            status: CheckStatus::Fail,
            message: message.into(),
            controller_message: e.map(|e| e.controller_message().unwrap_or_else(|| e.to_string())),
        });
    }

    fn skip_rest(&mut self, after: &[PpskItem]) {
        let why = self
            .checks
            .iter()
            .rev()
            .find(|c| c.status == CheckStatus::Fail)
            .map(|c| c.item);
        for item in after {
            self.checks.push(PpskCheck {
                item: *item,
                status: CheckStatus::Skip,
                message: format!(
                    "not checked: the {} check failed",
                    why.map(item_word).unwrap_or("previous")
                ),
                controller_message: None,
            });
        }
    }
}

fn item_word(i: PpskItem) -> &'static str {
    match i {
        PpskItem::Mode => "mode",
        PpskItem::Site => "site",
        PpskItem::Role => "role",
        PpskItem::Profile => "profile",
        PpskItem::Ssid => "SSID",
        PpskItem::Version => "version",
        PpskItem::Expiry => "expiry",
    }
}

fn forbidden(e: &OmadaError) -> bool {
    matches!(e, OmadaError::Rejected { code, .. } if *code == FORBIDDEN)
}

fn unsupported(e: &OmadaError) -> bool {
    matches!(e, OmadaError::Rejected { code, .. } if *code == UNSUPPORTED_PATH)
}

// ------------------------------------------------------------------------------------------
// The client's PPSK operations
// ------------------------------------------------------------------------------------------

/// Per-profile write locks (one add/delete sequence at a time on a profile).
#[derive(Default)]
pub(super) struct ProfileLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl ProfileLocks {
    fn of(&self, site_id: &str, profile_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(format!("{site_id}/{profile_id}"))
            .or_default()
            .clone()
    }
}

/// A random password for the placeholder and probes: 63 letters and digits, never stored.
fn throwaway_password() -> WifiPassword {
    WifiPassword::new(super::random_token(63)).expect("63 alphanumerics are a valid passphrase")
}

impl OmadaClient {
    fn ppsk_api(&self) -> Result<&OpenApi, PpskError> {
        self.inner.openapi.as_ref().ok_or(PpskError::NeedsOpenApi)
    }

    /// The controller version, asking `/api/info` when it is not known yet.
    async fn version_for_messages(&self) -> Option<String> {
        let c = &self.inner.common;
        if let Some(v) = c.known_version() {
            return Some(v);
        }
        c.api_info(self.deadline())
            .await
            .ok()
            .and_then(|i| i.version)
    }

    /// Map an error of a PPSK write: a missing path is an old controller; -1005 is a role
    /// without "Site Settings Manager Modify".
    async fn ppsk_write_error(&self, e: OmadaError, site: &SiteInfo) -> PpskError {
        if unsupported(&e) {
            return PpskError::Unsupported {
                version: self.version_for_messages().await,
            };
        }
        if forbidden(&e) {
            return PpskError::Omada(OmadaError::Misconfigured(format!(
                "the Open API app may not change PPSK profiles on site {:?} ({}): give it the role Administrator (Site Settings Manager Modify) under Settings › Platform Integration › Open API",
                site.name,
                e.controller_message().unwrap_or_default()
            )));
        }
        PpskError::Omada(e)
    }

    fn ppsk_read_error(e: OmadaError, site: &SiteInfo) -> PpskError {
        if forbidden(&e) {
            return PpskError::Omada(OmadaError::Misconfigured(format!(
                "the Open API app may not read PPSK profiles on site {:?} ({}): give it the role Administrator (or Site Settings Manager View Only) under Settings › Platform Integration › Open API",
                site.name,
                e.controller_message().unwrap_or_default()
            )));
        }
        PpskError::Omada(e)
    }

    /// The site's PPSK profiles without RADIUS, each with the SSIDs it serves (for the unit
    /// form's profile choice).
    pub async fn ppsk_profiles(&self, site: &str) -> Result<Vec<PpskProfileSummary>, PpskError> {
        let o = self.ppsk_api()?;
        let site = self.resolve_site(site).await?;
        o.ppsk_list(&self.inner.common, &site.id, self.deadline())
            .await
            .map_err(|e| Self::ppsk_read_error(e, &site))
    }

    /// A profile with every key (the host's too; passwords stay inside [`ProfileKey`]).
    pub async fn ppsk_profile(
        &self,
        site: &str,
        profile_id: &str,
    ) -> Result<PpskProfile, PpskError> {
        let o = self.ppsk_api()?;
        let site = self.resolve_site(site).await?;
        self.read_profile(o, &site, profile_id).await
    }

    /// The detail; a refusal is checked against the list, so a profile the host deleted is
    /// named as such.
    async fn read_profile(
        &self,
        o: &OpenApi,
        site: &SiteInfo,
        profile_id: &str,
    ) -> Result<PpskProfile, PpskError> {
        let c = &self.inner.common;
        match o
            .ppsk_detail(c, &site.id, profile_id, self.deadline())
            .await
        {
            Ok(p) => Ok(p),
            Err(e @ OmadaError::Rejected { .. }) if !forbidden(&e) => {
                match o.ppsk_list(c, &site.id, self.deadline()).await {
                    Ok(list) if !list.iter().any(|p| p.id == profile_id) => {
                        Err(PpskError::ProfileNotFound {
                            site: site.name.clone(),
                            profile: profile_id.to_string(),
                        })
                    }
                    _ => Err(Self::ppsk_read_error(e, site)),
                }
            }
            Err(e) => Err(Self::ppsk_read_error(e, site)),
        }
    }

    /// Add keys, as they are (no read first): the low-level call. Prefer
    /// [`ppsk_ensure_key`](Self::ppsk_ensure_key), which is safe to retry.
    pub async fn ppsk_add_keys(
        &self,
        site: &str,
        profile_id: &str,
        entries: &[PskEntry],
    ) -> Result<(), PpskError> {
        let o = self.ppsk_api()?;
        for e in entries {
            e.check()?;
        }
        let site = self.resolve_site(site).await?;
        let refs: Vec<&PskEntry> = entries.iter().collect();
        match o
            .ppsk_add(
                &self.inner.common,
                &site.id,
                profile_id,
                &refs,
                self.deadline(),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => Err(self.ppsk_write_error(e, &site).await),
        }
    }

    /// Delete keys of the sidecar's by name (guarded against emptying the profile): the
    /// low-level call. Prefer [`ppsk_remove_key`](Self::ppsk_remove_key).
    pub async fn ppsk_delete_keys(
        &self,
        site: &str,
        profile_id: &str,
        names: &[KeyName],
    ) -> Result<(), PpskError> {
        let o = self.ppsk_api()?;
        let site = self.resolve_site(site).await?;
        let lock = self.inner.ppsk_locks.of(&site.id, profile_id);
        let _one = lock.lock().await;
        let profile = self.read_profile(o, &site, profile_id).await?;
        // Never the placeholder: it is what keeps the profile from being emptied.
        let present: Vec<&KeyName> = names
            .iter()
            .filter(|n| n.as_str() != SENTINEL_NAME && profile.key(n.as_str()).is_some())
            .collect();
        self.guarded_delete(o, &site, &profile, &present).await
    }

    /// Delete `names` (all present in `profile`, never the placeholder), adding the
    /// placeholder first when they are all the profile holds; one retry on `-34044`.
    async fn guarded_delete(
        &self,
        o: &OpenApi,
        site: &SiteInfo,
        profile: &PpskProfile,
        names: &[&KeyName],
    ) -> Result<(), PpskError> {
        if names.is_empty() {
            return Ok(());
        }
        let c = &self.inner.common;
        if profile.keys.len() <= names.len() {
            self.add_sentinel(o, site, &profile.id).await?;
        }
        let list: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        match o
            .ppsk_delete(c, &site.id, &profile.id, &list, self.deadline())
            .await
        {
            Ok(()) => Ok(()),
            Err(OmadaError::Rejected { code, .. }) if code == LAST_KEY => {
                tracing::info!(site = %site.name, profile = %profile.id, "ppsk: the profile would be empty; adding the placeholder and retrying");
                self.add_sentinel(o, site, &profile.id).await?;
                match o
                    .ppsk_delete(c, &site.id, &profile.id, &list, self.deadline())
                    .await
                {
                    Ok(()) => Ok(()),
                    Err(e) => Err(self.ppsk_write_error(e, site).await),
                }
            }
            Err(e) => Err(self.ppsk_write_error(e, site).await),
        }
    }

    async fn add_sentinel(
        &self,
        o: &OpenApi,
        site: &SiteInfo,
        profile_id: &str,
    ) -> Result<(), PpskError> {
        let entry = PskEntry {
            name: KeyName::sentinel(),
            password: throwaway_password(),
            mac: None,
            vlan: None,
        };
        match o
            .ppsk_add(
                &self.inner.common,
                &site.id,
                profile_id,
                &[&entry],
                self.deadline(),
            )
            .await
        {
            Ok(()) => {
                tracing::info!(site = %site.name, profile = %profile_id, "ppsk: placeholder key added so the profile is never empty");
                Ok(())
            }
            Err(e) => Err(self.ppsk_write_error(e, site).await),
        }
    }

    /// Make sure the profile holds exactly this key: nothing is sent when it is already
    /// there (a retry); a key of that name with other content is deleted and added again
    /// (there is no per-key modify); a password another key already uses is refused. The
    /// profile is read before and after.
    pub async fn ppsk_ensure_key(
        &self,
        site: &str,
        profile_id: &str,
        entry: &PskEntry,
    ) -> Result<KeyChange, PpskError> {
        let o = self.ppsk_api()?;
        entry.check()?;
        let site = self.resolve_site(site).await?;
        let lock = self.inner.ppsk_locks.of(&site.id, profile_id);
        let _one = lock.lock().await;
        let profile = self.read_profile(o, &site, profile_id).await?;
        let existing = profile.key(entry.name.as_str());
        if existing.is_some_and(|k| k.same_as(entry)) {
            return Ok(KeyChange::Unchanged);
        }
        if profile.uses_password(&entry.password, entry.name.as_str()) {
            return Err(PpskError::PasswordInUse {
                profile: profile.name.clone(),
            });
        }
        let change = if existing.is_some() {
            self.guarded_delete(o, &site, &profile, &[&entry.name])
                .await?;
            KeyChange::Replaced
        } else {
            KeyChange::Added
        };
        self.add_checked(o, &site, profile_id, entry).await?;
        Ok(change)
    }

    async fn add_checked(
        &self,
        o: &OpenApi,
        site: &SiteInfo,
        profile_id: &str,
        entry: &PskEntry,
    ) -> Result<PpskProfile, PpskError> {
        if let Err(e) = o
            .ppsk_add(
                &self.inner.common,
                &site.id,
                profile_id,
                &[entry],
                self.deadline(),
            )
            .await
        {
            return Err(self.ppsk_write_error(e, site).await);
        }
        let after = self.read_profile(o, site, profile_id).await?;
        match after.key(entry.name.as_str()) {
            Some(k) if k.same_as(entry) => {
                tracing::info!(site = %site.name, profile = %profile_id, key = %entry.name.as_str(), "ppsk: key added");
                Ok(after)
            }
            _ => Err(PpskError::NotApplied {
                profile: after.name,
                what: format!(
                    "key {} is not in the profile after add-psk",
                    entry.name.as_str()
                ),
            }),
        }
    }

    /// Make sure the key is gone (nothing is sent when it already is); the profile is never
    /// emptied (placeholder) and is read before and after.
    pub async fn ppsk_remove_key(
        &self,
        site: &str,
        profile_id: &str,
        name: &KeyName,
    ) -> Result<KeyChange, PpskError> {
        let o = self.ppsk_api()?;
        let site = self.resolve_site(site).await?;
        let lock = self.inner.ppsk_locks.of(&site.id, profile_id);
        let _one = lock.lock().await;
        let profile = self.read_profile(o, &site, profile_id).await?;
        if profile.key(name.as_str()).is_none() {
            return Ok(KeyChange::Absent);
        }
        self.guarded_delete(o, &site, &profile, &[name]).await?;
        self.confirm_gone(o, &site, profile_id, name).await?;
        Ok(KeyChange::Removed)
    }

    async fn confirm_gone(
        &self,
        o: &OpenApi,
        site: &SiteInfo,
        profile_id: &str,
        name: &KeyName,
    ) -> Result<(), PpskError> {
        let after = self.read_profile(o, site, profile_id).await?;
        if after.key(name.as_str()).is_some() {
            return Err(PpskError::NotApplied {
                profile: after.name,
                what: format!(
                    "key {} is still in the profile after delete-psk",
                    name.as_str()
                ),
            });
        }
        tracing::info!(site = %site.name, profile = %profile_id, key = %name.as_str(), "ppsk: key deleted");
        Ok(())
    }

    /// Change a key "in place" (a moved stay that needs another name, VLAN or device): the
    /// new key is added under its name **before** the old one is deleted, so a guest is never
    /// without a working key; when the password stays the same the old key is deleted first
    /// (one password must not be in a profile twice). Safe to retry at any point: the profile
    /// is read first, and a new key already in place / an old key already gone are skipped.
    pub async fn ppsk_replace_key(
        &self,
        site: &str,
        profile_id: &str,
        old: &KeyName,
        new: &PskEntry,
    ) -> Result<KeyChange, PpskError> {
        if old == &new.name {
            return self.ppsk_ensure_key(site, profile_id, new).await;
        }
        let o = self.ppsk_api()?;
        new.check()?;
        let site = self.resolve_site(site).await?;
        let lock = self.inner.ppsk_locks.of(&site.id, profile_id);
        let _one = lock.lock().await;
        let profile = self.read_profile(o, &site, profile_id).await?;
        let old_key = profile.key(old.as_str());
        let new_key = profile.key(new.name.as_str());
        if new_key.is_some_and(|k| k.same_as(new)) {
            if old_key.is_none() {
                return Ok(KeyChange::Unchanged);
            }
            self.guarded_delete(o, &site, &profile, &[old]).await?;
            self.confirm_gone(o, &site, profile_id, old).await?;
            return Ok(KeyChange::Replaced);
        }
        let same_password = old_key.is_some_and(|k| k.psk == new.password.expose());
        let clash_names = [old.as_str(), new.name.as_str()];
        if profile
            .keys
            .iter()
            .any(|k| !clash_names.contains(&k.name.as_str()) && k.psk == new.password.expose())
        {
            return Err(PpskError::PasswordInUse {
                profile: profile.name.clone(),
            });
        }
        let mut stale: Vec<&KeyName> = Vec::new();
        if new_key.is_some() {
            stale.push(&new.name);
        }
        if same_password {
            stale.push(old);
            self.guarded_delete(o, &site, &profile, &stale).await?;
            self.add_checked(o, &site, profile_id, new).await?;
        } else {
            if !stale.is_empty() {
                self.guarded_delete(o, &site, &profile, &stale).await?;
            }
            let now = self.add_checked(o, &site, profile_id, new).await?;
            if old_key.is_some() {
                self.guarded_delete(o, &site, &now, &[old]).await?;
            }
        }
        if old_key.is_some() {
            self.confirm_gone(o, &site, profile_id, old).await?;
        }
        Ok(KeyChange::Replaced)
    }

    /// The set-up check for one unit (issue 18 item 4): mode (Open API credentials), site,
    /// role (read), profile (exists, without RADIUS), SSID (the unit's SSIDs use it), expiry
    /// (none of the profile's own), and with `write_probe` the role's write right and the
    /// controller version's per-key calls — by adding the placeholder if it is missing and
    /// adding and deleting a probe key (never a guest's key). `profile` is the id, or a
    /// profile name.
    pub async fn check_ppsk(
        &self,
        site: &str,
        profile: &str,
        ssids: &[String],
        write_probe: bool,
    ) -> PpskReadiness {
        use PpskItem as I;
        let mut r = PpskReadiness {
            ok: false,
            site: None,
            profile: None,
            controller_version: None,
            write_checked: false,
            checks: Vec::new(),
        };
        r.controller_version = self.version_for_messages().await;
        let Some(o) = self.inner.openapi.as_ref() else {
            r.fail(
                I::Mode,
                format!(
                    "PPSK needs the Open API: the controller is set up in {} mode with hotspot-operator credentials only; add the client ID and secret of an Open API app (Client mode, role Administrator) in the Omada settings",
                    self.inner.mode.as_str()
                ),
                None,
            );
            r.skip_rest(&[I::Site, I::Role, I::Profile, I::Ssid, I::Expiry, I::Version]);
            return r;
        };
        r.push(I::Mode, CheckStatus::Pass, "Open API credentials are set");
        let site_info = match self.resolve_site(site).await {
            Ok(s) => s,
            Err(e) => {
                let msg = match &e {
                    OmadaError::Misconfigured(m) => m.clone(),
                    other => format!("site {site:?} could not be looked up: {other}"),
                };
                r.fail(I::Site, msg, Some(&e));
                r.skip_rest(&[I::Role, I::Profile, I::Ssid, I::Expiry, I::Version]);
                return r;
            }
        };
        r.push(
            I::Site,
            CheckStatus::Pass,
            format!("the Open API app sees site {:?}", site_info.name),
        );
        r.site = Some(site_info.clone());
        let c = &self.inner.common;
        let list = match o.ppsk_list(c, &site_info.id, self.deadline()).await {
            Ok(l) => l,
            Err(e) => {
                let (item, msg) = if forbidden(&e) {
                    (I::Role, format!("the Open API app may not read PPSK profiles on site {:?}: give it the role Administrator (Site Settings Manager View Only and Modify) under Settings › Platform Integration › Open API", site_info.name))
                } else if unsupported(&e) {
                    (I::Version, format!("this controller{} does not list PPSK profiles through the Open API: update it (PPSK per key needs about 6.3)", version_words(&r.controller_version)))
                } else {
                    (
                        I::Role,
                        format!(
                            "the PPSK profiles of site {:?} could not be read",
                            site_info.name
                        ),
                    )
                };
                r.fail(item, msg, Some(&e));
                if item == I::Version {
                    r.skip_rest(&[I::Profile, I::Ssid, I::Expiry]);
                } else {
                    r.skip_rest(&[I::Profile, I::Ssid, I::Expiry, I::Version]);
                }
                return r;
            }
        };
        r.push(
            I::Role,
            CheckStatus::Pass,
            "the Open API app may read the site's PPSK profiles",
        );
        let found = list
            .iter()
            .find(|p| p.id == profile)
            .or_else(|| list.iter().find(|p| p.name == profile))
            .cloned();
        let Some(found) = found else {
            let names: Vec<String> = list.iter().map(|p| format!("{:?}", p.name)).collect();
            r.fail(
                I::Profile,
                format!(
                    "PPSK profile {profile:?} is not on site {:?} among the profiles without RADIUS ({}): create one under Settings › Profiles › PPSK (type: PPSK without RADIUS) or choose one of these",
                    site_info.name,
                    if names.is_empty() { "there are none".to_string() } else { names.join(", ") }
                ),
                None,
            );
            r.skip_rest(&[I::Ssid, I::Expiry, I::Version]);
            return r;
        };
        r.profile = Some(found.clone());
        let detail = match self.read_profile(o, &site_info, &found.id).await {
            Ok(d) => d,
            Err(e) => {
                r.fail(
                    I::Profile,
                    format!("PPSK profile {:?} could not be read: {e}", found.name),
                    None,
                );
                r.skip_rest(&[I::Ssid, I::Expiry, I::Version]);
                return r;
            }
        };
        if detail.kind.is_some_and(|k| k != 0) {
            r.fail(
                I::Profile,
                format!("PPSK profile {:?} uses a RADIUS server; the sidecar manages PPSK profiles without RADIUS only: create one of type \"PPSK without RADIUS\"", found.name),
                None,
            );
        } else {
            r.push(
                I::Profile,
                CheckStatus::Pass,
                format!(
                    "PPSK profile {:?} exists ({} keys, {} of the sidecar's)",
                    found.name,
                    detail.keys.len(),
                    detail.guest_keys().len()
                ),
            );
        }
        let missing: Vec<&String> = ssids.iter().filter(|s| !found.ssids.contains(s)).collect();
        if ssids.is_empty() {
            r.fail(
                I::Ssid,
                "the unit names no SSID: add the SSID whose Security is this PPSK profile",
                None,
            );
        } else if missing.is_empty() {
            r.push(
                I::Ssid,
                CheckStatus::Pass,
                format!(
                    "SSID {} uses PPSK profile {:?}",
                    list_words(ssids),
                    found.name
                ),
            );
        } else {
            r.fail(
                I::Ssid,
                format!(
                    "SSID {} does not use PPSK profile {:?}: under Settings › Wireless Networks, set its Security to \"PPSK without RADIUS\" and choose this profile (the profile serves {})",
                    list_words(&missing),
                    found.name,
                    if found.ssids.is_empty() { "no SSID".to_string() } else { list_words(&found.ssids) }
                ),
                None,
            );
        }
        match detail.expiration_type {
            None | Some(0) => r.push(I::Expiry, CheckStatus::Pass, "the profile has no expiry of its own"),
            Some(_) => r.push(
                I::Expiry,
                CheckStatus::Warn,
                format!("PPSK profile {:?} has an expiry of its own, which ends every guest's key at once: set its expiration to \"never\"; the sidecar removes each key at check-out", found.name),
            ),
        }
        if write_probe && !r.checks.iter().any(|c| c.status == CheckStatus::Fail) {
            match self.ppsk_probe(o, &site_info, &detail).await {
                Ok(()) => {
                    r.write_checked = true;
                    r.push(
                        I::Role,
                        CheckStatus::Pass,
                        "the Open API app may add and delete keys of the profile",
                    );
                    r.push(
                        I::Version,
                        CheckStatus::Pass,
                        format!(
                            "the controller{} has the per-key PPSK calls",
                            version_words(&r.controller_version)
                        ),
                    );
                }
                Err(e) => {
                    let item = match &e {
                        PpskError::Unsupported { .. } => I::Version,
                        _ => I::Role,
                    };
                    let msg = e.to_string();
                    let controller = match &e {
                        PpskError::Omada(o) => Some(o.clone()),
                        _ => None,
                    };
                    r.fail(item, msg, controller.as_ref());
                }
            }
        } else if write_probe {
            r.skip_rest(&[I::Version]);
        } else {
            r.push(
                I::Version,
                CheckStatus::Skip,
                "the per-key PPSK calls are checked by the write probe, which was not asked for",
            );
        }
        r.ok = !r.checks.iter().any(|c| c.status == CheckStatus::Fail);
        r
    }

    /// The write probe: the placeholder when missing, then a probe key added and deleted.
    async fn ppsk_probe(
        &self,
        o: &OpenApi,
        site: &SiteInfo,
        profile: &PpskProfile,
    ) -> Result<(), PpskError> {
        let lock = self.inner.ppsk_locks.of(&site.id, &profile.id);
        let _one = lock.lock().await;
        if profile.key(SENTINEL_NAME).is_none() {
            self.add_sentinel(o, site, &profile.id).await?;
        }
        let probe = PskEntry {
            name: KeyName::probe(),
            password: throwaway_password(),
            mac: None,
            vlan: None,
        };
        let now = self.add_checked(o, site, &profile.id, &probe).await?;
        // Probes a crash left behind go with this one.
        let probes: Vec<KeyName> = now
            .keys
            .iter()
            .filter(|k| k.name.starts_with(PROBE_PREFIX))
            .filter_map(ProfileKey::owned)
            .collect();
        let refs: Vec<&KeyName> = probes.iter().collect();
        self.guarded_delete(o, site, &now, &refs).await?;
        self.confirm_gone(o, site, &profile.id, &probe.name).await
    }
}

fn version_words(v: &Option<String>) -> String {
    v.as_deref()
        .map(|v| format!(" (version {v})"))
        .unwrap_or_default()
}

fn list_words<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("{:?}", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_carry_the_prefix_and_the_spec_limits() {
        let n = KeyName::new("loft-B1234").unwrap();
        assert_eq!(n.as_str(), "rentalwifi-loft-B1234");
        assert!(!n.is_internal());
        assert!(
            KeyName::new("-placeholder").is_err(),
            "reserved for the sidecar"
        );
        assert!(KeyName::new("").is_err());
        assert!(KeyName::new("has space").is_err());
        assert!(KeyName::new(&"x".repeat(54)).is_err());
        assert!(KeyName::new(&"x".repeat(53)).is_ok());
        assert!(KeyName::parse(SENTINEL_NAME).unwrap().is_internal());
        assert!(KeyName::parse("guest-of-host").is_none());
        assert!(SENTINEL_NAME.len() <= MAX_NAME);
    }

    #[test]
    fn derived_names_are_deterministic_clean_and_short() {
        let a = KeyName::derived(&["Beach House", "HMABC123"]);
        assert_eq!(a.as_str(), "rentalwifi-Beach_House-HMABC123");
        assert_eq!(a, KeyName::derived(&["Beach House", "HMABC123"]));
        let long1 = KeyName::derived(&["unit", &"r".repeat(80), "1"]);
        let long2 = KeyName::derived(&["unit", &"r".repeat(80), "2"]);
        assert_eq!(long1.as_str().len(), MAX_NAME);
        assert_ne!(long1, long2, "the hash keeps long names apart");
        assert_eq!(KeyName::new(&long1.as_str()[KEY_PREFIX.len()..]), Ok(long1));
        let odd = KeyName::derived(&["+unit", "é"]);
        assert!(
            KeyName::new(&odd.as_str()[KEY_PREFIX.len()..]).is_ok(),
            "{odd:?}"
        );
    }

    #[test]
    fn profile_keys_never_show_their_password() {
        let k = ProfileKey::from_row(&json!({"name": "rentalwifi-a", "psk": "secret-words-here", "vlan": 20, "mac": "AA-BB-CC-00-11-22"})).unwrap();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("secret-words"), "{dbg}");
        assert_eq!(k.vlan, Some(20));
        assert_eq!(k.password().unwrap().expose(), "secret-words-here");
        assert_eq!(k.owned().unwrap().as_str(), "rentalwifi-a");
        assert_eq!(
            scrub("bad psk secret-words-here!", &["secret-words-here"]),
            "bad psk ***!"
        );
    }

    #[test]
    fn errors_say_what_to_fix_and_how_to_treat_them() {
        let e = PpskError::Unsupported {
            version: Some("5.15.24".into()),
        };
        assert!(e.to_string().contains("5.15.24") && e.is_misconfiguration());
        assert!(!e.is_transient());
        assert!(PpskError::Omada(OmadaError::Unreachable("x".into())).is_transient());
        assert_eq!(PpskError::NeedsOpenApi.kind(), "ppsk_needs_open_api");
    }
}
