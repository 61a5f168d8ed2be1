//! FHIR releases and the element names that differ between them where fhirdl reads a resource.
//!
//! The one difference that loses data when missed is the Binary's bytes: `content` in DSTU2
//! (1.0.2) and STU3 (3.0.x), renamed `data` in R4 (`Binary.data`, FHIR R4 "Changes from STU3").
//! Everything else fhirdl reads (`id`, `meta.lastUpdated`, `meta.versionId`, `Reference.reference`,
//! `Attachment.url/data/size/contentType`, `DocumentReference.content.attachment`,
//! `DiagnosticReport.presentedForm`, `Bundle.entry.resource`, `Bundle.link`, `Bundle.total`) has
//! the same name and shape from DSTU2 to R5.

/// A FHIR release, from a CapabilityStatement's (or DSTU2 Conformance's) `fhirVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FhirRelease {
    Dstu2,
    Stu3,
    R4,
    R4B,
    R5,
    /// No `fhirVersion`, or one fhirdl does not know.
    Unknown,
}

impl FhirRelease {
    /// The release of a `fhirVersion` such as "4.0.1", "3.0.2" or "1.0.2".
    pub fn from_version(version: Option<&str>) -> FhirRelease {
        let Some(version) = version else {
            return FhirRelease::Unknown;
        };
        let mut parts = version.trim().split('.');
        match (parts.next(), parts.next()) {
            (Some("1"), Some("0")) => FhirRelease::Dstu2,
            (Some("3"), Some("0")) => FhirRelease::Stu3,
            (Some("4"), Some("0")) => FhirRelease::R4,
            (Some("4"), Some("3")) => FhirRelease::R4B,
            (Some("5"), _) => FhirRelease::R5,
            _ => FhirRelease::Unknown,
        }
    }

    /// "R4", "STU3", "DSTU2"…; `None` when unknown.
    pub fn name(self) -> Option<&'static str> {
        match self {
            FhirRelease::Dstu2 => Some("DSTU2"),
            FhirRelease::Stu3 => Some("STU3"),
            FhirRelease::R4 => Some("R4"),
            FhirRelease::R4B => Some("R4B"),
            FhirRelease::R5 => Some("R5"),
            FhirRelease::Unknown => None,
        }
    }

    /// "R4", "STU3", "DSTU2"… for a `fhirVersion`, or the version itself when unknown.
    pub fn display(version: &str) -> String {
        FhirRelease::from_version(Some(version))
            .name()
            .map_or_else(|| version.to_string(), str::to_string)
    }

    /// The elements that may hold a Binary's base64 bytes, the release's own first. The other
    /// one is read too when the first is absent: a server that labels its release wrongly
    /// still gives its documents, and an unknown release reads either.
    pub fn binary_data_elements(self) -> [&'static str; 2] {
        match self {
            FhirRelease::Dstu2 | FhirRelease::Stu3 => ["content", "data"],
            _ => ["data", "content"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_from_versions() {
        for (version, release) in [
            ("1.0.2", FhirRelease::Dstu2),
            ("3.0.1", FhirRelease::Stu3),
            ("3.0.2", FhirRelease::Stu3),
            ("4.0.0", FhirRelease::R4),
            ("4.0.1", FhirRelease::R4),
            ("4.3.0", FhirRelease::R4B),
            ("5.0.0", FhirRelease::R5),
            (" 4.0.1 ", FhirRelease::R4),
            ("0.5.0", FhirRelease::Unknown),
            ("", FhirRelease::Unknown),
            ("R4", FhirRelease::Unknown),
        ] {
            assert_eq!(
                FhirRelease::from_version(Some(version)),
                release,
                "{version}"
            );
        }
        assert_eq!(FhirRelease::from_version(None), FhirRelease::Unknown);
        assert_eq!(FhirRelease::Stu3.name(), Some("STU3"));
        assert_eq!(FhirRelease::Unknown.name(), None);
        assert_eq!(FhirRelease::display("3.0.2"), "STU3");
        assert_eq!(FhirRelease::display("0.0.82"), "0.0.82");
    }

    #[test]
    fn binary_bytes_are_content_before_r4_and_data_from_r4() {
        assert_eq!(FhirRelease::Dstu2.binary_data_elements()[0], "content");
        assert_eq!(FhirRelease::Stu3.binary_data_elements()[0], "content");
        assert_eq!(FhirRelease::R4.binary_data_elements()[0], "data");
        assert_eq!(FhirRelease::R5.binary_data_elements()[0], "data");
        // Unknown: either is read.
        assert_eq!(
            FhirRelease::Unknown.binary_data_elements(),
            ["data", "content"]
        );
    }
}
