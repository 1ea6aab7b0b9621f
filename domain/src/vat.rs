//! CAT-2 VAT rates. A rate is a value with a period of validity, not a constant: the standard
//! rate is 22 % from 2026-01-01 (Federal Law 425-FZ) and was 20 % before; the rate of a document
//! follows its (shipment) date. "Без НДС" is a rate of its own, distinct from 0 %: a 0 % line is
//! a taxable supply at zero rate (exports), a `none` line is outside VAT altogether, and
//! documents must say which.

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::{RuleBroken, deserialize_parsed};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VatRate {
    /// 22 %, the standard rate from 2026-01-01.
    Standard22,
    /// 20 %, the standard rate for documents dated before 2026-01-01.
    Historic20,
    /// 10 %: some foods, children's goods, medicines, books.
    Reduced10,
    /// 0 %: exports and similar, still a taxable supply.
    Zero,
    /// "Без НДС": not subject to VAT (simplified tax system, exempt operations).
    None,
}

/// Why a VAT rate is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatRateError {
    #[error("unknown VAT rate `{0}`: use one of 22, 20, 10, 0, none")]
    Unknown(String),
    #[error(
        "VAT rate {rate} is valid for documents dated {valid}; the document is dated {date}{advice}"
    )]
    NotValidOn {
        rate: &'static str,
        /// The periods the rate is valid in, e.g. `from 2026-01-01`.
        valid: String,
        date: NaiveDate,
        /// `, use 22 %` (the standard rate of the date), or nothing when there is none.
        advice: String,
    },
}

impl RuleBroken for VatRateError {
    fn code(&self) -> &'static str {
        match self {
            VatRateError::Unknown(_) => "unknown_value",
            VatRateError::NotValidOn { .. } => "vat_rate_not_valid_on_date",
        }
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// First day of the 22 % standard rate.
pub fn standard_22_from() -> NaiveDate {
    date(2026, 1, 1)
}

impl VatRate {
    pub const ALL: [VatRate; 5] = [
        VatRate::Standard22,
        VatRate::Historic20,
        VatRate::Reduced10,
        VatRate::Zero,
        VatRate::None,
    ];

    /// The wire and storage code: `22`, `20`, `10`, `0`, `none`.
    pub fn code(self) -> &'static str {
        match self {
            VatRate::Standard22 => "22",
            VatRate::Historic20 => "20",
            VatRate::Reduced10 => "10",
            VatRate::Zero => "0",
            VatRate::None => "none",
        }
    }

    /// How documents print it: `22%`, …, `без НДС`.
    pub fn label(self) -> &'static str {
        match self {
            VatRate::Standard22 => "22%",
            VatRate::Historic20 => "20%",
            VatRate::Reduced10 => "10%",
            VatRate::Zero => "0%",
            VatRate::None => "без НДС",
        }
    }

    pub fn parse(s: &str) -> Result<VatRate, VatRateError> {
        let t = s.trim().trim_end_matches('%');
        match t.to_lowercase().as_str() {
            "22" => Ok(VatRate::Standard22),
            "20" => Ok(VatRate::Historic20),
            "10" => Ok(VatRate::Reduced10),
            "0" => Ok(VatRate::Zero),
            "none" | "без ндс" => Ok(VatRate::None),
            _ => Err(VatRateError::Unknown(s.to_owned())),
        }
    }

    /// The rate in percent; `None` for "без НДС", which has no rate at all.
    pub fn percent(self) -> Option<Decimal> {
        match self {
            VatRate::Standard22 => Some(Decimal::from(22)),
            VatRate::Historic20 => Some(Decimal::from(20)),
            VatRate::Reduced10 => Some(Decimal::from(10)),
            VatRate::Zero => Some(Decimal::ZERO),
            VatRate::None => Option::None,
        }
    }

    /// Whether a document dated `on` may carry this rate under the statutory schedule.
    pub fn is_valid_on(self, on: NaiveDate) -> bool {
        VatSchedule::statutory().is_valid_on(self, on)
    }

    /// The standard rate of a document dated `on` under the statutory schedule.
    pub fn standard_for(on: NaiveDate) -> VatRate {
        VatSchedule::statutory()
            .standard_for(on)
            .unwrap_or(VatRate::Standard22)
    }

    /// Refuses a rate the statutory schedule does not allow on `on` (22 % before 2026, 20 %
    /// from 2026).
    pub fn check_on(self, on: NaiveDate) -> Result<VatRate, VatRateError> {
        VatSchedule::statutory().check_on(self, on)
    }

    /// VAT contained in a gross amount: gross × rate / (100 + rate), unrounded.
    pub fn vat_in_gross(self, gross: Decimal) -> Option<Decimal> {
        let rate = self.percent().filter(|r| !r.is_zero())?;
        gross
            .checked_mul(rate)?
            .checked_div(Decimal::ONE_HUNDRED + rate)
    }

    /// VAT charged on top of a net amount: net × rate / 100, unrounded.
    pub fn vat_on_net(self, net: Decimal) -> Option<Decimal> {
        let rate = self.percent().filter(|r| !r.is_zero())?;
        net.checked_mul(rate)?.checked_div(Decimal::ONE_HUNDRED)
    }
}

