//! The templates that ship with the product (WF-BP-5), as JSON definitions. They are installed
//! as drafts and published like any other, and are edited the same way.

/// `(code, definition JSON)` of every shipped template.
pub const SHIPPED: [(&str, &str); 4] = [
    ("sale", include_str!("templates/sale.json")),
    ("cold_lead", include_str!("templates/cold_lead.json")),
    (
        "document_approval",
        include_str!("templates/document_approval.json"),
    ),
    (
        "vacation_approval",
        include_str!("templates/vacation_approval.json"),
    ),
];
