//! Property settings (the time zone): the settings row and its audit row in one transaction.

use crate::property::{Stored, SETTING};
use crate::store::rows;
use crate::tz::Zone;
use crate::usecase::{Error, Rentals, UseCase};
use crate::vouchers::model::AuditAction;
use crate::vouchers::Ctx;

impl Rentals {
    /// Store the property's time zone (`None`: unset, UTC) with an audit row naming it.
    pub async fn set_property(&self, ctx: &Ctx, time_zone: Option<&Zone>) -> Result<(), Error> {
        let name = time_zone.map(|z| z.name().to_owned());
        let value = serde_json::to_vec(&Stored {
            time_zone: name.clone(),
        })
        .expect("property settings serialize");
        self.run(UseCase::PropertyPut, ctx, move |tx| {
            rows::setting_put(tx.db, SETTING, &value, tx.now)?;
            tx.audit(
                AuditAction::PropertySettingsPut,
                None,
                None,
                Some(format!("time_zone={}", name.as_deref().unwrap_or("UTC"))),
            )?;
            Ok::<_, Error>(())
        })
        .await
    }
}
