//! The console end to end in headless Chromium (`hookpost_testkit::browser`), over a local stack
//! on the emulator seeded with sources, subscriptions, delivered and dead-lettered events: the
//! overview shows the numbers the stack holds, the dead-letter page lists every dead letter
//! across its pages, a redrive from the page empties the queue and reaches the subscriber, a
//! replay from an event's page reaches its subscriber, and a hostile payload renders as text.
//!
//! Each page is screenshotted into `target/console/` (`console-*.png`); docs/img holds the copies
//! docs/console.md shows (`cp target/console/console-*.png docs/img/` after a change to a page).

use std::collections::BTreeSet;

use hookpost_console::ConsoleOptions;
use hookpost_operations::Operations;
use hookpost_operations::sources::NewSource;
use hookpost_shared::signature::Provider;
use hookpost_shared::source::SourceId;
use hookpost_testkit::browser::{Browser, DESKTOP, ENTER, MOBILE};

use crate::console::{HOSTILE_BODY, SOURCE_SECRET, Seeded, post_event, seeded_with};
use crate::support;

/// Events that fail at one subscriber until they are dead-lettered.
const DEAD: usize = 3;

/// [`seeded_with`] [`DEAD`] dead letters, and a second source, a publish one.
async fn seeded() -> Seeded {
    let seeded = seeded_with(DEAD).await;
    Operations::new(&seeded.stack.sdk, seeded.stack.state.names.clone(), None)
        .add_source(NewSource {
            source_id: SourceId::parse("orders").expect("id"),
            provider: Provider::Publish,
            secret: None,
            tolerance_seconds: None,
            options: Default::default(),
        })
        .await
        .expect("a publish source");
    seeded
}

fn base(seeded: &Seeded) -> String {
    format!("http://127.0.0.1:{}", seeded.console.address().port())
}

/// Opens the printed URL (the token is exchanged for the cookie) and waits for the overview.
async fn open(seeded: &Seeded) -> Browser {
    let browser = Browser::start().await.expect("chromium starts");
    browser
        .goto(seeded.console.url())
        .await
        .expect("opens the URL");
    browser
        .wait_for("#overview")
        .await
        .expect("the overview after the token exchange");
    assert_eq!(
        browser.current_url().await.expect("a URL"),
        format!("{}/", base(seeded)),
        "the token is gone from the address bar"
    );
    browser
}

/// The page is no wider than the window: nothing to scroll sideways at 360 px but the tables'
/// own scrolling boxes.
async fn fits_the_width(browser: &Browser) -> bool {
    browser
        .client()
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .expect("runs a WebDriver script")
        == serde_json::json!(true)
}

/// The `data-event-id` of every dead-letter row on the page.
async fn dead_letter_rows(browser: &Browser) -> Vec<String> {
    browser
        .attrs("tr[data-event-id]", "data-event-id")
        .await
        .expect("reads the rows")
}

