//! Which scopes to ask for, and what the granted scopes mean for the user.
//!
//! SMART v2 scopes (`patient/*.rs`) when the server advertises `permission-v2`, else v1
//! (`patient/*.read`), plus `launch/patient openid fhirUser offline_access`.

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

/// Plain-language warnings about a grant that will not do the job.
pub fn grant_warnings(granted: &str, has_refresh_token: bool) -> Vec<String> {
    let scopes: Vec<&str> = granted.split_whitespace().collect();
    let mut warnings = Vec::new();
    if !has_refresh_token || !scopes.contains(&"offline_access") {
        warnings.push(
            "offline access was not granted: when the access token expires you must sign in again (unattended backups will stop)"
                .to_string(),
        );
    }
    let can_read = scopes.iter().any(|s| {
        s.strip_prefix("patient/")
            .and_then(|rest| rest.rsplit_once('.'))
            .is_some_and(|(_, perm)| {
                perm == "read" || perm == "*" || is_v2_read(&format!("x.{perm}"))
            })
    });
    if !can_read {
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
    }
}
