//! `/leads` (CRM-4): unqualified requests and cold-list rows, worked to qualified or junk.

use crate::StoreError;
use crate::entity::{company, contact, lead};
use crate::journal::now;
use crate::leads::{LeadFilter, leads_query, search_text};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use chrono::{DateTime, Utc};
use sdelka_domain::clients::Phone;
use sdelka_domain::lead::{
    LeadCategory, LeadFields, LeadRefusal, LeadSource, LeadStatus, ValidLeadFields, change_status,
    check_lead_fields,
};
use sdelka_domain::money::Money;
use sdelka_domain::role::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::companies::{CompanyType, CompanyView, new_company};
use super::contacts::{ContactView, new_contact, refresh_search};
use super::deals::{NewDeal, open_deal};
use super::dto::double_option;
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};
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
    super::workflow::refused(r, |r| Error::new(code, r.to_string()))
}

fn status_of(l: &lead::Model) -> OpResult<LeadStatus> {
    super::workflow::stored("lead", "status", l.id, &l.status)
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

// ---------------------------------------------------------------------------------------------
// Operations

fn public(l: &lead::Model) -> serde_json::Value {
    present(&LeadView::from(l))
}

/// The leads the caller may see, a page at a time.
pub async fn list_leads(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: LeadListFilter,
) -> OpResult<ListPage<LeadView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let scope = caller.visibility(&db).await?;
    let query = scope.apply(
        leads_query(&LeadFilter {
            q: f.q.clone(),
            status: f.status.map(|s| LeadStatus::from(s).as_str().to_owned()),
            category: f
                .category
                .map(|c| LeadCategory::from(c).as_str().to_owned()),
            source: f.source.map(|s| LeadSource::from(s).as_str().to_owned()),
            responsible_id: f.responsible_id,
            import_id: f.import_id,
            external_id: f.external_id,
            updated_since: page.updated_since,
        }),
        lead::Column::ResponsibleId,
    );
    let query = crate::search::narrow(query, &db, "leads", f.q.as_deref()).await?;
    let page = fetch_page(&db, query, req, lead::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |l| LeadView::from(l)))
}

/// Registers a lead; the caller is its responsible unless another user is named.
pub async fn create_lead(db: Db<'_>, caller: &Caller, req: CreateLead) -> OpResult<LeadView> {
    let fields = check_lead_fields(&LeadFields {
        title: req.title,
        company_name: req.company_name,
        contact_name: req.contact_name,
        phone: req.phone,
        email: req.email,
        inn: req.inn,
        address: req.address,
        comment: req.comment,
        category: req
            .category
            .map(|c| LeadCategory::from(c).as_str().to_owned()),
        potential_amount: req.potential_amount,
        probability: req.probability.map(|p| p.to_string()),
        external_id: req.external_id,
    })?;
    let responsible = req.responsible_id.unwrap_or(caller.user_id);
    let model = new_lead(
        fields,
        req.source
            .map(LeadSource::from)
            .unwrap_or(LeadSource::Manual),
        responsible,
    )?;
    let txn = db.begin().await?;
    if responsible != caller.user_id {
        let scope = caller.visibility(&txn).await?;
        super::refs::responsible(&txn, &scope, "responsible_id", responsible).await?;
    }
    let model = records::create::<lead::Entity, _>(&txn, &caller.actor(), model, public).await?;
    super::processes::on_entity_created(
        &txn,
        &caller.actor(),
        sdelka_domain::process::EntityType::Lead,
        model.id,
    )
    .await?;
    txn.commit().await?;
    Ok(LeadView::from(&model))
}

