//! The records as users see them: typed, built from a merged state, serialized into responses.

use super::fields::Field;
use super::status::Status;
use crate::model::merge::Fields;
use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
}

/// An execution's list fields: what listings return, and the head of a get.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub id: String,
    pub project_id: String,
    pub workflow_id: String,
    pub workflow_name: Option<String>,
    pub user_id: Option<String>,
    pub integration: Option<String>,
    pub trigger_type: Option<String>,
    pub trace_id: Option<String>,
    pub status: Status,
    pub task_count: Option<u64>,
    pub run_duration: Option<u64>,
    pub date_started: String,
    pub date_ended: Option<String>,
    pub error: Option<ErrorSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSummary {
    pub id: String,
    pub step_name: String,
    pub step_type: Option<String>,
    pub status: Status,
    pub date_started: String,
    pub date_ended: Option<String>,
    pub run_duration: Option<u64>,
    pub error: Option<ErrorSummary>,
}

fn text(fields: &Fields, f: Field) -> Option<String> {
    fields.get(&f).and_then(|r| r.value.as_str()).map(str::to_string)
}

fn count(fields: &Fields, f: Field) -> Option<u64> {
    fields.get(&f).and_then(|r| r.value.as_u64())
}

/// `runDuration` as given, or derived from the dates.
pub fn run_duration(fields: &Fields) -> Option<u64> {
    if let Some(d) = count(fields, Field::RunDuration) {
        return Some(d);
    }
    let start = crate::dates::parse(&text(fields, Field::DateStarted)?)?;
    let end = crate::dates::parse(&text(fields, Field::DateEnded)?)?;
    Some((end - start).num_milliseconds().max(0) as u64)
}

pub fn error_summary(value: &Value) -> Option<ErrorSummary> {
    Some(ErrorSummary {
        code: value.get("code").and_then(Value::as_str).map(str::to_string),
        message: value.get("message")?.as_str()?.to_string(),
    })
}

impl ExecutionSummary {
    /// `None` when the state lacks a required field (a step arrived before its execution).
    pub fn from_fields(project: &str, id: &str, fields: &Fields) -> Option<Self> {
        Some(ExecutionSummary {
            id: id.to_string(),
            project_id: project.to_string(),
            workflow_id: text(fields, Field::WorkflowId)?,
            workflow_name: text(fields, Field::WorkflowName),
            user_id: text(fields, Field::UserId),
            integration: text(fields, Field::Integration),
            trigger_type: text(fields, Field::TriggerType),
            trace_id: text(fields, Field::TraceId),
            status: Status::parse(fields.get(&Field::Status)?.value.as_str()?)?,
            task_count: count(fields, Field::TaskCount),
            run_duration: run_duration(fields),
            date_started: text(fields, Field::DateStarted)?,
            date_ended: text(fields, Field::DateEnded),
            error: fields.get(&Field::Error).and_then(|r| error_summary(&r.value)),
        })
    }

    /// The value of a dimension field, for matching filters.
    pub fn dimension(&self, f: Field) -> Option<&str> {
        match f {
            Field::WorkflowId => Some(&self.workflow_id),
            Field::UserId => self.user_id.as_deref(),
            Field::Integration => self.integration.as_deref(),
            Field::TriggerType => self.trigger_type.as_deref(),
            Field::TraceId => self.trace_id.as_deref(),
            _ => None,
        }
    }
}

impl StepSummary {
    pub fn from_fields(id: &str, fields: &Fields) -> Option<Self> {
        Some(StepSummary {
            id: id.to_string(),
            step_name: text(fields, Field::StepName)?,
            step_type: text(fields, Field::StepType),
            status: Status::parse(fields.get(&Field::Status)?.value.as_str()?)?,
            date_started: text(fields, Field::DateStarted)?,
            date_ended: text(fields, Field::DateEnded),
            run_duration: run_duration(fields),
            error: fields.get(&Field::Error).and_then(|r| error_summary(&r.value)),
        })
    }
}

/// A listing cuts long error messages; get and step detail return them whole.
pub fn listing_message(message: &str) -> String {
    let max = super::limits::LISTING_MESSAGE;
    if message.chars().count() <= max {
        return message.to_string();
    }
    let mut cut: String = message.chars().take(max - 1).collect();
    cut.push('…');
    cut
}
