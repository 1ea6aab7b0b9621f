//! Schema pieces every migration uses.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Columns every versioned business record carries (API-5 optimistic concurrency, ACT-4 soft
/// delete, API-3 `updated_since`).
pub fn record_columns(t: &mut TableCreateStatement) -> &mut TableCreateStatement {
    t.col(integer("version").default(1))
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
        .col(timestamp_with_time_zone_null("deleted_at"))
}

/// A named index on `cols` of `table`.
pub fn index(
    table: &'static str,
    name: &'static str,
    cols: &[&'static str],
) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(*c);
    }
    idx.to_owned()
}
