//! The text a job carries besides its search: its label (`--name`) and the user its client
//! declared. Both cross the network from untrusted clients and are shown in other people's
//! terminals, so the rules live here, once, for the CLI (which refuses a bad label before
//! sending) and the coordinator (which refuses it again, and never trusts the user).

/// Longest job label, in characters.
pub const MAX_JOB_NAME_CHARS: usize = 64;

/// Longest declared user kept, in characters (longer ones are cut).
pub const MAX_USER_CHARS: usize = 32;

/// Checks a job label: empty (no label), or at most [`MAX_JOB_NAME_CHARS`] printable
/// characters (no control characters, no bidirectional overrides, no leading or trailing
/// blanks). The error says what is wrong in one line.
pub fn check_job_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > MAX_JOB_NAME_CHARS {
        return Err(format!(
            "job name is {chars} characters long; at most {MAX_JOB_NAME_CHARS} are allowed"
        ));
    }
    if let Some(c) = name.chars().find(|&c| !printable(c)) {
        return Err(format!(
            "job name {} contains the non-printable character {}; use letters, digits, spaces and punctuation",
            chirpfarm_core::logging::escape(name, MAX_JOB_NAME_CHARS),
            c.escape_unicode()
        ));
    }
    if name.trim() != name {
        return Err(format!(
            "job name {name:?} starts or ends with blanks; remove them"
        ));
    }
    Ok(())
}

/// A declared user made safe to keep and show: control and formatting characters escaped, at
/// most [`MAX_USER_CHARS`] characters, and `@` (which separates user from address in an owner)
/// replaced by `_`.
pub fn clean_user(user: &str) -> String {
    let cut: String = user.trim().chars().take(MAX_USER_CHARS).collect();
    chirpfarm_core::logging::escape(&cut.replace('@', "_"), MAX_USER_CHARS * 10)
}

/// The owner shown for a job: `user@address`, the address alone without a user, or the user
/// alone without an address (a job submitted in-process).
pub fn owner(user: &str, addr: &str) -> String {
    match (user.is_empty(), addr.is_empty()) {
        (true, _) => addr.to_string(),
        (false, true) => user.to_string(),
        (false, false) => format!("{user}@{addr}"),
    }
}

/// Characters a label may hold: not control characters, not the invisible formatting ones that
/// reorder or hide text on a terminal.
fn printable(c: char) -> bool {
    !c.is_control()
        && !matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded_and_printable() {
        assert!(check_job_name("").is_ok());
        assert!(check_job_name("GW170817 rerun #2 (H1, ±1 s)").is_ok());
        assert!(check_job_name(&"x".repeat(64)).is_ok());
        assert!(check_job_name(&"x".repeat(65))
            .unwrap_err()
            .contains("65 characters"));
        assert!(check_job_name("a\nb")
            .unwrap_err()
            .contains("non-printable"));
        assert!(check_job_name("evil\u{1b}[31m").is_err());
        assert!(check_job_name("rtl\u{202e}txt").is_err());
        assert!(check_job_name(" padded").is_err());
    }

    #[test]
    fn users_are_escaped_bounded_and_cannot_forge_an_address() {
        assert_eq!(clean_user("alice"), "alice");
        assert_eq!(clean_user("a@b"), "a_b");
        assert_eq!(clean_user("x\ny"), "x\\ny");
        assert_eq!(clean_user(&"u".repeat(100)).chars().count(), MAX_USER_CHARS);
        assert_eq!(owner("alice", "10.0.0.5"), "alice@10.0.0.5");
        assert_eq!(owner("", "10.0.0.5"), "10.0.0.5");
        assert_eq!(owner("alice", ""), "alice");
    }
}
