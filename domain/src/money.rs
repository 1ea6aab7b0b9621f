//! Money and quantities (API-1, DEAL-3): exact decimals, never floats.
//!
//! On the wire an amount is a decimal string with two decimals (`"1234.50"`); in storage it is
//! an `i64` of minor units (kopecks), exact on SQLite and PostgreSQL alike. Quantities are
//! decimals with up to three places, stored as `i64` thousandths for the same reason.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::{RuleBroken, deserialize_parsed};

/// Why a decimal string is not an acceptable amount or quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("`{0}` is not a decimal number (write it like \"1234.50\")")]
    NotADecimal(String),
    #[error("an amount has at most 2 decimals (kopecks), `{0}` has more")]
    TooManyDecimals(String),
    #[error("a quantity has at most 3 decimals, `{0}` has more")]
    TooManyQuantityDecimals(String),
    #[error("the amount is too large to be stored exactly")]
    TooLarge,
    #[error("the amount must not be negative")]
    Negative,
    #[error("the quantity must be greater than zero")]
    NotPositive,
    #[error("the quantity must not exceed {max}")]
    QuantityTooLarge { max: Decimal },
}

impl RuleBroken for AmountError {
    fn code(&self) -> &'static str {
        match self {
            AmountError::NotADecimal(_) => "invalid_decimal",
            AmountError::TooManyDecimals(_) | AmountError::TooManyQuantityDecimals(_) => {
                "too_many_decimals"
            }
            AmountError::TooLarge | AmountError::QuantityTooLarge { .. } => "out_of_range",
            AmountError::Negative => "negative",
            AmountError::NotPositive => "not_positive",
        }
    }
}

fn parse_decimal(s: &str) -> Result<Decimal, AmountError> {
    let t = s.trim();
    // `Decimal::from_str` also accepts `1_000` and scientific forms are refused; keep the wire
    // format to plain digits, one optional sign and one optional point.
    let plain = !t.is_empty()
        && t.chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || c == '.' || (i == 0 && c == '-'))
        && t.chars().filter(|c| *c == '.').count() <= 1
        && t.chars().any(|c| c.is_ascii_digit());
    if !plain {
        return Err(AmountError::NotADecimal(s.to_owned()));
    }
    Decimal::from_str(t).map_err(|_| AmountError::NotADecimal(s.to_owned()))
}

/// Rounds to kopecks, half away from zero (0.005 → 0.01, -0.005 → -0.01), the rule of
/// Russian accounting practice for per-line amounts.
pub fn round_kopecks(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// An amount of money in kopecks precision, always within what an `i64` of minor units holds
/// so that it can be stored exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Parses a wire amount: at most two decimals, within the storable range. Negative amounts
    /// parse (refunds, corrections); callers that need `≥ 0` use [`Money::parse_non_negative`].
    pub fn parse(s: &str) -> Result<Money, AmountError> {
        let d = parse_decimal(s)?;
        if d.normalize().scale() > 2 {
            return Err(AmountError::TooManyDecimals(s.trim().to_owned()));
        }
        Money::exact(d)
    }

    pub fn parse_non_negative(s: &str) -> Result<Money, AmountError> {
        let m = Money::parse(s)?;
        if m.is_negative() {
            return Err(AmountError::Negative);
        }
        Ok(m)
    }

    /// An amount that already has kopeck precision; refused when it does not fit storage.
    fn exact(d: Decimal) -> Result<Money, AmountError> {
        let m = Money(round_kopecks(d));
        m.to_minor()?;
        Ok(m)
    }

    /// Rounds any decimal (a computed line amount) to kopecks, half away from zero; refused
    /// when the result does not fit storage.
    pub fn round(d: Decimal) -> Result<Money, AmountError> {
        Money::exact(d)
    }

    /// From storage: kopecks.
    pub fn from_minor(kopecks: i64) -> Money {
        Money(Decimal::new(kopecks, 2))
    }

    /// To storage: kopecks, exact.
    pub fn to_minor(self) -> Result<i64, AmountError> {
        let scaled = self
            .0
            .checked_mul(Decimal::ONE_HUNDRED)
            .ok_or(AmountError::TooLarge)?;
        i64::try_from(scaled.trunc()).map_err(|_| AmountError::TooLarge)
    }

    pub fn amount(self) -> Decimal {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Sum that refuses to leave the storable range.
    pub fn checked_add(self, other: Money) -> Result<Money, AmountError> {
        Money::exact(self.0.checked_add(other.0).ok_or(AmountError::TooLarge)?)
    }

    /// Sum of many amounts (document totals are sums of rounded lines).
    pub fn sum<I: IntoIterator<Item = Money>>(items: I) -> Result<Money, AmountError> {
        items
            .into_iter()
            .try_fold(Money::ZERO, |acc, m| acc.checked_add(m))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl FromStr for Money {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, Money::parse)
    }
}

/// A quantity of goods or hours: greater than zero, at most three decimals, at most
/// [`Quantity::MAX`] so that price × quantity always stays inside `Decimal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(Decimal);

impl Quantity {
    /// One billion units is far beyond any real line and keeps every product exact.
    pub const MAX: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

    pub fn parse(s: &str) -> Result<Quantity, AmountError> {
        let d = parse_decimal(s)?;
        if d.normalize().scale() > 3 {
            return Err(AmountError::TooManyQuantityDecimals(s.trim().to_owned()));
        }
        Quantity::new(d)
    }

    pub fn new(d: Decimal) -> Result<Quantity, AmountError> {
        if d.normalize().scale() > 3 {
            return Err(AmountError::TooManyQuantityDecimals(d.to_string()));
        }
        if d <= Decimal::ZERO {
            return Err(AmountError::NotPositive);
        }
        if d > Self::MAX {
            return Err(AmountError::QuantityTooLarge { max: Self::MAX });
        }
        Ok(Quantity(d))
    }

    pub fn one() -> Quantity {
        Quantity(Decimal::ONE)
    }

    /// From storage: thousandths.
    pub fn from_thousandths(t: i64) -> Result<Quantity, AmountError> {
        Quantity::new(Decimal::new(t, 3))
    }

    /// To storage: thousandths (always fits: at most 10^12).
    pub fn to_thousandths(self) -> i64 {
        let scaled = self.0 * Decimal::ONE_THOUSAND;
        i64::try_from(scaled.trunc()).unwrap_or(i64::MAX)
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.0)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// From a decimal string, as [`Quantity::parse`] reads it.
impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, Quantity::parse)
    }
}

