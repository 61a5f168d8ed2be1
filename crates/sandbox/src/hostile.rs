//! A hostile server: answers no honest FHIR server gives, for tests of fhirdl's defences.
//! [`Hostile`] sits in [`crate::quirks::Quirks::hostile`]; everything is off by default. The search
//! handler (`search`), the Bundle writer (`bundle`), the token endpoint (`token`) and the
//! authorization redirect (`authorize`) consult it. (Transport faults such as resets and
//! timeouts are the fault injector's business, not this module's.)

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Hostile behaviours, each off by default.
#[derive(Clone, Debug, Default)]
pub struct Hostile {
    /// `(type, raw resource)`: appended as they are, unchecked, to the first page of every
    /// search of `type` (ids with `../` or NUL, resources of another type or another patient,
    /// attachments pointing anywhere).
    pub inject: Vec<(String, Value)>,
    /// `(type, link)`: the last page of searches of `type` links `next` to this place.
    pub next_link: Option<(String, HostileLink)>,
    /// Searches of this type page forever: every page, even past the end, has a `next` link to
    /// the following (empty) page.
    pub endless_paging: Option<String>,
    /// `(type, answer)`: searches of `type` get this answer instead (after the token check).
    pub answer: Option<(String, HostileAnswer)>,
    /// The token response carries neither `patient` nor an `id_token` naming one (a proxy's
    /// id_token, which names a RelatedPerson, is still sent).
    pub token_without_patient: bool,
    /// The authorization response's RFC 9207 `iss` names another issuer.
    pub wrong_iss: bool,
    /// The id_token of a code exchange is spoiled this way.
    pub id_token: Option<IdTokenFault>,
    /// `(type, id, text)`: the stored resource `type/id` is sent as this text instead, in
    /// searches and reads (legal JSON fhirdl's parser refuses, another patient's subject…).
    pub replace: Vec<(String, String, String)>,
    /// Every FHIR request is refused with 401 whatever its token, while the token endpoint
    /// goes on refreshing: a server that never accepts what it issues.
    pub refuse_every_token: bool,
}

/// One way an id_token fails OpenID Connect Core 3.1.3.7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdTokenFault {
    /// `iss` is another issuer.
    WrongIssuer,
    /// `aud` is another client.
    WrongAudience,
    /// `exp` passed an hour ago.
    Expired,
    /// `nonce` is not the one of the authorization request.
    WrongNonce,
    /// The payload was changed after signing.
    BadSignature,
    /// Signed with a key the JWKS does not publish (an unknown `kid`).
    UnpublishedKey,
    /// No id_token at all, although `openid` was granted.
    Omitted,
}

/// Where a hostile `next` link points.
#[derive(Clone, Debug)]
pub enum HostileLink {
    /// Any URL: another origin, `file:`, …
    Url(String),
    /// Back to the first page of the same search: a loop.
    FirstPage,
}

/// A raw answer to a search.
#[derive(Clone, Debug)]
pub struct HostileAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: HostileBody,
}

#[derive(Clone, Debug)]
pub enum HostileBody {
    Bytes(Arc<Vec<u8>>),
    /// `prefix`, then `fill` repeated until `len` bytes were sent, streamed in 64 KiB chunks
    /// (never held in memory): a body of gigabytes.
    Endless {
        prefix: Vec<u8>,
        fill: u8,
        len: u64,
    },
}

impl Hostile {
    pub(crate) fn answer_for(&self, resource_type: &str) -> Option<Response> {
        let (ty, answer) = self.answer.as_ref()?;
        (ty == resource_type).then(|| answer.response())
    }

    pub(crate) fn injected<'a>(
        &'a self,
        resource_type: &'a str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.inject
            .iter()
            .filter(move |(t, _)| t == resource_type)
            .map(|(_, v)| v)
    }

    /// The text `type/id` is sent as instead of its own, if [`Hostile::replace`] says so.
    pub(crate) fn replaced(&self, resource_type: &str, id: &str) -> Option<&str> {
        self.replace
            .iter()
            .find(|(t, i, _)| t == resource_type && i == id)
            .map(|(_, _, text)| text.as_str())
    }

    pub(crate) fn pages_forever(&self, resource_type: &str) -> bool {
        self.endless_paging.as_deref() == Some(resource_type)
    }

    pub(crate) fn next_link_for(&self, resource_type: &str) -> Option<&HostileLink> {
        self.next_link
            .as_ref()
            .filter(|(t, _)| t == resource_type)
            .map(|(_, l)| l)
    }
}

impl HostileAnswer {
    fn response(&self) -> Response {
        let body = match &self.body {
            HostileBody::Bytes(b) => Body::from(b.as_ref().clone()),
            HostileBody::Endless { prefix, fill, len } => {
                const CHUNK: u64 = 64 * 1024;
                let (prefix, fill, len) = (prefix.clone(), *fill, *len);
                let stream = futures_util::stream::unfold(0u64, move |sent| {
                    let prefix = prefix.clone();
                    async move {
                        if sent >= len {
                            return None;
                        }
                        let n = CHUNK.min(len - sent);
                        let mut chunk = vec![fill; n as usize];
                        if sent == 0 {
                            let k = prefix.len().min(chunk.len());
                            chunk[..k].copy_from_slice(&prefix[..k]);
                        }
                        Some((Ok::<_, std::io::Error>(chunk), sent + n))
                    }
                });
                Body::from_stream(stream)
            }
        };
        let mut response = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK),
            body,
        )
            .into_response();
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                response.headers_mut().insert(n, v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn endless_bodies_are_streamed_to_their_length() {
        let answer = HostileAnswer {
            status: 200,
            headers: vec![("content-type".into(), "application/fhir+json".into())],
            body: HostileBody::Endless {
                prefix: b"[[".to_vec(),
                fill: b' ',
                len: 200_000,
            },
        };
        let response = answer.response();
        assert_eq!(response.headers()["content-type"], "application/fhir+json");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(bytes.len(), 200_000);
        assert!(bytes.starts_with(b"[[ "));
    }

    #[test]
    fn off_by_default() {
        let h = Hostile::default();
        assert!(h.answer_for("Observation").is_none());
        assert_eq!(h.injected("Observation").count(), 0);
        assert!(!h.pages_forever("Observation"));
        assert!(h.next_link_for("Observation").is_none());
    }
}
