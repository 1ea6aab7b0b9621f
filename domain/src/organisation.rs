//! ORG-1 own organisations: our legal entities and their bank accounts. The same requisite
//! rules will check clients' legal entities (CRM-2).

use crate::email::EmailError;
use crate::requisites::{
    Bik, CorrespondentAccount, Inn, InnKind, Kpp, Ogrn, OgrnKind, RequisiteError, SettlementAccount,
};
use crate::validation::{FieldViolation, RuleBroken, Violations};

impl RuleBroken for RequisiteError {
    fn code(&self) -> &'static str {
        RequisiteError::code(self)
    }
}

impl RuleBroken for EmailError {
    fn code(&self) -> &'static str {
        EmailError::code(self)
    }
}

/// Requisites that passed every check, and agree with each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalRequisites {
    pub inn: Inn,
    pub kpp: Option<Kpp>,
    pub ogrn: Option<Ogrn>,
}

/// Checks INN, KPP and OGRN/OGRNIP one by one, then that they fit together: an organisation
/// (10-digit INN) has a KPP and a 13-digit OGRN; an entrepreneur (12-digit INN) has no KPP
/// and a 15-digit OGRNIP.
pub fn check_legal_requisites(
    inn: &str,
    kpp: Option<&str>,
    ogrn: Option<&str>,
) -> Result<LegalRequisites, Violations> {
    let mut v = Violations::new();
    let inn = v.check("inn", Inn::parse(inn));
    let kpp = kpp
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| v.check("kpp", Kpp::parse(s)).map(Some))
        .flatten();
    let ogrn = ogrn
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| v.check("ogrn", Ogrn::parse(s)).map(Some))
        .flatten();
    if let Some(inn) = &inn {
        match inn.kind() {
            InnKind::Organisation => {
                if kpp.is_none() && v.as_slice().iter().all(|f| f.field != "kpp") {
                    v.push(FieldViolation::new(
                        "kpp",
                        "required",
                        "KPP is required for an organisation (10-digit INN)",
                    ));
                }
                if matches!(ogrn.as_ref().map(Ogrn::kind), Some(OgrnKind::Entrepreneur)) {
                    v.push(FieldViolation::new(
                        "ogrn",
                        "kind_mismatch",
                        "an organisation (10-digit INN) has a 13-digit OGRN, not an OGRNIP",
                    ));
                }
            }
            InnKind::Individual => {
                if kpp.is_some() {
                    v.push(FieldViolation::new(
                        "kpp",
                        "not_applicable",
                        "an individual or entrepreneur (12-digit INN) has no KPP",
                    ));
                }
                if matches!(ogrn.as_ref().map(Ogrn::kind), Some(OgrnKind::LegalEntity)) {
                    v.push(FieldViolation::new(
                        "ogrn",
                        "kind_mismatch",
                        "an entrepreneur (12-digit INN) has a 15-digit OGRNIP, not an OGRN",
                    ));
                }
            }
        }
    }
    match inn {
        Some(inn) if v.is_empty() => Ok(LegalRequisites { inn, kpp, ogrn }),
        _ => Err(v),
    }
}

/// A bank account whose settlement and correspondent accounts match its BIK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankRequisites {
    pub bik: Bik,
    pub correspondent_account: CorrespondentAccount,
    pub settlement_account: SettlementAccount,
}

/// Checks a bank account; `prefix` names the fields in errors (e.g. `bank_accounts[0].`).
pub fn check_bank_requisites(
    prefix: &str,
    bik: &str,
    correspondent_account: &str,
    settlement_account: &str,
) -> Result<BankRequisites, Violations> {
    let mut v = Violations::new();
    let Some(bik) = v.check(&format!("{prefix}bik"), Bik::parse(bik)) else {
        return Err(v);
    };
    let corr = v.check(
        &format!("{prefix}correspondent_account"),
        CorrespondentAccount::parse(correspondent_account, &bik),
    );
    let settlement = v.check(
        &format!("{prefix}settlement_account"),
        SettlementAccount::parse(settlement_account, &bik),
    );
    match (corr, settlement) {
        (Some(correspondent_account), Some(settlement_account)) => Ok(BankRequisites {
            bik,
            correspondent_account,
            settlement_account,
        }),
        _ => Err(v),
    }
}

/// The organisation's short code used in document numbers (WF-NUM-1): 1 to 10 capital Latin
/// letters or digits, so that a number stays readable and ASCII-safe in 1C exchange files.
pub fn check_organisation_code(code: &str) -> Result<String, FieldViolation> {
    let ok = !code.is_empty()
        && code.len() <= 10
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(code.to_owned())
    } else {
        Err(FieldViolation::new(
            "code",
            "invalid_format",
            "code must be 1 to 10 capital Latin letters or digits",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_needs_kpp_and_ogrn_of_its_kind() {
        let ok = check_legal_requisites("7707083893", Some("773601001"), Some("1027700132195"));
        assert!(ok.is_ok());
        let no_kpp = check_legal_requisites("7707083893", None, None).unwrap_err();
        assert_eq!(no_kpp.as_slice()[0].field, "kpp");
        assert_eq!(no_kpp.as_slice()[0].code, "required");
    }

    #[test]
    fn bad_inn_names_the_failed_check() {
        let err = check_legal_requisites("7707083894", Some("773601001"), None).unwrap_err();
        assert_eq!(err.as_slice()[0].field, "inn");
        assert_eq!(err.as_slice()[0].code, "checksum_mismatch");
    }

    #[test]
    fn bank_account_is_checked_against_its_bik() {
        let ok = check_bank_requisites(
            "",
            "044525225",
            "30101810400000000225",
            "40702810938000000001",
        );
        assert!(ok.is_ok(), "{ok:?}");
        let wrong_key = check_bank_requisites(
            "",
            "044525225",
            "30101810400000000225",
            "40702810838000000001",
        )
        .unwrap_err();
        assert_eq!(wrong_key.as_slice()[0].field, "settlement_account");
        assert_eq!(wrong_key.as_slice()[0].code, "checksum_mismatch");
        let err =
            check_bank_requisites("b.", "044525225", "30101810400000000226", "x").unwrap_err();
        let fields: Vec<_> = err.as_slice().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["b.correspondent_account", "b.settlement_account"]);
    }

    #[test]
    fn code_is_short_ascii() {
        assert!(check_organisation_code("RM1").is_ok());
        assert!(check_organisation_code("рм").is_err());
        assert!(check_organisation_code("").is_err());
    }
}
