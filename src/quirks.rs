//! What fhirdl knows of particular servers that neither the standards nor the server's own
//! CapabilityStatement tell: a small, dated list of rules kept as data in `quirks.json` (built
//! into the binary), each with the page that documents it and the day it was checked.
//!
//! A vendor is recognised by `CapabilityStatement.software.name` (or `publisher`) or by the
//! FHIR base's host; its rules then shape the sync plan the same way the refusal learners do
//! (a type searched category by category from the start, a search the server refuses never
//! sent, an incremental parameter the server refuses never tried). The engine knows the kinds
//! of rule only; vendor names live in the data. `fhirdl providers --quirks` lists them all.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use url::Url;

/// The list as shipped.
const BUILT_IN: &str = include_str!("quirks.json");

/// The quirks file: when it was last reviewed as a whole, and its vendors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuirksFile {
    /// The day the whole list was last reviewed (YYYY-MM-DD).
    pub checked: String,
    pub vendors: Vec<Vendor>,
}

/// One vendor's servers and what is known of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vendor {
    pub name: String,
    #[serde(rename = "match")]
    pub matches: Match,
    pub rules: Vec<Rule>,
}

/// How a server is recognised: any one of these.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Match {
    /// Case-insensitive parts of `CapabilityStatement.software.name` or `publisher`.
    #[serde(default)]
    pub software: Vec<String>,
    /// Host names of FHIR bases: `fhir.example.com`, or `*.example.com` for any below it.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// One rule, the page that documents it, and the day it was checked against that page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    #[serde(flatten)]
    pub kind: RuleKind,
    /// What the rule means for a patient's export, in words.
    pub why: String,
    pub evidence: String,
    pub checked: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum RuleKind {
    /// These types are searched only with a category: fanned out from the first run.
    CategoryRequired { types: Vec<String> },
    /// These narrowed searches of a type are refused: never sent (unless `--full`).
    RefusedSearches {
        #[serde(rename = "type")]
        resource_type: String,
        searches: Vec<String>,
    },
    /// This incremental search parameter is refused or does not find what changed: not
    /// used for these types (all types when empty); another one is chosen, or the type is
    /// fetched whole.
    RefusedIncremental {
        parameter: String,
        #[serde(default)]
        types: Vec<String>,
    },
    /// Every search must carry this parameter (its value is the user's, kept in the profile
    /// with `login --search-param`); a sync without it stops before asking anything.
    RequiredSearchParameter { name: String, example: String },
    /// The server refuses requests beyond this many a minute: unless the user sets
    /// `--max-rate` (or the preset has a limit), fhirdl keeps under it.
    RateLimit { per_minute: u32 },
    /// How the server treats refresh tokens: an unused one dies after
    /// `refresh_token_idle_hours`; refreshes closer together than `min_interval_secs` are
    /// refused; `rotates` says whether a refresh returns a new refresh token. A sync refreshes
    /// early once half the idle limit has passed (see `auth::keep_alive`).
    Refresh {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_token_idle_hours: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_interval_secs: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rotates: Option<bool>,
    },
}

static LIST: LazyLock<Result<QuirksFile, String>> = LazyLock::new(|| {
    serde_json::from_str(BUILT_IN).map_err(|e| format!("the built-in quirks list is broken: {e}"))
});

/// The built-in list (a broken list, which a unit test rules out, is an empty one).
pub fn list() -> &'static [Vendor] {
    match &*LIST {
        Ok(file) => &file.vendors,
        Err(_) => &[],
    }
}

/// The built-in list as a whole (for `providers --quirks`).
pub fn file() -> Result<&'static QuirksFile, &'static str> {
    LIST.as_ref().map_err(String::as_str)
}

impl Match {
    /// Whether the server with this CapabilityStatement at `base` is the vendor's.
    pub fn matches(&self, metadata: &Value, base: &Url) -> bool {
        let named = [
            metadata.get("software").and_then(|s| s.get("name")),
            metadata.get("publisher"),
        ];
        let named = named
            .iter()
            .filter_map(|v| v.and_then(Value::as_str))
            .map(str::to_ascii_lowercase)
            .any(|name| {
                self.software
                    .iter()
                    .any(|s| !s.is_empty() && name.contains(&s.to_ascii_lowercase()))
            });
        named
            || base.host_str().is_some_and(|host| {
                let host = host.to_ascii_lowercase();
                self.hosts
                    .iter()
                    .any(|pattern| host_matches(pattern, &host))
            })
    }
}

