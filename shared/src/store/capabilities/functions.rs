//! Which capabilities each function of infra/template.yaml holds.

use super::*;
use crate::store::set_aside;

/// A capability as one function holds it.
#[derive(Clone, Copy, Debug)]
pub struct Use {
    pub capability: &'static Capability,
    /// The methods the function calls, when that is fewer than the trait has.
    pub only: Option<&'static [&'static str]>,
    /// The consumer the function sets records aside as (`SetAside`).
    pub consumer: Option<&'static str>,
}

const fn all(capability: &'static Capability) -> Use {
    Use {
        capability,
        only: None,
        consumer: None,
    }
}

/// `SetAside` as a stream or queue consumer holds it: it keeps records under its own prefix and
/// reads none back. The trait also carries the CLI's replay (`set_aside_record`, any consumer's
/// records), which no function calls; granting it with the trait would let every consumer read
/// every other's, so the use names the one method it calls.
const fn sets_aside(consumer: &'static str) -> Use {
    Use {
        capability: &SET_ASIDE,
        only: Some(&["set_aside"]),
        consumer: Some(consumer),
    }
}

/// A function of infra/template.yaml and the capabilities its store is bound to.
#[derive(Clone, Copy, Debug)]
pub struct Function {
    /// The resource's logical id in the template.
    pub logical_id: &'static str,
    /// Its binary (`functions/src/bin`).
    pub binary: &'static str,
    pub uses: &'static [Use],
}

/// Every function of the template, with the capabilities of its entry point's bound (`entry.rs`):
/// `Service::listings`, `get`, `steps` and `step`, each behind `ReadKeys`; `ingest::Ingests`;
/// `archive::archive_batch`; `stats::feed::count_batch`; `export::export` and `export_changed`;
/// `export::queue::work`.
pub const FUNCTIONS: [Function; 10] = [
    Function {
        logical_id: "ListFunction",
        binary: "list",
        uses: &[
            all(&READ_KEYS),
            all(&LIST_EXECUTIONS),
            all(&LIST_LOGS),
            all(&READ_TRACE),
            all(&READ_STATS),
            all(&LINK_BODIES),
        ],
    },
    Function {
        logical_id: "GetFunction",
        binary: "get",
        uses: &[all(&READ_KEYS), all(&READ_EXECUTION), all(&LINK_BODIES)],
    },
    Function {
        logical_id: "StepsFunction",
        binary: "steps",
        uses: &[all(&READ_KEYS), all(&READ_EXECUTION)],
    },
    Function {
        logical_id: "StepFunction",
        binary: "step",
        uses: &[all(&READ_KEYS), all(&READ_STEP), all(&LINK_BODIES)],
    },
    Function {
        logical_id: "IngestFunction",
        binary: "ingest",
        uses: &[
            all(&COMMIT_UNITS),
            all(&APPEND_LOGS),
            all(&NOTE_PROJECT_DAYS),
            all(&NOTE_WRITES),
            sets_aside(set_aside::INGEST),
        ],
    },
    Function {
        logical_id: "ArchiveFunction",
        binary: "archive",
        uses: &[all(&ARCHIVE_RECORDS)],
    },
    // Serves compiled-in files: no store.
    Function {
        logical_id: "ConsoleFunction",
        binary: "console",
        uses: &[],
    },
    Function {
        logical_id: "StatsFunction",
        binary: "stats",
        uses: &[all(&KEEP_STATS), sets_aside(set_aside::STATS)],
    },
    Function {
        logical_id: "ExportFunction",
        binary: "export",
        uses: &[all(&LIST_EXECUTIONS), all(&LIST_LOGS), all(&EXPORT_RECORDS)],
    },
    // Writes queued units: it never reads the register, only marks the days it wrote.
    Function {
        logical_id: "ExportWorkerFunction",
        binary: "export_worker",
        uses: &[
            all(&LIST_EXECUTIONS),
            all(&LIST_LOGS),
            Use {
                capability: &EXPORT_RECORDS,
                only: Some(&[
                    "execution_records",
                    "log_record",
                    "put_export",
                    "read_export",
                    "export_names",
                    "delete_export",
                    "mark_exported",
                    "retention_days",
                ]),
                consumer: None,
            },
        ],
    },
];

impl Use {
    /// The methods this use covers; unknown names in `only` are left out (a test checks there
    /// are none).
    pub fn methods(&self) -> impl Iterator<Item = &'static Method> + '_ {
        let capability: &'static Capability = self.capability;
        capability
            .methods
            .iter()
            .filter(move |m| self.only.is_none_or(|only| only.contains(&m.name)))
    }

    pub fn permissions(&self) -> BTreeSet<Permission> {
        self.methods()
            .flat_map(Method::grants)
            .map(|g| g.permission(self.consumer))
            .collect()
    }
}

impl Function {
    /// What the function's policy must grant of DynamoDB and S3: its capabilities' grants.
    pub fn permissions(&self) -> BTreeSet<Permission> {
        self.uses.iter().flat_map(Use::permissions).collect()
    }
}

pub fn function(logical_id: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.logical_id == logical_id)
}
