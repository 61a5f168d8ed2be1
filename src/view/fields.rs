//! The few FHIR elements the page shows, read from one NDJSON line with minimal parsing.
//!
//! [`Resource`] borrows the raw JSON text of each element it names and skips the rest; each
//! element is then read by a function that knows its shapes in R4 and DSTU2 (a `clinicalStatus`
//! that is a CodeableConcept in R4 and a code in DSTU2, a `category` that is a list or one
//! concept). Numbers are kept as their JSON text, so `1.50` is shown as `1.50`.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

type Raw<'a> = Option<&'a RawValue>;

/// The elements of any resource type the page may show (all optional; unknown ones skipped).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource<'a> {
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub meta: Raw<'a>,
    #[serde(borrow)]
    pub status: Raw<'a>,
    #[serde(borrow)]
    pub clinical_status: Raw<'a>,
    #[serde(borrow)]
    pub lifecycle_status: Raw<'a>,
    #[serde(borrow)]
    pub category: Raw<'a>,
    #[serde(borrow)]
    pub code: Raw<'a>,
    #[serde(borrow, rename = "type")]
    pub type_: Raw<'a>,
    #[serde(borrow)]
    pub class: Raw<'a>,
    #[serde(borrow)]
    pub name: Raw<'a>,
    #[serde(borrow)]
    pub title: Raw<'a>,
    #[serde(borrow)]
    pub description: Raw<'a>,
    // Dates, by the element names of the types shown.
    #[serde(borrow)]
    pub onset_date_time: Raw<'a>,
    #[serde(borrow)]
    pub onset_period: Raw<'a>,
    #[serde(borrow)]
    pub onset_string: Raw<'a>,
    #[serde(borrow)]
    pub abatement_date_time: Raw<'a>,
    #[serde(borrow)]
    pub abatement_period: Raw<'a>,
    #[serde(borrow)]
    pub abatement_string: Raw<'a>,
    #[serde(borrow)]
    pub recorded_date: Raw<'a>,
    #[serde(borrow)]
    pub date_recorded: Raw<'a>,
    #[serde(borrow)]
    pub asserted_date: Raw<'a>,
    #[serde(borrow)]
    pub effective_date_time: Raw<'a>,
    #[serde(borrow)]
    pub effective_period: Raw<'a>,
    #[serde(borrow)]
    pub effective_instant: Raw<'a>,
    #[serde(borrow)]
    pub issued: Raw<'a>,
    #[serde(borrow)]
    pub authored_on: Raw<'a>,
    #[serde(borrow)]
    pub date_written: Raw<'a>,
    #[serde(borrow)]
    pub date_asserted: Raw<'a>,
    #[serde(borrow)]
    pub occurrence_date_time: Raw<'a>,
    #[serde(borrow)]
    pub occurrence_string: Raw<'a>,
    #[serde(borrow)]
    pub performed_date_time: Raw<'a>,
    #[serde(borrow)]
    pub performed_period: Raw<'a>,
    #[serde(borrow)]
    pub date: Raw<'a>,
    #[serde(borrow)]
    pub indexed: Raw<'a>,
    #[serde(borrow)]
    pub created: Raw<'a>,
    #[serde(borrow)]
    pub period: Raw<'a>,
    #[serde(borrow)]
    pub start_date: Raw<'a>,
    #[serde(borrow)]
    pub birth_date: Raw<'a>,
    // Values.
    #[serde(borrow)]
    pub value_quantity: Raw<'a>,
    #[serde(borrow)]
    pub value_codeable_concept: Raw<'a>,
    #[serde(borrow)]
    pub value_string: Raw<'a>,
    #[serde(borrow)]
    pub value_boolean: Raw<'a>,
    #[serde(borrow)]
    pub value_integer: Raw<'a>,
    #[serde(borrow)]
    pub value_date_time: Raw<'a>,
    #[serde(borrow)]
    pub value_range: Raw<'a>,
    #[serde(borrow)]
    pub component: Raw<'a>,
    #[serde(borrow)]
    pub reference_range: Raw<'a>,
    #[serde(borrow)]
    pub interpretation: Raw<'a>,
    // Medications, immunizations, allergies.
    #[serde(borrow)]
    pub medication_codeable_concept: Raw<'a>,
    #[serde(borrow)]
    pub medication_reference: Raw<'a>,
    #[serde(borrow)]
    pub dosage_instruction: Raw<'a>,
    #[serde(borrow)]
    pub dosage: Raw<'a>,
    #[serde(borrow)]
    pub requester: Raw<'a>,
    #[serde(borrow)]
    pub prescriber: Raw<'a>,
    #[serde(borrow)]
    pub vaccine_code: Raw<'a>,
    #[serde(borrow)]
    pub lot_number: Raw<'a>,
    #[serde(borrow)]
    pub substance: Raw<'a>,
    #[serde(borrow)]
    pub criticality: Raw<'a>,
    #[serde(borrow)]
    pub reaction: Raw<'a>,
    // Encounters, reports, documents, people.
    #[serde(borrow)]
    pub reason_code: Raw<'a>,
    #[serde(borrow)]
    pub service_provider: Raw<'a>,
    #[serde(borrow)]
    pub location: Raw<'a>,
    #[serde(borrow)]
    pub performer: Raw<'a>,
    #[serde(borrow)]
    pub author: Raw<'a>,
    #[serde(borrow)]
    pub result: Raw<'a>,
    #[serde(borrow)]
    pub conclusion: Raw<'a>,
    #[serde(borrow)]
    pub presented_form: Raw<'a>,
    #[serde(borrow)]
    pub content: Raw<'a>,
    #[serde(borrow)]
    pub target: Raw<'a>,
    #[serde(borrow)]
    pub gender: Raw<'a>,
    #[serde(borrow)]
    pub identifier: Raw<'a>,
    #[serde(borrow)]
    pub managing_organization: Raw<'a>,
}

