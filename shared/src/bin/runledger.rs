//! `runledger`: operator command line. Today it manages API keys:
//!
//!   runledger key create --project P [--name N]   prints the new key (shown once) on stdout
//!   runledger key list --project P                 one JSON line per key, without secrets
//!   runledger key revoke --key-id ID
//!   runledger key rotate --key-id ID               prints the replacement key; revokes the old one
//!
//! Endpoint, region and credentials come from the standard AWS environment; the table from TABLE_NAME.

use runledger::apikeys::KeyAdmin;
use std::process::ExitCode;

const USAGE: &str = "usage: runledger key create --project P [--name N] | key list --project P | key revoke --key-id ID | key rotate --key-id ID";

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = runledger::config::Settings {
        table_name: std::env::var("TABLE_NAME").unwrap_or_else(|_| "runledger".into()),
        ..runledger::config::Settings::defaults()
    };
    let clients = runledger::aws::clients(&settings).await;
    let store = runledger::store::DynamoStore::dynamo(&clients, &settings);
    let admin = KeyAdmin { store: &store };
    let now = chrono::Utc::now().timestamp();

    let result = match args.first().map(String::as_str).zip(args.get(1).map(String::as_str)) {
        Some(("key", "create")) => match flag(&args, "--project") {
            Some(p) if runledger::model::values::valid_id(p) => admin
                .create(p, flag(&args, "--name").unwrap_or("default"), now)
                .await
                .map(|k| println!("{}", k.token)),
            _ => return usage("--project must be a valid project id"),
        },
        Some(("key", "list")) => match flag(&args, "--project") {
            Some(p) => admin.list(p).await.map(|keys| {
                for k in keys {
                    println!("{}", serde_json::to_string(&k).unwrap_or_default());
                }
            }),
            None => return usage("--project is required"),
        },
        Some(("key", "revoke")) => match flag(&args, "--key-id") {
            Some(id) => admin
                .revoke(id, now)
                .await
                .map(|k| println!("{}", serde_json::to_string(&k).unwrap_or_default())),
            None => return usage("--key-id is required"),
        },
        Some(("key", "rotate")) => match flag(&args, "--key-id") {
            Some(id) => admin.rotate(id, now).await.map(|k| println!("{}", k.token)),
            None => return usage("--key-id is required"),
        },
        _ => return usage("unknown command"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runledger: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("runledger: {problem}\n{USAGE}");
    ExitCode::from(2)
}
