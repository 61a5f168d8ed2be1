//! Who is who: whether two profiles' exports are the record of one person, told from the
//! Patient resources they hold (names normalised, birth date, identifiers), and the groups of
//! profiles that are one person, for `fhirdl profile list` and `fhirdl view --all-profiles`.
//!
//! [`compare`] is pure: two [`Person`]s in, a [`Verdict`] out, with the reason in words.
//! [`decide`] adds what the user said (`fhirdl profile link` / `unlink`, kept in the settings
//! file) on top. A proxy's sign-ins (a parent, a caregiver) give one profile per patient on one
//! server; two profiles of one server for two Patient ids are never one person, whatever else
//! matches or was said.

use crate::folder::{for_each_line, Folder};
use anyhow::Result;
use serde_json::Value;
use std::collections::BTreeSet;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Whether two profiles are the record of one person, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Same {
        why: String,
    },
    Different {
        why: String,
    },
    /// Not enough to tell (a missing birth date, an export not yet made…).
    Unknown {
        why: String,
    },
}

impl Verdict {
    pub fn why(&self) -> &str {
        match self {
            Verdict::Same { why } | Verdict::Different { why } | Verdict::Unknown { why } => why,
        }
    }

    pub fn is_same(&self) -> bool {
        matches!(self, Verdict::Same { .. })
    }
}

/// What one profile's export says of its patient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub profile: String,
    /// The FHIR server the export came from.
    pub server: Option<String>,
    /// The Patient id the export is for.
    pub patient: Option<String>,
    /// The first name as written, for messages.
    pub display: Option<String>,
    /// Every name, each as its normalised words (family and given, any order).
    pub names: Vec<BTreeSet<String>>,
    /// `YYYY-MM-DD` (or the shorter form the server gave).
    pub birth_date: Option<String>,
    /// `(system, value)` pairs with both set.
    pub identifiers: BTreeSet<(String, String)>,
    /// Why the export's patient could not be read, when it could not.
    pub problem: Option<String>,
}

impl Person {
    /// The person of `patient` (a Patient resource) in profile `profile`'s export of `server`.
    pub fn from_patient(profile: &str, server: Option<&str>, patient: &Value) -> Person {
        let names: Vec<&Value> = patient["name"].as_array().into_iter().flatten().collect();
        let identifiers = patient["identifier"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| {
                let system = i["system"].as_str()?.trim();
                let value = i["value"].as_str()?.trim();
                (!system.is_empty() && !value.is_empty())
                    .then(|| (system.to_owned(), value.to_owned()))
            })
            .collect();
        Person {
            profile: profile.to_owned(),
            server: server.map(|s| s.trim_end_matches('/').to_owned()),
            patient: patient["id"].as_str().map(str::to_owned),
            display: names.iter().find_map(|n| written_name(n)),
            names: names
                .iter()
                .map(|n| name_words(n))
                .filter(|w| !w.is_empty())
                .collect(),
            birth_date: patient["birthDate"]
                .as_str()
                .map(|d| d.trim().chars().take(10).collect()),
            identifiers,
            problem: None,
        }
    }

    /// A person whose patient could not be read, and why.
    pub fn unreadable(profile: &str, why: String) -> Person {
        Person {
            profile: profile.to_owned(),
            problem: Some(why),
            ..Person::default()
        }
    }

