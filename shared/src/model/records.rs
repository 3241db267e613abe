//! The records as users see them: typed, built from a merged state, serialized into responses.

use super::fields::{Field, RecordKind};
use super::status::Status;
use crate::model::merge::Fields;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
}

/// An execution's list fields: what listings return, and the head of a get. Its optional text
/// fields (`workflowName` and the dimensions besides `workflowId`) are held by field, so a text
/// field added to `Field` is carried, stored and returned without a change here; responses list
/// every field in `Field::ALL` order, `null` when unset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionSummary {
    pub id: String,
    pub project_id: String,
    pub workflow_id: String,
    /// The optional text fields that are set, by field.
    pub texts: BTreeMap<Field, String>,
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
            texts: Field::optional_texts()
                .filter_map(|f| Some((f, text(fields, f)?)))
                .collect(),
            status: Status::parse(fields.get(&Field::Status)?.value.as_str()?)?,
            task_count: count(fields, Field::TaskCount),
            run_duration: run_duration(fields),
            date_started: text(fields, Field::DateStarted)?,
            date_ended: text(fields, Field::DateEnded),
            error: fields.get(&Field::Error).and_then(|r| error_summary(&r.value)),
        })
    }

    /// The value of a text field (`workflowId`, `workflowName`, a dimension).
    pub fn text(&self, f: Field) -> Option<&str> {
        match f {
            Field::WorkflowId => Some(&self.workflow_id),
            _ => self.texts.get(&f).map(String::as_str),
        }
    }
}

impl Serialize for ExecutionSummary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("projectId", &self.project_id)?;
        for f in Field::ALL.into_iter().filter(|f| f.on(RecordKind::Execution)) {
            let name = f.wire_name();
            match f {
                Field::Status => map.serialize_entry(name, &self.status)?,
                Field::TaskCount => map.serialize_entry(name, &self.task_count)?,
                Field::RunDuration => map.serialize_entry(name, &self.run_duration)?,
                Field::DateStarted => map.serialize_entry(name, &self.date_started)?,
                Field::DateEnded => map.serialize_entry(name, &self.date_ended)?,
                Field::Error => map.serialize_entry(name, &self.error)?,
                Field::Input | Field::Output => {}
                _ => map.serialize_entry(name, &self.text(f))?,
            }
        }
        map.end()
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
