//! Behaviours of real FHIR servers the sync engine must cope with, each off by default:
//! [`Quirks`] is the switchboard, and the small pure rules here decide what a request gets.
//! Handlers (`search`, `fhir`, `document`) apply them; the generator (`data`, `extras`) reads
//! the flags that change the record. Nothing here holds state.

use std::time::Duration;

use crate::hostile::Hostile;

/// NextGen's answer to `Observation?patient=X` (seen on NextGen Enterprise R4).
pub(crate) const CATEGORY_REQUIRED: &str = "Search criteria must have 'code' or 'category'";
/// The answer of a server that insists on a status (as the ONC test kit's reference server
/// does for some types).
pub(crate) const STATUS_REQUIRED: &str = "The status search parameter is required";
/// NextGen's answer to `_summary=count`.
pub(crate) const SUMMARY_REFUSED: &str = "Unknown search parameter: _summary";
/// NextGen's answer to `CarePlan?patient=X` without `category=assess-plan`.
pub(crate) const CAREPLAN_CATEGORY_MISSING: &str = "Valid care plan category not present";
/// NextGen Office's answer to a search with `_lastUpdated`.
pub(crate) const UNKNOWN_LAST_UPDATED: &str = "Unknown search parameter _lastUpdated";
/// Oracle Health's rule: "The `date` and `_lastUpdated` parameters may not be provided
/// together" (https://fhir.cerner.com/millennium/r4/clinical/diagnostics/observation/).
pub(crate) const LAST_UPDATED_WITH_DATE: &str =
    "The date and _lastUpdated parameters may not be provided together";
/// The answer to a Patient search on a server that only reads the Patient by id (Epic, for
/// patient-facing apps).
pub(crate) const PATIENT_SEARCH_REFUSED: &str =
    "Patient search is not available to this application; read Patient/<id>";
/// The answer to a search of a type in [`Quirks::intent_required`] without `intent`.
pub(crate) const INTENT_REQUIRED: &str = "Missing required search parameter: intent";
/// The paging parameter this sandbox puts into `next` links ([`NextLinkStyle::Offset`]).
pub(crate) const OFFSET: &str = "_offset";
/// NextGen's paging parameter (1-based page number), accepted with its link style.
pub(crate) const PAGE: &str = "page";
/// The paging parameter of [`NextLinkStyle::Cursor`] links.
pub(crate) const CURSOR: &str = "_cursor";

pub(crate) const CAREPLAN_CATEGORY_SYSTEM: &str =
    "http://hl7.org/fhir/us/core/CodeSystem/careplan-category";
pub(crate) const CAREPLAN_CATEGORY: &str = "assess-plan";

/// A category outside http://terminology.hl7.org/CodeSystem/observation-category, carried by
/// some Observations when [`Quirks::uncommon_categories`] is on.
pub(crate) const UNCOMMON_CATEGORY_SYSTEM: &str = "http://example.org/cat";
pub(crate) const UNCOMMON_CATEGORY: &str = "custom-panel";

/// How `next` (and `self`) links of searchset Bundles are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NextLinkStyle {
    /// `<fhir base>/<Type>?<params>&_offset=N`.
    #[default]
    Offset,
    /// NextGen: the path segment `/fhir/r4/` becomes `/fhir/R4/` and pages are `page=N`
    /// (1-based); the sandbox serves both spellings.
    NextGen,
    /// athenahealth: `<fhir base>/<Type>?_cursor=<opaque token>`, nothing else; the sandbox
    /// keeps what each token stands for and answers an unknown one with 400. No offset or page
    /// number can be read from the link, so a client must follow the links one by one.
    Cursor,
}

/// A cap on FHIR requests per window; the ones over it answer 429 without `Retry-After`
/// (eClinicalWorks: 250 a minute per practice base, blocked until the minute ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests admitted per window.
    pub limit: u32,
    pub window: RateWindow,
}

/// When a [`RateLimit`] window ends and the count starts again (also at
/// `Sandbox::next_rate_window`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateWindow {
    /// After this much wall-clock time (eClinicalWorks: fixed minutes).
    Clock(Duration),
    /// After this many FHIR requests arrived, admitted or refused: time measured in requests,
    /// so a test sees the same 429s on every run without waiting for a clock.
    Requests(u32),
}

