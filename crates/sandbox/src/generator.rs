//! The generated medical record: two patients with their clinical resources, document PDFs and
//! the shared Practitioners, Organizations and Locations they reference.
//!
//! Everything derives from `SandboxConfig::seed` (ChaCha8, one stream per patient), and all
//! timestamps fall between 2017 and the end of 2024, so a seed always yields the same record.
//! Code systems and codes are real (SNOMED CT, LOINC, RxNorm, CVX) so the output looks like an
//! EHR export; the clinical story behind them is random.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::catalog;
use crate::ccda;
use crate::config::{FhirFlavor, SandboxConfig, SandboxUser};
use crate::extras;
use crate::instant::{format_date, format_date_time, format_instant};
use crate::pdf;
use crate::quirks::{self, AttachmentStyle, Quirks};
use crate::vocabulary::{
    coding, concept, pick, random_time, reference, Generated, CVX, LOINC, MEDS, PRACTITIONERS,
    RECORD_END, RECORD_START, RXNORM, SNOMED, UCUM,
};

/// The sandbox's portal accounts; the password is `<username>-sandbox`.
pub(crate) const USERNAMES: [&str; 2] = ["alice", "bob"];

/// Generates the record into `sink` one resource at a time (a 100,000-resource record never
/// exists as JSON trees all at once) and returns the users.
pub(crate) fn generate(
    config: &SandboxConfig,
    fhir_base: &str,
    sink: &mut dyn FnMut(Generated),
) -> Vec<SandboxUser> {
    let mut shared_rng = ChaCha8Rng::seed_from_u64(derive_seed(config.seed, 0));
    shared_resources(&mut shared_rng, config.flavor, sink);
    let extras = extras_on(config);
    if extras {
        // Own streams for what the quirks add, so the base record stays the same with them on.
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(config.seed, EXTRA_STREAM));
        extras::shared_resources(&mut rng, sink);
    }

    let mut users = Vec::new();
    for (index, username) in USERNAMES.iter().enumerate() {
        let rng = ChaCha8Rng::seed_from_u64(derive_seed(config.seed, index as u64 + 1));
        let extra_rng =
            ChaCha8Rng::seed_from_u64(derive_seed(config.seed, EXTRA_STREAM + index as u64 + 1));
        let additions = Additions {
            quirks: &config.quirks,
            extras,
            rng: extra_rng,
        };
        let mut patient = PatientRecord::new(
            rng,
            config.flavor,
            fhir_base,
            (index, username),
            additions,
            &mut *sink,
        );
        patient.generate(config.resources_per_patient);
        users.push(SandboxUser {
            username: (*username).to_owned(),
            password: format!("{username}-sandbox"),
            patient_id: patient.patient_id.clone(),
            display_name: patient.display_name.clone(),
        });
    }
    users
}

/// First random stream of the quirk-only additions.
const EXTRA_STREAM: u64 = 1000;

/// CarePlan, Specimen, PractitionerRole and Medication are generated (R4 only).
fn extras_on(config: &SandboxConfig) -> bool {
    config.quirks.serves_extra_types() && config.flavor == FhirFlavor::R4
}

/// A distinct, well-mixed seed per stream (splitmix64 finaliser).
fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const ORGANIZATIONS: [&str; 2] = [
    "Riverside Community Clinic",
    "St. Elsewhere General Hospital",
];
const LOCATIONS: [&str; 3] = [
    "Riverside Clinic Suite 2",
    "St. Elsewhere Emergency",
    "St. Elsewhere Lab",
];
const FAMILY: [&str; 12] = [
    "Garcia", "Nguyen", "Okafor", "Schmidt", "Rossi", "Kowalski", "Tanaka", "Haddad", "Larsen",
    "Moreau", "Patel", "Sullivan",
];
const GIVEN: [&str; 10] = [
    "Maya", "Jonas", "Priya", "Samuel", "Lena", "Omar", "Grace", "Tomas", "Aiko", "Daniel",
];
const CITIES: [(&str, &str, &str); 4] = [
    ("Springfield", "IL", "62701"),
    ("Madison", "WI", "53703"),
    ("Portland", "OR", "97205"),
    ("Burlington", "VT", "05401"),
];
const STREETS: [&str; 5] = ["Maple Ave", "Oak St", "Lakeview Dr", "Main St", "Cedar Ln"];

