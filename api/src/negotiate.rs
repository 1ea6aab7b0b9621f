//! Choosing a response's representation: a `format` query parameter, else the `Accept`
//! header, else the first representation the endpoint offers. The parameter wins because
//! browsers and download links cannot set headers.

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::error::{ApiError, ApiResult};

/// One representation an endpoint can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The value of `?format=`.
    pub name: &'static str,
    pub media_type: &'static str,
}

pub const JSON: Format = Format {
    name: "json",
    media_type: "application/json",
};
pub const CSV: Format = Format {
    name: "csv",
    media_type: "text/csv",
};
pub const HTML: Format = Format {
    name: "html",
    media_type: "text/html",
};
pub const PDF: Format = Format {
    name: "pdf",
    media_type: "application/pdf",
};

/// The representation `req` asks for among `offered` (the first is the default). An unknown
/// `format` is a 422 naming the parameter and the choices; an `Accept` header naming none of
/// the offered types gets the default rather than a 406, as most clients send `*/*` anyway.
pub fn negotiate(req: &HttpRequest, param: Option<&str>, offered: &[Format]) -> ApiResult<Format> {
    let default = offered.first().copied().unwrap_or(JSON);
    if let Some(name) = param {
        return offered
            .iter()
            .find(|f| f.name == name)
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = offered.iter().map(|f| f.name).collect();
                ApiError::field(
                    "format",
                    "invalid_choice",
                    format!("format must be one of: {}", names.join(", ")),
                )
            });
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or("");
    Ok(offered
        .iter()
        .skip(1)
        .find(|f| accept.contains(f.media_type))
        .copied()
        .unwrap_or(default))
}

// ---------------------------------------------------------------------------------------------
// Lists

use std::future::Future;

use actix_web::HttpResponse;
use actix_web::web::Bytes;
use sdelka_persistence::ops::list::{ListPage, ListParams, MAX_LIMIT};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// The filter of a list that has none beyond the paging parameters.
#[derive(Debug, serde::Deserialize)]
pub struct NoFilter {}

/// The byte order mark that tells Excel a CSV file is UTF-8.
pub const UTF8_BOM: &str = "\u{feff}";

