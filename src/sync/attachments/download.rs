//! One document's bytes: inline data decoded, or downloaded with the token from the FHIR
//! server's origin only, and checked to be the document (not an HTML page, not JSON that is not
//! a Binary, as many bytes as announced).

use super::{Attachment, Document, Unsaved, MAX_ATTACHMENT_BYTES};
use crate::fhir::client::{BytesResponse, FhirClient};
use crate::fhir::version::FhirRelease;
use base64::Engine;
use serde::Deserialize;
use url::Url;

const ACCEPT: &str = "application/pdf, application/xml, text/xml, image/*, text/plain, application/fhir+json;q=0.5, */*;q=0.1";

/// Where an attachment `url` may be downloaded from with the token: absolute or relative to the
/// FHIR base, and on the FHIR base's origin only (not another host or port, not `file:`, not
/// loopback when the FHIR server is elsewhere).
pub fn attachment_url(base: &Url, raw: &str) -> Result<Url, UrlRefusal> {
    let url = Url::parse(raw)
        .or_else(|_| crate::fhir_url::join(base, raw).map_err(|_| url::ParseError::EmptyHost))
        .map_err(|_| UrlRefusal::Invalid("its URL is not valid".to_string()))?;
    if url.origin() != base.origin() {
        let shown = match url.origin() {
            o @ url::Origin::Tuple(..) => o.ascii_serialization(),
            url::Origin::Opaque(_) => format!("a {}: URL", url.scheme()),
        };
        return Err(UrlRefusal::OtherOrigin(format!(
            "it is served by {shown} (not the FHIR server); not downloaded, the access token goes only to the FHIR server"
        )));
    }
    Ok(url)
}

/// Why an attachment URL is not fetched.
#[derive(Debug, PartialEq)]
pub enum UrlRefusal {
    /// Not a URL at all.
    Invalid(String),
    /// On another origin than the FHIR server's.
    OtherOrigin(String),
}

impl std::fmt::Display for UrlRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlRefusal::Invalid(why) | UrlRefusal::OtherOrigin(why) => f.write_str(why),
        }
    }
}

/// The attachment's bytes (inline data decoded, or downloaded from the FHIR server) and the
/// content type a Binary gave for them.
pub(super) async fn content(
    fhir: &FhirClient,
    a: &Attachment,
    release: FhirRelease,
) -> Result<Document, Unsaved> {
    if let Some(data) = &a.data {
        let bytes = decode_base64(data)
            .ok_or_else(|| Unsaved::Failed("its inline data is not valid base64".into()))?;
        if bytes.is_empty() {
            return Err(Unsaved::Failed("its inline data is empty".into()));
        }
        return Ok(Document {
            bytes,
            content_type: None,
        });
    }
    let url =
        attachment_url(fhir.base(), a.url.as_deref().unwrap_or_default()).map_err(
            |why| match why {
                UrlRefusal::Invalid(why) => Unsaved::Failed(why),
                UrlRefusal::OtherOrigin(why) => Unsaved::NotFollowed(why),
            },
        )?;
    // Every complaint is retried; the last one is the failure. The accepted document is kept
    // from the check (a Binary is decoded once).
    let accepted = std::sync::Mutex::new(None);
    let resp = fhir
        .get_bytes(&url, ACCEPT, MAX_ATTACHMENT_BYTES, |resp, _last| {
            let doc = document(a, resp, release)?;
            *accepted.lock().unwrap_or_else(|e| e.into_inner()) = Some(doc);
            Ok(())
        })
        .await
        .map_err(|e| Unsaved::Failed(format!("{e:#}")))?;
    if !resp.status.is_success() {
        return Err(Unsaved::Failed(format!(
            "the server answered HTTP {}",
            resp.status.as_u16()
        )));
    }
    let accepted = accepted.into_inner().unwrap_or_else(|e| e.into_inner());
    accepted.ok_or_else(|| Unsaved::Failed("the server sent no document".into()))
}

fn decode_base64(data: &str) -> Option<Vec<u8>> {
    let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .ok()
}

/// `Some(complaint)` when `bytes` are not as many as the attachment's `size` announces.
fn size_mismatch(a: &Attachment, bytes: &[u8]) -> Option<String> {
    let announced = a.size?;
    (bytes.len() as u64 != announced).then(|| {
        format!(
            "{} bytes arrived where the record announces {announced}",
            bytes.len()
        )
    })
}

