//! Automation rules: when something happens (a [`Trigger`]) and the [`Condition`]s hold, do
//! the [`Action`]s. Rules are data, stored as typed JSON and parsed here, so that the
//! business-process engine (WF-BP) can reuse the same triggers and actions. The first rule is
//! the deal payment watcher (WF-PAY-1); task billing (WF-BILL-1) is the second.

use serde::{Deserialize, Serialize};

use crate::billing::{BillTime, BillingMode};
use crate::money::Money;

use crate::validation::{FieldViolation, Violations};

/// What starts a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A payment was applied to (or taken back from) an invoice of a deal and the deal's
    /// payment percent changed.
    DealPaymentPercentChanged,
    /// A task linked to a deal was completed (through its inbox task).
    TaskCompleted,
}

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::DealPaymentPercentChanged => "deal_payment_percent_changed",
            Trigger::TaskCompleted => "task_completed",
        }
    }
}

/// A test on the facts of a trigger; all of a rule's conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The new payment percent is at least this many hundredths (e.g. 5000 = 50 %).
    PaymentPercentAtLeast { hundredths: i64 },
    /// The percent went up (not an un-application).
    PaymentPercentIncreased,
    /// The completed task is of one of these kinds (`general`, `activity`, `process`, …).
    TaskKindIn { kinds: Vec<String> },
}

/// What a rule does. Effects go through the inbox and the outbox, in the transaction of the
/// change that triggered the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Tell the supervisor of the record's responsible user; `email` also sends it by email
    /// when the supervisor wants notifications by email.
    NotifySupervisor { email: bool },
    /// Tell the responsible user himself.
    NotifyResponsible { email: bool },
    /// Tell a named user.
    NotifyUser { user_id: uuid::Uuid, email: bool },
    /// WF-BILL-1: the completed task's time goes into its deal (`task_completed` only).
    BillTime {
        mode: BillingMode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hourly_rate: Option<Money>,
        #[serde(default)]
        notify_responsible: bool,
    },
}

impl Action {
    /// The billing a `bill_time` action asks for.
    pub fn billing(&self) -> Option<BillTime> {
        match self {
            Action::BillTime {
                mode,
                hourly_rate,
                notify_responsible,
            } => Some(BillTime {
                mode: *mode,
                hourly_rate: *hourly_rate,
                notify_responsible: *notify_responsible,
            }),
            Action::NotifySupervisor { .. }
            | Action::NotifyResponsible { .. }
            | Action::NotifyUser { .. } => None,
        }
    }
}

/// The facts of a completed task, as conditions see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskCompletedFacts<'a> {
    pub kind: &'a str,
}

/// The facts of a deal payment percent change, as conditions see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentPercentChange {
    pub before_hundredths: i64,
    pub after_hundredths: i64,
}

impl Condition {
    /// Whether the condition holds for a payment percent change; a condition about something
    /// else does not.
    pub fn holds(&self, change: &PaymentPercentChange) -> bool {
        match self {
            Condition::PaymentPercentAtLeast { hundredths } => {
                change.after_hundredths >= *hundredths
            }
            Condition::PaymentPercentIncreased => {
                change.after_hundredths > change.before_hundredths
            }
            Condition::TaskKindIn { .. } => false,
        }
    }

    /// Whether the condition holds for a completed task.
    pub fn holds_for_task(&self, task: &TaskCompletedFacts<'_>) -> bool {
        match self {
            Condition::TaskKindIn { kinds } => kinds.iter().any(|k| k == task.kind),
            Condition::PaymentPercentAtLeast { .. } | Condition::PaymentPercentIncreased => false,
        }
    }

    /// The trigger the condition belongs to.
    fn trigger_kind(&self) -> &'static str {
        match self {
            Condition::PaymentPercentAtLeast { .. } | Condition::PaymentPercentIncreased => {
                "deal_payment_percent_changed"
            }
            Condition::TaskKindIn { .. } => "task_completed",
        }
    }

    fn check(&self, field: &str, v: &mut Violations) {
        match self {
            Condition::PaymentPercentAtLeast { hundredths } => {
                if !(0..=10_000).contains(hundredths) {
                    v.push(FieldViolation::new(
                        format!("{field}.hundredths"),
                        "out_of_range",
                        "hundredths of a percent: 0 to 10000",
                    ));
                }
            }
            Condition::PaymentPercentIncreased => {}
            Condition::TaskKindIn { kinds } => {
                if kinds.is_empty() || kinds.len() > 20 {
                    v.push(FieldViolation::new(
                        format!("{field}.kinds"),
                        "invalid_length",
                        "kinds lists 1 to 20 task kinds",
                    ));
                }
            }
        }
    }
}

/// A parsed, valid rule body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleBody {
    pub trigger: Trigger,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
}

