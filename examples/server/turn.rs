//! Short-lived TURN credentials for clients, in coturn's shared-secret
//! scheme (the "TURN REST API" of draft-uberti-behave-turn-rest, coturn's
//! `use-auth-secret` + `static-auth-secret`):
//!
//! * username = `<expiry unix time>:<user>`;
//! * password = base64(HMAC-SHA1(secret, username)).
//!
//! The TURN server recomputes the password from the username and its copy
//! of the secret, and refuses usernames whose time has passed: nothing is
//! shared per user. WHIP/WHEP `201`s carry the credentials as `Link`
//! headers (RFC 9725 section 4.6), the room page gets them in its `welcome`
//! message (`iceServers`, shaped like `RTCIceServer`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};

pub use crate::signal::IceServer;

/// The user part of minted usernames (coturn logs it; it grants nothing).
const USER: &str = "manifold";

/// `--turn-url`s, `--turn-secret` and the credentials' lifetime.
#[derive(Debug, Clone)]
pub struct Turn {
    urls: Vec<String>,
    secret: String,
    ttl: Duration,
}

impl Turn {
    /// `None` (no TURN) without URLs; an error for URLs without a secret or
    /// the other way round, or a URL that is not `turn:`/`turns:`.
    pub fn new(
        urls: Vec<String>,
        secret: Option<String>,
        ttl: Duration,
    ) -> Result<Option<Self>, String> {
        let secret = secret.filter(|s| !s.is_empty());
        match (urls.is_empty(), secret) {
            (true, None) => Ok(None),
            (true, Some(_)) => Err("--turn-secret needs at least one --turn-url".into()),
            (false, None) => Err("--turn-url needs --turn-secret".into()),
            (false, Some(secret)) => {
                for url in &urls {
                    let scheme_ok = url.starts_with("turn:") || url.starts_with("turns:");
                    // It goes into a Link header between < and >, and into JSON.
                    let chars_ok = url
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b"<>\"\\".contains(&b));
                    if !scheme_ok || !chars_ok {
                        return Err(format!(
                            "--turn-url {url:?}: expected turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT]"
                        ));
                    }
                }
                Ok(Some(Turn { urls, secret, ttl }))
            }
        }
    }

    /// The URLs handed out.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The lifetime of minted credentials.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Credentials valid until `now` + the TTL.
    pub fn mint(&self, now: SystemTime) -> IceServer {
        let expiry = now.duration_since(UNIX_EPOCH).unwrap_or_default() + self.ttl;
        let username = format!("{}:{USER}", expiry.as_secs());
        let credential = password(&self.secret, &username);
        IceServer {
            urls: self.urls.clone(),
            username,
            credential,
        }
    }
}

/// coturn's password for `username`: base64(HMAC-SHA1(secret, username)).
pub fn password(secret: &str, username: &str) -> String {
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl IceServer {
    /// One `Link` header value per URL (RFC 9725 section 4.6):
    /// `<turn:...>; rel="ice-server"; username="..."; credential="...";
    /// credential-type="password"`.
    pub fn links(&self) -> Vec<String> {
        self.urls
            .iter()
            .map(|url| {
                format!(
                    "<{url}>; rel=\"ice-server\"; username=\"{}\"; credential=\"{}\"; \
                     credential-type=\"password\"",
                    self.username, self.credential
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(ttl: u64) -> Turn {
        Turn::new(
            vec![
                "turn:turn.example.net:3478?transport=udp".into(),
                "turns:turn.example.net:443?transport=tcp".into(),
            ],
            Some("north-secret".into()),
            Duration::from_secs(ttl),
        )
        .unwrap()
        .unwrap()
    }

    /// Known answer: the same HMAC-SHA1 computed independently, e.g.
    /// `printf %s 1700086400:manifold | openssl dgst -sha1 -hmac north-secret -binary | base64`.
    #[test]
    fn coturn_scheme_known_answer() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let s = turn(86_400).mint(now);
        assert_eq!(s.username, "1700086400:manifold");
        assert_eq!(s.credential, "NfiyZqhSSr1RXr928BMi0VWO4jI=");
        assert_eq!(password("north-secret", &s.username), s.credential);
        // RFC 2202 test case 2 (HMAC-SHA1), base64 of effcdf6ae5eb2fa2d27416d5f184df9c259a7c79.
        assert_eq!(
            password("Jefe", "what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
    }

    #[test]
    fn expiry_follows_ttl() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(turn(600).mint(now).username, "1600:manifold");
        assert_ne!(
            turn(600).mint(now).credential,
            turn(601).mint(now).credential
        );
    }

    #[test]
    fn link_headers() {
        let s = turn(60).mint(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let links = s.links();
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[0],
            format!(
                "<turn:turn.example.net:3478?transport=udp>; rel=\"ice-server\"; \
                 username=\"1700000060:manifold\"; credential=\"{}\"; credential-type=\"password\"",
                s.credential
            )
        );
        assert!(links[1]
            .starts_with("<turns:turn.example.net:443?transport=tcp>; rel=\"ice-server\"; "));
        for l in &links {
            assert!(axum::http::HeaderValue::from_str(l).is_ok(), "{l}");
        }
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["urls"][1], "turns:turn.example.net:443?transport=tcp");
        assert_eq!(json["username"], "1700000060:manifold");
        assert_eq!(json["credential"], s.credential.as_str());
    }

    /// The room's `welcome`: `iceServers` only with TURN; the other fields as before.
    #[test]
    fn welcome_ice_servers() {
        use crate::signal::ServerMsg;
        let plain = ServerMsg::Welcome {
            you: "a".into(),
            peers: vec![],
            ice_servers: vec![],
        };
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"type":"welcome","you":"a","peers":[]}"#
        );
        let s = turn(60).mint(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let with = ServerMsg::Welcome {
            you: "a".into(),
            peers: vec![],
            ice_servers: vec![s.clone()],
        };
        let json = serde_json::to_value(&with).unwrap();
        assert_eq!(json["type"], "welcome");
        assert_eq!(json["iceServers"][0]["urls"][0], s.urls[0].as_str());
        assert_eq!(json["iceServers"][0]["username"], "1700000060:manifold");
        assert_eq!(json["iceServers"][0]["credential"], s.credential.as_str());
    }

    #[test]
    fn flags_go_together() {
        let d = Duration::from_secs(60);
        assert!(Turn::new(vec![], None, d).unwrap().is_none());
        assert!(Turn::new(vec![], Some(String::new()), d).unwrap().is_none());
        assert!(Turn::new(vec![], Some("s".into()), d).is_err());
        assert!(Turn::new(vec!["turn:a".into()], None, d).is_err());
        assert!(Turn::new(vec!["stun:a".into()], Some("s".into()), d).is_err());
        assert!(Turn::new(vec!["turn:a>;x".into()], Some("s".into()), d).is_err());
        assert!(Turn::new(vec!["turn:a b".into()], Some("s".into()), d).is_err());
    }
}
