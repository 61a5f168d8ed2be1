//! One resource as the server sent it: its text, kept byte for byte in meaning (only the
//! whitespace between tokens removed, see [`crate::json_text`]), and the few fields fhirdl reads
//! from it, found in one pass over the text without building a `serde_json::Value` and without
//! ever printing the resource again: `resourceType`, `id`, `meta.lastUpdated`,
//! `meta.versionId`, the top-level `subject`/`patient` references (whose record it is) and every
//! `reference` inside (what it points at).

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A resource read from a page or a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    /// `resourceType`; empty when the entry is not a resource (not an object, or no type).
    pub resource_type: String,
    pub id: Option<String>,
    pub last_updated: Option<String>,
    pub version_id: Option<String>,
    /// The `reference` of the top-level `subject` and `patient` elements.
    pub owners: Vec<String>,
    /// Every `reference` string inside the resource, each once, in order of appearance.
    pub references: Vec<String>,
    /// The text as sent, without whitespace between tokens: the NDJSON line.
    pub line: String,
    /// Why the fields above could not be read with confidence (an `id` that is not a string,
    /// nesting deeper than the parser's limit); such a resource is reported, not stored.
    pub problem: Option<String>,
}

impl Resource {
    /// Reads `raw` (a resource from a Bundle entry, or a read's body).
    pub fn read(raw: &RawValue) -> Resource {
        Resource::from_text(raw.get())
    }

    /// `GET <base>/<ty>/<id>`, the body read as a resource (its text kept as sent).
    pub async fn fetch(
        fhir: &crate::fhir::client::FhirClient,
        ty: &str,
        id: &str,
    ) -> anyhow::Result<crate::fhir::client::Parsed<Resource>> {
        let url = crate::fhir_url::resource(fhir.base(), ty, id)?;
        fhir.get_with(&url, |body| {
            serde_json::from_slice::<&RawValue>(body)
                .map(Resource::read)
                .map_err(|e| e.to_string())
        })
        .await
    }

    /// Whose the resource is when it is not the signed-in `patient`'s: a `subject` or
    /// `patient` reference to another Patient (or, for a Patient, another id). Such a resource
    /// is never mixed into this patient's files (sync), and is damage when found there (verify).
    pub fn other_owner(&self, ty: &str, id: &str, patient: &str) -> Option<String> {
        if ty == "Patient" {
            return (id != patient).then(|| format!("Patient/{id}"));
        }
        self.owners
            .iter()
            .find(
                |reference| match reference.trim_end_matches('/').rsplit_once("Patient/") {
                    Some((_, other)) => other.split('/').next() != Some(patient),
                    None => false,
                },
            )
            .cloned()
    }

    /// Reads a resource's JSON text (valid JSON; any value that is not an object gives a
    /// resource without a type).
    pub fn from_text(text: &str) -> Resource {
        let mut found = Resource::default();
        let mut de = serde_json::Deserializer::from_str(text);
        // Text from a page was parsed already; a failure here is then legal JSON serde_json
        // will not read (nesting past its recursion limit, a lone surrogate escape), read
        // again without recursion and without decoding what fhirdl does not need. Text read
        // back from a file (`fhirdl verify`) may be anything, trailing bytes too: that stays a
        // problem, with serde_json's words.
        if let Err(e) = (Walk {
            found: &mut found,
            at: Where::Top,
        })
        .deserialize(&mut de)
        .and_then(|()| de.end())
        {
            match super::resource_scan::scan(text) {
                Ok(scanned) => found = Resource::from(scanned),
                Err(_) => found.problem = Some(format!("it could not be read: {e}")),
            }
        }
        found.line = if crate::json_text::is_minified(text) {
            text.to_string()
        } else {
            crate::json_text::minify(text)
        };
        found
    }
}

impl From<super::resource_scan::Fields> for Resource {
    fn from(f: super::resource_scan::Fields) -> Resource {
        Resource {
            resource_type: f.resource_type,
            id: f.id,
            last_updated: f.last_updated,
            version_id: f.version_id,
            owners: f.owners,
            references: f.references,
            line: String::new(),
            problem: f.problem,
        }
    }
}

