//! The password bridge: a plain-text client, a TLS connection to the server.
//!
//! caching_sha2_password's full authentication and sha256_password make the
//! client send its password itself. Over plain text a client encrypts it with
//! an RSA public key (asking for it, or pinned); over TLS it sends it in
//! clear. ghostwire's connection to the server is TLS, so the server expects
//! it in clear: ghostwire answers the client's key request with its own
//! public key ([`PasswordKey`]), decrypts, and sends the server what the
//! client would have sent over TLS. Nothing else changes: the server still
//! checks the password.
//!
//! What the server would refuse on a plain connection is refused here too: a
//! password sent in clear by a plain-text client (the server cannot decrypt
//! it either), and — with a message saying what to do — a password encrypted
//! with another key (a client that pinned the server's own public key).

use zeroize::Zeroizing;

use crate::password_key::PasswordKey;
use crate::protocol::errors;
use crate::protocol::handshake::{full_auth, FullAuth};
use crate::protocol::packets::ErrPacket;

/// What the next client packet of the exchange is expected to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Awaiting {
    /// Nothing to translate: relay.
    Nothing,
    /// The password (or a key request) under this plugin.
    Password(FullAuth),
    /// The password encrypted with the key ghostwire just sent.
    Encrypted,
}

/// What to do with a client packet.
#[derive(Debug)]
pub(super) enum FromClient {
    /// Relay it as it is.
    Relay,
    /// Send the server this payload instead: the password in clear.
    Password(Zeroizing<Vec<u8>>),
    /// Answer the client with this payload (the public key); the server
    /// sees nothing.
    AnswerKey(Vec<u8>),
    /// End the login with this ERR.
    Refuse(ErrPacket),
}

pub(super) struct Bridge {
    /// The nonce a password is XOR-ed with: the greeting's, or the latest
    /// auth switch's (also across COM_CHANGE_USER, whose exchange the
    /// server begins with a switch; seen with every client of the matrix).
    scramble: [u8; 20],
    awaiting: Awaiting,
}

impl Bridge {
    pub(super) fn new(greeting_scramble: [u8; 20]) -> Self {
        Self {
            scramble: greeting_scramble,
            awaiting: Awaiting::Nothing,
        }
    }

    /// The next client packet is the password under `plugin` (a handshake
    /// response that is sha256_password's).
    pub(super) fn expect_password(&mut self, plugin: FullAuth) {
        self.awaiting = Awaiting::Password(plugin);
    }

    /// Whether the next client packet needs the key.
    pub(super) fn active(&self) -> bool {
        self.awaiting != Awaiting::Nothing
    }

    /// Follows a server packet of the exchange (relayed as it is).
    pub(super) fn server_packet(&mut self, payload: &[u8]) {
        if let [0xFE, rest @ ..] = payload {
            // An auth switch: its data is the plugin's new nonce.
            let mut parts = rest.splitn(2, |b| *b == 0);
            let _plugin = parts.next();
            if let Some(data) = parts.next().and_then(|d| d.get(..20)) {
                self.scramble.copy_from_slice(data);
            }
        }
        self.awaiting = match full_auth(payload) {
            Some(kind @ (FullAuth::CachingSha2 | FullAuth::Sha256)) => Awaiting::Password(kind),
            _ => Awaiting::Nothing,
        };
    }

