//! CAT-2: the VAT rates of a document follow its date. The periods of validity live in the
//! `vat_rates` table; every document operation checks a line's rate, and takes the default
//! rate, against the date of the document the line is on (a deal: its expected close date, or
//! today; a quote or an order: the day it is made; an invoice: its date). A document whose date
//! changes has its lines checked again.

use chrono::NaiveDate;
use sdelka_domain::validation::FieldViolation;
use sdelka_domain::vat::{RatePeriod, VatRate, VatSchedule};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

use crate::entity::{product_row, vat_rate};
use crate::error::StoreError;

use super::{Error, OpResult};

/// The schedule as stored; rows whose code the application does not know are left out.
pub async fn schedule<C: ConnectionTrait>(db: &C) -> OpResult<VatSchedule> {
    let rows = vat_rate::Entity::find()
        .order_by_asc(vat_rate::Column::Id)
        .all(db)
        .await
        .map_err(StoreError::from)?;
    Ok(VatSchedule::new(
        rows.iter()
            .filter_map(|r| {
                Some(RatePeriod {
                    rate: VatRate::parse(&r.code).ok()?,
                    standard: r.standard,
                    from: r.valid_from,
                    to: r.valid_to,
                })
            })
            .collect(),
    ))
}

/// A rate given for a line of a document dated `on`, or a 422 on `field`.
pub fn check(
    schedule: &VatSchedule,
    field: &str,
    rate: VatRate,
    on: NaiveDate,
) -> OpResult<VatRate> {
    schedule.check_on(rate, on).map_err(|e| {
        Error::validation(
            FieldViolation::new(field, "vat_rate_not_valid_on_date", e.to_string()).into(),
        )
    })
}

/// The rate of a line that names none: the product's (a standard rate following the date), else
/// the standard rate of the date; a 422 on `field` when the schedule has no standard rate then.
pub fn default_rate(
    schedule: &VatSchedule,
    field: &str,
    product_rate: Option<VatRate>,
    on: NaiveDate,
) -> OpResult<VatRate> {
    schedule.default_for(product_rate, on).ok_or_else(|| {
        Error::field(
            field,
            "required",
            format!("no standard VAT rate is in force on {on}: give vat_rate"),
        )
    })
}

/// Checks the stored lines of a document against the date `on` it is (about to be) dated; a
/// refusal is a 422 on `field` (the date, or the rows) naming the first line that does not fit.
pub async fn recheck_rows<C: ConnectionTrait>(
    db: &C,
    rows: &[product_row::Model],
    field: &str,
    on: NaiveDate,
) -> OpResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let schedule = schedule(db).await?;
    for (i, r) in rows.iter().enumerate() {
        let Ok(rate) = VatRate::parse(&r.vat_rate) else {
            continue;
        };
        if let Err(e) = schedule.check_on(rate, on) {
            return Err(Error::field(
                field,
                "vat_rate_not_valid_on_date",
                format!("line {} («{}»): {e}; change the line's rate", i + 1, r.name),
            ));
        }
    }
    Ok(())
}
