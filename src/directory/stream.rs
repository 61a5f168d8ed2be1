//! Reads a FHIR Bundle one entry at a time: a serde visitor over the top-level object that
//! hands each `entry[].resource` to a callback as it is read, so a 90 MB directory is never
//! held as one `serde_json::Value` tree (only one entry's resource at a time). A gzip copy is
//! recognised by its magic bytes (1f 8b), not by its name or Content-Type.

use anyhow::{bail, Context, Result};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::io::{BufRead, BufReader, Read};

/// What the callback gets: the entry's `fullUrl` (if any) and its resource.
pub type EachResource<'a> = &'a mut dyn FnMut(Option<String>, Value);

/// Calls `each` with every `entry[].resource` of the Bundle `reader` holds (plain or gzip).
/// Fails when the document is not JSON or not a Bundle.
pub fn for_each_resource(reader: impl Read, each: EachResource) -> Result<()> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let head = reader.fill_buf().context("cannot read the document")?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let unzipped =
            BufReader::with_capacity(256 * 1024, flate2::bufread::MultiGzDecoder::new(reader));
        return read_bundle(unzipped, each);
    }
    read_bundle(reader, each)
}

fn read_bundle(reader: impl BufRead, each: EachResource) -> Result<()> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let kind = de
        .deserialize_map(BundleVisitor { each })
        .context("the document is not a JSON FHIR Bundle")?;
    de.end().context("the document has data after the Bundle")?;
    match kind.as_deref() {
        Some("Bundle") => Ok(()),
        Some(other) => bail!("the document is a FHIR {other}, not a Bundle"),
        None => bail!("the document has no resourceType; a FHIR Bundle was expected"),
    }
}

/// Visits the Bundle's top-level object; returns its `resourceType`.
struct BundleVisitor<'a> {
    each: EachResource<'a>,
}

impl<'de> Visitor<'de> for BundleVisitor<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a FHIR Bundle object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let mut kind = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "resourceType" => kind = Some(map.next_value::<String>()?),
                "entry" => map.next_value_seed(Entries { each: self.each })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(kind)
    }
}

/// The `entry` array, read element by element.
struct Entries<'a> {
    each: EachResource<'a>,
}

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the Bundle's entry array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<Entry>()? {
            if let Some(resource) = entry.resource {
                (self.each)(entry.full_url, resource);
            }
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct Entry {
    #[serde(rename = "fullUrl")]
    full_url: Option<String>,
    resource: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn resources(bytes: &[u8]) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for_each_resource(bytes, &mut |_, r| out.push(r))?;
        Ok(out)
    }

    const BUNDLE: &str = r#"{"resourceType":"Bundle","type":"collection","entry":[
        {"fullUrl":"x","resource":{"resourceType":"Endpoint","id":"e1"}},
        {"search":{"mode":"match"}},
        {"resource":{"resourceType":"Organization","id":"o1"}}],"total":2}"#;

    #[test]
    fn hands_each_resource_in_order() {
        let got = resources(BUNDLE.as_bytes()).unwrap();
        let ids: Vec<&str> = got.iter().filter_map(|r| r["id"].as_str()).collect();
        assert_eq!(ids, ["e1", "o1"]);
    }

    #[test]
    fn reads_gzip_by_its_magic_bytes() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(BUNDLE.as_bytes()).unwrap();
        let got = resources(&gz.finish().unwrap()).unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn refuses_what_is_not_a_bundle() {
        let err = resources(br#"{"resourceType":"Patient","id":"p"}"#).unwrap_err();
        assert!(
            format!("{err:#}").contains("Patient, not a Bundle"),
            "{err:#}"
        );
        assert!(resources(b"<html>").is_err());
        assert!(resources(br#"{"resourceType":"Bundle","entry":[{"resource":"#).is_err());
    }
}
