//! An event log on the wire: its fields, level, message, payload and error checked against
//! `model`'s rules; an event log sent without an id gets one derived from its content.

use super::super::report::Outcome;
use super::*;
use crate::bodies::Body;
use crate::config::Settings;
use crate::dates;
use crate::model::limits::{MAX_MESSAGE, MAX_TEXT};
use crate::model::values::value_problem;
use crate::model::{EventLog, Level, LogField};
use crate::search::Fingerprints;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::Digest;
use std::collections::BTreeMap;

/// A validated event log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEvent {
    pub entry: EventLog,
    pub payload: Option<Body>,
    pub error_details: Option<Body>,
    pub timestamp: DateTime<Utc>,
}

impl LogEvent {
    /// Fingerprints of the tokens a search finds in it: payload, message, error.
    pub fn tokens(&self) -> Fingerprints {
        let mut f = Fingerprints::default();
        f.add_text(&self.entry.message);
        if let Some(e) = &self.entry.error {
            f.add_text(&e.message);
            if let Some(code) = &e.code {
                f.add_text(code);
            }
        }
        for body in [&self.payload, &self.error_details].into_iter().flatten() {
            f.add_json(&body.raw);
        }
        f
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireLog {
    #[allow(dead_code)]
    kind: String,
    project_id: String,
    id: Option<String>,
    timestamp: String,
    level: String,
    #[serde(rename = "type")]
    log_type: String,
    message: String,
    end_user_id: Option<String>,
    persona_id: Option<String>,
    connect_credential_id: Option<String>,
    connect_credential_config_id: Option<String>,
    workflow_id: Option<String>,
    trace_id: Option<String>,
    integration_id: Option<String>,
    webhook_id: Option<String>,
    event_id: Option<String>,
    event_name: Option<String>,
    status: Option<String>,
    error: Option<WireError>,
    payload: Option<Box<RawValue>>,
}

impl WireLog {
    fn text(&self, f: LogField) -> Option<&String> {
        match f {
            LogField::EndUserId => self.end_user_id.as_ref(),
            LogField::PersonaId => self.persona_id.as_ref(),
            LogField::ConnectCredentialId => self.connect_credential_id.as_ref(),
            LogField::ConnectCredentialConfigId => self.connect_credential_config_id.as_ref(),
            LogField::WorkflowId => self.workflow_id.as_ref(),
            LogField::TraceId => self.trace_id.as_ref(),
            LogField::IntegrationId => self.integration_id.as_ref(),
            LogField::WebhookId => self.webhook_id.as_ref(),
            LogField::EventId => self.event_id.as_ref(),
            LogField::EventName => self.event_name.as_ref(),
            LogField::Status => self.status.as_ref(),
        }
    }
}

/// The id of an event log sent without one: a digest of its content (keys sorted, numbers read),
/// so sending the same event again is a duplicate, not a second entry.
fn derived_id(raw: &RawValue) -> String {
    let canonical = serde_json::from_str::<Value>(raw.get())
        .map(|v| v.to_string())
        .unwrap_or_else(|_| raw.get().to_string());
    format!("lg-{}", &hex::encode(sha2::Sha256::digest(canonical.as_bytes()))[..32])
}

/// Validates one event log.
pub fn parse_log(raw: &RawValue, now: DateTime<Utc>, settings: &Settings) -> Result<LogEvent, Outcome> {
    let w: WireLog = serde_json::from_str(raw.get()).map_err(|e| invalid(e.to_string()))?;
    id("projectId", &w.project_id)?;
    let log_id = match &w.id {
        Some(given) => {
            id("id", given)?;
            given.clone()
        }
        None => derived_id(raw),
    };
    let timestamp = record_time(&w.timestamp, "timestamp", now, settings)?;
    let level = Level::parse(&w.level)
        .ok_or_else(|| invalid(format!("unknown level {:?}; use DEBUG, INFO, WARN or ERROR", w.level)))?;
    if let Some(p) = value_problem(&w.log_type, true) {
        return Err(invalid(format!("type {p}")));
    }
    fits_keys("type", &w.log_type)?;
    if w.message.is_empty() || w.message.chars().count() > MAX_MESSAGE {
        return Err(invalid(format!("message must be 1 to {MAX_MESSAGE} characters")));
    }
    let mut fields = BTreeMap::new();
    for f in LogField::ALL {
        let Some(v) = w.text(f) else { continue };
        // Filtered fields obey the rules queries apply, so every stored value can be found.
        let problem = match f.dimension() {
            Some(comma_list) => value_problem(v, comma_list),
            None => {
                (v.is_empty() || v.chars().count() > MAX_TEXT).then(|| format!("must be 1 to {MAX_TEXT} characters"))
            }
        };
        if let Some(p) = problem {
            return Err(invalid(format!("{} {p}", f.wire_name())));
        }
        fits_keys(f.wire_name(), v)?;
        fields.insert(f.wire_name(), v.clone());
    }
    let (error, error_details) = match w.error {
        Some(e) => (Some(error_summary(&e)?), body("error.details", e.details)?),
        None => (None, None),
    };
    Ok(LogEvent {
        entry: EventLog {
            id: log_id,
            project_id: w.project_id,
            timestamp: dates::format(timestamp),
            level,
            log_type: w.log_type,
            message: w.message,
            fields,
            error,
        },
        payload: body("payload", w.payload)?,
        error_details,
        timestamp,
    })
}
