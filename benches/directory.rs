//! `cargo bench --bench directory [-- --organizations N] [--endpoints N]`: how long
//! `fhirdl directory update` takes, and how much memory it needs, on a directory the size of
//! Epic's (about 90,000 organizations and 800 endpoints; the targets: 100,000 organizations
//! indexed in 30 s or less within 150 MiB), and how fast `find` answers (target: a median of
//! 50 ms or less over 20 distinct queries, the index warm).
//!
//! A SMART 2.2 Brands Bundle is generated here into a file (brands with the portal extension,
//! each pointing at one of the endpoints; facilities `partOf` a brand, with a city and state),
//! served from this process on 127.0.0.1, and read by the real binary (`directory update
//! --source URL`). Its peak RSS is the high-water mark of its own address space (`VmHWM` of
//! /proc/<pid>/status, read until it exits: wait4's ru_maxrss would count this process's
//! memory, which holds the document). Then 20 queries, misspelt and in another word order,
//! are answered in process through the same search `find` uses (median of the 20, after one
//! warm-up round) and by the binary (wall time of each `fhirdl find`, median).

use anyhow::{ensure, Context, Result};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fhirdl");
const FIRST: &[&str] = &[
    "Sunrise",
    "Lakeside",
    "Maple",
    "Harbor",
    "Riverside",
    "Oak",
    "Pine",
    "Cedar",
    "Summit",
    "Valley",
    "Prairie",
    "Granite",
    "Willow",
    "Meadow",
    "Coastal",
    "Northern",
];
const SECOND: &[&str] = &[
    "Family",
    "Pediatric",
    "Heart",
    "Women's",
    "Orthopedic",
    "Internal",
    "Eye",
    "Skin",
    "Cancer",
    "Kidney",
    "Sports",
    "Senior",
];
const THIRD: &[&str] = &[
    "Medicine",
    "Clinic",
    "Care",
    "Associates",
    "Center",
    "Health",
    "Specialists",
    "Partners",
];
const CITIES: &[(&str, &str)] = &[
    ("Springfield", "IL"),
    ("Madison", "WI"),
    ("Albany", "NY"),
    ("Portland", "ME"),
    ("Austin", "TX"),
    ("Denver", "CO"),
    ("Tulsa", "OK"),
    ("Boise", "ID"),
    ("Salem", "OR"),
    ("Dover", "DE"),
];

fn name(i: usize) -> String {
    let (a, b, c) = (
        i % FIRST.len(),
        (i / FIRST.len()) % SECOND.len(),
        (i / (FIRST.len() * SECOND.len())) % THIRD.len(),
    );
    format!("{} {} {} {}", FIRST[a], SECOND[b], THIRD[c], i)
}

/// Writes the Bundle: `endpoints` endpoints, brands (one per 90 organizations, each on one
/// endpoint) and facilities up to `organizations`.
fn generate(path: &Path, organizations: usize, endpoints: usize) -> Result<u64> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    write!(
        w,
        r#"{{"resourceType":"Bundle","id":"bench","type":"collection","entry":["#
    )?;
    let brands = (organizations / 90).max(1);
    for e in 0..endpoints {
        write!(
            w,
            r#"{{"fullUrl":"https://directory.bench.net/Endpoint/e{e}","resource":{{"resourceType":"Endpoint","id":"e{e}","extension":[{{"url":"http://hl7.org/fhir/StructureDefinition/endpoint-fhir-version","valueCode":"4.0.1"}}],"status":"active","connectionType":{{"system":"http://terminology.hl7.org/CodeSystem/endpoint-connection-type","code":"hl7-fhir-rest"}},"name":"Endpoint {e}","payloadType":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/endpoint-payload-type","code":"none"}}]}}],"address":"https://fhir{e}.bench.net/api/FHIR/R4/"}}}},"#
        )?;
    }
    for i in 0..organizations {
        let (city, state) = CITIES[i % CITIES.len()];
        let sep = if i + 1 == organizations { "" } else { "," };
        if i < brands {
            let e = i % endpoints;
            write!(
                w,
                r#"{{"fullUrl":"https://directory.bench.net/Organization/o{i}","resource":{{"resourceType":"Organization","id":"o{i}","extension":[{{"url":"http://hl7.org/fhir/StructureDefinition/organization-brand","extension":[{{"url":"brandLogo","valueUrl":"https://b{i}.bench.net/logo.svg"}}]}},{{"url":"http://hl7.org/fhir/StructureDefinition/organization-portal","extension":[{{"url":"portalName","valueString":"MyChart {i}"}},{{"url":"portalUrl","valueUrl":"https://b{i}.bench.net/mychart"}},{{"url":"portalEndpoint","valueReference":{{"reference":"Endpoint/e{e}"}}}}]}}],"active":true,"name":"{}","identifier":[{{"system":"urn:ietf:rfc:3986","value":"https://b{i}.bench.net"}}],"telecom":[{{"system":"url","value":"https://b{i}.bench.net"}}],"address":[{{"line":["{} Main St"],"city":"{city}","state":"{state}","postalCode":"{:05}"}}],"endpoint":[{{"reference":"Endpoint/e{e}"}}]}}}}{sep}"#,
                name(i),
                i % 999 + 1,
                10000 + i % 89999
            )?;
        } else {
            let brand = i % brands;
            write!(
                w,
                r#"{{"fullUrl":"https://directory.bench.net/Organization/o{i}","resource":{{"resourceType":"Organization","id":"o{i}","active":true,"name":"{}","identifier":[{{"system":"urn:ietf:rfc:3986","value":"https://b{brand}.bench.net/f{i}"}}],"address":[{{"line":["{} Main St"],"city":"{city}","state":"{state}","postalCode":"{:05}"}}],"partOf":{{"reference":"Organization/o{brand}"}}}}}}{sep}"#,
                name(i),
                i % 999 + 1,
                10000 + i % 89999
            )?;
        }
    }
    write!(w, "]}}")?;
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Serves `body` at `/brands.json` on a free loopback port; returns the URL.
fn serve(rt: &tokio::runtime::Runtime, body: Vec<u8>) -> Result<String> {
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}/brands.json", listener.local_addr()?);
    let body = axum::body::Bytes::from(body);
    let app = axum::Router::new().route(
        "/brands.json",
        axum::routing::get(move || std::future::ready(body.clone())),
    );
    rt.spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

