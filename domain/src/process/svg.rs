//! The process map as a picture (WF-BP-3): the same [`ProcessMap`] the JSON endpoint serves,
//! drawn on the server as SVG. The layout follows the block structure of the definition:
//! a sequence runs top to bottom, the branches of a parallel or switch step stand side by
//! side between a fork and a join, and a `goto` loops back along the right-hand margin. Each
//! step is a card coloured by its state; overdue steps get a red border and say so; the
//! transitions the instance has taken are drawn thick.
//!
//! Text is measured with the advance widths of DejaVu Sans (the picture asks for that font)
//! and wrapped to the card, which grows to hold it, so Cyrillic titles stay inside their
//! boxes. The output is a pure function of its inputs: the same map gives the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::role::Role;

use super::definition::*;
use super::engine::{Participant, StepStatus, TaskState};
use super::map::{MapStep, ProcessMap};
use super::predicate::{Op, Predicate};
use super::validate::PublishedDefinition;

mod metrics;

const FONT_FAMILY: &str = "'DejaVu Sans', Verdana, sans-serif";
const MARGIN: f64 = 24.0;
const CARD_W: f64 = 250.0;
const PAD_X: f64 = 10.0;
const PAD_Y: f64 = 7.0;
/// Between two steps of a sequence: room for the arrow.
const V_GAP: f64 = 30.0;
/// Between branch columns.
const H_GAP: f64 = 22.0;
const FRAME_PAD: f64 = 10.0;
/// From a fork's header to the tops of its branches.
const FORK_GAP: f64 = 24.0;
/// From the bottom of the tallest branch to the join.
const JOIN_GAP: f64 = 18.0;
/// A branch label to the first step under it.
const LABEL_GAP: f64 = 12.0;
/// A branch without steps (a switch's "otherwise: go on").
const EMPTY_COLUMN_W: f64 = 120.0;
/// One lane of the right-hand margin per `goto`.
const LANE_GAP: f64 = 14.0;
const MIN_WIDTH: f64 = 760.0;
/// Text is measured a little wide, so that a fallback font with slightly larger glyphs
/// still fits.
const SLACK: f64 = 1.06;

const TAKEN: &str = "#1f5fbf";
const IDLE: &str = "#b4bac1";
const BACK: &str = "#7b4fc9";
const OVERDUE: &str = "#d93025";
const INK: &str = "#202124";
const MUTED: &str = "#5f6368";

/// Draws the map of an instance of `def` as an SVG document.
pub fn render(def: &PublishedDefinition, map: &ProcessMap) -> String {
    let ctx = Ctx::new(def, map);
    let top = ctx.column(0, None, false);
    let diagram_w = top.w.max(CARD_W);
    let gotos = ctx.goto_count();
    let gutter = if gotos > 0 {
        16.0 + LANE_GAP * gotos as f64
    } else {
        0.0
    };
    let width = (MARGIN * 2.0 + diagram_w + gutter).max(MIN_WIDTH).ceil();

    let mut canvas = Canvas::default();
    let header_bottom = ctx.header(&mut canvas, width);
    let diagram_x = MARGIN + ((width - 2.0 * MARGIN - gutter) - diagram_w) / 2.0;
    let cx = diagram_x + diagram_w / 2.0;

    // Start marker, the top-level sequence, and the end marker when the sequence can run out.
    let start_y = header_bottom + 20.0;
    canvas.terminal(cx, start_y, "старт", map.started_at.is_some());
    let first_y = start_y + 14.0 + V_GAP;
    if let Some(first) = top.items.first() {
        canvas.arrow(cx, start_y + 14.0, first_y, ctx.taken("start", first.id()));
    }
    let exit = canvas.sequence(&ctx, &top.items, cx, first_y);
    let mut bottom = first_y + top.content_h();
    if let Some(exit_y) = exit {
        let end_y = exit_y + V_GAP + 14.0;
        let done = map.status == "completed";
        canvas.arrow(cx, exit_y, end_y - 14.0, done);
        canvas.terminal(cx, end_y, "конец", done);
        bottom = end_y + 14.0;
    }

    let lanes_x = diagram_x + diagram_w + 16.0;
    canvas.loops(&ctx, lanes_x);

    let height = (bottom + MARGIN).ceil();
    let mut svg = String::with_capacity(64 * 1024);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT_FAMILY}">"#,
        w = num(width),
        h = num(height),
    );
    let _ = write!(svg, "<title>{}</title>", escape(&def.definition().name));
    svg.push_str(&defs());
    let _ = write!(
        svg,
        r##"<rect x="0" y="0" width="{}" height="{}" fill="#ffffff"/>"##,
        num(width),
        num(height)
    );
    svg.push_str(&canvas.frames);
    svg.push_str(&canvas.idle);
    svg.push_str(&canvas.taken);
    svg.push_str(&canvas.cards);
    svg.push_str("</svg>");
    svg
}

// ---- what is drawn ----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Heading,
    Sub,
    Kind,
    Title,
    Detail,
    Alert,
    Label,
}

impl Style {
    fn size(self) -> f64 {
        match self {
            Style::Heading => 18.0,
            Style::Sub => 12.0,
            Style::Kind => 10.0,
            Style::Title => 13.0,
            Style::Detail | Style::Alert | Style::Label => 11.0,
        }
    }

    fn bold(self) -> bool {
        match self {
            Style::Heading | Style::Title | Style::Alert => true,
            Style::Sub | Style::Kind | Style::Detail | Style::Label => false,
        }
    }

    fn line_height(self) -> f64 {
        (self.size() * 1.38).round()
    }
}

#[derive(Debug, Clone)]
struct Line {
    text: String,
    style: Style,
    colour: &'static str,
}

/// The colours of a state.
#[derive(Debug, Clone, Copy)]
struct Paint {
    fill: &'static str,
    stroke: &'static str,
    text: &'static str,
    dashed: bool,
}

fn paint(status: StepStatus) -> Paint {
    match status {
        StepStatus::Done => Paint {
            fill: "#e6f4ea",
            stroke: "#34a853",
            text: INK,
            dashed: false,
        },
        StepStatus::Active => Paint {
            fill: "#fff4d1",
            stroke: "#e8a200",
            text: INK,
            dashed: false,
        },
        StepStatus::Waiting => Paint {
            fill: "#e3edfd",
            stroke: "#4a7bd0",
            text: INK,
            dashed: false,
        },
        StepStatus::Pending => Paint {
            fill: "#ffffff",
            stroke: "#9aa0a6",
            text: INK,
            dashed: false,
        },
        StepStatus::Skipped => Paint {
            fill: "#f3f3f3",
            stroke: "#c4c7c5",
            text: "#80868b",
            dashed: true,
        },
        StepStatus::Cancelled => Paint {
            fill: "#efe6e1",
            stroke: "#8d6e63",
            text: "#5d4037",
            dashed: true,
        },
    }
}

