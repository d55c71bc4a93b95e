//! The files the development IdP keeps in the data folder (keys, revocations, rotated-out refresh
//! tokens): reading them, where only a missing file means "start afresh", and appending to them.

use std::io::Write;
use std::path::Path;

/// The text of `path`, or `None` when there is no such file. A file that exists but cannot be
/// read stops start-up with one line naming it: starting afresh would silently throw away what
/// it holds (`consequence` says what deleting it does, for the message).
pub fn read_if_present(path: &Path, consequence: &str) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(damaged(
            path,
            &format!("cannot be read ({error})"),
            consequence,
        )),
    }
}

/// The one-line error for a file of the data folder that holds something unusable.
pub fn damaged(path: &Path, problem: &str, consequence: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: {problem}; fix or delete it (deleting {consequence})",
        path.display()
    )
}

/// Appends `line` to `path`, creating the file. A failure is logged, not returned: the IdP keeps
/// working from memory, and only a restart would forget.
pub fn append_line(path: &Path, line: &str) {
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(format!("{line}\n").as_bytes()));
    if let Err(error) = written {
        tracing::warn!(file = %path.display(), error = %error, "development IdP could not persist a change");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_none_and_a_folder_in_its_place_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.txt");
        let folder = dir.path().join("a-folder.txt");
        std::fs::create_dir(&folder).unwrap();

        let absent = read_if_present(&missing, "forgets it").unwrap();
        let unreadable = read_if_present(&folder, "forgets it").unwrap_err();

        assert_eq!(absent, None);
        let line = unreadable.to_string();
        assert!(
            line.starts_with(&format!("{}: cannot be read", folder.display())),
            "{line}"
        );
        assert!(
            line.ends_with("(deleting forgets it)") && !line.contains('\n'),
            "{line}"
        );
    }

    #[test]
    fn appended_lines_accumulate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.txt");

        append_line(&path, "one");
        append_line(&path, "two");

        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }
}