fn shared_resources(rng: &mut ChaCha8Rng, flavor: FhirFlavor, sink: &mut dyn FnMut(Generated)) {
    let mut push = |rng: &mut ChaCha8Rng, resource: Value| {
        sink(Generated {
            resource,
            patient: None,
            last_updated: random_time(rng),
        });
    };
    for i in 1..=PRACTITIONERS {
        let name = json!({
            "use": "official",
            "family": pick(rng, &FAMILY),
            "given": [pick(rng, &GIVEN)],
            "prefix": ["Dr."],
        });
        let name = match flavor {
            FhirFlavor::R4 | FhirFlavor::Stu3 => json!([name]),
            FhirFlavor::Dstu2 => name,
        };
        let npi = format!("{:010}", rng.gen_range(1_000_000_000u64..2_000_000_000));
        let practitioner = json!({
            "resourceType": "Practitioner",
            "id": format!("pract-{i}"),
            "active": true,
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}],
            "name": name,
        });
        push(rng, practitioner);
    }
    for (i, name) in ORGANIZATIONS.iter().enumerate() {
        let (city, state, zip) = pick(rng, &CITIES);
        let organization = json!({
            "resourceType": "Organization",
            "id": format!("org-{}", i + 1),
            "active": true,
            "name": name,
            "telecom": [{"system": "phone", "value": format!("555-01{:02}", i + 10)}],
            "address": [{"line": [format!("{} {}", 100 + i * 50, pick(rng, &STREETS))],
                         "city": city, "state": state, "postalCode": zip, "country": "US"}],
        });
        push(rng, organization);
    }
    for (i, name) in LOCATIONS.iter().enumerate() {
        let location = json!({
            "resourceType": "Location",
            "id": format!("loc-{}", i + 1),
            "status": "active",
            "name": name,
            "managingOrganization": {"reference": format!("Organization/org-{}", i.min(1) + 1)},
        });
        push(rng, location);
    }
}

/// An encounter the patient's other resources can point at.
struct Visit {
    id: String,
    start: OffsetDateTime,
    practitioner: usize,
}

struct PatientRecord<'a> {
    rng: ChaCha8Rng,
    flavor: FhirFlavor,
    fhir_base: &'a str,
    patient_id: String,
    tag: String,
    display_name: String,
    gender: &'static str,
    visits: Vec<Visit>,
    lab_results: Vec<String>,
    /// Conditions generated without a category (`Quirks::uncategorized_conditions`).
    uncategorized: Vec<String>,
    sink: &'a mut dyn FnMut(Generated),
    quirks: &'a Quirks,
    /// CarePlan and Specimen are generated (see `extras_on`).
    extras: bool,
    /// Draws for what the quirks add; the base record never draws from it.
    extra_rng: ChaCha8Rng,
}

/// What the quirks change in a patient's record.
struct Additions<'a> {
    quirks: &'a Quirks,
    /// CarePlan and Specimen are generated (see `extras_on`).
    extras: bool,
    rng: ChaCha8Rng,
}

/// Share of the clinical resources per type, in percent; Observation takes the rounding rest.
const SHARES: [(&str, usize); 8] = [
    ("Encounter", 10),
    ("Condition", 8),
    ("MedicationRequest", 8),
    ("DiagnosticReport", 6),
    ("Procedure", 5),
    ("Immunization", 5),
    ("DocumentReference", 4),
    ("AllergyIntolerance", 4),
];

impl<'a> PatientRecord<'a> {
    fn new(
        mut rng: ChaCha8Rng,
        flavor: FhirFlavor,
        fhir_base: &'a str,
        (index, username): (usize, &str),
        additions: Additions<'a>,
        sink: &'a mut dyn FnMut(Generated),
    ) -> Self {
        let tag = format!("{index}{:07x}", rng.gen::<u32>() & 0x0fff_ffff);
        let given = capitalize(username);
        let family = pick(&mut rng, &FAMILY);
        PatientRecord {
            rng,
            flavor,
            fhir_base,
            patient_id: format!("pt-{tag}"),
            display_name: format!("{given} {family}"),
            // The sandbox's two users are Alice and Bob.
            gender: if index == 0 { "female" } else { "male" },
            tag,
            visits: Vec::new(),
            lab_results: Vec::new(),
            uncategorized: Vec::new(),
            sink,
            quirks: additions.quirks,
            extras: additions.extras,
            extra_rng: additions.rng,
        }
    }

    fn generate(&mut self, clinical: usize) {
        self.patient();
        let count = |share: usize| clinical * share / 100;
        let observations = clinical - SHARES.iter().map(|(_, s)| count(*s)).sum::<usize>();
        for n in 0..count(10) {
            self.encounter(n);
        }
        for n in 0..count(8) {
            self.condition(n);
        }
        for n in 0..observations {
            self.observation(n);
        }
        for n in 0..count(6) {
            self.diagnostic_report(n);
        }
        for n in 0..count(8) {
            self.medication_request(n);
        }
        for n in 0..count(5) {
            self.procedure(n);
        }
        for n in 0..count(5) {
            self.immunization(n);
        }
        for n in 0..count(4) {
            self.allergy(n);
        }
        for n in 0..count(4) {
            self.document(n);
        }
        if self.extras {
            for n in 0..extras::CAREPLANS_PER_PATIENT {
                self.care_plan(n);
            }
        }
    }

    fn care_plan(&mut self, n: usize) {
        let at = random_time(&mut self.extra_rng);
        let id = self.id("cp", n);
        let resource = extras::care_plan(&mut self.extra_rng, id, at);
        self.emit_extra(resource, at);
    }

    /// `emit` for what the quirks add: the delay comes from the extra stream.
    fn emit_extra(&mut self, resource: Value, at: OffsetDateTime) -> OffsetDateTime {
        let delay = Duration::milliseconds(self.extra_rng.gen_range(0..3 * 24 * 3_600_000));
        self.emit_after(resource, at, None, delay)
    }

