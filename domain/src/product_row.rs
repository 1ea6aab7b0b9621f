//! DEAL-3 product rows, shared by deals, quotes, orders and invoices: quantity × price, less a
//! discount, with VAT on top of the price or included in it.
//!
//! Every line amount is rounded to kopecks half away from zero **per line**, and document
//! totals are sums of the rounded lines (per VAT rate too) — what a printed invoice shows and
//! what the buyer's accounting recomputes. Rounding the document total instead would differ by
//! kopecks (three lines of 0.10 at 22 % on top: 0.02 VAT each, 0.06 in all, not 0.07).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::money::{AmountError, Money, Percent, Quantity};
use crate::validation::{FieldViolation, RuleBroken};
use crate::vat::VatRate;

/// An OKEI unit code: one to four digits (796 "шт", 356 "ч", 166 "кг").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnitCode(String);

/// Why a unit code is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an OKEI code has up to 4 digits, e.g. 796 (шт) or 356 (ч)")]
pub struct UnitCodeError;

impl RuleBroken for UnitCodeError {
    fn code(&self) -> &'static str {
        "invalid_format"
    }
}

impl UnitCode {
    pub fn parse(s: &str) -> Result<UnitCode, UnitCodeError> {
        let c = s.trim();
        if (1..=4).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_digit()) {
            Ok(UnitCode(c.to_owned()))
        } else {
            Err(UnitCodeError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<UnitCode> for String {
    fn from(c: UnitCode) -> String {
        c.0
    }
}

impl serde::Serialize for UnitCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for UnitCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::validation::deserialize_parsed(d, UnitCode::parse)
    }
}

/// A discount on one line: a share of the line sum, or a fixed amount no larger than it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    Percent(Percent),
    Amount(Money),
}

/// What a line is priced at, already valid: a line cannot hold a negative price or a
/// discount larger than its sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductLine {
    quantity: Quantity,
    price: Money,
    discount: Option<Discount>,
    vat_rate: VatRate,
    vat_included: bool,
}

/// The computed money of one line, each amount rounded to kopecks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineAmounts {
    pub vat_rate: VatRate,
    /// Quantity × price, rounded.
    pub sum: Money,
    /// The discount in money, rounded.
    pub discount: Money,
    /// Amount without VAT.
    pub net: Money,
    /// VAT of the line; zero for 0 % and for "без НДС".
    pub vat: Money,
    /// What the buyer pays for the line: `net + vat`.
    pub total: Money,
}

/// Why a line cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("the price must not be negative")]
    NegativePrice,
    #[error("the discount {discount} exceeds the line sum {sum}")]
    DiscountExceedsSum { discount: Money, sum: Money },
    #[error("the discount must not be negative")]
    NegativeDiscount,
    #[error("price × quantity is too large to be stored exactly")]
    TooLarge,
}

impl LineError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            LineError::NegativePrice | LineError::TooLarge => "price",
            LineError::DiscountExceedsSum { .. } | LineError::NegativeDiscount => "discount",
        }
    }

    pub fn violation(&self) -> FieldViolation {
        FieldViolation::new(self.field(), self.code(), self.to_string())
    }
}

impl RuleBroken for LineError {
    fn code(&self) -> &'static str {
        match self {
            LineError::NegativePrice | LineError::NegativeDiscount => "negative",
            LineError::DiscountExceedsSum { .. } => "discount_exceeds_sum",
            LineError::TooLarge => "out_of_range",
        }
    }
}

impl From<AmountError> for LineError {
    fn from(_: AmountError) -> Self {
        LineError::TooLarge
    }
}

impl ProductLine {
    pub fn new(
        quantity: Quantity,
        price: Money,
        discount: Option<Discount>,
        vat_rate: VatRate,
        vat_included: bool,
    ) -> Result<ProductLine, LineError> {
        if price.is_negative() {
            return Err(LineError::NegativePrice);
        }
        let line = ProductLine {
            quantity,
            price,
            discount,
            vat_rate,
            vat_included,
        };
        // Computing once proves every amount of the line fits storage and the discount fits.
        line.amounts()?;
        Ok(line)
    }

    pub fn quantity(&self) -> Quantity {
        self.quantity
    }
    pub fn price(&self) -> Money {
        self.price
    }
    pub fn discount(&self) -> Option<Discount> {
        self.discount
    }
    pub fn vat_rate(&self) -> VatRate {
        self.vat_rate
    }
    pub fn vat_included(&self) -> bool {
        self.vat_included
    }

