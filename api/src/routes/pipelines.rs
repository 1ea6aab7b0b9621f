//! `/pipelines`: sales pipelines and their ordered stages (DEAL-1). Everyone reads them;
//! configuring them is for admins. The default pipeline "Продажи" comes with the schema.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_domain::deal::StageKind;
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_persistence::entity::{pipeline, pipeline_stage};
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use sdelka_persistence::sales::{deals_in_pipeline, deals_in_stage, pipelines_query, stages_of};
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::pipelines::*;

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
    _caller: Principal,
    page: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "sort")?;
    let query = pipelines_query(page.updated_since);
    let page = fetch_page(&state.store.conn, query, req, pipeline::Column::Id, |m| {
        m.id
    })
    .await?;
    let ids: Vec<Uuid> = page.items.iter().map(|p| p.id).collect();
    let stages = stages_of(&state.store.conn, &ids).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |p| PipelineView::new(p, &stages))))
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
    let req = body.0;
    let mut v = Violations::new();
    if req.name.trim().is_empty() {
        v.push(FieldViolation::new(
            "name",
            "required",
            "name must not be blank",
        ));
    }
    for (i, s) in req.stages.iter().enumerate() {
        if s.name.trim().is_empty() {
            v.push(FieldViolation::new(
                format!("stages[{i}].name"),
                "required",
                "name must not be blank",
            ));
        }
    }
    if !v.is_empty() {
        return Err(v.into());
    }
    if !req.stages.iter().any(|s| s.kind == StageKindName::Open) {
        return Err(no_open_stage("stages").into());
    }
    let at = now();
    let model = pipeline::Model {
        id: Uuid::now_v7(),
        name: req.name.trim().to_owned(),
        sort: req.sort.unwrap_or(0),
        is_default: false,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let actor = admin.actor();
    let txn = state.store.begin().await?;
    let saved =
        records::create::<pipeline::Entity, _>(&txn, &actor, model, records::snapshot).await?;
    let mut stages = Vec::with_capacity(req.stages.len());
    for (i, s) in req.stages.iter().enumerate() {
        let sort = s.sort.unwrap_or((i as i32 + 1) * 10);
        let m = stage_model(saved.id, &s.name, s.kind.into(), sort);
        stages.push(
            records::create::<pipeline_stage::Entity, _>(&txn, &actor, m, records::snapshot)
                .await?,
        );
    }
    txn.commit().await?;
    stages.sort_by_key(|s| (s.sort, s.id));
    Ok(created(
        format!("/api/v1/pipelines/{}", saved.id),
        saved.version,
        &PipelineView::new(&saved, &stages),
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
    _caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let (p, stages) = pipeline_with_stages(&state.store.conn, id.into_inner()).await?;
    Ok(versioned(
        StatusCode::OK,
        p.version,
        &PipelineView::new(&p, &stages),
    ))
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
    let id = id.into_inner();
    let req = body.0;
    let txn = state.store.begin().await?;
    let updated = records::update::<pipeline::Entity, _, _, ApiError>(
        &txn,
        &admin.actor(),
        id,
        if_match.0,
        |p| {
            if let Some(n) = &req.name {
                if n.trim().is_empty() {
                    return Err(ApiError::field(
                        "name",
                        "required",
                        "name must not be blank",
                    ));
                }
                p.name = n.trim().to_owned();
            }
            if let Some(s) = req.sort {
                p.sort = s;
            }
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    let stages = stages_of(&txn, &[id]).await?;
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        updated.version,
        &PipelineView::new(&updated, &stages),
    ))
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
    let id = id.into_inner();
    let actor = admin.actor();
    let txn = state.store.begin().await?;
    let (p, stages) = pipeline_with_stages(&txn, id).await?;
    if p.is_default {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the default pipeline cannot be deleted",
        ));
    }
    let in_use = deals_in_pipeline(&txn, id).await?;
    if in_use > 0 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("{in_use} deal(s) are in this pipeline; move or delete them first"),
        ));
    }
    records::soft_delete::<pipeline::Entity, _>(&txn, &actor, id, if_match.0, records::snapshot)
        .await?;
    for s in stages {
        records::soft_delete::<pipeline_stage::Entity, _>(
            &txn,
            &actor,
            s.id,
            None,
            records::snapshot,
        )
        .await?;
    }
    txn.commit().await?;
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
    let req = body.0;
    if req.name.trim().is_empty() {
        return Err(ApiError::field(
            "name",
            "required",
            "name must not be blank",
        ));
    }
    let txn = state.store.begin().await?;
    let (p, existing) = pipeline_with_stages(&txn, id).await?;
    let sort = req.sort.unwrap_or_else(|| {
        existing
            .iter()
            .map(|s| s.sort)
            .max()
            .unwrap_or(0)
            .saturating_add(10)
    });
    let stage = stage_model(id, &req.name, req.kind.into(), sort);
    let stage_id = stage.id;
    records::create::<pipeline_stage::Entity, _>(&txn, &admin.actor(), stage, records::snapshot)
        .await?;
    let stages = stages_of(&txn, &[id]).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/pipelines/{id}/stages/{stage_id}"),
        p.version,
        &PipelineView::new(&p, &stages),
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
    let req = body.0;
    let txn = state.store.begin().await?;
    let (p, existing) = pipeline_with_stages(&txn, id).await?;
    if !existing.iter().any(|s| s.id == stage_id) {
        return Err(ApiError::not_found());
    }
    if let Some(kind) = req.kind
        && kind != StageKindName::Open
        && !existing
            .iter()
            .any(|s| s.id != stage_id && kind_of(s) == StageKind::Open)
    {
        return Err(no_open_stage("kind").into());
    }
    records::update::<pipeline_stage::Entity, _, _, ApiError>(
        &txn,
        &admin.actor(),
        stage_id,
        if_match.0,
        |s| {
            if let Some(n) = &req.name {
                if n.trim().is_empty() {
                    return Err(ApiError::field(
                        "name",
                        "required",
                        "name must not be blank",
                    ));
                }
                s.name = n.trim().to_owned();
            }
            if let Some(k) = req.kind {
                s.kind = StageKind::from(k).as_str().to_owned();
            }
            if let Some(o) = req.sort {
                s.sort = o;
            }
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    let stages = stages_of(&txn, &[id]).await?;
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        p.version,
        &PipelineView::new(&p, &stages),
    ))
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
    let txn = state.store.begin().await?;
    let (_, existing) = pipeline_with_stages(&txn, id).await?;
    let Some(stage) = existing.iter().find(|s| s.id == stage_id) else {
        return Err(ApiError::not_found());
    };
    let in_use = deals_in_stage(&txn, stage_id).await?;
    if in_use > 0 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("{in_use} deal(s) are in this stage; move them to another stage first"),
        ));
    }
    if kind_of(stage) == StageKind::Open
        && !existing
            .iter()
            .any(|s| s.id != stage_id && kind_of(s) == StageKind::Open)
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this is the pipeline's last open stage; new deals would have nowhere to start",
        ));
    }
    records::soft_delete::<pipeline_stage::Entity, _>(
        &txn,
        &admin.actor(),
        stage_id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
