//! `/notifications`: the caller's own in-app inbox (ACT-5). Nobody sees another user's
//! notifications, admins included: they are personal messages, not business records.

use crate::entity::notification;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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
