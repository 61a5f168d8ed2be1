//! The all-parallel floor P: how long the fewest waves of requests take to fetch
//! what a sync searched, on the same sandbox at the same latency. A minimal client (no token
//! refresh, no retries, no window, no storing) asks for page 1 of every search at once, then
//! for every remaining page at once; references and documents are left out. `wall / P` is how
//! far fhirdl is from what the server allows.

use anyhow::{bail, ensure, Context, Result};
use fhirdl::sync::fanout;
use fhirdl_sandbox::Quirks;
use futures_util::future::join_all;
use serde_json::Value;
use std::path::Path;
use std::time::Instant;
use url::Url;

/// Resources per page fhirdl asks for (`_count`); the sandbox may serve fewer.
const COUNT: &str = "200";
/// Requests in flight at most. Every scenario with latency stays below it (the most is NextGen
/// large's second wave, 196 pages), so there the waves really go at once; the million-resource
/// export's 5,000 pages at once failed here to connect ("error sending request").
const MAX_IN_FLIGHT: usize = 256;

/// One search of the floor: a type, and the category it is narrowed to (NextGen).
#[derive(Clone, Debug)]
pub struct Query {
    pub resource_type: String,
    pub category: Option<(&'static str, &'static str)>,
}

/// The searches a sync made, from its `--json` report: every searched type (`pages` > 0),
/// category by category where the server demands it; the Patient is one read.
pub fn queries(report: &Value, quirks: &Quirks) -> Vec<Query> {
    let mut out = Vec::new();
    for t in report["types"].as_array().into_iter().flatten() {
        let ty = t["resource_type"].as_str().unwrap_or_default();
        // The Patient is read, not searched (see `measure`).
        if t["pages"].as_u64().unwrap_or(0) == 0 || ty == "Patient" {
            continue;
        }
        let demanded = quirks.categories_required.iter().any(|c| c == ty)
            || (quirks.careplan_category_required && ty == "CarePlan");
        match fanout::categories_for(ty).filter(|_| demanded) {
            Some((param, values)) => out.extend(values.iter().map(|v| Query {
                resource_type: ty.to_string(),
                category: Some((param, *v)),
            })),
            None => out.push(Query {
                resource_type: ty.to_string(),
                category: None,
            }),
        }
    }
    out
}

/// One measurement of the floor.
#[derive(Clone, Debug, Default)]
pub struct Floor {
    pub wall_s: f64,
    pub first_wave: usize,
    pub second_wave: usize,
    pub resources: u64,
}

/// The access token and patient the bench's profile signed in with (the file store).
pub fn credentials(data_dir: &Path, profile: &str) -> Result<(String, String)> {
    let path = data_dir.join("credentials").join(format!("{profile}.json"));
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let creds: Value = serde_json::from_slice(&text)?;
    let field = |name: &str| {
        creds[name]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("{} has no {name}", path.display()))
    };
    Ok((field("access_token")?, field("patient")?))
}

