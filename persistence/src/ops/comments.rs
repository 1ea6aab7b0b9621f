//! `/{entity}/{id}/comments`: remarks on any record (ACT-4). Each comment also appears in the
//! record's timeline as a `commented` entry carrying the text.
//!
//! The record must exist and be visible to the caller (`access::ensure_visible`).

use crate::entity::comment;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

/// A comment on a record.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: Uuid,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub author_id: Option<Uuid>,
    #[schema(example = "Клиент просит перенести отгрузку на понедельник")]
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl From<&comment::Model> for CommentView {
    fn from(c: &comment::Model) -> Self {
        CommentView {
            id: c.id,
            entity_type: c.entity_type.clone(),
            entity_id: c.entity_id,
            author_id: c.author_id,
            text: c.text.clone(),
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    #[validate(length(min = 1, max = 10000, message = "text must be 1 to 10000 characters"))]
    pub text: String,
}