impl RuleBody {
    /// Parses the three JSON parts, naming the field of every problem.
    pub fn parse(
        trigger: &serde_json::Value,
        conditions: &serde_json::Value,
        actions: &serde_json::Value,
    ) -> Result<RuleBody, Violations> {
        let mut v = Violations::new();
        let trigger = serde_json::from_value::<Trigger>(trigger.clone())
            .map_err(|e| v.push(FieldViolation::new("trigger", "invalid", e.to_string())))
            .ok();
        let conditions = serde_json::from_value::<Vec<Condition>>(conditions.clone())
            .map_err(|e| v.push(FieldViolation::new("conditions", "invalid", e.to_string())))
            .ok();
        let actions = serde_json::from_value::<Vec<Action>>(actions.clone())
            .map_err(|e| v.push(FieldViolation::new("actions", "invalid", e.to_string())))
            .ok();
        if let Some(c) = &conditions {
            for (i, c) in c.iter().enumerate() {
                c.check(&format!("conditions[{i}]"), &mut v);
            }
        }
        if let (Some(t), Some(c)) = (&trigger, &conditions) {
            for (i, c) in c.iter().enumerate() {
                if c.trigger_kind() != t.kind() {
                    v.push(FieldViolation::new(
                        format!("conditions[{i}].type"),
                        "not_for_trigger",
                        format!("this condition does not apply to {}", t.kind()),
                    ));
                }
            }
        }
        if let (Some(t), Some(a)) = (&trigger, &actions) {
            for (i, a) in a.iter().enumerate() {
                let field = format!("actions[{i}]");
                if let Some(b) = a.billing() {
                    b.check(&field, &mut v);
                    if *t != Trigger::TaskCompleted {
                        v.push(FieldViolation::new(
                            format!("{field}.type"),
                            "not_for_trigger",
                            "bill_time bills a completed task: the trigger is task_completed",
                        ));
                    }
                }
            }
        }
        if actions
            .as_ref()
            .is_some_and(|a| a.is_empty() || a.len() > 20)
        {
            v.push(FieldViolation::new(
                "actions",
                "invalid_length",
                "a rule has 1 to 20 actions",
            ));
        }
        match (trigger, conditions, actions, v.is_empty()) {
            (Some(trigger), Some(conditions), Some(actions), true) => Ok(RuleBody {
                trigger,
                conditions,
                actions,
            }),
            _ => Err(v),
        }
    }

    /// Whether the rule fires for this change.
    pub fn fires_on(&self, change: &PaymentPercentChange) -> bool {
        match self.trigger {
            Trigger::DealPaymentPercentChanged => {
                change.before_hundredths != change.after_hundredths
                    && self.conditions.iter().all(|c| c.holds(change))
            }
            Trigger::TaskCompleted => false,
        }
    }

    /// Whether the rule fires for this completed task.
    pub fn fires_on_task(&self, task: &TaskCompletedFacts<'_>) -> bool {
        match self.trigger {
            Trigger::TaskCompleted => self.conditions.iter().all(|c| c.holds_for_task(task)),
            Trigger::DealPaymentPercentChanged => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_payment_watcher_parses_and_fires_on_any_change() {
        let r = RuleBody::parse(
            &json!({"type": "deal_payment_percent_changed"}),
            &json!([]),
            &json!([{"type": "notify_supervisor", "email": true}]),
        )
        .unwrap();
        assert_eq!(r.actions, vec![Action::NotifySupervisor { email: true }]);
        let up = PaymentPercentChange {
            before_hundredths: 0,
            after_hundredths: 4000,
        };
        assert!(r.fires_on(&up));
        assert!(!r.fires_on(&PaymentPercentChange {
            before_hundredths: 4000,
            after_hundredths: 4000
        }));
    }

    #[test]
    fn conditions_narrow_it() {
        let r = RuleBody::parse(
            &json!({"type": "deal_payment_percent_changed"}),
            &json!([{"type": "payment_percent_at_least", "hundredths": 10000}, {"type": "payment_percent_increased"}]),
            &json!([{"type": "notify_responsible", "email": false}]),
        )
        .unwrap();
        let half = PaymentPercentChange {
            before_hundredths: 0,
            after_hundredths: 5000,
        };
        let full = PaymentPercentChange {
            before_hundredths: 5000,
            after_hundredths: 10_000,
        };
        assert!(!r.fires_on(&half));
        assert!(r.fires_on(&full));
    }

    #[test]
    fn task_billing_rules_fire_on_completed_tasks_of_their_kinds() {
        let r = RuleBody::parse(
            &json!({"type": "task_completed"}),
            &json!([{"type": "task_kind_in", "kinds": ["activity"]}]),
            &json!([{"type": "bill_time", "mode": "add_as_row", "hourly_rate": "1500.00", "notify_responsible": true}]),
        )
        .unwrap();
        assert!(r.fires_on_task(&TaskCompletedFacts { kind: "activity" }));
        assert!(!r.fires_on_task(&TaskCompletedFacts { kind: "general" }));
        assert!(!r.fires_on(&PaymentPercentChange {
            before_hundredths: 0,
            after_hundredths: 100
        }));
        assert_eq!(
            r.actions[0].billing().map(|b| b.mode),
            Some(BillingMode::AddAsRow)
        );
        let e = RuleBody::parse(
            &json!({"type": "deal_payment_percent_changed"}),
            &json!([{"type": "task_kind_in", "kinds": []}]),
            &json!([{"type": "bill_time", "mode": "add_as_row"}]),
        )
        .unwrap_err();
        let fields: Vec<String> = e.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(
            fields,
            vec![
                "conditions[0].kinds",
                "conditions[0].type",
                "actions[0].hourly_rate",
                "actions[0].type"
            ]
        );
    }

    #[test]
    fn bad_rules_name_their_fields() {
        let e = RuleBody::parse(
            &json!({"type": "when_pigs_fly"}),
            &json!([{"type": "payment_percent_at_least", "hundredths": 20000}]),
            &json!([]),
        )
        .unwrap_err();
        let fields: Vec<String> = e.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(
            fields,
            vec!["trigger", "conditions[0].hundredths", "actions"]
        );
    }
}
