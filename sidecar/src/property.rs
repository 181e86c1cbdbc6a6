//! Property-wide settings: the property's IANA time zone (DESIGN §10 "Time zone"). Home
//! Assistant sets it to its own zone at set-up and whenever its zone changes; a unit may
//! override it with its own `time_zone`; guests (status page, cards) see times in the zone
//! [`zone_for`] gives. Unset, the property's zone is UTC.
//!
//! Why a setting and not the host's clock: the sidecar may run on another machine (or in a
//! container without zoneinfo) than the property it serves, and one sidecar may serve units in
//! several zones. Stored as a plain row of `settings` (nothing secret), kept in memory because
//! every card and status page asks for it.

use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::store::{rows, Store, StoreError};
use crate::tz::Zone;
use crate::vouchers::model::Unit;

/// Name of the settings row.
pub(crate) const SETTING: &str = "property";

/// The row's content.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Stored {
    pub time_zone: Option<String>,
}

/// The property's settings as the sidecar holds them (loaded at start, replaced by
/// [`crate::usecase::Rentals::set_property`] through [`Property::replace`]).
pub(crate) struct Property {
    zone: RwLock<Option<Zone>>,
}

impl Property {
    /// Read the stored settings. A stored zone the zone database no longer knows (a rename
    /// in a tzdata update) is logged and read as unset.
    pub(crate) async fn load(store: &Store) -> Result<Property, StoreError> {
        let raw = store.read(|c| rows::setting_get(c, SETTING)).await?;
        let stored: Stored = raw
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let zone = stored.time_zone.and_then(|name| match Zone::parse(&name) {
            Ok(z) => Some(z),
            Err(e) => {
                tracing::warn!(time_zone = %name, error = %e, "the stored property time zone is unknown: using UTC");
                None
            }
        });
        Ok(Property {
            zone: RwLock::new(zone),
        })
    }

    /// The property's zone, `None` when Home Assistant has not set one (UTC is used).
    pub(crate) fn time_zone(&self) -> Option<Zone> {
        self.zone.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// After the stored row changed.
    pub(crate) fn replace(&self, zone: Option<Zone>) {
        *self.zone.write().unwrap_or_else(|e| e.into_inner()) = zone;
    }

    /// **The zone for this unit**: its own `time_zone`, else the property's, else UTC. What
    /// the status page and the cards show times in.
    pub(crate) fn zone_for(&self, unit: &Unit) -> Zone {
        zone_for(unit.time_zone.as_deref(), self.time_zone().as_ref())
    }
}

/// The zone for a unit from its own setting and the property's (pure): the unit's zone when
/// it names one the database knows, else the property's, else UTC.
pub(crate) fn zone_for(unit_zone: Option<&str>, property: Option<&Zone>) -> Zone {
    if let Some(name) = unit_zone {
        match Zone::parse(name) {
            Ok(z) => return z,
            Err(e) => {
                tracing::warn!(time_zone = %name, error = %e, "a unit's time zone is unknown: using the property's")
            }
        }
    }
    property.cloned().unwrap_or_else(Zone::utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_overrides_the_property_which_overrides_utc() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(zone_for(None, None).name(), "UTC");
        assert_eq!(zone_for(None, Some(&berlin)).name(), "Europe/Berlin");
        assert_eq!(
            zone_for(Some("America/New_York"), Some(&berlin)).name(),
            "America/New_York"
        );
        // A name the database lost falls back rather than failing a guest's page.
        assert_eq!(
            zone_for(Some("Atlantis/Capital"), Some(&berlin)).name(),
            "Europe/Berlin"
        );
        assert_eq!(zone_for(Some("Atlantis/Capital"), None).name(), "UTC");
    }

    #[tokio::test]
    async fn the_stored_zone_survives_a_restart_and_an_unknown_one_reads_as_unset() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        assert!(Property::load(&store).await.unwrap().time_zone().is_none());
        let put = |name: &'static str| {
            let value = serde_json::to_vec(&Stored {
                time_zone: Some(name.into()),
            })
            .unwrap();
            store.write(move |tx| {
                rows::setting_put(tx, SETTING, &value, time::OffsetDateTime::UNIX_EPOCH)
            })
        };
        put("Europe/Lisbon").await.unwrap();
        let p = Property::load(&store).await.unwrap();
        assert_eq!(p.time_zone().unwrap().name(), "Europe/Lisbon");
        put("Atlantis/Capital").await.unwrap();
        assert!(Property::load(&store).await.unwrap().time_zone().is_none());
    }
}
