//! The stack's ceiling: a bare actix-web route returning `{}`, with the
//! same worker count as the service, in this process.

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};

/// The running hello server.
#[derive(Debug)]
pub struct Hello {
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    port: u16,
}

impl Hello {
    /// Starts it on its own actix system thread.
    pub fn start(workers: usize) -> anyhow::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(|| {
                    App::new().route(
                        "/",
                        web::get().to(|| async {
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .body("{}")
                        }),
                    )
                })
                .workers(workers)
                .bind(("127.0.0.1", 0))?;
                let port = server.addrs().first().map_or(0, std::net::SocketAddr::port);
                let server = server.run();
                let _ = tx.send((server.handle(), port));
                server.await
            })
        });
        let (handle, port) = rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the hello server did not start"))?;
        Ok(Self {
            handle,
            thread: Some(thread),
            port,
        })
    }

    /// An absolute URL on it.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops it and waits for its thread.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
