//! CommerceML 2 (INT-1C-1): the files 1C and the site exchange — `import.xml` (the classifier
//! and the catalog), `offers.xml` (price types, warehouses, offers with prices and stock) and
//! the order documents of `type=sale`. Pure: bytes in, typed values out. The text is read in
//! the encoding its XML declaration names (windows-1251 or UTF-8), a byte-order mark wins.
//!
//! Elements and attributes the exchange does not use are skipped, never fatal; the schema
//! versions 2.03 … 2.10 differ in details this reader tolerates (a property's value list as
//! `ВариантыЗначений/Справочник`, a product's deletion as `Статус=Удален` or
//! `ПометкаУдаления=true`).

use rust_decimal::Decimal;
use std::str::FromStr;

use crate::text_encoding;
use crate::vat::VatRate;

/// Why a file is not CommerceML this reader understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmlError {
    #[error("the file is not readable text: {0}")]
    Encoding(String),
    #[error("the file is not well-formed XML: {0}")]
    Xml(String),
    #[error("the root element is `{0}`, not КоммерческаяИнформация")]
    NotCommerceMl(String),
    #[error("{0} has no {1}")]
    Missing(&'static str, &'static str),
    #[error("`{value}` in {field} is not a number")]
    NotANumber { field: &'static str, value: String },
}

// ---------------------------------------------------------------------------------------------
// A small element tree

/// One element: its local name (namespace prefix dropped), attributes and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// The first child of this name.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child of this name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child of this name, when not empty.
    pub fn text_of(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| c.text.trim().to_owned())
            .filter(|t| !t.is_empty())
    }

    /// The children of `outer/inner`.
    pub fn list<'a>(
        &'a self,
        outer: &'a str,
        inner: &'a str,
    ) -> impl Iterator<Item = &'a Node> + 'a {
        self.children
            .iter()
            .filter(move |c| c.name == outer)
            .flat_map(move |c| c.all(inner))
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The encoding the XML declaration names, if any.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head);
    let decl_end = head.find("?>")?;
    let decl = &head[..decl_end];
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.trim_start();
    let quote = rest.chars().next()?;
    let rest = &rest[quote.len_utf8()..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_owned())
}

/// The text of a CommerceML file: BOM, then the declared encoding, then UTF-8 or windows-1251.
pub fn decode(bytes: &[u8]) -> Result<String, CmlError> {
    let named = declared_encoding(bytes);
    text_encoding::decode(bytes, named.as_deref())
        .map(|d| d.text)
        .map_err(|e| CmlError::Encoding(e.to_string()))
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    match s.rsplit_once(':') {
        Some((_, l)) => l.to_owned(),
        None => s.into_owned(),
    }
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> Result<Node, CmlError> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| CmlError::Xml(e.to_string()))?;
        let key = local(a.key.as_ref());
        let value = a
            .unescape_value()
            .map_err(|e| CmlError::Xml(e.to_string()))?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Node {
        name: local(e.name().as_ref()),
        attrs,
        text: String::new(),
        children: Vec::new(),
    })
}

