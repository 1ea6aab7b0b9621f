//! `q=` of the lists: a case-insensitive substring of a record's `search_text` (kept
//! lower-cased by its operations). The list queries match it with `LIKE`, which PostgreSQL
//! serves from its `pg_trgm` indexes. On SQLite, [`narrow`] adds the candidates of the table's
//! FTS5 trigram index (migration m0019) for a `q` of three or more characters; the `LIKE`
//! stays, so the answer is the same on both backends and the index only saves the scan.

use sea_orm::sea_query::Expr;
use sea_orm::{EntityTrait, QueryFilter, Select};

use crate::db::Backend;

/// The shortest `q` the trigram index can look up; a shorter one is matched by a scan.
pub const MIN_INDEXED_CHARS: usize = 3;

/// `select` restricted to the records of `table` whose search text the index finds `q` in
/// (SQLite, `q` long enough); otherwise `select` unchanged.
pub fn narrow<E: EntityTrait>(
    select: Select<E>,
    backend: Backend,
    table: &'static str,
    q: Option<&str>,
) -> Select<E> {
    match (backend, q) {
        (Backend::Sqlite, Some(q)) if q.chars().count() >= MIN_INDEXED_CHARS => {
            let phrase = format!(
                "search_text : \"{}\"",
                q.to_lowercase().replace('"', "\"\"")
            );
            select.filter(Expr::cust_with_values(
                format!(
                    "\"{table}\".\"id\" IN (SELECT unhex(\"id\") FROM \"{table}_fts\" \
                     WHERE \"{table}_fts\" MATCH ?)"
                ),
                [phrase],
            ))
        }
        _ => select,
    }
}
