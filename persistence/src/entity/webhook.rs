use sea_orm::entity::prelude::*;

/// A webhook subscription (INT-1).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: String,
    pub skip_own_credential: bool,
    pub active: bool,
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    pub owner_id: Uuid,
    pub api_token_id: Option<Uuid>,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTimeUtc>,
    /// Whether the subscription was on at the dispatcher's offset: set by the dispatcher as it
    /// passes the subscription's own events in the feed, so that it receives exactly the
    /// events positioned while it was on, however far the dispatcher lags behind.
    pub receiving: bool,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