/// Where DocumentReference (and DiagnosticReport) attachments point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttachmentStyle {
    /// `<fhir base>/Binary/<id>`: a FHIR Binary (raw bytes, or JSON on `Accept: fhir+json`).
    #[default]
    Binary,
    /// NextGen: `<fhir base>/document/pdf-<id>` (raw PDF) plus a second content entry
    /// `<fhir base>/document/xml-<id>` (a C-CDA document); bearer token and ownership checked.
    NextGenDocument,
    /// Epic: relative `Binary/<id>` URLs, a PDF plus a C-CDA (`application/xml`) Binary per
    /// DocumentReference (https://fhir.epic.com/Specifications?api=1047, DocumentReference
    /// `content.attachment.url`).
    RelativeBinary,
}

/// Server behaviours, all off by default (the sandbox then behaves as a tidy R4 server).
/// [`Quirks::nextgen`] turns on the NextGen Enterprise R4 set.
#[derive(Clone, Debug, Default)]
pub struct Quirks {
    /// Searches of these types without `category` or `code` answer 400 with
    /// `Search criteria must have 'code' or 'category'`.
    pub categories_required: Vec<String>,
    /// Generate CarePlans (category `assess-plan`) and answer `CarePlan?patient=X` without
    /// `category=assess-plan` with 404 `Valid care plan category not present`.
    pub careplan_category_required: bool,
    /// Generate and serve CarePlan, Specimen, PractitionerRole and Medication resources
    /// (implied by `careplan_category_required` and `external_references`).
    pub extra_types: bool,
    /// Ignore `_count`: every page has this many entries (NextGen: 25).
    pub fixed_page_size: Option<usize>,
    pub next_link_style: NextLinkStyle,
    /// `(type, page)`: searches of `type` omit the `next` link from page `page` (1-based) on,
    /// while `Bundle.total` stays true (NextGen was seen returning 50 of a total of 109).
    pub drop_next_link: Option<(String, usize)>,
    pub attachment_style: AttachmentStyle,
    /// References outside the FHIR base (`http://snomed.info/sct/<code>`) on Procedures and
    /// Conditions, plus relative references to PractitionerRole (Encounter), Medication
    /// (MedicationRequest.medicationReference) and Specimen (DiagnosticReport.specimen).
    pub external_references: bool,
    /// These types answer 403 to search and read, even with a token whose scopes cover them.
    pub forbidden_types: Vec<String>,
    /// The CapabilityStatement declares no `_lastUpdated` and searches with it answer 400
    /// `Unknown search parameter _lastUpdated` (NextGen Office).
    pub no_last_updated: bool,
    /// `CapabilityStatement.software.name` (default: "fhirdl sandbox").
    pub software_name: Option<String>,
    /// Some Observations carry only the category `http://example.org/cat|custom-panel`, which a
    /// fan-out over the standard observation categories misses.
    pub uncommon_categories: bool,
    /// Every other Condition has no category (as in Synthea data): a fan-out by category
    /// cannot find them; half of them are the `reasonReference` of a Procedure.
    pub uncategorized_conditions: bool,
    /// `_summary=count` is refused with 400 (NextGen Enterprise R4).
    pub count_refused: bool,
    /// Search pages carry no `Bundle.total` (FHIR allows it; some servers never count), so
    /// fhirdl follows `next` links one after another and cannot tell how far it is.
    pub no_total: bool,
    /// Searches of these types without a status parameter answer 400
    /// `The status search parameter is required`.
    pub status_required: Vec<String>,
    /// `(type, category code)`: searches of `type` with this category answer 400
    /// `The category … is not supported` (some EHRs refuse categories they do not serve),
    /// while the other categories are answered.
    pub refused_categories: Vec<(String, String)>,
    /// Resources carry no `meta.lastUpdated` (Epic: "does not populate the meta.lastUpdated
    /// FHIR field", https://github.com/smart-on-fhir/cumulus-etl/blob/main/docs/vendors/epic.md).
    pub no_meta_last_updated: bool,
    /// `Some(types)`: only these types declare and accept `_lastUpdated`; a search of another
    /// type with it answers 400 (Oracle Health documents it per type).
    pub last_updated_only_on: Option<Vec<String>>,
    /// `_lastUpdated` together with a date search parameter answers 400 (Oracle Health).
    pub last_updated_without_date: bool,
    /// Every Patient search answers 400; Patient read by id works (Epic, patient-facing).
    pub patient_search_refused: bool,
    /// `Bundle.total` is the number of entries on the page, not of every match (Epic).
    pub total_is_page_count: bool,
    /// Observation searches put every matching social-history Observation on the first page
    /// whatever `_count` says; later pages leave them out of their slice, so they may be short
    /// (even empty) while a `next` link still follows (Oracle Health).
    pub social_history_first_page: bool,
    /// A C-CDA Binary (`application/xml`) is generated anew at each read: its bytes differ
    /// from one read to the next (Epic).
    pub regenerated_ccda: bool,
    /// Each Binary may be read this many times; past it, 429 (Epic: 80 a day; the sandbox
    /// never starts a new day).
    pub binary_read_limit: Option<u32>,
    /// A raw Binary read needs an `Accept` naming the Binary's content type,
    /// `application/fhir+json` or `*/*`; anything else (such as `application/json`) answers 406
    /// (Oracle Health).
    pub binary_accept_strict: bool,
    /// Added to every request before it is answered (never blocks a thread).
    pub latency: Duration,
    /// `(name, value)`: every search must carry this parameter with this value, else 400 naming
    /// it (athenahealth: `ah-practice=Organization/a-1.Practice-<id>` on its one national base);
    /// reads by id need none.
    pub required_search_param: Option<(String, String)>,
    /// Searches of these types without `intent` answer 400 `Missing required search parameter:
    /// intent` (athenahealth's MedicationRequest).
    pub intent_required: Vec<String>,
    /// Path segments added to the FHIR base path: a practice code (eClinicalWorks,
    /// `/fhir/r4/<practice code>`), or `open` (Veradigm's patient endpoints).
    pub base_path_suffix: Option<String>,
    /// FHIR requests over this rate answer 429 without `Retry-After` (eClinicalWorks).
    pub rate_limit: Option<RateLimit>,
    /// Answers no honest server gives (hostile ids, links, bodies, token and authorization
    /// responses), for tests of fhirdl's defences; see [`crate::hostile`].
    pub hostile: Hostile,
    /// The CapabilityStatement declares `Patient/$everything` and the sandbox answers it
    /// (see [`crate::everything`]).
    pub everything: bool,
    /// Types `Patient/$everything` leaves out although the token may read them (a server whose
    /// operation is incomplete).
    pub everything_omits: Vec<String>,
}

