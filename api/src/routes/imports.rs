//! `/imports` (INT-CSV): the "large list of housing companies in a file" as leads, companies
//! or contacts. The file comes as JSON (`content`, within the body limit), as the CSV file
//! itself (`text/csv`) or as a multipart form; the last two have their own, larger limit
//! (`SDELKA_MAX_IMPORT_BYTES`) and stream to the file store rather than into memory.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use sdelka_domain::text_encoding::{DecodeError, decode};
use sdelka_persistence::ops::imports::{
    self as ops, CsvBody, DryRunReport, IMPORTS_PATH, ImportEntity, ImportFile, ImportForm,
    ImportListFilter, ImportSettings, ImportStarted, ImportView, StartImport,
};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{
    multipart_error, parse_json, read_limited, read_text_field, too_large, validate,
};
use crate::lists::{ListPage, ListParams};
use crate::state::AppState;
use crate::storage::{FileStorage, StageError, Staged, StagedBytes, stage_stream};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_imports)
        .service(start_import)
        .service(get_import);
}

/// The settings of a `text/csv` import travel in the query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CsvImportParams {
    /// `text/csv` body: what the rows become (required).
    #[param(inline)]
    pub entity: Option<ImportEntity>,
    /// `text/csv` body: the mapping as a JSON object, CSV column header → field (required).
    pub mapping: Option<String>,
    /// `text/csv` body: check every row and report, writing nothing.
    pub dry_run: Option<bool>,
    /// `text/csv` body: `;`, `,` or a tab; detected from the header line when absent.
    pub delimiter: Option<String>,
    /// `text/csv` body: the file's encoding (`utf-8`, `windows-1251`); else the
    /// `charset` of the Content-Type, else detected from the bytes.
    pub charset: Option<String>,
    /// `text/csv` body: responsible of the created records; default: the caller.
    pub responsible_id: Option<Uuid>,
}

/// Imports a CSV file as leads, companies or contacts. With `dry_run: true` every row is
/// checked and the answer (200) lists each bad row with its line, column and reason — nothing
/// is written. Without it, the import is queued (202) and runs in the background; poll
/// `GET /imports/{id}` for progress. Running the same file again creates nothing twice.
///
/// Three forms: JSON with the text in `content` (within the general body limit); the file
/// itself as `text/csv` with the settings in the query string; or `multipart/form-data` with
/// a `file` part and the settings as form fields. The last two may be as large as
/// `SDELKA_MAX_IMPORT_BYTES` (64 MiB by default) and are read as UTF-8 or windows-1251 —
/// named by `charset` (field, parameter or the Content-Type's `charset`) or detected from the
/// bytes (a byte-order mark, else valid UTF-8, else windows-1251).
#[utoipa::path(
    tag = "imports",
    params(CsvImportParams),
    request_body(content(
        (StartImport = "application/json"),
        (CsvBody = "text/csv"),
        (ImportForm = "multipart/form-data")
    )),
    responses(
        (status = 200, description = "Dry run report", body = DryRunReport),
        (status = 202, description = "Queued", body = ImportView),
        (status = 413, description = "The file exceeds the import limit (`SDELKA_MAX_IMPORT_BYTES`; JSON: `SDELKA_MAX_BODY_BYTES`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON, text/csv or multipart/form-data", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/imports")]
pub async fn start_import(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    payload: web::Payload,
    params: web::Query<CsvImportParams>,
) -> ApiResult<HttpResponse> {
    let storage = state.files.clone();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let upload = match essence.as_str() {
        "application/json" => from_json(&state, storage.as_ref(), payload).await?,
        e if e.ends_with("+json") => from_json(&state, storage.as_ref(), payload).await?,
        "text/csv" | "text/plain" | "application/csv" => {
            let params = params.into_inner();
            let charset = params.charset.clone().or_else(|| charset_of(&content_type));
            let settings = settings_from_params(params)?;
            let staged = stage_stream(storage.as_ref(), payload, state.config.max_import_bytes)
                .await
                .map_err(|e| stage_error(e, state.config.max_import_bytes, body_error))?;
            Upload {
                settings,
                staged,
                charset,
                field: "file",
            }
        }
        "multipart/form-data" => from_multipart(&state, storage.as_ref(), &req, payload).await?,
        _ => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the import as application/json, text/csv or multipart/form-data",
            ));
        }
    };
    let Upload {
        settings,
        mut staged,
        charset,
        field,
    } = upload;
    if staged.size == 0 {
        return Err(ApiError::field(field, "required", "the file is empty"));
    }
    let bytes = tokio::fs::read(&staged.staged.path)
        .await
        .map_err(ApiError::internal)?;
    let decoded = decode(&bytes, charset.as_deref()).map_err(|e| match e {
        DecodeError::UnknownCharset(_) => {
            ApiError::field("charset", "unknown_value", e.to_string())
        }
        DecodeError::Invalid { .. } => ApiError::field(field, "invalid_encoding", e.to_string()),
    })?;
    drop(bytes);
    if decoded.text.contains('\0') {
        return Err(ApiError::field(
            field,
            "nul_character",
            "the file must not contain the NUL character",
        ));
    }
    // A real run keeps the file in the file store, where any instance's runner finds it.
    let storage_key = if settings.dry_run {
        None
    } else {
        let key = Uuid::now_v7().simple().to_string();
        storage
            .put(&key, &staged.staged.path)
            .await
            .map_err(ApiError::internal)?;
        staged.staged.kept = true;
        Some(key)
    };
    let file = ImportFile {
        text: decoded.text,
        encoding: decoded.encoding.to_owned(),
        sha256: staged.sha256.clone(),
        storage_key: storage_key.clone(),
    };
    let started = match ops::start_import(state.db(), &caller, settings, file).await {
        Ok(s) => s,
        Err(e) => {
            if let Some(key) = &storage_key
                && let Err(d) = storage.delete(key).await
            {
                tracing::warn!(error = %d, key, "could not remove the file of a refused import");
            }
            return Err(e.into());
        }
    };
    match started {
        ImportStarted::DryRun(report) => Ok(HttpResponse::Ok().json(report)),
        ImportStarted::Queued(job) => Ok(HttpResponse::Accepted()
            .insert_header((header::LOCATION, format!("{IMPORTS_PATH}/{}", job.id)))
            .json(job)),
    }
}

