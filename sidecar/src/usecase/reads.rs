//! Queries: what the API shows. One read each, on a reader connection, no transaction.

use std::collections::HashMap;

use crate::store::grants::{self as g, GrantFilter};
use crate::store::rows::{self, VoucherFilter};
use crate::store::{bookings as rows_b, outbox, StoreError};
use crate::usecase::bookings::voucher_of;
use crate::usecase::{not_found, Error, Rentals};
use crate::vouchers::booking::WithVoucher;
use crate::vouchers::code;
use crate::vouchers::model::{AuditEntry, Booking, Grant, Unit, Voucher};

impl Rentals {
    pub async fn get_unit(&self, unit_id: &str) -> Result<Unit, Error> {
        let id = unit_id.to_owned();
        self.store
            .read(move |c| rows::unit_get(c, &id))
            .await
            .map_err(not_found("unit"))
    }

    pub async fn list_units(&self) -> Result<Vec<Unit>, StoreError> {
        self.store.read(rows::unit_list).await
    }

    pub async fn get_voucher(&self, code: &str) -> Result<Voucher, Error> {
        let c = code::normalize(code).ok_or(Error::NotFound("voucher"))?;
        self.store
            .read(move |conn| rows::voucher_get(conn, &c))
            .await
            .map_err(not_found("voucher"))
    }

    /// A page of vouchers and the total that match.
    pub async fn list_vouchers(
        &self,
        filter: VoucherFilter,
    ) -> Result<(Vec<Voucher>, usize), StoreError> {
        let now = self.clock.now();
        self.store
            .read(move |c| rows::voucher_list(c, &filter, now))
            .await
    }

    /// Live (unused or active) vouchers of every unit, newest first.
    pub async fn live_vouchers(&self) -> Result<Vec<Voucher>, StoreError> {
        let now = self.clock.now();
        self.store.read(move |c| rows::vouchers_live(c, now)).await
    }

    pub async fn list_grants(&self, filter: GrantFilter) -> Result<Vec<Grant>, StoreError> {
        self.store.read(move |c| g::list(c, &filter)).await
    }

    /// Short guest codes of bookings that have a voucher: (unit id, code, voucher code).
    pub async fn short_booking_codes(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.store
            .read(|c| {
                crate::store::bookings::short_codes(c, crate::vouchers::code::SHORT_CODE_MAX_LEN)
            })
            .await
    }

    /// Active grants per unit.
    pub async fn active_grant_counts(&self) -> Result<HashMap<String, u64>, StoreError> {
        self.store
            .read(|c| {
                let mut stmt = c.prepare_cached(
                    "SELECT unit_id, COUNT(*) FROM grants WHERE ended_at IS NULL AND state = 'active' GROUP BY unit_id",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                })?;
                Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
            })
            .await
    }

    /// Controller operations still waiting.
    pub async fn outbox_pending(&self) -> Result<u64, StoreError> {
        self.store.read(outbox::pending).await
    }

    /// What the outbox holds: counts and its oldest items (the controller status).
    pub async fn outbox_summary(&self) -> Result<outbox::Summary, StoreError> {
        self.store.read(outbox::summary).await
    }

    /// (outbox items pending, active grants, outbox items waiting for a fix), for the gauges.
    pub async fn gauges(&self) -> Result<(u64, u64, u64), StoreError> {
        self.store
            .read(|c| {
                Ok((
                    outbox::pending(c)?,
                    g::count_active(c)?,
                    outbox::waiting(c)?,
                ))
            })
            .await
    }

    pub async fn get_booking(
        &self,
        unit_id: &str,
        booking_ref: &str,
    ) -> Result<WithVoucher, Error> {
        let (uid, bref) = (unit_id.to_owned(), booking_ref.to_owned());
        self.store
            .read(move |c| {
                let b = rows_b::get(c, &uid, &bref)?;
                let v = voucher_of(c, &b)?;
                Ok((b, v))
            })
            .await
            .map_err(not_found("booking"))
    }

    /// A unit's bookings with their vouchers, by start.
    pub async fn list_bookings(&self, unit_id: &str) -> Result<Vec<WithVoucher>, Error> {
        let uid = unit_id.to_owned();
        self.store
            .read(move |c| {
                rows::unit_get(c, &uid)?;
                rows_b::list_for_unit(c, &uid)?
                    .into_iter()
                    .map(|b| {
                        let v = voucher_of(c, &b)?;
                        Ok((b, v))
                    })
                    .collect()
            })
            .await
            .map_err(not_found("unit"))
    }

    /// Bookings missing from their calendar that are not over, by unit and start.
    pub async fn vanished_bookings(&self) -> Result<Vec<Booking>, StoreError> {
        let now = self.clock.now();
        self.store
            .read(move |c| {
                Ok(rows_b::vanished(c)?
                    .into_iter()
                    .filter(|b| b.end > now)
                    .collect())
            })
            .await
    }

    /// The devices let in on a voucher (every grant, newest first).
    pub async fn voucher_devices(&self, code: &str) -> Result<Vec<Grant>, Error> {
        let c = code::normalize(code).ok_or(Error::NotFound("voucher"))?;
        self.store
            .read(move |conn| {
                rows::voucher_get(conn, &c)?;
                g::list(
                    conn,
                    &GrantFilter {
                        code: Some(c.clone()),
                        limit: 1000,
                        ..GrantFilter::default()
                    },
                )
            })
            .await
            .map_err(not_found("voucher"))
    }

    pub async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.store.read(move |c| rows::audit_list(c, limit)).await
    }
}