/// The document in a successful answer (a FHIR Binary's decoded bytes, or the raw body) and
/// the Binary's content type; a complaint when the answer cannot be the document.
fn document(
    a: &Attachment,
    resp: &BytesResponse,
    release: FhirRelease,
) -> Result<Document, String> {
    let ct = resp
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let raw = || Document {
        bytes: resp.body.clone(),
        content_type: None,
    };
    let doc = if ct.contains("json") {
        match binary_bytes(&resp.body, release) {
            Some(binary) => binary?,
            // Any other JSON is the document only when the attachment says it is JSON.
            None if a
                .content_type
                .as_deref()
                .is_some_and(|t| t.contains("json"))
                && serde_json::from_slice::<serde::de::IgnoredAny>(&resp.body).is_ok() =>
            {
                raw()
            }
            None => {
                return Err("the answer is JSON but not a FHIR Binary holding the document".into())
            }
        }
    } else if ct.contains("html")
        && !a
            .content_type
            .as_deref()
            .is_some_and(|t| t.contains("html"))
    {
        return Err("the server answered with an HTML page instead of the document".into());
    } else {
        raw()
    };
    if doc.bytes.is_empty() {
        return Err("the server sent an empty document".into());
    }
    if let Some(why) = size_mismatch(a, &doc.bytes) {
        return Err(why);
    }
    Ok(doc)
}

