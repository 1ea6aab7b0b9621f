//! The application core: one operation per use case (`create_company`, `register_payment`,
//! `claim_task`, …), organised by business area, callable from anything — an HTTP handler, a
//! batch request, a worker, an importer, the process engine.
//!
//! An operation takes a [`Db`] (its own transaction on the store, or a place inside the
//! caller's), the [`Actor`] (who, with which roles and credential, in which correlation), and a
//! typed command; it loads through this crate, asks `sdelka_domain` to decide, writes, journals
//! and queues effects, and answers the record's public representation or an [`Error`] from the
//! one catalogue. Nothing here knows about HTTP.

pub mod dto;
pub mod error;
pub mod list;
// Business areas.
pub mod access;
pub mod activities;
pub mod api_tokens;
pub mod approvals;
pub mod auth;
pub mod automation_rules;
pub mod bank_exports;
pub mod billing;
pub mod bulk;
pub mod calendar;
pub mod clients;
pub mod comments;
pub mod companies;
pub mod contacts;
pub mod deals;
pub mod departments;
pub mod documents;
pub mod feed;
pub mod files;
pub mod handover;
pub mod import_jobs;
pub mod imports;
pub mod invoices;
pub mod leads;
pub mod legal_entities;
pub mod notifications;
pub mod numbering_templates;
pub mod orders;
pub mod organizations;
pub mod payments;
pub mod pipelines;
pub mod pools;
pub mod processes;
pub mod products;
pub mod quotes;
pub mod refs;
pub mod reports;
pub mod supplier_invoices;
pub mod tasks;
pub mod timeline;
pub mod users;
pub mod vat;
pub mod webhooks;
pub mod workflow;
// CommerceML 2 exchange (INT-1C-1)
pub mod commerceml;
pub mod commerceml_sale;

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
    TransactionTrait,
};

pub use crate::journal::Actor;
pub use error::{Error, ErrorCode, OpResult};
pub use list::{ListPage, ListParams};

use sdelka_domain::role::{Role, RoleSet};
use uuid::Uuid;

use crate::db::{Backend, Store};
use crate::idempotency::KeyedUnit;
use crate::visibility::Scope;

/// Where an operation runs: on the store, in a transaction of its own, or inside a
/// transaction its caller holds (an atomic batch, a process step running several operations).
/// Joining makes the operation's own transaction a savepoint of the caller's, so its refusal
/// rolls back only its own writes.
#[derive(Clone, Copy)]
pub enum Db<'a> {
    Store(&'a Store),
    Joined(&'a DatabaseTransaction),
}

impl<'a> From<&'a Store> for Db<'a> {
    fn from(s: &'a Store) -> Self {
        Db::Store(s)
    }
}

impl<'a> From<&'a DatabaseTransaction> for Db<'a> {
    fn from(t: &'a DatabaseTransaction) -> Self {
        Db::Joined(t)
    }
}

impl Db<'_> {
    /// Opens the operation's unit of work: a write transaction on the store (`BEGIN IMMEDIATE`
    /// on SQLite), or a savepoint inside the caller's transaction.
    ///
    /// While a request with an `Idempotency-Key` runs, the store's transaction is a savepoint
    /// of the request's keyed unit of work (see [`crate::idempotency`]): its commit is the
    /// unit's, which also stores the key's answer.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Db::Store(s) => match KeyedUnit::current() {
                Some(unit) => unit.begin(s).await,
                None => s.begin().await,
            },
            Db::Joined(t) => t.begin().await,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }
}

/// Statements outside a unit of work go straight to the pool, or through the caller's
/// transaction. While a keyed request runs, every statement goes through its transaction
/// (opened by the first), so that even a write made without `begin` commits with the key.
#[async_trait::async_trait]
impl ConnectionTrait for Db<'_> {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Db::Store(s) => s.conn.get_database_backend(),
            Db::Joined(t) => t.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Db::Store(s) => match KeyedUnit::current() {
                Some(unit) => unit.open(s).await?.execute_raw(stmt).await,
                None => s.conn.execute_raw(stmt).await,
            },
            Db::Joined(t) => t.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Db::Store(s) => match KeyedUnit::current() {
                Some(unit) => unit.open(s).await?.execute_unprepared(sql).await,
                None => s.conn.execute_unprepared(sql).await,
            },
            Db::Joined(t) => t.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Db::Store(s) => match KeyedUnit::current() {
                Some(unit) => unit.open(s).await?.query_one_raw(stmt).await,
                None => s.conn.query_one_raw(stmt).await,
            },
            Db::Joined(t) => t.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Db::Store(s) => match KeyedUnit::current() {
                Some(unit) => unit.open(s).await?.query_all_raw(stmt).await,
                None => s.conn.query_all_raw(stmt).await,
            },
            Db::Joined(t) => t.query_all_raw(stmt).await,
        }
    }
}

/// A person acting through the API, a batch, an import or a process step: who, with which
/// roles (an API token's are its owner's, narrowed to the token's), through which credential,
/// and the correlation id every journal entry of the request carries.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub roles: RoleSet,
    pub api_token_id: Option<Uuid>,
    pub correlation_id: Option<String>,
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(role)
    }

    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }

    /// The journal's view of this caller.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user_id),
            api_token_id: self.api_token_id,
            request_id: self.correlation_id.clone(),
        }
    }

    /// Whose records this caller may see (see [`crate::visibility`]).
    pub async fn visibility(&self, db: &impl ConnectionTrait) -> OpResult<Scope> {
        Ok(crate::visibility::scope_of(db, self.user_id, self.is_admin()).await?)
    }
}

/// The public representation of a view: the JSON its `GET` answers, which the journal's
/// event carries.
pub fn present<T: serde::Serialize>(view: &T) -> serde_json::Value {
    serde_json::to_value(view).unwrap_or(serde_json::Value::Null)
}

/// Refuses a reference to a record that does not exist (or is deleted) with a 422 naming the
/// field, instead of a foreign-key error from the database.
pub async fn ensure_exists<E, C>(db: &C, field: &str, id: Uuid) -> OpResult<()>
where
    E: crate::records::VersionedRecord,
    E::Model: serde::Serialize
        + Clone
        + PartialEq
        + Send
        + Sync
        + sea_orm::IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: sea_orm::ActiveModelTrait<Entity = E> + Send,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
    C: ConnectionTrait,
{
    match crate::records::find::<E, C>(db, id).await {
        Ok(_) => Ok(()),
        Err(crate::StoreError::NotFound) => Err(Error::field(
            field,
            "not_found",
            format!("{field} {id} does not exist"),
        )),
        Err(e) => Err(e.into()),
    }
}
pub mod bank_statements;