    /// Stores a Binary owned by the patient.
    fn emit_binary(&mut self, id: &str, content_type: &str, bytes: &[u8], at: OffsetDateTime) {
        // `Binary.data` from R4 on; `content` before.
        let data_element = match self.flavor {
            FhirFlavor::R4 => "data",
            FhirFlavor::Stu3 | FhirFlavor::Dstu2 => "content",
        };
        let mut binary = json!({
            "resourceType": "Binary",
            "id": id,
            "contentType": content_type,
        });
        binary[data_element] = json!(STANDARD.encode(bytes));
        if !self.dstu2() {
            binary["securityContext"] =
                json!({"reference": format!("Patient/{}", self.patient_id)});
        }
        (self.sink)(Generated {
            resource: binary,
            patient: Some(self.patient_id.clone()),
            last_updated: at,
        });
    }

    /// The NextGen document URL `<fhir base>/document/<name>`.
    fn document_url(&self, name: &str) -> String {
        format!("{}/document/{name}", self.fhir_base)
    }

    fn dstu2(&self) -> bool {
        self.flavor == FhirFlavor::Dstu2
    }

    /// References to the extra types and terminology URLs (R4 only, like the extra types).
    fn external_references(&self) -> bool {
        self.quirks.external_references && self.extras
    }

    fn id(&self, prefix: &str, n: usize) -> String {
        format!("{prefix}-{}-{n}", self.tag)
    }

    fn patient_ref(&self) -> Value {
        json!({"reference": format!("Patient/{}", self.patient_id), "display": self.display_name})
    }

    fn practitioner_ref(&mut self, index: Option<usize>) -> Value {
        let i = index.unwrap_or_else(|| self.rng.gen_range(0..PRACTITIONERS));
        reference("Practitioner", &format!("pract-{}", i + 1))
    }

    /// A visit to hang a resource on (none when the record has no encounters).
    fn visit(&mut self) -> Option<(String, OffsetDateTime, usize)> {
        if self.visits.is_empty() {
            return None;
        }
        let v = &self.visits[self.rng.gen_range(0..self.visits.len())];
        Some((v.id.clone(), v.start, v.practitioner))
    }

    /// When the event happened: during a visit when there is one.
    fn when(&mut self) -> (OffsetDateTime, Option<String>, Option<usize>) {
        match self.visit() {
            Some((id, start, practitioner)) => {
                let minutes = self.rng.gen_range(0..120);
                (
                    start + Duration::minutes(minutes),
                    Some(id),
                    Some(practitioner),
                )
            }
            None => (random_time(&mut self.rng), None, None),
        }
    }

    /// Adds the patient reference under the flavor's element name, the encounter link, and
    /// stores the resource with a last update up to three days after the event.
    fn emit(
        &mut self,
        resource: Value,
        at: OffsetDateTime,
        encounter: Option<String>,
    ) -> OffsetDateTime {
        let delay = Duration::milliseconds(self.rng.gen_range(0..3 * 24 * 3_600_000));
        self.emit_after(resource, at, encounter, delay)
    }

    fn emit_after(
        &mut self,
        mut resource: Value,
        at: OffsetDateTime,
        encounter: Option<String>,
        delay: Duration,
    ) -> OffsetDateTime {
        let resource_type = resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let element = catalog::patient_element(self.flavor, &resource_type);
        resource[element] = self.patient_ref();
        if let Some(encounter) = encounter {
            resource["encounter"] = reference("Encounter", &encounter);
        }
        let last_updated = (at + delay).min(RECORD_END - Duration::seconds(1));
        (self.sink)(Generated {
            resource,
            patient: Some(self.patient_id.clone()),
            last_updated,
        });
        last_updated
    }

    fn patient(&mut self) {
        let (city, state, zip) = *pick(&mut self.rng, &CITIES);
        let birth = datetime!(1950-01-01 00:00 UTC) + Duration::days(self.rng.gen_range(0..18_000));
        let (given, family) = self
            .display_name
            .split_once(' ')
            .unwrap_or((&self.display_name, ""));
        let line = format!(
            "{} {}",
            self.rng.gen_range(1..999),
            pick(&mut self.rng, &STREETS)
        );
        let mrn = format!("MRN{:07}", self.rng.gen_range(0..10_000_000));
        let resource = json!({
            "resourceType": "Patient",
            "id": self.patient_id,
            "identifier": [{"use": "usual", "system": "urn:oid:2.16.840.1.113883.19.5.99999.1",
                            "value": mrn}],
            "active": true,
            "name": [{"use": "official", "family": family, "given": [given]}],
            "telecom": [{"system": "email", "value": format!("{}@example.org", given.to_lowercase())}],
            "gender": self.gender,
            "birthDate": format_date(birth.date()),
            "address": [{"use": "home", "line": [line], "city": city, "state": state,
                         "postalCode": zip, "country": "US"}],
            "managingOrganization": reference("Organization", "org-1"),
        });
        let last_updated = RECORD_START + Duration::days(self.rng.gen_range(0..30));
        (self.sink)(Generated {
            resource,
            patient: Some(self.patient_id.clone()),
            last_updated,
        });
    }

