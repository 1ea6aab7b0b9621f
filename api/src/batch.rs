//! INT-4, batch requests: up to [`MAX_OPS`] API calls in one `POST /api/v1/batch`.
//!
//! Every operation is dispatched in process through the same `/api/v1` service an HTTP request
//! reaches — the same routes, extractors, rate limiter, `Idempotency-Key` layer and problem
//! documents — as the batch's caller. Nothing is routed or authorised here: this module only
//! checks the batch's shape, orders the operations, fills in references to earlier results
//! (`{{op_id.body.field}}`) and collects the answers.
//!
//! With `atomic: true` the operations run inside one unit of work
//! ([`KeyedUnit`]): every operation's transaction is a savepoint of the unit's, which commits
//! once, after the last operation, or rolls back at the first failure — with it the outbox rows
//! and events of the batch, so nothing is sent for a batch that did not happen.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use actix_http::Request;
use actix_service::boxed::{RcService, rc_service};
use actix_service::{IntoServiceFactory, Service, ServiceFactory};
use actix_web::dev::{AppConfig, Payload, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, Uri};
use actix_web::{App, HttpMessage, HttpRequest, web};
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_persistence::idempotency::KeyedUnit;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_actix_web::AppExt;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::extract::no_route;
use crate::state::AppState;

/// The most operations one batch may hold.
pub const MAX_OPS: usize = 50;

/// The batch endpoint itself; a batch cannot hold one.
pub const BATCH_PATH: &str = "/api/v1/batch";

/// Headers an operation may set for itself. The credential is the batch's.
const OP_HEADERS: [&str; 4] = ["idempotency-key", "if-match", "if-none-match", "accept"];

/// Headers of the batch request every operation carries, so that it is authenticated and
/// counted exactly as the batch's caller.
const INHERITED_HEADERS: [&str; 4] = [
    "authorization",
    "x-forwarded-for",
    "forwarded",
    "user-agent",
];

/// `POST /api/v1/batch`.
#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Stop at the first operation that fails (status ≥ 400): the rest are not run and answer
    /// `412 batch_halted`.
    #[serde(default)]
    pub halt_on_error: bool,
    /// All or nothing: the operations run in one transaction, committed after the last; the
    /// first failure rolls everything back (the operations that ran answer
    /// `409 batch_rolled_back`, the rest `412 batch_halted`).
    #[serde(default)]
    pub atomic: bool,
    /// 1 to 50 operations, run in this order.
    pub ops: Vec<BatchOp>,
}

/// The methods an operation may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum BatchMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl BatchMethod {
    fn method(self) -> Method {
        match self {
            BatchMethod::Get => Method::GET,
            BatchMethod::Post => Method::POST,
            BatchMethod::Put => Method::PUT,
            BatchMethod::Patch => Method::PATCH,
            BatchMethod::Delete => Method::DELETE,
        }
    }
}

/// One API call of a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchOp {
    /// Unique in the batch: letters, digits, `_` and `-`, up to 64 characters. Later operations
    /// refer to this one's result as `{{id.body.field}}`, `{{id.status}}` or
    /// `{{id.headers.etag}}`.
    #[schema(example = "company")]
    pub id: String,
    pub method: BatchMethod,
    /// The full path with its query, e.g. `/api/v1/companies/{{company.body.id}}`.
    #[schema(example = "/api/v1/companies")]
    pub path: String,
    /// The JSON body. A string that holds `{{op_id.body.field}}` takes the earlier result's
    /// value: as it is (a number stays a number) when the string is only the reference, as text
    /// inside a longer string.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
    /// Earlier operations this one needs to have succeeded; if one failed, this one is not run
    /// and answers `424 failed_dependency`. Operations referred to in the path, body or
    /// headers are dependencies without being listed.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// `Idempotency-Key`, `If-Match`, `If-None-Match` or `Accept` for this operation.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// The batch's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub atomic: bool,
    /// Whether the batch's writes were kept. Always true without `atomic` (each operation
    /// keeps or rolls back its own); for an atomic batch, false when an operation failed.
    pub committed: bool,
    /// The first operation that failed (with `atomic` or `halt_on_error`: the one that stopped
    /// the batch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_op: Option<String>,
    /// One result per operation, in request order.
    pub results: Vec<BatchOpResult>,
}