    /// Decides on a client packet while [`Self::active`].
    pub(super) fn client_packet(&mut self, payload: &[u8], key: &PasswordKey) -> FromClient {
        let awaiting = std::mem::replace(&mut self.awaiting, Awaiting::Nothing);
        let key_request = match awaiting {
            Awaiting::Nothing => return FromClient::Relay,
            Awaiting::Password(FullAuth::CachingSha2) => payload == [0x02],
            Awaiting::Password(_) => payload == [0x01],
            Awaiting::Encrypted => false,
        };
        if key_request {
            self.awaiting = Awaiting::Encrypted;
            let mut answer = Vec::with_capacity(1 + key.public_pem().len());
            answer.push(0x01);
            answer.extend_from_slice(key.public_pem());
            return FromClient::AnswerKey(answer);
        }
        // sha256_password without a password: a lone NUL, as over TLS.
        if awaiting == Awaiting::Password(FullAuth::Sha256) && payload == [0x00] {
            return FromClient::Relay;
        }
        match key.decrypt_password(payload, &self.scramble) {
            Some(password) => FromClient::Password(password),
            // The length of a ciphertext of our key: encrypted, with
            // another key (one the client pinned).
            None if payload.len() == key.ciphertext_len() && awaiting != Awaiting::Encrypted => {
                FromClient::Refuse(errors::pinned_server_key())
            }
            None => FromClient::Refuse(errors::password_not_encrypted()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encrypt(key: &PasswordKey, pw: &[u8], scramble: &[u8; 20]) -> Vec<u8> {
        use rsa::pkcs8::DecodePublicKey;
        let pem = std::str::from_utf8(key.public_pem()).unwrap();
        let public = rsa::PublicKey::from_public_key_pem(pem).unwrap();
        let mut p = pw.to_vec();
        p.push(0);
        for (i, b) in p.iter_mut().enumerate() {
            *b ^= scramble[i % 20];
        }
        public.oaep_encrypt::<sha1::Sha1>(&p).unwrap()
    }

    #[test]
    fn full_auth_with_a_key_request_gets_our_key_then_the_password() {
        let key = &crate::password_key::test_keys().0;
        let mut b = Bridge::new([7; 20]);
        assert!(!b.active());
        assert!(matches!(
            b.client_packet(b"scramble", key),
            FromClient::Relay
        ));
        b.server_packet(&[0x01, 0x03]);
        assert!(!b.active(), "fast authentication succeeded");
        b.server_packet(&[0x01, 0x04]);
        assert!(b.active());
        let FromClient::AnswerKey(k) = b.client_packet(&[0x02], key) else {
            panic!("key request")
        };
        assert_eq!(k[0], 0x01);
        assert_eq!(&k[1..], key.public_pem());
        let c = encrypt(key, b"pw", &[7; 20]);
        let FromClient::Password(p) = b.client_packet(&c, key) else {
            panic!("decrypted")
        };
        assert_eq!(&p[..], b"pw\0");
        assert!(!b.active());
    }

    #[test]
    fn sha256_switch_uses_the_switch_nonce() {
        let key = &crate::password_key::test_keys().0;
        let mut b = Bridge::new([7; 20]);
        let mut switch = b"\xFEsha256_password\0".to_vec();
        switch.extend_from_slice(&[9; 20]);
        switch.push(0);
        b.server_packet(&switch);
        // A pinned key of ours: the ciphertext at once.
        let c = encrypt(key, b"pw", &[9; 20]);
        assert!(matches!(b.client_packet(&c, key), FromClient::Password(p) if &p[..] == b"pw\0"));
        // No password: relayed.
        b.server_packet(&switch);
        assert!(matches!(b.client_packet(&[0], key), FromClient::Relay));
        // caching_sha2's key request byte is not sha256's.
        b.server_packet(&switch);
        assert!(matches!(
            b.client_packet(&[0x01], key),
            FromClient::AnswerKey(_)
        ));
    }

    #[test]
    fn what_the_server_would_refuse_is_refused() {
        let (key, other) = crate::password_key::test_keys();
        let mut b = Bridge::new([7; 20]);
        // A password in clear from a plain-text client.
        b.server_packet(&[0x01, 0x04]);
        let FromClient::Refuse(e) = b.client_packet(b"pw\0", key) else {
            panic!()
        };
        assert_eq!(e.code, 1045);
        // Encrypted with a key that is not ours (pinned).
        b.server_packet(&[0x01, 0x04]);
        let FromClient::Refuse(e) = b.client_packet(&encrypt(other, b"pw", &[7; 20]), key) else {
            panic!()
        };
        assert_eq!(e.code, 2061);
    }
}