impl Quirks {
    /// NextGen Enterprise R4 as recorded: categories required for Observation and Condition,
    /// CarePlan only with `category=assess-plan`, pages of 25 whatever `_count` says, next
    /// links on `/fhir/R4/…?page=N`, raw PDF/XML documents, terminology URLs used as
    /// references, Observations in a non-standard category, and its software name (from its
    /// published CapabilityStatement). The early-missing next link is a glitch seen once, so it
    /// stays off here; set `drop_next_link` to add it.
    pub fn nextgen() -> Quirks {
        Quirks {
            categories_required: vec!["Observation".to_owned(), "Condition".to_owned()],
            careplan_category_required: true,
            extra_types: true,
            fixed_page_size: Some(25),
            next_link_style: NextLinkStyle::NextGen,
            drop_next_link: None,
            attachment_style: AttachmentStyle::NextGenDocument,
            external_references: true,
            forbidden_types: Vec::new(),
            no_last_updated: false,
            software_name: Some("Nextgen FHIR Server".to_owned()),
            uncommon_categories: true,
            uncategorized_conditions: true,
            count_refused: true,
            no_total: false,
            status_required: Vec::new(),
            refused_categories: Vec::new(),
            ..Quirks::default()
        }
    }

    /// Whether searches of `resource_type` declare and accept `_lastUpdated`.
    pub(crate) fn accepts_last_updated(&self, resource_type: &str) -> bool {
        !self.no_last_updated
            && self
                .last_updated_only_on
                .as_ref()
                .is_none_or(|types| types.iter().any(|t| t == resource_type))
    }

    /// Whether CarePlan, Specimen, PractitionerRole and Medication are generated and listed.
    pub(crate) fn serves_extra_types(&self) -> bool {
        self.extra_types || self.careplan_category_required || self.external_references
    }

    pub(crate) fn is_forbidden(&self, resource_type: &str) -> bool {
        self.forbidden_types.iter().any(|t| t == resource_type)
    }

    pub(crate) fn requires_intent(&self, resource_type: &str) -> bool {
        self.intent_required.iter().any(|t| t == resource_type)
    }

    /// Why `params` lack the [`Quirks::required_search_param`] (None when they carry it).
    pub(crate) fn missing_required_param(&self, params: &[(String, String)]) -> Option<String> {
        let (name, value) = self.required_search_param.as_ref()?;
        match params.iter().find(|(k, _)| k == name) {
            None => Some(format!("Missing required search parameter: {name}")),
            Some((_, given)) if given != value => Some(format!(
                "{name}={given} names no practice this server holds ({name}={value} expected)"
            )),
            Some(_) => None,
        }
    }

