//! `/legal-entities` (CRM-2): the requisites of a company's counterparties, their bank
//! accounts, and the contacts acting for them. A legal entity is visible when its company is.

use crate::clients::{self as store, LegalEntityFilter, fold, legal_entities_query};
use crate::entity::{legal_entity, legal_entity_bank_account};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use crate::visibility::Scope;
use chrono::{DateTime, Utc};
use sdelka_domain::clients::{CounterpartyKind, check_counterparty_requisites};
use sdelka_domain::validation::{FieldViolation, Violations};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;
use super::{Caller, Db, Error, ListPage, ListParams, OpResult, present};

use super::organizations::{NewBankAccount, check_bank_account};

use super::clients::{
    DuplicateWarning, ExternalId, external_filter, external_ids_json, external_ids_of,
    external_refs,
};

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

fn public_account(b: &legal_entity_bank_account::Model) -> serde_json::Value {
    present(&LegalEntityBankAccountView::from(b))
}

/// The legal entities of the companies the caller may see, a page at a time.
pub async fn list_legal_entities(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: LegalEntityListFilter,
) -> OpResult<ListPage<LegalEntityView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let scope = caller.visibility(&db).await?;
    let query = legal_entities_query(
        &LegalEntityFilter {
            q: f.q.clone(),
            company_id: f.company_id,
            inn: f.inn,
            kind: f
                .kind
                .map(|k| CounterpartyKind::from(k).as_str().to_owned()),
            external_id: external_filter(f.external_id.as_deref())?,
            updated_since: page.updated_since,
        },
        &scope,
    );
    let query = crate::search::narrow(query, &db, "legal_entities", f.q.as_deref()).await?;
    let page = fetch_page(&db, query, req, legal_entity::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|e| e.id).collect();
    let accounts = store::bank_accounts(&db, &ids).await?;
    Ok(ListPage::of(page, |e| LegalEntityView::new(e, &accounts)))
}

