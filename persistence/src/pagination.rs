//! API-3 keyset pagination: a page is "the next `limit` rows after this (sort value, id)",
//! so pages stay stable while rows are inserted, and deep pages cost what the first one does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{ColumnType, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};

/// The sort value of the last row of a page, typed so it can be compared in SQL again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
pub enum CursorValue {
    Text(String),
    Time(DateTime<Utc>),
    Int(i64),
    Date(NaiveDate),
}

/// The key a row without a date sorts by: after every real date (ascending). 9999-12-31, not
/// chrono's maximum, whose text form (`+262143-…`) would sort first where dates are text.
pub fn last_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

impl From<CursorValue> for Value {
    fn from(v: CursorValue) -> Value {
        match v {
            CursorValue::Text(s) => s.into(),
            CursorValue::Time(t) => t.into(),
            CursorValue::Int(i) => i.into(),
            CursorValue::Date(d) => d.into(),
        }
    }
}

/// Opaque position in a list. Clients pass it back as `cursor=`; it is bound to the sort it
/// was made for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub sort: String,
    #[serde(rename = "k")]
    pub value: CursorValue,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> StoreResult<Cursor> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| StoreError::InvalidCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)
    }
}

/// One allowed sort of a list: its public name, column, and how to read the key of a row.
pub struct SortKey<E: EntityTrait> {
    pub name: &'static str,
    pub column: E::Column,
    pub key: fn(&E::Model) -> CursorValue,
}

/// What a caller asked of a list, already validated.
pub struct PageRequest<'a, E: EntityTrait> {
    pub sort: &'a SortKey<E>,
    pub descending: bool,
    pub limit: u64,
    pub after: Option<Cursor>,
    pub with_total: bool,
}

