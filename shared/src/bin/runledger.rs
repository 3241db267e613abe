//! `runledger`: operator command line. It manages API keys, replays set-aside stream records and,
//! on the local stack only, plays DynamoDB's Time to Live:
//!
//!   runledger key create --project P [--name N]   prints the new key (shown once) on stdout
//!   runledger key list --project P                 one JSON line per key, without secrets
//!   runledger key revoke --key-id ID
//!   runledger key rotate --key-id ID               prints the replacement key; revokes the old one
//!   runledger shards show --project P             the project's listing shard epochs, as JSON
//!   runledger shards set --project P --shards N   spreads P's records dated from 5 minutes on
//!                                                  over N shards per listing partition (1-64);
//!                                                  records already stored stay where they are
//!   runledger set-aside replay KEY...              counts records the stats function set aside
//!                                                  (S3 keys `set-aside/stats/...`), once however
//!                                                  often it runs; prints what it counted
//!   runledger ttl expire --now T [--project P]     local stack only: deletes what has expired at T
//!                                                  (RFC 3339) as TTL would (AWS does it itself),
//!                                                  only P's items with --project; one JSON
//!                                                  line per deleted item: {"kind", "project",
//!                                                  "keys", "oldImage"} (scripts/ttl_sweep.py)
//!   runledger scale [--list-shards N] [--batch B] [--call-ms MS]
//!                                                  the capacity model of the target workload
//!                                                  (make scale); exits 1 when a limit is passed
//!
//! Endpoint, region and credentials come from the standard AWS environment; the table from
//! TABLE_NAME, the bucket from BUCKET_NAME.

use runledger::apikeys::KeyAdmin;
use std::process::ExitCode;

const USAGE: &str = "usage: runledger key create --project P [--name N] | key list --project P | key revoke --key-id ID | key rotate --key-id ID | shards show --project P | shards set --project P --shards N | set-aside replay KEY... | ttl expire --now RFC3339 [--project P] | scale [--list-shards N] [--batch B] [--call-ms MS]";

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The model runs in memory: no AWS settings needed.
    if args.first().map(String::as_str) == Some("scale") {
        return scale(&args).await;
    }
    let settings = runledger::config::Settings {
        table_name: std::env::var("TABLE_NAME").unwrap_or_else(|_| "runledger".into()),
        bucket_name: std::env::var("BUCKET_NAME").unwrap_or_else(|_| "runledger-bodies".into()),
        ..runledger::config::Settings::defaults()
    };
    let clients = runledger::aws::clients(&settings).await;
    let store = runledger::store::DynamoStore::dynamo(&clients, &settings);
    let admin = KeyAdmin { store: &store };
    let now = chrono::Utc::now().timestamp();

    if args.first().map(String::as_str) == Some("set-aside") {
        return match (args.get(1).map(String::as_str), &args[2.min(args.len())..]) {
            (Some("replay"), keys) if !keys.is_empty() => replay(&store, keys).await,
            _ => usage("set-aside replay needs the S3 keys of the records"),
        };
    }

    if args.first().map(String::as_str) == Some("shards") {
        return shards(&store, &args).await;
    }

    if args.first().map(String::as_str) == Some("ttl") {
        return match (
            args.get(1).map(String::as_str),
            flag(&args, "--now").and_then(runledger::dates::parse),
        ) {
            (Some("expire"), Some(at)) => expire(&store, at.timestamp(), flag(&args, "--project")).await,
            (Some("expire"), None) => usage("--now must be an RFC 3339 time"),
            _ => usage("unknown command"),
        };
    }

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

async fn shards(store: &runledger::store::DynamoStore, args: &[String]) -> ExitCode {
    use runledger::store::AdminShards;
    let Some(project) = flag(args, "--project").filter(|p| runledger::model::values::valid_id(p)) else {
        return usage("--project must be a valid project id");
    };
    let result = match args.get(1).map(String::as_str) {
        Some("show") => store.shard_layout(project).await.map_err(|e| e.to_string()),
        Some("set") => match flag(args, "--shards").and_then(|n| n.parse::<u32>().ok()) {
            Some(n) => store
                .set_shards(project, n, chrono::Utc::now().timestamp_millis())
                .await
                .map_err(|e| e.to_string()),
            None => return usage("--shards must be a number"),
        },
        _ => return usage("unknown command"),
    };
    match result {
        Ok(layout) => {
            println!("{}", serde_json::to_string(&layout).unwrap_or_default());
            ExitCode::SUCCESS
        }
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

async fn replay(store: &runledger::store::DynamoStore, keys: &[String]) -> ExitCode {
    use runledger::store::SetAside;
    let mut objects = Vec::new();
    for key in keys {
        match store.set_aside_record(key).await {
            Ok(Some(bytes)) => objects.push(bytes),
            Ok(None) => {
                eprintln!("runledger: no set-aside record {key}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("runledger: reading {key}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    match runledger::stats::feed::replay(store, &objects).await {
        Ok(s) => {
            println!(
                "{}",
                serde_json::json!({"records": s.records, "counted": s.counted,
                    "countersWritten": s.counters_written, "countersSkipped": s.counters_skipped})
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("runledger: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn expire(store: &runledger::store::DynamoStore, now_epoch: i64, project: Option<&str>) -> ExitCode {
    match store.expire(now_epoch, project).await {
        Ok(deleted) => {
            for d in deleted {
                println!("{}", serde_json::to_string(&d).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("runledger: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn scale(args: &[String]) -> ExitCode {
    let mut target = runledger::scale::Target::default();
    let number = |name: &str| flag(args, name).map(|v| v.parse::<f64>().ok().filter(|x| *x > 0.0));
    match (number("--list-shards"), number("--batch"), number("--call-ms")) {
        (Some(None), _, _) | (_, Some(None), _) | (_, _, Some(None)) => {
            return usage("--list-shards, --batch and --call-ms take a positive number")
        }
        (shards, batch, call_ms) => {
            target.list_shards = shards.flatten().map(|n| n as u32);
            target.batch = batch.flatten().map_or(target.batch, |b| b as usize);
            target.call_ms = call_ms.flatten().unwrap_or(target.call_ms);
        }
    }
    let report = runledger::scale::model(&target).await;
    print!("{}", report.render(5));
    let (passed, raise) = (report.limits_passed(), report.quota_increases());
    println!(
        "\n{} limits passed, {} quota increases needed (listing shards {})",
        passed.len(),
        raise.len(),
        report.list_shards
    );
    if passed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