const LEGEND: [StepStatus; 6] = [
    StepStatus::Done,
    StepStatus::Active,
    StepStatus::Waiting,
    StepStatus::Pending,
    StepStatus::Skipped,
    StepStatus::Cancelled,
];

fn status_word(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Done => "выполнен",
        StepStatus::Active => "в работе",
        StepStatus::Waiting => "ожидает",
        StepStatus::Pending => "не начат",
        StepStatus::Skipped => "пропущен",
        StepStatus::Cancelled => "отменён",
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Card,
    /// An `end` step: a rounded pill.
    End,
}

/// One step drawn as a box of wrapped lines.
#[derive(Debug, Clone)]
struct Card {
    id: String,
    lines: Vec<Line>,
    w: f64,
    h: f64,
    status: StepStatus,
    overdue: bool,
    shape: Shape,
    tooltip: String,
}

impl Card {
    fn new(
        id: &str,
        lines: Vec<Line>,
        status: StepStatus,
        overdue: bool,
        shape: Shape,
        tooltip: String,
    ) -> Card {
        let h = PAD_Y * 2.0 + lines.iter().map(|l| l.style.line_height()).sum::<f64>();
        Card {
            id: id.to_owned(),
            lines,
            w: CARD_W,
            h,
            status,
            overdue,
            shape,
            tooltip,
        }
    }
}

/// Whether the flow can leave an item downwards.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Exit {
    Continues,
    Stops,
}

#[derive(Debug, Clone)]
enum Item {
    Step(Card, Exit),
    Fork(Fork),
}

impl Item {
    fn id(&self) -> &str {
        match self {
            Item::Step(c, _) => &c.id,
            Item::Fork(f) => &f.header.id,
        }
    }

    fn w(&self) -> f64 {
        match self {
            Item::Step(c, _) => c.w,
            Item::Fork(f) => f.w,
        }
    }

    fn h(&self) -> f64 {
        match self {
            Item::Step(c, _) => c.h,
            Item::Fork(f) => f.h,
        }
    }

    fn status(&self) -> StepStatus {
        match self {
            Item::Step(c, _) => c.status,
            Item::Fork(f) => f.header.status,
        }
    }

    fn continues(&self) -> bool {
        match self {
            Item::Step(_, exit) => *exit == Exit::Continues,
            Item::Fork(f) => f.columns.iter().any(|c| c.continues()),
        }
    }
}

/// A parallel or switch step: its header card and its branches side by side.
#[derive(Debug, Clone)]
struct Fork {
    header: Card,
    parallel: bool,
    columns: Vec<Column>,
    w: f64,
    h: f64,
}

/// A branch (or the top-level sequence): an optional label and its steps.
#[derive(Debug, Clone)]
struct Column {
    label: Vec<Line>,
    label_w: f64,
    items: Vec<Item>,
    w: f64,
    /// The fork entered this branch.
    taken_in: bool,
}

impl Column {
    fn label_h(&self) -> f64 {
        if self.label.is_empty() {
            0.0
        } else {
            label_height(&self.label) + LABEL_GAP
        }
    }

    /// The height of the steps with the arrows between them.
    fn content_h(&self) -> f64 {
        let n = self.items.len();
        self.items.iter().map(Item::h).sum::<f64>() + V_GAP * n.saturating_sub(1) as f64
    }

    fn h(&self) -> f64 {
        self.label_h() + self.content_h()
    }

    fn continues(&self) -> bool {
        self.items.last().is_none_or(Item::continues)
    }

    /// The flow left this branch for the join.
    fn taken_out(&self) -> bool {
        self.continues()
            && match self.items.last() {
                None => self.taken_in,
                Some(item) => item.status() == StepStatus::Done,
            }
    }
}

fn label_height(lines: &[Line]) -> f64 {
    lines.iter().map(|l| l.style.line_height()).sum::<f64>() + 6.0
}

// ---- from the definition tree to the layout ----------------------------------------------

struct Ctx<'a> {
    def: &'a PublishedDefinition,
    map: &'a ProcessMap,
    steps: BTreeMap<&'a str, &'a MapStep>,
    /// How often each transition was taken, over all rounds.
    edges: BTreeMap<(&'a str, &'a str), usize>,
}

