//! OAuth request parameters from a query string or an urlencoded body. RFC 6749 3.1 forbids
//! repeating a parameter, so lookups report duplicates instead of picking one.

use url::form_urlencoded;

pub(crate) struct Params(Vec<(String, String)>);

/// A parameter appeared more than once.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Repeated(pub &'static str);

impl Params {
    pub(crate) fn parse(input: &[u8]) -> Params {
        Params(form_urlencoded::parse(input).into_owned().collect())
    }

    /// The parameter's value; empty values count as absent.
    pub(crate) fn get(&self, name: &'static str) -> Result<Option<&str>, Repeated> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => Err(Repeated(name)),
            (Some(v), None) if !v.is_empty() => Ok(Some(v)),
            _ => Ok(None),
        }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The first repeated parameter, if any.
    pub(crate) fn first_repeated(&self) -> Option<&str> {
        self.0.iter().enumerate().find_map(|(i, (k, _))| {
            self.0[..i]
                .iter()
                .any(|(earlier, _)| earlier == k)
                .then_some(k.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_empty_parameters() {
        let p = Params::parse(b"a=1&b=&c=x+y%21&a=2");
        assert_eq!(p.get("a"), Err(Repeated("a")));
        assert_eq!(p.get("b"), Ok(None));
        assert_eq!(p.get("c"), Ok(Some("x y!")));
        assert_eq!(p.get("d"), Ok(None));
        assert!(p.contains("b"));
        assert_eq!(p.first_repeated(), Some("a"));
    }
}