    /// Net, VAT and total of the line, each rounded to kopecks, with `net + vat == total`.
    pub fn amounts(&self) -> Result<LineAmounts, LineError> {
        let raw = self
            .price
            .amount()
            .checked_mul(self.quantity.value())
            .ok_or(LineError::TooLarge)?;
        let sum = Money::round(raw)?;
        let discount = match self.discount {
            None => Money::ZERO,
            Some(Discount::Percent(p)) => Money::round(
                sum.amount()
                    .checked_mul(p.value())
                    .ok_or(LineError::TooLarge)?
                    / Decimal::ONE_HUNDRED,
            )?,
            Some(Discount::Amount(a)) => {
                if a.is_negative() {
                    return Err(LineError::NegativeDiscount);
                }
                if a > sum {
                    return Err(LineError::DiscountExceedsSum { discount: a, sum });
                }
                a
            }
        };
        // Both kopeck-exact and discount ≤ sum: the difference is exact and in range.
        let after_discount = sum.amount() - discount.amount();
        let (net, vat, total) = if self.vat_included {
            let total = Money::round(after_discount)?;
            let vat = Money::round(
                self.vat_rate
                    .vat_in_gross(total.amount())
                    .unwrap_or(Decimal::ZERO),
            )?;
            let net = Money::round(total.amount() - vat.amount())?;
            (net, vat, total)
        } else {
            let net = Money::round(after_discount)?;
            let vat = Money::round(
                self.vat_rate
                    .vat_on_net(net.amount())
                    .unwrap_or(Decimal::ZERO),
            )?;
            let total = net.checked_add(vat)?;
            (net, vat, total)
        };
        Ok(LineAmounts {
            vat_rate: self.vat_rate,
            sum,
            discount,
            net,
            vat,
            total,
        })
    }
}

/// The amounts of one VAT rate across a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VatSubtotal {
    pub vat_rate: VatRate,
    pub net: Money,
    pub vat: Money,
    pub total: Money,
}

/// Totals of a document: sums of its rounded lines, overall and per VAT rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentTotals {
    pub net: Money,
    pub vat: Money,
    pub total: Money,
    /// One entry per rate present, in the order 22, 20, 10, 0, none.
    pub by_rate: Vec<VatSubtotal>,
}