/// `*.example.com` matches any host below `example.com`; anything else matches exactly.
fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
        None => pattern == host,
    }
}

/// The lower of two limits, either of which may be unknown.
pub fn lower(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The rules that apply to one server, gathered by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// The vendors recognised.
    pub vendors: Vec<String>,
    pub categories_required: BTreeSet<String>,
    /// Type → searches never sent (`category=procedure`).
    pub refused_searches: BTreeMap<String, Vec<String>>,
    /// Type (`*` for all) → incremental parameters not used.
    pub refused_incremental: BTreeMap<String, Vec<String>>,
    /// Parameters every search must carry, each with an example value.
    pub required_search_params: Vec<(String, String)>,
    /// The lowest published request limit, per minute.
    pub rate_per_minute: Option<u32>,
    /// The shortest published life of an unused refresh token, in hours.
    pub refresh_idle_hours: Option<u32>,
    /// The longest published least time between two refreshes, in seconds.
    pub refresh_min_interval_secs: Option<u32>,
    /// Whether a refresh returns a new refresh token, when published.
    pub refresh_rotates: Option<bool>,
}

impl Known {
    /// What `vendors` know of the server with `metadata` at `base`.
    pub fn of(vendors: &[Vendor], metadata: &Value, base: &Url) -> Known {
        let mut known = Known::default();
        for vendor in vendors.iter().filter(|v| v.matches.matches(metadata, base)) {
            known.vendors.push(vendor.name.clone());
            for rule in &vendor.rules {
                known.add(&rule.kind);
            }
        }
        known
    }

    /// What the built-in list knows of the server.
    pub fn built_in(metadata: &Value, base: &Url) -> Known {
        Known::of(list(), metadata, base)
    }

    /// What the built-in list knows of the server, which also counts as `vendor`'s (the vendor
    /// a provider preset names) when its host and CapabilityStatement do not say.
    pub fn built_in_for(metadata: &Value, base: &Url, vendor: Option<&str>) -> Known {
        let mut known = Known::built_in(metadata, base);
        let Some(name) = vendor.filter(|n| !known.vendors.iter().any(|v| v == n)) else {
            return known;
        };
        if let Some(v) = list().iter().find(|v| v.name == name) {
            known.vendors.push(v.name.clone());
            for rule in &v.rules {
                known.add(&rule.kind);
            }
        }
        known
    }

    fn add(&mut self, kind: &RuleKind) {
        match kind {
            RuleKind::CategoryRequired { types } => {
                self.categories_required.extend(types.iter().cloned());
            }
            RuleKind::RefusedSearches {
                resource_type,
                searches,
            } => self
                .refused_searches
                .entry(resource_type.clone())
                .or_default()
                .extend(searches.iter().cloned()),
            RuleKind::RefusedIncremental { parameter, types } => {
                let types = if types.is_empty() {
                    vec!["*".to_string()]
                } else {
                    types.clone()
                };
                for ty in types {
                    self.refused_incremental
                        .entry(ty)
                        .or_default()
                        .push(parameter.clone());
                }
            }
            RuleKind::RequiredSearchParameter { name, example } => self
                .required_search_params
                .push((name.clone(), example.clone())),
            RuleKind::RateLimit { per_minute } => {
                let lowest = self
                    .rate_per_minute
                    .map_or(*per_minute, |r| r.min(*per_minute));
                self.rate_per_minute = Some(lowest);
            }
            RuleKind::Refresh {
                refresh_token_idle_hours,
                min_interval_secs,
                rotates,
            } => {
                self.refresh_idle_hours = lower(self.refresh_idle_hours, *refresh_token_idle_hours);
                self.refresh_min_interval_secs =
                    self.refresh_min_interval_secs.max(*min_interval_secs);
                self.refresh_rotates = self.refresh_rotates.or(*rotates);
            }
        }
    }