/// One operation's answer, as it would have come over HTTP.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchOpResult {
    pub id: String,
    /// The HTTP status.
    #[schema(example = 201)]
    pub status: u16,
    /// The response headers (lower-case names), e.g. `etag`, `location`, `content-type`.
    pub headers: BTreeMap<String, String>,
    /// The response body: JSON as JSON, other text as a string, nothing as `null`.
    #[schema(value_type = Object)]
    pub body: Value,
}

impl BatchOpResult {
    fn problem(id: &str, err: ApiError) -> BatchOpResult {
        let body = serde_json::to_value(err.problem()).unwrap_or(Value::Null);
        BatchOpResult {
            id: id.to_owned(),
            status: err.status().as_u16(),
            headers: BTreeMap::from([(
                "content-type".to_owned(),
                "application/problem+json".to_owned(),
            )]),
            body,
        }
    }

    fn failed(&self) -> bool {
        self.status >= 400
    }
}

// ---------------------------------------------------------------------------------------------
// References: `{{op_id.body.a.0.b}}`, `{{op_id.status}}`, `{{op_id.headers.etag}}`.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Body(Vec<String>),
    Status,
    Header(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    op: String,
    part: Part,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Ref(Reference),
}

/// Splits text into literal pieces and references; a malformed reference is an error.
fn parse_template(s: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("`{{` opens a reference that is never closed with `}}`".into());
        };
        pieces.push(Piece::Ref(parse_reference(after[..end].trim())?));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