impl<'a> Resource<'a> {
    pub fn parse(line: &'a str) -> Option<Resource<'a>> {
        serde_json::from_str(line).ok()
    }

    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    /// `meta.lastUpdated`.
    pub fn last_updated(&self) -> Option<String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Meta<'b> {
            #[serde(borrow)]
            last_updated: Option<Cow<'b, str>>,
        }
        let meta: Meta<'_> = parse(self.meta?)?;
        meta.last_updated.map(Cow::into_owned)
    }
}

fn parse<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Option<T> {
    serde_json::from_str(raw.get()).ok()
}

#[derive(Debug, Default, Deserialize)]
pub struct Coding<'a> {
    #[serde(borrow, default)]
    pub system: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub display: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Concept<'a> {
    #[serde(borrow, default)]
    pub coding: Vec<Coding<'a>>,
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
}

impl Concept<'_> {
    fn label(&self) -> Option<String> {
        let shown = |s: &Option<Cow<'_, str>>| {
            s.as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(str::to_owned)
        };
        shown(&self.text)
            .or_else(|| self.coding.iter().find_map(|c| shown(&c.display)))
            .or_else(|| self.coding.iter().find_map(|c| shown(&c.code)))
    }
}

/// A string element (`"active"`), or the text of a number or boolean as written.
pub fn string(raw: Raw<'_>) -> Option<String> {
    let raw = raw?;
    match parse::<Cow<'_, str>>(raw) {
        Some(s) => Some(s.into_owned()),
        None => {
            let t = raw.get();
            (t.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
                || t == "true"
                || t == "false")
                .then(|| t.to_owned())
        }
    }
}

/// The label of a CodeableConcept (text, else a display, else a code), of a Coding, of a code
/// string, or of the first of a list of them.
pub fn concept(raw: Raw<'_>) -> Option<String> {
    concepts(raw).into_iter().next()
}

/// The labels of a concept or list of concepts (or codings, or code strings).
pub fn concepts(raw: Raw<'_>) -> Vec<String> {
    let Some(raw) = raw else { return Vec::new() };
    if let Some(list) = parse::<Vec<&RawValue>>(raw) {
        return list.into_iter().filter_map(|r| concept(Some(r))).collect();
    }
    if let Some(c) = parse::<Concept<'_>>(raw).filter(|c| c.text.is_some() || !c.coding.is_empty())
    {
        return c.label().into_iter().collect();
    }
    if let Some(c) = parse::<Coding<'_>>(raw) {
        if let Some(l) = c.display.or(c.code) {
            return vec![l.into_owned()];
        }
    }
    string(Some(raw)).into_iter().collect()
}

