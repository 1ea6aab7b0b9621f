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