    fn encounter(&mut self, n: usize) {
        const TYPES: [(&str, &str); 4] = [
            ("185349003", "Encounter for check up"),
            ("185345009", "Encounter for symptom"),
            ("390906007", "Follow-up encounter"),
            ("50849002", "Emergency room admission"),
        ];
        let id = self.id("enc", n);
        let start = random_time(&mut self.rng);
        let end = start + Duration::minutes(self.rng.gen_range(15..180));
        let (code, display) = *pick(&mut self.rng, &TYPES);
        let emergency = code == "50849002";
        let practitioner = self.rng.gen_range(0..PRACTITIONERS);
        let class = match (self.dstu2(), emergency) {
            (true, true) => json!("emergency"),
            (true, false) => json!("outpatient"),
            (false, true) => coding(
                "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "EMER",
                "emergency",
            ),
            (false, false) => coding(
                "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "AMB",
                "ambulatory",
            ),
        };
        let location = if emergency { "loc-2" } else { "loc-1" };
        let resource = json!({
            "resourceType": "Encounter",
            "id": id,
            "status": "finished",
            "class": class,
            "type": [concept(SNOMED, code, display)],
            "participant": [{"individual": self.practitioner_ref(Some(practitioner))}],
            "period": {"start": format_date_time(start), "end": format_date_time(end)},
            "location": [{"location": reference("Location", location)}],
            "serviceProvider": reference("Organization", if emergency { "org-2" } else { "org-1" }),
        });
        let mut resource = resource;
        if self.external_references() {
            let role = reference(
                "PractitionerRole",
                &extras::practitioner_role_id(practitioner),
            );
            if let Some(participants) = resource["participant"].as_array_mut() {
                participants.push(json!({"individual": role}));
            }
        }
        self.visits.push(Visit {
            id,
            start,
            practitioner,
        });
        self.emit(resource, end, None);
    }

    fn condition(&mut self, n: usize) {
        const CODES: [(&str, &str); 10] = [
            ("44054006", "Diabetes mellitus type 2"),
            ("38341003", "Hypertensive disorder"),
            ("195967001", "Asthma"),
            ("55822004", "Hyperlipidemia"),
            ("444814009", "Viral sinusitis"),
            ("10509002", "Acute bronchitis"),
            ("35489007", "Depressive disorder"),
            ("68566005", "Urinary tract infectious disease"),
            ("271737000", "Anemia"),
            ("233604007", "Pneumonia"),
        ];
        let (code, display) = *pick(&mut self.rng, &CODES);
        let (at, encounter, _) = self.when();
        let problem = self.rng.gen_bool(0.5);
        let active = self.rng.gen_bool(0.6);
        let mut resource = json!({
            "resourceType": "Condition",
            "id": self.id("cond", n),
            "code": concept(SNOMED, code, display),
            "onsetDateTime": format_date_time(at),
        });
        if self.dstu2() {
            let category = if problem { "problem" } else { "diagnosis" };
            resource["clinicalStatus"] = json!(if active { "active" } else { "resolved" });
            resource["verificationStatus"] = json!("confirmed");
            resource["category"] = json!({"coding": [{
                "system": "http://hl7.org/fhir/condition-category", "code": category}]});
            resource["dateRecorded"] = json!(format_date(at.date()));
        } else {
            let (category, label) = if problem {
                ("problem-list-item", "Problem List Item")
            } else {
                ("encounter-diagnosis", "Encounter Diagnosis")
            };
            resource["clinicalStatus"] = json!({"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": if active { "active" } else { "resolved" }}]});
            resource["verificationStatus"] = json!({"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "code": "confirmed"}]});
            resource["category"] = json!([{"coding": [coding(
                "http://terminology.hl7.org/CodeSystem/condition-category", category, label)]}]);
            resource["recordedDate"] = json!(format_date_time(at));
        }
        if !active {
            resource["abatementDateTime"] = json!(format_date_time(
                at + Duration::days(self.rng.gen_range(7..90))
            ));
        }
        // NextGen puts terminology URLs where references belong.
        if self.external_references() && n.is_multiple_of(2) {
            resource["evidence"] = json!([{"detail": [terminology_reference(code)]}]);
        }
        // Synthea-like data: every other Condition has no category at all, and the
        // Procedures done for it refer to it.
        if self.quirks.uncategorized_conditions && n.is_multiple_of(2) {
            if let Some(map) = resource.as_object_mut() {
                map.remove("category");
            }
            self.uncategorized.push(self.id("cond", n));
        }
        self.emit(resource, at, encounter);
    }

    fn observation(&mut self, n: usize) {
        let id = self.id("obs", n);
        let roll = self.rng.gen_range(0..100);
        let (category, label) = match roll {
            0..=44 => ("vital-signs", "Vital Signs"),
            45..=89 => ("laboratory", "Laboratory"),
            _ => ("social-history", "Social History"),
        };
        let (at, encounter, practitioner) = self.when();
        let mut resource = json!({
            "resourceType": "Observation",
            "id": id,
            "status": "final",
            "effectiveDateTime": format_date_time(at),
            "issued": format_instant(at + Duration::hours(2)),
            "performer": [self.practitioner_ref(practitioner)],
        });
        match category {
            "social-history" => self.smoking_status(&mut resource),
            "laboratory" => self.measurement(&mut resource, &LABS),
            _ => self.measurement(&mut resource, &VITALS),
        }
        resource["category"] = self.observation_category(category, label, n);
        if category == "laboratory" {
            self.lab_results.push(id);
        }
        self.emit(resource, at, encounter);
    }