/// One period in which documents may carry a rate; both ends inclusive, `None` unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePeriod {
    pub rate: VatRate,
    /// The rate a line without one gets on a document dated in the period.
    pub standard: bool,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl RatePeriod {
    pub fn covers(&self, on: NaiveDate) -> bool {
        self.from.is_none_or(|f| on >= f) && self.to.is_none_or(|t| on <= t)
    }

    fn describe(&self) -> String {
        match (self.from, self.to) {
            (Some(f), Some(t)) => format!("from {f} to {t}"),
            (Some(f), None) => format!("from {f}"),
            (None, Some(t)) => format!("until {t}"),
            (None, None) => "on any date".to_owned(),
        }
    }
}

/// The VAT rates with their periods of validity (CAT-2), as kept in data (the `vat_rates`
/// table): what a document of a given date may carry, and its standard rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatSchedule {
    periods: Vec<RatePeriod>,
}

impl VatSchedule {
    pub fn new(periods: Vec<RatePeriod>) -> Self {
        VatSchedule { periods }
    }

    /// The schedule of the law as the first migration seeds it: 22 % standard from
    /// 2026-01-01 (425-FZ), 20 % standard before, 10 %, 0 % and "без НДС" on any date.
    pub fn statutory() -> Self {
        let from = standard_22_from();
        VatSchedule::new(vec![
            RatePeriod {
                rate: VatRate::Standard22,
                standard: true,
                from: Some(from),
                to: Option::None,
            },
            RatePeriod {
                rate: VatRate::Historic20,
                standard: true,
                from: Option::None,
                to: from.pred_opt(),
            },
            RatePeriod {
                rate: VatRate::Reduced10,
                standard: false,
                from: Option::None,
                to: Option::None,
            },
            RatePeriod {
                rate: VatRate::Zero,
                standard: false,
                from: Option::None,
                to: Option::None,
            },
            RatePeriod {
                rate: VatRate::None,
                standard: false,
                from: Option::None,
                to: Option::None,
            },
        ])
    }

    pub fn periods(&self) -> &[RatePeriod] {
        &self.periods
    }

    pub fn is_valid_on(&self, rate: VatRate, on: NaiveDate) -> bool {
        self.periods.iter().any(|p| p.rate == rate && p.covers(on))
    }

    /// The standard rate of a document dated `on`, if the schedule names one.
    pub fn standard_for(&self, on: NaiveDate) -> Option<VatRate> {
        self.periods
            .iter()
            .find(|p| p.standard && p.covers(on))
            .map(|p| p.rate)
    }

    /// Refuses a rate a document dated `on` may not carry, naming when it may and the standard
    /// rate of that date.
    pub fn check_on(&self, rate: VatRate, on: NaiveDate) -> Result<VatRate, VatRateError> {
        if self.is_valid_on(rate, on) {
            return Ok(rate);
        }
        let valid: Vec<String> = self
            .periods
            .iter()
            .filter(|p| p.rate == rate)
            .map(RatePeriod::describe)
            .collect();
        Err(VatRateError::NotValidOn {
            rate: rate.label(),
            valid: if valid.is_empty() {
                "on no date".to_owned()
            } else {
                valid.join(" or ")
            },
            date: on,
            advice: self
                .standard_for(on)
                .map(|s| format!(", use {} %", s.code()))
                .unwrap_or_default(),
        })
    }

    /// The rate a line takes on a document dated `on` when it names none: the product's
    /// rate if it has one, else the standard rate of the date. A product at a standard rate
    /// (22 % or 20 %) follows the standard of the date, so that the product of today keeps
    /// pricing a document dated before 2026 at 20 %.
    pub fn default_for(&self, product_rate: Option<VatRate>, on: NaiveDate) -> Option<VatRate> {
        match product_rate {
            Some(r) if self.is_valid_on(r, on) => Some(r),
            Some(r) if self.periods.iter().any(|p| p.rate == r && p.standard) => {
                self.standard_for(on).or(Some(r))
            }
            Some(r) => Some(r),
            Option::None => self.standard_for(on),
        }
    }
}

