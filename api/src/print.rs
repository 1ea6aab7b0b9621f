//! The printed form of a customer invoice ("Счёт на оплату", DOC-3): one content model,
//! filled once from the stored records, and two renderings of it — HTML for the browser and
//! PDF for mail and archives. Keeping the content in one place means the two can never
//! disagree on a figure.

use std::sync::LazyLock;

use printpdf::{
    Color, Line, LinePoint, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions,
    Point, Pt, Rgb, TextItem,
};

/// The seller's bank details block at the top of the form.
#[derive(Debug, Clone)]
pub struct BankBlock {
    pub bank_name: String,
    pub bik: String,
    pub account: String,
    pub correspondent_account: String,
    /// "ИНН 7701234567 КПП 770101001".
    pub seller_ids: String,
    pub seller_name: String,
}

/// One line of the goods table, already formatted.
#[derive(Debug, Clone)]
pub struct PrintedLine {
    pub name: String,
    /// `4`, `120,5`: no trailing zeros, a decimal comma.
    pub quantity: String,
    pub unit: String,
    /// `12 500,00`.
    pub price: String,
    /// `22 %`, `Без НДС`.
    pub vat: String,
    /// The «Сумма» column: price × quantity less the discount — the net when VAT is charged on
    /// top, the gross when the price includes it.
    pub amount: String,
}

/// Everything the form shows, as text. Built from the records by the invoices module.
#[derive(Debug, Clone)]
pub struct PrintedInvoice {
    /// The number as shown, or a draft marker.
    pub number: String,
    /// "20.11.2026".
    pub date: String,
    pub void: bool,
    pub bank: Option<BankBlock>,
    /// "ООО «Ромашка», ИНН …, КПП …, address".
    pub supplier: String,
    /// "ТСЖ «Берёзка», ИНН …, КПП …, address".
    pub buyer: Option<String>,
    /// "27.11.2026".
    pub due_date: Option<String>,
    pub lines: Vec<PrintedLine>,
    /// The rows under the table before «Всего к оплате»: («Итого:», "50 000,00"),
    /// («НДС 22 %:», "11 000,00") or («В том числе НДС 22 %:», …), («Без НДС:», "—").
    pub totals: Vec<(String, String)>,
    /// `61 000,00`.
    pub total: String,
    /// `руб.`, or the currency code for other currencies.
    pub currency: String,
    /// The total in words, capitalised.
    pub total_in_words: String,
    pub comment: Option<String>,
    pub director: String,
    pub chief_accountant: String,
}

/// The figures of one stored line the totals are made of (kopecks).
#[derive(Debug, Clone, Copy)]
pub struct LineFigures {
    /// `None` for "без НДС".
    pub vat_percent: Option<u32>,
    pub vat_included: bool,
    /// Price × quantity less the discount: the «Сумма» column.
    pub amount_minor: i64,
    pub vat_minor: i64,
}

/// The rows under the goods table as a Russian accountant reads them: «Итого» (the sum of the
/// «Сумма» column), then per rate «НДС 22 %» when VAT is charged on top of it, «В том числе НДС
/// 22 %» when the prices include it, «Без НДС» for lines outside VAT.
pub fn totals_rows(lines: &[LineFigures]) -> Vec<(String, String)> {
    let mut rows = vec![(
        "Итого:".to_owned(),
        money_ru(lines.iter().map(|l| l.amount_minor).sum()),
    )];
    // Rates from the highest down, on-top before included, without-VAT last.
    let mut groups: Vec<(Option<u32>, bool)> = lines
        .iter()
        .map(|l| (l.vat_percent, l.vat_included))
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse((g.0.is_some(), g.0, !g.1)));
    groups.dedup();
    for (percent, included) in groups {
        let vat: i64 = lines
            .iter()
            .filter(|l| l.vat_percent == percent && l.vat_included == included)
            .map(|l| l.vat_minor)
            .sum();
        match percent {
            None => rows.push(("Без НДС:".to_owned(), "—".to_owned())),
            Some(p) if included => {
                rows.push((format!("В том числе НДС {p} %:"), money_ru(vat)));
            }
            Some(p) => rows.push((format!("НДС {p} %:"), money_ru(vat))),
        }
    }
    rows
}

/// Kopecks as a Russian document prints money: `12 500,00`, `-3,50`.
pub fn money_ru(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{},{:02}", group_thousands(abs / 100), abs % 100)
}

