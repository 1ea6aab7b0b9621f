//! Task billing into deals (WF-BILL-1): when a task linked to a deal is completed, the time
//! spent on it goes into the deal in one of three modes. One configuration type serves both
//! places that ask for billing — an automation rule's `bill_time` action and a process
//! template's `task_billing` / `bill_time` step — and one pure function decides what the
//! deal's rows get.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Money, Quantity};
use crate::validation::{FieldViolation, Violations};

/// How a task's time goes into the deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillTime {
    pub mode: BillingMode,
    /// The price of one hour. `update_first_row`: the row's new price (its own price when
    /// absent); `add_as_product`: the row's price (the product's catalog price when absent;
    /// a product created for the task gets it as its price); `add_as_row`: required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly_rate: Option<Money>,
    /// Tell the deal's responsible user what was billed.
    #[serde(default)]
    pub notify_responsible: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingMode {
    /// Adds the hours to the quantity of the deal's first product row, at the hourly rate
    /// when one is given; its sum follows.
    UpdateFirstRow,
    /// Find-or-create the catalog product named as the task and add a row of it.
    AddAsProduct,
    /// A plain row named as the task, without the catalog.
    AddAsRow,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::UpdateFirstRow => "update_first_row",
            BillingMode::AddAsProduct => "add_as_product",
            BillingMode::AddAsRow => "add_as_row",
        }
    }
}

impl BillTime {
    /// The rules the configuration itself must meet: `(member, code, message)` of each one
    /// it breaks.
    pub fn problems(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        let mut out = Vec::new();
        if self.hourly_rate.is_some_and(Money::is_negative) {
            out.push((
                "hourly_rate",
                "out_of_range",
                "hourly_rate must not be negative",
            ));
        }
        if self.mode == BillingMode::AddAsRow && self.hourly_rate.is_none() {
            out.push((
                "hourly_rate",
                "required",
                "add_as_row needs the hourly_rate of its row",
            ));
        }
        out
    }

    /// [`BillTime::problems`] as field violations under `field`.
    pub fn check(&self, field: &str, v: &mut Violations) {
        for (member, code, message) in self.problems() {
            v.push(FieldViolation::new(
                format!("{field}.{member}"),
                code,
                message,
            ));
        }
    }
}

/// The hours of `minutes`, to the thousandth (the precision of a row's quantity); `None` for
/// no time at all, which bills nothing.
pub fn hours(minutes: u32) -> Option<Quantity> {
    if minutes == 0 {
        return None;
    }
    let h = (Decimal::from(minutes) / Decimal::from(60)).round_dp(3);
    Quantity::new(h).ok()
}

/// The deal's first product row as billing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstRow {
    pub quantity: Quantity,
    pub price: Money,
}

/// What billing writes into the deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingPlan {
    /// The first row gets this quantity and price.
    UpdateFirstRow { quantity: Quantity, price: Money },
    /// A row of the catalog product named as the task; `price` overrides the product's.
    AddProductRow {
        quantity: Quantity,
        price: Option<Money>,
    },
    /// A plain row named as the task.
    AddPlainRow { quantity: Quantity, price: Money },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingRefusal {
    #[error("the deal's first row would hold more hours than a row can: {0}")]
    TooManyHours(String),
}

/// Decides what the deal's rows get for `hours` of work. `update_first_row` on a deal without
/// rows adds a plain row instead, so that the time is never lost.
pub fn plan(
    config: &BillTime,
    hours: Quantity,
    first_row: Option<FirstRow>,
) -> Result<BillingPlan, BillingRefusal> {
    match (config.mode, first_row) {
        (BillingMode::UpdateFirstRow, Some(row)) => {
            let quantity = Quantity::new(row.quantity.value() + hours.value())
                .map_err(|e| BillingRefusal::TooManyHours(e.to_string()))?;
            Ok(BillingPlan::UpdateFirstRow {
                quantity,
                price: config.hourly_rate.unwrap_or(row.price),
            })
        }
        (BillingMode::UpdateFirstRow, None) | (BillingMode::AddAsRow, _) => {
            Ok(BillingPlan::AddPlainRow {
                quantity: hours,
                price: config.hourly_rate.unwrap_or(Money::ZERO),
            })
        }
        (BillingMode::AddAsProduct, _) => Ok(BillingPlan::AddProductRow {
            quantity: hours,
            price: config.hourly_rate,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn minutes_become_hours_to_the_thousandth() {
        assert_eq!(hours(0), None);
        assert_eq!(hours(90), Some(q("1.5")));
        assert_eq!(hours(20), Some(q("0.333")));
        assert_eq!(hours(1), Some(q("0.017")));
    }

    #[test]
    fn the_first_row_gathers_the_hours() {
        let c = BillTime {
            mode: BillingMode::UpdateFirstRow,
            hourly_rate: None,
            notify_responsible: false,
        };
        let row = FirstRow {
            quantity: q("2"),
            price: money("1500.00"),
        };
        assert_eq!(
            plan(&c, q("1.5"), Some(row)),
            Ok(BillingPlan::UpdateFirstRow {
                quantity: q("3.5"),
                price: money("1500.00")
            })
        );
        let c = BillTime {
            hourly_rate: Some(money("2000.00")),
            ..c
        };
        assert_eq!(
            plan(&c, q("1.5"), Some(row)),
            Ok(BillingPlan::UpdateFirstRow {
                quantity: q("3.5"),
                price: money("2000.00")
            })
        );
        // No row yet: the time is not lost.
        assert_eq!(
            plan(&c, q("1.5"), None),
            Ok(BillingPlan::AddPlainRow {
                quantity: q("1.5"),
                price: money("2000.00")
            })
        );
    }

    #[test]
    fn a_plain_row_needs_its_rate_and_rates_are_not_negative() {
        let mut v = Violations::new();
        BillTime {
            mode: BillingMode::AddAsRow,
            hourly_rate: None,
            notify_responsible: true,
        }
        .check("actions[0]", &mut v);
        BillTime {
            mode: BillingMode::AddAsProduct,
            hourly_rate: Some(money("-1.00")),
            notify_responsible: true,
        }
        .check("actions[1]", &mut v);
        let fields: Vec<String> = v.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(
            fields,
            vec!["actions[0].hourly_rate", "actions[1].hourly_rate"]
        );
    }
}
