//! Progress bars never reach a pipe: with standard error not a terminal (as here, captured),
//! `forge chain`, `headeronly`, `filelistonly`, `verify` and `plan` write nothing to it, and
//! their standard output is the same with and without `--quiet`.

use std::process::{Command, Output};

fn lrs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lrs"))
        .args(args)
        .output()
        .expect("run lrs")
}

fn assert_clean(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed: {out:?}");
    assert!(
        out.stderr.is_empty(),
        "{what} wrote to a non-terminal stderr: {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stdout.contains(&0x1b),
        "{what} wrote escape codes to stdout"
    );
}

#[test]
fn no_progress_output_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("chain");
    let folder = folder.to_str().expect("UTF-8 temp path");
    let forge = [
        "forge",
        "chain",
        "--db",
        "Quiet",
        "--out",
        folder,
        "--logs",
        "20",
        "--data-size",
        "4MiB",
        "--checksum",
    ];
    let forged = lrs(&forge);
    assert_clean(&forged, "forge chain");
    // One line per set: the full and twenty logs, nothing else.
    let text = String::from_utf8(forged.stdout.clone()).expect("UTF-8");
    assert_eq!(text.lines().count(), 21, "{text}");
    assert!(text.lines().all(|l| l.contains("FirstLSN")), "{text}");

    // Forging again with --quiet writes the same files and prints the same list.
    let quiet: Vec<&str> = std::iter::once("--quiet").chain(forge).collect();
    assert_eq!(lrs(&quiet).stdout, forged.stdout);

    for command in [
        vec!["headeronly", folder],
        vec!["headeronly", "--json", folder],
        vec!["filelistonly", folder],
        vec!["labelonly", folder],
        vec!["verify", folder],
        vec!["plan", folder],
    ] {
        let out = lrs(&command);
        assert_clean(&out, &command.join(" "));
        assert!(!out.stdout.is_empty(), "{command:?} printed nothing");
        let quiet: Vec<&str> = command.iter().copied().chain(["-q"]).collect();
        assert_eq!(
            lrs(&quiet).stdout,
            out.stdout,
            "{command:?}: --quiet changed stdout"
        );
    }
}
