//! `fhirdl unbundle`: a FHIR Bundle (any type; plain or gzip) back into `<Type>.ndjson` files,
//! one resource per line, sorted by id — the inverse of [`super::write`].
//!
//! The Bundle is read as a byte stream by a small JSON scanner that copies each
//! `entry[].resource` as written, dropping only the whitespace between tokens (so a resource of
//! a compact Bundle comes out byte for byte, and a pretty-printed one is compacted without being
//! printed again: numbers and strings keep their text). Resources are spooled to disk in
//! sorted runs (`sync::spool`), so a Bundle of any size needs little memory.

use crate::atomic::{create_private_dir, AtomicFile};
use crate::error::{Failure, Kind};
use crate::export_layout as layout;
use crate::sync::bundle::valid_id;
use crate::sync::spool::Spool;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// A resource larger than this is refused (a hostile or broken Bundle).
const MAX_RESOURCE: usize = 1 << 30;

#[derive(Debug, Default, Serialize)]
pub struct Split {
    /// `Bundle.type`.
    pub bundle_type: Option<String>,
    /// Resources written per type.
    pub resources: BTreeMap<String, usize>,
    /// Entries without a resource (a transaction-response's, a deleted one).
    pub without_resource: usize,
    /// Resources whose type and id were already seen (the first is kept).
    pub duplicates: usize,
    /// Resources without a valid `resourceType` or `id`.
    pub skipped: usize,
    pub warnings: Vec<String>,
    /// One folder per server, when the Bundle holds the resources of several (told by their
    /// `fullUrl`s).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SplitSource>,
}

/// One server's resources, in a folder of their own.
#[derive(Debug, Serialize)]
pub struct SplitSource {
    pub fhir_base: Option<String>,
    pub folder: std::path::PathBuf,
    pub resources: usize,
}

/// The resources of one type from one server (`""`: no server known).
type Spools = BTreeMap<(String, String), Spool>;

/// Reads a Bundle from `input` (gzip is recognised by its magic bytes) and writes its
/// resources to `<dir>/<Type>.ndjson`. `dir` must not hold NDJSON files already.
pub fn split<'r>(input: impl Read + 'r, dir: &Path) -> Result<Split> {
    refuse_existing(dir)?;
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let gzip = reader
        .fill_buf()
        .context("cannot read the Bundle")?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead + 'r> = if gzip {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    };
    let mut scan = Scanner {
        input: reader,
        offset: 0,
    };
    let mut out = Split::default();
    let mut spools = Spools::new();
    let mut origins = super::origin::Origins::default();
    scan.expect(b'{')?;
    let mut resource_type = None;
    let mut saw_entries = false;
    scan.members(|scan, key| {
        match key {
            "resourceType" => resource_type = Some(scan.string()?),
            "type" => out.bundle_type = Some(scan.string()?),
            "entry" => {
                saw_entries = true;
                scan.expect(b'[')?;
                scan.elements(|scan| entry(scan, dir, &mut out, &mut spools, &mut origins))?;
            }
            _ => scan.skip_value()?,
        }
        Ok(())
    })?;
    if resource_type.as_deref() != Some("Bundle") {
        bail!(
            "the input is not a FHIR Bundle (its resourceType is {})",
            resource_type.as_deref().unwrap_or("missing")
        );
    }
    if !saw_entries {
        out.warnings.push("the Bundle has no entries".into());
    }
    write_sources(dir, spools, &mut out)?;
    Ok(out)
}