    /// The code and value of a tobacco smoking status.
    fn smoking_status(&mut self, resource: &mut Value) {
        let (code, display) = *pick(&mut self.rng, &SMOKING);
        resource["code"] = concept(LOINC, "72166-2", "Tobacco smoking status");
        resource["valueCodeableConcept"] = concept(SNOMED, code, display);
    }

    /// The code and value of one measurement drawn from `table`, with its reference range; a
    /// systolic pressure becomes a blood pressure panel.
    fn measurement(&mut self, resource: &mut Value, table: &[(&str, &str, &str, f64, f64)]) {
        let (code, display, unit, low, high) = *pick(&mut self.rng, table);
        let value = (self.rng.gen_range(low..high) * 10.0).round() / 10.0;
        if code == SYSTOLIC {
            // A blood pressure panel, as US Core records it: the diastolic value follows
            // the systolic one (no extra draw, so the rest of the record stays the same).
            let diastolic = (value * 6.2 + 40.0).round() / 10.0;
            resource["code"] = concept(
                LOINC,
                BP_PANEL,
                "Blood pressure panel with all children optional",
            );
            resource["component"] = json!([
                bp_component(SYSTOLIC, "Systolic blood pressure", value, ("90", "120")),
                bp_component(
                    "8462-4",
                    "Diastolic blood pressure",
                    diastolic,
                    ("60", "80")
                ),
            ]);
        } else {
            resource["code"] = concept(LOINC, code, display);
            resource["valueQuantity"] =
                json!({"value": value, "unit": unit, "system": UCUM, "code": unit});
            if let Some(range) = normal_range(code, unit) {
                resource["referenceRange"] = json!([range]);
            }
        }
    }

    /// An Observation's category: a list of concepts (a single one in DSTU2); with the
    /// uncommon-categories quirk every twentieth (from the eighth) is a custom one.
    fn observation_category(&self, category: &str, label: &str, n: usize) -> Value {
        let tag = if self.quirks.uncommon_categories && n % 20 == 7 {
            coding(
                quirks::UNCOMMON_CATEGORY_SYSTEM,
                quirks::UNCOMMON_CATEGORY,
                "Custom panel",
            )
        } else if self.dstu2() {
            coding("http://hl7.org/fhir/observation-category", category, label)
        } else {
            coding(
                "http://terminology.hl7.org/CodeSystem/observation-category",
                category,
                label,
            )
        };
        if self.dstu2() {
            json!({"coding": [tag]})
        } else {
            json!([{"coding": [tag]}])
        }
    }

    fn diagnostic_report(&mut self, n: usize) {
        const PANELS: [(&str, &str); 4] = [
            ("58410-2", "CBC panel - Blood by Automated count"),
            (
                "24323-8",
                "Comprehensive metabolic 2000 panel - Serum or Plasma",
            ),
            ("57698-3", "Lipid panel with direct LDL - Serum or Plasma"),
            ("51990-0", "Basic metabolic panel - Blood"),
        ];
        let (code, display) = *pick(&mut self.rng, &PANELS);
        let (at, encounter, practitioner) = self.when();
        let results: Vec<Value> = if self.lab_results.is_empty() {
            Vec::new()
        } else {
            (0..self.rng.gen_range(1..=3))
                .map(|_| {
                    let i = self.rng.gen_range(0..self.lab_results.len());
                    reference("Observation", &self.lab_results[i])
                })
                .collect()
        };
        let category_system = if self.dstu2() {
            "http://hl7.org/fhir/v2/0074"
        } else {
            "http://terminology.hl7.org/CodeSystem/v2-0074"
        };
        let category = concept(category_system, "LAB", "Laboratory");
        let performer = self.practitioner_ref(practitioner);
        let mut resource = json!({
            "resourceType": "DiagnosticReport",
            "id": self.id("rep", n),
            "status": "final",
            "category": if self.dstu2() { category } else { json!([category]) },
            "code": concept(LOINC, code, display),
            "effectiveDateTime": format_date_time(at),
            "issued": format_instant(at + Duration::hours(6)),
            "performer": if self.dstu2() { performer } else { json!([performer]) },
        });
        if !results.is_empty() {
            resource["result"] = json!(results);
        }
        let id = self.id("rep", n);
        if self.extras {
            let specimen_id = self.id("spec", n);
            if self.external_references() {
                resource["specimen"] = json!([reference("Specimen", &specimen_id)]);
            }
            let specimen = extras::specimen(&specimen_id, code, at);
            self.emit_extra(specimen, at);
        }
        let presented =
            self.quirks.attachment_style == AttachmentStyle::NextGenDocument && n.is_multiple_of(3);
        if presented {
            let name = format!("pdf-{id}");
            let bytes = pdf::one_page(&[
                "fhirdl sandbox EHR".to_owned(),
                display.to_owned(),
                format!("Patient: {}", self.display_name),
                format!("Date: {}", format_date(at.date())),
            ]);
            resource["presentedForm"] = json!([{
                "contentType": "application/pdf",
                "url": self.document_url(&name),
                "title": display,
                "size": bytes.len(),
            }]);
            let last_updated = self.emit(resource, at, encounter);
            self.emit_binary(&name, "application/pdf", &bytes, last_updated);
            return;
        }
        self.emit(resource, at, encounter);
    }

