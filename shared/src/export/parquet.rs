//! Export parts as Parquet: one row group per part, one column per field of the archive's row
//! schema (the three kinds share it; a field a kind lacks is null), bodies as JSON text (a body
//! kept as text, named in `textBodies`, is that text as a JSON string). Every row given is written,
//! or the part fails: the row group's count is checked against the rows.

use crate::archive::Row;
use crate::model::{Field, Kind, RecordKind};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde_json::Value;
use std::sync::Arc;

/// How a column is filled from a row.
#[derive(Clone, Copy)]
enum Column {
    /// A string field of the row.
    Text(&'static str),
    /// An integer field.
    Int(&'static str),
    /// A field holding JSON, as its text.
    Json(&'static str),
    /// A body, as its JSON text.
    Body(Body),
    /// A field of the row's `error`.
    Error(&'static str),
}

#[derive(Clone, Copy)]
enum Body {
    Input,
    Output,
    Payload,
    ErrorDetails,
}

/// The columns, in order: an execution's and a step's text fields come from `Field`, so a text
/// field added there is exported without a change here.
fn columns() -> Vec<(&'static str, Column)> {
    let texts = |on_executions: bool| {
        Field::ALL
            .into_iter()
            .filter(move |f| f.kind() == Kind::Text && f.on(RecordKind::Execution) == on_executions)
            .map(|f| (f.wire_name(), Column::Text(f.wire_name())))
    };
    let mut out = vec![
        ("kind", Column::Text("kind")),
        ("projectId", Column::Text("projectId")),
        ("id", Column::Text("id")),
        ("executionId", Column::Text("executionId")),
    ];
    out.extend(texts(true));
    out.extend([
        ("status", Column::Text("status")),
        ("taskCount", Column::Int("taskCount")),
        ("runDuration", Column::Int("runDuration")),
        ("dateStarted", Column::Text("dateStarted")),
        ("dateEnded", Column::Text("dateEnded")),
    ]);
    out.extend(texts(false));
    out.extend([
        ("timestamp", Column::Text("timestamp")),
        ("level", Column::Text("level")),
        ("type", Column::Text("type")),
        ("message", Column::Text("message")),
        ("endUserId", Column::Text("endUserId")),
        ("personaId", Column::Text("personaId")),
        ("connectCredentialId", Column::Text("connectCredentialId")),
        ("connectCredentialConfigId", Column::Text("connectCredentialConfigId")),
        ("integrationId", Column::Text("integrationId")),
        ("webhookId", Column::Text("webhookId")),
        ("eventId", Column::Text("eventId")),
        ("eventName", Column::Text("eventName")),
        ("errorCode", Column::Error("code")),
        ("errorMessage", Column::Error("message")),
        ("errorDetails", Column::Body(Body::ErrorDetails)),
        ("input", Column::Body(Body::Input)),
        ("output", Column::Body(Body::Output)),
        ("payload", Column::Body(Body::Payload)),
        ("missingBodies", Column::Json("missingBodies")),
        ("textBodies", Column::Json("textBodies")),
    ]);
    out
}

fn schema() -> String {
    let fields: Vec<String> = columns()
        .iter()
        .map(|(name, column)| match column {
            Column::Text("kind") => format!("REQUIRED BYTE_ARRAY {name} (UTF8);"),
            Column::Int(_) => format!("OPTIONAL INT64 {name};"),
            Column::Json(_) | Column::Body(_) => format!("OPTIONAL BYTE_ARRAY {name} (JSON);"),
            _ => format!("OPTIONAL BYTE_ARRAY {name} (UTF8);"),
        })
        .collect();
    format!("message record {{ {} }}", fields.join(" "))
}

/// One column's values for the rows: `None` where the row has no value.
fn values(rows: &[Row], column: Column) -> Result<Vec<Option<ColumnValue>>, String> {
    rows.iter()
        .map(|row| {
            let v = match column {
                Column::Text(f) | Column::Int(f) | Column::Json(f) => row.fields.get(f),
                Column::Error(f) => {
                    let e = row.error.as_ref();
                    return Ok(match f {
                        "code" => e.and_then(|e| e.code.clone()).map(ColumnValue::Text),
                        _ => e.map(|e| ColumnValue::Text(e.message.clone())),
                    });
                }
                Column::Body(b) => {
                    let body = match b {
                        Body::Input => &row.input,
                        Body::Output => &row.output,
                        Body::Payload => &row.payload,
                        Body::ErrorDetails => &row.error_details,
                    };
                    return Ok(body.as_ref().map(|raw| ColumnValue::Text(raw.get().to_string())));
                }
            };
            Ok(match (column, v) {
                (_, None | Some(Value::Null)) => None,
                (Column::Int(name), Some(v)) => Some(ColumnValue::Int(
                    v.as_i64().ok_or_else(|| format!("{name} is not an integer: {v}"))?,
                )),
                (Column::Json(_), Some(v)) => Some(ColumnValue::Text(v.to_string())),
                (_, Some(Value::String(s))) => Some(ColumnValue::Text(s.clone())),
                (_, Some(v)) => Some(ColumnValue::Text(v.to_string())),
            })
        })
        .collect()
}

enum ColumnValue {
    Text(String),
    Int(i64),
}

/// The rows as one Parquet file, and the number of rows it holds.
pub fn encode(rows: &[Row]) -> Result<(Vec<u8>, u64), String> {
    let schema = Arc::new(parse_message_type(&schema()).map_err(|e| e.to_string())?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::GZIP(Default::default()))
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props).map_err(|e| e.to_string())?;
    let mut group = writer.next_row_group().map_err(|e| e.to_string())?;
    let columns = columns();
    let mut index = 0;
    while let Some(mut column) = group.next_column().map_err(|e| e.to_string())? {
        let (name, kind) = columns[index];
        index += 1;
        let vals = values(rows, kind)?;
        // Definition levels: 1 where a value is present (the required `kind` takes none).
        let levels: Vec<i16> = vals.iter().map(|v| i16::from(v.is_some())).collect();
        let levels = (name != "kind").then_some(levels.as_slice());
        match kind {
            Column::Int(_) => {
                let present: Vec<i64> = vals
                    .iter()
                    .filter_map(|v| match v {
                        Some(ColumnValue::Int(i)) => Some(*i),
                        _ => None,
                    })
                    .collect();
                column
                    .typed::<Int64Type>()
                    .write_batch(&present, levels, None)
                    .map_err(|e| e.to_string())?;
            }
            _ => {
                let present: Vec<ByteArray> = vals
                    .iter()
                    .filter_map(|v| match v {
                        Some(ColumnValue::Text(s)) => Some(ByteArray::from(s.as_str())),
                        _ => None,
                    })
                    .collect();
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&present, levels, None)
                    .map_err(|e| e.to_string())?;
            }
        }
        column.close().map_err(|e| e.to_string())?;
    }
    let written = group.close().map_err(|e| e.to_string())?.num_rows();
    if written != rows.len() as i64 {
        return Err(format!("the row group holds {written} rows of {}", rows.len()));
    }
    Ok((writer.into_inner().map_err(|e| e.to_string())?, written as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_are_the_exported_schema_in_order() {
        let names: Vec<&str> = columns().iter().map(|(name, _)| *name).collect();
        let want = "kind projectId id executionId workflowId workflowName userId integration triggerType traceId \
            status taskCount runDuration dateStarted dateEnded stepName stepType timestamp level type message \
            endUserId personaId connectCredentialId connectCredentialConfigId integrationId webhookId eventId \
            eventName errorCode errorMessage errorDetails input output payload missingBodies textBodies";
        assert_eq!(names, want.split_whitespace().collect::<Vec<_>>());
    }
}
