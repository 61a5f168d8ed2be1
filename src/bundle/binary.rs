//! A saved document as a Bundle entry's Binary resource: its id and absolute URL, and its bytes
//! streamed in base64.

use crate::folder::Folder;
use crate::sync::bundle::valid_id;
use anyhow::{Context, Result};
use std::io::{Read, Write};

/// The Binary id and absolute URL of a saved document: the id of a `<base>/Binary/<id>` URL,
/// else `fhirdl-` and 24 hex digits of the URL's SHA-256 (stable across runs).
pub fn binary_identity(base: Option<&str>, url: &str) -> (String, Option<String>) {
    let absolute = if url.contains("://") {
        Some(url.to_owned())
    } else {
        base.map(|b| format!("{b}/{}", url.trim_start_matches('/')))
    };
    let id = absolute
        .as_deref()
        .and_then(|u| {
            let b = base?;
            let rest = u.strip_prefix(b)?.strip_prefix("/Binary/")?;
            valid_id(rest).then(|| rest.to_owned())
        })
        .unwrap_or_else(|| {
            let hash = crate::sync::manifest::sha256_hex(url.as_bytes());
            format!("fhirdl-{}", &hash[..24])
        });
    (id, absolute)
}

/// `"resource":{Binary}` with the file's bytes in base64, streamed. DSTU2 calls the bytes
/// `content` and has no `securityContext`.
pub fn binary(
    out: &mut dyn Write,
    folder: &Folder,
    id: &str,
    content_type: Option<&str>,
    path: &std::path::Path,
) -> Result<()> {
    use base64::Engine;
    let dstu2 = folder
        .fhir_version
        .as_deref()
        .is_some_and(|v| v.starts_with("1.") || v.starts_with("0."));
    write!(
        out,
        "\"resource\":{{\"resourceType\":\"Binary\",\"id\":\"{id}\",\"contentType\":{}",
        serde_json::to_string(content_type.unwrap_or("application/octet-stream"))?
    )?;
    if let (false, Some(patient)) = (dstu2, folder.patient.as_deref().filter(|p| valid_id(p))) {
        write!(
            out,
            ",\"securityContext\":{{\"reference\":\"Patient/{patient}\"}}"
        )?;
    }
    write!(out, ",\"{}\":\"", if dstu2 { "content" } else { "data" })?;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    // A multiple of 3 bytes encodes without padding until the last chunk.
    let mut buf = vec![0u8; 3 * 64 * 1024];
    let mut encoded = String::new();
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = file
                .read(&mut buf[filled..])
                .with_context(|| format!("cannot read {}", path.display()))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        encoded.clear();
        base64::engine::general_purpose::STANDARD.encode_string(&buf[..filled], &mut encoded);
        out.write_all(encoded.as_bytes())?;
        if filled < buf.len() {
            break;
        }
    }
    out.write_all(b"\"}")?;
    Ok(())
}
