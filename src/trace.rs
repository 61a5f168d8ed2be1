//! Where HTTP exchanges are recorded besides stderr: the `--trace-file` (one JSON object per
//! line, created 0600) and an in-memory list that `fhirdl doctor --report` attaches to its
//! report.
//!
//! [`crate::http::Http::send`] builds one [`TraceRecord`] per exchange, already redacted (URL
//! query secrets, `Authorization`, cookies); this sink adds the last step: patient ids
//! registered with [`TraceSink::pseudonymize_patient`] are replaced by a stable hash in URLs and
//! URL-valued headers. Bodies are kept only with `--trace-bodies`, and only in the file: the
//! in-memory list (the shareable report) never holds a body.

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use url::Url;

/// One HTTP exchange, as written to the trace file and the doctor's report.
#[derive(Debug, Clone, Serialize)]
pub struct TraceRecord {
    /// When the request was sent (RFC 3339, to the millisecond).
    pub time: String,
    pub method: String,
    /// Redacted: sensitive query values, user info and registered patient ids replaced.
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Transport failure (no response), already free of secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Time until the response headers arrived.
    pub ms: u64,
    /// Response size from Content-Length (or the body read, with --trace-bodies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// 1 for a first try; retries count up.
    pub attempt: u32,
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
}

/// The trace destinations of one run. A sink with no file and no recording does nothing.
#[derive(Debug, Default)]
pub struct TraceSink {
    file: Option<Mutex<std::fs::File>>,
    bodies: bool,
    recording: Mutex<Option<Vec<TraceRecord>>>,
    patients: Mutex<Vec<String>>,
}

impl TraceSink {
    /// A sink that records nothing until [`TraceSink::start_recording`].
    pub fn new() -> TraceSink {
        TraceSink::default()
    }

    /// Appends to `path` (created 0600; an existing file is made 0600).
    pub fn to_file(path: &Path, bodies: bool) -> Result<TraceSink> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(path)
            .with_context(|| format!("cannot open the trace file {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private", path.display()))?;
        }
        Ok(TraceSink {
            file: Some(Mutex::new(file)),
            bodies,
            ..TraceSink::default()
        })
    }

    /// Whether `Http::send` should build records at all.
    pub fn active(&self) -> bool {
        self.file.is_some() || lock(&self.recording).is_some()
    }

    /// Whether bodies are wanted (`--trace-bodies`).
    pub fn wants_bodies(&self) -> bool {
        self.file.is_some() && self.bodies
    }

    /// Keeps a copy of every following record in memory (without bodies).
    pub fn start_recording(&self) {
        let mut r = lock(&self.recording);
        if r.is_none() {
            *r = Some(Vec::new());
        }
    }

    /// The records kept since [`TraceSink::start_recording`].
    pub fn recorded(&self) -> Vec<TraceRecord> {
        lock(&self.recording).clone().unwrap_or_default()
    }

    /// From now on, this patient id appears in records only as [`patient_hash`].
    pub fn pseudonymize_patient(&self, id: &str) {
        if id.is_empty() {
            return;
        }
        let mut p = lock(&self.patients);
        if !p.iter().any(|x| x == id) {
            p.push(id.to_string());
        }
    }

    /// Replaces registered patient ids in a URL given as text (path segments and query values,
    /// including `Patient/<id>` references), leaving everything else as it was.
    pub fn mask_url(&self, url: &str) -> String {
        let patients = lock(&self.patients).clone();
        mask_patients_in_url(url, &patients)
    }

    /// Writes one record to the file and the in-memory list. A write error is reported once on
    /// stderr by the caller's UI, never fatal: tracing must not break a download.
    pub fn record(&self, mut rec: TraceRecord) -> Result<()> {
        let patients = lock(&self.patients).clone();
        rec.url = mask_patients_in_url(&rec.url, &patients);
        for (name, value) in rec
            .request_headers
            .iter_mut()
            .chain(rec.response_headers.iter_mut())
        {
            if is_url_header(name) {
                *value = mask_patients_in_url(value, &patients);
            }
        }
        if let Some(list) = lock(&self.recording).as_mut() {
            let mut kept = rec.clone();
            kept.request_body = None;
            kept.response_body = None;
            list.push(kept);
        }
        if let Some(file) = &self.file {
            if !self.bodies {
                rec.request_body = None;
                rec.response_body = None;
            }
            let mut line = serde_json::to_vec(&rec).context("cannot encode a trace record")?;
            line.push(b'\n');
            let mut f = lock(file);
            f.write_all(&line)
                .and_then(|()| f.flush())
                .context("cannot write to the trace file")?;
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep using it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Headers whose value is a URL (and so may carry a patient id).
pub fn is_url_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "location" | "content-location" | "link"
    )
}

