//! `/{entity}/{id}/comments`: remarks on any record (ACT-4). Each comment also appears in the
//! record's timeline as a `commented` entry carrying the text.
//!
//! Visibility and existence are checked for the records of this area (activities, calendar
//! events, files) and of the platform (users, departments, organisations). Records of the
//! clients, sales and documents areas (leads, deals, companies, contacts, invoices, contracts)
//! are not reachable from here yet; their comments are taken as given.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sdelka_persistence::activities::{add_comment, comments_query};
use sdelka_persistence::entity::{comment, department, organization};
use sdelka_persistence::pagination::{CursorValue, SortKey, fetch_page};
use sdelka_persistence::records;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::lists::{ListPage, ListParams};
use crate::routes::timeline::{TimelineEntity, TimelinePath};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_comments).service(add);
}

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

/// 404 unless the caller may see the records of this area he names (activities, calendar
/// events, files); other record types pass.
pub async fn check_work_visibility<C: ConnectionTrait>(
    db: &C,
    caller: &Principal,
    entity: TimelineEntity,
    id: Uuid,
) -> ApiResult<()> {
    match entity {
        TimelineEntity::Activities => {
            crate::routes::activities::visible_activity(db, caller, id).await?;
        }
        TimelineEntity::CalendarEvents => {
            crate::routes::calendar::visible_event(db, caller, id).await?;
        }
        TimelineEntity::Files => {
            crate::routes::files::visible_file(db, caller, id).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The record must exist and be visible where that can be known.
async fn check_commentable<C: ConnectionTrait>(
    db: &C,
    caller: &Principal,
    entity: TimelineEntity,
    id: Uuid,
) -> ApiResult<()> {
    match entity {
        TimelineEntity::Users => {
            if !caller.is_admin() && caller.user_id != id {
                return Err(ApiError::not_found());
            }
            records::find::<sdelka_persistence::entity::user::Entity, _>(db, id).await?;
        }
        TimelineEntity::Departments => {
            records::find::<department::Entity, _>(db, id).await?;
        }
        TimelineEntity::Organizations => {
            records::find::<organization::Entity, _>(db, id).await?;
        }
        other => check_work_visibility(db, caller, other, id).await?,
    }
    Ok(())
}

/// Comments on a record, oldest first by default.
#[utoipa::path(
    tag = "timeline",
    params(TimelinePath, ListParams),
    responses((status = 200, description = "A page of comments", body = ListPage<CommentView>))
)]
#[get("/{entity}/{id}/comments")]
pub async fn list_comments(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<TimelinePath>,
    page: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let path = path.into_inner();
    let db = &state.store.conn;
    check_commentable(db, &caller, path.entity, path.id).await?;
    let sorts = [SortKey::<comment::Entity> {
        name: "created_at",
        column: comment::Column::CreatedAt,
        key: |m| CursorValue::Time(m.created_at),
    }];
    let req = page.page_request(&sorts, "created_at")?;
    let query = comments_query(path.entity.record_type(), path.id);
    let page = fetch_page(db, query, req, comment::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage {
        items: page.items.iter().map(CommentView::from).collect::<Vec<_>>(),
        next_cursor: page.next_cursor,
        total: page.total,
    }))
}

/// Adds a comment to a record; it also shows in the record's timeline.
#[utoipa::path(
    tag = "timeline",
    params(TimelinePath),
    request_body = NewComment,
    responses((status = 201, description = "Added", body = CommentView))
)]
#[post("/{entity}/{id}/comments")]
pub async fn add(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<TimelinePath>,
    body: JsonBody<NewComment>,
) -> ApiResult<HttpResponse> {
    let path = path.into_inner();
    let text = body.0.text.trim().to_owned();
    if text.is_empty() {
        return Err(ApiError::field(
            "text",
            "required",
            "text must not be blank",
        ));
    }
    let txn = state.store.conn.begin().await?;
    check_commentable(&txn, &caller, path.entity, path.id).await?;
    let c = add_comment(
        &txn,
        &caller.actor(),
        path.entity.record_type(),
        path.id,
        &text,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(CommentView::from(&c)))
}
