//! The `1CClientBankExchange` file (SPEC INT-1C-2): bank statements from the bank into the CRM
//! and payment orders from the CRM to the bank, versions 1.02 and 1.03.
//!
//! The file is lines of `Key=Value` after a first line `1CClientBankExchange`: header keys, then
//! `СекцияРасчСчет` … `КонецРасчСчет` (an account's balances for the period) and
//! `СекцияДокумент=<kind>` … `КонецДокумента` (one payment document each), ending with
//! `КонецФайла`. [`parse`] keeps every line in order (unknown keys and unknown document kinds
//! included, so nothing a bank sends is lost) and offers typed readings on top; problems that do
//! not stop reading — a requisite failing its checksum, balances that do not add up, a key the
//! standard does not define — are [`Warning`]s naming the document, the key and the rule.
//! [`write`] produces windows-1251 with CRLF line ends, what banks' client software reads.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use encoding_rs::{Encoding, IBM866, UTF_8, WINDOWS_1251};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::requisites::{Bik, CorrespondentAccount, Inn, SettlementAccount};
use crate::text_encoding;

/// The first line of every exchange file.
pub const MAGIC: &str = "1CClientBankExchange";

/// One `Key=Value` line, in the order the file had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub key: String,
    pub value: String,
}

impl Field {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

fn first<'a>(fields: &'a [Field], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| f.key == key)
        .map(|f| f.value.trim())
        .filter(|v| !v.is_empty())
}

/// A whole exchange file: header lines, account sections and documents.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Statement {
    /// The header's lines (everything outside a section), in order.
    pub header: Vec<Field>,
    /// The `СекцияРасчСчет` sections.
    pub accounts: Vec<AccountSection>,
    /// The `СекцияДокумент` sections.
    pub documents: Vec<Document>,
}

impl Statement {
    /// The first value of a header key, trimmed; `None` when missing or empty.
    #[must_use]
    pub fn header_value(&self, key: &str) -> Option<&str> {
        first(&self.header, key)
    }

    /// `ВерсияФормата`.
    #[must_use]
    pub fn version(&self) -> Option<&str> {
        self.header_value("ВерсияФормата")
    }
}

/// A `СекцияРасчСчет`: one account's balances for the period.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AccountSection {
    pub fields: Vec<Field>,
}

impl AccountSection {
    #[must_use]
    pub fn value(&self, key: &str) -> Option<&str> {
        first(&self.fields, key)
    }

    /// `РасчСчет`.
    #[must_use]
    pub fn account(&self) -> Option<&str> {
        self.value("РасчСчет")
    }

    /// The four amounts, each when present and a number.
    #[must_use]
    pub fn balances(&self) -> Balances {
        let amount = |k| self.value(k).and_then(parse_amount);
        Balances {
            opening: amount("НачальныйОстаток"),
            incoming: amount("ВсегоПоступило"),
            outgoing: amount("ВсегоСписано"),
            closing: amount("КонечныйОстаток"),
        }
    }
}

/// An account section's balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Balances {
    pub opening: Option<Decimal>,
    pub incoming: Option<Decimal>,
    pub outgoing: Option<Decimal>,
    pub closing: Option<Decimal>,
}

impl Balances {
    /// Whether opening + incoming − outgoing = closing; `None` when a figure is missing.
    #[must_use]
    pub fn adds_up(&self) -> Option<bool> {
        Some(self.opening? + self.incoming? - self.outgoing? == self.closing?)
    }
}

/// The kind of a `СекцияДокумент`, from the value after `=`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// Платежное поручение.
    PaymentOrder,
    /// Банковский ордер.
    BankOrder,
    /// Платежное требование.
    PaymentRequest,
    /// Инкассовое поручение.
    CollectionOrder,
    /// Платежный ордер.
    PaymentWarrant,
    /// Мемориальный ордер.
    MemorialOrder,
    /// Аккредитив.
    LetterOfCredit,
    /// Объявление на взнос наличными.
    CashDeposit,
    /// Any other kind, kept as written.
    Other(String),
}

impl DocumentKind {
    const KNOWN: [(&'static str, DocumentKind); 8] = [
        ("Платежное поручение", DocumentKind::PaymentOrder),
        ("Банковский ордер", DocumentKind::BankOrder),
        ("Платежное требование", DocumentKind::PaymentRequest),
        ("Инкассовое поручение", DocumentKind::CollectionOrder),
        ("Платежный ордер", DocumentKind::PaymentWarrant),
        ("Мемориальный ордер", DocumentKind::MemorialOrder),
        ("Аккредитив", DocumentKind::LetterOfCredit),
        ("Объявление на взнос наличными", DocumentKind::CashDeposit),
    ];

    /// The kind a section names (`ё` read as `е`, case and outer spaces ignored).
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        let norm = name.trim().to_lowercase().replace('ё', "е");
        Self::KNOWN
            .iter()
            .find(|(n, _)| n.to_lowercase() == norm)
            .map_or_else(|| Self::Other(name.trim().to_owned()), |(_, k)| k.clone())
    }