/// Thousandths as a quantity prints: `4`, `120,5`, `0,125` — no trailing zeros.
pub fn quantity_ru(thousandths: i64) -> String {
    let sign = if thousandths < 0 { "-" } else { "" };
    let abs = thousandths.unsigned_abs();
    let whole = group_thousands(abs / 1000);
    let fraction = format!("{:03}", abs % 1000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole},{fraction}")
    }
}

/// `руб.` for roubles, else the ISO code.
pub fn currency_ru(code: &str) -> String {
    if code == "RUB" {
        "руб.".to_owned()
    } else {
        code.to_owned()
    }
}

/// `12500` → `12 500`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl PrintedInvoice {
    pub fn title(&self) -> String {
        format!("Счёт на оплату № {} от {}", self.number, self.date)
    }

    fn summary(&self) -> String {
        format!(
            "Всего наименований {}, на сумму {} {}",
            self.lines.len(),
            self.total,
            self.currency
        )
    }

    /// `Content-Disposition` for the rendered form: `invoice-<number>.<extension>`, with an
    /// ASCII fallback (anything but letters, digits, `-` and `_` replaced) and the exact
    /// number in the RFC 6266 / 8187 `filename*` form.
    pub fn content_disposition(&self, extension: &str) -> String {
        let name = format!("invoice-{}.{extension}", self.number);
        let ascii: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut encoded = String::new();
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
    }

    /// The HTML form. Every stored string is escaped.
    pub fn to_html(&self) -> String {
        let e = escape_html;
        let mut html = String::new();
        html.push_str("<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\">");
        html.push_str(&format!("<title>{}</title>", e(&self.title())));
        html.push_str(
            "<style>body{font-family:sans-serif;font-size:12px}table{border-collapse:collapse;width:100%}\
             td,th{border:1px solid #000;padding:3px}.r{text-align:right;white-space:nowrap}\
             table.totals td{border:none}</style></head><body>",
        );
        if let Some(b) = &self.bank {
            html.push_str(&format!(
                "<table class=\"bank\"><tr><td>{}<br>Банк получателя</td><td>БИК</td><td>{}</td></tr>\
                 <tr><td rowspan=\"2\">{}<br>{}<br>Получатель</td><td>Сч. №</td><td>{}</td></tr>\
                 <tr><td>Корр. сч.</td><td>{}</td></tr></table>",
                e(&b.bank_name),
                e(&b.bik),
                e(&b.seller_ids),
                e(&b.seller_name),
                e(&b.account),
                e(&b.correspondent_account),
            ));
        }
        html.push_str(&format!("<h1>{}</h1>", e(&self.title())));
        if self.void {
            html.push_str("<p class=\"void\"><strong>АННУЛИРОВАН</strong></p>");
        }
        html.push_str(&format!("<p>Поставщик: {}</p>", e(&self.supplier)));
        if let Some(b) = &self.buyer {
            html.push_str(&format!("<p>Покупатель: {}</p>", e(b)));
        }
        if let Some(d) = &self.due_date {
            html.push_str(&format!("<p>Оплатить до {}</p>", e(d)));
        }
        html.push_str(
            "<table class=\"lines\"><tr><th>№</th><th>Товары (работы, услуги)</th><th>Кол-во</th>\
             <th>Ед.</th><th>Цена</th><th>НДС</th><th>Сумма</th></tr>",
        );
        for (n, l) in self.lines.iter().enumerate() {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"r\">{}</td><td>{}</td><td class=\"r\">{}</td>\
                 <td>{}</td><td class=\"r\">{}</td></tr>",
                n + 1,
                e(&l.name),
                e(&l.quantity),
                e(&l.unit),
                e(&l.price),
                e(&l.vat),
                e(&l.amount)
            ));
        }
        html.push_str("</table><table class=\"totals\">");
        for (label, amount) in &self.totals {
            html.push_str(&format!(
                "<tr><td class=\"r\" style=\"width:85%\">{}</td><td class=\"r\">{}</td></tr>",
                e(label),
                e(amount)
            ));
        }
        html.push_str(&format!(
            "<tr><td class=\"r\"><strong>Всего к оплате:</strong></td><td class=\"r\"><strong>{}</strong></td></tr></table>",
            e(&self.total)
        ));
        html.push_str(&format!(
            "<p>{}</p><p class=\"words\"><strong>{}</strong></p>",
            e(&self.summary()),
            e(&self.total_in_words)
        ));
        if let Some(c) = &self.comment {
            html.push_str(&format!("<p>{}</p>", e(c)));
        }
        html.push_str(&format!(
            "<p>Руководитель ____________ {}</p><p>Бухгалтер ____________ {}</p></body></html>",
            e(&self.director),
            e(&self.chief_accountant)
        ));
        html
    }

    /// The PDF form: A4 portrait, the goods table continuing over as many pages as it needs
    /// (its header repeated on each). `None` only if the bundled fonts cannot be read.
    pub fn to_pdf(&self) -> Option<Vec<u8>> {
        let fonts = FONTS.as_ref()?;
        let mut doc = PdfDocument::new(&self.title());
        let regular = PdfFontHandle::External(doc.add_font(&fonts.regular));
        let bold = PdfFontHandle::External(doc.add_font(&fonts.bold));
        let mut sheet = Sheet {
            fonts,
            regular,
            bold,
            pages: Vec::new(),
            ops: Vec::new(),
            y: TOP,
        };
        sheet.lay_out(self);
        let pages = sheet.finish();
        let mut warnings = Vec::new();
        Some(
            doc.with_pages(pages)
                .save(&PdfSaveOptions::default(), &mut warnings),
        )
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// PDF layout

/// DejaVu Sans cut down to Latin, Cyrillic and the punctuation of business documents (see
/// `scripts/subset-fonts.sh`): the PDF writer embeds a font whole, and the cut keeps an
/// invoice at tens of kilobytes. Characters outside it print as the font's empty box.
static REGULAR_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

struct Fonts {
    regular: ParsedFont,
    bold: ParsedFont,
}

static FONTS: LazyLock<Option<Fonts>> = LazyLock::new(|| {
    let mut warnings = Vec::new();
    Some(Fonts {
        regular: ParsedFont::from_bytes(REGULAR_TTF, 0, &mut warnings)?,
        bold: ParsedFont::from_bytes(BOLD_TTF, 0, &mut warnings)?,
    })
});

const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const LEFT: f32 = 42.0;
const RIGHT: f32 = PAGE_WIDTH - 42.0;
const TOP: f32 = PAGE_HEIGHT - 42.0;
const BOTTOM: f32 = 48.0;
const BODY: f32 = 9.0;
const SMALL: f32 = 8.0;
const PAD: f32 = 3.0;

/// Goods table columns: (header, width in points, right-aligned).
const COLUMNS: [(&str, f32, bool); 7] = [
    ("№", 22.0, true),
    ("Товары (работы, услуги)", 201.28, false),
    ("Кол-во", 48.0, true),
    ("Ед.", 36.0, false),
    ("Цена", 68.0, true),
    ("НДС", 68.0, false),
    ("Сумма", 68.0, true),
];

/// A cursor over the pages being drawn; `y` is the baseline area's top, falling as content is
/// added.
struct Sheet<'f> {
    fonts: &'f Fonts,
    regular: PdfFontHandle,
    bold: PdfFontHandle,
    pages: Vec<PdfPage>,
    ops: Vec<Op>,
    y: f32,
}

