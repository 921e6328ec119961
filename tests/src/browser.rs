//! A real browser for the pages the service serves: Debian's headless
//! `chromium`, driven through `chromedriver` over the W3C WebDriver protocol
//! (plain JSON over HTTP, so reqwest is all the client needs).
//!
//! `.ci/run` installs both and sets `AUTH_TEST_BROWSER=required`, so there a
//! missing browser fails the test. Elsewhere a machine without them skips the
//! browser tests with a message: `cargo test --workspace` must work on a
//! fresh machine.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One headless browser session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
}

/// A reference to an element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (with a message)
    /// when they are not installed and the run does not require them.
    pub async fn start() -> Option<Self> {
        let required = std::env::var("AUTH_TEST_BROWSER").is_ok_and(|v| v == "required");
        let installed =
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists();
        if !installed {
            assert!(
                !required,
                "AUTH_TEST_BROWSER=required but {CHROMIUM} or {CHROMEDRIVER} is missing \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "browser tests need Debian's chromium and chromium-driver; skipped (.ci/run installs them)"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let ready = crate::eventually(Duration::from_secs(20), || {
            let client = client.clone();
            let url = format!("{base}/status");
            async move {
                let reply = client.get(url).send().await.ok()?;
                let body: Value = reply.json().await.ok()?;
                body["value"]["ready"].as_bool().filter(|r| *r)
            }
        })
        .await;
        assert!(ready.is_some(), "chromedriver did not become ready");
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let mut browser = Self {
            driver,
            base,
            session: String::new(),
            client,
            _profile: profile,
        };
        let created = browser.command("POST", "/session", capabilities).await;
        browser.session = created["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        Some(browser)
    }

    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.post(url).json(&body),
        };
        let reply = request.send().await.expect("webdriver answers");
        let value: Value = reply.json().await.expect("webdriver json");
        value["value"].clone()
    }

    async fn session_command(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.command(method, &path, body).await
    }

    /// Opens a URL and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.session_command("POST", "/url", json!({ "url": url }))
            .await;
    }

    /// The URL of the current page.
    pub async fn url(&self) -> String {
        self.session_command("GET", "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching a CSS selector, if any.
    pub async fn find(&self, css: &str) -> Option<Element> {
        let value = self
            .session_command(
                "POST",
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        value[ELEMENT].as_str().map(|id| Element(id.to_owned()))
    }

    /// Waits until an element matches, up to `deadline`.
    pub async fn wait_for(&self, css: &str, deadline: Duration) -> Option<Element> {
        crate::eventually(deadline, || self.find(css)).await
    }

    /// Waits until the page's text contains `needle`; returns the text.
    pub async fn wait_for_text(&self, needle: &str, deadline: Duration) -> Option<String> {
        crate::eventually(deadline, || async {
            let body = self.find("body").await?;
            let text = self.text(&body).await;
            text.contains(needle).then_some(text)
        })
        .await
    }

    /// The rendered text of an element.
    pub async fn text(&self, element: &Element) -> String {
        self.session_command("GET", &format!("/element/{}/text", element.0), Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Clicks an element.
    pub async fn click(&self, element: &Element) {
        self.session_command("POST", &format!("/element/{}/click", element.0), json!({}))
            .await;
    }

    /// Types into an input.
    pub async fn type_into(&self, element: &Element, text: &str) {
        self.session_command(
            "POST",
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await;
    }

    /// Runs a script in the page and returns its result.
    pub async fn execute(&self, script: &str) -> Value {
        self.session_command(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// Every URL the page has loaded (documents, scripts, styles, fonts,
    /// images, fetches), from the Resource Timing API.
    pub async fn loaded_urls(&self) -> Vec<String> {
        let urls = self
            .execute(
                "return [location.href].concat(performance.getEntriesByType('resource').map(e => e.name));",
            )
            .await;
        urls.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ends the session and the browser.
    pub async fn close(mut self) {
        self.session_command("DELETE", "", Value::Null).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // After `close` the driver is gone already; otherwise (a failed
        // assertion) take it and its browser down with the test.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