/// The imports the caller may see: his own, every import for admins.
#[utoipa::path(
    tag = "imports",
    params(ListParams, ImportListFilter),
    responses((status = 200, description = "A page of imports", body = ListPage<ImportView>))
)]
#[get("/imports")]
pub async fn list_imports(
    state: web::Data<AppState>,
    caller: Principal,
    req: actix_web::HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<ImportListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = sdelka_persistence::ops::Caller::clone(&caller);
    crate::negotiate::list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_imports(state.db(), &caller, &page, filter).await }
        },
    )
    .await
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

/// An import's settings and its file, staged on local disk.
struct Upload {
    settings: ImportSettings,
    staged: StagedBytes,
    /// The charset named by the sender, if any.
    charset: Option<String>,
    /// The field to blame for the file's content.
    field: &'static str,
}

/// The JSON form: the text is in `content`, within the general body limit.
async fn from_json(
    state: &AppState,
    storage: &dyn FileStorage,
    payload: web::Payload,
) -> ApiResult<Upload> {
    let bytes = read_limited(payload.into_inner(), state.config.max_body_bytes).await?;
    let body = parse_json::<StartImport>(&bytes)?;
    validate(&body)?;
    drop(bytes);
    let (settings, content) = body.into_parts();
    let staged = Staged::new(storage).map_err(ApiError::internal)?;
    let mut out = tokio::fs::File::create(&staged.path)
        .await
        .map_err(ApiError::internal)?;
    out.write_all(content.as_bytes())
        .await
        .map_err(ApiError::internal)?;
    out.sync_all().await.map_err(ApiError::internal)?;
    Ok(Upload {
        settings,
        staged: StagedBytes {
            staged,
            size: content.len(),
            sha256: sdelka_persistence::ops::import_jobs::content_hash(content.as_bytes()),
        },
        charset: Some("utf-8".into()),
        field: "content",
    })
}

