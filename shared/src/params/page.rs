//! `GET .../step-executions`: a page of an execution's steps.

use super::{cursor, known, limit};
use crate::error::ApiError;

/// `limit` and `cursor` of a page of steps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageParams {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let get = known(pairs, &["limit", "cursor"])?;
        Ok(PageParams {
            limit: limit(get("limit"))?,
            cursor: cursor(get("cursor"))?,
        })
    }
}