    /// The name as the standard spells it (an unknown kind as it was written).
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Other(s) => s,
            known => Self::KNOWN
                .iter()
                .find(|(_, k)| k == known)
                .map_or("", |(n, _)| n),
        }
    }

    /// A stable snake_case code for the API (`other` for unknown kinds).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::PaymentOrder => "payment_order",
            Self::BankOrder => "bank_order",
            Self::PaymentRequest => "payment_request",
            Self::CollectionOrder => "collection_order",
            Self::PaymentWarrant => "payment_warrant",
            Self::MemorialOrder => "memorial_order",
            Self::LetterOfCredit => "letter_of_credit",
            Self::CashDeposit => "cash_deposit",
            Self::Other(_) => "other",
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One side of a payment, as the document names it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Party {
    pub name: Option<String>,
    pub inn: Option<String>,
    pub kpp: Option<String>,
    /// `…РасчСчет`, else `…Счет`.
    pub account: Option<String>,
    pub bank_name: Option<String>,
    pub bik: Option<String>,
    pub correspondent_account: Option<String>,
}

/// Which way money moved, seen from the statement's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Incoming,
    Outgoing,
    /// Neither dated nor naming one of our accounts.
    Unknown,
}

/// A `СекцияДокумент`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// The kind as written after `СекцияДокумент=`.
    pub kind_name: String,
    pub fields: Vec<Field>,
}

impl Document {
    #[must_use]
    pub fn kind(&self) -> DocumentKind {
        DocumentKind::from_name(&self.kind_name)
    }

    /// The first value of `key`, trimmed; `None` when missing or empty.
    #[must_use]
    pub fn value(&self, key: &str) -> Option<&str> {
        first(&self.fields, key)
    }

    /// `Номер`.
    #[must_use]
    pub fn number(&self) -> Option<&str> {
        self.value("Номер")
    }

    /// `Дата`.
    #[must_use]
    pub fn date(&self) -> Option<NaiveDate> {
        self.value("Дата").and_then(parse_date)
    }

    /// `Сумма`.
    #[must_use]
    pub fn amount(&self) -> Option<Decimal> {
        self.value("Сумма").and_then(parse_amount)
    }

    /// `ДатаСписано`: the day money left the account.
    #[must_use]
    pub fn debited_on(&self) -> Option<NaiveDate> {
        self.value("ДатаСписано").and_then(parse_date)
    }

    /// `ДатаПоступило`: the day money arrived.
    #[must_use]
    pub fn credited_on(&self) -> Option<NaiveDate> {
        self.value("ДатаПоступило").and_then(parse_date)
    }

    /// `НазначениеПлатежа`, else the lines `НазначениеПлатежа1` … `6` joined by spaces.
    #[must_use]
    pub fn purpose(&self) -> String {
        if let Some(p) = self.value("НазначениеПлатежа") {
            return p.to_owned();
        }
        (1..=6)
            .filter_map(|i| self.value(&format!("НазначениеПлатежа{i}")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn party(&self, prefix: &str) -> Party {
        let get = |suffix: &str| self.value(&format!("{prefix}{suffix}")).map(str::to_owned);
        Party {
            name: get("1").or_else(|| get("")),
            inn: get("ИНН"),
            kpp: get("КПП"),
            account: get("РасчСчет").or_else(|| get("Счет")),
            bank_name: get("Банк1"),
            bik: get("БИК"),
            correspondent_account: get("Корсчет"),
        }
    }

    #[must_use]
    pub fn payer(&self) -> Party {
        self.party("Плательщик")
    }

    #[must_use]
    pub fn recipient(&self) -> Party {
        self.party("Получатель")
    }

    /// Incoming when the bank dated its arrival (`ДатаПоступило`) or it went to one of
    /// `our_accounts`; outgoing when dated `ДатаСписано` or paid from one of them.
    #[must_use]
    pub fn direction(&self, our_accounts: &[&str]) -> Direction {
        if self.credited_on().is_some() {
            return Direction::Incoming;
        }
        if self.debited_on().is_some() {
            return Direction::Outgoing;
        }
        let ours = |p: &Party| {
            p.account
                .as_deref()
                .is_some_and(|a| our_accounts.contains(&a))
        };
        match (ours(&self.payer()), ours(&self.recipient())) {
            (false, true) => Direction::Incoming,
            (true, false) => Direction::Outgoing,
            _ => Direction::Unknown,
        }
    }
}

/// Where a warning was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "section")]
pub enum Location {
    Header,
    /// The n-th (0-based) account section.
    Account {
        index: usize,
    },
    /// The n-th (0-based) document, with its number when it has one.
    Document {
        index: usize,
        number: Option<String>,
    },
}

/// Something worth telling that did not stop the file from being read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub location: Location,
    /// The 1-based line number.
    pub line: Option<usize>,
    /// The key concerned, when one is.
    pub key: Option<String>,
    /// A stable code: `checksum_mismatch`, `invalid_length`, `not_digits`, … (from the requisite
    /// checks), `balance_mismatch`, `unknown_key`, `invalid_amount`, `invalid_date`,
    /// `line_without_equals`, `unknown_kind`, `encoding_differs`.
    pub rule: String,
    pub message: String,
}

/// A file that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the file does not start with `1CClientBankExchange`")]
    NotAnExchangeFile,
    #[error(transparent)]
    Encoding(#[from] text_encoding::DecodeError),
    #[error("line {line}: `{found}` inside a section that `{expected}` should have closed first")]
    UnclosedSection {
        line: usize,
        expected: &'static str,
        found: String,
    },
    #[error("line {line}: `{found}` closes no open section")]
    StrayEnd { line: usize, found: String },
    #[error("the file ends inside a section; `{expected}` is missing")]
    Truncated { expected: &'static str },
}

impl ParseError {
    /// A stable code for API error bodies.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotAnExchangeFile => "not_client_bank_exchange",
            Self::Encoding(_) => "invalid_encoding",
            Self::UnclosedSection { .. } | Self::StrayEnd { .. } | Self::Truncated { .. } => {
                "invalid_structure"
            }
        }
    }
}

/// A read file: its contents, what was worth a warning and the encoding it was read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub statement: Statement,
    pub warnings: Vec<Warning>,
    /// The WHATWG name of the encoding (`windows-1251`, `UTF-8`, `IBM866`).
    pub encoding: &'static str,
}

