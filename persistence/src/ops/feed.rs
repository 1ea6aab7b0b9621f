//! INT-2, the change feed: `GET /events` (the domain events every write journals, in feed
//! order), `GET /events/head` (the cursor to start an initial sync from) and named consumer
//! offsets (`/event-consumers`), which only record where a reader is: reading never consumes.
//!
//! Positions are given by the sequencer (`crate::feed`) after events commit, so they become
//! visible in increasing order only: a reader passing position N never later finds an event
//! before N. A cursor is a position; one older than what retention keeps is `410
//! cursor_expired`.
//!
//! Visibility: a caller sees the events of the records he may read now — the very check of the
//! record's own `GET` (a deal's event is shown to whoever `GET /deals/{id}` answers); a sub-record
//! (product row, bank account, time entry, comment) follows its parent. A deletion's tombstone is
//! shown to whoever was allowed to see the record when it was deleted (its responsible user as
//! the event recorded it, within the caller's scope).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Db, Error, ErrorCode, OpResult};
use crate::entity::{domain_event, event_consumer};
use crate::feed;
use crate::journal;
use crate::visibility::Scope;

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;

/// Records every signed-in user may read: their events are everyone's.
const SHARED_TYPES: &[&str] = &[
    "user",
    "department",
    "organization",
    "organization_bank_account",
    "product",
    "pipeline",
    "pipeline_stage",
    "numbering_template",
    "automation_rule",
    "pool",
];

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The cursor: the `next_cursor` of the previous page, or `GET /events/head`'s `cursor`
    /// for an initial sync; `0` (the default) reads from the oldest event kept.
    pub after: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// Comma-separated event types, e.g. `deal.created,deal.updated`; `deal.*` matches every
    /// event of deals.
    pub types: Option<String>,
    /// Only events of this record type (`deal`, `company`, `invoice`, …).
    pub entity_type: Option<String>,
}

/// One domain event, as webhooks deliver it (the same id).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedEvent {
    /// The event id: the same id a webhook delivery carries as `webhook-id`.
    pub id: Uuid,
    /// The event's feed position (a cursor: reading `after` it continues behind this event).
    #[schema(example = "1042")]
    pub sequence: String,
    /// `<record type>.<action>`, e.g. `deal.created`, `deal.updated`, `invoice.issue`,
    /// `deal.deleted`.
    #[schema(example = "deal.updated")]
    pub r#type: String,
    /// When the change happened.
    pub timestamp: DateTime<Utc>,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub data: FeedEventData,
}

/// What the event says, captured when it happened and never rebuilt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedEventData {
    /// The record as its `GET` answered right after the change; for a deletion the tombstone
    /// `{id, type, deleted: true, version, external_ids}`.
    #[schema(value_type = Object)]
    pub object: Value,
    /// The fields the change altered (every field on creation).
    pub changed_fields: Vec<String>,
    /// Field by field `{before, after}`.
    #[schema(value_type = Object)]
    pub changes: Value,
    pub comment: Option<String>,
    /// The user who acted (`null`: the service itself).
    pub actor: Option<Uuid>,
    /// The credential used: the API token's id, or the user's for a login session.
    pub credential: Option<Uuid>,
    /// The request id of the change (`X-Request-Id`).
    pub correlation_id: Option<String>,
    /// The record's version after the change (`null` when the record has none).
    pub version: Option<i64>,
    /// The same as the event's `sequence`.
    pub sequence: String,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    pub items: Vec<FeedEvent>,
    /// Pass as `after` to read on. Always present: on the last page it is where the feed
    /// stands, so polling with it returns only what is new.
    pub next_cursor: String,
    /// Whether more events were already there after this page.
    pub has_more: bool,
}

/// Where the feed stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedHead {
    /// The position of the newest event: `GET /events?after=<cursor>` returns what happens
    /// from now on.
    #[schema(example = "1042")]
    pub cursor: String,
    /// Events up to this position were removed by retention; a cursor before it is expired.
    pub oldest_cursor: String,
    /// How long events are kept, in days.
    pub retention_days: u32,
}

/// A named reader's offset.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventConsumerView {
    pub name: String,
    /// The last position the consumer reported as processed.
    pub cursor: String,
    /// Events behind the head: how far the consumer lags.
    pub lag: i64,
    pub owner_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `PUT /event-consumers/{name}`.
#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct PutEventConsumer {
    /// The last position processed (a `next_cursor` or an event's `sequence`).
    #[schema(example = "1042")]
    pub cursor: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventConsumerList {
    pub items: Vec<EventConsumerView>,
}

