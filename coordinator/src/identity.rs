//! Worker identities: who may re-attach which leases.
//!
//! A worker that reconnects (network cut, coordinator restart of its session) lists the leases it
//! still holds so their results are not thrown away. Those claims are honoured only for the
//! identity the leases were issued to, and an identity is proven by a random per-session secret
//! the coordinator issued in `Registered` — never by a guessable worker number. Every session gets
//! a fresh secret, so a secret seen once is worthless after the next registration.

use crate::scheduler::WorkerId;
use rand::RngCore;
use std::collections::HashMap;

/// Identities remembered for workers that are not connected (beyond that, the oldest are
/// forgotten and those workers come back as new ones, their leases recomputed).
pub const MAX_IDENTITIES: usize = 4096;

/// A per-session secret: 32 random bytes from the operating system.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)") // never printed
    }
}

impl Secret {
    /// A fresh secret.
    pub fn random() -> Secret {
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        Secret(b)
    }

    /// Hex text, as sent in `Registered.session_secret`.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `presented` (hex text from a worker) is this secret, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let b = presented.as_bytes();
        if b.len() != 64 {
            return false;
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in b.chunks(2).enumerate() {
            let Some(v) = std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
            else {
                return false;
            };
            bytes[i] = v;
        }
        chirpfarm_proto::auth::constant_time_eq(&self.0, &bytes)
    }
}

/// The identity a registering worker proves: the id it claims (`w-N`) if it also presents
/// that identity's current secret, `None` otherwise.
pub fn proven(
    identities: &HashMap<WorkerId, Secret>,
    claimed_id: &str,
    presented: &str,
) -> Option<WorkerId> {
    let id = claimed_id
        .strip_prefix("w-")
        .and_then(|n| n.parse::<u64>().ok())
        .map(WorkerId)?;
    identities
        .get(&id)
        .filter(|s| s.matches(presented))
        .map(|_| id)
}

/// Forgets identities of disconnected workers beyond [`MAX_IDENTITIES`].
pub fn prune(identities: &mut HashMap<WorkerId, Secret>, live: impl Fn(&WorkerId) -> bool) {
    if identities.len() <= MAX_IDENTITIES {
        return;
    }
    let mut gone: Vec<WorkerId> = identities.keys().filter(|w| !live(w)).copied().collect();
    gone.sort();
    let excess = identities.len() - MAX_IDENTITIES;
    for w in gone.into_iter().take(excess) {
        identities.remove(&w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_issued_secret_proves_an_identity() {
        let mut ids = HashMap::new();
        let s = Secret::random();
        ids.insert(WorkerId(3), s.clone());
        assert_eq!(proven(&ids, "w-3", &s.to_hex()), Some(WorkerId(3)));
        assert_eq!(proven(&ids, "w-3", ""), None);
        assert_eq!(proven(&ids, "w-3", &Secret::random().to_hex()), None);
        assert_eq!(proven(&ids, "w-4", &s.to_hex()), None);
        assert_eq!(proven(&ids, "3", &s.to_hex()), None);
        assert_ne!(Secret::random(), Secret::random());
        assert_eq!(format!("{s:?}"), "Secret(..)");
    }
}
