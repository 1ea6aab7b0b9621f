//! `/files`: attachments (ACT-3). Uploads stream to a staging file (size limit enforced as the
//! bytes arrive, SHA-256 and content sniffing on the way), move into the file storage, and
//! only then is the metadata row committed; if that commit fails the stored bytes are
//! removed again. A deal's file also lands in its company's folder through `company_id`.
//!
//! A file is as visible as the record it hangs on (`access::ensure_visible`); a deal's file
//! takes the deal's company unless the uploader names one.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use futures_util::StreamExt;
use sdelka_domain::files::{
    SNIFF_BYTES, Sniffed, TextCheck, clean_file_name, content_disposition, sniff_magic,
};
use sdelka_persistence::ops::files::{
    self as ops, DocumentTypeName, FileContent, FileEntityType, FileListFilter, FileView, NewFile,
    UPLOAD_PATH, UploadFileForm,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, multipart_error, read_text_field, too_large};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::versioned;
use crate::state::AppState;
use crate::storage::{FileStorage, Staged};
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_files)
        .service(upload_file)
        .service(get_file)
        .service(download_file)
        .service(delete_file);
}

/// Uploads a file as `multipart/form-data` and attaches it to a record. The bytes decide the
/// stored content type; a part Content-Type that contradicts them is refused (422), a file
/// over the size limit is refused while it streams (413).
#[utoipa::path(
    tag = "work",
    request_body(content = UploadFileForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = FileView),
        (status = 413, description = "The file exceeds the upload limit (`SDELKA_MAX_UPLOAD_BYTES`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not multipart/form-data", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/files")]
pub async fn upload_file(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let storage = state.files.clone();
    let limit = state.config.max_upload_bytes;
    let mut form = Multipart::new(req.headers(), payload);
    let mut received: Option<Received> = None;
    let mut fields = HashMap::new();
    while let Some(field) = form.next().await {
        let mut field = field.map_err(multipart_error)?;
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" if received.is_some() => {
                return Err(ApiError::field(
                    "file",
                    "duplicate",
                    "send one file per upload",
                ));
            }
            "file" => received = Some(receive_file(storage.as_ref(), &mut field, limit).await?),
            "entity_type" | "entity_id" | "document_type" | "company_id" => {
                let value = read_text_field(&mut field, 4096, &name).await?;
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
    let entity_type: FileEntityType = enum_field("entity_type", required(&fields, "entity_type")?)?;
    let entity_id = uuid_field("entity_id", required(&fields, "entity_id")?)?;
    let document_type: DocumentTypeName =
        enum_field("document_type", required(&fields, "document_type")?)?;
    let company_id = match fields.get("company_id").filter(|v| !v.is_empty()) {
        Some(v) => Some(uuid_field("company_id", v)?),
        None => None,
    };
    let Some(received) = received else {
        return Err(ApiError::field(
            "file",
            "required",
            "the `file` part is required",
        ));
    };
    let Received {
        mut staged,
        file_name,
        declared,
        size,
        sha256,
        sniffed,
    } = received;
    // The bytes go into the file storage first; the operation records them, and when it
    // refuses, the bytes are removed again.
    let key = Uuid::now_v7().simple().to_string();
    storage
        .put(&key, &staged.path)
        .await
        .map_err(ApiError::internal)?;
    staged.kept = true;
    let recorded = ops::record_file(
        state.db(),
        &caller,
        NewFile {
            entity_type,
            entity_id,
            document_type,
            company_id,
            file_name,
            declared_content_type: declared,
            sniffed,
            size: size as u64,
            sha256,
            storage_key: key.clone(),
        },
    )
    .await;
    let saved = match recorded {
        Ok(v) => v,
        Err(e) => {
            // The row is not there, so neither may the bytes be.
            if let Err(d) = storage.delete(&key).await {
                tracing::warn!(error = %d, key, "could not remove the bytes of a failed upload");
            }
            return Err(e.into());
        }
    };
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("{UPLOAD_PATH}/{}", saved.id)))
        .insert_header((header::ETAG, crate::extract::etag(saved.version)))
        .json(saved))
}

