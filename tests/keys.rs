//! API keys against the emulator: shown once, stored as hashes, listed without secrets, revoked,
//! rotated; and what the API answers for each.

use runledger::api::auth::{authorize, KeyCache};
use runledger::apikeys::KeyAdmin;
use runledger_tests::*;

#[tokio::test]
async fn keys_are_listed_without_secrets_revoked_and_rotated() {
    let (store, p) = (store().await, project("keys"));
    let admin = KeyAdmin { store: &store };
    let now = chrono::Utc::now().timestamp();
    let first = admin.create(&p, "ci", now).await.unwrap();
    let second = admin.create(&p, "dashboard", now).await.unwrap();

    let listed = admin.list(&p).await.unwrap();
    assert_eq!(listed.len(), 2);
    let printed = serde_json::to_string(&listed).unwrap();
    for key in [&first, &second] {
        // The secret is base64url and may itself contain '_': split as the service does.
        let (_, secret) = runledger::apikeys::split(&key.token).unwrap();
        assert!(!printed.contains(secret), "a listing never shows a secret");
        assert!(!printed.contains(&key.record.secret_hash), "nor its hash");
    }

    // A fresh key cache (a new instance) before each check: a cached key would hide a revocation
    // for up to a minute.
    let cache = KeyCache::default();
    let bearer = |t: &str| format!("Bearer {t}");
    assert!(authorize(&store, &cache, Some(&bearer(&first.token)), &p).await.is_ok());
    assert_eq!(
        authorize(&store, &cache, Some(&bearer(&first.token)), "elsewhere")
            .await
            .unwrap_err()
            .status(),
        403
    );

    admin.revoke(&first.record.key_id, now).await.unwrap();
    let cache = KeyCache::default();
    assert_eq!(
        authorize(&store, &cache, Some(&bearer(&first.token)), &p)
            .await
            .unwrap_err()
            .status(),
        401
    );
    assert!(authorize(&store, &cache, Some(&bearer(&second.token)), &p)
        .await
        .is_ok());

    let rotated = admin.rotate(&second.record.key_id, now).await.unwrap();
    let cache = KeyCache::default();
    assert_eq!(
        authorize(&store, &cache, Some(&bearer(&second.token)), &p)
            .await
            .unwrap_err()
            .status(),
        401
    );
    assert!(authorize(&store, &cache, Some(&bearer(&rotated.token)), &p)
        .await
        .is_ok());
    let names: Vec<(String, bool)> = admin
        .list(&p)
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.name, k.revoked_at.is_some()))
        .collect();
    assert_eq!(names.iter().filter(|(_, revoked)| !revoked).count(), 1);
    assert!(
        names.contains(&("dashboard".to_string(), false)),
        "the rotated key keeps its name: {names:?}"
    );
}

/// The deployed functions read their cursor keys from Secrets Manager at init: the secret as the
/// template generates it (one key), and a rotated ring (the new key first, the old one still
/// verifying).
#[tokio::test]
async fn cursor_keys_come_from_secrets_manager() {
    require_env("AWS_ENDPOINT_URL_SECRETS_MANAGER");
    let config = runledger::aws::sdk_config(None).await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let secret = "k".repeat(64);
    let name = project("cursor-keys");
    let created = client
        .create_secret()
        .name(&name)
        .secret_string(format!(r#"{{"id": "1", "secret": "{secret}"}}"#))
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_string();
    let keys = runledger::aws::cursor_keys(&arn).await.unwrap();
    assert_eq!((keys.len(), keys[0].id.as_str()), (1, "1"));

    let claims = runledger::cursor::Claims {
        project: "p".into(),
        filters: "f".into(),
        position: "x".into(),
    };
    let old_cursor = runledger::cursor::encode(&keys, &claims);
    let newer = "n".repeat(64);
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(format!(
            r#"{{"keys": [{{"id": "2", "secret": "{newer}"}}, {{"id": "1", "secret": "{secret}"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    let rotated = runledger::aws::cursor_keys(&arn).await.unwrap();
    assert_eq!(rotated[0].id, "2", "the new key signs");
    assert_eq!(runledger::cursor::decode(&rotated, &old_cursor, "p", "f"), Ok(claims));
    assert!(
        runledger::aws::cursor_keys("arn:aws:secretsmanager:us-east-1:123456789012:secret:missing")
            .await
            .is_err()
    );
}