/// Measures the floor once: page 1 of every query (and the Patient read) at once, then every
/// remaining page at once, on a fresh client (fhirdl starts cold too). `since` narrows the
/// searches like an incremental sync (`_lastUpdated=ge…`).
pub async fn measure(
    base: &Url,
    token: &str,
    patient: &str,
    queries: &[Query],
    since: Option<&str>,
    ca_pem: Option<&str>,
) -> Result<Floor> {
    // Over HTTPS the sandbox's certificate is trusted, and ALPN picks HTTP/2 as for fhirdl.
    let mut builder = reqwest::Client::builder();
    if let Some(pem) = ca_pem {
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes())?);
    }
    let client = builder.build()?;
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let get = |url: Url| {
        let (client, slots) = (client.clone(), slots.clone());
        async move {
            let _slot = slots.acquire().await?;
            let resp = client
                .get(url.clone())
                .bearer_auth(token)
                .header("Accept", "application/fhir+json")
                .send()
                .await?;
            ensure!(resp.status().is_success(), "{url}: HTTP {}", resp.status());
            let body: Value = serde_json::from_slice(&resp.bytes().await?)?;
            Ok::<Value, anyhow::Error>(body)
        }
    };
    let started = Instant::now();
    let under = |path: &str| Url::parse(&format!("{}/{path}", base.as_str().trim_end_matches('/')));
    let mut first_urls = vec![under(&format!("Patient/{patient}"))?];
    for q in queries {
        let mut url = under(&q.resource_type)?;
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("patient", patient);
            pairs.append_pair("_count", COUNT);
            if let Some((param, value)) = q.category {
                pairs.append_pair(param, value);
            }
            if let Some(since) = since {
                pairs.append_pair("_lastUpdated", &format!("ge{since}"));
            }
        }
        first_urls.push(url);
    }
    let first_wave = first_urls.len();
    let firsts = join_all(first_urls.into_iter().map(&get)).await;
    let mut resources = 0;
    let mut rest = Vec::new();
    for (i, page) in firsts.into_iter().enumerate() {
        let page = page?;
        if i == 0 {
            resources += 1;
            continue;
        }
        let entries = entries(&page);
        resources += entries;
        rest.extend(remaining_pages(&page, entries)?);
    }
    let second_wave = rest.len();
    for page in join_all(rest.into_iter().map(&get)).await {
        resources += entries(&page?);
    }
    Ok(Floor {
        wall_s: started.elapsed().as_secs_f64(),
        first_wave,
        second_wave,
        resources,
    })
}

fn entries(bundle: &Value) -> u64 {
    bundle["entry"].as_array().map_or(0, |e| e.len() as u64)
}

/// Pages 2… of a search, from its first page: `Bundle.total`, the page's length and its `next`
/// link, whose one counting parameter (`_offset=N` or `page=N`) is set for each page.
fn remaining_pages(first: &Value, page_len: u64) -> Result<Vec<Url>> {
    let next = first["link"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["relation"] == "next")
        .and_then(|l| l["url"].as_str());
    let Some(next) = next else {
        return Ok(Vec::new());
    };
    let total = first["total"]
        .as_u64()
        .context("a search with a next link but no Bundle.total")?;
    ensure!(page_len > 0, "a first page with a next link but no entries");
    let next = Url::parse(next)?;
    let Some((param, _)) = next
        .query_pairs()
        .find(|(k, _)| k.contains("offset") || k == "page")
    else {
        bail!("{next}: no offset or page parameter to count pages with");
    };
    let param = param.into_owned();
    let pages = total.div_ceil(page_len);
    Ok((1..pages)
        .map(|k| {
            let value = if param == "page" { k + 1 } else { k * page_len };
            let mut url = next.clone();
            let pairs: Vec<(String, String)> = next
                .query_pairs()
                .map(|(n, v)| {
                    let v = if n == param.as_str() {
                        value.to_string()
                    } else {
                        v.into_owned()
                    };
                    (n.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
            url
        })
        .collect())
}

/// Checks the page arithmetic (a bench has no test harness: `main` runs this when `cargo test
/// --all-targets` starts the bench without `--bench`).
pub fn self_check() -> Result<()> {
    let first = serde_json::json!({"total": 450, "link": [{"relation": "next",
        "url": "http://h/fhir/Observation?patient=p&_count=200&_offset=200"}]});
    let urls: Vec<String> = remaining_pages(&first, 200)?
        .iter()
        .map(Url::to_string)
        .collect();
    ensure!(
        urls == [
            "http://h/fhir/Observation?patient=p&_count=200&_offset=200",
            "http://h/fhir/Observation?patient=p&_count=200&_offset=400"
        ],
        "offset pages: {urls:?}"
    );
    let first = serde_json::json!({"total": 60, "link": [{"relation": "next",
        "url": "http://h/fhir/R4/Condition?patient=p&page=2"}]});
    let urls = remaining_pages(&first, 25)?;
    ensure!(
        urls.len() == 2 && urls[1].as_str().ends_with("page=3"),
        "page-number pages: {urls:?}"
    );
    Ok(())
}
