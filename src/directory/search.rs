//! A search of the index: candidates from the trigram table (best bm25 first), re-ranked by
//! [`rank::score`] so typos and word order do not matter, one match per id.

use super::index::{Filters, Index, Match, Need};
use super::rank;
use anyhow::Result;

/// Candidates read from the index before re-ranking: enough that a misspelt name still
/// reaches the re-ranking among thousands sharing a common word ("medical").
const CANDIDATES: usize = 2000;

/// The best `limit` matches for `query` within `filters`.
pub fn find(index: &Index, query: &str, filters: &Filters, limit: usize) -> Result<Vec<Match>> {
    let typed = rank::words(query);
    let trigrams = rank::trigrams(&typed);
    // Rows near every typed word first (few, and found fast); when there are none (a typed
    // word the name lacks), rows near any of them (many: slower).
    let mut candidates = index.candidates(&trigrams, Need::Every, filters, CANDIDATES)?;
    if candidates.is_empty() && trigrams.len() > 1 {
        candidates = index.candidates(&trigrams, Need::Any, filters, CANDIDATES)?;
    }
    let mut scored: Vec<(f64, Match)> = candidates
        .into_iter()
        .map(|m| (score(&typed, &m), m))
        .filter(|(s, _)| typed.is_empty() || *s > 0.0)
        .collect();
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.listing.name.cmp(&b.1.listing.name))
    });
    let mut seen = std::collections::HashSet::new();
    Ok(scored
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| seen.insert(m.id.clone()))
        .take(limit)
        .collect())
}

fn score(typed: &[String], m: &Match) -> f64 {
    let l = &m.listing;
    let name = rank::words(&l.name);
    let mut others = Vec::new();
    for text in l
        .aliases
        .iter()
        .map(String::as_str)
        .chain(l.brand.as_deref())
        .chain(l.portal.as_deref())
        .chain(l.city.as_deref())
        .chain(l.state.as_deref())
    {
        others.extend(rank::words(text));
    }
    rank::score(typed, &name, &others)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::index::{Builder, Opened, SourceRow};
    use crate::directory::shapes;

    fn fixture(name: &str) -> crate::directory::Parsed {
        let path = format!(
            "{}/tests/fixtures/directory/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        shapes::parse(std::fs::File::open(path).unwrap()).unwrap()
    }

    fn built(dir: &std::path::Path) -> Index {
        let path = crate::directory::index::path(dir);
        let mut b = Builder::create(&path).unwrap();
        for (url, name) in [
            ("https://a.fixture.net/brands", "brands.json"),
            ("https://b.fixture.net/orgs", "organizations.json"),
        ] {
            let p = fixture(name);
            let row = SourceRow {
                url: url.into(),
                vendor: Some("Vendor".into()),
                fetched_at: 1,
                organizations: p.listings.len() as i64,
                ..SourceRow::default()
            };
            b.add_source(&row, &p.listings).unwrap();
        }
        b.commit().unwrap();
        match Index::open(&path).unwrap() {
            Opened::Ready(i) => i,
            _ => panic!("the index was not written"),
        }
    }

    #[test]
    fn typos_find_the_practice() {
        let dir = tempfile::tempdir().unwrap();
        let index = built(dir.path());
        let found = find(&index, "sunrize famly medicne", &Filters::default(), 5).unwrap();
        assert_eq!(found[0].listing.name, "Sunrise Family Medicine");
        let found = find(&index, "medicine family sunrise", &Filters::default(), 5).unwrap();
        assert_eq!(found[0].listing.name, "Sunrise Family Medicine");
        // A typed word the name lacks: found through the rows near any word.
        let found = find(&index, "sunrise family pharmacy", &Filters::default(), 5).unwrap();
        assert_eq!(found[0].listing.name, "Sunrise Family Medicine");
        assert!(find(&index, "orthopedic surgery", &Filters::default(), 5)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn one_endpoint_for_one_base_across_sources() {
        let dir = tempfile::tempdir().unwrap();
        let index = built(dir.path());
        let found = find(&index, "lakeside", &Filters::default(), 5).unwrap();
        let names: Vec<&str> = found.iter().map(|m| m.listing.name.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"Lakeside Cardiology") && names.contains(&"Lakeside Heart Center"));
        assert_eq!(found[0].listing.fhir_base, found[1].listing.fhir_base);
        assert_ne!(found[0].source, found[1].source);
        let endpoints: i64 = index
            .conn_for_tests()
            .query_row("SELECT count(*) FROM endpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(endpoints, 3);
    }

    #[test]
    fn filters_narrow_the_matches() {
        let dir = tempfile::tempdir().unwrap();
        let index = built(dir.path());
        let wi = Filters {
            state: Some("wi".into()),
            ..Filters::default()
        };
        assert!(find(&index, "sunrise", &wi, 5).unwrap().is_empty());
        let peoria = Filters {
            city: Some("peoria".into()),
            ..Filters::default()
        };
        let found = find(&index, "sunrise", &peoria, 5).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].listing.name, "Sunrise North Pediatrics");
        let by_id = index.by_id(&found[0].id).unwrap().unwrap();
        assert_eq!(by_id.listing, found[0].listing);
    }

    #[test]
    fn an_index_of_another_version_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::directory::index::path(dir.path());
        drop(built(dir.path()));
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 0").unwrap();
        drop(conn);
        assert!(matches!(
            Index::open(&path).unwrap(),
            Opened::OtherVersion(0)
        ));
    }
}
