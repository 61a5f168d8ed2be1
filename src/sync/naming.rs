//! File names made from resource ids, safe on every file system fhirdl's users keep backups on.
//!
//! An id names a file as it is, except when it cannot:
//! - ids equal but for case (see below);
//! - `.` and `..` (legal FHIR ids that mean "this folder" and "the parent folder"), ids ending
//!   in a dot (Windows drops it), and the names Windows reserves — `CON`, `PRN`, `AUX`, `NUL`,
//!   `COM0`–`COM9`, `LPT0`–`LPT9`, in any case, alone or before a dot (`con.txt`) — become
//!   `<id with each '.' as '-'>_<first 8 hex digits of SHA-256(id)>`: `..` → `--_xxxxxxxx`,
//!   `CON` → `CON_xxxxxxxx`.
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
            let stem = if !usable_as_is(id) {
                escaped(id)
            } else if folded.get(&id.to_lowercase()).copied().unwrap_or(0) > 1 {
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
    format!("{id}_{}", short_hash(id))
}

/// Whether `id` can name a file as it is (apart from case twins).
pub fn usable_as_is(id: &str) -> bool {
    const RESERVED: [&str; 4] = ["con", "prn", "aux", "nul"];
    if id == "." || id == ".." || id.ends_with('.') {
        return false;
    }
    let base = id.split('.').next().unwrap_or(id).to_ascii_lowercase();
    let numbered = (base.starts_with("com") || base.starts_with("lpt"))
        && base.len() == 4
        && base.as_bytes()[3].is_ascii_digit();
    !(RESERVED.contains(&base.as_str()) || numbered)
}

/// The stem of one id, without looking for case twins: the id, or its safe name.
pub fn single(id: &str) -> String {
    if usable_as_is(id) {
        id.to_string()
    } else {
        escaped(id)
    }
}

/// The stem of an id that cannot name a file as it is.
fn escaped(id: &str) -> String {
    format!("{}_{}", id.replace('.', "-"), short_hash(id))
}

fn short_hash(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
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

    #[test]
    fn ids_that_cannot_be_file_names_get_safe_ones() {
        let odd = [
            ".", "..", "a.", "CON", "con.txt", "Aux", "nul.1", "COM1", "lpt9.x", "a..b.",
        ];
        let s = stems(odd);
        for id in odd {
            let stem = &s[id];
            assert!(!usable_as_is(id), "{id}");
            assert!(stem.contains('_') && !stem.contains('.'), "{id} -> {stem}");
            assert!(usable_as_is(stem), "{id} -> {stem}");
        }
        assert!(s[".."].starts_with("--_"));
        assert!(s["CON"].starts_with("CON_"));
        let mut all: Vec<&String> = s.values().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), odd.len(), "collision-proof");
        for fine in ["console", "COM10", "com", "a.b", "nullable", "lpt", "x-1"] {
            assert!(usable_as_is(fine), "{fine}");
            assert_eq!(stems([fine])[fine], fine);
        }
    }
}
