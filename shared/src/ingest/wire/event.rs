//! An execution or step event on the wire: its fields checked one by one against `model`'s rules.

use super::super::report::Outcome;
use super::*;
use crate::bodies::{Body, BodySlot};
use crate::config::Settings;
use crate::dates;
use crate::model::limits::MAX_TEXT;
use crate::model::values::value_problem;
use crate::model::{Field, Kind, RecordKind, Status};
use crate::search::Fingerprints;
use crate::store::UnitKey;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A validated execution or step event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub unit: UnitKey,
    pub rank: u8,
    pub fields: BTreeMap<Field, Value>,
    pub bodies: Vec<(BodySlot, Body)>,
}

impl Event {
    /// Adds what a search finds in this event: its bodies and its error's code and message.
    pub fn add_tokens(&self, f: &mut Fingerprints) {
        for (_, body) in &self.bodies {
            f.add_json(&body.raw);
        }
        if let Some(error) = self.fields.get(&Field::Error) {
            for part in ["code", "message"] {
                if let Some(text) = error.get(part).and_then(Value::as_str) {
                    f.add_text(text);
                }
            }
        }
    }

    /// Whether the event carries anything a search could find.
    pub fn has_tokens(&self) -> bool {
        !self.bodies.is_empty() || self.fields.contains_key(&Field::Error)
    }
}

/// An event object split in two: its text fields by `Field` (so a text field added to `Field` is
/// read without a change here), and the rest, raw, for `WireEvent`. A field named twice is refused,
/// as a struct would.
struct TextFields<'a> {
    texts: BTreeMap<Field, String>,
    rest: BTreeMap<String, &'a RawValue>,
}

impl<'de: 'a, 'a> Deserialize<'de> for TextFields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = TextFields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an event object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                use serde::de::Error;
                let (mut texts, mut rest) = (BTreeMap::new(), BTreeMap::new());
                let mut seen = std::collections::HashSet::new();
                while let Some(name) = map.next_key::<String>()? {
                    if !seen.insert(name.clone()) {
                        return Err(A::Error::custom(format!("duplicate field `{name}`")));
                    }
                    match Field::from_wire(&name).filter(|f| f.kind() == Kind::Text) {
                        Some(f) => {
                            if let Some(v) = map.next_value::<Option<String>>()? {
                                texts.insert(f, v);
                            }
                        }
                        None => {
                            rest.insert(name, map.next_value()?);
                        }
                    }
                }
                Ok(TextFields { texts, rest })
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireEvent {
    #[allow(dead_code)]
    kind: String,
    project_id: String,
    id: String,
    execution_id: Option<String>,
    /// The text fields (`Field`s of kind text), read apart by `TextFields`.
    #[serde(skip)]
    texts: BTreeMap<Field, String>,
    status: String,
    date_started: String,
    date_ended: Option<String>,
    task_count: Option<u32>,
    run_duration: Option<u64>,
    error: Option<WireError>,
    input: Option<Box<RawValue>>,
    output: Option<Box<RawValue>>,
}

impl WireEvent {
    fn text(&self, f: Field) -> Option<&String> {
        self.texts.get(&f)
    }

    fn present(&self, f: Field) -> bool {
        match f {
            Field::TaskCount => self.task_count.is_some(),
            _ => self.text(f).is_some(),
        }
    }
}

