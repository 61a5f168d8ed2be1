//! The sandbox EHR through its HTTP API only: login through the scripted browser, token
//! exchange, search paging, refresh rotation, revocation and the 401/403 rules.

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use fhirdl_sandbox::browser::{self, Consent};
use fhirdl_sandbox::{FhirFlavor, Sandbox, SandboxConfig};
use serde_json::{json, Value};
use url::Url;

use crate::common::{access, query, wait_until, Pages, TestContext, SCOPE, STATE, VERIFIER};

/// `url` with the named query parameters replaced.
fn with_params(url: &Url, replace: &[(&str, &str)]) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !replace.iter().any(|(name, _)| name == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut url = url.clone();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .extend_pairs(replace);
    url
}

/// Every entry of a paged search is a match with its full URL, and every next link stays under
/// the base.
fn assert_well_formed(ctx: &TestContext, paged: &Pages) {
    let base = ctx.sandbox.fhir_base();
    for entry in &paged.entries {
        assert_eq!(entry["search"]["mode"], "match");
        let r = &entry["resource"];
        let full_url = format!(
            "{base}/{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        assert_eq!(entry["fullUrl"], full_url.as_str());
    }
    assert!(paged.links.iter().all(|l| l.starts_with(base.as_str())));
}

fn issue_code(outcome: &Value) -> &str {
    outcome["issue"][0]["code"].as_str().unwrap()
}

#[test]
fn login_search_paging_refresh_rotation_and_revoke() {
    let ctx = TestContext::with_defaults();
    ctx.block_on(async {
        let alice = ctx.patient("alice");
        let token = ctx.sign_in("alice", SCOPE).await;
        assert_eq!(token["token_type"], "Bearer");
        assert_eq!(token["patient"], alice.as_str());
        assert_eq!(token["scope"], SCOPE);
        assert_eq!(token["expires_in"], 3600);
        assert_eq!(token["need_patient_banner"], false);

        // The id_token names the patient as fhirUser.
        let id_token = token["id_token"].as_str().unwrap();
        let parts: Vec<&str> = id_token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims["fhirUser"],
            format!("{}/Patient/{alice}", ctx.sandbox.fhir_base())
        );
        assert_eq!(claims["aud"], "fhirdl-sandbox");

        // Paging visits every Observation exactly once, in (lastUpdated, id) order.
        let bearer = access(&token);
        let paged = ctx
            .all_pages(&format!("Observation?patient={alice}&_count=7"), bearer)
            .await;
        assert_well_formed(&ctx, &paged);
        let (observations, pages, total) = (paged.resources, paged.pages, paged.total);
        assert_eq!(observations.len() as u64, total);
        assert_eq!(pages as u64, total.div_ceil(7));
        let ids: HashSet<&str> = observations
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), observations.len());
        let keys: Vec<(String, String)> = observations
            .iter()
            .map(|o| {
                (
                    o["meta"]["lastUpdated"].as_str().unwrap().to_owned(),
                    o["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);

        // Every clinical type plus the Patient adds up to resource_count.
        let mut sum = 1;
        for t in [
            "AllergyIntolerance",
            "Condition",
            "DiagnosticReport",
            "DocumentReference",
            "Encounter",
            "Immunization",
            "MedicationRequest",
            "Observation",
            "Procedure",
        ] {
            let (status, bundle) = ctx
                .get_json(&format!("{t}?subject=Patient/{alice}&_count=0"), bearer)
                .await;
            assert_eq!(status, 200, "{bundle}");
            assert!(bundle.get("entry").is_none());
            sum += bundle["total"].as_u64().unwrap() as usize;
        }
        assert_eq!(sum, ctx.sandbox.resource_count(&alice));
        assert_eq!(sum, 121);

        // Rotation: the new refresh token works, the old one is dead.
        let first_refresh = token["refresh_token"].as_str().unwrap();
        let (status, refreshed) = ctx.refresh(first_refresh).await;
        assert_eq!(status, 200, "{refreshed}");
        let second_refresh = refreshed["refresh_token"].as_str().unwrap();
        assert_ne!(second_refresh, first_refresh);
        let (status, error) = ctx.refresh(first_refresh).await;
        assert_eq!(status, 400);
        assert_eq!(error["error"], "invalid_grant");
        let (status, _) = ctx
            .get_json(&format!("Patient/{alice}"), access(&refreshed))
            .await;
        assert_eq!(status, 200);

        // Revoking the refresh token takes its access tokens with it.
        let response = ctx
            .http()
            .post(ctx.sandbox.origin().join("oauth/revoke").unwrap())
            .form(&[("token", second_refresh), ("client_id", "fhirdl-sandbox")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().is_empty());
        let response = ctx
            .get(&format!("Patient/{alice}"), Some(access(&refreshed)))
            .await;
        assert_eq!(response.status(), 401);
        let (status, error) = ctx.refresh(second_refresh).await;
        assert_eq!(
            (status.as_u16(), error["error"].as_str()),
            (400, Some("invalid_grant"))
        );

        let stats = ctx.sandbox.stats();
        assert_eq!(stats.token_requests, 4);
        assert_eq!(stats.refresh_grants, 3);
        assert_eq!(stats.revocations, 1);
        assert_eq!(stats.unauthorized, 1);
        assert!(stats.authorize_requests >= 3);
        assert!(stats.fhir_requests >= pages as u64 + 10);

        // Everything handed out is listed for leak scans.
        let secrets = ctx.sandbox.issued_secrets();
        for s in [bearer, first_refresh, second_refresh, id_token, VERIFIER] {
            assert!(secrets.iter().any(|x| x == s));
        }
    });
    ctx.shutdown();
}

#[test]
fn bearer_rules_401_and_403() {
    let ctx = TestContext::with_defaults();
    ctx.block_on(async {
        let (alice, bob) = (ctx.patient("alice"), ctx.patient("bob"));
        let token = ctx.sign_in("alice", SCOPE).await;
        let bearer = access(&token);

        for auth in [None, Some("not-a-token")] {
            let response = ctx.get(&format!("Patient/{alice}"), auth).await;
            assert_eq!(response.status(), 401);
            assert_eq!(
                response.headers()["www-authenticate"],
                r#"Bearer realm="fhirdl-sandbox", error="invalid_token""#
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["resourceType"], "OperationOutcome");
        }

        let (status, body) = ctx.get_json(&format!("Patient/{bob}"), bearer).await;
        assert_eq!((status.as_u16(), issue_code(&body)), (403, "forbidden"));
        let (status, _) = ctx
            .get_json(&format!("Condition?patient={bob}"), bearer)
            .await;
        assert_eq!(status, 403);
        let (status, _) = ctx.get_json(&format!("Patient?_id={bob}"), bearer).await;
        assert_eq!(status, 403);
        let (status, _) = ctx.get_json("Observation", bearer).await;
        assert_eq!(status, 400);
        let (status, _) = ctx.get_json("Spaceship?patient=x", bearer).await;
        assert_eq!(status, 404);
        let (status, _) = ctx
            .get_json(&format!("Observation?patient={alice}&_count=many"), bearer)
            .await;
        assert_eq!(status, 400);
        let (status, _) = ctx
            .get_json(
                &format!("Observation?patient={alice}&_lastUpdated=yesterday"),
                bearer,
            )
            .await;
        assert_eq!(status, 400);
        let (status, _) = ctx
            .get_json(&format!("Observation/no-such-{alice}"), bearer)
            .await;
        assert_eq!(status, 404);
        let response = ctx
            .get_url(ctx.sandbox.origin().join("nowhere").unwrap().as_str(), None)
            .await;
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.json::<Value>().await.unwrap()["resourceType"],
            "OperationOutcome"
        );

        // A token for Observation only cannot read Conditions; shared types are open to it.
        let narrow = ctx.sign_in("alice", "patient/Observation.rs").await;
        assert!(narrow.get("refresh_token").is_none());
        assert!(narrow.get("id_token").is_none());
        let (status, _) = ctx
            .get_json(&format!("Condition?patient={alice}"), access(&narrow))
            .await;
        assert_eq!(status, 403);
        let (status, _) = ctx
            .get_json(&format!("Observation?patient={alice}"), access(&narrow))
            .await;
        assert_eq!(status, 200);
        let (status, practitioner) = ctx.get_json("Practitioner/pract-1", access(&narrow)).await;
        assert_eq!(status, 200);
        assert_eq!(practitioner["resourceType"], "Practitioner");
        let (status, bundle) = ctx
            .get_json("Organization?_id=org-1,org-2,nope", access(&narrow))
            .await;
        assert_eq!((status.as_u16(), bundle["total"].as_u64()), (200, Some(2)));
        let (status, _) = ctx.get_json("Organization", access(&narrow)).await;
        assert_eq!(status, 400);

        // Expired access tokens give 401; their refresh token still works.
        ctx.sandbox.expire_access_tokens();
        let response = ctx.get(&format!("Patient/{alice}"), Some(bearer)).await;
        assert_eq!(response.status(), 401);
        let (status, refreshed) = ctx.refresh(token["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        let (status, _) = ctx
            .get_json(&format!("Patient/{alice}"), access(&refreshed))
            .await;
        assert_eq!(status, 200);

        // Server-side revocation of everything.
        ctx.sandbox.revoke_all_tokens();
        let response = ctx
            .get(&format!("Patient/{alice}"), Some(access(&refreshed)))
            .await;
        assert_eq!(response.status(), 401);
        let (status, error) = ctx
            .refresh(refreshed["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(
            (status.as_u16(), error["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    });
}

#[test]
fn authorize_errors_denial_and_bad_passwords() {
    let ctx = TestContext::with_defaults();
    ctx.block_on(async {
        let origin = ctx.sandbox.origin();
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();

        // Bad client or redirect URI: a page, never a redirect.
        let unknown_client = with_params(&ctx.authorize_url(SCOPE, &[]), &[("client_id", "evil")]);
        let response = no_redirects.get(unknown_client).send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert!(response.text().await.unwrap().contains("evil"));
        let mut remote = origin.join("oauth/authorize").unwrap();
        remote
            .query_pairs_mut()
            .append_pair("client_id", "fhirdl-sandbox")
            .append_pair("redirect_uri", "https://attacker.example/cb");
        assert_eq!(no_redirects.get(remote).send().await.unwrap().status(), 400);

        // Other problems go back to the app.
        for (extra, error) in [
            (vec![("code_challenge_method", "plain")], "invalid_request"),
            (
                vec![("aud", "https://elsewhere.example/fhir")],
                "invalid_request",
            ),
            (vec![("scope", "user/*.read")], "invalid_scope"),
        ] {
            let url = with_params(&ctx.authorize_url(SCOPE, &[]), &extra);
            let response = no_redirects.get(url).send().await.unwrap();
            assert_eq!(response.status(), 302);
            let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
            assert!(location.as_str().starts_with(ctx.app().as_str()));
            assert_eq!(query(&location, "error").as_deref(), Some(error));
            assert_eq!(query(&location, "state").as_deref(), Some(STATE));
        }

        // Wrong password: the login page again, with a message.
        let url = ctx.authorize_url(SCOPE, &[]);
        let outcome = browser::sign_in(&url, "alice", "wrong", Consent::Allow)
            .await
            .unwrap();
        assert_eq!(outcome.status, 200);
        assert!(outcome.body.contains("Wrong username or password"));
        assert!(outcome.body.contains(r#"name="password""#));

        // Deny: access_denied at the app.
        let outcome = browser::sign_in(&url, "bob", "bob-sandbox", Consent::Deny)
            .await
            .unwrap();
        assert_eq!(
            query(&outcome.final_url, "error").as_deref(),
            Some("access_denied")
        );
        assert_eq!(
            query(&outcome.final_url, "error_description").as_deref(),
            Some("The patient denied access")
        );
        assert_eq!(query(&outcome.final_url, "state").as_deref(), Some(STATE));
    });
}

#[test]
fn token_endpoint_rejects_bad_codes_verifiers_and_clients() {
    let config = SandboxConfig {
        confidential_client: Some(("conf-app".into(), "s3cr3t:+/".into())),
        token_auth_methods: vec!["client_secret_basic".into()],
        ..SandboxConfig::default()
    };
    let ctx = TestContext::new(config);
    ctx.block_on(async {
        let redirect = ctx.app().to_string();

        let code = ctx.authorization_code("alice", SCOPE).await;
        let (status, error) = ctx
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect),
                ("code_verifier", &"x".repeat(43)),
                ("client_id", "fhirdl-sandbox"),
            ])
            .await;
        assert_eq!(
            (status.as_u16(), error["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        // The failed attempt used the code up.
        let (status, _) = ctx.exchange(&code).await;
        assert_eq!(status, 400);

        let code = ctx.authorization_code("alice", SCOPE).await;
        let (status, _) = ctx.exchange(&code).await;
        assert_eq!(status, 200);
        let (status, error) = ctx.exchange(&code).await;
        assert_eq!(
            (status.as_u16(), error["error"].as_str()),
            (400, Some("invalid_grant"))
        );

        let (status, error) = ctx
            .token_request(&[("grant_type", "password"), ("client_id", "fhirdl-sandbox")])
            .await;
        assert_eq!(
            (status.as_u16(), error["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );
        let (status, error) = ctx
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "nope"),
                ("client_id", "nobody"),
            ])
            .await;
        assert_eq!(
            (status.as_u16(), error["error"].as_str()),
            (401, Some("invalid_client"))
        );

        // Confidential client: Basic with form-encoded credentials works; post is not allowed here.
        let token_url = ctx.sandbox.origin().join("oauth/token").unwrap();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "unknown"),
        ];
        let response = ctx
            .http()
            .post(token_url.clone())
            .basic_auth("conf-app", Some("s3cr3t%3A%2B%2F"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "authenticated, then invalid_grant");
        let response = ctx
            .http()
            .post(token_url.clone())
            .basic_auth("conf-app", Some("wrong"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let response = ctx
            .http()
            .post(token_url.clone())
            .basic_auth("fhirdl-sandbox", Some(""))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            400,
            "public client as Basic without password"
        );
        let response = ctx
            .http()
            .post(token_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", "conf-app"),
                ("client_secret", "s3cr3t:+/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert!(ctx
            .sandbox
            .issued_secrets()
            .iter()
            .any(|s| s == "s3cr3t:+/"));
        assert!(!format!("{:?}", ctx.sandbox.config()).contains("s3cr3t"));
    });
}

#[test]
fn discovery_needs_no_token() {
    let ctx = TestContext::new(SandboxConfig {
        iss_parameter: true,
        ..SandboxConfig::default()
    });
    let dstu2 = TestContext::new(SandboxConfig {
        flavor: FhirFlavor::Dstu2,
        oauth_uris_in_metadata: false,
        ..SandboxConfig::default()
    });
    ctx.block_on(async {
        let base = ctx.sandbox.fhir_base();
        assert!(!base.as_str().ends_with('/'));
        let config: Value = ctx
            .get(".well-known/smart-configuration", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            config["token_endpoint"],
            format!("{}oauth/token", ctx.sandbox.origin())
        );
        assert_eq!(
            config["authorization_response_iss_parameter_supported"],
            true
        );
        assert!(config["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("permission-v2")));
        let (status, metadata) = {
            let r = ctx.get("metadata", None).await;
            (r.status(), r.json::<Value>().await.unwrap())
        };
        assert_eq!(status, 200);
        assert_eq!(metadata["resourceType"], "CapabilityStatement");
        assert_eq!(metadata["fhirVersion"], "4.0.1");
        let uris = &metadata["rest"][0]["security"]["extension"][0];
        assert_eq!(
            uris["url"],
            "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
        );
        assert_eq!(uris["extension"][0]["url"], "authorize");

        // RFC 9207: iss on the redirect.
        let outcome = browser::sign_in(
            &ctx.authorize_url(SCOPE, &[]),
            "alice",
            "alice-sandbox",
            Consent::Allow,
        )
        .await
        .unwrap();
        let issuer = config["issuer"].as_str().unwrap();
        assert_eq!(query(&outcome.final_url, "iss").as_deref(), Some(issuer));

        assert!(dstu2.sandbox.fhir_base().as_str().ends_with("/fhir/dstu2"));
        assert_eq!(
            dstu2
                .get(".well-known/smart-configuration", None)
                .await
                .status(),
            404
        );
        let conformance: Value = dstu2.get("metadata", None).await.json().await.unwrap();
        assert_eq!(conformance["resourceType"], "Conformance");
        assert_eq!(conformance["fhirVersion"], "1.0.2");
        assert!(conformance["rest"][0]["security"]["extension"].is_array());
        let types: Vec<&str> = conformance["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert!(types.contains(&"MedicationOrder") && !types.contains(&"MedicationRequest"));
        let token = dstu2.sign_in("bob", "patient/*.read").await;
        let bob = dstu2.patient("bob");
        let (status, bundle) = dstu2
            .get_json(&format!("MedicationOrder?patient={bob}"), access(&token))
            .await;
        assert_eq!(status, 200);
        assert!(bundle["total"].as_u64().unwrap() > 0);
    });
}

#[test]
fn documents_link_to_patient_owned_pdfs() {
    let ctx = TestContext::with_defaults();
    ctx.block_on(async {
        let alice = ctx.patient("alice");
        let token = ctx.sign_in("alice", SCOPE).await;
        let (_, bundle) = ctx
            .get_json(
                &format!("DocumentReference?patient={alice}&_count=1"),
                access(&token),
            )
            .await;
        let attachment = &bundle["entry"][0]["resource"]["content"][0]["attachment"];
        assert_eq!(attachment["contentType"], "application/pdf");
        let url = attachment["url"].as_str().unwrap();

        let response = ctx.get_url(url, Some(access(&token))).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/pdf");
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.starts_with(b"%PDF-1.4"));
        assert_eq!(attachment["size"], bytes.len());

        let response = ctx
            .http()
            .get(url)
            .bearer_auth(access(&token))
            .header("accept", "application/fhir+json")
            .send()
            .await
            .unwrap();
        let binary: Value = response.json().await.unwrap();
        assert_eq!(binary["resourceType"], "Binary");
        assert_eq!(binary["contentType"], "application/pdf");

        let bob = ctx.sign_in("bob", SCOPE).await;
        assert_eq!(ctx.get_url(url, Some(access(&bob))).await.status(), 403);
    });
}

#[test]
fn incremental_changes_and_filters() {
    let ctx = TestContext::with_defaults();
    ctx.block_on(async {
        let alice = ctx.patient("alice");
        let token = ctx.sign_in("alice", SCOPE).await;
        let bearer = access(&token);

        let (_, labs) = ctx
            .get_json(
                &format!("Observation?patient={alice}&category=laboratory&_count=200"),
                bearer,
            )
            .await;
        let (_, all) = ctx
            .get_json(&format!("Observation?patient={alice}&_count=200"), bearer)
            .await;
        let (_, either) = ctx
            .get_json(
                &format!("Observation?patient={alice}&category=laboratory,vital-signs&_count=0"),
                bearer,
            )
            .await;
        let lab_total = labs["total"].as_u64().unwrap();
        assert!(lab_total > 0 && lab_total < all["total"].as_u64().unwrap());
        assert!(either["total"].as_u64().unwrap() > lab_total);
        for entry in labs["entry"].as_array().unwrap() {
            assert_eq!(
                entry["resource"]["category"][0]["coding"][0]["code"],
                "laboratory"
            );
        }

        // Everything generated is older than 2025; a change made now is newer.
        let (_, old) = ctx
            .get_json(
                &format!("Observation?patient={alice}&_lastUpdated=lt2025-01-01"),
                bearer,
            )
            .await;
        assert_eq!(old["total"], all["total"]);
        let mark = "gt2025-01-01T00:00:00Z";
        let (_, none) = ctx
            .get_json(
                &format!("Observation?patient={alice}&_lastUpdated={mark}"),
                bearer,
            )
            .await;
        assert_eq!(none["total"], 0);

        let mut changed = all["entry"][0]["resource"].clone();
        let id = changed["id"].as_str().unwrap().to_owned();
        changed["status"] = json!("amended");
        ctx.sandbox.set_resource(changed).unwrap();
        let (_, fresh) = ctx
            .get_json(
                &format!("Observation?patient={alice}&_lastUpdated={mark}"),
                bearer,
            )
            .await;
        assert_eq!(fresh["total"], 1);
        assert_eq!(fresh["entry"][0]["resource"]["meta"]["versionId"], "2");
        assert_eq!(fresh["entry"][0]["resource"]["status"], "amended");
        let response = ctx.get(&format!("Observation/{id}"), Some(bearer)).await;
        assert_eq!(response.headers()["etag"], "W/\"2\"");

        let before = ctx.sandbox.resource_count(&alice);
        assert!(ctx.sandbox.delete_resource("Observation", &id));
        assert!(!ctx.sandbox.delete_resource("Observation", &id));
        assert_eq!(ctx.sandbox.resource_count(&alice), before - 1);
        assert_eq!(
            ctx.get(&format!("Observation/{id}"), Some(bearer))
                .await
                .status(),
            404
        );
        assert!(ctx
            .sandbox
            .set_resource(json!({"resourceType": "Observation", "id": "orphan"}))
            .is_err());

        // POST _search behaves like GET.
        let response = ctx
            .http()
            .post(format!("{}/Condition/_search", ctx.sandbox.fhir_base()))
            .bearer_auth(bearer)
            .form(&[
                ("patient", alice.as_str()),
                ("category", "problem-list-item,encounter-diagnosis"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let bundle: Value = response.json().await.unwrap();
        let (_, get) = ctx
            .get_json(&format!("Condition?patient={alice}"), bearer)
            .await;
        assert_eq!(bundle["total"], get["total"]);
    });
}

#[test]
fn auto_login_redirects_straight_to_the_app() {
    let ctx = TestContext::new(SandboxConfig {
        auto_login: Some("bob".into()),
        granted_scope_override: Some("patient/*.read".into()),
        ..SandboxConfig::default()
    });
    ctx.block_on(async {
        let url = ctx.authorize_url(SCOPE, &[]);
        let outcome = browser::sign_in(&url, "ignored", "ignored", Consent::Deny)
            .await
            .unwrap();
        let code = query(&outcome.final_url, "code").expect("code without a form");
        let (status, token) = ctx.exchange(&code).await;
        assert_eq!(status, 200);
        assert_eq!(token["scope"], "patient/*.read");
        assert_eq!(token["patient"], ctx.patient("bob").as_str());
        assert!(
            token.get("refresh_token").is_none(),
            "offline_access was not granted"
        );
        assert!(Sandbox::start(SandboxConfig {
            auto_login: Some("mallory".into()),
            ..SandboxConfig::default()
        })
        .await
        .is_err());
    });
}

#[test]
fn same_seed_same_record_and_large_records_page_quickly() {
    let a = TestContext::new(SandboxConfig {
        seed: 9,
        ..SandboxConfig::default()
    });
    let b = TestContext::new(SandboxConfig {
        seed: 9,
        ..SandboxConfig::default()
    });
    let big = TestContext::new(SandboxConfig {
        resources_per_patient: 20_000,
        ..SandboxConfig::default()
    });
    a.block_on(async {
        assert_eq!(a.patient("alice"), b.patient("alice"));
        let (ta, tb) = (
            a.sign_in("alice", SCOPE).await,
            b.sign_in("alice", SCOPE).await,
        );
        assert_ne!(access(&ta), access(&tb), "tokens are never seeded");
        let query = format!("Condition?patient={}", a.patient("alice"));
        let (_, ba) = a.get_json(&query, access(&ta)).await;
        let (_, bb) = b.get_json(&query, access(&tb)).await;
        let resources = |b: &Value| {
            let entries = b["entry"].as_array().unwrap();
            entries
                .iter()
                .map(|e| e["resource"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(resources(&ba), resources(&bb));

        let alice = big.patient("alice");
        assert_eq!(big.sandbox.resource_count(&alice), 20_001);
        let token = big.sign_in("alice", SCOPE).await;
        let paged = big
            .all_pages(
                &format!("Observation?patient={alice}&_count=1000"),
                access(&token),
            )
            .await;
        assert_well_formed(&big, &paged);
        let (resources, total) = (paged.resources, paged.total);
        assert_eq!(resources.len() as u64, total);
        assert!(total >= 10_000);
    });
}

/// The sandbox keeps serving from its own runtime while the test thread blocks.
#[test]
fn serves_while_the_caller_blocks() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime
        .block_on(Sandbox::start(SandboxConfig::default()))
        .unwrap();
    let mut stream = std::net::TcpStream::connect(sandbox.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "GET {}/metadata HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        sandbox.fhir_base().path(),
        sandbox.addr()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("CapabilityStatement"));
    let addr = sandbox.addr();
    drop(sandbox);
    // Dropping stops the server: new connections are refused once the task is gone.
    wait_until(
        "the server refuses connections after the drop",
        Duration::from_secs(5),
        || std::net::TcpStream::connect(addr).is_err(),
    );
}
