//! `GET /api/v1/units/{unit_id}/cards.pdf?from=&to=&paper=`: a print sheet of the cards of a
//! unit's upcoming bookings (issue 17 item 5), nine to a page, A4 or Letter, with times in the
//! unit's zone. `from` and `to` are dates (`YYYY-MM-DD`, days of the unit's zone, `to`
//! included) or RFC 3339 instants; by default from now for 31 days. Which bookings: the pure
//! [`crate::vouchers::cards::sheet`]. On a password-mode unit each card carries its stay's
//! Wi-Fi password, as a single card does (issue 18): each one read is audited.

use std::borrow::Cow;

use http::{header, StatusCode};
use hyper::body::Incoming;
use hyper::{Request, Response};
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use super::error::ApiError;
use super::{Query, Result};
use crate::app::AppState;
use crate::card::sheet::{self, Paper, SheetError};
use crate::card::CardInput;
use crate::serve::{full, Body};
use crate::tz::Zone;
use crate::usecase::passwords::Reader;
use crate::vouchers::model::AccessMode;
use crate::vouchers::Ctx;

/// The default and the longest range of a sheet.
const DEFAULT_DAYS: i64 = 31;
const MAX_DAYS: i64 = 366;

/// The instant a day begins on the wall clock of `zone` (the offset of that instant, found in
/// two steps so a DST change on the day is honoured).
fn day_start(zone: &Zone, date: Date) -> OffsetDateTime {
    let wall = PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc();
    let first = wall - time::Duration::seconds(zone.offset_at(wall).whole_seconds().into());
    wall - time::Duration::seconds(zone.offset_at(first).whole_seconds().into())
}

/// A date (`YYYY-MM-DD`: the start of that day, or of the next one for the end of a range)
/// or an RFC 3339 instant.
fn bound(q: &Query, key: &str, zone: &Zone, end: bool) -> Result<Option<OffsetDateTime>> {
    let Some(raw) = q.text(key) else {
        return Ok(None);
    };
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(raw.trim(), &date_format) {
        let d = if end { d.next_day().unwrap_or(d) } else { d };
        return Ok(Some(day_start(zone, d)));
    }
    OffsetDateTime::parse(raw.trim(), &time::format_description::well_known::Rfc3339)
        .map(Some)
        .map_err(|_| {
            ApiError::validation(
                Some(key),
                format!("{key} must be a date (YYYY-MM-DD) or an RFC 3339 time"),
            )
        })
}

pub async fn sheet(
    s: &AppState,
    ctx: &Ctx,
    unit_id: &str,
    req: &Request<Incoming>,
) -> Result<Response<Body>> {
    let q = Query::of(req)?;
    let unit = s.rentals.get_unit(unit_id).await?;
    let zone = s.zone_for(&unit);
    let now = s.clock.now();
    let paper = match q.text("paper") {
        None => Paper::A4,
        Some(p) => Paper::parse(&p)
            .ok_or_else(|| ApiError::validation(Some("paper"), "paper must be a4 or letter"))?,
    };
    let from = bound(&q, "from", &zone, false)?.unwrap_or(now);
    let to = bound(&q, "to", &zone, true)?.unwrap_or(from + time::Duration::days(DEFAULT_DAYS));
    if to <= from {
        return Err(ApiError::validation(Some("to"), "to must be after from"));
    }
    if to - from > time::Duration::days(MAX_DAYS) {
        return Err(ApiError::validation(
            Some("to"),
            format!("a sheet covers at most {MAX_DAYS} days"),
        ));
    }
    let bookings = s.rentals.list_bookings(&unit.unit_id).await?;
    let mut cards: Vec<CardInput> = Vec::new();
    for (_, v) in crate::vouchers::cards::sheet(&bookings, from, to, now) {
        let Some(v) = v else { continue };
        let mut card = CardInput::new(&unit, v);
        if unit.access.mode == AccessMode::Password {
            // The guest joins with the password, not a code (the portal refuses those).
            if let Some(sh) = s
                .rentals
                .voucher_password(ctx, &v.code, Reader::Card)
                .await?
            {
                card = card.with_password(sh.password, crate::vouchers::password::end(v));
            }
        }
        cards.push(card.with_times(|t| zone.to_local(t)));
    }
    let pdf = sheet::pdf(paper, &cards).map_err(|e| match e {
        SheetError::Empty => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_cards",
            format!(
                "unit {} has no upcoming booking with a usable voucher between {} and {}",
                unit.unit_id,
                crate::clock::rfc3339(from),
                crate::clock::rfc3339(to)
            ),
        ),
        SheetError::TooMany(_) => {
            ApiError::validation(Some("to"), format!("{e}: choose a shorter range"))
        }
    })?;
    let name: Cow<'_, str> = match paper {
        Paper::A4 => "a4".into(),
        Paper::Letter => "letter".into(),
    };
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/pdf")
        .header(header::CACHE_CONTROL, "no-store")
        .header(
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"wifi-cards-{}-{}.pdf\"",
                unit.unit_id, name
            ),
        )
        .header("x-card-count", cards.len().to_string())
        .body(full(pdf))
        .expect("static response parts"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn a_day_starts_at_local_midnight_dst_included() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(
            day_start(&berlin, date!(2026 - 07 - 01)),
            datetime!(2026-06-30 22:00 UTC)
        );
        assert_eq!(
            day_start(&berlin, date!(2026 - 12 - 01)),
            datetime!(2026-11-30 23:00 UTC)
        );
        // Havana changes at midnight: 2026-03-08 00:00 does not exist, the day begins at 01:00
        // CDT (05:00 UTC); either way the start lies within the first hour of the local day.
        let havana = Zone::parse("America/Havana").unwrap();
        let t = day_start(&havana, date!(2026 - 03 - 08));
        assert!(
            t >= datetime!(2026-03-08 04:00 UTC) && t <= datetime!(2026-03-08 05:00 UTC),
            "{t}"
        );
        assert_eq!(
            day_start(&Zone::utc(), date!(2026 - 01 - 01)),
            datetime!(2026-01-01 00:00 UTC)
        );
    }
}