impl<'a> Ctx<'a> {
    fn new(def: &'a PublishedDefinition, map: &'a ProcessMap) -> Ctx<'a> {
        let steps = map.steps.iter().map(|s| (s.id.as_str(), s)).collect();
        let mut edges = BTreeMap::new();
        for e in &map.edges {
            *edges.entry((e.from.as_str(), e.to.as_str())).or_insert(0) += 1;
        }
        Ctx {
            def,
            map,
            steps,
            edges,
        }
    }

    fn taken(&self, from: &str, to: &str) -> bool {
        self.edges.contains_key(&(from, to))
    }

    fn status(&self, id: &str) -> StepStatus {
        self.steps.get(id).map_or(StepStatus::Pending, |s| s.status)
    }

    fn goto_count(&self) -> usize {
        self.def
            .nodes
            .iter()
            .filter(|n| matches!(n.step.body, StepBody::Goto(_)))
            .count()
    }

    fn title_of(&self, id: &str) -> String {
        match self.def.step(id) {
            Some(step) => step
                .title
                .clone()
                .unwrap_or_else(|| self.default_title(step)),
            None => id.to_owned(),
        }
    }

    /// A title for a step the definition left untitled, from what it does.
    fn default_title(&self, step: &Step) -> String {
        match &step.body {
            StepBody::Task(t) => format!("Задача: {}", assignees_text(&t.assignees)),
            StepBody::Parallel(_) => "Параллельные ветви".into(),
            StepBody::Switch(_) => "Выбор ветви".into(),
            StepBody::Wait(w) => format!("Ждать {}", wait_text(&w.until)),
            StepBody::Goto(g) => format!("↩ Вернуться к «{}»", self.title_of(&g.target)),
            StepBody::End(e) => match e.result {
                EndResult::Completed => "Процесс завершён".into(),
                EndResult::Cancelled => "Процесс отменён".into(),
            },
            StepBody::Action(a) => action_text(&a.action).0,
        }
    }

    /// The label of an outcome of a step, as its task offers it.
    fn outcome_label(&self, step: &str, outcome: &str) -> String {
        if let Some(Step {
            body: StepBody::Task(t),
            ..
        }) = self.def.step(step)
            && let Some(o) = t.offered_outcomes().iter().find(|o| o.id == outcome)
        {
            return o.label.clone().unwrap_or_else(|| outcome_word(outcome));
        }
        outcome_word(outcome)
    }

    fn column(&self, block: usize, label: Option<String>, taken_in: bool) -> Column {
        let items: Vec<Item> = self.def.blocks[block]
            .nodes
            .iter()
            .map(|&n| self.item(n))
            .collect();
        self.finish_column(items, label, taken_in)
    }

    fn finish_column(&self, items: Vec<Item>, label: Option<String>, taken_in: bool) -> Column {
        let inner = items.iter().map(Item::w).fold(
            if items.is_empty() {
                EMPTY_COLUMN_W
            } else {
                0.0
            },
            f64::max,
        );
        let (label, label_w) = match label {
            None => (Vec::new(), 0.0),
            Some(text) => {
                let mut lines = Vec::new();
                wrap_into(
                    &mut lines,
                    &text,
                    Style::Label,
                    INK,
                    inner.max(CARD_W) - 16.0,
                );
                let w = lines
                    .iter()
                    .map(|l| text_width(&l.text, l.style))
                    .fold(0.0, f64::max)
                    + 16.0;
                (lines, w)
            }
        };
        Column {
            w: inner.max(label_w),
            label,
            label_w,
            items,
            taken_in,
        }
    }

    fn item(&self, n: usize) -> Item {
        let node = &self.def.nodes[n];
        let step = &node.step;
        match &step.body {
            StepBody::Parallel(p) => {
                let header = self.card(step);
                let columns = node
                    .children
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| {
                        let label = p.branches[i]
                            .title
                            .clone()
                            .unwrap_or_else(|| format!("Ветвь {}", i + 1));
                        let taken = self.block_entered(&step.id, b);
                        self.column(b, Some(label), taken)
                    })
                    .collect();
                Item::Fork(fork(header, true, columns))
            }
            StepBody::Switch(sw) => {
                let header = self.card(step);
                let mut columns: Vec<Column> = node
                    .children
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| {
                        let label = match sw.branches.get(i) {
                            Some(case) => case
                                .title
                                .clone()
                                .unwrap_or_else(|| self.predicate_text(&case.when)),
                            None => "Иначе".into(),
                        };
                        let taken = self.block_entered(&step.id, b);
                        self.column(b, Some(label), taken)
                    })
                    .collect();
                if sw.otherwise.is_none() {
                    // No case held: the flow goes straight on; drawn as an empty branch.
                    // Judged by this round's states: an earlier round may have taken a case.
                    let any_case = columns.iter().any(|c| {
                        c.items.first().is_some_and(|i| {
                            !matches!(i.status(), StepStatus::Pending | StepStatus::Skipped)
                        })
                    });
                    let taken = self.status(&step.id) == StepStatus::Done && !any_case;
                    columns.push(self.finish_column(
                        Vec::new(),
                        Some("Иначе — дальше".into()),
                        taken,
                    ));
                }
                Item::Fork(fork(header, false, columns))
            }
            StepBody::End(_) => Item::Step(self.card(step), Exit::Stops),
            StepBody::Goto(g) => {
                let exit = if g.max_rounds.is_some() {
                    Exit::Continues
                } else {
                    Exit::Stops
                };
                Item::Step(self.card(step), exit)
            }
            StepBody::Task(_) | StepBody::Wait(_) | StepBody::Action(_) => {
                Item::Step(self.card(step), Exit::Continues)
            }
        }
    }

    /// Whether the fork entered the block: its first step has an edge from the fork.
    fn block_entered(&self, fork: &str, block: usize) -> bool {
        self.def.blocks[block]
            .nodes
            .first()
            .is_some_and(|&n| self.taken(fork, &self.def.nodes[n].step.id))
    }

    fn card(&self, step: &Step) -> Card {
        let ms = self.steps.get(step.id.as_str()).copied();
        let status = ms.map_or(StepStatus::Pending, |s| s.status);
        let overdue = ms.is_some_and(|s| s.overdue);
        let p = paint(status);
        let inner = CARD_W - 2.0 * PAD_X;
        let mut lines = Vec::new();

        // The kind, the state and the round.
        let mut kind = kind_word(&step.body);
        kind.push_str(" · ");
        kind.push_str(status_word(status));
        if let Some(s) = ms
            && s.round > 1
        {
            let _ = write!(kind, " · круг {}", s.round);
        }
        wrap_into(&mut lines, &kind, Style::Kind, MUTED, inner);

        let title = step
            .title
            .clone()
            .unwrap_or_else(|| self.default_title(step));
        wrap_into(&mut lines, &title, Style::Title, p.text, inner);

        let mut details: Vec<String> = Vec::new();
        match &step.body {
            StepBody::Task(t) => {
                let tasks = ms.map(|s| s.assignees.as_slice()).unwrap_or_default();
                if tasks.is_empty() {
                    details.push(format!("Исполнитель: {}", assignees_text(&t.assignees)));
                } else {
                    let who: Vec<String> = tasks
                        .iter()
                        .map(|task| {
                            let mark = match task.state {
                                TaskState::Open => "○",
                                TaskState::Completed => "✓",
                                TaskState::Closed => "–",
                            };
                            let mut s = format!("{mark} {}", participant_text(task.assignee));
                            if let Some(o) = &task.outcome
                                && tasks.len() > 1
                            {
                                let _ = write!(s, " ({})", self.outcome_label(&step.id, o));
                            }
                            s
                        })
                        .collect();
                    details.extend(who);
                }
                if t.assignees.len() > 1 {
                    details.push(completion_text(t.completion, t.assignees.len()));
                }
                for r in &t.requires {
                    details.push(match r {
                        Requirement::Document { document_type } => {
                            format!("Нужен документ: {}", document_word(document_type))
                        }
                        Requirement::Fields { fields } => {
                            format!("Нужны поля: {}", fields.join(", "))
                        }
                    });
                }
            }
            StepBody::Parallel(p) => {
                details.push(format!("{} ветви", p.branches.len()));
            }
            StepBody::Switch(sw) => {
                if let Some(on) = self.switch_subject(sw) {
                    details.push(on);
                }
            }
            StepBody::Wait(w) => {
                if step.title.is_some() {
                    details.push(format!("Ждать {}", wait_text(&w.until)));
                }
                if let Some(t) = w.timeout {
                    details.push(format!("Не дольше {}", span_text(t)));
                }
            }
            StepBody::Goto(g) => {
                if step.title.is_some() {
                    details.push(format!("↩ к «{}»", self.title_of(&g.target)));
                }
                if let Some(n) = g.max_rounds {
                    details.push(format!("Не больше {n} кругов, затем дальше"));
                }
            }
            StepBody::End(e) => {
                if let Some(r) = &e.reason {
                    details.push(format!("Причина: {r}"));
                }
            }
            StepBody::Action(a) => {
                let (what, more) = action_text(&a.action);
                if step.title.as_ref().is_some_and(|t| *t != what) {
                    details.push(what);
                }
                details.extend(more);
            }
        }
        if let Some(s) = ms {
            if let Some(due) = s.due_at {
                details.push(format!("Срок: {}", time_text(due)));
            }
            match (s.started_at, s.finished_at) {
                (Some(a), Some(b)) => details.push(period_text(a, b)),
                (Some(a), None) => details.push(format!("Начат {}", time_text(a))),
                (None, Some(b)) => details.push(format!("Завершён {}", time_text(b))),
                (None, None) => {}
            }
            if let Some(o) = &s.outcome
                && !matches!(step.body, StepBody::Parallel(_) | StepBody::Switch(_))
            {
                details.push(format!("Итог: {}", self.outcome_label(&step.id, o)));
            }
            if !s.cost.is_zero() {
                details.push(format!("Стоимость: {}", s.cost));
            }
        }
        for d in details {
            wrap_into(&mut lines, &d, Style::Detail, p.text, inner);
        }
        if overdue {
            wrap_into(&mut lines, "⚠ просрочено", Style::Alert, OVERDUE, inner);
        }

        let path = ms.map_or_else(
            || self.def.path_of(&step.id).unwrap_or_default().to_owned(),
            |s| s.path.clone(),
        );
        let tooltip = format!("{title}\n{} · {path}", step.id);
        let shape = match step.body {
            StepBody::End(_) => Shape::End,
            StepBody::Task(_)
            | StepBody::Parallel(_)
            | StepBody::Switch(_)
            | StepBody::Wait(_)
            | StepBody::Goto(_)
            | StepBody::Action(_) => Shape::Card,
        };
        Card::new(&step.id, lines, status, overdue, shape, tooltip)
    }

    /// "By the outcome of X" when every case of a switch asks the same step's outcome.
    fn switch_subject(&self, sw: &SwitchStep) -> Option<String> {
        let mut steps = sw.branches.iter().map(|c| match &c.when {
            Predicate::Outcome { step, .. } => Some(step.as_str()),
            Predicate::All { .. }
            | Predicate::Any { .. }
            | Predicate::Not { .. }
            | Predicate::Compare { .. }
            | Predicate::IsSet { .. } => None,
        });
        let first = steps.next()??;
        if steps.all(|s| s == Some(first)) {
            Some(format!("По итогу «{}»", self.title_of(first)))
        } else {
            None
        }
    }

    fn predicate_text(&self, p: &Predicate) -> String {
        match p {
            Predicate::All { of } => of
                .iter()
                .map(|p| self.predicate_text(p))
                .collect::<Vec<_>>()
                .join(" и "),
            Predicate::Any { of } => of
                .iter()
                .map(|p| self.predicate_text(p))
                .collect::<Vec<_>>()
                .join(" или "),
            Predicate::Not { predicate } => format!("не ({})", self.predicate_text(predicate)),
            Predicate::Compare { field, op, value } => {
                let op = match op {
                    Op::Eq => "=",
                    Op::Ne => "≠",
                    Op::Lt => "<",
                    Op::Lte => "≤",
                    Op::Gt => ">",
                    Op::Gte => "≥",
                    Op::In => "∈",
                };
                format!("{field} {op} {}", value_text(value))
            }
            Predicate::IsSet { field } => format!("{field} заполнено"),
            Predicate::Outcome { step, is } => {
                let labels: Vec<String> = is
                    .iter()
                    .map(|o| format!("«{}»", self.outcome_label(step, o)))
                    .collect();
                labels.join(" или ")
            }
        }
    }

    /// The heading, the status line, who holds the instance up and the legend; returns the
    /// bottom of what it drew.
    fn header(&self, canvas: &mut Canvas, width: f64) -> f64 {
        let inner = width - 2.0 * MARGIN;
        let mut lines = Vec::new();
        wrap_into(
            &mut lines,
            &self.def.definition().name,
            Style::Heading,
            INK,
            inner,
        );
        let mut status = format!("Процесс: {}", instance_word(self.map.status));
        if let Some(t) = self.map.started_at {
            let _ = write!(status, " · начат {}", time_text(t));
        }
        if let Some(t) = self.map.finished_at {
            let _ = write!(status, " · завершён {}", time_text(t));
        }
        let _ = write!(status, " · стоимость {}", self.map.cost);
        status.push_str(" · время UTC");
        wrap_into(&mut lines, &status, Style::Sub, MUTED, inner);
        if self.map.waiting_on.is_empty() {
            if self.map.status == "running" {
                wrap_into(
                    &mut lines,
                    "Ждём: событие или срок, не человека",
                    Style::Sub,
                    INK,
                    inner,
                );
            }
        } else {
            for w in self.map.waiting_on.iter().take(4) {
                let mut s = format!(
                    "Ждём: {} — «{}»",
                    participant_text(w.assignee),
                    self.title_of(&w.step)
                );
                if let Some(since) = w.since {
                    let _ = write!(s, ", с {}", time_text(since));
                }
                let (text, colour) = if w.overdue {
                    s.push_str(", просрочено");
                    (s, OVERDUE)
                } else {
                    (s, INK)
                };
                wrap_into(&mut lines, &text, Style::Sub, colour, inner);
            }
            if self.map.waiting_on.len() > 4 {
                let more = format!("…и ещё {}", self.map.waiting_on.len() - 4);
                wrap_into(&mut lines, &more, Style::Sub, INK, inner);
            }
        }
        let mut y = MARGIN;
        for l in &lines {
            canvas.text(MARGIN, y, l);
            y += l.style.line_height();
        }
        canvas.legend(MARGIN, y + 8.0, inner)
    }
}

