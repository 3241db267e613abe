//! What each capability trait asks of DynamoDB and S3, as IAM authorizes it, and which capabilities
//! each function of infra/template.yaml holds: the one source its IAM policies are checked against
//! (`shared/tests/policies.rs` wants each function's policy to grant exactly the union of its
//! capabilities' grants, no more and no less).
//!
//! Each method lists every request it can make through the backend (`store/dynamo/`), whatever
//! path it takes: keyword search, a total from counters (`counter::total` reads `ReadStats`'
//! counters) and the listing it falls back to, a retry after a lost race. Scopes are what IAM can
//! tell apart: table items by partition-key prefix (`dynamodb:LeadingKeys`), secondary indexes by
//! name (an index's partition keys are digests, so they carry no prefix), objects and bucket
//! listings by key prefix. IAM authorizes each item of a TransactWriteItems as its own PutItem or
//! UpdateItem, so that is what a transaction lists. A function holds each capability whole, except
//! where a `Use` names the methods it calls (`SetAside`, see `sets_aside`).

use super::{api_key, body, counter, event_log, execution, exports, project_day, set_aside, shard_layout};
use std::collections::BTreeSet;
use std::fmt;

/// Where a request lands, as a policy scopes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    /// Table items whose partition key begins with this.
    Items(&'static str),
    /// A secondary index of the table, by name.
    Index(&'static str),
    /// Bucket objects whose key begins with this; `{consumer}` stands for the function's
    /// set-aside consumer (`Use::consumer`).
    Objects(&'static str),
    /// The bucket's listing under this key prefix (`s3:prefix`).
    Listing(&'static str),
}

/// Why a method needs a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// A request the method makes.
    Call,
    /// A URL the method signs: S3 authorizes its holder's request as the function's role.
    Presigned,
    /// No request: with it S3 answers a read of a missing object NoSuchKey, not AccessDenied (the
    /// method reports such a body as missing either way; this tells the two apart).
    TellsMissing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub action: &'static str,
    pub on: On,
    pub how: How,
}

/// One method of a trait: its grants, in groups named for what needs them.
#[derive(Clone, Copy, Debug)]
pub struct Method {
    pub name: &'static str,
    pub parts: &'static [&'static [Grant]],
}

#[derive(Debug)]
pub struct Capability {
    /// The trait's name in `store`.
    pub name: &'static str,
    /// Every method of the trait, in declaration order.
    pub methods: &'static [Method],
}

const QUERY: &str = "dynamodb:Query";
const GET_ITEM: &str = "dynamodb:GetItem";
const BATCH_GET: &str = "dynamodb:BatchGetItem";
const PUT_ITEM: &str = "dynamodb:PutItem";
const UPDATE_ITEM: &str = "dynamodb:UpdateItem";
const GET_OBJECT: &str = "s3:GetObject";
const PUT_OBJECT: &str = "s3:PutObject";
const DELETE_OBJECT: &str = "s3:DeleteObject";
const LIST_BUCKET: &str = "s3:ListBucket";

// Partition-key prefixes, each from its entity's module.
const EXECUTIONS: On = On::Items(execution::PARTITION_PREFIX);
const LOGS: On = On::Items(event_log::PARTITION_PREFIX);
const API_KEYS: On = On::Items(api_key::KEY_PREFIX);
const PROJECT_KEYS: On = On::Items(api_key::PROJECT_PREFIX);
const REGISTER: On = On::Items(project_day::PARTITION_PREFIX);
const COUNTERS: On = On::Items(counter::PREFIX);
const LAYOUTS: On = On::Items(shard_layout::PARTITION_PREFIX);
// Object prefixes.
const BODIES: On = On::Objects(body::OBJECT_PREFIX);
const ARCHIVE: On = On::Objects(exports::ARCHIVE_PREFIX);
const EXPORTS: On = On::Objects(exports::EXPORT_PREFIX);
const SET_ASIDE_OWN: On = On::Objects("set-aside/{consumer}/");
const SET_ASIDE_ANY: On = On::Objects(set_aside::OBJECT_PREFIX);

const fn call(action: &'static str, on: On) -> Grant {
    Grant {
        action,
        on,
        how: How::Call,
    }
}

const fn method(name: &'static str, parts: &'static [&'static [Grant]]) -> Method {
    Method { name, parts }
}

/// A listing or a trace first reads the project's shard layout (`shard_layout`), unless this
/// process's copy still answers for the range.
const LAYOUT_READ: Grant = call(GET_ITEM, LAYOUTS);

/// A write of a listed record reads the layout of its time, and registers a record dated beyond
/// what the layout answers for (a guarded PutItem).
const LAYOUT_WRITE: &[Grant] = &[call(GET_ITEM, LAYOUTS), call(PUT_ITEM, LAYOUTS)];

/// An executions listing (`listing::plan`) Queries any dimension index or the project index, for a
/// page or (`Select COUNT`) a total.
const EXECUTION_LISTING: &[Grant] = &[
    LAYOUT_READ,
    call(QUERY, On::Index("byTrace")),
    call(QUERY, On::Index("byUser")),
    call(QUERY, On::Index("byWorkflow")),
    call(QUERY, On::Index("byIntegration")),
    call(QUERY, On::Index("byStatus")),
    call(QUERY, On::Index("byProject")),
];

/// A keyword search of executions (`matching::ExecutionSearch`): a BatchGetItem of fingerprints
/// and of summaries, Queries of the candidates' steps, reads of their offloaded bodies.
const EXECUTION_SEARCH: &[Grant] = &[
    call(BATCH_GET, EXECUTIONS),
    call(QUERY, EXECUTIONS),
    call(GET_OBJECT, BODIES),
];

/// An event-log listing (`listing::plan_logs`) Queries the trace, user, workflow or integration
/// index, else the project's log partitions of the table; entries from an index are read whole
/// with BatchGetItem (`matching::LogRefine`).
const LOG_LISTING: &[Grant] = &[
    LAYOUT_READ,
    call(QUERY, On::Index("byTrace")),
    call(QUERY, On::Index("byUser")),
    call(QUERY, On::Index("byWorkflow")),
    call(QUERY, On::Index("byIntegration")),
    call(QUERY, LOGS),
    call(BATCH_GET, LOGS),
];

/// A keyword search of event logs reads their offloaded payloads and error details.
const LOG_SEARCH: &[Grant] = &[call(GET_OBJECT, BODIES)];

/// Counters (`ReadStats::counters`): BatchGetItem for one value's hours, Query for days and
/// ranges. A total (`counter::total`) reads them for whole hours and days, and counts the edges
/// by listing; a total they cannot give (a search, several dimensions) is counted by listing.
const COUNTER_READS: &[Grant] = &[call(BATCH_GET, COUNTERS), call(QUERY, COUNTERS)];

/// A record's bodies read whole (`Ledger::whole`), which lists the ones that are gone.
const WHOLE: &[Grant] = &[
    call(GET_OBJECT, BODIES),
    Grant {
        action: LIST_BUCKET,
        on: On::Listing("bodies/"),
        how: How::TellsMissing,
    },
];

pub const LIST_EXECUTIONS: Capability = Capability {
    name: "ListExecutions",
    methods: &[
        method("list_executions", &[EXECUTION_LISTING, EXECUTION_SEARCH]),
        method(
            "count_executions",
            &[COUNTER_READS, EXECUTION_LISTING, EXECUTION_SEARCH],
        ),
    ],
};

pub const LIST_LOGS: Capability = Capability {
    name: "ListLogs",
    methods: &[
        method("list_logs", &[LOG_LISTING, LOG_SEARCH]),
        method("count_logs", &[COUNTER_READS, LOG_LISTING, LOG_SEARCH]),
    ],
};

pub const READ_TRACE: Capability = Capability {
    name: "ReadTrace",
    methods: &[method("trace", &[&[LAYOUT_READ, call(QUERY, On::Index("byTrace"))]])],
};

pub const READ_EXECUTION: Capability = Capability {
    name: "ReadExecution",
    // The summary and its steps, one Query of the execution's items.
    methods: &[
        method("execution", &[&[call(QUERY, EXECUTIONS)]]),
        method("steps", &[&[call(QUERY, EXECUTIONS)]]),
    ],
};

pub const READ_STEP: Capability = Capability {
    name: "ReadStep",
    methods: &[method("step", &[&[call(GET_ITEM, EXECUTIONS)]])],
};

pub const LINK_BODIES: Capability = Capability {
    name: "LinkBodies",
    methods: &[method(
        "presign",
        &[&[Grant {
            action: GET_OBJECT,
            on: BODIES,
            how: How::Presigned,
        }]],
    )],
};

pub const READ_KEYS: Capability = Capability {
    name: "ReadKeys",
    methods: &[method("api_key", &[&[call(GET_ITEM, API_KEYS)]])],
};

pub const COMMIT_UNITS: Capability = Capability {
    name: "CommitUnits",
    methods: &[
        // Units and fingerprints, both execution items.
        method("load_units", &[&[call(BATCH_GET, EXECUTIONS)]]),
        method("commit_tokens", &[&[call(PUT_ITEM, EXECUTIONS)]]),
        method("put_body", &[&[call(PUT_OBJECT, BODIES)]]),
        method("commit", &[&[call(PUT_ITEM, EXECUTIONS)], LAYOUT_WRITE]),
    ],
};

pub const APPEND_LOGS: Capability = Capability {
    name: "AppendLogs",
    methods: &[
        method("put_log_body", &[&[call(PUT_OBJECT, BODIES)]]),
        method("append_log", &[&[call(PUT_ITEM, LOGS)], LAYOUT_WRITE]),
    ],
};

pub const ARCHIVE_RECORDS: Capability = Capability {
    name: "ArchiveRecords",
    methods: &[
        method("archived", &[WHOLE]),
        method("put_archive", &[&[call(PUT_OBJECT, ARCHIVE)]]),
    ],
};

pub const EXPORT_RECORDS: Capability = Capability {
    name: "ExportRecords",
    methods: &[
        method("execution_records", &[&[call(QUERY, EXECUTIONS)], WHOLE]),
        method("log_record", &[WHOLE]),
        method("put_export", &[&[call(PUT_OBJECT, EXPORTS)]]),
        method("read_export", &[&[call(GET_OBJECT, EXPORTS)]]),
        method("export_names", &[&[call(LIST_BUCKET, On::Listing("exports/"))]]),
        method("delete_export", &[&[call(DELETE_OBJECT, EXPORTS)]]),
        method("project_days", &[&[call(QUERY, REGISTER)]]),
        method("mark_exported", &[&[call(UPDATE_ITEM, REGISTER)]]),
        method("retention_days", &[]),
    ],
};

pub const NOTE_PROJECT_DAYS: Capability = Capability {
    name: "NoteProjectDays",
    methods: &[
        method("note_project_day", &[&[call(UPDATE_ITEM, REGISTER)]]),
        // Execution summaries, for the day of a step's execution.
        method("execution_days", &[&[call(BATCH_GET, EXECUTIONS)]]),
    ],
};

pub const ADMIN_KEYS: Capability = Capability {
    name: "AdminKeys",
    methods: &[
        // One TransactWriteItems of the lookup and the project's listing entry.
        method(
            "create_key",
            &[&[call(PUT_ITEM, API_KEYS), call(PUT_ITEM, PROJECT_KEYS)]],
        ),
        method("key", &[&[call(GET_ITEM, API_KEYS)]]),
        method("project_keys", &[&[call(QUERY, PROJECT_KEYS)]]),
        // One TransactWriteItems updating both entries.
        method(
            "revoke_key",
            &[&[call(UPDATE_ITEM, API_KEYS), call(UPDATE_ITEM, PROJECT_KEYS)]],
        ),
    ],
};

pub const ADMIN_SHARDS: Capability = Capability {
    name: "AdminShards",
    methods: &[
        method("shard_layout", &[&[call(GET_ITEM, LAYOUTS)]]),
        // Read, then a PutItem guarded by the version read.
        method("set_shards", &[&[call(GET_ITEM, LAYOUTS), call(PUT_ITEM, LAYOUTS)]]),
    ],
};

pub const KEEP_STATS: Capability = Capability {
    name: "KeepStats",
    // The guarded addition and the removal of expired marks, and a strongly consistent read of
    // the counter after a lost race.
    methods: &[method(
        "add_counts",
        &[&[call(UPDATE_ITEM, COUNTERS), call(GET_ITEM, COUNTERS)]],
    )],
};

pub const NOTE_WRITES: Capability = Capability {
    name: "NoteWrites",
    methods: &[method("note_writes", &[&[call(UPDATE_ITEM, COUNTERS)]])],
};

pub const READ_STATS: Capability = Capability {
    name: "ReadStats",
    methods: &[method("counters", &[COUNTER_READS])],
};

pub const SET_ASIDE: Capability = Capability {
    name: "SetAside",
    methods: &[
        method("set_aside", &[&[call(PUT_OBJECT, SET_ASIDE_OWN)]]),
        // Any consumer's record, by key: the `runledger set-aside` replay.
        method("set_aside_record", &[&[call(GET_OBJECT, SET_ASIDE_ANY)]]),
    ],
};

/// Every capability trait.
pub const CAPABILITIES: [&Capability; 18] = [
    &LIST_EXECUTIONS,
    &LIST_LOGS,
    &READ_TRACE,
    &READ_EXECUTION,
    &READ_STEP,
    &LINK_BODIES,
    &READ_KEYS,
    &COMMIT_UNITS,
    &APPEND_LOGS,
    &ARCHIVE_RECORDS,
    &EXPORT_RECORDS,
    &NOTE_PROJECT_DAYS,
    &ADMIN_KEYS,
    &ADMIN_SHARDS,
    &KEEP_STATS,
    &NOTE_WRITES,
    &READ_STATS,
    &SET_ASIDE,
];

/// A grant with its scope spelled out: what a policy statement allows, one action on one scope.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    pub action: String,
    pub scope: Scope,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Items whose partition key begins with this; empty: every item.
    Items(String),
    Index(String),
    /// Objects whose key begins with this; empty: every object.
    Objects(String),
    /// The listing under this prefix; empty: the whole bucket.
    Listing(String),
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Scope::Items(p) => write!(f, "{} on table items {p}*", self.action),
            Scope::Index(name) => write!(f, "{} on index {name}", self.action),
            Scope::Objects(p) => write!(f, "{} on objects {p}*", self.action),
            Scope::Listing(p) => write!(f, "{} on the bucket under {p}*", self.action),
        }
    }
}

