//! `/organizations/{id}/pools`: the pools of an own organisation (WF-INV-2, WF-INV-4) —
//! `decision_makers` take supplier invoices for approval, `accountants` claim them for
//! payment. Everyone may read them; admins set them.

use crate::approvals::{self as store, POOL_ACCOUNTANTS, POOL_DECISION_MAKERS};
use crate::entity::{organization, pool, user};
use crate::journal::now;
use crate::records;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{Caller, Db, Error, OpResult, ensure_exists, present};

/// Which pool of an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PoolKind {
    /// Heads who take supplier invoices for approval; the first to take one decides it.
    DecisionMakers,
    /// Accountants; the first to claim an approved invoice pays it, the others stop seeing it.
    Accountants,
}

impl PoolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolKind::DecisionMakers => POOL_DECISION_MAKERS,
            PoolKind::Accountants => POOL_ACCOUNTANTS,
        }
    }
}

/// A pool with its members.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolView {
    pub id: Uuid,
    pub organization_id: Uuid,
    #[schema(value_type = PoolKind)]
    pub kind: String,
    #[schema(example = "Руководители")]
    pub name: String,
    pub member_ids: Vec<Uuid>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolList {
    pub items: Vec<PoolView>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPool {
    /// The pool's members; replaces the current ones. Each must be an existing user.
    #[validate(length(max = 200))]
    pub member_ids: Vec<Uuid>,
    /// Default: "Decision makers" / "Accountants".
    #[validate(length(min = 1, max = 200))]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PoolPath {
    /// Own organisation id.
    pub id: Uuid,
    #[param(inline)]
    pub kind: PoolKind,
}

pub async fn view<C: ConnectionTrait>(db: &C, p: &pool::Model) -> OpResult<PoolView> {
    Ok(view_with(p, store::members(db, p.id).await?))
}

/// A pool's view given its members (in the order [`store::members`] reads them: by user id).
fn view_with(p: &pool::Model, member_ids: Vec<Uuid>) -> PoolView {
    PoolView {
        id: p.id,
        organization_id: p.organization_id,
        kind: p.kind.clone(),
        name: p.name.clone(),
        member_ids,
        version: p.version,
        updated_at: p.updated_at,
    }
}

/// The pools of an own organisation with their members.
pub async fn list_pools(db: Db<'_>, _caller: &Caller, organization_id: Uuid) -> OpResult<PoolList> {
    let org = records::find::<organization::Entity, _>(&db, organization_id).await?;
    let mut items = Vec::new();
    for p in store::pools_of_organization(&db, org.id).await? {
        items.push(view(&db, &p).await?);
    }
    Ok(PoolList { items })
}

/// Sets the members (and optionally the name) of one pool of an own organisation, creating the
/// pool on first use. The pool's version moves even when only its members change; the journal
/// carries the pool with its members before and after.
pub async fn set_pool(
    db: Db<'_>,
    caller: &Caller,
    path: PoolPath,
    if_match: Option<i32>,
    req: SetPool,
) -> OpResult<PoolView> {
    let txn = db.begin().await?;
    records::find::<organization::Entity, _>(&txn, path.id).await?;
    for (i, u) in req.member_ids.iter().enumerate() {
        ensure_exists::<user::Entity, _>(&txn, &format!("member_ids[{i}]"), *u).await?;
    }
    let default_name = match path.kind {
        PoolKind::DecisionMakers => "Decision makers",
        PoolKind::Accountants => "Accountants",
    };
    let new_members: Vec<Uuid> = req
        .member_ids
        .iter()
        .copied()
        .collect::<BTreeSet<Uuid>>()
        .into_iter()
        .collect();
    let p = match store::pool_of(&txn, path.id, path.kind.as_str()).await? {
        Some(p) => {
            let old_members = store::members(&txn, p.id).await?;
            let old_version = p.version;
            let name = req.name.clone();
            // Touch the pool even when only members change, so that its version moves.
            records::update::<pool::Entity, _, _, Error>(
                &txn,
                &caller.actor(),
                p.id,
                if_match,
                |m| {
                    if let Some(n) = name {
                        m.name = n;
                    }
                    m.updated_at = now();
                    Ok(())
                },
                |m| {
                    let members = if m.version == old_version {
                        old_members.clone()
                    } else {
                        new_members.clone()
                    };
                    present(&view_with(m, members))
                },
            )
            .await??
        }
        None => {
            let at = now();
            records::create::<pool::Entity, _>(
                &txn,
                &caller.actor(),
                pool::Model {
                    id: Uuid::now_v7(),
                    organization_id: path.id,
                    kind: path.kind.as_str().to_owned(),
                    name: req.name.clone().unwrap_or_else(|| default_name.to_owned()),
                    version: 1,
                    created_at: at,
                    updated_at: at,
                    deleted_at: None,
                },
                |m| present(&view_with(m, new_members.clone())),
            )
            .await?
        }
    };
    store::set_members(&txn, p.id, &req.member_ids).await?;
    let v = view(&txn, &p).await?;
    txn.commit().await?;
    Ok(v)
}
