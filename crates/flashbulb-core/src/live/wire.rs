//! What goes on a live socket, byte for byte: WebSocket messages as a server sends them
//! (RFC 6455 §5.2, unmasked, headers written by tungstenite), and the socket itself as the
//! hub writes to it without waiting.
//!
//! The hub writes each frame straight to every idle socket in one system call, so a change
//! costs one `send` per socket and no task's wake-up; only a socket that cannot take it at
//! once gets a mailbox backlog and its own task's attention.

use tungstenite::protocol::frame::{
    coding::{Data, OpCode},
    FrameHeader,
};

/// A connection's socket as the hub writes to it: as much as it takes now, never waiting.
pub trait Wire: Send + Sync {
    /// Writes a prefix of `bytes`, returning its length; `WouldBlock` when the socket's
    /// buffer is full.
    fn try_write(&self, bytes: &[u8]) -> std::io::Result<usize>;
}

impl Wire for tokio::net::TcpStream {
    fn try_write(&self, bytes: &[u8]) -> std::io::Result<usize> {
        tokio::net::TcpStream::try_write(self, bytes)
    }
}

/// Appends one binary message holding `parts` back to back.
pub fn binary_message(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let length: usize = parts.iter().map(|part| part.len()).sum();
    header(out, Data::Binary, length);
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// Appends one text message.
pub fn text_message(out: &mut Vec<u8>, text: &str) {
    header(out, Data::Text, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn header(out: &mut Vec<u8>, data: Data, length: usize) {
    let header = FrameHeader {
        is_final: true,
        opcode: OpCode::Data(data),
        ..FrameHeader::default()
    };
    // Writing into a Vec cannot fail.
    let _ = header.format(length as u64, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_headers_a_browser_reads() {
        let mut out = Vec::new();
        binary_message(&mut out, &[b"ab", b"c"]);
        assert_eq!(out, [0x82, 3, b'a', b'b', b'c']);
        out.clear();
        text_message(&mut out, "hi");
        assert_eq!(out, [0x81, 2, b'h', b'i']);
        // Past 125 bytes the length takes two more bytes, past 65,535 eight.
        out.clear();
        binary_message(&mut out, &[&[7u8; 300]]);
        assert_eq!(&out[..4], [0x82, 126, 1, 44]);
        assert_eq!(out.len(), 4 + 300);
        out.clear();
        binary_message(&mut out, &[&vec![0u8; 70_000]]);
        assert_eq!(&out[..2], [0x82, 127]);
        assert_eq!(out.len(), 10 + 70_000);
    }
}
