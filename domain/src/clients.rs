//! CRM-1..3 clients: companies, their legal entities (counterparties) and contacts. The rules
//! here are the ones an integrator meets as 422s: which requisites a kind of counterparty
//! must have, what a phone number is, and where an offer may be sent.

use std::fmt;

use crate::organisation::{LegalRequisites, check_legal_requisites};
use crate::requisites::{Inn, InnKind, Ogrn, OgrnKind};
use crate::validation::{FieldViolation, RuleBroken, Violations};

/// The legal form of a counterparty (CRM-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum CounterpartyKind {
    /// An organisation: 10-digit INN, KPP, 13-digit OGRN.
    LegalEntity,
    /// An individual entrepreneur: 12-digit INN, no KPP, 15-digit OGRNIP.
    Entrepreneur,
    /// A private person: 12-digit INN, neither KPP nor OGRN.
    Individual,
}

impl CounterpartyKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Checks a counterparty's INN, KPP and OGRN/OGRNIP (REQ-1), and that they fit its kind. The
/// INN decides most of it (see [`check_legal_requisites`]); the kind adds that an organisation
/// has a 10-digit INN, a person a 12-digit one, and that a private person has no OGRN at all.
pub fn check_counterparty_requisites(
    kind: CounterpartyKind,
    inn: &str,
    kpp: Option<&str>,
    ogrn: Option<&str>,
) -> Result<LegalRequisites, Violations> {
    let ogrn_given = ogrn.is_some_and(|s| !s.trim().is_empty());
    if kind == CounterpartyKind::Individual && ogrn_given {
        let mut v = match check_legal_requisites(inn, kpp, None) {
            Ok(_) => Violations::new(),
            Err(v) => v,
        };
        v.push(FieldViolation::new(
            "ogrn",
            "not_applicable",
            "an individual (not an entrepreneur) has no OGRN or OGRNIP",
        ));
        return Err(v);
    }
    // The kind decides first: a 10-digit INN on an entrepreneur is a wrong INN, not a missing
    // KPP (the KPP rules follow from the INN's kind, which is the wrong one here).
    if let Ok(parsed) = Inn::parse(inn)
        && let Some(wrong) = inn_kind_mismatch(kind, parsed.kind())
    {
        return Err(wrong.into());
    }
    let checked = check_legal_requisites(inn, kpp, ogrn)?;
    let mut v = Violations::new();
    if let Some(wrong) = inn_kind_mismatch(kind, checked.inn.kind()) {
        v.push(wrong);
    }
    if kind == CounterpartyKind::Entrepreneur
        && matches!(
            checked.ogrn.as_ref().map(Ogrn::kind),
            Some(OgrnKind::LegalEntity)
        )
        && v.is_empty()
    {
        v.push(FieldViolation::new(
            "ogrn",
            "kind_mismatch",
            "an entrepreneur has a 15-digit OGRNIP, not an OGRN",
        ));
    }
    v.finish(|| checked)
}

/// The refusal of an INN whose length belongs to another kind of counterparty.
fn inn_kind_mismatch(kind: CounterpartyKind, inn: InnKind) -> Option<FieldViolation> {
    match (kind, inn) {
        (CounterpartyKind::LegalEntity, InnKind::Organisation)
        | (CounterpartyKind::Entrepreneur, InnKind::Individual)
        | (CounterpartyKind::Individual, InnKind::Individual) => None,
        (CounterpartyKind::LegalEntity, InnKind::Individual) => Some(FieldViolation::new(
            "inn",
            "kind_mismatch",
            "a legal entity has a 10-digit INN; 12 digits belong to a person",
        )),
        (CounterpartyKind::Entrepreneur | CounterpartyKind::Individual, InnKind::Organisation) => {
            Some(FieldViolation::new(
                "inn",
                "kind_mismatch",
                format!(
                    "an {} has a 12-digit INN; 10 digits belong to an organisation",
                    if kind == CounterpartyKind::Entrepreneur {
                        "entrepreneur"
                    } else {
                        "individual"
                    }
                ),
            ))
        }
    }
}

/// Why a phone number was refused; the code is always `invalid_phone`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone may contain only digits, spaces, '+', '-', '.', '(' and ')'")]
    UnexpectedCharacter,
    #[error("phone must have 5 to 15 digits, got {0}")]
    DigitCount(usize),
}

