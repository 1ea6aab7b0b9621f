//! Conditions of `switch` steps, waits and triggers: structured predicates over the entity's
//! fields and over the outcomes of earlier steps. No string expression language: each
//! comparison names a field, an operator and a JSON operand that is type-checked against the
//! field when the definition is published. Money is compared exactly, as `rust_decimal`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Money;

/// The type of an entity field, as the directory describes the entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldType {
    Text,
    /// An amount: operands are decimal strings with at most two decimals.
    Money,
    /// A decimal number (a percent, a quantity): operands are decimal strings.
    Number,
    Bool,
    /// A date or a moment: operands are `YYYY-MM-DD` or RFC 3339.
    Date,
    /// A user reference: operands are UUIDs.
    User,
    /// One of a closed list (a stage, a status, a category).
    Choice {
        options: Vec<String>,
    },
}

impl FieldType {
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Money => "money",
            FieldType::Number => "number",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::User => "user",
            FieldType::Choice { .. } => "choice",
        }
    }

    fn ordered(&self) -> bool {
        matches!(self, FieldType::Money | FieldType::Number | FieldType::Date)
    }
}

/// The value of an entity field at the moment an input is processed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum FieldValue {
    Null,
    Text(String),
    Money(Money),
    Number(#[serde(with = "rust_decimal::serde::str")] Decimal),
    Bool(bool),
    Date(DateTime<Utc>),
    User(Uuid),
    Choice(String),
}

impl FieldValue {
    pub fn is_set(&self) -> bool {
        match self {
            FieldValue::Null => false,
            FieldValue::Text(s) | FieldValue::Choice(s) => !s.trim().is_empty(),
            FieldValue::Money(_)
            | FieldValue::Number(_)
            | FieldValue::Bool(_)
            | FieldValue::Date(_)
            | FieldValue::User(_) => true,
        }
    }

    /// An operand of the definition read as a value of `ty`; `None` when it is not one.
    pub fn from_operand(ty: &FieldType, v: &serde_json::Value) -> Option<FieldValue> {
        use serde_json::Value as J;
        match (ty, v) {
            (_, J::Null) => Some(FieldValue::Null),
            (FieldType::Text, J::String(s)) => Some(FieldValue::Text(s.clone())),
            (FieldType::Money, J::String(s)) => Money::parse(s).ok().map(FieldValue::Money),
            (FieldType::Number, J::String(s)) => {
                s.trim().parse::<Decimal>().ok().map(FieldValue::Number)
            }
            (FieldType::Number, J::Number(n)) if n.is_i64() => {
                n.as_i64().map(|i| FieldValue::Number(Decimal::from(i)))
            }
            (FieldType::Bool, J::Bool(b)) => Some(FieldValue::Bool(*b)),
            (FieldType::Date, J::String(s)) => parse_moment(s).map(FieldValue::Date),
            (FieldType::User, J::String(s)) => s.parse::<Uuid>().ok().map(FieldValue::User),
            (FieldType::Choice { options }, J::String(s)) => options
                .iter()
                .any(|o| o == s)
                .then(|| FieldValue::Choice(s.clone())),
            _ => None,
        }
    }
}

fn parse_moment(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    /// The operand is a list; the field equals one of its values.
    In,
}

/// A condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Predicate {
    All {
        of: Vec<Predicate>,
    },
    Any {
        of: Vec<Predicate>,
    },
    Not {
        predicate: Box<Predicate>,
    },
    Compare {
        field: String,
        op: Op,
        value: serde_json::Value,
    },
    IsSet {
        field: String,
    },
    /// The latest outcome of an earlier step is one of these.
    Outcome {
        step: String,
        is: Vec<String>,
    },
}

/// What a predicate is evaluated against.
pub struct Facts<'a> {
    pub fields: &'a BTreeMap<String, FieldValue>,
    pub schema: &'a BTreeMap<String, FieldType>,
    /// The outcome of a step in its current round (`None` when it has not finished in it).
    pub outcome_of: &'a dyn Fn(&str) -> Option<String>,
}

impl Predicate {
    /// Evaluates the predicate. A field the entity does not carry is empty; an operand that
    /// no longer fits the field's type makes its comparison false.
    pub fn holds(&self, facts: &Facts<'_>) -> bool {
        match self {
            Predicate::All { of } => of.iter().all(|p| p.holds(facts)),
            Predicate::Any { of } => of.iter().any(|p| p.holds(facts)),
            Predicate::Not { predicate } => !predicate.holds(facts),
            Predicate::IsSet { field } => facts.fields.get(field).is_some_and(FieldValue::is_set),
            Predicate::Outcome { step, is } => {
                (facts.outcome_of)(step).is_some_and(|o| is.contains(&o))
            }
            Predicate::Compare { field, op, value } => {
                let Some(ty) = facts.schema.get(field) else {
                    return false;
                };
                let actual = facts.fields.get(field).unwrap_or(&FieldValue::Null);
                match op {
                    Op::In => match value {
                        serde_json::Value::Array(items) => items.iter().any(|i| {
                            FieldValue::from_operand(ty, i)
                                .is_some_and(|v| compare(actual, Op::Eq, &v))
                        }),
                        _ => false,
                    },
                    op => FieldValue::from_operand(ty, value)
                        .is_some_and(|v| compare(actual, *op, &v)),
                }
            }
        }
    }
}

fn compare(a: &FieldValue, op: Op, b: &FieldValue) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (a, b) {
        (FieldValue::Money(x), FieldValue::Money(y)) => Some(x.amount().cmp(&y.amount())),
        (FieldValue::Number(x), FieldValue::Number(y)) => Some(x.cmp(y)),
        (FieldValue::Date(x), FieldValue::Date(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match op {
        Op::Eq | Op::In => a == b || ord == Some(Ordering::Equal),
        Op::Ne => !(a == b || ord == Some(Ordering::Equal)),
        Op::Lt => ord == Some(Ordering::Less),
        Op::Lte => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => ord == Some(Ordering::Greater),
        Op::Gte => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// Why a comparison is ill-typed: `(rule code, message)`.
pub fn check_comparison(
    ty: &FieldType,
    op: Op,
    value: &serde_json::Value,
) -> Result<(), (&'static str, String)> {
    if matches!(op, Op::Lt | Op::Lte | Op::Gt | Op::Gte) && !ty.ordered() {
        return Err((
            "operator_not_applicable",
            format!("a {} field cannot be compared by order", ty.name()),
        ));
    }
    let operands: Vec<&serde_json::Value> = match (op, value) {
        (Op::In, serde_json::Value::Array(items)) if !items.is_empty() => items.iter().collect(),
        (Op::In, _) => {
            return Err((
                "ill_typed_operand",
                "`in` takes a non-empty list of values".into(),
            ));
        }
        (_, v) => vec![v],
    };
    for v in operands {
        let ordered_null = v.is_null() && ty.ordered() && !matches!(op, Op::Eq | Op::Ne);
        if ordered_null || FieldValue::from_operand(ty, v).is_none() {
            return Err((
                "ill_typed_operand",
                format!("`{v}` is not a value of this {} field", ty.name()),
            ));
        }
    }
    Ok(())
}
