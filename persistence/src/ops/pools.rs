//! `/organizations/{id}/pools`: the pools of an own organisation (WF-INV-2, WF-INV-4) —
//! `decision_makers` take supplier invoices for approval, `accountants` claim them for
//! payment. Everyone may read them; admins set them.

use crate::approvals::{self as store, POOL_ACCOUNTANTS, POOL_DECISION_MAKERS};
use crate::entity::pool;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::OpResult;

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
    Ok(PoolView {
        id: p.id,
        organization_id: p.organization_id,
        kind: p.kind.clone(),
        name: p.name.clone(),
        member_ids: store::members(db, p.id).await?,
        version: p.version,
        updated_at: p.updated_at,
    })
}
