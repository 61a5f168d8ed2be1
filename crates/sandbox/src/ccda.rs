//! The small C-CDA R2.1 document the generator stores behind NextGen-style `xml-` document
//! URLs.

use time::Date;

/// What the C-CDA document says.
pub(crate) struct CcdaDocument<'a> {
    pub id: &'a str,
    pub loinc: &'a str,
    pub title: &'a str,
    pub date: Date,
    pub patient_id: &'a str,
    pub patient_name: &'a str,
}

/// A minimal C-CDA R2.1 ClinicalDocument with an unstructured body.
pub(crate) fn ccda(doc: &CcdaDocument<'_>) -> String {
    let (given, family) = doc
        .patient_name
        .split_once(' ')
        .unwrap_or((doc.patient_name, ""));
    let date = format!(
        "{:04}{:02}{:02}",
        doc.date.year(),
        u8::from(doc.date.month()),
        doc.date.day()
    );
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <realmCode code="US"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
  <id root="2.16.840.1.113883.19.5.99999.2" extension="{id}"/>
  <code code="{loinc}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC"/>
  <title>{title}</title>
  <effectiveTime value="{date}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="en-US"/>
  <recordTarget>
    <patientRole>
      <id root="2.16.840.1.113883.19.5.99999.1" extension="{patient}"/>
      <patient><name><given>{given}</given><family>{family}</family></name></patient>
    </patientRole>
  </recordTarget>
  <component>
    <nonXMLBody>
      <text>This document was generated for testing and is not a medical record.</text>
    </nonXMLBody>
  </component>
</ClinicalDocument>
"#,
        id = escape(doc.id),
        loinc = escape(doc.loinc),
        title = escape(doc.title),
        patient = escape(doc.patient_id),
        given = escape(given),
        family = escape(family),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn ccda_escapes_and_dates() {
        let xml = ccda(&CcdaDocument {
            id: "doc-1",
            loinc: "11506-3",
            title: "Notes <&>",
            date: date!(2024 - 03 - 07),
            patient_id: "pt-1",
            patient_name: "Alice Garcia",
        });
        assert!(xml.contains("<title>Notes &lt;&amp;&gt;</title>"));
        assert!(xml.contains(r#"<effectiveTime value="20240307"/>"#));
        assert!(xml.contains("<given>Alice</given><family>Garcia</family>"));
    }
}
