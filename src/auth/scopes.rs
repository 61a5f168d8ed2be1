//! Which scopes to ask for, and what the granted scopes mean for the user.
//!
//! SMART v2 scopes (`patient/*.rs`) when the server advertises `permission-v2`, else v1
//! (`patient/*.read`), plus `launch/patient openid fhirUser offline_access`. Granted scopes are
//! parsed fully, v2 granular ones included (`patient/Observation.rs?category=laboratory`), so
//! that the sync plan searches exactly what was granted ([`search_access`]).

use super::discovery::Discovery;

const CONTEXT_SCOPES: &str = "launch/patient openid fhirUser offline_access";

/// The server understands SMART v2 scopes.
pub fn supports_v2(d: &Discovery) -> bool {
    d.capabilities.iter().any(|c| c == "permission-v2")
        || d.scopes_supported.iter().any(|s| is_v2_read(s))
}

fn is_v2_read(scope: &str) -> bool {
    scope
        .rsplit_once('.')
        .is_some_and(|(_, perms)| perms.contains('r') && perms.chars().all(|c| "cruds".contains(c)))
}

/// The scopes fhirdl requests by default for this server.
pub fn default_scopes(d: &Discovery) -> String {
    let read = if supports_v2(d) {
        "patient/*.rs"
    } else {
        "patient/*.read"
    };
    format!("{CONTEXT_SCOPES} {read}")
}

/// One SMART scope about resources, v1 or v2: `patient/*.read`, `patient/Observation.rs`,
/// `patient/Observation.rs?category=laboratory` (SMART App Launch 2.x granular scopes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScope {
    /// `patient`, `user` or `system`.
    pub context: String,
    /// A resource type, or `*`.
    pub resource_type: String,
    pub read: bool,
    pub search: bool,
    /// The granular part: every `(name, value)` a search must carry to be covered.
    pub query: Vec<(String, String)>,
}

impl ResourceScope {
    /// Parses one scope; `None` for scopes that are not about resources (`openid`, …) or that
    /// are malformed.
    pub fn parse(scope: &str) -> Option<ResourceScope> {
        let (context, rest) = scope.split_once('/')?;
        if !matches!(context, "patient" | "user" | "system") {
            return None;
        }
        let (target, query) = match rest.split_once('?') {
            Some((t, q)) => (t, Some(q)),
            None => (rest, None),
        };
        let (resource_type, permission) = target.split_once('.')?;
        let type_ok = resource_type == "*"
            || (!resource_type.is_empty()
                && resource_type.chars().all(|c| c.is_ascii_alphanumeric()));
        if !type_ok {
            return None;
        }
        let (read, search) = match permission {
            "read" | "*" => (true, true),
            "write" => (false, false),
            v2 if !v2.is_empty() && v2.chars().all(|c| "cruds".contains(c)) => {
                (v2.contains('r'), v2.contains('s'))
            }
            _ => return None,
        };
        let query = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Some(ResourceScope {
            context: context.to_string(),
            resource_type: resource_type.to_string(),
            read,
            search,
            query,
        })
    }

    fn covers(&self, resource_type: &str) -> bool {
        self.context != "system"
            && (self.resource_type == "*" || self.resource_type == resource_type)
    }
}

/// What the granted scopes let this app search of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchAccess {
    /// Every resource of the type.
    Whole,
    /// Only searches carrying one of these sets of parameters (granular scopes), e.g.
    /// `[[("category", "laboratory")]]`.
    Only(Vec<Vec<(String, String)>>),
    /// Not granted.
    None,
}

/// How `granted` (space separated) lets a patient app search `resource_type`.
pub fn search_access(granted: &str, resource_type: &str) -> SearchAccess {
    let mut only: Vec<Vec<(String, String)>> = Vec::new();
    for scope in granted.split_whitespace().filter_map(ResourceScope::parse) {
        if !scope.covers(resource_type) || !scope.search {
            continue;
        }
        if scope.query.is_empty() {
            return SearchAccess::Whole;
        }
        if !only.contains(&scope.query) {
            only.push(scope.query);
        }
    }
    if only.is_empty() {
        SearchAccess::None
    } else {
        SearchAccess::Only(only)
    }
}

/// Whether `granted` lets a patient app read `resource_type` by id (the Patient itself).
pub fn read_granted(granted: &str, resource_type: &str) -> bool {
    granted
        .split_whitespace()
        .filter_map(ResourceScope::parse)
        .any(|s| s.covers(resource_type) && s.read)
}

