//! The OpenAPI document (API-7): paths come from the registered routes themselves; this file
//! adds what is true of every route — security, the problem responses of the error catalogue
//! — so that no handler can forget to document them.

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Ref;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDoc, RefOr};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, ProblemField};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sdelka API",
        version = "1.0.0",
        description = "Headless CRM and business-process service. JSON in and out, money as decimal strings, \
cursor-paginated lists, `Idempotency-Key` on every POST, `ETag`/`If-Match` optimistic concurrency, and \
RFC 9457 problem documents for every error.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "auth", description = "Login, token refresh and personal API tokens"),
        (name = "organisation", description = "Users, departments and own organisations (legal entities)"),
        (name = "clients", description = "Companies, their legal entities (counterparty requisites), contacts and leads"),
        (name = "imports", description = "CSV imports of leads"),
        (name = "timeline", description = "Audit trail of every change"),
        (name = "sales", description = "Catalog, pipelines and stages, deals with product rows"),
        (name = "work", description = "Activities, calendar, reminders, notifications and files"),
        (name = "documents", description = "Sales documents: quotes (commercial proposals) in versions, and orders"),
        (name = "operations", description = "Health, metrics and this document"),
        (name = "documents", description = "Customer invoices (numbered from numbering templates, printable) and incoming payments applied to them"),
        (name = "workflows", description = "Automation rules: triggers, conditions and actions (the deal payment watcher)"),
        (name = "reports", description = "Managers monthly and receivables by age, as JSON or CSV"),
        (name = "approvals", description = "The shared task inbox (claim, complete, delegate, deputies), pools of own organisations, and supplier-invoice approval (WF-INV)"),
        (name = "processes", description = "Business processes: versioned templates bound to an entity type (the shipped sale, cold-list, document and vacation approval chains among them), instances with their process map, and who holds them up"),
        (name = "integration", description = "The change feed of domain events (cursor, tombstones, head, named consumers)"),
    ),
    components(schemas(Problem, ProblemField))
)]
pub struct ApiDoc;

/// Applies the conventions to a document whose paths have been collected from the routes.
pub fn apply_conventions(doc: &mut OpenApiDoc) {
    Conventions.modify(doc);
}

/// Paths that need no credentials.
const PUBLIC: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/api/v1/auth/password-set",
    "/api/v1/openapi.json",
];

struct Conventions;

fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| problem(description));
}

/// `429`: the description a handler gave (or the general one), with the headers every 429
/// carries.
fn add_rate_limited(op: &mut Operation) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let description = match op.responses.responses.get("429") {
        Some(RefOr::T(r)) => r.description.clone(),
        _ => "Rate limited (`rate_limited`): this caller's bucket is empty; see `Retry-After` and \
              the `RateLimit-*` fields"
            .to_owned(),
    };
    let integer = |d: &str| {
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
            .description(Some(d))
            .build()
    };
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .header(
            "Retry-After",
            integer("Seconds until a request may succeed"),
        )
        .header("RateLimit-Limit", integer("The caller's bucket size"))
        .header("RateLimit-Remaining", integer("Requests left now"))
        .header(
            "RateLimit-Reset",
            integer("Seconds until the bucket is full again"),
        )
        .build();
    op.responses
        .responses
        .insert("429".to_owned(), response.into());
}

/// Whether `op` documents a parameter called `name`.
fn takes(op: &Operation, name: &str) -> bool {
    op.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p, RefOr::T(p) if p.name.eq_ignore_ascii_case(name)))
    })
}

/// A list or report taking `format` also answers `text/csv` (see `negotiate::list_answer`).
fn offer_csv(op: &mut Operation) {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") else {
        return;
    };
    ok.content.entry("text/csv".to_owned()).or_insert_with(|| {
        RefOr::T(
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some(
                            "UTF-8 with a BOM; a header row of the item's fields, then every \
                             matching record (all pages), money as decimal strings",
                        )),
                ))
                .build(),
        )
    });
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT access token or sdk_… API token")
                        .build(),
                ),
            );
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
                continue;
            }
            let public = PUBLIC.contains(&path.as_str());
            let ops = [
                ("get", item.get.as_mut()),
                ("post", item.post.as_mut()),
                ("put", item.put.as_mut()),
                ("patch", item.patch.as_mut()),
                ("delete", item.delete.as_mut()),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                if public && method == "post" && !path.ends_with("/logout") {
                    add(
                        op,
                        "401",
                        "The credentials or token are wrong, expired or already used",
                    );
                }
                if !public {
                    op.security = Some(vec![SecurityRequirement::new(
                        "bearer",
                        Vec::<String>::new(),
                    )]);
                    add(op, "401", "Missing, invalid or expired credentials");
                    add(op, "403", "The caller's roles do not allow this");
                }
                add(op, "400", "Malformed request (invalid JSON, bad header)");
                add(op, "404", "No such resource, or not visible to the caller");
                add(
                    op,
                    "422",
                    "Validation failed; `errors` names each field and rule",
                );
                add_rate_limited(op);
                add(op, "500", "Unexpected server error");
                if matches!(method, "post" | "patch" | "put") {
                    add(op, "413", "Body too large");
                    add(op, "415", "Body is not application/json");
                }
                if method == "post" {
                    add(
                        op,
                        "409",
                        "Conflict: duplicate, wrong state, or Idempotency-Key in flight",
                    );
                }
                if matches!(method, "patch" | "delete" | "put") {
                    add(op, "409", "Conflict with another record");
                }
                if matches!(method, "patch" | "delete" | "put") || takes(op, "If-Match") {
                    add(
                        op,
                        "412",
                        "If-Match names another version than the current one: a stale one, or an \
                         entity tag this API never issued",
                    );
                }
                if method == "get" && takes(op, "format") {
                    offer_csv(op);
                }
            }
        }
    }
}
