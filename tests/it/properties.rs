//! Property tests: parsers and checks that see untrusted input never panic, and their safety
//! promises hold for any input (file names stay plain, references stay under the base,
//! redaction hides what it must).

use fhirdl::auth::explain::{ClientProof, Sent};
use fhirdl::auth::loopback::{check_callback, parse_callback, parse_pasted, Expected};
use fhirdl::sync::attachments::attachments_of;
use fhirdl::sync::bundle::{parse_page, valid_id};
use fhirdl::sync::references::resolve;
use proptest::prelude::*;
use serde_json::Value;
use url::Url;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
        prop_oneof![
            Just("Bundle"),
            Just("next"),
            Just("resource"),
            Just("entry"),
            Just("link")
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("resourceType".to_string()),
                    Just("entry".to_string()),
                    Just("resource".to_string()),
                    Just("link".to_string()),
                    Just("relation".to_string()),
                    Just("url".to_string()),
                    Just("id".to_string()),
                    Just("total".to_string()),
                    Just("content".to_string()),
                    Just("attachment".to_string()),
                    ".{0,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn note_texts_never_panic_on_any_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        markup in "[<>{}\\\\/a-z'&;#0-9 ?*-]{0,200}",
    ) {
        use fhirdl::note_text::{extract, Format};
        for format in [Format::Xml, Format::Html, Format::Xhtml, Format::Rtf, Format::Plain] {
            let _ = extract(format, &bytes);
            let _ = extract(format, markup.as_bytes());
            let rtf = format!("{{\\rtf1 {markup}}}");
            let _ = extract(format, rtf.as_bytes());
        }
    }

    #[test]
    fn valid_ids_are_plain_file_name_parts(id in ".{0,80}") {
        if valid_id(&id) {
            prop_assert!(!id.contains('/') && !id.contains('\\') && !id.contains('\0'));
            prop_assert!(id.len() <= 64 && !id.is_empty());
            let joined = std::path::Path::new("/out").join(format!("{id}.json"));
            prop_assert_eq!(joined.parent(), Some(std::path::Path::new("/out")));
        }
    }

    #[test]
    fn file_stems_are_distinct_even_without_case(ids in proptest::collection::vec("[aAbB.-]{1,4}", 0..40)) {
        let ids: std::collections::BTreeSet<String> =
            ids.into_iter().filter(|i| valid_id(i)).collect();
        let stems = fhirdl::sync::naming::stems(ids.iter().map(String::as_str));
        prop_assert_eq!(stems.len(), ids.len());
        let folded: std::collections::BTreeSet<String> =
            stems.values().map(|s| s.to_lowercase()).collect();
        prop_assert_eq!(folded.len(), ids.len(), "{:?}", stems);
        for stem in stems.values() {
            let joined = std::path::Path::new("/out").join(format!("{stem}.json"));
            prop_assert_eq!(joined.parent(), Some(std::path::Path::new("/out")));
        }
    }

    #[test]
    fn references_resolve_only_under_the_base(reference in ".{0,120}", path in "(/[a-zA-Z0-9]{1,6}){0,3}") {
        let base = Url::parse(&format!("https://fhir.example{path}")).unwrap();
        if let Some((ty, id)) = resolve(&reference, &base) {
            prop_assert!(valid_id(&id));
            prop_assert!(ty.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn absolute_references_elsewhere_are_never_followed(host in "[a-z]{1,10}", ty in "[A-Z][a-z]{1,10}", id in "[a-z0-9]{1,10}") {
        let base = Url::parse("https://fhir.example/r4").unwrap();
        prop_assume!(host != "fhir");
        let other = format!("https://{host}.other/r4/{ty}/{id}");
        prop_assert_eq!(resolve(&other, &base), None);
    }

    #[test]
    fn bundles_of_any_shape_never_panic(v in json_value()) {
        let url = Url::parse("https://fhir.example/r4/Observation").unwrap();
        let _ = parse_page(&serde_json::to_vec(&v).unwrap(), &url);
        for ty in ["DocumentReference", "DiagnosticReport"] {
            for a in attachments_of(ty, &v) {
                prop_assert!(a.file.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
                prop_assert!(!a.file.contains(".."));
            }
        }
    }

    #[test]
    fn callbacks_never_panic_and_need_the_state(query in ".{0,200}") {
        let p = parse_callback(&query);
        let expected = Expected { state: "the-real-state-value".into(), iss: Some("https://as".into()) };
        let sent = Sent {
            profile: "p",
            client_id: "app",
            redirect_uri: Some("http://127.0.0.1:1/callback"),
            requested_scope: "patient/*.rs",
            proof: ClientProof::Public,
        };
        if check_callback(&p, &expected, &sent).is_ok() {
            prop_assert_eq!(p.state.as_deref(), Some("the-real-state-value"));
        }
        let _ = parse_pasted(&query);
    }

    #[test]
    fn redaction_hides_codes(code in "[A-Za-z0-9_-]{12,40}") {
        let url = Url::parse(&format!("http://127.0.0.1:1/cb?state=s&code={code}")).unwrap();
        prop_assert!(!fhirdl::http::redact_url(&url).contains(&code));
    }
}