    fn medication_request(&mut self, n: usize) {
        let (code, display) = *pick(&mut self.rng, &MEDS);
        let (at, encounter, practitioner) = self.when();
        let active = self.rng.gen_bool(0.4);
        let prescriber = self.practitioner_ref(practitioner);
        let mut resource = json!({
            "resourceType": catalog::medication_request(self.flavor),
            "id": self.id("med", n),
            "status": if active { "active" } else { "completed" },
            "medicationCodeableConcept": concept(RXNORM, code, display),
            "dosageInstruction": [{"text": "Take 1 tablet by mouth daily"}],
        });
        if self.external_references() && n.is_multiple_of(2) {
            if let Some(fields) = resource.as_object_mut() {
                fields.remove("medicationCodeableConcept");
            }
            resource["medicationReference"] = reference("Medication", &extras::medication_id(code));
        }
        if self.dstu2() {
            resource["dateWritten"] = json!(format_date_time(at));
            resource["prescriber"] = prescriber;
        } else {
            resource["intent"] = json!("order");
            resource["authoredOn"] = json!(format_date_time(at));
            resource["requester"] = prescriber;
        }
        self.emit(resource, at, encounter);
    }

    fn procedure(&mut self, n: usize) {
        const CODES: [(&str, &str); 6] = [
            ("73761001", "Colonoscopy"),
            ("80146002", "Appendectomy"),
            ("430193006", "Medication reconciliation"),
            ("171207006", "Depression screening"),
            ("76601001", "Intramuscular injection"),
            ("104091002", "Hemoglobin A1c measurement"),
        ];
        let (code, display) = *pick(&mut self.rng, &CODES);
        let (at, encounter, practitioner) = self.when();
        let mut resource = json!({
            "resourceType": "Procedure",
            "id": self.id("proc", n),
            "status": "completed",
            "code": concept(SNOMED, code, display),
            "performedDateTime": format_date_time(at),
            "performer": [{"actor": self.practitioner_ref(practitioner)}],
        });
        if self.external_references() {
            resource["reasonReference"] = json!([terminology_reference(code)]);
        }
        // Half of the uncategorized Conditions are the reason of a Procedure.
        if let Some(condition) = self.uncategorized.get(2 * n) {
            let reason = reference("Condition", condition);
            match resource["reasonReference"].as_array_mut() {
                Some(list) => list.push(reason),
                None => resource["reasonReference"] = json!([reason]),
            }
        }
        self.emit(resource, at, encounter);
    }

    fn immunization(&mut self, n: usize) {
        const VACCINES: [(&str, &str); 6] = [
            ("140", "Influenza, seasonal, injectable, preservative free"),
            (
                "208",
                "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, 30 mcg/0.3mL",
            ),
            ("115", "Tdap"),
            ("133", "Pneumococcal conjugate PCV 13"),
            ("43", "Hep B, adult"),
            ("62", "HPV, quadrivalent"),
        ];
        let (code, display) = *pick(&mut self.rng, &VACCINES);
        let (at, encounter, _) = self.when();
        let mut resource = json!({
            "resourceType": "Immunization",
            "id": self.id("imm", n),
            "status": "completed",
            "vaccineCode": concept(CVX, code, display),
            "location": reference("Location", "loc-1"),
        });
        if self.dstu2() {
            resource["date"] = json!(format_date_time(at));
            resource["wasNotGiven"] = json!(false);
            resource["reported"] = json!(false);
        } else {
            resource["occurrenceDateTime"] = json!(format_date_time(at));
            resource["primarySource"] = json!(true);
        }
        self.emit(resource, at, encounter);
    }