fn fork(header: Card, parallel: bool, columns: Vec<Column>) -> Fork {
    let cols_w =
        columns.iter().map(|c| c.w).sum::<f64>() + H_GAP * columns.len().saturating_sub(1) as f64;
    let tallest = columns.iter().map(Column::h).fold(0.0, f64::max);
    let w = header.w.max(cols_w) + 2.0 * FRAME_PAD;
    let h = FRAME_PAD + header.h + FORK_GAP + tallest + JOIN_GAP + FRAME_PAD;
    Fork {
        header,
        parallel,
        columns,
        w,
        h,
    }
}

// ---- drawing ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// The layers of the picture, painted in this order: fork frames, idle lines, taken lines,
/// cards. Lines run behind cards, so a loop passing a card never crosses its text.
#[derive(Default)]
struct Canvas {
    frames: String,
    idle: String,
    taken: String,
    cards: String,
    placed: BTreeMap<String, Rect>,
}

impl Canvas {
    fn path(&mut self, points: &[(f64, f64)], taken: bool, arrow: bool) {
        let mut d = String::new();
        for (i, (x, y)) in points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{} {}",
                if i == 0 { "M" } else { " L" },
                num(*x),
                num(*y)
            );
        }
        let (layer, colour, width, marker) = if taken {
            (&mut self.taken, TAKEN, "2.5", "arrow-taken")
        } else {
            (&mut self.idle, IDLE, "1.4", "arrow-idle")
        };
        let _ = write!(
            layer,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width}" stroke-linejoin="round""#
        );
        if arrow {
            let _ = write!(layer, r#" marker-end="url(#{marker})""#);
        }
        layer.push_str("/>");
    }

    fn arrow(&mut self, x: f64, from_y: f64, to_y: f64, taken: bool) {
        self.path(&[(x, from_y), (x, to_y)], taken, true);
    }

    fn text(&mut self, x: f64, top: f64, line: &Line) {
        let size = line.style.size();
        let baseline = top + (line.style.line_height() - size) / 2.0 + size * 0.8;
        let _ = write!(
            self.cards,
            r#"<text x="{}" y="{}" font-size="{}" fill="{}"{}>{}</text>"#,
            num(x),
            num(baseline),
            num(size),
            line.colour,
            if line.style.bold() {
                r#" font-weight="bold""#
            } else {
                ""
            },
            escape(&line.text)
        );
    }

    fn terminal(&mut self, cx: f64, cy: f64, label: &str, reached: bool) {
        let (fill, stroke) = if reached {
            ("#e6f4ea", "#34a853")
        } else {
            ("#ffffff", "#9aa0a6")
        };
        let w = text_width(label, Style::Label) + 20.0;
        let _ = write!(
            self.cards,
            r#"<rect x="{}" y="{}" width="{}" height="28" rx="14" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>"#,
            num(cx - w / 2.0),
            num(cy - 14.0),
            num(w)
        );
        let line = Line {
            text: label.to_owned(),
            style: Style::Label,
            colour: INK,
        };
        self.text(
            cx - w / 2.0 + 10.0,
            cy - line.style.line_height() / 2.0,
            &line,
        );
    }

    fn card(&mut self, card: &Card, x: f64, y: f64) {
        let p = paint(card.status);
        let (stroke, width) = if card.overdue {
            (OVERDUE, "3")
        } else if card.status.is_open() {
            (p.stroke, "2.2")
        } else {
            (p.stroke, "1.4")
        };
        let rx = match card.shape {
            Shape::Card => 6.0,
            Shape::End => (card.h / 2.0).min(18.0),
        };
        let _ = write!(
            self.cards,
            r#"<g id="step-{}"><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" rx="{}" fill="{}" stroke="{stroke}" stroke-width="{width}"{}/>"#,
            escape(&card.id),
            escape(&card.tooltip),
            num(x),
            num(y),
            num(card.w),
            num(card.h),
            num(rx),
            p.fill,
            if p.dashed && !card.overdue {
                r#" stroke-dasharray="5 3""#
            } else {
                ""
            }
        );
        let mut ty = y + PAD_Y;
        let tx = x + PAD_X + if card.shape == Shape::End { 4.0 } else { 0.0 };
        for l in &card.lines {
            self.text(tx, ty, l);
            ty += l.style.line_height();
        }
        self.cards.push_str("</g>");
        self.placed.insert(
            card.id.clone(),
            Rect {
                x,
                y,
                w: card.w,
                h: card.h,
            },
        );
    }

    /// A sequence centred on `cx` from `y` down; returns where the flow leaves it, if it can.
    fn sequence(&mut self, ctx: &Ctx<'_>, items: &[Item], cx: f64, mut y: f64) -> Option<f64> {
        let mut exit: Option<f64> = None;
        let mut previous: Option<&Item> = None;
        for item in items {
            // A step after one that stops is reached only by a jump: no arrow into it.
            if let (Some(from), Some(prev)) = (exit, previous) {
                let taken = ctx.taken(prev.id(), item.id());
                self.arrow(cx, from, y, taken);
            }
            previous = Some(item);
            let x = cx - item.w() / 2.0;
            match item {
                Item::Step(card, _) => self.card(card, x, y),
                Item::Fork(f) => self.fork(ctx, f, x, y),
            }
            exit = item.continues().then_some(y + item.h());
            y += item.h() + V_GAP;
        }
        exit
    }

    fn fork(&mut self, ctx: &Ctx<'_>, f: &Fork, x: f64, y: f64) {
        let cx = x + f.w / 2.0;
        let _ = write!(
            self.frames,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"10\" fill=\"{}\" stroke=\"#dadce0\" stroke-dasharray=\"4 3\"/>",
            num(x),
            num(y),
            num(f.w),
            num(f.h),
            if f.parallel { "#f5f8fc" } else { "#faf8f3" }
        );
        let header_y = y + FRAME_PAD;
        self.card(&f.header, cx - f.header.w / 2.0, header_y);
        let header_bottom = header_y + f.header.h;
        let fork_y = header_bottom + FORK_GAP / 2.0;
        let cols_top = header_bottom + FORK_GAP;
        let tallest = f.columns.iter().map(Column::h).fold(0.0, f64::max);
        let join_y = cols_top + tallest + JOIN_GAP / 2.0;
        let bottom = y + f.h;

        let cols_w = f.columns.iter().map(|c| c.w).sum::<f64>()
            + H_GAP * f.columns.len().saturating_sub(1) as f64;
        let mut col_x = cx - cols_w / 2.0;
        let mut centres = Vec::new();
        for c in &f.columns {
            centres.push(col_x + c.w / 2.0);
            col_x += c.w + H_GAP;
        }
        let (Some(&first), Some(&last)) = (centres.first(), centres.last()) else {
            return;
        };

        // The fork: a bus under the header, a drop into each branch.
        let any_in = f.columns.iter().any(|c| c.taken_in);
        self.path(&[(cx, header_bottom), (cx, fork_y)], any_in, false);
        self.path(&[(first, fork_y), (last, fork_y)], false, false);
        for (c, &ccx) in f.columns.iter().zip(&centres) {
            if c.taken_in {
                self.path(&[(cx, fork_y), (ccx, fork_y)], true, false);
            }
            let label_h = c.label_h();
            let steps_top = cols_top + label_h;
            if c.items.is_empty() {
                self.path(&[(ccx, fork_y), (ccx, join_y)], c.taken_in, false);
            } else {
                self.path(&[(ccx, fork_y), (ccx, steps_top)], c.taken_in, true);
            }
            if !c.label.is_empty() {
                self.pill(&c.label, c.label_w, ccx, cols_top);
            }
            let exit = self.sequence(ctx, &c.items, ccx, steps_top);
            if let Some(exit_y) = exit
                && !c.items.is_empty()
            {
                self.path(&[(ccx, exit_y), (ccx, join_y)], c.taken_out(), false);
            }
        }

        // The join: a bar (parallel) or a merge line (switch) over the branches that reach it.
        let reaching: Vec<(f64, bool)> = f
            .columns
            .iter()
            .zip(&centres)
            .filter(|(c, _)| c.continues())
            .map(|(c, &ccx)| (ccx, c.taken_out()))
            .collect();
        let (Some(&(lo, _)), Some(&(hi, _))) = (reaching.first(), reaching.last()) else {
            return;
        };
        let lo = lo.min(cx);
        let hi = hi.max(cx);
        let joined = f.header.status == StepStatus::Done;
        if f.parallel {
            let _ = write!(
                self.idle,
                r#"<rect x="{}" y="{}" width="{}" height="6" rx="2" fill="{}"/>"#,
                num(lo - 6.0),
                num(join_y - 3.0),
                num(hi - lo + 12.0),
                match f.header.status {
                    StepStatus::Done => TAKEN,
                    StepStatus::Active | StepStatus::Waiting => "#80868b",
                    StepStatus::Pending | StepStatus::Skipped | StepStatus::Cancelled => IDLE,
                }
            );
        } else {
            self.path(&[(lo, join_y), (hi, join_y)], false, false);
            for &(ccx, taken) in &reaching {
                if taken {
                    self.path(&[(ccx, join_y), (cx, join_y)], true, false);
                }
            }
        }
        self.path(&[(cx, join_y), (cx, bottom)], joined, false);
        let _ = write!(
            self.cards,
            r#"<circle cx="{}" cy="{}" r="3.5" fill="{}"/>"#,
            num(cx),
            num(join_y),
            if joined { TAKEN } else { "#80868b" }
        );
    }

    /// A branch label: a small rounded tag on the branch's line.
    fn pill(&mut self, lines: &[Line], w: f64, cx: f64, top: f64) {
        let h = label_height(lines);
        let _ = write!(
            self.cards,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\" fill=\"#ffffff\" stroke=\"#bdc1c6\"/>",
            num(cx - w / 2.0),
            num(top),
            num(w),
            num(h)
        );
        let mut y = top + 3.0;
        for l in lines {
            let lw = text_width(&l.text, l.style);
            self.text(cx - lw / 2.0, y, l);
            y += l.style.line_height();
        }
    }

    /// The jumps back of `goto` steps, each in its own lane of the right-hand margin; the
    /// shortest loops run innermost.
    fn loops(&mut self, ctx: &Ctx<'_>, lanes_x: f64) {
        let mut loops: Vec<(f64, String, Rect, Rect, usize)> = Vec::new();
        for n in &ctx.def.nodes {
            let StepBody::Goto(g) = &n.step.body else {
                continue;
            };
            let (Some(from), Some(to)) = (
                self.placed.get(&n.step.id).copied(),
                self.placed.get(&g.target).copied(),
            ) else {
                continue;
            };
            let times = ctx
                .edges
                .get(&(n.step.id.as_str(), g.target.as_str()))
                .copied()
                .unwrap_or(0);
            loops.push((from.y - to.y, n.step.id.clone(), from, to, times));
        }
        loops.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        for (lane, (_, _, from, to, times)) in loops.into_iter().enumerate() {
            let x = lanes_x + LANE_GAP * lane as f64;
            let fy = from.y + from.h / 2.0;
            let ty = to.y + (to.h / 2.0).min(14.0);
            let taken = times > 0;
            let (colour, width, marker, dash) = if taken {
                (BACK, "2.2", "arrow-back-taken", "6 3")
            } else {
                (IDLE, "1.4", "arrow-idle", "4 3")
            };
            let _ = write!(
                if taken {
                    &mut self.taken
                } else {
                    &mut self.idle
                },
                r#"<path d="M{} {} L{} {} L{} {} L{} {}" fill="none" stroke="{colour}" stroke-width="{width}" stroke-dasharray="{dash}" stroke-linejoin="round" marker-end="url(#{marker})"/>"#,
                num(from.x + from.w),
                num(fy),
                num(x),
                num(fy),
                num(x),
                num(ty),
                num(to.x + to.w + 1.0),
                num(ty),
            );
            if taken {
                let line = Line {
                    text: format!("×{times}"),
                    style: Style::Label,
                    colour: BACK,
                };
                self.text(from.x + from.w + 4.0, fy - 16.0, &line);
            }
        }
    }

    /// The legend, flowing over as many rows as it needs; returns its bottom.
    fn legend(&mut self, x0: f64, y0: f64, width: f64) -> f64 {
        enum Sample {
            State(StepStatus),
            Overdue,
            Line(bool),
            Back,
        }
        let mut entries: Vec<(Sample, &str)> = LEGEND
            .iter()
            .map(|s| (Sample::State(*s), status_word(*s)))
            .collect();
        entries.push((Sample::Overdue, "просрочено"));
        entries.push((Sample::Line(true), "пройденный переход"));
        entries.push((Sample::Line(false), "не пройден"));
        entries.push((Sample::Back, "возврат на доработку"));
        let row_h = 22.0;
        let (mut x, mut y) = (x0, y0);
        for (sample, word) in entries {
            let w = 26.0 + text_width(word, Style::Label) + 18.0;
            if x + w > x0 + width && x > x0 {
                x = x0;
                y += row_h;
            }
            let sy = y + 4.0;
            match sample {
                Sample::State(s) => {
                    let p = paint(s);
                    let _ = write!(
                        self.cards,
                        r#"<rect x="{}" y="{}" width="22" height="14" rx="3" fill="{}" stroke="{}" stroke-width="1.4"{}/>"#,
                        num(x),
                        num(sy),
                        p.fill,
                        p.stroke,
                        if p.dashed {
                            r#" stroke-dasharray="4 2""#
                        } else {
                            ""
                        }
                    );
                }
                Sample::Overdue => {
                    let _ = write!(
                        self.cards,
                        r##"<rect x="{}" y="{}" width="22" height="14" rx="3" fill="#ffffff" stroke="{OVERDUE}" stroke-width="3"/>"##,
                        num(x),
                        num(sy),
                    );
                }
                Sample::Line(taken) => {
                    let (c, w) = if taken { (TAKEN, "2.5") } else { (IDLE, "1.4") };
                    let _ = write!(
                        self.cards,
                        r#"<path d="M{} {} L{} {}" stroke="{c}" stroke-width="{w}"/>"#,
                        num(x),
                        num(sy + 7.0),
                        num(x + 22.0),
                        num(sy + 7.0)
                    );
                }
                Sample::Back => {
                    let _ = write!(
                        self.cards,
                        r#"<path d="M{} {} L{} {}" stroke="{BACK}" stroke-width="2.2" stroke-dasharray="6 3"/>"#,
                        num(x),
                        num(sy + 7.0),
                        num(x + 22.0),
                        num(sy + 7.0)
                    );
                }
            }
            let line = Line {
                text: word.to_owned(),
                style: Style::Label,
                colour: INK,
            };
            self.text(x + 28.0, y + 2.0, &line);
            x += w;
        }
        y + row_h
    }
}

