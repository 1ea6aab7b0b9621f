//! INT-1 webhooks: subscriptions (`/webhooks`), their deliveries (`/webhook-deliveries`), and
//! the two jobs' storage steps — the dispatcher following the change feed and the delivery
//! worker's claims and outcomes.
//!
//! The dispatcher keeps its own offset in the feed (`webhook_dispatch_offset`, locked with
//! `SELECT … FOR UPDATE` on PostgreSQL, the write transaction on SQLite) and, in the
//! transaction that moves it, writes one delivery per matching subscription and event, whose
//! body is the stored event as the feed shows it — captured then, never rebuilt. A subscription
//! receives only events of records its owner may read (the feed's own visibility rule), and,
//! with `skip_own_credential`, none caused by the credential that created it.
//!
//! Deliveries are claimed by lease (`crate::jobs`), so any number of instances send them
//! without sending one twice in the normal case (at least once across crashes), always with
//! the event id as `webhook-id`.

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sdelka_domain::role::RoleSet;
use sdelka_domain::webhook::{self as rules, AllowEntry, Decision, Secret};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};
use crate::db::Store;
use crate::entity::{api_token, domain_event, user, webhook, webhook_delivery};
use crate::error::{StoreError, StoreResult};
use crate::jobs::{self, LeaseQueue};
use crate::journal::{self, Actor, Change};
use crate::notifications::{self, EntityRef};
use crate::pagination::{CursorValue, SortKey, fetch_page};