/// Decimal amounts as banks write them: `1234.56`, also with a comma or spaces.
#[must_use]
pub fn parse_amount(s: &str) -> Option<Decimal> {
    let cleaned: String = s
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    if cleaned.is_empty() {
        return None;
    }
    Decimal::from_str(&cleaned).ok()
}

/// Dates as `ДД.ММ.ГГГГ`.
#[must_use]
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%d.%m.%Y").ok()
}

/// A date as the file writes it.
#[must_use]
pub fn format_date(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

/// An amount as the file writes it: two decimals, a dot.
#[must_use]
pub fn format_amount(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

/// The encoding of the bytes: a byte-order mark; else the encoding in which `Кодировка=` is
/// spelt in the bytes; else [`text_encoding::decode`]'s reading (UTF-8 when valid, else
/// windows-1251). Returns the encoding and what `Кодировка` said when it disagrees.
fn detect(bytes: &[u8]) -> Option<(&'static Encoding, String)> {
    if let Some((enc, _)) = Encoding::for_bom(bytes) {
        return Some((enc, String::new()));
    }
    for enc in [UTF_8, WINDOWS_1251, IBM866] {
        let (needle, _, _) = enc.encode("\nКодировка=");
        if let Some(pos) = find(bytes, &needle) {
            let rest = &bytes[pos + needle.len()..];
            let end = rest
                .iter()
                .position(|b| *b == b'\r' || *b == b'\n')
                .unwrap_or(rest.len());
            let named = String::from_utf8_lossy(&rest[..end]).trim().to_owned();
            return Some((enc, named));
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What the value of `Кодировка` promises.
fn named_encoding(value: &str) -> Option<&'static Encoding> {
    match value.trim().to_lowercase().as_str() {
        "windows" => Some(WINDOWS_1251),
        "dos" => Some(IBM866),
        other => Encoding::for_label(other.as_bytes()),
    }
}

/// Reads an exchange file from its bytes.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    let mut warnings = Vec::new();
    let (text, encoding) = match detect(bytes) {
        Some((enc, named)) => {
            if let Some(said) = named_encoding(&named).filter(|said| *said != enc) {
                warnings.push(Warning {
                    location: Location::Header,
                    line: None,
                    key: Some("Кодировка".to_owned()),
                    rule: "encoding_differs".to_owned(),
                    message: format!(
                        "Кодировка={named} names {}, but the file is written in {}; read as {}",
                        said.name(),
                        enc.name(),
                        enc.name()
                    ),
                });
            }
            let decoded = text_encoding::decode(bytes, Some(enc.name()))?;
            (decoded.text, decoded.encoding)
        }
        None => {
            let decoded = text_encoding::decode(bytes, None)?;
            (decoded.text, decoded.encoding)
        }
    };
    let statement = parse_text(&text, &mut warnings)?;
    check(&statement, &mut warnings);
    Ok(Parsed {
        statement,
        warnings,
        encoding,
    })
}

enum Open {
    None,
    Account(AccountSection),
    Document(Document),
}

fn parse_text(text: &str, warnings: &mut Vec<Warning>) -> Result<Statement, ParseError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let first_line = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty())
        .map(|(_, l)| l.trim());
    if first_line != Some(MAGIC) {
        return Err(ParseError::NotAnExchangeFile);
    }
    let mut st = Statement::default();
    let mut open = Open::None;
    // Where each field was, for warnings: (section, field index) -> line.
    for (line_no, raw) in lines {
        let line = raw.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v),
            None => (line.trim(), ""),
        };
        match key {
            "СекцияРасчСчет" => {
                ensure_closed(&open, line_no, key)?;
                open = Open::Account(AccountSection::default());
            }
            "СекцияДокумент" => {
                ensure_closed(&open, line_no, key)?;
                open = Open::Document(Document {
                    kind_name: value.trim().to_owned(),
                    fields: Vec::new(),
                });
            }
            "КонецРасчСчет" => match std::mem::replace(&mut open, Open::None) {
                Open::Account(a) => st.accounts.push(a),
                _ => {
                    return Err(ParseError::StrayEnd {
                        line: line_no,
                        found: key.to_owned(),
                    });
                }
            },
            "КонецДокумента" => match std::mem::replace(&mut open, Open::None) {
                Open::Document(d) => st.documents.push(d),
                _ => {
                    return Err(ParseError::StrayEnd {
                        line: line_no,
                        found: key.to_owned(),
                    });
                }
            },
            "КонецФайла" => {
                ensure_closed(&open, line_no, key)?;
                break;
            }
            _ => {
                let location = match &open {
                    Open::None => Location::Header,
                    Open::Account(_) => Location::Account {
                        index: st.accounts.len(),
                    },
                    Open::Document(d) => Location::Document {
                        index: st.documents.len(),
                        number: first(&d.fields, "Номер").map(str::to_owned),
                    },
                };
                if !line.contains('=') {
                    warnings.push(Warning {
                        location,
                        line: Some(line_no),
                        key: Some(key.to_owned()),
                        rule: "line_without_equals".to_owned(),
                        message: format!("line {line_no} `{key}` has no `=`; skipped"),
                    });
                    continue;
                }
                let known = match &open {
                    Open::None => is_header_key(key),
                    Open::Account(_) => is_account_key(key),
                    Open::Document(_) => is_document_key(key),
                };
                if !known {
                    warnings.push(Warning {
                        location,
                        line: Some(line_no),
                        key: Some(key.to_owned()),
                        rule: "unknown_key".to_owned(),
                        message: format!(
                            "`{key}` is not a key of the exchange standard; kept as written"
                        ),
                    });
                }
                let field = Field::new(key, value);
                match &mut open {
                    Open::None => st.header.push(field),
                    Open::Account(a) => a.fields.push(field),
                    Open::Document(d) => d.fields.push(field),
                }
            }
        }
    }
    match open {
        Open::None => Ok(st),
        Open::Account(_) => Err(ParseError::Truncated {
            expected: "КонецРасчСчет",
        }),
        Open::Document(_) => Err(ParseError::Truncated {
            expected: "КонецДокумента",
        }),
    }
}

