//! `directory update`: downloads each directory (conditionally: `If-None-Match` /
//! `If-Modified-Since` from the last download, so a 304 keeps that source's rows), streams it to
//! a temporary file, reads it entry by entry, and writes a new index with every source's rows.
//! A source that fails keeps the rows it had; the others still update.

use super::index::{self, Builder, Index, Opened, SourceRow};
use super::{shapes, Listing};
use crate::http::{describe_reqwest, redact_url, Http};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{ACCEPT, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use std::io::Write;
use std::path::Path;

/// No directory is larger than this (Epic's, the largest, is about 90 MB).
const MAX_DOCUMENT_BYTES: u64 = 1 << 30;

/// One source to read, and the vendor to show for its endpoints.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub url: String,
    pub vendor: Option<String>,
}

/// What became of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Updated,
    /// 304 Not Modified: its rows are kept.
    NotModified,
    /// It failed (why); its previous rows, if any, are kept.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub url: String,
    pub state: State,
    /// The rows the index now holds for it.
    pub organizations: i64,
    pub endpoints: i64,
    pub dropped: i64,
    /// Bytes downloaded (0 when nothing was).
    pub bytes: u64,
}

/// What `update` did as a whole.
#[derive(Debug)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
    /// The index on disk had another layout and was built anew.
    pub rebuilt_from: Option<i64>,
}

/// A source's fresh download, read.
struct Fresh {
    row: SourceRow,
    listings: Vec<Listing>,
    bytes: u64,
}

/// Updates the index in `data_dir` from `wanted` (in order: an endpoint two sources list
/// takes the first one's vendor).
pub async fn update(
    http: &Http,
    data_dir: &Path,
    wanted: &[Wanted],
    progress: bool,
) -> Result<Report> {
    let path = index::path(data_dir);
    let (old, rebuilt_from) = match Index::open(&path)? {
        Opened::Ready(i) => (Some(i), None),
        Opened::OtherVersion(v) => (None, Some(v)),
        Opened::Missing => (None, None),
    };
    let previous: Vec<SourceRow> = match &old {
        Some(i) => i.sources()?,
        None => Vec::new(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::atomic::create_private_dir(dir)?;
    let mut builder = Builder::create(&path)?;
    let mut outcomes = Vec::new();
    for w in wanted {
        let before = previous.iter().find(|r| r.url == w.url);
        let result = fetch(http, dir, w, before, progress).await;
        let now = crate::datetime::now_unix();
        let (state, row, listings, bytes) = match (result, before, &old) {
            (Ok(Some(fresh)), _, _) => (State::Updated, fresh.row, fresh.listings, fresh.bytes),
            (Ok(None), Some(row), Some(i)) => {
                let row = SourceRow {
                    fetched_at: now,
                    ..row.clone()
                };
                (State::NotModified, row, i.listings_of(&w.url)?, 0)
            }
            (Ok(None), _, _) => (
                State::Failed("answered 304 Not Modified, but no rows of it are kept".into()),
                SourceRow::default(),
                Vec::new(),
                0,
            ),
            (Err(e), Some(row), Some(i)) => (
                State::Failed(format!("{e:#}")),
                row.clone(),
                i.listings_of(&w.url)?,
                0,
            ),
            (Err(e), _, _) => (
                State::Failed(format!("{e:#}")),
                SourceRow::default(),
                Vec::new(),
                0,
            ),
        };
        if !row.url.is_empty() {
            builder.add_source(&row, &listings)?;
        }
        outcomes.push(Outcome {
            url: w.url.clone(),
            state,
            organizations: row.organizations,
            endpoints: row.endpoints,
            dropped: row.dropped,
            bytes,
        });
    }
    drop(old);
    builder.commit()?;
    Ok(Report {
        outcomes,
        rebuilt_from,
    })
}

/// Downloads and reads one source; `None` when it answered 304 to our conditional request.
async fn fetch(
    http: &Http,
    dir: &Path,
    w: &Wanted,
    before: Option<&SourceRow>,
    progress: bool,
) -> Result<Option<Fresh>> {
    let url = url::Url::parse(&w.url).context("it is not a URL")?;
    let mut req = http.client().get(url.clone()).header(
        ACCEPT,
        "application/fhir+json, application/json;q=0.9, */*;q=0.1",
    );
    if let Some(row) = before {
        if let Some(etag) = &row.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &row.last_modified {
            req = req.header(IF_MODIFIED_SINCE, modified);
        }
    }
    let req = req.build().context("cannot build the request")?;
    let resp = http.send(req).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach {}: {}",
            redact_url(&url),
            describe_reqwest(&e)
        )
    })?;
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED && before.is_some() {
        return Ok(None);
    }
    anyhow::ensure!(
        status.is_success(),
        "{} answered HTTP {status}",
        redact_url(&url)
    );
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
    let (file, bytes) = download(resp, dir, progress)
        .await
        .context("the download broke")?;
    let parsed = tokio::task::spawn_blocking(move || shapes::parse(std::io::BufReader::new(file)))
        .await
        .context("the directory reader stopped")?
        .context("its document cannot be read")?;
    let row = SourceRow {
        url: w.url.clone(),
        vendor: w.vendor.clone(),
        etag,
        last_modified,
        fetched_at: crate::datetime::now_unix(),
        organizations: parsed.listings.len() as i64,
        endpoints: parsed.endpoints as i64,
        dropped: parsed.dropped as i64,
    };
    Ok(Some(Fresh {
        row,
        listings: parsed.listings,
        bytes,
    }))
}

/// Streams a body into an unnamed temporary file (removed when dropped), with a progress bar
/// of bytes on a terminal.
async fn download(
    mut resp: reqwest::Response,
    dir: &Path,
    progress: bool,
) -> Result<(std::fs::File, u64)> {
    let bar = if progress {
        let bar = ProgressBar::new(resp.content_length().unwrap_or(0));
        let template = match resp.content_length() {
            Some(_) => "{msg} {bar:30} {bytes}/{total_bytes} ({bytes_per_sec})",
            None => "{msg} {spinner} {bytes} ({bytes_per_sec})",
        };
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(redact_url(resp.url()));
        Some(bar)
    } else {
        None
    };
    let mut file = tempfile::tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let mut total = 0u64;
    while let Some(chunk) = resp.chunk().await? {
        total += chunk.len() as u64;
        anyhow::ensure!(
            total <= MAX_DOCUMENT_BYTES,
            "it is larger than {MAX_DOCUMENT_BYTES} bytes"
        );
        file.write_all(&chunk)
            .with_context(|| format!("cannot write a temporary file in {}", dir.display()))?;
        if let Some(bar) = &bar {
            bar.set_position(total);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    use std::io::Seek;
    file.rewind()
        .context("cannot read back the downloaded directory")?;
    Ok((file, total))
}