impl RuleBroken for PhoneError {
    fn code(&self) -> &'static str {
        "invalid_phone"
    }
}

/// A phone number reduced to its digits, international form, so that the ways people write
/// one number find each other: `+7 (495) 123-45-67`, `8 495 123 45 67` and `(495) 1234567`
/// are all `74951234567`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    /// Keeps the digits. Written without `+`, an 11-digit number with the Russian trunk prefix
    /// 8 becomes 7, and a 10-digit number (a Russian number without its country code) gets
    /// the 7.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        if !input
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '.' | '(' | ')'))
        {
            return Err(PhoneError::UnexpectedCharacter);
        }
        let digits: String = input.chars().filter(char::is_ascii_digit).collect();
        // A number written with `+` already carries its country code.
        let with_country_code = input.trim_start().starts_with('+');
        let international = match (with_country_code, digits.len(), digits.strip_prefix('8')) {
            (false, 11, Some(rest)) => format!("7{rest}"),
            (false, 10, _) => format!("7{digits}"),
            _ => digits,
        };
        if !(5..=15).contains(&international.len()) {
            return Err(PhoneError::DigitCount(international.len()));
        }
        Ok(Phone(international))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The channel a contact wants offers through (CRM-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferChannel {
    Email,
    Phone,
    Messenger,
    Post,
}

/// The addresses a contact can be reached at, already normalised.
#[derive(Debug, Default, Clone)]
pub struct ContactAddresses<'a> {
    pub emails: &'a [String],
    pub phones: &'a [String],
    pub messengers: &'a [String],
    pub postal_address: Option<&'a str>,
}