/// A percentage with at most two decimals between 0 and 100 (discounts, payment percent),
/// stored as hundredths of a percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PercentError {
    #[error("`{0}` is not a decimal number")]
    NotADecimal(String),
    #[error("a percentage has at most 2 decimals")]
    TooManyDecimals,
    #[error("a percentage is between 0 and 100")]
    OutOfRange,
}

impl RuleBroken for PercentError {
    fn code(&self) -> &'static str {
        match self {
            PercentError::NotADecimal(_) => "invalid_decimal",
            PercentError::TooManyDecimals => "too_many_decimals",
            PercentError::OutOfRange => "out_of_range",
        }
    }
}

impl Percent {
    pub const ZERO: Percent = Percent(Decimal::ZERO);

    pub fn parse(s: &str) -> Result<Percent, PercentError> {
        let d = parse_decimal(s).map_err(|_| PercentError::NotADecimal(s.to_owned()))?;
        Percent::new(d)
    }

    pub fn new(d: Decimal) -> Result<Percent, PercentError> {
        if d.normalize().scale() > 2 {
            return Err(PercentError::TooManyDecimals);
        }
        if d < Decimal::ZERO || d > Decimal::ONE_HUNDRED {
            return Err(PercentError::OutOfRange);
        }
        Ok(Percent(d))
    }

    /// From storage: hundredths of a percent.
    pub fn from_hundredths(h: i64) -> Result<Percent, PercentError> {
        Percent::new(Decimal::new(h, 2))
    }

