//! Which server a Bundle entry came from, told by its `fullUrl`, so that `fhirdl unbundle`
//! gives each source of a Bundle written from several exports a folder of its own.
//!
//! A resource's `fullUrl` is `<base>/<Type>/<id>` (<https://hl7.org/fhir/R4/bundle.html#references>),
//! so its base is what precedes its own type and id. An entry whose `fullUrl` does not end
//! that way (a saved document at a server's download URL) belongs to the longest base seen so
//! far that it starts with, else to the source of the entry before it (fhirdl writes each
//! source's entries together).

/// The bases seen so far, and the one of the entry before.
#[derive(Debug, Default)]
pub struct Origins {
    known: Vec<String>,
    current: String,
}

impl Origins {
    /// The base the entry of `ty`/`id` at `full_url` belongs to; `""` when no base is known.
    pub fn of(&mut self, full_url: Option<&str>, ty: &str, id: &str) -> String {
        let own = full_url.and_then(|u| {
            let base = u.strip_suffix(&format!("/{ty}/{id}"))?;
            (base.contains("://") && !base.ends_with('/')).then_some(base)
        });
        if let Some(base) = own {
            if !self.known.iter().any(|k| k == base) {
                self.known.push(base.to_owned());
            }
            self.current = base.to_owned();
        } else if let Some(u) = full_url {
            let prefix = self
                .known
                .iter()
                .filter(|k| {
                    u.strip_prefix(k.as_str())
                        .is_some_and(|r| r.starts_with('/'))
                })
                .max_by_key(|k| k.len());
            if let Some(p) = prefix {
                self.current = p.clone();
            }
        }
        self.current.clone()
    }
}

/// A folder name for each base, distinct and safe: the URL's host, port and path with every
/// other character made `_` (`https://fhir.example.org:8443/r4` → `fhir.example.org_8443_r4`);
/// entries of no known base go to `no-server`.
pub fn folder_names<'b>(bases: impl IntoIterator<Item = &'b str>) -> Vec<(String, String)> {
    let mut taken = std::collections::HashSet::new();
    let mut out = Vec::new();
    for base in bases {
        let rest = base.split_once("://").map_or(base, |(_, r)| r);
        let clean: String = rest
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' => c,
                _ => '_',
            })
            .take(80)
            .collect();
        let clean = clean.trim_matches(['_', '.', '-']);
        let stem = if clean.is_empty() { "no-server" } else { clean };
        let mut name = stem.to_owned();
        let mut n = 1;
        while !taken.insert(name.clone()) {
            n += 1;
            name = format!("{stem}-{n}");
        }
        out.push((base.to_owned(), name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_belong_to_the_base_before_their_type_and_id() {
        let mut o = Origins::default();
        assert_eq!(o.of(Some("urn:uuid:1"), "Patient", "1"), "");
        assert_eq!(
            o.of(Some("http://a/fhir/Patient/p"), "Patient", "p"),
            "http://a/fhir"
        );
        assert_eq!(
            o.of(Some("https://b:1/r4/Patient/p"), "Patient", "p"),
            "https://b:1/r4"
        );
        // A document at a download URL of the first server, and one with no fullUrl.
        assert_eq!(
            o.of(Some("http://a/fhir/doc/9"), "Binary", "fhirdl-x"),
            "http://a/fhir"
        );
        assert_eq!(o.of(None, "Binary", "y"), "http://a/fhir");
        assert_eq!(
            o.of(Some("http://elsewhere/x"), "Binary", "z"),
            "http://a/fhir"
        );
    }

    #[test]
    fn folder_names_are_safe_and_distinct() {
        let names = folder_names([
            "https://h.org:8443/r4",
            "http://h.org:8443/r4",
            "",
            "http://../..",
        ]);
        let names: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "h.org_8443_r4",
                "h.org_8443_r4-2",
                "no-server",
                "no-server-2"
            ]
        );
    }
}
