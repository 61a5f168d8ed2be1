//! A scripted user in a browser, for tests and demos: opens the authorize URL, fills in the
//! sandbox's login form, answers the consent page and follows the redirect back to the app.
//!
//! It understands the sandbox's own HTML only (simple forms, quoted attributes); it is not an
//! HTML parser.

use std::time::Duration;

use anyhow::{bail, Context as _};
use reqwest::redirect::Policy;
use reqwest::{Client, RequestBuilder};
use rustls::pki_types::CertificateDer;
use url::Url;

/// The answer on the consent page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    Allow,
    Deny,
}

/// The last response the browser saw.
#[derive(Clone, Debug)]
pub struct BrowserOutcome {
    pub final_url: Url,
    pub status: u16,
    pub body: String,
}

const MAX_REDIRECTS: usize = 10;

/// Acts like a user in a browser: GET the authorize URL, fill the HTML login form, submit,
/// press Allow/Deny on the consent page, then follow the final 302 to the app's redirect URI
/// (a GET to the app's loopback listener) and return that last response. Uses its own reqwest
/// client with redirects disabled, following Location headers manually (max 10).
///
/// When the server answers without a login form (auto-login, an error redirect) the redirects
/// are simply followed. When the credentials are refused, the returned outcome is the login
/// page with its error message (status 200), and nothing is sent to the app.
pub async fn sign_in(
    authorize_url: &Url,
    username: &str,
    password: &str,
    consent: Consent,
) -> anyhow::Result<BrowserOutcome> {
    sign_in_with(
        authorize_url,
        username,
        password,
        consent,
        &Choices::default(),
        &[],
    )
    .await
}

/// What the user picks on the consent page besides Allow or Deny.
#[derive(Clone, Debug, Default)]
pub struct Choices {
    /// The patient a proxy acts for (`None`: the page's first).
    pub patient: Option<String>,
    /// Grant only these scopes, space separated (`None`: all offered).
    pub grant: Option<String>,
}

/// [`sign_in`] with choices made on the consent page, trusting the certificates `extra_roots`
/// (DER) besides the built-in roots: a sandbox serving HTTPS (`Sandbox::ca_pem`).
pub async fn sign_in_with(
    authorize_url: &Url,
    username: &str,
    password: &str,
    consent: Consent,
    choices: &Choices,
    extra_roots: &[CertificateDer<'static>],
) -> anyhow::Result<BrowserOutcome> {
    let mut builder = Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30));
    for cert in extra_roots {
        let cert = reqwest::Certificate::from_der(cert.as_ref())
            .context("a certificate to trust that reqwest refuses")?;
        builder = builder.add_root_certificate(cert);
    }
    let client = builder
        .build()
        .context("building the browser's HTTP client")?;
    let mut page = navigate(&client, client.get(authorize_url.clone()), authorize_url).await?;

    if page.status == 200 && has_named(&page.body, "input", "password") {
        let form = Form::find(&page.body, &page.final_url)?;
        let mut fields = form.hidden;
        fields.push(("username".to_owned(), username.to_owned()));
        fields.push(("password".to_owned(), password.to_owned()));
        page = navigate(
            &client,
            client.post(form.action.clone()).form(&fields),
            &form.action,
        )
        .await?;
        if has_named(&page.body, "input", "password") {
            return Ok(page);
        }
    }
    if page.status == 200 && has_named(&page.body, "button", "decision") {
        let form = Form::find(&page.body, &page.final_url)?;
        let mut fields = form.hidden;
        let decision = match consent {
            Consent::Allow => "allow",
            Consent::Deny => "deny",
        };
        fields.push(("decision".to_owned(), decision.to_owned()));
        if let Some(patient) = &choices.patient {
            fields.push(("patient".to_owned(), patient.clone()));
        }
        if let Some(grant) = &choices.grant {
            fields.push(("grant".to_owned(), grant.clone()));
        }
        page = navigate(
            &client,
            client.post(form.action.clone()).form(&fields),
            &form.action,
        )
        .await?;
    }
    Ok(page)
}

