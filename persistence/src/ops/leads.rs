//! `/leads` (CRM-4): unqualified requests and cold-list rows, worked to qualified or junk.

use crate::entity::lead;
use crate::journal::now;
use crate::leads::search_text;
use crate::pagination::{CursorValue, SortKey};
use crate::records;
use chrono::{DateTime, Utc};
use sdelka_domain::lead::{LeadCategory, LeadRefusal, LeadSource, LeadStatus, ValidLeadFields};
use sdelka_domain::money::Money;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::Caller;
use super::dto::double_option;
use super::{Error, ErrorCode, OpResult};
use sea_orm::ConnectionTrait;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadSourceName {
    WebForm,
    Call,
    Import,
    Exhibition,
    Manual,
}

impl From<LeadSourceName> for LeadSource {
    fn from(s: LeadSourceName) -> LeadSource {
        match s {
            LeadSourceName::WebForm => LeadSource::WebForm,
            LeadSourceName::Call => LeadSource::Call,
            LeadSourceName::Import => LeadSource::Import,
            LeadSourceName::Exhibition => LeadSource::Exhibition,
            LeadSourceName::Manual => LeadSource::Manual,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatusName {
    New,
    InWork,
    Qualified,
    Junk,
}

impl From<LeadStatusName> for LeadStatus {
    fn from(s: LeadStatusName) -> LeadStatus {
        match s {
            LeadStatusName::New => LeadStatus::New,
            LeadStatusName::InWork => LeadStatus::InWork,
            LeadStatusName::Qualified => LeadStatus::Qualified,
            LeadStatusName::Junk => LeadStatus::Junk,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum LeadCategoryName {
    A,
    B,
    C,
}

impl From<LeadCategoryName> for LeadCategory {
    fn from(c: LeadCategoryName) -> LeadCategory {
        match c {
            LeadCategoryName::A => LeadCategory::A,
            LeadCategoryName::B => LeadCategory::B,
            LeadCategoryName::C => LeadCategory::C,
        }
    }
}

/// A lead as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadView {
    pub id: Uuid,
    #[schema(example = "ТСЖ «Берёзка» — замена лифтов")]
    pub title: String,
    #[schema(example = "import")]
    pub source: String,
    #[schema(example = "new")]
    pub status: String,
    /// Qualification: A hot, B warm, C cold.
    #[schema(example = "A")]
    pub category: Option<String>,
    /// Potential deal amount, a decimal string.
    #[schema(value_type = Option<String>, example = "1250000.00")]
    pub potential_amount: Option<Money>,
    pub currency: String,
    /// Probability of a deal in percent.
    pub probability: Option<i32>,
    pub responsible_id: Uuid,
    pub company_name: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub inn: Option<String>,
    pub address: Option<String>,
    pub comment: Option<String>,
    pub external_id: Option<String>,
    /// The CSV import that created the lead.
    pub import_id: Option<Uuid>,
    pub converted_at: Option<DateTime<Utc>>,
    pub converted_contact_id: Option<Uuid>,
    pub converted_company_id: Option<Uuid>,
    pub converted_deal_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&lead::Model> for LeadView {
    fn from(l: &lead::Model) -> Self {
        LeadView {
            id: l.id,
            title: l.title.clone(),
            source: l.source.clone(),
            status: l.status.clone(),
            category: l.category.clone(),
            potential_amount: l.potential_amount_minor.map(Money::from_minor),
            currency: l.currency.clone(),
            probability: l.probability,
            responsible_id: l.responsible_id,
            company_name: l.company_name.clone(),
            contact_name: l.contact_name.clone(),
            phone: l.phone.clone(),
            email: l.email.clone(),
            inn: l.inn.clone(),
            address: l.address.clone(),
            comment: l.comment.clone(),
            external_id: l.external_id.clone(),
            import_id: l.import_id,
            converted_at: l.converted_at,
            converted_contact_id: l.converted_contact_id,
            converted_company_id: l.converted_company_id,
            converted_deal_id: l.converted_deal_id,
            version: l.version,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLead {
    /// Defaults to the company name, else the contact name.
    pub title: Option<String>,
    pub source: Option<LeadSourceName>,
    pub category: Option<LeadCategoryName>,
    /// Decimal string, e.g. "1250000.00".
    #[schema(example = "1250000.00")]
    pub potential_amount: Option<String>,
    #[validate(range(min = 0, max = 100))]
    pub probability: Option<i32>,
    /// Defaults to the caller.
    pub responsible_id: Option<Uuid>,
    pub company_name: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub inn: Option<String>,
    #[validate(length(max = 1000))]
    pub address: Option<String>,
    #[validate(length(max = 4000))]
    pub comment: Option<String>,
    #[validate(length(min = 1, max = 255))]
    pub external_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLead {
    pub title: Option<String>,
    /// Moves the lead: new → in_work → qualified | junk (qualified and junk may go back to
    /// in_work). Another move is 409 `invalid_transition`, naming the allowed ones.
    pub status: Option<LeadStatusName>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<LeadCategoryName>)]
    pub category: Option<Option<LeadCategoryName>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub potential_amount: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub probability: Option<Option<i32>>,
    pub responsible_id: Option<Uuid>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub company_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub contact_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub inn: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub comment: Option<Option<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadListFilter {
    /// Case-insensitive part of the title, company, contact, phone, email or INN.
    pub q: Option<String>,
    pub status: Option<LeadStatusName>,
    pub category: Option<LeadCategoryName>,
    pub source: Option<LeadSourceName>,
    pub responsible_id: Option<Uuid>,
    pub import_id: Option<Uuid>,
    pub external_id: Option<String>,
}

pub fn sorts() -> [SortKey<lead::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: lead::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: lead::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "title",
            column: lead::Column::Title,
            key: |m| CursorValue::Text(m.title.clone()),
        },
    ]
}

pub fn refusal(r: LeadRefusal) -> Error {
    let code = match r {
        LeadRefusal::AlreadyConverted => ErrorCode::AlreadyConverted,
        LeadRefusal::Transition { .. } | LeadRefusal::JunkCannotConvert => {
            ErrorCode::InvalidTransition
        }
    };
    Error::new(code, r.to_string())
}

/// A new lead model from checked fields. Shared by the API and the CSV import.
pub fn new_lead(
    fields: ValidLeadFields,
    source: LeadSource,
    responsible_id: Uuid,
) -> OpResult<lead::Model> {
    let at = now();
    let potential = fields
        .potential_amount
        .map(|m| m.to_minor())
        .transpose()
        .map_err(|e| Error::field("potential_amount", "out_of_range", e.to_string()))?;
    let mut model = lead::Model {
        id: Uuid::now_v7(),
        title: fields.title,
        source: source.as_str().to_owned(),
        status: LeadStatus::New.as_str().to_owned(),
        category: fields.category.map(|c| c.as_str().to_owned()),
        potential_amount_minor: potential,
        currency: "RUB".into(),
        probability: fields.probability,
        responsible_id,
        company_name: fields.company_name,
        contact_name: fields.contact_name,
        phone: fields.phone,
        email: fields.email.map(|e| e.as_str().to_owned()),
        inn: fields.inn.map(|i| i.as_str().to_owned()),
        address: fields.address,
        comment: fields.comment,
        external_id: fields.external_id,
        import_key: None,
        import_id: None,
        converted_at: None,
        converted_contact_id: None,
        converted_company_id: None,
        converted_deal_id: None,
        search_text: String::new(),
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    model.search_text = search_text(&model);
    Ok(model)
}

pub async fn visible_lead(
    db: &impl ConnectionTrait,
    caller: &Caller,
    id: Uuid,
) -> OpResult<lead::Model> {
    let l = records::find::<lead::Entity, _>(db, id).await?;
    let scope = caller.visibility(db).await?;
    if scope.allows(Some(l.responsible_id)) {
        Ok(l)
    } else {
        Err(Error::not_found())
    }
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertLead {
    /// Create a company from `company_name` (default: when the lead has one and no
    /// `company_id` is given).
    pub create_company: Option<bool>,
    /// Link an existing company instead of creating one.
    pub company_id: Option<Uuid>,
    /// Create a contact from `contact_name`, `phone` and `email` (default: when the lead has a
    /// contact name).
    pub create_contact: Option<bool>,
    /// Create a deal (default: yes) in this pipeline (default: the default pipeline's first
    /// open stage), titled `deal_title` (default: the lead's title), with the lead's potential
    /// amount.
    pub create_deal: Option<bool>,
    pub pipeline_id: Option<Uuid>,
    #[validate(length(min = 1, max = 500))]
    pub deal_title: Option<String>,
}

/// What a conversion created, and the lead as it is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Conversion {
    pub lead: LeadView,
    pub company_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub deal_id: Option<Uuid>,
}

/// Splits "Иванов Иван Иванович" into last, first and middle name.
pub fn split_person_name(full: &str) -> (String, Option<String>, Option<String>) {
    let mut parts = full.split_whitespace();
    let last = parts.next().unwrap_or_default().to_owned();
    let first = parts.next().map(str::to_owned);
    let rest: Vec<&str> = parts.collect();
    let middle = (!rest.is_empty()).then(|| rest.join(" "));
    (last, first, middle)
}
