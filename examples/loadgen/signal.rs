//! WHIP/WHEP signaling over plain HTTP/1.1 (blocking, `ureq`).

use std::time::Duration;

/// How long one HTTP exchange may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Signal {
    agent: ureq::Agent,
    /// `http://host:port`, no trailing slash.
    base: String,
    token: Option<String>,
}

impl Signal {
    pub fn new(base: &str, token: Option<String>) -> Result<Self, String> {
        let base = base_url(base, "http://HOST:PORT")?;
        let agent = agent(HTTP_TIMEOUT);
        Ok(Signal { agent, base, token })
    }

    /// POST an SDP offer to `/{kind}/{stream}` (`kind`: whip or whep);
    /// returns the answer and the session's Location.
    pub fn offer(&self, kind: &str, stream: &str, sdp: &str) -> Result<(String, String), String> {
        let url = format!("{}/{kind}/{stream}", self.base);
        let mut req = self
            .agent
            .post(&url)
            .header("Content-Type", "application/sdp");
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut resp = req.send(sdp).map_err(|e| format!("POST {url}: {e}"))?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("POST {url}: reading the answer: {e}"))?;
        match (status, location) {
            (201, Some(location)) => Ok((body, location)),
            (201, None) => Err(format!("POST {url}: 201 without Location")),
            (status, _) => Err(format!("POST {url}: {status}: {}", body.trim())),
        }
    }

    /// The server's `GET /stats`, if it answers 200 with JSON.
    pub fn stats(&self) -> Option<serde_json::Value> {
        let url = format!("{}/stats", self.base);
        let mut req = self.agent.get(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut resp = req.call().ok()?;
        if resp.status().as_u16() != 200 {
            return None;
        }
        let body = resp.body_mut().read_to_string().ok()?;
        serde_json::from_str(&body).ok()
    }

    /// DELETE a session (best effort: the server also times sessions out);
    /// the answer's status.
    pub fn delete(&self, location: &str) -> Result<u16, String> {
        let url = match location.starts_with("http") {
            true => location.to_string(),
            false => format!("{}{location}", self.base),
        };
        let mut req = self.agent.delete(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        match req.call() {
            Ok(resp) => Ok(resp.status().as_u16()),
            Err(e) => Err(format!("DELETE {url}: {e}")),
        }
    }
}

/// `--server` without a trailing slash, if it is a plain HTTP URL (`form`
/// says what is expected).
pub fn base_url(base: &str, form: &str) -> Result<String, String> {
    let base = base.trim_end_matches('/').to_string();
    match base.starts_with("http://") {
        true => Ok(base),
        false => Err(format!("--server {base}: expected {form}")),
    }
}

/// An HTTP agent for a local server: statuses are answers, not errors, and
/// never a proxy from the environment.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .proxy(None)
        .build()
        .new_agent()
}

/// The UDP port of the first host candidate in an SDP answer.
pub fn candidate_port(sdp: &str) -> Option<u16> {
    sdp.lines().find_map(|l| {
        // a=candidate:<foundation> <component> <transport> <priority> <ip> <port> typ <type>
        let f: Vec<&str> = l
            .trim()
            .strip_prefix("a=candidate:")?
            .split_ascii_whitespace()
            .collect();
        if !f.get(2)?.eq_ignore_ascii_case("udp") {
            return None;
        }
        f.get(5)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn port_from_candidate() {
        let sdp =
            "v=0\r\na=ice-lite\r\na=candidate:1 1 UDP 2130706431 127.0.0.1 40000 typ host\r\n";
        assert_eq!(super::candidate_port(sdp), Some(40000));
        assert_eq!(super::candidate_port("v=0\r\n"), None);
    }
}