fn fhirdl(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("FHIRDL_CONFIG_DIR", root.join("config"))
        .env("FHIRDL_DATA_DIR", root.join("data"))
        .env("NO_COLOR", "1")
        .env_remove("FHIRDL_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Runs `cmd`; its wall time and peak RSS in MiB (its VmHWM, polled until it exits).
fn measured(mut cmd: Command) -> Result<(Duration, f64)> {
    let started = Instant::now();
    let mut child = cmd.spawn().context("cannot start fhirdl")?;
    let pid = child.id();
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let kib = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak_kib = peak_kib.max(kib.unwrap_or(0));
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    ensure!(status.success(), "fhirdl failed: {status}");
    Ok((started.elapsed(), peak_kib as f64 / 1024.0))
}

fn median(mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

/// 20 distinct queries: names of organizations across the file, misspelt and reordered.
fn queries() -> Vec<String> {
    (0..20)
        .map(|q| {
            let n = name(q * 4_999 + 17);
            let mut words: Vec<String> = n.split(' ').take(3).map(str::to_lowercase).collect();
            // One typo (a letter doubled) and the words reversed.
            let doubled = words[0].chars().nth(2).unwrap_or('a');
            words[0].insert(2, doubled);
            words.reverse();
            words.join(" ")
        })
        .collect()
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.windows(2)
        .find(|w| w[0] == name)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --all-targets` runs harness = false benches without `--bench`.
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("directory benchmark: run it with `cargo bench --bench directory`; skipped");
        return Ok(());
    }
    let (organizations, endpoints) = (
        arg(&args, "--organizations", 100_000),
        arg(&args, "--endpoints", 800),
    );
    let root = tempfile::tempdir()?;
    let file = root.path().join("brands.json");
    let bytes = generate(&file, organizations, endpoints)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let url = serve(&rt, std::fs::read(&file)?)?;
    let (took, peak) = measured(fhirdl(
        root.path(),
        &["directory", "update", "--source", &url, "-q"],
    ))?;
    println!("directory update: {organizations} organizations, {endpoints} endpoints, {:.1} MiB: {:.2} s, peak RSS {peak:.1} MiB", bytes as f64 / 1048576.0, took.as_secs_f64());

    let index_path = fhirdl::directory::index::path(&root.path().join("data"));
    let fhirdl::directory::index::Opened::Ready(index) =
        fhirdl::directory::index::Index::open(&index_path)?
    else {
        anyhow::bail!("no index at {}", index_path.display());
    };
    let filters = fhirdl::directory::index::Filters::default();
    let qs = queries();
    let mut in_process = Vec::new();
    for round in 0..2 {
        for q in &qs {
            let started = Instant::now();
            let found = fhirdl::directory::search::find(&index, q, &filters, 10)?;
            ensure!(!found.is_empty(), "nothing found for {q:?}");
            if round == 1 {
                in_process.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    let mut binary = Vec::new();
    for q in &qs {
        let words: Vec<&str> = std::iter::once("find").chain(q.split(' ')).collect();
        let (took, _) = measured(fhirdl(root.path(), &words))?;
        binary.push(took.as_secs_f64() * 1000.0);
    }
    println!(
        "find: median of 20 queries {:.1} ms in process (max {:.1}), {:.1} ms as `fhirdl find` (process start included)",
        median(in_process.clone()),
        in_process.iter().copied().fold(0.0, f64::max),
        median(binary)
    );
    Ok(())
}
