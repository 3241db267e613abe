//! What ingest answers: one outcome per event, and the report the producer gets.

use serde::Serialize;

/// Per-event result codes.
pub mod codes {
    pub const INVALID_EVENT: &str = "invalid_event";
    pub const EXPIRED: &str = "expired";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const STORE_REJECTED: &str = "store_rejected";
    /// Notes: the event was taken, but part of it was not.
    pub const DATE_STARTED_KEPT: &str = "date_started_kept";
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Duplicate,
    /// Stored (or a duplicate), with something the producer should know.
    Noted {
        accepted: bool,
        code: &'static str,
        message: String,
    },
    Rejected {
        code: &'static str,
        message: String,
    },
}

impl Outcome {
    pub fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        Outcome::Rejected {
            code,
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: Vec<Rejection>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Rejection>,
}

/// A rejected event, or a note on a stored one: its index in the envelope and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub code: &'static str,
    pub message: String,
}

impl Report {
    pub fn from_outcomes(outcomes: &[Outcome]) -> Self {
        let mut r = Report::default();
        for (index, o) in outcomes.iter().enumerate() {
            match o {
                Outcome::Accepted => r.accepted += 1,
                Outcome::Duplicate => r.duplicates += 1,
                Outcome::Noted {
                    accepted,
                    code,
                    message,
                } => {
                    if *accepted {
                        r.accepted += 1;
                    } else {
                        r.duplicates += 1;
                    }
                    r.notes.push(Rejection {
                        index,
                        code,
                        message: message.clone(),
                    });
                }
                Outcome::Rejected { code, message } => r.rejected.push(Rejection {
                    index,
                    code,
                    message: message.clone(),
                }),
            }
        }
        r
    }
}
