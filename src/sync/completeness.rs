//! How complete a type's copy is, measured by the run rather than assumed. Each type ends with
//! one [`Completeness`], shown in the summary, `--json`, `.fhirdl/last_run.json` and
//! `manifest.json`:
//!
//! - `complete`: the search's paging reached the total the server announced, or ended normally
//!   when it announced none;
//! - `recovered`: the first way of asking fell short or was refused, and another way (date
//!   slices, category by category with a count that agrees, status by status) got everything;
//! - `unverified`: fetched as well as the server allows, but nothing proves it is all (category
//!   by category and the server refuses to count);
//! - `partial`: known to be missing something (a count that is higher than what arrived, a
//!   search that failed, resources that could not be stored);
//! - `skipped`: not fetched at all (not granted, refused with 403, not offered).
//!
//! Only `complete` and `recovered` let a whole fetch remove stored resources the search did
//! not return: after anything less, what is not seen may still be on the server.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "status", content = "detail", rename_all = "lowercase")]
pub enum Completeness {
    #[default]
    Complete,
    /// How it was recovered.
    Recovered(String),
    /// Why it cannot be confirmed.
    Unverified(String),
    /// What is missing.
    Partial(String),
    /// Why it was not fetched.
    Skipped(String),
}

impl Completeness {
    /// The status word (`complete`, `recovered`, …).
    pub fn label(&self) -> &'static str {
        match self {
            Completeness::Complete => "complete",
            Completeness::Recovered(_) => "recovered",
            Completeness::Unverified(_) => "unverified",
            Completeness::Partial(_) => "partial",
            Completeness::Skipped(_) => "skipped",
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            Completeness::Complete => None,
            Completeness::Recovered(d)
            | Completeness::Unverified(d)
            | Completeness::Partial(d)
            | Completeness::Skipped(d) => Some(d),
        }
    }

    /// Whether the fetched set is known to be the whole type (so stored resources it lacks
    /// are gone from the server).
    pub fn is_whole(&self) -> bool {
        matches!(self, Completeness::Complete | Completeness::Recovered(_))
    }

    fn rank(&self) -> u8 {
        match self {
            Completeness::Complete => 0,
            Completeness::Recovered(_) => 1,
            Completeness::Unverified(_) => 2,
            Completeness::Partial(_) => 3,
            Completeness::Skipped(_) => 4,
        }
    }

    /// The worse of the two; when equally bad, both details are kept.
    pub fn and(self, other: Completeness) -> Completeness {
        if other.rank() > self.rank() {
            return other;
        }
        if other.rank() < self.rank() || self == other {
            return self;
        }
        let joined = match (self.detail(), other.detail()) {
            (Some(a), Some(b)) => format!("{a}; {b}"),
            _ => return self,
        };
        match self {
            Completeness::Recovered(_) => Completeness::Recovered(joined),
            Completeness::Unverified(_) => Completeness::Unverified(joined),
            Completeness::Partial(_) => Completeness::Partial(joined),
            Completeness::Skipped(_) => Completeness::Skipped(joined),
            Completeness::Complete => Completeness::Complete,
        }
    }

    /// `unverified`/`partial` with a note added to its detail; other statuses as they are.
    pub fn noting(self, note: &str) -> Completeness {
        match self {
            Completeness::Unverified(d) => Completeness::Unverified(format!("{d}; {note}")),
            Completeness::Partial(d) => Completeness::Partial(format!("{d}; {note}")),
            other => other,
        }
    }
}

impl std::fmt::Display for Completeness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.detail() {
            Some(d) => write!(f, "{} ({d})", self.label()),
            None => f.write_str(self.label()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worse_wins_and_equal_ones_keep_both_reasons() {
        let c = Completeness::Complete;
        let r = Completeness::Recovered("date slices".into());
        let u = Completeness::Unverified("no count".into());
        let p = Completeness::Partial("3 missing".into());
        assert_eq!(c.clone().and(r.clone()), r);
        assert_eq!(p.clone().and(u.clone()), p);
        assert_eq!(
            p.clone().and(Completeness::Partial("1 not stored".into())),
            Completeness::Partial("3 missing; 1 not stored".into())
        );
        assert!(c.is_whole() && r.is_whole() && !u.is_whole() && !p.is_whole());
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            serde_json::json!({"status": "unverified", "detail": "no count"})
        );
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"status": "complete"})
        );
        assert_eq!(u.to_string(), "unverified (no count)");
    }
}