/// Every list answers through here: one JSON page, or — on `format=csv` or `Accept: text/csv`
/// — every page as one CSV file, with the same filters and sort.
///
/// `fetch` reads one page of the list; for CSV it is called again with each `next_cursor`
/// (200 rows at a time) while the answer streams, so a list of any length costs one page of
/// memory. The first page is read before the answer starts, so a refused filter or sort is
/// still a problem document; a failure after that ends the file early (the download fails).
///
/// The columns are the fields of the list's item type in schema order; a header row names
/// them. Money is already a decimal string in the views; a list of values is joined with
/// `; `, a nested object is written as JSON.
pub async fn list_answer<F, T, E, Fetch, Fut>(
    req: &HttpRequest,
    page: ListParams,
    filter: F,
    fetch: Fetch,
) -> ApiResult<HttpResponse>
where
    F: DeserializeOwned + 'static,
    T: Serialize + ToSchema + 'static,
    E: Into<ApiError>,
    Fetch: Fn(ListParams, F) -> Fut + 'static,
    Fut: Future<Output = Result<ListPage<T>, E>> + 'static,
{
    let format = negotiate(req, page.format.as_deref(), &[JSON, CSV])?;
    if format != CSV {
        let page = fetch(page, filter).await.map_err(Into::into)?;
        return Ok(HttpResponse::Ok().json(page));
    }
    let base = ListParams {
        limit: Some(MAX_LIMIT),
        cursor: None,
        include_total: None,
        format: None,
        ..page
    };
    let first = fetch(base.clone(), filter).await.map_err(Into::into)?;
    let items = values(&first.items);
    let columns = columns::<T>(items.first());
    let query = req.query_string().to_owned();
    let name = csv_name(req.path());
    let state = CsvState {
        fetch,
        base,
        query,
        columns,
        pending: Some(items),
        cursor: first.next_cursor,
        started: false,
        _filter: std::marker::PhantomData::<F>,
    };
    let body = futures_util::stream::unfold(state, |mut st| async move {
        let mut out = Vec::new();
        if !st.started {
            st.started = true;
            out.extend_from_slice(UTF8_BOM.as_bytes());
            if let Err(e) = write_rows(&mut out, std::iter::once(st.columns.clone())) {
                return Some((Err(e), st));
            }
        }
        let items = match st.pending.take() {
            Some(items) => items,
            None => {
                let cursor = st.cursor.take()?;
                let filter = match actix_web::web::Query::<F>::from_query(&st.query) {
                    Ok(f) => f.into_inner(),
                    Err(e) => return Some((Err(actix_web::error::ErrorBadRequest(e)), st)),
                };
                let params = ListParams {
                    cursor: Some(cursor),
                    ..st.base.clone()
                };
                match (st.fetch)(params, filter).await {
                    Ok(p) => {
                        st.cursor = p.next_cursor;
                        values(&p.items)
                    }
                    Err(e) => {
                        let e: ApiError = e.into();
                        tracing::warn!(error = %e.detail, "a CSV list ended early");
                        return Some((Err(e.into()), st));
                    }
                }
            }
        };
        let rows = items.iter().map(|item| row(&st.columns, item));
        if let Err(e) = write_rows(&mut out, rows) {
            return Some((Err(e), st));
        }
        Some((Ok::<_, actix_web::Error>(Bytes::from(out)), st))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .streaming(body))
}

/// A sub-collection bounded by its parent (a deal's product rows): the whole list in one
/// page of the same envelope, or as CSV like every other list.
pub fn whole_answer<T: Serialize + ToSchema>(
    req: &HttpRequest,
    items: Vec<T>,
) -> ApiResult<HttpResponse> {
    let format = actix_web::web::Query::<FormatParam>::from_query(req.query_string())
        .map(|q| q.into_inner().format)
        .unwrap_or_default();
    if negotiate(req, format.as_deref(), &[JSON, CSV])? != CSV {
        return Ok(HttpResponse::Ok().json(ListPage::whole(items)));
    }
    let items = values(&items);
    let columns = columns::<T>(items.first());
    let mut out = UTF8_BOM.as_bytes().to_vec();
    let header = std::iter::once(columns.clone());
    let rows = items.iter().map(|i| row(&columns, i));
    write_rows(&mut out, header.chain(rows)).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.csv\"", csv_name(req.path())),
        ))
        .body(out))
}

/// `?format=` of an endpoint that takes no other query parameter.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParam {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

struct CsvState<Fetch, F> {
    // The list's own reader and the request it answers.
    fetch: Fetch,
    base: ListParams,
    query: String,
    columns: Vec<String>,
    /// The page read but not yet written.
    pending: Option<Vec<serde_json::Value>>,
    cursor: Option<String>,
    started: bool,
    _filter: std::marker::PhantomData<F>,
}

fn values<T: Serialize>(items: &[T]) -> Vec<serde_json::Value> {
    items
        .iter()
        .map(|i| serde_json::to_value(i).unwrap_or_default())
        .collect()
}

/// `/api/v1/legal-entities/…/contacts` → `contacts`.
fn csv_name(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("list")
        .to_owned()
}

/// The columns of a list: the properties of its item schema in order, and any further field
/// the first item carries.
fn columns<T: ToSchema>(first: Option<&serde_json::Value>) -> Vec<String> {
    let schema = serde_json::to_value(T::schema()).unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    collect_properties(&schema, &mut out);
    if let Some(serde_json::Value::Object(fields)) = first {
        for k in fields.keys() {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
    }
    out
}

fn collect_properties(schema: &serde_json::Value, out: &mut Vec<String>) {
    if let Some(props) = schema["properties"].as_object() {
        for k in props.keys() {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(parts) = schema[key].as_array() {
            for p in parts {
                collect_properties(p, out);
            }
        }
    }
}

fn row(columns: &[String], item: &serde_json::Value) -> Vec<String> {
    columns.iter().map(|c| cell(&item[c.as_str()])).collect()
}

/// One value as CSV text.
fn cell(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(cell).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

fn write_rows(
    out: &mut Vec<u8>,
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), actix_web::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r)
            .map_err(actix_web::error::ErrorInternalServerError)?;
    }
    let bytes = w
        .into_inner()
        .map_err(actix_web::error::ErrorInternalServerError)?;
    out.extend_from_slice(&bytes);
    Ok(())
}