/// Where in the resource a value sits (only the places fhirdl reads are told apart).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Where {
    Top,
    Meta,
    /// Inside the top-level `subject` or `patient`.
    Owner,
    Elsewhere,
}

struct Walk<'a> {
    found: &'a mut Resource,
    at: Where,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Walk { found, at } = self;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match (at, key.as_ref()) {
                (Where::Top, "resourceType") => {
                    found.resource_type = string(&mut map)?.unwrap_or_default();
                }
                (Where::Top, "id") => {
                    found.id = string(&mut map)?;
                    if found.id.is_none() {
                        found.problem = Some("its id is not a string".into());
                    }
                }
                (Where::Meta, "lastUpdated") => found.last_updated = string(&mut map)?,
                (Where::Meta, "versionId") => found.version_id = string(&mut map)?,
                (_, "reference") => {
                    // Trimmed before it is copied out of the text (one allocation, not two).
                    let Some(reference) = map.next_value::<MaybeText<'de>>()?.0 else {
                        continue;
                    };
                    let reference = reference.trim().to_string();
                    if at == Where::Owner {
                        found.owners.push(reference.clone());
                    }
                    if !found.references.contains(&reference) {
                        found.references.push(reference);
                    }
                }
                (Where::Top, "meta") => map.next_value_seed(Walk {
                    found,
                    at: Where::Meta,
                })?,
                (Where::Top, "subject" | "patient") => map.next_value_seed(Walk {
                    found,
                    at: Where::Owner,
                })?,
                _ => map.next_value_seed(Walk {
                    found,
                    at: Where::Elsewhere,
                })?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // A list of owners (`patient` is 0..1 everywhere, but tolerate a list) stays an owner.
        let at = match self.at {
            Where::Owner => Where::Owner,
            _ => Where::Elsewhere,
        };
        while seq
            .next_element_seed(Walk {
                found: self.found,
                at,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The next value of `map` when it is a string; anything else is skipped.
fn string<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<String>, A::Error> {
    Ok(map.next_value::<MaybeText<'de>>()?.0.map(Cow::into_owned))
}

/// A string, borrowed from the text when it has no escapes.
struct Text<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A value that is read when it is a string and skipped otherwise.
struct MaybeText<'de>(Option<Cow<'de, str>>);

impl<'de> de::Deserialize<'de> for MaybeText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }
            fn visit_unit<E>(self) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeText<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeText(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeText<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeText(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_fhirdl_needs_and_keeps_the_text() {
        let text = r#"{
  "id": "o.1", "resourceType": "Observation",
  "meta": {"versionId": "3", "lastUpdated": "2026-01-02T03:04:05.678+01:00", "tag": [{"code": "x"}]},
  "subject": {"reference": " Patient/p1 ", "display": "A"},
  "encounter": {"reference": "Encounter/e1"},
  "valueQuantity": {"value": 1.50, "unit": "mmol/L"},
  "hasMember": [{"reference": "Observation/o2"}, {"reference": "Encounter/e1"}],
  "note": [{"text": "reference: not one", "reference": 5}],
  "contained": [{"resourceType": "Medication", "id": "m", "meta": {"versionId": "9"}}]
}"#;
        let r = Resource::from_text(text);
        assert_eq!(r.resource_type, "Observation");
        assert_eq!(r.id.as_deref(), Some("o.1"));
        assert_eq!(r.version_id.as_deref(), Some("3"));
        assert_eq!(
            r.last_updated.as_deref(),
            Some("2026-01-02T03:04:05.678+01:00")
        );
        assert_eq!(r.owners, ["Patient/p1"]);
        assert_eq!(
            r.references,
            ["Patient/p1", "Encounter/e1", "Observation/o2"]
        );
        assert!(r.line.contains(r#""value":1.50,"#), "{}", r.line);
        assert!(r
            .line
            .starts_with(r#"{"id":"o.1","resourceType":"Observation""#));
        assert_eq!(r.line, crate::json_text::minify(text));
    }

    #[test]
    fn escaped_strings_and_odd_shapes() {
        let r = Resource::from_text(
            r#"{"resourceType":"Condition","id":"c\u002d1","patient":[{"reference":"Patient/p"}]}"#,
        );
        assert_eq!(r.id.as_deref(), Some("c-1"));
        assert_eq!(r.owners, ["Patient/p"]);
        // The line keeps the escape as sent.
        assert!(r.line.contains(r#""c\u002d1""#));
        for not_a_resource in ["5", "[1,2]", "\"x\"", "null", "{}", r#"{"resourceType":7}"#] {
            let r = Resource::from_text(not_a_resource);
            assert_eq!(r.resource_type, "", "{not_a_resource}");
            assert_eq!(r.line, not_a_resource);
        }
        let trailing = Resource::from_text(r#"{"resourceType":"Observation","id":"a"}x"#);
        assert!(trailing.problem.unwrap().contains("trailing characters"));
        let numeric = Resource::from_text(r#"{"resourceType":"Observation","id":42}"#);
        assert_eq!(numeric.problem.as_deref(), Some("its id is not a string"));
    }

    #[test]
    fn legal_json_past_the_parsers_limits_is_read_and_kept_as_sent() {
        // 100,000 levels: no recursion, no stack overflow.
        let text = format!(
            r#"{{"resourceType":"Observation","id":"deep","x":{}{{"reference":"Encounter/e"}}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let r = Resource::from_text(&text);
        assert_eq!(r.id.as_deref(), Some("deep"));
        assert_eq!(r.problem, None);
        assert_eq!(r.references, ["Encounter/e"]);
        assert_eq!(r.line, text);
        // A lone surrogate escape stays in the line byte for byte.
        let text = r#"{"resourceType":"Observation", "id":"s","note":[{"text":"\ud800"}],"subject":{"reference":"Patient/p"}}"#;
        let r = Resource::from_text(text);
        assert_eq!((r.id.as_deref(), r.problem), (Some("s"), None));
        assert_eq!(r.owners, ["Patient/p"]);
        assert!(r.line.contains(r#""\ud800""#), "{}", r.line);
        // Deep text that is not JSON stays a problem, in serde_json's words.
        let broken = format!(
            r#"{{"resourceType":"Observation","id":"b","x":{}}}"#,
            "[".repeat(200)
        );
        let problem = Resource::from_text(&broken).problem.unwrap();
        assert!(problem.contains("recursion limit exceeded"), "{problem}");
    }

    /// The scan reads what the walk reads, wherever the walk can read at all.
    #[test]
    fn the_scan_agrees_with_the_walk() {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("resourceType"),
            Just("id"),
            Just("meta"),
            Just("lastUpdated"),
            Just("versionId"),
            Just("subject"),
            Just("patient"),
            Just("reference"),
            Just("x"),
            Just("r\\u0065ference"),
        ];
        let leaf = prop_oneof![
            Just(r#""Patient/p""#.to_string()),
            Just(r#""Encounter/e""#.to_string()),
            Just(r#"" a\u00e9 ""#.to_string()),
            Just("1.50".to_string()),
            Just("null".to_string()),
            Just("true".to_string()),
            Just(r#""2026-01-01T00:00:00Z""#.to_string()),
        ];
        let value = leaf.prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec((key.clone(), inner), 0..5).prop_map(|m| {
                    let members: Vec<String> =
                        m.iter().map(|(k, v)| format!(r#""{k}":{v}"#)).collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        });
        proptest!(ProptestConfig::with_cases(500), |(text in value)| {
            let walked = Resource::from_text(&text);
            let scanned = Resource::from(super::super::resource_scan::scan(&text).unwrap());
            prop_assert_eq!(Resource { line: walked.line.clone(), ..scanned }, walked);
        });
    }
}