/// Sends `request` and follows up to ten redirects with GETs.
async fn navigate(
    client: &Client,
    request: RequestBuilder,
    url: &Url,
) -> anyhow::Result<BrowserOutcome> {
    let mut url = url.clone();
    let mut response = request
        .send()
        .await
        .with_context(|| format!("browser request to {url} failed"))?;
    for _ in 0..MAX_REDIRECTS {
        if !response.status().is_redirection() {
            let status = response.status().as_u16();
            let body = response
                .text()
                .await
                .with_context(|| format!("reading the page at {url}"))?;
            return Ok(BrowserOutcome {
                final_url: url,
                status,
                body,
            });
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .with_context(|| format!("redirect from {url} has no usable Location"))?;
        url = url
            .join(location)
            .with_context(|| format!("redirect from {url} to an invalid URL {location:?}"))?;
        response = client
            .get(url.clone())
            .send()
            .await
            .with_context(|| format!("browser request to {url} failed"))?;
    }
    bail!("more than {MAX_REDIRECTS} redirects, last to {url}")
}

/// The first form of a page: where it posts and its hidden fields.
struct Form {
    action: Url,
    hidden: Vec<(String, String)>,
}

impl Form {
    fn find(html: &str, page_url: &Url) -> anyhow::Result<Form> {
        let form = tags(html, "form")
            .into_iter()
            .next()
            .with_context(|| format!("the page at {page_url} has no form"))?;
        let action = attribute(form, "action").unwrap_or_default();
        let action = page_url
            .join(&action)
            .with_context(|| format!("the form action {action:?} is not a valid URL"))?;
        let hidden = tags(html, "input")
            .iter()
            .filter(|tag| attribute(tag, "type").as_deref() == Some("hidden"))
            .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
            .collect();
        Ok(Form { action, hidden })
    }
}

fn has_named(html: &str, tag: &str, name: &str) -> bool {
    tags(html, tag)
        .iter()
        .any(|t| attribute(t, "name").as_deref() == Some(name))
}

/// The attribute text of every `<tag …>` in `html`.
fn tags<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find('>') else { break };
        if after.starts_with(|c: char| c.is_whitespace() || c == '>') {
            found.push(&after[..end]);
        }
        rest = &after[end..];
    }
    found
}

/// The unescaped value of `name="…"` (or single-quoted) in a tag's attribute text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    loop {
        let at = rest.find(name)?;
        let before_ok = rest[..at]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let after = rest[at + name.len()..].trim_start();
        rest = &rest[at + name.len()..];
        let Some(value) = after.strip_prefix('=').map(str::trim_start) else {
            continue;
        };
        if !before_ok {
            continue;
        }
        let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let value = &value[1..];
        let end = value.find(quote)?;
        return Some(unescape(&value[..end]));
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<form method="post" action="/oauth/authorize">
        <input type="hidden" name="txn" value="a&amp;b">
        <input type="text" name="username" autocomplete="username">
        <input type="password" name="password">
        <button name="decision" value="allow">Allow</button></form>"#;

    #[test]
    fn finds_the_form_and_hidden_fields() {
        let url = Url::parse("http://127.0.0.1:1/oauth/authorize?x=1").unwrap();
        let form = Form::find(PAGE, &url).unwrap();
        assert_eq!(form.action.as_str(), "http://127.0.0.1:1/oauth/authorize");
        assert_eq!(form.hidden, vec![("txn".to_owned(), "a&b".to_owned())]);
        assert!(has_named(PAGE, "input", "password"));
        assert!(has_named(PAGE, "button", "decision"));
        assert!(!has_named(PAGE, "input", "decision"));
    }

    #[test]
    fn attribute_names_must_match_whole_words() {
        assert_eq!(
            attribute(r#" data-name="x" name="y""#, "name").as_deref(),
            Some("y")
        );
        assert_eq!(attribute(r#" name='z'"#, "name").as_deref(), Some("z"));
        assert_eq!(attribute(r#" name=unquoted"#, "name"), None);
        assert!(Form::find("<p>no form</p>", &Url::parse("http://x/").unwrap()).is_err());
    }
}
