//! The domain: the records users see, each field defined once (`Field`), the merge state of a record,
//! the rules every stored value obeys, and the limits. Pure: no AWS types.

pub mod api_key;
pub mod counts;
pub mod fields;
pub mod limits;
pub mod logs;
pub mod merge;
pub mod records;
pub mod status;
pub mod values;

pub use fields::{Field, Kind, RecordKind};
pub use logs::{EventLog, Level, LogField};
pub use records::{ErrorSummary, ExecutionSummary, StepSummary};
pub use status::Status;
