//! Companies (CRM-1): clients, suppliers and partners, seen by their responsible manager, the
//! heads above him and admins.

use chrono::{DateTime, Utc};
use sdelka_domain::validation::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::clients::{
    ExternalId, external_filter, external_ids_json, external_ids_of, external_refs, responsible,
    strings_of,
};
use super::dto::double_option;
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};
use crate::clients::{self as store, CompanyFilter, companies_query, fold, list_index};
use crate::entity::company;
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use sdelka_domain::process::EntityType;

/// What a company is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompanyType {
    Client,
    Supplier,
    Partner,
}

impl CompanyType {
    pub fn as_str(self) -> &'static str {
        match self {
            CompanyType::Client => "client",
            CompanyType::Supplier => "supplier",
            CompanyType::Partner => "partner",
        }
    }
}

/// A company: the business we deal with, whatever its legal entities.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyView {
    pub id: Uuid,
    #[schema(example = "Ромашка")]
    pub name: String,
    /// Several at once, e.g. `["client", "partner"]`.
    pub types: Vec<CompanyType>,
    #[schema(example = "Розничная торговля")]
    pub industry: Option<String>,
    pub responsible_id: Uuid,
    /// Where the company came from, e.g. `exhibition`.
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub external_ids: Vec<ExternalId>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&company::Model> for CompanyView {
    fn from(c: &company::Model) -> Self {
        CompanyView {
            id: c.id,
            name: c.name.clone(),
            types: serde_json::from_value(c.types.clone()).unwrap_or_default(),
            industry: c.industry.clone(),
            responsible_id: c.responsible_id,
            source: c.source.clone(),
            tags: strings_of(&c.tags),
            external_ids: external_ids_of(&c.external_ids),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompany {
    #[validate(length(min = 1, max = 500, message = "name must be 1 to 500 characters"))]
    #[schema(example = "Ромашка")]
    pub name: String,
    /// At least one; default `["client"]`.
    #[serde(default)]
    pub types: Vec<CompanyType>,
    #[validate(length(max = 200))]
    pub industry: Option<String>,
    /// Default: you. Only yourself or someone whose records you see.
    pub responsible_id: Option<Uuid>,
    #[validate(length(max = 200))]
    pub source: Option<String>,
    #[serde(default)]
    #[validate(length(max = 50, message = "at most 50 tags"))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[validate(length(max = 20), nested)]
    pub external_ids: Vec<ExternalId>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCompany {
    #[validate(length(min = 1, max = 500, message = "name must be 1 to 500 characters"))]
    pub name: Option<String>,
    pub types: Option<Vec<CompanyType>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub industry: Option<Option<String>>,
    pub responsible_id: Option<Uuid>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub source: Option<Option<String>>,
    #[validate(length(max = 50, message = "at most 50 tags"))]
    pub tags: Option<Vec<String>>,
    /// Replaces the whole list.
    #[validate(length(max = 20), nested)]
    pub external_ids: Option<Vec<ExternalId>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompanyListFilter {
    /// Case-insensitive part of the name (Cyrillic included).
    pub q: Option<String>,
    /// Companies of this type (among others).
    #[serde(rename = "type")]
    #[param(rename = "type", inline)]
    pub company_type: Option<CompanyType>,
    /// Companies having a legal entity with this INN.
    pub inn: Option<String>,
    pub responsible_id: Option<Uuid>,
    /// Companies carrying this tag (case-insensitive).
    pub tag: Option<String>,
    /// `source:id`, e.g. `1c:6f1c2a9e-3b0d-11ee-be56-0242ac120002`.
    pub external_id: Option<String>,
}

fn sorts() -> [SortKey<company::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: company::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: company::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "name",
            column: company::Column::Name,
            key: |m| CursorValue::Text(m.name.clone()),
        },
    ]
}

/// Types sorted and deduplicated; none given means a client.
fn normalise_types(types: &[CompanyType]) -> Vec<CompanyType> {
    let mut t = types.to_vec();
    t.sort();
    t.dedup();
    if t.is_empty() {
        t.push(CompanyType::Client);
    }
    t
}

/// Tags trimmed, blank ones refused, repeats (case-insensitive) dropped.
fn normalise_tags(tags: &[String], v: &mut Violations) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let t = tag.trim();
        if t.is_empty() || t.chars().count() > 100 || t.contains('|') {
            v.push(FieldViolation::new(
                format!("tags[{i}]"),
                "invalid_format",
                "a tag is 1 to 100 characters without '|'",
            ));
            continue;
        }
        if !out.iter().any(|o| o.to_lowercase() == t.to_lowercase()) {
            out.push(t.to_owned());
        }
    }
    out
}

fn set_types(c: &mut company::Model, types: &[CompanyType]) {
    let names: Vec<&str> = normalise_types(types).iter().map(|t| t.as_str()).collect();
    c.type_index = list_index(&names);
    c.types = serde_json::json!(names);
}

pub fn set_tags(c: &mut company::Model, tags: Vec<String>) {
    let folded: Vec<String> = tags.iter().map(|t| t.to_lowercase()).collect();
    c.tag_index = list_index(&folded);
    c.tags = serde_json::json!(tags);
}

/// A new company record (not yet stored) with its derived search and filter columns.
pub fn new_company(name: String, responsible_id: Uuid, types: &[CompanyType]) -> company::Model {
    let at = now();
    let mut model = company::Model {
        id: Uuid::now_v7(),
        search_text: fold(&[&name]),
        name,
        types: serde_json::Value::Null,
        type_index: String::new(),
        industry: None,
        responsible_id,
        source: None,
        tags: serde_json::Value::Null,
        tag_index: String::new(),
        external_ids: external_ids_json(&[]),
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    set_types(&mut model, types);
    set_tags(&mut model, Vec::new());
    model
}

fn public(c: &company::Model) -> serde_json::Value {
    present(&CompanyView::from(c))
}

/// The companies the caller may see, a page at a time.
pub async fn list_companies(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: CompanyListFilter,
) -> OpResult<ListPage<CompanyView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let scope = caller.visibility(&db).await?;
    let query = companies_query(
        &CompanyFilter {
            q: f.q.clone(),
            company_type: f.company_type.map(|t| t.as_str().to_owned()),
            inn: f.inn,
            responsible_id: f.responsible_id,
            tag: f.tag,
            external_id: external_filter(f.external_id.as_deref())?,
            updated_since: page.updated_since,
        },
        &scope,
    );
    let query = crate::search::narrow(query, &db, "companies", f.q.as_deref()).await?;
    let page = fetch_page(&db, query, req, company::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| CompanyView::from(m)))
}