/// The element tree of an XML text.
pub fn parse_tree(text: &str) -> Result<Node, CmlError> {
    use quick_xml::events::Event;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = quick_xml::Reader::from_str(text);
    let xml = |e: quick_xml::Error| CmlError::Xml(e.to_string());
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        match reader.read_event().map_err(xml)? {
            Event::Start(e) => stack.push(element(&e)?),
            Event::Empty(e) => {
                let n = element(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(n),
                    None => root = Some(n),
                }
            }
            Event::End(_) => {
                let Some(n) = stack.pop() else {
                    return Err(CmlError::Xml("an end tag without its start".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(n),
                    None => root = Some(n),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let s = t.decode().map_err(|e| CmlError::Xml(e.to_string()))?;
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    let s = t.decode().map_err(|e| CmlError::Xml(e.to_string()))?;
                    top.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    if let Some(c) = r.resolve_char_ref().map_err(xml)? {
                        top.text.push(c);
                    } else {
                        let name = r.decode().map_err(|e| CmlError::Xml(e.to_string()))?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(v) => top.text.push_str(v),
                            None => {
                                return Err(CmlError::Xml(format!("unknown entity &{name};")));
                            }
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(CmlError::Xml("the document ends inside an element".into()));
    }
    root.ok_or_else(|| CmlError::Xml("the document has no root element".into()))
}

// ---------------------------------------------------------------------------------------------
// The typed file

/// A CommerceML file: whichever parts it carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommerceInfo {
    /// `ВерсияСхемы`, e.g. `2.07`.
    pub schema_version: String,
    pub classifier: Option<Classifier>,
    pub catalog: Option<Catalog>,
    pub offers: Option<OfferPackage>,
    pub documents: Vec<Document>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classifier {
    pub id: String,
    pub name: String,
    /// Every group of the tree, parents before their children.
    pub groups: Vec<Group>,
    pub properties: Vec<Property>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub id: String,
    pub name: String,
    /// `Строка`, `Число`, `Справочник`, …
    pub value_type: Option<String>,
    /// The dictionary values (`ИдЗначения`, `Значение`).
    pub values: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub id: String,
    pub classifier_id: Option<String>,
    pub name: String,
    /// `СодержитТолькоИзменения`: an incremental load; a full load (false) replaces the
    /// catalog, so its products not in the file are no longer offered.
    pub only_changes: bool,
    pub products: Vec<Product>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Product {
    /// The 1C id (a GUID, possibly `товар#характеристика`).
    pub id: String,
    pub name: String,
    pub article: Option<String>,
    pub barcode: Option<String>,
    /// OKEI code of `БазоваяЕдиница` (`Код`), e.g. `796`.
    pub unit_code: Option<String>,
    /// The unit's short name (element text) or its full name.
    pub unit_name: Option<String>,
    pub group_ids: Vec<String>,
    pub description: Option<String>,
    /// `СтавкиНалогов/СтавкаНалога` named НДС: `20`, `18`, `Без НДС`, …
    pub vat: Option<String>,
    /// `Статус=Удален` or `ПометкаУдаления=true`.
    pub deleted: bool,
    /// `ЗначенияСвойств`: property id and value (a dictionary value id or text).
    pub properties: Vec<(String, String)>,
    /// `ЗначенияРеквизитов`: name and value.
    pub requisites: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfferPackage {
    pub id: String,
    pub catalog_id: Option<String>,
    pub only_changes: bool,
    pub price_types: Vec<PriceType>,
    pub warehouses: Vec<Warehouse>,
    pub offers: Vec<Offer>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PriceType {
    pub id: String,
    pub name: String,
    pub currency: Option<String>,
    /// `Налог/УчтеноВСумме` of НДС: whether prices of this type include VAT.
    pub vat_included: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Warehouse {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offer {
    /// `товар#характеристика` or just `товар`.
    pub id: String,
    pub product_id: String,
    pub characteristic_id: Option<String>,
    pub name: Option<String>,
    pub article: Option<String>,
    pub prices: Vec<OfferPrice>,
    /// `Количество`: the total stock.
    pub quantity: Option<Decimal>,
    /// Stock per warehouse: `Склад ИдСклада КоличествоНаСкладе` (or `Остатки/Остаток/Склад`).
    pub stock: Vec<(String, Decimal)>,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OfferPrice {
    pub price_type_id: String,
    pub price: Decimal,
    pub currency: Option<String>,
    pub unit: Option<String>,
}

/// An order document (`Документ`, `ХозОперация=Заказ товара`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    pub id: String,
    pub number: Option<String>,
    /// `Номер1С`, when 1C numbered it.
    pub number_1c: Option<String>,
    pub date: Option<String>,
    /// `Время`, e.g. `15:39:10`.
    pub time: Option<String>,
    pub operation: Option<String>,
    pub role: Option<String>,
    pub currency: Option<String>,
    pub total: Option<Decimal>,
    pub counterparties: Vec<Counterparty>,
    pub taxes: Vec<Tax>,
    pub lines: Vec<DocumentLine>,
    pub comment: Option<String>,
    pub requisites: Vec<(String, String)>,
    pub deleted: bool,
}

impl Document {
    /// The value of a requisite by name (case-insensitive).
    pub fn requisite(&self, name: &str) -> Option<&str> {
        self.requisites
            .iter()
            .find(|(k, _)| k.to_lowercase() == name.to_lowercase())
            .map(|(_, v)| v.as_str())
    }

    /// What the requisites say happened to the order.
    pub fn status(&self) -> OrderStatusFrom1c {
        let yes = |v: Option<&str>| v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        OrderStatusFrom1c {
            cancelled: yes(self.requisite("Отменен")) || self.deleted,
            paid: yes(self.requisite("Оплачен"))
                || self
                    .requisite("Дата оплаты по 1С")
                    .is_some_and(|d| !d.trim().is_empty() && !d.starts_with("0001")),
            shipped: yes(self.requisite("Отгружен"))
                || self
                    .requisite("Дата отгрузки по 1С")
                    .is_some_and(|d| !d.trim().is_empty() && !d.starts_with("0001")),
            status: self.requisite("Статус заказа").map(str::to_owned),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderStatusFrom1c {
    pub paid: bool,
    pub shipped: bool,
    pub cancelled: bool,
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counterparty {
    pub id: Option<String>,
    pub name: Option<String>,
    pub full_name: Option<String>,
    pub inn: Option<String>,
    pub kpp: Option<String>,
    pub role: Option<String>,
    /// `АдресРегистрации/Представление`, else `Адрес/Представление`, else
    /// `ЮридическийАдрес/Представление`.
    pub address: Option<String>,
    /// `РасчетныеСчета/РасчетныйСчет`.
    pub accounts: Vec<CounterpartyAccount>,
}

/// A bank account of a counterparty (`РасчетныйСчет`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterpartyAccount {
    /// `НомерСчета`.
    pub number: Option<String>,
    /// `Банк/Наименование`.
    pub bank_name: Option<String>,
    /// `Банк/БИК`.
    pub bik: Option<String>,
    /// `Банк/СчетКорреспондентский`.
    pub correspondent: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tax {
    pub name: String,
    pub included: bool,
    pub amount: Option<Decimal>,
    pub rate: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocumentLine {
    pub id: Option<String>,
    pub name: String,
    pub article: Option<String>,
    /// OKEI code: `БазоваяЕдиница@Код`, else `Единица/Код` (2.08+).
    pub unit_code: Option<String>,
    /// The unit's short name: the text of `БазоваяЕдиница`, else `Единица/НаименованиеКраткое`.
    pub unit_name: Option<String>,
    /// `ЦенаЗаЕдиницу`, else `Цена` (2.08+).
    pub price: Option<Decimal>,
    pub quantity: Option<Decimal>,
    pub amount: Option<Decimal>,
    pub vat: Option<String>,
    pub taxes: Vec<Tax>,
    /// `ВидНоменклатуры`/`ТипНоменклатуры` requisites, e.g. `Услуга`; Bitrix's
    /// `ORDER_DELIVERY` line has id `ORDER_DELIVERY`.
    pub kind: Option<String>,
}

/// A number as 1C writes it: `1719`, `1 719,50`, `1719.50`.
pub fn number(field: &'static str, raw: &str) -> Result<Decimal, CmlError> {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    Decimal::from_str(&cleaned)
        .or_else(|_| Decimal::from_scientific(&cleaned))
        .map_err(|_| CmlError::NotANumber {
            field,
            value: raw.to_owned(),
        })
}

fn opt_number(node: &Node, name: &'static str) -> Result<Option<Decimal>, CmlError> {
    node.text_of(name).map(|t| number(name, &t)).transpose()
}

fn is_true(v: Option<&str>) -> bool {
    v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Reads a CommerceML file.
pub fn parse(bytes: &[u8]) -> Result<CommerceInfo, CmlError> {
    let text = decode(bytes)?;
    let root = parse_tree(&text)?;
    from_tree(&root)
}

pub fn from_tree(root: &Node) -> Result<CommerceInfo, CmlError> {
    if root.name != "КоммерческаяИнформация" {
        return Err(CmlError::NotCommerceMl(root.name.clone()));
    }
    let mut info = CommerceInfo {
        schema_version: root.attr("ВерсияСхемы").unwrap_or_default().to_owned(),
        ..Default::default()
    };
    if let Some(c) = root.child("Классификатор") {
        info.classifier = Some(classifier(c)?);
    }
    if let Some(c) = root.child("Каталог") {
        info.catalog = Some(catalog(c)?);
    }
    if let Some(p) = root
        .child("ПакетПредложений")
        .or_else(|| root.child("ИзмененияПакетаПредложений"))
    {
        let mut package = offer_package(p)?;
        if root.child("ИзмененияПакетаПредложений").is_some()
            && root.child("ПакетПредложений").is_none()
        {
            package.only_changes = true;
        }
        info.offers = Some(package);
    }
    // Documents sit at the root, or (2.08+) inside `Контейнер`.
    for d in root.all("Документ") {
        info.documents.push(document(d)?);
    }
    for c in root.all("Контейнер") {
        for d in c.all("Документ") {
            info.documents.push(document(d)?);
        }
    }
    Ok(info)
}

fn required(node: &Node, what: &'static str, name: &'static str) -> Result<String, CmlError> {
    node.text_of(name).ok_or(CmlError::Missing(what, name))
}

fn classifier(c: &Node) -> Result<Classifier, CmlError> {
    let mut groups = Vec::new();
    fn walk(node: &Node, parent: Option<&str>, out: &mut Vec<Group>) -> Result<(), CmlError> {
        for g in node.list("Группы", "Группа") {
            let id = required(g, "Группа", "Ид")?;
            out.push(Group {
                id: id.clone(),
                name: g.text_of("Наименование").unwrap_or_else(|| id.clone()),
                parent_id: parent.map(str::to_owned),
            });
            walk(g, Some(&id), out)?;
        }
        Ok(())
    }
    walk(c, None, &mut groups)?;
    let mut properties = Vec::new();
    for p in c
        .list("Свойства", "Свойство")
        .chain(c.list("Свойства", "СвойствоНоменклатуры"))
    {
        let id = required(p, "Свойство", "Ид")?;
        let values = p
            .list("ВариантыЗначений", "Справочник")
            .filter_map(|v| {
                Some((
                    v.text_of("ИдЗначения")?,
                    v.text_of("Значение").unwrap_or_default(),
                ))
            })
            .collect();
        properties.push(Property {
            name: p.text_of("Наименование").unwrap_or_else(|| id.clone()),
            id,
            value_type: p.text_of("ТипЗначений"),
            values,
        });
    }
    Ok(Classifier {
        id: c.text_of("Ид").unwrap_or_default(),
        name: c.text_of("Наименование").unwrap_or_default(),
        groups,
        properties,
    })
}

fn vat_of(node: &Node) -> Option<String> {
    node.list("СтавкиНалогов", "СтавкаНалога")
        .find(|s| {
            s.text_of("Наименование")
                .is_some_and(|n| n.eq_ignore_ascii_case("НДС"))
        })
        .and_then(|s| s.text_of("Ставка"))
}

fn requisites(node: &Node) -> Vec<(String, String)> {
    node.list("ЗначенияРеквизитов", "ЗначениеРеквизита")
        .filter_map(|r| {
            Some((
                r.text_of("Наименование")?,
                r.text_of("Значение").unwrap_or_default(),
            ))
        })
        .collect()
}

fn catalog(c: &Node) -> Result<Catalog, CmlError> {
    let mut products = Vec::new();
    for p in c.list("Товары", "Товар") {
        let id = required(p, "Товар", "Ид")?;
        let unit = p.child("БазоваяЕдиница");
        products.push(Product {
            name: p.text_of("Наименование").unwrap_or_else(|| id.clone()),
            id,
            article: p.text_of("Артикул"),
            barcode: p.text_of("Штрихкод"),
            unit_code: unit
                .and_then(|u| u.attr("Код"))
                .map(|c| c.trim().to_owned()),
            unit_name: unit.and_then(|u| {
                let t = u.text.trim();
                if t.is_empty() {
                    u.attr("НаименованиеКраткое").map(str::to_owned)
                } else {
                    Some(t.to_owned())
                }
            }),
            group_ids: p
                .list("Группы", "Ид")
                .map(|g| g.text.trim().to_owned())
                .filter(|g| !g.is_empty())
                .collect(),
            description: p.text_of("Описание"),
            vat: vat_of(p),
            deleted: p.text_of("Статус").is_some_and(|s| s == "Удален")
                || is_true(p.text_of("ПометкаУдаления").as_deref())
                || p.attr("Статус") == Some("Удален"),
            properties: p
                .list("ЗначенияСвойств", "ЗначенияСвойства")
                .filter_map(|v| Some((v.text_of("Ид")?, v.text_of("Значение").unwrap_or_default())))
                .collect(),
            requisites: requisites(p),
        });
    }
    Ok(Catalog {
        id: c.text_of("Ид").unwrap_or_default(),
        classifier_id: c.text_of("ИдКлассификатора"),
        name: c.text_of("Наименование").unwrap_or_default(),
        only_changes: is_true(c.attr("СодержитТолькоИзменения"))
            || is_true(c.text_of("СодержитТолькоИзменения").as_deref()),
        products,
    })
}

fn offer_package(p: &Node) -> Result<OfferPackage, CmlError> {
    let mut price_types = Vec::new();
    for t in p.list("ТипыЦен", "ТипЦены") {
        let id = required(t, "ТипЦены", "Ид")?;
        let vat = t.all("Налог").find(|n| {
            n.text_of("Наименование")
                .is_some_and(|n| n.eq_ignore_ascii_case("НДС"))
        });
        price_types.push(PriceType {
            name: t.text_of("Наименование").unwrap_or_else(|| id.clone()),
            id,
            currency: t.text_of("Валюта"),
            vat_included: vat.map(|v| is_true(v.text_of("УчтеноВСумме").as_deref())),
        });
    }
    let mut warehouses = Vec::new();
    for w in p.list("Склады", "Склад") {
        let id = required(w, "Склад", "Ид")?;
        warehouses.push(Warehouse {
            name: w.text_of("Наименование").unwrap_or_else(|| id.clone()),
            id,
        });
    }
    let mut offers = Vec::new();
    for o in p.list("Предложения", "Предложение") {
        let id = required(o, "Предложение", "Ид")?;
        let (product_id, characteristic_id) = match id.split_once('#') {
            Some((p, c)) if !c.is_empty() => (p.to_owned(), Some(c.to_owned())),
            Some((p, _)) => (p.to_owned(), None),
            None => (id.clone(), None),
        };
        let mut prices = Vec::new();
        for c in o.list("Цены", "Цена") {
            let Some(type_id) = c.text_of("ИдТипаЦены") else {
                continue;
            };
            let Some(price) = opt_number(c, "ЦенаЗаЕдиницу")? else {
                continue;
            };
            prices.push(OfferPrice {
                price_type_id: type_id,
                price,
                currency: c.text_of("Валюта"),
                unit: c.text_of("Единица"),
            });
        }
        let mut stock = Vec::new();
        for s in o.all("Склад") {
            if let (Some(w), Some(q)) = (s.attr("ИдСклада"), s.attr("КоличествоНаСкладе"))
            {
                stock.push((w.trim().to_owned(), number("КоличествоНаСкладе", q)?));
            }
        }
        for s in o.list("Остатки", "Остаток") {
            if let Some(w) = s.child("Склад")
                && let (Some(id), Some(q)) = (w.text_of("Ид"), opt_number(w, "Количество")?)
            {
                stock.push((id, q));
            }
        }
        let quantity = match opt_number(o, "Количество")? {
            Some(q) => Some(q),
            None => o
                .list("Остатки", "Остаток")
                .find_map(|s| s.text_of("Количество"))
                .map(|t| number("Количество", &t))
                .transpose()?,
        };
        offers.push(Offer {
            id,
            product_id,
            characteristic_id,
            name: o.text_of("Наименование"),
            article: o.text_of("Артикул"),
            prices,
            quantity,
            stock,
            deleted: o.text_of("Статус").is_some_and(|s| s == "Удален")
                || is_true(o.text_of("ПометкаУдаления").as_deref()),
        });
    }
    Ok(OfferPackage {
        id: p.text_of("Ид").unwrap_or_default(),
        catalog_id: p.text_of("ИдКаталога"),
        only_changes: is_true(p.attr("СодержитТолькоИзменения"))
            || is_true(p.text_of("СодержитТолькоИзменения").as_deref()),
        price_types,
        warehouses,
        offers,
    })
}

fn taxes(node: &Node) -> Result<Vec<Tax>, CmlError> {
    node.list("Налоги", "Налог")
        .map(|t| {
            Ok(Tax {
                name: t.text_of("Наименование").unwrap_or_default(),
                included: is_true(t.text_of("УчтеноВСумме").as_deref()),
                amount: opt_number(t, "Сумма")?,
                rate: t.text_of("Ставка"),
            })
        })
        .collect()
}

fn counterparty(c: &Node) -> Counterparty {
    let address = ["АдресРегистрации", "Адрес", "ЮридическийАдрес"]
        .iter()
        .find_map(|a| c.child(a).and_then(|n| n.text_of("Представление")));
    let accounts = c
        .list("РасчетныеСчета", "РасчетныйСчет")
        .map(|a| {
            let bank = a.child("Банк");
            CounterpartyAccount {
                number: a.text_of("НомерСчета"),
                bank_name: bank.and_then(|b| b.text_of("Наименование")),
                bik: bank.and_then(|b| b.text_of("БИК")),
                correspondent: bank.and_then(|b| b.text_of("СчетКорреспондентский")),
            }
        })
        .filter(|a| a != &CounterpartyAccount::default())
        .collect();
    Counterparty {
        id: c.text_of("Ид"),
        name: c.text_of("Наименование"),
        full_name: c
            .text_of("ПолноеНаименование")
            .or_else(|| c.text_of("ОфициальноеНаименование")),
        inn: c.text_of("ИНН"),
        kpp: c.text_of("КПП"),
        role: c.text_of("Роль"),
        address,
        accounts,
    }
}

fn document(d: &Node) -> Result<Document, CmlError> {
    let counterparties = d
        .list("Контрагенты", "Контрагент")
        .map(counterparty)
        .collect();
    let mut lines = Vec::new();
    for t in d.list("Товары", "Товар") {
        let reqs = requisites(t);
        let kind = reqs
            .iter()
            .find(|(k, _)| k == "ТипНоменклатуры" || k == "ВидНоменклатуры")
            .map(|(_, v)| v.clone());
        let base_unit = t.child("БазоваяЕдиница");
        let unit = t.child("Единица");
        let price = match opt_number(t, "ЦенаЗаЕдиницу")? {
            Some(p) => Some(p),
            None => opt_number(t, "Цена")?,
        };
        lines.push(DocumentLine {
            id: t.text_of("Ид"),
            name: t.text_of("Наименование").unwrap_or_default(),
            article: t.text_of("Артикул"),
            unit_code: base_unit
                .and_then(|u| u.attr("Код"))
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .or_else(|| unit.and_then(|u| u.text_of("Код"))),
            unit_name: base_unit
                .map(|u| u.text.trim().to_owned())
                .filter(|n| !n.is_empty())
                .or_else(|| unit.and_then(|u| u.text_of("НаименованиеКраткое"))),
            price,
            quantity: opt_number(t, "Количество")?,
            amount: opt_number(t, "Сумма")?,
            vat: vat_of(t),
            taxes: taxes(t)?,
            kind,
        });
    }
    let reqs = requisites(d);
    Ok(Document {
        id: d.text_of("Ид").unwrap_or_default(),
        number: d.text_of("Номер"),
        number_1c: d.text_of("Номер1С"),
        date: d.text_of("Дата"),
        time: d.text_of("Время"),
        operation: d.text_of("ХозОперация"),
        role: d.text_of("Роль"),
        currency: d.text_of("Валюта"),
        total: opt_number(d, "Сумма")?,
        counterparties,
        taxes: taxes(d)?,
        lines,
        comment: d.text_of("Комментарий"),
        deleted: is_true(d.text_of("ПометкаУдаления").as_deref())
            || reqs
                .iter()
                .any(|(k, v)| k == "ПометкаУдаления" && v.eq_ignore_ascii_case("true")),
        requisites: reqs,
    })
}

// ---------------------------------------------------------------------------------------------
// VAT

/// The CRM's VAT rate for a rate 1C names, and a note when it is not the same rate.
///
/// 1C writes `20`, `20%`, `10`, `0`, `Без НДС`; files of 2004–2018 write `18` (and `18/118`
/// for prepayments). The CRM sells at today's rates: an 18 % (or 20 % after 2026) product is
/// a product taxed at the standard rate, so it gets the standard rate of `today`, with a note.
/// Rates the CRM does not know (5 %, 7 % of the simplified system) keep the CRM's default
/// (`None`) and a note.
pub fn crm_vat_rate(raw: &str, today: chrono::NaiveDate) -> (Option<VatRate>, Option<String>) {
    let t = raw.trim().trim_end_matches('%').trim().to_lowercase();
    let t = t.split('/').next().unwrap_or_default().trim().to_owned();
    match t.as_str() {
        "без ндс" | "без налога" | "none" => (Some(VatRate::None), None),
        "22" => (Some(VatRate::Standard22), None),
        "10" => (Some(VatRate::Reduced10), None),
        "0" => (Some(VatRate::Zero), None),
        "18" | "20" => {
            let standard = VatRate::standard_for(today);
            let note = (standard.percent().map(|p| p.to_string()) != Some(t.clone())).then(|| {
                format!(
                    "the standard rate {t} % of the file is today's standard rate {}",
                    standard.label()
                )
            });
            (Some(standard), note)
        }
        _ => (
            None,
            Some(format!(
                "VAT rate `{}` is not a rate the CRM knows; the default applies",
                raw.trim()
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../tests/fixtures/1c/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_catalog_reads_groups_properties_and_products() {
        let info = parse(&fixture("cml2.07_import_catalog.xml")).unwrap();
        assert_eq!(info.schema_version, "2.07");
        let c = info.classifier.unwrap();
        assert_eq!(c.id, "07cfe53d-5145-4c4e-a81c-899be39cc5bd");
        assert!(c.groups.len() > 20, "{}", c.groups.len());
        let top = c
            .groups
            .iter()
            .find(|g| g.name == "Бытовая техника")
            .unwrap();
        assert_eq!(top.parent_id, None);
        let child = c
            .groups
            .iter()
            .find(|g| g.id == "f3257ce7-9c2f-11e1-a282-0011955bd175")
            .unwrap();
        assert_eq!(child.parent_id.as_deref(), Some(top.id.as_str()));
        // Parents come before their children.
        for (i, g) in c.groups.iter().enumerate() {
            if let Some(p) = &g.parent_id {
                assert!(c.groups[..i].iter().any(|x| &x.id == p));
            }
        }
        let maker = c
            .properties
            .iter()
            .find(|p| p.name == "Производитель")
            .unwrap();
        assert_eq!(maker.value_type.as_deref(), Some("Справочник"));
        assert_eq!(maker.values.len(), 7);
        let cat = info.catalog.unwrap();
        assert!(!cat.only_changes);
        assert_eq!(cat.products.len(), 2);
        let p = &cat.products[0];
        assert_eq!(p.id, "bd72d910-55bc-11d9-848a-00112f43529a");
        assert_eq!(p.name, "Женские ботфорты коричневые");
        assert_eq!(p.article.as_deref(), Some("Б-130001"));
        assert_eq!(p.barcode.as_deref(), Some("2000018987155"));
        assert_eq!(p.unit_code.as_deref(), Some("715"));
        assert_eq!(p.group_ids, vec!["e5a4c309-a659-11dd-acee-0015e9b8c48d"]);
        assert_eq!(p.properties.len(), 4);
        assert!(
            p.requisites
                .iter()
                .any(|(k, v)| k == "ВидНоменклатуры" && v == "Обувь")
        );
        assert_eq!(p.vat, None);
        assert!(!p.deleted);
        assert_eq!(cat.products[1].article.as_deref(), Some("Б- 130005"));
    }

    #[test]
    fn the_offers_read_price_types_warehouses_prices_and_stock() {
        let info = parse(&fixture("cml2.07_offers.xml")).unwrap();
        let p = info.offers.unwrap();
        assert!(!p.only_changes);
        assert_eq!(
            p.catalog_id.as_deref(),
            Some("07cfe53d-5145-4c4e-a81c-899be39cc5bd")
        );
        assert_eq!(p.price_types.len(), 1);
        let t = &p.price_types[0];
        assert_eq!(t.name, "Розничная");
        assert_eq!(t.currency.as_deref(), Some("RUB"));
        assert_eq!(t.vat_included, Some(true));
        assert_eq!(p.warehouses.len(), 5);
        assert_eq!(p.warehouses[0].name, "Магазин \"Обувь\"");
        assert_eq!(p.offers.len(), 5);
        let o = &p.offers[0];
        assert_eq!(o.product_id, "bd72d910-55bc-11d9-848a-00112f43529a");
        assert_eq!(
            o.characteristic_id.as_deref(),
            Some("90c55447-d3a8-11e4-9423-e0cb4ed5eed4")
        );
        assert_eq!(o.prices[0].price, dec!(1719));
        assert_eq!(o.prices[0].price_type_id, t.id);
        assert_eq!(o.quantity, Some(dec!(20)));
        assert_eq!(
            o.stock,
            vec![("b6112590-41ba-11dd-ac9d-0015e9b8c48d".to_owned(), dec!(20))]
        );
        let total: Decimal = p.offers.iter().filter_map(|o| o.quantity).sum();
        assert_eq!(total, dec!(219));
    }

    #[test]
    fn the_bitrix_order_export_reads_in_windows_1251() {
        let info = parse(&fixture("cml2.03_orders_site_to_1c_cp1251.xml")).unwrap();
        assert_eq!(info.schema_version, "2.03");
        assert!(!info.documents.is_empty());
        let d = &info.documents[0];
        assert_eq!(d.operation.as_deref(), Some("Заказ товара"));
        assert!(!d.counterparties.is_empty());
        assert!(
            d.lines
                .iter()
                .any(|l| l.id.as_deref() == Some("ORDER_DELIVERY"))
        );
        let sum: Decimal = d.lines.iter().filter_map(|l| l.amount).sum();
        assert_eq!(Some(sum), d.total);
        assert_eq!(d.time.as_deref(), Some("15:40:40"));
        let buyer = &d.counterparties[0];
        assert_eq!(buyer.address.as_deref(), Some("87698"));
        assert!(buyer.accounts.is_empty());
        let delivery = &d.lines[0];
        assert_eq!(delivery.price, Some(dec!(348.00)));
        assert_eq!(delivery.unit_code.as_deref(), Some("796"));
        assert_eq!(delivery.unit_name.as_deref(), Some("шт"));
    }

    #[test]
    fn the_1c_orders_carry_vat_that_adds_up() {
        let info = parse(&fixture("cml2.09_orders_1c_to_site_with_vat.xml")).unwrap();
        assert!(!info.documents.is_empty());
        let first = &info.documents[0];
        assert_eq!(first.time.as_deref(), Some("15:39:10"));
        assert_eq!(first.lines[0].price, Some(dec!(3338)));
        assert_eq!(first.lines[0].unit_code.as_deref(), Some("796"));
        assert_eq!(first.lines[0].unit_name.as_deref(), Some("шт"));
        assert_eq!(first.lines[1].price, Some(dec!(3600)));
        assert_eq!(first.lines[1].unit_code.as_deref(), Some("715"));
        assert_eq!(first.requisite("Статуса заказа ИД"), Some("P"));
        let buyer = &first.counterparties[0];
        assert_eq!(buyer.address.as_deref(), Some("Адрес"));
        assert_eq!(buyer.inn, None);
        assert_eq!(buyer.accounts.len(), 2);
        assert_eq!(
            buyer.accounts[0],
            CounterpartyAccount {
                number: Some("89000".into()),
                bank_name: Some("ИНГ БАНК (ЕВРАЗИЯ) АО".into()),
                bik: Some("044525222".into()),
                correspondent: Some("30101810500000000222".into()),
            }
        );
        assert_eq!(buyer.accounts[1].bik.as_deref(), Some("044579555"));
        for d in &info.documents {
            for l in &d.lines {
                assert!(l.price.is_some(), "document {} line {:?}", d.id, l.id);
                assert!(l.unit_code.is_some(), "document {} line {:?}", d.id, l.id);
            }
        }
        assert!(
            info.documents
                .iter()
                .any(|d| d.number_1c.as_deref() == Some("ТДЦУ-000001"))
        );
        for d in &info.documents {
            let Some(doc_vat) = d
                .taxes
                .iter()
                .find(|t| t.name == "НДС")
                .and_then(|t| t.amount)
            else {
                continue;
            };
            let lines: Decimal = d
                .lines
                .iter()
                .flat_map(|l| l.taxes.iter())
                .filter(|t| t.name == "НДС")
                .filter_map(|t| t.amount)
                .sum();
            assert_eq!(lines, doc_vat, "document {}", d.id);
        }
        let included: Vec<bool> = info
            .documents
            .iter()
            .flat_map(|d| d.taxes.iter())
            .map(|t| t.included)
            .collect();
        assert!(included.contains(&true) && included.contains(&false));
    }

    #[test]
    fn the_sale_query_response_reads_in_windows_1251() {
        let info = parse(&fixture("cml2.05_sale_query_response_cp1251.xml")).unwrap();
        assert_eq!(info.schema_version, "2.05");
        assert!(!info.documents.is_empty());
        for d in &info.documents {
            assert!(d.number.is_some());
            assert!(!d.lines.is_empty());
            assert!(d.time.is_some());
            for l in &d.lines {
                assert!(l.price.is_some());
                assert_eq!(l.unit_name.as_deref(), Some("шт"));
            }
        }
        assert_eq!(info.documents[0].time.as_deref(), Some("18:45:21"));
        // An empty `Представление` is no address.
        assert_eq!(info.documents[0].counterparties[0].address, None);
        assert_eq!(info.documents[0].requisite("отменен"), Some("false"));
    }

    #[test]
    fn not_commerceml_and_broken_xml_are_refused() {
        assert!(matches!(parse(b"<a/>"), Err(CmlError::NotCommerceMl(_))));
        assert!(matches!(
            parse("<КоммерческаяИнформация>".as_bytes()),
            Err(CmlError::Xml(_))
        ));
        assert!(parse(b"\xff\xfe").is_err());
    }

    #[test]
    fn numbers_as_1c_writes_them() {
        assert_eq!(number("x", "1 719,50").unwrap(), dec!(1719.50));
        assert_eq!(number("x", "1719").unwrap(), dec!(1719));
        assert!(number("x", "abc").is_err());
    }

    #[test]
    fn vat_rates_map_to_the_crms() {
        let d2026 = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        assert_eq!(crm_vat_rate("20", d2026).0, Some(VatRate::Standard22));
        assert!(crm_vat_rate("18", d2026).1.is_some());
        assert_eq!(crm_vat_rate("Без НДС", d2026), (Some(VatRate::None), None));
        assert_eq!(crm_vat_rate("10%", d2026), (Some(VatRate::Reduced10), None));
        assert_eq!(crm_vat_rate("7", d2026).0, None);
        let d2025 = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
        assert_eq!(crm_vat_rate("20", d2025), (Some(VatRate::Historic20), None));
    }
}