pub struct Page<M> {
    pub items: Vec<M>,
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

/// Runs `select` (already filtered) as one page. `id_column`/`id_of` are the tiebreaker that
/// makes the order total.
pub async fn fetch_page<E, C>(
    db: &C,
    select: Select<E>,
    req: PageRequest<'_, E>,
    id_column: E::Column,
    id_of: fn(&E::Model) -> Uuid,
) -> StoreResult<Page<E::Model>>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    let total = if req.with_total {
        Some(select.clone().count(db).await?)
    } else {
        None
    };
    let mut items = page_query(select, &req, id_column)?.all(db).await?;
    let next_cursor = if items.len() as u64 > req.limit {
        items.truncate(req.limit as usize);
        items.last().map(|last| {
            Cursor {
                sort: sort_label(req.sort.name, req.descending),
                value: (req.sort.key)(last),
                id: id_of(last),
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Page {
        items,
        next_cursor,
        total,
    })
}

/// What a sort orders by: its column, or for a column that may be empty (a due date) the
/// column with a value past every real one in place of NULL, so that rows without one come
/// last ascending on both backends and the keyset comparison never meets a NULL.
fn sort_expr<C: ColumnTrait>(column: C) -> SimpleExpr {
    let col = Expr::col((column.entity_name(), column));
    let def = column.def();
    if !def.is_null() {
        return col;
    }
    let last: Option<Value> = match def.get_column_type() {
        ColumnType::Date => Some(last_date().into()),
        ColumnType::BigInteger | ColumnType::Integer => Some(i64::MAX.into()),
        _ => None,
    };
    match last {
        Some(v) => Func::coalesce([col, Expr::val(v)]).into(),
        None => col,
    }
}

/// The query of one page: `select` past the cursor, in the sort's order with the id as the
/// tiebreaker, one row more than the page to tell whether another follows.
pub fn page_query<E: EntityTrait>(
    select: Select<E>,
    req: &PageRequest<'_, E>,
    id_column: E::Column,
) -> StoreResult<Select<E>> {
    let mut select = select;
    let key = sort_expr(req.sort.column);
    let id = Expr::col((E::default(), id_column));
    if let Some(cursor) = &req.after {
        if cursor.sort != sort_label(req.sort.name, req.descending)
            || !fits(&cursor.value, req.sort.column.def().get_column_type())
        {
            return Err(StoreError::InvalidCursor);
        }
        // One row-value comparison, `(key, id) > ($1, $2)`: both backends read it as a range
        // of the (key, id) index, so a page deep in the list costs what the first one does
        // (`key > $1 OR (key = $1 AND id > $2)` made PostgreSQL walk the index from the start).
        let v: Value = cursor.value.clone().into();
        let row = Expr::tuple([key.clone(), id.clone()]);
        let after = Expr::tuple([Expr::val(v), Expr::val(cursor.id)]);
        select = select.filter(if req.descending {
            row.lt(after)
        } else {
            row.gt(after)
        });
    }
    let order = if req.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    Ok(select
        .order_by(key, order.clone())
        .order_by(id, order)
        .limit(req.limit + 1))
}

/// A cursor is opaque but not tamper-proof: a value of another type than the sort column
/// would reach the database as a type error, so it is refused here as an invalid cursor.
fn fits(value: &CursorValue, column: &ColumnType) -> bool {
    match value {
        CursorValue::Text(_) => matches!(
            column,
            ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_)
        ),
        CursorValue::Time(_) => matches!(
            column,
            ColumnType::TimestampWithTimeZone | ColumnType::DateTime | ColumnType::Timestamp
        ),
        CursorValue::Int(_) => matches!(
            column,
            ColumnType::BigInteger | ColumnType::Integer | ColumnType::SmallInteger
        ),
        CursorValue::Date(_) => matches!(column, ColumnType::Date),
    }
}

fn sort_label(name: &str, descending: bool) -> String {
    if descending {
        format!("-{name}")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{deal, supplier_invoice};
    use sea_orm::{DbBackend, QueryTrait};

    fn sql_of<E: EntityTrait>(
        sorts: &[SortKey<E>],
        sort: &str,
        descending: bool,
        value: CursorValue,
        id_column: E::Column,
    ) -> (String, String) {
        let key = sorts.iter().find(|s| s.name == sort).unwrap();
        let req = PageRequest {
            sort: key,
            descending,
            limit: 50,
            after: Some(Cursor {
                sort: sort_label(sort, descending),
                value,
                id: Uuid::nil(),
            }),
            with_total: false,
        };
        let q = page_query(E::find(), &req, id_column).unwrap();
        (
            q.build(DbBackend::Postgres).to_string(),
            q.build(DbBackend::Sqlite).to_string(),
        )
    }

    #[test]
    fn a_page_past_a_cursor_is_one_row_value_comparison() {
        let sorts = crate::ops::deals::sorts();
        let at = Utc::now();
        let (pg, lite) = sql_of(
            &sorts,
            "created_at",
            false,
            CursorValue::Time(at),
            deal::Column::Id,
        );
        assert!(
            pg.contains(r#"("deals"."created_at", "deals"."id") > ("#),
            "{pg}"
        );
        assert!(!pg.contains(" OR "), "{pg}");
        assert!(pg.contains(r#"ORDER BY "deals"."created_at" ASC, "deals"."id" ASC LIMIT 51"#));
        assert!(
            lite.contains(r#"("deals"."created_at", "deals"."id") > ("#),
            "{lite}"
        );
        let (pg, _) = sql_of(
            &sorts,
            "amount",
            true,
            CursorValue::Int(5),
            deal::Column::Id,
        );
        assert!(
            pg.contains(r#"("deals"."amount_minor", "deals"."id") < (5, "#),
            "{pg}"
        );
        // A sort on a column that may be empty compares what it orders by.
        let sorts = crate::ops::supplier_invoices::sorts();
        let (pg, _) = sql_of(
            &sorts,
            "due_date",
            false,
            CursorValue::Date(last_date()),
            supplier_invoice::Column::Id,
        );
        assert!(
            pg.contains(r#"(COALESCE("supplier_invoices"."due_date", '9999-12-31'), "supplier_invoices"."id") > ('9999-12-31', "#),
            "{pg}"
        );
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            sort: "-created_at".into(),
            value: CursorValue::Text("Ромашка".into()),
            id: Uuid::nil(),
        };
        assert_eq!(Cursor::decode(&c.encode()).ok(), Some(c));
        assert!(matches!(
            Cursor::decode("%%%"),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            Cursor::decode("e30"),
            Err(StoreError::InvalidCursor)
        ));
    }
}