/// Every `(system, code)` of a concept, list of concepts, coding, or code string (system "").
pub fn codes(raw: Raw<'_>) -> Vec<(String, String)> {
    let Some(raw) = raw else { return Vec::new() };
    if let Some(list) = parse::<Vec<&RawValue>>(raw) {
        return list.into_iter().flat_map(|r| codes(Some(r))).collect();
    }
    if let Some(c) = parse::<Concept<'_>>(raw).filter(|c| !c.coding.is_empty()) {
        return c
            .coding
            .into_iter()
            .filter_map(|c| {
                Some((
                    c.system.unwrap_or_default().into_owned(),
                    c.code?.into_owned(),
                ))
            })
            .collect();
    }
    if let Some(Coding {
        system,
        code: Some(code),
        ..
    }) = parse::<Coding<'_>>(raw)
    {
        return vec![(system.unwrap_or_default().into_owned(), code.into_owned())];
    }
    string(Some(raw))
        .map(|s| vec![(String::new(), s)])
        .unwrap_or_default()
}

/// The code of a status that is a code (DSTU2, `status`) or a CodeableConcept (R4
/// `clinicalStatus`): its first code, else its label.
pub fn status(raw: Raw<'_>) -> Option<String> {
    codes(raw)
        .into_iter()
        .next()
        .map(|(_, c)| c)
        .or_else(|| concept(raw))
}

/// A date, dateTime or instant; a Period's start; the text of an `onsetString`.
pub fn date(raw: Raw<'_>) -> Option<String> {
    #[derive(Deserialize)]
    struct Period<'b> {
        #[serde(borrow, default)]
        start: Option<Cow<'b, str>>,
        #[serde(borrow, default)]
        end: Option<Cow<'b, str>>,
    }
    let raw = raw?;
    if let Some(s) = parse::<Cow<'_, str>>(raw) {
        return Some(s.into_owned());
    }
    let p = parse::<Period<'_>>(raw)?;
    p.start.or(p.end).map(Cow::into_owned)
}

/// A Period's end.
pub fn period_end(raw: Raw<'_>) -> Option<String> {
    #[derive(Deserialize)]
    struct Period<'b> {
        #[serde(borrow, default)]
        end: Option<Cow<'b, str>>,
    }
    parse::<Period<'_>>(raw?)?.end.map(Cow::into_owned)
}

/// The first of these that holds a date.
pub fn first_date(candidates: &[Raw<'_>]) -> Option<String> {
    candidates.iter().find_map(|r| date(*r))
}

/// A Quantity, its number as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    /// The JSON text of `value` (`1.50` stays `1.50`).
    pub value: String,
    pub comparator: Option<String>,
    pub unit: Option<String>,
}

impl Quantity {
    pub fn number(&self) -> Option<f64> {
        self.value.parse::<f64>().ok().filter(|v| v.is_finite())
    }

    /// `< 5 mg/dL`
    pub fn text(&self) -> String {
        let mut s = String::new();
        if let Some(c) = &self.comparator {
            s.push_str(c);
            s.push(' ');
        }
        s.push_str(&self.value);
        s
    }
}

#[derive(Deserialize)]
struct RawQuantity<'a> {
    #[serde(borrow, default)]
    value: Raw<'a>,
    #[serde(borrow, default)]
    comparator: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    unit: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    code: Option<Cow<'a, str>>,
}

pub fn quantity(raw: Raw<'_>) -> Option<Quantity> {
    let q: RawQuantity<'_> = parse(raw?)?;
    let value = q.value?.get();
    // Only a JSON number is a quantity's value; anything else is not shown as one.
    if !value.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
        return None;
    }
    Some(Quantity {
        value: value.to_owned(),
        comparator: q.comparator.map(Cow::into_owned),
        // Shown as people write it (°C, mmHg, 10³/µL); the stored data keeps its code.
        unit: q.unit.or(q.code).map(|u| super::units::shown(&u)),
    })
}

