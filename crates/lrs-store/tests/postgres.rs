//! The conformance suite on PostgreSQL, each case in its own fresh database.
//!
//! The server is, in order of preference:
//! 1. `LRS_TEST_POSTGRES_URL` (a server URL such as `postgres://postgres@127.0.0.1:5432/postgres`,
//!    whose user may create databases; `scripts/services/postgres.sh start` prints one);
//! 2. a throwaway cluster this test starts from `/usr/lib/postgresql/*/bin` (as the `postgres`
//!    user through `runuser` when run as root) and stops at the end;
//! 3. none: the test prints "skipped: no PostgreSQL" and passes, except under `CI=true`, where a
//!    missing PostgreSQL is an error.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lrs_store::conformance::{self, CASES};
use lrs_store::open_store;
use lrs_store::testing::FreshDatabase;
use tempfile::TempDir;

/// A started PostgreSQL cluster in a temporary folder, stopped (and deleted) on drop.
struct Cluster {
    dir: TempDir,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
}

impl Cluster {
    /// Create and start a cluster with the server programs in `bin`.
    fn start(bin: &Path) -> Cluster {
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("lrs-store-pg-")
            .tempdir_in(std::env::temp_dir())
            .expect("temporary folder for the cluster");
        if as_postgres {
            // The server refuses to run as root: the cluster belongs to the postgres user.
            check(
                "chown",
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(dir.path())
                    .output(),
            );
        }
        let data = dir.path().join("data");
        check(
            "initdb",
            command(as_postgres, &bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "-N",
                ])
                .output(),
        );

        // A free port can be taken between the probe and the start: try a few.
        let log = dir.path().join("server.log");
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off",
                dir.path().display()
            );
            let started = command(as_postgres, &bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output()
                .expect("run pg_ctl start");
            if started.status.success() {
                eprintln!(
                    "started a throwaway PostgreSQL cluster in {} on port {port}",
                    dir.path().display()
                );
                return Cluster {
                    dir,
                    bin: bin.to_path_buf(),
                    as_postgres,
                    port,
                };
            }
            last = format!(
                "{}{}\n{}",
                String::from_utf8_lossy(&started.stdout),
                String::from_utf8_lossy(&started.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        panic!("pg_ctl start failed 5 times; last output:\n{last}");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let stopped = command(self.as_postgres, &self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        match stopped {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("pg_ctl stop could not run: {e}"),
        }
    }
}

/// `program`, run as the postgres user when `as_postgres`.
fn command(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Panic with the command's output unless it succeeded.
fn check(what: &str, output: std::io::Result<Output>) {
    let output = output.unwrap_or_else(|e| panic!("{what} could not run: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// The newest `/usr/lib/postgresql/<version>/bin` that holds `initdb`.
fn installed_server() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Where the test databases are created.
enum Server {
    External(String),
    Throwaway(Cluster),
}

impl Server {
    /// The server to use, or None when there is none (and that is allowed).
    fn find() -> Option<Server> {
        if let Ok(url) = std::env::var("LRS_TEST_POSTGRES_URL")
            && !url.trim().is_empty()
        {
            return Some(Server::External(url.trim().to_owned()));
        }
        if let Some(bin) = installed_server() {
            return Some(Server::Throwaway(Cluster::start(&bin)));
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no PostgreSQL for the lrs-store tests: set LRS_TEST_POSTGRES_URL \
             (scripts/services/postgres.sh start prints one) or install the server \
             (scripts/services/postgres.sh install)"
        );
        None
    }

    fn url(&self) -> String {
        match self {
            Server::External(url) => url.clone(),
            Server::Throwaway(cluster) => cluster.url(),
        }
    }
}

/// Every conformance case on its own fresh database, then the two-node race and `open_store`.
/// All run even when one fails; the failures are listed at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_postgres() {
    let Some(server) = Server::find() else {
        lrs_testkit::skip("no PostgreSQL (scripts/services/postgres.sh install)");
        return;
    };
    let url = server.url();
    let mut failed = Vec::new();

    for case in CASES {
        let database = FreshDatabase::create(&url).await;
        let store = database.store().await;
        // A panic inside the task is caught by the runtime and reported as a JoinError.
        let outcome = tokio::spawn((case.run)(store)).await;
        database.drop_now().await;
        match outcome {
            Ok(()) => eprintln!("postgres conformance: {} ok", case.name),
            Err(e) => {
                eprintln!("postgres conformance: {} FAILED: {e}", case.name);
                failed.push(case.name);
            }
        }
    }

    {
        let database = FreshDatabase::create(&url).await;
        let first = database.store().await;
        let second = database.store().await;
        let outcome = tokio::spawn(conformance::two_nodes_race_for_a_job(first, second)).await;
        database.drop_now().await;
        if let Err(e) = outcome {
            eprintln!("postgres: two_nodes_race_for_a_job FAILED: {e}");
            failed.push("two_nodes_race_for_a_job");
        }
    }

    {
        // open_store with a postgres:// URL, and a second store on the migrated schema.
        let database = FreshDatabase::create(&url).await;
        let db_url = database.url(&url);
        let outcome = tokio::spawn(async move {
            let store = open_store(&db_url).await.expect("open_store(postgres://…)");
            let text = format!("{store:?}");
            assert!(
                text.starts_with("PgStore { target: \"postgres://"),
                "{text}"
            );
            conformance::instances_are_case_insensitive(store).await;
            let again = open_store(&db_url)
                .await
                .expect("open_store on a migrated schema");
            let key = lrs_store::InstanceKey::new(
                "8f0e7c6a-1b2c-4d3e-9f40-abcdef012345",
                "rg-one",
                "mi-alpha",
            );
            let instance = again.get_instance(&key).await.expect("get");
            assert_eq!(instance.map(|i| i.location), Some("northeurope".to_owned()));
        })
        .await;
        database.drop_now().await;
        if let Err(e) = outcome {
            eprintln!("postgres: open_store FAILED: {e}");
            failed.push("open_store");
        }
    }

    drop(server);
    assert!(failed.is_empty(), "failed on PostgreSQL: {failed:?}");
}
