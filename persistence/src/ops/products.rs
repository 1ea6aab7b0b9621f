//! `/products`: the catalog of products and services (CAT-1), and find-or-create by name.
//!
//! Every logged-in user reads the catalog (anyone pricing a document needs it); changing it
//! needs `admin`, `head` or `sales_manager` — the people who sell from it.

use crate::StoreError;
use crate::entity::product;
use crate::journal::now;
use crate::pagination::fetch_page;
use crate::pagination::{CursorValue, SortKey};
use crate::records;
use crate::sales::{
    ProductFilter, product_by_name, product_name_key, product_search_text, products_query,
    release_product_name,
};
use chrono::{DateTime, Utc};
use sdelka_domain::money::{AmountError, Money};
use sdelka_domain::product_row::UnitCode;
use sdelka_domain::validation::RuleBroken;
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_domain::vat::VatRate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};

/// Today's date, the date a price typed now is dated with (default VAT rate, rate checks).
pub fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}

/// An ISO 4217 code, upper-cased; `RUB` when absent.
pub fn currency(field: &str, value: Option<&str>) -> Result<String, FieldViolation> {
    let c = value.unwrap_or("RUB").trim().to_uppercase();
    if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase()) {
        Ok(c)
    } else {
        Err(FieldViolation::new(
            field,
            "invalid_format",
            format!("{field} is a 3-letter ISO 4217 code, e.g. RUB"),
        ))
    }
}

/// A price, discount or payment amount must not be negative (the parsed amount may be).
pub fn non_negative(field: &str, m: Money) -> Result<Money, FieldViolation> {
    if m.is_negative() {
        let e = AmountError::Negative;
        Err(FieldViolation::new(
            field,
            e.code(),
            format!("{field}: {e}"),
        ))
    } else {
        Ok(m)
    }
}

