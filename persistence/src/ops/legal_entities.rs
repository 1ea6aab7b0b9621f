//! `/legal-entities` (CRM-2): the requisites of a company's counterparties, their bank
//! accounts, and the contacts acting for them. A legal entity is visible when its company is.

use crate::clients::{self as store, fold};
use crate::entity::{legal_entity, legal_entity_bank_account};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey};
use crate::visibility::Scope;
use chrono::{DateTime, Utc};
use sdelka_domain::clients::CounterpartyKind;
use sdelka_domain::validation::Violations;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;
use super::{Error, OpResult};

use super::organizations::{NewBankAccount, check_bank_account};

use super::clients::{DuplicateWarning, ExternalId, external_ids_of};

/// The legal form of a counterparty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegalEntityKind {
    /// An organisation: 10-digit INN, KPP, OGRN.
    LegalEntity,
    /// An individual entrepreneur: 12-digit INN, OGRNIP, no KPP.
    Entrepreneur,
    /// A private person: 12-digit INN, no KPP, no OGRN.
    Individual,
}

impl From<LegalEntityKind> for CounterpartyKind {
    fn from(k: LegalEntityKind) -> Self {
        match k {
            LegalEntityKind::LegalEntity => CounterpartyKind::LegalEntity,
            LegalEntityKind::Entrepreneur => CounterpartyKind::Entrepreneur,
            LegalEntityKind::Individual => CounterpartyKind::Individual,
        }
    }
}

impl LegalEntityKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "legal_entity" => Some(LegalEntityKind::LegalEntity),
            "entrepreneur" => Some(LegalEntityKind::Entrepreneur),
            "individual" => Some(LegalEntityKind::Individual),
            _ => None,
        }
    }
}

/// A bank account of a counterparty.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegalEntityBankAccountView {
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

