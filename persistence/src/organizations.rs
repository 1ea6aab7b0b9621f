//! ORG-1 own organisations and their bank accounts.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select};
use uuid::Uuid;

use crate::entity::{bank_account, organization};
use crate::error::StoreResult;
use crate::people::contains;

/// What a case-insensitive search matches: Rust lower-cases Cyrillic correctly, which
/// SQLite's `LOWER()` does not, so the folded text is computed here and stored.
pub fn search_text(name: &str, short_name: &str, inn: &str) -> String {
    format!("{} {} {}", name, short_name, inn).to_lowercase()
}

#[derive(Debug, Default)]
pub struct OrganizationFilter {
    pub q: Option<String>,
    pub inn: Option<String>,
    pub vat_payer: Option<bool>,
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn organizations_query(f: &OrganizationFilter) -> Select<organization::Entity> {
    let mut q = organization::Entity::find().filter(organization::Column::DeletedAt.is_null());
    if let Some(text) = &f.q {
        q = q.filter(contains(
            organization::Column::SearchText,
            &text.to_lowercase(),
        ));
    }
    if let Some(inn) = &f.inn {
        q = q.filter(organization::Column::Inn.eq(inn.clone()));
    }
    if let Some(v) = f.vat_payer {
        q = q.filter(organization::Column::VatPayer.eq(v));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(organization::Column::UpdatedAt.gte(t));
    }
    q
}

pub async fn bank_accounts<C: ConnectionTrait>(
    db: &C,
    organization_id: Uuid,
) -> StoreResult<Vec<bank_account::Model>> {
    Ok(bank_account::Entity::find()
        .filter(bank_account::Column::OrganizationId.eq(organization_id))
        .filter(bank_account::Column::DeletedAt.is_null())
        .order_by_asc(bank_account::Column::Id)
        .all(db)
        .await?)
}

/// Bank accounts of many organisations in one query (list pages).
pub async fn bank_accounts_of<C: ConnectionTrait>(
    db: &C,
    organization_ids: &[Uuid],
) -> StoreResult<Vec<bank_account::Model>> {
    if organization_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(bank_account::Entity::find()
        .filter(bank_account::Column::OrganizationId.is_in(organization_ids.iter().copied()))
        .filter(bank_account::Column::DeletedAt.is_null())
        .order_by_asc(bank_account::Column::Id)
        .all(db)
        .await?)
}