/// Every spool into its `<Type>.ndjson` file: in `dir` when the Bundle came from one server
/// (or none said), else in a folder per server below it (`no-server` for entries before any
/// server's).
fn write_sources(dir: &Path, spools: Spools, out: &mut Split) -> Result<()> {
    create_private_dir(dir)?;
    let mut bases: Vec<&str> = spools.keys().map(|(b, _)| b.as_str()).collect();
    bases.dedup();
    // Entries of no known server go with the one server there is, if there is only one.
    let servers = bases.iter().filter(|b| !b.is_empty()).count();
    let folders: BTreeMap<String, std::path::PathBuf> = if servers > 1 {
        super::origin::folder_names(bases)
            .into_iter()
            .map(|(base, name)| (base, dir.join(name)))
            .collect()
    } else {
        BTreeMap::new()
    };
    for sub in folders.values() {
        refuse_existing(sub)?;
        create_private_dir(sub)?;
    }
    for ((base, ty), spool) in spools {
        let target = folders.get(&base).map_or(dir, |p| p.as_path());
        let mut sorted = spool.into_sorted()?;
        let mut file = AtomicFile::create(&layout::ndjson_path(target, &ty))?;
        let mut n = 0;
        while let Some((_, line)) = sorted.next_entry()? {
            file.write_all(line.as_bytes())?;
            file.write_all(b"\n")?;
            n += 1;
        }
        file.commit()?;
        if let Some(folder) = folders.get(&base) {
            match out.sources.iter_mut().find(|s| &s.folder == folder) {
                Some(s) => s.resources += n,
                None => out.sources.push(SplitSource {
                    fhir_base: (!base.is_empty()).then(|| base.clone()),
                    folder: folder.clone(),
                    resources: n,
                }),
            }
        }
    }
    Ok(())
}

/// A folder that already holds NDJSON files (an export) is not written into.
fn refuse_existing(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let taken = entries
        .flatten()
        .any(|e| layout::ndjson_type(&e.file_name().to_string_lossy()).is_some());
    if taken || layout::private_dir(dir).exists() {
        return Err(Failure::new(
            Kind::Usage,
            format!(
                "{} already holds NDJSON files; refusing to mix records",
                dir.display()
            ),
        )
        .hint("unbundle into a new or empty folder")
        .into());
    }
    Ok(())
}

fn entry(
    scan: &mut Scanner<'_>,
    dir: &Path,
    out: &mut Split,
    spools: &mut Spools,
    origins: &mut super::origin::Origins,
) -> Result<()> {
    let mut resource = None;
    let mut full_url = None;
    scan.expect(b'{')?;
    scan.members(|scan, key| {
        match key {
            "resource" => resource = Some(scan.capture()?),
            "fullUrl" => {
                // A fullUrl that is not a string says no server; the entry is still read.
                let mut raw = Vec::new();
                scan.copy_value(&mut raw, 1 << 20)?;
                full_url = serde_json::from_slice::<String>(&raw).ok();
            }
            _ => scan.skip_value()?,
        }
        Ok(())
    })?;
    let Some(bytes) = resource else {
        out.without_resource += 1;
        return Ok(());
    };
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "resourceType")]
        resource_type: Option<String>,
        id: Option<String>,
    }
    let head: Option<Head> = serde_json::from_slice(&bytes).ok();
    let (Some(ty), Some(id)) = head.map_or((None, None), |h| (h.resource_type, h.id)) else {
        out.skipped += 1;
        out.warnings
            .push("an entry's resource has no resourceType or id; left out".into());
        return Ok(());
    };
    if !crate::folder::is_type_name(&ty) || !valid_id(&id) {
        out.skipped += 1;
        out.warnings
            .push("an entry's resource has an invalid resourceType or id; left out".into());
        return Ok(());
    }
    let line = String::from_utf8(bytes).context("a resource is not UTF-8")?;
    let base = origins.of(full_url.as_deref(), &ty, &id);
    let spool = spools
        .entry((base, ty.clone()))
        .or_insert_with(|| Spool::new(dir));
    if spool.insert(id.clone(), line)? {
        *out.resources.entry(ty).or_default() += 1;
    } else {
        out.duplicates += 1;
        out.warnings.push(format!(
            "{ty}/{id} appears more than once; the first is kept"
        ));
    }
    Ok(())
}

/// A pull scanner over JSON bytes: enough to walk objects and arrays, skip values, and copy one.
struct Scanner<'r> {
    input: Box<dyn BufRead + 'r>,
    offset: u64,
}

