//! `/organizations`: our own legal entities with requisites and bank accounts (ORG-1).

use crate::entity::{bank_account, organization};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey};
use chrono::{DateTime, Utc};
use sdelka_domain::organisation::check_bank_requisites;
use sdelka_domain::validation::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;

#[derive(Debug, Serialize, ToSchema)]
pub struct BankAccountView {
    pub id: Uuid,
    #[schema(example = "ПАО Сбербанк")]
    pub bank_name: String,
    #[schema(example = "044525225")]
    pub bik: String,
    #[schema(example = "30101810400000000225")]
    pub correspondent_account: String,
    #[schema(example = "40702810938000000001")]
    pub settlement_account: String,
    #[schema(example = "RUB")]
    pub currency: String,
    pub is_primary: bool,
    pub version: i32,
}

impl From<&bank_account::Model> for BankAccountView {
    fn from(b: &bank_account::Model) -> Self {
        BankAccountView {
            id: b.id,
            bank_name: b.bank_name.clone(),
            bik: b.bik.clone(),
            correspondent_account: b.correspondent_account.clone(),
            settlement_account: b.settlement_account.clone(),
            currency: b.currency.clone(),
            is_primary: b.is_primary,
            version: b.version,
        }
    }
}

/// An own organisation (legal entity or entrepreneur) with its requisites.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: Uuid,
    #[schema(example = "Общество с ограниченной ответственностью «Ромашка»")]
    pub name: String,
    #[schema(example = "ООО «Ромашка»")]
    pub short_name: String,
    /// Short code used in document numbers.
    #[schema(example = "RM")]
    pub code: String,
    #[schema(example = "7707083893")]
    pub inn: String,
    #[schema(example = "773601001")]
    pub kpp: Option<String>,
    /// OGRN (13 digits) or, for an entrepreneur, OGRNIP (15 digits).
    #[schema(example = "1027700132195")]
    pub ogrn: Option<String>,
    pub vat_payer: bool,
    pub legal_address: String,
    pub postal_address: Option<String>,
    pub director_name: Option<String>,
    pub chief_accountant_name: Option<String>,
    /// The integrator's id, e.g. a 1C GUID.
    pub external_id: Option<String>,
    pub bank_accounts: Vec<BankAccountView>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrganizationView {
    pub fn new(o: &organization::Model, accounts: &[bank_account::Model]) -> Self {
        OrganizationView {
            id: o.id,
            name: o.name.clone(),
            short_name: o.short_name.clone(),
            code: o.code.clone(),
            inn: o.inn.clone(),
            kpp: o.kpp.clone(),
            ogrn: o.ogrn.clone(),
            vat_payer: o.vat_payer,
            legal_address: o.legal_address.clone(),
            postal_address: o.postal_address.clone(),
            director_name: o.director_name.clone(),
            chief_accountant_name: o.chief_accountant_name.clone(),
            external_id: o.external_id.clone(),
            bank_accounts: accounts
                .iter()
                .filter(|a| a.organization_id == o.id)
                .map(BankAccountView::from)
                .collect(),
            version: o.version,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBankAccount {
    #[validate(length(min = 1, max = 300, message = "bank_name must be 1 to 300 characters"))]
    #[schema(example = "ПАО Сбербанк")]
    pub bank_name: String,
    #[schema(example = "044525225")]
    pub bik: String,
    #[schema(example = "30101810400000000225")]
    pub correspondent_account: String,
    #[schema(example = "40702810938000000001")]
    pub settlement_account: String,
    /// ISO 4217 code, default `RUB`.
    #[validate(length(equal = 3, message = "currency is a 3-letter ISO 4217 code"))]
    pub currency: Option<String>,
    #[serde(default)]
    pub is_primary: bool,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    #[validate(length(min = 1, max = 500, message = "name must be 1 to 500 characters"))]
    #[schema(example = "Общество с ограниченной ответственностью «Ромашка»")]
    pub name: String,
    #[validate(length(min = 1, max = 200, message = "short_name must be 1 to 200 characters"))]
    #[schema(example = "ООО «Ромашка»")]
    pub short_name: String,
    #[schema(example = "RM")]
    pub code: String,
    #[schema(example = "7707083893")]
    pub inn: String,
    #[schema(example = "773601001")]
    pub kpp: Option<String>,
    #[schema(example = "1027700132195")]
    pub ogrn: Option<String>,
    pub vat_payer: bool,
    #[validate(length(
        min = 1,
        max = 1000,
        message = "legal_address must be 1 to 1000 characters"
    ))]
    pub legal_address: String,
    #[validate(length(max = 1000))]
    pub postal_address: Option<String>,
    #[validate(length(max = 300))]
    pub director_name: Option<String>,
    #[validate(length(max = 300))]
    pub chief_accountant_name: Option<String>,
    #[validate(length(min = 1, max = 255))]
    pub external_id: Option<String>,
    #[serde(default)]
    #[validate(length(max = 20), nested)]
    pub bank_accounts: Vec<NewBankAccount>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    #[validate(length(min = 1, max = 500, message = "name must be 1 to 500 characters"))]
    pub name: Option<String>,
    #[validate(length(min = 1, max = 200, message = "short_name must be 1 to 200 characters"))]
    pub short_name: Option<String>,
    pub code: Option<String>,
    pub inn: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub kpp: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub ogrn: Option<Option<String>>,
    pub vat_payer: Option<bool>,
    #[validate(length(
        min = 1,
        max = 1000,
        message = "legal_address must be 1 to 1000 characters"
    ))]
    pub legal_address: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub postal_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub director_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub chief_accountant_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganizationListFilter {
    /// Case-insensitive part of the name, short name or INN (Cyrillic included).
    pub q: Option<String>,
    /// Exact INN.
    pub inn: Option<String>,
    pub vat_payer: Option<bool>,
}

