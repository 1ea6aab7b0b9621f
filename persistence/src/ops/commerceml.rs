//! INT-1C-1, the CommerceML 2 exchange with 1C: the session's uploaded files, the stepwise
//! import of `import.xml` and `offers.xml` into the catalog (products through the product
//! operations, keyed by their 1C id as `external_id`), and the catalog data products lack —
//! groups, price types, warehouses, offers with prices and stock.
//!
//! Everything an exchange session has is in the database (its files, one row per posted part,
//! and each import's position), so any instance continues a session another one began.

use std::collections::HashMap;
use std::io::Read;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sdelka_domain::commerceml::{self, CommerceInfo, crm_vat_rate};
use sdelka_domain::money::Money;
use sdelka_domain::product_row::UnitCode;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entity::{
    cml_exchange_file, cml_exchange_import, price_type, product, product_group,
    product_group_member, product_offer, product_price, product_stock, warehouse,
};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;

use super::products::{self, CreateProduct, UpdateProduct};
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};

// ---------------------------------------------------------------------------------------------
// Files of a session

/// A file name as 1C sends it (`import.xml`, `import_files/ab/x.jpg`, `orders.zip`): no
/// parent directories, no absolute path.
pub fn check_filename(name: &str) -> OpResult<String> {
    let n = name.trim().replace('\\', "/");
    if n.is_empty()
        || n.len() > 255
        || n.starts_with('/')
        || n.split('/').any(|p| p == ".." || p.is_empty())
    {
        return Err(Error::field(
            "filename",
            "invalid_format",
            "filename is a relative path of at most 255 characters without `..`",
        ));
    }
    Ok(n)
}