fn defs() -> String {
    let mut s = String::from("<defs>");
    for (id, colour) in [
        ("arrow-taken", TAKEN),
        ("arrow-idle", IDLE),
        ("arrow-back-taken", BACK),
    ] {
        let _ = write!(
            s,
            r#"<marker id="{id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto"><path d="M0 0 L10 5 L0 10 Z" fill="{colour}"/></marker>"#
        );
    }
    s.push_str("</defs>");
    s
}

// ---- words ------------------------------------------------------------------------------

fn kind_word(body: &StepBody) -> String {
    let word = match body {
        StepBody::Task(t) => match t.task_type {
            TaskType::Task => "ЗАДАЧА",
            TaskType::Call => "ЗВОНОК",
            TaskType::Meeting => "ВСТРЕЧА",
        },
        StepBody::Parallel(p) => match p.join {
            Join::All => "ПАРАЛЛЕЛЬНО · ЖДЁМ ВСЕ",
            Join::Any => "ПАРАЛЛЕЛЬНО · ЖДЁМ ЛЮБУЮ",
            Join::N { n } => {
                return format!("ПАРАЛЛЕЛЬНО · ЖДЁМ {n} ИЗ {}", p.branches.len());
            }
        },
        StepBody::Switch(_) => "УСЛОВИЕ",
        StepBody::Wait(_) => "ОЖИДАНИЕ",
        StepBody::Goto(_) => "ВОЗВРАТ",
        StepBody::End(_) => "КОНЕЦ",
        StepBody::Action(_) => "ДЕЙСТВИЕ",
    };
    word.to_owned()
}