    fn allergy(&mut self, n: usize) {
        const ALLERGIES: [(&str, &str, &str); 5] = [
            ("91936005", "Allergy to penicillin", "medication"),
            ("300913006", "Shellfish allergy", "food"),
            ("91935009", "Allergy to peanuts", "food"),
            ("418689008", "Allergy to grass pollen", "environment"),
            ("232347008", "Dander (animal) allergy", "environment"),
        ];
        let (code, display, category) = *pick(&mut self.rng, &ALLERGIES);
        let at = random_time(&mut self.rng);
        let mut resource = json!({
            "resourceType": "AllergyIntolerance",
            "id": self.id("alg", n),
            "type": "allergy",
            "category": [category],
            "recordedDate": format_date_time(at),
        });
        if self.dstu2() {
            resource["status"] = json!("active");
            resource["criticality"] = json!("CRITL");
            resource["substance"] = concept(SNOMED, code, display);
            resource["category"] = json!(category);
        } else {
            resource["clinicalStatus"] = json!({"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                "code": "active"}]});
            resource["verificationStatus"] = json!({"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                "code": "confirmed"}]});
            resource["criticality"] = json!("low");
            resource["code"] = concept(SNOMED, code, display);
        }
        self.emit(resource, at, None);
    }

    /// A DocumentReference plus the Binary holding its PDF.
    fn document(&mut self, n: usize) {
        const TYPES: [(&str, &str); 3] = [
            ("11506-3", "Progress note"),
            ("18842-5", "Discharge summary"),
            ("34133-9", "Summary of episode note"),
        ];
        let (code, display) = *pick(&mut self.rng, &TYPES);
        let (at, encounter, practitioner) = self.when();
        let binary_id = self.id("bin", n);
        let date = format_date(at.date());
        let title = format!("{display} {date}");
        let bytes = pdf::one_page(&[
            "fhirdl sandbox EHR".to_owned(),
            title.clone(),
            format!("Patient: {}", self.display_name),
            format!("Date: {date}"),
            "This document was generated for testing and is not a medical record.".to_owned(),
        ]);
        let doc_id = self.id("doc", n);
        let style = self.quirks.attachment_style;
        let nextgen = style == AttachmentStyle::NextGenDocument;
        let ccda_id = self.id("ccd", n);
        let pdf_url = match style {
            AttachmentStyle::NextGenDocument => self.document_url(&format!("pdf-{doc_id}")),
            AttachmentStyle::RelativeBinary => format!("Binary/{binary_id}"),
            AttachmentStyle::Binary => format!("{}/Binary/{binary_id}", self.fhir_base),
        };
        let attachment = json!({
            "contentType": "application/pdf",
            "url": pdf_url,
            "title": title,
            "size": bytes.len(),
            "creation": format_date_time(at),
        });
        let mut content = vec![json!({"attachment": attachment})];
        // NextGen and Epic serve each document twice: PDF and C-CDA XML.
        let xml = (style != AttachmentStyle::Binary).then(|| {
            ccda::ccda(&ccda::CcdaDocument {
                id: &doc_id,
                loinc: code,
                title: &title,
                date: at.date(),
                patient_id: &self.patient_id,
                patient_name: &self.display_name,
            })
        });
        if let Some(xml) = &xml {
            content.push(json!({"attachment": {
                "contentType": "application/xml",
                "url": if nextgen {
                    self.document_url(&format!("xml-{doc_id}"))
                } else {
                    format!("Binary/{ccda_id}")
                },
                "title": title,
                "size": xml.len(),
                "creation": format_date_time(at),
            }}));
        }
        let mut resource = json!({
            "resourceType": "DocumentReference",
            "id": doc_id,
            "status": "current",
            "type": concept(LOINC, code, display),
            "author": [self.practitioner_ref(practitioner)],
            "custodian": reference("Organization", "org-1"),
            "content": content,
        });
        let encounter_ref = encounter.as_deref().map(|e| reference("Encounter", e));
        if self.dstu2() {
            resource["indexed"] = json!(format_instant(at));
            if let Some(e) = encounter_ref {
                resource["context"] = json!({"encounter": e});
            }
        } else {
            resource["date"] = json!(format_instant(at));
            resource["category"] = json!([{"coding": [coding(
                "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                "clinical-note", "Clinical Note")]}]);
            if let Some(e) = encounter_ref {
                resource["context"] = json!({"encounter": [e]});
            }
        }
        let last_updated = self.emit(resource, at, None);
        let ids = [binary_id.as_str(), ccda_id.as_str(), doc_id.as_str()];
        self.emit_document_binaries(ids, &bytes, xml.as_deref(), last_updated);
    }

    /// The Binaries behind a DocumentReference: its PDF and, for NextGen and Epic, its C-CDA
    /// (`ids`: PDF Binary, C-CDA Binary, DocumentReference).
    fn emit_document_binaries(
        &mut self,
        [binary_id, ccda_id, doc_id]: [&str; 3],
        bytes: &[u8],
        xml: Option<&str>,
        last_updated: OffsetDateTime,
    ) {
        let nextgen = self.quirks.attachment_style == AttachmentStyle::NextGenDocument;
        match xml {
            Some(xml) if !nextgen => {
                self.emit_binary(binary_id, "application/pdf", bytes, last_updated);
                self.emit_binary(ccda_id, "application/xml", xml.as_bytes(), last_updated);
            }
            Some(xml) => {
                self.emit_binary(
                    &format!("pdf-{doc_id}"),
                    "application/pdf",
                    bytes,
                    last_updated,
                );
                self.emit_binary(
                    &format!("xml-{doc_id}"),
                    "application/xml",
                    xml.as_bytes(),
                    last_updated,
                );
            }
            None => self.emit_binary(binary_id, "application/pdf", bytes, last_updated),
        }
    }
}

/// Vital signs measured: LOINC code, display, UCUM unit, and the range values are drawn from.
const VITALS: [(&str, &str, &str, f64, f64); 7] = [
    ("8867-4", "Heart rate", "/min", 55.0, 105.0),
    ("8310-5", "Body temperature", "Cel", 36.1, 37.9),
    ("29463-7", "Body weight", "kg", 50.0, 110.0),
    ("8302-2", "Body height", "cm", 150.0, 195.0),
    ("9279-1", "Respiratory rate", "/min", 12.0, 20.0),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 100.0, 160.0),
    (
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        "%",
        92.0,
        100.0,
    ),
];
/// Laboratory results, as [`VITALS`].
const LABS: [(&str, &str, &str, f64, f64); 7] = [
    (
        "2339-0",
        "Glucose [Mass/volume] in Blood",
        "mg/dL",
        70.0,
        180.0,
    ),
    (
        "2093-3",
        "Cholesterol [Mass/volume] in Serum or Plasma",
        "mg/dL",
        140.0,
        260.0,
    ),
    (
        "4548-4",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        "%",
        4.8,
        9.5,
    ),
    (
        "718-7",
        "Hemoglobin [Mass/volume] in Blood",
        "g/dL",
        11.0,
        17.5,
    ),
    (
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        "10*3/uL",
        3.5,
        11.0,
    ),
    (
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "mg/dL",
        0.6,
        1.4,
    ),
    (
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        3.4,
        5.3,
    ),
];
/// Tobacco smoking statuses (SNOMED CT).
const SMOKING: [(&str, &str); 3] = [
    ("266919005", "Never smoker"),
    ("8517006", "Ex-smoker"),
    ("449868002", "Smokes tobacco daily"),
];

const SYSTOLIC: &str = "8480-6";
const BP_PANEL: &str = "85354-9";

/// A component of the blood pressure panel, with its normal range.
fn bp_component(code: &str, display: &str, value: f64, (low, high): (&str, &str)) -> Value {
    json!({
        "code": concept(LOINC, code, display),
        "valueQuantity": {"value": value, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"},
        "referenceRange": [range_of(low, high, "mm[Hg]")],
    })
}

/// The adult reference range of a generated lab or vital sign (none for height and weight).
fn normal_range(code: &str, unit: &str) -> Option<Value> {
    let (low, high) = match code {
        "8867-4" => ("60", "100"),
        "8310-5" => ("36.1", "37.2"),
        "9279-1" => ("12", "20"),
        "59408-5" => ("95", "100"),
        "2339-0" => ("70", "99"),
        "2093-3" => ("125", "200"),
        "4548-4" => ("4.0", "5.6"),
        "718-7" => ("12.0", "17.5"),
        "6690-2" => ("4.5", "11.0"),
        "2160-0" => ("0.6", "1.3"),
        "2823-3" => ("3.5", "5.1"),
        _ => return None,
    };
    Some(range_of(low, high, unit))
}

/// `{"low": …, "high": …}` with the numbers written as given (`4.0` stays `4.0`).
fn range_of(low: &str, high: &str, unit: &str) -> Value {
    let number = |n: &str| serde_json::from_str::<Value>(n).unwrap_or(Value::Null);
    json!({
        "low": {"value": number(low), "unit": unit, "system": UCUM, "code": unit},
        "high": {"value": number(high), "unit": unit, "system": UCUM, "code": unit},
    })
}

/// A SNOMED CT concept URL used as a reference, as NextGen does (outside any FHIR base).
fn terminology_reference(code: &str) -> Value {
    json!({"reference": format!("{SNOMED}/{code}")})
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Record {
        users: Vec<SandboxUser>,
        resources: Vec<Generated>,
    }

    fn record(seed: u64, per_patient: usize) -> Record {
        let config = SandboxConfig {
            seed,
            resources_per_patient: per_patient,
            ..SandboxConfig::default()
        };
        let mut resources = Vec::new();
        let users = generate(&config, "http://127.0.0.1:1/fhir/r4", &mut |g| {
            resources.push(g)
        });
        Record { users, resources }
    }

    fn clinical_count(record: &Record, patient: &str) -> usize {
        record
            .resources
            .iter()
            .filter(|g| g.patient.as_deref() == Some(patient))
            .filter(|g| {
                !matches!(
                    g.resource["resourceType"].as_str(),
                    Some("Patient" | "Binary")
                )
            })
            .count()
    }

    #[test]
    fn same_seed_same_record() {
        let (a, b) = (record(7, 40), record(7, 40));
        let json = |r: &Record| {
            r.resources
                .iter()
                .map(|g| g.resource.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(json(&a), json(&b));
        assert_ne!(json(&a), json(&record(8, 40)));
    }

    #[test]
    fn exact_counts_with_observations_the_largest_share() {
        for n in [0, 1, 7, 120, 1000] {
            let r = record(42, n);
            for user in &r.users {
                assert_eq!(clinical_count(&r, &user.patient_id), n);
            }
        }
        let r = record(42, 120);
        let observations = r
            .resources
            .iter()
            .filter(|g| g.resource["resourceType"] == "Observation")
            .count();
        assert!(observations >= 120, "{observations}");
    }

    #[test]
    fn ids_are_valid_and_times_before_the_end() {
        let r = record(3, 300);
        for g in &r.resources {
            let id = g.resource["id"].as_str().unwrap();
            assert!(catalog::is_valid_id(id), "{id}");
            assert!(g.last_updated < RECORD_END);
        }
        assert_ne!(r.users[0].patient_id, r.users[1].patient_id);
        assert!(r.users[0].display_name.starts_with("Alice "));
    }
}
