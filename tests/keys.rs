//! API keys against the emulator: shown once, stored as hashes, listed without secrets, revoked,
//! rotated; and what the API answers for each.

use runledger::api::auth::{authorize, clear_cache};
use runledger::apikeys::KeyAdmin;
use runledger_tests::*;

#[tokio::test]
async fn keys_are_listed_without_secrets_revoked_and_rotated() {
    let (store, settings, p) = (store().await, settings(), project("keys"));
    let admin = KeyAdmin {
        dynamodb: &store.dynamodb,
        table: &settings.table_name,
    };
    let now = chrono::Utc::now().timestamp();
    let first = admin.create(&p, "ci", now).await.unwrap();
    let second = admin.create(&p, "dashboard", now).await.unwrap();

    let listed = admin.list(&p).await.unwrap();
    assert_eq!(listed.len(), 2);
    let printed = serde_json::to_string(&listed).unwrap();
    for key in [&first, &second] {
        let secret = key.token.rsplit('_').next().unwrap();
        assert!(!printed.contains(secret), "a listing never shows a secret");
        assert!(!printed.contains(&key.record.secret_hash), "nor its hash");
    }

    clear_cache();
    let bearer = |t: &str| format!("Bearer {t}");
    assert!(authorize(&store, Some(&bearer(&first.token)), &p).await.is_ok());
    assert_eq!(
        authorize(&store, Some(&bearer(&first.token)), "elsewhere")
            .await
            .unwrap_err()
            .status(),
        403
    );

    admin.revoke(&first.record.key_id, now).await.unwrap();
    clear_cache();
    assert_eq!(
        authorize(&store, Some(&bearer(&first.token)), &p)
            .await
            .unwrap_err()
            .status(),
        401
    );
    assert!(authorize(&store, Some(&bearer(&second.token)), &p).await.is_ok());

    let rotated = admin.rotate(&second.record.key_id, now).await.unwrap();
    clear_cache();
    assert_eq!(
        authorize(&store, Some(&bearer(&second.token)), &p)
            .await
            .unwrap_err()
            .status(),
        401
    );
    assert!(authorize(&store, Some(&bearer(&rotated.token)), &p).await.is_ok());
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
