//! CRM-4 leads: an unqualified request or a row of a cold list, worked until it is qualified
//! (and converted into a contact, company and deal) or thrown out as junk.

use serde::{Deserialize, Serialize};

use crate::workflow::WrongState;

/// Where a lead came from.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum LeadSource {
    WebForm,
    Call,
    Import,
    Exhibition,
    Manual,
}

impl LeadSource {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<LeadSource> {
        s.parse().ok()
    }
}

/// The life cycle of a lead: new → in work → qualified | junk.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    New,
    InWork,
    Qualified,
    Junk,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 4] = [
        LeadStatus::New,
        LeadStatus::InWork,
        LeadStatus::Qualified,
        LeadStatus::Junk,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<LeadStatus> {
        s.parse().ok()
    }

    /// Statuses a lead in this status may move to. A qualified or junk lead can be taken back
    /// into work (a mistake, or the client calls again); nothing skips "in work" except
    /// throwing a new lead out as junk.
    pub fn next(self) -> &'static [LeadStatus] {
        match self {
            LeadStatus::New => &[LeadStatus::InWork, LeadStatus::Junk],
            LeadStatus::InWork => &[LeadStatus::Qualified, LeadStatus::Junk],
            LeadStatus::Qualified => &[LeadStatus::InWork],
            LeadStatus::Junk => &[LeadStatus::InWork],
        }
    }
}

/// Qualification category: A — hot, B — warm, C — cold.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
pub enum LeadCategory {
    #[strum(to_string = "A", serialize = "a", serialize = "А", serialize = "а")]
    A,
    #[strum(to_string = "B", serialize = "b", serialize = "Б", serialize = "б")]
    B,
    #[strum(
        to_string = "C",
        serialize = "c",
        serialize = "С",
        serialize = "с",
        serialize = "В",
        serialize = "в"
    )]
    C,
}

impl LeadCategory {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<LeadCategory> {
        s.trim().parse().ok()
    }
}

/// Why a status change or conversion is refused, naming the state and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeadRefusal {
    #[error("a lead in status `{from}` cannot move to `{to}`; allowed: {allowed}")]
    Transition {
        from: &'static str,
        to: &'static str,
        allowed: String,
    },
    #[error("the lead was already converted")]
    AlreadyConverted,
    #[error("a junk lead cannot be converted; take it back into work first")]
    JunkCannotConvert,
}

impl crate::workflow::Refusal for LeadRefusal {
    /// The "actions" of a lead are the statuses it may move to.
    fn wrong_state(&self) -> Option<WrongState> {
        let status = match self {
            LeadRefusal::Transition { from, .. } => LeadStatus::parse(from)?,
            LeadRefusal::JunkCannotConvert => LeadStatus::Junk,
            LeadRefusal::AlreadyConverted => return None,
        };
        Some(WrongState::new(status.as_str(), status.next()))
    }
}

impl LeadRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            LeadRefusal::Transition { .. } => "invalid_transition",
            LeadRefusal::AlreadyConverted => "already_converted",
            LeadRefusal::JunkCannotConvert => "invalid_transition",
        }
    }
}

