//! WF-NUM-1 numbering templates: how a document number is spelled and when its counter starts
//! again. The period always comes from the document's date, never from the clock, so a
//! December invoice entered on 2 January still gets December's series.
//!
//! Template syntax: literal text with placeholders `{YYYY}`, `{YY}`, `{Q}` (quarter 1–4),
//! `{MM}`, `{DD}`, `{ORG}` (the own organisation's code) and exactly one counter `{N:width}`
//! (zero-padded, width 1–12), e.g. `СЧ-{ORG}/{YY}{MM}-{N:5}` → `СЧ-RM/2612-00042`.

use chrono::{Datelike, NaiveDate};

/// When the counter starts again at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum CounterReset {
    Never,
    Yearly,
    Quarterly,
    Monthly,
    Daily,
}

impl CounterReset {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The counter series a document of `date` belongs to: documents of one period share one
    /// counter, and that counter is gap-free within it.
    pub fn period_of(self, date: NaiveDate) -> String {
        match self {
            CounterReset::Never => "all".into(),
            CounterReset::Yearly => format!("{:04}", date.year()),
            CounterReset::Quarterly => format!("{:04}-Q{}", date.year(), quarter(date)),
            CounterReset::Monthly => format!("{:04}-{:02}", date.year(), date.month()),
            CounterReset::Daily => date.format("%Y-%m-%d").to_string(),
        }
    }
}

fn quarter(date: NaiveDate) -> u32 {
    (date.month() - 1) / 3 + 1
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Year4,
    Year2,
    Quarter,
    Month,
    Day,
    OrganisationCode,
    Counter { width: usize },
}

/// A parsed, valid template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberingTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("placeholder `{{{0}}}` is unknown; use YYYY, YY, Q, MM, DD, ORG or N:width")]
    UnknownPlaceholder(String),
    #[error("a `{{` at character {0} is not closed")]
    Unclosed(usize),
    #[error("the counter width must be 1 to 12, got `{0}`")]
    BadWidth(String),
    #[error("a template has exactly one counter `{{N:width}}`, this one has {0}")]
    CounterCount(usize),
    #[error("a template is 1 to 100 characters")]
    Length,
}

impl crate::validation::RuleBroken for TemplateError {
    fn code(&self) -> &'static str {
        match self {
            TemplateError::UnknownPlaceholder(_) => "unknown_placeholder",
            TemplateError::Unclosed(_) => "invalid_format",
            TemplateError::BadWidth(_) => "out_of_range",
            TemplateError::CounterCount(_) => "counter_required",
            TemplateError::Length => "invalid_length",
        }
    }
}

impl NumberingTemplate {
    pub fn parse(template: &str) -> Result<NumberingTemplate, TemplateError> {
        if template.is_empty() || template.chars().count() > 100 {
            return Err(TemplateError::Length);
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = template.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c != '{' {
                literal.push(c);
                continue;
            }
            let mut name = String::new();
            let mut closed = false;
            for (_, c) in chars.by_ref() {
                if c == '}' {
                    closed = true;
                    break;
                }
                name.push(c);
            }
            if !closed {
                return Err(TemplateError::Unclosed(template[..at].chars().count() + 1));
            }
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(match name.as_str() {
                "YYYY" => Part::Year4,
                "YY" => Part::Year2,
                "Q" => Part::Quarter,
                "MM" => Part::Month,
                "DD" => Part::Day,
                "ORG" => Part::OrganisationCode,
                other => match other.strip_prefix("N:") {
                    Some(w) => match w.parse::<usize>() {
                        Ok(width @ 1..=12) => Part::Counter { width },
                        _ => return Err(TemplateError::BadWidth(w.to_owned())),
                    },
                    None => return Err(TemplateError::UnknownPlaceholder(other.to_owned())),
                },
            });
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let counters = parts
            .iter()
            .filter(|p| matches!(p, Part::Counter { .. }))
            .count();
        if counters != 1 {
            return Err(TemplateError::CounterCount(counters));
        }
        Ok(NumberingTemplate { parts })
    }

    /// The number of the `counter`-th document of its period, dated `date`.
    pub fn format(&self, date: NaiveDate, organisation_code: &str, counter: u64) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Year4 => out.push_str(&format!("{:04}", date.year())),
                Part::Year2 => out.push_str(&format!("{:02}", date.year().rem_euclid(100))),
                Part::Quarter => out.push_str(&quarter(date).to_string()),
                Part::Month => out.push_str(&format!("{:02}", date.month())),
                Part::Day => out.push_str(&format!("{:02}", date.day())),
                Part::OrganisationCode => out.push_str(organisation_code),
                Part::Counter { width } => out.push_str(&format!("{counter:0width$}")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn formats_every_placeholder() {
        let t = NumberingTemplate::parse("СЧ-{ORG}/{YY}{MM}{DD}-Q{Q}-{YYYY}-{N:5}").unwrap();
        assert_eq!(
            t.format(d(2026, 12, 31), "RM", 42),
            "СЧ-RM/261231-Q4-2026-00042"
        );
        // A counter wider than its padding is printed whole, never cut.
        assert_eq!(
            NumberingTemplate::parse("{N:2}")
                .unwrap()
                .format(d(2026, 1, 1), "X", 123),
            "123"
        );
    }

    #[test]
    fn the_period_comes_from_the_document_date() {
        // A December invoice entered in January belongs to December's series.
        let december = d(2026, 12, 28);
        assert_eq!(CounterReset::Monthly.period_of(december), "2026-12");
        assert_eq!(CounterReset::Yearly.period_of(december), "2026");
        assert_eq!(CounterReset::Quarterly.period_of(december), "2026-Q4");
        assert_eq!(CounterReset::Daily.period_of(december), "2026-12-28");
        assert_eq!(CounterReset::Never.period_of(december), "all");
        assert_ne!(
            CounterReset::Monthly.period_of(d(2027, 1, 2)),
            CounterReset::Monthly.period_of(december)
        );
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        use crate::validation::RuleBroken;
        let cases = [
            ("СЧ-{YYYY}", "counter_required"),
            ("{N:3}-{N:3}", "counter_required"),
            ("{N:0}", "out_of_range"),
            ("{N:13}", "out_of_range"),
            ("{WEEK}-{N:3}", "unknown_placeholder"),
            ("СЧ-{N:3", "invalid_format"),
            ("", "invalid_length"),
        ];
        for (template, code) in cases {
            let err = NumberingTemplate::parse(template).unwrap_err();
            assert_eq!(err.code(), code, "{template}: {err}");
        }
    }

    proptest! {
        /// Within one period, different counters give different numbers: uniqueness of the
        /// counter is uniqueness of the number.
        #[test]
        fn distinct_counters_give_distinct_numbers(a in 1u64..1_000_000, b in 1u64..1_000_000, width in 1usize..8) {
            let t = NumberingTemplate::parse(&format!("A-{{YYYY}}-{{N:{width}}}")).unwrap();
            let date = d(2026, 5, 17);
            prop_assert_eq!(a == b, t.format(date, "X", a) == t.format(date, "X", b));
        }
    }
}
