//! Merge and planning: the events of one record merged, in arrival order, into what is stored, and
//! what must be written for it.

use super::report::{codes, Outcome};
use super::wire::Event;
use crate::bodies::{Body, BodySlot, Placement, StoredBody};
use crate::model::merge::{merge_fields, Fields};
use crate::model::Field;
use crate::store::{RecordBodies, StoredUnit, UnitCommit, UnitKey};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// What one record needs written: bodies to upload first, then the commit.
pub struct UnitWrite<'a> {
    pub event_indexes: Vec<usize>,
    pub uploads: Vec<&'a Body>,
    pub commit: UnitCommit,
}

/// The digest a merged state names for each body slot.
fn current_digest(fields: &Fields, slot: BodySlot) -> Option<&str> {
    let value: &Value = match slot {
        BodySlot::Input => &fields.get(&Field::Input)?.value,
        BodySlot::Output => &fields.get(&Field::Output)?.value,
        BodySlot::ErrorDetails => fields.get(&Field::Error)?.value.get("details")?,
    };
    value.as_str()
}

fn slot_mut(bodies: &mut RecordBodies, slot: BodySlot) -> &mut Option<StoredBody> {
    match slot {
        BodySlot::Input => &mut bodies.input,
        BodySlot::Output => &mut bodies.output,
        BodySlot::ErrorDetails => &mut bodies.error_details,
    }
}

/// Merges a record's events into its stored state; says what each event did.
pub fn plan_unit<'a>(
    key: &UnitKey,
    evs: &[(usize, &'a Event)],
    stored: Option<&StoredUnit>,
    inline_max: usize,
    retention_days: i64,
    now: DateTime<Utc>,
) -> (Option<UnitWrite<'a>>, Vec<(usize, Outcome)>) {
    let before: Fields = stored.map(|s| s.fields.clone()).unwrap_or_default();
    let mut fields = before.clone();
    let mut outcomes = Vec::new();
    for &(i, e) in evs {
        let merged = merge_fields(&mut fields, e.rank, &e.fields);
        let outcome = if merged.date_started_ignored {
            Outcome::Noted {
                accepted: merged.changed,
                code: codes::DATE_STARTED_KEPT,
                message: "dateStarted differs from the one first stored; the first is kept".into(),
            }
        } else if merged.changed {
            Outcome::Accepted
        } else {
            Outcome::Duplicate
        };
        outcomes.push((i, outcome));
    }
    if fields == before {
        return (None, outcomes);
    }

    let mut bodies = stored.map(|s| s.bodies.clone()).unwrap_or_default();
    let mut uploads = Vec::new();
    for slot in BodySlot::ALL {
        let want = current_digest(&fields, slot);
        let have = slot_mut(&mut bodies, slot);
        if have.as_ref().map(|b| b.sha256.as_str()) == want {
            continue;
        }
        let incoming = want.and_then(|sha| {
            evs.iter()
                .flat_map(|(_, e)| &e.bodies)
                .find(|(s, b)| *s == slot && b.sha256 == sha)
                .map(|(_, b)| b)
        });
        *have = incoming.map(|b| {
            let stored = StoredBody::new(b, inline_max);
            if stored.placement == Placement::External {
                uploads.push(b);
            }
            stored
        });
    }
    // Expiry is fixed at the first write, from the first dateStarted (which never moves); a record
    // dated ahead of the clock expires by the clock, so it never outlives its S3 bodies.
    let expires_at = stored.map(|s| s.expires_at).unwrap_or_else(|| {
        let started = fields
            .get(&Field::DateStarted)
            .and_then(|r| crate::dates::parse(r.value.as_str()?))
            .unwrap_or(now);
        (started.min(now) + chrono::Duration::days(retention_days)).timestamp()
    });
    let write = UnitWrite {
        event_indexes: evs.iter().map(|(i, _)| *i).collect(),
        uploads,
        commit: UnitCommit {
            key: key.clone(),
            fields,
            bodies,
            expected_version: stored.map(|s| s.version),
            expires_at,
        },
    };
    (Some(write), outcomes)
}
