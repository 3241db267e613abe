//! Domain vocabulary: statuses and their merge ranks.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Queued,
        Status::Running,
        Status::Succeeded,
        Status::Failed,
        Status::Cancelled,
    ];

    /// Case-insensitive, as the contract allows in `status=`.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "QUEUED",
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled)
    }

    /// Merge rank of an event carrying this status. Every terminal status outranks every
    /// non-terminal one, so a late RUNNING never replaces an end state. Should a producer report two
    /// different end states, the more alarming one wins (FAILED over CANCELLED over SUCCEEDED), so
    /// the outcome does not depend on arrival order.
    pub fn rank(self) -> u8 {
        match self {
            Status::Queued => 0,
            Status::Running => 1,
            Status::Succeeded => 2,
            Status::Cancelled => 3,
            Status::Failed => 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively() {
        assert_eq!(Status::parse("failed"), Some(Status::Failed));
        assert_eq!(Status::parse("Running"), Some(Status::Running));
        assert_eq!(Status::parse("DONE"), None);
    }

    #[test]
    fn terminal_statuses_outrank_every_non_terminal_one() {
        for t in Status::ALL.into_iter().filter(|s| s.is_terminal()) {
            for n in Status::ALL.into_iter().filter(|s| !s.is_terminal()) {
                assert!(t.rank() > n.rank());
            }
        }
    }
}