/// The preferred address must be one the contact has in that channel, so an offer is never
/// sent to an address nobody entered as the contact's. `address` is normalised the way the
/// channel's addresses are (lower-cased email, digits of a phone) and returned.
pub fn check_preferred_address(
    channel: OfferChannel,
    address: &str,
    known: &ContactAddresses<'_>,
) -> Result<String, FieldViolation> {
    let field = "preferred_address";
    let (normalised, candidates): (String, Vec<&str>) = match channel {
        OfferChannel::Email => (
            address.trim().to_lowercase(),
            known.emails.iter().map(String::as_str).collect(),
        ),
        OfferChannel::Phone => match Phone::parse(address) {
            Ok(p) => (
                p.as_str().to_owned(),
                known.phones.iter().map(String::as_str).collect(),
            ),
            Err(e) => return Err(FieldViolation::new(field, e.code(), e.to_string())),
        },
        OfferChannel::Messenger => (
            address.trim().to_owned(),
            known.messengers.iter().map(String::as_str).collect(),
        ),
        OfferChannel::Post => (
            address.trim().to_owned(),
            known.postal_address.into_iter().collect(),
        ),
    };
    if candidates.iter().any(|c| *c == normalised) {
        Ok(normalised)
    } else {
        Err(FieldViolation::new(
            field,
            "not_an_address_of_contact",
            "preferred_address must be one of the contact's addresses in the preferred channel",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn legal_entity_needs_organisation_requisites() {
        let ok = check_counterparty_requisites(
            CounterpartyKind::LegalEntity,
            "7707083893",
            Some("773601001"),
            Some("1027700132195"),
        );
        assert!(ok.is_ok(), "{ok:?}");
        let person = check_counterparty_requisites(
            CounterpartyKind::LegalEntity,
            "500100732259",
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(person.as_slice()[0].field, "inn");
        assert_eq!(person.as_slice()[0].code, "kind_mismatch");
    }

    #[test]
    fn entrepreneur_has_twelve_digit_inn_and_ogrnip() {
        assert!(
            check_counterparty_requisites(
                CounterpartyKind::Entrepreneur,
                "500100732259",
                None,
                Some("304500116000157"),
            )
            .is_ok()
        );
        let org = check_counterparty_requisites(
            CounterpartyKind::Entrepreneur,
            "7707083893",
            Some("773601001"),
            None,
        )
        .unwrap_err();
        assert_eq!(org.as_slice()[0].code, "kind_mismatch");
        // Without a KPP the refusal is still the INN's kind, not a missing KPP.
        let no_kpp =
            check_counterparty_requisites(CounterpartyKind::Entrepreneur, "7707083893", None, None)
                .unwrap_err();
        assert_eq!(no_kpp.as_slice().len(), 1);
        assert_eq!(no_kpp.as_slice()[0].field, "inn");
        assert_eq!(no_kpp.as_slice()[0].code, "kind_mismatch");
    }

    #[test]
    fn individual_has_no_ogrn() {
        assert!(
            check_counterparty_requisites(CounterpartyKind::Individual, "500100732259", None, None)
                .is_ok()
        );
        let with_ogrnip = check_counterparty_requisites(
            CounterpartyKind::Individual,
            "500100732259",
            None,
            Some("304500116000157"),
        )
        .unwrap_err();
        assert_eq!(with_ogrnip.as_slice()[0].field, "ogrn");
        assert_eq!(with_ogrnip.as_slice()[0].code, "not_applicable");
        let with_kpp = check_counterparty_requisites(
            CounterpartyKind::Individual,
            "500100732259",
            Some("773601001"),
            None,
        )
        .unwrap_err();
        assert_eq!(with_kpp.as_slice()[0].field, "kpp");
        let org_inn = check_counterparty_requisites(
            CounterpartyKind::Individual,
            "7707083893",
            Some("773601001"),
            None,
        )
        .unwrap_err();
        assert_eq!(org_inn.as_slice()[0].code, "kind_mismatch");
    }

    #[test]
    fn bad_checksum_still_names_the_field() {
        let err = check_counterparty_requisites(
            CounterpartyKind::Individual,
            "500100732258",
            None,
            Some("x"),
        )
        .unwrap_err();
        let fields: Vec<_> = err.as_slice().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["inn", "ogrn"]);
        assert_eq!(err.as_slice()[0].code, "checksum_mismatch");
    }

    #[test]
    fn phones_written_differently_are_one_number() {
        for written in [
            "+7 (495) 123-45-67",
            "84951234567",
            "8 495 123 45 67",
            "(495) 123-45-67",
            "7.495.123.45.67",
        ] {
            assert_eq!(
                Phone::parse(written).map(|p| p.to_string()),
                Ok("74951234567".to_owned()),
                "{written}"
            );
        }
        // A foreign number keeps its own country code.
        assert_eq!(
            Phone::parse("+49 30 1234567").map(|p| p.to_string()),
            Ok("49301234567".to_owned())
        );
        assert_eq!(
            Phone::parse("call me"),
            Err(PhoneError::UnexpectedCharacter)
        );
        assert_eq!(Phone::parse("12-3"), Err(PhoneError::DigitCount(3)));
    }

    #[test]
    fn preferred_address_must_be_the_contacts() {
        let emails = vec!["ivan@example.ru".to_owned()];
        let phones = vec!["74951234567".to_owned()];
        let known = ContactAddresses {
            emails: &emails,
            phones: &phones,
            messengers: &[],
            postal_address: Some("Москва, ул. Тверская, 1"),
        };
        assert_eq!(
            check_preferred_address(OfferChannel::Email, "Ivan@Example.ru", &known),
            Ok("ivan@example.ru".to_owned())
        );
        assert_eq!(
            check_preferred_address(OfferChannel::Phone, "8 (495) 123-45-67", &known),
            Ok("74951234567".to_owned())
        );
        assert!(
            check_preferred_address(OfferChannel::Post, "Москва, ул. Тверская, 1", &known).is_ok()
        );
        let err = check_preferred_address(OfferChannel::Messenger, "@ivan", &known).unwrap_err();
        assert_eq!(err.code, "not_an_address_of_contact");
        assert!(check_preferred_address(OfferChannel::Email, "petr@example.ru", &known).is_err());
    }

    proptest! {
        #[test]
        fn phone_parse_never_panics_and_keeps_digits_only(s in "\\PC{0,40}") {
            if let Ok(p) = Phone::parse(&s) {
                prop_assert!(p.as_str().chars().all(|c| c.is_ascii_digit()));
                prop_assert!((5..=15).contains(&p.as_str().len()));
                // The canonical form, written internationally, normalises to itself.
                prop_assert_eq!(Phone::parse(&format!("+{p}")).ok(), Some(p.clone()));
            }
        }
    }
}
