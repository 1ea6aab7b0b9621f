//! CommerceML 2 (INT-1C-1), the site's side of the order exchange: the answer to 1C's
//! `type=sale&mode=query` — the orders as a `КоммерческаяИнформация` document. Pure: values in,
//! bytes out.
//!
//! Each schema version is written the way the published files of that version write it
//! (`tests/fixtures/1c/`): 2.03 and 2.05 as a Bitrix site answers (`БазоваяЕдиница`,
//! `ЦенаЗаЕдиницу`, `АдресРегистрации`, no namespace), 2.09 as 1C's own order files
//! (`urn:1C.ru:commerceml_2`, `Единица`, `Цена`, taxes per line and per document, the
//! buyer's INN, KPP and bank accounts). An element the files of a version never carry is not
//! written for that version: 2.03 and 2.05 carry no taxes, INN/KPP, bank accounts or
//! articles.
//!
//! The text is windows-1251; a character that code page lacks is written as a numeric
//! character reference (`&#128578;`), which every XML reader turns back into the character.

use std::borrow::Cow;
use std::io;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use rust_decimal::{Decimal, RoundingStrategy};

/// Which schema the answer follows: what 1C asked for, mapped to the nearest we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaVersion {
    V2_03,
    #[default]
    V2_05,
    V2_09,
}

impl SchemaVersion {
    /// `2.03`/`2.04` (and older) → V2_03, `2.05`..=`2.07` → V2_05, `2.08` and later (incl.
    /// `2.10`, `3.1`) → V2_09; None for text that is no version. Default when 1C sends none
    /// (or an empty value): V2_05.
    ///
    /// A version is `major[.minor[.patch…]]` in ASCII digits, major at least 1; the minor
    /// part reads as a decimal fraction, as CommerceML numbers them (`2.1` is `2.10`).
    pub fn from_requested(raw: Option<&str>) -> Option<SchemaVersion> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Some(SchemaVersion::V2_05);
        };
        let parts: Vec<&str> = raw.split('.').collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let major: u32 = parts.first()?.parse().ok()?;
        if major == 0 {
            return None;
        }
        let minor = parts.get(1).copied().unwrap_or("0");
        // `2.05` → 0.05, `2.1` → 0.1 (= 2.10): the minor part as a decimal fraction.
        let fraction: Decimal = format!("0.{minor}").parse().ok()?;
        let two = |hundredths: i64| Decimal::new(hundredths, 2);
        Some(match major {
            1 => SchemaVersion::V2_03,
            2 if fraction < two(5) => SchemaVersion::V2_03,
            2 if fraction < two(8) => SchemaVersion::V2_05,
            _ => SchemaVersion::V2_09,
        })
    }

    /// "2.03" / "2.05" / "2.09"
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaVersion::V2_03 => "2.03",
            SchemaVersion::V2_05 => "2.05",
            SchemaVersion::V2_09 => "2.09",
        }
    }
}

/// The answer to `mode=query`: the orders 1C is to load.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaleQuery {
    pub version: SchemaVersion,
    /// `ДатаФормирования`.
    pub generated_at: NaiveDateTime,
    pub orders: Vec<OrderDoc>,
}

/// One order (`Документ`, `ХозОперация=Заказ товара`, `Роль=Продавец`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderDoc {
    /// `Ид`: the order's UUID as text.
    pub id: String,
    /// `Номер`.
    pub number: String,
    /// `Дата`.
    pub date: NaiveDate,
    /// `Время`.
    pub time: NaiveTime,
    /// `Валюта`: an ISO code such as `RUB`, written as given.
    pub currency: String,
    /// `Сумма` of the document: what the buyer pays.
    pub total: Decimal,
    /// `Налоги/Налог` (НДС) `Сумма` of the document.
    pub vat_total: Decimal,
    /// `УчтеноВСумме`: whether the prices include VAT.
    pub vat_included: bool,
    /// `Комментарий`.
    pub comment: Option<String>,
    /// `Контрагенты/Контрагент` with `Роль=Покупатель`.
    pub buyer: Option<Buyer>,
    /// `Товары/Товар`.
    pub lines: Vec<OrderLine>,
    /// `ЗначенияРеквизитов` of the document, e.g. (`Статус заказа`, `confirmed`).
    pub requisites: Vec<(String, String)>,
}

/// The buyer of an order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Buyer {
    /// `Ид`.
    pub id: String,
    /// `Наименование`.
    pub name: String,
    /// `ПолноеНаименование` (2.03, 2.05) or `ОфициальноеНаименование` (2.09).
    pub full_name: String,
    /// `ИНН` (2.09).
    pub inn: Option<String>,
    /// `КПП` (2.09).
    pub kpp: Option<String>,
    /// `АдресРегистрации/Представление` (2.03, 2.05) or `Адрес/Представление` (2.09).
    pub address: Option<String>,
    /// `РасчетныеСчета/РасчетныйСчет` (2.09).
    pub accounts: Vec<BankAccountOut>,
}

/// A bank account of the buyer (`РасчетныйСчет`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BankAccountOut {
    /// `НомерСчета`.
    pub number: String,
    /// `Банк/Наименование`.
    pub bank_name: String,
    /// `Банк/БИК`.
    pub bik: String,
    /// `Банк/СчетКорреспондентский`.
    pub correspondent: String,
}

/// One line of an order (`Товар`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderLine {
    /// `Ид`: the product's 1C id or its CRM id, or the row id of a free-text row.
    pub id: String,
    /// `Наименование`.
    pub name: String,
    /// The product's article; no version's files carry `Артикул` in an order line, so it is
    /// not written.
    pub article: Option<String>,
    /// OKEI code, e.g. `796`.
    pub unit_code: String,
    /// The unit's short name, e.g. `шт`.
    pub unit_name: String,
    /// `ЦенаЗаЕдиницу` (2.03, 2.05) or `Цена` (2.09).
    pub price: Decimal,
    /// `Количество`.
    pub quantity: Decimal,
    /// `Сумма`.
    pub amount: Decimal,
    /// The VAT rate in percent (`22`, `10`, `0`), None for `Без НДС`.
    pub vat_rate: Option<String>,
    /// `Налоги/Налог` (НДС) `Сумма` of the line.
    pub vat_amount: Decimal,
    /// Whether `price` and `amount` include the VAT (the line's `УчтеноВСумме`).
    pub vat_included: bool,
    /// `Товар` or `Услуга`: the `ВидНоменклатуры` and `ТипНоменклатуры` requisites.
    pub kind: String,
}

