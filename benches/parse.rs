//! `cargo bench --bench parse`: CPU per resource of keeping a search page's resources, the way
//! fhirdl does it (the Bundle's structure read with `RawValue`, each resource read
//! by one visitor pass for its type, id, meta and references, its text kept as sent and only
//! minified) against the way it did before (the page parsed into `serde_json::Value`, each
//! resource printed again, which rewrote `1.50` as `1.5` and re-sorted keys).
//!
//! Pages are generated here (200 Observation-like resources each, decimals, references, nested
//! codings), once minified as most servers send them and once indented. Single-threaded, in
//! process; prints µs per resource (best of 5 rounds).

use fhirdl::sync::bundle::parse_page;
use serde_json::{json, Value};
use std::time::Instant;

fn page(n: usize, start: usize) -> Value {
    let entries: Vec<Value> = (start..start + n)
        .map(|i| {
            json!({"fullUrl": format!("https://x/fhir/Observation/o{i}"), "resource": {
                "resourceType": "Observation", "id": format!("o{i}"),
                "meta": {"versionId": "3", "lastUpdated": "2026-01-02T03:04:05.678Z"},
                "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory", "display": "Laboratory"}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium [Moles/volume] in Serum or Plasma"}], "text": "Potassium"},
                "subject": {"reference": "Patient/p1", "display": "Wendell Lesch"},
                "encounter": {"reference": format!("Encounter/e{}", i % 50)},
                "effectiveDateTime": "2025-11-02T10:20:00+01:00",
                "issued": "2025-11-02T12:00:00.000+01:00",
                "performer": [{"reference": "Practitioner/pr1"}],
                "valueQuantity": {"value": 4.5, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
                "referenceRange": [{"low": {"value": 3.5, "unit": "mmol/L"}, "high": {"value": 5.1, "unit": "mmol/L"}}],
                "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "N"}]}]
            }, "search": {"mode": "match"}})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "total": 10_000, "entry": entries,
           "link": [{"relation": "next", "url": "https://x/fhir/Observation?_offset=200"}]})
}

/// Best µs per resource of `f` over 5 rounds of all `pages`.
fn best(pages: &[String], per_page: usize, mut f: impl FnMut(&str) -> usize) -> f64 {
    let mut best = f64::MAX;
    let mut sink = 0;
    for _ in 0..5 {
        let t = Instant::now();
        for p in pages {
            sink += f(p);
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / (pages.len() * per_page) as f64;
        best = best.min(us);
    }
    assert!(sink > 0);
    best
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("parse benchmark: run it with `cargo bench --bench parse`; skipped");
        return;
    }
    let per_page = 200;
    let url = url::Url::parse("https://x/fhir/Observation?patient=p1").unwrap();
    let values: Vec<Value> = (0..50).map(|k| page(per_page, k * per_page)).collect();
    for (label, pages) in [
        (
            "minified pages",
            values.iter().map(Value::to_string).collect::<Vec<_>>(),
        ),
        (
            "indented pages",
            values
                .iter()
                .map(|v| serde_json::to_string_pretty(v).unwrap())
                .collect(),
        ),
    ] {
        let before = best(&pages, per_page, |p| {
            let v: Value = serde_json::from_str(p).unwrap();
            v["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["resource"].to_string().len())
                .sum()
        });
        let now = best(&pages, per_page, |p| {
            parse_page(p.as_bytes(), &url)
                .unwrap()
                .resources
                .iter()
                .map(|r| r.line.len() + r.references.len())
                .sum()
        });
        println!(
            "{label:>15}: before (Value, printed again) {before:6.2} µs/resource; now (RawValue, one visitor pass, text kept) {now:6.2} µs/resource; {:.1}x",
            before / now
        );
    }
}