/// An Observation's `referenceRange[0]`: low, high (as written) and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Range {
    pub low: Option<Quantity>,
    pub high: Option<Quantity>,
    pub text: Option<String>,
}

impl Range {
    pub fn label(&self) -> Option<String> {
        match (&self.low, &self.high) {
            (Some(l), Some(h)) => Some(format!("{}–{}", l.value, h.value)),
            (Some(l), None) => Some(format!("≥ {}", l.value)),
            (None, Some(h)) => Some(format!("≤ {}", h.value)),
            (None, None) => self.text.clone(),
        }
    }
}

pub fn reference_range(raw: Raw<'_>) -> Option<Range> {
    #[derive(Deserialize)]
    struct RawRange<'b> {
        #[serde(borrow, default)]
        low: Raw<'b>,
        #[serde(borrow, default)]
        high: Raw<'b>,
        #[serde(borrow, default)]
        text: Option<Cow<'b, str>>,
    }
    let list: Vec<RawRange<'_>> = parse(raw?)?;
    let first = list.into_iter().next()?;
    let range = Range {
        low: quantity(first.low),
        high: quantity(first.high),
        text: first.text.map(Cow::into_owned),
    };
    (range.low.is_some() || range.high.is_some() || range.text.is_some()).then_some(range)
}

/// One `component` of an Observation: its codes and its quantity.
pub struct Component {
    pub codes: Vec<(String, String)>,
    pub label: Option<String>,
    pub quantity: Option<Quantity>,
}

pub fn components(raw: Raw<'_>) -> Vec<Component> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RawComponent<'b> {
        #[serde(borrow, default)]
        code: Raw<'b>,
        #[serde(borrow, default)]
        value_quantity: Raw<'b>,
    }
    let Some(list) = raw.and_then(parse::<Vec<RawComponent<'_>>>) else {
        return Vec::new();
    };
    list.into_iter()
        .map(|c| Component {
            codes: codes(c.code),
            label: concept(c.code),
            quantity: quantity(c.value_quantity),
        })
        .collect()
}

/// A Reference: `(reference, display)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ref {
    pub reference: Option<String>,
    pub display: Option<String>,
}

impl Ref {
    /// `Type/id` of a relative or absolute literal reference.
    pub fn key(&self) -> Option<String> {
        let r = self.reference.as_deref()?;
        let r = r.split(['?', '#']).next()?;
        let mut parts = r.rsplit('/');
        let id = parts.next()?;
        let mut ty = parts.next()?;
        if ty == "_history" {
            // Type/id/_history/version
            let real_id = parts.next()?;
            ty = parts.next()?;
            return Some(format!("{ty}/{real_id}"));
        }
        Some(format!("{ty}/{id}"))
    }
}

/// A Reference, or the references of a list of them (or of `{ "actor": Reference }`,
/// `{ "individual": … }`, `{ "location": … }` wrappers, as in Procedure.performer).
pub fn references(raw: Raw<'_>) -> Vec<Ref> {
    #[derive(Deserialize)]
    struct RawRef<'b> {
        #[serde(borrow, default)]
        reference: Option<Cow<'b, str>>,
        #[serde(borrow, default)]
        display: Option<Cow<'b, str>>,
        #[serde(borrow, default)]
        actor: Raw<'b>,
        #[serde(borrow, default)]
        individual: Raw<'b>,
        #[serde(borrow, default)]
        location: Raw<'b>,
    }
    let Some(raw) = raw else { return Vec::new() };
    if let Some(list) = parse::<Vec<&RawValue>>(raw) {
        return list.into_iter().flat_map(|r| references(Some(r))).collect();
    }
    let Some(r) = parse::<RawRef<'_>>(raw) else {
        return Vec::new();
    };
    if r.reference.is_none() && r.display.is_none() {
        let inner = r.actor.or(r.individual).or(r.location);
        return inner.map(|i| references(Some(i))).unwrap_or_default();
    }
    vec![Ref {
        reference: r.reference.map(Cow::into_owned),
        display: r.display.map(Cow::into_owned),
    }]
}

