//! `Patient/$everything` (FHIR R4, https://hl7.org/fhir/R4/patient-operation-everything.html):
//! the sandbox's operation through its HTTP API.

use std::collections::HashSet;

use fhirdl_sandbox::{Quirks, SandboxConfig};

use crate::common::{access, TestContext, SCOPE};

/// A sandbox that offers the operation, leaving out `omits`.
fn offering(omits: &[&str]) -> TestContext {
    TestContext::new(SandboxConfig {
        quirks: Quirks {
            everything: true,
            everything_omits: omits.iter().map(|t| t.to_string()).collect(),
            ..Quirks::default()
        },
        ..SandboxConfig::default()
    })
}

#[test]
fn the_sandbox_answers_the_patient_compartment_in_pages_and_within_the_grant() {
    let ctx = offering(&[]);
    let alice = ctx.patient("alice");
    ctx.block_on(async {
        let (_, metadata) = ctx.get_json("metadata", "none").await;
        let patient = metadata["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "Patient")
            .unwrap()
            .clone();
        assert_eq!(
            patient["operation"][0]["definition"],
            "http://hl7.org/fhir/OperationDefinition/Patient-everything"
        );
        let token = access(&ctx.sign_in("alice", SCOPE).await).to_owned();
        let everything = format!("Patient/{alice}/$everything");
        let pages = ctx
            .all_pages(&format!("{everything}?_count=40"), &token)
            .await;
        assert_eq!(pages.resources.len(), ctx.sandbox.resource_count(&alice));
        assert_eq!(pages.total as usize, pages.resources.len());
        assert!(pages.pages > 1, "paged by _count");
        assert_eq!(pages.resources[0]["resourceType"], "Patient");
        let only = ctx
            .all_pages(&format!("{everything}?_type=Condition"), &token)
            .await;
        assert!(only.total > 0);
        assert!(only
            .resources
            .iter()
            .all(|r| r["resourceType"] == "Condition"));
        let (_, later) = ctx
            .get_json(&format!("{everything}?_since=2999-01-01T00:00:00Z"), &token)
            .await;
        assert_eq!(later["total"], 0, "{later}");
        let bob = ctx.patient("bob");
        let (status, _) = ctx
            .get_json(&format!("Patient/{bob}/$everything"), &token)
            .await;
        assert_eq!(status, 403, "another patient's record");
        let narrow = "openid launch/patient patient/Patient.rs patient/Condition.rs";
        let token = access(&ctx.sign_in("alice", narrow).await).to_owned();
        let granted = ctx.all_pages(&everything, &token).await;
        let types: HashSet<&str> = granted
            .resources
            .iter()
            .map(|r| r["resourceType"].as_str().unwrap())
            .collect();
        assert_eq!(types, HashSet::from(["Patient", "Condition"]));
    });
}