/// Creates a company; the caller is its responsible unless he names another he sees.
pub async fn create_company(
    db: Db<'_>,
    caller: &Caller,
    req: CreateCompany,
) -> OpResult<CompanyView> {
    let mut v = Violations::new();
    let tags = normalise_tags(&req.tags, &mut v);
    let refs = external_refs(&req.external_ids, &mut v);
    let name = req.name.trim().to_owned();
    if name.is_empty() {
        v.push(FieldViolation::new(
            "name",
            "required",
            "name must not be blank",
        ));
    }
    if !v.is_empty() {
        return Err(v.into());
    }
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let responsible_id = responsible(&txn, caller, &scope, req.responsible_id).await?;
    let mut model = new_company(name, responsible_id, &req.types);
    model.industry = req.industry.map(|s| s.trim().to_owned());
    model.source = req.source.map(|s| s.trim().to_owned());
    model.external_ids = external_ids_json(&refs);
    set_tags(&mut model, tags);
    let model = records::create::<company::Entity, _>(&txn, &caller.actor(), model, public).await?;
    store::set_external_ids(&txn, "company", model.id, &refs).await?;
    super::processes::on_entity_created(&txn, &caller.actor(), EntityType::Company, model.id)
        .await?;
    txn.commit().await?;
    Ok(CompanyView::from(&model))
}

/// One company the caller may see.
pub async fn get_company(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<CompanyView> {
    let scope = caller.visibility(&db).await?;
    let c = store::visible_company(&db, &scope, id)
        .await?
        .ok_or_else(Error::not_found)?;
    Ok(CompanyView::from(&c))
}

/// Changes a company as one compare-and-set on its version (`if_match`, when given, must be
/// current). Lists are replaced as a whole.
pub async fn update_company(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateCompany,
) -> OpResult<CompanyView> {
    let mut v = Violations::new();
    let tags = req.tags.as_ref().map(|t| normalise_tags(t, &mut v));
    let refs = req.external_ids.as_ref().map(|e| external_refs(e, &mut v));
    let name = req.name.as_ref().map(|n| n.trim().to_owned());
    if name.as_ref().is_some_and(String::is_empty) {
        v.push(FieldViolation::new(
            "name",
            "required",
            "name must not be blank",
        ));
    }
    if !v.is_empty() {
        return Err(v.into());
    }
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    store::visible_company(&txn, &scope, id)
        .await?
        .ok_or_else(Error::not_found)?;
    let responsible_id = match req.responsible_id {
        Some(r) => Some(responsible(&txn, caller, &scope, Some(r)).await?),
        None => None,
    };
    let facts_before = super::processes::facts_of(&txn, EntityType::Company, id).await?;
    let updated = records::update::<company::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |c| {
            if let Some(n) = name {
                c.search_text = fold(&[&n]);
                c.name = n;
            }
            if let Some(t) = &req.types {
                set_types(c, t);
            }
            if let Some(i) = req.industry {
                c.industry = i.map(|s| s.trim().to_owned());
            }
            if let Some(r) = responsible_id {
                c.responsible_id = r;
            }
            if let Some(s) = req.source {
                c.source = s.map(|s| s.trim().to_owned());
            }
            if let Some(t) = tags {
                set_tags(c, t);
            }
            if let Some(r) = &refs {
                c.external_ids = external_ids_json(r);
            }
            Ok(())
        },
        public,
    )
    .await??;
    if let Some(r) = &refs {
        store::set_external_ids(&txn, "company", id, r).await?;
    }
    // Its processes hear the change; templates that start on it start.
    super::processes::on_entity_changed(
        &txn,
        &caller.actor(),
        EntityType::Company,
        id,
        &facts_before,
    )
    .await?;
    txn.commit().await?;
    Ok(CompanyView::from(&updated))
}

/// Deletes a company (kept for the audit trail). One that still has legal entities is refused:
/// no requisites are orphaned.
pub async fn delete_company(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    store::visible_company(&txn, &scope, id)
        .await?
        .ok_or_else(Error::not_found)?;
    if store::has_live_legal_entities(&txn, id).await? {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the company still has legal entities; delete them first",
        ));
    }
    records::soft_delete::<company::Entity, _>(&txn, &caller.actor(), id, if_match, public).await?;
    store::release_external_ids(&txn, "company", id).await?;
    txn.commit().await?;
    Ok(())
}
