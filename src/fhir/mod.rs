//! Talking FHIR with a signed-in session: the client (origin guard, bearer, refresh on 401,
//! retries), its retry policy, the request-rate cap and the differences between FHIR releases.

pub mod client;
mod error;
pub mod rate;
pub mod retry;
pub mod version;
pub mod window;

pub use error::Error;
