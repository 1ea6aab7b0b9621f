//! `/numbering-templates` (WF-NUM-1): per own organisation and document type, how document
//! numbers are spelled and when their counter starts again. Anyone signed in may read them and
//! preview the next number; only admins change them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::Utc;
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_persistence::entity::{numbering_template, organization};
use sdelka_persistence::journal::now;
use sdelka_persistence::numbering::{DOCUMENT_TYPES, live_key, preview, templates_query};
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, ensure_exists, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::numbering_templates::*;

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
    _caller: Principal,
    page: web::Query<ListParams>,
    filter: web::Query<NumberingTemplateFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let query = templates_query(
        filter.organization_id,
        filter.document_type.as_deref(),
        page.updated_since,
    );
    let page = fetch_page(
        &state.store.conn,
        query,
        req,
        numbering_template::Column::Id,
        |m| m.id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |m| NumberingTemplateView::from(m))))
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
    let req = body.0;
    let mut v = Violations::new();
    if !DOCUMENT_TYPES.contains(&req.document_type.as_str()) {
        v.push(FieldViolation::new(
            "document_type",
            "invalid_choice",
            format!("document_type must be one of {}", DOCUMENT_TYPES.join(", ")),
        ));
    }
    let template = check_template(&req.template, &mut v);
    let reset = check_reset(req.reset.as_deref().unwrap_or("yearly"), &mut v);
    let (Some(template), Some(reset), true) = (template, reset, v.is_empty()) else {
        return Err(v.into());
    };
    let txn = state.store.begin().await?;
    ensure_exists::<organization::Entity, _>(&txn, "organization_id", req.organization_id).await?;
    let at = now();
    let model = numbering_template::Model {
        id: Uuid::now_v7(),
        organization_id: req.organization_id,
        live_key: Some(live_key(req.organization_id, &req.document_type)),
        document_type: req.document_type,
        template,
        reset,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let saved = records::create::<numbering_template::Entity, _>(
        &txn,
        &admin.actor(),
        model,
        records::snapshot,
    )
    .await
    .map_err(duplicate)?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/numbering-templates/{}", saved.id),
        saved.version,
        &NumberingTemplateView::from(&saved),
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
    _caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let t =
        records::find::<numbering_template::Entity, _>(&state.store.conn, id.into_inner()).await?;
    Ok(versioned(
        StatusCode::OK,
        t.version,
        &NumberingTemplateView::from(&t),
    ))
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
    let req = body.0;
    let mut v = Violations::new();
    let template = req.template.as_deref().map(|t| check_template(t, &mut v));
    let reset = req.reset.as_deref().map(|r| check_reset(r, &mut v));
    if !v.is_empty() {
        return Err(v.into());
    }
    let txn = state.store.begin().await?;
    let saved = records::update::<numbering_template::Entity, _, _, ApiError>(
        &txn,
        &admin.actor(),
        id.into_inner(),
        if_match.0,
        |t| {
            if let Some(Some(s)) = &template {
                t.template = s.clone();
            }
            if let Some(Some(r)) = &reset {
                t.reset = r.clone();
            }
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        saved.version,
        &NumberingTemplateView::from(&saved),
    ))
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
    let id = id.into_inner();
    let txn = state.store.begin().await?;
    // Frees the (organisation, type) slot first, within the same versioned write.
    records::update::<numbering_template::Entity, _, _, ApiError>(
        &txn,
        &admin.actor(),
        id,
        if_match.0,
        |t| {
            t.live_key = None;
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    records::soft_delete::<numbering_template::Entity, _>(
        &txn,
        &admin.actor(),
        id,
        None,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
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
    _caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<PreviewRequest>,
) -> ApiResult<HttpResponse> {
    let db = &state.store.conn;
    let t = records::find::<numbering_template::Entity, _>(db, id.into_inner()).await?;
    let date = body.0.date.unwrap_or_else(|| Utc::now().date_naive());
    let p = preview(db, &t, date).await?;
    Ok(HttpResponse::Ok().json(PreviewView {
        number: p.number,
        period: p.period,
        counter: p.counter,
    }))
}