/// `mode=init`: the session starts empty (files and import positions of an earlier run of it
/// are removed).
pub async fn start_session(db: Db<'_>, session_id: Uuid) -> OpResult<()> {
    let txn = db.begin().await?;
    cml_exchange_file::Entity::delete_many()
        .filter(cml_exchange_file::Column::SessionId.eq(session_id))
        .exec(&txn)
        .await?;
    cml_exchange_import::Entity::delete_many()
        .filter(cml_exchange_import::Column::SessionId.eq(session_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// `mode=file`: one more part of `filename`, appended after the parts already posted.
pub async fn append_file_part(
    db: Db<'_>,
    session_id: Uuid,
    filename: &str,
    bytes: Vec<u8>,
) -> OpResult<()> {
    let filename = check_filename(filename)?;
    let txn = db.begin().await?;
    let last = cml_exchange_file::Entity::find()
        .select_only()
        .column(cml_exchange_file::Column::Seq)
        .filter(cml_exchange_file::Column::SessionId.eq(session_id))
        .filter(cml_exchange_file::Column::Filename.eq(filename.as_str()))
        .order_by_desc(cml_exchange_file::Column::Seq)
        .into_tuple::<i32>()
        .one(&txn)
        .await?;
    // A new upload of a file already imported in this session starts its import over.
    if last.is_none() {
        cml_exchange_import::Entity::delete_many()
            .filter(cml_exchange_import::Column::SessionId.eq(session_id))
            .filter(cml_exchange_import::Column::Filename.eq(filename.as_str()))
            .exec(&txn)
            .await?;
    }
    let part = cml_exchange_file::Model {
        id: Uuid::now_v7(),
        session_id,
        filename,
        seq: last.map_or(0, |s| s + 1),
        content: bytes,
        created_at: now(),
    };
    cml_exchange_file::Entity::insert(part.into_active_model())
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

async fn read_file<C: ConnectionTrait>(
    db: &C,
    session_id: Uuid,
    filename: &str,
) -> OpResult<Option<Vec<u8>>> {
    let parts = cml_exchange_file::Entity::find()
        .filter(cml_exchange_file::Column::SessionId.eq(session_id))
        .filter(cml_exchange_file::Column::Filename.eq(filename))
        .order_by_asc(cml_exchange_file::Column::Seq)
        .all(db)
        .await?;
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(parts.into_iter().flat_map(|p| p.content).collect()))
}

/// The whole file `filename` of the session (see [`session_file`]).
pub(crate) async fn session_file_bytes(
    db: &Db<'_>,
    session_id: Uuid,
    filename: &str,
) -> OpResult<Vec<u8>> {
    session_file(db, session_id, filename).await
}

/// The file of the session; a file not posted as such is looked for in the session's zip
/// archives (1C sends `import.xml` and `offers.xml` inside one when `init` offered `zip=yes`).
async fn session_file(db: &Db<'_>, session_id: Uuid, filename: &str) -> OpResult<Vec<u8>> {
    if let Some(bytes) = read_file(db, session_id, filename).await? {
        return Ok(bytes);
    }
    let names: Vec<String> = cml_exchange_file::Entity::find()
        .select_only()
        .column(cml_exchange_file::Column::Filename)
        .distinct()
        .filter(cml_exchange_file::Column::SessionId.eq(session_id))
        .into_tuple::<String>()
        .all(db)
        .await?;
    for archive in names.iter().filter(|n| n.to_lowercase().ends_with(".zip")) {
        let Some(bytes) = read_file(db, session_id, archive).await? else {
            continue;
        };
        if let Some(found) = unzip_entry(&bytes, filename)? {
            return Ok(found);
        }
    }
    Err(Error::new(
        ErrorCode::NotFound,
        format!("the session has no file `{filename}`; send it with mode=file first"),
    ))
}

/// The entry `filename` of a zip archive (matched by its path or its last path part).
pub fn unzip_entry(bytes: &[u8], filename: &str) -> OpResult<Option<Vec<u8>>> {
    let bad = |e: zip::result::ZipError| {
        Error::field(
            "filename",
            "invalid_archive",
            format!("the zip archive cannot be read: {e}"),
        )
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(bad)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map_err(bad)?.replace('\\', "/");
        let last = name.rsplit('/').next().unwrap_or_default();
        if name == filename || last == filename {
            let mut out = Vec::new();
            entry.read_to_end(&mut out).map_err(|e| {
                Error::field(
                    "filename",
                    "invalid_archive",
                    format!("the zip entry `{name}` cannot be read: {e}"),
                )
            })?;
            return Ok(Some(out));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// The stepwise import

/// Where an import stands after one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportStep {
    pub done: bool,
    pub position: i64,
    pub total: i64,
    /// What the step did, for the protocol's message line.
    pub message: String,
}

/// What one step wrote.
#[derive(Debug, Default)]
struct Tally {
    created: u32,
    updated: u32,
    unchanged: u32,
    skipped: u32,
    notes: Vec<String>,
}

/// `mode=import`: the next at most `budget` items of `filename` (`import*.xml` or
/// `offers*.xml`), continuing where the session's last call stopped.
pub async fn import_step(
    db: Db<'_>,
    caller: &Caller,
    session_id: Uuid,
    filename: &str,
    budget: usize,
) -> OpResult<ImportStep> {
    let filename = check_filename(filename)?;
    let state = cml_exchange_import::Entity::find()
        .filter(cml_exchange_import::Column::SessionId.eq(session_id))
        .filter(cml_exchange_import::Column::Filename.eq(filename.as_str()))
        .one(&db)
        .await?;
    if let Some(s) = &state
        && s.done
    {
        return Ok(ImportStep {
            done: true,
            position: s.position,
            total: s.total,
            message: format!("{filename} is imported"),
        });
    }
    let bytes = session_file(&db, session_id, &filename).await?;
    let info = commerceml::parse(&bytes)
        .map_err(|e| Error::field("filename", "invalid_commerceml", format!("{filename}: {e}")))?;
    let plan = Plan::of(&info);
    let total = plan.total();
    let start = state.as_ref().map_or(0, |s| s.position);
    let end = (start + budget.max(1) as i64).min(total);
    let mut tally = Tally::default();
    for position in start..end {
        plan.run(&db, caller, &info, position, &mut tally).await?;
    }
    let done = end >= total;
    let at = now();
    let row = cml_exchange_import::Model {
        id: state.as_ref().map_or_else(Uuid::now_v7, |s| s.id),
        session_id,
        filename: filename.clone(),
        position: end,
        total,
        done,
        updated_at: at,
    };
    let am = row.into_active_model().reset_all();
    if state.is_some() {
        am.update(&db).await?;
    } else {
        cml_exchange_import::Entity::insert(am)
            .exec_without_returning(&db)
            .await?;
    }
    let mut message = format!(
        "{filename}: {end} of {total} steps; created {}, updated {}, unchanged {}, skipped {}",
        tally.created, tally.updated, tally.unchanged, tally.skipped
    );
    for n in tally.notes.iter().take(5) {
        message.push_str("; ");
        message.push_str(n);
    }
    Ok(ImportStep {
        done,
        position: end,
        total,
        message,
    })
}

/// The steps of a file: the classifier first (one step), then one step per product, then
/// (full loads) the deactivation of the catalog's products not in the file; for offers, the
/// price types and warehouses (one step), then one step per offer.
struct Plan {
    head: i64,
    items: i64,
    tail: i64,
}

impl Plan {
    fn of(info: &CommerceInfo) -> Plan {
        let products = info.catalog.as_ref().map_or(0, |c| c.products.len());
        let offers = info.offers.as_ref().map_or(0, |o| o.offers.len());
        let full = info.catalog.as_ref().is_some_and(|c| !c.only_changes);
        Plan {
            head: 1,
            items: (products + offers) as i64,
            tail: i64::from(full),
        }
    }

    fn total(&self) -> i64 {
        self.head + self.items + self.tail
    }

    async fn run(
        &self,
        db: &Db<'_>,
        caller: &Caller,
        info: &CommerceInfo,
        position: i64,
        tally: &mut Tally,
    ) -> OpResult<()> {
        if position < self.head {
            if let Some(c) = &info.classifier {
                upsert_groups(db, caller, &c.groups, tally).await?;
            }
            if let Some(o) = &info.offers {
                upsert_price_types(db, caller, &o.price_types, tally).await?;
                upsert_warehouses(db, caller, &o.warehouses, tally).await?;
            }
            return Ok(());
        }
        let i = (position - self.head) as usize;
        if position < self.head + self.items {
            if let Some(c) = &info.catalog
                && let Some(p) = c.products.get(i)
            {
                return upsert_product(db, caller, &c.id, p, tally).await;
            }
            if let Some(o) = &info.offers {
                let i = i - info.catalog.as_ref().map_or(0, |c| c.products.len());
                if let Some(offer) = o.offers.get(i) {
                    return upsert_offer(db, caller, o, offer, tally).await;
                }
            }
            return Ok(());
        }
        if let Some(c) = &info.catalog {
            deactivate_missing(db, caller, c, tally).await?;
        }
        Ok(())
    }
}

async fn group_ids(db: &Db<'_>) -> OpResult<HashMap<String, Uuid>> {
    Ok(product_group::Entity::find()
        .filter(product_group::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.external_id, g.id))
        .collect())
}

fn group_public(g: &product_group::Model) -> serde_json::Value {
    present(&ProductGroupView::from(g))
}

async fn upsert_groups(
    db: &Db<'_>,
    caller: &Caller,
    groups: &[commerceml::Group],
    tally: &mut Tally,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let mut known: HashMap<String, product_group::Model> = product_group::Entity::find()
        .filter(product_group::Column::DeletedAt.is_null())
        .all(&txn)
        .await?
        .into_iter()
        .map(|g| (g.external_id.clone(), g))
        .collect();
    // Parents come before their children in the file's order.
    for g in groups {
        let parent_id = g
            .parent_id
            .as_ref()
            .and_then(|p| known.get(p))
            .map(|p| p.id);
        let name = g.name.chars().take(500).collect::<String>();
        let saved = match known.get(&g.id) {
            Some(current) => {
                let id = current.id;
                let (name, pid) = (name.clone(), parent_id);
                let updated = records::update::<product_group::Entity, _, _, Error>(
                    &txn,
                    &caller.actor(),
                    id,
                    None,
                    move |m| {
                        m.name = name;
                        m.parent_id = pid;
                        Ok(())
                    },
                    group_public,
                )
                .await??;
                if &updated == current {
                    tally.unchanged += 1;
                } else {
                    tally.updated += 1;
                }
                updated
            }
            None => {
                let at = now();
                let m = product_group::Model {
                    id: Uuid::now_v7(),
                    external_id: g.id.clone(),
                    name,
                    parent_id,
                    version: 1,
                    created_at: at,
                    updated_at: at,
                    deleted_at: None,
                };
                tally.created += 1;
                records::create::<product_group::Entity, _>(&txn, &caller.actor(), m, group_public)
                    .await?
            }
        };
        known.insert(g.id.clone(), saved);
    }
    txn.commit().await?;
    Ok(())
}

fn price_type_public(t: &price_type::Model) -> serde_json::Value {
    present(&PriceTypeView::from(t))
}

async fn upsert_price_types(
    db: &Db<'_>,
    caller: &Caller,
    types: &[commerceml::PriceType],
    tally: &mut Tally,
) -> OpResult<()> {
    let txn = db.begin().await?;
    for t in types {
        let currency = products::currency("currency", t.currency.as_deref().map(cml_currency))
            .unwrap_or_else(|_| "RUB".to_owned());
        let name = t.name.chars().take(500).collect::<String>();
        let vat_included = t.vat_included.unwrap_or(true);
        let current = price_type::Entity::find()
            .filter(price_type::Column::ExternalId.eq(t.id.as_str()))
            .filter(price_type::Column::DeletedAt.is_null())
            .one(&txn)
            .await?;
        match current {
            Some(c) => {
                let updated = records::update::<price_type::Entity, _, _, Error>(
                    &txn,
                    &caller.actor(),
                    c.id,
                    None,
                    |m| {
                        m.name = name;
                        m.currency = currency;
                        m.vat_included = vat_included;
                        Ok(())
                    },
                    price_type_public,
                )
                .await??;
                if updated == c {
                    tally.unchanged += 1;
                } else {
                    tally.updated += 1;
                }
            }
            None => {
                let at = now();
                let m = price_type::Model {
                    id: Uuid::now_v7(),
                    external_id: t.id.clone(),
                    name,
                    currency,
                    vat_included,
                    version: 1,
                    created_at: at,
                    updated_at: at,
                    deleted_at: None,
                };
                records::create::<price_type::Entity, _>(
                    &txn,
                    &caller.actor(),
                    m,
                    price_type_public,
                )
                .await?;
                tally.created += 1;
            }
        }
    }
    txn.commit().await?;
    Ok(())
}

/// 1C writes the currency as its code (`RUB`), its number (`643`) or `руб`.
fn cml_currency(c: &str) -> &str {
    match c.trim().to_lowercase().as_str() {
        "643" | "руб" | "руб." | "rur" => "RUB",
        _ => c.trim(),
    }
}

fn warehouse_public(w: &warehouse::Model) -> serde_json::Value {
    present(&WarehouseView::from(w))
}

async fn upsert_warehouses(
    db: &Db<'_>,
    caller: &Caller,
    list: &[commerceml::Warehouse],
    tally: &mut Tally,
) -> OpResult<()> {
    let txn = db.begin().await?;
    for w in list {
        let name = w.name.chars().take(500).collect::<String>();
        let current = warehouse::Entity::find()
            .filter(warehouse::Column::ExternalId.eq(w.id.as_str()))
            .filter(warehouse::Column::DeletedAt.is_null())
            .one(&txn)
            .await?;
        match current {
            Some(c) => {
                let updated = records::update::<warehouse::Entity, _, _, Error>(
                    &txn,
                    &caller.actor(),
                    c.id,
                    None,
                    |m| {
                        m.name = name;
                        Ok(())
                    },
                    warehouse_public,
                )
                .await??;
                if updated == c {
                    tally.unchanged += 1;
                } else {
                    tally.updated += 1;
                }
            }
            None => {
                let at = now();
                let m = warehouse::Model {
                    id: Uuid::now_v7(),
                    external_id: w.id.clone(),
                    name,
                    version: 1,
                    created_at: at,
                    updated_at: at,
                    deleted_at: None,
                };
                records::create::<warehouse::Entity, _>(&txn, &caller.actor(), m, warehouse_public)
                    .await?;
                tally.created += 1;
            }
        }
    }
    txn.commit().await?;
    Ok(())
}

async fn product_by_external<C: ConnectionTrait>(
    db: &C,
    external_id: &str,
) -> OpResult<Option<product::Model>> {
    Ok(product::Entity::find()
        .filter(product::Column::ExternalId.eq(external_id))
        .filter(product::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// A product of the catalog file, created or updated through the product operations.
async fn upsert_product(
    db: &Db<'_>,
    caller: &Caller,
    catalog_id: &str,
    p: &commerceml::Product,
    tally: &mut Tally,
) -> OpResult<()> {
    let unit_code = p.unit_code.as_deref().and_then(|c| UnitCode::parse(c).ok());
    let unit_name = p
        .unit_name
        .as_deref()
        .map(|u| u.chars().take(20).collect::<String>())
        .filter(|u| !u.trim().is_empty());
    let (vat_rate, note) = match p.vat.as_deref() {
        Some(v) => crm_vat_rate(v, products::today()),
        None => (None, None),
    };
    if let Some(n) = note {
        tally.notes.push(format!("{}: {n}", p.id));
    }
    let name: String = p.name.trim().chars().take(500).collect();
    let sku = p
        .article
        .as_deref()
        .map(|a| a.trim().chars().take(100).collect::<String>())
        .filter(|a| !a.is_empty());
    let product_id = match product_by_external(db, &p.id).await? {
        Some(current) => {
            let view = products::update_product(
                *db,
                caller,
                current.id,
                None,
                UpdateProduct {
                    name: (current.name != name && !current.name.starts_with(&name))
                        .then(|| name.clone()),
                    sku: Some(sku),
                    unit_code,
                    unit_name,
                    base_price: None,
                    currency: None,
                    vat_rate,
                    section: None,
                    active: Some(!p.deleted),
                    external_id: None,
                },
            )
            .await?;
            if view.version == current.version {
                tally.unchanged += 1;
            } else {
                tally.updated += 1;
            }
            current.id
        }
        None if p.deleted => {
            tally.skipped += 1;
            return Ok(());
        }
        None => {
            let create = |name: String| CreateProduct {
                name,
                sku: sku.clone(),
                unit_code: unit_code.clone(),
                unit_name: unit_name.clone(),
                base_price: None,
                currency: None,
                vat_rate,
                section: None,
                active: Some(true),
                external_id: Some(p.id.clone()),
            };
            let view = match products::create_product(*db, caller, create(name.clone())).await {
                Ok(v) => v,
                // Product names are unique in the CRM, not in 1C: the second of a name is
                // told apart by its article or its 1C id.
                Err(e) if e.code == ErrorCode::Duplicate => {
                    let tag = sku.clone().unwrap_or_else(|| p.id.clone());
                    let name = format!("{name} ({tag})");
                    tally.notes.push(format!("{}: named `{name}`", p.id));
                    products::create_product(*db, caller, create(name)).await?
                }
                Err(e) => return Err(e),
            };
            tally.created += 1;
            view.id
        }
    };
    // Group membership follows the file.
    let groups = group_ids(db).await?;
    let wanted: Vec<Uuid> = p
        .group_ids
        .iter()
        .filter_map(|g| groups.get(g))
        .copied()
        .collect();
    let txn = db.begin().await?;
    // The catalog that brought it (a full load of that catalog deactivates only its own),
    // and its 1C id under the source `1c`, as bulk upserts and the order exchange key it.
    crate::entity::cml_catalog_product::Entity::insert(
        crate::entity::cml_catalog_product::Model {
            id: Uuid::now_v7(),
            catalog_id: catalog_id.chars().take(255).collect(),
            product_id,
        }
        .into_active_model(),
    )
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([
            crate::entity::cml_catalog_product::Column::CatalogId,
            crate::entity::cml_catalog_product::Column::ProductId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    {
        use crate::entity::external_id;
        external_id::Entity::insert(external_id::ActiveModel {
            record_type: sea_orm::Set("product".to_owned()),
            source: sea_orm::Set("1c".to_owned()),
            external_id: sea_orm::Set(p.id.clone()),
            record_id: sea_orm::Set(product_id),
        })
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                external_id::Column::RecordType,
                external_id::Column::Source,
                external_id::Column::ExternalId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    let have: Vec<product_group_member::Model> = product_group_member::Entity::find()
        .filter(product_group_member::Column::ProductId.eq(product_id))
        .all(&txn)
        .await?;
    for m in &have {
        if !wanted.contains(&m.group_id) {
            product_group_member::Entity::delete_by_id(m.id)
                .exec(&txn)
                .await?;
        }
    }
    for g in wanted {
        if !have.iter().any(|m| m.group_id == g) {
            let m = product_group_member::Model {
                id: Uuid::now_v7(),
                product_id,
                group_id: g,
            };
            product_group_member::Entity::insert(m.into_active_model())
                .exec_without_returning(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// A full load replaces the catalog: the products an earlier load of *this* catalog brought
/// (`cml_catalog_products`) that are not in the file are deactivated, not deleted. Products
/// of other catalogs and those made in the CRM are left alone.
async fn deactivate_missing(
    db: &Db<'_>,
    caller: &Caller,
    c: &commerceml::Catalog,
    tally: &mut Tally,
) -> OpResult<()> {
    use crate::entity::cml_catalog_product;
    let in_file: std::collections::HashSet<&str> =
        c.products.iter().map(|p| p.id.as_str()).collect();
    let catalog_id: String = c.id.chars().take(255).collect();
    let of_catalog = sea_orm::sea_query::Query::select()
        .column(cml_catalog_product::Column::ProductId)
        .from(cml_catalog_product::Entity)
        .and_where(cml_catalog_product::Column::CatalogId.eq(catalog_id))
        .to_owned();
    let live = product::Entity::find()
        .filter(product::Column::ExternalId.is_not_null())
        .filter(product::Column::DeletedAt.is_null())
        .filter(product::Column::Active.eq(true))
        .filter(product::Column::Id.in_subquery(of_catalog))
        .all(db)
        .await?;
    for p in live {
        let Some(ext) = p.external_id.as_deref() else {
            continue;
        };
        if in_file.contains(ext) {
            continue;
        }
        products::update_product(
            *db,
            caller,
            p.id,
            None,
            UpdateProduct {
                name: None,
                sku: None,
                unit_code: None,
                unit_name: None,
                base_price: None,
                currency: None,
                vat_rate: None,
                section: None,
                active: Some(false),
                external_id: None,
            },
        )
        .await?;
        tally.updated += 1;
    }
    Ok(())
}

fn money_minor(d: Decimal) -> OpResult<i64> {
    Money::parse(&d.round_dp(2).to_string())
        .and_then(Money::to_minor)
        .map_err(|e| Error::field("ЦенаЗаЕдиницу", "out_of_range", e.to_string()))
}

async fn upsert_offer(
    db: &Db<'_>,
    caller: &Caller,
    package: &commerceml::OfferPackage,
    o: &commerceml::Offer,
    tally: &mut Tally,
) -> OpResult<()> {
    let Some(product) = product_by_external(db, &o.product_id).await? else {
        tally.skipped += 1;
        tally.notes.push(format!(
            "{}: no product {} in the catalog",
            o.id, o.product_id
        ));
        return Ok(());
    };
    let at = now();
    let txn = db.begin().await?;
    let mut changed = false;
    let current = product_offer::Entity::find()
        .filter(product_offer::Column::ExternalId.eq(o.id.as_str()))
        .one(&txn)
        .await?;
    let mut next = product_offer::Model {
        id: current.as_ref().map_or_else(Uuid::now_v7, |c| c.id),
        external_id: o.id.clone(),
        product_id: product.id,
        name: o.name.as_ref().map(|n| n.chars().take(500).collect()),
        article: o.article.as_ref().map(|n| n.chars().take(255).collect()),
        quantity: o.quantity.map(|q| q.normalize().to_string()),
        updated_at: at,
    };
    match &current {
        Some(c) => {
            next.updated_at = c.updated_at;
            if &next != c {
                next.updated_at = at;
                next.clone()
                    .into_active_model()
                    .reset_all()
                    .update(&txn)
                    .await?;
                changed = true;
            }
        }
        None => {
            product_offer::Entity::insert(next.clone().into_active_model())
                .exec_without_returning(&txn)
                .await?;
            changed = true;
        }
    }
    let types: HashMap<String, price_type::Model> = price_type::Entity::find()
        .filter(price_type::Column::DeletedAt.is_null())
        .all(&txn)
        .await?
        .into_iter()
        .map(|t| (t.external_id.clone(), t))
        .collect();
    for price in &o.prices {
        let Some(t) = types.get(&price.price_type_id) else {
            continue;
        };
        let minor = money_minor(price.price)?;
        let currency = price
            .currency
            .as_deref()
            .map(cml_currency)
            .map_or_else(|| t.currency.clone(), str::to_owned);
        let currency =
            products::currency("currency", Some(&currency)).unwrap_or_else(|_| t.currency.clone());
        let have = product_price::Entity::find()
            .filter(product_price::Column::OfferId.eq(next.id))
            .filter(product_price::Column::PriceTypeId.eq(t.id))
            .one(&txn)
            .await?;
        match have {
            Some(h) if h.price_minor == minor && h.currency == currency => {}
            Some(h) => {
                let m = product_price::Model {
                    price_minor: minor,
                    currency,
                    updated_at: at,
                    ..h
                };
                m.into_active_model().reset_all().update(&txn).await?;
                changed = true;
            }
            None => {
                let m = product_price::Model {
                    id: Uuid::now_v7(),
                    offer_id: next.id,
                    price_type_id: t.id,
                    price_minor: minor,
                    currency,
                    updated_at: at,
                };
                product_price::Entity::insert(m.into_active_model())
                    .exec_without_returning(&txn)
                    .await?;
                changed = true;
            }
        }
    }
    let stores: HashMap<String, Uuid> = warehouse::Entity::find()
        .filter(warehouse::Column::DeletedAt.is_null())
        .all(&txn)
        .await?
        .into_iter()
        .map(|w| (w.external_id, w.id))
        .collect();
    for (w, q) in &o.stock {
        let Some(wid) = stores.get(w).copied() else {
            continue;
        };
        let quantity = q.normalize().to_string();
        let have = product_stock::Entity::find()
            .filter(product_stock::Column::OfferId.eq(next.id))
            .filter(product_stock::Column::WarehouseId.eq(wid))
            .one(&txn)
            .await?;
        match have {
            Some(h) if h.quantity == quantity => {}
            Some(h) => {
                let m = product_stock::Model {
                    quantity,
                    updated_at: at,
                    ..h
                };
                m.into_active_model().reset_all().update(&txn).await?;
                changed = true;
            }
            None => {
                let m = product_stock::Model {
                    id: Uuid::now_v7(),
                    offer_id: next.id,
                    warehouse_id: wid,
                    quantity,
                    updated_at: at,
                };
                product_stock::Entity::insert(m.into_active_model())
                    .exec_without_returning(&txn)
                    .await?;
                changed = true;
            }
        }
    }
    txn.commit().await?;
    // The product's base price: the first offer of the product in the file, at the first
    // price type of the package.
    let first_of_product = package
        .offers
        .iter()
        .find(|x| x.product_id == o.product_id)
        .is_some_and(|x| x.id == o.id);
    let first_type = package.price_types.first().map(|t| t.id.as_str());
    if first_of_product
        && let Some(price) = o
            .prices
            .iter()
            .find(|p| Some(p.price_type_id.as_str()) == first_type)
    {
        let minor = money_minor(price.price)?;
        if minor != product.base_price_minor {
            products::update_product(
                *db,
                caller,
                product.id,
                None,
                UpdateProduct {
                    name: None,
                    sku: None,
                    unit_code: None,
                    unit_name: None,
                    base_price: Some(Money::from_minor(minor)),
                    currency: None,
                    vat_rate: None,
                    section: None,
                    active: None,
                    external_id: None,
                },
            )
            .await?;
            changed = true;
        }
    }
    if changed {
        tally.updated += 1;
    } else {
        tally.unchanged += 1;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading what the exchange brought

/// A product group of the 1C classifier.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductGroupView {
    pub id: Uuid,
    /// The 1C id of the group.
    pub external_id: String,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&product_group::Model> for ProductGroupView {
    fn from(g: &product_group::Model) -> Self {
        ProductGroupView {
            id: g.id,
            external_id: g.external_id.clone(),
            name: g.name.clone(),
            parent_id: g.parent_id,
            version: g.version,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// A price type of 1C.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceTypeView {
    pub id: Uuid,
    pub external_id: String,
    #[schema(example = "Розничная")]
    pub name: String,
    #[schema(example = "RUB")]
    pub currency: String,
    /// Whether prices of this type include VAT.
    pub vat_included: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&price_type::Model> for PriceTypeView {
    fn from(t: &price_type::Model) -> Self {
        PriceTypeView {
            id: t.id,
            external_id: t.external_id.clone(),
            name: t.name.clone(),
            currency: t.currency.clone(),
            vat_included: t.vat_included,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A warehouse of 1C.
#[derive(Debug, Serialize, ToSchema)]
pub struct WarehouseView {
    pub id: Uuid,
    pub external_id: String,
    pub name: String,
}

impl From<&warehouse::Model> for WarehouseView {
    fn from(w: &warehouse::Model) -> Self {
        WarehouseView {
            id: w.id,
            external_id: w.external_id.clone(),
            name: w.name.clone(),
        }
    }
}

pub fn group_sorts() -> [SortKey<product_group::Entity>; 2] {
    [
        SortKey {
            name: "created_at",
            column: product_group::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "name",
            column: product_group::Column::Name,
            key: |m| CursorValue::Text(m.name.clone()),
        },
    ]
}

/// The product groups, a page at a time.
pub async fn list_product_groups(
    db: Db<'_>,
    _caller: &Caller,
    page: &ListParams,
) -> OpResult<ListPage<ProductGroupView>> {
    let sorts = group_sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut q = product_group::Entity::find().filter(product_group::Column::DeletedAt.is_null());
    if let Some(since) = page.updated_since {
        q = q.filter(product_group::Column::UpdatedAt.gte(since));
    }
    let page = fetch_page(&db, q, req, product_group::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| ProductGroupView::from(m)))
}

pub fn price_type_sorts() -> [SortKey<price_type::Entity>; 2] {
    [
        SortKey {
            name: "created_at",
            column: price_type::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "name",
            column: price_type::Column::Name,
            key: |m| CursorValue::Text(m.name.clone()),
        },
    ]
}

/// The price types, a page at a time.
pub async fn list_price_types(
    db: Db<'_>,
    _caller: &Caller,
    page: &ListParams,
) -> OpResult<ListPage<PriceTypeView>> {
    let sorts = price_type_sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut q = price_type::Entity::find().filter(price_type::Column::DeletedAt.is_null());
    if let Some(since) = page.updated_since {
        q = q.filter(price_type::Column::UpdatedAt.gte(since));
    }
    let page = fetch_page(&db, q, req, price_type::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| PriceTypeView::from(m)))
}

/// One price of an offer.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferPriceView {
    pub price_type_id: Uuid,
    #[schema(example = "Розничная")]
    pub price_type: String,
    /// Decimal string with two decimals.
    #[schema(value_type = String, example = "1719.00")]
    pub price: Money,
    pub currency: String,
    pub vat_included: bool,
}

/// An offer's stock in one warehouse.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferStockView {
    pub warehouse_id: Uuid,
    pub warehouse: String,
    /// Decimal string.
    #[schema(example = "20")]
    pub quantity: String,
}

/// An offer of 1C: the product itself or one of its characteristics.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductOfferView {
    pub id: Uuid,
    /// `товар#характеристика` or the product's 1C id.
    pub external_id: String,
    pub name: Option<String>,
    pub article: Option<String>,
    /// The total stock, decimal string.
    pub quantity: Option<String>,
    pub prices: Vec<OfferPriceView>,
    pub stock: Vec<OfferStockView>,
    pub updated_at: DateTime<Utc>,
}

/// What 1C says of a product: its groups, offers, prices and stock.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductCatalogView {
    pub product_id: Uuid,
    pub groups: Vec<ProductGroupView>,
    pub offers: Vec<ProductOfferView>,
}

/// The groups, offers, prices and stock of one product.
pub async fn product_catalog(
    db: Db<'_>,
    _caller: &Caller,
    product_id: Uuid,
) -> OpResult<ProductCatalogView> {
    records::find::<product::Entity, _>(&db, product_id).await?;
    let member_groups: Vec<Uuid> = product_group_member::Entity::find()
        .filter(product_group_member::Column::ProductId.eq(product_id))
        .all(&db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    let groups = product_group::Entity::find()
        .filter(product_group::Column::Id.is_in(member_groups))
        .order_by_asc(product_group::Column::Name)
        .all(&db)
        .await?;
    let offers = product_offer::Entity::find()
        .filter(product_offer::Column::ProductId.eq(product_id))
        .order_by_asc(product_offer::Column::ExternalId)
        .all(&db)
        .await?;
    let ids: Vec<Uuid> = offers.iter().map(|o| o.id).collect();
    let prices = product_price::Entity::find()
        .filter(product_price::Column::OfferId.is_in(ids.clone()))
        .all(&db)
        .await?;
    let stock = product_stock::Entity::find()
        .filter(product_stock::Column::OfferId.is_in(ids))
        .all(&db)
        .await?;
    let types: HashMap<Uuid, price_type::Model> = price_type::Entity::find()
        .all(&db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let stores: HashMap<Uuid, warehouse::Model> = warehouse::Entity::find()
        .all(&db)
        .await?
        .into_iter()
        .map(|w| (w.id, w))
        .collect();
    let offers = offers
        .iter()
        .map(|o| ProductOfferView {
            id: o.id,
            external_id: o.external_id.clone(),
            name: o.name.clone(),
            article: o.article.clone(),
            quantity: o.quantity.clone(),
            prices: prices
                .iter()
                .filter(|p| p.offer_id == o.id)
                .map(|p| {
                    let t = types.get(&p.price_type_id);
                    OfferPriceView {
                        price_type_id: p.price_type_id,
                        price_type: t.map(|t| t.name.clone()).unwrap_or_default(),
                        price: Money::from_minor(p.price_minor),
                        currency: p.currency.clone(),
                        vat_included: t.is_none_or(|t| t.vat_included),
                    }
                })
                .collect(),
            stock: stock
                .iter()
                .filter(|s| s.offer_id == o.id)
                .map(|s| OfferStockView {
                    warehouse_id: s.warehouse_id,
                    warehouse: stores
                        .get(&s.warehouse_id)
                        .map(|w| w.name.clone())
                        .unwrap_or_default(),
                    quantity: s.quantity.clone(),
                })
                .collect(),
            updated_at: o.updated_at,
        })
        .collect();
    Ok(ProductCatalogView {
        product_id,
        groups: groups.iter().map(ProductGroupView::from).collect(),
        offers,
    })
}
