//! Job ids: a number, and for an in-memory coordinator the tag of its instance.
//!
//! Why a tag: a coordinator without a data dir forgets everything when it stops, and would hand
//! out `job-1` again after a restart — `chirpfarm watch job-1` would then show another search.
//! Ids of an in-memory instance carry a random tag instead (`job-kq3x-1`); with a data dir the
//! numbers alone never repeat (a fsynced high-water mark), so ids stay short like Slurm's.

/// Identifies a job; allocated by the shell, never reused.
///
/// The low [`JobId::TAG_SHIFT`] bits are the job's number; the bits above are the instance tag
/// of an in-memory coordinator (0 for a coordinator with a data dir, whose numbers are never
/// reused). Printed as `job-7` (tag 0) or `job-kq3x-7`: a restarted in-memory coordinator
/// has another tag, so an id from before the restart is unknown rather than another search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

impl JobId {
    /// Bits of the job number.
    pub const TAG_SHIFT: u32 = 40;
    /// Smallest instance tag: its base-36 text is four characters starting with a letter.
    pub const MIN_TAG: u32 = 10 * 36 * 36 * 36;
    /// One above the largest instance tag (`zzzz`).
    pub const MAX_TAG: u32 = 36 * 36 * 36 * 36;

    /// Job number `n` of the instance tagged `tag` (0: no tag).
    pub fn new(tag: u32, n: u64) -> JobId {
        JobId(((tag as u64) << Self::TAG_SHIFT) | (n & ((1 << Self::TAG_SHIFT) - 1)))
    }

    /// The instance tag (0 for a coordinator with a data dir).
    pub fn tag(self) -> u32 {
        (self.0 >> Self::TAG_SHIFT) as u32
    }

    /// The job's number within its instance.
    pub fn number(self) -> u64 {
        self.0 & ((1 << Self::TAG_SHIFT) - 1)
    }

    /// Parses `job-7` or `job-kq3x-7` strictly (lower-case tag of four characters, a number
    /// from 1 without sign or leading zeros); `None` for anything else.
    pub fn parse(text: &str) -> Option<JobId> {
        let rest = text.strip_prefix("job-")?;
        let (tag, num) = match rest.split_once('-') {
            Some((t, n)) => (parse_tag(t)?, n),
            None => (0, rest),
        };
        let digits = num.bytes().all(|b| b.is_ascii_digit());
        if !digits || num.is_empty() || num.starts_with('0') || num.len() > 13 {
            return None;
        }
        let n: u64 = num.parse().ok()?;
        (n < 1 << Self::TAG_SHIFT).then(|| JobId::new(tag, n))
    }
}

/// Base-36 digits of instance tags.
const TAG_DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn parse_tag(t: &str) -> Option<u32> {
    if t.len() != 4 {
        return None;
    }
    let mut v = 0u32;
    for b in t.bytes() {
        v = v * 36 + TAG_DIGITS.iter().position(|&d| d == b)? as u32;
    }
    (JobId::MIN_TAG..JobId::MAX_TAG).contains(&v).then_some(v)
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = self.tag();
        if tag == 0 {
            return write!(f, "job-{}", self.number());
        }
        let mut text = [0u8; 4];
        let mut v = tag;
        for c in text.iter_mut().rev() {
            *c = TAG_DIGITS[(v % 36) as usize];
            v /= 36;
        }
        let text = std::str::from_utf8(&text).expect("ASCII digits");
        write!(f, "job-{text}-{}", self.number())
    }
}
