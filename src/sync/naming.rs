//! File names made from resource ids, safe on case-insensitive file systems.
//!
//! FHIR ids are case-sensitive (`abc` and `ABC` are two resources), but macOS and Windows file
//! systems usually are not: `json/Observation/abc.json` and `json/Observation/ABC.json` would be
//! one file there, and the second resource written would silently replace the first. So ids that
//! collide when compared without case are never used bare: each of them becomes
//! `<id>_<first 8 hex digits of SHA-256(id)>`. `_` cannot occur in a FHIR id, so such a stem never
//! equals another resource's plain id. The rule depends only on the set of ids, so the same
//! record always gives the same names.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// The file stem for each id of one resource type (ids must already be valid FHIR ids).
pub fn stems<'a>(ids: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    let ids: Vec<&str> = ids.into_iter().collect();
    let mut folded: HashMap<String, usize> = HashMap::new();
    for id in &ids {
        *folded.entry(id.to_lowercase()).or_default() += 1;
    }
    ids.iter()
        .map(|id| {
            let stem = if folded.get(&id.to_lowercase()).copied().unwrap_or(0) > 1 {
                disambiguated(id)
            } else {
                (*id).to_string()
            };
            ((*id).to_string(), stem)
        })
        .collect()
}

/// `<id>_<8 hex digits>`: the stem of an id that has a case-insensitive twin.
pub fn disambiguated(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{id}_{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_equal_but_for_case_get_distinct_stems() {
        let s = stems(["abc", "ABC", "Abc", "other", "x-1"]);
        assert_eq!(s["other"], "other");
        assert_eq!(s["x-1"], "x-1");
        let twins = [&s["abc"], &s["ABC"], &s["Abc"]];
        for t in twins {
            assert!(t.contains('_'), "{t}");
        }
        // Distinct even without case.
        let mut lower: Vec<String> = twins.iter().map(|t| t.to_lowercase()).collect();
        lower.sort();
        lower.dedup();
        assert_eq!(lower.len(), 3, "{twins:?}");
        // Deterministic, and independent of the order the ids come in.
        assert_eq!(stems(["ABC", "abc"])["abc"], stems(["abc", "ABC"])["abc"]);
        assert_eq!(s["abc"], disambiguated("abc"));
        // A lone id keeps its plain name.
        assert_eq!(stems(["ABC"])["ABC"], "ABC");
    }
}
