//! Units as people write them. FHIR Quantities carry UCUM codes (`Cel`, `mm[Hg]`, `10*3/uL`,
//! `{beats}/min`), often in `unit` too; the page shows `°C`, `mmHg`, `10³/µL`, `beats/min`.
//! Only what is shown changes: the stored resources keep their codes.
//!
//! Known codes come from a table (UCUM's common clinical units, as in the UCUM specification's
//! table of special units and the US Core vital-sign profiles); anything else gets the generic
//! rules: `10*n` becomes 10 with a superscript power, a `u` prefix before a unit becomes `µ`,
//! curly-brace annotations lose their braces, a trailing `2`/`3` after a length becomes a power.

/// Codes whose written form is not derived by the rules below.
const TABLE: &[(&str, &str)] = &[
    ("Cel", "°C"),
    ("[degF]", "°F"),
    ("mm[Hg]", "mmHg"),
    ("cm[H2O]", "cmH₂O"),
    ("[lb_av]", "lb"),
    ("[oz_av]", "oz"),
    ("[in_i]", "in"),
    ("[ft_i]", "ft"),
    ("[IU]", "IU"),
    ("[IU]/L", "IU/L"),
    ("[iU]/L", "IU/L"),
    ("[IU]/mL", "IU/mL"),
    ("meq/L", "mEq/L"),
    ("mL/min/{1.73_m2}", "mL/min/1.73 m²"),
    ("/[HPF]", "/HPF"),
    ("/[LPF]", "/LPF"),
    ("[pH]", "pH"),
    ("{score}", "score"),
    ("1", ""),
];

/// How `code` (a UCUM code, or already words) is shown.
pub fn shown(code: &str) -> String {
    if let Some((_, shown)) = TABLE.iter().find(|(c, _)| *c == code) {
        return (*shown).to_string();
    }
    code.split('/').map(part).collect::<Vec<_>>().join("/")
}

/// One factor of a unit (between slashes).
fn part(p: &str) -> String {
    // An annotation alone: `{beats}` → `beats`.
    let p = match (p.strip_prefix('{'), p.ends_with('}')) {
        (Some(inner), true) if !inner[..inner.len() - 1].contains('{') => {
            return inner[..inner.len() - 1].replace('_', " ");
        }
        _ => p,
    };
    if let Some(power) = p.strip_prefix("10*").or_else(|| p.strip_prefix("10^")) {
        if !power.is_empty() && power.chars().all(|c| c.is_ascii_digit() || c == '-') {
            return format!("10{}", superscript(power));
        }
    }
    // micro: uL, ug, umol, uU, ukat …
    let p = match p.strip_prefix('u') {
        Some(rest) if rest.starts_with(['L', 'g', 'm', 'U', 'k', 'l', 's']) => format!("µ{rest}"),
        _ => p.to_string(),
    };
    // m2, cm3 …: a power of a length.
    for base in ["m", "cm", "mm", "km", "dm"] {
        for (digit, sup) in [("2", "²"), ("3", "³")] {
            if p == format!("{base}{digit}") {
                return format!("{base}{sup}");
            }
        }
    }
    p
}

fn superscript(digits: &str) -> String {
    digits
        .chars()
        .map(|c| match c {
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            '9' => '⁹',
            _ => '⁻',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn codes_become_what_people_write() {
        for (code, want) in [
            ("Cel", "°C"),
            ("[degF]", "°F"),
            ("mm[Hg]", "mmHg"),
            ("10*3/uL", "10³/µL"),
            ("10*6/uL", "10⁶/µL"),
            ("10*9/L", "10⁹/L"),
            ("10*12/L", "10¹²/L"),
            ("{beats}/min", "beats/min"),
            ("/min", "/min"),
            ("kg/m2", "kg/m²"),
            ("ug/dL", "µg/dL"),
            ("umol/L", "µmol/L"),
            ("mL/min/{1.73_m2}", "mL/min/1.73 m²"),
            ("[lb_av]", "lb"),
            ("%", "%"),
            ("mg/dL", "mg/dL"),
            ("mmol/L", "mmol/L"),
            ("fL", "fL"),
            ("kg", "kg"),
            ("cm", "cm"),
            ("g/dL", "g/dL"),
            ("U/L", "U/L"),
            ("{score}", "score"),
            ("beats/minute", "beats/minute"),
            ("", ""),
        ] {
            assert_eq!(shown(code), want, "{code}");
        }
    }
}