/// The `type=sale&mode=query` answer: the XML in windows-1251, with
/// `<?xml version="1.0" encoding="windows-1251"?>`.
pub fn write_sale_query(q: &SaleQuery) -> Vec<u8> {
    // Writing into a `Vec` cannot fail: the only errors quick-xml reports are the sink's.
    let Ok(text) = render(q) else {
        return Vec::new();
    };
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&text);
    bytes.into_owned()
}

// ---------------------------------------------------------------------------------------------
// The text

type Xml = Writer<Vec<u8>>;

const OPERATION: &str = "Заказ товара";
const SELLER: &str = "Продавец";
const BUYER: &str = "Покупатель";
const VAT: &str = "НДС";
const NO_VAT: &str = "Без НДС";

fn render(q: &SaleQuery) -> io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new(
        "1.0",
        Some("windows-1251"),
        None,
    )))?;
    let attributes = root_attributes(q);
    w.create_element("КоммерческаяИнформация")
        .with_attributes(attributes.iter().map(|(k, v)| (*k, v.as_str())))
        .write_inner_content(|w| {
            for d in &q.orders {
                match q.version {
                    SchemaVersion::V2_03 | SchemaVersion::V2_05 => site_document(w, q.version, d)?,
                    SchemaVersion::V2_09 => document_2_09(w, d)?,
                }
            }
            Ok(())
        })?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn root_attributes(q: &SaleQuery) -> Vec<(&'static str, String)> {
    let mut a = Vec::new();
    if q.version == SchemaVersion::V2_09 {
        a.push(("xmlns", "urn:1C.ru:commerceml_2".to_owned()));
        a.push(("xmlns:xs", "http://www.w3.org/2001/XMLSchema".to_owned()));
        a.push((
            "xmlns:xsi",
            "http://www.w3.org/2001/XMLSchema-instance".to_owned(),
        ));
    }
    a.push(("ВерсияСхемы", q.version.as_str().to_owned()));
    a.push((
        "ДатаФормирования",
        q.generated_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
    ));
    if q.version == SchemaVersion::V2_05 {
        // What the values below are written as: `2026-03-02`, `09:41:07`, `1200.00`, and
        // quantities with as many decimals as the most precise one needs (at least two).
        let quantity_decimals = q
            .orders
            .iter()
            .flat_map(|o| &o.lines)
            .map(|l| l.quantity.normalize().scale())
            .max()
            .unwrap_or(0)
            .max(2);
        a.push(("ФорматДаты", "ДФ=yyyy-MM-dd; ДЛФ=DT".to_owned()));
        a.push(("ФорматВремени", "ДФ=ЧЧ:мм:сс; ДЛФ=T".to_owned()));
        a.push(("РазделительДатаВремя", "T".to_owned()));
        a.push(("ФорматСуммы", "ЧЦ=18; ЧДЦ=2; ЧРД=.".to_owned()));
        a.push((
            "ФорматКоличества",
            format!("ЧЦ=18; ЧДЦ={quantity_decimals}; ЧРД=."),
        ));
    }
    a
}

/// A document as a site answers in 2.03 and 2.05: the element order of those files.
fn site_document(w: &mut Xml, v: SchemaVersion, d: &OrderDoc) -> io::Result<()> {
    node(w, "Документ", |w| {
        leaf(w, "Ид", &d.id)?;
        leaf(w, "Номер", &d.number)?;
        leaf(w, "Дата", &date(d.date))?;
        leaf(w, "ХозОперация", OPERATION)?;
        leaf(w, "Роль", SELLER)?;
        leaf(w, "Валюта", &d.currency)?;
        leaf(w, "Курс", "1")?;
        leaf(w, "Сумма", &money(d.total))?;
        if let Some(b) = &d.buyer {
            node(w, "Контрагенты", |w| {
                node(w, "Контрагент", |w| {
                    leaf(w, "Ид", &b.id)?;
                    leaf(w, "Наименование", short_name(b))?;
                    if v == SchemaVersion::V2_03 {
                        leaf(w, "Роль", BUYER)?;
                    }
                    optional(w, "ПолноеНаименование", Some(full_name(b)))?;
                    // The schema's `Контрагент` carries the requisites in every 2.x version,
                    // though the sites' sample files have buyers without them.
                    optional(w, "ИНН", b.inn.as_deref())?;
                    optional(w, "КПП", b.kpp.as_deref())?;
                    address(w, "АдресРегистрации", b)?;
                    bank_accounts(w, &b.accounts)?;
                    if v != SchemaVersion::V2_03 {
                        leaf(w, "Роль", BUYER)?;
                    }
                    Ok(())
                })
            })?;
        }
        leaf(w, "Время", &time(d.time))?;
        optional(w, "Комментарий", d.comment.as_deref())?;
        let included = bool_text(d.vat_included);
        document_taxes(w, d, included)?;
        if !d.lines.is_empty() {
            node(w, "Товары", |w| {
                for l in &d.lines {
                    node(w, "Товар", |w| {
                        leaf(w, "Ид", &l.id)?;
                        leaf(w, "Наименование", &l.name)?;
                        base_unit(w, l)?;
                        leaf(w, "ЦенаЗаЕдиницу", &money(l.price))?;
                        leaf(w, "Количество", &quantity(l.quantity))?;
                        leaf(w, "Сумма", &money(l.amount))?;
                        line_rate(w, l)?;
                        line_taxes(w, l)?;
                        requisites(w, &kind_requisites(l))
                    })?;
                }
                Ok(())
            })?;
        }
        requisites(w, &d.requisites)
    })
}

