//! The loopback redirect listener of RFC 8252 and the parsing of authorization responses.
//!
//! fhirdl listens on 127.0.0.1 (and [::1] when the redirect host is `localhost`) on an ephemeral
//! or configured port. Only the redirect path counts; favicon and stray requests get a 404 and
//! are otherwise ignored. The first response on the redirect path ends the wait: a code with the
//! right `state` (and `iss`, when the server promised RFC 9207) is accepted, anything else ends
//! the sign-in with a clear error. The same checks apply to an address pasted with `--paste`.

use super::explain::{explain, Refusal, Sent, Stage};
use crate::error::{Failure, Kind};
use crate::secret::Secret;
use anyhow::Result;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
/// The host of the loopback redirect URI (`--redirect-host`).
pub enum RedirectHost {
    #[value(name = "127.0.0.1")]
    #[serde(rename = "127.0.0.1")]
    Ipv4Loopback,
    #[value(name = "localhost")]
    #[serde(rename = "localhost")]
    Localhost,
}

impl RedirectHost {
    pub fn as_str(self) -> &'static str {
        match self {
            RedirectHost::Ipv4Loopback => "127.0.0.1",
            RedirectHost::Localhost => "localhost",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
/// The redirect URI a profile uses: host, port (0: ephemeral) and path.
pub struct RedirectSettings {
    pub host: RedirectHost,
    /// 0 means an ephemeral port chosen at each login.
    pub port: u16,
    pub path: String,
    /// A registered redirect URI that is not this computer's loopback listener (an https page
    /// or a private-use scheme, `login --redirect-uri`): the user pastes where it landed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

impl Default for RedirectSettings {
    fn default() -> Self {
        RedirectSettings {
            host: RedirectHost::Ipv4Loopback,
            port: 0,
            path: "/callback".into(),
            uri: None,
        }
    }
}

impl RedirectSettings {
    /// The redirect URI for a concrete port.
    pub fn uri(&self, port: u16) -> String {
        format!("http://{}:{}{}", self.host.as_str(), port, self.path)
    }

    /// How the redirect URI will look, for display (`<port>` when ephemeral).
    pub fn display(&self) -> String {
        if let Some(uri) = &self.uri {
            return uri.clone();
        }
        if self.port == 0 {
            format!(
                "http://{}:<ephemeral port>{}",
                self.host.as_str(),
                self.path
            )
        } else {
            self.uri(self.port)
        }
    }
}

/// The query parameters of an authorization response.
#[derive(Debug, Default, Clone)]
pub struct CallbackParams {
    pub code: Option<Secret>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Parses the query string of an authorization response. Never fails: missing values are `None`.
pub fn parse_callback(query: &str) -> CallbackParams {
    let mut p = CallbackParams::default();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "code" if p.code.is_none() => p.code = Some(Secret::new(v)),
            "state" if p.state.is_none() => p.state = Some(v),
            "iss" if p.iss.is_none() => p.iss = Some(v),
            "error" if p.error.is_none() => p.error = Some(v),
            "error_description" if p.error_description.is_none() => p.error_description = Some(v),
            _ => {}
        }
    }
    p
}

/// Parses what the user pasted with `--paste`: the full address the browser landed on, or just
/// its query string.
pub fn parse_pasted(input: &str) -> Result<CallbackParams> {
    let input = input.trim();
    let query = if let Ok(url) = Url::parse(input) {
        url.query().unwrap_or("").to_string()
    } else {
        input.trim_start_matches('?').to_string()
    };
    let params = parse_callback(&query);
    if params.code.is_none() && params.error.is_none() {
        return Err(Failure::new(
            Kind::LoginFailed,
            "the pasted text is not the address of a sign-in response (it has no 'code' or 'error')",
        )
        .hint("copy the whole address from the browser's address bar after signing in; it starts with the redirect URI")
        .into());
    }
    Ok(params)
}

/// What the authorization response must match.
#[derive(Debug, Clone)]
pub struct Expected {
    pub state: String,
    /// The issuer, when the server advertised `authorization_response_iss_parameter_supported`.
    pub iss: Option<String>,
}

/// Checks an authorization response and returns the code. An error answer (once its `state`
/// shows it belongs to this login) is explained against what was `sent`.
pub fn check_callback(
    params: &CallbackParams,
    expected: &Expected,
    sent: &Sent<'_>,
) -> Result<Secret> {
    if params.state.as_deref() != Some(expected.state.as_str()) {
        let why = if params.state.is_none() {
            "has no 'state'"
        } else {
            "has the wrong 'state'"
        };
        return Err(Failure::new(
            Kind::LoginFailed,
            format!("the sign-in response {why}: it does not belong to this login, so it was refused"),
        )
        .hint("start the sign-in again with `fhirdl login`; if this repeats, another program may be interfering")
        .into());
    }
    if let Some(error) = &params.error {
        let refusal = Refusal {
            stage: Stage::Authorize,
            error: Some(error),
            description: params.error_description.as_deref(),
            status: None,
        };
        return Err(explain(&refusal, sent).into_error(sent.profile));
    }
    if let (Some(want), got) = (&expected.iss, &params.iss) {
        if got.as_deref() != Some(want.as_str()) {
            return Err(Failure::new(
                Kind::LoginFailed,
                format!(
                    "the sign-in response came from an unexpected issuer ({}; expected {want}), so it was refused",
                    got.as_deref().map(crate::sanitize::clean).unwrap_or_else(|| "none".into())
                ),
            )
            .hint("this can be a mix-up attack (RFC 9207); sign in again and check the address you use")
            .into());
        }
    }
    match &params.code {
        Some(code) if !code.expose().is_empty() => Ok(code.clone()),
        _ => Err(Failure::new(
            Kind::LoginFailed,
            "the sign-in response carries no authorization code",
        )
        .into()),
    }
}

/// A bound loopback listener, not yet serving.
pub struct Loopback {
    listeners: Vec<TcpListener>,
    port: u16,
    host: RedirectHost,
    path: String,
}

impl Loopback {
    /// Binds 127.0.0.1 (and [::1] for `localhost`) on `port` (0: ephemeral).
    pub async fn bind(host: RedirectHost, port: u16, path: &str) -> Result<Loopback> {
        let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(|e| {
                let mut f = Failure::new(
                    Kind::LoginFailed,
                    format!("cannot listen for the sign-in redirect on 127.0.0.1:{port}: {e}"),
                );
                if port != 0 {
                    f = f.hint(format!(
                        "another program is using port {port}; close it, or use the --port your app registration names"
                    ));
                }
                f
            })?;
        let port = v4.local_addr()?.port();
        let mut listeners = vec![v4];
        if host == RedirectHost::Localhost {
            // `localhost` may resolve to ::1 in the browser; listen there too when possible.
            if let Ok(v6) = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
                listeners.push(v6);
            }
        }
        Ok(Loopback {
            listeners,
            port,
            host,
            path: path.to_string(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://{}:{}{}", self.host.as_str(), self.port, self.path)
    }

    /// Serves until the first response on the redirect path arrives; returns its parameters.
    /// The server keeps answering (stray requests, a second callback) until it is dropped.
    pub fn serve(self) -> Waiting {
        let (tx, rx) = oneshot::channel();
        let state = Arc::new(ListenerState {
            path: self.path.clone(),
            sender: Mutex::new(Some(tx)),
        });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for listener in self.listeners {
            let app = axum::Router::new()
                .fallback(handle)
                .with_state(state.clone());
            let mut stop = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await;
            }));
        }
        Waiting {
            rx,
            tasks,
            stop: stop_tx,
        }
    }
}

/// A serving listener; dropping it stops the server at once, [`Waiting::finish`] gracefully.
pub struct Waiting {
    rx: oneshot::Receiver<CallbackParams>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Waiting {
    /// Waits for the callback (no timeout; the caller adds one).
    pub async fn callback(&mut self) -> Result<CallbackParams> {
        (&mut self.rx)
            .await
            .map_err(|_| anyhow::anyhow!("the sign-in listener stopped unexpectedly"))
    }

    /// Stops serving after the answers in flight (the browser's "you may close this tab" page)
    /// were sent, waiting at most one second.
    pub async fn finish(mut self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut self.tasks);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await;
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

struct ListenerState {
    path: String,
    sender: Mutex<Option<oneshot::Sender<CallbackParams>>>,
}

async fn handle(State(state): State<Arc<ListenerState>>, uri: Uri) -> Response {
    if uri.path() != state.path {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let params = parse_callback(uri.query().unwrap_or(""));
    let sender = state.sender.lock().ok().and_then(|mut s| s.take());
    let Some(sender) = sender else {
        return page(
            StatusCode::CONFLICT,
            "Already done",
            "This sign-in was already completed. You may close this tab.",
        );
    };
    let failed = params.error.is_some() || params.code.is_none();
    let description = params
        .error_description
        .as_deref()
        .or(params.error.as_deref())
        .map(crate::sanitize::clean)
        .unwrap_or_else(|| "no authorization code was received".into());
    let _ = sender.send(params);
    if failed {
        page(
            StatusCode::OK,
            "Sign-in failed",
            &format!(
                "The provider said: {}. Return to the terminal for details.",
                escape(&description)
            ),
        )
    } else {
        page(
            StatusCode::OK,
            "Signed in",
            "fhirdl received the sign-in. You may close this tab and return to the terminal.",
        )
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>fhirdl: {title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em}}</style>\
         </head><body><h1>{title}</h1><p>{text}</p></body></html>"
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(body),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_forms() {
        let r = RedirectSettings::default();
        assert_eq!(r.uri(5000), "http://127.0.0.1:5000/callback");
        assert!(r.display().contains("<ephemeral port>"));
    }

    const SENT: Sent<'static> = Sent {
        profile: "p",
        client_id: "app",
        redirect_uri: Some("http://127.0.0.1:1/callback"),
        requested_scope: "patient/*.rs",
        proof: crate::auth::explain::ClientProof::Public,
    };

    fn expected() -> Expected {
        Expected {
            state: "S1".into(),
            iss: None,
        }
    }

    #[test]
    fn accepts_matching_state() {
        let p = parse_callback("code=abc&state=S1");
        assert_eq!(
            check_callback(&p, &expected(), &SENT).unwrap().expose(),
            "abc"
        );
    }

    #[test]
    fn refuses_wrong_or_missing_state() {
        for q in ["code=abc&state=S2", "code=abc", "code=abc&state="] {
            let err = check_callback(&parse_callback(q), &expected(), &SENT).unwrap_err();
            assert_eq!(crate::exit::exit_code(&err), 5, "{q}");
            assert!(!format!("{err:#}").contains("abc"));
        }
    }

    #[test]
    fn server_error_is_explained() {
        let p = parse_callback(
            "error=access_denied&error_description=The+patient+denied+access&state=S1",
        );
        let err = check_callback(&p, &expected(), &SENT).unwrap_err();
        assert!(err.to_string().contains("denied"), "{err}");
        assert!(crate::exit::hint_of(&err).unwrap().contains("Allow"));
    }

    #[test]
    fn issuer_is_checked_when_promised() {
        let e = Expected {
            state: "S1".into(),
            iss: Some("https://as.example".into()),
        };
        assert!(check_callback(
            &parse_callback("code=c&state=S1&iss=https%3A%2F%2Fas.example"),
            &e,
            &SENT
        )
        .is_ok());
        assert!(check_callback(
            &parse_callback("code=c&state=S1&iss=https%3A%2F%2Fevil"),
            &e,
            &SENT
        )
        .is_err());
        assert!(check_callback(&parse_callback("code=c&state=S1"), &e, &SENT).is_err());
    }

    #[test]
    fn pasted_forms() {
        let p = parse_pasted(" http://127.0.0.1:5000/callback?code=c1&state=S1 \n").unwrap();
        assert_eq!(p.code.unwrap().expose(), "c1");
        let p = parse_pasted("?code=c2&state=S1").unwrap();
        assert_eq!(p.state.as_deref(), Some("S1"));
        assert!(parse_pasted("hello").is_err());
        assert!(parse_pasted("").is_err());
    }

    #[test]
    fn odd_queries_do_not_panic() {
        for q in [
            "",
            "&&&",
            "=",
            "code",
            "%zz=%",
            "state=%E2%82",
            "code=a&code=b&state=S1",
        ] {
            let _ = check_callback(&parse_callback(q), &expected(), &SENT);
        }
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }

    #[tokio::test]
    async fn listener_takes_one_callback_and_ignores_strays() {
        let lb = Loopback::bind(RedirectHost::Ipv4Loopback, 0, "/callback")
            .await
            .unwrap();
        let uri = lb.redirect_uri();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"));
        let base = format!("http://127.0.0.1:{}", lb.port());
        let mut waiting = lb.serve();
        let client = reqwest::Client::new();
        let stray = client
            .get(format!("{base}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(stray.status(), 404);
        let ok = client
            .get(format!("{base}/callback?code=c&state=S1"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.text().await.unwrap().contains("close this tab"));
        let second = client
            .get(format!("{base}/callback?code=d&state=S1"))
            .send()
            .await
            .unwrap();
        assert_eq!(second.status(), 409);
        let p = waiting.callback().await.unwrap();
        assert_eq!(p.code.unwrap().expose(), "c");
    }
}
