//! Headless Chromium driven over WebDriver, for end-to-end tests of the pages Hookpost serves on
//! loopback (the web console): open a page, read and fill it, click, screenshot it.
//!
//! [`Browser::start`] runs the distribution's `chromedriver` (installed by `make browser`,
//! `scripts/browser.sh`) on a loopback port it picks itself, in a process group of its own, and
//! opens one headless Chromium session through it with [`fantoccini`]. Closing the browser, or
//! dropping it (a failed assertion unwinds through the drop too), kills the whole group, so no
//! chromedriver or Chromium process outlives a test, and removes the session's profile.
//!
//! Chromium can reach loopback and nothing else: every request for another host goes to a proxy
//! on 127.0.0.1 that refuses it and writes it down ([`Browser::outside_requests`]), and no host
//! name but `localhost` resolves.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus, NewSessionError};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

/// How long [`Browser::wait_for`] and [`Browser::wait_for_text`] wait, unless told otherwise
/// ([`Browser::set_wait`]).
pub const WAIT: Duration = Duration::from_secs(5);

/// How long chromedriver may take to start and answer `/status` (it takes well under a second).
const DRIVER_START: Duration = Duration::from_secs(15);

/// How long a page may take to load before a navigation fails (WebDriver's default is 300 s).
const PAGE_LOAD: Duration = Duration::from_secs(15);

/// Between two looks at a page or at chromedriver's `/status`.
const POLL: Duration = Duration::from_millis(25);

/// What to do when chromedriver is missing.
const INSTALL: &str = "run `make browser` (scripts/browser.sh), which installs the packages chromium and chromium-driver";

/// Where Debian's `chromium` package puts the browser binary behind its launcher script.
const DEBIAN_CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// The chromedriver line that names the port it bound (`--port=0` lets it choose one, so there
/// is no pick-then-bind race with other tests).
const STARTED_ON_PORT: &str = "started successfully on port ";

/// The size of the page area (the window less the browser's own bars), in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
}

/// A laptop's window: what [`Browser::start`] opens.
pub const DESKTOP: Viewport = Viewport {
    width: 1280,
    height: 900,
};

/// WebDriver's key codes (the WebDriver spec, "keyboard actions"), for [`Browser::type_keys`].
pub const ENTER: &str = "\u{E007}";
pub const TAB: &str = "\u{E004}";

/// The tallest [`Browser::screenshot_page`] makes a shot.
pub const FULL_PAGE_MAX: u32 = 4_000;

/// A small phone's width, for checking that a page still reads at 360 px.
pub const MOBILE: Viewport = Viewport {
    width: 360,
    height: 780,
};