/// A stable stand-in for a patient id: `hashed-` and the first 12 hex digits of
/// SHA-256("fhirdl:" + id). The same id always gives the same hash, so a support person can
/// correlate requests without learning the id.
pub fn patient_hash(id: &str) -> String {
    let digest = Sha256::digest(format!("fhirdl:{id}").as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("hashed-{hex}")
}

fn mask_patients_in_url(text: &str, patients: &[String]) -> String {
    if patients.is_empty() {
        return text.to_string();
    }
    let Ok(mut url) = Url::parse(text) else {
        return text.to_string();
    };
    let masked_segments: Option<Vec<String>> = url.path_segments().map(|segs| {
        segs.map(|s| mask_value(s, patients).unwrap_or_else(|| s.to_string()))
            .collect()
    });
    if let Some(segs) = masked_segments {
        if let Ok(mut m) = url.path_segments_mut() {
            m.clear().extend(segs);
        }
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = mask_value(&v, patients).unwrap_or_else(|| v.into_owned());
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// `id`, `Patient/id` or an absolute `…/Patient/id` with a registered id, masked.
fn mask_value(value: &str, patients: &[String]) -> Option<String> {
    patients.iter().find_map(|id| {
        if value == id {
            Some(patient_hash(id))
        } else {
            value
                .strip_suffix(id.as_str())
                .filter(|prefix| prefix.ends_with("Patient/"))
                .map(|prefix| format!("{prefix}{}", patient_hash(id)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(url: &str) -> TraceRecord {
        TraceRecord {
            time: "t".into(),
            method: "GET".into(),
            url: url.into(),
            status: Some(200),
            error: None,
            ms: 1,
            bytes: None,
            attempt: 1,
            request_headers: vec![],
            response_headers: vec![(
                "location".into(),
                "https://a.example/fhir/Patient/pt-123/_history/2".into(),
            )],
            request_body: Some("grant_type=x".into()),
            response_body: Some("{\"name\":\"Doe\"}".into()),
        }
    }

    #[test]
    fn hashes_are_stable_and_short() {
        assert_eq!(patient_hash("pt-1"), patient_hash("pt-1"));
        assert_ne!(patient_hash("pt-1"), patient_hash("pt-2"));
        assert_eq!(patient_hash("pt-1").len(), "hashed-".len() + 12);
    }

    #[test]
    fn patient_ids_are_masked_in_paths_queries_and_references() {
        let ids = vec!["pt-123".to_string()];
        let h = patient_hash("pt-123");
        let m = mask_patients_in_url("https://a.example/fhir/Patient/pt-123", &ids);
        assert_eq!(m, format!("https://a.example/fhir/Patient/{h}"));
        let m = mask_patients_in_url(
            "https://a.example/fhir/Observation?patient=pt-123&_count=1",
            &ids,
        );
        assert!(!m.contains("pt-123") && m.contains("_count=1"), "{m}");
        let m = mask_patients_in_url("https://a.example/x?subject=Patient%2Fpt-123", &ids);
        assert!(!m.contains("pt-123"), "{m}");
        // Other values that merely contain the id are left alone.
        let m = mask_patients_in_url("https://a.example/x?q=pt-1234", &ids);
        assert!(m.contains("pt-1234"), "{m}");
    }

    #[test]
    fn recording_never_keeps_bodies_and_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.jsonl");
        let sink = TraceSink::to_file(&path, false).unwrap();
        sink.start_recording();
        sink.pseudonymize_patient("pt-123");
        sink.record(rec("https://a.example/fhir/Patient/pt-123"))
            .unwrap();
        let kept = sink.recorded();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].response_body.is_none());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("pt-123") && !text.contains("Doe"), "{text}");
        assert_eq!(text.lines().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let with_bodies = TraceSink::to_file(&path, true).unwrap();
        with_bodies
            .record(rec("https://a.example/fhir/metadata"))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("Doe"), "--trace-bodies keeps bodies: {text}");
    }

    #[test]
    fn an_idle_sink_is_inactive() {
        let sink = TraceSink::new();
        assert!(!sink.active());
        sink.start_recording();
        assert!(sink.active());
        assert!(!sink.wants_bodies());
    }
}