/// Checks a status change. Staying in the same status is not a change and always allowed.
pub fn change_status(from: LeadStatus, to: LeadStatus) -> Result<LeadStatus, LeadRefusal> {
    if from == to || from.next().contains(&to) {
        Ok(to)
    } else {
        Err(LeadRefusal::Transition {
            from: from.as_str(),
            to: to.as_str(),
            allowed: from
                .next()
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// Checks that a lead may be converted, exactly once; the converted lead is qualified.
pub fn convert(status: LeadStatus, already_converted: bool) -> Result<LeadStatus, LeadRefusal> {
    if already_converted {
        return Err(LeadRefusal::AlreadyConverted);
    }
    match status {
        LeadStatus::Junk => Err(LeadRefusal::JunkCannotConvert),
        LeadStatus::New | LeadStatus::InWork | LeadStatus::Qualified => Ok(LeadStatus::Qualified),
    }
}

/// The raw fields of a lead as a form or a CSV row gives them.
#[derive(Debug, Clone, Default)]
pub struct LeadFields {
    pub title: Option<String>,
    pub company_name: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub inn: Option<String>,
    pub address: Option<String>,
    pub comment: Option<String>,
    pub category: Option<String>,
    pub potential_amount: Option<String>,
    pub probability: Option<String>,
    pub external_id: Option<String>,
}

/// Lead fields that passed their checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidLeadFields {
    pub title: String,
    pub company_name: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<crate::email::Email>,
    pub inn: Option<crate::requisites::Inn>,
    pub address: Option<String>,
    pub comment: Option<String>,
    pub category: Option<LeadCategory>,
    pub potential_amount: Option<crate::money::Money>,
    pub probability: Option<i32>,
    pub external_id: Option<String>,
}

fn present(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Leads are raw material — a cold list straight from a spreadsheet — so they are checked
/// leniently where a check would only lose data (a phone is kept as written once it has 5 to
/// 15 digits) and strictly where a wrong value would mislead (email, INN check digits, money).
pub fn check_lead_fields(f: &LeadFields) -> Result<ValidLeadFields, crate::validation::Violations> {
    use crate::validation::{FieldViolation, Violations};
    let mut v = Violations::new();
    let company_name = present(&f.company_name);
    let contact_name = present(&f.contact_name);
    let title = present(&f.title)
        .or_else(|| company_name.clone())
        .or_else(|| contact_name.clone());
    if title.is_none() {
        v.push(FieldViolation::new(
            "title",
            "required",
            "a lead needs a title, a company name or a contact name",
        ));
    }
    for (field, value, max) in [
        ("title", &title, 500usize),
        ("company_name", &company_name, 500),
        ("contact_name", &contact_name, 300),
    ] {
        if value.as_ref().is_some_and(|s| s.chars().count() > max) {
            v.push(FieldViolation::new(
                field,
                "too_long",
                format!("{field} is longer than {max} characters"),
            ));
        }
    }
    let phone = present(&f.phone);
    if let Some(p) = &phone {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        let allowed = p
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()./".contains(c));
        if !(5..=15).contains(&digits) || !allowed {
            v.push(FieldViolation::new(
                "phone",
                "invalid_phone",
                "a phone has 5 to 15 digits and only spaces, +, -, (, ), . or / besides",
            ));
        }
    }
    let email = present(&f.email).and_then(|e| v.check("email", crate::email::Email::parse(&e)));
    let inn = present(&f.inn).and_then(|i| v.check("inn", crate::requisites::Inn::parse(&i)));
    let category = match present(&f.category) {
        Some(c) => match LeadCategory::parse(&c) {
            Some(cat) => Some(cat),
            None => {
                v.push(FieldViolation::new(
                    "category",
                    "unknown_value",
                    "category is A, B or C",
                ));
                None
            }
        },
        None => None,
    };
    let potential_amount = present(&f.potential_amount).and_then(|a| {
        v.check(
            "potential_amount",
            crate::money::Money::parse_non_negative(
                &a.replace([' ', '\u{a0}'], "").replace(',', "."),
            ),
        )
    });
    let probability = match present(&f.probability) {
        Some(p) => match p.trim_end_matches('%').trim().parse::<i32>() {
            Ok(n) if check_probability(n) => Some(n),
            _ => {
                v.push(FieldViolation::new(
                    "probability",
                    "out_of_range",
                    "probability is a whole percent from 0 to 100",
                ));
                None
            }
        },
        None => None,
    };
    let valid = v.is_empty();
    match title {
        Some(title) if valid => Ok(ValidLeadFields {
            title,
            company_name,
            contact_name,
            phone,
            email,
            inn,
            address: present(&f.address),
            comment: present(&f.comment),
            category,
            potential_amount,
            probability,
            external_id: present(&f.external_id),
        }),
        _ => Err(v),
    }
}

/// A probability in percent, 0 to 100.
pub fn check_probability(p: i32) -> bool {
    (0..=100).contains(&p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status() -> impl Strategy<Value = LeadStatus> {
        prop::sample::select(LeadStatus::ALL.to_vec())
    }

    proptest! {
        /// Whatever sequence of requests arrives, a lead only ever walks the allowed edges,
        /// and once converted it stays converted and is never converted again.
        #[test]
        fn random_walks_respect_the_machine(steps in prop::collection::vec((status(), any::<bool>()), 0..40)) {
            let mut s = LeadStatus::New;
            let mut converted = false;
            for (to, try_convert) in steps {
                if try_convert {
                    match convert(s, converted) {
                        Ok(next) => { prop_assert!(!converted); prop_assert!(s != LeadStatus::Junk); converted = true; s = next; }
                        Err(_) => prop_assert!(converted || s == LeadStatus::Junk),
                    }
                } else if let Ok(next) = change_status(s, to) {
                    prop_assert!(next == s || s.next().contains(&next));
                    s = next;
                }
            }
        }
    }

    #[test]
    fn refusal_names_state_and_allowed_moves() {
        let err = change_status(LeadStatus::New, LeadStatus::Qualified).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a lead in status `new` cannot move to `qualified`; allowed: in_work, junk"
        );
        assert_eq!(
            convert(LeadStatus::Qualified, true),
            Err(LeadRefusal::AlreadyConverted)
        );
        assert_eq!(convert(LeadStatus::New, false), Ok(LeadStatus::Qualified));
    }

    #[test]
    fn lead_fields_are_checked_and_every_bad_one_reported() {
        let ok = check_lead_fields(&LeadFields {
            company_name: Some(" ТСЖ «Берёзка» ".into()),
            phone: Some("+7 (495) 123-45-67".into()),
            potential_amount: Some("1 250 000,50".into()),
            probability: Some("40%".into()),
            category: Some("а".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.title, "ТСЖ «Берёзка»");
        assert_eq!(ok.potential_amount.unwrap().to_string(), "1250000.50");
        assert_eq!(ok.category, Some(LeadCategory::A));
        let bad = check_lead_fields(&LeadFields {
            email: Some("nobody".into()),
            inn: Some("7707083894".into()),
            phone: Some("call me".into()),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = bad.as_slice().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["title", "phone", "email", "inn"]);
    }

    #[test]
    fn cyrillic_category_letters_are_read() {
        assert_eq!(LeadCategory::parse("А"), Some(LeadCategory::A));
        assert_eq!(LeadCategory::parse("б"), Some(LeadCategory::B));
        assert_eq!(LeadCategory::parse("D"), None);
    }
}
