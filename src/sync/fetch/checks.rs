//! The checks every fetched resource passes before it is kept: a resource, of the searched
//! type, with a legal id, of this patient. What fails is named as dropped, never stored.

use super::FetchedType;
use crate::sync::bundle::valid_id;
use crate::sync::resource::Resource;
use crate::sync::Dropped;
use anyhow::Result;

/// Keeps one resource of a `ty` search, or names it as dropped (see [`refusal_of`]).
pub(super) fn add_resource(
    fetched: &mut FetchedType,
    ty: &str,
    patient: &str,
    mut resource: Resource,
) -> Result<()> {
    if let Some(dropped) = refusal_of(ty, patient, &resource) {
        fetched.dropped.push(dropped);
        return Ok(());
    }
    let updated = resource
        .last_updated
        .as_deref()
        .and_then(crate::datetime::parse_rfc3339);
    if updated > fetched.newest {
        fetched.newest = updated;
    }
    let id = std::mem::take(&mut resource.id).unwrap_or_default();
    // A repeat (the same resource on two pages) is kept once; its references are known.
    if fetched
        .spool
        .insert(id, std::mem::take(&mut resource.line))?
    {
        crate::sync::references::collect_resource(&resource, &fetched.base, &mut fetched.refs);
    }
    Ok(())
}

/// Why a resource that came for `ty` is not stored, if it is not: it is not a resource, cannot
/// be read with confidence, is not of the type, has no id or an id that breaks the FHIR syntax,
/// or belongs to another patient.
pub(in crate::sync) fn refusal_of(ty: &str, patient: &str, resource: &Resource) -> Option<Dropped> {
    let rt = resource.resource_type.as_str();
    let drop = |id: Option<&str>, reason: String| {
        Some(Dropped {
            resource_type: if rt.is_empty() { ty } else { rt }.to_string(),
            id: id.map(Dropped::shown_id),
            reason,
        })
    };
    if rt.is_empty() {
        return drop(
            None,
            format!("an entry of the {ty} results is not a resource"),
        );
    }
    let id = resource.id.as_deref();
    if let Some(problem) = &resource.problem {
        return drop(id, problem.clone());
    }
    if rt != ty {
        let reason = format!(
            "the {ty} search returned a {}; only {ty} resources are stored from it",
            crate::sanitize::clean(rt)
        );
        return drop(id, reason);
    }
    let Some(id) = id else {
        return drop(None, "it has no id".into());
    };
    if !valid_id(id) {
        return drop(
            Some(id),
            "its id breaks the FHIR id syntax ([A-Za-z0-9-.]{1,64})".into(),
        );
    }
    if let Some(other) = resource.other_owner(ty, id, patient) {
        return drop(
            Some(id),
            format!(
                "it belongs to another patient ({})",
                crate::sanitize::clean(&other)
            ),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    #[test]
    fn resources_are_checked_before_storing_and_drops_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let base = Url::parse("https://x/fhir").unwrap();
        let mut f = FetchedType::new(&base, dir.path());
        for text in [
            r#"{"resourceType": "Condition", "id": "c1", "encounter": {"reference": "Encounter/e1"}}"#,
            r#"{"resourceType": "Patient", "id": "p"}"#,
            r#"{"resourceType": "Condition", "id": "../x"}"#,
            r#"{"resourceType": "Condition"}"#,
            r#"{"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p2"}}"#,
            r#"{"resourceType": "Condition", "id": "c3", "subject": {"reference": "https://x/fhir/Patient/p1"}}"#,
            r#"{"resourceType": "Condition", "id": ".."}"#,
            r#"[1]"#,
        ] {
            add_resource(&mut f, "Condition", "p1", Resource::from_text(text)).unwrap();
        }
        assert_eq!(f.spool.len(), 3, "c1, c3 and the legal id '..'");
        assert!(f.refs.contains("Encounter/e1"));
        let named: Vec<String> = f.dropped.iter().map(ToString::to_string).collect();
        assert_eq!(named.len(), 5, "{named:?}");
        assert!(
            named
                .iter()
                .any(|d| d.starts_with("Patient/p: the Condition search returned a Patient")),
            "{named:?}"
        );
        assert!(
            named
                .iter()
                .any(|d| d.starts_with("Condition/../x: its id breaks")),
            "{named:?}"
        );
        assert!(
            named.iter().any(|d| d == "Condition (no id): it has no id"),
            "{named:?}"
        );
        assert!(
            named
                .iter()
                .any(|d| d == "Condition/c2: it belongs to another patient (Patient/p2)"),
            "{named:?}"
        );
        assert!(
            named.iter().any(|d| d.contains("is not a resource")),
            "{named:?}"
        );
        let other = Resource::from_text(r#"{"resourceType": "Patient", "id": "p2"}"#);
        assert!(other.other_owner("Patient", "p2", "p1").is_some());
    }
}
