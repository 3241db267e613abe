//! The stats function: it feeds the table's stream into the counters (`feed`). What a record
//! contributes and the counters' shapes are in `model::counts`; the store keeps the counter items.

pub mod feed;