/// The multipart form: a `file` part and the settings as fields.
async fn from_multipart(
    state: &AppState,
    storage: &dyn FileStorage,
    req: &HttpRequest,
    payload: web::Payload,
) -> ApiResult<Upload> {
    let limit = state.config.max_import_bytes;
    let mut form = Multipart::new(req.headers(), payload);
    let mut file: Option<(StagedBytes, Option<String>)> = None;
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    while let Some(part) = form.next().await {
        let mut part = part.map_err(multipart_error)?;
        let name = part.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" if file.is_some() => {
                return Err(ApiError::field(
                    "file",
                    "duplicate",
                    "send one file per import",
                ));
            }
            "file" => {
                let charset = part
                    .content_type()
                    .and_then(|m| m.get_param("charset").map(|c| c.as_str().to_owned()));
                let staged = stage_stream(storage, &mut part, limit)
                    .await
                    .map_err(|e| stage_error(e, limit, multipart_error))?;
                file = Some((staged, charset));
            }
            "entity" | "mapping" | "dry_run" | "delimiter" | "charset" | "responsible_id" => {
                let value = read_text_field(&mut part, 64 * 1024, &name).await?;
                fields.insert(name, value);
            }
            other => {
                return Err(ApiError::field(
                    other,
                    "unknown_field",
                    format!("unknown form field `{other}`"),
                ));
            }
        }
    }
    let params = CsvImportParams {
        entity: match fields.get("entity").filter(|v| !v.is_empty()) {
            Some(v) => Some(enum_value("entity", v)?),
            None => None,
        },
        mapping: fields.get("mapping").cloned(),
        dry_run: match fields.get("dry_run").map(|v| v.to_ascii_lowercase()) {
            None => None,
            Some(v) if v.is_empty() || v == "false" => Some(false),
            Some(v) if v == "true" => Some(true),
            Some(_) => {
                return Err(ApiError::field(
                    "dry_run",
                    "invalid_format",
                    "dry_run is true or false",
                ));
            }
        },
        delimiter: fields.get("delimiter").cloned(),
        charset: fields.get("charset").cloned().filter(|c| !c.is_empty()),
        responsible_id: match fields.get("responsible_id").filter(|v| !v.is_empty()) {
            Some(v) => Some(v.parse().map_err(|_| {
                ApiError::field(
                    "responsible_id",
                    "invalid_format",
                    "responsible_id must be a UUID",
                )
            })?),
            None => None,
        },
    };
    let Some((staged, part_charset)) = file else {
        return Err(ApiError::field(
            "file",
            "required",
            "the `file` part is required",
        ));
    };
    let charset = params.charset.clone().or(part_charset);
    Ok(Upload {
        settings: settings_from_params(params)?,
        staged,
        charset,
        field: "file",
    })
}

fn settings_from_params(p: CsvImportParams) -> ApiResult<ImportSettings> {
    let Some(entity) = p.entity else {
        return Err(ApiError::field(
            "entity",
            "required",
            "entity is required: leads, companies or contacts",
        ));
    };
    let Some(raw) = p.mapping.filter(|m| !m.trim().is_empty()) else {
        return Err(ApiError::field(
            "mapping",
            "required",
            "mapping is required: a JSON object, CSV column header → field",
        ));
    };
    let mapping: BTreeMap<String, String> = serde_json::from_str(&raw).map_err(|e| {
        ApiError::field(
            "mapping",
            "invalid_format",
            format!("mapping must be a JSON object of column → field: {e}"),
        )
    })?;
    Ok(ImportSettings {
        entity,
        mapping,
        dry_run: p.dry_run.unwrap_or(false),
        delimiter: p.delimiter.filter(|d| !d.is_empty()),
        responsible_id: p.responsible_id,
    })
}

/// The `charset` parameter of a Content-Type.
fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn stage_error<E>(e: StageError<E>, limit: usize, body: fn(E) -> ApiError) -> ApiError {
    match e {
        StageError::TooLarge => too_large(limit),
        StageError::Body(e) => body(e),
        StageError::Io(e) => ApiError::internal(e),
    }
}

fn body_error(e: actix_web::error::PayloadError) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedRequest,
        format!("cannot read body: {e}"),
    )
}

fn enum_value<T: serde::de::DeserializeOwned>(name: &str, v: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(v.to_owned())).map_err(|_| {
        ApiError::field(
            name,
            "unknown_value",
            format!("`{v}` is not a known {name}"),
        )
    })
}
