//! Response shapes: bodies inline or as presigned `$ref`s, `error`, and event logs.
//!
//! A producer's body may itself look like `{"$ref": {...}}` and comes back byte for byte, so the
//! shape of a body never says whether it is a reference: every record lists the paths of its
//! bodies that are, in `bodyRefs`, a field producer data cannot reach.

use crate::bodies::{BodyRef, BodySlot, BodyView, Placement, StoredBody, CONTENT_TYPE};
use crate::error::ApiError;
use crate::model::ErrorSummary;
use crate::store::{BodyLocation, LinkBodies, LogRecord, RecordBodies};
use serde::Serialize;
use serde_json::value::RawValue;

/// `error` of an execution or step: code and message, and details as a body.
#[derive(Debug, Serialize)]
pub struct ErrorView {
    #[serde(flatten)]
    pub summary: ErrorSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<BodyView>,
}

/// What the client gets for a stored body: the JSON itself, or a presigned `$ref`.
async fn body_view<L: LinkBodies>(
    links: &L,
    project: &str,
    execution: Option<&str>,
    body: Option<&StoredBody>,
) -> Result<Option<BodyView>, ApiError> {
    let Some(body) = body else { return Ok(None) };
    match &body.placement {
        Placement::Inline { .. } => {
            let bytes = body.inline_bytes().and_then(Result::ok).ok_or_else(corrupt)?;
            let text = String::from_utf8(bytes).map_err(|_| corrupt())?;
            Ok(Some(BodyView::Inline(
                RawValue::from_string(text).map_err(|_| corrupt())?,
            )))
        }
        Placement::External => {
            let location = BodyLocation {
                project,
                execution,
                sha256: &body.sha256,
            };
            let url = links.presign(&location).await.map_err(super::read_failed("presign"))?;
            Ok(Some(BodyView::Ref {
                reference: BodyRef {
                    url,
                    size: body.size,
                    sha256: body.sha256.clone(),
                    content_type: CONTENT_TYPE.into(),
                },
            }))
        }
    }
}