fn instance_word(status: &str) -> &str {
    match status {
        "not_started" => "не запущен",
        "running" => "выполняется",
        "completed" => "завершён",
        "cancelled" => "отменён",
        other => other,
    }
}

fn outcome_word(outcome: &str) -> String {
    match outcome {
        "done" => "выполнено",
        "approve" => "согласовано",
        "reject" => "отклонено",
        "return_for_rework" => "на доработку",
        "client_refuses" => "клиент отказался",
        "arrived" => "дождались",
        "timed_out" => "время вышло",
        "already" => "уже было",
        "jumped" => "возврат",
        "limit_reached" => "круги исчерпаны, дальше",
        "completed" => "завершён",
        "cancelled" => "отменён",
        other => other,
    }
    .to_owned()
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Admin => "администратор",
        Role::Head => "руководство",
        Role::SalesManager => "менеджер по продажам",
        Role::Accountant => "бухгалтер",
        Role::PurchasingManager => "менеджер по закупкам",
        Role::Lawyer => "юрист",
        Role::Signer => "подписант",
    }
}

fn short_id(id: uuid::Uuid) -> String {
    id.simple().to_string().chars().take(8).collect()
}

fn participant_text(p: Participant) -> String {
    match p {
        Participant::User(u) => format!("польз. {}", short_id(u)),
        Participant::Role(r) => role_word(r).to_owned(),
        Participant::Pool(p) => format!("пул {}", short_id(p)),
    }
}