fn ensure_closed(open: &Open, line: usize, found: &str) -> Result<(), ParseError> {
    let expected = match open {
        Open::None => return Ok(()),
        Open::Account(_) => "КонецРасчСчет",
        Open::Document(_) => "КонецДокумента",
    };
    Err(ParseError::UnclosedSection {
        line,
        expected,
        found: found.to_owned(),
    })
}

/// The checks that make warnings: balances, amounts, dates and every party's requisites.
fn check(st: &Statement, warnings: &mut Vec<Warning>) {
    for (index, acc) in st.accounts.iter().enumerate() {
        let location = || Location::Account { index };
        for key in [
            "НачальныйОстаток",
            "ВсегоПоступило",
            "ВсегоСписано",
            "КонечныйОстаток",
        ] {
            if let Some(v) = acc.value(key).filter(|v| parse_amount(v).is_none()) {
                warnings.push(Warning {
                    location: location(),
                    line: None,
                    key: Some(key.to_owned()),
                    rule: "invalid_amount".to_owned(),
                    message: format!("{key}={v} is not an amount"),
                });
            }
        }
        let b = acc.balances();
        if b.adds_up() == Some(false) {
            let (o, i, out, c) = (
                b.opening.unwrap_or_default(),
                b.incoming.unwrap_or_default(),
                b.outgoing.unwrap_or_default(),
                b.closing.unwrap_or_default(),
            );
            warnings.push(Warning {
                location: location(),
                line: None,
                key: Some("КонечныйОстаток".to_owned()),
                rule: "balance_mismatch".to_owned(),
                message: format!(
                    "НачальныйОстаток {o} + ВсегоПоступило {i} − ВсегоСписано {out} = {}, \
                     but КонечныйОстаток is {c}",
                    o + i - out
                ),
            });
        }
    }
    for (index, doc) in st.documents.iter().enumerate() {
        let location = || Location::Document {
            index,
            number: doc.number().map(str::to_owned),
        };
        let mut warn = |key: &str, rule: &str, message: String| {
            warnings.push(Warning {
                location: location(),
                line: None,
                key: Some(key.to_owned()),
                rule: rule.to_owned(),
                message,
            });
        };
        if let DocumentKind::Other(name) = doc.kind() {
            warn(
                "СекцияДокумент",
                "unknown_kind",
                format!("document kind `{name}` is not one the standard names; kept as text"),
            );
        }
        match doc.value("Сумма") {
            Some(v) if parse_amount(v).is_none() => {
                warn(
                    "Сумма",
                    "invalid_amount",
                    format!("Сумма={v} is not an amount"),
                );
            }
            None => warn(
                "Сумма",
                "invalid_amount",
                "the document has no Сумма".to_owned(),
            ),
            _ => {}
        }
        for key in ["Дата", "ДатаСписано", "ДатаПоступило"] {
            if let Some(v) = doc.value(key).filter(|v| parse_date(v).is_none()) {
                warn(
                    key,
                    "invalid_date",
                    format!("{key}={v} is not a ДД.ММ.ГГГГ date"),
                );
            }
        }
        for prefix in ["Плательщик", "Получатель"] {
            let key = |s: &str| format!("{prefix}{s}");
            if let Some(inn) = doc.value(&key("ИНН"))
                && let Err(e) = Inn::parse(inn)
            {
                warn(&key("ИНН"), e.code(), format!("{}={inn}: {e}", key("ИНН")));
            }
            let bik = doc.value(&key("БИК")).map(|b| (b, Bik::parse(b)));
            if let Some((b, Err(e))) = &bik {
                warn(&key("БИК"), e.code(), format!("{}={b}: {e}", key("БИК")));
            }
            let Some((_, Ok(bik))) = bik else { continue };
            let settlement = doc.value(&key("РасчСчет"));
            for acc_key in ["РасчСчет", "Счет"] {
                let value = doc.value(&key(acc_key));
                // `…Счет` repeating `…РасчСчет` is checked once.
                if acc_key == "Счет" && value == settlement {
                    continue;
                }
                if let Some(acc) = value
                    && let Err(e) = SettlementAccount::parse(acc, &bik)
                {
                    warn(
                        &key(acc_key),
                        e.code(),
                        format!("{}={acc}: {e}", key(acc_key)),
                    );
                }
            }
            if let Some(acc) = doc.value(&key("Корсчет"))
                && let Err(e) = CorrespondentAccount::parse(acc, &bik)
            {
                warn(
                    &key("Корсчет"),
                    e.code(),
                    format!("{}={acc}: {e}", key("Корсчет")),
                );
            }
        }
    }
}

