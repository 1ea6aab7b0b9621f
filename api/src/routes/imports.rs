//! `/imports` (INT-CSV): the "large list of housing companies in a file" as leads, companies
//! or contacts.

use actix_web::{HttpResponse, get, post, web};
use sdelka_persistence::entity::user;
use sdelka_persistence::leads;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::routes::ensure_exists;
use crate::state::AppState;
use sdelka_persistence::ops::import_jobs::{
    ImportKind, StoredMapping, already_imported, parse_rows, queued_import,
};
#[allow(unused_imports)]
use sdelka_persistence::ops::imports::*;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(start_import).service(get_import);
}

/// Imports a CSV file as leads, companies or contacts. With `dry_run: true` every row is checked and the answer
/// (200) lists each bad row with its line, column and reason — nothing is written. Without
/// it, the import is queued (202) and runs in the background; poll `GET /imports/{id}` for
/// progress. Running the same file again creates nothing twice.
#[utoipa::path(
    tag = "imports",
    request_body = StartImport,
    responses(
        (status = 200, description = "Dry run report", body = DryRunReport),
        (status = 202, description = "Queued", body = ImportView),
    )
)]
#[post("/imports")]
pub async fn start_import(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<StartImport>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let delimiter = match req.delimiter.as_deref() {
        None => None,
        Some(";") => Some(b';'),
        Some(",") => Some(b','),
        Some("\t") => Some(b'\t'),
        Some(_) => {
            return Err(ApiError::field(
                "delimiter",
                "unknown_value",
                "delimiter is `;`, `,` or a tab",
            ));
        }
    };
    let kind = ImportKind::from(req.entity);
    let parsed = parse_rows(kind, &req.content, &req.mapping, delimiter)?;
    let responsible = req.responsible_id.unwrap_or(caller.user_id);
    if responsible != caller.user_id {
        ensure_exists::<user::Entity, _>(&state.store.conn, "responsible_id", responsible).await?;
    }
    if req.dry_run {
        let mut seen = std::collections::HashSet::new();
        let mut would_skip = 0;
        for row in &parsed.rows {
            if !seen.insert((row.key.source.as_str(), row.key.id.as_str()))
                || already_imported(&state.store.conn, kind, &row.key).await?
            {
                would_skip += 1;
            }
        }
        let valid = parsed.rows.len() as u64;
        return Ok(HttpResponse::Ok().json(DryRunReport {
            dry_run: true,
            total_rows: parsed.total,
            valid_rows: valid,
            would_create: valid - would_skip,
            would_skip,
            errors: parsed.errors,
        }));
    }
    let stored = StoredMapping {
        mapping: req.mapping,
        delimiter,
        responsible_id: responsible,
    };
    let job = queued_import(
        kind.as_str(),
        req.content,
        &stored,
        caller.user_id,
        parsed.total,
    );
    let job = leads::insert_import(&state.store.conn, job).await?;
    Ok(HttpResponse::Accepted()
        .insert_header(("location", format!("/api/v1/imports/{}", job.id)))
        .json(ImportView::from(&job)))
}

/// Progress and outcome of an import (its creator and admins).
#[utoipa::path(
    tag = "imports",
    params(("id" = Uuid, Path, description = "Import id")),
    responses((status = 200, description = "The import", body = ImportView))
)]
#[get("/imports/{id}")]
pub async fn get_import(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let job = leads::get_import(&state.store.conn, id.into_inner())
        .await?
        .filter(|j| j.created_by == caller.user_id || caller.is_admin())
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(ImportView::from(&job)))
}
