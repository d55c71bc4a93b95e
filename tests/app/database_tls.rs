//! TLS to PostgreSQL: a cluster of the test's own serving a certificate from a CA of the test's
//! own. With `sslmode=verify-full` and that CA as `sslrootcert` the app starts and its every
//! connection is encrypted; without the CA it refuses the server's certificate at start-up.
//! The certificates come from the `openssl` command.

use std::path::Path;
use std::process::Command;

use cognito_web::app::Application;
use cognito_web::config::Config;

use crate::database;
use crate::helpers::spawn_app_with;
use crate::postgres_cluster::Cluster;

fn openssl(folder: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(folder)
        .output()
        .expect("the openssl command runs (Debian package openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA (ca.crt) and, signed by it, the server's certificate for 127.0.0.1 (server.crt, .key).
fn certificates(folder: &Path) {
    openssl(
        folder,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=cognito-web test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    openssl(
        folder,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        folder.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        folder,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

fn settings(url: &str) -> Config {
    let vars = std::collections::HashMap::from([
        ("APP_LISTEN", "127.0.0.1:0".to_owned()),
        ("APP_BASE_URL", "http://localhost:0".to_owned()),
        ("DEV_IDP_LISTEN", "127.0.0.1:0".to_owned()),
        ("DATABASE_URL", url.to_owned()),
    ]);
    Config::from_lookup(|name| vars.get(name).cloned()).unwrap()
}

#[tokio::test]
#[cfg_attr(
    no_postgres,
    ignore = "needs PostgreSQL: set TEST_DATABASE_URL (scripts/postgres.sh)"
)]
async fn with_verify_full_every_connection_is_encrypted_and_an_unknown_ca_is_refused() {
    let cluster = Cluster::start_new_with(certificates);
    let ca = cluster.folder().join("ca.crt");
    let verified = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        cluster.url,
        ca.display()
    );
    let unverifiable = format!("{}?sslmode=verify-full", cluster.url);

    let app = spawn_app_with(&[("DATABASE_URL", &verified)]).await;
    app.sign_in_as("demo").await;
    let account = app.get("/account").await;
    let in_the_clear = database::integer(
        &cluster.url,
        "select count(*) from pg_stat_activity join pg_stat_ssl using (pid) \
         where application_name = 'cognito-web' and not ssl and pid <> pg_backend_pid()",
    )
    .await;
    let connections = database::integer(
        &cluster.url,
        "select count(*) from pg_stat_activity \
         where application_name = 'cognito-web' and pid <> pg_backend_pid()",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = settings(&unverifiable);
    config.data_dir = dir.path().to_owned();
    let refused = Application::build(config)
        .await
        .err()
        .map(|error| format!("{error:#}"));

    assert_eq!(account.status, 200, "{}", account.body);
    assert!(connections > 0, "the app's connections are seen");
    assert_eq!(
        in_the_clear, 0,
        "none of the app's connections is in the clear"
    );
    let refused = refused.expect("a certificate from an unknown CA stops start-up");
    assert!(refused.contains("certificate"), "{refused}");
}