    /// The required parameters `given` (the profile's `--search-param` names) lacks.
    pub fn missing_search_params<'a>(&'a self, given: &[String]) -> Vec<&'a (String, String)> {
        self.required_search_params
            .iter()
            .filter(|(name, _)| !given.iter().any(|g| g == name))
            .collect()
    }

    /// The searches of `resource_type` never to send.
    pub fn refused_searches(&self, resource_type: &str) -> &[String] {
        self.refused_searches
            .get(resource_type)
            .map_or(&[], Vec::as_slice)
    }

    /// The incremental parameters not to use for `resource_type`.
    pub fn refused_incremental(&self, resource_type: &str) -> Vec<String> {
        ["*", resource_type]
            .iter()
            .filter_map(|ty| self.refused_incremental.get(*ty))
            .flatten()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_built_in_list_is_well_formed_and_dated() {
        let file = file().expect("quirks.json parses");
        let is_day = |d: &str| {
            d.len() == 10 && crate::datetime::parse_rfc3339(&format!("{d}T00:00:00Z")).is_some()
        };
        assert!(is_day(&file.checked), "{}", file.checked);
        assert!(!file.vendors.is_empty());
        let mut names = BTreeSet::new();
        for vendor in &file.vendors {
            assert!(names.insert(vendor.name.clone()), "{} twice", vendor.name);
            assert!(
                !vendor.matches.software.is_empty() || !vendor.matches.hosts.is_empty(),
                "{} matches nothing",
                vendor.name
            );
            for rule in &vendor.rules {
                assert!(rule.evidence.starts_with("https://"), "{rule:?}");
                assert!(is_day(&rule.checked), "{rule:?}");
                assert!(!rule.why.is_empty(), "{rule:?}");
            }
        }
    }

    fn vendor(rules: Vec<RuleKind>) -> Vendor {
        Vendor {
            name: "Example EHR".into(),
            matches: Match {
                software: vec!["Example".into()],
                hosts: vec!["*.example.org".into(), "fhir.example.net".into()],
            },
            rules: rules
                .into_iter()
                .map(|kind| Rule {
                    kind,
                    why: "w".into(),
                    evidence: "https://example.org/doc".into(),
                    checked: "2026-12-07".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn servers_are_recognised_by_software_or_host() {
        let v = vendor(Vec::new());
        let url = |u: &str| Url::parse(u).unwrap();
        let other = json!({"software": {"name": "HAPI FHIR"}});
        let named = json!({"software": {"name": "EXAMPLE Server 9"}});
        assert!(v.matches.matches(&named, &url("http://127.0.0.1/fhir")));
        assert!(v
            .matches
            .matches(&json!({"publisher": "example inc"}), &url("http://h/")));
        assert!(!v.matches.matches(&other, &url("http://127.0.0.1/fhir")));
        assert!(v.matches.matches(&other, &url("https://a.example.org/r4")));
        assert!(v
            .matches
            .matches(&other, &url("https://fhir.example.net/r4")));
        assert!(!v.matches.matches(&other, &url("https://example.org/r4")));
        assert!(!v.matches.matches(&other, &url("https://badexample.org/r4")));
        assert!(!v
            .matches
            .matches(&other, &url("https://x.fhir.example.net/r4")));
    }

    #[test]
    fn rules_gather_by_kind() {
        let v = vendor(vec![
            RuleKind::CategoryRequired {
                types: vec!["Observation".into()],
            },
            RuleKind::RefusedSearches {
                resource_type: "Observation".into(),
                searches: vec!["category=therapy".into()],
            },
            RuleKind::RefusedIncremental {
                parameter: "_lastUpdated".into(),
                types: Vec::new(),
            },
            RuleKind::RefusedIncremental {
                parameter: "date".into(),
                types: vec!["Encounter".into()],
            },
            RuleKind::RequiredSearchParameter {
                name: "ah-practice".into(),
                example: "Organization/a-1.Practice-1".into(),
            },
            RuleKind::RateLimit { per_minute: 250 },
            RuleKind::RateLimit { per_minute: 300 },
        ]);
        let metadata = json!({"software": {"name": "Example"}});
        let known = Known::of(&[v], &metadata, &Url::parse("http://h/").unwrap());
        assert_eq!(known.vendors, vec!["Example EHR"]);
        assert!(known.categories_required.contains("Observation"));
        assert_eq!(known.refused_searches("Observation"), ["category=therapy"]);
        assert!(known.refused_searches("Condition").is_empty());
        assert_eq!(known.refused_incremental("Condition"), ["_lastUpdated"]);
        assert_eq!(
            known.refused_incremental("Encounter"),
            ["_lastUpdated", "date"]
        );
        assert_eq!(known.rate_per_minute, Some(250));
        assert_eq!(known.missing_search_params(&[]).len(), 1);
        assert!(known
            .missing_search_params(&["ah-practice".to_string()])
            .is_empty());
        let nobody = Known::of(&[], &metadata, &Url::parse("http://h/").unwrap());
        assert_eq!(nobody, Known::default());
    }

    #[test]
    fn refresh_rules_parse_and_gather() {
        let rule: Rule = serde_json::from_value(json!({
            "rule": "refresh",
            "refresh_token_idle_hours": 2160,
            "min_interval_secs": 60,
            "rotates": false,
            "why": "w",
            "evidence": "https://example.org/doc",
            "checked": "2026-12-07"
        }))
        .unwrap();
        let expected = RuleKind::Refresh {
            refresh_token_idle_hours: Some(2160),
            min_interval_secs: Some(60),
            rotates: Some(false),
        };
        assert_eq!(rule.kind, expected);
        // Every field may be left out; what is left out is not written back.
        let bare: RuleKind = serde_json::from_value(json!({"rule": "refresh"})).unwrap();
        let none = RuleKind::Refresh {
            refresh_token_idle_hours: None,
            min_interval_secs: None,
            rotates: None,
        };
        assert_eq!(bare, none);
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"rule": "refresh"})
        );
        let short = RuleKind::Refresh {
            refresh_token_idle_hours: Some(48),
            min_interval_secs: Some(10),
            rotates: None,
        };
        let metadata = json!({"software": {"name": "Example"}});
        let known = Known::of(
            &[vendor(vec![expected, short])],
            &metadata,
            &Url::parse("http://h/").unwrap(),
        );
        assert_eq!(known.refresh_idle_hours, Some(48));
        assert_eq!(known.refresh_min_interval_secs, Some(60));
        assert_eq!(known.refresh_rotates, Some(false));
    }

    #[test]
    fn a_preset_names_its_vendor_for_servers_that_do_not_say() {
        let url = Url::parse("https://ehr.example-hospital.org/api/FHIR/R4").unwrap();
        let silent = json!({"resourceType": "CapabilityStatement"});
        assert!(Known::built_in(&silent, &url).vendors.is_empty());
        let epic = Known::built_in_for(&silent, &url, Some("Epic"));
        assert_eq!(epic.vendors, ["Epic"]);
        assert!(epic.categories_required.contains("Observation"));
        // Named twice (by the server and by the preset), a vendor counts once.
        let named = json!({"software": {"name": "Epic"}});
        assert_eq!(
            Known::built_in_for(&named, &url, Some("Epic")).vendors,
            ["Epic"]
        );
        assert!(Known::built_in_for(&silent, &url, Some("Nobody"))
            .vendors
            .is_empty());
        // Every preset's vendor is one of the list.
        for preset in crate::providers::PRESETS {
            if let Some(v) = preset.vendor {
                assert!(list().iter().any(|x| x.name == v), "{}: {v}", preset.name);
            }
        }
    }

    #[test]
    fn the_built_in_list_knows_nextgen_and_oracle_refresh_limits() {
        let url = Url::parse("http://127.0.0.1/fhir").unwrap();
        let named = |name: &str| json!({"software": {"name": name}});
        let nextgen = Known::built_in(&named("Nextgen FHIR Server"), &url);
        assert_eq!(nextgen.refresh_idle_hours, Some(48));
        let oracle = Known::built_in(&named("Oracle Health Millennium"), &url);
        assert_eq!(oracle.refresh_idle_hours, Some(2160));
        assert_eq!(oracle.refresh_min_interval_secs, Some(60));
        assert_eq!(oracle.refresh_rotates, Some(false));
    }
}
