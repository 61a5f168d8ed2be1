//! Signing in: SMART discovery, scopes, the loopback login, tokens, and where they are kept.

pub mod browser;
pub mod client_key;
pub mod credentials;
pub mod discovery;
mod error;
pub mod explain;
pub mod id_token;
pub mod login;
pub mod loopback;
pub mod oauth;
pub mod registration;
pub mod scopes;
pub mod session;
pub mod store;

pub use error::{unless_login_required, Error};
