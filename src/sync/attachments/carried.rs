//! Which attachments a resource carries (`DocumentReference.content.attachment`,
//! `DiagnosticReport.presentedForm`) and the file names fhirdl gives them: the resource type,
//! its validated id and the attachment's position, plus an extension from a fixed list.

use super::Attachment;
use crate::sync::bundle::valid_id;
use serde_json::Value;

/// The attachments of one resource (only DocumentReference and DiagnosticReport carry them).
pub fn attachments_of(resource_type: &str, resource: &Value) -> Vec<Attachment> {
    let Some(id) = resource
        .get("id")
        .and_then(Value::as_str)
        .filter(|i| valid_id(i))
    else {
        return Vec::new();
    };
    let list: Vec<&Value> = match resource_type {
        "DocumentReference" => resource
            .get("content")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(|x| x.get("attachment")).collect())
            .unwrap_or_default(),
        "DiagnosticReport" => resource
            .get("presentedForm")
            .and_then(Value::as_array)
            .map(|c| c.iter().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    list.into_iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let url = a.get("url").and_then(Value::as_str).map(str::to_string);
            let data = a.get("data").and_then(Value::as_str).map(str::to_string);
            if url.is_none() && data.is_none() {
                return None;
            }
            let content_type = a
                .get("contentType")
                .and_then(Value::as_str)
                .map(str::to_string);
            let ext = extension(content_type.as_deref());
            Some(Attachment {
                resource: format!("{resource_type}/{id}"),
                file: format!(
                    "{resource_type}-{}-{}.{ext}",
                    crate::sync::naming::single(id),
                    i + 1
                ),
                url,
                data,
                content_type,
                size: a.get("size").and_then(Value::as_u64),
            })
        })
        .collect()
}

/// A file extension for a content type, from a fixed list (never the server's text).
pub fn extension(content_type: Option<&str>) -> &'static str {
    match crate::http::media_type(content_type).as_str() {
        "application/pdf" => "pdf",
        "application/xml" | "text/xml" | "application/hl7-v3+xml" | "application/cda+xml" => "xml",
        "text/plain" => "txt",
        "text/html" => "html",
        "application/json" | "application/fhir+json" => "json",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/tiff" => "tif",
        "image/gif" => "gif",
        "application/rtf" | "text/rtf" => "rtf",
        "application/dicom" => "dcm",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_come_from_fhirdl_only() {
        let doc = json!({"resourceType": "DocumentReference", "id": "d1", "content": [
            {"attachment": {"contentType": "application/pdf", "url": "Binary/b1", "title": "../../etc/passwd"}},
            {"attachment": {"contentType": "text/x-evil;../", "data": "aGk="}},
            {"attachment": {"title": "nothing to fetch"}}
        ]});
        let a = attachments_of("DocumentReference", &doc);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].file, "DocumentReference-d1-1.pdf");
        assert_eq!(a[1].file, "DocumentReference-d1-2.bin");
        let bad_id = json!({"resourceType": "DocumentReference", "id": "../x", "content": [{"attachment": {"url": "u"}}]});
        assert!(attachments_of("DocumentReference", &bad_id).is_empty());
        let report =
            json!({"id": "r", "presentedForm": [{"contentType": "application/xml", "url": "x"}]});
        assert_eq!(
            attachments_of("DiagnosticReport", &report)[0].file,
            "DiagnosticReport-r-1.xml"
        );
        assert!(attachments_of("Observation", &report).is_empty());
    }
    #[test]
    fn extensions() {
        assert_eq!(extension(Some("application/pdf; charset=binary")), "pdf");
        assert_eq!(extension(Some("IMAGE/PNG")), "png");
        assert_eq!(extension(Some("../../x")), "bin");
        assert_eq!(extension(None), "bin");
    }
}
