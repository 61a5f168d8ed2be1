//! From a directory's Organizations and Endpoints to [`Listing`]s, whatever the shape:
//! - SMART App Launch 2.2 Brands: `Organization` with the `organization-brand` and
//!   `organization-portal` extensions (the portal's `portalEndpoint` references an Endpoint),
//!   facilities `partOf` a brand (<https://hl7.org/fhir/smart-app-launch/brands.html>);
//! - Endpoints each with a contained `Organization` (an earlier Oracle Health shape);
//! - Organizations and Endpoints linked either way: `Organization.endpoint` or
//!   `Endpoint.managingOrganization` (NextGen's `FhirServiceBaseBundle`, Oracle Health's
//!   `ignite-endpoints` today: <https://github.com/oracle-samples/ignite-endpoints>).
//!
//! The shape is told by what the resources hold, never by the URL. Each resource is reduced
//! to the few fields a listing needs as it is read, so memory grows with the organizations'
//! names, not with the document.

use super::clean::{self, normalise_base};
use super::{Listing, Parsed};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// How far up `partOf` a facility looks for its brand's endpoints.
const MAX_PART_OF_DEPTH: usize = 8;

#[derive(Debug, Default)]
struct Org {
    name: String,
    aliases: Vec<String>,
    address: Option<String>,
    city: Option<String>,
    state: Option<String>,
    portal: Option<String>,
    part_of: Option<String>,
    /// References to Endpoints (`Organization.endpoint` and the portal's `portalEndpoint`).
    endpoints: Vec<String>,
}

#[derive(Debug, Default)]
struct Endpoint {
    base: Option<String>,
    version: Option<String>,
    usable: bool,
}

/// Collects the resources of one document, then links them ([`Collector::finish`]).
#[derive(Debug, Default)]
pub struct Collector {
    orgs: Vec<Org>,
    endpoints: Vec<Endpoint>,
    org_keys: HashMap<String, usize>,
    endpoint_keys: HashMap<String, usize>,
    /// Endpoint index → organizations that name it as managing organization (by reference).
    managed_by: Vec<(usize, String)>,
}

impl Collector {
    /// Takes one Bundle entry's resource (others than Organization and Endpoint are ignored).
    pub fn add(&mut self, full_url: Option<String>, resource: Value) {
        match resource.get("resourceType").and_then(Value::as_str) {
            Some("Organization") => {
                let at = self.add_org(&resource);
                for key in keys(full_url, "Organization", &resource) {
                    self.org_keys.insert(key, at);
                }
            }
            Some("Endpoint") => self.add_endpoint(full_url, &resource),
            _ => {}
        }
    }

    fn add_org(&mut self, r: &Value) -> usize {
        let mut org = Org {
            name: text(&r["name"]).unwrap_or_default(),
            aliases: strings(&r["alias"]),
            part_of: text(&r["partOf"]["reference"]),
            endpoints: references(&r["endpoint"]),
            ..Org::default()
        };
        read_address(&r["address"], &mut org);
        read_portal(&r["extension"], &mut org);
        self.orgs.push(org);
        self.orgs.len() - 1
    }

    fn add_endpoint(&mut self, full_url: Option<String>, r: &Value) {
        let base = text(&r["address"]).and_then(|a| normalise_base(&a));
        let version = extensions(&r["extension"])
            .find(|e| url_ends(e, "fhir-version"))
            .and_then(|e| text(&e["valueCode"]));
        let status = r["status"].as_str();
        let at = self.endpoints.len();
        self.endpoints.push(Endpoint {
            version: version.or_else(|| base.as_deref().and_then(clean::version_from_base)),
            base,
            usable: !clean::is_unusable_status(status),
        });
        let own_keys = keys(full_url, "Endpoint", r);
        // A contained resource's id (`#o1`) means something only inside its container.
        if let Some(m) =
            text(&r["managingOrganization"]["reference"]).filter(|m| !m.starts_with('#'))
        {
            self.managed_by.push((at, m));
        }
        // An Endpoint with its Organization contained: the organization is reached through it.
        for contained in r["contained"].as_array().into_iter().flatten() {
            if contained["resourceType"] == "Organization" {
                let org = self.add_org(contained);
                self.orgs[org].endpoints.extend(own_keys.first().cloned());
            }
        }
        for key in own_keys {
            self.endpoint_keys.insert(key, at);
        }
    }

    fn endpoint_of(&self, reference: &str) -> Option<usize> {
        lookup(&self.endpoint_keys, reference)
    }

