//! `stampede ctl URL ACTION`: steer a run started with `--control` from the shell, through its
//! dashboard's `POST /api/control` (the token from `--token` or `STAMPEDE_CONTROL_TOKEN`).

use std::time::Duration;

use crate::cli::{CtlArgs, Outcome};
use crate::error::PlanError;
use crate::http::client::Endpoint;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The JSON body for `action` (and its value), or why the command line is wrong.
fn body(args: &CtlArgs) -> Result<Option<serde_json::Value>, PlanError> {
    let bad = |m: String| PlanError::Invalid(m);
    let number = |what: &str| -> Result<f64, PlanError> {
        let v =
            args.value.as_deref().ok_or_else(|| bad(format!("ctl {what} needs a value, e.g. ctl URL {what} 300")))?;
        v.parse::<f64>().ok().filter(|n| n.is_finite()).ok_or_else(|| bad(format!("ctl {what}: `{v}` is not a number")))
    };
    let mut b = serde_json::Map::new();
    match args.action.as_str() {
        "status" | "pause" | "resume" | "stop" if args.value.is_some() => {
            return Err(bad(format!("ctl {} takes no value", args.action)));
        }
        "status" => return Ok(None),
        "pause" | "resume" | "stop" => {
            b.insert("action".into(), args.action.clone().into());
            return Ok(Some(b.into()));
        }
        what @ ("users" | "rate") => {
            b.insert(what.into(), number(what)?.into());
        }
        other => {
            return Err(bad(format!("ctl: unknown action `{other}` (users, rate, pause, resume, stop, status)")));
        }
    }
    if let Some(s) = &args.scenario {
        b.insert("scenario".into(), s.clone().into());
    }
    if let Some(o) = &args.over {
        crate::units::parse_duration(o).map_err(|e| bad(format!("--over `{o}`: {e}")))?;
        b.insert("over".into(), o.clone().into());
    }
    Ok(Some(b.into()))
}

pub fn run(args: CtlArgs) -> anyhow::Result<Outcome> {
    let url = url::Url::parse(&args.url).ok().filter(|u| u.scheme() == "http" && u.host_str().is_some()).ok_or_else(
        || PlanError::Invalid(format!("ctl: `{}` is not the dashboard's URL, e.g. http://127.0.0.1:5665", args.url)),
    )?;
    let body = body(&args)?;
    let endpoint = Endpoint::new(url);
    let answer = match &body {
        None => endpoint.get(Some("/api/control"), TIMEOUT),
        Some(b) => {
            let token = args.token.clone().or_else(|| std::env::var("STAMPEDE_CONTROL_TOKEN").ok()).unwrap_or_default();
            let auth = format!("Bearer {token}");
            let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
            endpoint.request("POST", Some("/api/control"), &headers, b.to_string().as_bytes(), TIMEOUT)
        }
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot reach the run at {}: {e}", endpoint.shown);
            return Ok(Outcome::Unreachable);
        }
    };
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    if answer.status == 200 {
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
        return Ok(Outcome::Ok);
    }
    let why = json["error"].as_str().map(str::to_string).unwrap_or_else(|| answer.text());
    eprintln!("refused (HTTP {}): {why}", answer.status);
    Ok(Outcome::ThresholdsFailed)
}
