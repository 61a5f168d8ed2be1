//! Talking FHIR with a signed-in session: the client (origin guard, bearer, refresh on 401,
//! retries), its retry policy and the request-rate cap.

pub mod client;
pub mod rate;
pub mod retry;
pub mod window;