/// One lead the caller may see.
pub async fn get_lead(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<LeadView> {
    let l = visible_lead(&db, caller, id).await?;
    Ok(LeadView::from(&l))
}

/// Changes a lead: its fields, its qualification or its status. The merged fields are checked
/// as a whole, by the same rules as on create.
pub async fn update_lead(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateLead,
) -> OpResult<LeadView> {
    visible_lead(&db, caller, id).await?;
    let txn = db.begin().await?;
    if let Some(r) = req.responsible_id {
        let scope = caller.visibility(&txn).await?;
        super::refs::responsible(&txn, &scope, "responsible_id", r).await?;
    }
    let facts_before =
        super::processes::facts_of(&txn, sdelka_domain::process::EntityType::Lead, id).await?;
    let updated = records::update::<lead::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |l| {
            let merged = LeadFields {
                title: req.title.clone().or(Some(l.title.clone())),
                company_name: req.company_name.clone().unwrap_or(l.company_name.clone()),
                contact_name: req.contact_name.clone().unwrap_or(l.contact_name.clone()),
                phone: req.phone.clone().unwrap_or(l.phone.clone()),
                email: req.email.clone().unwrap_or(l.email.clone()),
                inn: req.inn.clone().unwrap_or(l.inn.clone()),
                address: req.address.clone().unwrap_or(l.address.clone()),
                comment: req.comment.clone().unwrap_or(l.comment.clone()),
                category: req
                    .category
                    .map(|c| c.map(|c| LeadCategory::from(c).as_str().to_owned()))
                    .unwrap_or(l.category.clone()),
                potential_amount: req.potential_amount.clone().unwrap_or(
                    l.potential_amount_minor
                        .map(|m| Money::from_minor(m).to_string()),
                ),
                probability: req
                    .probability
                    .unwrap_or(l.probability)
                    .map(|p| p.to_string()),
                external_id: l.external_id.clone(),
            };
            let f = check_lead_fields(&merged)?;
            if let Some(to) = req.status {
                let from = status_of(l)?;
                let next = change_status(from, to.into()).map_err(refusal)?;
                l.status = next.as_str().to_owned();
            }
            l.title = f.title;
            l.company_name = f.company_name;
            l.contact_name = f.contact_name;
            l.phone = f.phone;
            l.email = f.email.map(|e| e.as_str().to_owned());
            l.inn = f.inn.map(|i| i.as_str().to_owned());
            l.address = f.address;
            l.comment = f.comment;
            l.category = f.category.map(|c| c.as_str().to_owned());
            l.potential_amount_minor = f
                .potential_amount
                .map(|m| m.to_minor())
                .transpose()
                .map_err(|e| Error::field("potential_amount", "out_of_range", e.to_string()))?;
            l.probability = f.probability;
            if let Some(r) = req.responsible_id {
                l.responsible_id = r;
            }
            l.search_text = search_text(l);
            Ok(())
        },
        public,
    )
    .await??;
    super::processes::on_entity_changed(
        &txn,
        &caller.actor(),
        sdelka_domain::process::EntityType::Lead,
        id,
        &facts_before,
    )
    .await?;
    txn.commit().await?;
    Ok(LeadView::from(&updated))
}

/// Deletes a lead (kept for the audit trail).
pub async fn delete_lead(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    visible_lead(&db, caller, id).await?;
    let txn = db.begin().await?;
    records::soft_delete::<lead::Entity, _>(&txn, &caller.actor(), id, if_match, public).await?;
    txn.commit().await?;
    Ok(())
}

