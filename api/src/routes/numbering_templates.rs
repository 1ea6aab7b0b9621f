//! `/numbering-templates` (WF-NUM-1): per own organisation and document type, how document
//! numbers are spelled and when their counter starts again. Anyone signed in may read them and
//! preview the next number; only admins change them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::numbering_templates::{
    self as ops, CreateNumberingTemplate, NumberingTemplateFilter, NumberingTemplateView,
    PreviewRequest, PreviewView, UpdateNumberingTemplate,
};
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_templates)
        .service(create_template)
        .service(get_template)
        .service(update_template)
        .service(delete_template)
        .service(preview_number);
}

/// Lists numbering templates.
#[utoipa::path(
    tag = "organisation",
    params(ListParams, NumberingTemplateFilter),
    responses((status = 200, description = "A page of numbering templates", body = ListPage<NumberingTemplateView>))
)]
#[get("/numbering-templates")]
pub async fn list_templates(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<NumberingTemplateFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_templates(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Creates the numbering template of an own organisation for a document type (admin); one
/// live template per organisation and type (409 `duplicate` for a second).
#[utoipa::path(
    tag = "organisation",
    request_body(content = CreateNumberingTemplate, example = json!({"organization_id": "0193a0b0-0000-7000-8000-000000000001", "document_type": "invoice", "template": "СЧ-{ORG}/{YY}{MM}-{N:5}", "reset": "yearly"})),
    responses(
        (status = 201, description = "Created", body = NumberingTemplateView),
        (status = 409, description = "A template for this organisation and type exists", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid template, type or reset", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/numbering-templates")]
pub async fn create_template(
    state: web::Data<AppState>,
    admin: Admin,
    body: JsonBody<CreateNumberingTemplate>,
) -> ApiResult<HttpResponse> {
    let t = ops::create_template(state.db(), &admin, body.0).await?;
    Ok(created(
        format!("/api/v1/numbering-templates/{}", t.id),
        t.version,
        &t,
    ))
}

/// Reads one numbering template.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Template id")),
    responses((status = 200, description = "The template", body = NumberingTemplateView))
)]
#[get("/numbering-templates/{id}")]
pub async fn get_template(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let t = ops::get_template(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, t.version, &t))
}

/// Changes a numbering template (admin).
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Template id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body(content = UpdateNumberingTemplate, example = json!({"template": "{YYYY}-{N:6}", "reset": "monthly"})),
    responses((status = 200, description = "Updated", body = NumberingTemplateView))
)]
#[patch("/numbering-templates/{id}")]
pub async fn update_template(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateNumberingTemplate>,
) -> ApiResult<HttpResponse> {
    let t = ops::update_template(state.db(), &admin, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, t.version, &t))
}

/// Deletes a numbering template (admin). Numbers already taken stay on their documents; a new
/// template for the same type may then be created.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Template id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/numbering-templates/{id}")]
pub async fn delete_template(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    ops::delete_template(state.db(), &admin, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Shows the number the next document of this date would get, without taking it (WF-NUM-2).
/// Posting it changes nothing; the number actually given at issue may differ when other
/// documents are issued first.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Template id")),
    request_body(content = PreviewRequest, example = json!({"date": "2026-12-28"})),
    responses((status = 200, description = "The next number", body = PreviewView, example = json!({"number": "СЧ-RM/2612-00042", "period": "2026", "counter": 42})))
)]
#[post("/numbering-templates/{id}/preview")]
pub async fn preview_number(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<PreviewRequest>,
) -> ApiResult<HttpResponse> {
    let p: PreviewView = ops::preview_number(state.db(), &caller, id.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(p))
}