impl From<&legal_entity_bank_account::Model> for LegalEntityBankAccountView {
    fn from(b: &legal_entity_bank_account::Model) -> Self {
        LegalEntityBankAccountView {
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

/// A counterparty's requisites.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegalEntityView {
    pub id: Uuid,
    pub company_id: Uuid,
    pub kind: LegalEntityKind,
    #[schema(example = "Общество с ограниченной ответственностью «Ромашка»")]
    pub full_name: String,
    #[schema(example = "ООО «Ромашка»")]
    pub short_name: String,
    #[schema(example = "7707083893")]
    pub inn: String,
    #[schema(example = "773601001")]
    pub kpp: Option<String>,
    /// OGRN (13 digits) or, for an entrepreneur, OGRNIP (15 digits).
    #[schema(example = "1027700132195")]
    pub ogrn: Option<String>,
    pub legal_address: Option<String>,
    pub postal_address: Option<String>,
    #[schema(example = "Иванов Иван Иванович")]
    pub signatory_name: Option<String>,
    /// What the signatory acts on.
    #[schema(example = "Устав")]
    pub signatory_basis: Option<String>,
    pub external_ids: Vec<ExternalId>,
    pub bank_accounts: Vec<LegalEntityBankAccountView>,
    /// Only on create and update: visible legal entities with the same INN and KPP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<DuplicateWarning>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LegalEntityView {
    pub fn new(e: &legal_entity::Model, accounts: &[legal_entity_bank_account::Model]) -> Self {
        LegalEntityView {
            id: e.id,
            company_id: e.company_id,
            kind: LegalEntityKind::parse(&e.kind).unwrap_or(LegalEntityKind::LegalEntity),
            full_name: e.full_name.clone(),
            short_name: e.short_name.clone(),
            inn: e.inn.clone(),
            kpp: e.kpp.clone(),
            ogrn: e.ogrn.clone(),
            legal_address: e.legal_address.clone(),
            postal_address: e.postal_address.clone(),
            signatory_name: e.signatory_name.clone(),
            signatory_basis: e.signatory_basis.clone(),
            external_ids: external_ids_of(&e.external_ids),
            bank_accounts: accounts
                .iter()
                .filter(|a| a.legal_entity_id == e.id)
                .map(LegalEntityBankAccountView::from)
                .collect(),
            warnings: Vec::new(),
            version: e.version,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLegalEntity {
    pub company_id: Uuid,
    pub kind: LegalEntityKind,
    #[validate(length(min = 1, max = 500, message = "full_name must be 1 to 500 characters"))]
    #[schema(example = "Общество с ограниченной ответственностью «Ромашка»")]
    pub full_name: String,
    /// Default: the full name.
    #[validate(length(min = 1, max = 200, message = "short_name must be 1 to 200 characters"))]
    #[schema(example = "ООО «Ромашка»")]
    pub short_name: Option<String>,
    #[schema(example = "7707083893")]
    pub inn: String,
    #[schema(example = "773601001")]
    pub kpp: Option<String>,
    #[schema(example = "1027700132195")]
    pub ogrn: Option<String>,
    #[validate(length(max = 1000))]
    pub legal_address: Option<String>,
    #[validate(length(max = 1000))]
    pub postal_address: Option<String>,
    #[validate(length(max = 300))]
    pub signatory_name: Option<String>,
    #[validate(length(max = 300))]
    pub signatory_basis: Option<String>,
    #[serde(default)]
    #[validate(length(max = 20), nested)]
    pub external_ids: Vec<ExternalId>,
    #[serde(default)]
    #[validate(length(max = 20), nested)]
    pub bank_accounts: Vec<NewBankAccount>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLegalEntity {
    pub kind: Option<LegalEntityKind>,
    #[validate(length(min = 1, max = 500, message = "full_name must be 1 to 500 characters"))]
    pub full_name: Option<String>,
    #[validate(length(min = 1, max = 200, message = "short_name must be 1 to 200 characters"))]
    pub short_name: Option<String>,
    pub inn: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub kpp: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub ogrn: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub legal_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub postal_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub signatory_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub signatory_basis: Option<Option<String>>,
    /// Replaces the whole list.
    #[validate(length(max = 20), nested)]
    pub external_ids: Option<Vec<ExternalId>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LegalEntityListFilter {
    /// Case-insensitive part of the full or short name or the INN.
    pub q: Option<String>,
    pub company_id: Option<Uuid>,
    /// Exact INN.
    pub inn: Option<String>,
    #[param(inline)]
    pub kind: Option<LegalEntityKind>,
    /// `source:id`, e.g. `1c:6f1c2a9e-3b0d-11ee-be56-0242ac120002`.
    pub external_id: Option<String>,
}

pub fn sorts() -> [SortKey<legal_entity::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: legal_entity::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: legal_entity::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "short_name",
            column: legal_entity::Column::ShortName,
            key: |m| CursorValue::Text(m.short_name.clone()),
        },
    ]
}

pub fn trimmed(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub fn search_text(e: &legal_entity::Model) -> String {
    fold(&[&e.full_name, &e.short_name, &e.inn])
}

pub fn bank_account_model(
    legal_entity_id: Uuid,
    prefix: &str,
    b: &NewBankAccount,
    v: &mut Violations,
) -> Option<legal_entity_bank_account::Model> {
    let c = check_bank_account(prefix, b, v)?;
    let at = now();
    Some(legal_entity_bank_account::Model {
        id: Uuid::now_v7(),
        legal_entity_id,
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

/// Visible legal entities with the same INN and KPP as `e`.
pub async fn duplicate_warnings<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    e: &legal_entity::Model,
) -> OpResult<Vec<DuplicateWarning>> {
    Ok(
        store::legal_entities_with_requisites(db, scope, &e.inn, e.kpp.as_deref(), e.id)
            .await?
            .iter()
            .map(|other| DuplicateWarning::new("inn_kpp", other.id))
            .collect(),
    )
}

pub async fn visible(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> OpResult<legal_entity::Model> {
    store::visible_legal_entity(db, scope, id)
        .await?
        .ok_or_else(Error::not_found)
}

/// A contact acting for a legal entity, with his role there.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegalEntityContactView {
    pub contact_id: Uuid,
    #[schema(example = "Петров")]
    pub last_name: String,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    /// The contact's role at this legal entity.
    #[schema(example = "Главный бухгалтер")]
    pub role: Option<String>,
    pub linked_at: DateTime<Utc>,
}