const HEADER_KEYS: &[&str] = &[
    "ВерсияФормата",
    "Кодировка",
    "Отправитель",
    "Получатель",
    "ДатаСоздания",
    "ВремяСоздания",
    "ДатаНачала",
    "ДатаКонца",
    "РасчСчет",
    "Документ",
];

const ACCOUNT_KEYS: &[&str] = &[
    "ДатаНачала",
    "ДатаКонца",
    "РасчСчет",
    "НачальныйОстаток",
    "ВсегоПоступило",
    "ВсегоСписано",
    "КонечныйОстаток",
];

const DOCUMENT_KEYS: &[&str] = &[
    "Номер",
    "Дата",
    "Сумма",
    "КвитанцияДата",
    "КвитанцияВремя",
    "КвитанцияСодержание",
    "ДатаСписано",
    "ДатаПоступило",
    "ВидПлатежа",
    "ВидОплаты",
    "Код",
    "КодНазПлатежа",
    "СтатусСоставителя",
    "ПоказательКБК",
    "ОКАТО",
    "ПоказательОснования",
    "ПоказательПериода",
    "ПоказательНомера",
    "ПоказательДаты",
    "ПоказательТипа",
    "Очередность",
    "СрокАкцепта",
    "ВидАккредитива",
    "СрокПлатежа",
    "УсловиеОплаты1",
    "УсловиеОплаты2",
    "УсловиеОплаты3",
    "ПлатежПоПредст",
    "ДополнУсловия",
    "НомерСчетаПоставщика",
    "ДатаОтсылкиДок",
    "НазначениеПлатежа",
    "НазначениеПлатежа1",
    "НазначениеПлатежа2",
    "НазначениеПлатежа3",
    "НазначениеПлатежа4",
    "НазначениеПлатежа5",
    "НазначениеПлатежа6",
];

/// The keys that follow `Плательщик` / `Получатель` in a document.
const PARTY_SUFFIXES: &[&str] = &[
    "",
    "Счет",
    "ИНН",
    "КПП",
    "1",
    "2",
    "3",
    "4",
    "РасчСчет",
    "Банк1",
    "Банк2",
    "БИК",
    "Корсчет",
];

/// Whether the standard defines `key` in the header.
#[must_use]
pub fn is_header_key(key: &str) -> bool {
    HEADER_KEYS.contains(&key)
}

/// Whether the standard defines `key` in a `СекцияРасчСчет`.
#[must_use]
pub fn is_account_key(key: &str) -> bool {
    ACCOUNT_KEYS.contains(&key)
}

/// Whether the standard defines `key` in a `СекцияДокумент`.
#[must_use]
pub fn is_document_key(key: &str) -> bool {
    if DOCUMENT_KEYS.contains(&key) {
        return true;
    }
    ["Плательщик", "Получатель"].iter().any(|p| {
        key.strip_prefix(p)
            .is_some_and(|rest| PARTY_SUFFIXES.contains(&rest))
    })
}