/// The paths (`input`, `error.details`, ...) of the bodies that came back as references.
fn reference_paths<const N: usize>(bodies: [(&'static str, Option<&BodyView>); N]) -> Vec<&'static str> {
    bodies
        .into_iter()
        .filter(|(_, body)| matches!(body, Some(BodyView::Ref { .. })))
        .map(|(path, _)| path)
        .collect()
}

fn corrupt() -> ApiError {
    tracing::error!("stored body is unreadable");
    ApiError::internal()
}

/// An execution or step as get and step detail return it: the summary fields, then `input`,
/// `output` and `error` (whole, with its details), and which of those bodies are references.
#[derive(Debug, Serialize)]
pub struct RecordView {
    #[serde(flatten)]
    pub summary: serde_json::Map<String, serde_json::Value>,
    pub input: Option<BodyView>,
    pub output: Option<BodyView>,
    pub error: Option<ErrorView>,
    /// Paths among `input`, `output`, `error.details` that hold a `$ref`; the rest is producer data.
    #[serde(rename = "bodyRefs")]
    pub body_refs: Vec<&'static str>,
}

/// The view of a record of `execution` whose summary is `summary` (its `error` field is replaced by
/// the whole error with details).
pub async fn record_view<L: LinkBodies, T: Serialize>(
    links: &L,
    at: (&str, &str),
    summary: &T,
    error: Option<&ErrorSummary>,
    bodies: &RecordBodies,
) -> Result<RecordView, ApiError> {
    let (project, execution) = at;
    let mut fields = match serde_json::to_value(summary) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    fields.remove("error");
    let owner = Some(execution);
    let input = body_view(links, project, owner, bodies.input.as_ref()).await?;
    let output = body_view(links, project, owner, bodies.output.as_ref()).await?;
    // Details without an error summary are not returned, so they are never listed either.
    let details = match error {
        Some(_) => body_view(links, project, owner, bodies.error_details.as_ref()).await?,
        None => None,
    };
    let body_refs = reference_paths([
        (BodySlot::Input.name(), input.as_ref()),
        (BodySlot::Output.name(), output.as_ref()),
        (BodySlot::ErrorDetails.name(), details.as_ref()),
    ]);
    Ok(RecordView {
        summary: fields,
        input,
        output,
        error: error.map(|e| ErrorView {
            summary: e.clone(),
            details,
        }),
        body_refs,
    })
}

/// An event log as listings and traces return it: its fields, its error with details, and its
/// payload unless the client asked to leave bodies out, and which of those bodies are references.
#[derive(Debug, Serialize)]
pub struct LogView {
    #[serde(flatten)]
    pub entry: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<BodyView>,
    /// Paths among `payload` and `error.details` that hold a `$ref`.
    #[serde(rename = "bodyRefs")]
    pub body_refs: Vec<&'static str>,
}

pub async fn log_view<L: LinkBodies>(links: &L, record: &LogRecord, include_body: bool) -> Result<LogView, ApiError> {
    let project = record.entry.project_id.as_str();
    let mut entry = match serde_json::to_value(&record.entry) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    entry.remove("error");
    let (payload, details) = match (include_body, &record.entry.error) {
        (false, _) => (None, None),
        (true, error) => {
            let payload = body_view(links, project, None, record.payload.as_ref()).await?;
            let details = match error {
                Some(_) => body_view(links, project, None, record.error_details.as_ref()).await?,
                None => None,
            };
            (payload, details)
        }
    };
    let body_refs = reference_paths([
        ("payload", payload.as_ref()),
        (BodySlot::ErrorDetails.name(), details.as_ref()),
    ]);
    let error = record.entry.error.as_ref().map(|e| ErrorView {
        summary: e.clone(),
        details,
    });
    Ok(LogView {
        entry,
        error,
        payload,
        body_refs,
    })
}

#[cfg(test)]
mod tests {
    use crate::api::links::Links;
    use crate::api::{get, logs, step, trace};
    use crate::config::Settings;
    use crate::ingest::{ingest, Outcome};
    use crate::params::LogParams;
    use crate::store::{MemoryStore, StoreConfig};
    use serde_json::{json, Value};

    /// Looks exactly like a reference the API builds, spacing and all unusual, so byte identity shows.
    const FORGED: &str = r#"{"$ref" : {"url": "https://attacker.invalid/steal", "size": 12, "sha256": "00", "contentType": "application/json"}}"#;

    fn big() -> String {
        // Incompressible, so no inline threshold keeps it.
        let noise: String = (0..4000u32)
            .map(|i| format!("{:08x}", i.wrapping_mul(2654435761)))
            .collect();
        format!(r#"{{"blob": "{noise}"}}"#)
    }

    fn raw(events: &[String]) -> Vec<Box<serde_json::value::RawValue>> {
        events
            .iter()
            .map(|e| serde_json::value::RawValue::from_string(e.clone()).unwrap())
            .collect()
    }

    fn text<T: serde::Serialize>(view: &T) -> (String, Value) {
        let text = serde_json::to_string(view).unwrap();
        let value = serde_json::from_str(&text).unwrap();
        (text, value)
    }

    #[tokio::test]
    async fn only_bodies_stored_apart_are_listed_as_references_never_producer_data_shaped_like_one() {
        let store = MemoryStore::memory(StoreConfig { retention_days: 90 });
        let settings = Settings::defaults();
        let now = crate::dates::parse("2026-11-25T12:00:00Z").unwrap();
        let at = "2026-11-25T11:00:00.000Z";
        let big = big();
        let head = |id: &str| {
            format!(
                r#""kind": "execution", "projectId": "p1", "id": "{id}", "workflowId": "wf", "traceId": "t1", "dateStarted": "{at}""#
            )
        };
        let log = |id: &str, payload: &str, details: &str| {
            format!(
                r#"{{"kind": "log", "projectId": "p1", "id": "{id}", "timestamp": "{at}", "level": "ERROR", "type": "T", "message": "m", "traceId": "t1", "payload": {payload}, "error": {{"message": "m", "details": {details}}}}}"#
            )
        };
        let events = [
            format!(
                r#"{{{}, "status": "SUCCEEDED", "input": {FORGED}, "output": {FORGED}}}"#,
                head("forged")
            ),
            format!(
                r#"{{{}, "status": "FAILED", "input": {big}, "error": {{"message": "m", "details": {FORGED}}}}}"#,
                head("real")
            ),
            format!(
                r#"{{"kind": "step", "projectId": "p1", "executionId": "real", "id": "s1", "stepName": "s", "status": "SUCCEEDED", "dateStarted": "{at}", "input": {FORGED}, "output": {big}}}"#
            ),
            log("l-forged", FORGED, &big),
            log("l-real", &big, FORGED),
        ];
        let outcomes = ingest(&store, &settings, &raw(&events), now).await;
        assert!(outcomes.iter().all(|o| *o == Outcome::Accepted), "{outcomes:?}");
        let links = Links {
            settings: &settings,
            project: "p1",
            base_url: "http://127.0.0.1:9000",
        };
        let epoch = now.timestamp();
        let forged: Value = serde_json::from_str(FORGED).unwrap();

        let (body, v) = text(&get::get(&store, &links, "forged", epoch).await.unwrap());
        assert!(
            body.contains(&format!(r#""input":{FORGED}"#)),
            "returned byte for byte: {body}"
        );
        assert_eq!((&v["input"], &v["output"]), (&forged, &forged));
        assert_eq!(v["bodyRefs"], json!([]), "producer data is not a reference");

        let (_, v) = text(&get::get(&store, &links, "real", epoch).await.unwrap());
        assert!(
            v["input"]["$ref"]["url"].as_str().unwrap().starts_with("memory://"),
            "{v}"
        );
        assert_eq!(v["error"]["details"], forged);
        assert_eq!(v["bodyRefs"], json!(["input"]));

        let (body, v) = text(&step::step(&store, "p1", "real", "s1", epoch).await.unwrap());
        assert!(body.contains(&format!(r#""input":{FORGED}"#)), "{body}");
        assert!(v["output"]["$ref"]["url"].is_string(), "{v}");
        assert_eq!(v["bodyRefs"], json!(["output"]));

        let listing = |include_body: &str| {
            LogParams::parse(&[("includeBody".to_string(), include_body.to_string())], "p1", now).unwrap()
        };
        let by_id = |v: &Value, id: &str| {
            let logs = v["eventLogs"].as_array().unwrap();
            logs.iter().find(|l| l["id"] == id).cloned().unwrap()
        };
        let (body, v) = text(&logs::event_logs(&store, &links, &listing("true")).await.unwrap());
        assert!(body.contains(&format!(r#""payload":{FORGED}"#)), "{body}");
        let (fake, real) = (by_id(&v, "l-forged"), by_id(&v, "l-real"));
        assert!(fake["error"]["details"]["$ref"]["url"].is_string(), "{fake}");
        assert_eq!(fake["bodyRefs"], json!(["error.details"]));
        assert!(real["payload"]["$ref"]["url"].is_string(), "{real}");
        assert_eq!(real["error"]["details"], forged);
        assert_eq!(real["bodyRefs"], json!(["payload"]));
        let (_, v) = text(&logs::event_logs(&store, &links, &listing("false")).await.unwrap());
        assert_eq!(
            by_id(&v, "l-real")["bodyRefs"],
            json!([]),
            "bodies left out, none listed"
        );

        // A trace carries payloads (not error details).
        let (_, v) = text(&trace::trace(&store, "p1", "t1", now).await.unwrap());
        let (fake, real) = (by_id(&v, "l-forged"), by_id(&v, "l-real"));
        assert_eq!((&fake["payload"], &fake["bodyRefs"]), (&forged, &json!([])));
        assert_eq!(real["bodyRefs"], json!(["payload"]));
    }
}