fn parse_cursor(field: &str, raw: Option<&str>) -> OpResult<i64> {
    match raw.map(str::trim) {
        None | Some("") => Ok(0),
        Some(s) => s.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            Error::field(
                field,
                "invalid_cursor",
                "a cursor is a feed position: a non-negative integer this feed issued",
            )
        }),
    }
}

fn cursor_expired(after: i64, head: &feed::Head) -> Error {
    Error::new(
        ErrorCode::CursorExpired,
        format!(
            "events up to position {} are no longer kept (retention); the cursor {after} has missed some: start again from GET /events/head",
            head.pruned_through
        ),
    )
}

/// Event-type patterns: exact types, or `prefix.*`.
fn type_patterns(raw: Option<&str>) -> OpResult<Vec<String>> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for t in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let ok = t.len() <= 100
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-*".contains(c))
            && (!t.contains('*') || (t.ends_with(".*") && t.matches('*').count() == 1));
        if !ok {
            return Err(Error::field(
                "types",
                "invalid_event_type",
                format!("`{t}` is not an event type (`deal.created`) or a pattern (`deal.*`)"),
            ));
        }
        out.push(t.to_owned());
    }
    Ok(out)
}

/// Reads the feed after `query.after`.
pub async fn list_events(db: Db<'_>, caller: &Caller, query: &FeedQuery) -> OpResult<FeedPage> {
    let after = parse_cursor("after", query.after.as_deref())?;
    let limit = match query.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(Error::field(
                "limit",
                "out_of_range",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
    };
    let patterns = type_patterns(query.types.as_deref())?;
    catch_up(db).await?;
    // The head first: every position up to it is committed, so it is safe to pass over what
    // this page does not show.
    let head = feed::head(&db).await?;
    if after < head.pruned_through {
        return Err(cursor_expired(after, &head));
    }
    let scope = caller.visibility(&db).await?;
    let mut items = Vec::new();
    let mut cursor = after;
    let mut readable_cache: HashMap<(String, Uuid), bool> = HashMap::new();
    // Events the caller may not see are passed over; a page scans at most a few pages' worth
    // so that an answer never takes long, and its cursor moves on behind what it scanned.
    let scan = limit.saturating_mul(4).min(4 * MAX_LIMIT);
    let mut scanned = 0u64;
    'batches: while scanned < scan {
        let mut select = domain_event::Entity::find()
            .filter(domain_event::Column::Position.gt(cursor))
            .filter(domain_event::Column::Position.lte(head.position));
        if let Some(t) = &query.entity_type {
            select = select.filter(domain_event::Column::EntityType.eq(t.as_str()));
        }
        if !patterns.is_empty() {
            let mut any = sea_orm::Condition::any();
            for p in &patterns {
                any = match p.strip_suffix(".*") {
                    Some(prefix) => {
                        any.add(domain_event::Column::EventType.starts_with(format!("{prefix}.")))
                    }
                    None => any.add(domain_event::Column::EventType.eq(p.as_str())),
                };
            }
            select = select.filter(any);
        }
        let batch = select
            .order_by_asc(domain_event::Column::Position)
            .limit(limit)
            .all(&db)
            .await?;
        let exhausted = (batch.len() as u64) < limit;
        for e in batch {
            let Some(position) = e.position else { continue };
            scanned += 1;
            if readable(db, caller, &scope, &e, &mut readable_cache).await? {
                items.push(event_view(e, position)?);
            }
            cursor = position;
            if items.len() as u64 == limit {
                break 'batches;
            }
        }
        if exhausted {
            // Nothing more matches up to the head, and everything up to it has committed.
            cursor = head.position;
            break;
        }
    }
    let has_more = cursor < head.position;
    Ok(FeedPage {
        items,
        next_cursor: cursor.to_string(),
        has_more,
    })
}