impl fmt::Display for VatRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Serialize for VatRate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for VatRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, VatRate::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn codes_round_trip() {
        for r in VatRate::ALL {
            assert_eq!(VatRate::parse(r.code()), Ok(r));
        }
        assert_eq!(VatRate::parse("22%"), Ok(VatRate::Standard22));
        assert_eq!(VatRate::parse("Без НДС"), Ok(VatRate::None));
        assert!(matches!(
            VatRate::parse("18"),
            Err(VatRateError::Unknown(_))
        ));
    }

    #[test]
    fn none_is_not_zero() {
        assert_ne!(VatRate::None, VatRate::Zero);
        assert_eq!(VatRate::None.label(), "без НДС");
        assert_eq!(VatRate::Zero.label(), "0%");
        assert_eq!(VatRate::None.percent(), Option::None);
        assert_eq!(VatRate::Zero.percent(), Some(Decimal::ZERO));
    }

    #[test]
    fn rate_follows_the_document_date() {
        let dec31 = date(2025, 12, 31);
        let jan1 = date(2026, 1, 1);
        assert_eq!(VatRate::standard_for(dec31), VatRate::Historic20);
        assert_eq!(VatRate::standard_for(jan1), VatRate::Standard22);
        assert_eq!(VatRate::Standard22.check_on(jan1), Ok(VatRate::Standard22));
        assert_eq!(VatRate::Historic20.check_on(dec31), Ok(VatRate::Historic20));
        let err = VatRate::Standard22.check_on(dec31).unwrap_err();
        assert_eq!(err.code(), "vat_rate_not_valid_on_date");
        assert!(err.to_string().contains("from 2026-01-01"), "{err}");
        let err = VatRate::Historic20.check_on(jan1).unwrap_err();
        assert!(err.to_string().contains("use 22 %"), "{err}");
        for r in [VatRate::Reduced10, VatRate::Zero, VatRate::None] {
            assert!(r.is_valid_on(dec31) && r.is_valid_on(jan1));
        }
    }

    #[test]
    fn a_schedule_in_data_decides_validity_and_the_default() {
        let dec31 = date(2025, 12, 31);
        let jan1 = date(2026, 1, 1);
        let law = VatSchedule::statutory();
        assert_eq!(
            law.default_for(Option::None, dec31),
            Some(VatRate::Historic20)
        );
        assert_eq!(
            law.default_for(Option::None, jan1),
            Some(VatRate::Standard22)
        );
        assert_eq!(
            law.default_for(Some(VatRate::Standard22), dec31),
            Some(VatRate::Historic20)
        );
        assert_eq!(
            law.default_for(Some(VatRate::Reduced10), dec31),
            Some(VatRate::Reduced10)
        );
        let err = law.check_on(VatRate::Standard22, dec31).unwrap_err();
        assert_eq!(
            err.to_string(),
            "VAT rate 22% is valid for documents dated from 2026-01-01; the document is dated 2025-12-31, use 20 %"
        );
        // A later change is a new period: 10 % ends, nothing else moves.
        let mut periods = law.periods().to_vec();
        for p in &mut periods {
            if p.rate == VatRate::Reduced10 {
                p.to = Some(date(2026, 6, 30));
            }
        }
        let changed = VatSchedule::new(periods);
        assert!(changed.is_valid_on(VatRate::Reduced10, date(2026, 6, 30)));
        let err = changed
            .check_on(VatRate::Reduced10, date(2026, 7, 1))
            .unwrap_err();
        assert!(err.to_string().contains("until 2026-06-30"), "{err}");
        let empty = VatSchedule::new(Vec::new());
        assert_eq!(empty.standard_for(jan1), Option::None);
        assert!(
            empty
                .check_on(VatRate::Zero, jan1)
                .unwrap_err()
                .to_string()
                .contains("on no date")
        );
    }

    #[test]
    fn vat_extracted_from_gross() {
        assert_eq!(
            VatRate::Standard22.vat_in_gross(dec!(122.00)),
            Some(dec!(22))
        );
        assert_eq!(
            VatRate::Historic20.vat_in_gross(dec!(120.00)),
            Some(dec!(20))
        );
        assert_eq!(VatRate::None.vat_in_gross(dec!(100)), Option::None);
        assert_eq!(VatRate::Zero.vat_on_net(dec!(100)), Option::None);
    }
}