impl Scanner<'_> {
    fn peek(&mut self) -> Result<Option<u8>> {
        let buf = self.input.fill_buf().context("cannot read the Bundle")?;
        Ok(buf.first().copied())
    }

    fn next(&mut self) -> Result<u8> {
        let b = self
            .peek()?
            .with_context(|| format!("the Bundle ends early (at byte {})", self.offset))?;
        self.input.consume(1);
        self.offset += 1;
        Ok(b)
    }

    fn skip_ws(&mut self) -> Result<()> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek()? {
            self.input.consume(1);
            self.offset += 1;
        }
        Ok(())
    }

    fn expect(&mut self, wanted: u8) -> Result<()> {
        self.skip_ws()?;
        let got = self.next()?;
        if got != wanted {
            bail!(
                "the Bundle is not valid JSON: expected '{}' at byte {}, found '{}'",
                wanted as char,
                self.offset - 1,
                got.escape_ascii()
            );
        }
        Ok(())
    }

    /// After `{`: calls `each` with every key, positioned at its value; consumes the `}`.
    fn members(&mut self, mut each: impl FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
        self.skip_ws()?;
        if self.peek()? == Some(b'}') {
            self.next()?;
            return Ok(());
        }
        loop {
            self.skip_ws()?;
            let key = self.string()?;
            self.expect(b':')?;
            self.skip_ws()?;
            each(self, &key)?;
            self.skip_ws()?;
            match self.next()? {
                b',' => continue,
                b'}' => return Ok(()),
                b => bail!(
                    "the Bundle is not valid JSON: '{}' at byte {}",
                    b.escape_ascii(),
                    self.offset - 1
                ),
            }
        }
    }

    /// After `[`: calls `each` positioned at every element; consumes the `]`.
    fn elements(&mut self, mut each: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.skip_ws()?;
        if self.peek()? == Some(b']') {
            self.next()?;
            return Ok(());
        }
        loop {
            self.skip_ws()?;
            each(self)?;
            self.skip_ws()?;
            match self.next()? {
                b',' => continue,
                b']' => return Ok(()),
                b => bail!(
                    "the Bundle is not valid JSON: '{}' at byte {}",
                    b.escape_ascii(),
                    self.offset - 1
                ),
            }
        }
    }

    /// A string value, unescaped.
    fn string(&mut self) -> Result<String> {
        let mut raw = Vec::new();
        self.copy_value(&mut raw, 1 << 20)?;
        serde_json::from_slice::<String>(&raw)
            .with_context(|| format!("expected a string before byte {}", self.offset))
    }

    fn skip_value(&mut self) -> Result<()> {
        self.walk_value(None, usize::MAX)
    }

    /// The value's bytes with the whitespace between tokens left out.
    fn capture(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(1024);
        self.copy_value(&mut out, MAX_RESOURCE)?;
        Ok(out)
    }

    fn copy_value(&mut self, out: &mut Vec<u8>, max: usize) -> Result<()> {
        self.walk_value(Some(out), max)
    }

    /// Walks one value (iteratively: nesting depth costs no stack), copying it to `out`.
    fn walk_value(&mut self, mut out: Option<&mut Vec<u8>>, max: usize) -> Result<()> {
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut started = false;
        loop {
            if !in_string {
                self.skip_ws()?;
                if started && depth == 0 {
                    // A scalar ends at a delimiter; a container at its closing bracket.
                    if matches!(self.peek()?, None | Some(b',' | b'}' | b']' | b':')) {
                        return Ok(());
                    }
                }
            }
            let b = self.next()?;
            if let Some(o) = out.as_deref_mut() {
                o.push(b);
                if o.len() > max {
                    bail!("a value in the Bundle is larger than {max} bytes");
                }
            }
            started = true;
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => {
                        in_string = false;
                        if depth == 0 {
                            return Ok(());
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth
                        .checked_sub(1)
                        .context("the Bundle is not valid JSON: an unmatched bracket")?;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_come_back_as_written_sorted_and_once() {
        let bundle = r#"{ "resourceType" : "Bundle", "type": "transaction", "entry": [
            { "fullUrl": "x", "resource": {"resourceType":"Observation","id":"b","valueQuantity":{"value":1.50},"note":[{"text":"a \"quoted\" {brace} [x]\n"}]},
              "request": {"method": "PUT", "url": "Observation/b"} },
            { "resource": {
                "resourceType": "Observation",
                "id": "a",
                "valueQuantity": { "value": 2.0E1 }
              } },
            { "resource": {"resourceType":"Observation","id":"b","status":"dup"} },
            { "response": {"status": "201 Created"} },
            { "resource": {"resourceType":"Observation","id":"../x"} },
            { "resource": {"resourceType":"Patient","id":"p","name":[]} }
        ] }"#;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let s = split(bundle.as_bytes(), &out).unwrap();
        assert_eq!(s.bundle_type.as_deref(), Some("transaction"));
        assert_eq!((s.duplicates, s.skipped, s.without_resource), (1, 1, 1));
        let obs = std::fs::read_to_string(out.join("Observation.ndjson")).unwrap();
        assert_eq!(
            obs,
            "{\"resourceType\":\"Observation\",\"id\":\"a\",\"valueQuantity\":{\"value\":2.0E1}}\n\
             {\"resourceType\":\"Observation\",\"id\":\"b\",\"valueQuantity\":{\"value\":1.50},\"note\":[{\"text\":\"a \\\"quoted\\\" {brace} [x]\\n\"}]}\n"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("Patient.ndjson")).unwrap(),
            "{\"resourceType\":\"Patient\",\"id\":\"p\",\"name\":[]}\n"
        );
        // The folder is taken now.
        assert_eq!(
            crate::exit::exit_code(&split(bundle.as_bytes(), &out).unwrap_err()),
            2
        );
    }

    #[test]
    fn a_bundle_of_two_servers_comes_back_as_a_folder_per_server() {
        let bundle = r#"{"resourceType":"Bundle","type":"collection","entry":[
            {"fullUrl":"http://a/fhir/Patient/p","resource":{"resourceType":"Patient","id":"p"}},
            {"fullUrl":"http://a/fhir/Observation/o","resource":{"resourceType":"Observation","id":"o","v":1}},
            {"fullUrl":"https://b/r4/Patient/p","resource":{"resourceType":"Patient","id":"p","b":true}},
            {"fullUrl":"https://b/r4/document/7","resource":{"resourceType":"Binary","id":"fhirdl-7"}}
        ]}"#;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let s = split(bundle.as_bytes(), &out).unwrap();
        assert_eq!((s.duplicates, s.resources["Patient"]), (0, 2));
        let read = |p: &str| std::fs::read_to_string(out.join(p)).unwrap();
        assert_eq!(
            read("a_fhir/Patient.ndjson"),
            "{\"resourceType\":\"Patient\",\"id\":\"p\"}\n"
        );
        assert_eq!(
            read("b_r4/Patient.ndjson"),
            "{\"resourceType\":\"Patient\",\"id\":\"p\",\"b\":true}\n"
        );
        assert!(read("b_r4/Binary.ndjson").contains("fhirdl-7"));
        assert!(!out.join("Patient.ndjson").exists());
        // One server and entries of none: one folder, as before.
        let one = r#"{"resourceType":"Bundle","entry":[
            {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Goal","id":"g"}},
            {"fullUrl":"http://a/fhir/Goal/h","resource":{"resourceType":"Goal","id":"h"}}]}"#;
        let s1 = split(one.as_bytes(), &dir.path().join("one")).unwrap();
        assert!(s1.sources.is_empty());
        assert_eq!(s1.resources["Goal"], 2);
        let counts: Vec<(Option<&str>, usize)> = s
            .sources
            .iter()
            .map(|x| (x.fhir_base.as_deref(), x.resources))
            .collect();
        assert_eq!(
            counts,
            [(Some("http://a/fhir"), 2), (Some("https://b/r4"), 2)]
        );
    }

    #[test]
    fn gzip_and_broken_input() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(
            br#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Goal","id":"g"}}]}"#,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let s = split(&gz.finish().unwrap()[..], &dir.path().join("a")).unwrap();
        assert_eq!(s.resources["Goal"], 1);
        for bad in [
            r#"{"resourceType":"Bundle","entry":[{"resource":{"id":"x"]}"#,
            r#"{"resourceType":"Patient"}"#,
            "[1]",
            r#"{"entry":[{"resource":"#,
        ] {
            assert!(
                split(bad.as_bytes(), &dir.path().join("b")).is_err(),
                "{bad}"
            );
        }
    }
}