fn assignee_text(a: &AssigneeSpec) -> String {
    match a {
        AssigneeSpec::User { id } => format!("польз. {}", short_id(*id)),
        AssigneeSpec::Role { role } => match parse_role(role) {
            Some(r) => role_word(r).to_owned(),
            None => role.clone(),
        },
        AssigneeSpec::Pool { id } => format!("пул {}", short_id(*id)),
        AssigneeSpec::Responsible => "ответственный".into(),
        AssigneeSpec::Supervisor => "руководитель ответственного".into(),
    }
}

fn assignees_text(all: &[AssigneeSpec]) -> String {
    all.iter().map(assignee_text).collect::<Vec<_>>().join(", ")
}

fn recipient_text(r: &Recipient) -> String {
    match r {
        Recipient::User { id } => format!("польз. {}", short_id(*id)),
        Recipient::Role { role } => match parse_role(role) {
            Some(r) => role_word(r).to_owned(),
            None => role.clone(),
        },
        Recipient::Pool { id } => format!("пул {}", short_id(*id)),
        Recipient::Responsible => "ответственный".into(),
        Recipient::Supervisor => "руководитель".into(),
        Recipient::Contact => "контакт".into(),
    }
}

fn completion_text(c: Completion, n: usize) -> String {
    match c {
        Completion::First => format!("Решает первый из {n}"),
        Completion::Any => format!("Достаточно одного из {n}"),
        Completion::All => format!("Нужны все {n}"),
        Completion::Quorum { n: q } => format!("Кворум: {q} из {n}"),
    }
}