/// What went wrong starting or steering the browser.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Carries what to do about it, so that a test's `expect` (which prints `Debug`) says so too.
    #[error("chromedriver is not installed: {0}")]
    NotInstalled(&'static str),
    #[error("could not start chromedriver: {0}")]
    Spawn(#[source] std::io::Error),
    #[error(
        "chromedriver did not report a port within {DRIVER_START:?} (exit status: {status}); its log: {log}"
    )]
    DriverStart { status: String, log: String },
    #[error("chromedriver on port {port} did not report ready within {DRIVER_START:?}")]
    DriverNotReady { port: u16 },
    #[error("chromedriver could not open a Chromium session: {0}")]
    Session(#[source] Box<NewSessionError>),
    #[error("{action} `{target}`: {source}")]
    Command {
        action: &'static str,
        target: String,
        #[source]
        source: Box<CmdError>,
    },
    #[error("`{css}` never had the focus after {presses} presses of Tab")]
    NotReachedByTab { css: String, presses: usize },
    #[error("no element matches `{css}` after {waited:?}")]
    Timeout { css: String, waited: Duration },
    #[error("`{css}` did not show {expected:?} within {waited:?}; it shows {shown:?}")]
    TextTimeout {
        css: String,
        expected: String,
        shown: String,
        waited: Duration,
    },
    #[error("the browser's profile directory {path}: {source}")]
    Profile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing the screenshot {path}: {source}")]
    Screenshot {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stopping chromedriver: {0}")]
    Stop(#[source] std::io::Error),
    #[error("starting the loopback proxy that refuses other hosts: {0}")]
    Proxy(#[source] std::io::Error),
}

impl BrowserError {
    fn command(action: &'static str, target: impl Into<String>, source: CmdError) -> Self {
        Self::Command {
            action,
            target: target.into(),
            source: Box::new(source),
        }
    }
}

/// One headless Chromium session and the chromedriver that runs it.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: Driver,
    outside: Outside,
    wait: Duration,
}

impl Browser {
    /// Starts chromedriver and opens a [`DESKTOP`]-sized headless Chromium.
    pub async fn start() -> Result<Self, BrowserError> {
        Self::start_with(DESKTOP).await
    }

    /// Starts chromedriver and opens a headless Chromium whose page area is `viewport`.
    pub async fn start_with(viewport: Viewport) -> Result<Self, BrowserError> {
        let outside = Outside::start().await.map_err(BrowserError::Proxy)?;
        // Should anything below fail, dropping `driver` kills it.
        let mut driver = Driver::spawn()?;
        let port = driver.port().await?;
        let url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&url, port).await?;
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities(&driver.profile, viewport, outside.addr))
            .connect(&url)
            .await
            .map_err(|e| BrowserError::Session(Box::new(e)))?;
        let browser = Self {
            client,
            driver,
            outside,
            wait: WAIT,
        };
        browser.resize(viewport).await?;
        Ok(browser)
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        self.client
            .goto(url)
            .await
            .map_err(|e| BrowserError::command("open", url, e))
    }

    /// The address of the page shown now (after any redirect).
    pub async fn current_url(&self) -> Result<String, BrowserError> {
        self.client
            .current_url()
            .await
            .map(String::from)
            .map_err(|e| BrowserError::command("read the address of", "the page", e))
    }

    /// The page's `<title>`.
    pub async fn title(&self) -> Result<String, BrowserError> {
        self.client
            .title()
            .await
            .map_err(|e| BrowserError::command("read the title of", "the page", e))
    }

    /// The rendered text of the first element matching `css`, as a person sees it.
    pub async fn text(&self, css: &str) -> Result<String, BrowserError> {
        self.find(css)
            .await?
            .text()
            .await
            .map_err(|e| BrowserError::command("read", css, e))
    }

    /// The rendered text of every element matching `css`, in document order (e.g. a table's rows).
    pub async fn texts(&self, css: &str) -> Result<Vec<String>, BrowserError> {
        let elements = self
            .client
            .find_all(Locator::Css(css))
            .await
            .map_err(|e| BrowserError::command("find", css, e))?;
        let mut texts = Vec::with_capacity(elements.len());
        for element in elements {
            texts.push(
                element
                    .text()
                    .await
                    .map_err(|e| BrowserError::command("read", css, e))?,
            );
        }
        Ok(texts)
    }

    /// An attribute of the first element matching `css`; `None` when it has no such attribute.
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>, BrowserError> {
        self.find(css)
            .await?
            .attr(name)
            .await
            .map_err(|e| BrowserError::command("read an attribute of", css, e))
    }

    /// The attribute `name` of every element matching `css` that has it, in document order.
    pub async fn attrs(&self, css: &str, name: &str) -> Result<Vec<String>, BrowserError> {
        let elements = self
            .client
            .find_all(Locator::Css(css))
            .await
            .map_err(|e| BrowserError::command("find", css, e))?;
        let mut values = Vec::with_capacity(elements.len());
        for element in elements {
            if let Some(value) = element
                .attr(name)
                .await
                .map_err(|e| BrowserError::command("read an attribute of", css, e))?
            {
                values.push(value);
            }
        }
        Ok(values)
    }

    /// How many elements match `css` now (no waiting).
    pub async fn count(&self, css: &str) -> Result<usize, BrowserError> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|found| found.len())
            .map_err(|e| BrowserError::command("find", css, e))
    }

    /// Clicks the first element matching `css`, as a person would (it must be visible and not
    /// covered); waits for a navigation the click starts. An element the page replaced between
    /// finding and clicking it (a navigation still under way, e.g. a search just submitted) is
    /// found again, for up to [`WAIT`]: a person clicks what the page shows now.
    pub async fn click(&self, css: &str) -> Result<(), BrowserError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            match self.find(css).await?.click().await {
                Ok(()) => return Ok(()),
                Err(e) if is_stale(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => return Err(BrowserError::command("click", css, e)),
            }
        }
    }

    /// Empties the field matching `css` and types `value` into it, key by key.
    pub async fn fill(&self, css: &str, value: &str) -> Result<(), BrowserError> {
        let field = self.find(css).await?;
        field
            .clear()
            .await
            .map_err(|e| BrowserError::command("clear", css, e))?;
        field
            .send_keys(value)
            .await
            .map_err(|e| BrowserError::command("type into", css, e))
    }

    /// Chooses the option with `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) -> Result<(), BrowserError> {
        self.find(css)
            .await?
            .select_by_value(value)
            .await
            .map_err(|e| BrowserError::command("choose an option of", css, e))
    }

    /// Presses Tab, as a keyboard-only user does, until the focused element matches `css`;
    /// the number of presses it took. Fails after `max_presses` with the selector named.
    pub async fn tab_to(&self, css: &str, max_presses: usize) -> Result<usize, BrowserError> {
        let focused = || async {
            self.client
                .execute(
                    "return document.activeElement !== null && document.activeElement.matches(arguments[0])",
                    vec![Value::String(css.to_owned())],
                )
                .await
                .map(|v| v == Value::Bool(true))
                .map_err(|e| BrowserError::command("check the focus for", css, e))
        };
        for presses in 1..=max_presses {
            let active = self
                .client
                .active_element()
                .await
                .map_err(|e| BrowserError::command("find the focus for", css, e))?;
            active
                .send_keys(TAB)
                .await
                .map_err(|e| BrowserError::command("press Tab towards", css, e))?;
            if focused().await? {
                return Ok(presses);
            }
        }
        Err(BrowserError::NotReachedByTab {
            css: css.to_owned(),
            presses: max_presses,
        })
    }

    /// Types `keys` into whatever has the focus (end with [`ENTER`] to submit a form).
    pub async fn type_keys(&self, keys: &str) -> Result<(), BrowserError> {
        self.client
            .active_element()
            .await
            .map_err(|e| BrowserError::command("find the focus for", keys, e))?
            .send_keys(keys)
            .await
            .map_err(|e| BrowserError::command("type", "into the focused element", e))
    }

    /// Submits the form matching `form_css` by clicking its submit button, as a person would, and
    /// waits for the page the form leads to.
    pub async fn submit(&self, form_css: &str) -> Result<(), BrowserError> {
        let form = self.find(form_css).await?;
        let button = form
            .find(Locator::Css(
                "button[type=submit], button:not([type]), input[type=submit]",
            ))
            .await
            .map_err(|e| BrowserError::command("find the submit button of", form_css, e))?;
        button
            .click()
            .await
            .map_err(|e| BrowserError::command("submit", form_css, e))
    }

    /// How long the `wait_for` helpers wait from now on ([`WAIT`] by default).
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Waits until an element matches `css`, polling for up to [`WAIT`].
    pub async fn wait_for(&self, css: &str) -> Result<(), BrowserError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            if self.count(css).await? > 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(BrowserError::Timeout {
                    css: css.to_owned(),
                    waited: self.wait,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the first element matching `css` shows text containing `expected`, polling for
    /// up to [`WAIT`]; returns the whole text.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> Result<String, BrowserError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        let mut shown = String::new();
        loop {
            if self.count(css).await? > 0 {
                match self.text(css).await {
                    Ok(text) if text.contains(expected) => return Ok(text),
                    Ok(text) => shown = text,
                    // The element was replaced between the two looks: look again.
                    Err(BrowserError::Command { source, .. }) if is_stale(&source) => {}
                    Err(e) => return Err(e),
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(BrowserError::TextTimeout {
                    css: css.to_owned(),
                    expected: expected.to_owned(),
                    shown,
                    waited: self.wait,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The text of the `alert`, `confirm` or `prompt` dialog open now, if one is. Dialogs are
    /// never dismissed behind a test's back: while one is open, every other command fails.
    pub async fn dialog(&self) -> Result<Option<String>, BrowserError> {
        match self.client.get_alert_text().await {
            Ok(text) => Ok(Some(text)),
            Err(CmdError::Standard(e)) if e.error == ErrorStatus::NoSuchAlert => Ok(None),
            Err(e) => Err(BrowserError::command("read", "the open dialog", e)),
        }
    }

    /// Dismisses the open dialog (its Cancel).
    pub async fn dismiss_dialog(&self) -> Result<(), BrowserError> {
        self.client
            .dismiss_alert()
            .await
            .map_err(|e| BrowserError::command("dismiss", "the open dialog", e))
    }

    /// Resizes the window so that the page area is `viewport` (and screenshots are that size).
    pub async fn resize(&self, viewport: Viewport) -> Result<(), BrowserError> {
        let target = format!("the page area to {}x{}", viewport.width, viewport.height);
        // WebDriver sizes the whole window; the page gets it less the browser's own bars. Measure
        // those once and grow the window by them.
        let (width, height) = (viewport.width, viewport.height);
        self.set_window_size(width, height, &target).await?;
        let inner = self
            .client
            .execute("return [window.innerWidth, window.innerHeight]", vec![])
            .await
            .map_err(|e| BrowserError::command("measure", &target, e))?;
        let measured = |i: usize| {
            inner
                .get(i)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
        };
        if let (Some(inner_width), Some(inner_height)) = (measured(0), measured(1))
            && (inner_width, inner_height) != (width, height)
        {
            let grow = |outer: u32, inner: u32| (outer + outer.saturating_sub(inner)).max(outer);
            self.set_window_size(
                grow(width, inner_width),
                grow(height, inner_height),
                &target,
            )
            .await?;
        }
        Ok(())
    }

    async fn set_window_size(
        &self,
        width: u32,
        height: u32,
        target: &str,
    ) -> Result<(), BrowserError> {
        self.client
            .set_window_size(width, height)
            .await
            .map_err(|e| BrowserError::command("resize", target, e))
    }

    /// Saves a PNG of the page area as `target/console/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf, BrowserError> {
        let png = self
            .client
            .screenshot()
            .await
            .map_err(|e| BrowserError::command("take a screenshot of", name, e))?;
        let path = screenshot_dir().join(format!("{name}.png"));
        let write = |path: &Path| -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, &png)
        };
        write(&path).map_err(|source| BrowserError::Screenshot {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Saves a PNG of the whole page, not only the part in the window: the window is made as tall
    /// as the page (at most [`FULL_PAGE_MAX`] pixels) for the shot, then put back.
    pub async fn screenshot_page(&self, name: &str) -> Result<PathBuf, BrowserError> {
        let size = self
            .client
            .execute(
                "return [window.innerWidth, window.innerHeight, document.documentElement.scrollHeight]",
                vec![],
            )
            .await
            .map_err(|e| BrowserError::command("measure", name, e))?;
        let measured = |i: usize| {
            size.get(i)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0)
        };
        let (width, height, page) = (measured(0), measured(1), measured(2));
        let tall = page.clamp(height, FULL_PAGE_MAX);
        if tall == height {
            return self.screenshot(name).await;
        }
        self.resize(Viewport {
            width,
            height: tall,
        })
        .await?;
        let shot = self.screenshot(name).await;
        self.resize(Viewport { width, height }).await?;
        shot
    }

    /// Every URL the page shown now fetched or tried to (stylesheets, scripts, images, fonts,
    /// `fetch` calls), from its Resource Timing entries. A page that loads nothing from
    /// elsewhere lists only its own origin here.
    pub async fn resources(&self) -> Result<Vec<String>, BrowserError> {
        let names = self
            .client
            .execute(
                "return performance.getEntriesByType('resource').map(e => e.name)",
                vec![],
            )
            .await
            .map_err(|e| BrowserError::command("list the resources of", "the page", e))?;
        Ok(names
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|name| name.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Every request the browser tried to send beyond loopback, as its request line
    /// (`GET http://example.com/ HTTP/1.1`, `CONNECT fonts.example:443 HTTP/1.1`). None of them
    /// left this machine: the loopback proxy answered each with 403. Chromium's own background
    /// calls (its updater, sign-in, the default search engine's preconnect) show up here too, so
    /// check a page's own fetches with [`Browser::resources`].
    pub fn outside_requests(&self) -> Vec<String> {
        self.outside.requests()
    }

    /// The WebDriver client itself, for what the helpers above do not cover (cookies, scripts,
    /// keyboard actions).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The process group that chromedriver and every Chromium process it started belong to.
    pub fn process_group(&self) -> u32 {
        self.driver.child.id()
    }

    /// The directory holding chromedriver's log and Chromium's profile; removed on close.
    pub fn profile(&self) -> &Path {
        &self.driver.profile
    }

    /// Ends the session (Chromium quits), then stops chromedriver and removes the profile.
    /// Dropping the browser instead kills both at once.
    pub async fn close(self) -> Result<(), BrowserError> {
        let Self {
            client, mut driver, ..
        } = self;
        let closed = client
            .close()
            .await
            .map_err(|e| BrowserError::command("close", "the session", e));
        let stopped = driver.stop();
        closed.and(stopped)
    }

    async fn find(&self, css: &str) -> Result<Element, BrowserError> {
        self.client
            .find(Locator::Css(css))
            .await
            .map_err(|e| BrowserError::command("find", css, e))
    }
}

/// Where [`Browser::screenshot`] writes: `console/` in cargo's target directory.
pub fn screenshot_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| workspace.join(dir))
        .unwrap_or_else(|| workspace.join("target"));
    target.join("console")
}

fn is_stale(e: &CmdError) -> bool {
    matches!(e, CmdError::Standard(e) if e.error == ErrorStatus::StaleElementReference)
}

/// The session's capabilities: headless Chromium as root on a small CI machine, able to reach
/// loopback only. Flags: <https://peter.sh/experiments/chromium-command-line-switches/>;
/// capabilities: <https://developer.chrome.com/docs/chromedriver/capabilities>.
fn capabilities(
    profile: &Path,
    viewport: Viewport,
    outside: SocketAddr,
) -> serde_json::Map<String, Value> {
    let args = [
        "--headless=new".to_owned(),
        // Chromium's sandbox cannot start as root, and CI runs as root.
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        // Containers often have a 64 MB /dev/shm, too small for Chromium's shared memory.
        "--disable-dev-shm-usage".to_owned(),
        format!("--window-size={},{}", viewport.width, viewport.height),
        // A profile we remove ourselves: chromedriver's own is left in /tmp when it is killed.
        format!("--user-data-dir={}", profile.join("chromium").display()),
        // Loopback only. Chromium never sends loopback through a proxy (localhost, 127.0.0.0/8 and
        // [::1] are bypassed implicitly), and sends everything else, HTTPS as CONNECT, to this
        // one, which refuses it. No proxy fallback to a direct connection is configured.
        // https://chromium.googlesource.com/chromium/src/+/HEAD/net/docs/proxy.md
        format!("--proxy-server=http://{outside}"),
        // And no host name but loopback's resolves, so nothing even asks a DNS server. The rules
        // apply to address literals too, hence the loopback addresses beside localhost.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE ::1"
            .to_owned(),
        // Nothing of Chromium's own that calls home or runs beside the test.
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-default-apps".to_owned(),
        "--disable-sync".to_owned(),
        "--no-first-run".to_owned(),
        "--no-default-browser-check".to_owned(),
        "--disable-domain-reliability".to_owned(),
        "--disable-client-side-phishing-detection".to_owned(),
        "--disable-search-engine-choice-screen".to_owned(),
        "--no-pings".to_owned(),
        // Background calls Chromium 156 still makes with the switches above (seen at the
        // refusing proxy). Its updater, sign-in and search preconnect calls outlast every switch
        // tried; the proxy refuses them.
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater".to_owned(),
    ];
    let mut options = json!({
        "args": args,
        "prefs": { "signin": { "allowed": false } },
    });
    // Debian's /usr/bin/chromium is a shell script that adds remote extensions (and so calls to
    // their updater) and Google API keys (sign-in calls): start the browser itself where it is.
    if Path::new(DEBIAN_CHROMIUM).exists() {
        options["binary"] = json!(DEBIAN_CHROMIUM);
    }
    let capabilities = json!({
        "browserName": "chrome",
        // A dialog a test did not expect stays open and fails the next command, rather than
        // being dismissed unseen (chromedriver's default).
        "unhandledPromptBehavior": "ignore",
        "timeouts": { "pageLoad": PAGE_LOAD.as_millis(), "script": 5_000, "implicit": 0 },
        "goog:chromeOptions": options,
    });
    match capabilities {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Polls chromedriver's `/status` until it says it is ready for a session.
async fn wait_until_ready(url: &str, port: u16) -> Result<(), BrowserError> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|_| BrowserError::DriverNotReady { port })?;
    let status = format!("{url}/status");
    let deadline = tokio::time::Instant::now() + DRIVER_START;
    while tokio::time::Instant::now() < deadline {
        if let Ok(response) = http.get(&status).send().await
            && let Ok(body) = response.bytes().await
            && let Ok(body) = serde_json::from_slice::<Value>(&body)
            && body["value"]["ready"] == Value::Bool(true)
        {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
    Err(BrowserError::DriverNotReady { port })
}

/// The chromedriver process, its process group and the directory holding its log and Chromium's
/// profile. Dropping it kills the group and removes the directory.
#[derive(Debug)]
struct Driver {
    child: Child,
    profile: PathBuf,
    port: Option<tokio::sync::oneshot::Receiver<u16>>,
    stopped: bool,
}

impl Driver {
    fn spawn() -> Result<Self, BrowserError> {
        let profile =
            std::env::temp_dir().join(format!("hookpost-browser-{}", uuid::Uuid::new_v4()));
        let profile_error = |source| BrowserError::Profile {
            path: profile.clone(),
            source,
        };
        std::fs::create_dir_all(&profile).map_err(profile_error)?;
        let stderr =
            std::fs::File::create(profile.join("chromedriver.stderr")).map_err(profile_error)?;
        let spawned = Command::new("chromedriver")
            .arg("--port=0")
            .arg(format!(
                "--log-path={}",
                profile.join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // Chromium keeps its crash reports under the XDG config directory, not the profile:
            // keep them in ours, not in ~/.config (and its crash handler's command line then
            // names the profile, which is how `stop` finds it).
            .env("XDG_CONFIG_HOME", profile.join("config"))
            .env("XDG_CACHE_HOME", profile.join("cache"))
            // Its own group, which Chromium's processes join: one signal reaches them all.
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&profile);
                return Err(match e.kind() {
                    std::io::ErrorKind::NotFound => BrowserError::NotInstalled(INSTALL),
                    _ => BrowserError::Spawn(e),
                });
            }
        };
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        if let Some(stdout) = child.stdout.take() {
            // Reads the port, then drains stdout until chromedriver exits so it never blocks on a
            // full pipe.
            std::thread::spawn(move || {
                let mut port_tx = Some(port_tx);
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some((_, rest)) = line.split_once(STARTED_ON_PORT)
                        && let Ok(port) = rest.trim().trim_end_matches('.').parse::<u16>()
                        && let Some(tx) = port_tx.take()
                    {
                        let _ = tx.send(port);
                    }
                }
            });
        }
        Ok(Self {
            child,
            profile,
            port: Some(port_rx),
            stopped: false,
        })
    }

    /// The port chromedriver reports having bound.
    async fn port(&mut self) -> Result<u16, BrowserError> {
        let reported = match self.port.take() {
            Some(rx) => tokio::time::timeout(DRIVER_START, rx)
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        match reported {
            Some(port) => Ok(port),
            None => {
                let status = match self.child.try_wait() {
                    Ok(Some(status)) => status.to_string(),
                    _ => "still running".to_owned(),
                };
                let log = std::fs::read_to_string(self.profile.join("chromedriver.stderr"))
                    .unwrap_or_default();
                Err(BrowserError::DriverStart {
                    status,
                    log: log.trim().to_owned(),
                })
            }
        }
    }

    /// Kills chromedriver and every Chromium process, reaps chromedriver, removes the profile.
    fn stop(&mut self) -> Result<(), BrowserError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let group = rustix::process::Pid::from_child(&self.child);
        let killed = match rustix::process::kill_process_group(group, rustix::process::Signal::KILL)
        {
            // ESRCH: the group is already gone.
            Err(e) if e != rustix::io::Errno::SRCH => Err(std::io::Error::from(e)),
            _ => Ok(()),
        };
        let reaped = self.child.wait().map(drop);
        kill_stragglers(&self.profile);
        // Chromium may still be writing its profile as it dies; what is left is in the temp dir.
        let _ = std::fs::remove_dir_all(&self.profile);
        killed.and(reaped).map_err(BrowserError::Stop)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Kills what Chromium started outside the process group: its crash handler detaches into a
/// session of its own (it would exit a second or two after Chromium, but not before the profile
/// is removed). Found by the profile path on its command line, which no other process has.
fn kill_stragglers(profile: &Path) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let needle = profile.as_os_str().as_encoded_bytes();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
            .and_then(rustix::process::Pid::from_raw)
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.windows(needle.len()).any(|window| window == needle) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// The proxy Chromium sends every request for a non-loopback host to: it answers each with 403
/// and writes down its request line. Stops with the browser.
#[derive(Debug)]
struct Outside {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

/// The proxy's answer; a plain-HTTP page shows its body, an HTTPS one fails to connect.
const REFUSAL: &[u8] = b"HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 53\r\nconnection: close\r\n\r\nRefused: the test browser reaches only the loopback.\n";

/// The most of a request head the proxy reads.
const REQUEST_HEAD_LIMIT: usize = 8 * 1024;

impl Outside {
    async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(refuse(stream, Arc::clone(&log)));
            }
        });
        Ok(Self {
            addr,
            requests,
            task,
        })
    }

    fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// Plain readiness reads and writes: the workspace's tokio has no `io-util`, and this is all it needs.
async fn refuse(stream: TcpStream, log: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut chunk = [0_u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < REQUEST_HEAD_LIMIT {
            if stream.readable().await.is_err() {
                break;
            }
            match stream.try_read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => head.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
    })
    .await;
    if head.is_empty() {
        return;
    }
    let line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(line);
    let mut answer: &[u8] = REFUSAL;
    while !answer.is_empty() {
        if stream.writable().await.is_err() {
            return;
        }
        match stream.try_write(answer) {
            Ok(n) => answer = answer.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}