#[tokio::test]
async fn the_console_in_a_browser_shows_the_stack_and_a_redrive_from_its_page_delivers_every_dead_letter()
 {
    let seeded = seeded().await;
    let mut browser = open(&seeded).await;
    let (sdk, names) = (&seeded.stack.sdk, &seeded.stack.state.names);

    // The overview holds the stack's numbers.
    assert_eq!(
        browser.text("#dead-letter-count").await.expect("reads"),
        DEAD.to_string()
    );
    assert_eq!(
        browser
            .count("#sources-table tr[data-source-id]")
            .await
            .expect("counts"),
        2
    );
    assert_eq!(
        browser
            .text(r#"tr[data-source-id="gh"] [data-testid="events-24h"]"#)
            .await
            .expect("reads"),
        (DEAD + 1).to_string(),
        "every event gh received"
    );
    assert_eq!(
        browser
            .text(r#"tr[data-source-id="gh"] [data-testid="source-url"]"#)
            .await
            .expect("reads"),
        format!("{}gh", seeded.stack.state.receiver_url)
    );
    assert!(
        browser
            .text(r#"tr[data-source-id="orders"]"#)
            .await
            .expect("reads")
            .contains("published through the API")
    );
    assert_eq!(
        browser
            .count("#subscriptions-table tr[data-subscription-id]")
            .await
            .expect("counts"),
        2
    );
    let failing_row = format!(r#"tr[data-subscription-id="{}"]"#, seeded.failing_id);
    assert!(
        browser
            .text(&format!(r#"{failing_row} [data-testid="success-rate"]"#))
            .await
            .expect("reads")
            .starts_with("25%"),
        "the failing subscription got one of the four events"
    );
    browser
        .screenshot_page("console-overview")
        .await
        .expect("shot");
    browser.resize(MOBILE).await.expect("resizes");
    assert!(
        fits_the_width(&browser).await,
        "the overview reads at 360 px"
    );
    browser
        .screenshot_page("console-overview-mobile")
        .await
        .expect("shot");
    browser.resize(DESKTOP).await.expect("resizes");

    // The dead-letter page lists every one of them, two to a page.
    browser.click("#dead-letter-link").await.expect("follows");
    browser
        .wait_for("#dead-letters-table")
        .await
        .expect("the list");
    let mut listed = BTreeSet::new();
    browser
        .goto(&format!("{}/dead-letters?limit=2", base(&seeded)))
        .await
        .expect("opens");
    listed.extend(dead_letter_rows(&browser).await);
    assert_eq!(listed.len(), 2, "a page of two");
    browser.click("#next-page").await.expect("the next page");
    browser
        .wait_for("#dead-letters-table")
        .await
        .expect("the list");
    listed.extend(dead_letter_rows(&browser).await);
    assert_eq!(browser.count("#next-page").await.expect("counts"), 0);
    assert_eq!(listed, seeded.dead.iter().cloned().collect::<BTreeSet<_>>());
    browser
        .goto(&format!("{}/dead-letters", base(&seeded)))
        .await
        .expect("opens");
    browser
        .screenshot_page("console-dead-letters")
        .await
        .expect("shot");

    // The hostile body is text on its dead letter's page, and nothing ran.
    let hostile = &seeded.dead[0];
    browser
        .click(&format!(r#"a[href="/dead-letters/{hostile}"]"#))
        .await
        .expect("opens the dead letter");
    assert_eq!(
        browser
            .wait_for_text("#event-body", HOSTILE_BODY)
            .await
            .expect("the body, as text"),
        HOSTILE_BODY
    );
    assert_eq!(browser.dialog().await.expect("asks"), None, "no script ran");
    assert_eq!(
        browser
            .count(&format!(
                r#"[data-subscription-id="{}"] [data-outcome]"#,
                seeded.failing_id
            ))
            .await
            .expect("counts"),
        2,
        "the failing subscription's two attempts on the timeline"
    );
    browser
        .screenshot_page("console-dead-letter")
        .await
        .expect("shot");

    // The other pages, for the docs.
    for (path, ready, shot) in [
        (
            "/events?source=gh".to_owned(),
            "#events-table",
            "console-events",
        ),
        (
            format!("/events/{}", seeded.delivered),
            "#replay-form",
            "console-event",
        ),
        (
            format!("/subscriptions/{}", seeded.failing_id),
            "#rotate-form",
            "console-subscription",
        ),
        (
            "/subscriptions".to_owned(),
            "#subscriptions-table",
            "console-subscriptions",
        ),
    ] {
        browser
            .goto(&format!("{}{path}", base(&seeded)))
            .await
            .expect("opens");
        browser.wait_for(ready).await.expect("the page");
        browser.screenshot_page(shot).await.expect("shot");
    }

    // The charts page reads the dead-letter depth again while it is open, from its own origin.
    browser
        .goto(&format!("{}/charts", base(&seeded)))
        .await
        .expect("opens");
    browser
        .wait_for("#latency-chart")
        .await
        .expect("the charts");
    browser.set_wait(support::PATIENCE);
    browser
        .wait_for(r#"#depth-svg[data-samples="2"]"#)
        .await
        .expect("a second reading of the depth, fetched by the page");
    assert_eq!(
        browser
            .attrs(".depth-point", "data-depth")
            .await
            .expect("reads"),
        [DEAD.to_string(), DEAD.to_string()]
    );
    let charts = browser
        .screenshot_page("console-charts")
        .await
        .expect("shot");
    let (width, height) = crate::browser::png_size(&std::fs::read(&charts).expect("written"));
    assert_eq!(width, DESKTOP.width);
    assert!(
        height > DESKTOP.height,
        "the whole page, taller than the window: {height}"
    );
    let resources = browser.resources().await.expect("lists the fetches");
    assert!(
        resources
            .iter()
            .any(|r| r == &format!("{}/charts/dead-letter-depth", base(&seeded))),
        "{resources:?}"
    );
    for resource in &resources {
        assert!(
            resource.starts_with(&format!("{}/", base(&seeded))),
            "only the console's own origin: {resource}"
        );
    }

    // Redrive everything from the page: the queue empties and the fixed subscriber gets each.
    browser
        .goto(&format!("{}/dead-letters", base(&seeded)))
        .await
        .expect("opens");
    // A redrive of everything is an SQS message move task, which the page waits out.
    browser.click("#redrive-all").await.expect("redrives");
    assert_eq!(
        browser
            .wait_for_text("#redrive-moved", &DEAD.to_string())
            .await
            .expect("the report"),
        DEAD.to_string()
    );
    assert_eq!(
        support::queue_depth(sdk, &names.dead_letter_queue_url).await,
        0,
        "the dead-letter queue is empty"
    );
    let reached = seeded
        .failing
        .wait_for(2 * DEAD + 1 + DEAD, support::PATIENCE)
        .await;
    let redelivered: BTreeSet<String> = reached[2 * DEAD + 1..]
        .iter()
        .filter_map(|r| r.event_id().map(str::to_owned))
        .collect();
    assert_eq!(
        redelivered,
        seeded.dead.iter().cloned().collect::<BTreeSet<_>>(),
        "each dead letter reaches the subscriber that missed it"
    );
    assert_eq!(
        seeded.healthy.received().len(),
        DEAD + 1,
        "and not the one that had it"
    );
    browser.goto(seeded.console.url()).await.expect("opens");
    browser
        .wait_for_text("#dead-letter-count", "0")
        .await
        .expect("the overview says so");

    browser.close().await.expect("closes");
    seeded.stop().await;
}

#[tokio::test]
async fn a_replay_from_an_event_page_reaches_its_subscriber_and_the_keyboard_alone_disables_one() {
    let stack = support::running_stack(None, None).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    support::add_source(sdk, names, "gh", Provider::Github, SOURCE_SECRET).await;
    let (subscriber, subscription) = support::add_subscriber(sdk, names, "gh").await;
    let (bystander, _) = support::add_subscriber(sdk, names, "gh").await;
    let body = r#"{"zen":"Approachable is better than simple."}"#;
    let event = post_event(&stack, body).await;
    assert_eq!(subscriber.wait_for(1, support::PATIENCE).await.len(), 1);
    assert_eq!(bystander.wait_for(1, support::PATIENCE).await.len(), 1);
    let console = hookpost_console::serve(
        Operations::new(sdk, names.clone(), Some(stack.state.receiver_url.clone())),
        ConsoleOptions::default(),
    )
    .await
    .expect("the console starts");
    let browser = Browser::start().await.expect("chromium starts");
    browser.goto(console.url()).await.expect("opens the URL");
    browser.wait_for("#overview").await.expect("the overview");

    // Find the event from the search form, open it, replay it to one subscription.
    browser.click("#nav-events").await.expect("the events page");
    browser.fill("#search-source", "gh").await.expect("types");
    browser.submit("#event-search").await.expect("searches");
    let row = format!(r#"tr[data-event-id="{event}"] a"#);
    browser.wait_for(&row).await.expect("the event is found");
    browser.click(&row).await.expect("opens the event");
    browser
        .select("#replay-subscription", &subscription)
        .await
        .expect("chooses the subscription");
    browser.click("#replay").await.expect("replays");
    browser
        .wait_for("#replay-id")
        .await
        .expect("the replay is queued");
    let received = subscriber.wait_for(2, support::PATIENCE).await;
    assert_eq!(received.len(), 2, "the replay reaches its subscriber");
    let replayed = &received[1];
    assert!(replayed.verified, "signed with the subscription's secret");
    assert_eq!(replayed.body.as_ref(), body.as_bytes(), "the same body");
    assert_eq!(
        bystander.received().len(),
        1,
        "the subscription not chosen is not called"
    );

    // Keyboard only: Tab to the reason, type it, press Enter.
    browser
        .goto(&format!(
            "http://127.0.0.1:{}/subscriptions/{subscription}",
            console.address().port()
        ))
        .await
        .expect("opens the subscription");
    browser
        .tab_to("#disable-reason", 60)
        .await
        .expect("the reason field is reachable by Tab");
    browser
        .type_keys(&format!("<i>maintenance</i>{ENTER}"))
        .await
        .expect("types and submits");
    browser
        .wait_for(r#"[data-state="disabled"]"#)
        .await
        .expect("disabled");
    let shown = browser.text("main").await.expect("reads");
    assert!(
        shown.contains("<i>maintenance</i>"),
        "the reason, as text: {shown}"
    );
    assert_eq!(
        browser.count("main i").await.expect("counts"),
        0,
        "never as markup"
    );
    let stored = Operations::new(sdk, names.clone(), None)
        .get_subscription(&subscription)
        .await
        .expect("reads the subscription");
    assert!(!stored.enabled, "the store has it disabled");

    browser.close().await.expect("closes");
    console.shutdown().await;
    subscriber.stop();
    bystander.stop();
    stack.stop().await;
}
