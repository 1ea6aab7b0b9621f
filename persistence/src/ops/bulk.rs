//! INT-3, bulk upsert by the integrator's key: up to 1 000 items of one record type, each
//! created or changed by the record's own operations (the same checks, the same journal),
//! processed in order, each in a savepoint of one transaction.
//!
//! An item is the record's creation body plus its key: `external_id` (`{source, id}`, e.g. a 1C
//! GUID; a product's own `external_id` string) or, for legal entities, the natural key INN + KPP.
//! An item whose record exists is applied as a `PATCH` of the fields it names (its external id
//! is added to the record's); when that changes nothing the savepoint is rolled back, so an
//! `unchanged` item writes nothing and leaves no event. `partial` commits what succeeded;
//! `all_or_none` commits nothing when any item fails; `dry_run` answers what would happen and
//! commits nothing.

use std::collections::HashSet;
use std::future::Future;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Caller, Db, Error, ErrorCode, OpResult};
use crate::entity::{external_id, legal_entity, product};

/// The most items one request may carry.
pub const MAX_ITEMS: usize = 1000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkMode {
    /// Every item that succeeds is kept.
    #[default]
    Partial,
    /// Any failing item rolls everything back.
    AllOrNone,
}

/// `POST /{records}/bulk-upsert`.
#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct BulkUpsert {
    #[serde(default)]
    pub mode: BulkMode,
    /// Answer what would happen without keeping anything.
    #[serde(default)]
    pub dry_run: bool,
    /// 1 to 1 000 items: the record's creation body plus its key (`external_id`).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Created,
    Updated,
    Unchanged,
    Error,
}

