//! The local index of the directories: one SQLite file (`directory/index.sqlite3` in the data
//! folder) with the sources (and their ETag / Last-Modified), the endpoints (one row per
//! normalised FHIR base, whichever sources list it) and the organizations, searched through
//! an FTS5 trigram table (typos and partial words still share most trigrams). Searches ask for
//! single trigrams only, never phrases, so the table keeps no positions (`detail = 'none'`):
//! its posting lists are smaller and read faster.
//!
//! The file is versioned (`PRAGMA user_version`): one of another version is not read, and the
//! next `directory update` builds it anew. A new index is always written whole to a temporary
//! file in the same folder and renamed into place, so a reader sees the old or the new one.

use super::Listing;
use anyhow::{Context, Result};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The index layout this fhirdl reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE sources(url TEXT PRIMARY KEY, vendor TEXT, etag TEXT, last_modified TEXT,
    fetched_at INTEGER NOT NULL, organizations INTEGER NOT NULL, endpoints INTEGER NOT NULL,
    dropped INTEGER NOT NULL);
CREATE TABLE endpoints(id INTEGER PRIMARY KEY, base TEXT NOT NULL UNIQUE, fhir_version TEXT,
    vendor TEXT);
CREATE TABLE orgs(id INTEGER PRIMARY KEY, key TEXT NOT NULL, source TEXT NOT NULL,
    endpoint INTEGER NOT NULL, name TEXT NOT NULL, aliases TEXT NOT NULL, brand TEXT,
    portal TEXT, address TEXT, city TEXT, state TEXT);
CREATE INDEX orgs_key ON orgs(key);
CREATE INDEX orgs_source ON orgs(source);
CREATE VIRTUAL TABLE orgs_fts USING fts5(text, tokenize = 'trigram', content = '', detail = 'none');
";

/// Where the index lives in the data folder.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("directory").join("index.sqlite3")
}

/// One directory as the index remembers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRow {
    pub url: String,
    pub vendor: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// When its rows were last downloaded (Unix seconds).
    pub fetched_at: i64,
    pub organizations: i64,
    pub endpoints: i64,
    pub dropped: i64,
}

/// A listing found in the index, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Stable id (`login --practice <id>`): from the FHIR base and the name.
    pub id: String,
    pub listing: Listing,
    pub vendor: Option<String>,
    pub source: String,
    pub fetched_at: i64,
}

/// The state of the index file.
pub enum Opened {
    Missing,
    /// Written by a fhirdl with another layout (its version).
    OtherVersion(i64),
    Ready(Index),
}

/// A read-only index.
pub struct Index {
    conn: Connection,
}

/// The stable id of a listing: 10 hex digits of SHA-256 over its base and name.
pub fn listing_id(listing: &Listing) -> String {
    let digest = Sha256::digest(format!("{}\n{}", listing.fhir_base, listing.name));
    digest[..5].iter().map(|b| format!("{b:02x}")).collect()
}

