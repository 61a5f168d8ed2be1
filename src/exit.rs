//! The one mapping from an error to the exit code the README documents, and the hint printed
//! under it. Typed errors of every layer ([`crate::error::Failure`], [`crate::auth::Error`],
//! [`crate::fhir::Error`], [`crate::sync::Error`], [`crate::verify::Error`]) are found anywhere in an error's chain;
//! file-system refusals and network failures by their `std::io` and `reqwest` errors.

use crate::error::{failure_of, is_storage_error, Kind, EXIT_OTHER, STORAGE_HINT};

/// The exit code for `err`.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    kind_of(err).map_or(EXIT_OTHER, Kind::exit_code)
}

/// The kind of failure `err` is, when it is one the README documents.
pub fn kind_of(err: &anyhow::Error) -> Option<Kind> {
    if let Some(f) = failure_of(err) {
        return Some(f.kind);
    }
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<crate::auth::Error>() {
            return Some(match e {
                crate::auth::Error::LoginRequired { .. } => Kind::LoginRequired,
            });
        }
        if let Some(e) = cause.downcast_ref::<crate::sync::Error>() {
            return Some(match e {
                crate::sync::Error::Locked { .. } => Kind::Locked,
                crate::sync::Error::Storage { .. } => Kind::Storage,
                crate::sync::Error::Partial { .. } => Kind::Partial,
            });
        }
        if let Some(crate::verify::Error::Damaged { .. }) = cause.downcast_ref() {
            return Some(Kind::Damaged);
        }
        if let Some(crate::fhir::Error::Refused { status, .. }) =
            cause.downcast_ref::<crate::fhir::Error>()
        {
            return Some(if *status == 401 {
                Kind::LoginRequired
            } else {
                Kind::Network
            });
        }
    }
    if is_storage_error(err) {
        return Some(Kind::Storage);
    }
    if err
        .chain()
        .any(|e| e.downcast_ref::<reqwest::Error>().is_some())
    {
        return Some(Kind::Network);
    }
    None
}

/// The hint to show under an error, if any: the first one in the chain.
pub fn hint_of(err: &anyhow::Error) -> Option<String> {
    if let Some(h) = failure_of(err).and_then(|f| f.hint.clone()) {
        return Some(h);
    }
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<crate::auth::Error>() {
            return Some(e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::sync::Error>() {
            return Some(e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::verify::Error>() {
            return Some(e.hint());
        }
    }
    if is_storage_error(err) {
        return Some(STORAGE_HINT.into());
    }
    if let Some(refused) = crate::tls::refused_certificate_of(err) {
        return Some(refused.hint().into());
    }
    if let Some(e) = err.chain().find_map(|e| e.downcast_ref::<reqwest::Error>()) {
        if e.is_connect() {
            return Some(
                "check the address and your network connection; `fhirdl -v …` shows each request"
                    .into(),
            );
        }
        if e.is_timeout() {
            return Some("the server did not answer in time; try again later".into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Failure;
    use anyhow::Context;

    #[test]
    fn exit_codes_are_found_through_context() {
        let err = anyhow::Error::from(crate::auth::Error::login_required(
            "work",
            "refresh token expired",
        ))
        .context("reading Patient");
        assert_eq!(exit_code(&err), 4);
        assert_eq!(
            hint_of(&err).as_deref(),
            Some("run: fhirdl login --profile work")
        );
        let plain: anyhow::Result<()> = Err(anyhow::anyhow!("boom")).context("x");
        assert_eq!(exit_code(&plain.unwrap_err()), 1);
        let full: anyhow::Result<()> =
            Err(std::io::Error::from(std::io::ErrorKind::StorageFull)).context("cannot write x");
        let full = full.unwrap_err();
        assert_eq!(exit_code(&full), 10);
        assert!(hint_of(&full).unwrap().contains("free some space"));
        let usage = anyhow::Error::from(Failure::new(Kind::Usage, "bad").hint("do this"));
        assert_eq!(
            (exit_code(&usage), hint_of(&usage).as_deref()),
            (2, Some("do this"))
        );
    }

    #[test]
    fn typed_errors_of_every_layer() {
        let locked = anyhow::Error::from(crate::sync::Error::Locked { dir: "/x".into() });
        assert_eq!(exit_code(&locked), 8);
        assert!(crate::sync::Error::is_locked(&locked));
        assert!(hint_of(&locked).unwrap().contains("--wait"));
        let refused = |status| {
            anyhow::Error::from(crate::fhir::Error::Refused {
                what: "Patient/1".into(),
                status,
                outcome: None,
            })
        };
        assert_eq!(exit_code(&refused(500)), 6);
        assert_eq!(exit_code(&refused(401)), 4);
        assert_eq!(crate::fhir::Error::status_of(&refused(400)), Some(400));
        let partial = anyhow::Error::from(crate::sync::Error::Partial {
            summary: "1 of 2 types failed".into(),
            hint: "again".into(),
        });
        assert_eq!(
            (exit_code(&partial), hint_of(&partial).as_deref()),
            (3, Some("again"))
        );
    }
}