/// One item's problem, as the single-record endpoint would answer it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemProblem {
    pub status: u16,
    pub code: String,
    pub detail: String,
    /// Field violations, named as in the item (`inn`, `bank_accounts[0].bik`).
    pub errors: Vec<ItemField>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemField {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl From<&Error> for ItemProblem {
    fn from(e: &Error) -> Self {
        ItemProblem {
            status: e.code.http_status(),
            code: e.code.code().to_owned(),
            detail: e.detail.clone(),
            errors: e
                .errors
                .iter()
                .map(|f| ItemField {
                    field: f.field.clone(),
                    code: f.code.clone(),
                    message: f.message.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItemResult {
    /// The item's index in the request.
    pub index: usize,
    pub status: ItemStatus,
    pub id: Option<Uuid>,
    pub version: Option<i32>,
    /// The key the item was matched by, e.g. `external_id:1c:6f1c…` or `inn_kpp:7707083893/773601001`.
    pub key: Option<String>,
    pub error: Option<ItemProblem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkUpsertResult {
    pub mode: BulkMode,
    pub dry_run: bool,
    /// Whether the changes were kept (`false` for a dry run, or an `all_or_none` request with a
    /// failing item).
    pub committed: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub errors: usize,
    /// One result per item, in request order.
    pub items: Vec<BulkItemResult>,
}

/// How an item's JSON becomes the record's creation and change commands: the HTTP layer's
/// body readers, so that an item's field errors are the single endpoint's.
pub struct Parsers<C, U> {
    pub create: fn(&Value) -> Result<C, Error>,
    pub update: fn(&Value) -> Result<U, Error>,
}

/// A record type that bulk upsert writes through its own operations. Most of it has defaults:
/// a new record type is one [`upsert_record!`] line in [`records`].
pub trait Upsert {
    type Create: Send;
    type Update: Send;
    type View: Serialize + Send;
    /// The record type in `external_ids` (`company`, `invoice`, …).
    const RECORD_TYPE: &'static str;
    /// Fields of the creation body that a change does not take.
    const CREATE_ONLY: &'static [&'static str] = &[];
    /// Whether the record's body carries its `external_ids` (companies, contacts, legal
    /// entities). When not (invoices, payments), the item's key is linked to the new record in
    /// `external_ids` by bulk upsert itself, in the item's savepoint.
    const BODY_EXTERNAL_IDS: bool = true;

    /// The item's key (taken out of the item, or read from it) as `kind:value`.
    fn key(item: &mut Map<String, Value>) -> Result<Key, Error> {
        if Self::BODY_EXTERNAL_IDS {
            external_key(item)
        } else {
            bare_external_key(item)
        }
    }
    /// The visible record holding `key`.
    fn find(
        db: Db<'_>,
        caller: &Caller,
        key: &Key,
    ) -> impl Future<Output = OpResult<Option<Uuid>>> + Send {
        find_external(db, Self::RECORD_TYPE, key, move |id| {
            Self::get(db, caller, id)
        })
    }
    fn get(
        db: Db<'_>,
        caller: &Caller,
        id: Uuid,
    ) -> impl Future<Output = OpResult<Self::View>> + Send;
    fn create(
        db: Db<'_>,
        caller: &Caller,
        c: Self::Create,
    ) -> impl Future<Output = OpResult<Self::View>> + Send;
    fn update(
        db: Db<'_>,
        caller: &Caller,
        id: Uuid,
        u: Self::Update,
    ) -> impl Future<Output = OpResult<Self::View>> + Send;
}

/// What an item is matched by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// `{source, id}` in the record's external ids; the record type names the table.
    External { source: String, id: String },
    /// A product's own `external_id`.
    ProductExternal(String),
    /// INN and KPP of a legal entity.
    InnKpp { inn: String, kpp: Option<String> },
}

impl Key {
    fn label(&self) -> String {
        match self {
            Key::External { source, id } => format!("external_id:{source}:{id}"),
            Key::ProductExternal(id) => format!("external_id:{id}"),
            Key::InnKpp { inn, kpp } => {
                format!("inn_kpp:{inn}/{}", kpp.as_deref().unwrap_or(""))
            }
        }
    }
}

fn item_error(field: &str, code: &str, message: &str) -> Error {
    Error::field(field, code, message.to_owned())
}

/// `{source, id}` under `external_id`, taken out of the item and added to its `external_ids`.
pub fn external_key(item: &mut Map<String, Value>) -> Result<Key, Error> {
    let key = bare_external_key(item)?;
    if let Key::External { source, id } = &key {
        let entry = serde_json::json!({"source": source, "id": id});
        let list = item
            .entry("external_ids")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = list
            && !a
                .iter()
                .any(|e| e.get("source") == entry.get("source") && e.get("id") == entry.get("id"))
        {
            a.push(entry);
        }
    }
    Ok(key)
}

/// `{source, id}` under `external_id`, taken out of the item (whose body has no external ids).
pub fn bare_external_key(item: &mut Map<String, Value>) -> Result<Key, Error> {
    let Some(raw) = item.remove("external_id") else {
        return Err(item_error(
            "external_id",
            "required",
            "each item needs its key: external_id {source, id}",
        ));
    };
    let source = raw.get("source").and_then(Value::as_str).map(str::trim);
    let id = raw.get("id").and_then(Value::as_str).map(str::trim);
    let (Some(source), Some(id)) = (source, id) else {
        return Err(item_error(
            "external_id",
            "invalid_format",
            "external_id is {\"source\": \"1c\", \"id\": \"…\"}",
        ));
    };
    if source.is_empty()
        || source.contains(':')
        || id.is_empty()
        || source.len() > 50
        || id.len() > 200
    {
        return Err(item_error(
            "external_id",
            "invalid_format",
            "source: 1 to 50 characters without `:`; id: 1 to 200 characters",
        ));
    }
    Ok(Key::External {
        source: source.to_lowercase(),
        id: id.to_owned(),
    })
}

/// The visible record of `record_type` carrying this external id.
pub async fn find_external<F, Fut, T>(
    db: Db<'_>,
    record_type: &str,
    key: &Key,
    visible: F,
) -> OpResult<Option<Uuid>>
where
    F: FnOnce(Uuid) -> Fut,
    Fut: Future<Output = OpResult<T>>,
{
    let Key::External { source, id } = key else {
        return Ok(None);
    };
    let found: Option<Uuid> = external_id::Entity::find()
        .select_only()
        .column(external_id::Column::RecordId)
        .filter(external_id::Column::RecordType.eq(record_type))
        .filter(external_id::Column::Source.eq(source.as_str()))
        .filter(external_id::Column::ExternalId.eq(id.as_str()))
        .into_tuple::<Uuid>()
        .one(&db)
        .await?;
    let Some(found) = found else { return Ok(None) };
    match visible(found).await {
        Ok(_) => Ok(Some(found)),
        Err(e) if e.code == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The product whose own `external_id` this is.
pub async fn find_product(db: Db<'_>, key: &Key) -> OpResult<Option<Uuid>> {
    let Key::ProductExternal(id) = key else {
        return Ok(None);
    };
    Ok(product::Entity::find()
        .select_only()
        .column(product::Column::Id)
        .filter(product::Column::ExternalId.eq(id.as_str()))
        .filter(product::Column::DeletedAt.is_null())
        .into_tuple::<Uuid>()
        .one(&db)
        .await?)
}

/// A product's key: its own `external_id`.
pub fn product_key(item: &mut Map<String, Value>) -> Result<Key, Error> {
    match item
        .get("external_id")
        .and_then(Value::as_str)
        .map(str::trim)
    {
        Some(id) if !id.is_empty() => Ok(Key::ProductExternal(id.to_owned())),
        _ => Err(item_error(
            "external_id",
            "required",
            "each product needs its key: external_id",
        )),
    }
}

/// A legal entity's key: `external_id {source, id}` when given, else its INN and KPP.
pub fn legal_entity_key(item: &mut Map<String, Value>) -> Result<Key, Error> {
    if item.contains_key("external_id") {
        return external_key(item);
    }
    let inn = item.get("inn").and_then(Value::as_str).map(str::trim);
    match inn {
        Some(inn) if !inn.is_empty() => Ok(Key::InnKpp {
            inn: inn.to_owned(),
            kpp: item
                .get("kpp")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned),
        }),
        _ => Err(item_error(
            "external_id",
            "required",
            "each legal entity needs its key: external_id {source, id}, or inn (and kpp)",
        )),
    }
}

/// The visible live legal entity with this INN and KPP (the first, when several share them).
pub async fn find_legal_entity<F, Fut, T>(
    db: Db<'_>,
    key: &Key,
    visible: F,
) -> OpResult<Option<Uuid>>
where
    F: Fn(Uuid) -> Fut,
    Fut: Future<Output = OpResult<T>>,
{
    if let Key::External { .. } = key {
        return find_external(db, "legal_entity", key, visible).await;
    }
    let Key::InnKpp { inn, kpp } = key else {
        return Ok(None);
    };
    let mut q = legal_entity::Entity::find()
        .select_only()
        .column(legal_entity::Column::Id)
        .filter(legal_entity::Column::Inn.eq(inn.as_str()))
        .filter(legal_entity::Column::DeletedAt.is_null());
    q = match kpp {
        Some(k) => q.filter(legal_entity::Column::Kpp.eq(k.as_str())),
        None => q.filter(legal_entity::Column::Kpp.is_null()),
    };
    let ids: Vec<Uuid> = q.into_tuple::<Uuid>().all(&db).await?;
    for id in ids {
        match visible(id).await {
            Ok(_) => return Ok(Some(id)),
            Err(e) if e.code == ErrorCode::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Fields that say nothing about a change.
const BOOKKEEPING: &[&str] = &["version", "updated_at", "warnings"];

/// The view without its bookkeeping; rows (`lines`) without their own ids and stamps, since
/// replacing a document's rows by equal ones writes new rows.
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        for k in BOOKKEEPING {
            m.remove(*k);
        }
        if let Some(Value::Array(rows)) = m.get_mut("lines") {
            for r in rows.iter_mut().filter_map(Value::as_object_mut) {
                for k in ["id", "created_at", "updated_at", "version"] {
                    r.remove(k);
                }
            }
        }
    }
    v
}

fn same(before: &Value, after: &Value) -> bool {
    comparable(before) == comparable(after)
}

/// Whether every field the item names already has that value in the record's view: objects by
/// the fields the item names, lists element by element, decimal strings by their value
/// (`"1245.5"` is `"1245.50"`). A `true` means the item changes nothing (its change operation
/// need not run); a `false` only that the change operation must decide.
fn covers(item: &Value, view: &Value) -> bool {
    match (item, view) {
        (Value::Object(i), Value::Object(v)) => i
            .iter()
            .all(|(k, x)| v.get(k).is_some_and(|y| covers(x, y))),
        (Value::Array(i), Value::Array(v)) => {
            i.len() == v.len() && i.iter().zip(v).all(|(x, y)| covers(x, y))
        }
        (Value::String(i), Value::String(v)) => {
            i == v
                || matches!(
                    (i.trim().parse::<rust_decimal::Decimal>(), v.parse::<rust_decimal::Decimal>()),
                    (Ok(a), Ok(b)) if a == b
                )
        }
        (Value::Number(i), Value::String(v)) => i.to_string() == *v,
        _ => item == view,
    }
}

/// The change an item makes to an existing record: the fields it names, less what only a
/// creation takes; its external ids are added to the record's.
fn patch_of<U: Upsert>(item: &Map<String, Value>, current: &Value) -> Value {
    let mut patch = item.clone();
    for k in U::CREATE_ONLY {
        patch.remove(*k);
    }
    if let Some(Value::Array(new)) = patch.remove("external_ids") {
        let mut all: Vec<Value> = current
            .get("external_ids")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let before = all.len();
        for e in new {
            if !all
                .iter()
                .any(|x| x.get("source") == e.get("source") && x.get("id") == e.get("id"))
            {
                all.push(e);
            }
        }
        if all.len() != before {
            patch.insert("external_ids".into(), Value::Array(all));
        }
    }
    Value::Object(patch)
}

fn view_id_version(v: &Value) -> (Option<Uuid>, Option<i32>) {
    (
        v.get("id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        v.get("version")
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok()),
    )
}

/// Runs a bulk upsert of `U` records.
pub async fn bulk_upsert<U: Upsert>(
    db: Db<'_>,
    caller: &Caller,
    req: BulkUpsert,
    parse: Parsers<U::Create, U::Update>,
) -> OpResult<BulkUpsertResult> {
    if req.items.is_empty() || req.items.len() > MAX_ITEMS {
        return Err(Error::field(
            "items",
            "out_of_range",
            format!("1 to {MAX_ITEMS} items"),
        ));
    }
    let txn = db.begin().await?;
    let mut results = Vec::with_capacity(req.items.len());
    let mut seen: HashSet<Key> = HashSet::new();
    let mut failed = false;
    for (index, raw) in req.items.into_iter().enumerate() {
        let outcome = upsert_one::<U>(&txn, caller, raw, &mut seen, &parse).await;
        let result = match outcome {
            Ok((status, key, view)) => {
                let (id, version) = view_id_version(&view);
                BulkItemResult {
                    index,
                    status,
                    id,
                    version,
                    key: Some(key.label()),
                    error: None,
                }
            }
            Err((key, e)) => {
                if e.code.http_status() >= 500 {
                    // Not the item's fault: nothing of the request is kept.
                    txn.rollback().await?;
                    return Err(e);
                }
                failed = true;
                BulkItemResult {
                    index,
                    status: ItemStatus::Error,
                    id: None,
                    version: None,
                    key: key.map(|k| k.label()),
                    error: Some(ItemProblem::from(&e)),
                }
            }
        };
        results.push(result);
    }
    let rolled_back = failed && req.mode == BulkMode::AllOrNone;
    let keep = !req.dry_run && !rolled_back;
    if keep {
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    let count = |s: ItemStatus| results.iter().filter(|r| r.status == s).count();
    Ok(BulkUpsertResult {
        mode: req.mode,
        dry_run: req.dry_run,
        committed: keep,
        created: count(ItemStatus::Created),
        updated: count(ItemStatus::Updated),
        unchanged: count(ItemStatus::Unchanged),
        errors: count(ItemStatus::Error),
        items: results,
    })
}

type ItemOutcome = Result<(ItemStatus, Key, Value), (Option<Key>, Error)>;

async fn upsert_one<U: Upsert>(
    txn: &sea_orm::DatabaseTransaction,
    caller: &Caller,
    raw: Map<String, Value>,
    seen: &mut HashSet<Key>,
    parse: &Parsers<U::Create, U::Update>,
) -> ItemOutcome {
    let mut item = raw;
    let key = U::key(&mut item).map_err(|e| (None, e))?;
    if !seen.insert(key.clone()) {
        return Err((
            Some(key.clone()),
            Error::field(
                "external_id",
                "duplicate_key",
                format!(
                    "an earlier item of this request has the key {}",
                    key.label()
                ),
            ),
        ));
    }
    let fail = |e: Error| (Some(key.clone()), e);
    let db = Db::Joined(txn);
    let existing = U::find(db, caller, &key).await.map_err(fail)?;
    // An item that names only values the record already has writes nothing: no savepoint.
    let before = match existing {
        Some(id) => {
            let before = super::present(&U::get(db, caller, id).await.map_err(fail)?);
            let patch = patch_of::<U>(&item, &before);
            if covers(&patch, &before) {
                return Ok((ItemStatus::Unchanged, key, before));
            }
            Some((id, before, patch))
        }
        None => {
            if !U::BODY_EXTERNAL_IDS && linked_elsewhere::<U>(txn, &key).await.map_err(fail)? {
                return Err(fail(taken(&key)));
            }
            None
        }
    };
    // The item's own savepoint: its failure, or a change that changes nothing, is undone alone.
    let sp = sea_orm::TransactionTrait::begin(txn)
        .await
        .map_err(|e| fail(e.into()))?;
    let inner = Db::Joined(&sp);
    let outcome = match before {
        None => match (parse.create)(&Value::Object(item)) {
            Ok(c) => match U::create(inner, caller, c).await {
                Ok(v) => {
                    let view = super::present(&v);
                    match link::<U>(&sp, &key, &view).await {
                        Ok(()) => Ok((ItemStatus::Created, view)),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        Some((id, before, patch)) => match (parse.update)(&patch) {
            Ok(u) => match U::update(inner, caller, id, u).await {
                Ok(v) => {
                    let after = super::present(&v);
                    if same(&before, &after) {
                        Ok((ItemStatus::Unchanged, before))
                    } else {
                        Ok((ItemStatus::Updated, after))
                    }
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok((ItemStatus::Unchanged, view)) => {
            sp.rollback().await.map_err(|e| fail(e.into()))?;
            Ok((ItemStatus::Unchanged, key, view))
        }
        Ok((status, view)) => {
            sp.commit().await.map_err(|e| fail(e.into()))?;
            Ok((status, key, view))
        }
        Err(e) => {
            sp.rollback().await.map_err(|e| fail(e.into()))?;
            Err(fail(e))
        }
    }
}

fn taken(key: &Key) -> Error {
    let mut e = Error::field(
        "external_id",
        "duplicate",
        format!("another record already has the key {}", key.label()),
    );
    e.code = ErrorCode::Duplicate;
    e
}

/// Whether a record the caller cannot see already holds this key.
async fn linked_elsewhere<U: Upsert>(
    txn: &sea_orm::DatabaseTransaction,
    key: &Key,
) -> OpResult<bool> {
    let Key::External { source, id } = key else {
        return Ok(false);
    };
    let r = crate::clients::ExternalRef {
        source: source.clone(),
        id: id.clone(),
    };
    Ok(crate::clients::external_id_taken(txn, U::RECORD_TYPE, &r).await?)
}

/// Links the key to a record created without external ids in its body.
async fn link<U: Upsert>(
    sp: &sea_orm::DatabaseTransaction,
    key: &Key,
    view: &Value,
) -> OpResult<()> {
    if U::BODY_EXTERNAL_IDS {
        return Ok(());
    }
    let (Key::External { source, id }, (Some(record_id), _)) = (key, view_id_version(view)) else {
        return Ok(());
    };
    let r = crate::clients::ExternalRef {
        source: source.clone(),
        id: id.clone(),
    };
    crate::clients::set_external_ids(sp, U::RECORD_TYPE, record_id, &[r]).await?;
    Ok(())
}

/// One record type of bulk upsert, written by its own operations: `get(db, caller, id)`,
/// `create(db, caller, body)` and `update(db, caller, id, if_match, body)`. Anything else of
/// [`Upsert`] (a key other than `external_id {source, id}`, fields only a creation takes, …)
/// follows in braces.
#[macro_export]
macro_rules! upsert_record {
    ($name:ident = $record_type:literal: $create:ty => $view:ty, $update:ty;
     $get_fn:path, $create_fn:path, $update_fn:path $(, { $($extra:tt)* })?) => {
        pub struct $name;
        impl $crate::ops::bulk::Upsert for $name {
            type Create = $create;
            type Update = $update;
            type View = $view;
            const RECORD_TYPE: &'static str = $record_type;
            $($($extra)*)?
            async fn get(
                db: $crate::ops::Db<'_>,
                caller: &$crate::ops::Caller,
                id: ::uuid::Uuid,
            ) -> $crate::ops::OpResult<$view> {
                $get_fn(db, caller, id).await
            }
            async fn create(
                db: $crate::ops::Db<'_>,
                caller: &$crate::ops::Caller,
                c: $create,
            ) -> $crate::ops::OpResult<$view> {
                $create_fn(db, caller, c).await
            }
            async fn update(
                db: $crate::ops::Db<'_>,
                caller: &$crate::ops::Caller,
                id: ::uuid::Uuid,
                u: $update,
            ) -> $crate::ops::OpResult<$view> {
                $update_fn(db, caller, id, None, u).await
            }
        }
    };
}

/// The record types bulk upsert writes.
pub mod records {
    use super::*;
    use crate::ops::{companies, contacts, invoices, legal_entities, payments, products};

    upsert_record!(Companies = "company": companies::CreateCompany => companies::CompanyView,
        companies::UpdateCompany;
        companies::get_company, companies::create_company, companies::update_company);

    upsert_record!(Contacts = "contact": contacts::CreateContact => contacts::ContactView,
        contacts::UpdateContact;
        contacts::get_contact, contacts::create_contact, contacts::update_contact);

    upsert_record!(LegalEntities = "legal_entity":
    legal_entities::CreateLegalEntity => legal_entities::LegalEntityView,
    legal_entities::UpdateLegalEntity;
    legal_entities::get_legal_entity, legal_entities::create_legal_entity,
    legal_entities::update_legal_entity, {
        const CREATE_ONLY: &'static [&'static str] = &["company_id", "bank_accounts"];
        fn key(item: &mut Map<String, Value>) -> Result<Key, Error> {
            legal_entity_key(item)
        }
        async fn find(db: Db<'_>, caller: &Caller, key: &Key) -> OpResult<Option<Uuid>> {
            find_legal_entity(db, key, |id| Self::get(db, caller, id)).await
        }
    });

    upsert_record!(Products = "product": products::CreateProduct => products::ProductView,
    products::UpdateProduct;
    products::get_product, products::create_product, products::update_product, {
        fn key(item: &mut Map<String, Value>) -> Result<Key, Error> {
            product_key(item)
        }
        async fn find(db: Db<'_>, _caller: &Caller, key: &Key) -> OpResult<Option<Uuid>> {
            find_product(db, key).await
        }
    });

    // An invoice's change is the draft's `PATCH` (rows replace all rows); an issued invoice
    // refuses it as `PATCH /invoices/{id}` does, unless the item names what it already has.
    upsert_record!(Invoices = "invoice": invoices::CreateInvoice => invoices::InvoiceView,
    invoices::UpdateInvoice;
    invoices::get_invoice, invoices::create_invoice, invoices::update_invoice, {
        const CREATE_ONLY: &'static [&'static str] = &["organization_id", "deal_id", "order_id"];
        const BODY_EXTERNAL_IDS: bool = false;
    });

    // A payment is registered as `POST /payments` registers it; a registered payment has no
    // change operation (it is applied, un-applied or withdrawn), so an item naming other values
    // than it has is refused.
    upsert_record!(Payments = "payment": payments::RegisterPayment => payments::PaymentView,
    payments::RegisterPayment;
    payments::get_payment, payments::register_payment, unchangeable_payment, {
        const BODY_EXTERNAL_IDS: bool = false;
    });

    async fn unchangeable_payment(
        _db: Db<'_>,
        _caller: &Caller,
        _id: Uuid,
        _if_match: Option<i32>,
        _u: payments::RegisterPayment,
    ) -> OpResult<payments::PaymentView> {
        Err(Error::new(
            ErrorCode::Conflict,
            "a registered payment is not changed: un-apply or withdraw it and register the right one",
        ))
    }
}