    pub fn to_hundredths(self) -> i64 {
        i64::try_from((self.0 * Decimal::ONE_HUNDRED).trunc()).unwrap_or(0)
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// From a decimal string, as [`Percent::parse`] reads it.
impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, Percent::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_wire_amounts() {
        assert_eq!(Money::parse("1234.50").unwrap().to_string(), "1234.50");
        assert_eq!(Money::parse("7").unwrap().to_string(), "7.00");
        assert_eq!(Money::parse(" 0.1 ").unwrap().to_minor().unwrap(), 10);
        assert_eq!(Money::parse("-3.25").unwrap().to_minor().unwrap(), -325);
        // Trailing zeros beyond kopecks are not extra precision.
        assert_eq!(Money::parse("1.500").unwrap().to_minor().unwrap(), 150);
    }

    #[test]
    fn refuses_what_is_not_an_exact_amount() {
        assert_eq!(
            Money::parse("1.005"),
            Err(AmountError::TooManyDecimals("1.005".into()))
        );
        for bad in ["", "abc", "1e5", "1,50", "1.2.3", "--1", "1_000", "."] {
            assert!(
                matches!(Money::parse(bad), Err(AmountError::NotADecimal(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Money::parse("92233720368547758.08"),
            Err(AmountError::TooLarge)
        );
        assert_eq!(
            Money::parse("92233720368547758.07")
                .unwrap()
                .to_minor()
                .unwrap(),
            i64::MAX
        );
        assert_eq!(
            Money::parse_non_negative("-0.01"),
            Err(AmountError::Negative)
        );
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(Money::round(dec!(0.005)).unwrap().to_string(), "0.01");
        assert_eq!(Money::round(dec!(0.0049)).unwrap().to_string(), "0.00");
        assert_eq!(Money::round(dec!(-0.005)).unwrap().to_string(), "-0.01");
        assert_eq!(Money::round(dec!(2.675)).unwrap().to_string(), "2.68");
    }

    #[test]
    fn displays_with_two_decimals() {
        assert_eq!(
            Money::from_minor(1_234_567_890_123).to_string(),
            "12345678901.23"
        );
        assert_eq!(Money::from_minor(-5).to_string(), "-0.05");
        assert_eq!(Money::ZERO.to_string(), "0.00");
    }

    #[test]
    fn quantities() {
        assert_eq!(Quantity::parse("1.001").unwrap().to_thousandths(), 1001);
        assert_eq!(Quantity::parse("2").unwrap().to_string(), "2.000");
        assert_eq!(Quantity::parse("0"), Err(AmountError::NotPositive));
        assert!(matches!(
            Quantity::parse("0.0001"),
            Err(AmountError::TooManyQuantityDecimals(_))
        ));
        assert!(Quantity::parse("1000000001").is_err());
        assert_eq!(
            Quantity::from_thousandths(1001).unwrap().value(),
            dec!(1.001)
        );
    }

    #[test]
    fn percents() {
        assert_eq!(Percent::parse("12.5").unwrap().to_hundredths(), 1250);
        assert_eq!(Percent::parse("100.01"), Err(PercentError::OutOfRange));
        assert_eq!(Percent::parse("-1"), Err(PercentError::OutOfRange));
        assert_eq!(Percent::parse("1.001"), Err(PercentError::TooManyDecimals));
    }

    #[test]
    fn deserialising_reports_the_rule() {
        use crate::validation::split_rule_error;
        let err = |v: serde_json::Value| match serde_json::from_value::<Money>(v) {
            Ok(m) => panic!("expected an error, got {m}"),
            Err(e) => e.to_string(),
        };
        let e = err(serde_json::json!("1.005"));
        assert_eq!(
            split_rule_error(&e).map(|(c, _)| c),
            Some("too_many_decimals")
        );
        let e = err(serde_json::json!("abc"));
        assert_eq!(
            split_rule_error(&e).map(|(c, _)| c),
            Some("invalid_decimal")
        );
        // Not a string at all is a type error, not a rule.
        assert_eq!(split_rule_error(&err(serde_json::json!(5))), None);
        let m: Money = serde_json::from_value(serde_json::json!(" -3.25 ")).unwrap();
        assert_eq!(m.to_minor().unwrap(), -325);
        let q: Quantity = serde_json::from_value(serde_json::json!("1.5")).unwrap();
        assert_eq!(q.to_thousandths(), 1500);
        let e = serde_json::from_value::<Percent>(serde_json::json!("101")).unwrap_err();
        assert_eq!(
            split_rule_error(&e.to_string()).map(|(c, _)| c),
            Some("out_of_range")
        );
    }

    proptest! {
        #[test]
        fn minor_units_round_trip(k in any::<i64>()) {
            let m = Money::from_minor(k);
            prop_assert_eq!(m.to_minor().unwrap(), k);
            prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Money::parse(&s);
            let _ = Quantity::parse(&s);
            let _ = Percent::parse(&s);
        }

        #[test]
        fn deserialising_never_panics(s in "\\PC{0,40}") {
            let json = serde_json::Value::String(s.clone());
            let _ = serde_json::from_value::<Money>(json.clone());
            let _ = serde_json::from_value::<Quantity>(json.clone());
            let _ = serde_json::from_value::<Percent>(json.clone());
            let _ = serde_json::from_value::<crate::vat::VatRate>(json);
            if let Ok(m) = serde_json::from_value::<Money>(serde_json::Value::String(s)) {
                prop_assert_eq!(serde_json::to_value(m).ok(), Some(serde_json::Value::String(m.to_string())));
            }
        }

        #[test]
        fn thousandths_round_trip(t in 1i64..=1_000_000_000_000) {
            let q = Quantity::from_thousandths(t).unwrap();
            prop_assert_eq!(q.to_thousandths(), t);
            prop_assert_eq!(Quantity::parse(&q.to_string()).unwrap(), q);
        }
    }
}