    /// Reads the patient of profile `profile`'s export `folder`: the Patient the export is for
    /// (its manifest names it), else the only Patient in `Patient.ndjson`.
    pub fn read(profile: &str, folder: &Folder) -> Result<Person> {
        let server = folder.fhir_base.as_deref();
        let Some(file) = folder.types.iter().find(|t| t.resource_type == "Patient") else {
            return Ok(Person::unreadable(
                profile,
                format!("the export {} holds no Patient", folder.dir.display()),
            ));
        };
        let mut found = Vec::new();
        for_each_line(&file.path, |line| {
            if let Ok(v) = serde_json::from_slice::<Value>(line) {
                if v["resourceType"] == "Patient" {
                    found.push(v);
                }
            }
            Ok(())
        })?;
        let chosen = match &folder.patient {
            Some(id) => found.iter().find(|p| p["id"].as_str() == Some(id)),
            None if found.len() == 1 => found.first(),
            None => None,
        };
        Ok(match chosen {
            Some(p) => Person::from_patient(profile, server, p),
            None => Person::unreadable(
                profile,
                format!(
                    "the export {} holds {} Patient resources and none is the one it is for",
                    folder.dir.display(),
                    found.len()
                ),
            ),
        })
    }

    /// The person of each `(profile, export folder)`; a folder that cannot be read gives a
    /// person with the reason (no export yet, say).
    pub fn read_all(exports: &[(String, std::path::PathBuf)]) -> Vec<Person> {
        exports
            .iter()
            .map(|(profile, dir)| {
                let read = Folder::open(dir).and_then(|f| Person::read(profile, &f));
                read.unwrap_or_else(|e| {
                    Person::unreadable(profile, format!("'{profile}' has no readable export: {e}"))
                })
            })
            .collect()
    }

    fn shown(&self) -> String {
        format!(
            "'{}' ({})",
            self.profile,
            self.display.as_deref().unwrap_or("no name")
        )
    }
}

