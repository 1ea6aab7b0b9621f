//! CRM-1..3 clients: list filters, visibility of legal entities through their company,
//! external ids, the contact ↔ legal entity links, and the look-ups behind duplicate warnings.

use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select, Set,
};
use uuid::Uuid;

use crate::entity::{
    company, contact, contact_legal_entity, external_id, legal_entity, legal_entity_bank_account,
};
use crate::error::StoreResult;
use crate::people::contains;
use crate::visibility::Scope;

/// `|a|b|`: a list in one text column, so that "has b" is `LIKE '%|b|%'` on both backends.
pub fn list_index<S: AsRef<str>>(values: &[S]) -> String {
    let mut out = String::from("|");
    for v in values {
        out.push_str(v.as_ref());
        out.push('|');
    }
    out
}

/// A list column of `list_index` contains `value`.
fn has_item<C: ColumnTrait>(column: C, value: &str) -> sea_orm::sea_query::SimpleExpr {
    contains(column, &format!("|{value}|"))
}

/// Rust lower-cases Cyrillic, SQLite's `LOWER()` does not: the folded text is stored.
pub fn fold(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `source:id` of an `external_id=` filter.
#[derive(Debug, Clone)]
pub struct ExternalRef {
    pub source: String,
    pub id: String,
}

fn records_with_external_id(record_type: &str, r: &ExternalRef) -> SelectStatement {
    Query::select()
        .column(external_id::Column::RecordId)
        .from(external_id::Entity)
        .and_where(external_id::Column::RecordType.eq(record_type))
        .and_where(external_id::Column::Source.eq(r.source.clone()))
        .and_where(external_id::Column::ExternalId.eq(r.id.clone()))
        .to_owned()
}

/// Ids of the live companies the scope may see: a legal entity is visible when its company is.
fn visible_company_ids(scope: &Scope) -> SelectStatement {
    let mut q = Query::select();
    q.column(company::Column::Id)
        .from(company::Entity)
        .and_where(company::Column::DeletedAt.is_null());
    if let Some(c) = scope.condition(company::Column::ResponsibleId) {
        q.and_where(c);
    }
    q.to_owned()
}

#[derive(Debug, Default)]
pub struct CompanyFilter {
    pub q: Option<String>,
    pub company_type: Option<String>,
    pub inn: Option<String>,
    pub responsible_id: Option<Uuid>,
    pub tag: Option<String>,
    pub external_id: Option<ExternalRef>,
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// Live companies matching `f` within `scope`.
pub fn companies_query(f: &CompanyFilter, scope: &Scope) -> Select<company::Entity> {
    let mut q = scope.apply(
        company::Entity::find().filter(company::Column::DeletedAt.is_null()),
        company::Column::ResponsibleId,
    );
    if let Some(text) = &f.q {
        q = q.filter(contains(company::Column::SearchText, &text.to_lowercase()));
    }
    if let Some(t) = &f.company_type {
        q = q.filter(has_item(company::Column::TypeIndex, t));
    }
    if let Some(inn) = &f.inn {
        q = q.filter(
            company::Column::Id.in_subquery(
                Query::select()
                    .column(legal_entity::Column::CompanyId)
                    .from(legal_entity::Entity)
                    .and_where(legal_entity::Column::Inn.eq(inn.trim()))
                    .and_where(legal_entity::Column::DeletedAt.is_null())
                    .to_owned(),
            ),
        );
    }
    if let Some(r) = f.responsible_id {
        q = q.filter(company::Column::ResponsibleId.eq(r));
    }
    if let Some(tag) = &f.tag {
        q = q.filter(has_item(company::Column::TagIndex, &tag.to_lowercase()));
    }
    if let Some(r) = &f.external_id {
        q = q.filter(company::Column::Id.in_subquery(records_with_external_id("company", r)));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(company::Column::UpdatedAt.gte(t));
    }
    q
}

#[derive(Debug, Default)]
pub struct LegalEntityFilter {
    pub q: Option<String>,
    pub company_id: Option<Uuid>,
    pub inn: Option<String>,
    pub kind: Option<String>,
    pub external_id: Option<ExternalRef>,
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// Live legal entities of companies the scope may see.
pub fn legal_entities_query(f: &LegalEntityFilter, scope: &Scope) -> Select<legal_entity::Entity> {
    let mut q = legal_entity::Entity::find()
        .filter(legal_entity::Column::DeletedAt.is_null())
        .filter(legal_entity::Column::CompanyId.in_subquery(visible_company_ids(scope)));
    if let Some(text) = &f.q {
        q = q.filter(contains(
            legal_entity::Column::SearchText,
            &text.to_lowercase(),
        ));
    }
    if let Some(c) = f.company_id {
        q = q.filter(legal_entity::Column::CompanyId.eq(c));
    }
    if let Some(inn) = &f.inn {
        q = q.filter(legal_entity::Column::Inn.eq(inn.trim()));
    }
    if let Some(k) = &f.kind {
        q = q.filter(legal_entity::Column::Kind.eq(k.clone()));
    }
    if let Some(r) = &f.external_id {
        q = q.filter(
            legal_entity::Column::Id.in_subquery(records_with_external_id("legal_entity", r)),
        );
    }
    if let Some(t) = f.updated_since {
        q = q.filter(legal_entity::Column::UpdatedAt.gte(t));
    }
    q
}

#[derive(Debug, Default)]
pub struct ContactFilter {
    pub q: Option<String>,
    /// Lower-cased address.
    pub email: Option<String>,
    /// Normalised digits.
    pub phone: Option<String>,
    pub legal_entity_id: Option<Uuid>,
    pub responsible_id: Option<Uuid>,
    pub external_id: Option<ExternalRef>,
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// Live contacts matching `f` within `scope`.
pub fn contacts_query(f: &ContactFilter, scope: &Scope) -> Select<contact::Entity> {
    let mut q = scope.apply(
        contact::Entity::find().filter(contact::Column::DeletedAt.is_null()),
        contact::Column::ResponsibleId,
    );
    if let Some(text) = &f.q {
        q = q.filter(contains(contact::Column::SearchText, &text.to_lowercase()));
    }
    if let Some(e) = &f.email {
        q = q.filter(has_item(contact::Column::EmailIndex, e));
    }
    if let Some(p) = &f.phone {
        q = q.filter(has_item(contact::Column::PhoneIndex, p));
    }
    if let Some(le) = f.legal_entity_id {
        q = q.filter(
            contact::Column::Id.in_subquery(
                Query::select()
                    .column(contact_legal_entity::Column::ContactId)
                    .from(contact_legal_entity::Entity)
                    .and_where(contact_legal_entity::Column::LegalEntityId.eq(le))
                    .to_owned(),
            ),
        );
    }
    if let Some(r) = f.responsible_id {
        q = q.filter(contact::Column::ResponsibleId.eq(r));
    }
    if let Some(r) = &f.external_id {
        q = q.filter(contact::Column::Id.in_subquery(records_with_external_id("contact", r)));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(contact::Column::UpdatedAt.gte(t));
    }
    q
}

/// A live company within the scope, or `None` (not found and not visible look the same).
pub async fn visible_company<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    id: Uuid,
) -> StoreResult<Option<company::Model>> {
    Ok(companies_query(&CompanyFilter::default(), scope)
        .filter(company::Column::Id.eq(id))
        .one(db)
        .await?)
}

pub async fn visible_legal_entity<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    id: Uuid,
) -> StoreResult<Option<legal_entity::Model>> {
    Ok(legal_entities_query(&LegalEntityFilter::default(), scope)
        .filter(legal_entity::Column::Id.eq(id))
        .one(db)
        .await?)
}

pub async fn visible_contact<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    id: Uuid,
) -> StoreResult<Option<contact::Model>> {
    Ok(contacts_query(&ContactFilter::default(), scope)
        .filter(contact::Column::Id.eq(id))
        .one(db)
        .await?)
}

/// Replaces the external ids of a record. A pair another record of the same type holds
/// violates the table's key and comes back as `StoreError::Duplicate`.
pub async fn set_external_ids<C: ConnectionTrait>(
    db: &C,
    record_type: &str,
    record_id: Uuid,
    ids: &[ExternalRef],
) -> StoreResult<()> {
    release_external_ids(db, record_type, record_id).await?;
    for r in ids {
        external_id::Entity::insert(external_id::ActiveModel {
            record_type: Set(record_type.to_owned()),
            source: Set(r.source.clone()),
            external_id: Set(r.id.clone()),
            record_id: Set(record_id),
        })
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Whether a record of `record_type` already carries this external id.
pub async fn external_id_taken<C: ConnectionTrait>(
    db: &C,
    record_type: &str,
    r: &ExternalRef,
) -> StoreResult<bool> {
    Ok(external_id::Entity::find()
        .filter(external_id::Column::RecordType.eq(record_type))
        .filter(external_id::Column::Source.eq(r.source.clone()))
        .filter(external_id::Column::ExternalId.eq(r.id.clone()))
        .one(db)
        .await?
        .is_some())
}

/// Frees a deleted record's external ids for a new record.
pub async fn release_external_ids<C: ConnectionTrait>(
    db: &C,
    record_type: &str,
    record_id: Uuid,
) -> StoreResult<()> {
    external_id::Entity::delete_many()
        .filter(external_id::Column::RecordType.eq(record_type))
        .filter(external_id::Column::RecordId.eq(record_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn has_live_legal_entities<C: ConnectionTrait>(
    db: &C,
    company_id: Uuid,
) -> StoreResult<bool> {
    Ok(legal_entity::Entity::find()
        .filter(legal_entity::Column::CompanyId.eq(company_id))
        .filter(legal_entity::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .is_some())
}

pub async fn bank_accounts<C: ConnectionTrait>(
    db: &C,
    legal_entity_ids: &[Uuid],
) -> StoreResult<Vec<legal_entity_bank_account::Model>> {
    if legal_entity_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(legal_entity_bank_account::Entity::find()
        .filter(
            legal_entity_bank_account::Column::LegalEntityId
                .is_in(legal_entity_ids.iter().copied()),
        )
        .filter(legal_entity_bank_account::Column::DeletedAt.is_null())
        .order_by_asc(legal_entity_bank_account::Column::Id)
        .all(db)
        .await?)
}

/// Other visible legal entities with the same INN and KPP (KPP absent on both counts as the
/// same): probably the same counterparty entered twice.
pub async fn legal_entities_with_requisites<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    inn: &str,
    kpp: Option<&str>,
    except: Uuid,
) -> StoreResult<Vec<legal_entity::Model>> {
    let kpp_matches = match kpp {
        Some(k) => legal_entity::Column::Kpp.eq(k),
        None => legal_entity::Column::Kpp.is_null(),
    };
    Ok(legal_entities_query(&LegalEntityFilter::default(), scope)
        .filter(legal_entity::Column::Inn.eq(inn))
        .filter(kpp_matches)
        .filter(legal_entity::Column::Id.ne(except))
        .order_by_asc(legal_entity::Column::Id)
        .all(db)
        .await?)
}

/// Other visible contacts sharing any of these emails or phones.
pub async fn contacts_sharing_addresses<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    emails: &[String],
    phones: &[String],
    except: Uuid,
) -> StoreResult<Vec<contact::Model>> {
    if emails.is_empty() && phones.is_empty() {
        return Ok(Vec::new());
    }
    let mut any = Condition::any();
    for e in emails {
        any = any.add(has_item(contact::Column::EmailIndex, e));
    }
    for p in phones {
        any = any.add(has_item(contact::Column::PhoneIndex, p));
    }
    Ok(contacts_query(&ContactFilter::default(), scope)
        .filter(any)
        .filter(contact::Column::Id.ne(except))
        .order_by_asc(contact::Column::Id)
        .all(db)
        .await?)
}

pub async fn find_link<C: ConnectionTrait>(
    db: &C,
    contact_id: Uuid,
    legal_entity_id: Uuid,
) -> StoreResult<Option<contact_legal_entity::Model>> {
    Ok(
        contact_legal_entity::Entity::find_by_id((contact_id, legal_entity_id))
            .one(db)
            .await?,
    )
}

pub async fn insert_link<C: ConnectionTrait>(
    db: &C,
    link: &contact_legal_entity::Model,
) -> StoreResult<()> {
    contact_legal_entity::Entity::insert(contact_legal_entity::ActiveModel {
        contact_id: Set(link.contact_id),
        legal_entity_id: Set(link.legal_entity_id),
        role: Set(link.role.clone()),
        created_at: Set(link.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn delete_link<C: ConnectionTrait>(
    db: &C,
    contact_id: Uuid,
    legal_entity_id: Uuid,
) -> StoreResult<()> {
    contact_legal_entity::Entity::delete_by_id((contact_id, legal_entity_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The legal entities a contact acts for, that the scope may see, with the links.
pub async fn legal_entities_of_contact<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    contact_id: Uuid,
) -> StoreResult<Vec<(contact_legal_entity::Model, legal_entity::Model)>> {
    let links = contact_legal_entity::Entity::find()
        .filter(contact_legal_entity::Column::ContactId.eq(contact_id))
        .order_by_asc(contact_legal_entity::Column::CreatedAt)
        .order_by_asc(contact_legal_entity::Column::LegalEntityId)
        .all(db)
        .await?;
    let entities = legal_entities_query(&LegalEntityFilter::default(), scope)
        .filter(legal_entity::Column::Id.is_in(links.iter().map(|l| l.legal_entity_id)))
        .all(db)
        .await?;
    Ok(links
        .into_iter()
        .filter_map(|l| {
            let e = entities.iter().find(|e| e.id == l.legal_entity_id)?.clone();
            Some((l, e))
        })
        .collect())
}

/// The contacts acting for a legal entity, that the scope may see, with the links.
pub async fn contacts_of_legal_entity<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    legal_entity_id: Uuid,
) -> StoreResult<Vec<(contact_legal_entity::Model, contact::Model)>> {
    let links = contact_legal_entity::Entity::find()
        .filter(contact_legal_entity::Column::LegalEntityId.eq(legal_entity_id))
        .order_by_asc(contact_legal_entity::Column::CreatedAt)
        .order_by_asc(contact_legal_entity::Column::ContactId)
        .all(db)
        .await?;
    let contacts = contacts_query(&ContactFilter::default(), scope)
        .filter(contact::Column::Id.is_in(links.iter().map(|l| l.contact_id)))
        .all(db)
        .await?;
    Ok(links
        .into_iter()
        .filter_map(|l| {
            let c = contacts.iter().find(|c| c.id == l.contact_id)?.clone();
            Some((l, c))
        })
        .collect())
}

/// Whether the record of a timeline is one the scope may see (`None`: not a client record).
pub async fn record_visible<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    record_type: &str,
    id: Uuid,
) -> StoreResult<Option<bool>> {
    // Deleted records keep their history; visibility is decided by who was responsible.
    let visible = match record_type {
        "company" => company::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_some_and(|c| scope.allows(Some(c.responsible_id))),
        "contact" => contact::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_some_and(|c| scope.allows(Some(c.responsible_id))),
        "legal_entity" => {
            let Some(le) = legal_entity::Entity::find_by_id(id).one(db).await? else {
                return Ok(Some(false));
            };
            company::Entity::find_by_id(le.company_id)
                .one(db)
                .await?
                .is_some_and(|c| scope.allows(Some(c.responsible_id)))
        }
        _ => return Ok(None),
    };
    Ok(Some(visible))
}
