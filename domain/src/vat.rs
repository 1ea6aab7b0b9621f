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
        "VAT rate {rate} is valid for documents dated {valid}; the document is dated {date}, use {standard} %"
    )]
    NotValidOn {
        rate: &'static str,
        valid: &'static str,
        date: NaiveDate,
        standard: &'static str,
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

    /// First and last day (inclusive) on which a document may carry this rate.
    pub fn validity(self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        match self {
            VatRate::Standard22 => (Some(standard_22_from()), Option::None),
            VatRate::Historic20 => (Option::None, standard_22_from().pred_opt()),
            VatRate::Reduced10 | VatRate::Zero | VatRate::None => (Option::None, Option::None),
        }
    }

    pub fn is_valid_on(self, on: NaiveDate) -> bool {
        let (from, to) = self.validity();
        from.is_none_or(|f| on >= f) && to.is_none_or(|t| on <= t)
    }

    /// The standard rate of a document dated `on`.
    pub fn standard_for(on: NaiveDate) -> VatRate {
        if on >= standard_22_from() {
            VatRate::Standard22
        } else {
            VatRate::Historic20
        }
    }

    /// Refuses a rate the document date does not allow (22 % before 2026, 20 % from 2026).
    pub fn check_on(self, on: NaiveDate) -> Result<VatRate, VatRateError> {
        if self.is_valid_on(on) {
            return Ok(self);
        }
        let valid = match self {
            VatRate::Standard22 => "from 2026-01-01",
            _ => "before 2026-01-01",
        };
        Err(VatRateError::NotValidOn {
            rate: self.label(),
            valid,
            date: on,
            standard: VatRate::standard_for(on).code(),
        })
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
