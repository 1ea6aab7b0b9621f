//! Field-level validation results, shared by every rule that checks input.

use serde::Serialize;

/// One broken rule on one field: what API-2 reports as `{field, code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldViolation {
    /// JSON path of the offending field, e.g. `inn` or `bank_accounts[0].bik`.
    pub field: String,
    /// Stable machine-readable rule name, e.g. `checksum_mismatch`.
    pub code: String,
    /// Human explanation naming the check that failed.
    pub message: String,
}

impl FieldViolation {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Collects violations so that a caller learns about every bad field at once, not one per
/// round trip.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, violation: FieldViolation) {
        self.0.push(violation);
    }

    /// Records the error of `result` under `field` and hands back the value when it is valid.
    pub fn check<T, E>(&mut self, field: &str, result: Result<T, E>) -> Option<T>
    where
        E: RuleBroken,
    {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0
                    .push(FieldViolation::new(field, e.code(), e.to_string()));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldViolation> {
        self.0
    }

    pub fn as_slice(&self) -> &[FieldViolation] {
        &self.0
    }

    /// `Ok(value)` when nothing was violated.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Violations> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl From<FieldViolation> for Violations {
    fn from(v: FieldViolation) -> Self {
        Self(vec![v])
    }
}

/// An error of a value type that knows its stable rule code.
pub trait RuleBroken: std::fmt::Display {
    fn code(&self) -> &'static str;
}

/// The text of a serde error for a broken rule: `[code] message`. A value type's `Deserialize`
/// reports its rule this way, and the HTTP layer turns it back into a [`FieldViolation`] at
/// the JSON path of the field (see [`split_rule_error`]).
pub fn rule_error<E: serde::de::Error>(broken: &impl RuleBroken) -> E {
    E::custom(format_args!("[{}] {}", broken.code(), broken))
}

/// The `(code, message)` of a serde error written by [`rule_error`]; `None` for any other.
pub fn split_rule_error(text: &str) -> Option<(&str, &str)> {
    let (code, message) = text.strip_prefix('[')?.split_once("] ")?;
    let is_code = !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    is_code.then_some((code, message))
}

/// A `Deserialize` from a JSON string through a parser whose error is a [`RuleBroken`].
pub fn deserialize_parsed<'de, D, T, E>(
    d: D,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    E: RuleBroken,
{
    let s = <String as serde::Deserialize>::deserialize(d)?;
    parse(&s).map_err(|e| rule_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Broken;
    impl std::fmt::Display for Broken {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("the value breaks [a] rule")
        }
    }
    impl RuleBroken for Broken {
        fn code(&self) -> &'static str {
            "out_of_range"
        }
    }

    #[test]
    fn rule_errors_round_trip() {
        let e: serde::de::value::Error = rule_error(&Broken);
        assert_eq!(
            split_rule_error(&e.to_string()),
            Some(("out_of_range", "the value breaks [a] rule"))
        );
        assert_eq!(split_rule_error("invalid type: integer `5`"), None);
        assert_eq!(split_rule_error("[Not a code] x"), None);
    }
}