/// Converts a lead, exactly once, into a company and/or a contact and/or a deal, all in one
/// transaction, keeping the links both ways. A second conversion is `already_converted`, a
/// junk lead `invalid_transition`; the lead becomes `qualified`. Creating a deal needs a
/// sales role.
pub async fn convert_lead(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: ConvertLead,
) -> OpResult<Conversion> {
    let lead = visible_lead(&db, caller, id).await?;
    sdelka_domain::lead::convert(status_of(&lead)?, lead.converted_at.is_some())
        .map_err(refusal)?;
    let make_company = req
        .create_company
        .unwrap_or(lead.company_name.is_some() && req.company_id.is_none());
    let make_contact = req.create_contact.unwrap_or(lead.contact_name.is_some());
    let make_deal = req.create_deal.unwrap_or(true);
    if make_company && req.company_id.is_some() {
        return Err(Error::field(
            "company_id",
            "conflicting",
            "either create a company or name one, not both",
        ));
    }
    if !(make_company || make_contact || make_deal || req.company_id.is_some()) {
        return Err(Error::field(
            "create_deal",
            "nothing_to_do",
            "a conversion creates or links at least one record",
        ));
    }
    if make_deal
        && ![Role::Admin, Role::Head, Role::SalesManager]
            .iter()
            .any(|r| caller.has(*r))
    {
        return Err(Error::forbidden(
            "creating a deal needs the role admin, head or sales_manager",
        ));
    }
    let txn = db.begin().await?;
    let actor = caller.actor();
    if let Some(c) = req.company_id {
        let scope = caller.visibility(&txn).await?;
        super::refs::company(&txn, &scope, "company_id", c).await?;
    }
    let company_id = if make_company {
        let Some(name) = lead.company_name.clone() else {
            return Err(Error::field(
                "company_name",
                "required",
                "the lead has no company name to create a company from",
            ));
        };
        let mut company = new_company(name, lead.responsible_id, &[CompanyType::Client]);
        company.source = Some(format!("lead:{}", lead.source));
        let saved = records::create::<company::Entity, _>(&txn, &actor, company, |m| {
            present(&CompanyView::from(m))
        })
        .await?;
        Some(saved.id)
    } else {
        req.company_id
    };
    let contact_id = if make_contact {
        let Some(full_name) = lead.contact_name.clone() else {
            return Err(Error::field(
                "contact_name",
                "required",
                "the lead has no contact name to create a contact from",
            ));
        };
        let phones = match &lead.phone {
            Some(p) => vec![
                Phone::parse(p)
                    .map_err(|e| {
                        Error::field(
                            "phone",
                            "invalid_phone",
                            format!("fix the lead's phone before converting it: {e}"),
                        )
                    })?
                    .as_str()
                    .to_owned(),
            ],
            None => Vec::new(),
        };
        let (last, first, middle) = split_person_name(&full_name);
        let mut contact = new_contact(
            last,
            phones,
            lead.email.clone().into_iter().collect(),
            lead.responsible_id,
        );
        contact.first_name = first;
        contact.middle_name = middle;
        refresh_search(&mut contact);
        let saved = records::create::<contact::Entity, _>(&txn, &actor, contact, |m| {
            present(&ContactView::from(m))
        })
        .await?;
        Some(saved.id)
    } else {
        None
    };
    let deal_id = if make_deal {
        let deal = open_deal(
            &txn,
            caller,
            NewDeal {
                title: req.deal_title.clone().unwrap_or_else(|| lead.title.clone()),
                pipeline_id: req.pipeline_id,
                stage_id: None,
                company_id,
                legal_entity_id: None,
                contact_ids: contact_id.into_iter().collect(),
                responsible_id: Some(lead.responsible_id),
                currency: lead.currency.clone(),
                amount_minor: lead.potential_amount_minor.unwrap_or(0),
                expected_close_date: None,
                loss_reason: None,
                order_number: None,
                invoice_numbers: Vec::new(),
                source: Some(format!("lead:{}", lead.id)),
                external_id: None,
            },
        )
        .await?;
        Some(deal.id)
    } else {
        None
    };
    let converted = records::update::<lead::Entity, _, _, Error>(
        &txn,
        &actor,
        id,
        Some(lead.version),
        |l| {
            let next = sdelka_domain::lead::convert(status_of(l)?, l.converted_at.is_some())
                .map_err(refusal)?;
            l.status = next.as_str().to_owned();
            l.converted_at = Some(now());
            l.converted_company_id = company_id;
            l.converted_contact_id = contact_id;
            l.converted_deal_id = deal_id;
            Ok(())
        },
        public,
    )
    .await;
    let converted = match converted {
        Ok(result) => result?,
        // Another conversion committed between our read and our write.
        Err(StoreError::StaleVersion { .. }) => {
            return Err(refusal(LeadRefusal::AlreadyConverted));
        }
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    Ok(Conversion {
        lead: LeadView::from(&converted),
        company_id,
        contact_id,
        deal_id,
    })
}
