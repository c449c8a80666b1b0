//! Answering a plaintext (`http://`) gRPC client that reached a TLS coordinator.
//!
//! Without this the TLS library would see garbage and close the socket, and the client would
//! report an HTTP/2 framing error that says nothing about TLS. Instead the coordinator speaks
//! just enough HTTP/2 to answer the client's first call with a proper gRPC status,
//! `FAILED_PRECONDITION: this coordinator requires TLS: connect with https://...`, then says
//! GOAWAY and closes. No request is ever served over plaintext: the reply is the same whatever
//! was asked, and nothing the client sent is acted on.

use crate::conn::PREFACE;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What the client is told.
const MESSAGE: &str =
    "this coordinator requires TLS: connect with https:// and --ca-file (the CA that signed its certificate)";

/// gRPC status code FAILED_PRECONDITION: the client must change something before retrying (a
/// worker stops instead of reconnecting forever; the CLI exits with the message).
const FAILED_PRECONDITION: u8 = 9;

/// Largest frame read (the HTTP/2 default maximum, which a client may not exceed before our
/// SETTINGS allow more, and ours never do).
const MAX_FRAME: usize = 16_384;

/// Frame types and flags used here (RFC 9113 §6).
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// Answers the client's first request with [`MESSAGE`], giving up at `deadline`.
pub async fn refuse(mut stream: TcpStream, deadline: Instant) {
    let _ = tokio::time::timeout_at(deadline, answer(&mut stream)).await;
}

/// Reads the preface and frames until the first HEADERS, answers it, says GOAWAY.
async fn answer(s: &mut TcpStream) -> std::io::Result<()> {
    let mut preface = [0u8; PREFACE.len()];
    s.read_exact(&mut preface).await?;
    if &preface != PREFACE {
        return Ok(());
    }
    s.write_all(&frame(SETTINGS, 0, 0, &[])).await?;
    let mut payload = vec![0u8; MAX_FRAME];
    loop {
        let mut head = [0u8; 9];
        s.read_exact(&mut head).await?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let stream_id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        if len > MAX_FRAME {
            return Ok(());
        }
        s.read_exact(&mut payload[..len]).await?;
        match kind {
            SETTINGS if flags & ACK == 0 => s.write_all(&frame(SETTINGS, ACK, 0, &[])).await?,
            HEADERS if stream_id != 0 => {
                let reply = frame(
                    HEADERS,
                    END_STREAM | END_HEADERS,
                    stream_id,
                    &trailers_only(),
                );
                let mut goaway = stream_id.to_be_bytes().to_vec();
                goaway.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
                s.write_all(&reply).await?;
                s.write_all(&frame(GOAWAY, 0, 0, &goaway)).await?;
                s.flush().await?;
                // Let the client read the reply before the close (a reset could discard it).
                let _ = s.shutdown().await;
                let mut sink = [0u8; 1024];
                while s.read(&mut sink).await? > 0 {}
                return Ok(());
            }
            _ => {}
        }
    }
}

/// An HTTP/2 frame: 9-byte header, then the payload.
fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream_id.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A gRPC "trailers-only" response (one HEADERS block): HPACK literal fields without indexing,
/// no Huffman coding, so no compression state is needed.
fn trailers_only() -> Vec<u8> {
    let status = FAILED_PRECONDITION.to_string();
    let message = percent_encode(MESSAGE);
    let mut block = Vec::new();
    for (name, value) in [
        (":status", "200"),
        ("content-type", "application/grpc"),
        ("grpc-status", status.as_str()),
        ("grpc-message", message.as_str()),
    ] {
        block.push(0x00); // literal header field without indexing, new name
        hpack_string(&mut block, name);
        hpack_string(&mut block, value);
    }
    block
}

/// An HPACK string literal (RFC 7541 §5.2): length as a 7-bit-prefix integer, raw bytes.
fn hpack_string(out: &mut Vec<u8>, s: &str) {
    let mut n = s.len();
    if n < 127 {
        out.push(n as u8);
    } else {
        out.push(127);
        n -= 127;
        while n >= 128 {
            out.push((n % 128) as u8 | 0x80);
            n /= 128;
        }
        out.push(n as u8);
    }
    out.extend_from_slice(s.as_bytes());
}

/// grpc-message encoding: printable ASCII except `%` as is, everything else `%XX`.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            0x20..=0x7e if b != b'%' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpack_lengths() {
        let mut v = Vec::new();
        hpack_string(&mut v, &"x".repeat(126));
        assert_eq!(v[0], 126);
        let mut v = Vec::new();
        hpack_string(&mut v, &"x".repeat(127 + 130));
        assert_eq!(&v[..3], &[127, 0x82, 0x01]);
        assert_eq!(v.len(), 3 + 257);
    }

    #[test]
    fn frames_and_messages() {
        assert_eq!(frame(SETTINGS, ACK, 0, &[]), [0, 0, 0, 4, 1, 0, 0, 0, 0]);
        assert_eq!(percent_encode("a%b é"), "a%25b %C3%A9");
    }
}