fn document_word(kind: &str) -> String {
    match kind {
        "quote" => "коммерческое предложение".into(),
        "invoice" => "счёт".into(),
        "contract" => "договор".into(),
        other => other.to_owned(),
    }
}

fn span_text(s: Span) -> String {
    let mut parts = Vec::new();
    if s.days != 0 {
        parts.push(format!("{}\u{a0}дн.", s.days));
    }
    if s.hours != 0 {
        parts.push(format!("{}\u{a0}ч", s.hours));
    }
    if s.minutes != 0 {
        parts.push(format!("{}\u{a0}мин", s.minutes));
    }
    if parts.is_empty() {
        "0 мин".into()
    } else {
        parts.join(" ")
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn wait_text(w: &WaitFor) -> String {
    match w {
        WaitFor::Delay { delay } => span_text(*delay),
        WaitFor::DateField { field, offset } => {
            if *offset == Span::default() {
                format!("до даты {field}")
            } else {
                format!("до даты {field} {:+} дн.", offset.days)
            }
        }
        WaitFor::Event { event } => match event {
            EventSpec::PaymentReceived { min_percent } => match min_percent {
                Some(p) => format!("оплаты не меньше {p}\u{a0}%"),
                None => "оплаты".into(),
            },
            EventSpec::FieldChanged { field, to } => match to {
                Some(v) => format!("пока {field} не станет {}", value_text(v)),
                None => format!("изменения поля {field}"),
            },
            EventSpec::StageEntered { stage } => format!("стадии {stage}"),
            EventSpec::DocumentAttached { document_type } => {
                format!("документа: {}", document_word(document_type))
            }
        },
    }
}

/// What an action does: a title and further details.
fn action_text(a: &Action) -> (String, Vec<String>) {
    match a {
        Action::Notify { to, text } => (
            format!("Уведомить: {}", recipient_text(to)),
            vec![format!("«{text}»")],
        ),
        Action::SendEmail { to, subject, .. } => (
            format!("Письмо: {}", recipient_text(to)),
            vec![format!("«{subject}»")],
        ),
        Action::SetField { field, value } => {
            (format!("Поле {field} = {}", value_text(value)), Vec::new())
        }
        Action::MoveToStage { stage } => (format!("Стадия → {stage}"), Vec::new()),
        Action::CreateCalendarEvent {
            title, starts_in, ..
        } => (
            "Событие в календаре".into(),
            vec![format!("«{title}» через {}", span_text(*starts_in))],
        ),
        Action::CreateReminder {
            text,
            remind_in,
            to,
        } => (
            format!("Напоминание: {}", recipient_text(to)),
            vec![format!("«{text}» через {}", span_text(*remind_in))],
        ),
        Action::CreateDocument { document } => (
            match document {
                DocumentKind::Quote => "Создать коммерческое предложение".into(),
                DocumentKind::Invoice => "Выставить счёт".into(),
            },
            Vec::new(),
        ),
        Action::CallWebhook { event, url } => (format!("Вебхук: {event}"), vec![url.clone()]),
        Action::BillTime { mode, .. } => (
            "Время задачи — в сделку".into(),
            vec![
                match mode {
                    BillingMode::UpdateFirstRow => "в первую строку товаров",
                    BillingMode::AddAsProduct => "товаром из каталога",
                    BillingMode::AddAsRow => "отдельной строкой",
                }
                .into(),
            ],
        ),
        Action::StartProcess { template, wait } => (
            format!("Запустить процесс {template}"),
            if *wait {
                vec!["и дождаться его конца".into()]
            } else {
                Vec::new()
            },
        ),
    }
}

fn time_text(t: DateTime<Utc>) -> String {
    t.format("%d.%m.%Y\u{a0}%H:%M").to_string()
}

/// From start to finish, the date said once when both fall on the same day.
fn period_text(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    if from.date_naive() != to.date_naive() {
        format!("{} → {}", time_text(from), time_text(to))
    } else if from.format("%H:%M").to_string() == to.format("%H:%M").to_string() {
        time_text(from)
    } else {
        format!("{} → {}", time_text(from), to.format("%H:%M"))
    }
}

// ---- text -------------------------------------------------------------------------------

fn advance(c: char, bold: bool) -> f64 {
    let table = if bold {
        metrics::BOLD
    } else {
        metrics::REGULAR
    };
    match table.binary_search_by_key(&c, |(ch, _)| *ch) {
        Ok(i) => f64::from(table[i].1),
        // Unknown to the table: as wide as the widest letters, so it never overflows.
        Err(_) => metrics::UNITS_PER_EM,
    }
}

fn text_width(text: &str, style: Style) -> f64 {
    let units: f64 = text.chars().map(|c| advance(c, style.bold())).sum();
    units * style.size() / metrics::UNITS_PER_EM * SLACK
}

/// Breaks `text` into lines no wider than `max_w`, at spaces where it can and inside a word
/// only when the word alone is too wide.
fn wrap(text: &str, style: Style, max_w: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    // Only plain spaces break; a no-break space keeps "2 дн." together.
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if current.is_empty() {
            word.to_owned()
        } else {
            format!("{current} {word}")
        };
        if text_width(&candidate, style) <= max_w {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        for c in word.chars() {
            let mut longer = current.clone();
            longer.push(c);
            if text_width(&longer, style) > max_w && !current.is_empty() {
                lines.push(std::mem::replace(&mut current, c.to_string()));
            } else {
                current = longer;
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

fn wrap_into(lines: &mut Vec<Line>, text: &str, style: Style, colour: &'static str, max_w: f64) {
    for text in wrap(&clean(text), style, max_w) {
        lines.push(Line {
            text,
            style,
            colour,
        });
    }
}

/// Control characters are not allowed in XML 1.0; they become spaces.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with one decimal, so the output is stable.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests;
