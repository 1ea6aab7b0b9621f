//! What the sales documents made from a deal (quotes DOC-1, orders DOC-2) share: their rows as
//! the API shows them, totals with VAT per rate, and the checks of seller and buyer.

#[allow(unused_imports)]
use sdelka_persistence::ops::documents::*;
