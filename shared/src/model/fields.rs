//! Every field a producer can set, defined once: its wire name, its kind and which records carry it.
//! Ingest validates by it, the store maps it to attributes, responses are built from it.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Field {
    WorkflowId,
    WorkflowName,
    UserId,
    Integration,
    TriggerType,
    TraceId,
    StepName,
    StepType,
    Status,
    TaskCount,
    RunDuration,
    DateStarted,
    DateEnded,
    /// `{code?, message, details?}`: one field, so an error is always taken whole from one event;
    /// `details` holds the digest of the details body.
    Error,
    /// Digest of the `input` body.
    Input,
    /// Digest of the `output` body.
    Output,
}

/// How a field's value is held in the merge state (JSON) and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string; a dimension when it names a listing filter.
    Text,
    /// A non-negative integer.
    Count,
    /// A timestamp, held as `YYYY-MM-DDTHH:MM:SS.mmmZ`, stored as epoch milliseconds.
    Time,
    Status,
    Error,
    /// The digest of a body (hex SHA-256).
    Body,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    Execution,
    Step,
}

impl Field {
    pub const ALL: [Field; 16] = [
        Field::WorkflowId,
        Field::WorkflowName,
        Field::UserId,
        Field::Integration,
        Field::TriggerType,
        Field::TraceId,
        Field::StepName,
        Field::StepType,
        Field::Status,
        Field::TaskCount,
        Field::RunDuration,
        Field::DateStarted,
        Field::DateEnded,
        Field::Error,
        Field::Input,
        Field::Output,
    ];

    /// The text fields an execution may leave unset: `workflowName` and the dimensions besides
    /// `workflowId`.
    pub fn optional_texts() -> impl Iterator<Item = Field> {
        Field::ALL
            .into_iter()
            .filter(|f| f.kind() == Kind::Text && f.on(RecordKind::Execution) && *f != Field::WorkflowId)
    }

    pub fn wire_name(self) -> &'static str {
        match self {
            Field::WorkflowId => "workflowId",
            Field::WorkflowName => "workflowName",
            Field::UserId => "userId",
            Field::Integration => "integration",
            Field::TriggerType => "triggerType",
            Field::TraceId => "traceId",
            Field::StepName => "stepName",
            Field::StepType => "stepType",
            Field::Status => "status",
            Field::TaskCount => "taskCount",
            Field::RunDuration => "runDuration",
            Field::DateStarted => "dateStarted",
            Field::DateEnded => "dateEnded",
            Field::Error => "error",
            Field::Input => "input",
            Field::Output => "output",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Field::WorkflowId
            | Field::WorkflowName
            | Field::UserId
            | Field::Integration
            | Field::TriggerType
            | Field::TraceId
            | Field::StepName
            | Field::StepType => Kind::Text,
            Field::Status => Kind::Status,
            Field::TaskCount | Field::RunDuration => Kind::Count,
            Field::DateStarted | Field::DateEnded => Kind::Time,
            Field::Error => Kind::Error,
            Field::Input | Field::Output => Kind::Body,
        }
    }

    /// Whether a record of `kind` carries this field: steps have no listing dimensions and no
    /// task count, executions no step name or type.
    pub fn on(self, kind: RecordKind) -> bool {
        let step_only = matches!(self, Field::StepName | Field::StepType);
        let execution_only = self.dimension().is_some() || matches!(self, Field::WorkflowName | Field::TaskCount);
        match kind {
            RecordKind::Execution => !step_only,
            RecordKind::Step => !execution_only,
        }
    }

    /// Whether an event of `kind` must carry it.
    pub fn required(self, kind: RecordKind) -> bool {
        match self {
            Field::Status | Field::DateStarted => true,
            Field::WorkflowId => kind == RecordKind::Execution,
            Field::StepName => kind == RecordKind::Step,
            _ => false,
        }
    }

    /// A field queries filter on exactly; `true` when the query takes a comma-separated list.
    pub fn dimension(self) -> Option<bool> {
        match self {
            Field::Integration => Some(true),
            Field::UserId | Field::WorkflowId | Field::TriggerType | Field::TraceId => Some(false),
            _ => None,
        }
    }

    pub fn from_wire(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.wire_name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_are_unique() {
        for f in Field::ALL {
            assert_eq!(Field::from_wire(f.wire_name()), Some(f));
        }
    }

    #[test]
    fn required_fields_belong_to_their_record() {
        for kind in [RecordKind::Execution, RecordKind::Step] {
            for f in Field::ALL {
                if f.required(kind) {
                    assert!(f.on(kind), "{f:?}");
                }
            }
        }
    }
}
