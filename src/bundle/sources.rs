//! `fhirdl bundle --profiles A,B` / `--all-profiles`: the exports of several profiles (one
//! patient's record at each provider) as one Bundle. Each resource is copied byte for byte as
//! for one export; its `fullUrl` is its absolute URL on its own server (`<base>/<Type>/<id>`), so
//! the same `Type/id` at two servers never collides and a relative reference resolves to the
//! entry of its own server, by FHIR's rule
//! (<https://hl7.org/fhir/R4/bundle.html#references>: a relative reference is resolved
//! against the base of the `fullUrl` of the entry that holds it). `--dedupe` leaves out a
//! resource whose text is exactly one already written (a SHA-256 per resource is all it
//! keeps in memory).

use super::{Options, Summary, Writer};
use crate::error::{Failure, Kind};
use crate::folder::Folder;
use anyhow::Result;
use serde::Serialize;
use std::io::Write;

/// One export folder of a Bundle, and the profile it belongs to (when one was named).
#[derive(Debug)]
pub struct Source {
    pub profile: Option<String>,
    pub folder: Folder,
}

/// What one source added to the Bundle.
#[derive(Debug, Default, Serialize)]
pub struct SourceSummary {
    pub profile: Option<String>,
    pub dir: std::path::PathBuf,
    pub fhir_base: Option<String>,
    pub entries: usize,
    pub attachments: usize,
    /// Resources left out by `--dedupe`: their text is that of one written before.
    pub same_text: usize,
}

/// Writes the resources of several export folders as one Bundle to `out`: each resource's
/// `fullUrl` is its absolute URL on its own server, so ids never collide and relative
/// references resolve inside the Bundle (<https://hl7.org/fhir/R4/bundle.html#references>).
/// Every source must know its FHIR base.
pub fn write_sources(sources: &[Source], opts: &Options, out: &mut dyn Write) -> Result<Summary> {
    for s in sources {
        if s.folder.fhir_base.is_none() {
            return Err(Failure::new(
                Kind::Usage,
                format!(
                    "{} does not say which FHIR server it came from (no fhir_base in its manifest.json), so its resources cannot be told apart from another source's",
                    s.folder.dir.display()
                ),
            )
            .hint(match &s.profile {
                Some(p) => format!("run `fhirdl sync --profile {p}` to bring the export up to date, then bundle again"),
                None => "bundle this folder alone: fhirdl bundle --out DIR".to_owned(),
            })
            .into());
        }
    }
    let mut bundle = Writer::new(opts, out);
    bundle.open()?;
    for s in sources {
        let before = (
            bundle.summary.entries,
            bundle.summary.attachments,
            bundle.summary.same_text,
        );
        bundle.source(&s.folder)?;
        let after = &bundle.summary;
        let row = SourceSummary {
            profile: s.profile.clone(),
            dir: s.folder.dir.clone(),
            fhir_base: s.folder.fhir_base.clone(),
            entries: after.entries - before.0,
            attachments: after.attachments - before.1,
            same_text: after.same_text - before.2,
        };
        bundle.summary.sources.push(row);
    }
    bundle.close()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::BundleType;

    fn export(base: Option<&str>, lines: &str) -> (tempfile::TempDir, Source) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Observation.ndjson"), lines).unwrap();
        if let Some(b) = base {
            let m = serde_json::json!({ "fhir_base": b }).to_string();
            std::fs::write(dir.path().join("manifest.json"), m).unwrap();
        }
        let folder = Folder::open(dir.path()).unwrap();
        (
            dir,
            Source {
                profile: Some("p".into()),
                folder,
            },
        )
    }

    fn opts(dedupe: bool) -> Options {
        Options {
            bundle_type: BundleType::Collection,
            attachments: false,
            timestamp: "2025-01-01T00:00:00Z".into(),
            dedupe,
        }
    }

    #[test]
    fn the_same_id_at_two_servers_is_two_entries_and_the_same_text_one_with_dedupe() {
        let same = "{\"resourceType\":\"Observation\",\"id\":\"a\",\"status\":\"final\"}";
        let other =
            "{\"resourceType\":\"Observation\",\"id\":\"b\",\"valueQuantity\":{\"value\":1.50}}";
        let (_a, a) = export(Some("https://a.example/fhir/"), &format!("{same}\n"));
        let (_b, b) = export(Some("https://b.example/r4"), &format!("{same}\n{other}\n"));
        let sources = [a, b];
        let mut out = Vec::new();
        let s = write_sources(&sources, &opts(false), &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let urls: Vec<&str> = v["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap())
            .collect();
        assert_eq!(
            urls,
            [
                "https://a.example/fhir/Observation/a",
                "https://b.example/r4/Observation/a",
                "https://b.example/r4/Observation/b"
            ]
        );
        assert!(
            String::from_utf8(out).unwrap().contains(other),
            "byte for byte"
        );
        assert_eq!((s.entries, s.same_text, s.sources[1].entries), (3, 0, 2));
        let s = write_sources(&sources, &opts(true), &mut Vec::new()).unwrap();
        assert_eq!((s.entries, s.same_text, s.sources[1].same_text), (2, 1, 1));
        // The same server twice: one entry per fullUrl.
        let (_c, c) = export(Some("https://a.example/fhir"), &format!("{same}\n"));
        let s = write_sources(
            &[sources.into_iter().next().unwrap(), c],
            &opts(false),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!((s.entries, s.duplicates), (1, 1));
    }

    #[test]
    fn a_source_without_its_server_is_refused_with_the_command_to_run() {
        let (_a, a) = export(None, "{\"resourceType\":\"Observation\",\"id\":\"a\"}\n");
        let err = write_sources(&[a], &opts(false), &mut Vec::new()).unwrap_err();
        assert_eq!(crate::exit::exit_code(&err), 2);
        let f = err.downcast_ref::<Failure>().unwrap();
        assert!(f
            .hint
            .as_deref()
            .unwrap()
            .contains("fhirdl sync --profile p"));
    }
}
