//! `/pipelines`: sales pipelines and their ordered stages (DEAL-1). Everyone reads them;
//! configuring them is for admins. The default pipeline "Продажи" comes with the schema.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::pipelines::{
    self as ops, CreatePipeline, NewStage, PipelineView, StagePath, UpdatePipeline, UpdateStage,
};
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::{NoFilter, list_answer};
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_pipelines)
        .service(create_pipeline)
        .service(get_pipeline)
        .service(update_pipeline)
        .service(delete_pipeline)
        .service(add_stage)
        .service(update_stage)
        .service(delete_stage);
}

/// Lists pipelines with their stages.
#[utoipa::path(
    tag = "sales",
    params(ListParams),
    responses((status = 200, description = "A page of pipelines", body = ListPage<PipelineView>))
)]
#[get("/pipelines")]
pub async fn list_pipelines(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        NoFilter {},
        move |page, _: NoFilter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_pipelines(state.db(), &caller, &page).await }
        },
    )
    .await
}

/// Creates a pipeline with its stages (admin).
#[utoipa::path(
    tag = "sales",
    request_body = CreatePipeline,
    responses((status = 201, description = "Created", body = PipelineView))
)]
#[post("/pipelines")]
pub async fn create_pipeline(
    state: web::Data<AppState>,
    admin: Admin,
    body: JsonBody<CreatePipeline>,
) -> ApiResult<HttpResponse> {
    let p = ops::create_pipeline(state.db(), &admin, body.0).await?;
    Ok(created(
        format!("/api/v1/pipelines/{}", p.id),
        p.version,
        &p,
    ))
}

/// Reads one pipeline with its stages.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Pipeline id")),
    responses((status = 200, description = "The pipeline", body = PipelineView))
)]
#[get("/pipelines/{id}")]
pub async fn get_pipeline(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let p = ops::get_pipeline(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, p.version, &p))
}

/// Renames or reorders a pipeline (admin).
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Pipeline id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdatePipeline,
    responses((status = 200, description = "Updated", body = PipelineView))
)]
#[patch("/pipelines/{id}")]
pub async fn update_pipeline(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdatePipeline>,
) -> ApiResult<HttpResponse> {
    let p = ops::update_pipeline(state.db(), &admin, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, p.version, &p))
}

/// Deletes a pipeline (admin). Refused with 409 while deals are in it, and for the default
/// pipeline.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Pipeline id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/pipelines/{id}")]
pub async fn delete_pipeline(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    ops::delete_pipeline(state.db(), &admin, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds a stage to a pipeline (admin).
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Pipeline id")),
    request_body = NewStage,
    responses((status = 201, description = "Added; the whole pipeline", body = PipelineView))
)]
#[post("/pipelines/{id}/stages")]
pub async fn add_stage(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    body: JsonBody<NewStage>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let a = ops::add_stage(state.db(), &admin, id, body.0).await?;
    Ok(created(
        format!("/api/v1/pipelines/{id}/stages/{}", a.stage_id),
        a.pipeline.version,
        &a.pipeline,
    ))
}

/// Renames, re-kinds or moves a stage (admin). A pipeline keeps at least one `open` stage.
#[utoipa::path(
    tag = "sales",
    params(StagePath, ("If-Match" = Option<String>, Header, description = "ETag of the stage version you read")),
    request_body = UpdateStage,
    responses((status = 200, description = "Updated; the whole pipeline", body = PipelineView))
)]
#[patch("/pipelines/{id}/stages/{stage_id}")]
pub async fn update_stage(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<StagePath>,
    if_match: IfMatch,
    body: JsonBody<UpdateStage>,
) -> ApiResult<HttpResponse> {
    let StagePath { id, stage_id } = path.into_inner();
    let p = ops::update_stage(state.db(), &admin, id, stage_id, if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, p.version, &p))
}

/// Deletes a stage (admin). Refused with 409 while deals stand in it, or when it is the
/// pipeline's last `open` stage.
#[utoipa::path(
    tag = "sales",
    params(StagePath, ("If-Match" = Option<String>, Header, description = "ETag of the stage version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/pipelines/{id}/stages/{stage_id}")]
pub async fn delete_stage(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<StagePath>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let StagePath { id, stage_id } = path.into_inner();
    ops::delete_stage(state.db(), &admin, id, stage_id, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