/// A product or service of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: Uuid,
    #[schema(example = "Монтаж видеонаблюдения")]
    pub name: String,
    #[schema(example = "MNT-001")]
    pub sku: Option<String>,
    /// OKEI unit code.
    #[schema(example = "356")]
    pub unit_code: String,
    /// OKEI short unit name.
    #[schema(example = "ч")]
    pub unit_name: String,
    /// Decimal string with two decimals.
    #[schema(value_type = String, example = "1500.00")]
    pub base_price: Money,
    #[schema(example = "RUB")]
    pub currency: String,
    /// `22`, `20`, `10`, `0` or `none` ("без НДС").
    #[schema(example = "22")]
    pub vat_rate: String,
    /// How documents print the rate: `22%` … `без НДС`.
    #[schema(example = "22%")]
    pub vat_rate_label: String,
    pub section: Option<String>,
    pub active: bool,
    pub external_id: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&product::Model> for ProductView {
    fn from(p: &product::Model) -> Self {
        ProductView {
            id: p.id,
            name: p.name.clone(),
            sku: p.sku.clone(),
            unit_code: p.unit_code.clone(),
            unit_name: p.unit_name.clone(),
            base_price: Money::from_minor(p.base_price_minor),
            currency: p.currency.clone(),
            vat_rate: p.vat_rate.clone(),
            vat_rate_label: VatRate::parse(&p.vat_rate)
                .map(|r| r.label().to_owned())
                .unwrap_or_else(|_| p.vat_rate.clone()),
            section: p.section.clone(),
            active: p.active,
            external_id: p.external_id.clone(),
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A new product. Everything but the name has a default: unit 796 "шт", price 0.00, RUB, the
/// standard VAT rate of today, active.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    #[validate(length(min = 1, max = 500, message = "name must be 1 to 500 characters"))]
    #[schema(example = "Монтаж видеонаблюдения")]
    pub name: String,
    #[validate(length(min = 1, max = 100))]
    pub sku: Option<String>,
    #[schema(value_type = Option<String>, example = "356")]
    pub unit_code: Option<UnitCode>,
    #[validate(length(min = 1, max = 20))]
    #[schema(example = "ч")]
    pub unit_name: Option<String>,
    /// Decimal string, at most two decimals, not negative.
    #[schema(value_type = Option<String>, example = "1500.00")]
    pub base_price: Option<Money>,
    #[schema(example = "RUB")]
    pub currency: Option<String>,
    /// `22`, `20`, `10`, `0` or `none`.
    #[schema(value_type = Option<String>, example = "22")]
    pub vat_rate: Option<VatRate>,
    #[validate(length(min = 1, max = 200))]
    pub section: Option<String>,
    pub active: Option<bool>,
    #[validate(length(min = 1, max = 255))]
    pub external_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    #[validate(length(min = 1, max = 500, message = "name must be 1 to 500 characters"))]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub sku: Option<Option<String>>,
    #[schema(value_type = Option<String>)]
    pub unit_code: Option<UnitCode>,
    #[validate(length(min = 1, max = 20))]
    pub unit_name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub base_price: Option<Money>,
    pub currency: Option<String>,
    #[schema(value_type = Option<String>)]
    pub vat_rate: Option<VatRate>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub section: Option<Option<String>>,
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductListFilter {
    /// Case-insensitive part of the name or SKU (Cyrillic included).
    pub q: Option<String>,
    /// Exact section.
    pub section: Option<String>,
    pub active: Option<bool>,
    /// Exact SKU.
    pub sku: Option<String>,
}

pub fn sorts() -> [SortKey<product::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: product::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: product::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "name",
            column: product::Column::Name,
            key: |m| CursorValue::Text(m.name.clone()),
        },
    ]
}

pub fn blank_is_refused(field: &str, value: &str, v: &mut Violations) -> String {
    let t = value.trim();
    if t.is_empty() {
        v.push(FieldViolation::new(
            field,
            "required",
            format!("{field} must not be blank"),
        ));
    }
    t.to_owned()
}

pub fn new_product(req: &CreateProduct) -> Result<product::Model, Error> {
    let mut v = Violations::new();
    let name = blank_is_refused("name", &req.name, &mut v);
    let unit_code = Some(
        req.unit_code
            .as_ref()
            .map_or_else(|| "796".to_owned(), |c| c.as_str().to_owned()),
    );
    let base_price = non_negative("base_price", req.base_price.unwrap_or(Money::ZERO))
        .map_err(|e| v.push(e))
        .ok();
    let currency = currency("currency", req.currency.as_deref())
        .map_err(|e| v.push(e))
        .ok();
    let vat_rate = Some(
        req.vat_rate
            .unwrap_or_else(|| VatRate::standard_for(today())),
    );
    let (Some(unit_code), Some(base_price), Some(currency), Some(vat_rate), true) =
        (unit_code, base_price, currency, vat_rate, v.is_empty())
    else {
        return Err(v.into());
    };
    let at = now();
    let sku = req.sku.as_deref().map(str::trim).map(str::to_owned);
    Ok(product::Model {
        id: Uuid::now_v7(),
        name_key: Some(product_name_key(&name)),
        search_text: product_search_text(&name, sku.as_deref()),
        name,
        sku,
        unit_code,
        unit_name: req.unit_name.as_deref().unwrap_or("шт").trim().to_owned(),
        base_price_minor: base_price
            .to_minor()
            .map_err(|e| Error::field("base_price", "out_of_range", e.to_string()))?,
        currency,
        vat_rate: vat_rate.code().to_owned(),
        section: req.section.as_deref().map(str::trim).map(str::to_owned),
        active: req.active.unwrap_or(true),
        external_id: req.external_id.clone(),
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    })
}

pub fn duplicate_name(name: &str) -> Error {
    Error::new(
        ErrorCode::Duplicate,
        format!(
            "a product named `{name}` already exists; use POST /products/find-or-create to reuse it"
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Operations

fn public(p: &product::Model) -> serde_json::Value {
    present(&ProductView::from(p))
}

/// The catalog, a page at a time.
pub async fn list_products(
    db: Db<'_>,
    _caller: &Caller,
    page: &ListParams,
    f: ProductListFilter,
) -> OpResult<ListPage<ProductView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let query = products_query(&ProductFilter {
        q: f.q.clone(),
        section: f.section,
        active: f.active,
        sku: f.sku,
        updated_since: page.updated_since,
    });
    let query = crate::search::narrow(query, &db, "products", f.q.as_deref()).await?;
    let page = fetch_page(&db, query, req, product::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| ProductView::from(m)))
}

/// Adds a product to the catalog; a name another product holds is a `duplicate`.
pub async fn create_product(
    db: Db<'_>,
    caller: &Caller,
    req: CreateProduct,
) -> OpResult<ProductView> {
    let model = new_product(&req)?;
    let txn = db.begin().await?;
    let saved =
        match records::create::<product::Entity, _>(&txn, &caller.actor(), model, public).await {
            Ok(p) => p,
            Err(StoreError::Duplicate(_)) => return Err(duplicate_name(req.name.trim())),
            Err(e) => return Err(e.into()),
        };
    txn.commit().await?;
    Ok(ProductView::from(&saved))
}

/// A product found by its name, or the one just created.
pub struct FoundOrCreated {
    pub product: ProductView,
    pub created: bool,
}

/// The product of this name (case-insensitive), created when there is none.
pub async fn find_or_create_product(
    db: Db<'_>,
    caller: &Caller,
    req: CreateProduct,
) -> OpResult<FoundOrCreated> {
    let model = new_product(&req)?;
    let found = |p: &product::Model| FoundOrCreated {
        product: ProductView::from(p),
        created: false,
    };
    if let Some(p) = product_by_name(&db, &req.name).await? {
        return Ok(found(&p));
    }
    let txn = db.begin().await?;
    match records::create::<product::Entity, _>(&txn, &caller.actor(), model, public).await {
        Ok(saved) => {
            txn.commit().await?;
            Ok(FoundOrCreated {
                product: ProductView::from(&saved),
                created: true,
            })
        }
        // Another caller created it between our lookup and our insert: the unique name index
        // refused ours, and theirs is the product.
        Err(StoreError::Duplicate(_)) => {
            txn.rollback().await?;
            match product_by_name(&db, &req.name).await? {
                Some(p) => Ok(found(&p)),
                None => Err(Error::new(
                    ErrorCode::Conflict,
                    "the product was changed concurrently; retry the request",
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The live product named `req.name`, created from `req` in the caller's transaction when
/// there is none; `true` when it was created. Racing with itself it leaves one product: the
/// insert runs in a savepoint, and when the unique name index refuses it (another transaction
/// created the product meanwhile and committed), that product is read back and ours is rolled
/// back alone — the caller's transaction goes on.
pub async fn find_or_create_in<C>(
    txn: &C,
    actor: &crate::Actor,
    req: &CreateProduct,
) -> OpResult<(product::Model, bool)>
where
    C: sea_orm::ConnectionTrait
        + sea_orm::TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
{
    if let Some(p) = product_by_name(txn, &req.name).await? {
        return Ok((p, false));
    }
    let model = new_product(req)?;
    let savepoint = txn.begin().await?;
    match records::create::<product::Entity, _>(&savepoint, actor, model, public).await {
        Ok(saved) => {
            savepoint.commit().await?;
            Ok((saved, true))
        }
        Err(StoreError::Duplicate(_)) => {
            savepoint.rollback().await?;
            tracing::info!(name = %req.name.trim(), "product created concurrently; reusing it");
            match product_by_name(txn, &req.name).await? {
                Some(p) => Ok((p, false)),
                None => Err(Error::new(
                    ErrorCode::Conflict,
                    "the product was changed concurrently; retry the request",
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// One product.
pub async fn get_product(db: Db<'_>, _caller: &Caller, id: Uuid) -> OpResult<ProductView> {
    let p = records::find::<product::Entity, _>(&db, id).await?;
    Ok(ProductView::from(&p))
}

/// Changes a product as one compare-and-set on its version.
pub async fn update_product(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateProduct,
) -> OpResult<ProductView> {
    let txn = db.begin().await?;
    let updated = records::update::<product::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |p| {
            let mut v = Violations::new();
            if let Some(n) = &req.name {
                let name = blank_is_refused("name", n, &mut v);
                p.name_key = Some(product_name_key(&name));
                p.name = name;
            }
            if let Some(s) = &req.sku {
                p.sku = s.as_deref().map(str::trim).map(str::to_owned);
            }
            if let Some(c) = &req.unit_code {
                p.unit_code = c.as_str().to_owned();
            }
            if let Some(u) = &req.unit_name {
                p.unit_name = u.trim().to_owned();
            }
            if let Some(b) = req.base_price {
                match non_negative("base_price", b).map(Money::to_minor) {
                    Ok(Ok(m)) => p.base_price_minor = m,
                    Ok(Err(e)) => v.push(FieldViolation::new(
                        "base_price",
                        "out_of_range",
                        e.to_string(),
                    )),
                    Err(e) => v.push(e),
                }
            }
            if let Some(c) = &req.currency {
                match currency("currency", Some(c)) {
                    Ok(c) => p.currency = c,
                    Err(e) => v.push(e),
                }
            }
            if let Some(r) = req.vat_rate {
                p.vat_rate = r.code().to_owned();
            }
            if let Some(s) = &req.section {
                p.section = s.as_deref().map(str::trim).map(str::to_owned);
            }
            if let Some(a) = req.active {
                p.active = a;
            }
            if let Some(e) = &req.external_id {
                p.external_id = e.clone();
            }
            p.search_text = product_search_text(&p.name, p.sku.as_deref());
            if v.is_empty() { Ok(()) } else { Err(v.into()) }
        },
        public,
    )
    .await;
    let updated = match updated {
        Ok(r) => r?,
        Err(StoreError::Duplicate(_)) => {
            return Err(duplicate_name(
                req.name.as_deref().map(str::trim).unwrap_or_default(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    Ok(ProductView::from(&updated))
}

/// Removes a product from the catalog (kept for the audit trail); its name becomes free.
pub async fn delete_product(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    records::soft_delete::<product::Entity, _>(&txn, &caller.actor(), id, if_match, public).await?;
    release_product_name(&txn, id).await?;
    txn.commit().await?;
    Ok(())
}