impl Grant {
    pub fn permission(&self, consumer: Option<&str>) -> Permission {
        let bind = |p: &str| match consumer {
            Some(c) => p.replace("{consumer}", c),
            None => p.to_string(),
        };
        let scope = match self.on {
            On::Items(p) => Scope::Items(p.to_string()),
            On::Index(name) => Scope::Index(name.to_string()),
            On::Objects(p) => Scope::Objects(bind(p)),
            On::Listing(p) => Scope::Listing(bind(p)),
        };
        Permission {
            action: self.action.to_string(),
            scope,
        }
    }
}

impl Method {
    pub fn grants(&self) -> impl Iterator<Item = &'static Grant> {
        self.parts.iter().flat_map(|part| part.iter())
    }
}

impl Capability {
    pub fn method(&self, name: &str) -> Option<&Method> {
        self.methods.iter().find(|m| m.name == name)
    }
}

mod functions;
pub use functions::{function, Function, Use, FUNCTIONS};

#[cfg(test)]
mod tests {
    use super::super::index::ListIndex;
    use super::*;
    use crate::model::counts::{Dimension, Family};

    #[test]
    fn names_are_unique_and_every_only_names_a_method() {
        let names: BTreeSet<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), CAPABILITIES.len());
        for c in CAPABILITIES {
            let methods: BTreeSet<&str> = c.methods.iter().map(|m| m.name).collect();
            assert_eq!(methods.len(), c.methods.len(), "{}", c.name);
        }
        for f in FUNCTIONS {
            for u in f.uses {
                assert!(
                    CAPABILITIES.iter().any(|c| std::ptr::eq(*c, u.capability)),
                    "{}: {} is not in CAPABILITIES",
                    f.logical_id,
                    u.capability.name
                );
                for name in u.only.unwrap_or_default() {
                    assert!(
                        u.capability.method(name).is_some(),
                        "{}: {}::{name}",
                        f.logical_id,
                        u.capability.name
                    );
                }
                let placeholder = u.permissions().iter().any(|p| format!("{p}").contains("{consumer}"));
                assert!(!placeholder, "{}: {} needs a consumer", f.logical_id, u.capability.name);
            }
        }
    }

    /// `pub trait` declarations under `src/store`: each trait's methods in order.
    fn declared_traits() -> Vec<(String, Vec<String>)> {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut paths = Vec::new();
        files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store"),
            &mut paths,
        );
        let mut traits = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines = text.lines();
            while let Some(line) = lines.next() {
                let Some(rest) = line.strip_prefix("pub trait ") else {
                    continue;
                };
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let mut methods = Vec::new();
                if !line.trim_end().ends_with("{}") {
                    for body in lines.by_ref().take_while(|l| *l != "}") {
                        if let Some(sig) = body.trim_start().strip_prefix("fn ") {
                            methods.push(sig.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
                        }
                    }
                }
                traits.push((name, methods));
            }
        }
        traits
    }

    #[test]
    fn every_trait_method_is_in_the_table() {
        let declared = declared_traits();
        for c in CAPABILITIES {
            let found: Vec<&Vec<String>> = declared.iter().filter(|(n, _)| n == c.name).map(|(_, m)| m).collect();
            assert_eq!(found.len(), 1, "one `pub trait {}` in src/store", c.name);
            let listed: Vec<&str> = c.methods.iter().map(|m| m.name).collect();
            assert_eq!(found[0], &listed, "the methods of {}, in order", c.name);
        }
        // Every trait implemented on `Ledger` alone is a capability (composites and the backend's
        // own traits are not).
        let not_capabilities = ["Backend", "Refine", "Ingests"];
        for (name, _) in &declared {
            assert!(
                not_capabilities.contains(&name.as_str()) || CAPABILITIES.iter().any(|c| c.name == name),
                "`pub trait {name}` in src/store is not in the capability table"
            );
        }
    }

    #[test]
    fn scopes_are_the_stores_key_formats() {
        let at = crate::dates::parse("2026-11-01T00:00:00Z").unwrap();
        for (on, pk) in [
            (EXECUTIONS, execution::execution_pk("p", "e")),
            (LOGS, event_log::log_pk("p", "2026-11", 0, 1)),
            (API_KEYS, api_key::key_lookup("k").0),
            (PROJECT_KEYS, api_key::project_keys("p").0),
            (REGISTER, project_day::day_register_key("p", "2026-11-01").0),
            (REGISTER, project_day::legacy_day_pk("2026-11-01")),
            (
                COUNTERS,
                counter::partition("p", Family::Executions, Dimension::All, at),
            ),
        ] {
            let On::Items(prefix) = on else { unreachable!() };
            assert!(pk.starts_with(prefix), "{pk} under {prefix}");
        }
        for (on, key) in [
            (BODIES, body::body_object_key("p", Some("e"), "00")),
            (BODIES, body::body_object_key("p", None, "00")),
            (ARCHIVE, exports::archive_object_key("p", "2026-11-01", "x")),
            (EXPORTS, exports::export_object_key("p", "2026-11-01", "x")),
            (SET_ASIDE_ANY, set_aside::object_key("c", "2026-11-01", "x")),
        ] {
            let On::Objects(prefix) = on else { unreachable!() };
            assert!(key.starts_with(prefix), "{key} under {prefix}");
        }
        let own = call(PUT_OBJECT, SET_ASIDE_OWN).permission(Some("c"));
        let Scope::Objects(prefix) = own.scope else {
            unreachable!()
        };
        assert!(set_aside::object_key("c", "2026-11-01", "x").starts_with(&prefix));
    }

    #[test]
    fn listings_name_the_indexes_their_plans_may_choose() {
        let all: BTreeSet<String> = ListIndex::ALL
            .iter()
            .filter_map(|i| i.index_name())
            .map(str::to_string)
            .collect();
        let indexes = |c: &Capability, method: &str| -> BTreeSet<String> {
            let m = c.method(method).unwrap();
            m.grants()
                .filter_map(|g| match g.on {
                    On::Index(name) => Some(name.to_string()),
                    _ => None,
                })
                .collect()
        };
        for m in ["list_executions", "count_executions"] {
            assert_eq!(indexes(&LIST_EXECUTIONS, m), all, "{m}");
        }
        let logs: BTreeSet<String> = [
            ListIndex::Trace,
            ListIndex::User,
            ListIndex::Workflow,
            ListIndex::Integration,
        ]
        .iter()
        .filter(|i| i.log_field().is_some())
        .filter_map(|i| i.index_name())
        .map(str::to_string)
        .collect();
        for m in ["list_logs", "count_logs"] {
            assert_eq!(indexes(&LIST_LOGS, m), logs, "{m}");
        }
        assert_eq!(indexes(&READ_TRACE, "trace"), BTreeSet::from(["byTrace".to_string()]));
    }
}
