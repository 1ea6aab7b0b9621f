//! `/bank-exports/payment-orders` (INT-1C-2): payment orders out, a `1CClientBankExchange`
//! file for the bank's client software.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use sdelka_domain::role::Role;
use sdelka_persistence::ops::bank_exports as ops;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::{Authorized, Policy};
use crate::error::ApiResult;
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(payment_orders);
}

/// Who exports payment orders: as for payments (each sees the supplier invoices he may see).
pub struct MoneyStaffOnly;
impl Policy for MoneyStaffOnly {
    const ROLES: &'static [Role] = sdelka_persistence::ops::payments::MONEY_STAFF;
    const DESCRIPTION: &'static str = "admin, accountant, head or sales_manager";
}
pub type MoneyStaff = Authorized<MoneyStaffOnly>;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentOrdersQuery {
    /// Our organisation that pays (its primary bank account is the payer's account).
    pub organization_id: Uuid,
    /// The date of the payment orders, `YYYY-MM-DD`; default today.
    pub date: Option<NaiveDate>,
}

/// The approved, unpaid supplier invoices of an organisation as payment orders: a
/// `1CClientBankExchange` 1.03 file, windows-1251 with CRLF line ends, one
/// `Платежное поручение` per invoice (payer: the organisation and its primary account;
/// recipient: the supplier's legal entity and its primary bank account; the purpose names the
/// invoice and its VAT, `в т.ч. НДС 22 % — 1 234,56 руб.` or `НДС не облагается`). Orders are
/// numbered 1, 2, … in the file. An invoice whose supplier has no bank account is left out
/// and named in `X-Skipped-Supplier-Invoices`.
#[utoipa::path(
    tag = "documents",
    params(PaymentOrdersQuery),
    responses(
        (status = 200, description = "The file (windows-1251)", content_type = "text/plain; charset=windows-1251", body = String,
            headers(
                ("X-Payment-Orders" = u32, description = "How many payment orders the file has"),
                ("X-Skipped-Supplier-Invoices" = String, description = "Comma-separated ids of the invoices left out: their supplier has no bank account")
            )),
        (status = 422, description = "No such organisation, or it has no bank account", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/bank-exports/payment-orders")]
pub async fn payment_orders(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    query: web::Query<PaymentOrdersQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let date = q
        .date
        .unwrap_or_else(|| sdelka_persistence::journal::now().date_naive());
    let file = ops::payment_orders(state.db(), &caller, q.organization_id, date).await?;
    let skipped: Vec<String> = file.skipped.iter().map(Uuid::to_string).collect();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=windows-1251")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"1c_to_kl_{}.txt\"",
                date.format("%Y%m%d")
            ),
        ))
        .insert_header(("X-Payment-Orders", file.orders.to_string()))
        .insert_header(("X-Skipped-Supplier-Invoices", skipped.join(",")))
        .body(file.bytes))
}
