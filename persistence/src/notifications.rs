//! ACT-5: the in-app inbox. Every workflow notifies through [`notify`], inside the
//! transaction of the change that causes the notification, so the two commit together.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    Select, Set,
};
use uuid::Uuid;

use crate::entity::notification::{self, Column, Entity, Model};
use crate::entity::user;
use crate::error::{StoreError, StoreResult};
use crate::journal::now;
use crate::outbox::{self, OutgoingEmail};

/// The record a notification is about (`activity`, `deal`, …), for a link in the inbox.
#[derive(Debug, Clone, Copy)]
pub struct EntityRef<'a> {
    pub entity_type: &'a str,
    pub entity_id: Uuid,
}

/// Puts a notification into `user_id`'s inbox. Call inside the business transaction.
pub async fn notify<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    kind: &str,
    title: &str,
    body: &str,
    entity: Option<EntityRef<'_>>,
) -> StoreResult<Model> {
    let model = notification::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        kind: Set(kind.to_owned()),
        title: Set(title.to_owned()),
        body: Set(body.to_owned()),
        entity_type: Set(entity.map(|e| e.entity_type.to_owned())),
        entity_id: Set(entity.map(|e| e.entity_id)),
        created_at: Set(now()),
        read_at: Set(None),
    };
    Ok(model.insert(db).await?)
}

/// ACT-5: puts a notification into `user_id`'s inbox and, when that user wants notifications
/// by email (and is an active user), queues the same text as an email through the outbox —
/// both in the caller's transaction. Every workflow that tells a person something goes
/// through here, so the preference is honoured in one place.
pub async fn notify_and_email<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    kind: &str,
    title: &str,
    body: &str,
    entity: Option<EntityRef<'_>>,
) -> StoreResult<Model> {
    let n = notify(db, user_id, kind, title, body, entity).await?;
    if let Some(u) = user::Entity::find_by_id(user_id).one(db).await?
        && u.email_notifications
        && u.active
        && u.deleted_at.is_none()
    {
        outbox::enqueue_email(
            db,
            &OutgoingEmail {
                to: vec![u.email],
                subject: title.to_owned(),
                text_body: body.to_owned(),
            },
        )
        .await?;
    }
    Ok(n)
}

/// The notifications of one user; `unread = Some(true)` keeps the unread ones only.
pub fn inbox_query(user_id: Uuid, unread: Option<bool>) -> Select<Entity> {
    let q = Entity::find().filter(Column::UserId.eq(user_id));
    match unread {
        Some(true) => q.filter(Column::ReadAt.is_null()),
        Some(false) => q.filter(Column::ReadAt.is_not_null()),
        None => q,
    }
}

pub async fn unread_count<C: ConnectionTrait>(db: &C, user_id: Uuid) -> StoreResult<u64> {
    Ok(inbox_query(user_id, Some(true)).count(db).await?)
}

/// Marks one of `user_id`'s notifications read (once: a second call keeps the first time).
/// Another user's notification is `NotFound`.
pub async fn mark_read<C: ConnectionTrait>(db: &C, user_id: Uuid, id: Uuid) -> StoreResult<Model> {
    Entity::update_many()
        .col_expr(Column::ReadAt, now().into())
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ReadAt.is_null())
        .exec(db)
        .await?;
    Entity::find()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Marks every unread notification of `user_id` read; returns how many.
pub async fn mark_all_read<C: ConnectionTrait>(db: &C, user_id: Uuid) -> StoreResult<u64> {
    let res = Entity::update_many()
        .col_expr(Column::ReadAt, now().into())
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ReadAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
