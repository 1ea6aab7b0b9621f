//! WF-BILL-1, task billing into deals: the time spent on a task (given when it is completed)
//! and one billing record per task, unique, so that a task's time goes into its deal once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::{index, record_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("tasks")
                .add_column(integer_null("time_spent_minutes"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            record_columns(
                Table::create()
                    .table("task_billings")
                    .col(uuid("id").primary_key())
                    .col(uuid("task_id"))
                    .col(uuid("deal_id"))
                    .col(string_len("mode", 32))
                    .col(integer("minutes"))
                    .col(big_integer("quantity_thousandths"))
                    .col(big_integer("price_minor"))
                    .col(uuid_null("product_id"))
                    .col(boolean("product_created"))
                    .col(uuid("product_row_id"))
                    .col(uuid_null("billed_by")),
            )
            .to_owned(),
        )
        .await?;
        // Exactly once per task: a second billing of the same task is refused by the database.
        m.create_index(
            index("task_billings", "ux_task_billings_task", &["task_id"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "task_billings",
            "ix_task_billings_deal",
            &["deal_id", "created_at"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("task_billings").to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table("tasks")
                .drop_column("time_spent_minutes")
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