fn event_view(e: domain_event::Model, position: i64) -> OpResult<FeedEvent> {
    let payload: Value = serde_json::from_str(&e.payload).map_err(Error::internal)?;
    let field = |k: &str| payload.get(k).cloned().unwrap_or(Value::Null);
    let object = field("object");
    let version = object.get("version").and_then(Value::as_i64);
    let changed_fields = payload
        .get("changed_fields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let uuid_of = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
    };
    Ok(FeedEvent {
        id: e.id,
        sequence: position.to_string(),
        r#type: e.event_type,
        timestamp: e.occurred_at,
        entity_type: e.entity_type,
        entity_id: e.entity_id,
        data: FeedEventData {
            changed_fields,
            changes: field("changes"),
            comment: payload
                .get("comment")
                .and_then(Value::as_str)
                .map(str::to_owned),
            actor: uuid_of("actor"),
            credential: uuid_of("credential"),
            correlation_id: payload
                .get("correlation_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            version,
            sequence: position.to_string(),
            object,
        },
    })
}

/// Whether `caller` may read the record `e` is about (see the module's comment).
async fn readable(
    db: Db<'_>,
    caller: &Caller,
    scope: &Scope,
    e: &domain_event::Model,
    cache: &mut HashMap<(String, Uuid), bool>,
) -> OpResult<bool> {
    if matches!(scope, Scope::Everything) || SHARED_TYPES.contains(&e.entity_type.as_str()) {
        return Ok(true);
    }
    let payload: Value = serde_json::from_str(&e.payload).map_err(Error::internal)?;
    let object = payload.get("object").cloned().unwrap_or(Value::Null);
    if object.get("deleted").and_then(Value::as_bool) == Some(true) {
        return Ok(scope.allows(e.responsible_id));
    }
    let (kind, id) = match parent_of(&e.entity_type, &object) {
        Some(parent) => parent,
        None => (e.entity_type.clone(), e.entity_id),
    };
    if kind == "api_token" {
        return Ok(object
            .get("user_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
            == Some(caller.user_id));
    }
    if let Some(known) = cache.get(&(kind.clone(), id)) {
        return Ok(*known);
    }
    let seen = record_readable(db, caller, &kind, id).await?;
    cache.insert((kind, id), seen);
    Ok(seen)
}

/// The record a sub-record's visibility follows.
fn parent_of(entity_type: &str, object: &Value) -> Option<(String, Uuid)> {
    let id_at = |k: &str| {
        object
            .get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
    };
    match entity_type {
        "product_row" => Some(("deal".into(), id_at("deal_id")?)),
        "legal_entity_bank_account" => Some(("legal_entity".into(), id_at("legal_entity_id")?)),
        "activity_time_entry" => Some(("activity".into(), id_at("activity_id")?)),
        "webhook_delivery" => Some(("webhook".into(), id_at("webhook_id")?)),
        "comment" => Some((
            object.get("entity_type")?.as_str()?.to_owned(),
            id_at("entity_id")?,
        )),
        _ => None,
    }
}

/// Asks the record's own read operation.
async fn record_readable(db: Db<'_>, caller: &Caller, kind: &str, id: Uuid) -> OpResult<bool> {
    use super::*;
    fn seen<T>(r: OpResult<T>) -> OpResult<bool> {
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.code.http_status() < 500 => Ok(false),
            Err(e) => Err(e),
        }
    }
    if SHARED_TYPES.contains(&kind) {
        return Ok(true);
    }
    match kind {
        "company" => seen(companies::get_company(db, caller, id).await),
        "legal_entity" => seen(legal_entities::get_legal_entity(db, caller, id).await),
        "contact" => seen(contacts::get_contact(db, caller, id).await),
        "deal" => seen(deals::get_deal(db, caller, id).await),
        "lead" => seen(leads::get_lead(db, caller, id).await),
        "activity" => seen(activities::get_activity(db, caller, id).await),
        "calendar_event" => seen(calendar::get_event(db, caller, id).await),
        "file" => seen(files::get_file(db, caller, id).await),
        "invoice" => seen(invoices::get_invoice(db, caller, id).await),
        "payment" => seen(payments::get_payment(db, caller, id).await),
        "quote" => seen(quotes::get_quote(db, caller, id).await),
        "order" => seen(orders::get_order(db, caller, id).await),
        "supplier_invoice" => seen(supplier_invoices::get_supplier_invoice(db, caller, id).await),
        "task" => seen(tasks::get_task(db, caller, id).await),
        "import" => seen(imports::get_import(db, caller, id).await),
        "webhook" => seen(webhooks::get_webhook(db, caller, id).await),
        // Anything else (approval steps, …) is for admins.
        _ => Ok(false),
    }
}

/// Numbers what has committed before a read, so that a reader sees its own writes at once
/// (the sequencer job does it otherwise, every `SDELKA_FEED_SEQUENCE_MS`). Inside a caller's
/// transaction there is nothing to number yet.
async fn catch_up(db: Db<'_>) -> OpResult<()> {
    if let Db::Store(store) = db {
        while feed::sequence(store).await? as u64 == feed::BATCH {}
    }
    Ok(())
}

/// `GET /events/head`.
pub async fn feed_head(db: Db<'_>, _caller: &Caller, retention_days: u32) -> OpResult<FeedHead> {
    catch_up(db).await?;
    let head = feed::head(&db).await?;
    Ok(FeedHead {
        cursor: head.position.to_string(),
        oldest_cursor: head.pruned_through.to_string(),
        retention_days,
    })
}

fn check_consumer_name(name: &str) -> OpResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "name",
            "invalid_name",
            "1 to 100 characters: letters, digits, `_`, `.`, `-`",
        ))
    }
}