/// Lists files: of one record (`entity_type` + `entity_id`) or a company's folder
/// (`company_id`: its own files and its deals' files).
#[utoipa::path(
    tag = "work",
    params(ListParams, FileListFilter),
    responses((status = 200, description = "A page of files", body = ListPage<FileView>))
)]
#[get("/files")]
pub async fn list_files(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<FileListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_files(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Reads a file's metadata.
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "File id")),
    responses((status = 200, description = "The file's metadata", body = FileView))
)]
#[get("/files/{id}")]
pub async fn get_file(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let f = ops::get_file(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, f.version, &f))
}

/// Downloads a file's content with the content type sniffed at upload (PDF, PNG, JPEG, GIF,
/// office documents, ZIP, plain text) and its name (`filename*` keeps Cyrillic
/// names intact).
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "File id")),
    responses((status = 200, description = "The content", body = FileContent, content_type = "*/*"))
)]
#[get("/files/{id}/content")]
pub async fn download_file(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let stored = ops::open_file(state.db(), &caller, id.into_inner()).await?;
    let f = stored.file;
    let bytes = state
        .files
        .get(&stored.storage_key)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, f.content_type.clone()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&f.file_name),
        ))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header((header::ETAG, crate::extract::etag(f.version)))
        .body(bytes))
}

/// Deletes a file (the uploader or an admin). The record stays for the audit trail.
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "File id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/files/{id}")]
pub async fn delete_file(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    ops::delete_file(state.db(), &caller, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What was learnt about the file part while it streamed in.
pub struct Received {
    staged: Staged,
    file_name: String,
    declared: Option<String>,
    size: usize,
    sha256: String,
    sniffed: Option<Sniffed>,
}

pub fn file_name_of(field: &actix_multipart::Field) -> String {
    let Some(cd) = field.content_disposition() else {
        return clean_file_name("");
    };
    let ext = cd
        .get_filename_ext()
        .filter(
            |v| matches!(v.charset, header::Charset::Ext(ref c) if c.eq_ignore_ascii_case("utf-8")),
        )
        .and_then(|v| String::from_utf8(v.value.clone()).ok());
    clean_file_name(
        &ext.or_else(|| cd.get_filename().map(str::to_owned))
            .unwrap_or_default(),
    )
}

pub async fn receive_file(
    storage: &dyn FileStorage,
    field: &mut actix_multipart::Field,
    limit: usize,
) -> ApiResult<Received> {
    let staged = Staged::new(storage).map_err(ApiError::internal)?;
    let file_name = file_name_of(field);
    let declared = field.content_type().map(|m| m.essence_str().to_owned());
    let mut out = tokio::fs::File::create(&staged.path)
        .await
        .map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut text = TextCheck::default();
    let mut size = 0usize;
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(multipart_error)?;
        size += chunk.len();
        if size > limit {
            return Err(too_large(limit));
        }
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        text.feed(&chunk);
        out.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    out.sync_all().await.map_err(ApiError::internal)?;
    let sniffed = sniff_magic(&head).or((size > 0 && text.is_text()).then_some(Sniffed::Text));
    Ok(Received {
        staged,
        file_name,
        declared,
        size,
        sha256: hex::encode(hasher.finalize()),
        sniffed,
    })
}

pub fn required<'a>(fields: &'a HashMap<String, String>, name: &str) -> ApiResult<&'a str> {
    fields
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::field(name, "required", format!("{name} is required")))
}

pub fn uuid_field(name: &str, v: &str) -> ApiResult<Uuid> {
    v.parse()
        .map_err(|_| ApiError::field(name, "invalid_format", format!("{name} must be a UUID")))
}

pub fn enum_field<T: serde::de::DeserializeOwned>(name: &str, v: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(v.to_owned())).map_err(|_| {
        ApiError::field(
            name,
            "unknown_value",
            format!("`{v}` is not a known {name}"),
        )
    })
}
