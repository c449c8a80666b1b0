//! Checksummed record framing for the files in `--data-dir`.
//!
//! Why a frame of our own around the protobuf messages: protobuf decodes many damaged byte
//! strings without complaint (a flipped bit in an `f64` is still an `f64`), so a result that
//! rotted on disk would be served as if it were computed. Every record therefore carries its
//! length and a CRC-32 of its payload:
//!
//! ```text
//! file   := MAGIC (8 bytes) record*
//! record := len: u32 LE | crc32(payload): u32 LE | payload (len bytes)
//! ```
//!
//! The magic names the file kind and the format version, so a file written by an older
//! coordinator (no magic, no checksums) is recognised and reported instead of misread.

/// First bytes of a `results.log` (version 1: framed, checksummed records).
pub const LOG_MAGIC: &[u8; 8] = b"CFLOG01\n";
/// First bytes of a `job.pb` (version 1: one framed, checksummed record).
pub const JOB_MAGIC: &[u8; 8] = b"CFJOB01\n";
/// Bytes of a record's header (length and checksum).
pub const HEADER: usize = 8;
/// Largest record accepted on load: a length above it is damage, not data.
pub const MAX_RECORD: usize = 1 << 30;

/// Appends one framed record holding `payload` to `out`.
pub fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What a scan of a record sequence found.
#[derive(Debug, Default, PartialEq)]
pub struct Scan<'a> {
    /// The intact records' payloads, in file order.
    pub records: Vec<&'a [u8]>,
    /// Records in the middle whose checksum did not match (skipped).
    pub damaged: usize,
    /// Where the intact part ends: the offset the file should be truncated to when
    /// `torn_bytes` is not zero.
    pub good_len: usize,
    /// Bytes after `good_len` that do not form a whole record (a write cut short by a crash or
    /// a full disk).
    pub torn_bytes: usize,
}

/// Splits `bytes` (the part after the magic) into records. A record that runs past the end, or
/// whose checksum fails while it is the last one, is a torn tail; a checksum failure before
/// the last record is damage in the middle, skipped by its length. Never panics.
pub fn scan(bytes: &[u8]) -> Scan<'_> {
    let mut out = Scan::default();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < HEADER {
            break;
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if len > MAX_RECORD || len > rest.len() - HEADER {
            break;
        }
        let payload = &rest[HEADER..HEADER + len];
        let end = pos + HEADER + len;
        if crc32fast::hash(payload) == crc {
            out.records.push(payload);
        } else if end == bytes.len() {
            break; // the last record, written only in part
        } else {
            out.damaged += 1;
        }
        pos = end;
        out.good_len = pos;
    }
    out.torn_bytes = bytes.len() - out.good_len;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            frame(p, &mut out);
        }
        out
    }

    #[test]
    fn intact_records_come_back() {
        let f = file(&[b"one", b"", b"three"]);
        let s = scan(&f);
        assert_eq!(s.records, vec![&b"one"[..], b"", b"three"]);
        assert_eq!((s.damaged, s.good_len, s.torn_bytes), (0, f.len(), 0));
    }

    #[test]
    fn torn_tails_of_every_length_are_cut_at_the_last_whole_record() {
        let f = file(&[b"first record", b"second record"]);
        let first_end = HEADER + 12;
        for cut in first_end..f.len() {
            let s = scan(&f[..cut]);
            assert_eq!(s.records, vec![&b"first record"[..]], "cut at {cut}");
            assert_eq!((s.good_len, s.torn_bytes), (first_end, cut - first_end));
        }
    }

    #[test]
    fn a_flipped_byte_in_the_middle_skips_one_record_only() {
        let mut f = file(&[b"aaaa", b"bbbb", b"cccc"]);
        f[HEADER + 4 + HEADER + 1] ^= 0x40; // inside "bbbb"
        let s = scan(&f);
        assert_eq!(s.records, vec![&b"aaaa"[..], b"cccc"]);
        assert_eq!((s.damaged, s.torn_bytes), (1, 0));
        // The same damage in the last record is a torn tail.
        let mut g = file(&[b"aaaa", b"bbbb"]);
        let n = g.len();
        g[n - 1] ^= 1;
        let s = scan(&g);
        assert_eq!(s.records, vec![&b"aaaa"[..]]);
        assert_eq!(
            (s.damaged, s.good_len, s.torn_bytes),
            (0, HEADER + 4, HEADER + 4)
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for n in 0..200 {
            let bytes: Vec<u8> = (0..n)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng as u8
                })
                .collect();
            let s = scan(&bytes);
            assert!(s.good_len + s.torn_bytes == bytes.len());
        }
    }
}
