//! INT-1: a subscription receives the events positioned while it was on, however far the
//! dispatcher lags behind the feed. The dispatcher keeps, per subscription, whether it was on
//! at the dispatcher's offset; subscriptions that exist now start as they are.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("webhooks")
                .add_column(boolean("receiving").default(false))
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared("UPDATE webhooks SET receiving = active")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("webhooks")
                .drop_column("receiving")
                .to_owned(),
        )
        .await
    }
}
