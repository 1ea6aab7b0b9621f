//! `/notifications`: the caller's own in-app inbox (ACT-5). Nobody sees another user's
//! notifications, admins included: they are personal messages, not business records.

use crate::entity::notification;
use crate::notifications::{self as store, inbox_query};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Db, ListPage, ListParams, OpResult};

/// One message in the inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: Uuid,
    /// What caused it, e.g. `reminder`.
    #[schema(example = "reminder")]
    pub kind: String,
    #[schema(example = "Reminder: Позвонить по счёту №17")]
    pub title: String,
    pub body: String,
    /// The record it is about (`activity`, `calendar_event`, `deal`, …).
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// When it was marked read; `null` while unread.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<&notification::Model> for NotificationView {
    fn from(n: &notification::Model) -> Self {
        NotificationView {
            id: n.id,
            kind: n.kind.clone(),
            title: n.title.clone(),
            body: n.body.clone(),
            entity_type: n.entity_type.clone(),
            entity_id: n.entity_id,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedRead {
    /// How many notifications were unread and are read now.
    pub marked: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationListFilter {
    /// `true`: unread only; `false`: read only.
    pub unread: Option<bool>,
}

/// The caller's notifications, newest first by default.
pub async fn list_notifications(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: NotificationListFilter,
) -> OpResult<ListPage<NotificationView>> {
    let sorts = [SortKey::<notification::Entity> {
        name: "created_at",
        column: notification::Column::CreatedAt,
        key: |m| CursorValue::Time(m.created_at),
    }];
    let req = page.page_request(&sorts, "-created_at")?;
    let query = inbox_query(caller.user_id, f.unread);
    let page = fetch_page(&db, query, req, notification::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| NotificationView::from(m)))
}

/// How many of the caller's notifications are unread.
pub async fn unread_count(db: Db<'_>, caller: &Caller) -> OpResult<UnreadCount> {
    let unread = store::unread_count(&db, caller.user_id).await?;
    Ok(UnreadCount { unread })
}

/// Marks one of the caller's notifications read (repeating it changes nothing); another
/// user's is not found.
pub async fn mark_read(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<NotificationView> {
    let n = store::mark_read(&db, caller.user_id, id).await?;
    Ok(NotificationView::from(&n))
}

/// Marks all of the caller's notifications read.
pub async fn mark_all_read(db: Db<'_>, caller: &Caller) -> OpResult<MarkedRead> {
    let marked = store::mark_all_read(&db, caller.user_id).await?;
    Ok(MarkedRead { marked })
}