pub fn sorts() -> [SortKey<organization::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: organization::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: organization::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "name",
            column: organization::Column::Name,
            key: |m| CursorValue::Text(m.name.clone()),
        },
    ]
}

/// A bank account whose requisites passed their checks: what own organisations and clients'
/// legal entities both store.
pub struct CheckedBankAccount {
    pub bank_name: String,
    pub bik: String,
    pub correspondent_account: String,
    pub settlement_account: String,
    pub currency: String,
    pub is_primary: bool,
}

/// Checks a bank account (accounts against the BIK, the currency code); violations are named
/// with `prefix` (e.g. `bank_accounts[0].`).
pub fn check_bank_account(
    prefix: &str,
    b: &NewBankAccount,
    v: &mut Violations,
) -> Option<CheckedBankAccount> {
    let checked = match check_bank_requisites(
        prefix,
        &b.bik,
        &b.correspondent_account,
        &b.settlement_account,
    ) {
        Ok(c) => c,
        Err(errs) => {
            for e in errs.into_vec() {
                v.push(e);
            }
            return None;
        }
    };
    let currency = b
        .currency
        .clone()
        .unwrap_or_else(|| "RUB".into())
        .to_uppercase();
    if !currency.chars().all(|c| c.is_ascii_uppercase()) {
        v.push(FieldViolation::new(
            format!("{prefix}currency"),
            "invalid_format",
            "currency is a 3-letter ISO 4217 code",
        ));
        return None;
    }
    Some(CheckedBankAccount {
        bank_name: b.bank_name.trim().to_owned(),
        bik: checked.bik.as_str().to_owned(),
        correspondent_account: checked.correspondent_account.as_str().to_owned(),
        settlement_account: checked.settlement_account.as_str().to_owned(),
        currency,
        is_primary: b.is_primary,
    })
}

pub fn bank_account_model(
    organization_id: Uuid,
    prefix: &str,
    b: &NewBankAccount,
    v: &mut Violations,
) -> Option<bank_account::Model> {
    let c = check_bank_account(prefix, b, v)?;
    let at = now();
    Some(bank_account::Model {
        id: Uuid::now_v7(),
        organization_id,
        bank_name: c.bank_name,
        bik: c.bik,
        correspondent_account: c.correspondent_account,
        settlement_account: c.settlement_account,
        currency: c.currency,
        is_primary: c.is_primary,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    })
}
