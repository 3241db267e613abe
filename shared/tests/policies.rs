//! Each function's IAM policy in infra/template.yaml grants exactly what its store capabilities
//! need of DynamoDB and S3 (`runledger::store::capabilities`): no action or scope more, none less.
//! Other services' grants (SQS, Secrets Manager) are not the store's and are left alone.
//!
//! Also: each entry point compiles with no capability beyond those the table gives its function.

use runledger::store::capabilities::{Permission, Scope, FUNCTIONS};
use runledger::store::{
    AppendLogs, ArchiveRecords, CommitUnits, ExportRecords, KeepStats, LinkBodies, ListExecutions, ListLogs,
    NoteProjectDays, NoteWrites, ReadExecution, ReadKeys, ReadStats, ReadStep, ReadTrace, SetAside,
};
use serde_yaml::Value;
use std::collections::BTreeSet;

fn template() -> Value {
    let path = format!("{}/../infra/template.yaml", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A CloudFormation intrinsic, short form (`!GetAtt X.Arn`) or long (`{"Fn::GetAtt": ...}`): its
/// name without `Fn::` and its argument.
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((t.tag.to_string().trim_start_matches('!').to_string(), &t.value)),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            let name = if k == "Ref" { k } else { k.strip_prefix("Fn::")? };
            Some((name.to_string(), v))
        }
        _ => None,
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Sequence(items) => items.iter().map(|i| i.as_str().map(str::to_string)).collect(),
        _ => None,
    }
}

