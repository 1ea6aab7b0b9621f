//! `/organizations`: our own legal entities with requisites and bank accounts (ORG-1).

use crate::entity::{bank_account, organization};
use crate::journal::now;
use crate::organizations::{self as orgs, OrganizationFilter, organizations_query, search_text};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use chrono::{DateTime, Utc};
use sdelka_domain::organisation::{
    check_bank_requisites, check_legal_requisites, check_organisation_code,
};
use sdelka_domain::validation::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;
use super::{Caller, Db, Error, ListPage, ListParams, OpResult, present};

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

fn public_account(b: &bank_account::Model) -> serde_json::Value {
    present(&BankAccountView::from(b))
}

/// Own organisations, a page at a time, each with its bank accounts.
pub async fn list_organizations(
    db: Db<'_>,
    _caller: &Caller,
    page: &ListParams,
    f: OrganizationListFilter,
) -> OpResult<ListPage<OrganizationView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let query = organizations_query(&OrganizationFilter {
        q: f.q.clone(),
        inn: f.inn,
        vat_payer: f.vat_payer,
        updated_since: page.updated_since,
    });
    let query = crate::search::narrow(query, &db, "organizations", f.q.as_deref()).await?;
    let page = fetch_page(&db, query, req, organization::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|o| o.id).collect();
    let accounts = orgs::bank_accounts_of(&db, &ids).await?;
    Ok(ListPage::of(page, |o| OrganizationView::new(o, &accounts)))
}

/// Registers an own organisation with its bank accounts. INN, KPP, OGRN and every bank account
/// are checked (REQ-1); each failed check is reported with its field and rule.
pub async fn create_organization(
    db: Db<'_>,
    caller: &Caller,
    req: CreateOrganization,
) -> OpResult<OrganizationView> {
    let id = Uuid::now_v7();
    let mut v = Violations::new();
    let requisites = match check_legal_requisites(&req.inn, req.kpp.as_deref(), req.ogrn.as_deref())
    {
        Ok(r) => Some(r),
        Err(errs) => {
            for e in errs.into_vec() {
                v.push(e);
            }
            None
        }
    };
    let code = check_organisation_code(&req.code)
        .map_err(|e| v.push(e))
        .ok();
    let mut accounts: Vec<_> = req
        .bank_accounts
        .iter()
        .enumerate()
        .filter_map(|(i, b)| bank_account_model(id, &format!("bank_accounts[{i}]."), b, &mut v))
        .collect();
    let (Some(requisites), Some(code), true) = (requisites, code, v.is_empty()) else {
        return Err(v.into());
    };
    // In the order a read gives them.
    accounts.sort_by_key(|a| a.id);
    let at = now();
    let name = req.name.trim().to_owned();
    let short_name = req.short_name.trim().to_owned();
    let model = organization::Model {
        id,
        search_text: search_text(&name, &short_name, requisites.inn.as_str()),
        name,
        short_name,
        code,
        inn: requisites.inn.as_str().to_owned(),
        kpp: requisites.kpp.map(|k| k.as_str().to_owned()),
        ogrn: requisites.ogrn.map(|o| o.as_str().to_owned()),
        vat_payer: req.vat_payer,
        legal_address: req.legal_address.trim().to_owned(),
        postal_address: req.postal_address,
        director_name: req.director_name,
        chief_accountant_name: req.chief_accountant_name,
        external_id: req.external_id,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let actor = caller.actor();
    let txn = db.begin().await?;
    let model = records::create::<organization::Entity, _>(&txn, &actor, model, |m| {
        present(&OrganizationView::new(m, &accounts))
    })
    .await?;
    let mut saved = Vec::with_capacity(accounts.len());
    for a in accounts {
        saved.push(
            records::create::<bank_account::Entity, _>(&txn, &actor, a, public_account).await?,
        );
    }
    txn.commit().await?;
    Ok(OrganizationView::new(&model, &saved))
}

/// One own organisation with its bank accounts.
pub async fn get_organization(
    db: Db<'_>,
    _caller: &Caller,
    id: Uuid,
) -> OpResult<OrganizationView> {
    let o = records::find::<organization::Entity, _>(&db, id).await?;
    let accounts = orgs::bank_accounts(&db, o.id).await?;
    Ok(OrganizationView::new(&o, &accounts))
}

/// Changes an own organisation as one compare-and-set on its version. Requisites are checked
/// again as a whole, so a new INN must agree with the KPP and OGRN it will stand with.
pub async fn update_organization(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateOrganization,
) -> OpResult<OrganizationView> {
    let txn = db.begin().await?;
    let accounts = orgs::bank_accounts(&txn, id).await?;
    let updated = records::update::<organization::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |o| {
            let inn = req.inn.clone().unwrap_or_else(|| o.inn.clone());
            let kpp = req.kpp.clone().unwrap_or_else(|| o.kpp.clone());
            let ogrn = req.ogrn.clone().unwrap_or_else(|| o.ogrn.clone());
            let requisites = check_legal_requisites(&inn, kpp.as_deref(), ogrn.as_deref())?;
            if let Some(code) = &req.code {
                o.code = check_organisation_code(code).map_err(|e| Error::validation(e.into()))?;
            }
            o.inn = requisites.inn.as_str().to_owned();
            o.kpp = requisites.kpp.map(|k| k.as_str().to_owned());
            o.ogrn = requisites.ogrn.map(|k| k.as_str().to_owned());
            if let Some(n) = &req.name {
                o.name = n.trim().to_owned();
            }
            if let Some(n) = &req.short_name {
                o.short_name = n.trim().to_owned();
            }
            if let Some(v) = req.vat_payer {
                o.vat_payer = v;
            }
            if let Some(a) = &req.legal_address {
                o.legal_address = a.trim().to_owned();
            }
            if let Some(a) = &req.postal_address {
                o.postal_address = a.clone();
            }
            if let Some(a) = &req.director_name {
                o.director_name = a.clone();
            }
            if let Some(a) = &req.chief_accountant_name {
                o.chief_accountant_name = a.clone();
            }
            if let Some(a) = &req.external_id {
                o.external_id = a.clone();
            }
            o.search_text = search_text(&o.name, &o.short_name, &o.inn);
            Ok(())
        },
        |m| present(&OrganizationView::new(m, &accounts)),
    )
    .await??;
    txn.commit().await?;
    Ok(OrganizationView::new(&updated, &accounts))
}