/// Validates one execution or step event. `now` decides retention and clock skew.
pub fn parse_event(raw: &RawValue, now: DateTime<Utc>, settings: &Settings) -> Result<Event, Outcome> {
    let kind = serde_json::from_str::<KindOnly>(raw.get())
        .map_err(|e| invalid(format!("an event must be a JSON object: {e}")))?
        .kind;
    let kind = match kind.as_deref() {
        Some("execution") => RecordKind::Execution,
        Some("step") => RecordKind::Step,
        Some(other) => return Err(invalid(format!("unknown kind {other:?}; use execution, step or log"))),
        None => return Err(invalid("missing field `kind`")),
    };
    let TextFields { texts, rest } = serde_json::from_str(raw.get()).map_err(|e| invalid(e.to_string()))?;
    let rest = serde_json::to_string(&rest).map_err(|e| invalid(e.to_string()))?;
    let w = WireEvent {
        texts,
        ..serde_json::from_str(&rest).map_err(|e| invalid(e.to_string()))?
    };

    id("projectId", &w.project_id)?;
    id("id", &w.id)?;
    let status = Status::parse(&w.status).ok_or_else(|| {
        invalid(format!(
            "unknown status {:?}; use QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED",
            w.status
        ))
    })?;
    let started = record_time(&w.date_started, "dateStarted", now, settings)?;

    let mut fields = BTreeMap::new();
    fields.insert(Field::Status, json!(status.as_str()));
    fields.insert(Field::DateStarted, json!(dates::format(started)));
    if let Some(ended) = &w.date_ended {
        let ended = dates::parse(ended).ok_or_else(|| invalid("dateEnded must be an RFC 3339 timestamp"))?;
        let ended = dates::to_millis(ended);
        if ended < started {
            return Err(invalid("dateEnded is before dateStarted"));
        }
        fields.insert(Field::DateEnded, json!(dates::format(ended)));
    }
    if let Some(d) = w.run_duration {
        fields.insert(Field::RunDuration, json!(d));
    }

    for f in Field::ALL {
        let present = w.present(f);
        if present && !f.on(kind) {
            let home = match kind {
                RecordKind::Execution => "a step event",
                RecordKind::Step => "the execution event",
            };
            return Err(invalid(format!("{} belongs on {home}, not on this one", f.wire_name())));
        }
        if f.required(kind) && !present && !fields.contains_key(&f) {
            return Err(invalid(format!("missing field `{}`", f.wire_name())));
        }
        if let Some(v) = w.text(f) {
            // Dimensions obey the rules queries apply, so every stored value can be found.
            let problem = match f.dimension() {
                Some(comma_list) => value_problem(v, comma_list),
                None => (v.is_empty() || v.chars().count() > MAX_TEXT)
                    .then(|| format!("must be 1 to {MAX_TEXT} characters")),
            };
            if let Some(p) = problem {
                return Err(invalid(format!("{} {p}", f.wire_name())));
            }
            fits_keys(f.wire_name(), v)?;
            fields.insert(f, json!(v));
        }
    }
    if let Some(c) = w.task_count {
        fields.insert(Field::TaskCount, json!(c));
    }

    let execution = match kind {
        RecordKind::Step => {
            let e = w
                .execution_id
                .clone()
                .ok_or_else(|| invalid("missing field `executionId`"))?;
            id("executionId", &e)?;
            e
        }
        RecordKind::Execution => {
            if w.execution_id.is_some() {
                return Err(invalid("executionId belongs on a step event, not on an execution"));
            }
            w.id.clone()
        }
    };

    // Ids within their characters can still pass the bytes of a key they are part of.
    if let Some(p) = crate::store::ids_problem(
        &w.project_id,
        &execution,
        (kind == RecordKind::Step).then_some(w.id.as_str()),
    ) {
        return Err(invalid(p));
    }

    let mut bodies = Vec::new();
    let mut take = |slot: BodySlot, raw: Option<Box<RawValue>>| -> Result<Option<String>, Outcome> {
        let Some(body) = body(slot.name(), raw)? else {
            return Ok(None);
        };
        let sha = body.sha256.clone();
        bodies.push((slot, body));
        Ok(Some(sha))
    };
    if let Some(sha) = take(BodySlot::Input, w.input)? {
        fields.insert(Field::Input, json!(sha));
    }
    if let Some(sha) = take(BodySlot::Output, w.output)? {
        fields.insert(Field::Output, json!(sha));
    }
    if let Some(e) = w.error {
        let summary = error_summary(&e)?;
        // The error is one field, details digest included, so it is always taken whole.
        let mut error = json!({ "message": summary.message });
        if let Some(code) = summary.code {
            error["code"] = json!(code);
        }
        if let Some(sha) = take(BodySlot::ErrorDetails, e.details)? {
            error["details"] = json!(sha);
        }
        fields.insert(Field::Error, error);
    }

    Ok(Event {
        unit: UnitKey {
            project: w.project_id,
            execution,
            step: (kind == RecordKind::Step).then_some(w.id),
        },
        rank: status.rank(),
        fields,
        bodies,
    })
}