fn parse_reference(r: &str) -> Result<Reference, String> {
    let bad = || {
        format!(
            "`{{{{{r}}}}}` is not a reference: write `{{{{op_id.body.field}}}}`, `{{{{op_id.status}}}}` or `{{{{op_id.headers.name}}}}`"
        )
    };
    let mut segments = r.split('.');
    let op = segments.next().filter(|s| valid_id(s)).ok_or_else(bad)?;
    let part = match segments.next() {
        Some("body") => {
            let path: Vec<String> = segments.map(str::to_owned).collect();
            if path.iter().any(String::is_empty) {
                return Err(bad());
            }
            Part::Body(path)
        }
        Some("status") if segments.next().is_none() => Part::Status,
        Some("headers") => {
            let name = segments.next().ok_or_else(bad)?;
            if segments.next().is_some() || name.is_empty() {
                return Err(bad());
            }
            Part::Header(name.to_ascii_lowercase())
        }
        _ => return Err(bad()),
    };
    Ok(Reference {
        op: op.to_owned(),
        part,
    })
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Every reference in `value`'s strings, with the JSON path of the string.
fn body_references(
    value: &Value,
    path: &str,
    out: &mut Vec<(String, Result<Vec<Reference>, String>)>,
) {
    match value {
        Value::String(s) if s.contains("{{") => {
            let refs = parse_template(s).map(|pieces| {
                pieces
                    .into_iter()
                    .filter_map(|p| match p {
                        Piece::Ref(r) => Some(r),
                        Piece::Text(_) => None,
                    })
                    .collect()
            });
            out.push((path.to_owned(), refs));
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                body_references(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(members) => {
            for (k, v) in members {
                body_references(v, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// The value a reference names in the answers so far.
fn lookup(r: &Reference, done: &HashMap<String, BatchOpResult>) -> Option<Value> {
    let res = done.get(&r.op)?;
    match &r.part {
        Part::Status => Some(Value::from(res.status)),
        Part::Header(name) => res.headers.get(name).map(|v| Value::String(v.clone())),
        Part::Body(path) => {
            let mut at = &res.body;
            for seg in path {
                at = match at {
                    Value::Object(m) => m.get(seg)?,
                    Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
                    _ => return None,
                };
            }
            Some(at.clone())
        }
    }
}

fn reference_text(r: &Reference) -> String {
    let part = match &r.part {
        Part::Status => "status".to_owned(),
        Part::Header(h) => format!("headers.{h}"),
        Part::Body(p) if p.is_empty() => "body".to_owned(),
        Part::Body(p) => format!("body.{}", p.join(".")),
    };
    format!("{{{{{}.{part}}}}}", r.op)
}

/// Text with its references filled in; `encode` percent-encodes the values (for a path).
fn fill_text(
    s: &str,
    done: &HashMap<String, BatchOpResult>,
    encode: bool,
) -> Result<String, String> {
    let mut out = String::new();
    for piece in parse_template(s)? {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Ref(r) => {
                let text = match lookup(&r, done) {
                    Some(Value::String(s)) => s,
                    Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                    Some(_) => {
                        return Err(format!(
                            "{} is not text, a number or a boolean",
                            reference_text(&r)
                        ));
                    }
                    None => {
                        return Err(format!(
                            "{} names nothing in that operation's answer",
                            reference_text(&r)
                        ));
                    }
                };
                if encode {
                    out.push_str(&percent_encode(&text));
                } else {
                    out.push_str(&text);
                }
            }
        }
    }
    Ok(out)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The body with its references filled in; an error names the field.
fn fill_body(
    value: &Value,
    path: &str,
    done: &HashMap<String, BatchOpResult>,
) -> Result<Value, (String, String)> {
    Ok(match value {
        Value::String(s) if s.contains("{{") => {
            let pieces = parse_template(s).map_err(|e| (path.to_owned(), e))?;
            match pieces.as_slice() {
                [Piece::Ref(r)] => lookup(r, done).ok_or_else(|| {
                    (
                        path.to_owned(),
                        format!(
                            "{} names nothing in that operation's answer",
                            reference_text(r)
                        ),
                    )
                })?,
                _ => Value::String(fill_text(s, done, false).map_err(|e| (path.to_owned(), e))?),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| fill_body(v, &format!("{path}[{i}]"), done))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| {
                    fill_body(v, &format!("{path}.{k}"), done).map(|filled| (k.clone(), filled))
                })
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// The plan: a batch checked as a whole before anything runs.

struct Planned {
    op: BatchOp,
    /// Indexes of the earlier operations this one needs.
    deps: Vec<usize>,
}

struct Plan {
    ops: Vec<Planned>,
    halt_on_error: bool,
    atomic: bool,
}

/// Checks the batch's shape: every refusal names its field (`ops[3].path`), all at once.
fn plan(req: BatchRequest) -> Result<Plan, Violations> {
    let mut v = Violations::new();
    if req.ops.is_empty() {
        v.push(FieldViolation::new(
            "ops",
            "required",
            "ops: a batch holds at least one operation",
        ));
    }
    if req.ops.len() > MAX_OPS {
        v.push(FieldViolation::new(
            "ops",
            "too_many",
            format!(
                "ops: a batch holds at most {MAX_OPS} operations, this one {}",
                req.ops.len()
            ),
        ));
        return Err(v);
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, op) in req.ops.iter().enumerate() {
        if !valid_id(&op.id) {
            v.push(FieldViolation::new(
                format!("ops[{i}].id"),
                "invalid_format",
                format!("ops[{i}].id: 1 to 64 letters, digits, `_` or `-`"),
            ));
        } else if let Some(first) = index.get(op.id.as_str()) {
            v.push(FieldViolation::new(
                format!("ops[{i}].id"),
                "duplicate",
                format!("ops[{i}].id: `{}` is already the id of ops[{first}]", op.id),
            ));
        } else {
            index.insert(&op.id, i);
        }
    }
    // Every operation's dependencies, wherever they are named: (field, op id).
    let mut named: Vec<Vec<(String, String)>> = Vec::with_capacity(req.ops.len());
    for (i, op) in req.ops.iter().enumerate() {
        let mut refs = Vec::new();
        check_path(i, op, &mut v);
        for (j, d) in op.depends_on.iter().enumerate() {
            refs.push((format!("ops[{i}].depends_on[{j}]"), d.clone()));
        }
        template_refs(
            format!("ops[{i}].path"),
            parse_template(&op.path),
            &mut refs,
            &mut v,
        );
        for (name, value) in &op.headers {
            let field = format!("ops[{i}].headers.{name}");
            if !OP_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                v.push(FieldViolation::new(
                    field.clone(),
                    "not_allowed",
                    format!(
                        "{field}: an operation may set only Idempotency-Key, If-Match, If-None-Match and Accept; it runs with the batch's credential"
                    ),
                ));
                continue;
            }
            if HeaderValue::from_str(value).is_err() {
                v.push(FieldViolation::new(
                    field.clone(),
                    "invalid_format",
                    format!("{field}: not a valid header value"),
                ));
                continue;
            }
            template_refs(field, parse_template(value), &mut refs, &mut v);
        }
        if let Some(body) = &op.body {
            if matches!(op.method, BatchMethod::Get | BatchMethod::Delete) && !body.is_null() {
                v.push(FieldViolation::new(
                    format!("ops[{i}].body"),
                    "not_allowed",
                    format!("ops[{i}].body: a {} takes no body", op.method.method()),
                ));
            }
            let mut found = Vec::new();
            body_references(body, &format!("ops[{i}].body"), &mut found);
            for (field, parsed) in found {
                match parsed {
                    Ok(rs) => refs.extend(rs.into_iter().map(|r| (field.clone(), r.op))),
                    Err(e) => v.push(FieldViolation::new(
                        field.clone(),
                        "invalid_reference",
                        format!("{field}: {e}"),
                    )),
                }
            }
        }
        named.push(refs);
    }
    // Edges to operations by index; an edge to this or a later one is refused, as a cycle
    // when that one (transitively) needs this one.
    let edges: Vec<Vec<usize>> = named
        .iter()
        .map(|refs| {
            refs.iter()
                .filter_map(|(_, id)| index.get(id.as_str()).copied())
                .collect()
        })
        .collect();
    let mut deps = Vec::with_capacity(req.ops.len());
    for (i, refs) in named.iter().enumerate() {
        let mut mine: Vec<usize> = Vec::new();
        for (field, id) in refs {
            match index.get(id.as_str()).copied() {
                None => v.push(FieldViolation::new(
                    field.clone(),
                    "unknown_operation",
                    format!("{field}: no operation of this batch has the id `{id}`"),
                )),
                Some(j) if j >= i && reaches(&edges, j, i) => v.push(FieldViolation::new(
                    field.clone(),
                    "dependency_cycle",
                    format!(
                        "{field}: `{id}` needs this operation itself, directly or through others"
                    ),
                )),
                Some(j) if j >= i => v.push(FieldViolation::new(
                    field.clone(),
                    "forward_reference",
                    format!(
                        "{field}: `{id}` runs after this operation; only earlier operations can be used"
                    ),
                )),
                Some(j) => {
                    if !mine.contains(&j) {
                        mine.push(j);
                    }
                }
            }
        }
        deps.push(mine);
    }
    if !v.is_empty() {
        return Err(v);
    }
    Ok(Plan {
        ops: req
            .ops
            .into_iter()
            .zip(deps)
            .map(|(op, deps)| Planned { op, deps })
            .collect(),
        halt_on_error: req.halt_on_error,
        atomic: req.atomic,
    })
}

/// Collects the operations a template names, or refuses a malformed one.
fn template_refs(
    field: String,
    parsed: Result<Vec<Piece>, String>,
    refs: &mut Vec<(String, String)>,
    v: &mut Violations,
) {
    match parsed {
        Ok(pieces) => {
            for p in pieces {
                if let Piece::Ref(r) = p {
                    refs.push((field.clone(), r.op));
                }
            }
        }
        Err(e) => v.push(FieldViolation::new(
            field.clone(),
            "invalid_reference",
            format!("{field}: {e}"),
        )),
    }
}

/// Whether `from` reaches `to` along the edges.
fn reaches(edges: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; edges.len()];
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        if std::mem::replace(&mut seen[n], true) {
            continue;
        }
        stack.extend(edges[n].iter().copied());
    }
    false
}

fn check_path(i: usize, op: &BatchOp, v: &mut Violations) {
    let field = format!("ops[{i}].path");
    let path = op.path.split('?').next().unwrap_or_default();
    let refuse = |v: &mut Violations, code: &str, msg: &str| {
        v.push(FieldViolation::new(
            field.clone(),
            code,
            format!("{field}: {msg}"),
        ));
    };
    if !op.path.starts_with("/api/v1/") {
        refuse(
            v,
            "invalid_format",
            "a path under /api/v1/, e.g. /api/v1/companies",
        );
        return;
    }
    if op.path.contains("%00") || op.path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        refuse(
            v,
            "invalid_format",
            "no spaces, control characters or %00 in a path",
        );
        return;
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed == BATCH_PATH {
        refuse(v, "nested_batch", "a batch cannot hold another batch");
    }
    let uploads = [
        sdelka_persistence::ops::files::UPLOAD_PATH,
        sdelka_persistence::ops::imports::IMPORTS_PATH,
    ];
    if op.method == BatchMethod::Post && uploads.contains(&trimmed) {
        refuse(
            v,
            "upload_not_supported",
            "uploads (multipart/form-data) cannot be batched; send them on their own",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch: the `/api/v1` service, in process.

/// Marks a request dispatched by a batch. The first operation a batch runs is already counted
/// by the rate limiter (it counted the batch request), so a batch costs as many requests as it
/// runs operations, and at least one.
#[derive(Debug, Clone, Copy)]
pub struct BatchOperation {
    pub prepaid: bool,
}

type Inner = RcService<Request, ServiceResponse, actix_web::Error>;

/// This worker's `/api/v1` service for batch operations, built on first use. Registered as
/// per-worker application data; the service (like every actix service) stays on its worker.
#[derive(Clone, Default)]
pub struct Dispatcher(Rc<RefCell<Option<Inner>>>);

impl Dispatcher {
    async fn service(&self, data: web::Data<AppState>) -> Result<Inner, ApiError> {
        if let Some(s) = self.0.borrow().as_ref() {
            return Ok(s.clone());
        }
        let built = api_service(data).await?;
        *self.0.borrow_mut() = Some(built.clone());
        Ok(built)
    }
}

/// The `/api/v1` scope `server::start` mounts (`server::api_v1_scope`, the one definition),
/// with the same application data and fallback.
async fn api_service(data: web::Data<AppState>) -> Result<Inner, ApiError> {
    let (app, _) = App::new()
        .into_utoipa_app()
        .app_data(data)
        .service(crate::server::api_v1_scope())
        .split_for_parts();
    let app = app.default_service(web::to(no_route));
    let service = app
        .into_factory()
        .new_service(AppConfig::default())
        .await
        .map_err(|()| ApiError::internal("the batch dispatcher could not be built"))?;
    Ok(rc_service(service))
}

/// What every operation of one batch shares.
struct Context<'a> {
    service: Inner,
    outer: &'a HttpRequest,
    principal: &'a Principal,
}

impl Context<'_> {
    /// Runs one operation through the service and reads its answer.
    async fn dispatch(
        &self,
        id: &str,
        method: Method,
        path: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Option<Vec<u8>>,
        prepaid: bool,
    ) -> BatchOpResult {
        let uri: Uri = match path.parse() {
            Ok(u) => u,
            Err(_) => {
                return BatchOpResult::problem(
                    id,
                    ApiError::field("path", "invalid_format", "the path is not a valid URL path"),
                );
            }
        };
        let has_body = body.is_some();
        let payload = match body {
            Some(b) => Payload::from(web::Bytes::from(b)),
            None => Payload::None,
        };
        let mut req = Request::with_payload(payload);
        {
            let head = req.head_mut();
            head.method = method;
            head.uri = uri;
            head.peer_addr = self.outer.peer_addr();
            for name in INHERITED_HEADERS {
                for v in self.outer.headers().get_all(name) {
                    head.headers
                        .append(HeaderName::from_static(name), v.clone());
                }
            }
            if has_body {
                head.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            for (k, v) in headers {
                head.headers.insert(k, v);
            }
        }
        req.extensions_mut().insert(self.principal.clone());
        req.extensions_mut().insert(BatchOperation { prepaid });
        let res = match self.service.call(req).await {
            Ok(res) => res,
            Err(e) => {
                let res = e.error_response();
                let status = res.status().as_u16();
                let headers = res.headers().clone();
                return read_answer(id, status, &headers, res.into_body()).await;
            }
        };
        let status = res.status().as_u16();
        let (_, res) = res.into_parts();
        let headers = res.headers().clone();
        read_answer(id, status, &headers, res.into_body()).await
    }
}

async fn read_answer(
    id: &str,
    status: u16,
    headers: &header::HeaderMap,
    body: actix_web::body::BoxBody,
) -> BatchOpResult {
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let mut out = BTreeMap::new();
    for (k, v) in headers {
        if let Ok(v) = v.to_str() {
            out.insert(k.as_str().to_owned(), v.to_owned());
        }
    }
    let json = out
        .get("content-type")
        .map(|ct| {
            let ct = ct.split(';').next().unwrap_or("").trim();
            ct == "application/json" || ct.ends_with("+json")
        })
        .unwrap_or(false);
    let body = if bytes.is_empty() {
        Value::Null
    } else if json {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    } else {
        Value::String(String::from_utf8_lossy(&bytes).into_owned())
    };
    BatchOpResult {
        id: id.to_owned(),
        status,
        headers: out,
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// Running a batch.

/// Answers a batch: checks it, runs its operations in order and collects their answers.
pub async fn run(
    state: web::Data<AppState>,
    req: &HttpRequest,
    principal: &Principal,
    body: BatchRequest,
) -> Result<BatchResult, ApiError> {
    if req.extensions().get::<BatchOperation>().is_some() {
        return Err(ApiError::field(
            "path",
            "nested_batch",
            "a batch cannot hold another batch",
        ));
    }
    let plan = plan(body).map_err(ApiError::validation)?;
    let dispatcher = req
        .app_data::<Dispatcher>()
        .cloned()
        .ok_or_else(|| ApiError::internal("the batch dispatcher is not registered"))?;
    let ctx = Context {
        service: dispatcher.service(state).await?,
        outer: req,
        principal,
    };
    if !plan.atomic {
        let (results, failed) = execute(&plan, &ctx).await;
        return Ok(BatchResult {
            atomic: false,
            committed: true,
            failed_op: failed.map(|i| plan.ops[i].op.id.clone()),
            results,
        });
    }
    let unit = KeyedUnit::new();
    let (mut results, failed) = unit.run(execute(&plan, &ctx)).await;
    match failed {
        None => {
            unit.commit().await?;
            Ok(BatchResult {
                atomic: true,
                committed: true,
                failed_op: None,
                results,
            })
        }
        Some(f) => {
            unit.abandon().await;
            let failed_id = plan.ops[f].op.id.clone();
            for r in results.iter_mut().take(f) {
                let err = ApiError::new(
                    ErrorCode::BatchRolledBack,
                    format!(
                        "`{}` answered {} but was rolled back with the whole batch because `{failed_id}` failed",
                        r.id, r.status
                    ),
                );
                *r = BatchOpResult::problem(&r.id, err);
            }
            Ok(BatchResult {
                atomic: true,
                committed: false,
                failed_op: Some(failed_id),
                results,
            })
        }
    }
}

/// Runs the operations in order; returns their answers and the first that failed.
async fn execute(plan: &Plan, ctx: &Context<'_>) -> (Vec<BatchOpResult>, Option<usize>) {
    let stop_at_failure = plan.halt_on_error || plan.atomic;
    let mut results: Vec<BatchOpResult> = Vec::with_capacity(plan.ops.len());
    let mut done: HashMap<String, BatchOpResult> = HashMap::new();
    let mut first_failed: Option<usize> = None;
    let mut prepaid = true;
    for (i, planned) in plan.ops.iter().enumerate() {
        let op = &planned.op;
        if let (true, Some(f)) = (stop_at_failure, first_failed) {
            let err = ApiError::new(
                ErrorCode::BatchHalted,
                format!(
                    "not run: `{}` failed and the batch stops at the first failure",
                    plan.ops[f].op.id
                ),
            );
            results.push(BatchOpResult::problem(&op.id, err));
            continue;
        }
        let result = match planned.deps.iter().find(|d| results[**d].failed()) {
            Some(d) => {
                let dep = &results[*d];
                BatchOpResult::problem(
                    &op.id,
                    ApiError::new(
                        ErrorCode::FailedDependency,
                        format!(
                            "not run: `{}`, which this operation depends on, answered {}",
                            dep.id, dep.status
                        ),
                    ),
                )
            }
            None => match fill(i, op, &done) {
                Err(err) => BatchOpResult::problem(&op.id, err),
                Ok((path, headers, body)) => {
                    let r = ctx
                        .dispatch(&op.id, op.method.method(), &path, headers, body, prepaid)
                        .await;
                    prepaid = false;
                    r
                }
            },
        };
        if result.failed() && first_failed.is_none() {
            first_failed = Some(i);
        }
        done.insert(op.id.clone(), result.clone());
        results.push(result);
    }
    (results, first_failed)
}

type Filled = (String, Vec<(HeaderName, HeaderValue)>, Option<Vec<u8>>);

/// The operation's path, headers and body with the earlier answers filled in.
fn fill(i: usize, op: &BatchOp, done: &HashMap<String, BatchOpResult>) -> Result<Filled, ApiError> {
    let unresolved = |field: String, e: String| {
        ApiError::field(&field, "unresolved_reference", format!("{field}: {e}"))
    };
    let path =
        fill_text(&op.path, done, true).map_err(|e| unresolved(format!("ops[{i}].path"), e))?;
    let mut headers = Vec::new();
    for (name, value) in &op.headers {
        let field = format!("ops[{i}].headers.{name}");
        let text = fill_text(value, done, false).map_err(|e| unresolved(field.clone(), e))?;
        let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| ApiError::field(&field, "invalid_format", "not a header name"))?;
        let value = HeaderValue::from_str(&text)
            .map_err(|_| ApiError::field(&field, "invalid_format", "not a valid header value"))?;
        headers.push((name, value));
    }
    let body = match &op.body {
        None | Some(Value::Null) => None,
        Some(b) => {
            let filled = fill_body(b, &format!("ops[{i}].body"), done)
                .map_err(|(field, e)| unresolved(field, e))?;
            Some(serde_json::to_vec(&filled).map_err(ApiError::internal)?)
        }
    };
    Ok((path, headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(ops: Value) -> BatchRequest {
        serde_json::from_value(json!({ "ops": ops })).unwrap()
    }

    fn fields(r: Result<Plan, Violations>) -> Vec<(String, String)> {
        match r {
            Ok(_) => vec![],
            Err(v) => v
                .into_vec()
                .into_iter()
                .map(|f| (f.field, f.code))
                .collect(),
        }
    }

    #[test]
    fn templates_parse_and_refuse_malformed_references() {
        assert_eq!(
            parse_template("/api/v1/companies/{{c.body.id}}/x").unwrap(),
            vec![
                Piece::Text("/api/v1/companies/".into()),
                Piece::Ref(Reference {
                    op: "c".into(),
                    part: Part::Body(vec!["id".into()])
                }),
                Piece::Text("/x".into()),
            ]
        );
        assert!(parse_template("{{c.body.id").is_err());
        assert!(parse_template("{{c.nope}}").is_err());
        assert!(parse_template("{{.body}}").is_err());
        assert_eq!(
            parse_template("{{c.headers.ETag}}").unwrap(),
            vec![Piece::Ref(Reference {
                op: "c".into(),
                part: Part::Header("etag".into())
            })]
        );
    }

    #[test]
    fn references_must_name_earlier_operations() {
        let r = plan(batch(json!([
            {"id": "a", "method": "POST", "path": "/api/v1/companies", "body": {"x": "{{b.body.id}}"}},
            {"id": "b", "method": "POST", "path": "/api/v1/companies", "depends_on": ["a"]},
            {"id": "c", "method": "GET", "path": "/api/v1/companies/{{zz.body.id}}"},
            {"id": "d", "method": "GET", "path": "/api/v1/companies", "depends_on": ["e"]},
            {"id": "e", "method": "GET", "path": "/api/v1/companies"}
        ])));
        assert_eq!(
            fields(r),
            vec![
                ("ops[0].body.x".into(), "dependency_cycle".into()),
                ("ops[2].path".into(), "unknown_operation".into()),
                ("ops[3].depends_on[0]".into(), "forward_reference".into()),
            ]
        );
    }

    #[test]
    fn paths_ids_and_sizes_are_checked() {
        let r = plan(batch(json!([
            {"id": "a", "method": "POST", "path": "/api/v1/batch"},
            {"id": "a", "method": "POST", "path": "/api/v1/files"},
            {"id": "b c", "method": "GET", "path": "/health/live"},
            {"id": "d", "method": "GET", "path": "/api/v1/x", "headers": {"Authorization": "x"}}
        ])));
        assert_eq!(
            fields(r),
            vec![
                ("ops[1].id".into(), "duplicate".into()),
                ("ops[2].id".into(), "invalid_format".into()),
                ("ops[0].path".into(), "nested_batch".into()),
                ("ops[1].path".into(), "upload_not_supported".into()),
                ("ops[2].path".into(), "invalid_format".into()),
                ("ops[3].headers.Authorization".into(), "not_allowed".into()),
            ]
        );
        let many: Vec<Value> = (0..51)
            .map(|i| json!({"id": format!("o{i}"), "method": "GET", "path": "/api/v1/companies"}))
            .collect();
        assert_eq!(
            fields(plan(batch(Value::Array(many)))),
            vec![("ops".into(), "too_many".into())]
        );
    }

    #[test]
    fn bodies_take_values_whole_or_as_text() {
        let done = HashMap::from([(
            "c".to_owned(),
            BatchOpResult {
                id: "c".into(),
                status: 201,
                headers: BTreeMap::from([("etag".into(), "\"1\"".into())]),
                body: json!({"id": "u-1", "n": 7, "items": [{"id": "i0"}]}),
            },
        )]);
        let body = json!({"a": "{{c.body.n}}", "b": "n={{c.body.n}}", "c": ["{{c.body.items.0.id}}"], "s": "{{c.status}}"});
        assert_eq!(
            fill_body(&body, "body", &done).unwrap(),
            json!({"a": 7, "b": "n=7", "c": ["i0"], "s": 201})
        );
        assert_eq!(
            fill_body(&json!({"x": "{{c.body.missing}}"}), "body", &done)
                .unwrap_err()
                .0,
            "body.x"
        );
        assert_eq!(
            fill_text("/api/v1/x?q={{c.headers.etag}}", &done, true).unwrap(),
            "/api/v1/x?q=%221%22"
        );
    }
}