impl Sheet<'_> {
    fn lay_out(&mut self, inv: &PrintedInvoice) {
        if let Some(b) = &inv.bank {
            self.bank_block(b);
        }
        self.y -= 10.0;
        self.paragraph(&inv.title(), 13.0, true);
        if inv.void {
            self.paragraph("АННУЛИРОВАН", 13.0, true);
        }
        self.rule(1.2);
        self.y -= 6.0;
        self.labelled("Поставщик:", &inv.supplier);
        if let Some(b) = &inv.buyer {
            self.labelled("Покупатель:", b);
        }
        if let Some(d) = &inv.due_date {
            self.labelled("Оплатить до:", d);
        }
        self.y -= 6.0;
        self.goods_table(&inv.lines);
        self.y -= 4.0;
        for (label, amount) in &inv.totals {
            self.total_row(label, amount, false);
        }
        self.total_row("Всего к оплате:", &inv.total, true);
        self.y -= 6.0;
        self.paragraph(&inv.summary(), BODY, false);
        self.paragraph(&inv.total_in_words, BODY, true);
        if let Some(c) = &inv.comment {
            self.y -= 4.0;
            self.paragraph(c, BODY, false);
        }
        self.rule(1.2);
        self.y -= 24.0;
        self.need(2.0 * 20.0);
        let half = (LEFT + RIGHT) / 2.0;
        self.signature(LEFT, half - 12.0, "Руководитель", &inv.director);
        self.signature(half, RIGHT, "Бухгалтер", &inv.chief_accountant);
    }

    /// "Руководитель ______ Иванов И. И.": the label, a line to sign on, the name beneath.
    fn signature(&mut self, from: f32, to: f32, label: &str, name: &str) {
        let line_from = from + self.width(label, BODY, true) + 6.0;
        self.text(from, self.y, BODY, true, label);
        self.hline(line_from, to, self.y - 2.0, 0.5);
        self.fitted(
            line_from + 4.0,
            self.y - 12.0,
            to - line_from - 4.0,
            SMALL,
            name,
        );
    }

    fn bank_block(&mut self, b: &BankBlock) {
        // Two rows as on the usual form: bank | БИК / account, seller | Сч. № / account.
        let label_x = LEFT + 300.0;
        let value_x = label_x + 50.0;
        let row = 30.0;
        let top = self.y;
        let bottom = top - 2.0 * row;
        self.frame(LEFT, bottom, RIGHT, top);
        self.hline(LEFT, RIGHT, top - row, 0.5);
        self.vline(label_x, bottom, top, 0.5);
        self.vline(value_x, bottom, top, 0.5);
        let width = label_x - LEFT - 2.0 * PAD;
        self.fitted(LEFT + PAD, top - 10.0, width, SMALL, &b.bank_name);
        self.text(LEFT + PAD, top - row + 4.0, 7.0, false, "Банк получателя");
        self.text(label_x + PAD, top - 10.0, SMALL, false, "БИК");
        self.text(value_x + PAD, top - 10.0, SMALL, false, &b.bik);
        self.text(label_x + PAD, top - 22.0, SMALL, false, "Корр. сч.");
        self.text(
            value_x + PAD,
            top - 22.0,
            SMALL,
            false,
            &b.correspondent_account,
        );
        self.fitted(LEFT + PAD, top - row - 10.0, width, SMALL, &b.seller_ids);
        self.fitted(LEFT + PAD, top - row - 19.0, width, SMALL, &b.seller_name);
        self.text(LEFT + PAD, bottom + 4.0, 7.0, false, "Получатель");
        self.text(label_x + PAD, top - row - 10.0, SMALL, false, "Сч. №");
        self.text(value_x + PAD, top - row - 10.0, SMALL, false, &b.account);
        self.y = bottom - 4.0;
    }

    fn labelled(&mut self, label: &str, value: &str) {
        let indent = 72.0;
        let lines = self.wrap(value, RIGHT - LEFT - indent, BODY, true);
        self.need(lines.len() as f32 * line_height(BODY));
        self.text(LEFT, self.y - BODY, BODY, false, label);
        for l in lines {
            self.text(LEFT + indent, self.y - BODY, BODY, true, &l);
            self.y -= line_height(BODY);
        }
        self.y -= 2.0;
    }

    fn paragraph(&mut self, text: &str, size: f32, bold: bool) {
        for l in self.wrap(text, RIGHT - LEFT, size, bold) {
            self.need(line_height(size));
            self.text(LEFT, self.y - size, size, bold, &l);
            self.y -= line_height(size);
        }
    }

    fn total_row(&mut self, label: &str, amount: &str, bold: bool) {
        self.need(line_height(BODY));
        let amount_width = self.width(amount, BODY, bold);
        let label_width = self.width(label, BODY, bold);
        let column = RIGHT - COLUMNS[6].1;
        self.text(column - PAD - label_width, self.y - BODY, BODY, bold, label);
        self.text(
            RIGHT - PAD - amount_width,
            self.y - BODY,
            BODY,
            bold,
            amount,
        );
        self.y -= line_height(BODY);
    }

    fn goods_table(&mut self, lines: &[PrintedLine]) {
        self.table_header();
        for (n, l) in lines.iter().enumerate() {
            let number = (n + 1).to_string();
            let cells = [
                number.as_str(),
                l.name.as_str(),
                l.quantity.as_str(),
                l.unit.as_str(),
                l.price.as_str(),
                l.vat.as_str(),
                l.amount.as_str(),
            ];
            let wrapped: Vec<Vec<String>> = cells
                .iter()
                .zip(COLUMNS)
                .map(|(c, (_, w, _))| self.wrap(c, w - 2.0 * PAD, SMALL, false))
                .collect();
            let height = wrapped.iter().map(Vec::len).max().unwrap_or(1) as f32
                * line_height(SMALL)
                + 2.0 * PAD;
            if self.y - height < BOTTOM {
                self.new_page();
                self.table_header();
            }
            self.cells(&wrapped, height, false);
        }
    }

    fn table_header(&mut self) {
        let wrapped: Vec<Vec<String>> = COLUMNS
            .iter()
            .map(|(h, w, _)| self.wrap(h, w - 2.0 * PAD, SMALL, true))
            .collect();
        let height =
            wrapped.iter().map(Vec::len).max().unwrap_or(1) as f32 * line_height(SMALL) + 2.0 * PAD;
        self.need(height + line_height(SMALL) + 2.0 * PAD);
        self.cells(&wrapped, height, true);
    }

    /// One table row of `height` whose cells hold the given wrapped lines.
    fn cells(&mut self, wrapped: &[Vec<String>], height: f32, bold: bool) {
        let top = self.y;
        let bottom = top - height;
        self.frame(LEFT, bottom, RIGHT, top);
        let mut x = LEFT;
        for (lines, (_, w, right)) in wrapped.iter().zip(COLUMNS) {
            if x > LEFT {
                self.vline(x, bottom, top, 0.5);
            }
            let mut baseline = top - PAD - SMALL;
            for l in lines {
                let tx = if right && !bold {
                    x + w - PAD - self.width(l, SMALL, bold)
                } else {
                    x + PAD
                };
                self.text(tx, baseline, SMALL, bold, l);
                baseline -= line_height(SMALL);
            }
            x += w;
        }
        self.y = bottom;
    }

    /// Starts a new page unless `height` more points fit on this one.
    fn need(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.new_page();
        }
    }

    fn new_page(&mut self) {
        let ops = std::mem::take(&mut self.ops);
        self.pages.push(page(ops));
        self.y = TOP;
    }

    fn finish(mut self) -> Vec<PdfPage> {
        let ops = std::mem::take(&mut self.ops);
        self.pages.push(page(ops));
        let count = self.pages.len();
        if count > 1 {
            // Page numbers, now that the count is known.
            for (n, p) in self.pages.iter_mut().enumerate() {
                let label = format!("Страница {} из {}", n + 1, count);
                let width = text_width(&self.fonts.regular, &label, 7.0);
                p.ops.extend(text_ops(
                    &self.regular,
                    RIGHT - width,
                    BOTTOM - 20.0,
                    7.0,
                    &label,
                ));
            }
        }
        self.pages
    }

    fn font(&self, bold: bool) -> (&ParsedFont, &PdfFontHandle) {
        if bold {
            (&self.fonts.bold, &self.bold)
        } else {
            (&self.fonts.regular, &self.regular)
        }
    }

    fn width(&self, s: &str, size: f32, bold: bool) -> f32 {
        text_width(self.font(bold).0, s, size)
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, s: &str) {
        let ops = text_ops(self.font(bold).1, x, y, size, s);
        self.ops.extend(ops);
    }

    /// One line of text cut with an ellipsis to fit `width` (bank names and signatures).
    fn fitted(&mut self, x: f32, y: f32, width: f32, size: f32, s: &str) {
        let mut shown: String = s.to_owned();
        if self.width(&shown, size, false) > width {
            let mut chars: Vec<char> = s.chars().collect();
            while !chars.is_empty() && self.width(&shown, size, false) > width {
                chars.pop();
                shown = chars.iter().collect::<String>() + "…";
            }
        }
        self.text(x, y, size, false, &shown);
    }

    /// Splits `text` into lines no wider than `width`: at spaces where it can, inside a word
    /// where one word alone is too wide. Explicit line breaks are kept.
    fn wrap(&self, text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
        let mut out = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, bold) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    out.push(std::mem::take(&mut line));
                }
                // The word alone: break it by characters if it is still too wide.
                for c in word.chars() {
                    let mut next = line.clone();
                    next.push(c);
                    if !line.is_empty() && self.width(&next, size, bold) > width {
                        out.push(std::mem::take(&mut line));
                        line.push(c);
                    } else {
                        line = next;
                    }
                }
            }
            out.push(line);
        }
        out
    }

    fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness: f32) {
        self.stroke(vec![(x1, y), (x2, y)], thickness, false);
    }

    fn vline(&mut self, x: f32, y1: f32, y2: f32, thickness: f32) {
        self.stroke(vec![(x, y1), (x, y2)], thickness, false);
    }

    fn rule(&mut self, thickness: f32) {
        let y = self.y;
        self.hline(LEFT, RIGHT, y, thickness);
    }

    fn frame(&mut self, x1: f32, y1: f32, x2: f32, y2: f32) {
        self.stroke(vec![(x1, y1), (x2, y1), (x2, y2), (x1, y2)], 0.7, true);
    }

    fn stroke(&mut self, points: Vec<(f32, f32)>, thickness: f32, closed: bool) {
        self.ops.push(Op::SetOutlineThickness { pt: Pt(thickness) });
        self.ops.push(Op::DrawLine {
            line: Line {
                points: points
                    .into_iter()
                    .map(|(x, y)| LinePoint {
                        p: Point { x: Pt(x), y: Pt(y) },
                        bezier: false,
                    })
                    .collect(),
                is_closed: closed,
            },
        });
    }
}