fn consumer_view(c: event_consumer::Model, head: i64) -> EventConsumerView {
    EventConsumerView {
        lag: (head - c.position).max(0),
        cursor: c.position.to_string(),
        name: c.name,
        owner_id: c.owner_id,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

/// A consumer the caller may see: his own, or any for an admin.
async fn visible_consumer(
    db: &Db<'_>,
    caller: &Caller,
    name: &str,
) -> OpResult<Option<event_consumer::Model>> {
    check_consumer_name(name)?;
    let found = event_consumer::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?;
    match found {
        Some(c) if c.owner_id == caller.user_id || caller.is_admin() => Ok(Some(c)),
        Some(_) => Err(Error::not_found()),
        None => Ok(None),
    }
}

/// `PUT /event-consumers/{name}`: records the position a named reader has processed (creating
/// the consumer on first use). Answers whether it was created, and the consumer.
///
/// A consumer's offset is a reader's bookkeeping, not a business record: it leaves no domain
/// event (a reader committing its offset would otherwise always have one more event to read).
pub async fn put_consumer(
    db: Db<'_>,
    caller: &Caller,
    name: &str,
    body: PutEventConsumer,
) -> OpResult<(bool, EventConsumerView)> {
    let position = parse_cursor("cursor", Some(&body.cursor))?;
    let txn = db.begin().await?;
    let head = feed::head(&txn).await?;
    if position > head.position {
        return Err(Error::field(
            "cursor",
            "invalid_cursor",
            format!(
                "the feed has not reached position {position} (head: {})",
                head.position
            ),
        ));
    }
    let now = journal::now();
    let existing = visible_consumer(&Db::Joined(&txn), caller, name).await?;
    let created = existing.is_none();
    let model = match existing {
        Some(c) => {
            use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
            let mut am = c.into_active_model();
            am.position = Set(position);
            am.api_token_id = Set(caller.api_token_id);
            am.updated_at = Set(now);
            am.update(&txn).await?
        }
        None => {
            use sea_orm::{ActiveModelTrait, Set};
            event_consumer::ActiveModel {
                name: Set(name.to_owned()),
                position: Set(position),
                owner_id: Set(caller.user_id),
                api_token_id: Set(caller.api_token_id),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?
        }
    };
    txn.commit().await?;
    Ok((created, consumer_view(model, head.position)))
}

/// `GET /event-consumers/{name}`.
pub async fn get_consumer(db: Db<'_>, caller: &Caller, name: &str) -> OpResult<EventConsumerView> {
    let c = visible_consumer(&db, caller, name)
        .await?
        .ok_or_else(Error::not_found)?;
    let head = feed::head(&db).await?;
    Ok(consumer_view(c, head.position))
}

/// `GET /event-consumers`: the caller's consumers (an admin's: all).
pub async fn list_consumers(db: Db<'_>, caller: &Caller) -> OpResult<EventConsumerList> {
    let mut select = event_consumer::Entity::find().order_by_asc(event_consumer::Column::Name);
    if !caller.is_admin() {
        select = select.filter(event_consumer::Column::OwnerId.eq(caller.user_id));
    }
    let rows = select.all(&db).await?;
    let head = feed::head(&db).await?;
    Ok(EventConsumerList {
        items: rows
            .into_iter()
            .map(|c| consumer_view(c, head.position))
            .collect(),
    })
}

/// `DELETE /event-consumers/{name}`.
pub async fn delete_consumer(db: Db<'_>, caller: &Caller, name: &str) -> OpResult<()> {
    let txn = db.begin().await?;
    let c = visible_consumer(&Db::Joined(&txn), caller, name)
        .await?
        .ok_or_else(Error::not_found)?;
    event_consumer::Entity::delete_by_id(c.name)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// For the webhook dispatcher: whether `caller` may read the record of event `e` (the feed's
/// own rule).
pub(super) async fn event_for(
    db: Db<'_>,
    caller: &Caller,
    scope: &Scope,
    e: &domain_event::Model,
    cache: &mut HashMap<(String, Uuid), bool>,
) -> OpResult<bool> {
    readable(db, caller, scope, e, cache).await
}

/// The feed's view of a numbered event.
pub(super) fn event_as_feed(e: domain_event::Model, position: i64) -> OpResult<FeedEvent> {
    event_view(e, position)
}
