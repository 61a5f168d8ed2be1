//! What is kept of a published directory: FHIR bases normalised so the same server listed
//! twice is one endpoint, and placeholders and test entries (no address, `example.org`, a
//! "Test" or "Demo" practice, an Endpoint whose status says `test`) dropped.

use url::Url;

/// The FHIR base as one spelling: scheme and host lower case (the `url` crate), no default
/// port, no query or fragment, no trailing slash. `None` when it is not an http(s) URL with a
/// host.
pub fn normalise_base(address: &str) -> Option<String> {
    let mut url = Url::parse(address.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    let text = url.as_str().trim_end_matches('/').to_string();
    Some(text)
}

/// Hosts reserved for documentation (RFC 2606 / RFC 6761): never a real practice's server.
fn is_example_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    [
        "example.org",
        "example.com",
        "example.net",
        "example",
        "invalid",
        "test",
    ]
    .iter()
    .any(|reserved| host == *reserved || host.ends_with(&format!(".{reserved}")))
}

/// Words that, standing alone in a name, mark a test or demonstration entry.
const PLACEHOLDER_WORDS: &[&str] = &["test", "testing", "demo", "dummy", "placeholder", "sample"];

/// True when a name reads as a test or demonstration entry ("Test Practice", "Demo Clinic").
pub fn is_placeholder_name(name: &str) -> bool {
    name.trim().is_empty()
        || name
            .split(|c: char| !c.is_alphanumeric())
            .any(|word| PLACEHOLDER_WORDS.contains(&word.to_lowercase().as_str()))
}

/// True when a normalised base is a placeholder (a reserved example host).
pub fn is_placeholder_base(base: &str) -> bool {
    Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(is_example_host))
        .unwrap_or(true)
}

/// Endpoint statuses that mean "not for patients now" (FHIR R4 `endpoint-status`).
pub fn is_unusable_status(status: Option<&str>) -> bool {
    matches!(status, Some("test" | "off" | "entered-in-error"))
}

/// The FHIR release a base names in its path ("/r4/", "/api/FHIR/DSTU2"), when it names one.
pub fn version_from_base(base: &str) -> Option<String> {
    let path = Url::parse(base).ok()?.path().to_ascii_lowercase();
    path.split('/').find_map(|segment| {
        let release = match segment {
            "r4" => "R4",
            "r4b" => "R4B",
            "r5" => "R5",
            "stu3" | "r3" => "STU3",
            "dstu2" | "r2" => "DSTU2",
            _ => return None,
        };
        Some(release.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_base() {
        let a = normalise_base("HTTPS://Fhir.Example.net:443/api/FHIR/R4/").unwrap();
        assert_eq!(a, "https://fhir.example.net/api/FHIR/R4");
        assert_eq!(
            normalise_base("https://h.net/r4?x=1#f").unwrap(),
            "https://h.net/r4"
        );
        assert_eq!(normalise_base("ftp://h.net/r4"), None);
        assert_eq!(normalise_base("not a url"), None);
        assert_eq!(normalise_base(""), None);
    }

    #[test]
    fn placeholders_are_recognised() {
        assert!(is_placeholder_name("Test Practice"));
        assert!(is_placeholder_name("DEMO clinic"));
        assert!(is_placeholder_name("  "));
        assert!(!is_placeholder_name("Contest Family Medicine"));
        assert!(!is_placeholder_name("Sunrise Family Medicine"));
        assert!(is_placeholder_base("https://fhir.example.org/r4"));
        assert!(is_placeholder_base("https://ehr.test/r4"));
        assert!(!is_placeholder_base("https://fhir.examples.org/r4"));
        assert!(!is_placeholder_base("http://127.0.0.1:8080/fhir/r4"));
    }

    #[test]
    fn version_is_read_from_the_path() {
        assert_eq!(
            version_from_base("https://h/api/FHIR/R4").as_deref(),
            Some("R4")
        );
        assert_eq!(
            version_from_base("https://h/fhir/dstu2/x").as_deref(),
            Some("DSTU2")
        );
        assert_eq!(version_from_base("https://h/fhir"), None);
    }
}