    /// Links organizations to endpoints and drops placeholders.
    pub fn finish(self) -> Parsed {
        let mut links: Vec<BTreeSet<usize>> = self
            .orgs
            .iter()
            .map(|o| {
                o.endpoints
                    .iter()
                    .filter_map(|r| self.endpoint_of(r))
                    .collect()
            })
            .collect();
        for (endpoint, org_ref) in &self.managed_by {
            if let Some(org) = lookup(&self.org_keys, org_ref) {
                links[org].insert(*endpoint);
            }
        }
        let mut parsed = Parsed::default();
        let mut reached = vec![false; self.endpoints.len()];
        for (i, org) in self.orgs.iter().enumerate() {
            let (endpoints, brand, portal) = self.inherited(i, &links);
            for e in endpoints {
                reached[e] = true;
                match self.listing(org, &self.endpoints[e], brand, portal) {
                    Some(l) => parsed.listings.push(l),
                    None => parsed.dropped += 1,
                }
            }
        }
        // Endpoints no organization names are listed under nothing a patient could search:
        // counted with the dropped ones when they are placeholders, otherwise left out.
        parsed.dropped += self
            .endpoints
            .iter()
            .zip(&reached)
            .filter(|(e, r)| !**r && (e.base.is_none() || !e.usable))
            .count();
        let bases: BTreeSet<&str> = parsed
            .listings
            .iter()
            .map(|l| l.fhir_base.as_str())
            .collect();
        parsed.endpoints = bases.len();
        parsed
    }

    /// An organization's endpoints, or its nearest `partOf` ancestor's, with the brand's name
    /// and portal for a facility.
    fn inherited<'a>(
        &'a self,
        org: usize,
        links: &'a [BTreeSet<usize>],
    ) -> (Vec<usize>, Option<&'a str>, Option<&'a str>) {
        let own = &self.orgs[org];
        let mut portal = own.portal.as_deref();
        let mut brand = None;
        let mut at = org;
        for _ in 0..MAX_PART_OF_DEPTH {
            if !links[at].is_empty() {
                return (links[at].iter().copied().collect(), brand, portal);
            }
            let Some(parent) = self.orgs[at]
                .part_of
                .as_deref()
                .and_then(|r| lookup(&self.org_keys, r))
                .filter(|p| *p != at)
            else {
                break;
            };
            at = parent;
            let p = &self.orgs[parent];
            brand = brand.or(Some(p.name.as_str()).filter(|n| !n.is_empty()));
            portal = portal.or(p.portal.as_deref());
        }
        (Vec::new(), None, None)
    }

    fn listing(
        &self,
        org: &Org,
        endpoint: &Endpoint,
        brand: Option<&str>,
        portal: Option<&str>,
    ) -> Option<Listing> {
        let base = endpoint.base.as_ref()?;
        if !endpoint.usable
            || clean::is_placeholder_base(base)
            || clean::is_placeholder_name(&org.name)
            || brand.is_some_and(clean::is_placeholder_name)
        {
            return None;
        }
        Some(Listing {
            name: org.name.clone(),
            aliases: org.aliases.clone(),
            brand: brand.map(str::to_string),
            portal: portal.map(str::to_string),
            address: org.address.clone(),
            city: org.city.clone(),
            state: org.state.clone(),
            fhir_base: base.clone(),
            fhir_version: endpoint.version.clone(),
        })
    }
}

/// The keys a reference may use for a resource of the Bundle: its `fullUrl` and `Type/id`.
fn keys(full_url: Option<String>, kind: &str, r: &Value) -> Vec<String> {
    let mut out: Vec<String> = full_url.into_iter().collect();
    if let Some(id) = r["id"].as_str() {
        out.push(format!("{kind}/{id}"));
    }
    out
}

/// Finds what a reference points at: as written, or by its last `Type/id` segments (an
/// absolute reference to a resource the Bundle lists by a relative one, or the reverse).
fn lookup(keys: &HashMap<String, usize>, reference: &str) -> Option<usize> {
    if let Some(at) = keys.get(reference) {
        return Some(*at);
    }
    let mut parts = reference.trim_end_matches('/').rsplit('/');
    let id = parts.next()?;
    let kind = parts.next()?;
    keys.get(&format!("{kind}/{id}")).copied()
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(text)
        .collect()
}

fn references(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| text(&r["reference"]))
        .collect()
}

