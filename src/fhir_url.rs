//! The FHIR base URL and every URL fhirdl builds under it: the base as the user gives it
//! (checked), a relative reference or path joined to it (`metadata`,
//! `.well-known/smart-configuration`, `Binary/1`), a resource (`<base>/<Type>/<id>`, the id one
//! percent-encoded path segment) and a search (`<base>/<Type>?name=value…`).

use crate::error::{Failure, Kind};
use crate::http::is_secure_or_loopback;
use anyhow::Result;
use url::Url;

/// Parses and checks a FHIR base given by the user: https (plain http only on loopback), no
/// query or fragment, no trailing slash.
pub fn parse_base(raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        Failure::new(Kind::Usage, format!("'{raw}' is not a valid URL: {e}"))
            .hint("give the FHIR base URL, e.g. https://fhir.example.org/r4")
    })?;
    if !is_secure_or_loopback(&url) {
        return Err(Failure::new(Kind::Usage, format!("refusing the FHIR base {url}: it is not https"))
            .hint("health data and tokens travel only over https (plain http is allowed only on this computer's loopback address)")
            .into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Failure::new(
            Kind::Usage,
            format!("the FHIR base {url} must not have a query or fragment"),
        )
        .into());
    }
    let trimmed = url.as_str().trim_end_matches('/').to_string();
    Ok(Url::parse(&trimmed)?)
}

/// `<base>/<relative>`: a path or relative reference as written (it may carry a query).
pub fn join(base: &Url, relative: &str) -> Result<Url> {
    let s = format!(
        "{}/{}",
        base.as_str().trim_end_matches('/'),
        relative.trim_start_matches('/')
    );
    Ok(Url::parse(&s)?)
}

/// `<base>/<type>/<id>` with the id percent-encoded as one path segment.
pub fn resource(base: &Url, resource_type: &str, id: &str) -> Result<Url> {
    under(base, &[resource_type, id], &[])
}

/// `<base>/<type>?<params>`.
pub fn search(base: &Url, resource_type: &str, params: &[(&str, &str)]) -> Result<Url> {
    under(base, &[resource_type], params)
}

fn under(base: &Url, segments: &[&str], params: &[(&str, &str)]) -> Result<Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| anyhow::anyhow!("the FHIR base {base} cannot take a path"))?
        .pop_if_empty()
        .extend(segments);
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_are_checked_and_trimmed() {
        assert_eq!(
            parse_base("https://x.example/fhir/r4/").unwrap().as_str(),
            "https://x.example/fhir/r4"
        );
        assert!(parse_base("http://x.example/fhir").is_err());
        assert!(parse_base("http://127.0.0.1:8080/fhir").is_ok());
        assert!(parse_base("not a url").is_err());
        assert!(parse_base("https://x.example/fhir?a=1").is_err());
    }

    #[test]
    fn urls_under_the_base() {
        let b = parse_base("https://x.example/fhir/r4").unwrap();
        assert_eq!(
            join(&b, "metadata").unwrap().as_str(),
            "https://x.example/fhir/r4/metadata"
        );
        assert_eq!(
            join(&b, "/Binary/1?_format=json").unwrap().as_str(),
            "https://x.example/fhir/r4/Binary/1?_format=json"
        );
        assert_eq!(
            resource(&b, "Patient", "1").unwrap().as_str(),
            "https://x.example/fhir/r4/Patient/1"
        );
        let evil = resource(&b, "Patient", "../../x").unwrap();
        assert!(evil
            .as_str()
            .starts_with("https://x.example/fhir/r4/Patient/"));
        assert!(!evil.path().contains("/../"), "{evil}");
        assert_eq!(
            search(&b, "Observation", &[("patient", "p 1"), ("_count", "200")])
                .unwrap()
                .as_str(),
            "https://x.example/fhir/r4/Observation?patient=p+1&_count=200"
        );
        assert_eq!(
            search(&b, "Practitioner", &[]).unwrap().as_str(),
            "https://x.example/fhir/r4/Practitioner"
        );
    }
}
