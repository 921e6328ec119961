//! A TCP forwarder the tests can cut: the service talks to PostgreSQL or
//! Redis through it, and a test pulls the plug to see how an outage is
//! answered, then restores it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A forwarder from 127.0.0.1:`port` to a target.
pub struct TcpCut {
    pub port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpCut {
    /// Forwards to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let target: SocketAddr = tokio::net::lookup_host(target)
            .await
            .unwrap()
            .next()
            .expect("target address");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (accept_up, accept_connections) = (up.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused in effect
                }
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                accept_connections.lock().unwrap().push(handle);
            }
        });
        Self {
            port,
            up,
            connections,
        }
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `scheme://user@host:port/rest` with `host:port` replaced.
pub fn through(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (userinfo, hostpart) = rest.rsplit_once('@').map_or(("", rest), |(u, h)| (u, h));
    let tail = hostpart.find(['/', '?']).map_or("", |i| &hostpart[i..]);
    let userinfo = if userinfo.is_empty() {
        String::new()
    } else {
        format!("{userinfo}@")
    };
    format!("{scheme}://{userinfo}127.0.0.1:{port}{tail}")
}

/// The `host:port` of a URL.
pub fn target_of(url: &str, default_port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let hostpart = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = hostpart.split(['/', '?']).next().unwrap_or_default();
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:{default_port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten_to_the_forwarder() {
        assert_eq!(
            through("postgres://postgres@127.0.0.1:5432/db_x", 9),
            "postgres://postgres@127.0.0.1:9/db_x"
        );
        assert_eq!(through("redis://127.0.0.1:6379", 9), "redis://127.0.0.1:9");
        assert_eq!(
            target_of("postgres://postgres@127.0.0.1:5432/db", 5432),
            "127.0.0.1:5432"
        );
        assert_eq!(target_of("redis://localhost", 6379), "localhost:6379");
    }
}