/// A document as 1C writes its order files in 2.08 and later: the element order of 2.09.
fn document_2_09(w: &mut Xml, d: &OrderDoc) -> io::Result<()> {
    let included = bool_text(d.vat_included);
    node(w, "Документ", |w| {
        leaf(w, "Ид", &d.id)?;
        leaf(w, "Номер", &d.number)?;
        leaf(w, "Дата", &date(d.date))?;
        leaf(w, "Время", &time(d.time))?;
        leaf(w, "ХозОперация", OPERATION)?;
        if let Some(b) = &d.buyer {
            node(w, "Контрагенты", |w| {
                node(w, "Контрагент", |w| {
                    leaf(w, "Ид", &b.id)?;
                    leaf(w, "Наименование", short_name(b))?;
                    optional(w, "ОфициальноеНаименование", Some(full_name(b)))?;
                    leaf(w, "Роль", BUYER)?;
                    optional(w, "ИНН", b.inn.as_deref())?;
                    optional(w, "КПП", b.kpp.as_deref())?;
                    bank_accounts(w, &b.accounts)?;
                    address(w, "Адрес", b)
                })
            })?;
        }
        leaf(w, "Валюта", &d.currency)?;
        leaf(w, "Курс", "1")?;
        leaf(w, "Сумма", &money(d.total))?;
        leaf(w, "Роль", SELLER)?;
        optional(w, "Комментарий", d.comment.as_deref())?;
        document_taxes(w, d, included)?;
        requisites(w, &d.requisites)?;
        if !d.lines.is_empty() {
            node(w, "Товары", |w| {
                for l in &d.lines {
                    line_2_09(w, l)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}

fn line_2_09(w: &mut Xml, l: &OrderLine) -> io::Result<()> {
    node(w, "Товар", |w| {
        leaf(w, "Ид", &l.id)?;
        leaf(w, "Наименование", &l.name)?;
        line_rate(w, l)?;
        requisites(w, &kind_requisites(l))?;
        let code = non_empty(&l.unit_code);
        let name = non_empty(&l.unit_name);
        if code.is_some() || name.is_some() {
            node(w, "Единица", |w| {
                optional(w, "Ид", code)?;
                optional(w, "НаименованиеКраткое", name)?;
                optional(w, "Код", code)?;
                optional(w, "НаименованиеПолное", code.and_then(okei).map(|u| u.0))
            })?;
            leaf(w, "Коэффициент", "1")?;
        }
        leaf(w, "Количество", &quantity(l.quantity))?;
        leaf(w, "Цена", &money(l.price))?;
        leaf(w, "Сумма", &money(l.amount))?;
        line_taxes(w, l)
    })
}

/// The document's VAT, when it has any.
fn document_taxes(w: &mut Xml, d: &OrderDoc, included: &str) -> io::Result<()> {
    let taxed = !d.vat_total.is_zero() || d.lines.iter().any(|l| has_rate(l).is_some());
    if !taxed {
        return Ok(());
    }
    node(w, "Налоги", |w| {
        node(w, "Налог", |w| {
            leaf(w, "Наименование", VAT)?;
            leaf(w, "УчтеноВСумме", included)?;
            leaf(w, "Сумма", &money(d.vat_total))
        })
    })
}

/// `СтавкиНалогов`: the line's rate, `Без НДС` without one.
fn line_rate(w: &mut Xml, l: &OrderLine) -> io::Result<()> {
    node(w, "СтавкиНалогов", |w| {
        node(w, "СтавкаНалога", |w| {
            leaf(w, "Наименование", VAT)?;
            leaf(w, "Ставка", has_rate(l).unwrap_or(NO_VAT))
        })
    })
}

/// The line's VAT sum, when it has a rate.
fn line_taxes(w: &mut Xml, l: &OrderLine) -> io::Result<()> {
    let Some(rate) = has_rate(l) else {
        return Ok(());
    };
    node(w, "Налоги", |w| {
        node(w, "Налог", |w| {
            leaf(w, "Наименование", VAT)?;
            leaf(w, "УчтеноВСумме", bool_text(l.vat_included))?;
            leaf(w, "Сумма", &money(l.vat_amount))?;
            leaf(w, "Ставка", rate)
        })
    })
}

/// `БазоваяЕдиница Код=… НаименованиеПолное=… МеждународноеСокращение=…>шт<`; the full and
/// international names only for the units this writer knows.
fn base_unit(w: &mut Xml, l: &OrderLine) -> io::Result<()> {
    let code = non_empty(&l.unit_code);
    if code.is_none() && non_empty(&l.unit_name).is_none() {
        return Ok(());
    }
    let mut attributes: Vec<(&str, Cow<'_, str>)> = Vec::new();
    if let Some(code) = code {
        attributes.push(("Код", clean(code)));
        if let Some((full, international)) = okei(code) {
            attributes.push(("НаименованиеПолное", Cow::Borrowed(full)));
            attributes.push(("МеждународноеСокращение", Cow::Borrowed(international)));
        }
    }
    w.create_element("БазоваяЕдиница")
        .with_attributes(attributes.iter().map(|(k, v)| (*k, v.as_ref())))
        .write_text_content(BytesText::new(&clean(&l.unit_name)))?;
    Ok(())
}

fn bank_accounts(w: &mut Xml, accounts: &[BankAccountOut]) -> io::Result<()> {
    let accounts: Vec<&BankAccountOut> = accounts
        .iter()
        .filter(|a| non_empty(&a.number).is_some())
        .collect();
    if accounts.is_empty() {
        return Ok(());
    }
    node(w, "РасчетныеСчета", |w| {
        for a in accounts {
            node(w, "РасчетныйСчет", |w| {
                leaf(w, "НомерСчета", &a.number)?;
                let bank = [&a.bank_name, &a.correspondent, &a.bik];
                if bank.iter().any(|v| non_empty(v).is_some()) {
                    node(w, "Банк", |w| {
                        optional(w, "Наименование", non_empty(&a.bank_name))?;
                        optional(w, "СчетКорреспондентский", non_empty(&a.correspondent))?;
                        optional(w, "БИК", non_empty(&a.bik))
                    })?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}

fn address(w: &mut Xml, element: &'static str, b: &Buyer) -> io::Result<()> {
    match b.address.as_deref().and_then(non_empty) {
        Some(a) => node(w, element, |w| leaf(w, "Представление", a)),
        None => Ok(()),
    }
}

fn requisites(w: &mut Xml, list: &[(String, String)]) -> io::Result<()> {
    let list: Vec<&(String, String)> = list
        .iter()
        .filter(|(k, _)| non_empty(k).is_some())
        .collect();
    if list.is_empty() {
        return Ok(());
    }
    node(w, "ЗначенияРеквизитов", |w| {
        for (name, value) in list {
            node(w, "ЗначениеРеквизита", |w| {
                leaf(w, "Наименование", name)?;
                leaf(w, "Значение", value)
            })?;
        }
        Ok(())
    })
}

fn kind_requisites(l: &OrderLine) -> Vec<(String, String)> {
    match non_empty(&l.kind) {
        Some(kind) => vec![
            ("ВидНоменклатуры".to_owned(), kind.to_owned()),
            ("ТипНоменклатуры".to_owned(), kind.to_owned()),
        ],
        None => Vec::new(),
    }
}

/// The line's VAT rate, when it has one.
fn has_rate(l: &OrderLine) -> Option<&str> {
    l.vat_rate.as_deref().and_then(non_empty)
}

fn short_name(b: &Buyer) -> &str {
    non_empty(&b.name).unwrap_or(&b.full_name)
}

fn full_name(b: &Buyer) -> &str {
    non_empty(&b.full_name).unwrap_or(&b.name)
}

/// An element with text.
fn leaf(w: &mut Xml, name: &'static str, text: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(&clean(text)))?;
    Ok(())
}

/// An element with text, left out when the text is missing or blank.
fn optional(w: &mut Xml, name: &'static str, text: Option<&str>) -> io::Result<()> {
    match text.and_then(non_empty) {
        Some(t) => leaf(w, name, t),
        None => Ok(()),
    }
}

/// An element with children.
fn node(
    w: &mut Xml,
    name: &'static str,
    inner: impl FnOnce(&mut Xml) -> io::Result<()>,
) -> io::Result<()> {
    w.create_element(name).write_inner_content(inner)?;
    Ok(())
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.trim().is_empty()).then_some(s)
}

/// The text without the characters XML 1.0 cannot carry (control characters other than tab
/// and line breaks, U+FFFE, U+FFFF); escaping is the writer's.
fn clean(s: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
    };
    if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|c| allowed(*c)).collect())
    }
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn time(t: NaiveTime) -> String {
    t.format("%H:%M:%S").to_string()
}

/// A sum: a dot and two decimals, rounded half away from zero.
fn money(v: Decimal) -> String {
    let mut r = v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    if r.is_zero() {
        r = Decimal::ZERO;
    }
    r.rescale(2);
    r.to_string()
}

/// A quantity with the decimals it needs: `1`, `1.5`, `0.125`.
fn quantity(v: Decimal) -> String {
    if v.is_zero() {
        return "0".to_owned();
    }
    v.normalize().to_string()
}

/// The full and international names of common OKEI units.
fn okei(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code.trim() {
        "006" => ("Метр", "MTR"),
        "055" => ("Квадратный метр", "MTK"),
        "112" => ("Литр", "LTR"),
        "113" => ("Кубический метр", "MTQ"),
        "163" => ("Грамм", "GRM"),
        "166" => ("Килограмм", "KGM"),
        "168" => ("Тонна", "TNE"),
        "355" => ("Минута", "MIN"),
        "356" => ("Час", "HUR"),
        "359" => ("Сутки", "DAY"),
        "362" => ("Месяц", "MON"),
        "715" => ("Пара (2 шт.)", "NPR"),
        "778" => ("Упаковка", "NMP"),
        "796" => ("Штука", "PCE"),
        "839" => ("Комплект", "SET"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commerceml::{self, Node};
    use rust_decimal_macros::dec;
    use std::collections::{BTreeSet, HashMap};

    const ALL: [SchemaVersion; 3] = [
        SchemaVersion::V2_03,
        SchemaVersion::V2_05,
        SchemaVersion::V2_09,
    ];

    fn fixture_of(v: SchemaVersion) -> Vec<u8> {
        let name = match v {
            SchemaVersion::V2_03 => "cml2.03_orders_site_to_1c_cp1251.xml",
            SchemaVersion::V2_05 => "cml2.05_sale_query_response_cp1251.xml",
            SchemaVersion::V2_09 => "cml2.09_orders_1c_to_site_with_vat.xml",
        };
        let path = format!("{}/../tests/fixtures/1c/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn tree(bytes: &[u8]) -> Node {
        commerceml::parse_tree(&commerceml::decode(bytes).unwrap()).unwrap()
    }

    /// Every root-to-element path of local names, e.g. `КоммерческаяИнформация/Документ/Ид`.
    fn paths(root: &Node) -> BTreeSet<String> {
        fn walk(n: &Node, prefix: &str, out: &mut BTreeSet<String>) {
            let path = if prefix.is_empty() {
                n.name.clone()
            } else {
                format!("{prefix}/{}", n.name)
            };
            for c in &n.children {
                walk(c, &path, out);
            }
            out.insert(path);
        }
        let mut out = BTreeSet::new();
        walk(root, "", &mut out);
        out
    }

    /// Per element path, the names of its children in the order the file first has them.
    fn child_order(root: &Node) -> HashMap<String, Vec<String>> {
        fn walk(n: &Node, path: &str, out: &mut HashMap<String, Vec<String>>) {
            for c in &n.children {
                let known = out.entry(path.to_owned()).or_default();
                if !known.contains(&c.name) {
                    known.push(c.name.clone());
                }
                walk(c, &format!("{path}/{}", c.name), out);
            }
        }
        let mut out = HashMap::new();
        walk(root, &root.name, &mut out);
        out
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn t(h: u32, m: u32, s: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, s).unwrap()
    }

    /// A line of (id, name), (unit code, unit name), [price, quantity, amount], (VAT rate,
    /// VAT sum) and kind.
    fn line(
        (id, name): (&str, &str),
        unit: (&str, &str),
        [price, quantity, amount]: [Decimal; 3],
        vat: (Option<&str>, Decimal),
        kind: &str,
    ) -> OrderLine {
        OrderLine {
            id: id.into(),
            name: name.into(),
            article: None,
            unit_code: unit.0.into(),
            unit_name: unit.1.into(),
            price,
            quantity,
            amount,
            vat_rate: vat.0.map(str::to_owned),
            vat_amount: vat.1,
            vat_included: false,
            kind: kind.into(),
        }
    }

    /// Two orders: one of a company with INN, KPP, address and two bank accounts (goods at
    /// 22 % and 10 %, goods without VAT, a service), one without a buyer.
    fn sample(version: SchemaVersion) -> SaleQuery {
        let with_buyer = OrderDoc {
            id: "0195a3c2-7d4e-7b1a-9f00-3c5e8a1b2d01".into(),
            number: "ЗК-000017".into(),
            date: d(2026, 3, 2),
            time: t(9, 41, 7),
            currency: "RUB".into(),
            total: dec!(7125.00),
            vat_total: dec!(1048.77),
            vat_included: true,
            comment: Some("Доставка до склада".into()),
            buyer: Some(Buyer {
                id: "4a65ecb6-8b1b-11df-be16-e0cb4ed5f70f".into(),
                name: "ООО \"Ромашка\"".into(),
                full_name: "Общество с ограниченной ответственностью \"Ромашка\"".into(),
                inn: Some("7707083893".into()),
                kpp: Some("770701001".into()),
                address: Some("125009, г. Москва, ул. Тверская, д. 1".into()),
                accounts: vec![
                    BankAccountOut {
                        number: "40702810400000012345".into(),
                        bank_name: "ПАО СБЕРБАНК".into(),
                        bik: "044525225".into(),
                        correspondent: "30101810400000000225".into(),
                    },
                    BankAccountOut {
                        number: "40702810900000054321".into(),
                        bank_name: "АО \"АЛЬФА-БАНК\"".into(),
                        bik: "044525593".into(),
                        correspondent: "30101810200000000593".into(),
                    },
                ],
            }),
            lines: vec![
                line(
                    (
                        "cbcf493f-55bc-11d9-848a-00112f43529a",
                        "Вентилятор напольный",
                    ),
                    ("796", "шт"),
                    [dec!(1200.00), dec!(2), dec!(2400.00)],
                    (Some("22"), dec!(432.79)),
                    "Товар",
                ),
                line(
                    ("bd72d913-55bc-11d9-848a-00112f43529a", "Крупа гречневая"),
                    ("166", "кг"),
                    [dec!(550.00), dec!(1.5), dec!(825.00)],
                    (Some("10"), dec!(75.00)),
                    "Товар",
                ),
                line(
                    ("0195a3c2-7d4e-7b1a-9f00-3c5e8a1b2d02", "Брошюра"),
                    ("778", "упак"),
                    [dec!(300.00), dec!(3), dec!(900.00)],
                    (None, dec!(0)),
                    "Товар",
                ),
                line(
                    ("0195a3c2-7d4e-7b1a-9f00-3c5e8a1b2d03", "Монтаж"),
                    ("356", "ч"),
                    [dec!(1500.00), dec!(2), dec!(3000.00)],
                    (Some("22"), dec!(540.98)),
                    "Услуга",
                ),
            ],
            requisites: vec![
                ("Статус заказа".into(), "confirmed".into()),
                ("Отменен".into(), "false".into()),
            ],
        };
        let without_buyer = OrderDoc {
            id: "0195a3c2-7d4e-7b1a-9f00-3c5e8a1b2d10".into(),
            number: "ЗК-000018".into(),
            date: d(2026, 3, 3),
            time: t(18, 5, 0),
            currency: "RUB".into(),
            total: dec!(121.88),
            vat_total: dec!(21.98),
            vat_included: false,
            comment: None,
            buyer: None,
            lines: vec![line(
                ("0195a3c2-7d4e-7b1a-9f00-3c5e8a1b2d11", "Доработка по ТЗ"),
                ("796", "шт"),
                [dec!(99.90), dec!(1), dec!(99.90)],
                (Some("22"), dec!(21.98)),
                "Услуга",
            )],
            requisites: vec![
                ("Статус заказа".into(), "new".into()),
                ("Отменен".into(), "false".into()),
            ],
        };
        SaleQuery {
            version,
            generated_at: d(2026, 3, 3).and_time(t(18, 30, 0)),
            orders: vec![with_buyer, without_buyer],
        }
    }

    fn text_of(bytes: &[u8]) -> String {
        let (text, _, _) = encoding_rs::WINDOWS_1251.decode(bytes);
        text.into_owned()
    }

    #[test]
    fn versions_map_to_the_nearest_written() {
        use SchemaVersion::*;
        for (raw, v) in [
            (None, Some(V2_05)),
            (Some(""), Some(V2_05)),
            (Some("2.03"), Some(V2_03)),
            (Some("2.04"), Some(V2_03)),
            (Some("2.05"), Some(V2_05)),
            (Some(" 2.06 "), Some(V2_05)),
            (Some("2.07"), Some(V2_05)),
            (Some("2.08"), Some(V2_09)),
            (Some("2.09"), Some(V2_09)),
            (Some("2.10"), Some(V2_09)),
            (Some("3.1"), Some(V2_09)),
            (Some("3.1.2"), Some(V2_09)),
            (Some("2.02"), Some(V2_03)),
            (Some("abc"), None),
            (Some("2."), None),
            (Some("2,05"), None),
            (Some("-2.05"), None),
            (Some("0.5"), None),
        ] {
            assert_eq!(SchemaVersion::from_requested(raw), v, "{raw:?}");
        }
        for v in ALL {
            assert_eq!(SchemaVersion::from_requested(Some(v.as_str())), Some(v));
        }
        assert_eq!(SchemaVersion::default(), V2_05);
    }

    #[test]
    fn every_element_written_is_one_the_fixture_of_its_version_has() {
        for v in ALL {
            let fixture = tree(&fixture_of(v));
            let ours = tree(&write_sale_query(&sample(v)));
            let mut theirs = paths(&fixture);
            // The sites' sample files (2.03, 2.05) have buyers without requisites and orders
            // without VAT; the schema's types carry them in every 2.x version, as 1C's 2.09
            // file writes them.
            if v != SchemaVersion::V2_09 {
                let doc = "КоммерческаяИнформация/Документ";
                let schema: Vec<String> = [
                    "Контрагенты/Контрагент/ИНН",
                    "Контрагенты/Контрагент/КПП",
                    "Контрагенты/Контрагент/РасчетныеСчета",
                    "Налоги",
                    "Товары/Товар/СтавкиНалогов",
                    "Товары/Товар/Налоги",
                ]
                .iter()
                .map(|p| format!("{doc}/{p}"))
                .collect();
                theirs.extend(
                    paths(&tree(&fixture_of(SchemaVersion::V2_09)))
                        .into_iter()
                        .filter(|p| schema.iter().any(|s| p.starts_with(s.as_str()))),
                );
            }
            let mine = paths(&ours);
            let foreign: Vec<&String> = mine.difference(&theirs).collect();
            assert!(
                foreign.is_empty(),
                "{}: not in the fixture: {foreign:#?}",
                v.as_str()
            );

            let doc = "КоммерческаяИнформация/Документ";
            let price = match v {
                SchemaVersion::V2_09 => "Товары/Товар/Цена",
                _ => "Товары/Товар/ЦенаЗаЕдиницу",
            };
            let mut essential = vec![
                "Ид",
                "Номер",
                "Дата",
                "ХозОперация",
                "Роль",
                "Валюта",
                "Сумма",
                "Время",
                "Контрагенты/Контрагент/Ид",
                "Контрагенты/Контрагент/Наименование",
                "Контрагенты/Контрагент/Роль",
                "Товары/Товар/Ид",
                "Товары/Товар/Наименование",
                "Товары/Товар/Количество",
                "Товары/Товар/Сумма",
                "Товары/Товар/ЗначенияРеквизитов/ЗначениеРеквизита/Значение",
                "ЗначенияРеквизитов/ЗначениеРеквизита/Наименование",
                "ЗначенияРеквизитов/ЗначениеРеквизита/Значение",
                price,
            ];
            essential.extend([
                "Контрагенты/Контрагент/ИНН",
                "Контрагенты/Контрагент/КПП",
                "Контрагенты/Контрагент/РасчетныеСчета/РасчетныйСчет/Банк/БИК",
                "Налоги/Налог/Сумма",
                "Товары/Товар/СтавкиНалогов/СтавкаНалога/Ставка",
                "Товары/Товар/Налоги/Налог/Сумма",
            ]);
            if v == SchemaVersion::V2_09 {
                essential.push("Товары/Товар/Единица/Код");
            } else {
                essential.push("Контрагенты/Контрагент/АдресРегистрации/Представление");
                essential.push("Товары/Товар/БазоваяЕдиница");
            }
            for e in essential {
                let path = format!("{doc}/{e}");
                assert!(
                    theirs.contains(&path),
                    "{}: fixture lacks {path}",
                    v.as_str()
                );
                assert!(mine.contains(&path), "{}: ours lacks {path}", v.as_str());
            }

            // Children come in the fixture's order.
            let order = child_order(&fixture);
            fn check(n: &Node, path: &str, order: &HashMap<String, Vec<String>>, v: &str) {
                let known = order.get(path).map(Vec::as_slice).unwrap_or_default();
                // Elements the fixture lacks (the schema's, above) have no place to check.
                let at: Vec<usize> = n
                    .children
                    .iter()
                    .filter_map(|c| known.iter().position(|k| k == &c.name))
                    .collect();
                let names: Vec<&str> = n.children.iter().map(|c| c.name.as_str()).collect();
                assert!(
                    at.windows(2).all(|w| w[0] <= w[1]),
                    "{v}: children of {path} out of the fixture's order {known:?}: {names:?}"
                );
                for c in &n.children {
                    check(c, &format!("{path}/{}", c.name), order, v);
                }
            }
            check(&ours, &ours.name, &order, v.as_str());

            // Root attributes are the fixture's.
            let names = |n: &Node| {
                n.attrs
                    .iter()
                    .map(|(k, _)| k.clone())
                    .collect::<BTreeSet<_>>()
            };
            assert!(
                names(&ours).is_subset(&names(&fixture)),
                "{}: {:?} vs {:?}",
                v.as_str(),
                names(&ours),
                names(&fixture)
            );
            assert_eq!(ours.attr("ВерсияСхемы"), Some(v.as_str()));
            assert_eq!(ours.attr("ДатаФормирования"), Some("2026-03-03T18:30:00"));
        }
    }

    #[test]
    fn the_root_carries_the_formats_and_namespaces_of_its_version() {
        let text = text_of(&write_sale_query(&sample(SchemaVersion::V2_05)));
        assert!(
            text.contains(r#"ФорматДаты="ДФ=yyyy-MM-dd; ДЛФ=DT""#),
            "{text}"
        );
        assert!(
            text.contains(r#"ФорматСуммы="ЧЦ=18; ЧДЦ=2; ЧРД=.""#),
            "{text}"
        );
        assert!(
            text.contains(r#"ФорматКоличества="ЧЦ=18; ЧДЦ=2; ЧРД=.""#),
            "{text}"
        );
        assert!(!text.contains("xmlns"));
        let mut q = sample(SchemaVersion::V2_05);
        q.orders[0].lines[0].quantity = dec!(0.125);
        let text = text_of(&write_sale_query(&q));
        assert!(
            text.contains(r#"ФорматКоличества="ЧЦ=18; ЧДЦ=3; ЧРД=.""#),
            "{text}"
        );
        assert!(text.contains("<Количество>0.125</Количество>"), "{text}");

        let text = text_of(&write_sale_query(&sample(SchemaVersion::V2_09)));
        assert!(text.contains(r#"xmlns="urn:1C.ru:commerceml_2""#), "{text}");
        assert!(text.contains(r#"ВерсияСхемы="2.09""#), "{text}");
        let text = text_of(&write_sale_query(&sample(SchemaVersion::V2_03)));
        assert!(
            !text.contains("Формат") && !text.contains("xmlns"),
            "{text}"
        );
    }

    #[test]
    fn amounts_and_quantities_are_written_as_the_files_write_them() {
        let text = text_of(&write_sale_query(&sample(SchemaVersion::V2_05)));
        assert!(text.contains("<Сумма>7125.00</Сумма>"), "{text}");
        assert!(
            text.contains("<ЦенаЗаЕдиницу>99.90</ЦенаЗаЕдиницу>"),
            "{text}"
        );
        assert!(text.contains("<Количество>1.5</Количество>"), "{text}");
        assert!(text.contains("<Количество>2</Количество>"), "{text}");
        assert!(text.contains("<Дата>2026-03-02</Дата>"), "{text}");
        assert!(text.contains("<Время>09:41:07</Время>"), "{text}");
        assert!(
            text.contains(
                r#"<БазоваяЕдиница Код="796" НаименованиеПолное="Штука" МеждународноеСокращение="PCE">шт</БазоваяЕдиница>"#
            ),
            "{text}"
        );
        assert_eq!(money(dec!(1.005)), "1.01");
        assert_eq!(money(dec!(-0.001)), "0.00");
        assert_eq!(money(dec!(12)), "12.00");
        assert_eq!(quantity(dec!(1.000)), "1");
        assert_eq!(quantity(dec!(100)), "100");

        let text = text_of(&write_sale_query(&sample(SchemaVersion::V2_09)));
        assert!(text.contains("<Цена>1200.00</Цена>"), "{text}");
        assert!(text.contains("<Ставка>Без НДС</Ставка>"), "{text}");
        assert!(text.contains("<УчтеноВСумме>true</УчтеноВСумме>"), "{text}");
        assert!(
            text.contains("<УчтеноВСумме>false</УчтеноВСумме>"),
            "{text}"
        );
    }

    #[test]
    fn an_empty_answer_is_a_valid_document() {
        for v in ALL {
            let q = SaleQuery {
                version: v,
                ..Default::default()
            };
            let info = commerceml::parse(&write_sale_query(&q)).unwrap();
            assert_eq!(info.schema_version, v.as_str());
            assert!(info.documents.is_empty());
        }
    }

    #[test]
    fn the_reader_reads_back_what_is_written() {
        for v in ALL {
            let q = sample(v);
            let info = commerceml::parse(&write_sale_query(&q)).unwrap();
            let tag = v.as_str();
            assert_eq!(info.schema_version, tag);
            assert_eq!(info.documents.len(), q.orders.len(), "{tag}");
            for (doc, o) in info.documents.iter().zip(&q.orders) {
                assert_eq!(doc.id, o.id, "{tag}");
                assert_eq!(doc.number.as_deref(), Some(o.number.as_str()), "{tag}");
                assert_eq!(
                    doc.date,
                    Some(o.date.format("%Y-%m-%d").to_string()),
                    "{tag}"
                );
                assert_eq!(
                    doc.time,
                    Some(o.time.format("%H:%M:%S").to_string()),
                    "{tag}"
                );
                assert_eq!(doc.operation.as_deref(), Some("Заказ товара"), "{tag}");
                assert_eq!(doc.role.as_deref(), Some("Продавец"), "{tag}");
                assert_eq!(doc.currency.as_deref(), Some("RUB"), "{tag}");
                assert_eq!(doc.total, Some(o.total), "{tag}");
                assert_eq!(doc.comment, o.comment, "{tag}");
                assert_eq!(doc.requisites, o.requisites, "{tag}");
                assert_eq!(
                    doc.status().status.as_deref(),
                    Some(o.requisites[0].1.as_str())
                );
                assert!(!doc.status().cancelled, "{tag}");
                match &o.buyer {
                    None => assert!(doc.counterparties.is_empty(), "{tag}"),
                    Some(b) => {
                        assert_eq!(doc.counterparties.len(), 1, "{tag}");
                        let c = &doc.counterparties[0];
                        assert_eq!(c.id.as_deref(), Some(b.id.as_str()), "{tag}");
                        assert_eq!(c.name.as_deref(), Some(b.name.as_str()), "{tag}");
                        assert_eq!(c.full_name.as_deref(), Some(b.full_name.as_str()), "{tag}");
                        assert_eq!(c.role.as_deref(), Some("Покупатель"), "{tag}");
                        assert_eq!(c.address, b.address, "{tag}");
                        assert_eq!(c.inn, b.inn, "{tag}");
                        assert_eq!(c.kpp, b.kpp, "{tag}");
                        let accounts: Vec<commerceml::CounterpartyAccount> = b
                            .accounts
                            .iter()
                            .map(|a| commerceml::CounterpartyAccount {
                                number: Some(a.number.clone()),
                                bank_name: Some(a.bank_name.clone()),
                                bik: Some(a.bik.clone()),
                                correspondent: Some(a.correspondent.clone()),
                            })
                            .collect();
                        assert_eq!(c.accounts, accounts, "{tag}");
                    }
                }
                assert_eq!(doc.lines.len(), o.lines.len(), "{tag}");
                for (l, ol) in doc.lines.iter().zip(&o.lines) {
                    assert_eq!(l.id.as_deref(), Some(ol.id.as_str()), "{tag}");
                    assert_eq!(l.name, ol.name, "{tag}");
                    assert_eq!(l.quantity, Some(ol.quantity), "{tag}");
                    assert_eq!(l.price, Some(ol.price), "{tag}");
                    assert_eq!(l.amount, Some(ol.amount), "{tag}");
                    assert_eq!(l.unit_code.as_deref(), Some(ol.unit_code.as_str()), "{tag}");
                    assert_eq!(l.unit_name.as_deref(), Some(ol.unit_name.as_str()), "{tag}");
                    assert_eq!(l.kind.as_deref(), Some(ol.kind.as_str()), "{tag}");
                }
                let doc_vat = doc.taxes.iter().find(|t| t.name == "НДС");
                {
                    let doc_vat = doc_vat.unwrap_or_else(|| panic!("{tag}: no VAT"));
                    assert_eq!(doc_vat.amount, Some(o.vat_total), "{tag}");
                    assert_eq!(doc_vat.included, o.vat_included, "{tag}");
                    for (l, ol) in doc.lines.iter().zip(&o.lines) {
                        let want = ol.vat_rate.clone().unwrap_or_else(|| "Без НДС".into());
                        assert_eq!(l.vat.as_deref(), Some(want.as_str()), "{tag}");
                        match &ol.vat_rate {
                            Some(rate) => {
                                assert_eq!(l.taxes.len(), 1, "{tag}");
                                assert_eq!(l.taxes[0].amount, Some(ol.vat_amount), "{tag}");
                                assert_eq!(l.taxes[0].rate.as_deref(), Some(rate.as_str()));
                                assert_eq!(l.taxes[0].included, ol.vat_included, "{tag}");
                            }
                            None => assert!(l.taxes.is_empty(), "{tag}"),
                        }
                    }
                    let lines: Decimal = doc
                        .lines
                        .iter()
                        .flat_map(|l| &l.taxes)
                        .filter_map(|t| t.amount)
                        .sum();
                    assert_eq!(Some(lines), doc_vat.amount, "{tag}");
                }
            }
        }
    }

    #[test]
    fn the_bytes_are_windows_1251_and_special_characters_survive() {
        let odd = "Кофе «Арабика» & <чай> \"ОО'О\" café 🙂 €";
        for v in ALL {
            let mut q = sample(v);
            q.orders[0].lines[0].name = odd.into();
            if let Some(b) = q.orders[0].buyer.as_mut() {
                b.name = "ИП Иванов & сыновья <опт>".into();
            }
            q.orders[1].requisites[0].1 = "ждёт \u{1}оплаты".into();
            let bytes = write_sale_query(&q);
            let head = br#"<?xml version="1.0" encoding="windows-1251"?>"#;
            assert!(
                bytes.starts_with(head),
                "{}",
                String::from_utf8_lossy(&bytes)
            );
            // Cyrillic is one byte per letter, so the bytes are not UTF-8.
            assert!(std::str::from_utf8(&bytes).is_err());
            let text = text_of(&bytes);
            assert!(text.contains("<КоммерческаяИнформация"), "{text}");
            assert!(text.contains("Кофе «Арабика» &amp; &lt;чай&gt;"), "{text}");
            // windows-1251 has «», € and ё, not é or 🙂: those are character references.
            assert!(text.contains("caf&#233; &#128578; €"), "{text}");
            assert!(bytes.contains(&0x88), "€ is 0x88 in windows-1251");

            let info = commerceml::parse(&bytes).unwrap();
            let doc = &info.documents[0];
            assert_eq!(doc.lines[0].name, odd);
            assert_eq!(
                doc.counterparties[0].name.as_deref(),
                Some("ИП Иванов & сыновья <опт>")
            );
            // A control character XML cannot carry is dropped.
            assert_eq!(
                info.documents[1].requisite("Статус заказа"),
                Some("ждёт оплаты")
            );
        }
    }

    #[test]
    fn blank_optional_values_are_left_out() {
        let mut q = sample(SchemaVersion::V2_09);
        let b = q.orders[0].buyer.as_mut().unwrap();
        b.inn = Some(" ".into());
        b.kpp = None;
        b.address = None;
        b.accounts = vec![BankAccountOut::default()];
        q.orders[0].comment = Some(String::new());
        q.orders[0].requisites.clear();
        let ours = tree(&write_sale_query(&q));
        let mine = paths(&ours);
        for gone in [
            "Контрагенты/Контрагент/ИНН",
            "Контрагенты/Контрагент/КПП",
            "Контрагенты/Контрагент/Адрес",
            "Контрагенты/Контрагент/РасчетныеСчета",
            "Комментарий",
        ] {
            assert!(!mine.contains(&format!("КоммерческаяИнформация/Документ/{gone}")));
        }
        let first = ours.child("Документ").unwrap();
        assert!(first.child("ЗначенияРеквизитов").is_none());
    }

    mod round_trip {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            "[a-zA-Zа-яА-ЯёЁ0-9&<>\"'№€é🙂#;]([a-zA-Zа-яА-ЯёЁ0-9&<>\"'№€é🙂#; .,-]{0,30}[a-zA-Zа-яА-Я0-9&<>\"';])?"
        }

        fn money_value() -> impl Strategy<Value = Decimal> {
            (-1_000_000_000i64..1_000_000_000).prop_map(|minor| Decimal::new(minor, 2))
        }

        fn version() -> impl Strategy<Value = SchemaVersion> {
            prop_oneof![
                Just(SchemaVersion::V2_03),
                Just(SchemaVersion::V2_05),
                Just(SchemaVersion::V2_09),
            ]
        }

        fn order_line() -> impl Strategy<Value = OrderLine> {
            (
                text(),
                text(),
                money_value(),
                (1i64..10_000_000).prop_map(|q| Decimal::new(q, 3)),
                money_value(),
                prop::option::of(prop_oneof![Just("22"), Just("10"), Just("0")]),
                money_value(),
            )
                .prop_map(|(id, name, price, quantity, amount, rate, vat)| OrderLine {
                    id,
                    name,
                    article: None,
                    unit_code: "796".into(),
                    unit_name: "шт".into(),
                    price,
                    quantity,
                    amount,
                    vat_rate: rate.map(str::to_owned),
                    vat_amount: vat,
                    vat_included: false,
                    kind: "Товар".into(),
                })
        }

        fn order() -> impl Strategy<Value = OrderDoc> {
            (
                (text(), text(), money_value(), money_value(), any::<bool>()),
                prop::option::of((text(), text(), text())),
                prop::collection::vec(order_line(), 0..4),
                prop::collection::vec((text(), text()), 0..3),
            )
                .prop_map(
                    |((id, number, total, vat_total, included), buyer, lines, requisites)| {
                        OrderDoc {
                            id,
                            number,
                            date: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap_or_default(),
                            time: NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default(),
                            currency: "RUB".into(),
                            total,
                            vat_total,
                            vat_included: included,
                            comment: None,
                            buyer: buyer.map(|(id, name, full_name)| Buyer {
                                id,
                                name,
                                full_name,
                                ..Default::default()
                            }),
                            lines,
                            requisites,
                        }
                    },
                )
        }

        proptest! {
            /// Whatever the text and the amounts, the reader gets back what was written.
            #[test]
            fn random_orders_survive_write_and_parse(
                v in version(),
                orders in prop::collection::vec(order(), 1..3),
            ) {
                let q = SaleQuery {
                    version: v,
                    generated_at: NaiveDateTime::default(),
                    orders,
                };
                let info = commerceml::parse(&write_sale_query(&q)).unwrap();
                prop_assert_eq!(info.documents.len(), q.orders.len());
                for (doc, o) in info.documents.iter().zip(&q.orders) {
                    prop_assert_eq!(&doc.id, &o.id);
                    prop_assert_eq!(doc.number.as_deref(), Some(o.number.as_str()));
                    prop_assert_eq!(doc.total, Some(o.total));
                    prop_assert_eq!(&doc.requisites, &o.requisites);
                    if let Some(b) = &o.buyer {
                        let c = &doc.counterparties[0];
                        prop_assert_eq!(c.id.as_deref(), Some(b.id.as_str()));
                        prop_assert_eq!(c.name.as_deref(), Some(b.name.as_str()));
                        prop_assert_eq!(c.full_name.as_deref(), Some(b.full_name.as_str()));
                    }
                    prop_assert_eq!(doc.lines.len(), o.lines.len());
                    for (l, ol) in doc.lines.iter().zip(&o.lines) {
                        prop_assert_eq!(l.id.as_deref(), Some(ol.id.as_str()));
                        prop_assert_eq!(&l.name, &ol.name);
                        prop_assert_eq!(l.price, Some(ol.price));
                        prop_assert_eq!(l.quantity, Some(ol.quantity));
                        prop_assert_eq!(l.amount, Some(ol.amount));
                        let tax = l.taxes.first().and_then(|t| t.amount);
                        let want = ol.vat_rate.as_ref().map(|_| ol.vat_amount);
                        prop_assert_eq!(tax, want);
                    }
                    let taxed = !o.vat_total.is_zero()
                        || o.lines.iter().any(|l| l.vat_rate.is_some());
                    let doc_vat = doc.taxes.first().and_then(|t| t.amount);
                    prop_assert_eq!(doc_vat, taxed.then_some(o.vat_total));
                }
            }
        }
    }
}
