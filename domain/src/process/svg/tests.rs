//! The picture of every shipped template in several states: it parses as SVG, every card's
//! text lies inside the card as a real font lays it out, no two cards overlap, and it
//! rasterises to PNG (written under `target/process-map/` to be looked at).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, Utc};
use resvg::tiny_skia;
use resvg::usvg;

use super::super::tests::fixtures::*;
use super::super::*;
use super::{metrics, render};
use crate::money::Money;

const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const DEJAVU_BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// The characters the width table covers.
fn covered() -> Vec<char> {
    let mut chars: Vec<char> = (0x20u32..=0x7e)
        .chain(0xa0..=0xff)
        .chain(0x400..=0x45f)
        .filter_map(char::from_u32)
        .collect();
    chars.extend([
        '–', '—', '‘', '’', '‚', '“', '”', '„', '•', '…', '‹', '›', '€', '₽', '№', '←', '↑', '→',
        '↓', '↩', '↻', '∈', '≠', '≤', '≥', '⊕', '○', '●', '◆', '⚠', '✓', '✔', '✕',
    ]);
    chars.sort_unstable();
    chars.dedup();
    chars
}

fn widths(path: &str) -> Vec<(char, u16)> {
    let data = std::fs::read(path).unwrap_or_else(|e| {
        panic!("{path}: {e}; the map's text metrics are checked against DejaVu Sans (Debian: fonts-dejavu-core)")
    });
    let face = ttf_parser::Face::parse(&data, 0).unwrap();
    assert_eq!(face.units_per_em(), 2048);
    covered()
        .into_iter()
        .filter_map(|c| {
            let g = face.glyph_index(c)?;
            Some((c, face.glyph_hor_advance(g)?))
        })
        .collect()
}

fn table_source(name: &str, widths: &[(char, u16)]) -> String {
    let mut s = format!("pub(super) const {name}: &[(char, u16)] = &[\n");
    for chunk in widths.chunks(6) {
        s.push_str("   ");
        for (c, w) in chunk {
            s.push_str(&format!(" ('\\u{{{:x}}}', {w}),", *c as u32));
        }
        s.push('\n');
    }
    s.push_str("];\n");
    s
}

#[test]
fn the_width_table_is_dejavu_sans() {
    let regular = widths(DEJAVU);
    let bold = widths(DEJAVU_BOLD);
    if regular != metrics::REGULAR || bold != metrics::BOLD {
        let out = target_dir().join("dejavu_widths.rs");
        std::fs::create_dir_all(target_dir()).unwrap();
        std::fs::write(
            &out,
            format!(
                "{}\n{}",
                table_source("REGULAR", &regular),
                table_source("BOLD", &bold)
            ),
        )
        .unwrap();
        panic!(
            "the width table differs from the fonts; the table from the fonts is in {}",
            out.display()
        );
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
}

fn options() -> &'static usvg::Options<'static> {
    static OPTIONS: OnceLock<usvg::Options<'static>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_system_fonts();
        assert!(
            db.faces()
                .any(|f| f.families.iter().any(|(name, _)| name == "DejaVu Sans")),
            "DejaVu Sans is not installed (Debian: fonts-dejavu-core); the map asks for it"
        );
        usvg::Options {
            fontdb: Arc::new(db),
            ..usvg::Options::default()
        }
    })
}

