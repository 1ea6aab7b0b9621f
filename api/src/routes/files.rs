//! `/files`: attachments (ACT-3). Uploads stream to a staging file (size limit enforced as the
//! bytes arrive, SHA-256 and content sniffing on the way), move into the file storage, and
//! only then is the metadata row committed; if that commit fails the stored bytes are
//! removed again. A deal's file also lands in its company's folder through `company_id`.
//!
//! A file is as visible as the record it hangs on (`access::ensure_visible`); a deal's file
//! takes the deal's company unless the uploader names one.

use std::collections::HashMap;

use sdelka_persistence::ops::access::ensure_visible;
use sdelka_persistence::ops::timeline::TimelineEntity;
use std::path::PathBuf;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use futures_util::StreamExt;
use sdelka_domain::files::{
    ContentVerdict, SNIFF_BYTES, Sniffed, TextCheck, clean_file_name, content_disposition,
    judge_content, sniff_magic,
};
use sdelka_persistence::attachments::{FileFilter, files_query, visible_files};
use sdelka_persistence::entity::file;
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::{CursorValue, SortKey, fetch_page};
use sdelka_persistence::records;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{IfMatch, too_large};
use crate::lists::{ListPage, ListParams};
use crate::routes::versioned;
use crate::state::AppState;
use crate::storage::{FileStorage, file_storage};
#[allow(unused_imports)]
use sdelka_persistence::ops::files::*;

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
    let storage = file_storage(&state.config);
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
                let value = read_text_field(&mut field, &name).await?;
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
    let mut company_id = match fields.get("company_id").filter(|v| !v.is_empty()) {
        Some(v) => Some(uuid_field("company_id", v)?),
        None => None,
    };
    let Some(mut received) = received else {
        return Err(ApiError::field(
            "file",
            "required",
            "the `file` part is required",
        ));
    };
    if received.size == 0 {
        return Err(ApiError::field("file", "empty", "the file is empty"));
    }
    let content_type = match judge_content(received.sniffed, received.declared.as_deref()) {
        ContentVerdict::Accepted(ct) => ct,
        ContentVerdict::Unsupported => {
            return Err(ApiError::field(
                "file",
                "unsupported_content",
                "the file is none of PDF, PNG, JPEG, GIF, a ZIP-based office document or UTF-8 text",
            ));
        }
        ContentVerdict::Mismatch { declared, actual } => {
            return Err(ApiError::field(
                "file",
                "content_type_mismatch",
                format!("the part declares {declared} but the content is {actual}"),
            ));
        }
    };
    if entity_type == FileEntityType::Company {
        if company_id.is_some_and(|c| c != entity_id) {
            return Err(ApiError::field(
                "company_id",
                "mismatch",
                "a company's file belongs to that company's folder",
            ));
        }
        company_id = Some(entity_id);
    }
    let db = &state.store.conn;
    // The record the file is attached to must exist and be visible to the uploader.
    match ensure_visible(db, &caller, entity_type.record(), entity_id, false).await {
        Ok(()) => {}
        Err(e) if e.code == ErrorCode::NotFound => {
            return Err(ApiError::field(
                "entity_id",
                "not_found",
                format!("{} {entity_id} does not exist", entity_type.as_str()),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    // A deal's file also lands in its company's folder.
    if entity_type == FileEntityType::Deal && company_id.is_none() {
        company_id = records::find::<sdelka_persistence::entity::deal::Entity, _>(db, entity_id)
            .await?
            .company_id;
    }

    let key = Uuid::now_v7().simple().to_string();
    storage
        .put(&key, &received.staged.path)
        .await
        .map_err(ApiError::internal)?;
    received.staged.kept = true;
    let at = now();
    let model = file::Model {
        id: Uuid::now_v7(),
        entity_type: entity_type.as_str().to_owned(),
        entity_id,
        company_id,
        document_type: enum_to_str(document_type),
        file_name: received.file_name,
        content_type,
        size_bytes: received.size as i64,
        sha256: received.sha256,
        storage_key: key.clone(),
        uploaded_by: caller.user_id,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let saved: ApiResult<file::Model> = async {
        let txn = sdelka_persistence::db::begin_writing(db).await?;
        let m = records::create::<file::Entity, _>(&txn, &caller.actor(), model, records::snapshot)
            .await?;
        txn.commit().await?;
        Ok(m)
    }
    .await;
    let saved = match saved {
        Ok(m) => m,
        Err(e) => {
            // The row is not there, so neither may the bytes be.
            if let Err(d) = storage.delete(&key).await {
                tracing::warn!(error = %d, key, "could not remove the bytes of a failed upload");
            }
            return Err(e);
        }
    };
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("{UPLOAD_PATH}/{}", saved.id)))
        .insert_header((header::ETAG, crate::extract::etag(saved.version)))
        .json(FileView::from(&saved)))
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
    page: web::Query<ListParams>,
    filter: web::Query<FileListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = [
        SortKey::<file::Entity> {
            name: "created_at",
            column: file::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey::<file::Entity> {
            name: "file_name",
            column: file::Column::FileName,
            key: |m| CursorValue::Text(m.file_name.clone()),
        },
    ];
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let db = &state.store.conn;
    let query = files_query(&FileFilter {
        entity_type: f.entity_type.map(|t| t.as_str().to_owned()),
        entity_id: f.entity_id,
        company_id: f.company_id,
        document_type: f.document_type.map(enum_to_str),
        updated_since: page.updated_since,
    });
    // A supplier invoice's folder is as visible as the invoice (pools and holders, not the
    // responsible-based scope the other records use).
    let query = match (f.entity_type, f.entity_id) {
        (Some(FileEntityType::SupplierInvoice), Some(id)) => {
            ensure_visible(db, &caller, TimelineEntity::SupplierInvoices, id, true).await?;
            query
        }
        _ => visible_files(query, &caller.visibility(db).await?),
    };
    let page = fetch_page(db, query, req, file::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |m| FileView::from(m))))
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
    let f = visible_file(&state.store.conn, &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, f.version, &FileView::from(&f)))
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
    let f = visible_file(&state.store.conn, &caller, id.into_inner()).await?;
    let bytes = file_storage(&state.config)
        .get(&f.storage_key)
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
    let id = id.into_inner();
    let txn = state.store.begin().await?;
    let f = visible_file(&txn, &caller, id).await?;
    if f.uploaded_by != caller.user_id && !caller.is_admin() {
        return Err(ApiError::forbidden(
            "only the uploader or an admin may delete a file",
        ));
    }
    records::soft_delete::<file::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A staging file that removes itself unless it was handed to the storage.
