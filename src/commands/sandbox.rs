//! `fhirdl sandbox`: the embedded SMART on FHIR server in the foreground (over HTTPS with
//! `--tls`, its certificate written for `FHIRDL_CA_FILE`), and the hidden scripted browser the
//! tests use as `$BROWSER`.

use super::Ctx;
use crate::cli::{SandboxArgs, SandboxBrowserArgs};
use crate::error::{Failure, Kind};
use anyhow::{Context as _, Result};
use fhirdl_sandbox::browser::{sign_in_with, Choices, Consent};
use fhirdl_sandbox::{FhirFlavor, Sandbox, SandboxConfig};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Secret of the sandbox's confidential client (a test server on loopback; not a real secret).
pub const SANDBOX_CONFIDENTIAL: (&str, &str) = ("fhirdl-sandbox-confidential", "sandbox-secret");

pub async fn run(ctx: &Ctx, args: &SandboxArgs) -> Result<()> {
    let sandbox = Sandbox::start(config_of(args)).await.map_err(|e| {
        Failure::new(
            Kind::Usage,
            format!("cannot start the sandbox on 127.0.0.1:{}: {e:#}", args.port),
        )
        .hint("pick another --port, or --port 0 for a free one")
    })?;
    let ca_file = match sandbox.ca_pem() {
        Some(pem) => Some(write_ca_file(ctx, args, &pem)?),
        None => None,
    };
    let base = sandbox.fhir_base();
    let users = sandbox.users();
    let behaving = args
        .personality()
        .map(|ehr| format!(", behaving like {}", ehr.title()))
        .unwrap_or_default();
    let mut text = format!(
        "fhirdl sandbox (synthetic data, seed {}{behaving}) is running.\n\n  FHIR base:  {base}\n  client id:  {} (public)\n",
        args.seed,
        sandbox.config().public_client_id
    );
    if let Some(file) = &ca_file {
        text.push_str(&format!(
            "  TLS:        HTTP/2 and HTTP/1.1, self-signed certificate in {}\n",
            file.display()
        ));
    }
    if let Some((id, secret)) = &sandbox.config().confidential_client {
        text.push_str(&format!("  confidential client: {id}  secret: {secret}  (a test value, for this sandbox only)\n"));
    }
    if let Some(plan) = &sandbox.config().faults {
        text.push_str(&format!(
            "  faults:     {:.0} % of FHIR data requests (seed {})\n",
            plan.rate * 100.0,
            plan.seed
        ));
    }
    let latency = sandbox.config().quirks.latency;
    if !latency.is_zero() {
        text.push_str(&format!(
            "  latency:    {} ms before each answer\n",
            latency.as_millis()
        ));
    }
    text.push_str("\n  Test patients (portal logins):\n");
    for u in &users {
        text.push_str(&format!(
            "    {:<8} password {:<16} {} (Patient/{})\n",
            u.username, u.password, u.display_name, u.patient_id
        ));
    }
    // The certificate is new at each start: the login must trust this one.
    let trust = ca_file
        .as_ref()
        .map(|file| format!("{}={} ", crate::tls::CA_FILE_ENV, file.display()))
        .unwrap_or_default();
    let search_param = search_param_flag(sandbox.config());
    text.push_str(&format!(
        "\n  Try it in another terminal:\n    {trust}fhirdl login --profile sandbox --fhir-base {base} --client-id {} --credential-store file{search_param}\n\nPress Ctrl-C to stop.",
        sandbox.config().public_client_id
    ));
    ctx.ui.out(&text);
    ctx.ui.json_out(&json!({
        "fhir_base": base.as_str(),
        "ehr": args.personality().map(|e| e.name()),
        "client_id": sandbox.config().public_client_id,
        "confidential_client_id": sandbox.config().confidential_client.as_ref().map(|c| c.0.clone()),
        "ca_file": ca_file.as_ref().map(|f| f.display().to_string()),
        "latency_ms": latency.as_millis() as u64,
        "users": users.iter().map(|u| json!({
            "username": u.username, "password": u.password, "patient": u.patient_id, "name": u.display_name
        })).collect::<Vec<_>>(),
    }));
    let _ = tokio::signal::ctrl_c().await;
    ctx.ui.info("Stopping the sandbox.");
    sandbox.shutdown().await;
    Ok(())
}

/// ` --search-param name=value` for a sandbox that wants a parameter on every search
/// (athenahealth's `ah-practice`): the login example keeps it in the profile.
fn search_param_flag(config: &SandboxConfig) -> String {
    config
        .required_search_param()
        .map(|pair| format!(" --search-param {pair}"))
        .unwrap_or_default()
}

