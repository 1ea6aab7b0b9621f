use sea_orm::entity::prelude::*;

/// An order in the CommerceML exchange: what was sent to 1C and confirmed, and what 1C
/// reported back.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "cml_order_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: Uuid,
    /// The order's version the last query sent, and the session that query belonged to,
    /// until that session's `mode=success`.
    pub sent_version: Option<i32>,
    pub sent_session: Option<Uuid>,
    /// The version 1C confirmed; the order is sent again once its version differs.
    pub exported_version: Option<i32>,
    pub exported_at: Option<DateTimeUtc>,
    /// `Номер1С`, the order's status in 1C, and when 1C says it was paid and shipped.
    pub number_1c: Option<String>,
    pub status_1c: Option<String>,
    pub paid_1c: Option<String>,
    pub shipped_1c: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
