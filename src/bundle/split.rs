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
}

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
    let mut spools: BTreeMap<String, Spool> = BTreeMap::new();
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
                scan.elements(|scan| entry(scan, dir, &mut out, &mut spools))?;
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
    create_private_dir(dir)?;
    for (ty, spool) in spools {
        let mut sorted = spool.into_sorted()?;
        let mut file = AtomicFile::create(&layout::ndjson_path(dir, &ty))?;
        while let Some((_, line)) = sorted.next_entry()? {
            file.write_all(line.as_bytes())?;
            file.write_all(b"\n")?;
        }
        file.commit()?;
    }
    Ok(out)
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
    spools: &mut BTreeMap<String, Spool>,
) -> Result<()> {
    let mut resource = None;
    scan.expect(b'{')?;
    scan.members(|scan, key| {
        if key == "resource" {
            resource = Some(scan.capture()?);
        } else {
            scan.skip_value()?;
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
    let spool = spools.entry(ty.clone()).or_insert_with(|| Spool::new(dir));
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