impl Index {
    /// Opens the index at `path` read-only, if there is one of this version.
    pub fn open(path: &Path) -> Result<Opened> {
        if !path.exists() {
            return Ok(Opened::Missing);
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot open the directory index {}", path.display()))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .with_context(|| format!("cannot read the directory index {}", path.display()))?;
        if version != SCHEMA_VERSION {
            return Ok(Opened::OtherVersion(version));
        }
        Ok(Opened::Ready(Index { conn }))
    }

    #[cfg(test)]
    pub(crate) fn conn_for_tests(&self) -> &Connection {
        &self.conn
    }

    pub fn sources(&self) -> Result<Vec<SourceRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT url, vendor, etag, last_modified, fetched_at, organizations, endpoints, dropped FROM sources ORDER BY rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceRow {
                url: r.get(0)?,
                vendor: r.get(1)?,
                etag: r.get(2)?,
                last_modified: r.get(3)?,
                fetched_at: r.get(4)?,
                organizations: r.get(5)?,
                endpoints: r.get(6)?,
                dropped: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The listings one source gave (to keep them when it answers 304 or fails).
    pub fn listings_of(&self, source: &str) -> Result<Vec<Listing>> {
        let sql = format!("{SELECT_MATCH} WHERE o.source = ?1 ORDER BY o.id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([source], read_match)?;
        Ok(rows
            .map(|m| m.map(|m| m.listing))
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The rows with this id (one per source that lists it).
    pub fn by_id(&self, id: &str) -> Result<Option<Match>> {
        let sql = format!("{SELECT_MATCH} WHERE o.key = ?1 ORDER BY o.id LIMIT 1");
        Ok(self.conn.query_row(&sql, [id], read_match).optional()?)
    }

    /// Candidates for a search, best bm25 first, at most `limit`: rows sharing trigrams with
    /// every typed word (`Need::Every`) or with any (`Need::Any`); with no word of three
    /// letters, every row the filters admit.
    pub fn candidates(
        &self,
        words: &[Vec<String>],
        need: Need,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<Match>> {
        let (from, text) = if words.is_empty() {
            (format!("{SELECT_MATCH} WHERE ?1 IS NULL"), None)
        } else {
            let join = match need {
                Need::Every => " AND ",
                Need::Any => " OR ",
            };
            let q = words
                .iter()
                .map(|runs| {
                    let quoted: Vec<String> = runs
                        .iter()
                        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
                        .collect();
                    format!("({})", quoted.join(" OR "))
                })
                .collect::<Vec<_>>()
                .join(join);
            (
                format!(
                    "{SELECT_MATCH} JOIN orgs_fts ON orgs_fts.rowid = o.id WHERE orgs_fts MATCH ?1"
                ),
                Some(q),
            )
        };
        let order = if words.is_empty() {
            "o.id"
        } else {
            "orgs_fts.rank"
        };
        let sql = format!(
            "{from} AND (?2 IS NULL OR o.state = upper(?2)) AND (?3 IS NULL OR o.city = ?3 COLLATE NOCASE)
             AND (?4 IS NULL OR instr(lower(e.vendor), lower(?4)) > 0) ORDER BY {order} LIMIT ?5"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                text,
                filters.state,
                filters.city,
                filters.vendor,
                limit as i64
            ],
            read_match,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Whether a candidate must share trigrams with every typed word or with any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Every,
    Any,
}

/// What `find --state/--city/--vendor` narrow to.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub state: Option<String>,
    pub city: Option<String>,
    pub vendor: Option<String>,
}

const SELECT_MATCH: &str =
    "SELECT o.key, o.name, o.aliases, o.brand, o.portal, o.address, o.city, o.state,
    e.base, e.fhir_version, e.vendor, o.source, s.fetched_at
    FROM orgs o JOIN endpoints e ON e.id = o.endpoint JOIN sources s ON s.url = o.source";

fn read_match(r: &rusqlite::Row) -> rusqlite::Result<Match> {
    let aliases: String = r.get(2)?;
    Ok(Match {
        id: r.get(0)?,
        listing: Listing {
            name: r.get(1)?,
            aliases: aliases.lines().map(str::to_string).collect(),
            brand: r.get(3)?,
            portal: r.get(4)?,
            address: r.get(5)?,
            city: r.get(6)?,
            state: r.get(7)?,
            fhir_base: r.get(8)?,
            fhir_version: r.get(9)?,
        },
        vendor: r.get(10)?,
        source: r.get(11)?,
        fetched_at: r.get(12)?,
    })
}

/// A new index being written to a temporary file beside its final place.
pub struct Builder {
    conn: Connection,
    temp: tempfile::TempPath,
    path: PathBuf,
}

impl Builder {
    pub fn create(path: &Path) -> Result<Builder> {
        let dir = path.parent().unwrap_or(Path::new("."));
        crate::atomic::create_private_dir(dir)?;
        // tempfile creates the file owner-only (0600).
        let temp = tempfile::Builder::new()
            .prefix(".index-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?
            .into_temp_path();
        let conn = Connection::open(&temp)
            .with_context(|| format!("cannot create the directory index {}", temp.display()))?;
        // The file is thrown away if anything fails before the rename: no journal needed.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; {SCHEMA}
             PRAGMA user_version = {SCHEMA_VERSION}; BEGIN;"
        ))
        .context("cannot lay out the directory index")?;
        Ok(Builder {
            conn,
            temp,
            path: path.to_path_buf(),
        })
    }

    /// Adds one source and its listings (an endpoint another source listed is shared).
    pub fn add_source(&mut self, source: &SourceRow, listings: &[Listing]) -> Result<()> {
        self.conn.execute(
            "INSERT INTO sources VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(url) DO NOTHING",
            params![
                source.url,
                source.vendor,
                source.etag,
                source.last_modified,
                source.fetched_at,
                source.organizations,
                source.endpoints,
                source.dropped
            ],
        )?;
        let mut endpoint = self.conn.prepare_cached(
            "INSERT INTO endpoints(base, fhir_version, vendor) VALUES (?1, ?2, ?3)
             ON CONFLICT(base) DO UPDATE SET fhir_version = coalesce(fhir_version, excluded.fhir_version),
                vendor = coalesce(vendor, excluded.vendor)
             RETURNING id",
        )?;
        let mut org = self.conn.prepare_cached(
            "INSERT INTO orgs(key, source, endpoint, name, aliases, brand, portal, address, city, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut fts = self
            .conn
            .prepare_cached("INSERT INTO orgs_fts(rowid, text) VALUES (?1, ?2)")?;
        for l in listings {
            let e: i64 = endpoint
                .query_row(params![l.fhir_base, l.fhir_version, source.vendor], |r| {
                    r.get(0)
                })?;
            org.execute(params![
                listing_id(l),
                source.url,
                e,
                l.name,
                l.aliases.join("\n"),
                l.brand,
                l.portal,
                l.address,
                l.city,
                l.state
            ])?;
            let id = self.conn.last_insert_rowid();
            fts.execute(params![id, searchable_text(l)])?;
        }
        Ok(())
    }

    /// Finishes the file, makes it durable and renames it into place.
    pub fn commit(self) -> Result<()> {
        self.conn
            .execute_batch("COMMIT;")
            .context("cannot finish the directory index")?;
        self.conn
            .close()
            .map_err(|(_, e)| e)
            .context("cannot close the directory index")?;
        std::fs::File::open(&self.temp)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("cannot flush {}", self.temp.display()))?;
        self.temp.persist(&self.path).with_context(|| {
            format!(
                "cannot put the directory index in place at {}",
                self.path.display()
            )
        })?;
        crate::atomic::sync_dir(self.path.parent().unwrap_or(Path::new(".")));
        Ok(())
    }
}

/// Everything a search may match, in one text: name, aliases, brand, portal, city, state.
pub fn searchable_text(l: &Listing) -> String {
    let mut parts = vec![l.name.as_str()];
    parts.extend(l.aliases.iter().map(String::as_str));
    parts.extend(l.brand.as_deref());
    parts.extend(l.portal.as_deref());
    parts.extend(l.city.as_deref());
    parts.extend(l.state.as_deref());
    parts.join(" ")
}
