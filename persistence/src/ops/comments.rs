//! `/{entity}/{id}/comments`: remarks on any record (ACT-4). Each comment also appears in the
//! record's timeline as a `commented` entry carrying the text.
//!
//! The record must exist and be visible to the caller (`access::ensure_visible`).

use crate::activities::comments_query;
use crate::entity::comment;
use crate::journal::{self, Change, now};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::access::ensure_visible;
use super::timeline::TimelinePath;
use super::{Caller, Db, Error, ListPage, ListParams, OpResult, present};

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

/// Comments on a record the caller may see, oldest first by default.
pub async fn list_comments(
    db: Db<'_>,
    caller: &Caller,
    path: TimelinePath,
    page: &ListParams,
) -> OpResult<ListPage<CommentView>> {
    ensure_visible(&db, caller, path.entity, path.id, false).await?;
    let sorts = [SortKey::<comment::Entity> {
        name: "created_at",
        column: comment::Column::CreatedAt,
        key: |m| CursorValue::Time(m.created_at),
    }];
    let req = page.page_request(&sorts, "created_at")?;
    let query = comments_query(path.entity.record_type(), path.id);
    let page = fetch_page(&db, query, req, comment::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| CommentView::from(m)))
}

/// Adds a comment to a record the caller may see. The record's timeline gets a `commented`
/// entry carrying the text (no field of the record changes); its event carries the comment
/// as the comments list shows it.
pub async fn add_comment(
    db: Db<'_>,
    caller: &Caller,
    path: TimelinePath,
    req: NewComment,
) -> OpResult<CommentView> {
    let text = req.text.trim().to_owned();
    if text.is_empty() {
        return Err(Error::field("text", "required", "text must not be blank"));
    }
    let txn = db.begin().await?;
    ensure_visible(&txn, caller, path.entity, path.id, false).await?;
    let actor = caller.actor();
    let model = comment::ActiveModel {
        id: Set(Uuid::now_v7()),
        entity_type: Set(path.entity.record_type().to_owned()),
        entity_id: Set(path.id),
        author_id: Set(actor.user_id),
        text: Set(text.clone()),
        created_at: Set(now()),
    }
    .insert(&txn)
    .await?;
    let view = CommentView::from(&model);
    let object = present(&view);
    // The commented record's timeline shows the comment; the comment itself is a record of
    // its own, and its event is about it.
    journal::audit(
        &txn,
        &actor,
        &Change {
            entity_type: path.entity.record_type(),
            entity_id: path.id,
            action: "commented",
            // The record itself is unchanged: no field differences.
            before: Some(&object),
            after: Some(&object),
            comment: Some(&text),
        },
    )
    .await?;
    journal::event(
        &txn,
        &actor,
        &Change {
            entity_type: "comment",
            entity_id: model.id,
            action: "created",
            before: None,
            after: Some(&object),
            comment: None,
        },
        object.clone(),
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}