/// The written form of a HumanName: its text, else given then family.
fn written_name(name: &Value) -> Option<String> {
    if let Some(t) = name["text"].as_str().filter(|t| !t.trim().is_empty()) {
        return Some(t.trim().to_owned());
    }
    let parts: Vec<&str> = strings(&name["given"])
        .chain(strings(&name["family"]))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// A string or each string of an array (DSTU2's `family` is an array, R4's a string).
fn strings(v: &Value) -> impl Iterator<Item = &str> {
    let list: Vec<&str> = match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
}

/// The words of a HumanName (family and given, else its text) without case, accents or
/// punctuation: "O'Brien-Núñez, José" and "jose obrien nunez" give the same words but for the
/// split at the apostrophe ("o", "brien").
fn name_words(name: &Value) -> BTreeSet<String> {
    let mut text: String = strings(&name["family"])
        .chain(strings(&name["given"]))
        .collect::<Vec<_>>()
        .join(" ");
    if text.trim().is_empty() {
        text = name["text"].as_str().unwrap_or_default().to_owned();
    }
    normalise(&text)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Lower case, accents dropped (NFD, combining marks removed), anything but letters and digits
/// a space.
pub fn normalise(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect()
}

/// Whether two names are one: the same words, or every word of the shorter (at least two) in
/// the longer (a middle name one provider leaves out).
fn names_agree(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    let (small, big) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small == big || (small.len() >= 2 && small.is_subset(big))
}

/// Whether two birth dates agree (one may be shorter, a year or a month).
fn births_agree(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Whether `a` and `b` are two Patients of one server (a proxy's sign-ins): never one person.
pub fn two_patients_of_one_server(a: &Person, b: &Person) -> bool {
    a.server.is_some() && a.server == b.server && a.patient.is_some() && a.patient != b.patient
}

/// Whether `a` and `b` are the record of one person, from their exports alone.
pub fn compare(a: &Person, b: &Person) -> Verdict {
    if let (Some(sa), Some(sb), Some(pa), Some(pb)) = (&a.server, &b.server, &a.patient, &b.patient)
    {
        if sa == sb {
            return if pa == pb {
                Verdict::Same {
                    why: format!("both are Patient/{pa} of {sa}"),
                }
            } else {
                Verdict::Different {
                    why: format!(
                        "both are records of {sa}, for Patient/{pa} and Patient/{pb}: one server's patients (a proxy's, for one) are different people"
                    ),
                }
            };
        }
    }
    if let Some(why) = a.problem.as_ref().or(b.problem.as_ref()) {
        return Verdict::Unknown { why: why.clone() };
    }
    if let (Some(x), Some(y)) = (&a.birth_date, &b.birth_date) {
        if !births_agree(x, y) {
            return Verdict::Different {
                why: format!("{} was born {x}, {} {y}", a.shown(), b.shown()),
            };
        }
    }
    let names_known = !a.names.is_empty() && !b.names.is_empty();
    let names_match = a
        .names
        .iter()
        .any(|x| b.names.iter().any(|y| names_agree(x, y)));
    if names_known && !names_match {
        return Verdict::Different {
            why: format!("the names differ: {} and {}", a.shown(), b.shown()),
        };
    }
    if let Some((system, value)) = a.identifiers.intersection(&b.identifiers).next() {
        return Verdict::Same {
            why: format!("both have the identifier {value} of {system}"),
        };
    }
    match (&a.birth_date, &b.birth_date) {
        (Some(x), Some(y)) if names_match && x == y => Verdict::Same {
            why: format!(
                "same name ({}) and birth date ({x})",
                a.display.as_deref().unwrap_or("")
            ),
        },
        _ => Verdict::Unknown {
            why: format!(
                "{} and {} share no identifier, and a name or a full birth date is missing",
                a.shown(),
                b.shown()
            ),
        },
    }
}

/// What the user said: pairs of profiles that are one person (`fhirdl profile link`) and that
/// are not (`fhirdl profile unlink`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Links<'a> {
    pub same: &'a [[String; 2]],
    pub different: &'a [[String; 2]],
}

impl Links<'_> {
    fn has(list: &[[String; 2]], a: &str, b: &str) -> bool {
        list.iter()
            .any(|[x, y]| (x == a && y == b) || (x == b && y == a))
    }
}

/// [`compare`], overridden by what the user said; never one person for two patients of one
/// server (a proxy's).
pub fn decide(links: Links<'_>, a: &Person, b: &Person) -> Verdict {
    let found = compare(a, b);
    if two_patients_of_one_server(a, b) || a.profile == b.profile {
        return found;
    }
    if Links::has(links.different, &a.profile, &b.profile) {
        return Verdict::Different {
            why: format!(
                "'{}' and '{}' were unlinked with `fhirdl profile unlink`",
                a.profile, b.profile
            ),
        };
    }
    if Links::has(links.same, &a.profile, &b.profile) {
        return Verdict::Same {
            why: format!(
                "'{}' and '{}' were linked with `fhirdl profile link`",
                a.profile, b.profile
            ),
        };
    }
    found
}

/// The people among `persons`: groups of indexes into it, each group joined by `Same`
/// verdicts (a chain counts: A is B and B is C puts A, B and C together), in first-seen order.
pub fn groups(links: Links<'_>, persons: &[Person]) -> Vec<Vec<usize>> {
    let mut group: Vec<usize> = (0..persons.len()).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for i in 0..persons.len() {
        for j in i + 1..persons.len() {
            if decide(links, &persons[i], &persons[j]).is_same() {
                let (ri, rj) = (root(&mut group, i), root(&mut group, j));
                group[rj.max(ri)] = rj.min(ri);
            }
        }
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut slot: Vec<Option<usize>> = vec![None; persons.len()];
    for i in 0..persons.len() {
        let r = root(&mut group, i);
        match slot[r] {
            Some(g) => out[g].push(i),
            None => {
                slot[r] = Some(out.len());
                out.push(vec![i]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn person(profile: &str, server: &str, patient: Value) -> Person {
        Person::from_patient(profile, Some(server), &patient)
    }

    fn ana(profile: &str, server: &str, id: &str) -> Person {
        person(
            profile,
            server,
            json!({"resourceType": "Patient", "id": id, "birthDate": "1980-02-03",
                   "name": [{"family": "Núñez-O'Brien", "given": ["Ana", "María"]}],
                   "identifier": [{"system": format!("{server}/mrn"), "value": "1"}]}),
        )
    }

    #[test]
    fn names_are_compared_without_case_accents_punctuation_or_order() {
        let a = ana("a", "https://one", "p1");
        let b = person(
            "b",
            "https://two",
            json!({"resourceType": "Patient", "id": "x", "birthDate": "1980-02-03",
                   "name": [{"text": "MARIA ana nunez o brien"}]}),
        );
        assert!(compare(&a, &b).is_same(), "{:?}", compare(&a, &b));
        // A middle name left out is the same name.
        let c = person(
            "c",
            "https://three",
            json!({"id": "y", "birthDate": "1980-02-03", "name": [{"family": "Nunez-O'Brien", "given": ["Ana"]}]}),
        );
        assert!(compare(&a, &c).is_same());
        assert_eq!(normalise("Zoë  Ångström-Ørsted"), "zoe  angstrom ørsted");
    }

    #[test]
    fn a_different_birth_date_or_name_is_another_person() {
        let a = ana("a", "https://one", "p1");
        let mut b = ana("b", "https://two", "p2");
        b.birth_date = Some("1981-02-03".into());
        let v = compare(&a, &b);
        assert!(matches!(v, Verdict::Different { .. }), "{v:?}");
        assert!(v.why().contains("1981-02-03"), "{}", v.why());
        let mut c = ana("c", "https://two", "p2");
        c.names = vec![["bob", "smith"].iter().map(|s| s.to_string()).collect()];
        assert!(matches!(compare(&a, &c), Verdict::Different { .. }));
        // A shared identifier does not make a different birth date one person.
        b.identifiers = a.identifiers.clone();
        assert!(matches!(compare(&a, &b), Verdict::Different { .. }));
    }

    #[test]
    fn a_shared_identifier_is_enough_and_too_little_is_unknown() {
        let a = ana("a", "https://one", "p1");
        let mut b = ana("b", "https://two", "p2");
        b.birth_date = None;
        b.identifiers = a.identifiers.clone();
        assert!(compare(&a, &b).why().contains("identifier"));
        b.identifiers.clear();
        assert!(matches!(compare(&a, &b), Verdict::Unknown { .. }));
        let broken = Person::unreadable("z", "no export".into());
        assert_eq!(
            compare(&a, &broken),
            Verdict::Unknown {
                why: "no export".into()
            }
        );
    }

    #[test]
    fn a_proxys_patients_on_one_server_are_never_one_person() {
        // The same name and birth date (twins, say) on one server, two Patient ids.
        let a = ana("kid-1", "https://one", "p1");
        let b = ana("kid-2", "https://one/", "p2");
        let same = [["kid-1".to_string(), "kid-2".to_string()]];
        let links = Links {
            same: &same,
            different: &[],
        };
        assert!(matches!(decide(links, &a, &b), Verdict::Different { .. }));
        assert!(compare(&a, &ana("again", "https://one", "p1")).is_same());
    }

    #[test]
    fn links_override_and_groups_chain() {
        let a = ana("a", "https://one", "p1");
        let b = ana("b", "https://two", "p2");
        let mut c = ana("c", "https://three", "p3");
        c.birth_date = Some("2010-01-01".into());
        let d = ana("d", "https://four", "p4");
        let none = Links::default();
        assert_eq!(
            groups(none, &[a.clone(), b.clone(), c.clone(), d.clone()]),
            vec![vec![0, 1, 3], vec![2]]
        );
        let apart = [["b".to_string(), "a".to_string()]];
        let together = [["c".to_string(), "a".to_string()]];
        let links = Links {
            same: &together,
            different: &apart,
        };
        assert!(matches!(decide(links, &a, &b), Verdict::Different { .. }));
        assert!(decide(links, &a, &c).why().contains("profile link"));
        // b stays with a through d.
        assert_eq!(groups(links, &[a, b, c, d]), vec![vec![0, 1, 2, 3]]);
    }
}