impl DocumentTotals {
    pub fn of<'a, I>(lines: I) -> Result<DocumentTotals, AmountError>
    where
        I: IntoIterator<Item = &'a LineAmounts>,
    {
        let mut by_rate: BTreeMap<VatRate, VatSubtotal> = BTreeMap::new();
        let mut net = Money::ZERO;
        let mut vat = Money::ZERO;
        let mut total = Money::ZERO;
        for l in lines {
            net = net.checked_add(l.net)?;
            vat = vat.checked_add(l.vat)?;
            total = total.checked_add(l.total)?;
            let e = by_rate.entry(l.vat_rate).or_insert(VatSubtotal {
                vat_rate: l.vat_rate,
                net: Money::ZERO,
                vat: Money::ZERO,
                total: Money::ZERO,
            });
            e.net = e.net.checked_add(l.net)?;
            e.vat = e.vat.checked_add(l.vat)?;
            e.total = e.total.checked_add(l.total)?;
        }
        Ok(DocumentTotals {
            net,
            vat,
            total,
            by_rate: by_rate.into_values().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }
    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn vat_per_line_not_per_total() {
        let line = ProductLine::new(q("1"), m("0.10"), None, VatRate::Standard22, false).unwrap();
        let a = line.amounts().unwrap();
        assert_eq!(
            (a.net.to_string(), a.vat.to_string(), a.total.to_string()),
            ("0.10".into(), "0.02".into(), "0.12".into())
        );
        let totals = DocumentTotals::of(&[a, a, a]).unwrap();
        assert_eq!(totals.vat.to_string(), "0.06");
        assert_eq!(totals.net.to_string(), "0.30");
        assert_eq!(totals.total.to_string(), "0.36");
        // What rounding the document total would have given instead.
        assert_eq!(
            Money::round(VatRate::Standard22.vat_on_net(totals.net.amount()).unwrap())
                .unwrap()
                .to_string(),
            "0.07"
        );
    }

    #[test]
    fn vat_included_in_price() {
        let a = ProductLine::new(q("1"), m("122.00"), None, VatRate::Standard22, true)
            .unwrap()
            .amounts()
            .unwrap();
        assert_eq!(a.net, m("100.00"));
        assert_eq!(a.vat, m("22.00"));
        assert_eq!(a.total, m("122.00"));
    }

    #[test]
    fn discounts() {
        // 3 × 333.33 = 999.99, less 10 % = 99.999… → 100.00, net 899.99, VAT 20 % = 179.998 → 180.00.
        let a = ProductLine::new(
            q("3"),
            m("333.33"),
            Some(Discount::Percent(Percent::parse("10").unwrap())),
            VatRate::Historic20,
            false,
        )
        .unwrap()
        .amounts()
        .unwrap();
        assert_eq!(a.sum, m("999.99"));
        assert_eq!(a.discount, m("100.00"));
        assert_eq!(a.net, m("899.99"));
        assert_eq!(a.vat, m("180.00"));
        assert_eq!(a.total, m("1079.99"));

        let a = ProductLine::new(
            q("2"),
            m("61.00"),
            Some(Discount::Amount(m("0.01"))),
            VatRate::Standard22,
            true,
        )
        .unwrap()
        .amounts()
        .unwrap();
        // 121.99 gross: VAT 121.99 × 22/122 = 21.998… → 22.00, net 99.99.
        assert_eq!(a.total, m("121.99"));
        assert_eq!(a.vat, m("22.00"));
        assert_eq!(a.net, m("99.99"));

        let err = ProductLine::new(
            q("1"),
            m("10.00"),
            Some(Discount::Amount(m("10.01"))),
            VatRate::None,
            false,
        )
        .unwrap_err();
        assert_eq!(err.field(), "discount");
        assert_eq!(err.code(), "discount_exceeds_sum");
    }

    #[test]
    fn without_vat_is_its_own_rate() {
        let a = ProductLine::new(q("1.5"), m("100.00"), None, VatRate::None, false)
            .unwrap()
            .amounts()
            .unwrap();
        assert_eq!(a.vat, Money::ZERO);
        assert_eq!(a.total, m("150.00"));
        assert_eq!(a.vat_rate.label(), "без НДС");
        let zero = ProductLine::new(q("1"), m("1.00"), None, VatRate::Zero, false)
            .unwrap()
            .amounts()
            .unwrap();
        let totals = DocumentTotals::of(&[a, zero]).unwrap();
        assert_eq!(
            totals.by_rate.len(),
            2,
            "0 % and без НДС are reported apart"
        );
        assert_eq!(totals.by_rate[0].vat_rate.label(), "0%");
        assert_eq!(totals.by_rate[1].vat_rate.label(), "без НДС");
    }

    #[test]
    fn largest_prices_stay_exact() {
        let a = ProductLine::new(
            q("1.001"),
            m("9999999999999.99"),
            None,
            VatRate::None,
            false,
        )
        .unwrap()
        .amounts()
        .unwrap();
        // 10009999999999.98999 → 10009999999999.99
        assert_eq!(a.total.to_string(), "10009999999999.99");
        assert_eq!(
            ProductLine::new(
                q("1000000000"),
                m("92233720368547758.07"),
                None,
                VatRate::None,
                false
            ),
            Err(LineError::TooLarge)
        );
        assert_eq!(
            ProductLine::new(q("1"), m("-1.00"), None, VatRate::None, false),
            Err(LineError::NegativePrice)
        );
    }

    fn any_rate() -> impl Strategy<Value = VatRate> {
        prop::sample::select(VatRate::ALL.to_vec())
    }

    fn any_line() -> impl Strategy<Value = (i64, i64, Option<(bool, i64)>, VatRate, bool)> {
        (
            1i64..=1_000_000_000_000,
            0i64..=i64::MAX,
            prop::option::of((any::<bool>(), 0i64..=i64::MAX)),
            any_rate(),
            any::<bool>(),
        )
    }

    fn build(
        (qt, price, discount, rate, incl): (i64, i64, Option<(bool, i64)>, VatRate, bool),
    ) -> Result<ProductLine, LineError> {
        let discount = discount.map(|(pct, v)| {
            if pct {
                Discount::Percent(Percent::from_hundredths(v % 10_001).unwrap())
            } else {
                Discount::Amount(Money::from_minor(v))
            }
        });
        ProductLine::new(
            Quantity::from_thousandths(qt).unwrap(),
            Money::from_minor(price),
            discount,
            rate,
            incl,
        )
    }

    proptest! {
        #[test]
        fn net_plus_vat_is_total_and_nothing_panics(input in any_line()) {
            if let Ok(line) = build(input) {
                let a = line.amounts().unwrap();
                prop_assert_eq!(a.net.checked_add(a.vat).unwrap(), a.total);
                prop_assert!(!a.net.is_negative() && !a.vat.is_negative());
                prop_assert!(a.discount <= a.sum);
                if matches!(a.vat_rate, VatRate::None | VatRate::Zero) {
                    prop_assert!(a.vat.is_zero());
                }
            }
        }

        #[test]
        fn totals_are_sums_of_lines(inputs in prop::collection::vec(
            (1i64..=100_000_000, 0i64..=100_000_000_000, any_rate(), any::<bool>()), 0..20)
        ) {
            let lines: Vec<LineAmounts> = inputs
                .into_iter()
                .map(|(qt, p, r, i)| build((qt, p, None, r, i)).unwrap().amounts().unwrap())
                .collect();
            let t = DocumentTotals::of(&lines).unwrap();
            let net: i64 = lines.iter().map(|l| l.net.to_minor().unwrap()).sum();
            let vat: i64 = lines.iter().map(|l| l.vat.to_minor().unwrap()).sum();
            let total: i64 = lines.iter().map(|l| l.total.to_minor().unwrap()).sum();
            prop_assert_eq!(t.net.to_minor().unwrap(), net);
            prop_assert_eq!(t.vat.to_minor().unwrap(), vat);
            prop_assert_eq!(t.total.to_minor().unwrap(), total);
            let by_rate_total: i64 = t.by_rate.iter().map(|s| s.total.to_minor().unwrap()).sum();
            prop_assert_eq!(by_rate_total, total);
        }
    }
}