/// Writes `statement` as the banks read it: `1CClientBankExchange`, the header, the account
/// sections, the documents and `КонецФайла`, windows-1251 with CRLF line ends. A line break
/// inside a value becomes a space; a character windows-1251 has no code for becomes `?`.
#[must_use]
pub fn write(statement: &Statement) -> Vec<u8> {
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push_str("\r\n");
    };
    let kv = |f: &Field| format!("{}={}", clean(&f.key), clean(&f.value));
    line(MAGIC);
    for f in &statement.header {
        line(&kv(f));
    }
    for a in &statement.accounts {
        line("СекцияРасчСчет");
        for f in &a.fields {
            line(&kv(f));
        }
        line("КонецРасчСчет");
    }
    for d in &statement.documents {
        line(&format!("СекцияДокумент={}", clean(&d.kind_name)));
        for f in &d.fields {
            line(&kv(f));
        }
        line("КонецДокумента");
    }
    line("КонецФайла");
    encode_1251(&out)
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// windows-1251 bytes of `s`, `?` for what it cannot encode.
fn encode_1251(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let piece = c.encode_utf8(&mut buf);
        let (bytes, _, unmappable) = WINDOWS_1251.encode(piece);
        if unmappable {
            out.push(b'?');
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// Whether windows-1251 has a code for every character of `s`.
#[must_use]
pub fn encodable_1251(s: &str) -> bool {
    !WINDOWS_1251.encode(s).2
}

/// A `Платежное поручение` to write: the CRM's data for one payment order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOrder {
    pub number: String,
    pub date: NaiveDate,
    pub amount: Decimal,
    pub payer: Party,
    pub recipient: Party,
    pub purpose: String,
    /// `Очередность`, 5 for ordinary payments to suppliers.
    pub priority: u8,
}

impl PaymentOrder {
    /// The document's lines in the order of the standard.
    #[must_use]
    pub fn to_document(&self) -> Document {
        let mut fields = vec![
            Field::new("Номер", &self.number),
            Field::new("Дата", format_date(self.date)),
            Field::new("Сумма", format_amount(self.amount)),
        ];
        for (prefix, p) in [("Плательщик", &self.payer), ("Получатель", &self.recipient)]
        {
            let opt = |v: &Option<String>| v.clone().unwrap_or_default();
            fields.push(Field::new(format!("{prefix}Счет"), opt(&p.account)));
            fields.push(Field::new(format!("{prefix}ИНН"), opt(&p.inn)));
            fields.push(Field::new(format!("{prefix}1"), opt(&p.name)));
            fields.push(Field::new(format!("{prefix}РасчСчет"), opt(&p.account)));
            fields.push(Field::new(format!("{prefix}Банк1"), opt(&p.bank_name)));
            fields.push(Field::new(format!("{prefix}БИК"), opt(&p.bik)));
            fields.push(Field::new(
                format!("{prefix}Корсчет"),
                opt(&p.correspondent_account),
            ));
            fields.push(Field::new(format!("{prefix}КПП"), opt(&p.kpp)));
        }
        fields.push(Field::new("ВидОплаты", "01"));
        fields.push(Field::new("Очередность", self.priority.to_string()));
        fields.push(Field::new("НазначениеПлатежа", &self.purpose));
        Document {
            kind_name: DocumentKind::PaymentOrder.name().to_owned(),
            fields,
        }
    }
}

/// Kopecks as a Russian amount: groups of three digits separated by spaces, a decimal comma
/// (`123456` → `1 234,56`).
#[must_use]
pub fn format_rub(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let (rub, kop) = (abs / 100, abs % 100);
    let digits = rub.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped},{kop:02}")
}

/// The VAT rates a payment purpose names, in percent.
const VAT_RATES: &[i64] = &[22, 20, 18, 10, 7, 5];

/// The VAT clause of a payment purpose: `в т.ч. НДС 22 % — 1 234,56 руб.` for `vat_minor`
/// included in `amount_minor` (the rate is the known rate nearest to vat ÷ (amount − vat),
/// else that ratio rounded), or `НДС не облагается` without VAT.
#[must_use]
pub fn vat_wording(amount_minor: i64, vat_minor: Option<i64>) -> String {
    let Some(vat) = vat_minor.filter(|v| *v > 0) else {
        return "НДС не облагается".to_owned();
    };
    let net = amount_minor - vat;
    let rate = if net > 0 {
        // In hundredths of a percent.
        let ratio = i128::from(vat) * 10_000 / i128::from(net);
        VAT_RATES
            .iter()
            .copied()
            .find(|r| (i128::from(*r) * 100 - ratio).abs() <= 50)
            .unwrap_or_else(|| i64::try_from((ratio + 50) / 100).unwrap_or(0))
    } else {
        0
    };
    format!("в т.ч. НДС {rate} % — {} руб.", format_rub(vat))
}

/// The purpose of a payment order for a supplier's invoice: `Оплата по счету № 17 от
/// 20.11.2026, в т.ч. НДС 22 % — 1 234,56 руб.`, at most 210 characters (the standard's
/// limit; a long invoice number is cut).
#[must_use]
pub fn supplier_payment_purpose(
    number: &str,
    date: NaiveDate,
    amount_minor: i64,
    vat_minor: Option<i64>,
) -> String {
    let tail = format!(
        " от {}, {}",
        format_date(date),
        vat_wording(amount_minor, vat_minor)
    );
    let room = 210usize.saturating_sub(tail.chars().count() + "Оплата по счету № ".chars().count());
    let number: String = number.chars().take(room.max(1)).collect();
    format!("Оплата по счету № {number}{tail}")
}