pub struct Staged {
    path: PathBuf,
    kept: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
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

pub fn multipart_error(e: actix_multipart::MultipartError) -> ApiError {
    use actix_multipart::MultipartError as E;
    match e {
        E::ContentTypeMissing | E::ContentTypeParse | E::ContentTypeIncompatible => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the upload as Content-Type: multipart/form-data",
        ),
        other => ApiError::new(
            ErrorCode::MalformedRequest,
            format!("the multipart body cannot be read: {other}"),
        ),
    }
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
    let staged = Staged {
        path: storage.staging_path().map_err(ApiError::internal)?,
        kept: false,
    };
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

/// A small text field of the form; more than a few KiB is not a form value.
pub async fn read_text_field(field: &mut actix_multipart::Field, name: &str) -> ApiResult<String> {
    const MAX: usize = 4096;
    let mut buf = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(multipart_error)?;
        if buf.len() + chunk.len() > MAX {
            return Err(ApiError::field(
                name,
                "too_long",
                format!("{name} is too long"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(buf)
        .map(|s| s.trim().to_owned())
        .map_err(|_| {
            ApiError::field(name, "invalid_format", format!("{name} is not UTF-8 text"))
        })?;
    if text.contains('\0') {
        return Err(ApiError::field(
            name,
            "nul_character",
            format!("{name} must not contain the NUL character"),
        ));
    }
    Ok(text)
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