fn page(mut ops: Vec<Op>) -> PdfPage {
    let black = Color::Rgb(Rgb {
        r: 0.0,
        g: 0.0,
        b: 0.0,
        icc_profile: None,
    });
    ops.insert(0, Op::SetOutlineColor { col: black.clone() });
    ops.insert(0, Op::SetFillColor { col: black });
    PdfPage::new(
        printpdf::Mm::from(Pt(PAGE_WIDTH)),
        printpdf::Mm::from(Pt(PAGE_HEIGHT)),
        ops,
    )
}

fn text_ops(font: &PdfFontHandle, x: f32, y: f32, size: f32, s: &str) -> [Op; 5] {
    [
        Op::StartTextSection,
        Op::SetFont {
            font: font.clone(),
            size: Pt(size),
        },
        Op::SetTextCursor {
            pos: Point { x: Pt(x), y: Pt(y) },
        },
        Op::ShowText {
            items: vec![TextItem::Text(s.to_owned())],
        },
        Op::EndTextSection,
    ]
}

fn line_height(size: f32) -> f32 {
    size * 1.25
}

/// The advance width of `s` in points; a character the font lacks counts as a half em.
fn text_width(font: &ParsedFont, s: &str, size: f32) -> f32 {
    let per_em = f32::from(font.units_per_em.max(1));
    let units: f32 = s
        .chars()
        .map(|c| {
            font.lookup_glyph_index(c as u32)
                .and_then(|g| font.get_glyph_width(g))
                .map_or(per_em / 2.0, f32::from)
        })
        .sum();
    units / per_em * size
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(lines: usize) -> PrintedInvoice {
        PrintedInvoice {
            number: "СЧ-0001".into(),
            date: "20.11.2026".into(),
            void: false,
            bank: Some(BankBlock {
                bank_name: "ПАО Сбербанк".into(),
                bik: "044525225".into(),
                account: "40702810938000000001".into(),
                correspondent_account: "30101810400000000225".into(),
                seller_ids: "ИНН 7707083893 КПП 773601001".into(),
                seller_name: "ООО «Ромашка»".into(),
            }),
            supplier: "ООО «Ромашка», ИНН 7707083893, Москва".into(),
            buyer: Some("ТСЖ «Берёзка», ИНН 7736207543".into()),
            due_date: Some("27.11.2026".into()),
            lines: (1..=lines)
                .map(|n| PrintedLine {
                    name: format!("Монтаж видеокамеры в подъезде {n} с прокладкой кабеля по стене и настройкой записи"),
                    quantity: "1".into(),
                    unit: "шт".into(),
                    price: "100,00".into(),
                    vat: "22 %".into(),
                    amount: "100,00".into(),
                })
                .collect(),
            totals: vec![
                ("Итого:".into(), "100,00".into()),
                ("В том числе НДС 22 %:".into(), "18,03".into()),
            ],
            total: "100,00".into(),
            currency: "руб.".into(),
            total_in_words: "Сто рублей 00 копеек".into(),
            comment: None,
            director: "Иванов И. И.".into(),
            chief_accountant: "Петрова П. П.".into(),
        }
    }

    #[test]
    fn figures_print_as_a_russian_accountant_reads_them() {
        assert_eq!(money_ru(1_250_000), "12 500,00");
        assert_eq!(money_ru(12_500_050), "125 000,50");
        assert_eq!(money_ru(5), "0,05");
        assert_eq!(money_ru(100_000_000_000), "1 000 000 000,00");
        assert_eq!(money_ru(-350), "-3,50");
        assert_eq!(quantity_ru(4000), "4");
        assert_eq!(quantity_ru(120_500), "120,5");
        assert_eq!(quantity_ru(125), "0,125");
        assert_eq!(quantity_ru(2_500_000), "2 500");
        assert_eq!(currency_ru("RUB"), "руб.");
        assert_eq!(currency_ru("EUR"), "EUR");
    }

    #[test]
    fn totals_say_whether_vat_is_on_top_or_included() {
        let on_top = LineFigures {
            vat_percent: Some(22),
            vat_included: false,
            amount_minor: 5_000_000,
            vat_minor: 1_100_000,
        };
        let none = LineFigures {
            vat_percent: None,
            vat_included: false,
            amount_minor: 25_000,
            vat_minor: 0,
        };
        let included = LineFigures {
            vat_percent: Some(10),
            vat_included: true,
            amount_minor: 11_000,
            vat_minor: 1_000,
        };
        assert_eq!(
            totals_rows(&[none, on_top, included]),
            vec![
                ("Итого:".to_owned(), "50 360,00".to_owned()),
                ("НДС 22 %:".to_owned(), "11 000,00".to_owned()),
                ("В том числе НДС 10 %:".to_owned(), "10,00".to_owned()),
                ("Без НДС:".to_owned(), "—".to_owned()),
            ]
        );
    }

    #[test]
    fn the_bundled_fonts_load_and_measure_cyrillic() {
        let fonts = FONTS.as_ref().expect("bundled fonts");
        let w = text_width(&fonts.regular, "Счёт", 10.0);
        assert!(w > 15.0 && w < 30.0, "{w}");
        assert!(fonts.regular.lookup_glyph_index('№' as u32).is_some());
    }

    #[test]
    fn long_words_and_lines_wrap_within_the_width() {
        let fonts = FONTS.as_ref().expect("bundled fonts");
        let sheet = Sheet {
            fonts,
            regular: PdfFontHandle::Builtin(printpdf::BuiltinFont::Helvetica),
            bold: PdfFontHandle::Builtin(printpdf::BuiltinFont::Helvetica),
            pages: Vec::new(),
            ops: Vec::new(),
            y: TOP,
        };
        let text = "Очень-очень-длинное-слово-без-пробелов-которое-не-помещается и ещё слова";
        let lines = sheet.wrap(text, 80.0, 8.0, false);
        assert!(lines.len() > 2, "{lines:?}");
        for l in &lines {
            assert!(sheet.width(l, 8.0, false) <= 80.0, "{l}");
        }
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn characters_outside_the_font_still_give_a_pdf() {
        let mut inv = sample(1);
        inv.lines[0].name = "Камера 中文 😀 \u{200b}\t табуляция".into();
        inv.buyer = Some("ΑΒΓ «Ёлка»".into());
        let pdf = inv.to_pdf().expect("pdf");
        let doc = PdfDocument::parse(&pdf, &printpdf::PdfParseOptions::default(), &mut Vec::new())
            .expect("parses");
        let text: String = doc.extract_text().into_iter().flatten().collect();
        assert!(text.contains("Камера"), "{text}");
        assert!(text.contains("«Ёлка»"), "{text}");
    }

    #[test]
    fn a_long_invoice_flows_onto_more_pages() {
        let one = sample(3).to_pdf().expect("pdf");
        let many = sample(120).to_pdf().expect("pdf");
        assert!(one.starts_with(b"%PDF-"));
        let count = |bytes: &[u8]| {
            let doc = PdfDocument::parse(
                bytes,
                &printpdf::PdfParseOptions::default(),
                &mut Vec::new(),
            )
            .expect("parses");
            doc.pages.len()
        };
        assert_eq!(count(&one), 1);
        assert!(count(&many) >= 3, "{}", count(&many));
    }
}