/// The card groups of the picture: id and the card's rectangle, with the text boxes inside.
fn cards(tree: &usvg::Tree) -> Vec<(String, usvg::Rect, Vec<usvg::Rect>)> {
    fn walk(g: &usvg::Group, out: &mut Vec<(String, usvg::Rect, Vec<usvg::Rect>)>) {
        for node in g.children() {
            let usvg::Node::Group(group) = node else {
                continue;
            };
            if let Some(id) = group.id().strip_prefix("step-") {
                let mut rect = None;
                let mut texts = Vec::new();
                for child in group.children() {
                    match child {
                        usvg::Node::Path(p) if rect.is_none() => {
                            rect = Some(p.abs_bounding_box());
                        }
                        usvg::Node::Text(t) => texts.push(t.abs_bounding_box()),
                        usvg::Node::Group(inner) => {
                            // Text may come out as a group of glyph paths.
                            texts.push(inner.abs_bounding_box());
                        }
                        usvg::Node::Path(_) | usvg::Node::Image(_) => {}
                    }
                }
                out.push((
                    id.to_owned(),
                    rect.expect("a card has its rectangle"),
                    texts,
                ));
            } else {
                walk(group, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(tree.root(), &mut out);
    out
}

/// Parses, checks and rasterises the picture; writes the PNG under target/process-map/.
fn check(name: &str, def: &PublishedDefinition, state: &InstanceState, now: DateTime<Utc>) {
    let m = map(def, state, now);
    let svg = render(def, &m);
    assert_eq!(svg, render(def, &m), "{name}: the picture is deterministic");
    let tree = usvg::Tree::from_str(&svg, options()).unwrap_or_else(|e| panic!("{name}: {e}"));

    let cards = cards(&tree);
    assert_eq!(
        cards.len(),
        m.steps.len(),
        "{name}: one card per step of the map"
    );
    for (id, rect, texts) in &cards {
        assert!(!texts.is_empty(), "{name}: the card of {id} has text");
        for t in texts {
            assert!(
                t.left() >= rect.left() + 2.0
                    && t.right() <= rect.right() - 2.0
                    && t.top() >= rect.top()
                    && t.bottom() <= rect.bottom(),
                "{name}: text of {id} at {t:?} leaves its card {rect:?}"
            );
        }
    }
    for (i, (a, ra, _)) in cards.iter().enumerate() {
        for (b, rb, _) in &cards[i + 1..] {
            let apart = ra.right() <= rb.left()
                || rb.right() <= ra.left()
                || ra.bottom() <= rb.top()
                || rb.bottom() <= ra.top();
            assert!(apart, "{name}: the cards of {a} and {b} overlap");
        }
    }

    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let png = pixmap.encode_png().unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let dir = target_dir().join("process-map");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    std::fs::write(dir.join(format!("{name}.svg")), svg).unwrap();
    // Tall pictures are also cut into screen-sized pieces, to be looked at at full size.
    if pixmap.height() > TILE {
        for (i, top) in (0..pixmap.height()).step_by(TILE as usize).enumerate() {
            let h = TILE.min(pixmap.height() - top);
            let rect = tiny_skia::IntRect::from_xywh(0, top as i32, pixmap.width(), h).unwrap();
            let tile = pixmap.clone_rect(rect).unwrap();
            std::fs::write(
                dir.join(format!("{name}.part{}.png", i + 1)),
                tile.encode_png().unwrap(),
            )
            .unwrap();
        }
    }
}

const TILE: u32 = 1100;

fn driver(n: usize) -> Driver {
    Driver::new(published(
        serde_json::from_str(templates::SHIPPED[n].1).unwrap(),
    ))
}

fn fill_client_card(d: &mut Driver) {
    for f in ["company", "legal_entity", "terms"] {
        d.facts
            .fields
            .insert(f.into(), FieldValue::Text("ООО «Ромашка»".into()));
    }
}

#[test]
fn the_sale_is_drawn_in_every_phase() {
    let mut d = driver(0);
    check("sale-0-not-started", &d.def, &d.state, d.now);
    d.input(Input::Start);
    check("sale-1-started", &d.def, &d.state, d.now);

    // The head returned the terms once; the fan-out is half done and overdue.
    fill_client_card(&mut d);
    d.now += Duration::hours(3);
    d.complete("first_contact", "done");
    d.now += Duration::hours(5);
    d.complete("client_card", "done");
    d.complete("terms_agreed", "return_for_rework");
    d.complete("client_card", "done");
    d.now += Duration::hours(1);
    d.complete("terms_agreed", "approve");
    d.complete("proposal", "sent");
    d.complete("technical_check", "done");
    d.now += Duration::days(2);
    check("sale-2-fan-out-overdue", &d.def, &d.state, d.now);

    // Feedback after the presentation: the quorum of the re-approval has one vote.
    d.complete("presentation_slides", "done");
    d.complete("presentation", "feedback");
    d.complete_nth("proposal_reapproval", 0, "approve");
    check("sale-3-reapproval-quorum", &d.def, &d.state, d.now);

    // Round 2 and on to the advance.
    d.complete_nth("proposal_reapproval", 0, "approve");
    d.complete("proposal", "sent");
    d.complete("technical_check", "done");
    d.complete("presentation_slides", "done");
    d.complete("presentation", "accepted");
    d.complete("order", "done");
    check("sale-4-waiting-for-advance", &d.def, &d.state, d.now);

    d.input(Input::Entity(EntityEvent::PaymentReceived {
        payment_percent: rust_decimal::Decimal::new(50, 0),
    }));
    assert_eq!(d.state.status, InstanceStatus::Completed);
    check("sale-5-won", &d.def, &d.state, d.now);

    let mut lost = driver(0);
    lost.input(Input::Start);
    lost.complete("first_contact", "client_refuses");
    check("sale-6-client-refuses", &lost.def, &lost.state, lost.now);
}

#[test]
fn the_cold_lead_process_is_drawn() {
    let mut d = driver(1);
    d.input(Input::Start);
    d.now += Duration::hours(9);
    check("cold_lead-1-call-overdue", &d.def, &d.state, d.now);
    d.complete("call", "no_answer");
    check("cold_lead-2-pause", &d.def, &d.state, d.now);
    d.now += Duration::days(2);
    d.fire_due_timers();
    d.complete("call", "interested");
    check("cold_lead-3-qualified", &d.def, &d.state, d.now);
}

#[test]
fn the_document_approval_is_drawn() {
    for (amount, name) in [("500000.00", "medium"), ("2000000.00", "board")] {
        let mut d = driver(2);
        d.facts.fields.insert(
            "amount".into(),
            FieldValue::Money(Money::parse(amount).unwrap()),
        );
        d.facts
            .fields
            .insert("made_from_template".into(), FieldValue::Bool(false));
        d.input(Input::Start);
        check(
            &format!("document_approval-{name}-1-started"),
            &d.def,
            &d.state,
            d.now,
        );
        d.complete("plan_check", "approve");
        d.complete("lawyer_review", "approve");
        check(
            &format!("document_approval-{name}-2-route"),
            &d.def,
            &d.state,
            d.now,
        );
        if name == "board" {
            d.complete_nth("board_approval", 0, "approve");
            d.complete_nth("board_approval", 0, "return_for_rework");
            check(
                "document_approval-board-3-returned",
                &d.def,
                &d.state,
                d.now,
            );
        }
    }
}

#[test]
fn the_vacation_chain_is_drawn() {
    let mut d = driver(3);
    d.input(Input::Start);
    let key = d.open_keys("application")[0].clone();
    let mut c = d.completion(key, "done");
    c.documents = vec!["vacation_application".into()];
    d.input(Input::TaskCompleted(c.clone()));
    d.complete("supervisor_approval", "other_dates");
    check("vacation_approval-1-other-dates", &d.def, &d.state, d.now);
    let key = d.open_keys("application")[0].clone();
    c.task = key;
    d.input(Input::TaskCompleted(c));
    d.complete("supervisor_approval", "approve");
    d.complete("vacation_pay", "done");
    check("vacation_approval-2-paperwork", &d.def, &d.state, d.now);
}

#[test]
fn titles_are_escaped_wrapped_and_kept_inside() {
    let long = "Очень длинное название шага, которое никак не помещается в одну строку карточки \
                и переносится: «Согласовать & подписать <договор> \"как есть\"» — \
                Сверхдлинноесловобезпробеловкотороеприходитсяразрезатьпосимвольно";
    let def = published(deal(serde_json::json!([
        { "id": "a", "kind": "task", "title": long, "assignees": [{ "type": "responsible" }] },
        { "id": "b", "kind": "parallel", "title": "Ветки <&>", "join": { "type": "n", "n": 1 },
          "branches": [
            { "title": long, "steps": [{ "id": "b1", "kind": "task", "assignees": [{ "type": "responsible" }] }] },
            { "steps": [{ "id": "b2", "kind": "action", "action": { "type": "notify", "to": { "type": "responsible" }, "text": long } }] }
          ] },
        { "id": "c", "kind": "end", "result": "completed" }
    ])));
    let mut d = Driver::new(def);
    d.input(Input::Start);
    let svg = render(&d.def, &map(&d.def, &d.state, d.now));
    assert!(svg.contains("&lt;договор&gt;"));
    assert!(svg.contains("&amp;"));
    assert!(!svg.contains("<договор>"));
    check("escaping", &d.def, &d.state, d.now);
}
