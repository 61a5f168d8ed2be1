//! FHIR answers a caller decides on.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered `what` (a read or a search) with an error status, after retries;
    /// `outcome` is the OperationOutcome's text when it sent one.
    #[error("{what}: the server answered HTTP {status}{}", outcome.as_deref().map(|t| format!(": {t}")).unwrap_or_default())]
    Refused {
        what: String,
        status: u16,
        outcome: Option<String>,
    },
}

impl Error {
    /// The HTTP status of a refusal anywhere in `err`'s chain.
    pub fn status_of(err: &anyhow::Error) -> Option<u16> {
        err.chain().find_map(|e| {
            e.downcast_ref::<Error>()
                .map(|Error::Refused { status, .. }| *status)
        })
    }
}