/// A FHIR Binary's bytes and content type: `None` when `body` is not a Binary; a complaint when
/// it is one without valid bytes.
fn binary_bytes(body: &[u8], release: FhirRelease) -> Option<Result<Document, String>> {
    #[derive(Deserialize)]
    struct Binary {
        #[serde(rename = "resourceType")]
        resource_type: String,
        #[serde(rename = "contentType")]
        content_type: Option<String>,
        data: Option<String>,
        content: Option<String>,
    }
    let binary: Binary = serde_json::from_slice(body).ok()?;
    if binary.resource_type != "Binary" {
        return None;
    }
    let field = |name: &str| match name {
        "content" => binary.content.as_deref(),
        _ => binary.data.as_deref(),
    };
    let [first, second] = release.binary_data_elements();
    let Some((name, data)) = [first, second]
        .into_iter()
        .find_map(|name| field(name).map(|d| (name, d)))
    else {
        return Some(Err(format!(
            "the server sent a Binary without bytes (no `{first}` element)"
        )));
    };
    Some(match decode_base64(data) {
        Some(bytes) if bytes.is_empty() => Err(format!(
            "the server sent a Binary without bytes (`{name}` is empty)"
        )),
        Some(bytes) => Ok(Document {
            bytes,
            content_type: binary.content_type,
        }),
        None => Err(format!("the Binary's `{name}` is not valid base64")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_fhir_origin_gets_the_token() {
        let base = Url::parse("https://fhir.example.org/r4").unwrap();
        assert_eq!(
            attachment_url(&base, "Binary/b1").unwrap().as_str(),
            "https://fhir.example.org/r4/Binary/b1"
        );
        assert!(attachment_url(&base, "https://fhir.example.org/docs/1.pdf").is_ok());
        for bad in [
            "https://evil.example/x.pdf",
            "http://fhir.example.org/r4/Binary/b1",
            "https://fhir.example.org:8443/r4/Binary/b1",
            "http://127.0.0.1/r4/Binary/b1",
            "http://localhost:8080/x",
            "http://[::1]/x",
            "file:///etc/passwd",
            "data:application/pdf;base64,aGk=",
        ] {
            let why = attachment_url(&base, bad).expect_err(bad);
            assert!(matches!(why, UrlRefusal::OtherOrigin(_)), "{bad}: {why}");
            assert!(
                why.to_string().contains("not the FHIR server"),
                "{bad}: {why}"
            );
        }
        // A scheme-relative URL is read as a path under the base, never as another host.
        assert_eq!(
            attachment_url(&base, "//evil.example/x")
                .unwrap()
                .host_str(),
            Some("fhir.example.org")
        );
    }

    fn answer(ct: &str, body: &[u8]) -> BytesResponse {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::CONTENT_TYPE, ct.parse().unwrap());
        BytesResponse {
            status: reqwest::StatusCode::OK,
            headers,
            body: body.to_vec(),
        }
    }

    fn pdf(size: Option<u64>) -> Attachment {
        Attachment {
            resource: "DocumentReference/d".into(),
            file: "DocumentReference-d-1.pdf".into(),
            url: Some("Binary/b".into()),
            data: None,
            content_type: Some("application/pdf".into()),
            size,
        }
    }

    #[test]
    fn answers_that_cannot_be_the_document_are_refused() {
        let pdf = pdf(Some(4));
        let r4 = FhirRelease::R4;
        assert_eq!(
            document(&pdf, &answer("application/pdf", b"%PDF"), r4).unwrap(),
            Document {
                bytes: b"%PDF".to_vec(),
                content_type: None
            }
        );
        let binary =
            br#"{"resourceType":"Binary","contentType":"application/pdf","data":"JVBERg=="}"#;
        assert_eq!(
            document(&pdf, &answer("application/fhir+json", binary), r4).unwrap(),
            Document {
                bytes: b"%PDF".to_vec(),
                content_type: Some("application/pdf".into())
            }
        );
        assert!(document(&pdf, &answer("application/fhir+json", b"{\"a\":1,]"), r4).is_err());
        assert!(document(&pdf, &answer("application/json", b"{\"a\":1}"), r4).is_err());
        assert!(document(&pdf, &answer("text/html", b"<html>login</html>"), r4).is_err());
        // A size that differs is a complaint (retried, then a failure), never kept.
        let short = document(&pdf, &answer("application/pdf", b"%PD"), r4).unwrap_err();
        assert!(
            short.contains("3 bytes arrived where the record announces 4"),
            "{short}"
        );
        let json_doc = Attachment {
            content_type: Some("application/json".into()),
            size: None,
            ..pdf
        };
        assert!(document(&json_doc, &answer("application/json", b"{\"a\":1}"), r4).is_ok());
        assert_eq!(size_mismatch(&json_doc, b"anything"), None);
    }

    /// Regression: DSTU2 and STU3 Binaries keep their bytes in `content`; reading `data` saved
    /// every document of a DSTU2 server as an empty file.
    #[test]
    fn binary_bytes_by_release() {
        let pdf = pdf(None);
        let dstu2 = br#"{"resourceType":"Binary","id":"b","contentType":"application/pdf","content":"JVBERi0xLjQ="}"#;
        let r4 = br#"{"resourceType":"Binary","id":"b","contentType":"application/pdf","data":"JVBERi0xLjQ="}"#;
        for release in [
            FhirRelease::Dstu2,
            FhirRelease::Stu3,
            FhirRelease::R4,
            FhirRelease::R5,
            FhirRelease::Unknown,
        ] {
            for body in [&dstu2[..], &r4[..]] {
                let doc = document(&pdf, &answer("application/fhir+json", body), release).unwrap();
                assert_eq!(doc.bytes, b"%PDF-1.4", "{release:?}");
                assert_eq!(doc.content_type.as_deref(), Some("application/pdf"));
            }
        }
        // Both present: the release's own element wins.
        let both = br#"{"resourceType":"Binary","contentType":"text/plain","content":"YQ==","data":"Yg=="}"#;
        let text = Attachment {
            content_type: Some("text/plain".into()),
            ..pdf.clone()
        };
        let read = |release| document(&text, &answer("application/json", both), release);
        assert_eq!(read(FhirRelease::Dstu2).unwrap().bytes, b"a");
        assert_eq!(read(FhirRelease::R4).unwrap().bytes, b"b");
        // No bytes at all, empty bytes, bad base64: complaints that name the element.
        for (body, says) in [
            (
                &br#"{"resourceType":"Binary","contentType":"application/pdf"}"#[..],
                "no `content` element",
            ),
            (
                br#"{"resourceType":"Binary","contentType":"application/pdf","content":""}"#,
                "`content` is empty",
            ),
            (
                br#"{"resourceType":"Binary","content":"%%%"}"#,
                "`content` is not valid base64",
            ),
        ] {
            let why = document(
                &pdf,
                &answer("application/fhir+json", body),
                FhirRelease::Dstu2,
            )
            .unwrap_err();
            assert!(why.contains(says), "{why}");
        }
        // An empty raw answer is no document either.
        assert!(document(&pdf, &answer("application/pdf", b""), FhirRelease::R4).is_err());
    }
}
