//! INT-1 secret rotation: a subscription keeps its previous secret until a grace period ends,
//! and deliveries are signed with both keys until then.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        m.alter_table(
            Table::alter()
                .table("webhooks")
                .add_column(string_len_null("previous_secret", 200))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("webhooks")
                .add_column(timestamp_with_time_zone_null("previous_secret_expires_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for c in ["previous_secret_expires_at", "previous_secret"] {
            m.alter_table(Table::alter().table("webhooks").drop_column(c).to_owned())
                .await?;
        }
        Ok(())
    }
}
