//! The monitoring page over real HTTP: served without a token, with its script and a strict CSP,
//! pointing at the stats URL it was given; the data stays behind the token. (Its live updates in a
//! browser are tested in tests/browser/monitor.test.mjs.)

use std::time::Duration;

use iostack::{App, monitoring::Access};
use iostack_testing::TestServer;
use reqwest::header;

async fn server() -> TestServer {
    let app = App::builder(()).build().await.unwrap();
    let monitor = app.monitor();
    let app = app
        .merge(monitor.router(Access::bearer("s3cret")))
        .merge(monitor.page_router("/ops/monitor/", "/stats?x=\"y\""));
    TestServer::start(app).await.unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn page_is_served_with_its_script_a_csp_and_the_escaped_stats_url() {
    let server = server().await;
    let page = http()
        .get(format!("{}/ops/monitor", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("connect-src 'self'") && csp.contains("script-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"content="/stats?x=&quot;y&quot;""#),
        "{html}"
    );
    assert!(html.contains(r#"src="/ops/monitor/monitor.js""#), "{html}");

    let script = http()
        .get(format!("{}/ops/monitor/monitor.js", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.text().await.unwrap().contains("Authorization"));
}

#[tokio::test]
async fn the_page_holds_no_data_and_stats_still_need_the_token() {
    let server = server().await;
    let stats = http()
        .get(format!("{}/stats", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 401);
    let with_token = http()
        .get(format!("{}/stats", server.url()))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 200);
}