/// What the flags ask of the sandbox: the personality's setup (`--ehr`), then the flags.
fn config_of(args: &SandboxArgs) -> SandboxConfig {
    let mut base = args
        .personality()
        .map_or_else(SandboxConfig::default, SandboxConfig::for_ehr);
    base.quirks.latency = std::time::Duration::from_millis(args.latency_ms);
    SandboxConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], args.port)),
        seed: args.seed,
        flavor: if args.dstu2 {
            FhirFlavor::Dstu2
        } else if args.stu3 {
            FhirFlavor::Stu3
        } else {
            FhirFlavor::R4
        },
        smart_configuration: !args.dstu2,
        confidential_client: args.confidential.then(|| {
            (
                SANDBOX_CONFIDENTIAL.0.to_string(),
                SANDBOX_CONFIDENTIAL.1.to_string(),
            )
        }),
        resources_per_patient: args.resources,
        faults: args
            .fault_rate
            .map(|rate| fhirdl_sandbox::FaultPlan::transient(args.fault_seed, rate)),
        tls: args.tls,
        ..base
    }
}

/// Writes the TLS sandbox's certificate to `--ca-out` (or `<data dir>/sandbox-ca.pem`), 0600
/// and atomically, and returns the file's absolute path (what `FHIRDL_CA_FILE` should say).
fn write_ca_file(ctx: &Ctx, args: &SandboxArgs, pem: &str) -> Result<PathBuf> {
    let file = match &args.ca_out {
        Some(file) => crate::folder::absolute(file)?,
        None => ctx.settings.paths.data_dir.join("sandbox-ca.pem"),
    };
    crate::atomic::write_atomic(&file, pem.as_bytes()).with_context(|| {
        format!(
            "cannot write the sandbox's certificate to {}",
            file.display()
        )
    })?;
    Ok(file)
}

pub async fn browser(ctx: &Ctx, args: &SandboxBrowserArgs) -> Result<()> {
    let mut url = url::Url::parse(&args.url)?;
    if args.tamper_state {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "state" {
                    "tampered".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let consent = if args.deny {
        Consent::Deny
    } else {
        Consent::Allow
    };
    let choices = Choices {
        patient: args.patient.clone(),
        grant: (!args.grant.is_empty()).then(|| args.grant.join(" ")),
    };
    let outcome = sign_in_with(
        &url,
        &args.user,
        &args.password,
        consent,
        &choices,
        ctx.settings.extra_roots.certificates(),
    )
    .await?;
    if outcome.status >= 400 {
        anyhow::bail!("the last page answered HTTP {}", outcome.status);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: SandboxArgs,
    }

    fn args(flags: &[&str]) -> Result<SandboxArgs, clap::Error> {
        Wrap::try_parse_from(std::iter::once("sandbox").chain(flags.iter().copied()))
            .map(|w| w.args)
    }

    #[test]
    fn latency_is_added_to_the_chosen_behaviour() {
        let config = |flags: &[&str]| config_of(&args(flags).unwrap());
        assert!(config(&[]).quirks.latency.is_zero());
        let plain = config(&["--latency-ms", "120"]);
        assert_eq!(plain.quirks.latency, std::time::Duration::from_millis(120));
        let athena = config(&["--ehr", "athena"]);
        assert_eq!(
            search_param_flag(&athena),
            " --search-param ah-practice=Organization/a-1.Practice-195900"
        );
        assert_eq!(search_param_flag(&SandboxConfig::default()), "");
        let ecw = config(&["--ehr", "ecw"]);
        assert_eq!(ecw.quirks.rate_limit.map(|r| r.limit), Some(250));
        assert_eq!(ecw.access_token_ttl, std::time::Duration::from_secs(300));
        let nextgen = config(&["--nextgen", "--latency-ms", "50"]);
        assert_eq!(nextgen.quirks.latency, std::time::Duration::from_millis(50));
        let unchanged = fhirdl_sandbox::Quirks {
            latency: std::time::Duration::ZERO,
            ..nextgen.quirks
        };
        assert_eq!(
            format!("{unchanged:?}"),
            format!("{:?}", fhirdl_sandbox::Quirks::nextgen()),
            "--nextgen's behaviour stays as it was"
        );
        assert!(args(&["--latency-ms", "-5"]).is_err());
        let alias = config(&["--ehr", "nextgen"]);
        assert_eq!(
            format!("{:?}", alias.quirks),
            format!("{:?}", config(&["--nextgen"]).quirks)
        );
        let epic = config(&["--ehr", "epic", "--seed", "7"]);
        assert!(!epic.refresh_tokens_for_public_clients);
        assert_eq!(epic.seed, 7);
        assert!(args(&["--ehr", "nowhere"]).is_err());
        assert!(args(&["--ehr", "epic", "--dstu2"]).is_err());
        assert!(args(&["--latency-ms", "60001"]).is_err());
    }
}
