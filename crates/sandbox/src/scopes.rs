//! SMART scopes: which requested scopes the sandbox grants, and whether a granted scope string
//! lets a token read, search or write a resource type (v1 `patient/T.read` and `.write`, v2
//! `patient/T.rs`, `patient/T.cu`, and v2 granular scopes such as
//! `patient/Observation.rs?category=laboratory`, which allow only searches carrying that query).

use crate::catalog;
use crate::config::FhirFlavor;

/// What a FHIR request does with a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interaction {
    Read,
    Search,
    /// A PUT that makes a new resource (transactions).
    Create,
    /// A PUT that replaces one.
    Update,
}

/// The requested scopes the sandbox recognises, space separated, in request order.
pub(crate) fn grantable(requested: &str, flavor: FhirFlavor, v2: bool, extras: bool) -> String {
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split_whitespace() {
        if is_recognised(scope, flavor, v2, extras) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    granted.join(" ")
}

/// `extras`: the quirk-only types (CarePlan, Specimen, PractitionerRole) are served.
fn is_recognised(scope: &str, flavor: FhirFlavor, v2: bool, extras: bool) -> bool {
    match scope {
        "openid" | "fhirUser" | "launch/patient" | "offline_access" | "online_access" => true,
        _ => match resource_scope(scope) {
            Some((t, permission)) => {
                let known_type = t == "*"
                    || (catalog::kind_of(flavor, t).is_some() && (extras || !catalog::is_extra(t)));
                let v2_letters = !permission.is_empty()
                    && permission.chars().all(|c| "cruds".contains(c))
                    && permission.contains(['r', 'c', 'u']);
                let granular = query_of(scope).is_some();
                known_type
                    && ((!granular && (permission == "read" || permission == "write"))
                        || (v2 && v2_letters))
            }
            None => false,
        },
    }
}

/// `patient/Observation.rs` → `("Observation", "rs")` (a granular scope's query left out).
fn resource_scope(scope: &str) -> Option<(&str, &str)> {
    let target = scope.strip_prefix("patient/")?;
    target.split('?').next()?.split_once('.')
}

/// The query of a granular scope: `patient/Observation.rs?category=laboratory` → the pairs.
fn query_of(scope: &str) -> Option<Vec<(String, String)>> {
    let (_, query) = scope.split_once('?')?;
    Some(
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

/// `None` when `scope` lets a token search `resource_type` with any query; else the sets of
/// parameters (granular scopes) one of which a search must carry.
pub(crate) fn search_restrictions(
    scope: &str,
    resource_type: &str,
) -> Option<Vec<Vec<(String, String)>>> {
    restrictions(scope, resource_type, Interaction::Search)
}

/// `None` when `scope` permits `interaction` on every resource of `resource_type`; else the
/// granular queries one of which the request (a search) or the resource (a read) must match.
pub(crate) fn restrictions(
    scope: &str,
    resource_type: &str,
    interaction: Interaction,
) -> Option<Vec<Vec<(String, String)>>> {
    let mut alternatives = Vec::new();
    for s in scope.split_whitespace() {
        if !allows(s, resource_type, interaction) {
            continue;
        }
        match query_of(s) {
            None => return None,
            Some(query) => alternatives.push(query),
        }
    }
    Some(alternatives)
}

/// Whether the patient may grant `scope` when `offered` was asked for: one of the offered
/// scopes, or a narrower resource scope (same or a named type for `*`, fewer permissions, a
/// granular query added).
pub(crate) fn narrows(scope: &str, offered: &str) -> bool {
    if has(offered, scope) {
        return true;
    }
    let Some((ty, permission)) = resource_scope(scope) else {
        return false;
    };
    let letters = |p: &str| -> String {
        match p {
            "read" => "rs".into(),
            "write" => "cu".into(),
            "*" => "cruds".into(),
            other => other.into(),
        }
    };
    let wanted = letters(permission);
    offered
        .split_whitespace()
        .filter(|o| query_of(o).is_none())
        .filter_map(resource_scope)
        .any(|(t, p)| (t == "*" || t == ty) && wanted.chars().all(|c| letters(p).contains(c)))
}

pub(crate) fn has(scope: &str, wanted: &str) -> bool {
    scope.split_whitespace().any(|s| s == wanted)
}

/// Whether every scope in `narrower` is part of `wider`.
pub(crate) fn is_subset(narrower: &str, wider: &str) -> bool {
    narrower.split_whitespace().all(|s| has(wider, s))
}

/// Whether `scope` permits `interaction` on `resource_type`. Binary bytes come with the
/// DocumentReference that points at them, so DocumentReference access covers Binary too.
pub(crate) fn allows(scope: &str, resource_type: &str, interaction: Interaction) -> bool {
    scope
        .split_whitespace()
        .filter_map(resource_scope)
        .any(|(t, permission)| {
            let type_matches = t == "*"
                || t == resource_type
                || (resource_type == "Binary" && t == "DocumentReference");
            type_matches && permits(permission, interaction)
        })
}

/// v1 `read` covers read and search, `write` create and update; a v2 permission string
/// (`cruds` order) needs its letter.
fn permits(permission: &str, interaction: Interaction) -> bool {
    let reading = matches!(interaction, Interaction::Read | Interaction::Search);
    if permission == "*" || (permission == "read" && reading) || (permission == "write" && !reading)
    {
        return true;
    }
    let is_v2 = !permission.is_empty() && permission.chars().all(|c| "cruds".contains(c));
    let letter = match interaction {
        Interaction::Read => 'r',
        Interaction::Search => 's',
        Interaction::Create => 'c',
        Interaction::Update => 'u',
    };
    is_v2 && permission.contains(letter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_only_recognised_scopes() {
        let requested = "openid fhirUser offline_access patient/*.rs patient/*.read \
                         patient/Observation.rs user/*.read patient/Spaceship.read launch";
        assert_eq!(
            grantable(requested, FhirFlavor::R4, true, false),
            "openid fhirUser offline_access patient/*.rs patient/*.read patient/Observation.rs"
        );
        assert_eq!(
            grantable(requested, FhirFlavor::R4, false, false),
            "openid fhirUser offline_access patient/*.read"
        );
    }

    #[test]
    fn v1_and_v2_permissions() {
        assert!(allows("patient/*.read", "Condition", Interaction::Search));
        assert!(allows(
            "patient/Condition.rs",
            "Condition",
            Interaction::Read
        ));
        assert!(allows(
            "patient/Condition.s",
            "Condition",
            Interaction::Search
        ));
        assert!(!allows(
            "patient/Condition.s",
            "Condition",
            Interaction::Read
        ));
        assert!(!allows(
            "patient/Condition.rs",
            "Observation",
            Interaction::Read
        ));
        assert!(allows(
            "patient/DocumentReference.rs",
            "Binary",
            Interaction::Read
        ));
        assert!(!allows(
            "openid offline_access",
            "Patient",
            Interaction::Read
        ));
        assert!(!allows("patient/*.xyz", "Patient", Interaction::Read));
        assert!(!allows("patient/*.rs", "Condition", Interaction::Update));
        assert!(!allows("patient/*.read", "Condition", Interaction::Create));
        assert!(allows("patient/*.write", "Condition", Interaction::Create));
        assert!(allows("patient/*.cruds", "Condition", Interaction::Update));
        assert!(!allows("patient/*.ru", "Condition", Interaction::Create));
        assert_eq!(
            grantable(
                "patient/*.cruds patient/*.write patient/*.d",
                FhirFlavor::R4,
                true,
                false
            ),
            "patient/*.cruds patient/*.write"
        );
    }

    #[test]
    fn granular_scopes() {
        let lab = "patient/Patient.rs patient/Observation.rs?category=laboratory";
        assert!(allows(lab, "Observation", Interaction::Search));
        assert_eq!(search_restrictions(lab, "Patient"), None);
        assert_eq!(
            search_restrictions(lab, "Observation"),
            Some(vec![vec![("category".to_owned(), "laboratory".to_owned())]])
        );
        assert_eq!(search_restrictions(lab, "Condition"), Some(vec![]));
        assert!(narrows(
            "patient/Observation.rs?category=laboratory",
            "openid patient/*.rs"
        ));
        assert!(narrows("openid", "openid patient/*.rs"));
        assert!(!narrows("offline_access", "openid patient/*.rs"));
        assert!(!narrows("patient/*.cruds", "patient/*.rs"));
        assert_eq!(
            grantable(
                "patient/Observation.rs?category=laboratory patient/Observation.read?category=x",
                FhirFlavor::R4,
                true,
                false
            ),
            "patient/Observation.rs?category=laboratory"
        );
    }

    #[test]
    fn subsets() {
        assert!(is_subset("patient/*.rs", "openid patient/*.rs"));
        assert!(!is_subset("patient/*.rs offline_access", "patient/*.rs"));
    }
}