/// A 1.03 file of payment orders from `account`, created at `created` (date and time).
#[must_use]
pub fn payment_orders_file(
    account: &str,
    sender: &str,
    created: chrono::NaiveDateTime,
    from: NaiveDate,
    to: NaiveDate,
    orders: &[PaymentOrder],
) -> Statement {
    let header = vec![
        Field::new("ВерсияФормата", "1.03"),
        Field::new("Кодировка", "Windows"),
        Field::new("Отправитель", sender),
        Field::new("Получатель", ""),
        Field::new("ДатаСоздания", format_date(created.date())),
        Field::new("ВремяСоздания", created.format("%H:%M:%S").to_string()),
        Field::new("ДатаНачала", format_date(from)),
        Field::new("ДатаКонца", format_date(to)),
        Field::new("РасчСчет", account),
        Field::new("Документ", DocumentKind::PaymentOrder.name()),
    ];
    Statement {
        header,
        accounts: Vec::new(),
        documents: orders.iter().map(PaymentOrder::to_document).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn fixture() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/1c/client-bank-exchange_v1.02_cp1251_one_day.txt"
        );
        std::fs::read(path).unwrap_or_default()
    }

    #[test]
    fn purposes_name_the_invoice_and_the_vat() {
        assert_eq!(format_rub(123_456), "1 234,56");
        assert_eq!(format_rub(5), "0,05");
        assert_eq!(format_rub(100_000_000), "1 000 000,00");
        assert_eq!(
            vat_wording(12_200, Some(2_200)),
            "в т.ч. НДС 22 % — 22,00 руб."
        );
        assert_eq!(
            vat_wording(12_500_050, Some(2_083_342)),
            "в т.ч. НДС 20 % — 20 833,42 руб."
        );
        assert_eq!(vat_wording(100_000, None), "НДС не облагается");
        assert_eq!(vat_wording(100_000, Some(0)), "НДС не облагается");
        let d = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default();
        assert_eq!(
            supplier_payment_purpose("17", d, 684_561, Some(123_456)),
            "Оплата по счету № 17 от 20.11.2026, в т.ч. НДС 22 % — 1 234,56 руб."
        );
        let long = "9".repeat(400);
        assert_eq!(
            supplier_payment_purpose(&long, d, 100, None)
                .chars()
                .count(),
            210
        );
    }

    #[test]
    fn the_fixture_statement_reads_whole() {
        let bytes = fixture();
        assert_eq!(bytes.len(), 11605);
        let p = parse(&bytes).unwrap();
        assert_eq!(p.encoding, "windows-1251");
        assert_eq!(p.statement.version(), Some("1.02"));
        assert_eq!(
            p.statement.header_value("Отправитель"),
            Some("Банк Клиент Онлайн")
        );
        assert_eq!(p.statement.accounts.len(), 1);
        let acc = &p.statement.accounts[0];
        assert_eq!(acc.account(), Some("40702810200000000001"));
        let b = acc.balances();
        assert_eq!(b.opening, Some(dec!(45329.91)));
        assert_eq!(b.incoming, Some(dec!(40000.00)));
        assert_eq!(b.outgoing, Some(dec!(41184.00)));
        assert_eq!(b.closing, Some(dec!(44145.91)));
        assert_eq!(b.adds_up(), Some(true));
        let docs = &p.statement.documents;
        assert_eq!(docs.len(), 13);
        let orders = docs.iter().filter(|d| d.kind() == DocumentKind::BankOrder);
        assert_eq!(orders.count(), 6);
        let payments = docs
            .iter()
            .filter(|d| d.kind() == DocumentKind::PaymentOrder);
        assert_eq!(payments.count(), 7);
        let ours = ["40702810200000000001"];
        let incoming: Decimal = docs
            .iter()
            .filter(|d| d.direction(&ours) == Direction::Incoming)
            .filter_map(Document::amount)
            .sum();
        let outgoing: Decimal = docs
            .iter()
            .filter(|d| d.direction(&ours) == Direction::Outgoing)
            .filter_map(Document::amount)
            .sum();
        assert_eq!(incoming, dec!(40000.00));
        assert_eq!(outgoing, dec!(41184.00));
        assert_eq!(docs[0].number(), Some("697162"));
        assert_eq!(docs[0].amount(), Some(dec!(83.23)));
        assert_eq!(docs[0].payer().inn.as_deref(), Some("123123123123"));
        assert_eq!(docs[0].purpose(), "Some random string");
        // The anonymised requisites are warnings naming document, key and rule.
        let inn_warning = p
            .warnings
            .iter()
            .find(|w| {
                w.location
                    == Location::Document {
                        index: 0,
                        number: Some("697162".to_owned()),
                    }
                    && w.key.as_deref() == Some("ПлательщикИНН")
            })
            .unwrap();
        assert_eq!(inn_warning.rule, "checksum_mismatch");
        let short_account = p
            .warnings
            .iter()
            .find(|w| w.key.as_deref() == Some("ПлательщикРасчСчет"))
            .unwrap();
        assert_eq!(short_account.rule, "invalid_length");
        // The valid account at BIK 044525700 draws no warning.
        let valid = docs
            .iter()
            .position(|d| d.recipient().account.as_deref() == Some("40702810500001455357"))
            .unwrap();
        assert!(!p.warnings.iter().any(|w| matches!(&w.location,
            Location::Document { index, .. } if *index == valid)
            && w.key.as_deref() == Some("ПолучательРасчСчет")));
        assert!(!p.warnings.iter().any(|w| w.rule == "balance_mismatch"));
        assert!(!p.warnings.iter().any(|w| w.rule == "unknown_key"));
    }

    #[test]
    fn the_fixture_survives_lf_and_utf8() {
        let p = parse(&fixture()).unwrap();
        let text = WINDOWS_1251.decode(&fixture()).0.replace("\r\n", "\n");
        let q = parse(text.as_bytes()).unwrap();
        assert_eq!(q.encoding, "UTF-8");
        assert_eq!(q.statement, p.statement);
        // Кодировка=Windows but UTF-8 bytes: read as UTF-8 and said so.
        assert!(q.warnings.iter().any(|w| w.rule == "encoding_differs"));
    }

    #[test]
    fn balances_that_do_not_add_up_are_reported() {
        let text = "1CClientBankExchange\nВерсияФормата=1.03\nКодировка=Windows\n\
            СекцияРасчСчет\nРасчСчет=40702810200000000001\nНачальныйОстаток=100.00\n\
            ВсегоПоступило=50\nВсегоСписано=20\nКонечныйОстаток=131.00\nКонецРасчСчет\nКонецФайла\n";
        let p = parse(text.as_bytes()).unwrap();
        let w = p
            .warnings
            .iter()
            .find(|w| w.rule == "balance_mismatch")
            .unwrap();
        assert!(w.message.contains("130.00"), "{}", w.message);
    }

    #[test]
    fn unknown_keys_and_kinds_are_kept() {
        let text = "1CClientBankExchange\nВерсияФормата=1.03\nМояМетка=x\n\
            СекцияДокумент=Кассовый чек\nНомер=7\nСумма=1.00\nПолеБанка=abc=def\nКонецДокумента\n\
            КонецФайла\n";
        let p = parse(text.as_bytes()).unwrap();
        let d = &p.statement.documents[0];
        assert_eq!(d.kind(), DocumentKind::Other("Кассовый чек".to_owned()));
        assert_eq!(d.value("ПолеБанка"), Some("abc=def"));
        assert_eq!(p.statement.header_value("МояМетка"), Some("x"));
        let unknown: Vec<_> = p
            .warnings
            .iter()
            .filter(|w| w.rule == "unknown_key")
            .filter_map(|w| w.key.as_deref())
            .collect();
        assert_eq!(unknown, ["МояМетка", "ПолеБанка"]);
        assert!(p.warnings.iter().any(|w| w.rule == "unknown_kind"));
    }

    #[test]
    fn broken_structure_is_an_error() {
        assert_eq!(parse(b"hello"), Err(ParseError::NotAnExchangeFile));
        let text = "1CClientBankExchange\nСекцияДокумент=Платежное поручение\nНомер=1\n";
        assert!(matches!(
            parse(text.as_bytes()),
            Err(ParseError::Truncated { .. })
        ));
        let text = "1CClientBankExchange\nСекцияДокумент=Платежное поручение\n\
                    СекцияДокумент=Платежное поручение\n";
        assert!(matches!(
            parse(text.as_bytes()),
            Err(ParseError::UnclosedSection { line: 3, .. })
        ));
        assert!(matches!(
            parse("1CClientBankExchange\nКонецДокумента\n".as_bytes()),
            Err(ParseError::StrayEnd { line: 2, .. })
        ));
    }

    #[test]
    fn payment_orders_are_1251_crlf_with_standard_keys_only() {
        let created = NaiveDate::from_ymd_opt(2026, 12, 3)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        let day = created.date();
        let order = PaymentOrder {
            number: "12".to_owned(),
            date: day,
            amount: dec!(7530.00),
            payer: Party {
                name: Some("ООО «Ромашка»".to_owned()),
                inn: Some("7707083893".to_owned()),
                account: Some("40702810200000000001".to_owned()),
                bik: Some("044525716".to_owned()),
                ..Party::default()
            },
            recipient: Party {
                name: Some("ООО Поставщик".to_owned()),
                ..Party::default()
            },
            purpose: "Оплата по счету № 15 от 01.12.2026, в т.ч. НДС 22 % — 1 357,87 руб."
                .to_owned(),
            priority: 5,
        };
        let st = payment_orders_file(
            "40702810200000000001",
            "Сделка",
            created,
            day,
            day,
            &[order],
        );
        let bytes = write(&st);
        let text = WINDOWS_1251.decode(&bytes).0;
        assert!(text.ends_with("КонецФайла\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'));
        let p = parse(&bytes).unwrap();
        assert_eq!(p.encoding, "windows-1251");
        assert_eq!(p.statement, st);
        assert!(!p.warnings.iter().any(|w| w.rule == "unknown_key"));
        assert_eq!(p.statement.documents[0].amount(), Some(dec!(7530.00)));
        assert!(
            p.statement.documents[0]
                .purpose()
                .contains("НДС 22 % — 1 357,87")
        );
    }

    fn text_1251() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 .,№«»—()А-Яа-яЁё=-]{0,24}".prop_map(|s| s.trim().to_owned())
    }

    fn key() -> impl Strategy<Value = String> {
        "[А-Яа-яA-Za-z][А-Яа-яA-Za-z0-9]{0,15}".prop_filter("not a section marker", |k| {
            !k.starts_with("Секция") && !k.starts_with("Конец")
        })
    }

    fn fields() -> impl Strategy<Value = Vec<Field>> {
        proptest::collection::vec(
            (key(), text_1251()).prop_map(|(k, v)| Field::new(k, v)),
            0..8,
        )
    }

    proptest! {
        #[test]
        fn write_then_parse_gives_the_statement_back(
            header in fields(),
            accounts in proptest::collection::vec(fields(), 0..3),
            docs in proptest::collection::vec(("[А-Яа-я][А-Яа-я ]{0,20}[а-я]", fields()), 0..5),
        ) {
            let st = Statement {
                header,
                accounts: accounts.into_iter().map(|fields| AccountSection { fields }).collect(),
                documents: docs
                    .into_iter()
                    .map(|(kind_name, fields)| Document { kind_name, fields })
                    .collect(),
            };
            let bytes = write(&st);
            let parsed = parse(&bytes).unwrap();
            prop_assert_eq!(parsed.statement, st);
        }
    }
}
