//! Fresh databases for tests: an SQLite file in the temp folder, a new database on the local
//! PostgreSQL (`IOSTACK_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432`).

use iostack_channels::Database;

/// A number no other test of this run uses.
pub fn unique() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// A fresh SQLite file in the temp folder.
pub async fn sqlite() -> Database {
    let path = std::env::temp_dir().join(format!(
        "iostack-test-{}-{}.db",
        std::process::id(),
        unique()
    ));
    Database::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap()
}

/// A fresh database on the local PostgreSQL, created for this test.
pub async fn postgres() -> Database {
    postgres_with_url().await.0
}

/// [`postgres`], with the database's URL for direct SQL. Test databases are named
/// `iostack_test_*`, so `scripts/test.sh` drops those of earlier runs.
pub async fn postgres_with_url() -> (Database, String) {
    let base = std::env::var("IOSTACK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("iostack_test_{}", unique());
    let admin = sqlx::PgPool::connect(&format!("{base}/postgres"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {base} ({e}): start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                 or run scripts/test.sh"
            )
        });
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let url = format!("{base}/{name}");
    (Database::connect(&url).await.unwrap(), url)
}