fn one_or_many(v: &Value) -> Vec<&Value> {
    match v {
        Value::Sequence(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// What a policy's `Resource` names.
enum Target {
    Table,
    /// Indexes of the table whose names match (a trailing `*` or none).
    Indexes(String),
    Bucket,
    /// Objects under a prefix.
    Objects(String),
}

/// A `prefix*` pattern as its prefix.
fn prefix(pattern: &str) -> Result<String, String> {
    match pattern.strip_suffix('*') {
        Some(p) if !p.contains('*') && !p.contains('?') => Ok(p.to_string()),
        _ => Err(format!("`{pattern}` is not a prefix followed by *")),
    }
}

struct Names {
    table: String,
    bucket: String,
    indexes: Vec<String>,
}

impl Names {
    fn of(template: &Value) -> Result<Names, String> {
        let resources = template["Resources"].as_mapping().ok_or("no Resources")?;
        let only = |kind: &str| -> Result<(String, &Value), String> {
            let found: Vec<(String, &Value)> = resources
                .iter()
                .filter(|(_, r)| r["Type"].as_str() == Some(kind))
                .map(|(k, r)| (k.as_str().unwrap_or_default().to_string(), r))
                .collect();
            match found.as_slice() {
                [one] => Ok(one.clone()),
                _ => Err(format!(
                    "{} resources of type {kind}; the check expects one",
                    found.len()
                )),
            }
        };
        let (table, t) = only("AWS::DynamoDB::Table")?;
        let (bucket, _) = only("AWS::S3::Bucket")?;
        let indexes = t["Properties"]["GlobalSecondaryIndexes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|i| i["IndexName"].as_str().map(str::to_string))
            .collect();
        Ok(Names { table, bucket, indexes })
    }

    fn target(&self, resource: &Value) -> Result<Target, String> {
        let (name, arg) = intrinsic(resource).ok_or_else(|| format!("a literal resource {resource:?}"))?;
        match name.as_str() {
            "GetAtt" => {
                let parts = match arg {
                    Value::String(s) => s.split('.').map(str::to_string).collect(),
                    other => strings(other).unwrap_or_default(),
                };
                match parts.as_slice() {
                    [r, a] if *r == self.table && a == "Arn" => Ok(Target::Table),
                    [r, a] if *r == self.bucket && a == "Arn" => Ok(Target::Bucket),
                    _ => Err(format!("!GetAtt {parts:?}: neither the table's nor the bucket's ARN")),
                }
            }
            "Sub" => {
                let s = arg.as_str().ok_or("!Sub with variables")?;
                if let Some(rest) = s.strip_prefix(&format!("${{{}.Arn}}/index/", self.table)) {
                    return Ok(Target::Indexes(rest.to_string()));
                }
                if let Some(rest) = s.strip_prefix(&format!("${{{}.Arn}}/", self.bucket)) {
                    return prefix(rest).map(Target::Objects);
                }
                Err(format!("!Sub {s}: not under the table's or the bucket's ARN"))
            }
            other => Err(format!("!{other} as a resource")),
        }
    }

    fn indexes_matching(&self, pattern: &str) -> Vec<String> {
        self.indexes
            .iter()
            .filter(|n| match pattern.strip_suffix('*') {
                Some(p) => n.starts_with(p),
                None => *n == pattern,
            })
            .cloned()
            .collect()
    }
}

/// The store permissions one statement grants.
fn statement_permissions(names: &Names, st: &Value) -> Result<BTreeSet<Permission>, String> {
    let sid = st["Sid"].as_str().unwrap_or("(no Sid)");
    let fail = |what: String| format!("{sid}: {what}");
    let m = st.as_mapping().ok_or_else(|| fail("not a mapping".into()))?;
    for key in m.keys().filter_map(Value::as_str) {
        if !["Sid", "Effect", "Action", "Resource", "Condition"].contains(&key) {
            return Err(fail(format!("{key} is not checked")));
        }
    }
    if st["Effect"].as_str() != Some("Allow") {
        return Err(fail("only Allow statements are checked".into()));
    }
    let actions = strings(&st["Action"]).ok_or_else(|| fail("Action is not a string or a list".into()))?;
    let actions: Vec<String> = actions
        .into_iter()
        .filter(|a| a.starts_with("dynamodb:") || a.starts_with("s3:"))
        .collect();
    if actions.is_empty() {
        return Ok(BTreeSet::new());
    }
    if let Some(a) = actions.iter().find(|a| a.contains('*')) {
        return Err(fail(format!("the wildcard action {a}")));
    }
    let (mut leading, mut s3_prefix) = (None, None);
    if let Some(condition) = st.get("Condition") {
        let condition = condition.as_mapping().ok_or_else(|| fail("Condition".into()))?;
        for (op, keys) in condition {
            for (key, values) in keys.as_mapping().into_iter().flatten() {
                let patterns = strings(values).ok_or_else(|| fail(format!("{key:?} values")))?;
                let prefixes: Vec<String> = patterns
                    .iter()
                    .map(|p| prefix(p))
                    .collect::<Result<_, _>>()
                    .map_err(fail)?;
                match (op.as_str(), key.as_str()) {
                    (Some("ForAllValues:StringLike"), Some("dynamodb:LeadingKeys")) => leading = Some(prefixes),
                    (Some("StringLike"), Some("s3:prefix")) => s3_prefix = Some(prefixes),
                    _ => return Err(fail(format!("the condition {op:?} {key:?} is not checked"))),
                }
            }
        }
    }
    let (mut used_leading, mut used_prefix) = (false, false);
    let mut out = BTreeSet::new();
    for resource in one_or_many(&st["Resource"]) {
        let target = names.target(resource).map_err(fail)?;
        for action in &actions {
            let grant = |scope| Permission {
                action: action.clone(),
                scope,
            };
            match (&target, action.starts_with("dynamodb:"), action == "s3:ListBucket") {
                (Target::Table, true, _) => {
                    used_leading = leading.is_some();
                    for p in leading.clone().unwrap_or_else(|| vec![String::new()]) {
                        out.insert(grant(Scope::Items(p)));
                    }
                }
                (Target::Indexes(pattern), true, _) => {
                    if leading.is_some() {
                        return Err(fail("dynamodb:LeadingKeys on an index (its keys are digests)".into()));
                    }
                    let matching = names.indexes_matching(pattern);
                    if matching.is_empty() {
                        return Err(fail(format!("index/{pattern} names no index")));
                    }
                    out.extend(matching.into_iter().map(|n| grant(Scope::Index(n))));
                }
                (Target::Bucket, false, true) => {
                    used_prefix = s3_prefix.is_some();
                    for p in s3_prefix.clone().unwrap_or_else(|| vec![String::new()]) {
                        out.insert(grant(Scope::Listing(p)));
                    }
                }
                (Target::Objects(p), false, false) => {
                    out.insert(grant(Scope::Objects(p.clone())));
                }
                _ => return Err(fail(format!("{action} on a resource it does not apply to"))),
            }
        }
    }
    if leading.is_some() && !used_leading || s3_prefix.is_some() && !used_prefix {
        return Err(fail("a condition that limits none of its grants".into()));
    }
    Ok(out)
}

/// Everything wrong with the template's store grants, as the table sees it.
fn problems(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let names = match Names::of(template) {
        Ok(n) => n,
        Err(e) => return vec![e],
    };
    if template["Globals"]["Function"].get("Policies").is_some()
        || template["Globals"]["Function"].get("Role").is_some()
    {
        found.push("Globals give every function a policy or role".into());
    }
    let resources = template["Resources"].as_mapping().cloned().unwrap_or_default();
    let mut seen = BTreeSet::new();
    for (id, r) in &resources {
        let id = id.as_str().unwrap_or_default();
        let kind = r["Type"].as_str().unwrap_or_default();
        if kind.starts_with("AWS::IAM::") || kind == "AWS::Lambda::Function" {
            found.push(format!("{id}: a {kind} the check does not read"));
        }
        if kind != "AWS::Serverless::Function" {
            continue;
        }
        let Some(function) = runledger::store::capabilities::function(id) else {
            found.push(format!("{id}: not in store::capabilities::FUNCTIONS"));
            continue;
        };
        seen.insert(id.to_string());
        if r["Metadata"]["BuildProperties"]["Binary"].as_str() != Some(function.binary) {
            found.push(format!("{id}: builds another binary than {}", function.binary));
        }
        let props = &r["Properties"];
        if props.get("Role").is_some() {
            found.push(format!("{id}: a Role of its own, which the check does not read"));
        }
        let mut granted = BTreeSet::new();
        for policy in props.get("Policies").map(one_or_many).unwrap_or_default() {
            let Some(statements) = policy.as_mapping().and_then(|p| p.get("Statement")) else {
                found.push(format!(
                    "{id}: a policy that is not an inline Statement list: {policy:?}"
                ));
                continue;
            };
            for st in one_or_many(statements) {
                match statement_permissions(&names, st) {
                    Ok(p) => granted.extend(p),
                    Err(e) => found.push(format!("{id}: {e}")),
                }
            }
        }
        let wanted = function.permissions();
        for p in granted.difference(&wanted) {
            found.push(format!("{id} grants {p}, beyond its capabilities"));
        }
        for p in wanted.difference(&granted) {
            found.push(format!("{id} lacks {p}"));
        }
    }
    for f in FUNCTIONS {
        if !seen.contains(f.logical_id) {
            found.push(format!("{}: in the table, not in the template", f.logical_id));
        }
    }
    found
}

#[test]
fn every_function_is_granted_exactly_what_its_capabilities_need() {
    let found = problems(&template());
    assert!(found.is_empty(), "infra/template.yaml:\n  {}", found.join("\n  "));
}

fn statements_mut<'a>(template: &'a mut Value, function: &str) -> &'a mut Vec<Value> {
    let policies = template["Resources"][function]["Properties"]["Policies"]
        .as_sequence_mut()
        .unwrap();
    policies[0]
        .as_mapping_mut()
        .and_then(|p| p.get_mut("Statement"))
        .and_then(Value::as_sequence_mut)
        .unwrap()
}

fn sid(st: &Value) -> &str {
    st["Sid"].as_str().unwrap_or_default()
}

#[test]
fn the_check_refuses_a_missing_and_an_extra_grant() {
    let mut t = template();
    statements_mut(&mut t, "ExportFunction").retain(|st| sid(st) != "ReadCounters");
    let found = problems(&t);
    assert!(
        found
            .iter()
            .any(|p| p == "ExportFunction lacks dynamodb:BatchGetItem on table items ST#*"),
        "{found:?}"
    );

    let mut t = template();
    let extra: Value = serde_yaml::from_str(
        "{Sid: Extra, Effect: Allow, Action: dynamodb:PutItem, Resource: !GetAtt Table.Arn, \
         Condition: {'ForAllValues:StringLike': {'dynamodb:LeadingKeys': ['EX#*']}}}",
    )
    .unwrap();
    statements_mut(&mut t, "GetFunction").push(extra);
    let found = problems(&t);
    assert_eq!(
        found,
        ["GetFunction grants dynamodb:PutItem on table items EX#*, beyond its capabilities"]
    );

    // A grant on the whole table, on an index it does not need or on every object is more too.
    let mut t = template();
    let indexes: Value = serde_yaml::from_str(
        "{Sid: Indexes, Effect: Allow, Action: dynamodb:Query, Resource: !Sub '${Table.Arn}/index/by*'}",
    )
    .unwrap();
    statements_mut(&mut t, "GetFunction").push(indexes);
    let found = problems(&t);
    assert_eq!(found.len(), 6, "{found:?}");
    assert!(found.contains(&"GetFunction grants dynamodb:Query on index byTrace, beyond its capabilities".to_string()));
    let mut t = template();
    for st in statements_mut(&mut t, "StepsFunction") {
        if sid(st) == "ReadExecution" {
            st.as_mapping_mut().unwrap().remove("Condition");
        }
    }
    assert!(problems(&t)
        .contains(&"StepsFunction grants dynamodb:Query on table items *, beyond its capabilities".to_string()));
    let mut t = template();
    for st in statements_mut(&mut t, "IngestFunction") {
        if sid(st) == "KeepRejected" {
            st["Resource"] = serde_yaml::from_str("!Sub \"${Bodies.Arn}/set-aside/*\"").unwrap();
        }
    }
    assert!(problems(&t)
        .contains(&"IngestFunction grants s3:PutObject on objects set-aside/*, beyond its capabilities".to_string()));
}

/// Stands in for an argument of an entry point that is compiled, never called.
fn any<T>() -> T {
    unreachable!("compiled for its types only")
}

/// Each function's entry point, over a store bound by exactly the capabilities the table gives the
/// function: compiles only while none needs another.
macro_rules! entry_points {
    ($($binary:ident: [$($cap:ident),*] => |$store:ident| $call:expr;)*) => {
        #[allow(dead_code, unused_variables)]
        mod entry_points {
            use super::*;
            $(pub async fn $binary<S: $($cap +)* Sync>($store: &S) { let _ = $call.await; })*
        }

        fn bounds() -> Vec<(&'static str, Vec<&'static str>)> {
            vec![$((stringify!($binary), vec![$(stringify!($cap)),*])),*]
        }
    };
}

use runledger::api::http::{Routed, Service};

entry_points! {
    list: [ReadKeys, ListExecutions, ListLogs, ReadTrace, ReadStats, LinkBodies] =>
        |store| Service { settings: &any(), store, process: &any() }.listings(any::<Routed<'_>>(), any());
    get: [ReadKeys, ReadExecution, LinkBodies] => |store| Service { settings: &any(), store, process: &any() }.get(any::<Routed<'_>>(), any());
    steps: [ReadKeys, ReadExecution] => |store| Service { settings: &any(), store, process: &any() }.steps(any::<Routed<'_>>(), any());
    step: [ReadKeys, ReadStep, LinkBodies] => |store| Service { settings: &any(), store, process: &any() }.step(any::<Routed<'_>>(), any());
    ingest: [CommitUnits, AppendLogs, NoteProjectDays, NoteWrites, SetAside] => |store| async {
        let payload: Box<serde_json::value::RawValue> = any();
        runledger::ingest::lambda::handle_invocation(store, &any(), &any(), &payload, any()).await
    };
    archive: [ArchiveRecords] => |store| runledger::archive::archive_batch(store, &any());
    console: [] => |store| async {};
    stats: [KeepStats, SetAside] => |store| runledger::stats::feed::count_batch(store, &any());
    export: [ListExecutions, ListLogs, ExportRecords] => |store| async {
        let _ = runledger::export::export(store, &any(), any()).await;
        let _ = runledger::export::queue::enqueue(store, &any::<runledger::export::queue::SqsUnits>(), any()).await;
        runledger::export::export_changed(store, any(), any()).await
    };
    export_worker: [ListExecutions, ListLogs, ExportRecords] => |store| runledger::export::queue::work(store, &any());
}

#[test]
fn the_table_names_each_entry_points_bound() {
    let bounds = bounds();
    assert_eq!(bounds.len(), FUNCTIONS.len());
    for f in FUNCTIONS {
        let (_, caps) = bounds.iter().find(|(b, _)| *b == f.binary).expect(f.binary);
        let listed: Vec<&str> = f.uses.iter().map(|u| u.capability.name).collect();
        assert_eq!(&listed, caps, "{}", f.logical_id);
    }
}