/// Some read or search of some type was granted.
fn grants_any_read(granted: &str) -> bool {
    granted
        .split_whitespace()
        .filter_map(ResourceScope::parse)
        .any(|s| s.context != "system" && (s.read || s.search))
}

/// Plain-language warnings about a grant that will not do the job.
/// How [`grant_warnings`]' warning about offline access begins.
pub const NO_OFFLINE_ACCESS: &str = "offline access was not granted";

pub fn grant_warnings(granted: &str, has_refresh_token: bool) -> Vec<String> {
    let scopes: Vec<&str> = granted.split_whitespace().collect();
    let mut warnings = Vec::new();
    if !has_refresh_token || !scopes.contains(&"offline_access") {
        warnings.push(
            format!("{NO_OFFLINE_ACCESS}: when the access token expires you must sign in again (unattended backups will stop)"),
        );
    }
    if !grants_any_read(granted) {
        warnings.push("no read access to your records was granted (no patient/….read or patient/….rs scope): downloads will be refused".to_string());
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc(caps: &[&str], scopes: &[&str]) -> Discovery {
        let mut d = super::super::discovery::from_smart_configuration(
            &serde_json::json!({"authorization_endpoint": "https://a/a", "token_endpoint": "https://a/t"}),
            "t",
        )
        .unwrap();
        d.capabilities = caps.iter().map(|s| s.to_string()).collect();
        d.scopes_supported = scopes.iter().map(|s| s.to_string()).collect();
        d
    }

    #[test]
    fn picks_v2_or_v1() {
        assert!(default_scopes(&disc(&["permission-v2"], &[])).ends_with("patient/*.rs"));
        assert!(
            default_scopes(&disc(&["permission-v1"], &["patient/*.read"]))
                .ends_with("patient/*.read")
        );
        assert!(default_scopes(&disc(&[], &["patient/Observation.rs"])).ends_with("patient/*.rs"));
        assert!(default_scopes(&disc(&[], &[])).contains("offline_access"));
    }

    #[test]
    fn warns_on_weak_grants() {
        assert!(grant_warnings("launch/patient offline_access patient/*.rs", true).is_empty());
        assert!(grant_warnings("patient/*.read offline_access", true).is_empty());
        assert!(grant_warnings("patient/Observation.read offline_access", true).is_empty());
        let w = grant_warnings("patient/*.rs", false);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("offline access"));
        let w = grant_warnings("openid offline_access patient/*.c", true);
        assert!(w[0].contains("no read access"));
        // Only granular scopes: still read access.
        assert!(grant_warnings(
            "offline_access patient/Observation.rs?category=laboratory",
            true
        )
        .is_empty());
    }

    #[test]
    fn parses_v1_v2_and_granular_scopes() {
        let s = ResourceScope::parse(
            "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
        )
        .unwrap();
        assert_eq!(s.resource_type, "Observation");
        assert!(s.read && s.search);
        assert_eq!(
            s.query,
            vec![(
                "category".to_string(),
                "http://terminology.hl7.org/CodeSystem/observation-category|laboratory".to_string()
            )]
        );
        assert!(ResourceScope::parse("openid").is_none());
        assert!(ResourceScope::parse("patient/Obs ervation.rs").is_none());
        assert!(ResourceScope::parse("patient/*.xyz").is_none());
        let w = ResourceScope::parse("patient/*.write").unwrap();
        assert!(!w.read && !w.search);

        let granted = "patient/Patient.r patient/Observation.rs?category=laboratory \
                       patient/Observation.rs?category=vital-signs user/Condition.read";
        let lab = vec![("category".to_string(), "laboratory".to_string())];
        let vitals = vec![("category".to_string(), "vital-signs".to_string())];
        assert_eq!(
            search_access(granted, "Observation"),
            SearchAccess::Only(vec![lab, vitals])
        );
        assert_eq!(search_access(granted, "Condition"), SearchAccess::Whole);
        assert_eq!(search_access(granted, "Patient"), SearchAccess::None);
        assert!(read_granted(granted, "Patient"));
        assert_eq!(search_access(granted, "Coverage"), SearchAccess::None);
        assert_eq!(
            search_access(
                "patient/*.rs patient/Observation.rs?category=x",
                "Observation"
            ),
            SearchAccess::Whole
        );
        assert_eq!(
            search_access("system/*.rs", "Observation"),
            SearchAccess::None
        );
    }
}