/// Events one dispatcher pass reads at most.
pub const DISPATCH_BATCH: u64 = 200;
/// The answer bytes an attempt keeps.
pub const RESPONSE_KEPT: usize = 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    #[schema(example = "https://erp.example.com/hooks/sdelka")]
    pub url: String,
    pub description: Option<String>,
    /// Event types (`deal.created`) or patterns (`deal.*`); empty: every event.
    pub event_types: Vec<String>,
    /// Skip events caused by the credential (API token or login) that created the subscription.
    pub skip_own_credential: bool,
    /// Whether events are delivered. A 410 answer or an exhausted retry schedule sets it false.
    pub active: bool,
    /// The user whose visibility the subscription has.
    pub owner_id: Uuid,
    /// The API token that created it, if one did.
    pub api_token_id: Option<Uuid>,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// After a secret rotation: until when the previous secret still signs deliveries too.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&webhook::Model> for WebhookView {
    fn from(w: &webhook::Model) -> Self {
        WebhookView {
            id: w.id,
            url: w.url.clone(),
            description: w.description.clone(),
            event_types: serde_json::from_str(&w.event_types).unwrap_or_default(),
            skip_own_credential: w.skip_own_credential,
            active: w.active,
            owner_id: w.owner_id,
            api_token_id: w.api_token_id,
            disabled_reason: w.disabled_reason.clone(),
            disabled_at: w.disabled_at,
            previous_secret_expires_at: w.previous_secret_expires_at,
            version: w.version,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A new subscription, with its signing secret: shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` + base64 of the key: verify `webhook-signature` with it.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `http://` or `https://`; loopback, private and link-local targets are refused unless
    /// an administrator allowed them (`SDELKA_WEBHOOK_ALLOWED_TARGETS`).
    #[schema(example = "https://erp.example.com/hooks/sdelka")]
    pub url: String,
    pub description: Option<String>,
    /// Event types or `prefix.*` patterns; absent or empty: every event.
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub skip_own_credential: bool,
    /// Default true.
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the previous secret keeps signing deliveries beside the new one, in seconds
    /// (default 86 400, a day; at most 604 800, a week; 0: the previous secret stops at once).
    #[validate(range(max = 604_800))]
    #[schema(example = 86400)]
    pub grace_period_seconds: Option<u32>,
}

/// A rotated subscription, with its new secret: shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The new `whsec_` secret. Until `previous_secret_expires_at` every delivery is signed
    /// with it and with the previous one (`webhook-signature: v1,<new> v1,<old>`).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub skip_own_credential: Option<bool>,
    /// `true` re-enables a disabled subscription (deliveries still pending resume).
    pub active: Option<bool>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    /// The HTTP status; `null` when there was no answer.
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// The first 1 KiB of the answer.
    pub response: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryView {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The event id, sent as `webhook-id` on every attempt.
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts since the delivery was (re)queued.
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<DeliveryAttempt>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<&webhook_delivery::Model> for WebhookDeliveryView {
    fn from(d: &webhook_delivery::Model) -> Self {
        WebhookDeliveryView {
            id: d.id,
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            event_type: d.event_type.clone(),
            state: d.state.clone(),
            attempts: d.attempts,
            next_attempt_at: (d.state == "pending").then_some(d.next_attempt_at),
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            attempt_log: serde_json::from_str(&d.attempt_log).unwrap_or_default(),
            created_at: d.created_at,
            updated_at: d.updated_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// Only the deliveries of this subscription.
    pub webhook_id: Option<Uuid>,
    /// `pending`, `delivered` or `failed`.
    pub state: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct RecoverWebhook {
    /// Every delivery that failed and was created at or after this instant is sent again.
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Recovered {
    /// How many deliveries were queued again.
    pub requeued: u64,
}

/// Where webhooks may go: the allow-list of normally refused targets.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    pub allow: Vec<AllowEntry>,
}

impl TargetPolicy {
    /// Resolves the URL's host and checks every address (at creation and before each attempt).
    pub async fn check(&self, url: &str) -> Result<(), rules::TargetRefusal> {
        let (host, port) = rules::url_host_port(url)?;
        let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map(|it| it.map(|a| a.ip()).collect())
                .unwrap_or_default(),
        };
        rules::check_target(&host, &addrs, &self.allow)
    }
}

fn check_types(types: &[String]) -> OpResult<()> {
    for t in types {
        let ok = !t.is_empty()
            && t.len() <= 100
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-*".contains(c))
            && (!t.contains('*') || t == "*" || (t.ends_with(".*") && t.matches('*').count() == 1));
        if !ok {
            return Err(Error::field(
                "event_types",
                "invalid_event_type",
                format!("`{t}` is not an event type (`deal.created`) or a pattern (`deal.*`)"),
            ));
        }
    }
    Ok(())
}

async fn check_url(policy: &TargetPolicy, url: &str) -> OpResult<()> {
    if url.len() > 2000 {
        return Err(Error::field(
            "url",
            "too_long",
            "url must be at most 2000 characters",
        ));
    }
    policy.check(url).await.map_err(|e| {
        let code = match e {
            rules::TargetRefusal::BadUrl => "invalid_url",
            rules::TargetRefusal::Internal(_) => "target_not_allowed",
            rules::TargetRefusal::Unresolved => "unresolvable_host",
        };
        Error::field("url", code, e.to_string())
    })
}

async fn journal_webhook<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
    action: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> StoreResult<()> {
    journal_change(db, actor, "webhook", id, action, before, after, None).await
}

/// The audit record and domain event of a change to a subscription or a delivery, in the
/// caller's transaction. Views carry no secret, so neither does the journal.
#[allow(clippy::too_many_arguments)]
async fn journal_change<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    entity_type: &'static str,
    id: Uuid,
    action: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    comment: Option<&str>,
) -> StoreResult<()> {
    journal::record(
        db,
        actor,
        Change {
            entity_type,
            entity_id: id,
            action,
            before,
            after,
            comment,
        },
    )
    .await
}

/// `POST /webhooks`: a subscription owned by the caller, with the `secret` made from random
/// bytes by the caller's machinery.
pub async fn create_webhook(
    db: Db<'_>,
    caller: &Caller,
    req: CreateWebhook,
    secret: Secret,
    policy: &TargetPolicy,
) -> OpResult<CreatedWebhook> {
    let url = req.url.trim().to_owned();
    check_url(policy, &url).await?;
    let types = req.event_types.unwrap_or_default();
    check_types(&types)?;
    let now = journal::now();
    let txn = db.begin().await?;
    let model = webhook::ActiveModel {
        id: Set(Uuid::now_v7()),
        url: Set(url),
        description: Set(req.description),
        event_types: Set(serde_json::to_string(&types).map_err(Error::internal)?),
        skip_own_credential: Set(req.skip_own_credential),
        active: Set(req.active.unwrap_or(true)),
        secret: Set(secret.expose()),
        owner_id: Set(caller.user_id),
        api_token_id: Set(caller.api_token_id),
        disabled_reason: Set(None),
        disabled_at: Set(None),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        receiving: Set(false),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let view = WebhookView::from(&model);
    journal_webhook(
        &txn,
        &caller.actor(),
        model.id,
        "created",
        None,
        Some(&present(&view)),
    )
    .await?;
    txn.commit().await?;
    Ok(CreatedWebhook {
        webhook: view,
        secret: secret.expose(),
    })
}

async fn own_webhook<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> OpResult<webhook::Model> {
    match webhook::Entity::find_by_id(id).one(db).await? {
        Some(w) if w.owner_id == caller.user_id || caller.is_admin() => Ok(w),
        _ => Err(Error::not_found()),
    }
}

/// `GET /webhooks/{id}`.
pub async fn get_webhook(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<WebhookView> {
    Ok(WebhookView::from(&own_webhook(&db, caller, id).await?))
}

pub fn sorts() -> [SortKey<webhook::Entity>; 1] {
    [SortKey {
        name: "created_at",
        column: webhook::Column::CreatedAt,
        key: |m| CursorValue::Time(m.created_at),
    }]
}

/// `GET /webhooks`: the caller's subscriptions (an admin's: all).
pub async fn list_webhooks(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
) -> OpResult<ListPage<WebhookView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut query = webhook::Entity::find();
    if !caller.is_admin() {
        query = query.filter(webhook::Column::OwnerId.eq(caller.user_id));
    }
    if let Some(since) = page.updated_since {
        query = query.filter(webhook::Column::UpdatedAt.gte(since));
    }
    let page = fetch_page(&db, query, req, webhook::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| WebhookView::from(m)))
}

/// `PATCH /webhooks/{id}`.
pub async fn update_webhook(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: UpdateWebhook,
    policy: &TargetPolicy,
) -> OpResult<WebhookView> {
    if let Some(url) = &req.url {
        check_url(policy, url.trim()).await?;
    }
    if let Some(t) = &req.event_types {
        check_types(t)?;
    }
    let txn = db.begin().await?;
    let w = own_webhook(&txn, caller, id).await?;
    let before = present(&WebhookView::from(&w));
    let version = w.version;
    let mut am = w.into_active_model();
    if let Some(url) = req.url {
        am.url = Set(url.trim().to_owned());
    }
    if let Some(d) = req.description {
        am.description = Set(Some(d));
    }
    if let Some(t) = req.event_types {
        am.event_types = Set(serde_json::to_string(&t).map_err(Error::internal)?);
    }
    if let Some(s) = req.skip_own_credential {
        am.skip_own_credential = Set(s);
    }
    if let Some(a) = req.active {
        am.active = Set(a);
        if a {
            am.disabled_reason = Set(None);
            am.disabled_at = Set(None);
        }
    }
    am.version = Set(version + 1);
    am.updated_at = Set(journal::now());
    let model = am.update(&txn).await?;
    let view = WebhookView::from(&model);
    journal_webhook(
        &txn,
        &caller.actor(),
        id,
        "updated",
        Some(&before),
        Some(&present(&view)),
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}

/// `POST /webhooks/{id}/rotate-secret`: `secret` becomes the signing secret; the one it
/// replaces keeps signing beside it for the grace period (a rotation during a grace period
/// drops the secret before it at once).
pub async fn rotate_secret(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: RotateSecret,
    secret: Secret,
) -> OpResult<RotatedWebhook> {
    let grace = req
        .grace_period_seconds
        .map_or(rules::DEFAULT_GRACE, |s| {
            std::time::Duration::from_secs(s.into())
        })
        .min(rules::MAX_GRACE);
    let txn = db.begin().await?;
    let w = own_webhook(&txn, caller, id).await?;
    let before = present(&WebhookView::from(&w));
    let version = w.version;
    let previous = w.secret.clone();
    let now = journal::now();
    let mut am = w.into_active_model();
    am.secret = Set(secret.expose());
    if grace.is_zero() {
        am.previous_secret = Set(None);
        am.previous_secret_expires_at = Set(None);
    } else {
        am.previous_secret = Set(Some(previous));
        am.previous_secret_expires_at = Set(Some(
            now + chrono::Duration::from_std(grace).map_err(Error::internal)?,
        ));
    }
    am.version = Set(version + 1);
    am.updated_at = Set(now);
    let model = am.update(&txn).await?;
    let view = WebhookView::from(&model);
    journal_webhook(
        &txn,
        &caller.actor(),
        id,
        "secret_rotated",
        Some(&before),
        Some(&present(&view)),
    )
    .await?;
    txn.commit().await?;
    Ok(RotatedWebhook {
        webhook: view,
        secret: secret.expose(),
    })
}

/// `DELETE /webhooks/{id}`: the subscription and its delivery log.
pub async fn delete_webhook(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<()> {
    let txn = db.begin().await?;
    let w = own_webhook(&txn, caller, id).await?;
    let before = present(&WebhookView::from(&w));
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .exec(&txn)
        .await?;
    webhook::Entity::delete_by_id(id).exec(&txn).await?;
    journal_webhook(&txn, &caller.actor(), id, "deleted", Some(&before), None).await?;
    txn.commit().await?;
    Ok(())
}

pub fn delivery_sorts() -> [SortKey<webhook_delivery::Entity>; 1] {
    [SortKey {
        name: "created_at",
        column: webhook_delivery::Column::CreatedAt,
        key: |m| CursorValue::Time(m.created_at),
    }]
}

/// `GET /webhook-deliveries`: the deliveries of the caller's subscriptions (an admin's: all).
pub async fn list_deliveries(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    filter: &DeliveryFilter,
) -> OpResult<ListPage<WebhookDeliveryView>> {
    let sorts = delivery_sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut query = webhook_delivery::Entity::find();
    if !caller.is_admin() {
        let mine: Vec<Uuid> = webhook::Entity::find()
            .select_only()
            .column(webhook::Column::Id)
            .filter(webhook::Column::OwnerId.eq(caller.user_id))
            .into_tuple()
            .all(&db)
            .await?;
        query = query.filter(webhook_delivery::Column::WebhookId.is_in(mine));
    }
    if let Some(w) = filter.webhook_id {
        query = query.filter(webhook_delivery::Column::WebhookId.eq(w));
    }
    if let Some(s) = &filter.state {
        if !["pending", "delivered", "failed"].contains(&s.as_str()) {
            return Err(Error::field(
                "state",
                "invalid_state",
                "state is one of pending, delivered, failed",
            ));
        }
        query = query.filter(webhook_delivery::Column::State.eq(s.as_str()));
    }
    if let Some(since) = page.updated_since {
        query = query.filter(webhook_delivery::Column::UpdatedAt.gte(since));
    }
    let page = fetch_page(&db, query, req, webhook_delivery::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| WebhookDeliveryView::from(m)))
}

/// Puts a delivery back in the queue, due now, its attempts counted anew (the log keeps the
/// earlier ones).
fn requeue(d: webhook_delivery::Model) -> webhook_delivery::ActiveModel {
    let now = journal::now();
    let mut am = d.into_active_model();
    am.state = Set("pending".into());
    am.attempts = Set(0);
    am.next_attempt_at = Set(now);
    am.lease_owner = Set(None);
    am.lease_until = Set(None);
    am.updated_at = Set(now);
    am
}

/// `POST /webhook-deliveries/{id}/redeliver`: sends the same body again, with the same
/// `webhook-id`.
pub async fn redeliver(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<WebhookDeliveryView> {
    let txn = db.begin().await?;
    let d = webhook_delivery::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(Error::not_found)?;
    own_webhook(&txn, caller, d.webhook_id).await?;
    if d.state == "pending" {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the delivery is still pending: it will be attempted anyway",
        ));
    }
    let before = present(&WebhookDeliveryView::from(&d));
    let model = requeue(d).update(&txn).await?;
    let view = WebhookDeliveryView::from(&model);
    journal_change(
        &txn,
        &caller.actor(),
        "webhook_delivery",
        model.id,
        "redelivered",
        Some(&before),
        Some(&present(&view)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}

/// `POST /webhooks/{id}/recover`: queues again every delivery that failed since `since`.
pub async fn recover(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: RecoverWebhook,
) -> OpResult<Recovered> {
    let txn = db.begin().await?;
    let w = own_webhook(&txn, caller, id).await?;
    let failed = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .filter(webhook_delivery::Column::State.eq("failed"))
        .filter(webhook_delivery::Column::CreatedAt.gte(req.since))
        .all(&txn)
        .await?;
    let n = failed.len() as u64;
    for d in failed {
        requeue(d).update(&txn).await?;
    }
    // Nothing requeued is nothing written: no journal entry either.
    if n > 0 {
        let view = present(&WebhookView::from(&w));
        let comment = format!("{n} failed deliveries since {} queued again", req.since);
        journal_change(
            &txn,
            &caller.actor(),
            "webhook",
            id,
            "recovered",
            Some(&view),
            Some(&view),
            Some(&comment),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Recovered { requeued: n })
}

/// `POST /webhooks/{id}/test`: queues a `webhook.test` event for this subscription only.
pub async fn test_webhook(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<WebhookDeliveryView> {
    let txn = db.begin().await?;
    let w = own_webhook(&txn, caller, id).await?;
    let event_id = Uuid::now_v7();
    let now = journal::now();
    let body = json!({
        "id": event_id,
        "type": "webhook.test",
        "timestamp": now,
        "data": {"object": {"webhook_id": w.id}, "changed_fields": [], "actor": caller.user_id,
                 "credential": caller.api_token_id.unwrap_or(caller.user_id),
                 "correlation_id": caller.correlation_id, "version": null, "sequence": null},
    });
    let model = new_delivery(w.id, event_id, "webhook.test", None, body.to_string())
        .insert(&txn)
        .await?;
    let view = WebhookDeliveryView::from(&model);
    journal_change(
        &txn,
        &caller.actor(),
        "webhook_delivery",
        model.id,
        "created",
        None,
        Some(&present(&view)),
        Some("a test delivery"),
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}

fn new_delivery(
    webhook_id: Uuid,
    event_id: Uuid,
    event_type: &str,
    position: Option<i64>,
    payload: String,
) -> webhook_delivery::ActiveModel {
    let now = journal::now();
    webhook_delivery::ActiveModel {
        id: Set(Uuid::now_v7()),
        webhook_id: Set(webhook_id),
        event_id: Set(event_id),
        event_type: Set(event_type.to_owned()),
        position: Set(position),
        payload: Set(payload),
        state: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_status: Set(None),
        last_error: Set(None),
        attempt_log: Set("[]".into()),
        created_at: Set(now),
        updated_at: Set(now),
        delivered_at: Set(None),
    }
}

/// The subscription's owner as a caller: his roles, narrowed to the creating token's.
async fn owner_caller<C: ConnectionTrait>(
    db: &C,
    w: &webhook::Model,
) -> StoreResult<Option<Caller>> {
    let Some(u) = user::Entity::find_by_id(w.owner_id).one(db).await? else {
        return Ok(None);
    };
    if !u.active || u.deleted_at.is_some() {
        return Ok(None);
    }
    let mut roles = RoleSet::from_storage(&u.roles);
    if let Some(t) = w.api_token_id {
        match api_token::Entity::find_by_id(t).one(db).await? {
            Some(tok) if tok.revoked_at.is_none() => {
                roles = roles.intersection(&RoleSet::from_storage(&tok.roles));
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(Caller {
        user_id: u.id,
        roles,
        api_token_id: w.api_token_id,
        correlation_id: None,
    }))
}

/// The dispatcher's pass: follows the feed from its offset, writing the deliveries of up to
/// [`DISPATCH_BATCH`] events in the transaction that moves the offset. Answers how many
/// events it passed.
pub async fn dispatch(store: &Store) -> OpResult<usize> {
    let txn = store.begin().await?;
    let backend = txn.get_database_backend();
    let lock = match backend {
        DbBackend::Postgres => {
            "SELECT position FROM webhook_dispatch_offset WHERE id = 1 FOR UPDATE"
        }
        _ => "SELECT position FROM webhook_dispatch_offset WHERE id = 1",
    };
    let row = txn
        .query_one_raw(Statement::from_string(backend, lock))
        .await?
        .ok_or_else(|| Error::internal("the webhook dispatch offset row is missing"))?;
    let offset: i64 = row.try_get("", "position").map_err(StoreError::from)?;
    let head = crate::feed::head(&txn).await?;
    let events = domain_event::Entity::find()
        .filter(domain_event::Column::Position.gt(offset))
        .filter(domain_event::Column::Position.lte(head.position))
        .order_by_asc(domain_event::Column::Position)
        .limit(DISPATCH_BATCH)
        .all(&txn)
        .await?;
    let Some(last) = events.last().and_then(|e| e.position) else {
        txn.rollback().await?;
        return Ok(0);
    };
    let n = events.len();
    // Every subscription, on or off: whether it receives an event is decided in feed order by
    // its own journal events (created, switched on or off, deleted), not by its state now, so
    // a dispatcher that lags behind delivers exactly what was written while it was on.
    let hooks = webhook::Entity::find().all(&txn).await?;
    let mut receiving: Vec<bool> = hooks.iter().map(|w| w.receiving).collect();
    let types: Vec<Vec<String>> = hooks
        .iter()
        .map(|w| serde_json::from_str(&w.event_types).unwrap_or_default())
        .collect();
    let mut owners: Vec<Option<Owner>> = hooks.iter().map(|_| None).collect();
    for e in events {
        let Some(position) = e.position else { continue };
        if e.entity_type == "webhook"
            && let Some(i) = hooks.iter().position(|w| w.id == e.entity_id)
        {
            receiving[i] = switched_on(&e.payload);
        }
        let mut payload: Option<String> = None;
        for (i, w) in hooks.iter().enumerate() {
            if !receiving[i] {
                continue;
            }
            if !rules::type_matches(&types[i], &e.event_type) {
                continue;
            }
            if owners[i].is_none() {
                let caller = owner_caller(&txn, w).await?;
                let scope = match &caller {
                    Some(c) => Some(c.visibility(&txn).await?),
                    None => None,
                };
                owners[i] = Some((caller, scope, HashMap::new()));
            }
            let Some((Some(caller), Some(scope), cache)) = owners[i].as_mut() else {
                continue;
            };
            if w.skip_own_credential {
                let own = w.api_token_id.unwrap_or(w.owner_id);
                let credential = e.api_token_id.or(e.actor_id);
                if credential == Some(own) {
                    continue;
                }
            }
            if !super::feed::event_for(Db::Joined(&txn), caller, scope, &e, cache).await? {
                continue;
            }
            let body = match &payload {
                Some(b) => b.clone(),
                None => {
                    let b = webhook_body(super::feed::event_as_feed(e.clone(), position)?);
                    payload = Some(b.clone());
                    b
                }
            };
            new_delivery(w.id, e.id, &e.event_type, Some(position), body)
                .insert(&txn)
                .await?;
        }
    }
    for (w, now_receiving) in hooks.iter().zip(receiving) {
        if w.receiving != now_receiving {
            webhook::Entity::update_many()
                .col_expr(
                    webhook::Column::Receiving,
                    sea_orm::sea_query::Expr::value(now_receiving),
                )
                .filter(webhook::Column::Id.eq(w.id))
                .exec(&txn)
                .await?;
        }
    }
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        jobs::numbered_params(
            backend,
            "UPDATE webhook_dispatch_offset SET position = $1, updated_at = $2 WHERE id = 1",
        ),
        [last.into(), journal::now().into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(n)
}

/// The owner of a subscription as the dispatcher checks visibility: caller, scope and the
/// per-pass cache of records already looked at.
type Owner = (
    Option<Caller>,
    Option<crate::visibility::Scope>,
    HashMap<(String, Uuid), bool>,
);

/// Whether a subscription's own journal event leaves it switched on: its public
/// representation says `active` (a deletion's tombstone does not).
fn switched_on(payload: &str) -> bool {
    serde_json::from_str::<Value>(payload)
        .ok()
        .and_then(|p| p["object"]["active"].as_bool())
        .unwrap_or(false)
}

/// The body of a webhook: `{id, type, timestamp, data: {object, changed_fields, actor,
/// credential, correlation_id, version, sequence}}`.
fn webhook_body(e: super::feed::FeedEvent) -> String {
    json!({
        "id": e.id,
        "type": e.r#type,
        "timestamp": e.timestamp,
        "data": {
            "object": e.data.object,
            "changed_fields": e.data.changed_fields,
            "actor": e.data.actor,
            "credential": e.data.credential,
            "correlation_id": e.data.correlation_id,
            "version": e.data.version,
            "sequence": e.data.sequence,
        },
    })
    .to_string()
}

/// A claimed delivery with what sending it needs.
pub struct ClaimedDelivery {
    pub delivery: webhook_delivery::Model,
    pub url: String,
    /// The signing secrets, the current one first; the previous one while its grace lasts.
    pub secrets: Vec<String>,
}

/// Claims up to `limit` due deliveries of active subscriptions for `owner`.
pub async fn claim_deliveries(
    store: &Store,
    owner: &str,
    lease: chrono::Duration,
    limit: u64,
) -> StoreResult<Vec<ClaimedDelivery>> {
    const QUEUE: LeaseQueue = LeaseQueue {
        table: "webhook_deliveries",
        on_claim: ", attempts = attempts + 1",
        due: "state = 'pending' AND next_attempt_at <= $3 \
              AND webhook_id IN (SELECT id FROM webhooks WHERE active = TRUE)",
        order_by: "next_attempt_at",
    };
    let claimed =
        jobs::claim::<webhook_delivery::Entity, _>(&store.conn, &QUEUE, owner, lease, limit)
            .await?;
    let mut out = Vec::with_capacity(claimed.len());
    let now = journal::now();
    for d in claimed {
        if let Some(w) = webhook::Entity::find_by_id(d.webhook_id)
            .one(&store.conn)
            .await?
        {
            let mut secrets = vec![w.secret];
            if let (Some(previous), Some(until)) = (w.previous_secret, w.previous_secret_expires_at)
                && until > now
            {
                secrets.push(previous);
            }
            out.push(ClaimedDelivery {
                url: w.url,
                secrets,
                delivery: d,
            });
        }
    }
    Ok(out)
}

/// Records an attempt and what it decided: delivered, retried at `now + delay`, or failed —
/// which disables the subscription, tells its owner (inbox and email) and journals
/// `webhook.disabled`, all in one transaction. Answers false when the lease was lost.
pub async fn record_attempt(
    store: &Store,
    d: &webhook_delivery::Model,
    owner: &str,
    attempt: DeliveryAttempt,
    decision: &Decision,
) -> StoreResult<bool> {
    let txn = store.begin().await?;
    let now = journal::now();
    let mut log: Vec<Value> = serde_json::from_str(&d.attempt_log).unwrap_or_default();
    log.push(serde_json::to_value(&attempt).unwrap_or(Value::Null));
    let mut am = webhook_delivery::ActiveModel {
        lease_owner: Set(None),
        lease_until: Set(None),
        last_status: Set(attempt.status.map(i32::from)),
        last_error: Set(attempt.error.clone()),
        attempt_log: Set(Value::Array(log).to_string()),
        updated_at: Set(now),
        ..Default::default()
    };
    match decision {
        Decision::Delivered => {
            am.state = Set("delivered".into());
            am.delivered_at = Set(Some(now));
        }
        Decision::Retry(delay) => {
            let delay = chrono::Duration::from_std(*delay).unwrap_or(chrono::Duration::days(1));
            am.next_attempt_at = Set(now + delay);
        }
        Decision::Disable(_) => am.state = Set("failed".into()),
    }
    let res = webhook_delivery::Entity::update_many()
        .set(am)
        .filter(webhook_delivery::Column::Id.eq(d.id))
        .filter(webhook_delivery::Column::LeaseOwner.eq(owner))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    if let Decision::Disable(reason) = decision {
        disable(&txn, d.webhook_id, reason).await?;
    }
    txn.commit().await?;
    Ok(true)
}

async fn disable<C: ConnectionTrait>(db: &C, id: Uuid, reason: &str) -> StoreResult<()> {
    let Some(w) = webhook::Entity::find_by_id(id).one(db).await? else {
        return Ok(());
    };
    if !w.active {
        return Ok(());
    }
    let before = present(&WebhookView::from(&w));
    let version = w.version;
    let mut am = w.into_active_model();
    am.active = Set(false);
    am.disabled_reason = Set(Some(reason.chars().take(500).collect()));
    am.disabled_at = Set(Some(journal::now()));
    am.version = Set(version + 1);
    am.updated_at = Set(journal::now());
    let model = am.update(db).await?;
    let after = present(&WebhookView::from(&model));
    journal_webhook(
        db,
        &Actor::system(),
        id,
        "disabled",
        Some(&before),
        Some(&after),
    )
    .await?;
    notifications::notify_and_email(
        db,
        model.owner_id,
        "webhook_disabled",
        "A webhook was disabled",
        &format!(
            "Deliveries to {} stopped: {reason}. Re-enable it with PATCH /api/v1/webhooks/{id} {{\"active\": true}} and send what failed with POST /api/v1/webhooks/{id}/recover.",
            model.url
        ),
        Some(EntityRef {
            entity_type: "webhook",
            entity_id: id,
        }),
    )
    .await?;
    Ok(())
}

/// A process step's `call_webhook` action (WF-BP-2): one delivery of `event` to the active
/// subscription registered for `url`, carrying the record's public representation as its last
/// event recorded it and the step that called. It goes out like every delivery — signed with
/// the subscription's secret, retried on the schedule, in its delivery log — and only when the
/// subscription's owner may see the record. Answers the delivery's id.
#[allow(clippy::too_many_arguments)]
pub async fn call_from_process<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    url: &str,
    event: &str,
    entity_type: &str,
    entity_id: Uuid,
    responsible: Option<Uuid>,
    process: Value,
) -> OpResult<Uuid> {
    let candidates = webhook::Entity::find()
        .filter(webhook::Column::Url.eq(url))
        .filter(webhook::Column::Active.eq(true))
        .order_by_asc(webhook::Column::CreatedAt)
        .all(txn)
        .await?;
    let mut target = None;
    for w in candidates {
        let Some(owner) = owner_caller(txn, &w).await? else {
            continue;
        };
        if owner.visibility(txn).await?.allows(responsible) {
            target = Some(w);
            break;
        }
    }
    let Some(w) = target else {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "no active webhook subscription for {url} whose owner may see the {entity_type}; \
                 create one with POST /api/v1/webhooks"
            ),
        ));
    };
    let last = domain_event::Entity::find()
        .filter(domain_event::Column::EntityType.eq(entity_type))
        .filter(domain_event::Column::EntityId.eq(entity_id))
        .order_by_desc(domain_event::Column::Seq)
        .one(txn)
        .await?;
    let object = last
        .as_ref()
        .and_then(|e| serde_json::from_str::<Value>(&e.payload).ok())
        .map(|p| p["object"].clone())
        .unwrap_or_else(|| json!({ "id": entity_id }));
    let event_id = Uuid::now_v7();
    let body = json!({
        "id": event_id,
        "type": event,
        "timestamp": journal::now(),
        "data": {
            "object": object,
            "changed_fields": [],
            "actor": actor.user_id,
            "credential": actor.api_token_id.or(actor.user_id),
            "correlation_id": actor.request_id,
            "version": object.get("version").cloned().unwrap_or(Value::Null),
            "sequence": null,
            "process": process,
        },
    });
    let model = new_delivery(w.id, event_id, event, None, body.to_string())
        .insert(txn)
        .await?;
    let view = WebhookDeliveryView::from(&model);
    journal_change(
        txn,
        actor,
        "webhook_delivery",
        model.id,
        "created",
        None,
        Some(&present(&view)),
        Some("called by a process step"),
    )
    .await?;
    Ok(model.id)
}