/// A person's name: `text`, else prefix given family, of the first (official) HumanName; a
/// plain string (Organization.name) as it is.
pub fn human_name(raw: Raw<'_>) -> Option<String> {
    #[derive(Deserialize)]
    struct Name<'b> {
        #[serde(borrow, default, rename = "use")]
        use_: Option<Cow<'b, str>>,
        #[serde(borrow, default)]
        text: Option<Cow<'b, str>>,
        #[serde(borrow, default)]
        family: Raw<'b>,
        #[serde(borrow, default)]
        given: Option<Vec<Cow<'b, str>>>,
        #[serde(borrow, default)]
        prefix: Option<Vec<Cow<'b, str>>>,
    }
    let raw = raw?;
    if let Some(s) = parse::<Cow<'_, str>>(raw) {
        return Some(s.into_owned());
    }
    let names: Vec<Name<'_>> = parse(raw).or_else(|| parse::<Name<'_>>(raw).map(|n| vec![n]))?;
    let name = names
        .iter()
        .find(|n| n.use_.as_deref() == Some("official"))
        .or_else(|| names.first())?;
    if let Some(t) = name.text.as_deref().filter(|t| !t.trim().is_empty()) {
        return Some(t.to_owned());
    }
    // DSTU2's family is a list of strings.
    let family = string(name.family).or_else(|| {
        name.family
            .and_then(parse::<Vec<Cow<'_, str>>>)
            .map(|f| f.join(" "))
    });
    let words: Vec<String> = name
        .prefix
        .iter()
        .flatten()
        .chain(name.given.iter().flatten())
        .map(|s| s.to_string())
        .chain(family)
        .filter(|s| !s.is_empty())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// `system: value` of each Identifier (the value alone when there is no system).
pub fn identifiers(raw: Raw<'_>) -> Vec<String> {
    #[derive(Deserialize)]
    struct Identifier<'b> {
        #[serde(borrow, default)]
        system: Option<Cow<'b, str>>,
        #[serde(borrow, default)]
        value: Option<Cow<'b, str>>,
        #[serde(borrow, default, rename = "type")]
        type_: Raw<'b>,
    }
    let Some(list) = raw.and_then(parse::<Vec<Identifier<'_>>>) else {
        return Vec::new();
    };
    list.into_iter()
        .filter_map(|i| {
            let value = i.value?;
            let label = concept(i.type_).or(i.system.map(Cow::into_owned));
            Some(match label {
                Some(l) => format!("{l}: {value}"),
                None => value.into_owned(),
            })
        })
        .collect()
}

/// One Attachment (`content[].attachment` of a DocumentReference, `presentedForm[]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attachment {
    pub content_type: Option<String>,
    pub title: Option<String>,
    pub url: Option<String>,
    /// base64 `data`, when inline.
    pub data: Option<String>,
}

pub fn attachments(raw: Raw<'_>) -> Vec<Attachment> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RawAttachment<'b> {
        #[serde(borrow, default)]
        content_type: Option<Cow<'b, str>>,
        #[serde(borrow, default)]
        title: Option<Cow<'b, str>>,
        #[serde(borrow, default)]
        url: Option<Cow<'b, str>>,
        #[serde(borrow, default)]
        data: Option<Cow<'b, str>>,
        #[serde(borrow, default)]
        attachment: Raw<'b>,
    }
    let Some(list) = raw.and_then(parse::<Vec<RawAttachment<'_>>>) else {
        return Vec::new();
    };
    list.into_iter()
        .map(|a| match a.attachment {
            // DocumentReference.content[] wraps it.
            Some(inner) => attachments(serde_json::from_str(&format!("[{}]", inner.get())).ok())
                .into_iter()
                .next()
                .unwrap_or_default(),
            None => Attachment {
                content_type: a.content_type.map(Cow::into_owned),
                title: a.title.map(Cow::into_owned),
                url: a.url.map(Cow::into_owned),
                data: a.data.map(Cow::into_owned),
            },
        })
        .collect()
}

/// `dosageInstruction[].text` (or `dosage[].text`), joined.
pub fn dosage_text(raw: Raw<'_>) -> Option<String> {
    #[derive(Deserialize)]
    struct Dosage<'b> {
        #[serde(borrow, default)]
        text: Option<Cow<'b, str>>,
    }
    let list: Vec<Dosage<'_>> = parse(raw?)?;
    let texts: Vec<String> = list
        .into_iter()
        .filter_map(|d| d.text.map(Cow::into_owned))
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

