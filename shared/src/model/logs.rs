//! Event logs: trigger events and other entries that are not workflow runs (a webhook received, a
//! credential refreshed, an event that started nothing). Immutable once stored.

use super::records::ErrorSummary;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Debug, Level::Info, Level::Warn, Level::Error];

    /// Case-insensitive, in events and in `level=` alike.
    pub fn parse(text: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(text.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// The optional text fields of an event log, each defined once: wire name and whether queries
/// filter on it (`Some(true)`: by a comma-separated list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogField {
    EndUserId,
    PersonaId,
    ConnectCredentialId,
    ConnectCredentialConfigId,
    WorkflowId,
    TraceId,
    IntegrationId,
    WebhookId,
    EventId,
    EventName,
    Status,
}

impl LogField {
    pub const ALL: [LogField; 11] = [
        LogField::EndUserId,
        LogField::PersonaId,
        LogField::ConnectCredentialId,
        LogField::ConnectCredentialConfigId,
        LogField::WorkflowId,
        LogField::TraceId,
        LogField::IntegrationId,
        LogField::WebhookId,
        LogField::EventId,
        LogField::EventName,
        LogField::Status,
    ];

    pub fn wire_name(self) -> &'static str {
        match self {
            LogField::EndUserId => "endUserId",
            LogField::PersonaId => "personaId",
            LogField::ConnectCredentialId => "connectCredentialId",
            LogField::ConnectCredentialConfigId => "connectCredentialConfigId",
            LogField::WorkflowId => "workflowId",
            LogField::TraceId => "traceId",
            LogField::IntegrationId => "integrationId",
            LogField::WebhookId => "webhookId",
            LogField::EventId => "eventId",
            LogField::EventName => "eventName",
            LogField::Status => "status",
        }
    }

    /// A field queries filter on exactly; `true` when the query takes a comma-separated list.
    pub fn dimension(self) -> Option<bool> {
        match self {
            LogField::IntegrationId => Some(true),
            LogField::EndUserId | LogField::WorkflowId | LogField::TraceId => Some(false),
            _ => None,
        }
    }

    /// The query parameter filtering on this field (`userId` matches `endUserId`).
    pub fn parameter(self) -> &'static str {
        match self {
            LogField::EndUserId => "userId",
            other => other.wire_name(),
        }
    }
}

/// An event log as listings and traces return it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLog {
    pub id: String,
    pub project_id: String,
    pub timestamp: String,
    pub level: Level,
    #[serde(rename = "type")]
    pub log_type: String,
    pub message: String,
    /// The optional fields that are known, by wire name.
    #[serde(flatten)]
    pub fields: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorSummary>,
}

impl EventLog {
    pub fn field(&self, f: LogField) -> Option<&str> {
        self.fields.get(f.wire_name()).map(String::as_str)
    }
}