/// Adds a legal entity, with its bank accounts, to a company the caller may see. INN, KPP,
/// OGRN/OGRNIP and every bank account are checked (REQ-1) and must fit the kind. Another
/// visible legal entity with the same INN and KPP does not stop the write: the answer carries
/// a `possible_duplicate` warning.
pub async fn create_legal_entity(
    db: Db<'_>,
    caller: &Caller,
    req: CreateLegalEntity,
) -> OpResult<LegalEntityView> {
    let id = Uuid::now_v7();
    let mut v = Violations::new();
    let requisites = match check_counterparty_requisites(
        req.kind.into(),
        &req.inn,
        req.kpp.as_deref(),
        req.ogrn.as_deref(),
    ) {
        Ok(r) => Some(r),
        Err(errs) => {
            for e in errs.into_vec() {
                v.push(e);
            }
            None
        }
    };
    let refs = external_refs(&req.external_ids, &mut v);
    let mut accounts: Vec<_> = req
        .bank_accounts
        .iter()
        .enumerate()
        .filter_map(|(i, b)| bank_account_model(id, &format!("bank_accounts[{i}]."), b, &mut v))
        .collect();
    // As a read lists them.
    accounts.sort_by_key(|a| a.id);
    let full_name = req.full_name.trim().to_owned();
    if full_name.is_empty() {
        v.push(FieldViolation::new(
            "full_name",
            "required",
            "full_name must not be blank",
        ));
    }
    let (Some(requisites), true) = (requisites, v.is_empty()) else {
        return Err(v.into());
    };
    let at = now();
    let mut model = legal_entity::Model {
        id,
        company_id: req.company_id,
        kind: CounterpartyKind::from(req.kind).as_str().to_owned(),
        short_name: trimmed(req.short_name).unwrap_or_else(|| full_name.clone()),
        full_name,
        inn: requisites.inn.as_str().to_owned(),
        kpp: requisites.kpp.map(|k| k.as_str().to_owned()),
        ogrn: requisites.ogrn.map(|o| o.as_str().to_owned()),
        legal_address: trimmed(req.legal_address),
        postal_address: trimmed(req.postal_address),
        signatory_name: trimmed(req.signatory_name),
        signatory_basis: trimmed(req.signatory_basis),
        external_ids: external_ids_json(&refs),
        search_text: String::new(),
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    model.search_text = search_text(&model);
    let actor = caller.actor();
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    super::refs::company(&txn, &scope, "company_id", req.company_id).await?;
    let warnings = duplicate_warnings(&txn, &scope, &model).await?;
    // The legal entity's event carries it with the bank accounts it is created with.
    let model = records::create::<legal_entity::Entity, _>(&txn, &actor, model, |m| {
        present(&LegalEntityView::new(m, &accounts))
    })
    .await?;
    store::set_external_ids(&txn, "legal_entity", id, &refs).await?;
    let mut saved = Vec::with_capacity(accounts.len());
    for a in accounts {
        saved.push(
            records::create::<legal_entity_bank_account::Entity, _>(
                &txn,
                &actor,
                a,
                public_account,
            )
            .await?,
        );
    }
    txn.commit().await?;
    let mut view = LegalEntityView::new(&model, &saved);
    view.warnings = warnings;
    Ok(view)
}

/// One legal entity the caller may see, with its bank accounts.
pub async fn get_legal_entity(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<LegalEntityView> {
    let scope = caller.visibility(&db).await?;
    let e = visible(&db, &scope, id).await?;
    let accounts = store::bank_accounts(&db, &[e.id]).await?;
    Ok(LegalEntityView::new(&e, &accounts))
}

/// Changes a legal entity as one compare-and-set on its version. Requisites are checked again
/// as a whole, against the kind.
pub async fn update_legal_entity(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateLegalEntity,
) -> OpResult<LegalEntityView> {
    let mut v = Violations::new();
    let refs = req.external_ids.as_ref().map(|e| external_refs(e, &mut v));
    if !v.is_empty() {
        return Err(v.into());
    }
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible(&txn, &scope, id).await?;
    let accounts = store::bank_accounts(&txn, &[id]).await?;
    let updated = records::update::<legal_entity::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |e| {
            let kind = req
                .kind
                .or_else(|| LegalEntityKind::parse(&e.kind))
                .unwrap_or(LegalEntityKind::LegalEntity);
            let inn = req.inn.clone().unwrap_or_else(|| e.inn.clone());
            let kpp = req.kpp.clone().unwrap_or_else(|| e.kpp.clone());
            let ogrn = req.ogrn.clone().unwrap_or_else(|| e.ogrn.clone());
            let requisites =
                check_counterparty_requisites(kind.into(), &inn, kpp.as_deref(), ogrn.as_deref())?;
            e.kind = CounterpartyKind::from(kind).as_str().to_owned();
            e.inn = requisites.inn.as_str().to_owned();
            e.kpp = requisites.kpp.map(|k| k.as_str().to_owned());
            e.ogrn = requisites.ogrn.map(|k| k.as_str().to_owned());
            if let Some(n) = &req.full_name {
                e.full_name = n.trim().to_owned();
            }
            if let Some(n) = &req.short_name {
                e.short_name = n.trim().to_owned();
            }
            if e.full_name.is_empty() || e.short_name.is_empty() {
                return Err(Error::field(
                    if e.full_name.is_empty() {
                        "full_name"
                    } else {
                        "short_name"
                    },
                    "required",
                    "names must not be blank",
                ));
            }
            if let Some(a) = &req.legal_address {
                e.legal_address = trimmed(a.clone());
            }
            if let Some(a) = &req.postal_address {
                e.postal_address = trimmed(a.clone());
            }
            if let Some(a) = &req.signatory_name {
                e.signatory_name = trimmed(a.clone());
            }
            if let Some(a) = &req.signatory_basis {
                e.signatory_basis = trimmed(a.clone());
            }
            if let Some(r) = &refs {
                e.external_ids = external_ids_json(r);
            }
            e.search_text = search_text(e);
            Ok(())
        },
        |m| present(&LegalEntityView::new(m, &accounts)),
    )
    .await??;
    if let Some(r) = &refs {
        store::set_external_ids(&txn, "legal_entity", id, r).await?;
    }
    let warnings = if req.inn.is_some() || req.kpp.is_some() {
        duplicate_warnings(&txn, &scope, &updated).await?
    } else {
        Vec::new()
    };
    txn.commit().await?;
    let mut view = LegalEntityView::new(&updated, &accounts);
    view.warnings = warnings;
    Ok(view)
}

/// Deletes a legal entity (kept for the audit trail); its external ids become free.
pub async fn delete_legal_entity(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible(&txn, &scope, id).await?;
    let accounts = store::bank_accounts(&txn, &[id]).await?;
    records::soft_delete::<legal_entity::Entity, _>(&txn, &caller.actor(), id, if_match, |m| {
        present(&LegalEntityView::new(m, &accounts))
    })
    .await?;
    store::release_external_ids(&txn, "legal_entity", id).await?;
    txn.commit().await?;
    Ok(())
}

/// The bank accounts of a legal entity the caller may see.
pub async fn list_legal_entity_bank_accounts(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
) -> OpResult<Vec<LegalEntityBankAccountView>> {
    let scope = caller.visibility(&db).await?;
    let e = visible(&db, &scope, id).await?;
    let accounts = store::bank_accounts(&db, &[e.id]).await?;
    Ok(accounts
        .iter()
        .map(LegalEntityBankAccountView::from)
        .collect())
}

/// Adds a bank account to a legal entity the caller may see; both accounts are checked
/// against the BIK.
pub async fn add_legal_entity_bank_account(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: NewBankAccount,
) -> OpResult<LegalEntityBankAccountView> {
    let mut v = Violations::new();
    let model = bank_account_model(id, "", &req, &mut v);
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible(&txn, &scope, id).await?;
    let Some(model) = model else {
        return Err(v.into());
    };
    let saved = records::create::<legal_entity_bank_account::Entity, _>(
        &txn,
        &caller.actor(),
        model,
        public_account,
    )
    .await?;
    txn.commit().await?;
    Ok(LegalEntityBankAccountView::from(&saved))
}

/// Removes a bank account of a legal entity the caller may see.
pub async fn delete_legal_entity_bank_account(
    db: Db<'_>,
    caller: &Caller,
    legal_entity_id: Uuid,
    account_id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible(&txn, &scope, legal_entity_id).await?;
    let account = records::find::<legal_entity_bank_account::Entity, _>(&txn, account_id).await?;
    if account.legal_entity_id != legal_entity_id {
        return Err(Error::not_found());
    }
    records::soft_delete::<legal_entity_bank_account::Entity, _>(
        &txn,
        &caller.actor(),
        account_id,
        if_match,
        public_account,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The contacts acting for a legal entity (only those the caller may see).
pub async fn list_legal_entity_contacts(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
) -> OpResult<Vec<LegalEntityContactView>> {
    let scope = caller.visibility(&db).await?;
    let e = visible(&db, &scope, id).await?;
    let links = store::contacts_of_legal_entity(&db, &scope, e.id).await?;
    Ok(links
        .into_iter()
        .map(|(l, c)| LegalEntityContactView {
            contact_id: c.id,
            last_name: c.last_name,
            first_name: c.first_name,
            middle_name: c.middle_name,
            role: l.role,
            linked_at: l.created_at,
        })
        .collect())
}