/// Deletes an own organisation (kept for the audit trail).
pub async fn delete_organization(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let accounts = orgs::bank_accounts(&txn, id).await?;
    records::soft_delete::<organization::Entity, _>(&txn, &caller.actor(), id, if_match, |m| {
        present(&OrganizationView::new(m, &accounts))
    })
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The bank accounts of an own organisation.
pub async fn list_bank_accounts(
    db: Db<'_>,
    _caller: &Caller,
    organization_id: Uuid,
) -> OpResult<Vec<BankAccountView>> {
    let o = records::find::<organization::Entity, _>(&db, organization_id).await?;
    let accounts = orgs::bank_accounts(&db, o.id).await?;
    Ok(accounts.iter().map(BankAccountView::from).collect())
}

/// Adds a bank account to an own organisation; its accounts are checked against the BIK.
pub async fn add_bank_account(
    db: Db<'_>,
    caller: &Caller,
    organization_id: Uuid,
    req: NewBankAccount,
) -> OpResult<BankAccountView> {
    let mut v = Violations::new();
    let Some(model) = bank_account_model(organization_id, "", &req, &mut v) else {
        return Err(v.into());
    };
    let txn = db.begin().await?;
    records::find::<organization::Entity, _>(&txn, organization_id).await?;
    let saved =
        records::create::<bank_account::Entity, _>(&txn, &caller.actor(), model, public_account)
            .await?;
    txn.commit().await?;
    Ok(BankAccountView::from(&saved))
}

/// Removes a bank account of an own organisation (kept for the audit trail).
pub async fn delete_bank_account(
    db: Db<'_>,
    caller: &Caller,
    organization_id: Uuid,
    account_id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let account = records::find::<bank_account::Entity, _>(&txn, account_id).await?;
    if account.organization_id != organization_id {
        return Err(Error::not_found());
    }
    records::soft_delete::<bank_account::Entity, _>(
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
