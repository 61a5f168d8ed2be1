//! Opaque paging cursors ([`Cursors`]) for [`NextLinkStyle::Cursor`](crate::NextLinkStyle):
//! each token stands for a search's parameters and the offset of a page, kept here because the
//! link carries nothing else (athenahealth's `_cursor=…` links, whose tokens a client cannot
//! read). Tokens are deterministic for a seed, so runs are alike.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use crate::quirks::OFFSET;

/// The searches behind the cursors handed out so far.
#[derive(Default)]
pub(crate) struct Cursors {
    seed: u64,
    issued: Mutex<HashMap<String, Vec<(String, String)>>>,
}

impl Cursors {
    pub(crate) fn new(seed: u64) -> Cursors {
        Cursors {
            seed,
            issued: Mutex::default(),
        }
    }

    /// A token for the page at `offset` of the search `params` (paging parameters dropped).
    pub(crate) fn issue(&self, params: &[(String, String)], offset: usize) -> String {
        let mut kept: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != OFFSET && k != crate::quirks::CURSOR)
            .cloned()
            .collect();
        kept.push((OFFSET.to_owned(), offset.to_string()));
        let mut hasher = DefaultHasher::new();
        (self.seed, &kept).hash(&mut hasher);
        // Letters first: a token never reads as a number (no client can take it for an offset).
        let token = format!("ah{:016x}", hasher.finish());
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone(), kept);
        token
    }

    /// The parameters (with `_offset`) a token stands for; `None` for a token never issued.
    pub(crate) fn resolve(&self, token: &str) -> Option<Vec<(String, String)>> {
        let issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        issued.get(token).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_stand_for_the_search_and_its_offset() {
        let cursors = Cursors::new(7);
        let params = vec![
            ("patient".to_owned(), "p-1".to_owned()),
            (OFFSET.to_owned(), "50".to_owned()),
        ];
        let token = cursors.issue(&params, 100);
        assert!(token.starts_with("ah") && token.parse::<u64>().is_err());
        let back = cursors.resolve(&token).unwrap();
        assert_eq!(
            back,
            vec![
                ("patient".to_owned(), "p-1".to_owned()),
                (OFFSET.to_owned(), "100".to_owned())
            ]
        );
        assert_eq!(token, Cursors::new(7).issue(&params, 100), "deterministic");
        assert_ne!(token, cursors.issue(&params, 150));
        assert!(cursors.resolve("ah0000").is_none());
    }
}