/// The manifestations of AllergyIntolerance.reaction[], joined.
pub fn reactions(raw: Raw<'_>) -> Option<String> {
    #[derive(Deserialize)]
    struct Reaction<'b> {
        #[serde(borrow, default)]
        manifestation: Raw<'b>,
    }
    let list: Vec<Reaction<'_>> = parse(raw?)?;
    let all: Vec<String> = list
        .into_iter()
        .flat_map(|r| concepts(r.manifestation))
        .collect();
    (!all.is_empty()).then(|| all.join(", "))
}

/// Goal.target[].dueDate, first.
pub fn due_date(raw: Raw<'_>) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Target<'b> {
        #[serde(borrow, default)]
        due_date: Option<Cow<'b, str>>,
    }
    let list: Vec<Target<'_>> = parse(raw?)?;
    list.into_iter()
        .find_map(|t| t.due_date.map(Cow::into_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text_and_shapes_vary_by_release() {
        let line = r#"{"resourceType":"Observation","id":"o","valueQuantity":{"value":1.50,"unit":"mmol/L"},
            "referenceRange":[{"low":{"value":0.50},"high":{"value":2.0E1}}],
            "category":[{"coding":[{"code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]}}"#;
        let r = Resource::parse(line).unwrap();
        let q = quantity(r.value_quantity).unwrap();
        assert_eq!(
            (q.value.as_str(), q.unit.as_deref()),
            ("1.50", Some("mmol/L"))
        );
        assert_eq!(q.number(), Some(1.5));
        let range = reference_range(r.reference_range).unwrap();
        assert_eq!(range.label().unwrap(), "0.50–2.0E1");
        assert_eq!(
            codes(r.category),
            [(String::new(), "laboratory".to_string())]
        );
        assert_eq!(concept(r.code).unwrap(), "Potassium");
        // DSTU2: a status code, a single category concept, a family list.
        let dstu2 = r#"{"clinicalStatus":"active","category":{"coding":[{"code":"vital-signs"}]},
            "name":{"family":["van","Dam"],"given":["Eva"]}}"#;
        let r = Resource::parse(dstu2).unwrap();
        assert_eq!(status(r.clinical_status).unwrap(), "active");
        assert_eq!(codes(r.category)[0].1, "vital-signs");
        assert_eq!(human_name(r.name).unwrap(), "Eva van Dam");
        let r4 = r#"{"clinicalStatus":{"coding":[{"code":"resolved"}]},"name":[{"use":"old","text":"X"},{"use":"official","given":["Ann"],"family":"Lee","prefix":["Dr."]}]}"#;
        let r = Resource::parse(r4).unwrap();
        assert_eq!(status(r.clinical_status).unwrap(), "resolved");
        assert_eq!(human_name(r.name).unwrap(), "Dr. Ann Lee");
        // A string where a number belongs is no quantity.
        assert_eq!(
            quantity(serde_json::from_str(r#"{"value":"12"}"#).ok()),
            None
        );
    }

    #[test]
    fn references_dates_and_attachments() {
        let r = Resource::parse(
            r#"{"performer":[{"actor":{"reference":"Practitioner/p1"}}],"effectivePeriod":{"start":"2020-01-02"},
                "content":[{"attachment":{"contentType":"text/plain","data":"aGk=","title":"Note"}}],
                "requester":{"reference":"https://x/fhir/Practitioner/p2/_history/3","display":"Dr. B"}}"#,
        )
        .unwrap();
        let p = references(r.performer);
        assert_eq!(p[0].key().unwrap(), "Practitioner/p1");
        let q = references(r.requester);
        assert_eq!(
            (q[0].key().unwrap().as_str(), q[0].display.as_deref()),
            ("Practitioner/p2", Some("Dr. B"))
        );
        assert_eq!(
            first_date(&[r.effective_date_time, r.effective_period]).unwrap(),
            "2020-01-02"
        );
        let a = attachments(r.content);
        assert_eq!(
            (a[0].content_type.as_deref(), a[0].data.as_deref()),
            (Some("text/plain"), Some("aGk="))
        );
    }
}