    pub(crate) fn requires_category(&self, resource_type: &str) -> bool {
        self.categories_required.iter().any(|t| t == resource_type)
    }

    /// Whether a search of `resource_type` on page `page` (1-based) loses its `next` link.
    pub(crate) fn drops_next_link(&self, resource_type: &str, page: usize) -> bool {
        self.drop_next_link
            .as_ref()
            .is_some_and(|(t, from)| t == resource_type && page >= *from)
    }
}

/// Whether one `category` value names the assess-plan CarePlan category (`assess-plan` or
/// `<system>|assess-plan`).
pub(crate) fn is_assess_plan(value: &str) -> bool {
    value.split(',').any(|token| match token.split_once('|') {
        None => token == CAREPLAN_CATEGORY,
        Some((system, code)) => system == CAREPLAN_CATEGORY_SYSTEM && code == CAREPLAN_CATEGORY,
    })
}

/// The NextGen spelling of a base path: `/fhir/r4` → `/fhir/R4` (None when nothing changes).
pub(crate) fn nextgen_base_path(base_path: &str) -> Option<String> {
    let changed = base_path.replace("/fhir/r4", "/fhir/R4");
    (changed != base_path).then_some(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_off() {
        let q = Quirks::default();
        assert!(!q.serves_extra_types());
        assert!(!q.requires_category("Observation"));
        assert!(!q.drops_next_link("Observation", 9));
        assert_eq!(q.next_link_style, NextLinkStyle::Offset);
        assert_eq!(q.attachment_style, AttachmentStyle::Binary);
        assert!(q.latency.is_zero());
    }

    #[test]
    fn nextgen_set() {
        let q = Quirks::nextgen();
        assert!(q.requires_category("Observation") && q.requires_category("Condition"));
        assert!(!q.requires_category("Encounter"));
        assert_eq!(q.fixed_page_size, Some(25));
        assert!(q.serves_extra_types());
    }

    #[test]
    fn last_updated_per_type() {
        let mut q = Quirks::default();
        assert!(q.accepts_last_updated("CarePlan"));
        q.last_updated_only_on = Some(vec!["Observation".into()]);
        assert!(q.accepts_last_updated("Observation"));
        assert!(!q.accepts_last_updated("CarePlan"));
        q.no_last_updated = true;
        assert!(!q.accepts_last_updated("Observation"));
    }

    #[test]
    fn required_parameter_and_intent() {
        let q = Quirks {
            required_search_param: Some((
                "ah-practice".into(),
                "Organization/a-1.Practice-1".into(),
            )),
            intent_required: vec!["MedicationRequest".into()],
            ..Quirks::default()
        };
        let pair = |v: &str| vec![("ah-practice".to_owned(), v.to_owned())];
        let missing = q.missing_required_param(&[]).unwrap();
        assert!(missing.contains("ah-practice"), "{missing}");
        assert!(q
            .missing_required_param(&pair("Organization/a-1.Practice-2"))
            .is_some());
        assert_eq!(
            q.missing_required_param(&pair("Organization/a-1.Practice-1")),
            None
        );
        assert_eq!(Quirks::default().missing_required_param(&[]), None);
        assert!(q.requires_intent("MedicationRequest") && !q.requires_intent("Observation"));
        assert!(INTENT_REQUIRED.contains("intent") && !INTENT_REQUIRED.contains("status"));
    }

    #[test]
    fn next_link_drop_from_the_named_page_on() {
        let q = Quirks {
            drop_next_link: Some(("Observation".into(), 2)),
            ..Quirks::default()
        };
        assert!(!q.drops_next_link("Observation", 1));
        assert!(q.drops_next_link("Observation", 2));
        assert!(q.drops_next_link("Observation", 3));
        assert!(!q.drops_next_link("Condition", 2));
    }

    #[test]
    fn assess_plan_tokens() {
        assert!(is_assess_plan("assess-plan"));
        assert!(is_assess_plan(
            "http://hl7.org/fhir/us/core/CodeSystem/careplan-category|assess-plan"
        ));
        assert!(is_assess_plan("other,assess-plan"));
        assert!(!is_assess_plan("|assess-plan"));
        assert!(!is_assess_plan("http://other|assess-plan"));
        assert!(!is_assess_plan("careteam"));
        assert!(!is_assess_plan(""));
    }

    #[test]
    fn nextgen_paths() {
        assert_eq!(nextgen_base_path("/fhir/r4").as_deref(), Some("/fhir/R4"));
        assert_eq!(nextgen_base_path("/fhir/dstu2"), None);
    }
}
