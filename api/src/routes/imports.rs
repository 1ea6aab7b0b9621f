//! `/imports` (INT-CSV): the "large list of housing companies in a file" as leads, companies
//! or contacts.

use actix_web::{HttpResponse, get, post, web};
use sdelka_persistence::ops::imports::{
    self as ops, DryRunReport, ImportStarted, ImportView, StartImport,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;

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
    match ops::start_import(state.db(), &caller, body.0).await? {
        ImportStarted::DryRun(report) => Ok(HttpResponse::Ok().json(report)),
        ImportStarted::Queued(job) => Ok(HttpResponse::Accepted()
            .insert_header(("location", format!("/api/v1/imports/{}", job.id)))
            .json(job)),
    }
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
    let job = ops::get_import(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(job))
}