fn extensions(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

/// Extension URLs differ between the ballot and the release of SMART 2.2
/// (`…/StructureDefinition/organization-portal`, `…/smart-app-launch/…/portal`,
/// `…/endpoint-fhir-version`): matched by the end of their last segment.
fn url_ends(ext: &Value, name: &str) -> bool {
    ext["url"].as_str().is_some_and(|u| {
        let last = u.rsplit('/').next().unwrap_or(u);
        last == name || last.ends_with(&format!("-{name}"))
    })
}

fn read_portal(exts: &Value, org: &mut Org) {
    for portal in extensions(exts).filter(|e| url_ends(e, "portal")) {
        for part in extensions(&portal["extension"]) {
            match part["url"].as_str() {
                Some("portalName") => {
                    org.portal = org.portal.take().or_else(|| text(&part["valueString"]))
                }
                Some("portalEndpoint") => org
                    .endpoints
                    .extend(text(&part["valueReference"]["reference"])),
                _ => {}
            }
        }
    }
}

/// The first address: one line of text, and its city and state for the filters.
fn read_address(addresses: &Value, org: &mut Org) {
    let Some(a) = addresses.as_array().and_then(|a| a.first()) else {
        return;
    };
    org.city = text(&a["city"]);
    org.state = text(&a["state"]).map(|s| s.to_uppercase());
    let mut parts = strings(&a["line"]);
    parts.extend(org.city.clone());
    let state_zip: Vec<String> = [org.state.clone(), text(&a["postalCode"])]
        .into_iter()
        .flatten()
        .collect();
    if !state_zip.is_empty() {
        parts.push(state_zip.join(" "));
    }
    org.address = (!parts.is_empty())
        .then(|| parts.join(", "))
        .or_else(|| text(&a["text"]));
}

/// Reads a whole document's resources into listings (plain or gzip Bundle, streamed).
pub fn parse(reader: impl std::io::Read) -> anyhow::Result<Parsed> {
    let mut collector = Collector::default();
    super::stream::for_each_resource(reader, &mut |full_url, r| collector.add(full_url, r))?;
    Ok(collector.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_fixture(name: &str) -> Parsed {
        let path = format!(
            "{}/tests/fixtures/directory/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        parse(std::fs::File::open(path).unwrap()).unwrap()
    }

    fn names(p: &Parsed) -> Vec<&str> {
        p.listings.iter().map(|l| l.name.as_str()).collect()
    }

    #[test]
    fn brands_bundle_with_portals_and_facilities() {
        let p = parse_fixture("brands.json");
        assert_eq!(
            names(&p),
            [
                "Sunrise Family Medicine",
                "Sunrise North Pediatrics",
                "Lakeside Cardiology"
            ]
        );
        let brand = &p.listings[0];
        assert_eq!(brand.portal.as_deref(), Some("SunrisePortal"));
        assert_eq!(
            brand.fhir_base,
            "https://fhir.sunrise.fixture.net/api/FHIR/R4"
        );
        assert_eq!(brand.fhir_version.as_deref(), Some("4.0.1"));
        assert_eq!(brand.state.as_deref(), Some("IL"));
        assert_eq!(
            brand.address.as_deref(),
            Some("12 Dawn Street, Springfield, IL 62701")
        );
        assert_eq!(brand.aliases, ["Sunrise Clinics"]);
        let facility = &p.listings[1];
        assert_eq!(facility.brand.as_deref(), Some("Sunrise Family Medicine"));
        assert_eq!(facility.portal.as_deref(), Some("SunrisePortal"));
        assert_eq!(facility.fhir_base, brand.fhir_base);
        assert_eq!(p.listings[2].fhir_version.as_deref(), Some("R4"));
        // "Demo Practice", the example.org endpoint's clinic, the endpoint without address.
        assert_eq!(p.dropped, 3);
        assert_eq!(p.endpoints, 2);
    }

    #[test]
    fn endpoints_with_contained_organizations() {
        let p = parse_fixture("endpoints.json");
        assert_eq!(names(&p), ["Hillcrest Regional Hospital"]);
        assert_eq!(
            p.listings[0].fhir_base,
            "https://fhir-myrecord.fixture.net/r4/1a2b3c"
        );
        assert_eq!(p.listings[0].city.as_deref(), Some("Tulsa"));
        // "Test Hospital" and the endpoint whose status is `test`.
        assert_eq!(p.dropped, 2);
    }

    #[test]
    fn organizations_and_endpoints_linked_either_way() {
        let p = parse_fixture("organizations.json");
        assert_eq!(
            names(&p),
            ["Maple Grove Internal Medicine", "Lakeside Heart Center"]
        );
        assert_eq!(
            p.listings[1].fhir_base,
            "https://fhir.lakeside.fixture.net/r4"
        );
        assert_eq!(p.dropped, 1);
    }

    #[test]
    fn contained_ids_do_not_leak_between_endpoints() {
        let doc = r##"{"resourceType":"Bundle","entry":[
          {"resource":{"resourceType":"Endpoint","id":"a","address":"https://a.fixture.net/r4",
            "contained":[{"resourceType":"Organization","id":"org","name":"Alpha Clinic"}],
            "managingOrganization":{"reference":"#org"}}},
          {"resource":{"resourceType":"Endpoint","id":"b","address":"https://b.fixture.net/r4",
            "contained":[{"resourceType":"Organization","id":"org","name":"Beta Clinic"}],
            "managingOrganization":{"reference":"#org"}}}]}"##;
        let p = parse(doc.as_bytes()).unwrap();
        let pairs: Vec<(&str, &str)> = p
            .listings
            .iter()
            .map(|l| (l.name.as_str(), l.fhir_base.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("Alpha Clinic", "https://a.fixture.net/r4"),
                ("Beta Clinic", "https://b.fixture.net/r4")
            ]
        );
    }
}
